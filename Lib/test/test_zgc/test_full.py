"""Full collections of pyzgc: mark from the roots with the epoch color,
make the unmarked objects candidates, validate them (InternalDocs/zgc.md)."""
import atexit
import gc
import sysconfig
import threading
import unittest
import weakref
from test.support import threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1


# Not test_young's Node: attributes set here would change the layout of
# that class's instances (their shared keys), and with it the number of
# objects test_young's collections find.
class Node:
    def __init__(self, other=None):
        self.other = other


def make_cycle(cls=Node):
    a = cls()
    b = cls(a)
    a.other = b
    return weakref.ref(a), weakref.ref(b)


def make_old_cycle(cls=Node):
    """A two-object cycle that survived a young collection (it is old), and
    is garbage now."""
    a = cls()
    b = cls(a)
    a.other = b
    gc.collect(0)
    return weakref.ref(a), weakref.ref(b)


class StopInfo:
    """Collect the "stop" info dicts of gc.callbacks."""

    def __init__(self):
        self.infos = []

    def __call__(self, phase, info):
        if phase == "stop":
            self.infos.append(info)

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class FullCollectionTests(unittest.TestCase):

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.disable()
        gc.collect()

    def tearDown(self):
        gc.collect()
        if self.enabled:
            gc.enable()

    def test_old_cycle_collected(self):
        wa, wb = make_old_cycle()       # only a full collection finds it
        self.assertEqual(gc.collect(0), 0)
        self.assertIsNotNone(wa())
        self.assertEqual(gc.collect(), 2)
        self.assertIsNone(wa())
        self.assertIsNone(wb())

    def test_marked_objects_are_not_candidates(self):
        # A large structure reachable from a module global is marked from
        # the roots, so validation only sees the rest.
        global _live
        _live = [Node() for _ in range(50_000)]
        try:
            gc.collect()
            with StopInfo() as stops:
                gc.collect()
            info = stops.infos[-1]
            self.assertEqual(info["kind"], "incremental")
            self.assertGreater(info["visited"], 50_000)
            self.assertLess(info["candidates"], 25_000)
        finally:
            del _live

    def test_referenced_only_from_c_state_survives(self):
        # atexit keeps its callbacks in C state, which is no root of the
        # mark: the cycle is a candidate every time and validation must
        # keep it.
        a = Node()
        a.other = a
        a.marker = object()
        atexit.register(a.__init__, a)
        w = weakref.ref(a)
        del a
        try:
            for _ in range(3):
                gc.collect()
                self.assertIsNotNone(w())
        finally:
            atexit.unregister(w().__init__)
        self.assertEqual(gc.collect(), 1)
        self.assertIsNone(w())

    def test_resurrected_object_collected_next_time(self):
        # A finalizer resurrects an old cycle; once dropped again, the next
        # full collection must find it (its color was refreshed although it
        # was garbage when it got it).
        saved = []

        class Phoenix(Node):
            def __del__(self):
                saved.append(self)

        wa, wb = make_old_cycle(Phoenix)
        self.assertEqual(gc.collect(0), 0)
        gc.collect()                    # resurrected: not counted
        self.assertEqual(len(saved), 2)
        self.assertIsNone(wa())
        w = weakref.ref(saved[0])
        saved.clear()
        # __del__ does not run twice; the cycle is now plain garbage.
        self.assertEqual(gc.collect(), 2)
        self.assertIsNone(w())
        self.assertEqual(saved, [])

    def test_every_full_collection_is_complete(self):
        # Colors alternate between collections: garbage created between any
        # two of them is found by the second, whatever the parity.
        for i in range(6):
            # Old ones and young ones alike.
            cycles = [(make_old_cycle if i % 2 else make_cycle)()
                      for _ in range(10)]
            self.assertEqual(gc.collect(), 20)
            for wa, wb in cycles:
                self.assertIsNone(wa())

    def test_unfrozen_objects_are_candidates_again(self):
        wa, wb = make_cycle()
        gc.freeze()
        try:
            # Two full collections flip the color twice while frozen.
            self.assertEqual(gc.collect(), 0)
            self.assertEqual(gc.collect(), 0)
            self.assertIsNotNone(wa())
        finally:
            gc.unfreeze()
        self.assertEqual(gc.collect(), 2)
        self.assertIsNone(wa())

    def test_frozen_and_unfrozen_across_parities(self):
        for flips in range(3):
            wa, wb = make_cycle()
            gc.freeze()
            try:
                for _ in range(flips):
                    gc.collect()
                self.assertIsNotNone(wa())
            finally:
                gc.unfreeze()
            self.assertEqual(gc.collect(), 2, flips)

    def test_garbage_reachable_from_marked_object_stays(self):
        # An object reachable from a root is never a candidate; what it
        # references is kept even if it is only referenced from there.
        global _holder
        _holder = Node()
        _holder.other = Node()
        _holder.other.other = _holder.other   # self cycle, held by _holder
        w = weakref.ref(_holder.other)
        try:
            self.assertEqual(gc.collect(), 0)
            self.assertIsNotNone(w())
            _holder.other = None
            self.assertEqual(gc.collect(), 1)
            self.assertIsNone(w())
        finally:
            del _holder

    def test_weakref_callbacks_and_finalizers_order(self):
        events = []

        class Fin(Node):
            def __del__(self):
                events.append(("del", self.name))

        a, b = Fin(), Fin()
        a.name, b.name = "a", "b"
        a.other, b.other = b, a
        wr = weakref.ref(a, lambda r: events.append(("callback", r())))
        gc.collect(0)                   # old now
        del a, b
        self.assertEqual(gc.collect(), 2)
        # Weakrefs are cleared (callback sees None) before finalizers run.
        self.assertEqual(events[0], ("callback", None))
        self.assertEqual(sorted(events[1:]), [("del", "a"), ("del", "b")])
        self.assertIsNone(wr())

    @threading_helper.requires_working_threading()
    def test_threads_mutate_while_full_collections_run(self):
        # Four threads move references between old holders (reachable from
        # the roots) and young objects while another runs full collections:
        # nothing reachable may ever be freed.
        holders = [[Node() for _ in range(50)] for _ in range(4)]
        gc.collect()
        stop = threading.Event()
        errors = []

        def mutate(k):
            mine = holders[k]
            other = holders[(k + 1) % 4]
            n = 0
            try:
                while not stop.is_set() and n < 20_000:
                    n += 1
                    i = n % len(mine)
                    node = Node(mine[i])
                    node.other.other = node     # cycle through a holder
                    mine[i] = other[(i * 7) % len(other)]
                    other[(i * 7) % len(other)] = node
                    make_cycle()                # garbage
                    if not isinstance(mine[i], Node):
                        errors.append(type(mine[i]))
            except BaseException as e:
                errors.append(e)

        def collect():
            while not stop.is_set():
                gc.collect()

        threads = [threading.Thread(target=mutate, args=(k,))
                   for k in range(4)]
        collector = threading.Thread(target=collect)
        with threading_helper.start_threads(threads):
            collector.start()
            for t in threads:
                t.join()
            stop.set()
            collector.join()
        self.assertEqual(errors, [])
        # Everything still reachable is intact.
        for holder in holders:
            for node in holder:
                self.assertIsInstance(node, Node)
                if node.other is not None:
                    self.assertIsInstance(node.other, Node)


if __name__ == "__main__":
    unittest.main()
