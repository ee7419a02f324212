"""Pacing regressions: workloads that made upstream's free-threaded collector
run too often or too long.  Each is timed against the same workload with
gc.disable(), in the same process, and must stay within a generous ratio
(these machines are noisy; a pathology is 10x or worse)."""
import gc
import sysconfig
import threading
import time
import unittest
from test.support import threading_helper

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
