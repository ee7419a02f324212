"""Survivor cycles (Python/zgc/zgc_survivor.c): automatic cycles whose
candidates are the objects that survived validation since the last full
collection (the promoted log), instead of what marking leaves unmarked."""
import collections
import gc
import random
import sysconfig
import threading
import time
import unittest
import weakref
from test import support
from test.support import script_helper, threading_helper
from test.test_zgc.test_incremental import (
    Node, Phoenix, build_live, check_graph)

ZGC = sysconfig.get_config_var("Py_ZGC") == 1

# Garbage that outlives young collections: rings of nodes that stay
# referenced from a queue for a while, then are dropped.  Prints the kinds
# of the automatic cycles, how many of the dropped rings are still alive,
# and how many there were.
CHURN = r"""if 1:
    import collections, gc, sys, weakref

    class Node:
        pass

    kinds = collections.Counter()
    def record(phase, info):
        if phase == "stop" and info["generation"] == 2:
            kinds[info["kind"]] += 1
    gc.callbacks.append(record)

    live = [Node() for _ in range(100_000)]
    for i, node in enumerate(live):
        node.next = live[(i * 7919) % len(live)]
    gc.collect()

    queue = collections.deque()
    dropped = []
    for i in range(int(sys.argv[1])):
        ring = [Node() for _ in range(8)]
        for k, node in enumerate(ring):
            node.next = ring[k - 1]
            node.payload = {"k": k}
        queue.append(ring[0])
        if len(queue) > 5_000:
            old = queue.popleft()
            if i % 97 == 0:
                dropped.append(weakref.ref(old))
        del ring, node
    alive = sum(r() is not None for r in dropped[:len(dropped) // 2])
    print(kinds["survivor"], kinds["incremental"], alive, len(dropped) // 2)
"""

# Cyclic garbage made of old objects (marked by a full collection before
# it died): survivor cycles cannot find it; a full collection must come
# within a few cycles without gc.collect().
OLD_GARBAGE = r"""if 1:
    import collections, gc, weakref

    class Node:
        pass

    kinds = []
    def record(phase, info):
        if phase == "stop" and info["generation"] == 2:
            kinds.append(info["kind"])
    gc.callbacks.append(record)

    old = [Node() for _ in range(50_000)]
    for i, node in enumerate(old):
        node.next = old[i - 1]
    gc.collect()
    probe = weakref.ref(old[0])
    del old, node

    queue = collections.deque()
    for i in range(3_000_000):
        ring = [Node(), Node()]
        ring[0].next = ring[1]
        ring[1].next = ring[0]
        queue.append(ring)
        if len(queue) > 5_000:
            queue.popleft()
        if probe() is None:
            break
    print(probe() is None, " ".join(kinds))
"""


# gc.collect() while an automatic cycle is detached: an incremental one is
# completed (one collection) before gc.collect()'s own; a survivor one is
# abandoned (gc.collect()'s full collection finds all it would have).
# Prints the phases and kinds of the full collections' callbacks, and
# whether the counts add up.
DETACHED = r"""if 1:
    import collections, gc, sys, weakref

    class Node:
        def __init__(self, i):
            self.i = i
            self.next = None

    # Frozen: no collection validates it, so it never enters the promoted
    # log (a log of mostly live objects, more than half the heap, would
    # make the next cycle a full one); the sweep still has its pages to
    # visit, so that the cycle takes several slices either way.
    live = [Node(i) for i in range(200_000)]
    for i, node in enumerate(live):
        node.next = live[(i * 7 + 1) % len(live)]
    gc.freeze()
    gc.collect()

    def full_totals():
        stats = gc.get_stats()[2]
        return stats["collections"], stats["pause_count"]

    # Cycles that outlive young collections, then die: what survivor
    # cycles are for.  Churn until two automatic cycles of the kind wanted
    # completed in a row (survivor cycles, unless they are off: then the
    # next is one too, unless the heap grew), then until the next cycle is
    # under way.
    want = ("incremental" if sys._xoptions.get("zgc_survivor") == "0"
            else "survivor")
    recent = collections.deque(maxlen=20_000)
    def churn():
        for i in range(200):
            node = Node(i)
            node.next = node
            recent.append(node)
    kinds = []
    gc.callbacks.append(lambda phase, info: kinds.append(info["kind"])
                        if phase == "stop" and info["generation"] == 2
                        else None)
    while kinds[-2:] != [want, want]:
        churn()
    gc.callbacks.pop()
    collections_, pauses = full_totals()
    for _ in range(4000):
        churn()
        now_collections, now_pauses = full_totals()
        if now_collections != collections_:
            collections_, pauses = now_collections, now_pauses
        elif now_pauses > pauses:
            break
    else:
        raise SystemExit("no detached cycle")
    a = Node(0)
    a.next = a
    wr = weakref.ref(a)
    del a
    events = []
    gc.callbacks.append(lambda phase, info: events.append(
        (phase, info["generation"], info.get("kind"), info.get("collected"))))
    collected = gc.collect()
    gc.callbacks.pop()
    full = [e[0] if e[0] == "start" else f"stop:{e[2]}"
            for e in events if e[1] == 2]
    ok = (wr() is None
          and collected == sum(e[3] for e in events if e[0] == "stop"))
    print(ok, " ".join(full))
"""


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class SurvivorCycleTests(unittest.TestCase):

    def churn(self, *args, iterations=400_000, **env):
        rc, out, err = script_helper.assert_python_ok(
            *args, "-c", CHURN, str(iterations), **env)
        return [int(x) for x in out.split()]

    def test_survivor_cycles_free_promoted_garbage(self):
        # Automatic cycles are mostly survivor cycles, with a full one at
        # least every few, and the rings dropped early are all freed.
        survivor, full, alive, dropped = self.churn()
        self.assertGreater(survivor, 0)
        self.assertGreater(full, 0)
        self.assertLessEqual(survivor, 8 * (full + 1))
        self.assertGreater(dropped, 1000)
        self.assertEqual(alive, 0)

    def test_knob_turns_them_off(self):
        survivor, full, alive, dropped = self.churn(
            "-X", "zgc_survivor=0")
        self.assertEqual(survivor, 0)
        self.assertGreater(full, 0)
        self.assertEqual(alive, 0)
        survivor, full, alive, dropped = self.churn(
            iterations=100_000, PYTHONZGCSURVIVOR="0")
        self.assertEqual(survivor, 0)
        # -X wins over the environment.
        survivor, full, alive, dropped = self.churn(
            "-X", "zgc_survivor=1", iterations=100_000,
            PYTHONZGCSURVIVOR="0")
        self.assertGreater(survivor, 0)

    def test_invalid_knob_values(self):
        for value in ("2", "-1", "yes", "", "01"):
            with self.subTest(value=value):
                rc, out, err = script_helper.assert_python_failure(
                    "-X", f"zgc_survivor={value}", "-c", "pass")
                self.assertIn(b"-X zgc_survivor: invalid value", err)
        rc, out, err = script_helper.assert_python_failure(
            "-c", "pass", PYTHONZGCSURVIVOR="on")
        self.assertIn(b"PYTHONZGCSURVIVOR: invalid value on", err)
        script_helper.assert_python_ok("-E", "-c", "pass",
                                       PYTHONZGCSURVIVOR="on")

    def test_collect_abandons_a_detached_survivor_cycle(self):
        # The first automatic cycle after gc.collect() is a survivor cycle:
        # gc.collect() runs one full collection, not two.
        rc, out, err = script_helper.assert_python_ok("-c", DETACHED)
        self.assertEqual(out.decode().split(),
                         ["True", "start", "stop:incremental"])

    def test_collect_completes_a_detached_incremental_cycle(self):
        rc, out, err = script_helper.assert_python_ok(
            "-X", "zgc_survivor=0", "-c", DETACHED)
        self.assertEqual(out.decode().split(),
                         ["True", "start", "stop:incremental",
                          "start", "stop:incremental"])

    def test_old_garbage_is_found_by_a_later_full_collection(self):
        rc, out, err = script_helper.assert_python_ok("-c", OLD_GARBAGE)
        freed, *kinds = out.decode().split()
        self.assertEqual(freed, "True", kinds)
        # Survivor cycles ran before the full one that freed it.
        self.assertIn("survivor", kinds)



@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class SurvivorStressTests(unittest.TestCase):
    """Survivor cycles under mutators: what the cycle holds between its
    slices are pointers from the promoted log, to objects that threads
    free, reuse, rewire, freeze and resurrect meanwhile."""

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.enable()

    def tearDown(self):
        Phoenix.saved.clear()
        gc.collect()
        if not self.enabled:
            gc.disable()

    def test_threads_mutate_during_survivor_cycles(self):
        # Four threads rewire a shared graph and make garbage that outlives
        # young collections (rings holding live nodes, weakrefs with
        # callbacks to ring members, finalizers that resurrect), while the
        # main thread freezes and unfreezes the heap once, until several
        # survivor cycles completed.  (The graph does not grow: live growth
        # past the trigger makes the next cycle a full one.)
        live = build_live(30_000)
        gc.collect()
        kinds = []

        def record(phase, info):
            if phase == "stop" and info["generation"] == 2:
                kinds.append(info["kind"])

        called = []
        errors = []
        stop = threading.Event()

        def callback(wr):
            # Not the weakref itself: a list of them would grow the heap
            # (live growth past the trigger makes the next cycle a full
            # one).
            if not called:
                called.append(True)

        def mutate(k):
            try:
                rng = random.Random(k)
                n = len(live)
                count = 0
                hold = []
                # The weakrefs outlive what they refer to (a weakref that
                # dies with its referent has no callback called).
                refs = collections.deque(maxlen=20_000)
                while not stop.is_set():
                    count += 1
                    if count % 16 == 0:
                        # Four threads allocating flat out on two CPUs
                        # outrun the cycles (the heap grows without bound,
                        # see InternalDocs/zgc.md, Known limits); so does a
                        # sleep every 256 operations on a slow day, and
                        # then the promoted log is soon longer than half
                        # the heap and every cycle is a full one.
                        time.sleep(0.001)
                    a = live[rng.randrange(n)]
                    b = live[rng.randrange(n)]
                    op = count % 5
                    if op == 0:
                        a.ref, b.ref = b.ref, a.ref
                    elif op == 1:
                        ring = [Node(count + i) for i in range(4)]
                        for i, node in enumerate(ring):
                            node.ref = ring[i - 1]
                        ring[0].items.append(a)
                        ring[1].table[count] = b
                        hold.append(ring[2])
                        if len(hold) > 3_000:
                            del hold[:1_000]
                    elif op == 2:
                        c = Node(count)
                        c.ref = c
                        hold.append(c)
                        refs.append(weakref.ref(c, callback))
                    elif op == 3:
                        p = Phoenix(count)
                        p.ref = p
                        p.items.append(a)
                        hold.append(p)
                    else:
                        try:
                            b.items[0] = Node(-count)
                        except IndexError:
                            b.items.append(Node(-count))
                        with Phoenix.lock:
                            if Phoenix.saved:
                                Phoenix.saved.pop().ref = None
            except BaseException as e:
                errors.append(e)

        gc.callbacks.append(record)
        try:
            threads = [threading.Thread(target=mutate, args=(k,))
                       for k in range(4)]
            with threading_helper.start_threads(threads):
                deadline = time.monotonic() + support.LONG_TIMEOUT
                frozen = False
                while (kinds.count("survivor") < 3
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
                    if not frozen and kinds:
                        # Mid-cycle, most likely: a cycle just ended, and
                        # the next starts as soon as the heap grew enough.
                        gc.freeze()
                        time.sleep(0.05)
                        gc.unfreeze()
                        frozen = True
                stop.set()
        finally:
            gc.callbacks.remove(record)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(kinds.count("survivor"), 3, kinds)
        self.assertTrue(called)
        self.assertEqual(check_graph(self, live), check_graph(self, live))
        for node in live:
            self.assertTrue(node.valid())
        for p in Phoenix.saved:
            self.assertTrue(p.valid())


if __name__ == "__main__":
    unittest.main()
