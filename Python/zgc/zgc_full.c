/* zgc_full.c: candidate discovery of a full collection.
 *
 * Owns the phases a full collection runs before validation, all with the
 * world stopped (the collection's first pause), after the host merged
 * per-thread and biased refcounts and emptied the young logs:
 *
 *   1. mark: flip the color and mark from the roots (zgc_mark.c);
 *   2. sweep: walk the GC heaps once; every tracked, unfrozen, mortal
 *      object that is not marked becomes a candidate;
 *   3. count references inside the candidate set (zgc_validate.c).
 *
 * The host then validates the set exactly as for a young collection.
 * Marked objects are reachable from a root with the world stopped, so
 * skipping them is safe; everything else is decided by validation.
 *
 * At interpreter shutdown nothing is marked: every tracked object is a
 * candidate, so that the host sees each one (it turns off deferred
 * refcounting on the survivors too, as upstream does at shutdown).
 *
 * Colors must be current for marking to be complete: an object that still
 * has the previous cycle's color after the flip looks marked, so neither
 * it nor what only it reaches would be a candidate, and gc.collect() would
 * miss garbage.  Every path that leaves a tracked object with an old color
 * restores it (zgc_mark.c lists them); a full collection abandoned after
 * the flip (out of memory) cannot, so it leaves gcstate->zgc_colors_stale
 * set and the next full collection runs without marks: every tracked
 * object is a candidate, and every survivor gets the current color.
 *
 * The sweep also counts every object of the GC heaps, tracked or not
 * (upstream's long_lived_total, which pacing and test_gc rely on).
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_object.h"        // _Py_IsImmortal()
#include "pycore_zgc.h"

struct sweep_state {
    struct _zgc_candidates *set;
    uint8_t color;
    int use_marks;
    int error;
    Py_ssize_t objects;
};

static int
sweep_visit(PyObject *op, void *arg)
{
    struct sweep_state *sweep = (struct sweep_state *)arg;
    sweep->objects++;
    uint8_t bits = op->ob_gc_bits;
    if ((bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN))
        != _PyGC_BITS_TRACKED)
    {
        return 1;
    }
    if (sweep->use_marks && (bits & _PyGC_BITS_ZGC_COLOR) == sweep->color) {
        return 1;
    }
    if (_Py_IsImmortal(op)) {
        // Never garbage; upstream untracks such objects as well.
        _PyObject_GC_UNTRACK(op);
        return 1;
    }
    if (_PyZgc_CandidateAdd(sweep->set, op) < 0) {
        sweep->error = 1;
        return 0;
    }
    return 1;
}

int
_PyZgc_FullBegin(PyInterpreterState *interp, struct _zgc_candidates *set,
                 int use_marks, Py_ssize_t *objects, Py_ssize_t *marked)
{
    assert(interp->stoptheworld.world_stopped);
    *set = (struct _zgc_candidates){ NULL, 0, 0 };
    *objects = 0;
    *marked = 0;

    // The colors are only trustworthy if the last full collection got as
    // far as recoloring its survivors: until this one does, they are not.
    struct _gc_runtime_state *gcstate = &interp->gc;
    if (gcstate->zgc_colors_stale) {
        use_marks = 0;
    }
    gcstate->zgc_colors_stale = 1;

    if (use_marks) {
        struct _zgc_mark mark;
        _PyZgc_MarkStart(interp, &mark);
        int err = _PyZgc_MarkRoots(interp, &mark);
        if (err == 0) {
            err = _PyZgc_MarkDrain(&mark, -1);
        }
        *marked = mark.marked;
        _PyZgc_MarkDone(&mark);
        if (err < 0) {
            return -1;
        }
    }

    struct sweep_state sweep = {
        .set = set,
        .color = interp->gc.zgc_color,
        .use_marks = use_marks,
    };
    _PyGC_VisitAllObjectsWorldStopped(interp, sweep_visit, &sweep);
    *objects = sweep.objects;
    if (sweep.error) {
        return -1;
    }
    _PyZgc_ValidateCountRefs(set);
    return 0;
}

void
_PyZgc_FullDone(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    interp->gc.zgc_colors_stale = 0;
}

#endif  /* Py_ZGC */
