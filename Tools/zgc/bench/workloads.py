"""GC-heavy workloads for `make bench`, one per invocation:

    python workloads.py NAME [--scale S]

prints one JSON object with the workload's figures.  Our own code, in the
spirit of pyperformance's gc_collect, gc_traversal, btree, deepcopy and
async_tree benchmarks, plus allocation rate, RSS after dropping a large
structure (and with scattered survivors), and 2-thread scaling of cyclic
churn.  Standard library only;
runs on any CPython 3.14 build.
"""

import argparse
import asyncio
import copy
import gc
import json
import os
import threading
import time

from gcpause import Node  # same directory: sys.path[0] when run as a script

perf_counter = time.perf_counter


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")
    except OSError:
        return -1


def timed(func, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = perf_counter()
        func()
        best = min(best, perf_counter() - t0)
    return best


def gc_collect(scale):
    """Create cyclic garbage and collect it explicitly, repeatedly."""
    n = int(20_000 * scale)

    def run():
        for _ in range(10):
            for _ in range(n):
                a = Node()
                a.left = a
            gc.collect()
    return {"seconds": timed(run)}


def gc_traversal(scale):
    """Time full collections over a large live graph with no garbage."""
    n = int(300_000 * scale)
    nodes = [Node() for _ in range(n)]
    for i, node in enumerate(nodes):
        node.left = nodes[(i * 7) % n]
        node.right = [nodes[(i * 13) % n]]
    gc.collect()

    def run():
        for _ in range(5):
            gc.collect()
    result = {"seconds": timed(run)}
    del nodes
    return result


def btree(scale):
    """Build and drop binary trees (no cycles: refcounting frees them)."""
    depth = 14 + (1 if scale >= 1 else 0)

    def make(d):
        if d == 0:
            return Node()
        return Node(make(d - 1), make(d - 1))

    def check(node):
        if node.left is None:
            return 1
        return 1 + check(node.left) + check(node.right)

    def run():
        for _ in range(int(4 * scale) or 1):
            check(make(depth))
    return {"seconds": timed(run)}


def deepcopy(scale):
    """copy.deepcopy of a nested structure (the memo dict makes cycles)."""
    data = {
        "list": [{"k": i, "v": [i, str(i), (i, i)]} for i in range(2000)],
        "nested": [[[i] * 4 for i in range(50)] for _ in range(20)],
    }
    data["self"] = data

    def run():
        for _ in range(int(10 * scale) or 1):
            copy.deepcopy(data)
    return {"seconds": timed(run)}


def async_tree(scale):
    """asyncio.gather over a tree of coroutines."""
    depth = 5 if scale < 1 else 6

    async def node(d):
        if d == 0:
            await asyncio.sleep(0)
            return 1
        results = await asyncio.gather(*(node(d - 1) for _ in range(4)))
        return sum(results)

    def run():
        asyncio.run(node(depth))
    return {"seconds": timed(run)}


def alloc_rate(scale):
    """Allocation rate of small GC objects that die young (no cycles)."""
    n = int(2_000_000 * scale)

    def run():
        for _ in range(n):
            Node()
    seconds = timed(run)
    return {"seconds": seconds, "objects_per_second": round(n / seconds)}


class Row:
    pass


def build_rows(n):
    """A service-like structure: rows of a small object, a dict and a
    tuple, half of them cyclic."""
    rows = []
    for i in range(n):
        r = Row()
        r.d = {"i": i}
        r.t = (i, r) if i % 2 else (i, None)
        rows.append(r)
    return rows


def rss_measure(n, keep_every):
    gc.collect()
    base = rss_bytes()
    rows = build_rows(n)
    peak = rss_bytes()
    keep = rows[::keep_every] if keep_every else None
    del rows
    gc.collect()
    time.sleep(1.0)
    gc.collect()
    after = rss_bytes()
    del keep
    return {
        "base_mb": round(base / 2**20, 1),
        "peak_mb": round(peak / 2**20, 1),
        "after_free_mb": round(after / 2**20, 1),
        "retained_percent": round(100 * (after - base)
                                  / max(peak - base, 1), 1),
    }


def rss_after_drop(scale):
    """RSS after dropping a 1M-row structure, one collection, one second
    and another collection: percent of the peak growth retained."""
    return rss_measure(int(1_000_000 * scale), 0)


def rss_fragmented(scale):
    """The same with every 20th row kept: 5% survivors scattered over
    every page, which only moving objects could compact."""
    return rss_measure(int(1_000_000 * scale), 20)


def scaling(scale):
    """Cyclic churn in 1 thread, then the same work split over 2."""
    n = int(400_000 * scale)

    def churn(count):
        for _ in range(count):
            a = Node()
            b = Node(a)
            a.left = b

    def one():
        churn(n)

    def two():
        threads = [threading.Thread(target=churn, args=(n // 2,))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    t1 = timed(one)
    t2 = timed(two)
    return {"one_thread_s": t1, "two_threads_s": t2,
            "speedup": round(t1 / t2, 3)}


WORKLOADS = {f.__name__: f for f in (
    gc_collect, gc_traversal, btree, deepcopy, async_tree, alloc_rate,
    rss_after_drop, rss_fragmented, scaling)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    print(json.dumps(WORKLOADS[args.name](args.scale)))


if __name__ == "__main__":
    main()
