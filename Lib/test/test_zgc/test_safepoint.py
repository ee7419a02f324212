"""Stop-the-world handshakes of pyzgc (Python/zgc/zgc_safepoint.c and the
patched Python/pystate.c): stopped threads spin briefly before they park,
and a thread that detaches (a blocking call) while the world is being
stopped counts itself as stopped at once.  These tests try to break the
handshake: threads that block and wake in every way while collections,
gc.freeze() and fork() stop the world over and over."""
import gc
import os
import sysconfig
import threading
import time
import unittest
import warnings
import weakref
from test import support
from test.support import threading_helper

ZGC = sysconfig.get_config_var("Py_ZGC") == 1


class Cycle:
    def __init__(self):
        self.me = self


def sleeper(stop, counts, k):
    while not stop.is_set():
        time.sleep(0.0002)
        counts[k] += 1


def lock_ping_pong(stop, counts, k):
    # Two threads hand a lock to each other: each wait detaches.
    mine, theirs = threading.Lock(), threading.Lock()
    theirs.acquire()

    def other():
        while not stop.is_set():
            if theirs.acquire(timeout=0.05):
                mine.release()

    t = threading.Thread(target=other)
    t.start()
    try:
        while not stop.is_set():
            if mine.acquire(timeout=0.05):
                counts[k] += 1
                theirs.release()
    finally:
        stop.wait()
        t.join()


def pipe_reader(stop, counts, k):
    r, w = os.pipe()
    # The writer never blocks (a full pipe would hold it after the reader
    # stopped reading); its last write wakes a reader blocked in os.read().
    os.set_blocking(w, False)

    def write():
        try:
            os.write(w, b"x")
        except BlockingIOError:
            pass                # full: the reader has bytes to read

    def writer():
        while not stop.is_set():
            write()
            time.sleep(0)
        write()

    t = threading.Thread(target=writer)
    t.start()
    try:
        while not stop.is_set():
            if os.read(r, 1):
                counts[k] += 1
    finally:
        t.join()
        os.close(r)
        os.close(w)


def condition_waiter(stop, counts, k):
    cond = threading.Condition()
    while not stop.is_set():
        with cond:
            cond.wait(timeout=0.0003)
        Cycle()                 # some garbage for the collector too
        counts[k] += 1


BLOCKERS = [sleeper, lock_ping_pong, pipe_reader, condition_waiter]


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
@threading_helper.requires_working_threading()
class SafepointTests(unittest.TestCase):

    def run_blockers(self, body, copies=2):
        """Run every kind of blocker (`copies` threads each: more threads
        than cores) while `body()` stops the world over and over; every
        blocker must keep making progress and stop when asked."""
        stop = threading.Event()
        counts = [0] * (len(BLOCKERS) * copies)
        errors = []

        def run(func, k):
            try:
                func(stop, counts, k)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=run,
                                    args=(func, i * len(BLOCKERS) + j))
                   for i in range(copies) for j, func in enumerate(BLOCKERS)]
        with threading_helper.start_threads(threads):
            try:
                body()
            finally:
                stop.set()
        self.assertEqual(errors, [])
        self.assertTrue(all(counts), counts)

    def test_collections_while_threads_block(self):
        done = []

        def body():
            deadline = time.monotonic() + 1.5
            n = 0
            while time.monotonic() < deadline:
                cycles = [Cycle() for _ in range(50)]
                refs = [weakref.ref(c) for c in cycles]
                del cycles
                # Collected by this collection, or by another thread's that
                # was in progress (then gc.collect(0) returns at once, as
                # upstream's does).
                for _ in range(1000):
                    gc.collect(0)
                    if all(r() is None for r in refs):
                        break
                    time.sleep(0.001)
                self.assertEqual([r for r in refs if r() is not None], [])
                n += 1
                if n % 40 == 0:
                    gc.collect()
                if n % 60 == 0:
                    gc.freeze()
                    gc.unfreeze()
            done.append(n)

        self.run_blockers(body)
        # Progress, not speed: about 1,500 rounds on an idle 2-CPU machine,
        # 27-330 with two CPU burners beside it (either spin policy); a
        # handshake that hangs makes none.
        self.assertGreater(done[0], 10)

    @support.requires_fork()
    def test_fork_while_threads_block(self):
        def body():
            for _ in range(5):
                with warnings.catch_warnings():
                    # "This process is multi-threaded, use of fork() may
                    # lead to deadlocks in the child."
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:
                    code = 0
                    try:
                        Cycle()
                        if gc.collect() < 1:
                            code = 3
                    except BaseException:
                        code = 4
                    os._exit(code)
                support.wait_process(pid, exitcode=0)
                gc.collect(0)

        self.run_blockers(body, copies=1)


if __name__ == "__main__":
    unittest.main()
