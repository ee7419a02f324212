/* zgc_full.c: candidate discovery of a full collection, in slices.
 *
 * Owns the cycle a full collection runs before validation: every step
 * runs with the world stopped, but the steps can be spread over many
 * short stop-the-world slices with the mutators running in between
 * (the host, gc_free_threading.c, decides; zgc_director.c paces):
 *
 *   start: flip the color, snapshot the GC heaps' pages (zgc_pages.c),
 *          push the roots (zgc_mark.c);
 *   mark:  pop and traverse within the slice's budget;
 *   sweep: visit snapshot pages within the budget; every tracked,
 *          unfrozen, mortal object that is not marked is remembered;
 *   index, link, plan: when the remembered objects are more than one
 *          batch, split them into weakly connected components (below)
 *          and write them out as the batch order, within the budget too;
 *   ready: the host's validation pauses, with refcounts merged, turn the
 *          remembered objects that are still candidates into candidate
 *          sets, one batch of whole components per pause
 *          (_PyZgc_FullBatch; zgc_validate.c decides).
 *
 * Why the world may run between slices.  No slice declares anything
 * garbage; between slices, the collector holds only pointers (mark-stack
 * entries, snapshot pages, remembered objects) and colors.  The colors are
 * hints: soundness comes from validation alone.  Mutators may, between
 * slices:
 *   - move a reference from an unmarked holder into a marked one (no write
 *     barrier): the target stays unmarked, is remembered, and validation
 *     keeps it, since the marked holder's reference is in its refcount;
 *   - create objects: they are tracked with the cycle's color (zgc_young.c)
 *     and are never candidates of this cycle;
 *   - free objects and reuse their memory: a pointer is only followed if
 *     no page release since the cycle's start covers it (zgc_heap.c), and
 *     then it points at an object header: the same object, a freed block
 *     (PyObject_GC_Del cleared TRACKED), or an object allocated during the
 *     cycle (which has the cycle's color, or is not tracked yet).  Popped
 *     mark-stack entries and remembered objects are filtered by exactly
 *     that: TRACKED, not FROZEN, and for remembered objects still
 *     unmarked;
 *   - freeze objects (never candidates), start and end threads (their
 *     pages stay in the snapshot, or are released).
 * The release records this needs stay available: while a cycle is in
 * progress, the interpreter's young-log floor, which bounds what
 * zgc_heap.c may drop, is never newer than the cycle's start
 * (_PyZgc_CycleFloor), whatever young collections run meanwhile.
 *
 * Young collections between slices.  The host runs a due young collection
 * between two slices (handing its `collecting` flag to it; a full
 * collection requested meanwhile waits for the cycle or becomes young,
 * gc_free_threading.c).  To the cycle a
 * young collection is a mutator that frees objects and recolors the
 * survivors of its young set with the cycle's color: freed objects are
 * covered above; a survivor colored "marked" is not traversed by marking,
 * so what only it references may stay unmarked and be remembered, and
 * validation, which counts the survivor's references, keeps it (colors are
 * hints).  The young collection empties the young logs, pre-cycle entries
 * included (YoungCycleEnd then has nothing to trim).
 *
 * Complete.  Garbage that exists when the cycle starts is reachable from
 * no root and no mutator, so it is never marked, and it sits on a page of
 * the snapshot that cannot be released while it is there: it is
 * remembered, and validation frees it.  (Garbage made during the cycle is
 * left to the next collection.)  That keeps gc.collect()'s count exact for
 * what was garbage when it was called.
 *
 * Colors must be current for marking to be complete (zgc_mark.c).  A
 * cycle abandoned after the flip (out of memory) leaves some objects with
 * the previous color, so it sets gcstate->zgc_colors_stale and the next
 * full collection runs without marks: every tracked object is remembered,
 * and validation gives every survivor the current color.  At interpreter
 * shutdown nothing is marked either, so that every survivor reaches the
 * host, which turns off its deferred refcounting as upstream does.
 *
 * The sweep also counts every object of the GC heaps, tracked or not
 * (upstream's long_lived_total, which pacing and test_gc rely on).
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_object.h"        // _Py_IsImmortal()
#include "pycore_pystate.h"       // _PyThreadState_GET()
#include "pycore_zgc.h"

enum {
    CYCLE_IDLE = 0,
    CYCLE_MARK,
    CYCLE_SWEEP,
    CYCLE_INDEX,
    CYCLE_LINK,
    CYCLE_PLAN,
    CYCLE_READY,
    CYCLE_SURVIVOR,       // a survivor cycle's discovery (zgc_survivor.c)
};

// In the batch order, the first member of each component (found[] indices
// stay below INT32_MAX / 4: worth_linking()), and the members of a
// component a survivor cycle leaves to full collections (too large for a
// batch: see SURVIVOR_COMPONENT_BATCHES).
#define ORDER_FIRST ((int32_t)1 << 30)
#define ORDER_SKIP ((int32_t)1 << 29)
#define ORDER_INDEX (ORDER_SKIP - 1)

// A survivor cycle validates no component of more than this many batches
// (_PyZgc_BatchObjects()): its candidates include live objects, and a
// large live structure promoted recently (one a program just built) is one
// component, which would be one long pause; it leaves the promoted log,
// and full collections, which mark it, never validate it.
#define SURVIVOR_COMPONENT_BATCHES 2

// While the plan runs, a component's root in the forest holds ROOT_TAG
// (the sign bit: no index is negative) with its member count, then with
// the next place of the batch order its members go to, and ROOT_FRESH
// until the first of them has gone there.
#define ROOT_TAG INT32_MIN
#define ROOT_FRESH ((int32_t)1 << 30)
#define ROOT_VALUE (ROOT_FRESH - 1)
// With the place: the component is skipped (ORDER_SKIP).
#define ROOT_SKIP ((int32_t)1 << 29)
#define ROOT_PLACE (ROOT_SKIP - 1)

// The plan's passes over found[] (see CYCLE_PLAN in cycle_work()).
enum { PLAN_ROOTS, PLAN_COUNT, PLAN_PLACES, PLAN_WRITE };

// Look at the clock every this many units of work.
#define CLOCK_EVERY 64

// Mark-stack entries handed to the marking helper at most at a time.
#define HELPER_SHARE 4096

// Free the buffer `ptr` of `size` bytes (zgc_buffer.c) once the world runs
// again (or now, if too much is pending).
static void
free_later(struct _zgc_cycle *cycle, void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    if (cycle->graveyard_len < (int)Py_ARRAY_LENGTH(cycle->graveyard)) {
        cycle->graveyard[cycle->graveyard_len].ptr = ptr;
        cycle->graveyard[cycle->graveyard_len].size = size;
        cycle->graveyard_len++;
    }
    else {
        _PyZgc_BufferFree(ptr, size);
    }
}

void
_PyZgc_CycleFreeLater(struct _zgc_cycle *cycle, void *ptr, size_t size)
{
    free_later(cycle, ptr, size);
}

static int found_reserve(struct _zgc_cycle *cycle, Py_ssize_t n);

/* Populating ahead.  The mark stack, found[] and the index's arrays are
 * written a little further by every slice, and a first write to a page is
 * a page fault, now and then a very slow one (zgc_buffer.c).  After every
 * pause, with the world running, the collecting thread makes room for and
 * populates PREFAULT_AHEAD bytes past where the slices write (the mark
 * stack's top, found[]'s end, the index cursor; the directory whole), so
 * that the next slices rarely fault.  The pages would be touched anyway:
 * this moves the faults out of the pauses.  The thread holds `collecting`
 * (zgc_stat.c's caller), so no slice runs meanwhile; a failure to grow is
 * left to the slice, which reports it as it always did. */
#define PREFAULT_AHEAD ((size_t)1 << 20)

// How many entries past `len` to populate: PREFAULT_AHEAD bytes' worth,
// but never past `most` entries (a mark stack holds each live object at
// most once, plus the containers being traversed; found[] each tracked
// object at most once), so that a small heap's collection does not map
// and populate megabytes it will never write.
static size_t
ahead_of(Py_ssize_t len, size_t item_size, Py_ssize_t most)
{
    Py_ssize_t ahead = (Py_ssize_t)(PREFAULT_AHEAD / item_size);
    if (ahead > most - len) {
        ahead = most - len;
    }
    return ahead > 0 ? (size_t)ahead : 0;
}

static void
prefault_ahead(struct _zgc_cycle *cycle, Py_ssize_t heap_objects)
{
    struct _zgc_mark *mark = &cycle->mark;
    // The GC heap's objects as counted now, with room for what is being
    // allocated meanwhile.
    Py_ssize_t most = (heap_objects > 0 ? heap_objects : 0) + 4096;
    size_t ahead;
    switch (cycle->phase) {
    case CYCLE_MARK:
        for (int i = 0; i < 2; i++, mark = &cycle->helper_mark) {
            ahead = ahead_of(mark->len, sizeof(*mark->items), most);
            if (ahead > 0
                && _PyZgc_MarkReserve(mark, mark->len + ahead) == 0)
            {
                _PyZgc_BufferPrefault(
                    mark->items, &mark->touched,
                    (mark->len + ahead) * sizeof(*mark->items));
            }
        }
        break;
    case CYCLE_SWEEP:
        ahead = ahead_of(cycle->nfound, sizeof(PyObject *), most);
        if (ahead > 0
            && found_reserve(cycle, cycle->nfound + ahead) == 0)
        {
            _PyZgc_BufferPrefault(
                cycle->found, &cycle->found_touched,
                (cycle->nfound + ahead) * sizeof(PyObject *));
        }
        break;
    case CYCLE_INDEX: {
        // parent[] and order[] are written at the cursor; the block maps
        // in run order, which is found[] order; the directory anywhere.
        size_t want = (cycle->cursor * sizeof(int32_t)) + PREFAULT_AHEAD;
        size_t size = cycle->capindex * sizeof(int32_t);
        want = want < size ? want : size;
        _PyZgc_BufferPrefault(cycle->parent, &cycle->parent_touched, want);
        _PyZgc_BufferPrefault(cycle->order, &cycle->order_touched, want);
        if (cycle->blockmap != NULL) {
            // From the next mapped run at or after the cursor's.
            Py_ssize_t r = cycle->run_cursor;
            while (r < cycle->nruns && cycle->runs[r].map < 0) {
                r++;
            }
            if (r < cycle->nruns) {
                size_t mwant = (size_t)cycle->runs[r].map * sizeof(int32_t)
                               + PREFAULT_AHEAD;
                size_t msize = cycle->capmap * sizeof(int32_t);
                _PyZgc_BufferPrefault(cycle->blockmap, &cycle->map_touched,
                                      mwant < msize ? mwant : msize);
            }
        }
        _PyZgc_BufferPrefault(cycle->dir, &cycle->dir_touched,
                              (cycle->dir_mask + 1) * sizeof(*cycle->dir));
        break;
    }
    case CYCLE_SURVIVOR:
        // The filter appends to found[]; the sort's passes write both
        // buffers anywhere: populate both whole, once.
        _PyZgc_BufferPrefault(cycle->found, &cycle->found_touched,
                              cycle->capfound * sizeof(PyObject *));
        if (cycle->scratch != NULL) {
            _PyZgc_BufferPrefault(cycle->scratch, &cycle->scratch_touched,
                                  cycle->capscratch * sizeof(PyObject *));
        }
        break;
    default:
        break;
    }
}

void
_PyZgc_CycleAfterPause(struct _gc_runtime_state *gcstate)
{
    struct _zgc_cycle *cycle = &gcstate->zgc_cycle;
    while (cycle->graveyard_len > 0) {
        cycle->graveyard_len--;
        _PyZgc_BufferFree(cycle->graveyard[cycle->graveyard_len].ptr,
                          cycle->graveyard[cycle->graveyard_len].size);
    }
    prefault_ahead(cycle,
                   _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects));
}

// The mark stacks and found[] go to the next cycle (zgc_buffer.c: kept
// by role, trimmed at the end of the collection); the rest is freed.
static void
mark_done(struct _zgc_cycle *cycle)
{
    struct _zgc_mark *stacks[2] = { &cycle->mark, &cycle->helper_mark };
    int roles[2] = { ZGC_BUFFER_MARK, ZGC_BUFFER_HELPER_MARK };
    for (int i = 0; i < 2; i++) {
        _PyZgc_BufferKeep(roles[i], stacks[i]->items,
                          (size_t)stacks[i]->cap * sizeof(*stacks[i]->items));
        stacks[i]->items = NULL;
        stacks[i]->cap = 0;
        _PyZgc_MarkDone(stacks[i]);
    }
}

// Take the buffer the last cycle kept for `role`, if any.
static void
adopt(int role, void **items, Py_ssize_t *cap, size_t item_size)
{
    assert(*items == NULL);
    size_t size;
    void *ptr = _PyZgc_BufferTake(role, &size);
    if (ptr != NULL) {
        *items = ptr;
        *cap = (Py_ssize_t)(size / item_size);
    }
}

static void index_free(struct _zgc_cycle *cycle);

// Zero the cycle but its graveyard: buffers freed by a cycle that ended
// (or was abandoned, after its last pause) wait there for the end of the
// next pause, which may be the one that starts the next cycle.  A
// gc.collect() that abandons a detached survivor cycle resets it with the
// world running while other threads read `detached`, `next_slice` and
// `behind` (_PyZgc_CycleDetached(), _PyZgc_SliceDue(), _PyZgc_FlushAfter()):
// those are stored atomically, never by the memset.
static void
cycle_reset(struct _zgc_cycle *cycle)
{
    memset(cycle, 0, offsetof(struct _zgc_cycle, detached));
    _Py_atomic_store_int_relaxed(&cycle->detached, 0);
    _Py_atomic_store_int64_relaxed(&cycle->next_slice, 0);
    _Py_atomic_store_int_relaxed(&cycle->behind, 0);
}

static void
cycle_free(struct _zgc_cycle *cycle)
{
    if (cycle->survivor) {
        _PyZgc_SurvivorFree(cycle);
    }
    mark_done(cycle);
    _PyZgc_PagesDone(&cycle->pages);
    _PyZgc_PageLookupDone(&cycle->released);
    _PyZgc_BufferKeep(ZGC_BUFFER_FOUND, cycle->found,
                      cycle->capfound * sizeof(PyObject *));
    cycle->found = NULL;
    index_free(cycle);
    PyMem_RawFree(cycle->runs);
    free_later(cycle, cycle->parent, cycle->capindex * sizeof(int32_t));
    free_later(cycle, cycle->order, cycle->capindex * sizeof(int32_t));
    cycle_reset(cycle);
}

// A survivor cycle (zgc_survivor.c): no color flip, no marking, no sweep;
// the promoted log gives the candidates.  The colors and the young logs
// are left as they are: what is young stays young.
static int
survivor_start(PyInterpreterState *interp, struct _zgc_cycle *cycle)
{
    struct _gc_runtime_state *gcstate = &interp->gc;
    cycle_reset(cycle);
    cycle->survivor = 1;
    cycle->seq = _PyZgc_PageReleaseSeq();
    cycle->net_at_start = _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
    gcstate->zgc_promoted_log.net_at_cycle = cycle->net_at_start;
    cycle->use_marks = 0;
    cycle->owner = _PyThreadState_GET();
    cycle->color = gcstate->zgc_color;
    cycle->phase = CYCLE_SURVIVOR;
    adopt(ZGC_BUFFER_FOUND, (void **)&cycle->found, &cycle->capfound,
          sizeof(*cycle->found));
    if (_PyZgc_SurvivorStart(interp, cycle) < 0
        || found_reserve(cycle, Py_MAX(cycle->nlog, 1)) < 0)
    {
        return -1;
    }
    return 0;
}

static int
cycle_start(PyInterpreterState *interp, struct _zgc_cycle *cycle,
            int use_marks)
{
    struct _gc_runtime_state *gcstate = &interp->gc;
    // It examines every object tracked now, those not in the promoted log
    // too.
    _PyZgc_PromotedFullStart(gcstate);
    // The colors are only trustworthy if the last full collection got as
    // far as recoloring its survivors: until this one does, they are not.
    if (gcstate->zgc_colors_stale) {
        use_marks = 0;
    }
    gcstate->zgc_colors_stale = 1;

    cycle_reset(cycle);
    cycle->seq = _PyZgc_PageReleaseSeq();
    cycle->net_at_start = _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
    cycle->use_marks = use_marks;
    if (use_marks) {
        _PyZgc_MarkStart(interp, &cycle->mark);
        cycle->helper_mark.color = cycle->mark.color;
        adopt(ZGC_BUFFER_MARK, (void **)&cycle->mark.items, &cycle->mark.cap,
              sizeof(*cycle->mark.items));
        adopt(ZGC_BUFFER_HELPER_MARK, (void **)&cycle->helper_mark.items,
              &cycle->helper_mark.cap, sizeof(*cycle->helper_mark.items));
    }
    adopt(ZGC_BUFFER_FOUND, (void **)&cycle->found, &cycle->capfound,
          sizeof(*cycle->found));
    _PyZgc_YoungCycleStart(interp);
    cycle->owner = _PyThreadState_GET();
    cycle->color = gcstate->zgc_color;
    cycle->phase = use_marks ? CYCLE_MARK : CYCLE_SWEEP;
    if (_PyZgc_PagesSnapshot(interp, &cycle->pages) < 0) {
        return -1;
    }
    if (use_marks && _PyZgc_MarkRoots(interp, &cycle->mark) < 0) {
        return -1;
    }
    return 0;
}

static int
found_reserve(struct _zgc_cycle *cycle, Py_ssize_t n)
{
    return _PyZgc_BufferReserve((void **)&cycle->found, &cycle->capfound, n,
                                sizeof(PyObject *), 8192);
}

void
_PyZgc_CycleSwapFound(struct _zgc_cycle *cycle)
{
    PyObject **found = cycle->found;
    Py_ssize_t cap = cycle->capfound;
    size_t touched = cycle->found_touched;
    cycle->found = cycle->scratch;
    cycle->capfound = cycle->capscratch;
    cycle->found_touched = cycle->scratch_touched;
    cycle->scratch = found;
    cycle->capscratch = cap;
    cycle->scratch_touched = touched;
}

static int
remember(struct _zgc_cycle *cycle, PyObject *op)
{
    if (cycle->nfound == cycle->capfound
        && found_reserve(cycle, cycle->nfound + 1) < 0)
    {
        return -1;
    }
    cycle->found[cycle->nfound++] = op;
    return 0;
}

struct sweep_state {
    struct _zgc_cycle *cycle;
    int error;
};

static int
sweep_visit(PyObject *op, void *arg)
{
    struct sweep_state *sweep = (struct sweep_state *)arg;
    struct _zgc_cycle *cycle = sweep->cycle;
    cycle->objects++;
    uint8_t bits = op->ob_gc_bits;
    if ((bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN))
        != _PyGC_BITS_TRACKED)
    {
        return 1;
    }
    if (cycle->use_marks && (bits & _PyGC_BITS_ZGC_COLOR) == cycle->color) {
        return 1;
    }
    if (_Py_IsImmortal(op)) {
        // Never garbage; upstream untracks such objects as well.
        _PyObject_GC_UNTRACK(op);
        return 1;
    }
    if (remember(cycle, op) < 0) {
        sweep->error = 1;
        return 0;
    }
    return 1;
}


/* Components.  A remembered object is still a candidate if no page release
 * since the cycle's start covers it and it is a tracked, unfrozen, mortal,
 * unmarked object (not yet in a candidate set). */
static int
still_candidate(struct _zgc_cycle *cycle,
                const struct _zgc_page_lookup *released, PyObject *op)
{
    if (_PyZgc_PageReleasedSince(released, op, cycle->seq)) {
        return 0;
    }
    uint8_t bits = op->ob_gc_bits;
    if ((bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN
                 | _PyGC_BITS_UNREACHABLE)) != _PyGC_BITS_TRACKED
        || (cycle->use_marks && (bits & _PyGC_BITS_ZGC_COLOR) == cycle->color)
        || _Py_IsImmortal(op))
    {
        return 0;
    }
    return 1;
}

int
_PyZgc_CycleCandidate(struct _zgc_cycle *cycle,
                      const struct _zgc_page_lookup *released, PyObject *op)
{
    return still_candidate(cycle, released, op);
}

/* The found objects are split into the weakly connected components of the
 * graph of references between them, so that validation can take them in
 * batches of whole components: trial deletion over any set is sound (the
 * rule above), but a garbage component split between two batches would be
 * kept by both halves.  Index: from an address to its found[] index (below).
 * Link: traverse every found object that is still a candidate and join its
 * component with that of each referent that is a found object (union-find
 * with path halving).  Plan: a counting sort of found[] indices by
 * component writes the batch order, each component's members next to each
 * other and in address order, so that a batch reads a stretch of it and
 * never skips, and its pauses visit memory in order.
 *
 * All three run in slices.  Links reflect the graph when they were made: a
 * mutator that changes it later (only objects it can reach, i.e. live
 * ones) can at worst split a component between batches, which keeps it
 * alive until the next cycle; garbage does not change.
 *
 * The index follows the heap's layout, so that linking neighbors (most
 * references between found objects are between objects allocated close
 * together) touches neighboring index entries: a hash table from address
 * to index made every lookup a cache and TLB miss (85% of linking's time
 * at 4M live objects).  The sweep records a run per page that gave found
 * objects (their found[] indices are consecutive, in block order).  A
 * directory maps each 64 KiB slice of address space a run covers to the
 * run (mimalloc's pages are whole slices, so no two pages share one).  A
 * run whose found objects are dense on its page gets a block map (block
 * number -> found index); a sparse one is searched, found[] being in block
 * order.  Lookups read only these arrays and confirm with found[k] == op,
 * never the memory `op` might be in: a page released and reused since the
 * sweep can only make a lookup miss, and a miss only splits a component.
 * (The same page swept twice, or a run out of order, likewise.) */

// Address slices of the directory (mimalloc's MI_SEGMENT_SLICE_SHIFT).
#define SLICE_SHIFT 16
// A run gets a block map if it is at most this many entries per member.
#define MAP_PER_MEMBER 4

int
_PyZgc_CycleAddRun(struct _zgc_cycle *cycle, const struct _zgc_page_ref *ref,
                   Py_ssize_t first)
{
    if (cycle->nruns == cycle->capruns) {
        Py_ssize_t cap = cycle->capruns ? cycle->capruns * 2 : 256;
        struct _zgc_found_run *runs =
            PyMem_RawRealloc(cycle->runs, cap * sizeof(*runs));
        if (runs == NULL) {
            return -1;
        }
        cycle->runs = runs;
        cycle->capruns = cap;
    }
    // The run's extent is read from its last member now, while found[]'s
    // tail is in the cache: index_start() reading one found[] entry per
    // run, a page apart, cost 3-4 us a page on this VM once found[] had
    // gone cold (1,600 runs: 4-5.6 ms of one pause).
    PyObject *last = cycle->found[cycle->nfound - 1];
    uintptr_t start = (uintptr_t)ref->start;
    cycle->runs[cycle->nruns++] = (struct _zgc_found_run){
        .start = start,
        .block_size = ref->block_size,
        .first = (int32_t)first,
        .count = (int32_t)(cycle->nfound - first),
        .map = -1,
        .offset = ref->offset,
        .blocks = (int32_t)(((uintptr_t)last - ref->offset - start)
                            / ref->block_size + 1),
    };
    return 0;
}

static inline uintptr_t
block_of(const struct _zgc_found_run *run, PyObject *op)
{
    return ((uintptr_t)op - run->offset - run->start) / run->block_size;
}

static inline Py_ssize_t
dir_slot(uintptr_t slice, Py_ssize_t mask)
{
    return (Py_ssize_t)((slice * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
}

static void
index_free(struct _zgc_cycle *cycle)
{
    free_later(cycle, cycle->dir,
               (cycle->dir_mask + 1) * sizeof(*cycle->dir));
    cycle->dir = NULL;
    cycle->dir_mask = 0;
    free_later(cycle, cycle->blockmap, cycle->capmap * sizeof(int32_t));
    cycle->blockmap = NULL;
    cycle->capmap = 0;
}

// The slices run `r` covers: from its first block to the end of the block
// of its last member.
static void
run_slices(const struct _zgc_found_run *run, uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t end = run->start + (uintptr_t)run->blocks * run->block_size;
    *lo = run->start >> SLICE_SHIFT;
    *hi = (end - 1) >> SLICE_SHIFT;
}

// Size the directory and the block maps (O(runs), reading runs[] only).
static int
index_start(struct _zgc_cycle *cycle)
{
    Py_ssize_t slices = 0, mapped = 0;
    for (Py_ssize_t r = 0; r < cycle->nruns; r++) {
        struct _zgc_found_run *run = &cycle->runs[r];
        uintptr_t lo, hi;
        run_slices(run, &lo, &hi);
        slices += (Py_ssize_t)(hi - lo + 1);
        uintptr_t nmap = (uintptr_t)run->blocks;
        if (nmap <= (uintptr_t)run->count * MAP_PER_MEMBER) {
            run->map = (int32_t)mapped;
            run->nmap = (int32_t)nmap;
            mapped += (Py_ssize_t)nmap;
        }
    }
    Py_ssize_t size = 1024;
    while (size < 2 * slices) {
        size *= 2;
    }
    // Buffers (zgc_buffer.c): zero pages, touched a slice at a time.
    cycle->dir = _PyZgc_BufferGrow(NULL, 0, size * sizeof(*cycle->dir));
    if (cycle->dir == NULL) {
        return -1;
    }
    cycle->dir_mask = size - 1;
    if (mapped > 0) {
        cycle->blockmap = _PyZgc_BufferGrow(NULL, 0, mapped * sizeof(int32_t));
        if (cycle->blockmap == NULL) {
            return -1;
        }
        cycle->capmap = mapped;
    }
    cycle->capindex = cycle->nfound;
    cycle->parent = _PyZgc_BufferGrow(NULL, 0,
                                      cycle->capindex * sizeof(int32_t));
    cycle->order = _PyZgc_BufferGrow(NULL, 0,
                                     cycle->capindex * sizeof(int32_t));
    if (cycle->parent == NULL || cycle->order == NULL) {
        return -1;
    }
    cycle->cursor = 0;
    cycle->run_cursor = 0;
    return 0;
}

// A run's first member enters the directory under each slice it covers
// (a slice already taken keeps its first run).
static void
dir_add(struct _zgc_cycle *cycle, Py_ssize_t r)
{
    uintptr_t lo, hi;
    run_slices(&cycle->runs[r], &lo, &hi);
    for (uintptr_t slice = lo; slice <= hi; slice++) {
        Py_ssize_t slot = dir_slot(slice, cycle->dir_mask);
        while (cycle->dir[slot].run != 0 && cycle->dir[slot].slice != slice) {
            slot = (slot + 1) & cycle->dir_mask;
        }
        if (cycle->dir[slot].run == 0) {
            cycle->dir[slot].slice = slice;
            cycle->dir[slot].run = (int32_t)r + 1;
        }
    }
}

static void
index_add(struct _zgc_cycle *cycle, int32_t i)
{
    struct _zgc_found_run *run = &cycle->runs[cycle->run_cursor];
    if (i >= run->first + run->count) {
        run++;
        cycle->run_cursor++;
    }
    assert(i >= run->first && i < run->first + run->count);
    if (i == run->first) {
        dir_add(cycle, cycle->run_cursor);
    }
    PyObject *op = cycle->found[i];
    if (run->map >= 0) {
        // The map was sized from the run's last member: a member past it
        // (the run out of block order, not expected) stays unmapped, so
        // that its lookups miss rather than the map overflow.
        uintptr_t b = block_of(run, op);
        if (b < (uintptr_t)run->nmap && cycle->blockmap[run->map + b] == 0) {
            cycle->blockmap[run->map + b] = i + 1;
        }
    }
    else if (i > run->first
             && (uintptr_t)cycle->found[i - 1] >= (uintptr_t)op)
    {
        // Out of block order (not expected): no lookup searches this run.
        run->nmap = -1;
    }
    cycle->parent[i] = i;
    cycle->order[i] = i;            // populates the page, in the slice
}

static int32_t
index_lookup(struct _zgc_cycle *cycle, PyObject *op)
{
    uintptr_t slice = (uintptr_t)op >> SLICE_SHIFT;
    Py_ssize_t slot = dir_slot(slice, cycle->dir_mask);
    int32_t r;
    while ((r = cycle->dir[slot].run) != 0) {
        if (cycle->dir[slot].slice == slice) {
            break;
        }
        slot = (slot + 1) & cycle->dir_mask;
    }
    if (r == 0) {
        return -1;
    }
    const struct _zgc_found_run *run = &cycle->runs[r - 1];
    if ((uintptr_t)op < run->start + run->offset) {
        return -1;
    }
    uintptr_t b = block_of(run, op);
    PyObject **found = cycle->found;
    if (run->map >= 0) {
        if (b >= (uintptr_t)run->nmap) {
            return -1;
        }
        int32_t k = cycle->blockmap[run->map + b];
        return (k != 0 && found[k - 1] == op) ? k - 1 : -1;
    }
    // Sparse: the k-th member is at block k or later.
    if (run->nmap < 0) {
        return -1;
    }
    Py_ssize_t lo = run->first;
    Py_ssize_t hi = run->first + Py_MIN((uintptr_t)run->count, b + 1);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)found[mid] < (uintptr_t)op) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return (lo < run->first + run->count && found[lo] == op) ? (int32_t)lo : -1;
}

static int32_t
find_root(int32_t *parent, int32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

struct link_state {
    struct _zgc_cycle *cycle;
    int32_t from;
};

static int
link_visit(PyObject *op, void *arg)
{
    struct link_state *link = (struct link_state *)arg;
    struct _zgc_cycle *cycle = link->cycle;
    uint8_t bits = op->ob_gc_bits;
    if ((bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN))
        != _PyGC_BITS_TRACKED
        || (cycle->use_marks && (bits & _PyGC_BITS_ZGC_COLOR) == cycle->color))
    {
        return 0;
    }
    int32_t j = index_lookup(cycle, op);
    if (j < 0) {
        return 0;
    }
    int32_t a = find_root(cycle->parent, link->from);
    int32_t b = find_root(cycle->parent, j);
    if (a != b) {
        cycle->parent[b] = a;
    }
    return 0;
}

// Does the cycle split its found objects into components?  Only if they are
// more than one batch, and few enough for 32-bit indices.
static int
worth_linking(struct _zgc_cycle *cycle)
{
    return cycle->nfound > _PyZgc_BatchObjects()
           && cycle->nfound < INT32_MAX / 4;
}

static int
past(PyTime_t deadline)
{
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    return now >= deadline;
}

// found[] is complete, in address order with a run per page: link it
// into components if it is more than a batch and the cycle runs in slices.
static int
found_complete(struct _zgc_cycle *cycle, PyTime_t deadline)
{
    cycle->phase = CYCLE_READY;
    if (deadline && worth_linking(cycle)) {
        // Sliced: link the found objects, to validate them in batches.
        if (index_start(cycle) < 0) {
            return -1;
        }
        cycle->phase = CYCLE_INDEX;
    }
    return 0;
}

// One slice of work until `deadline` (none if 0).  1: the cycle is
// ready; 0: more to do; -1: out of memory.
static int
cycle_work(struct _zgc_cycle *cycle, const struct _zgc_page_lookup *released,
           PyTime_t deadline)
{
    if (cycle->phase == CYCLE_MARK) {
        // With a deadline, the marking helper (zgc_helper.c) drains a
        // stack of its own alongside: when it has nothing, it gets the top
        // HELPER_SHARE entries of ours.  Marking is done when both stacks
        // are empty; what the helper leaves at the end of a slice waits
        // for its next one, or becomes ours when ours runs dry.
        struct _zgc_mark *mine = &cycle->mark, *its = &cycle->helper_mark;
        for (;;) {
            int helped = 0;
            if (deadline) {
                if (its->len == 0 && mine->len > 1
                    && _PyZgc_MarkSplit(mine, its,
                                        Py_MIN(mine->len / 2,
                                               HELPER_SHARE)) < 0)
                {
                    return -1;
                }
                if (its->len > 0) {
                    helped = _PyZgc_HelperBegin(_PyInterpreterState_GET(), its,
                                                released, cycle->seq,
                                                deadline);
                }
            }
            int done;
            do {
                done = _PyZgc_MarkDrain(mine, released, cycle->seq,
                                        deadline ? CLOCK_EVERY : -1);
            } while (done == 0 && !past(deadline));
            if (helped && _PyZgc_HelperEnd() < 0) {
                done = -1;
            }
            mine->marked += its->marked;
            its->marked = 0;
            if (done < 0) {
                return -1;
            }
            if (done && its->len == 0) {
                mark_done(cycle);   // keeps mark.marked
                cycle->phase = CYCLE_SWEEP;
                break;
            }
            if (done) {
                // Ours is empty: take the helper's whole stack (swapping
                // buffers: its stack can hold millions of entries, and
                // copying them made slices of several milliseconds).
                _PyZgc_MarkSwap(mine, its);
            }
            if (deadline && past(deadline)) {
                return 0;
            }
        }
    }
    if (cycle->phase == CYCLE_SWEEP) {
        struct sweep_state sweep = { .cycle = cycle };
        while (cycle->pages.next < cycle->pages.len) {
            if (deadline && past(deadline)) {
                return 0;
            }
            struct _zgc_page_ref *ref =
                &cycle->pages.items[cycle->pages.next];
            Py_ssize_t before = cycle->nfound;
            (void)_PyZgc_PageVisit(ref, released, cycle->seq, sweep_visit,
                                   &sweep);
            if (sweep.error) {
                return -1;
            }
            if (cycle->nfound > before
                && _PyZgc_CycleAddRun(cycle, ref, before) < 0)
            {
                return -1;
            }
            cycle->pages.next++;
        }
        _PyZgc_PagesDone(&cycle->pages);
        if (found_complete(cycle, deadline) < 0) {
            return -1;
        }
    }
    if (cycle->phase == CYCLE_SURVIVOR) {
        int done = _PyZgc_SurvivorWork(cycle, released, deadline);
        if (done <= 0) {
            return done;
        }
        if (found_complete(cycle, deadline) < 0) {
            return -1;
        }
    }
    if (cycle->phase == CYCLE_INDEX) {
        while (cycle->cursor < cycle->nfound) {
            if ((cycle->cursor % (CLOCK_EVERY * 4)) == 0
                && deadline && past(deadline)) {
                return 0;
            }
            index_add(cycle, (int32_t)cycle->cursor++);
            cycle->steps++;
        }
        cycle->cursor = 0;
        cycle->phase = CYCLE_LINK;
    }
    if (cycle->phase == CYCLE_LINK) {
        struct link_state link = { .cycle = cycle };
        while (cycle->cursor < cycle->nfound) {
            if ((cycle->cursor % CLOCK_EVERY) == 0
                && deadline && past(deadline)) {
                return 0;
            }
            link.from = (int32_t)cycle->cursor++;
            cycle->steps++;
            PyObject *op = cycle->found[link.from];
            if (still_candidate(cycle, released, op)) {
                (void)Py_TYPE(op)->tp_traverse(op, link_visit, &link);
            }
        }
        // The index has served; the forest becomes the plan.
        index_free(cycle);
        cycle->cursor = 0;
        cycle->plan_pass = PLAN_ROOTS;
        cycle->plan_place = 0;
        cycle->phase = CYCLE_PLAN;
    }
    if (cycle->phase == CYCLE_PLAN) {
        // Write the batch order: the members of each component next to
        // each other, in found[] order, which is address order; the first
        // member of each is flagged.  Four passes over found[] indices,
        // reading and writing only parent[] and order[], no object:
        //   roots:  parent[i] = the root of i's component;
        //   count:  each root counts its members (tagged, see ROOT_TAG);
        //   places: each root gets its component's first place in order[]
        //           (components in the order of their roots);
        //   write:  each member, in index order, goes to its component's
        //           next place.
        // Validation then visits a batch's objects in address order,
        // component by component: walking each component in the order it
        // was linked (as the plan once did) made every phase of a large
        // batch's pause a cache and TLB miss per object (a 1M-object
        // component: 430 ms).  Without the plan, a batch skipped the
        // found[] entries taken with the components of earlier batches:
        // with the members of most components spread over pages of
        // several size classes, the batch that reached the tail of
        // found[] skipped millions of them (1.2-2.4 ms pauses at 4M live
        // objects).
        // A step reads one or two random entries of parent[] (and a
        // root's path, in the first pass): look at the clock every 256.
        int32_t *parent = cycle->parent;
        for (Py_ssize_t work = 0; ; work++) {
            if ((work % (CLOCK_EVERY * 4)) == 0
                && deadline && past(deadline)) {
                return 0;
            }
            if (cycle->cursor == cycle->nfound) {
                if (cycle->plan_pass == PLAN_WRITE) {
                    break;
                }
                cycle->plan_pass++;
                cycle->cursor = 0;
                continue;
            }
            int32_t i = (int32_t)cycle->cursor++;
            int32_t v = parent[i];
            cycle->steps++;
            switch (cycle->plan_pass) {
            case PLAN_ROOTS:
                parent[i] = find_root(parent, i);
                break;
            case PLAN_COUNT: {
                // A member's label is its root (untagged); a root is
                // untagged until its first member is counted.
                int32_t r = (v >= 0 && v != i) ? v : i;
                int32_t w = parent[r];
                parent[r] = w >= 0 ? (ROOT_TAG | 1) : w + 1;
                break;
            }
            case PLAN_PLACES:
                if (v < 0) {
                    int32_t skip =
                        (cycle->survivor
                         && (v & ROOT_VALUE) > SURVIVOR_COMPONENT_BATCHES
                                               * _PyZgc_BatchObjects())
                        ? ROOT_SKIP : 0;
                    parent[i] = ROOT_TAG | ROOT_FRESH | skip
                                | (int32_t)cycle->plan_place;
                    cycle->plan_place += v & ROOT_VALUE;
                }
                break;
            default: {
                int32_t r = v < 0 ? i : v;
                int32_t w = parent[r];
                int32_t place = w & ROOT_PLACE;
                parent[r] = ROOT_TAG | (w & ROOT_SKIP) | (place + 1);
                cycle->order[place] = i
                                      | ((w & ROOT_FRESH) ? ORDER_FIRST : 0)
                                      | ((w & ROOT_SKIP) ? ORDER_SKIP : 0);
                break;
            }
            }
        }
        assert(cycle->plan_place == cycle->nfound);
#ifndef NDEBUG
        // Every found index is in the order exactly once (a member taken
        // twice would have its references subtracted twice).
        char *seen = PyMem_RawCalloc(cycle->nfound + 1, 1);
        if (seen != NULL) {
            for (Py_ssize_t k = 0; k < cycle->nfound; k++) {
                int32_t e = cycle->order[k] & ORDER_INDEX;
                assert(e >= 0 && e < cycle->nfound && !seen[e]);
                assert(k > 0 || (cycle->order[k] & ORDER_FIRST));
                seen[e] = 1;
            }
            PyMem_RawFree(seen);
        }
#endif
        // Only the order is read from here on.
        free_later(cycle, cycle->parent, cycle->capindex * sizeof(int32_t));
        cycle->parent = NULL;
        cycle->cursor = 0;
        cycle->batched = 1;
        cycle->phase = CYCLE_READY;
    }
    return 1;
}

// The page releases the cycle needs: since its start, and for a survivor
// cycle since its oldest promoted-log entry.
static uint64_t
lookup_since(const struct _zgc_cycle *cycle)
{
    return cycle->survivor ? Py_MIN(cycle->floor, cycle->seq) : cycle->seq;
}

// Out of memory: a survivor cycle loses the promoted log it took, so the
// next cycle is a full one; a full cycle leaves the colors stale
// (cycle_start).
static void
cycle_abandon(PyInterpreterState *interp, struct _zgc_cycle *cycle)
{
    if (cycle->survivor) {
        interp->gc.zgc_promoted_log.lost = 1;
    }
    cycle_free(cycle);
}

int
_PyZgc_CycleStep(PyInterpreterState *interp, PyTime_t budget,
                 int automatic)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    PyTime_t deadline = 0;
    if (budget > 0) {
        (void)PyTime_PerfCounterRaw(&deadline);
        deadline += budget;
    }
    if (cycle->phase == CYCLE_IDLE) {
        int err = automatic && _PyZgc_SurvivorDue(&interp->gc)
                  ? survivor_start(interp, cycle)
                  : cycle_start(interp, cycle, 1);
        if (err < 0) {
            cycle_abandon(interp, cycle);
            return -1;
        }
    }
    cycle->slices++;
    if (_PyZgc_PageLookupRefresh(&cycle->released, lookup_since(cycle)) < 0) {
        cycle_abandon(interp, cycle);
        return -1;
    }
    int done = cycle_work(cycle, &cycle->released, deadline);
    if (done < 0) {
        cycle_abandon(interp, cycle);
    }
    return done;
}

Py_ssize_t
_PyZgc_CycleProgress(PyInterpreterState *interp)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    if (cycle->survivor) {
        // About twelve steps per promoted-log entry (filter, count, two
        // or three scatters, runs, index, link, four plan passes), for
        // entries that are about a quarter to a third of the heap: counted
        // at a quarter, the director's pace keeps a survivor cycle about
        // as far ahead of the mutators as a full one (which marks and
        // sweeps about twice the heap).  Counted at half, a survivor cycle
        // let more garbage float: gcpause.py --garbage old at 1M live
        // objects peaked at 219-236 MB against 205-207 MB.
        return (cycle->objects + cycle->steps) / 4;
    }
    return cycle->mark.marked + cycle->objects;
}

// Add found[i] to the set; a survivor cycle's with its age, so that the
// validation logs it again, one survivor cycle older (zgc_survivor.c).
static int
take(struct _zgc_cycle *cycle, struct _zgc_candidates *set, PyObject *op,
     Py_ssize_t i)
{
    if (cycle->ages != NULL) {
        return _PyZgc_CandidateAddAged(set, op, cycle->ages[i]);
    }
    return _PyZgc_CandidateAdd(set, op);
}

// Add to `set` the next batch of found objects that are still candidates:
// all of them, or whole components until about _PyZgc_BatchObjects() were
// looked at.  1 if found objects remain for another batch.
static int
take_batch(struct _zgc_cycle *cycle, const struct _zgc_page_lookup *released,
           struct _zgc_candidates *set)
{
    if (!cycle->batched) {
        for (Py_ssize_t i = 0; i < cycle->nfound; i++) {
            PyObject *op = cycle->found[i];
            if (still_candidate(cycle, released, op)
                && take(cycle, set, op, i) < 0) {
                return -1;
            }
        }
        cycle->cursor = cycle->nfound;
        return 0;
    }
    // Whole components from the batch order (the plan), until about
    // `target` were looked at.
    Py_ssize_t target = _PyZgc_BatchObjects();
    Py_ssize_t taken = 0;
    const int32_t *order = cycle->order;
    // The plan ordered every found object (cycle->batched).
    while (cycle->cursor < cycle->nfound) {
        int32_t e = order[cycle->cursor];
        if (e & ORDER_SKIP) {
            // Not taken (nor logged again): a batch may stop anywhere in
            // it, after as many skips as it would have taken members.
            if (taken >= target) {
                break;
            }
            cycle->cursor++;
            taken++;
            continue;
        }
        if ((e & ORDER_FIRST) && taken >= target) {
            break;
        }
        cycle->cursor++;
        taken++;
        PyObject *op = cycle->found[e & ORDER_INDEX];
        if (still_candidate(cycle, released, op)
            && take(cycle, set, op, e & ORDER_INDEX) < 0) {
            return -1;
        }
    }
    return cycle->cursor < cycle->nfound;
}

int
_PyZgc_CycleOutrun(PyInterpreterState *interp)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    return cycle->phase == CYCLE_READY && cycle->batches > 0
           && _Py_atomic_load_ssize_relaxed(&interp->gc.zgc_net_objects)
              > cycle->net_at_batch;
}

int
_PyZgc_FullBatch(PyInterpreterState *interp, struct _zgc_candidates *set,
                 int use_marks, int young, Py_ssize_t *objects,
                 Py_ssize_t *marked)
{
    assert(interp->stoptheworld.world_stopped);
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    *objects = 0;
    *marked = 0;

    if (cycle->phase == CYCLE_IDLE) {
        // No slices ran: the whole discovery in this pause.
        if (cycle_start(interp, cycle, use_marks) < 0) {
            cycle_abandon(interp, cycle);
            return -1;
        }
    }
    if (_PyZgc_PageLookupRefresh(&cycle->released, lookup_since(cycle)) < 0) {
        cycle_abandon(interp, cycle);
        return -1;
    }
    const struct _zgc_page_lookup *released = &cycle->released;
    if (cycle_work(cycle, released, 0) < 0) {
        cycle_abandon(interp, cycle);
        return -1;
    }
    assert(cycle->phase == CYCLE_READY);
    *objects = cycle->objects;
    *marked = cycle->mark.marked;
    if (cycle->survivor) {
        // No sweep counted the heap: the GC objects allocated less those
        // freed stand in for it (upstream's long_lived_total, from which
        // the host takes the garbage off).
        *objects = Py_MAX(0, _Py_atomic_load_ssize_relaxed(
                                 &interp->gc.zgc_net_objects));
        *marked = 0;
    }
    interp->gc.zgc_stats.survivor = cycle->survivor;

    cycle->net_at_batch =
        _Py_atomic_load_ssize_relaxed(&interp->gc.zgc_net_objects);
    int more = take_batch(cycle, released, set);
    if (more < 0) {
        cycle_abandon(interp, cycle);
        return -1;
    }
    cycle->batches++;
    if (more) {
        if (young) {
            // The young set joins this batch (a young collection cannot
            // run between batches: its callbacks would nest in ours).
            if (_PyZgc_YoungGatherColor(interp, set, cycle->color) < 0) {
                cycle_abandon(interp, cycle);
                return -1;
            }
        }
        return 1;
    }
    int err = 0;
    if (cycle->survivor) {
        // It took nothing from the young logs: what is young stays young.
    }
    else if (cycle->slices > 0) {
        // What was tracked during the cycle stays young, for the next young
        // collection: it has the cycle's color, and may be a lot.
        _PyZgc_YoungCycleEnd(interp, cycle->seq);
    }
    else {
        // All in this pause: the young set goes with it.
        err = _PyZgc_YoungGather(interp, set);
    }
    cycle_free(cycle);
    return err;
}

void
_PyZgc_CycleAbandon(PyInterpreterState *interp)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    if (cycle->phase != CYCLE_IDLE) {
        // zgc_colors_stale is still set (cycle_start): the next full
        // collection runs without marks.
        cycle_abandon(interp, cycle);
    }
}

void
_PyZgc_FullDone(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    // A survivor cycle recolors only its candidates: stale colors stay
    // stale (it does not run while they are, zgc_survivor.c).
    if (!interp->gc.zgc_stats.survivor) {
        interp->gc.zgc_colors_stale = 0;
    }
}

int
_PyZgc_CycleSurvivor(PyInterpreterState *interp)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    return cycle->phase != CYCLE_IDLE && cycle->survivor;
}

int
_PyZgc_CycleBusy(PyInterpreterState *interp, PyThreadState *tstate)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    if (cycle->phase == CYCLE_IDLE) {
        return 0;
    }
    return tstate == NULL || cycle->owner != tstate;
}

PyThreadState *
_PyZgc_CycleOwner(PyInterpreterState *interp)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    return cycle->phase != CYCLE_IDLE ? cycle->owner : NULL;
}

void
_PyZgc_CycleSetOwner(PyInterpreterState *interp, PyThreadState *tstate)
{
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    assert(cycle->phase != CYCLE_IDLE);
    cycle->owner = tstate;
    _Py_atomic_store_int_relaxed(&cycle->detached, tstate == NULL);
}

int
_PyZgc_CycleDetached(PyInterpreterState *interp)
{
    return _Py_atomic_load_int_relaxed(&interp->gc.zgc_cycle.detached);
}

int
_PyZgc_CycleReady(PyInterpreterState *interp)
{
    return interp->gc.zgc_cycle.phase == CYCLE_READY;
}

uint64_t
_PyZgc_CycleFloor(PyInterpreterState *interp)
{
    // ... and the oldest entry of the promoted log (zgc_survivor.c).
    struct _zgc_cycle *cycle = &interp->gc.zgc_cycle;
    uint64_t floor = _PyZgc_PromotedFloor(&interp->gc);
    if (cycle->phase != CYCLE_IDLE && lookup_since(cycle) < floor) {
        floor = lookup_since(cycle);
    }
    return floor;
}

void
_PyZgc_CycleForget(PyInterpreterState *interp)
{
    // The thread that ran the cycle does not exist in a forked child, and
    // cannot run again at shutdown; its buffers are simply forgotten (an
    // atfork handler should not free), and the colors may be stale.
    if (interp->gc.zgc_cycle.phase != CYCLE_IDLE) {
        interp->gc.zgc_cycle = (struct _zgc_cycle){0};
        interp->gc.zgc_colors_stale = 1;
    }
}

#endif  /* Py_ZGC */
