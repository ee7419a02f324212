/* zgc_validate.c: the one place where pyzgc declares garbage.
 *
 * Owns the candidate set and trial deletion restricted to it, which every
 * collection (young or full) runs inside its first stop-the-world pause,
 * after the host merged per-thread and biased refcounts (so refcounts are
 * exact) and before weakrefs of the garbage are cleared.  This is the
 * soundness rule of InternalDocs/zgc.md:
 *
 *   gc_refs(c) = refcount(c) - #{references to c from objects in C}
 *                + #{deferred references to c from thread stacks}
 *
 * References from anything outside the candidate set C (objects that are
 * not candidates, untracked and non-GC objects, C globals) are never
 * subtracted, so they keep their targets alive.  Candidates with
 * gc_refs > 0, and everything reachable from them inside C, survive.  The
 * rest of C has no reference from outside itself and is garbage however C
 * was chosen (the young log, unmarked objects of a full collection): a
 * badly chosen C costs precision, never safety.
 *
 * Membership of C is the _PyGC_BITS_UNREACHABLE bit, which also says that
 * ob_tid holds gc_refs instead of the owning thread's id (as upstream's
 * collector uses it); the host restores ob_tid when it scans a candidate.
 * Everything here runs with the world stopped.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_object.h"        // _PyObject_ASSERT()
#include "pycore_object_deferred.h" // _PyObject_HasDeferredRefcount()
#include "pycore_object_stack.h"  // _PyObjectStack
#include "pycore_pystate.h"       // _PyInterpreterState_GET(), HEAD_LOCK()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_tuple.h"         // _PyTuple_MaybeUntrack()
#include "pycore_zgc.h"

#if defined(__GNUC__) || defined(__clang__)
#  define PREFETCH_WRITE(p) __builtin_prefetch((p), 1, 3)
#else
#  define PREFETCH_WRITE(p) ((void)(p))
#endif

static inline int
is_candidate(PyObject *op)
{
    return (op->ob_gc_bits & _PyGC_BITS_UNREACHABLE) != 0;
}

// gc_refs of a member (its ob_tid), under upstream's name: test_gc checks
// the message of the assertion below.
static inline Py_ssize_t
gc_get_refs(PyObject *op)
{
    return (Py_ssize_t)op->ob_tid;
}

int
_PyZgc_CandidatesReserve(struct _zgc_candidates *set, Py_ssize_t n)
{
    if (set->cap - set->len >= n) {
        return 0;
    }
    Py_ssize_t cap = set->cap ? set->cap * 2 : 1024;
    if (cap < set->len + n) {
        cap = set->len + n;
    }
    PyObject **items = PyMem_RawRealloc(set->items, cap * sizeof(*items));
    if (items == NULL) {
        return -1;
    }
    set->items = items;
    set->cap = cap;
    return 0;
}

int
_PyZgc_CandidateAdd(struct _zgc_candidates *set, PyObject *op)
{
    assert(_PyObject_GC_IS_TRACKED(op) && !is_candidate(op));
    if (set->len == set->cap && _PyZgc_CandidatesReserve(set, 1) < 0) {
        return -1;
    }
    op->ob_gc_bits |= _PyGC_BITS_UNREACHABLE;
    // ob_tid is borrowed for gc_refs until the host restores it (from the
    // segment's owner, as for every object a collection visits).  It starts
    // as the refcount, less the deferred-refcount bias: members are only
    // added inside the pause that validates them, after the host merged
    // per-thread and queued refcounts, and nothing changes a refcount
    // until the counting pass (writing it now spares that pass a second
    // visit of every member).
    Py_ssize_t refcount = Py_REFCNT(op);
    if (_PyObject_HasDeferredRefcount(op)) {
        refcount -= _Py_REF_DEFERRED;
    }
    _PyObject_ASSERT(op, refcount >= 0);
    op->ob_tid = (uintptr_t)refcount;
    set->items[set->len++] = op;
    return 0;
}

int
_PyZgc_CandidateAddAged(struct _zgc_candidates *set, PyObject *op,
                        uint8_t age)
{
    assert(set->naged == set->len);
    if (_PyZgc_CandidateAdd(set, op) < 0) {
        return -1;
    }
    if (set->naged == set->capages) {
        // As large as items[]: it grows as items[] does.
        uint8_t *ages = PyMem_RawRealloc(set->ages, set->cap);
        if (ages == NULL) {
            return -1;      // the member stays, unaged (the caller aborts)
        }
        set->ages = ages;
        set->capages = set->cap;
    }
    set->ages[set->naged++] = age;
    return 0;
}

void
_PyZgc_TrashAdd(PyInterpreterState *interp, PyObject *op)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_trash *trash = &interp->gc.zgc_trash;
    if (trash->len == trash->cap) {
        Py_ssize_t cap = trash->cap ? trash->cap * 2 : 64;
        PyObject **items = PyMem_RawRealloc(trash->items,
                                            cap * sizeof(*items));
        if (items == NULL) {
            // The young log keeps it for the next young collection.
            _PyZgc_YoungLog(op);
            return;
        }
        trash->items = items;
        trash->cap = cap;
    }
    trash->items[trash->len++] = op;
}

int
_PyZgc_TrashGather(PyInterpreterState *interp, struct _zgc_candidates *set)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_trash *trash = &interp->gc.zgc_trash;
    // Added in this pause, so still the objects they were.
    for (Py_ssize_t i = 0; i < trash->len; i++) {
        PyObject *op = trash->items[i];
        if ((op->ob_gc_bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN
                               | _PyGC_BITS_UNREACHABLE))
            != _PyGC_BITS_TRACKED || _Py_IsImmortal(op))
        {
            continue;
        }
        if (_PyZgc_MayHaveUniqueId(op)) {
            // As zgc_young.c's gather (a young collection's host merges
            // no per-thread refcounts); a no-op after a full merge.
            HEAD_LOCK(&_PyRuntime);
            _PyObject_MergeThreadRefcountsOf(interp, op);
            HEAD_UNLOCK(&_PyRuntime);
        }
        if (_PyZgc_CandidateAdd(set, op) < 0) {
            return -1;
        }
    }
    trash->len = 0;
    if (trash->cap > 4096) {
        PyMem_RawFree(trash->items);
        trash->items = NULL;
        trash->cap = 0;
    }
    return 0;
}

// The counting pass subtracts through a small ring of pending visits: each
// referent is prefetched when its visit is queued, and checked and
// decremented COUNT_RING visits later.  The subtractions of a large set
// are one cache miss each (the referents are anywhere in the heap; the
// members are taken in address order), and the ring keeps up to
// COUNT_RING of them in flight instead of one.  The order of subtractions
// does not matter: nothing reads gc_refs before the pass ends.
#define COUNT_RING 16
#define COUNT_RING_MIN 4096

struct count_ring {
    PyObject *items[COUNT_RING];
    unsigned int next;            // the oldest entry once the ring is full
    unsigned int len;
};

// Subtract one reference from a referent that is a candidate.
static inline void
decref_candidate(PyObject *op)
{
    if (_PyObject_GC_IS_TRACKED(op) && is_candidate(op)) {
        op->ob_tid -= 1;
    }
}

// The counting pass's visit: with a ring as `arg`, the subtraction is
// queued; without, done at once.  Like upstream's visit_decref,
// _PyGC_VisitStackRef (gc_free_threading.c) recognizes this function and
// does not call it for deferred stack references in generator and frame
// objects: those are not counted in the refcount, so they must not be
// subtracted from it.  So every subtraction goes through this one.
int
_PyZgc_VisitDecrefCandidate(PyObject *op, void *arg)
{
    struct count_ring *ring = (struct count_ring *)arg;
    if (ring == NULL) {
        decref_candidate(op);
        return 0;
    }
    PREFETCH_WRITE(op);
    if (ring->len < COUNT_RING) {
        ring->items[ring->len++] = op;
        return 0;
    }
    decref_candidate(ring->items[ring->next]);
    ring->items[ring->next] = op;
    ring->next = (ring->next + 1) % COUNT_RING;
    return 0;
}

void
_PyZgc_ValidateCountRefs(struct _zgc_candidates *set)
{
    // gc_refs holds the refcount since the member was added
    // (_PyZgc_CandidateAdd): subtract the references from inside the set.
    // A small set (a young collection's) was just allocated and is in the
    // cache: the ring would only delay its subtractions.
    struct count_ring ring = { .next = 0, .len = 0 };
    struct count_ring *arg = set->len >= COUNT_RING_MIN ? &ring : NULL;
    for (Py_ssize_t i = 0; i < set->len; i++) {
        PyObject *op = set->items[i];
        Py_TYPE(op)->tp_traverse(op, _PyZgc_VisitDecrefCandidate, arg);
    }
    for (unsigned int k = 0; k < ring.len; k++) {
        decref_candidate(ring.items[k]);
    }
}

static int
visit_clear_candidate(PyObject *op, void *stack)
{
    if (_PyObject_GC_IS_TRACKED(op) && is_candidate(op)) {
        op->ob_gc_bits &= ~_PyGC_BITS_UNREACHABLE;
        return _PyObjectStack_Push((_PyObjectStack *)stack, op);
    }
    return 0;
}

int
_PyZgc_ValidateMarkReachable(struct _zgc_candidates *set, int keep_deferred)
{
    _PyObjectStack stack = { NULL };
    for (Py_ssize_t i = 0; i < set->len; i++) {
        PyObject *op = set->items[i];
        if (!is_candidate(op)) {
            continue;       // already found reachable
        }
        _PyObject_ASSERT_WITH_MSG(op, gc_get_refs(op) >= 0,
                                  "refcount is too small");
        if (op->ob_tid == 0
            && !(keep_deferred && _PyObject_HasDeferredRefcount(op)))
        {
            continue;       // no reference from outside (yet)
        }
        op->ob_gc_bits &= ~_PyGC_BITS_UNREACHABLE;
        do {
            if (Py_TYPE(op)->tp_traverse(op, visit_clear_candidate,
                                         &stack) < 0) {
                _PyObjectStack_Clear(&stack);
                return -1;
            }
            op = _PyObjectStack_Pop(&stack);
        } while (op != NULL);
    }
    return 0;
}

static void
release(struct _zgc_candidates *set)
{
    PyMem_RawFree(set->items);
    PyMem_RawFree(set->ages);
    *set = (struct _zgc_candidates){0};
}

Py_ssize_t
_PyZgc_ValidateScan(struct _zgc_candidates *set, _PyZgc_ScanFunc scan,
                    void *arg)
{
    struct _gc_runtime_state *gcstate = &_PyInterpreterState_GET()->gc;
    uint8_t color = gcstate->zgc_color;
    Py_ssize_t survivors = 0;
    // Survivors are old from now on: they go to the promoted log, a
    // survivor cycle's candidates (zgc_survivor.c), with this pause's
    // page-release sequence number, as the young log does; one older than
    // _PyZgc_PROMOTED_AGE_MAX survivor cycles is long-lived, and left to
    // full collections.
    struct _zgc_promoted *promoted = &gcstate->zgc_promoted_log;
    int log = _PyZgc_PromotedRoom(gcstate, set->len);
    uint64_t seq = _PyZgc_PageReleaseSeq();
    for (Py_ssize_t i = 0; i < set->len; i++) {
        PyObject *op = set->items[i];
        int survives = !is_candidate(op);
        // Every member gets the current color, garbage too: a finalizer
        // may resurrect it, and then it must be unmarked (a candidate
        // again) once the next full collection flips the color.
        _PyZgc_SetColor(op, color);
        scan(op, arg);
        if (survives) {
            // As upstream's full collection does: a surviving tuple that
            // can never be part of a cycle stops being tracked.
            if (PyTuple_CheckExact(op)) {
                _PyTuple_MaybeUntrack(op);
            }
            if (_PyObject_GC_IS_TRACKED(op)) {
                survivors++;
                uintptr_t age = i < set->naged ? set->ages[i] + 1u : 0;
                if (log && age <= _PyZgc_PROMOTED_AGE_MAX) {
                    promoted->items[promoted->len++] =
                        (struct _zgc_young_entry){
                            (PyObject *)((uintptr_t)op | age), seq };
                }
            }
        }
    }
    release(set);
    return survivors;
}

void
_PyZgc_ValidateAbort(struct _zgc_candidates *set, _PyZgc_ScanFunc restore,
                     void *arg)
{
    for (Py_ssize_t i = 0; i < set->len; i++) {
        restore(set->items[i], arg);
    }
    release(set);
}

#endif  /* Py_ZGC */
