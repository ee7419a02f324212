"""gcpause: collector pauses and mutator stalls with a large live heap.

A live graph of N pointer-rich objects is built, then a mutator churns
cyclic garbage for a fixed time while an independent probe thread measures
how long it is kept from running.  Two kinds of garbage:

  young   each cycle dies at once (what young collections are for);
  old     each cycle stays referenced for ~100k further allocations before
          it dies, so it survives young collections and only a major
          collection can free it.

Pauses come from the collector's own timing where the interpreter reports
it (pyzgc's gc.callbacks "stop" info: pause_max/pause_total/pause_count);
elsewhere the time between a collection's "start" and "stop" callbacks on
the collecting thread stands in for it (in stock free-threaded CPython the
world is stopped for most of that time).  The probe thread's worst stall
is measured the same way on every interpreter.

Prints one JSON object.  Runs on any CPython 3.14 build; it is a benchmark,
not a test: compare interpreters side by side in one run (compare.py).
"""

import argparse
import gc
import json
import random
import resource
import sys
import sysconfig
import threading
import time
from collections import deque

perf_counter = time.perf_counter


class Node:
    __slots__ = ("left", "right", "payload", "__weakref__")

    def __init__(self, left=None, right=None, payload=None):
        self.left = left
        self.right = right
        self.payload = payload


def build_live_heap(n, rng):
    """About n GC objects: Nodes linked at random, with lists, dicts and
    tuples hanging off them."""
    nodes = [Node() for _ in range(n // 2)]
    count = len(nodes)
    for i, node in enumerate(nodes):
        node.left = nodes[rng.randrange(count)]
        node.right = nodes[(i + 1) % count]
        kind = i % 4
        if kind == 0:
            node.payload = [nodes[rng.randrange(count)], i]
        elif kind == 1:
            node.payload = {"k": nodes[rng.randrange(count)]}
        elif kind == 2:
            node.payload = (node, i, [])
        else:
            node.payload = None
    return nodes


class PauseRecorder:
    """gc.callbacks hook: one record per collection."""

    def __init__(self):
        self.records = []
        self._start = None

    def __call__(self, phase, info):
        now = perf_counter()
        if phase == "start":
            self._start = now
            return
        if self._start is None:
            return
        wall = now - self._start
        self._start = None
        if "pause_max" in info:
            pause_max = info["pause_max"]
            pause_total = info["pause_total"]
            source = "collector"
        else:
            pause_max = pause_total = wall
            source = "callbacks"
        self.records.append({
            "generation": info.get("generation"),
            "kind": info.get("kind", "full"),
            "wall": wall,
            "pause_max": pause_max,
            "pause_total": pause_total,
            "collected": info.get("collected", 0),
            "source": source,
        })


class Probe(threading.Thread):
    """Wakes every `period` seconds; the stall is how much later than
    asked it got to run again."""

    def __init__(self, period=0.0005):
        super().__init__(daemon=True)
        self.period = period
        self.stop = False
        self.worst = 0.0
        self.stalls = []

    def run(self):
        period = self.period
        while not self.stop:
            t0 = perf_counter()
            time.sleep(period)
            late = perf_counter() - t0 - period
            if late > 0.0005:
                self.stalls.append(late)
            if late > self.worst:
                self.worst = late


def churn(seconds, garbage, survive):
    """Create small reference cycles for `seconds`; return cycles made."""
    made = 0
    keep = deque()
    deadline = perf_counter() + seconds
    while True:
        for _ in range(1000):
            a = Node()
            b = Node(a, None, [a])
            a.left = b
            if garbage == "old":
                keep.append(a)
                if len(keep) > survive:
                    keep.popleft()
        made += 1000
        if perf_counter() >= deadline:
            break
    keep.clear()
    return made


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, default=1_000_000,
                        help="live GC objects (default 1M)")
    parser.add_argument("--garbage", choices=("young", "old"),
                        default="young")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="churn duration (default 10)")
    parser.add_argument("--survive", type=int, default=33_000,
                        help="with --garbage old: cycles kept alive "
                             "(3 allocations each, so ~100k allocations)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    t0 = perf_counter()
    heap = build_live_heap(args.live, rng)
    build_s = perf_counter() - t0
    gc.collect()

    recorder = PauseRecorder()
    probe = Probe()
    gc.callbacks.append(recorder)
    probe.start()
    t0 = perf_counter()
    made = churn(args.seconds, args.garbage, args.survive)
    elapsed = perf_counter() - t0
    probe.stop = True
    probe.join()
    gc.callbacks.remove(recorder)

    pauses = [r["pause_max"] for r in recorder.records]
    result = {
        "python": sys.version.split()[0],
        "build": ("pyzgc" if sysconfig.get_config_var("Py_ZGC") else
                  "ft" if sysconfig.get_config_var("Py_GIL_DISABLED") else
                  "gil"),
        "live": args.live,
        "garbage": args.garbage,
        "build_seconds": round(build_s, 3),
        "seconds": round(elapsed, 3),
        "collections": len(recorder.records),
        "kinds": sorted({r["kind"] for r in recorder.records}),
        "pause_source": (recorder.records[0]["source"]
                         if recorder.records else None),
        "pause_p50_ms": round(percentile(pauses, 50) * 1e3, 3),
        "pause_p99_ms": round(percentile(pauses, 99) * 1e3, 3),
        "pause_max_ms": round(max(pauses, default=0.0) * 1e3, 3),
        "gc_time_share": round(sum(r["pause_total"] for r in
                                   recorder.records) / elapsed, 4),
        "probe_max_stall_ms": round(probe.worst * 1e3, 3),
        "probe_stalls_over_0.5ms": len(probe.stalls),
        "cycles_per_second": round(made / elapsed),
        "collected": sum(r["collected"] for r in recorder.records),
        "peak_rss_mb": round(resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    del heap
    print(json.dumps(result))


if __name__ == "__main__":
    main()
