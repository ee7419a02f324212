/* zgc_safepoint.c: spin-then-park for stop-the-world handshakes.
 *
 * Owns how long a thread spins before it sleeps in the two waits of a
 * stop-the-world pause (pystate.c, patched):
 *
 *   - the requester, in stop_the_world(), waiting for the last running
 *     thread to reach a safe point and signal the stop event;
 *   - a stopped thread, in tstate_wait_attach(), waiting for
 *     start_the_world() to move it from SUSPENDED back to DETACHED.
 *
 * Upstream parks at once in both (a futex wait).  A young collection's
 * pause is tens of microseconds, about the cost of one futex wake-up on
 * these machines, so with two threads a pause cost the requester one
 * wake-up to start its work and the other thread another to resume after
 * it.  Like HotSpot's safepoint synchronization (spin, then yield, then
 * block), each wait first polls for at most ZGC_SPIN_NS, calling
 * sched_yield() between polls, then parks exactly as upstream does.
 *
 * Only while no more threads were running at the request (attached, the
 * requester included) than the machine has CPUs: with more, a spinning
 * stopped thread competes for a CPU with the threads the pause still
 * waits for (measured with 7 threads on 2 CPUs: the 90th percentile of a
 * young collection's pause went from 0.09-0.17 ms to 0.23-0.27 ms with
 * spinning), and sched_yield() does not reliably hand the CPU over.
 * Nor while the marking helper is claimed (zgc_helper.c): a mark slice
 * lasts its whole budget, longer than any spin, and a spinner would take
 * the CPU the helper was given.
 * Threads blocked in a join, a lock wait or a sleep take no CPU and do
 * not count.
 *
 * Nothing here decides anything: the spin only observes the same atomic
 * word the parking wait would, and the wait that follows is upstream's, so
 * a spin that runs out changes timing only, never which state a thread
 * reaches or when the world counts as stopped.
 *
 * Also owned here: a window for the threads a pause kept out.  A thread
 * that tries to attach while the world is stopped (one woken from a sleep,
 * or one stopped at its eval breaker) parks until start_the_world() wakes
 * it, and the OS then takes tens of microseconds to run it.  While a
 * detached cycle falls behind, the collecting thread asks for its next
 * slice after 64 allocations, a few microseconds: the woken thread found
 * the world stopped again, parked again, and a latency probe sleeping
 * 0.5 ms at a time was kept out for 10-23 ms across dozens of pauses of
 * under a millisecond each (gcpause.py --garbage old, 1M live objects,
 * half of the time in pauses).  So such a thread counts itself an attach
 * waiter until it attaches (patched tstate_wait_attach()), and a
 * collection about to pause first yields for at most ZGC_ATTACH_WINDOW_NS
 * while there are any (_PyZgc_LetWaitersAttach, from _PyZgc_PauseBegin).
 * Timing only again: the pause still stops every thread, whether the
 * waiters got in or not.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // PyInterpreterState.threads
#include "pycore_lock.h"          // _PyEvent_IsSet()
#include "pycore_zgc.h"

#ifdef HAVE_UNISTD_H
#  include <unistd.h>             // sysconf()
#endif

#ifdef HAVE_SCHED_H
#  include <sched.h>              // sched_yield()
#endif

// The longest a thread polls before it parks: about twice a typical young
// collection's pause (the requester's wait is much shorter: one eval
// breaker check of the other threads).
#define ZGC_SPIN_NS (100 * 1000)

// The longest a collection waits, before a pause, for the threads that
// the last pause kept from attaching.
#define ZGC_ATTACH_WINDOW_NS (200 * 1000)

// CPUs online, read once (0: not read yet).
static int ncpu;

void
_PyZgc_NoteRunning(PyInterpreterState *interp, int running)
{
    _Py_atomic_store_int_relaxed(&interp->gc.zgc_stw_running, running);
}

// Spinning only pays while every thread that spins or that the pause
// waits for can have a CPU of its own: the threads that were running
// (attached) at the request, and the requester.  Threads blocked in a
// join, a lock or a sleep (detached) are parked by the request and take
// no CPU.  (Counting every thread of the interpreter, as this did before,
// made the main thread joining two workers park them at every pause of
// the 2-thread scaling benchmark.)  A thread that was detached and tries
// to attach during the pause spins too, uncounted: the spin is bounded.
static int
worth_spinning(PyInterpreterState *interp)
{
    // A mark slice with the helper: the collector and the helper take
    // their CPUs for the whole slice budget, longer than any spin.
    if (_PyZgc_HelperClaimed()) {
        return 0;
    }
    int n = _Py_atomic_load_int_relaxed(&ncpu);
    if (n == 0) {
        long online = -1;
#if defined(HAVE_SYSCONF) && defined(_SC_NPROCESSORS_ONLN)
        online = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        n = online > 0 && online < INT_MAX ? (int)online : 1;
        _Py_atomic_store_int_relaxed(&ncpu, n);
    }
    return _Py_atomic_load_int_relaxed(&interp->gc.zgc_stw_running) <= n;
}

static void
spin_pause(void)
{
#ifdef HAVE_SCHED_H
    sched_yield();
#endif
}

// Poll `done(arg)` until it holds, yielding between polls, for at most
// ZGC_SPIN_NS: 1 if it held, 0 if the caller should park.
static int
spin_until(PyInterpreterState *interp, int (*done)(void *), void *arg)
{
    if (!worth_spinning(interp)) {
        return 0;
    }
    PyTime_t start, now;
    (void)PyTime_PerfCounterRaw(&start);
    for (;;) {
        if (done(arg)) {
            return 1;
        }
        spin_pause();
        (void)PyTime_PerfCounterRaw(&now);
        if (now - start > ZGC_SPIN_NS || _PyZgc_HelperClaimed()) {
            return 0;
        }
    }
}

struct state_wait {
    int *state;
    int value;
};

static int
state_changed(void *arg)
{
    struct state_wait *w = (struct state_wait *)arg;
    return _Py_atomic_load_int(w->state) != w->value;
}

int
_PyZgc_SpinWhileState(PyInterpreterState *interp, int *state, int value)
{
    struct state_wait w = { state, value };
    return spin_until(interp, state_changed, &w);
}

static int
event_set(void *arg)
{
    return _PyEvent_IsSet((PyEvent *)arg);
}

int
_PyZgc_SpinUntilSet(PyInterpreterState *interp, PyEvent *evt)
{
    return spin_until(interp, event_set, evt);
}

void
_PyZgc_AttachWaitBegin(PyInterpreterState *interp)
{
    _Py_atomic_add_int(&interp->gc.zgc_attach_waiters, 1);
}

void
_PyZgc_AttachWaitEnd(PyInterpreterState *interp)
{
    _Py_atomic_add_int(&interp->gc.zgc_attach_waiters, -1);
}

void
_PyZgc_LetWaitersAttach(PyInterpreterState *interp)
{
    int *waiters = &interp->gc.zgc_attach_waiters;
    if (_Py_atomic_load_int_relaxed(waiters) <= 0) {
        return;
    }
    PyTime_t start, now;
    (void)PyTime_PerfCounterRaw(&start);
    do {
        spin_pause();           // the waiter may be queued on this CPU
        (void)PyTime_PerfCounterRaw(&now);
    } while (_Py_atomic_load_int_relaxed(waiters) > 0
             && now - start < ZGC_ATTACH_WINDOW_NS);
}

#endif  /* Py_ZGC */
