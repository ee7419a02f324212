"""What pyzgc reports about each collection in gc.callbacks' "stop" info."""
import gc
import sysconfig
import threading
import unittest
import weakref
from test.support import threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1

NEW_KEYS = {"kind": str, "duration": float, "pause_count": int,
            "pause_total": float, "pause_max": float, "visited": int,
            "candidates": int, "batches": int, "purged": int,
            "purge_failures": int, "buffers_kept": int}


class Node:
    pass


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class CallbackInfoTests(unittest.TestCase):

    def collect(self, generation):
        infos = []

        def cb(phase, info):
            infos.append((phase, dict(info)))

        gc.callbacks.append(cb)
        try:
            gc.collect(generation)
        finally:
            gc.callbacks.remove(cb)
        self.assertEqual([phase for phase, _ in infos], ["start", "stop"])
        return infos[0][1], infos[1][1]

    def check_stop_info(self, info):
        for key, typ in NEW_KEYS.items():
            self.assertIsInstance(info[key], typ, key)
        for key in ("generation", "collected", "uncollectable"):
            self.assertIsInstance(info[key], int, key)
        self.assertGreaterEqual(info["pause_count"], 1)
        self.assertGreater(info["pause_max"], 0.0)
        self.assertLessEqual(info["pause_max"], info["pause_total"])
        self.assertLessEqual(info["pause_total"], info["duration"])
        self.assertGreaterEqual(info["visited"], info["candidates"])
        self.assertGreaterEqual(info["candidates"], info["collected"])

    def test_young_stop_info(self):
        gc.collect()
        a = Node()
        b = Node()
        a.b, b.a = b, a
        del a, b
        start, stop = self.collect(0)
        self.assertEqual(start, {"generation": 0, "collected": 0,
                                 "uncollectable": 0})
        self.check_stop_info(stop)
        self.assertEqual(stop["kind"], "young")
        self.assertEqual(stop["generation"], 0)
        self.assertEqual(stop["collected"], 2)
        self.assertGreaterEqual(stop["candidates"], 2)

    def test_full_stop_info(self):
        start, stop = self.collect(2)
        self.check_stop_info(stop)
        self.assertEqual(stop["kind"], "incremental")
        self.assertEqual(stop["generation"], 2)
        # A full collection stops the world for each slice of its discovery
        # (at least one), then to validate, then for the resurrection
        # check; it looks at every object of the GC heaps.
        self.assertGreaterEqual(stop["pause_count"], 3)
        self.assertGreater(stop["visited"], 1000)

    def test_young_visits_young_set_only(self):
        keep = [Node() for _ in range(20_000)]
        gc.collect()                     # keep is old now
        _, stop = self.collect(0)
        self.assertLess(stop["visited"], 1000)
        del keep


STATS_KEYS = {"duration": float, "visited": int, "purged": int,
              "fallbacks": int, "pause_count": int,
              "pause_total": float, "pause_max": float,
              "pause_histogram": tuple}


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class GetStatsTests(unittest.TestCase):

    def check(self, entry):
        for key, typ in STATS_KEYS.items():
            self.assertIsInstance(entry[key], typ, key)
        self.assertEqual(len(entry["pause_histogram"]), 24)
        self.assertEqual(sum(entry["pause_histogram"]), entry["pause_count"])
        self.assertLessEqual(entry["pause_max"], entry["pause_total"])
        self.assertLessEqual(entry["pause_total"], entry["duration"])

    def test_keys_and_invariants(self):
        gc.collect(0)
        gc.collect()
        stats = gc.get_stats()
        self.assertEqual(len(stats), 3)
        for entry in stats:
            self.check(entry)
            # upstream's keys are still there
            for key in ("collections", "collected", "uncollectable"):
                self.assertIsInstance(entry[key], int)

    def test_totals_grow_monotonically(self):
        for generation in (0, 2):
            before = gc.get_stats()[generation]
            gc.collect(generation)
            after = gc.get_stats()[generation]
            self.assertEqual(after["collections"], before["collections"] + 1)
            for key in ("duration", "visited", "pause_total"):
                self.assertGreater(after[key], before[key], key)
            self.assertGreaterEqual(after["pause_count"],
                                    before["pause_count"] + 1)
            self.assertGreaterEqual(after["pause_max"], before["pause_max"])
            for b, a in zip(before["pause_histogram"],
                            after["pause_histogram"]):
                self.assertGreaterEqual(a, b)
            self.check(after)

    @threading_helper.requires_working_threading()
    def test_consistent_while_threads_collect(self):
        # gc.get_stats() in one thread while another collects: every
        # snapshot is whole (a pause's count and its histogram bucket are
        # updated together, under the lock the snapshot takes) and the
        # totals never go back.
        stop = threading.Event()

        def churn():
            while not stop.is_set():
                a = Node()
                a.ref = a

        enabled = gc.isenabled()
        gc.enable()
        t = threading.Thread(target=churn)
        t.start()
        try:
            last = gc.get_stats()
            seen = 0
            for _ in range(3_000):
                stats = gc.get_stats()
                for before, entry in zip(last, stats):
                    self.assertEqual(sum(entry["pause_histogram"]),
                                     entry["pause_count"])
                    for key in ("collections", "pause_count", "visited",
                                "duration", "pause_total"):
                        self.assertGreaterEqual(entry[key], before[key], key)
                seen += stats[0]["collections"] > last[0]["collections"]
                last = stats
        finally:
            stop.set()
            t.join()
            if not enabled:
                gc.disable()
        self.assertGreater(seen, 0)


if __name__ == "__main__":
    unittest.main()
