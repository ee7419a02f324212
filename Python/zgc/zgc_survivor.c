/* zgc_survivor.c: the promoted log and the discovery of survivor cycles.
 *
 * Owns two things:
 *
 *   the promoted log (gcstate->zgc_promoted_log): every validation pause
 *   (young collections, full-collection batches, survivor cycles) appends
 *   the candidates that survived it as (op | age, seq) pairs, seq being
 *   the page-release sequence number of that pause (zgc_heap.c), exactly
 *   like a young-log entry.  The age counts the survivor cycles that
 *   validated the object since it was promoted: survivors of a young
 *   collection or a full collection's batch are logged with age 0, those
 *   of a survivor cycle with their age + 1, and not at all past
 *   _PyZgc_PROMOTED_AGE_MAX: an object that outlived that many survivor
 *   cycles is long-lived, and left to full collections;
 *
 *   the discovery of a survivor cycle (zgc_full.c runs it in its slices):
 *   an automatic cycle whose candidates are the promoted log instead of
 *   what marking leaves unmarked.  With garbage that outlives young
 *   collections (caches, request state, queues), cycles run back to back,
 *   and a full cycle marks the whole live heap to free garbage that was
 *   nearly all promoted recently; a survivor cycle's work is proportional
 *   to what was promoted, not to the heap.
 *
 * Its steps, each within the slice's budget (world stopped):
 *   filter:  keep the entries whose page was not released since they were
 *            logged (_PyZgc_PageReleasedSince, the young log's rule), as
 *            found[] pointers (the age still in their low bits); the
 *            object is not read;
 *   count:   the histograms of an LSD radix sort of found[] by address
 *            (11-bit digits of (address - lowest) / 16);
 *   scatter: one pass per digit that is not the same for every entry,
 *            from found[] to the scratch buffer, then the two swap;
 *   runs:    walk the sorted found[], drop duplicates and what is no
 *            longer a candidate (zgc_full.c's rule: tracked, unfrozen,
 *            mortal, page not released since the cycle started), move the
 *            ages to their own array, and record a run per mimalloc page,
 *            as the sweep does.
 * Then zgc_full.c's index, link and plan phases and its validation
 * batches run as for a full cycle without marks, except that a component
 * larger than two batches is skipped (not validated, not logged again): a
 * live structure a program just built is one large component, and would
 * otherwise be one long pause.
 *
 * Why it is sound.  Validation declares garbage only what no reference
 * from outside its candidate set reaches (zgc_validate.c), however the set
 * was chosen; the only new question is whether a pointer the cycle holds
 * still points at an object header.  An entry (op, seq) was an object when
 * it was logged; if no page covering `op` was released after `seq`, then
 * `op` is still a header (the young log's argument: same object, a freed
 * block that says "not tracked", or a newer object of the same size class
 * in the same block).  The filter checks releases up to its slice; from
 * then on zgc_full.c checks every use against releases since the cycle's
 * start, which is older than the filter's slice.  The records this needs
 * are kept: the interpreter's log floor is never newer than the oldest
 * entry of the promoted log, nor than the oldest entry a survivor cycle in
 * progress took (_PyZgc_CycleFloor).  The colors are not touched: a
 * survivor cycle neither flips nor trusts them, and validation gives its
 * candidates the current color, as every validation does.
 *
 * What it misses.  Garbage that an object outside the log references (an
 * old object, or one that aged out) is kept, since that reference comes
 * from outside the set, and so is garbage in a skipped component.  Full
 * collections find it: zgc_director.c runs one instead of a survivor
 * cycle after at most ZGC_SURVIVOR_CYCLES_MAX survivor cycles, when a
 * survivor cycle left the heap above the growth trigger, when the log was
 * dropped (it grew past its bound, or memory ran out) and when the colors
 * are stale.  gc.collect() is always a full collection (and abandons a
 * detached survivor cycle); so is the out-of-memory fallback.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyGC_BITS_TRACKED
#include "pycore_initconfig.h"    // _PyStatus_ERR()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_zgc.h"

#include <stdlib.h>               // strtol()

// The promoted log holds at most this many entries, or the live objects
// of the last full collection if more; past that it is dropped, and the
// next cycle is a full one (a program that runs young collections by hand
// with automatic collection disabled).
#define PROMOTED_MIN_MAX ((Py_ssize_t)1 << 20)

// The radix sort: 11-bit digits of (address >> KEY_SHIFT) - lowest.
#define KEY_SHIFT 4
#define DIGIT_BITS 11
#define BUCKETS ((Py_ssize_t)1 << DIGIT_BITS)
#define MAX_DIGITS ((64 - KEY_SHIFT + DIGIT_BITS - 1) / DIGIT_BITS)

// Look at the clock every this many entries (scatter: see there).
#define CLOCK_EVERY 256
#define SCATTER_CLOCK_EVERY 32

enum { STEP_FILTER, STEP_COUNT, STEP_SCATTER, STEP_RUNS };

// Survivor cycles on (1) or off (0): -X zgc_survivor / PYTHONZGCSURVIVOR,
// the main interpreter's value (as the slice budget, zgc_director.c).
static int survivor_enabled = 1;

PyStatus
_PyZgc_SurvivorInit(PyInterpreterState *interp)
{
    if (!_Py_IsMainInterpreter(interp)) {
        return _PyStatus_OK();
    }
    char buf[8];
    const char *source;
    const char *text = _PyZgc_ReadKnob(interp, "zgc_survivor",
                                       "PYTHONZGCSURVIVOR", buf, sizeof(buf),
                                       &source);
    if (text == NULL) {
        return _PyStatus_OK();
    }
    if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0) {
        fprintf(stderr, "%s%s: invalid value %s: expected 0 or 1\n",
                source, source[0] == '-' ? " zgc_survivor" : "", text);
        return _PyStatus_ERR("invalid -X zgc_survivor or PYTHONZGCSURVIVOR "
                             "value");
    }
    survivor_enabled = text[0] == '1';
    return _PyStatus_OK();
}

void
_PyZgc_SurvivorFini(PyInterpreterState *interp)
{
    struct _zgc_promoted *log = &interp->gc.zgc_promoted_log;
    _PyZgc_BufferFree(log->items, log->cap * sizeof(*log->items));
    *log = (struct _zgc_promoted){0};
}

/* --- the promoted log ---------------------------------------------------- */

static void
promoted_drop(struct _zgc_promoted *log)
{
    _PyZgc_BufferFree(log->items, log->cap * sizeof(*log->items));
    log->items = NULL;
    log->len = 0;
    log->cap = 0;
}

int
_PyZgc_PromotedRoom(struct _gc_runtime_state *gcstate, Py_ssize_t n)
{
    struct _zgc_promoted *log = &gcstate->zgc_promoted_log;
    if (log->lost || !survivor_enabled) {
        return 0;
    }
    Py_ssize_t most = Py_MAX(PROMOTED_MIN_MAX, gcstate->zgc_live_after_full);
    if (log->len + n > most
        || _PyZgc_BufferReserve((void **)&log->items, &log->cap,
                                log->len + n, sizeof(*log->items),
                                4096) < 0)
    {
        // Unbounded or out of memory: the next cycle finds everything.
        promoted_drop(log);
        log->lost = 1;
        return 0;
    }
    return 1;
}

// A log of more than half the heap is not worth a survivor cycle: what it
// validates is then mostly live (a structure the program just built, whose
// objects young collections promoted), and traversing it costs as much as
// marking.  A full collection runs instead, and starts the log again.
static int
log_too_long(struct _gc_runtime_state *gcstate)
{
    Py_ssize_t heap = _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
    return gcstate->zgc_promoted_log.len > heap / 2;
}

void
_PyZgc_PromotedFullStart(struct _gc_runtime_state *gcstate)
{
    struct _zgc_promoted *log = &gcstate->zgc_promoted_log;
    log->lost = 0;
    if (log_too_long(gcstate)) {
        log->len = 0;
    }
}

uint64_t
_PyZgc_PromotedFloor(struct _gc_runtime_state *gcstate)
{
    struct _zgc_promoted *log = &gcstate->zgc_promoted_log;
    return log->len > 0 ? log->items[0].seq : UINT64_MAX;
}

int
_PyZgc_SurvivorDue(struct _gc_runtime_state *gcstate)
{
    return survivor_enabled
           && gcstate->zgc_promoted_log.len > 0
           && !gcstate->zgc_promoted_log.lost
           && !gcstate->zgc_full_next
           && !gcstate->zgc_colors_stale
           && !log_too_long(gcstate);
}

/* --- the survivor cycle's discovery -------------------------------------- */

int
_PyZgc_SurvivorStart(PyInterpreterState *interp, struct _zgc_cycle *cycle)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_promoted *log = &interp->gc.zgc_promoted_log;
    // Take the log whole; young collections between the slices start a
    // new one (and so do this cycle's own survivors).
    cycle->log = log->items;
    cycle->nlog = log->len;
    cycle->caplog = log->cap;
    cycle->floor = log->len > 0 ? log->items[0].seq : cycle->seq;
    log->items = NULL;
    log->len = 0;
    log->cap = 0;
    cycle->step = STEP_FILTER;
    cycle->cursor = 0;
    cycle->key_min = UINTPTR_MAX;
    cycle->key_max = 0;
    cycle->scratch = _PyZgc_BufferGrow(NULL, 0,
                                       Py_MAX(cycle->nlog, 1)
                                       * sizeof(PyObject *));
    if (cycle->scratch == NULL) {
        return -1;
    }
    cycle->capscratch = _PyZgc_BufferSize(Py_MAX(cycle->nlog, 1)
                                          * sizeof(PyObject *))
                        / sizeof(PyObject *);
    return 0;
}

void
_PyZgc_SurvivorFree(struct _zgc_cycle *cycle)
{
    _PyZgc_CycleFreeLater(cycle, cycle->log,
                          cycle->caplog * sizeof(*cycle->log));
    cycle->log = NULL;
    _PyZgc_CycleFreeLater(cycle, cycle->scratch,
                          cycle->capscratch * sizeof(PyObject *));
    cycle->scratch = NULL;
    PyMem_RawFree(cycle->counts);
    cycle->counts = NULL;
    _PyZgc_CycleFreeLater(cycle, cycle->ages, cycle->capages);
    cycle->ages = NULL;
}

static int
past(PyTime_t deadline)
{
    if (deadline == 0) {
        return 0;
    }
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    return now >= deadline;
}

static inline uintptr_t
key_of(const struct _zgc_cycle *cycle, PyObject *op)
{
    return ((uintptr_t)op >> KEY_SHIFT) - cycle->key_min;
}

// The next digit that sorts anything (a digit that is the same for every
// entry, such as the high ones, would only copy), or cycle->digits.
static int
next_digit(struct _zgc_cycle *cycle, int d)
{
    for (; d < cycle->digits; d++) {
        const Py_ssize_t *c = cycle->counts + d * BUCKETS;
        int trivial = 0;
        for (Py_ssize_t b = 0; b < BUCKETS; b++) {
            if (c[b] != 0) {
                trivial = c[b] == cycle->nlog;
                break;
            }
        }
        if (!trivial) {
            return d;
        }
    }
    return d;
}

int
_PyZgc_SurvivorWork(struct _zgc_cycle *cycle,
                    const struct _zgc_page_lookup *released,
                    PyTime_t deadline)
{
    if (cycle->step == STEP_FILTER) {
        while (cycle->cursor < cycle->nlog) {
            if ((cycle->cursor % CLOCK_EVERY) == 0 && past(deadline)) {
                return 0;
            }
            struct _zgc_young_entry e = cycle->log[cycle->cursor++];
            cycle->objects++;
            // The age stays in the low bits until the runs step (the sort
            // keys ignore them).
            PyObject *op = (PyObject *)((uintptr_t)e.op
                                        & ~_PyZgc_PROMOTED_AGE_MASK);
            if (_PyZgc_PageReleasedSince(released, op, e.seq)) {
                continue;
            }
            uintptr_t key = (uintptr_t)e.op >> KEY_SHIFT;
            if (key < cycle->key_min) {
                cycle->key_min = key;
            }
            if (key > cycle->key_max) {
                cycle->key_max = key;
            }
            // found[] was reserved for the whole log (zgc_full.c).
            cycle->found[cycle->nfound++] = e.op;
        }
        // The log has served: from here on, found[0 .. nlog) is sorted.
        _PyZgc_CycleFreeLater(cycle, cycle->log,
                              cycle->caplog * sizeof(*cycle->log));
        cycle->log = NULL;
        cycle->caplog = 0;
        cycle->nlog = cycle->nfound;
        cycle->digits = 0;
        if (cycle->nlog > 1) {
            uintptr_t range = cycle->key_max - cycle->key_min;
            while (cycle->digits < MAX_DIGITS
                   && (range >> (cycle->digits * DIGIT_BITS)) != 0)
            {
                cycle->digits++;
            }
        }
        if (cycle->digits > 0) {
            cycle->counts = PyMem_RawCalloc(cycle->digits * BUCKETS,
                                            sizeof(Py_ssize_t));
            if (cycle->counts == NULL) {
                return -1;
            }
        }
        cycle->cursor = 0;
        cycle->step = STEP_COUNT;
    }
    if (cycle->step == STEP_COUNT) {
        while (cycle->digits > 0 && cycle->cursor < cycle->nlog) {
            if ((cycle->cursor % CLOCK_EVERY) == 0 && past(deadline)) {
                return 0;
            }
            uintptr_t k = key_of(cycle, cycle->found[cycle->cursor++]);
            cycle->objects++;
            for (int d = 0; d < cycle->digits; d++) {
                cycle->counts[d * BUCKETS
                              + ((k >> (d * DIGIT_BITS)) & (BUCKETS - 1))]++;
            }
        }
        cycle->digit = next_digit(cycle, 0);
        // Counts become the places where each bucket's entries go
        // (O(digits x buckets), a few thousand additions).
        for (int d = cycle->digit; d < cycle->digits; d++) {
            Py_ssize_t *c = cycle->counts + d * BUCKETS, place = 0;
            for (Py_ssize_t b = 0; b < BUCKETS; b++) {
                Py_ssize_t n = c[b];
                c[b] = place;
                place += n;
            }
        }
        cycle->cursor = 0;
        cycle->step = STEP_SCATTER;
    }
    while (cycle->step == STEP_SCATTER) {
        if (cycle->digit >= cycle->digits) {
            cycle->cursor = 0;
            cycle->nfound = 0;
            cycle->run_first = 0;
            cycle->run_page = (struct _zgc_page_ref){0};
            // The ages move out of the pointers, next to the compacted
            // found[] (take_batch() passes them to the validation).
            cycle->ages = _PyZgc_BufferGrow(NULL, 0, Py_MAX(cycle->nlog, 1));
            if (cycle->ages == NULL) {
                return -1;
            }
            cycle->capages = _PyZgc_BufferSize(Py_MAX(cycle->nlog, 1));
            cycle->step = STEP_RUNS;
            break;
        }
        int d = cycle->digit;
        Py_ssize_t *c = cycle->counts + d * BUCKETS;
        PyObject **src = cycle->found, **dst = cycle->scratch;
        while (cycle->cursor < cycle->nlog) {
            // More often than the other steps: a scatter's first writes to
            // the pages of its buckets were seen to take microseconds each
            // on the project's VM (256 of them: 1 ms), populated or not.
            if ((cycle->cursor % SCATTER_CLOCK_EVERY) == 0 && past(deadline)) {
                return 0;
            }
            PyObject *op = src[cycle->cursor++];
            cycle->objects++;
            uintptr_t b = (key_of(cycle, op) >> (d * DIGIT_BITS))
                          & (BUCKETS - 1);
            dst[c[b]++] = op;
        }
        // Stable passes, lowest digit first: sorted once the last is done.
        _PyZgc_CycleSwapFound(cycle);
        cycle->digit = next_digit(cycle, d + 1);
        cycle->cursor = 0;
    }
    if (cycle->step == STEP_RUNS) {
        // found[0 .. nlog) is sorted; the candidates are compacted to
        // found[0 .. nfound) (nfound <= cursor: in place), a run per page.
        // The open run (its page and first member) carries over between
        // slices: its page is not looked at again.
        Py_ssize_t first = cycle->run_first;
        struct _zgc_page_ref page = cycle->run_page;
        while (cycle->cursor < cycle->nlog) {
            if ((cycle->cursor % CLOCK_EVERY) == 0 && past(deadline)) {
                cycle->run_first = first;
                cycle->run_page = page;
                return 0;
            }
            uintptr_t raw = (uintptr_t)cycle->found[cycle->cursor++];
            PyObject *op = (PyObject *)(raw & ~_PyZgc_PROMOTED_AGE_MASK);
            cycle->objects++;
            if (cycle->nfound > 0 && cycle->found[cycle->nfound - 1] == op) {
                continue;           // logged twice: the first (any) age
            }
            if (!_PyZgc_CycleCandidate(cycle, released, op)) {
                continue;
            }
            struct _zgc_page_ref ref;
            _PyZgc_PageOf(op, &ref);
            if (ref.page != page.page) {
                if (cycle->nfound > first
                    && _PyZgc_CycleAddRun(cycle, &page, first) < 0)
                {
                    return -1;
                }
                page = ref;
                first = cycle->nfound;
            }
            cycle->ages[cycle->nfound] =
                (uint8_t)(raw & _PyZgc_PROMOTED_AGE_MASK);
            cycle->found[cycle->nfound++] = op;
        }
        if (cycle->nfound > first
            && _PyZgc_CycleAddRun(cycle, &page, first) < 0)
        {
            return -1;
        }
        _PyZgc_CycleFreeLater(cycle, cycle->scratch,
                              cycle->capscratch * sizeof(PyObject *));
        cycle->scratch = NULL;
        cycle->capscratch = 0;
        PyMem_RawFree(cycle->counts);
        cycle->counts = NULL;
        cycle->cursor = 0;
    }
    return 1;
}

#endif  /* Py_ZGC */
