/* zgc_young.c: the young generation of pyzgc.
 *
 * Owns the per-thread young logs and the gathering of a young
 * collection's candidate set; the host driver (gc_free_threading.c,
 * patched) gathers it inside its first stop-the-world pause, between
 * merging biased refcounts and validating the set
 * (zgc_validate.c: trial deletion restricted to the candidates).
 *
 * Young set.  Every object the GC starts tracking (_PyObject_GC_TRACK) is
 * appended to its thread's log, with no shared write: the log is plain
 * thread-local memory, read by other threads only while the world is
 * stopped.  A collection, young or full, empties every log: what was logged
 * before is old from then on ("promoted", nothing moves).  A log entry may
 * be stale (the object died, its block was reused); zgc_heap.c says when
 * an entry still points at an object header, and the TRACKED bit says
 * whether that header is a tracked object now.  Duplicates are dropped by
 * the candidate bit.
 *
 * The log hook also gives a newly tracked object the current mark color
 * (zgc_mark.c): it is "marked" during a full collection that is under way,
 * and unmarked (a candidate unless reached from the roots) in the next one.
 *
 * A young collection validates the young set Y: references from anything
 * outside Y (old objects, untracked and non-GC objects, C globals) keep
 * their targets alive, so the pause is proportional to |Y|, its edges and
 * the thread stacks, not to the heap.  Survivors are promoted; tuples that
 * can never be part of a cycle are untracked on the way, as full
 * collections do.
 *
 * Per-thread refcounts.  Heap types, code objects and module dicts have a
 * unique id, and threads count references to them in per-thread arrays
 * (Python/uniqueid.c) that a collection merges into the objects' refcounts
 * in its first pause.  Every thread's array has an entry per such object
 * in the process (13,000 after importing the test suite's larger modules),
 * so the host's merge of all of them made each young pause proportional to
 * the program's code.  A young collection reads the refcounts of its
 * candidates only, so the host leaves the arrays alone for it and the
 * gather merges each candidate that may have an id (a type, dict or code
 * object: _PyZgc_MayHaveUniqueId) before its refcount is read.  Sound: the
 * counts not merged belong to objects outside the candidate set, whose
 * refcounts the collection never reads; an id is released only when its
 * object is found to be garbage, which makes it a candidate, merged in
 * this same pause, so no stale count can be merged into a later owner of
 * the id; a thread that exits merges its whole array first.  Full
 * collections still merge everything.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_object.h"        // _Py_IsImmortal()
#include "pycore_pystate.h"       // _PyThreadState_GET()
#include "pycore_tstate.h"        // _PyThreadStateImpl
#include "pycore_zgc.h"

// First size of a thread's log, and the size past which a log that no
// collection empties (automatic collection disabled) is dropped instead of
// grown: dropping entries only makes objects old early, never unsound.
#define YOUNG_LOG_INITIAL 1024
#define YOUNG_LOG_MAX (1 << 22)

// The log is full: double it; or, when it reached YOUNG_LOG_MAX or memory
// is short, forget the young set (its objects become old, as does the one
// being logged) and return -1.
static Py_NO_INLINE int
grow_log(struct _gc_thread_state *gc)
{
    Py_ssize_t cap = gc->young_cap ? gc->young_cap * 2 : YOUNG_LOG_INITIAL;
    if (cap > YOUNG_LOG_MAX) {
        gc->young_len = 0;
        return -1;
    }
    struct _zgc_young_entry *log =
        PyMem_RawRealloc(gc->young_log, cap * sizeof(*log));
    if (log == NULL) {
        gc->young_len = 0;
        return -1;
    }
    gc->young_log = log;
    gc->young_cap = cap;
    return 0;
}

void
_PyZgc_YoungLog(PyObject *op)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate == NULL) {
        return;
    }
    // The color only changes with the world stopped, and this thread is
    // the only one that can see `op` being tracked: a plain write, like
    // the TRACKED bit just set.
    _PyZgc_SetColor(op, tstate->interp->gc.zgc_color);
    struct _gc_thread_state *gc = &((_PyThreadStateImpl *)tstate)->gc;
    if (gc->young_len == gc->young_cap && grow_log(gc) < 0) {
        return;
    }
    // (No call on this path: it runs for every tracked allocation, and a
    // call made it save and restore registers.)
    gc->young_log[gc->young_len].op = op;
    gc->young_log[gc->young_len].seq = _PyZgc_PageReleaseSeq();
    gc->young_len++;
}

/* Untracking.  An object untracked while its entry is among the last
 * YOUNG_UNLOG_WINDOW of its thread's log (a temporary, or one of the
 * objects a temporary made: `Node()` with a list and a dict attribute
 * logs three entries and untracks them in another order) clears the
 * entry; cleared entries at the end of the log are dropped.  Only the
 * current thread's log is touched (any thread may untrack any object),
 * and never an entry logged before the cycle in progress began
 * (young_before_cycle: those are the cycle's, see _PyZgc_YoungCycleEnd).
 * An untracked object needs no entry: the gather skips it, and skips
 * cleared entries.  Until stop 17 a loop of temporaries, which never makes
 * a young collection due, grew the log to YOUNG_LOG_MAX. */
#define YOUNG_UNLOG_WINDOW 4

void
_PyZgc_YoungUnlog(struct _gc_thread_state *gc, PyObject *op)
{
    Py_ssize_t floor = gc->young_before_cycle;
    Py_ssize_t low = gc->young_len - YOUNG_UNLOG_WINDOW;
    if (low < floor) {
        low = floor;
    }
    for (Py_ssize_t i = gc->young_len - 1; i >= low; i--) {
        if (gc->young_log[i].op == op) {
            gc->young_log[i].op = NULL;
            break;
        }
    }
    while (gc->young_len > floor
           && gc->young_log[gc->young_len - 1].op == NULL)
    {
        gc->young_len--;
    }
}

void
_PyZgc_YoungLogFree(PyThreadState *tstate)
{
    struct _gc_thread_state *gc = &((_PyThreadStateImpl *)tstate)->gc;
    struct _zgc_young_entry *log = gc->young_log;
    gc->young_log = NULL;
    gc->young_len = 0;
    gc->young_cap = 0;
    PyMem_RawFree(log);
}

static void
forget_logs(PyInterpreterState *interp)
{
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _gc_thread_state *gc = &((_PyThreadStateImpl *)p)->gc;
        gc->young_len = 0;
        gc->young_before_cycle = 0;
        if (gc->young_cap > 64 * YOUNG_LOG_INITIAL) {
            // Give back what a burst of allocation made the log grow to.
            PyMem_RawFree(gc->young_log);
            gc->young_log = NULL;
            gc->young_cap = 0;
        }
    }
}

void
_PyZgc_YoungCycleStart(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    HEAD_LOCK(&_PyRuntime);
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _gc_thread_state *gc = &((_PyThreadStateImpl *)p)->gc;
        gc->young_before_cycle = gc->young_len;
    }
    HEAD_UNLOCK(&_PyRuntime);
}

void
_PyZgc_YoungCycleEnd(PyInterpreterState *interp, uint64_t seq)
{
    assert(interp->stoptheworld.world_stopped);
    HEAD_LOCK(&_PyRuntime);
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _gc_thread_state *gc = &((_PyThreadStateImpl *)p)->gc;
        // A log dropped meanwhile (it grew too long) starts again at 0.
        Py_ssize_t k = gc->young_before_cycle;
        if (k > gc->young_len) {
            k = gc->young_len;
        }
        memmove(gc->young_log, gc->young_log + k,
                (gc->young_len - k) * sizeof(*gc->young_log));
        gc->young_len -= k;
        gc->young_before_cycle = 0;
    }
    HEAD_UNLOCK(&_PyRuntime);
    // Every entry left was logged after the cycle started.
    _PyZgc_LogsFloor(interp, seq);
}

static int
young_gather(PyInterpreterState *interp, struct _zgc_candidates *set,
             int color)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_page_lookup pages;
    if (_PyZgc_PageLookupBegin(&pages) < 0) {
        return -1;
    }
    HEAD_LOCK(&_PyRuntime);
    Py_ssize_t total = 0;
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        total += ((_PyThreadStateImpl *)p)->gc.young_len;
    }
    // Room for every entry up front: adding cannot fail below.
    if (_PyZgc_CandidatesReserve(set, total) < 0) {
        HEAD_UNLOCK(&_PyRuntime);
        _PyZgc_PageLookupDone(&pages);
        return -1;
    }

    // Gather: trusted entries naming tracked, mortal, unfrozen objects,
    // each once (a member already has the candidate bit).
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _gc_thread_state *gc = &((_PyThreadStateImpl *)p)->gc;
        for (Py_ssize_t i = 0; i < gc->young_len; i++) {
            PyObject *op = gc->young_log[i].op;
            if (op == NULL) {
                continue;       // cleared when its object was untracked
            }
            if (_PyZgc_PageReleasedSince(&pages, op, gc->young_log[i].seq)) {
                continue;
            }
            uint8_t bits = op->ob_gc_bits;
            if (!(bits & _PyGC_BITS_TRACKED)
                || (bits & (_PyGC_BITS_FROZEN | _PyGC_BITS_UNREACHABLE))
                || _Py_IsImmortal(op)
                || (color >= 0 && (bits & _PyGC_BITS_ZGC_COLOR) != color))
            {
                continue;
            }
            // The host merged no per-thread refcounts for a young
            // collection (see Per-thread refcounts above): this
            // candidate's, if it has any, before its refcount is read.
            if (_PyZgc_MayHaveUniqueId(op)) {
                _PyObject_MergeThreadRefcountsOf(interp, op);
            }
            (void)_PyZgc_CandidateAdd(set, op);
        }
    }
    forget_logs(interp);
    HEAD_UNLOCK(&_PyRuntime);
    _PyZgc_PageLookupDone(&pages);
    _PyZgc_LogsEmptied(interp);
    return 0;
}

int
_PyZgc_YoungGather(PyInterpreterState *interp, struct _zgc_candidates *set)
{
    return young_gather(interp, set, -1);
}

int
_PyZgc_YoungGatherColor(PyInterpreterState *interp,
                        struct _zgc_candidates *set, int color)
{
    return young_gather(interp, set, color);
}

#endif  /* Py_ZGC */
