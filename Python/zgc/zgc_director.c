/* zgc_director.c: when pyzgc collects, and what.
 *
 * Owns the pacing policy (nothing here runs with the world stopped):
 *
 * - An automatic collection is due when threshold0 objects were allocated
 *   since the last one (gc.set_threshold(threshold0), upstream's counter);
 *   it is a young collection, whose cost is the young set, so no further
 *   heuristic holds it back.
 * - It is a full collection instead when the old generation grew enough:
 *   the objects promoted by young collections since the last full
 *   collection exceed ZGC_FULL_GROWTH_PERCENT of the objects that full
 *   collection left in the heap, and at least ZGC_FULL_MIN_PROMOTED.  The
 *   total work of full collections is then proportional to allocation
 *   (geometric growth), never quadratic in the heap size (gh-132917,
 *   gh-142531), and two full collections never run back to back without
 *   that much promotion in between (gh-142048).
 * - gc.collect(0) is a young collection, gc.collect(1) and gc.collect(2)
 *   are full collections; both are synchronous.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_zgc.h"

#define ZGC_FULL_GROWTH_PERCENT 25
#define ZGC_FULL_MIN_PROMOTED 20000

int
_PyZgc_ChooseGeneration(struct _gc_runtime_state *gcstate)
{
    Py_ssize_t promoted = gcstate->zgc_promoted;
    Py_ssize_t limit = gcstate->zgc_live_after_full / 100
                       * ZGC_FULL_GROWTH_PERCENT;
    if (limit < ZGC_FULL_MIN_PROMOTED) {
        limit = ZGC_FULL_MIN_PROMOTED;
    }
    return promoted > limit ? 2 : 0;
}

void
_PyZgc_CollectionDone(struct _gc_runtime_state *gcstate, int generation,
                      Py_ssize_t promoted, Py_ssize_t live)
{
    if (generation == 0) {
        gcstate->zgc_promoted += promoted;
    }
    else {
        gcstate->zgc_promoted = 0;
        gcstate->zgc_live_after_full = live;
    }
}

#endif  /* Py_ZGC */
