"""Pacing regressions: workloads that made upstream's free-threaded collector
run too often or too long.  Each is timed against the same workload with
gc.disable(), in the same process, and must stay within a generous ratio
(these machines are noisy; a pathology is 10x or worse)."""
import gc
import sys
import sysconfig
import threading
import time
import unittest
from test import support
from test.support import os_helper, script_helper, threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1
RATIO = 3.0


class Node:
    pass


def best_of(n, func):
    best = float("inf")
    for _ in range(n):
        gc.collect()
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class PacingTests(unittest.TestCase):

    def ratio_enabled_to_disabled(self, func, repeat=3):
        was_enabled = gc.isenabled()
        try:
            gc.disable()
            disabled = best_of(repeat, func)
            gc.enable()
            enabled = best_of(repeat, func)
        finally:
            if not was_enabled:
                gc.disable()
        return enabled / disabled

    def test_gh142531_many_small_tuples(self):
        # Building a big list of small tuples must not collect the growing
        # list over and over (scaled down from 15M tuples).
        def build():
            lst = [(i, i) for i in range(1_500_000)]
            del lst
        self.assertLess(self.ratio_enabled_to_disabled(build), RATIO)

    @threading_helper.requires_working_threading()
    def test_gh132917_shared_list_appended_by_threads(self):
        def build():
            shared = []

            def worker():
                for i in range(150_000):
                    shared.append([i])

            threads = [threading.Thread(target=worker) for _ in range(4)]
            with threading_helper.start_threads(threads):
                pass
            del shared
        self.assertLess(self.ratio_enabled_to_disabled(build), RATIO)

    def test_gh142048_repeated_collections_do_not_slow_down(self):
        keep = [[Node()] for _ in range(200_000)]
        times = []
        for _ in range(12):
            t0 = time.perf_counter()
            gc.collect()
            times.append(time.perf_counter() - t0)
        first = min(times[:3])
        last = min(times[-3:])
        self.assertLess(last / first, RATIO)
        del keep

    def test_gh157377_get_count_polling_does_not_starve_collection(self):
        # A thread that polls gc.get_count() while it makes cyclic garbage
        # must still get automatic collections.
        deleted = 0

        class Cycle:
            def __del__(self):
                nonlocal deleted
                deleted += 1

        was_enabled = gc.isenabled()
        gc.enable()
        try:
            for _ in range(50_000):
                a = Cycle()
                a.self = a
                del a
                gc.get_count()
        finally:
            if not was_enabled:
                gc.disable()
        self.assertGreater(deleted, 40_000)


if __name__ == "__main__":
    unittest.main()


# Run in a child: the address-space limit makes the OS refuse memory to
# mimalloc.  A small arena reservation makes the limit bite within about a
# hundred megabytes instead of the default gigabyte.
OOM_SCRIPT = r"""
import gc, os, resource, sys, weakref

class Node:
    pass

def vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

# Old garbage: a ring that outlives young collections, then dies.  With
# automatic collections as rare as a threshold of 10**9 makes them, only
# the fallback can free it.
ring = [Node() for _ in range(300_000)]
for i, node in enumerate(ring):
    node.next = ring[i - 1]
gc.collect(0)
gc.collect(0)
freed = weakref.ref(ring[0])
del ring, node
gc.set_threshold(1_000_000_000)
if sys.argv[1] == "disabled":
    gc.disable()
before = gc.get_stats()[2]["fallbacks"]
more = [None] * 200_000     # the recovery below allocates only Nodes
limit = vm_bytes() + 64 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
# Fill the address space until an allocation fails, or until the
# fallback ran (it may run at a safe point of this loop: an OS refusal
# does not always fail the allocation, mimalloc may retry smaller).
filler = []
try:
    while gc.get_stats()[2]["fallbacks"] == before:
        filler.append([Node() for _ in range(1000)])
except MemoryError:
    pass
for _ in range(1000):       # safe points: the fallback runs here
    pass
print(gc.get_stats()[2]["fallbacks"] - before, freed() is None)
# The memory the fallback freed serves new objects.
try:
    for k in range(len(more)):
        more[k] = Node()
    print("recovered")
except MemoryError:
    print("out-of-memory")
"""


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@unittest.skipUnless(sys.platform == "linux", "needs /proc and RLIMIT_AS")
@unittest.skipIf(support.check_sanitizer(address=True, memory=True,
                                         thread=True),
                 "sanitizers reserve address space: RLIMIT_AS breaks them")
class OutOfMemoryFallbackTests(unittest.TestCase):
    """When the OS refuses memory, the next safe point runs one full
    collection in a single pause (zgc_director.c): logged with the kind
    "fallback" and counted in gc.get_stats()[2]["fallbacks"]."""

    def run_child(self, mode):
        log = os_helper.TESTFN + ".zgclog"
        self.addCleanup(os_helper.unlink, log)
        rc, out, err = script_helper.assert_python_ok(
            "-X", f"zgc_log={log}", "-c", OOM_SCRIPT, mode,
            MIMALLOC_ARENA_RESERVE="65536")
        with open(log) as f:
            fallbacks = [line for line in f if "] fallback #" in line]
        return out.decode().split(), fallbacks

    def test_fallback_frees_old_garbage_after_allocation_failure(self):
        # The 200,000 Nodes allocated after the fallback fit in the
        # memory of the 300,000 it freed.
        out, fallbacks = self.run_child("enabled")
        self.assertEqual(out, ["1", "True", "recovered"])
        self.assertEqual(len(fallbacks), 1, fallbacks)
        self.assertIn("collected 300000 ", fallbacks[0])

    def test_no_fallback_when_disabled(self):
        # gc.disable() turns the fallback off with the other automatic
        # collections: the garbage stays.
        out, fallbacks = self.run_child("disabled")
        self.assertEqual(out, ["0", "False", "out-of-memory"])
        self.assertEqual(fallbacks, [])


SLICES_SCRIPT = """if 1:
    import gc

    class Node:
        pass

    gc.disable()
    nodes = [Node() for _ in range(100_000)]
    for i, node in enumerate(nodes):
        node.next = nodes[(i * 7919) % len(nodes)]
        node.items = [i]
    infos = []
    def record(phase, info):
        if phase == "stop" and info["generation"] == 2:
            infos.append(info)
    gc.callbacks.append(record)
    gc.collect()
    print(infos[-1]["pause_count"])
"""


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class SliceBudgetKnobTests(unittest.TestCase):
    """-X zgc_slice=US / PYTHONZGCSLICE=US set the work budget of a full
    collection's slices (zgc_director.c)."""

    def pauses(self, *args, **env):
        rc, out, err = script_helper.assert_python_ok(
            *args, "-c", SLICES_SCRIPT, **env)
        return int(out)

    def test_budget_sets_the_slice_count(self):
        # The same collection of 200,000 objects: a 50 us budget needs many
        # more pauses than a 100 ms one (which marks it in one or two).
        small = self.pauses("-X", "zgc_slice=50")
        large = self.pauses("-X", "zgc_slice=100000")
        self.assertGreater(small, 4 * large, (small, large))
        self.assertGreater(self.pauses(PYTHONZGCSLICE="50"), 4 * large)
        # -X wins over the environment, as for upstream's options.
        self.assertLess(self.pauses("-X", "zgc_slice=100000",
                                    PYTHONZGCSLICE="50"), small)

    def test_invalid_knob_values(self):
        for value in ("49", "100001", "-1", "abc", "", "1.5", "10x"):
            with self.subTest(value=value):
                rc, out, err = script_helper.assert_python_failure(
                    "-X", f"zgc_slice={value}", "-c", "pass")
                self.assertIn(b"-X zgc_slice: invalid value", err)
        rc, out, err = script_helper.assert_python_failure(
            "-c", "pass", PYTHONZGCSLICE="0")
        self.assertIn(b"PYTHONZGCSLICE: invalid value 0", err)
        # -E ignores the environment variable, as every PYTHON* one.
        script_helper.assert_python_ok("-E", "-c", "pass",
                                       PYTHONZGCSLICE="0")
        for value in ("50", "500", "100000"):
            with self.subTest(value=value):
                script_helper.assert_python_ok(
                    "-X", f"zgc_slice={value}", "-c", "pass")
