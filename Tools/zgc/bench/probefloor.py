"""probefloor: the machine's own stall floor for gcpause.py's probe.

The probe thread of gcpause.py (sleep 0.5 ms, measure how late it wakes)
runs beside a thread that allocates short-lived lists, with the cyclic
collector disabled: whatever it measures is the operating system's and the
interpreter's, not the collector's.  Then, for as long again, one thread
per CPU reads the clock in a loop and records the longest gap between two
readings: how long the OS (or a virtual machine's host) takes a running
thread off its CPU.  A stop-the-world pause is measured from the request
to the restart, so such a gap inside one lengthens it by as much: no
collector's worst pause on the machine can be below this floor, except by
luck.  Run it with each interpreter compared:

    python Tools/zgc/bench/probefloor.py [--seconds 10]

Prints one JSON object: the worst stall and the stalls over 0.5 ms, and
the worst running gap and the gaps over 1 and 2 ms.
"""

import argparse
import gc
import json
import os
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
    gaps = running_gaps(args.seconds)
    print(json.dumps({
        "python": sys.version.split()[0],
        "probe_max_stall_ms": round(result["worst"] * 1e3, 3),
        "probe_stalls_over_0.5ms": result["over"],
        "running_max_gap_ms": round(max(gaps, default=0) / 1e6, 3),
        "running_gaps_over_1ms": sum(g > 1_000_000 for g in gaps),
        "running_gaps_over_2ms": sum(g > 2_000_000 for g in gaps),
    }))


def running_gaps(seconds):
    """Gaps over 0.5 ms between two clock readings of a thread that never
    blocks, one such thread per CPU (the GIL build runs one at a time:
    there the gaps are the GIL's switch interval too)."""
    gaps = []
    lock = threading.Lock()

    def spin():
        clock = time.perf_counter_ns
        mine = []
        end = clock() + int(seconds * 1e9)
        prev = clock()
        while prev < end:
            now = clock()
            if now - prev > 500_000:
                mine.append(now - prev)
            prev = now
        with lock:
            gaps.extend(mine)

    threads = [threading.Thread(target=spin)
               for _ in range(os.cpu_count() or 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return gaps


if __name__ == "__main__":
    main()
