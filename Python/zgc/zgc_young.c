/* zgc_young.c: the young generation of pyzgc.
 *
 * Owns the per-thread young logs and the three phases of a young
 * collection; the host driver (gc_free_threading.c, patched) runs them
 * inside its first stop-the-world pause, between merging per-thread and
 * biased refcounts and clearing weakrefs of the garbage found.
 *
 * Young set.  Every object the GC starts tracking (_PyObject_GC_TRACK) is
 * appended to its thread's log, with no shared write: the log is plain
 * thread-local memory, read by other threads only while the world is
 * stopped.  A collection, young or full, empties every log: what was logged
 * before is old from then on ("promoted", nothing moves).  A log entry may
 * be stale (the object died, its block was reused); zgc_heap.c says when
 * an entry still points at an object header, and the TRACKED bit says
 * whether that header is a tracked object now.  Duplicates are dropped by
 * the unreachable bit, which marks membership of the young set.
 *
 * Survivors are promoted; tuples that can never be part of a cycle are
 * untracked on the way, as full collections do.
 *
 * Young collection = trial deletion restricted to the young set Y, with
 * the world stopped and refcounts exact (the soundness rule of
 * InternalDocs/zgc.md):
 *   gc_refs(y) = refcount(y) - #{references to y from objects in Y}
 *                + #{deferred references to y from thread stacks}
 * References from anything outside Y (old objects, untracked and non-GC
 * objects, C globals) are never subtracted, so they keep their targets
 * alive.  Objects with gc_refs > 0, and everything reachable from them
 * inside Y, survive.  The rest of Y has no reference from outside itself
 * and is garbage however Y was chosen; it is handed to the host, which
 * treats it exactly like the garbage of a full collection (weakrefs,
 * finalizers, resurrection check, tp_clear).  The pause is proportional
 * to |Y|, its edges and the thread stacks, not to the heap.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_object.h"        // _PyObject_ASSERT()
#include "pycore_object_deferred.h" // _PyObject_HasDeferredRefcount()
#include "pycore_object_stack.h"  // _PyObjectStack
#include "pycore_pystate.h"       // _PyThreadState_GET()
#include "pycore_tstate.h"        // _PyThreadStateImpl
#include "pycore_tuple.h"         // _PyTuple_MaybeUntrack()
#include "pycore_zgc.h"

// First size of a thread's log, and the size past which a log that no
// collection empties (automatic collection disabled) is dropped instead of
// grown: dropping entries only makes objects old early, never unsound.
#define YOUNG_LOG_INITIAL 1024
#define YOUNG_LOG_MAX (1 << 22)

static inline int
in_young_set(PyObject *op)
{
    return (op->ob_gc_bits & _PyGC_BITS_UNREACHABLE) != 0;
}

void
_PyZgc_YoungLog(PyObject *op)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate == NULL) {
        return;
    }
    struct _gc_thread_state *gc = &((_PyThreadStateImpl *)tstate)->gc;
    if (gc->young_len == gc->young_cap) {
        Py_ssize_t cap = gc->young_cap ? gc->young_cap * 2 : YOUNG_LOG_INITIAL;
        if (cap > YOUNG_LOG_MAX) {
            gc->young_len = 0;
            return;
        }
        struct _zgc_young_entry *log =
            PyMem_RawRealloc(gc->young_log, cap * sizeof(*log));
        if (log == NULL) {
            // Out of memory: forget the young set (the objects become old).
            gc->young_len = 0;
            return;
        }
        gc->young_log = log;
        gc->young_cap = cap;
    }
    gc->young_log[gc->young_len].op = op;
    gc->young_log[gc->young_len].seq = _PyZgc_PageReleaseSeq();
    gc->young_len++;
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
        if (gc->young_cap > 64 * YOUNG_LOG_INITIAL) {
            // Give back what a burst of allocation made the log grow to.
            PyMem_RawFree(gc->young_log);
            gc->young_log = NULL;
            gc->young_cap = 0;
        }
    }
}

void
_PyZgc_YoungForgetAll(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    HEAD_LOCK(&_PyRuntime);
    forget_logs(interp);
    HEAD_UNLOCK(&_PyRuntime);
    _PyZgc_LogsEmptied(interp);
}

// Subtract one reference from a referent that is in the young set.  Like
// upstream's visit_decref, _PyGC_VisitStackRef does not call it for deferred
// stack references in generator and frame objects: those are not counted in
// the refcount, so they must not be subtracted from it.
int
_PyZgc_VisitDecrefYoung(PyObject *op, void *arg)
{
    if (_PyObject_GC_IS_TRACKED(op) && in_young_set(op)) {
        op->ob_tid -= 1;
    }
    return 0;
}

Py_ssize_t
_PyZgc_YoungBegin(PyInterpreterState *interp, struct _zgc_young_set *set)
{
    assert(interp->stoptheworld.world_stopped);
    set->items = NULL;
    set->len = 0;

    struct _zgc_page_lookup pages;
    if (_PyZgc_PageLookupBegin(&pages) < 0) {
        return -1;
    }
    HEAD_LOCK(&_PyRuntime);
    Py_ssize_t total = 0;
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        total += ((_PyThreadStateImpl *)p)->gc.young_len;
    }
    if (total > 0) {
        set->items = PyMem_RawMalloc(total * sizeof(PyObject *));
        if (set->items == NULL) {
            HEAD_UNLOCK(&_PyRuntime);
            _PyZgc_PageLookupDone(&pages);
            return -1;
        }
    }

    // Gather: trusted entries naming tracked, mortal, unfrozen objects,
    // each once.  ob_tid is borrowed for gc_refs until the host restores it
    // (from the segment's owner, as for every object a collection visits).
    Py_ssize_t n = 0;
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _gc_thread_state *gc = &((_PyThreadStateImpl *)p)->gc;
        for (Py_ssize_t i = 0; i < gc->young_len; i++) {
            PyObject *op = gc->young_log[i].op;
            if (_PyZgc_PageReleasedSince(&pages, op, gc->young_log[i].seq)) {
                continue;
            }
            uint8_t bits = op->ob_gc_bits;
            if (!(bits & _PyGC_BITS_TRACKED)
                || (bits & (_PyGC_BITS_FROZEN | _PyGC_BITS_UNREACHABLE))
                || _Py_IsImmortal(op))
            {
                continue;
            }
            op->ob_gc_bits = bits | _PyGC_BITS_UNREACHABLE;
            op->ob_tid = 0;
            set->items[n++] = op;
        }
    }
    forget_logs(interp);
    HEAD_UNLOCK(&_PyRuntime);
    _PyZgc_PageLookupDone(&pages);
    _PyZgc_LogsEmptied(interp);
    set->len = n;

    // gc_refs = refcount (exact: the host merged per-thread and queued
    // refcounts) less the deferred-refcount bias ...
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = set->items[i];
        Py_ssize_t refcount = Py_REFCNT(op);
        if (_PyObject_HasDeferredRefcount(op)) {
            refcount -= _Py_REF_DEFERRED;
        }
        _PyObject_ASSERT(op, refcount >= 0);
        op->ob_tid = (uintptr_t)refcount;
    }
    // ... less the references from inside the young set.
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = set->items[i];
        Py_TYPE(op)->tp_traverse(op, _PyZgc_VisitDecrefYoung, NULL);
    }
    return n;
}

static int
visit_clear_young(PyObject *op, void *stack)
{
    if (_PyObject_GC_IS_TRACKED(op) && in_young_set(op)) {
        op->ob_gc_bits &= ~_PyGC_BITS_UNREACHABLE;
        return _PyObjectStack_Push((_PyObjectStack *)stack, op);
    }
    return 0;
}

int
_PyZgc_YoungMarkReachable(struct _zgc_young_set *set, int keep_deferred)
{
    _PyObjectStack stack = { NULL };
    for (Py_ssize_t i = 0; i < set->len; i++) {
        PyObject *op = set->items[i];
        if (!in_young_set(op)) {
            continue;       // already found reachable
        }
        _PyObject_ASSERT_WITH_MSG(op, (Py_ssize_t)op->ob_tid >= 0,
                                  "refcount is too small");
        if (op->ob_tid == 0
            && !(keep_deferred && _PyObject_HasDeferredRefcount(op)))
        {
            continue;       // no reference from outside (yet)
        }
        op->ob_gc_bits &= ~_PyGC_BITS_UNREACHABLE;
        do {
            if (Py_TYPE(op)->tp_traverse(op, visit_clear_young, &stack) < 0) {
                _PyObjectStack_Clear(&stack);
                return -1;
            }
            op = _PyObjectStack_Pop(&stack);
        } while (op != NULL);
    }
    return 0;
}

Py_ssize_t
_PyZgc_YoungScan(struct _zgc_young_set *set, _PyZgc_ScanFunc scan, void *arg)
{
    Py_ssize_t promoted = 0;
    for (Py_ssize_t i = 0; i < set->len; i++) {
        PyObject *op = set->items[i];
        int survives = !in_young_set(op);
        scan(op, arg);
        if (survives) {
            // As a full collection does: a surviving tuple that can never
            // be part of a cycle stops being tracked, and is never old.
            if (PyTuple_CheckExact(op)) {
                _PyTuple_MaybeUntrack(op);
            }
            promoted += _PyObject_GC_IS_TRACKED(op);
        }
    }
    PyMem_RawFree(set->items);
    set->items = NULL;
    set->len = 0;
    return promoted;
}

void
_PyZgc_YoungAbort(struct _zgc_young_set *set, _PyZgc_ScanFunc restore,
                  void *arg)
{
    for (Py_ssize_t i = 0; i < set->len; i++) {
        restore(set->items[i], arg);
    }
    PyMem_RawFree(set->items);
    set->items = NULL;
    set->len = 0;
}

#endif  /* Py_ZGC */
