"""Young collections of pyzgc: gc.collect(0) looks only at the objects
tracked since the last collection (InternalDocs/zgc.md)."""
import gc
import os
import sys
import sysconfig
import threading
import unittest
import weakref
from test import support
from test.support import script_helper, threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1


class Node:
    def __init__(self, other=None):
        self.other = other


class Finalized(Node):
    deleted = 0
    lock = threading.Lock()

    def __del__(self):
        with Finalized.lock:
            Finalized.deleted += 1


def make_cycle(cls=Node):
    a = cls()
    b = cls(a)
    a.other = b
    return weakref.ref(a), weakref.ref(b)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class YoungCollectionTests(unittest.TestCase):

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.disable()
        gc.collect()

    def tearDown(self):
        gc.collect()
        if self.enabled:
            gc.enable()

    def test_young_cycle_collected(self):
        wa, wb = make_cycle()
        self.assertIsNotNone(wa())
        self.assertEqual(gc.collect(0), 2)
        self.assertIsNone(wa())
        self.assertIsNone(wb())

    def test_young_referenced_from_old_survives(self):
        holder = []
        gc.collect()                    # holder is old now
        a = Node()
        a.other = a
        holder.append(a)
        wa = weakref.ref(a)
        del a
        self.assertEqual(gc.collect(0), 0)
        self.assertIsNotNone(wa())
        self.assertIs(holder[0], wa())

    def test_survivors_are_promoted(self):
        a = Node()
        a.other = a
        wa = weakref.ref(a)
        gc.collect(0)                   # a survives: referenced by a local
        del a
        # a is old now: young collections no longer look at it ...
        self.assertEqual(gc.collect(0), 0)
        self.assertIsNotNone(wa())
        # ... a full collection does.
        self.assertEqual(gc.collect(), 1)
        self.assertIsNone(wa())

    def test_full_collection_empties_the_young_set(self):
        wa, wb = make_cycle()
        self.assertEqual(gc.collect(1), 2)   # 1 is a full collection too
        self.assertIsNone(wa())
        self.assertEqual(gc.collect(0), 0)

    def test_young_garbage_referencing_old_objects(self):
        old = Node()
        gc.collect()
        wa, wb = make_cycle()
        wa().payload = old
        self.assertEqual(gc.collect(0), 2)
        self.assertIsNone(wa())
        self.assertIsInstance(old, Node)

    def test_stats_per_generation(self):
        before = gc.get_stats()
        gc.collect(0)
        gc.collect(2)
        after = gc.get_stats()
        self.assertEqual(after[0]["collections"],
                         before[0]["collections"] + 1)
        self.assertEqual(after[2]["collections"],
                         before[2]["collections"] + 1)

    def test_callbacks_report_generation(self):
        seen = []

        def cb(phase, info):
            seen.append((phase, info["generation"]))

        gc.callbacks.append(cb)
        try:
            gc.collect(0)
            gc.collect()
        finally:
            gc.callbacks.remove(cb)
        self.assertEqual(seen, [("start", 0), ("stop", 0),
                                ("start", 2), ("stop", 2)])

    def test_frozen_objects_are_skipped(self):
        wa, wb = make_cycle()
        gc.freeze()
        try:
            self.assertEqual(gc.collect(0), 0)
            self.assertEqual(gc.collect(), 0)
            self.assertIsNotNone(wa())
        finally:
            gc.unfreeze()
        self.assertEqual(gc.collect(), 2)
        self.assertIsNone(wa())

    def test_finalizer_resurrects(self):
        saved = []

        class Phoenix(Node):
            def __del__(self):
                saved.append(self)

        wa, wb = make_cycle(Phoenix)
        self.assertEqual(gc.collect(0), 2)
        # Weakrefs were cleared first, then both finalizers ran once and
        # resurrected the cycle, which is intact.
        self.assertIsNone(wa())
        self.assertEqual(len(saved), 2)
        a, b = saved
        self.assertIs(a.other.other, a)
        self.assertTrue(gc.is_finalized(a))
        self.assertTrue(gc.is_finalized(b))
        w = weakref.ref(a)
        saved.clear()
        del a, b
        # The survivors are old now, and finalizers never run twice.
        self.assertEqual(gc.collect(0), 0)
        self.assertIsNotNone(w())
        self.assertEqual(gc.collect(), 2)
        self.assertEqual(saved, [])
        self.assertIsNone(w())

    def test_weakref_callback(self):
        called = []
        a = Node()
        a.other = a
        w = weakref.ref(a, called.append)
        del a
        gc.collect(0)
        self.assertEqual(called, [w])
        self.assertIsNone(w())

    def test_weakref_to_young_garbage_cleared_before_finalizer(self):
        observed = []

        class Watcher(Node):
            def __del__(self):
                observed.append(self.ref())

        a = Watcher()
        b = Node(a)
        a.other = b
        a.ref = weakref.ref(b)
        del a, b
        gc.collect(0)
        self.assertEqual(observed, [None])

    def test_stale_log_entries(self):
        # Log many objects, free them all by refcount (their pages empty and
        # may be released), churn other allocations into that memory, then
        # run a young collection over the stale entries.
        for _ in range(3):
            objs = [Node() for _ in range(100_000)]
            del objs
            junk = [bytes(100) for _ in range(50_000)]
            tuples = [(i, str(i)) for i in range(50_000)]
            wa, wb = make_cycle()
            self.assertEqual(gc.collect(0), 2)
            del junk, tuples
        self.assertIsNone(wa())

    def test_automatic_young_collections(self):
        Finalized.deleted = 0
        threshold = gc.get_threshold()
        gc.enable()
        try:
            gc.set_threshold(100)
            for _ in range(2000):
                make_cycle(Finalized)
        finally:
            gc.disable()
            gc.set_threshold(*threshold)
        # Most cycles died in automatic (young) collections.
        self.assertGreater(Finalized.deleted, 2000)

    def lookup_holding_class(self, collect):
        # A young class whose only outside reference is the per-thread
        # refcount that an attribute lookup in progress holds on the type
        # (_PyObject_GenericGetAttrWithDict); the descriptor drops every
        # other reference, then `collect()` runs a young collection.  A
        # young collection merges the per-thread refcounts of its
        # candidates only (zgc_young.c): when it merged none, the class was
        # freed here, under the lookup.
        alive = []

        class Plain:
            pass

        class Desc:
            def __get__(self, obj, owner):
                obj.__class__ = Plain
                ns.clear()
                collect()
                alive.append(wr() is not None)
                return 42

        ns = {"C": type("C", (), {"attr": Desc()})}
        wr = weakref.ref(ns["C"])
        obj = ns["C"]()
        self.assertEqual(obj.attr, 42)
        self.assertEqual(alive, [True])
        gc.collect()
        self.assertIsNone(wr())

    def test_young_class_held_by_a_lookup_in_progress(self):
        self.lookup_holding_class(lambda: gc.collect(0))

    @threading_helper.requires_working_threading()
    def test_young_class_held_by_another_threads_lookup(self):
        # The same, the lookup in a second thread (its per-thread array)
        # while this one collects.
        inside = threading.Event()
        collected = threading.Event()

        def collect():
            inside.set()
            collected.wait(support.SHORT_TIMEOUT)

        errors = []

        def run():
            try:
                self.lookup_holding_class(collect)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        try:
            self.assertTrue(inside.wait(support.SHORT_TIMEOUT))
            gc.collect(0)
        finally:
            collected.set()
            t.join()
        self.assertEqual(errors, [])

    def test_thread_exit_with_young_objects(self):
        refs = []

        def work():
            for _ in range(100):
                refs.append(make_cycle())

        t = threading.Thread(target=work)
        t.start()
        t.join()
        gc.collect()
        self.assertTrue(all(wa() is None for wa, wb in refs))

    @support.requires_fork()
    def test_fork_with_young_objects(self):
        wa, wb = make_cycle()
        pid = os.fork()
        if pid == 0:
            code = 0 if gc.collect(0) == 2 and wa() is None else 1
            os._exit(code)
        support.wait_process(pid, exitcode=0)
        self.assertEqual(gc.collect(0), 2)
        self.assertIsNone(wa())


class Phoenix(Node):
    saved = []

    def __del__(self):
        Phoenix.saved.append(self)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class ResurrectionPauseTests(unittest.TestCase):
    """A young collection stops the world a second time (to find objects
    its finalizers or weakref callbacks resurrected) only when it ran
    some; the garbage is still cleared and resurrection still honoured."""

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.disable()
        gc.collect()
        self.infos = []
        gc.callbacks.append(self.record)

    def tearDown(self):
        gc.callbacks.remove(self.record)
        Phoenix.saved.clear()
        gc.collect()
        if self.enabled:
            gc.enable()

    def record(self, phase, info):
        if phase == "stop":
            self.infos.append(info)

    def young_collect(self):
        self.infos.clear()
        n = gc.collect(0)
        self.assertEqual(len(self.infos), 1)
        self.assertEqual(self.infos[0]["kind"], "young")
        return n, self.infos[0]["pause_count"]

    def test_plain_garbage_one_pause(self):
        wa, wb = make_cycle()
        self.assertEqual(self.young_collect(), (2, 1))
        self.assertIsNone(wa())
        self.assertIsNone(wb())

    def test_finalizer_resurrects(self):
        wa, wb = make_cycle(Phoenix)
        n, pauses = self.young_collect()
        self.assertEqual(pauses, 2)
        self.assertEqual(n, 0)
        self.assertEqual(len(Phoenix.saved), 2)
        # Weakrefs to the garbage were cleared before the finalizers ran,
        # as upstream does; the resurrected cycle itself is intact.
        self.assertIsNone(wa())
        a, b = Phoenix.saved
        self.assertIs(a.other, b)
        self.assertIs(b.other, a)

    def test_weakref_callback_runs(self):
        seen = []
        a = Node()
        b = Node(a)
        a.other = b
        keep = weakref.ref(b, seen.append)  # the weakref itself lives
        del a, b
        n, pauses = self.young_collect()
        self.assertEqual(pauses, 2)
        self.assertEqual(n, 2)
        self.assertEqual(seen, [keep])
        self.assertIsNone(keep())


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class YoungConcurrencyTests(unittest.TestCase):

    @threading_helper.requires_working_threading()
    def test_threads_create_and_drop_cycles_while_collecting(self):
        # 4 threads build and drop cycles (some reachable from a shared,
        # old list that they mutate) while the main thread runs young and
        # full collections.  Nothing reachable may be freed; all garbage
        # must eventually go.  Each thread does a fixed amount of work, so
        # a slow machine only makes the test take longer.
        Finalized.deleted = 0
        shared = [Node() for _ in range(64)]
        gc.collect()
        created = [0] * 4
        errors = []

        def mutator(k):
            try:
                for i in range(20_000):
                    a = Finalized()
                    b = Finalized()
                    a.other = b
                    b.other = a
                    slot = (i * 7 + k) % len(shared)
                    # Reachable from old: must survive until replaced.
                    shared[slot] = Node(a)
                    created[k] += 2
                    if not isinstance(shared[slot].other.other, Finalized):
                        errors.append("reachable object was damaged")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=mutator, args=(k,))
                   for k in range(4)]
        with threading_helper.start_threads(threads):
            i = 0
            while any(t.is_alive() for t in threads):
                gc.collect(0 if i % 10 else 2)
                i += 1
        self.assertEqual(errors, [])
        shared.clear()
        gc.collect()
        gc.collect()
        self.assertEqual(Finalized.deleted, sum(created))


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class YoungLogValidityTests(unittest.TestCase):
    """Young-log entries outlive their objects; pages they pointed into are
    released and reused for other size classes while threads keep logging
    (zgc_heap.c).  A young collection must never follow a stale entry."""

    @threading_helper.requires_working_threading()
    def test_pages_released_and_reused_by_other_threads(self):
        errors = []

        def churn(k):
            try:
                size = 1 + k
                for _ in range(20):
                    # Fill pages of several size classes (and a large
                    # tuple), then free them all so the pages empty.
                    objs = [[None] * size for _ in range(20_000)]
                    big = tuple(range(200_000))
                    del objs, big
                    # Reuse the memory for non-GC data and other sizes.
                    junk = [bytes(64 * size) for _ in range(5_000)]
                    cycles = [make_cycle() for _ in range(200)]
                    del junk
                    size = size % 7 + 1
                    for wa, wb in cycles:
                        if wa() is not None and wa().other is not wb():
                            errors.append("cycle damaged")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=churn, args=(k,))
                   for k in range(4)]
        with threading_helper.start_threads(threads):
            i = 0
            while any(t.is_alive() for t in threads):
                gc.collect(0 if i % 25 else 2)
                i += 1
        self.assertEqual(errors, [])
        gc.collect(0)
        gc.collect()


    @support.requires_subprocess()
    @unittest.skipUnless(sys.platform == "linux", "ru_maxrss in KiB")
    def test_temporaries_keep_the_log_short(self):
        # An object untracked soon after it was tracked takes its young-log
        # entry back (patched _PyObject_GC_UNTRACK, _PyZgc_YoungUnlog), in
        # whatever order a temporary and the objects it made are untracked:
        # a loop of temporaries, which never makes a young collection due,
        # used to grow the log to its 4M-entry cap (64 MB) and stream
        # through it.  Its peak RSS now stays that of the interpreter.
        code = """if 1:
            import resource
            class Temp:
                pass
            class Compound:
                def __init__(self):
                    self.items = []
                    self.table = {}
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for _ in range(1_500_000):
                Temp()
            for _ in range(500_000):
                Compound()
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print((after - before) // 1024)
            """
        rc, out, err = script_helper.assert_python_ok("-c", code)
        self.assertLess(int(out), 16, "MB of peak RSS growth")


def _collect_in_interpreter():
    import gc

    class Node:
        pass

    for _ in range(20_000):
        a = Node()
        a.self = a
    gc.collect(0)
    gc.collect()
    return 1


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class SubinterpreterTests(unittest.TestCase):

    def test_collections_in_concurrent_subinterpreters(self):
        # Each interpreter stops only its own world, so collections of
        # different interpreters overlap; the page-release records they
        # read are shared (zgc_heap.c).
        try:
            from concurrent.futures import InterpreterPoolExecutor
        except ImportError:
            self.skipTest("requires subinterpreters")
        with InterpreterPoolExecutor(max_workers=4) as executor:
            futures = [executor.submit(_collect_in_interpreter)
                       for _ in range(16)]
            self.assertEqual(sum(f.result() for f in futures), 16)


if __name__ == "__main__":
    unittest.main()
