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
 * sched_yield() between polls so that a spinning thread gives its CPU to
 * a runnable thread (the collector, with more threads than cores), then
 * parks exactly as upstream does.
 *
 * Nothing here decides anything: the spin only observes the same atomic
 * word the parking wait would, and the wait that follows is upstream's, so
 * a spin that runs out changes timing only, never which state a thread
 * reaches or when the world counts as stopped.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_lock.h"          // _PyEvent_IsSet()
#include "pycore_zgc.h"

#ifdef HAVE_SCHED_H
#  include <sched.h>              // sched_yield()
#endif

// The longest a thread polls before it parks: about twice a typical young
// collection's pause (the requester's wait is much shorter: one eval
// breaker check of the other threads).
#define ZGC_SPIN_NS (100 * 1000)

static void
spin_pause(void)
{
#ifdef HAVE_SCHED_H
    sched_yield();
#endif
}

int
_PyZgc_SpinWhileState(int *state, int value)
{
    PyTime_t start, now;
    (void)PyTime_PerfCounterRaw(&start);
    for (;;) {
        if (_Py_atomic_load_int(state) != value) {
            return 1;
        }
        spin_pause();
        (void)PyTime_PerfCounterRaw(&now);
        if (now - start > ZGC_SPIN_NS) {
            return 0;
        }
    }
}

int
_PyZgc_SpinUntilSet(PyEvent *evt)
{
    PyTime_t start, now;
    (void)PyTime_PerfCounterRaw(&start);
    for (;;) {
        if (_PyEvent_IsSet(evt)) {
            return 1;
        }
        spin_pause();
        (void)PyTime_PerfCounterRaw(&now);
        if (now - start > ZGC_SPIN_NS) {
            return 0;
        }
    }
}

#endif  /* Py_ZGC */
