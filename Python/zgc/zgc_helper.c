/* zgc_helper.c: the marking helper thread.
 *
 * Owns one process-wide OS thread (not a Python thread: it has no thread
 * state and runs no Python code) that marks alongside the collecting
 * thread inside a full cycle's mark slices (zgc_full.c, zgc_mark.c), so
 * that marking uses a second core while the world is stopped.  Marking is
 * latency bound (one cache and TLB miss after another): two tracers keep
 * twice as many misses in flight.
 *
 * Protocol.  A slice claims the helper (one slice at a time in the
 * process; a slice of another interpreter that finds it claimed marks
 * alone), hands it a job (its own mark stack, the cycle's page-release
 * lookup, a deadline) under `mutex`, and signals it; the helper drains its
 * stack until the deadline, until its stack is empty or until asked to
 * stop, then publishes the job as done (release store).  Before it ends,
 * the slice either cancels a job the helper has not taken yet (it woke
 * late: then the helper never touches it) or asks it to stop and waits
 * for "done" (acquire load): the helper runs only while the world is
 * stopped, so it reads objects no mutator can change or free, exactly as
 * the collecting thread does.
 *
 * The thread is started on first use and parked on a condition variable
 * between jobs.  A child of fork() has no helper: it starts its own when
 * it needs one (fork stops the world, so no job is in progress then).
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_zgc.h"

#include <pthread.h>
#include <sched.h>                // sched_yield()
#include <unistd.h>               // sysconf()

// Pops between two looks at the clock and the stop flag (as zgc_full.c).
#define HELPER_CLOCK_EVERY 64

enum { JOB_POSTED, JOB_RUNNING, JOB_CANCELLED, JOB_DONE };
#define JOB(n, status) (((n) << 2) | (status))

static struct {
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int started;                  // 1: running; -1: could not start
                                  // (read and written by the claimer)
    int claimed;                  // atomic: a slice holds the helper
    uint64_t posted;              // jobs posted (under mutex)
    // atomic: (job number << 2) | JOB_*: the job's progress.  The helper
    // takes a job by moving it from POSTED to RUNNING; a slice that ends
    // first cancels it instead (the helper woke late), and then never
    // waits for the helper's wake-up.
    uint64_t state;
    int stop;                     // atomic: finish the job now
    // The job, written under mutex before `posted` is bumped.
    struct _zgc_mark *mark;
    const struct _zgc_page_lookup *released;
    uint64_t seq;
    PyTime_t deadline;
    int result;                   // 0, or -1 on out-of-memory
} helper = {
    .mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static int
past(PyTime_t deadline)
{
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    return now >= deadline;
}

static void *
helper_main(void *arg)
{
    (void)arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&helper.mutex);
    for (;;) {
        while (helper.posted == seen) {
            pthread_cond_wait(&helper.wake, &helper.mutex);
        }
        seen = helper.posted;
        struct _zgc_mark *mark = helper.mark;
        const struct _zgc_page_lookup *released = helper.released;
        uint64_t seq = helper.seq;
        PyTime_t deadline = helper.deadline;
        pthread_mutex_unlock(&helper.mutex);

        uint64_t expected = JOB(seen, JOB_POSTED);
        if (!_Py_atomic_compare_exchange_uint64(
                &helper.state, &expected, JOB(seen, JOB_RUNNING)))
        {
            // Cancelled (or superseded): the stack is not ours to touch.
            pthread_mutex_lock(&helper.mutex);
            continue;
        }
        int result = 0;
        for (;;) {
            int done = _PyZgc_MarkDrain(mark, released, seq,
                                        HELPER_CLOCK_EVERY);
            if (done != 0) {
                result = done < 0 ? -1 : 0;
                break;
            }
            if (_Py_atomic_load_int_relaxed(&helper.stop)
                || past(deadline))
            {
                break;
            }
        }
        helper.result = result;
        _Py_atomic_store_uint64_release(&helper.state, JOB(seen, JOB_DONE));
        pthread_mutex_lock(&helper.mutex);
    }
    return NULL;
}

static void
after_fork_child(void)
{
    pthread_mutex_init(&helper.mutex, NULL);
    pthread_cond_init(&helper.wake, NULL);
    helper.started = 0;
    helper.claimed = 0;
    helper.posted = 0;
    helper.state = 0;
    helper.stop = 0;
}

// CPUs online and the PYTHONZGCHELPER policy, read at the first start.
static long ncpu;
static enum { HELPER_AUTO, HELPER_OFF, HELPER_ON } policy;

static int
start_helper(void)
{
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = Py_GETENV("PYTHONZGCHELPER");
    if (env != NULL && strcmp(env, "0") == 0) {
        policy = HELPER_OFF;
    }
    else if (env != NULL && strcmp(env, "1") == 0) {
        policy = HELPER_ON;
    }
    if (policy == HELPER_OFF || ncpu < 2) {
        return -1;              // turned off, or no second core to use
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        return -1;
    }
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // tp_traverse recursion is shallow, but extension code runs here.
    (void)pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, helper_main, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        return -1;
    }
    static int atfork_registered;
    if (!atfork_registered) {
        atfork_registered = 1;
        (void)pthread_atfork(NULL, NULL, after_fork_child);
    }
    return 1;
}

/* Is there a CPU for the helper?  A slice must wait for the helper to
 * stop before the world runs again, so a helper that the OS deschedules
 * makes the slice as long as its wait for a CPU.  So by default it only
 * helps while the threads that were running when the world was stopped
 * (the collecting thread included: zgc_safepoint.c counts them) and the
 * helper can each have a CPU.  Threads that were blocked (a sleep, a lock,
 * I/O) do not count: one that wakes during the slice parks at once, since
 * no thread spins while the helper is claimed (zgc_safepoint.c), so it
 * takes a CPU from the helper or the collector for a few microseconds only.
 * (Counting every thread of the interpreter, as this did before, kept the
 * helper off in any program with a second thread, even a sleeping one.) */
static int
cpu_to_spare(PyInterpreterState *interp)
{
    if (policy == HELPER_ON) {
        return 1;
    }
    return _Py_atomic_load_int_relaxed(&interp->gc.zgc_stw_running) + 1
           <= ncpu;
}

int
_PyZgc_HelperClaimed(void)
{
    return _Py_atomic_load_int_relaxed(&helper.claimed);
}

int
_PyZgc_HelperBegin(PyInterpreterState *interp, struct _zgc_mark *mark,
                   const struct _zgc_page_lookup *released, uint64_t seq,
                   PyTime_t deadline)
{
    int expected = 0;
    if (!_Py_atomic_compare_exchange_int(&helper.claimed, &expected, 1)) {
        return 0;
    }
    if (helper.started == 0) {
        helper.started = start_helper();
    }
    if (helper.started < 0 || !cpu_to_spare(interp)) {
        _Py_atomic_store_int(&helper.claimed, 0);
        return 0;
    }
    pthread_mutex_lock(&helper.mutex);
    helper.mark = mark;
    helper.released = released;
    helper.seq = seq;
    helper.deadline = deadline;
    helper.result = 0;
    _Py_atomic_store_int_relaxed(&helper.stop, 0);
    helper.posted++;
    _Py_atomic_store_uint64_release(&helper.state,
                                    JOB(helper.posted, JOB_POSTED));
    pthread_cond_signal(&helper.wake);
    pthread_mutex_unlock(&helper.mutex);
    return 1;
}

int
_PyZgc_HelperEnd(void)
{
    // `posted` is only written by the claimer, which is this thread.
    uint64_t job = helper.posted;
    uint64_t expected = JOB(job, JOB_POSTED);
    int result = 0;
    if (!_Py_atomic_compare_exchange_uint64(&helper.state, &expected,
                                            JOB(job, JOB_CANCELLED)))
    {
        // Running: it stops within HELPER_CLOCK_EVERY pops.
        _Py_atomic_store_int_relaxed(&helper.stop, 1);
        while (_Py_atomic_load_uint64_acquire(&helper.state)
               != JOB(job, JOB_DONE))
        {
            sched_yield();
        }
        result = helper.result;
    }
    _Py_atomic_store_int(&helper.claimed, 0);
    return result;
}

#endif  /* Py_ZGC */
