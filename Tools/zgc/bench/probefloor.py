"""probefloor: the machine's own stall floor for gcpause.py's probe.

The probe thread of gcpause.py (sleep 0.5 ms, measure how late it wakes)
runs beside a thread that allocates short-lived lists, with the cyclic
collector disabled: whatever it measures is the operating system's and the
interpreter's, not the collector's.  Run it with each interpreter compared:

    python Tools/zgc/bench/probefloor.py [--seconds 10]

Prints one JSON object: the worst stall and the stalls over 0.5 ms.
"""

import argparse
import gc
import json
import sys
import threading
import time
from time import perf_counter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    gc.disable()
    stop = threading.Event()
    result = {"worst": 0.0, "over": 0}

    def probe():
        period = 0.0005
        while not stop.is_set():
            t0 = perf_counter()
            time.sleep(period)
            late = perf_counter() - t0 - period
            result["worst"] = max(result["worst"], late)
            result["over"] += late > 0.0005

    def allocate():
        while not stop.is_set():
            [[i] for i in range(1000)]

    threads = [threading.Thread(target=probe),
               threading.Thread(target=allocate)]
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({
        "python": sys.version.split()[0],
        "probe_max_stall_ms": round(result["worst"] * 1e3, 3),
        "probe_stalls_over_0.5ms": result["over"],
    }))


if __name__ == "__main__":
    main()
