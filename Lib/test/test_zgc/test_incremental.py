"""Incremental full collections of pyzgc: discovery runs in bounded
stop-the-world slices and the mutators run in between (InternalDocs/zgc.md,
"Full collections").  Each test tries to break one invariant of
Python/zgc/zgc_full.c while slices are under way."""
import gc
import os
import random
import sysconfig
import threading
import time
import unittest
import warnings
import weakref
from test import support
from test.support import threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1

# Enough live objects that a full collection's discovery takes many slices
# (about 0.5 ms of work each).
LIVE = 150_000


class Node:
    def __init__(self, ident):
        self.ident = ident
        self.check = ident * 2 + 1
        self.ref = None
        self.items = []
        self.table = {}

    def valid(self):
        return (type(self) in (Node, Phoenix)
                and self.check == self.ident * 2 + 1
                and type(self.items) is list and type(self.table) is dict)


class Leaf:
    """A small GC object for giant containers."""
    __slots__ = ("ident", "check")

    def __init__(self, ident):
        self.ident = ident
        self.check = ident * 2 + 1

    def valid(self):
        return type(self) is Leaf and self.check == self.ident * 2 + 1


class Phoenix(Node):
    """Resurrects itself into `saved` the first time it is finalized."""
    saved = []
    lock = threading.RLock()   # __del__ may run while a thread holds it

    def __del__(self):
        with Phoenix.lock:
            Phoenix.saved.append(self)


class SliceWatcher:
    """Counts full collections and lets threads wait until one is running
    (between its "start" and "stop" callbacks)."""

    def __init__(self):
        self.running = threading.Event()
        self.full = 0
        self.slices = 0

    def __call__(self, phase, info):
        if info["generation"] == 0:
            return
        if phase == "start":
            self.running.set()
        else:
            self.running.clear()
            self.full += 1
            self.slices += info["pause_count"]

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def build_live(n=LIVE):
    nodes = [Node(i) for i in range(n)]
    for i, node in enumerate(nodes):
        node.ref = nodes[(i * 7 + 1) % n]
        node.items.append(nodes[(i * 13 + 5) % n])
        node.table[i] = nodes[(i * 31 + 3) % n]
    return nodes


def child_collects(live=(), allocate=0):
    """In a forked child: the parent's cycle is gone, and the child's
    collector must work.  Exit with 0 if gc.collect() finds a new garbage
    cycle, then allocating `allocate` nodes (automatic collections) leaves
    `live` intact."""
    # The parent's gc.callbacks came along, and a parent thread may have
    # held one of their locks (SliceWatcher's Event) when it forked: the
    # child must not call them.
    gc.callbacks.clear()
    code = 0
    try:
        a = Node(1)
        a.ref = a
        del a
        if gc.collect() < 1:
            code = 3
        keep = [Node(i) for i in range(allocate)]
        if not all(node.valid() for node in live):
            code = 5
        del keep
    except BaseException:
        code = 4
    os._exit(code)


def check_graph(testcase, roots):
    seen = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        testcase.assertTrue(node.valid(), repr(node))
        stack.append(node.ref) if node.ref is not None else None
        stack.extend(node.items)
        stack.extend(node.table.values())
    return len(seen)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class IncrementalFullCollectionTests(unittest.TestCase):

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.disable()
        gc.collect()

    def tearDown(self):
        Phoenix.saved.clear()
        gc.collect()
        if self.enabled:
            gc.enable()

    def collect_while(self, mutator, nthreads=4, seconds=2.0):
        """Run `mutator(k, stop)` in nthreads threads while this thread runs
        full collections; return (collections, slices)."""
        stop = threading.Event()
        errors = []

        def run(k):
            try:
                mutator(k, stop)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=run, args=(k,))
                   for k in range(nthreads)]
        with SliceWatcher() as watch:
            with threading_helper.start_threads(threads):
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline or watch.full < 3:
                    gc.collect()
                stop.set()
        self.assertEqual(errors, [])
        return watch.full, watch.slices

    def test_collection_runs_in_many_slices(self):
        live = build_live()
        with SliceWatcher() as watch:
            gc.collect()
        self.assertGreater(watch.slices, 10)
        del live

    def test_shared_random_graph_stress(self):
        # 4 threads swap attributes, move list items and dict values,
        # create cycles that die, register weakref callbacks and resurrect
        # objects through finalizers, while full collections run slice by
        # slice.  Nothing reachable may be freed or corrupted.
        live = build_live()
        callbacks = []

        def mutate(k, stop):
            rng = random.Random(k)
            n = len(live)
            count = 0
            while not stop.is_set() and count < 400_000:
                count += 1
                a = live[rng.randrange(n)]
                b = live[rng.randrange(n)]
                op = count % 6
                if op == 0:
                    a.ref, b.ref = b.ref, a.ref
                elif op == 1:
                    try:                # other threads race for a.items
                        b.items.append(a.items.pop())
                    except IndexError:
                        pass
                elif op == 2:
                    try:
                        key, value = a.table.popitem()
                    except KeyError:
                        pass
                    else:
                        b.table[key] = value
                elif op == 3:
                    # A new object referenced only from an old one, and a
                    # garbage cycle.
                    fresh = Node(-1 - count)
                    fresh.ref = a
                    a.items.append(fresh)
                    if len(a.items) > 4:
                        try:
                            a.items.pop(0)
                        except IndexError:
                            pass
                    c = Node(count)
                    c.ref = c
                elif op == 4:
                    w = weakref.ref(a, callbacks.append)
                    p = Phoenix(count)
                    p.ref = p
                    p.items.append(a)
                else:
                    with Phoenix.lock:
                        if Phoenix.saved:
                            Phoenix.saved.pop().ref = None

        full, slices = self.collect_while(mutate, seconds=1.0)
        self.assertGreaterEqual(full, 3)
        self.assertGreater(slices, 100)
        self.assertEqual(check_graph(self, live), check_graph(self, live))
        for node in live:
            self.assertTrue(node.valid())

    def test_references_moved_to_marked_holders(self):
        # Objects reachable only from an unmarked holder are moved into a
        # holder that was marked first (the head of the list), over and
        # over, with no write barrier: validation must keep them.
        live = build_live()
        movers = [[Node(i) for i in range(1000)] for _ in range(4)]
        gc.collect()

        def mutate(k, stop):
            head = live[0]
            mine = movers[k]
            while not stop.is_set():
                for i in range(len(mine)):
                    node = mine[i]
                    head.table[(k, i)] = node
                    mine[i] = None
                    mine[i] = head.table.pop((k, i))

        self.collect_while(mutate, seconds=1.0)
        for mine in movers:
            for node in mine:
                self.assertTrue(node.valid())

    def test_memory_freed_and_reused_between_slices(self):
        live = build_live()

        def mutate(k, stop):
            while not stop.is_set():
                # Whole pages of objects die and are refilled.
                batch = [Node(i) for i in range(5000)]
                for node in batch:
                    node.ref = node
                del batch
                batch = [(i, [i]) for i in range(5000)]
                del batch

        self.collect_while(mutate, seconds=1.0)
        check_graph(self, live[:100])

    def test_large_containers_marked_in_steps(self):
        # A deque, a set and a list subclass hold far more than one mark
        # step's referents (512): marking resumes them step by step, and
        # threads mutate them in between (items move, are removed and
        # re-added), so a step may skip or see twice some referents.
        # Validation must keep every object they hold, and what they
        # dropped must be collectable afterwards.
        from collections import deque

        class Bag(list):
            pass

        live = build_live()
        holders = [deque(Node(i) for i in range(20_000)),
                   set(Node(i) for i in range(20_000)),
                   Bag(Node(i) for i in range(20_000)),
                   frozenset(Node(i) for i in range(20_000))]
        dropped = []

        def mutate(k, stop):
            rng = random.Random(k)
            holder = holders[k]
            i = 0
            while not stop.is_set():
                i += 1
                if isinstance(holder, deque):
                    holder.rotate(rng.randrange(-700, 700))
                    node = holder.popleft()
                    holder.append(node)
                elif isinstance(holder, set):
                    node = holder.pop()
                    holder.add(node)
                    if i % 100 == 0:
                        dead = Node(-i)
                        dead.ref = dead
                        holder.add(dead)
                        holder.discard(dead)
                        dropped.append(weakref.ref(dead))
                        del dead
                elif isinstance(holder, Bag):
                    j = rng.randrange(len(holder))
                    holder.append(holder.pop(j))
                else:
                    # Read-only: a frozenset is never changed, only walked.
                    for node in holder:
                        if not node.valid():
                            raise AssertionError(node)
                        break

        self.collect_while(mutate, seconds=1.0)
        for holder in holders:
            self.assertEqual(len(holder), 20_000)
            for node in holder:
                self.assertTrue(node.valid())
        gc.collect()
        self.assertTrue(all(w() is None for w in dropped))
        del live

    def test_large_containers_fully_marked(self):
        # Marking resumes a large container where its last step stopped
        # and gets to the end: what these containers hold is marked, so it
        # is not a candidate for validation (80,000 nodes here).
        from collections import deque

        class Bag(list):
            pass

        holders = [deque(Node(i) for i in range(20_000)),
                   {Node(i) for i in range(20_000)},
                   Bag(Node(i) for i in range(20_000)),
                   frozenset(Node(i) for i in range(20_000))]
        gc.collect()
        with FullInfo() as full:
            gc.collect()
        self.assertEqual(len(full.infos), 1)
        self.assertLess(full.infos[0]["candidates"], 10_000,
                        (full.infos[0], len(gc.get_objects())))
        self.assertEqual(sum(len(h) for h in holders), 80_000)

    def test_giant_containers_marked_in_bounded_steps(self):
        # Subclasses of dict, set and list are chunked by index like the
        # exact types, what the subclass adds (a defaultdict's factory,
        # an instance dict) visited first through tp_traverse; a deque of
        # more than MARK_MAX_SKIP (262,144) referents leaves the rest
        # unvisited, as candidates that validation keeps.  Threads mutate
        # them in between (entries moved, the deque rotated).
        from collections import OrderedDict, defaultdict, deque

        class Table(dict):
            pass

        n = 50_000                  # about 100 chunks each
        odict = OrderedDict((i, Leaf(i)) for i in range(n))
        # Leaf(-2) is reachable only through the factory's defaults,
        # Leaf(-1) only through Table's instance dict.
        ddict = defaultdict(lambda made=Leaf(-2): made,
                            ((i, Leaf(i)) for i in range(n)))
        table = Table((i, Leaf(i)) for i in range(n))
        table.extra = Leaf(-1)
        queue = deque(Leaf(i) for i in range(300_000))
        holders = [odict, ddict, table, queue]

        def mutate(k, stop):
            rng = random.Random(k)
            holder = holders[k]
            while not stop.is_set():
                if holder is queue:
                    holder.rotate(rng.randrange(-700, 700))
                else:
                    key = rng.randrange(n)
                    holder[key] = holder.pop(key)

        self.collect_while(mutate, seconds=1.0)
        gc.collect()
        for holder in holders:
            self.assertEqual(len(holder), 300_000 if holder is queue else n)
            leaves = holder if holder is queue else holder.values()
            self.assertTrue(all(leaf.valid() for leaf in leaves))
        self.assertTrue(table.extra.valid())
        self.assertEqual(table.extra.ident, -1)
        self.assertEqual(ddict[n].ident, -2)

    def test_giant_dict_subclasses_fully_marked(self):
        # Chunked by index, a large dict subclass is marked whole: what
        # it holds is not a candidate for validation (900,000 leaves).
        from collections import Counter, OrderedDict, defaultdict
        n = 300_000
        holders = [OrderedDict((i, Leaf(i)) for i in range(n)),
                   defaultdict(list, ((i, Leaf(i)) for i in range(n))),
                   Counter({Leaf(i): i for i in range(n)})]
        gc.collect()
        with FullInfo() as full:
            gc.collect()
        self.assertEqual(len(full.infos), 1)
        self.assertLess(full.infos[0]["candidates"], 10_000, full.infos[0])
        self.assertEqual(sum(len(h) for h in holders), 3 * n)

    def test_young_collections_nested_in_collect(self):
        # gc.collect() runs the young collections that another thread's
        # allocations make due between its slices itself, under the flag
        # it holds for its whole discovery: no other thread's collection
        # can start in between.  (The flag used to be handed to the nested
        # collection, and another thread could win it in that instant, too
        # narrow a window for this test to hit; it checks the invariant.)
        live = build_live(200_000)
        stop = threading.Event()

        def allocate():
            while not stop.is_set():
                for i in range(1_000):
                    node = Node(i)
                    node.ref = node

        events = []
        main = threading.get_ident()

        def record(phase, info):
            events.append((phase, info["generation"], threading.get_ident()))

        t = threading.Thread(target=allocate)
        gc.enable()
        try:
            t.start()
            gc.callbacks.append(record)
            try:
                for _ in range(3):
                    events.append(("call", None, main))
                    gc.collect()
            finally:
                gc.callbacks.remove(record)
        finally:
            stop.set()
            t.join()
            gc.disable()
        nested = 0
        inside = False      # after main's first young "start" in a call
        for phase, generation, ident in events:
            if phase == "call":
                inside = False
            elif ident != main:
                self.assertFalse(inside, events)
            elif phase == "start" and generation == 0:
                inside = True
                nested += 1
            elif phase == "start":
                inside = False
        self.assertGreater(nested, 0)
        self.assertEqual(check_graph(self, live[:10]), len(live))

    def test_threads_start_and_exit_mid_cycle(self):
        live = build_live()
        keep = []
        lock = threading.Lock()

        def child(i):
            node = Node(i)
            node.ref = node
            with lock:
                keep.append(node)
            garbage = Node(i)
            garbage.ref = garbage

        def mutate(k, stop):
            i = 0
            while not stop.is_set():
                t = threading.Thread(target=child, args=(i,))
                t.start()
                t.join()
                i += 1

        self.collect_while(mutate, nthreads=2, seconds=1.0)
        for node in keep:
            self.assertTrue(node.valid())
        del live

    def test_freeze_mid_cycle(self):
        live = build_live()
        frozen_garbage = []

        def mutate(k, stop):
            while not stop.is_set():
                a = Node(1)
                a.ref = a
                frozen_garbage.append(weakref.ref(a))
                del a
                gc.freeze()
                gc.unfreeze()

        self.collect_while(mutate, nthreads=1, seconds=1.0)
        # Everything that was frozen mid-cycle is collectable afterwards.
        gc.collect()
        gc.collect()
        alive = sum(w() is not None for w in frozen_garbage)
        if alive:
            # Say whether later collections free them (late) or not.
            later = [gc.collect() for _ in range(3)]
            still = sum(w() is not None for w in frozen_garbage)
            self.fail(f"{alive} of {len(frozen_garbage)} objects frozen "
                      f"mid-cycle survived two collections; 3 more "
                      f"collected {later}, {still} left")
        del live

    @support.requires_fork()
    def test_fork_mid_cycle(self):
        live = build_live()
        watch = SliceWatcher()
        results = []

        def forker():
            # Fork while the main thread is between two slices.
            if not watch.running.wait(support.SHORT_TIMEOUT):
                results.append("no collection started")
                return
            with warnings.catch_warnings():
                # "This process is multi-threaded, use of fork() may lead
                # to deadlocks in the child."
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                child_collects()
            try:
                support.wait_process(pid, exitcode=0)
                results.append(True)
            except AssertionError as e:
                results.append(str(e))

        t = threading.Thread(target=forker)
        with watch:
            t.start()
            while t.is_alive():
                gc.collect()
        t.join()
        self.assertEqual(results, [True])
        del live


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class MarkingHelperTests(unittest.TestCase):
    """Mark slices are shared with the marking helper thread (zgc_helper.c):
    two tracers, each with its own stack, coloring objects with atomic
    operations."""

    def setUp(self):
        self.enterContext(support.disable_gc())
        self.addCleanup(gc.collect)
        gc.collect()

    def test_large_graph_marked_whole(self):
        # A quiescent live graph much larger than one slice's marking:
        # whatever either tracer leaves unmarked becomes a candidate (and
        # is kept by validation), so few candidates means both stacks were
        # drained and no push was lost between them.
        live = build_live(200_000)
        garbage = [Node(i) for i in range(5_000)]
        for node in garbage:
            node.ref = node
        del garbage, node
        with FullInfo() as full:
            n = gc.collect()
        self.assertEqual(n, 5_000 * 3)   # each Node: itself, list, dict
        info = full.infos[-1]
        self.assertGreater(info["pause_count"], 10)
        self.assertLess(info["candidates"], 5_000 * 3 + 2_000,
                        (info, len(gc.get_objects())))
        self.assertEqual(check_graph(self, live[:50]), len(live))

    def test_tuples_of_atoms_untracked(self):
        # Marking untracks reachable tuples that can never be part of a
        # cycle (as upstream's mark-alive does), and only those.
        # (tuple() of a range is tracked when made; a tuple display of
        # atoms is not even tracked.)
        atoms = [tuple(range(i, i + 3)) for i in range(3_000)]
        holders = [(i, []) for i in range(3_000)]
        nested = [(tuple(range(i, i + 2)), 3) for i in range(3_000)]
        self.assertTrue(all(gc.is_tracked(t) for t in atoms))
        self.assertTrue(all(gc.is_tracked(t[0]) for t in nested))
        gc.collect()
        self.assertFalse(any(gc.is_tracked(t) for t in atoms))
        self.assertTrue(all(gc.is_tracked(t) for t in holders))
        self.assertFalse(any(gc.is_tracked(t[0]) for t in nested))

    @threading_helper.requires_working_threading()
    def test_threads_wake_during_helped_slices(self):
        # The helper marks while the threads that were running when the
        # world was stopped leave it a CPU; threads that were sleeping then
        # wake up during its slices.  They must not run (nor spin in the
        # helper's way) until the slice ends, and what they move between
        # slices must survive: each pause they wake from a short sleep and
        # swap references and list items between live nodes.
        live = build_live(200_000)
        stop = threading.Event()
        errors = []

        def sleeper(seed):
            rng = random.Random(seed)
            try:
                while not stop.is_set():
                    time.sleep(0.0002)
                    a = live[rng.randrange(len(live))]
                    b = live[rng.randrange(len(live))]
                    a.ref, b.ref = b.ref, a.ref
                    if b.items:
                        a.items.append(b.items.pop())
                    a.table[-1] = b
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sleeper, args=(seed,))
                   for seed in range(2)]
        with threading_helper.start_threads(threads, stop.set):
            for _ in range(3):
                garbage = [garbage_pair() for _ in range(2_000)]
                del garbage
                with FullInfo() as full:
                    n = gc.collect()
                self.assertEqual(n, 4_000)
                self.assertGreater(full.infos[-1]["pause_count"], 10)
        self.assertEqual(errors, [])
        self.assertEqual(check_graph(self, live), len(live))

    @support.requires_fork()
    def test_fork_after_helper_ran(self):
        # The child has no helper thread: it starts its own.
        live = build_live(100_000)
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            child_collects(live, allocate=50_000)
        support.wait_process(pid, exitcode=0)
        self.assertEqual(check_graph(self, live[:10]), len(live))


class Pair:
    """A GC object with no __dict__: exact collected counts."""
    __slots__ = ("ref", "other", "__weakref__")

    def __init__(self):
        self.ref = None
        self.other = None


def garbage_pair():
    """A 2-object garbage cycle; returns a weakref to one member."""
    a = Pair()
    b = Pair()
    a.ref = b
    b.ref = a
    return a, b


class FullInfo:
    """The "stop" info of the full collections that run inside it."""

    def __init__(self):
        self.infos = []

    def __call__(self, phase, info):
        if phase == "stop" and info["generation"] == 2:
            self.infos.append(info)

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class BatchedValidationTests(unittest.TestCase):
    """A full collection with many candidates validates them in batches of
    whole components (zgc_full.c, "Components"), each in its own pause with
    its own finalizers, the world running in between."""

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.disable()
        Phoenix.saved.clear()
        gc.collect()

    def tearDown(self):
        Phoenix.saved.clear()
        gc.collect()
        if self.enabled:
            gc.enable()

    def test_many_components_exact_count(self):
        live = build_live(20_000)
        refs = []
        for i in range(30_000):
            a, b = garbage_pair()
            refs.append(weakref.ref(a))
        del a, b
        with FullInfo() as full:
            n = gc.collect()
        self.assertEqual(n, 60_000)
        self.assertGreater(full.infos[-1]["batches"], 2)
        self.assertTrue(all(r() is None for r in refs))
        check_graph(self, live[:100])

    def test_components_spanning_batches(self):
        # Chains of cycles C1 -> C2 -> ... -> C6, each layer made for all
        # chains before the next one, so that a chain's cycles lie far
        # apart in the heap (and in different batches unless the chain is
        # linked into one component).  A cycle validated without the
        # cycle that points to it would survive this collection.
        chains = 4_000
        layers = []
        for depth in range(6):
            layer = [garbage_pair()[0] for _ in range(chains)]
            if layers:
                for prev, cur in zip(layers[-1], layer):
                    prev.other = cur
            layers.append(layer)
        heads = layers[0]
        refs = [weakref.ref(p) for layer in layers for p in layer]
        del layers, layer, prev, cur
        del heads
        with FullInfo() as full:
            n = gc.collect()
        self.assertEqual(n, 2 * 6 * chains)
        self.assertGreater(full.infos[-1]["batches"], 2)
        self.assertEqual(sum(1 for r in refs if r() is not None), 0)

    def test_components_spanning_sparse_pages(self):
        # As above, but each garbage object sits between live objects of
        # its size on its page, so that the index searches the page's
        # found objects instead of mapping its blocks (zgc_full.c, index).
        chains = 3_000
        keep = []
        layers = []
        for depth in range(5):
            layer = []
            for _ in range(chains):
                keep.extend(Pair() for _ in range(6))
                layer.append(garbage_pair()[0])
                keep.extend(Pair() for _ in range(6))
            if layers:
                for prev, cur in zip(layers[-1], layer):
                    prev.other = cur
            layers.append(layer)
        refs = [weakref.ref(p) for layer in layers for p in layer]
        del layers, layer, prev, cur
        with FullInfo() as full:
            n = gc.collect()
        self.assertEqual(n, 2 * 5 * chains)
        self.assertGreater(full.infos[-1]["batches"], 2)
        self.assertEqual(sum(1 for r in refs if r() is not None), 0)
        self.assertEqual(len(keep), 12 * 5 * chains)

    def test_one_large_component(self):
        # A single garbage structure larger than a batch is validated whole.
        ring = [Pair() for _ in range(50_000)]
        for i, p in enumerate(ring):
            p.ref = ring[(i + 1) % len(ring)]
            p.other = ring[(i * 7919) % len(ring)]
        r = weakref.ref(ring[0])
        del ring, p
        self.assertEqual(gc.collect(), 50_000)
        self.assertIsNone(r())

    def test_interleaved_components_of_many_sizes(self):
        # The plan sorts found objects by component (zgc_full.c): here the
        # members of components of 1 to 300 objects are allocated
        # interleaved, each component linked in an order unrelated to its
        # members' addresses, next to live objects.  Every component must
        # be taken whole, each member once: exact count, nothing revived,
        # nothing live lost.
        rng = random.Random(7)
        sizes = [1 + (k * 37) % 300 for k in range(600)]
        members = [[] for _ in sizes]
        keep = []
        pending = [k for k, size in enumerate(sizes) for _ in range(size)]
        rng.shuffle(pending)
        for k in pending:
            members[k].append(Pair())
            if len(keep) < 20_000:
                keep.append(Pair())
        refs = []
        for group in members:
            order = group[:]
            rng.shuffle(order)
            for i, p in enumerate(order):
                p.ref = order[(i + 1) % len(order)]
                p.other = order[rng.randrange(len(order))]
            refs.extend(weakref.ref(p) for p in group)
        # Nothing live refers to the garbage; some garbage refers to live
        # objects (they are not counted and must not be freed).
        for group in members[::5]:
            group[0].other = keep[rng.randrange(len(keep))]
        total = sum(sizes)
        del members, group, order, p, pending
        with FullInfo() as full:
            n = gc.collect()
        self.assertEqual(n, total)
        self.assertGreater(full.infos[-1]["batches"], 2)
        self.assertEqual(sum(1 for r in refs if r() is not None), 0)
        self.assertEqual(len(keep), 20_000)
        self.assertTrue(all(type(p) is Pair for p in keep))

    def test_finalizers_and_callbacks_revive_later_batches(self):
        # Weakref callbacks of one batch's garbage fetch, through weakrefs,
        # garbage that a later batch has not validated yet: it is alive
        # again, and that batch must keep it intact.
        revived = []
        keep = []
        for i in range(20_000):
            a, _ = garbage_pair()
            b, _ = garbage_pair()
            wb = weakref.ref(b)
            keep.append(weakref.ref(
                a, lambda _, wb=wb: revived.append(wb())))
        del a, b, _
        for i in range(5_000):
            p = Phoenix(i)          # cyclic, with a finalizer that
            p.ref = p               # resurrects it
        del p
        gc.collect()
        self.assertEqual(len(revived), 20_000)
        alive = [b for b in revived if b is not None]
        for b in alive:
            self.assertIs(type(b), Pair)
            self.assertIs(b.ref.ref, b)
        self.assertEqual(len(Phoenix.saved), 5_000)
        for p in Phoenix.saved:
            self.assertTrue(p.valid())
        revived.clear()
        alive.clear()
        Phoenix.saved.clear()
        gc.collect()

    def test_batches_while_threads_mutate(self):
        # Threads make cyclic garbage with finalizers and weakref callbacks
        # and move references around while this thread's collections
        # validate tens of thousands of candidates a batch at a time.
        live = build_live(50_000)
        called = []
        stop = threading.Event()
        errors = []

        def mutate(k):
            try:
                rng = random.Random(k)
                n = len(live)
                mine = []
                while not stop.is_set():
                    for i in range(2000):
                        a, b = garbage_pair()
                        a.other = live[rng.randrange(n)]
                        if i % 10 == 0:
                            mine.append(weakref.ref(a, called.append))
                        if i % 50 == 0:
                            p = Phoenix(i)
                            p.ref = p
                            p.items.append(b)
                        x = live[rng.randrange(n)]
                        y = live[rng.randrange(n)]
                        x.ref, y.ref = y.ref, x.ref
                    del mine[:-100]
                    with Phoenix.lock:
                        del Phoenix.saved[:]
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=mutate, args=(k,))
                   for k in range(4)]
        with FullInfo() as full:
            with threading_helper.start_threads(threads):
                deadline = time.monotonic() + 1.5
                while (time.monotonic() < deadline
                       or not any(i["batches"] > 1 for i in full.infos)):
                    gc.collect()
                stop.set()
        self.assertEqual(errors, [])
        self.assertTrue(any(i["batches"] > 1 for i in full.infos))
        for node in live:
            self.assertTrue(node.valid())


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class YoungBetweenSlicesTests(unittest.TestCase):
    """Young collections run between the slices of a full collection
    (automatic collection enabled), and gc.callbacks pairs never nest."""

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.enable()
        gc.collect()

    def tearDown(self):
        gc.collect()
        if not self.enabled:
            gc.disable()

    def test_young_collections_run_during_a_cycle(self):
        live = build_live()
        events = []
        lock = threading.Lock()

        def record(phase, info):
            with lock:
                events.append((time.perf_counter(), phase,
                               info["generation"], info.get("duration")))

        stop = threading.Event()
        made = [0] * 4

        def mutate(k):
            while not stop.is_set():
                for i in range(1000):
                    a = Node(i)
                    b = Node(i)
                    a.ref = b
                    b.ref = a
                made[k] += 1000
                time.sleep(0.0005)

        threads = [threading.Thread(target=mutate, args=(k,))
                   for k in range(2)]
        gc.callbacks.append(record)
        try:
            with threading_helper.start_threads(threads):
                for _ in range(3):
                    gc.collect()
                stop.set()
        finally:
            gc.callbacks.remove(record)

        # Strict start/stop alternation, whatever thread collected.
        open_gen = None
        for _, phase, gen, _ in events:
            if phase == "start":
                self.assertIsNone(open_gen, events)
                open_gen = gen
            else:
                self.assertEqual(open_gen, gen)
                open_gen = None
        # Young collections finished inside some full collection's
        # discovery: after it began (its stop less its duration), before
        # its "start".
        starts = [t for t, phase, gen, _ in events
                  if phase == "start" and gen == 2]
        stops = [(t, d) for t, phase, gen, d in events
                 if phase == "stop" and gen == 2]
        young = [t for t, phase, gen, _ in events
                 if phase == "stop" and gen == 0]
        inside = sum(1 for (t_stop, d), t_start in zip(stops, starts)
                     for y in young if t_stop - d <= y <= t_start)
        self.assertGreater(inside, 0)
        self.assertGreater(sum(made), 0)
        check_graph(self, live[:100])

    def test_collect_in_another_thread_during_a_cycle(self):
        # gc.collect() in a thread while this one runs a cycle waits for
        # it (or for a young collection run between its slices), then
        # collects its own garbage: the weakref is dead on return.
        live = build_live()
        results = []
        go = threading.Event()

        def other():
            go.wait()
            for i in range(10):
                a = Node(i)
                a.ref = a
                wr = weakref.ref(a)
                del a
                gc.collect()
                results.append(wr() is None)

        t = threading.Thread(target=other)
        t.start()
        try:
            go.set()
            for _ in range(5):
                gc.collect()
        finally:
            t.join()
        self.assertEqual(results, [True] * 10)
        check_graph(self, live[:100])


class Slow:
    """Cyclic garbage whose finalizer signals `started`, passes through
    `lock` (if any) and sleeps `delay` seconds."""

    def __init__(self, started, delay, lock=None):
        self.started = started
        self.delay = delay
        self.lock = lock
        self.ref = self

    def __del__(self):
        self.started.set()
        if self.lock is not None:
            with self.lock:
                pass
        time.sleep(self.delay)


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class CollectDuringCollectionTests(unittest.TestCase):
    """gc.collect() while another thread's collection runs waits for that
    collection as long as it makes progress (pauses, finalizers, weakref
    callbacks, objects cleared: _PyZgc_Progress), then collects its own
    garbage; after ZGC_COLLECT_WAIT_S (2 s) without progress it gives up
    and returns 0, as upstream always does (gc_collect_main)."""

    def setUp(self):
        gc.collect()

    def tearDown(self):
        gc.collect()

    def test_waits_for_a_long_collection_that_progresses(self):
        # Six finalizers of 0.5 s: the collection runs 3 s, longer than
        # the wait allowed without progress.
        started = threading.Event()
        for _ in range(6):
            Slow(started, 0.5)
        results = {}

        def other():
            started.wait()
            a = Node(0)
            a.ref = a
            wr = weakref.ref(a)
            del a
            results["n"] = gc.collect()
            results["dead"] = wr() is None

        t = threading.Thread(target=other)
        t.start()
        try:
            n = gc.collect()
        finally:
            t.join()
        self.assertGreaterEqual(n, 6)
        self.assertGreaterEqual(results["n"], 1)
        self.assertTrue(results["dead"])

    def test_gives_up_on_a_collection_that_waits_for_it(self):
        # A finalizer of this thread's collection needs a lock that the
        # other thread holds while it calls gc.collect(): the other thread
        # must not wait for that collection forever.
        lock = threading.Lock()
        holding = threading.Event()
        started = threading.Event()
        Slow(started, 0, lock)
        results = {}

        def other():
            with lock:
                holding.set()
                started.wait()
                t0 = time.monotonic()
                results["n"] = gc.collect()
                results["waited"] = time.monotonic() - t0

        t = threading.Thread(target=other)
        t.start()
        try:
            holding.wait()
            n = gc.collect()
        finally:
            t.join()
        self.assertGreaterEqual(n, 1)
        self.assertEqual(results["n"], 0)
        self.assertGreater(results["waited"], 1.5)


def full_totals():
    stats = gc.get_stats()[2]
    return stats["collections"], stats["pause_count"]


def start_detached_cycle(keep, limit=4000):
    """Allocate (automatic collection enabled) until an automatic full
    collection ran some slices and has not completed: its cycle is
    detached.  Returns False if none was seen."""
    collections, pauses = full_totals()
    for _ in range(limit):
        keep.extend(Node(i) for i in range(200))
        now_collections, now_pauses = full_totals()
        if now_collections != collections:
            collections, pauses = now_collections, now_pauses
        elif now_pauses > pauses:
            return True
    return False


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class DetachedCycleTests(unittest.TestCase):
    """Automatic full collections run detached (gc_free_threading.c,
    zgc_detached_slice): one slice at a time at the safe points of
    allocating threads, with Python code running in between."""

    def setUp(self):
        self.enabled = gc.isenabled()
        gc.enable()
        gc.collect()

    def tearDown(self):
        Phoenix.saved.clear()
        gc.collect()
        if not self.enabled:
            gc.disable()

    def detached_cycle(self):
        """A live graph, and an automatic full collection under way over
        it (detached); returns the graph and what was allocated meanwhile."""
        live = build_live()
        gc.collect()
        keep = []
        if not start_detached_cycle(keep):
            self.skipTest("no detached cycle observed")
        return live, keep

    def test_mutator_runs_between_slices(self):
        live = build_live()
        gc.collect()
        stops = []
        starts = []

        def record(phase, info):
            if info["generation"] == 2:
                now = time.perf_counter()
                (starts if phase == "start" else stops).append((now, info))

        progress = []
        keep = []
        gc.callbacks.append(record)
        try:
            deadline = time.monotonic() + support.SHORT_TIMEOUT
            while not stops and time.monotonic() < deadline:
                for i in range(100):
                    keep.append(Node(i))
                progress.append(time.perf_counter())
        finally:
            gc.callbacks.remove(record)
        self.assertTrue(stops, "no automatic full collection completed")
        t_stop, info = stops[0]
        t_start = starts[0][0]
        # A survivor cycle (zgc_survivor.c) runs detached as well.
        self.assertIn(info["kind"], ("incremental", "survivor"))
        self.assertGreater(info["pause_count"], 2)
        began = t_stop - info["duration"]
        # This thread ran the slices, and went on with its loop between
        # them: the cycle did not hold it from its first slice to the
        # validation ("start").
        between = sum(1 for t in progress if began < t < t_start)
        self.assertGreater(between, 1)
        check_graph(self, live[:100])

    def test_temporaries_during_a_detached_cycle(self):
        # Temporaries made while a cycle is detached take their young-log
        # entries back, but never entries logged before the cycle began
        # (young_before_cycle): what was tracked before the cycle and is
        # dropped during it, what is made and kept during it, and cycles
        # made during it all come out right.
        keep = []
        self.assertTrue(start_detached_cycle(keep))
        made = []
        dead = []
        for i in range(20_000):
            Node(i)
            if i % 10 == 0:
                made.append(Node(i))
            if i % 100 == 0:
                a = Node(i)
                a.ref = a
                dead.append(weakref.ref(a))
                del a
        del keep[::2]
        gc.collect()
        self.assertTrue(all(w() is None for w in dead))
        self.assertTrue(all(node.valid() for node in keep))
        self.assertTrue(all(node.valid() for node in made))

    def test_collect_completes_a_detached_cycle(self):
        live, keep = self.detached_cycle()
        # Garbage made after the detached cycle began: gc.collect() must
        # count it (the cycle it completes would not).
        a = Pair()
        a.ref = a
        wr = weakref.ref(a)
        del a
        events = []
        gc.callbacks.append(lambda phase, info: events.append(
            (phase, info["generation"], info.get("collected"))))
        try:
            collected = gc.collect()
        finally:
            gc.callbacks.pop()
        self.assertIsNone(wr())
        self.assertGreaterEqual(collected, 1)
        full = [e for e in events if e[1] == 2]
        # The detached cycle's collection, then gc.collect()'s own, each a
        # start/stop pair; the count is theirs and that of the young
        # collections run between the slices of the second.  (A detached
        # survivor cycle is abandoned instead: one pair.  test_survivor
        # runs both cases in children with the kind known.)
        self.assertIn([e[0] for e in full],
                      (["start", "stop", "start", "stop"],
                       ["start", "stop"]))
        self.assertEqual(collected,
                         sum(e[2] for e in events if e[0] == "stop"))
        check_graph(self, live[:100])

    def test_disable_stops_slices(self):
        live, keep = self.detached_cycle()
        gc.disable()
        try:
            before = full_totals()
            keep.extend(Node(i) for i in range(50_000))
            self.assertEqual(full_totals(), before)
        finally:
            gc.enable()
        # Enabled again, it completes.
        collections = full_totals()[0]
        deadline = time.monotonic() + support.SHORT_TIMEOUT
        while (full_totals()[0] == collections
               and time.monotonic() < deadline):
            keep.extend(Node(i) for i in range(200))
        self.assertGreater(full_totals()[0], collections)
        check_graph(self, live[:100])

    def test_threads_run_each_others_slices(self):
        # No thread owns a detached cycle: four threads mutate a shared
        # graph, make garbage cycles, weakrefs with callbacks and
        # resurrecting finalizers, and run the slices of the automatic
        # full collections at their own safe points.
        live = build_live()
        gc.collect()
        collections = full_totals()[0]
        callbacks = []
        errors = []
        stop = threading.Event()

        def mutate(k):
            try:
                rng = random.Random(k)
                n = len(live)
                count = 0
                hold = []
                while not stop.is_set():
                    count += 1
                    a = live[rng.randrange(n)]
                    b = live[rng.randrange(n)]
                    op = count % 4
                    if op == 0:
                        a.ref, b.ref = b.ref, a.ref
                    elif op == 1:
                        # Cycles that outlive young collections, then die
                        # together: automatic full collections are due.
                        c = Node(count)
                        c.ref = c
                        c.items.append(a)
                        hold.append(c)
                        if len(hold) > 5_000:
                            hold = []
                    elif op == 2:
                        w = weakref.ref(b, callbacks.append)
                        p = Phoenix(count)
                        p.ref = p
                        p.items.append(a)
                    else:
                        fresh = Node(-count)
                        b.items.append(fresh)
                        if len(b.items) > 4:
                            try:
                                b.items.pop(0)
                            except IndexError:
                                pass
                        with Phoenix.lock:
                            if Phoenix.saved:
                                Phoenix.saved.pop().ref = None
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=mutate, args=(k,))
                   for k in range(4)]
        with threading_helper.start_threads(threads):
            deadline = time.monotonic() + support.LONG_TIMEOUT
            while (full_totals()[0] < collections + 2
                   and time.monotonic() < deadline):
                time.sleep(0.01)
            stop.set()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(full_totals()[0], collections + 2)
        self.assertEqual(check_graph(self, live), check_graph(self, live))
        for node in live:
            self.assertTrue(node.valid())

    @support.requires_fork()
    def test_fork_during_a_detached_cycle(self):
        live, keep = self.detached_cycle()
        pid = os.fork()
        if pid == 0:
            child_collects(live, allocate=100_000)
        support.wait_process(pid, exitcode=0)
        self.assertEqual(gc.collect() >= 0, True)
        check_graph(self, live[:100])


if __name__ == "__main__":
    unittest.main()
