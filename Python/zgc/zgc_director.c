/* zgc_director.c: when pyzgc collects, and what.
 *
 * Owns the pacing policy (nothing here runs with the world stopped):
 *
 * - An automatic collection is due when threshold0 objects were allocated
 *   since the last one (gc.set_threshold(threshold0), upstream's counter);
 *   it is a young collection, whose cost is the young set, so no further
 *   heuristic holds it back.
 * - It is a full collection instead when the old generation grew enough,
 *   by two measures that must both exceed ZGC_FULL_GROWTH_PERCENT of the
 *   objects the last full collection left in the heap (and at least
 *   ZGC_FULL_MIN_GROWTH): the tracked objects young collections promoted
 *   since (old objects that may form garbage cycles), and the GC objects
 *   allocated less those freed since (zgc_net_objects, flushed by every
 *   thread in batches of 512: memory that did not come back).  Structures
 *   built and then freed by refcounting (trees, request state) fail the
 *   second measure; untracked tuples of atoms fail the first; cyclic
 *   garbage that outlives young collections passes both until a full
 *   collection frees it.  The total work of full collections is then
 *   proportional to allocation (geometric growth), never quadratic in the
 *   heap size (gh-132917, gh-142531), and two full collections never run
 *   back to back without that much growth in between (gh-142048).
 * - gc.collect(0) is a young collection, gc.collect(1) and gc.collect(2)
 *   are full collections; both are synchronous.
 * - A full collection's discovery runs in slices of about the slice
 *   budget of work each (zgc_full.c), with the world stopped:
 *   ZGC_SLICE_BUDGET_US, or -X zgc_slice=US / PYTHONZGCSLICE=US.
 *   In gc.collect() the collecting thread runs them all, and between two
 *   slices steps aside (detached) for as long again when other threads
 *   exist, so that they get at least half of the time, unless the GC heaps
 *   grew by more than 1/ZGC_CYCLE_PACE of the objects the cycle has
 *   processed so far (then it goes on at once): marking and sweeping
 *   process about twice the heap, so a cycle finishes before the heap
 *   grows by about a sixth (2/ZGC_CYCLE_PACE).  Young collections run
 *   between slices (gc_free_threading.c), and an allocation stall holds
 *   back threads that outrun the collector.
 * - An automatic full collection does not hold its thread for the whole
 *   discovery: its cycle is detached (no collection runs it), and advances
 *   by one slice at the safe point of any allocating thread once the
 *   previous slice's duration has passed since it ended (at once while
 *   the mutators outrun the cycle, as above: _PyZgc_ScheduleSlice; the
 *   safe point is a flush of the thread's allocation count, which comes
 *   every ZGC_FLUSH_BEHIND allocations instead of 512 while they do:
 *   _PyZgc_FlushAfter).  The
 *   slice that finishes the discovery goes on into the validation batches,
 *   as one full collection.  gc.disable() stops the slices; gc.collect()
 *   completes a detached cycle first, then runs one of its own.
 * - Out-of-memory fallback.  When the OS refuses memory to mimalloc (a
 *   mapping or commit fails, for a request of at most
 *   ZGC_FALLBACK_MAX_REQUEST bytes: an outsized request says nothing
 *   about the heap), the next automatic collection, at the safe point of
 *   the thread that failed or of any thread that flushes its allocation
 *   count, is a full collection in one stop-the-world pause: a cycle in
 *   progress is completed at once, without slices; otherwise the whole
 *   discovery runs in the pause.  This is the only full collection that
 *   does not run in slices.  The allocation that failed still raises
 *   MemoryError: running a collection inside an allocation would run
 *   finalizers in the middle of arbitrary C code (upstream stopped that
 *   in 3.12).  The fallback's own buffers (zgc_buffer.c) need memory
 *   too: ZGC_FALLBACK_RESERVE bytes of address space are mapped after a
 *   collection and never touched (never resident), and unmapped when a
 *   fallback begins, so that the OS has that much to give it; the next
 *   collection maps them again if it can.  At most one per
 *   ZGC_FALLBACK_INTERVAL_MS (a program that keeps failing is not stopped
 *   over and over); gc.disable() turns it off with the other automatic
 *   collections.  It is logged with the kind "fallback" and counted in
 *   gc.get_stats()[2]["fallbacks"].
 * - Validation takes the candidates in batches of whole components of
 *   about _PyZgc_BatchObjects() (ZGC_VALIDATE_PER_US per microsecond of
 *   the slice budget), each with its own pauses; the same step aside
 *   separates two batches, unless the GC heaps grew since the last batch
 *   began (the mutators outrun the collector: no pause to spare).  Only
 *   a component larger than a batch makes a longer pause.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_gc.h"           // _Py_ScheduleGC()
#include "pycore_initconfig.h"    // _PyStatus_ERR()
#include "pycore_pystate.h"       // HEAD_LOCK(), _PyThreadState_GET()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_zgc.h"

#include <errno.h>
#include <stdlib.h>               // strtol(), wcstombs()
#include <time.h>                 // nanosleep()
#ifdef HAVE_SYS_MMAN_H
#  include <sys/mman.h>           // mmap(), munmap()
#endif
#if defined(MAP_ANONYMOUS) && defined(MAP_FAILED)
#  define USE_RESERVE 1
#endif

#define ZGC_FULL_GROWTH_PERCENT 25
#define ZGC_FULL_MIN_GROWTH 20000
#define ZGC_SLICE_BUDGET_US 500
#define ZGC_SLICE_BUDGET_MIN_US 50
#define ZGC_SLICE_BUDGET_MAX_US 100000
#define ZGC_CYCLE_PACE 12
// Allocations between two flushes of a thread's count while a detached
// cycle falls behind (LOCAL_ALLOC_COUNT_THRESHOLD, 512, otherwise).
#define ZGC_FLUSH_BEHIND 64
// At most this many survivor cycles (zgc_survivor.c) between two full
// collections: garbage they cannot find (old objects, or referenced by
// them) that does not make the heap grow past the trigger waits for at
// most this many cycles.
#define ZGC_SURVIVOR_CYCLES_MAX 8
#define ZGC_FALLBACK_MAX_REQUEST ((size_t)64 << 20)
#define ZGC_FALLBACK_INTERVAL_MS 1000
#define ZGC_FALLBACK_RESERVE ((size_t)64 << 20)
// Candidates validated per microsecond of a pause (trial deletion, weakref
// clearing, scan and the resurrection check; measured at 1M live objects).
#define ZGC_VALIDATE_PER_US 12

// The slice budget in microseconds: ZGC_SLICE_BUDGET_US unless the main
// interpreter's -X zgc_slice or PYTHONZGCSLICE said otherwise (at startup,
// before any thread could collect; process-wide, as the pauses it bounds
// stop every thread).
static int slice_budget_us = ZGC_SLICE_BUDGET_US;

const char *
_PyZgc_ReadKnob(PyInterpreterState *interp, const char *xname,
                const char *envname, char *buf, size_t size,
                const char **source)
{
    const PyConfig *config = _PyInterpreterState_GetConfig(interp);
    size_t len = strlen(xname);
    const wchar_t *value = NULL;
    for (Py_ssize_t i = 0; i < config->xoptions.length; i++) {
        const wchar_t *opt = config->xoptions.items[i];
        size_t k = 0;
        while (k < len && opt[k] == (wchar_t)(unsigned char)xname[k]) {
            k++;
        }
        if (k == len && (opt[k] == L'\0' || opt[k] == L'=')) {
            value = opt[k] == L'=' ? opt + k + 1 : L"";   // the last wins
        }
    }
    if (value != NULL) {
        size_t n = wcstombs(buf, value, size);
        if (n == (size_t)-1 || n >= size) {
            // Not representable, or too long for any valid value.
            buf[0] = '?';
            n = 1;
        }
        buf[n] = '\0';
        *source = "-X";
        return buf;
    }
    *source = envname;
    return _Py_GetEnv(config->use_environment, envname);
}

PyStatus
_PyZgc_DirectorInit(PyInterpreterState *interp)
{
    if (!_Py_IsMainInterpreter(interp)) {
        return _PyStatus_OK();
    }
    char buf[32];
    const char *source;
    const char *text = _PyZgc_ReadKnob(interp, "zgc_slice", "PYTHONZGCSLICE",
                                       buf, sizeof(buf), &source);
    if (text == NULL) {
        return _PyStatus_OK();
    }
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0
        || value < ZGC_SLICE_BUDGET_MIN_US || value > ZGC_SLICE_BUDGET_MAX_US)
    {
        fprintf(stderr, "%s%s: invalid value %s: expected a whole number of "
                "microseconds from %d to %d\n",
                source, source[0] == '-' ? " zgc_slice" : "", text,
                ZGC_SLICE_BUDGET_MIN_US, ZGC_SLICE_BUDGET_MAX_US);
        return _PyStatus_ERR("invalid -X zgc_slice or PYTHONZGCSLICE value");
    }
    slice_budget_us = (int)value;
    return _PyStatus_OK();
}

PyTime_t
_PyZgc_SliceBudget(void)
{
    return (PyTime_t)slice_budget_us * 1000;
}

Py_ssize_t
_PyZgc_BatchObjects(void)
{
    return (Py_ssize_t)slice_budget_us * ZGC_VALIDATE_PER_US;
}

void
_PyZgc_BetweenSlices(PyInterpreterState *interp)
{
    HEAD_LOCK(&_PyRuntime);
    PyThreadState *head = interp->threads.head;
    int alone = head == NULL || head->next == NULL;
    HEAD_UNLOCK(&_PyRuntime);
    if (alone) {
        return;                 // nobody to make room for
    }
    // Keep ahead of the mutators: while the GC heaps grew by more than
    // 1/ZGC_CYCLE_PACE of the objects this cycle has processed, run the
    // next slice at once (the mutators still run until they reach their
    // next safepoint).  So the heap grows by at most about a sixth
    // during a cycle (the cycle processes about twice the heap).
    struct _gc_runtime_state *gcstate = &interp->gc;
    Py_ssize_t growth =
        _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects)
        - gcstate->zgc_cycle.net_at_start;
    if (growth > 0 && growth * ZGC_CYCLE_PACE > _PyZgc_CycleProgress(interp)) {
        return;
    }
    // Between validation batches: while the GC heaps grow faster than the
    // batches free them, the next batch runs at once too.
    if (_PyZgc_CycleOutrun(interp)) {
        return;
    }
    struct timespec ts = { slice_budget_us / 1000000,
                           (long)(slice_budget_us % 1000000) * 1000 };
    PyThreadState *tstate = PyEval_SaveThread();
    (void)nanosleep(&ts, NULL);
    PyEval_RestoreThread(tstate);
}

void
_PyZgc_ScheduleSlice(PyInterpreterState *interp, PyTime_t now,
                     PyTime_t duration)
{
    // The mutators get as much time as the slice took, unless they outrun
    // the cycle (as in _PyZgc_BetweenSlices): then the next slice is due
    // at once, i.e. at the next allocation flush of any thread.
    struct _gc_runtime_state *gcstate = &interp->gc;
    Py_ssize_t growth =
        _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects)
        - gcstate->zgc_cycle.net_at_start;
    int behind = growth > 0
                 && growth * ZGC_CYCLE_PACE > _PyZgc_CycleProgress(interp);
    _Py_atomic_store_int_relaxed(&gcstate->zgc_cycle.behind, behind);
    _Py_atomic_store_int64_relaxed(&gcstate->zgc_cycle.next_slice,
                                   behind ? now : now + duration);
}

// A detached cycle advances only at flushes (a thread's allocation count
// reaching LOCAL_ALLOC_COUNT_THRESHOLD), one slice at a time: with the
// slice due at once, the mutators still allocate up to that many objects
// each before the next.  At 512, a slice's progress did not cover what
// they allocated meanwhile, and the heap outgrew the cycles (one thread
// churning medium-lived garbage beside 90k live objects: each cycle freed
// more than the last, 60k up to 310k, peak RSS 149 MB after 8 s).  So
// while the cycle is behind, threads flush every ZGC_FLUSH_BEHIND
// allocations (the same run: 125k freed per cycle, steady, 88 MB, and
// survivor cycles again; gcpause.py --garbage old at 1M live objects:
// 374-381k cycles/s against 284-351k, peak RSS 207-209 against 213-225 MB,
// with more short probe stalls, 1,294-1,326 over 0.5 ms against 716-944).
// The flush itself is an atomic add to shared counters: every 64
// allocations only while behind.  Any thread calls this with the world
// running: it reads only the cycle's atomics, which its last slice set
// (_PyZgc_ScheduleSlice, in the pause), as _PyZgc_SliceDue does.
Py_ssize_t
_PyZgc_FlushAfter(PyInterpreterState *interp, Py_ssize_t normal)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    return _PyZgc_CycleDetached(interp)
           && _Py_atomic_load_int_relaxed(&cycle->behind)
           ? ZGC_FLUSH_BEHIND : normal;
}

int
_PyZgc_SliceDue(PyInterpreterState *interp)
{
    struct _gc_runtime_state *gcstate = &interp->gc;
    if (!_PyZgc_CycleDetached(interp)
        || !_Py_atomic_load_int_relaxed(&gcstate->enabled)
        || gcstate->young.threshold == 0)
    {
        return 0;
    }
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    return now >= _Py_atomic_load_int64_relaxed(
                       &gcstate->zgc_cycle.next_slice);
}

// The growth trigger: ZGC_FULL_GROWTH_PERCENT of what the last full
// collection left, at least ZGC_FULL_MIN_GROWTH objects.
static Py_ssize_t
growth_limit(struct _gc_runtime_state *gcstate)
{
    Py_ssize_t limit = gcstate->zgc_live_after_full / 100
                       * ZGC_FULL_GROWTH_PERCENT;
    return limit < ZGC_FULL_MIN_GROWTH ? ZGC_FULL_MIN_GROWTH : limit;
}

static Py_ssize_t
growth_since_full(struct _gc_runtime_state *gcstate)
{
    return _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects)
           - gcstate->zgc_net_at_full;
}

int
_PyZgc_ChooseGeneration(struct _gc_runtime_state *gcstate)
{
    // A cycle (survivor or full, zgc_full.c decides when it starts) once
    // young collections promoted enough since the last cycle and the heap
    // grew enough since the last full collection; as soon as the heap grew
    // enough when the next cycle must be a full one (the last survivor
    // cycle left the heap above the trigger, or was the last allowed).
    Py_ssize_t limit = growth_limit(gcstate);
    return ((gcstate->zgc_promoted > limit || gcstate->zgc_full_next)
            && growth_since_full(gcstate) > limit) ? 2 : 0;
}

// Process-wide, as the OS's refusal is: whichever interpreter's thread
// reaches a safe point first collects.
static int fallback_requested;       // atomic
static PyTime_t fallback_last;       // atomic: when the last one began
static void *fallback_reserve;        // atomic: the mapped reserve, or NULL

static void
reserve_take(void)
{
#ifdef USE_RESERVE
    if (_Py_atomic_load_ptr_relaxed(&fallback_reserve) != NULL) {
        return;
    }
    void *mem = mmap(NULL, ZGC_FALLBACK_RESERVE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return;                 // memory is short: after the next collection
    }
    void *expected = NULL;
    if (!_Py_atomic_compare_exchange_ptr(&fallback_reserve, &expected, mem)) {
        (void)munmap(mem, ZGC_FALLBACK_RESERVE);
    }
#endif
}

static void
reserve_release(void)
{
#ifdef USE_RESERVE
    void *mem = _Py_atomic_exchange_ptr(&fallback_reserve, NULL);
    if (mem != NULL) {
        (void)munmap(mem, ZGC_FALLBACK_RESERVE);
    }
#endif
}

void
_PyZgc_OSAllocFailed(size_t size)
{
    if (size > ZGC_FALLBACK_MAX_REQUEST) {
        return;
    }
    _Py_atomic_store_int_relaxed(&fallback_requested, 1);
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate != NULL) {
        _Py_ScheduleGC(tstate);
    }
}

int
_PyZgc_FallbackRequested(void)
{
    return _Py_atomic_load_int_relaxed(&fallback_requested);
}

int
_PyZgc_FallbackTake(void)
{
    if (!_Py_atomic_exchange_int(&fallback_requested, 0)) {
        return 0;
    }
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    PyTime_t last = _Py_atomic_load_int64_relaxed(&fallback_last);
    if (last != 0
        && now - last < (PyTime_t)ZGC_FALLBACK_INTERVAL_MS * 1000 * 1000)
    {
        return 0;               // too soon: the request is dropped
    }
    _Py_atomic_store_int64_relaxed(&fallback_last, now);
    reserve_release();
    return 1;
}

void
_PyZgc_CollectionDone(struct _gc_runtime_state *gcstate, int generation,
                      Py_ssize_t live)
{
    reserve_take();
    if (generation != 0 && gcstate->zgc_stats.survivor) {
        // A survivor cycle frees what was promoted recently and died.  What
        // the heap grew by since the last full collection, up to the
        // survivor cycle's start, less what it freed, is old garbage it
        // cannot find or live growth: past the trigger, the next cycle is
        // a full one, and starts as soon as the heap grew enough.  (Not the
        // growth up to now: what was allocated during the cycle is the
        // next survivor cycle's, and counting it made every other cycle a
        // full one in gcpause.py's churn.)
        struct _zgc_promoted *log = &gcstate->zgc_promoted_log;
        Py_ssize_t left = log->net_at_cycle - gcstate->zgc_net_at_full
                          - gcstate->zgc_stats.collected;
        gcstate->zgc_promoted = 0;
        log->cycles++;
        gcstate->zgc_full_next = left > growth_limit(gcstate)
                                 || log->cycles >= ZGC_SURVIVOR_CYCLES_MAX;
    }
    else if (generation != 0) {
        gcstate->zgc_promoted = 0;
        gcstate->zgc_full_next = 0;
        gcstate->zgc_promoted_log.cycles = 0;
        gcstate->zgc_net_at_full =
            _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
        gcstate->zgc_live_after_full = live;
    }
}

#endif  /* Py_ZGC */
