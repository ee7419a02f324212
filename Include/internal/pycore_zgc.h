/* pyzgc: internal interface of the ZGC-style collector (Python/zgc/).
 *
 * Owns the declarations shared between our collector files and the
 * upstream files our patches hook into (pycore_gc.h's _PyObject_GC_TRACK,
 * mimalloc's page release, gc_free_threading.c's collection driver).
 * The design, its stop-the-world phases and their invariants are written
 * down in InternalDocs/zgc.md.
 */
#ifndef Py_INTERNAL_ZGC_H
#define Py_INTERNAL_ZGC_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#ifdef Py_ZGC

#include <stdint.h>               // uint64_t

#include "pycore_lock.h"          // PyEvent

struct _gc_runtime_state;
struct _zgc_page_lookup;

/* Pause histogram buckets: bucket i counts pauses of [2**i, 2**(i+1))
 * microseconds; bucket 0 also counts shorter ones, the last also longer
 * ones (2**23 us is about 8.4 s). */
#define ZGC_PAUSE_BUCKETS 24

/* Cumulative figures of one generation's collections (zgc_stat.c). */
struct _zgc_generation_totals {
    PyTime_t duration;
    PyTime_t pause_total;
    PyTime_t pause_max;
    Py_ssize_t pause_count;
    Py_ssize_t visited;
    Py_ssize_t purged;            // bytes returned to the OS (zgc_purge.c)
    Py_ssize_t fallbacks;         // out-of-memory fallbacks (zgc_director.c)
    Py_ssize_t pause_histogram[ZGC_PAUSE_BUCKETS];
};

/* What one collection cost (zgc_stat.c); times are perf-counter ticks. */
struct _zgc_collection_stats {
    int generation;               // 0: young, 2: full
    int slices;                   // discovery slices of a full collection
    int batches;                  // its validation batches (zgc_full.c)
    int fallback;                 // run for out-of-memory pressure, in one
                                  // pause (zgc_director.c)
    int survivor;                 // a survivor cycle (zgc_survivor.c)
    PyTime_t start;
    PyTime_t duration;
    PyTime_t pause_start;
    PyTime_t pause_total;
    PyTime_t pause_max;
    Py_ssize_t pause_count;
    Py_ssize_t visited;           // objects the collection looked at
    Py_ssize_t candidates;        // objects trial deletion ran over
    Py_ssize_t rss_before;        // bytes, only while a GC log is open
    Py_ssize_t purged;            // bytes returned to the OS (zgc_purge.c)
    Py_ssize_t collected;         // garbage found (with uncollectable)
};

/* Returning empty memory to the OS (zgc_purge.c). */
struct _zgc_purge {
    int threshold;                // the knob: percent, or -1 (never)
    Py_ssize_t high;              // most GC objects seen since the last purge
    PyTime_t low_since;           // the heap has been below the purge level
                                  // since then (0: it is not)
    uint64_t epoch;               // purge requests so far (atomic)
};

/* One young-log entry: an object that was tracked by the GC, and the
 * page-release sequence number (zgc_heap.c) read when it was logged.  The
 * entry is only trusted if no object-heap page covering `op` was released
 * after `seq` (see _PyZgc_PageReleasedSince). */
struct _zgc_young_entry {
    PyObject *op;
    uint64_t seq;
};

/* The promoted log (zgc_survivor.c): objects that survived a validation,
 * logged in that pause as (op | age, seq) like a young-log entry, in
 * append order (so `seq` never decreases).  The age, in the low bits of
 * the pointer (objects are 8-byte aligned), counts the survivor cycles
 * that validated the object since a young collection promoted it (age 0):
 * past _PyZgc_PROMOTED_AGE_MAX it is not logged again.  A survivor
 * cycle's candidates. */
#define _PyZgc_PROMOTED_AGE_MAX 3
#define _PyZgc_PROMOTED_AGE_MASK ((uintptr_t)7)
struct _zgc_promoted {
    struct _zgc_young_entry *items;
    Py_ssize_t len;
    Py_ssize_t cap;
    int lost;                     // entries were dropped: the next cycle
                                  // must be a full one
    int cycles;                   // survivor cycles since the last full
                                  // collection
    Py_ssize_t net_at_cycle;      // zgc_net_objects when the last survivor
                                  // cycle started
};

/* --- zgc_heap.c: release of object-heap pages --------------------------- */

/* Called by mimalloc (patched segment.c) whenever a page of a Python object
 * heap (OBJECT, GC, GC_PRE) is released back to its segment, from any
 * thread. */
extern void _PyZgc_OnGcPageRelease(void *start, size_t size);

/* Current page-release sequence number (relaxed read).  The counter is a
 * global of its own, outside the table's struct, so that the young log's
 * append (every tracked allocation) reads it inline. */
extern uint64_t _PyZgc_page_release_seq;   // atomic; read by core code only

static inline uint64_t
_PyZgc_PageReleaseSeq(void)
{
    return _Py_atomic_load_uint64_relaxed(&_PyZgc_page_release_seq);
}

/* A sorted snapshot of the release records, for one collection. */
struct _zgc_released_page {
    uintptr_t start;
    uintptr_t end;
    uint64_t seq;
};

struct _zgc_page_lookup {
    struct _zgc_released_page *sorted;  // by start
    uintptr_t *max_end;           // max_end[i] = max(end of sorted[0..i])
    Py_ssize_t len;
    uint64_t lost_seq;            // entries older than this are distrusted
    uint64_t last_seq;            // no record in it is newer (0: none)
};

/* World stopped: take the snapshot.  Returns -1 on out-of-memory (no
 * exception set). */
extern int _PyZgc_PageLookupBegin(struct _zgc_page_lookup *lookup);

/* The search behind _PyZgc_PageReleasedSince(). */
extern int _PyZgc_PageLookupFind(const struct _zgc_page_lookup *lookup,
                                 void *op, uint64_t seq);

/* True if a page covering `op` was released after sequence `seq`, i.e.
 * a young-log entry (op, seq) may no longer point at an object.  Asked for
 * every young-log entry and every popped mark-stack entry: when no record
 * in the lookup is newer than `seq` (no page released since), the answer
 * needs no search. */
static inline int
_PyZgc_PageReleasedSince(const struct _zgc_page_lookup *lookup, void *op,
                         uint64_t seq)
{
    if (seq < lookup->lost_seq) {
        return 1;
    }
    if (lookup->last_seq <= seq) {
        return 0;
    }
    return _PyZgc_PageLookupFind(lookup, op, seq);
}

/* Add the records newer than `since` (and than those already in it) to a
 * lookup kept across the slices of a cycle: only the newer records are
 * copied and merged, and a page released several times keeps one record.
 * Start from a zeroed lookup.  -1 on out-of-memory (the lookup is
 * unchanged then). */
extern int _PyZgc_PageLookupRefresh(struct _zgc_page_lookup *lookup,
                                    uint64_t since);

extern void _PyZgc_PageLookupDone(struct _zgc_page_lookup *lookup);

/* World stopped, every young log of `interp` was just emptied: forget the
 * release records that no remaining log entry can need. */
extern void _PyZgc_LogsEmptied(PyInterpreterState *interp);

/* The same when no remaining log entry of `interp` is older than
 * `floor`. */
extern void _PyZgc_LogsFloor(PyInterpreterState *interp, uint64_t floor);

/* Interpreter start (from _PyGC_Init). */
extern PyStatus _PyZgc_Init(PyInterpreterState *interp);

/* --- colors (zgc_mark.c) ------------------------------------------------ */

/* Bit 7 of ob_gc_bits (unused upstream): an object is marked when this bit
 * equals the interpreter's current color (gcstate->zgc_color, 0 or this
 * bit), flipped by every full collection. */
#define _PyGC_BITS_ZGC_COLOR (1 << 7)

/* Give `op` the color `color`, under the discipline of every ob_gc_bits
 * write (pycore_gc.h: the world stopped, the object's lock held, or the
 * object visible to one thread only). */
static inline void
_PyZgc_SetColor(PyObject *op, uint8_t color)
{
    op->ob_gc_bits = (uint8_t)((op->ob_gc_bits & ~_PyGC_BITS_ZGC_COLOR)
                               | color);
}

/* --- zgc_validate.c: the candidate set and its validation --------------- */

/* A candidate set.  A member has _PyGC_BITS_UNREACHABLE set and its ob_tid
 * holds gc_refs until the host scans it. */
struct _zgc_candidates {
    PyObject **items;
    Py_ssize_t len;
    Py_ssize_t cap;
    // Members taken from the promoted log by a survivor cycle come first,
    // each with its age (zgc_survivor.c): items[0 .. naged).
    uint8_t *ages;
    Py_ssize_t naged;
    Py_ssize_t capages;
};

/* Objects a collection's prologue found dead (merged refcount zero) while
 * still tracked: cyclic trash, a candidate of that same collection. */
struct _zgc_trash {
    PyObject **items;
    Py_ssize_t len;
    Py_ssize_t cap;
};

/* World stopped, in a collection's prologue: `op` is dead but tracked.
 * (Out of memory: it is logged as young instead.) */
extern void _PyZgc_TrashAdd(PyInterpreterState *interp, PyObject *op);

/* World stopped: add the trash of this pause to `set` and forget it.  -1
 * on out-of-memory (the trash is kept then). */
extern int _PyZgc_TrashGather(PyInterpreterState *interp,
                              struct _zgc_candidates *set);

/* Make room for `n` more members.  -1 on out-of-memory. */
extern int _PyZgc_CandidatesReserve(struct _zgc_candidates *set,
                                    Py_ssize_t n);

/* Add a tracked object that is not a member yet; its gc_refs starts as
 * its refcount.  Only inside the pause that validates the set, after the
 * host merged refcounts.  -1 on out-of-memory (nothing changed). */
extern int _PyZgc_CandidateAdd(struct _zgc_candidates *set, PyObject *op);

/* The same for a member of age `age` taken from the promoted log; such
 * members must be added before any other. */
extern int _PyZgc_CandidateAddAged(struct _zgc_candidates *set, PyObject *op,
                                   uint8_t age);

/* gc_refs = refcount - references from inside the set, for every member
 * (subtract the references from inside the set from the refcount each
 * member was added with).  The host must then add the deferred references
 * of the thread stacks. */
extern void _PyZgc_ValidateCountRefs(struct _zgc_candidates *set);

/* The visitor that subtracts internal references; deferred stack
 * references must not be passed to it (_PyGC_VisitStackRef). */
extern int _PyZgc_VisitDecrefCandidate(PyObject *op, void *arg);

/* Clear the candidate bit on every member with references from outside
 * the set and on everything reachable from it inside the set.  With
 * keep_deferred, members with deferred refcounting count as referenced
 * (GH-129236).  Returns -1 on out-of-memory. */
extern int _PyZgc_ValidateMarkReachable(struct _zgc_candidates *set,
                                        int keep_deferred);

/* Callback through which a collection hands each member back to the host
 * collector (gc_free_threading.c), which finishes it: still a candidate
 * (bit set) -> garbage worklist, otherwise restore ob_tid. */
typedef void (*_PyZgc_ScanFunc)(PyObject *op, void *arg);

/* Call `scan` on every member, then release the set.  Every member gets the
 * current color, and those still tracked go to the promoted log
 * (zgc_survivor.c); returns how many of them are still tracked. */
extern Py_ssize_t _PyZgc_ValidateScan(struct _zgc_candidates *set,
                                      _PyZgc_ScanFunc scan, void *arg);

/* Out-of-memory: hand every member to `restore` (which must clear the
 * candidate bit and restore ob_tid), release the set. */
extern void _PyZgc_ValidateAbort(struct _zgc_candidates *set,
                                 _PyZgc_ScanFunc restore, void *arg);

/* --- zgc_mark.c: marking from the roots ---------------------------------- */

/* A mark-stack entry: an object to traverse, or the rest of a large list,
 * tuple or dict from item `pos` on (pos >= 0), so that one huge container
 * does not make one slice long. */
struct _zgc_mark_entry {
    PyObject *op;
    Py_ssize_t pos;               // -1: traverse the whole object
};

struct _zgc_mark {
    struct _zgc_mark_entry *items;    // the mark stack
    Py_ssize_t len;
    Py_ssize_t cap;
    uint8_t color;                // this cycle's color
    Py_ssize_t marked;            // objects marked so far
    size_t touched;               // bytes of the stack populated
};

/* World stopped: flip the interpreter's color (unmarking every object) and
 * start an empty mark. */
extern void _PyZgc_MarkStart(PyInterpreterState *interp,
                             struct _zgc_mark *mark);

/* World stopped: mark the roots.  -1 on out-of-memory. */
extern int _PyZgc_MarkRoots(PyInterpreterState *interp,
                            struct _zgc_mark *mark);

/* Make room for `n` entries on the mark stack.  -1 on out-of-memory. */
extern int _PyZgc_MarkReserve(struct _zgc_mark *mark, Py_ssize_t n);

/* World stopped: mark what the stacked objects reach, popping at most
 * `budget` objects (no limit if negative).  With `released`, an entry on a
 * page released after `seq` is dropped (it was pushed in an earlier slice).
 * 1 when the stack is empty, 0 when the budget ran out, -1 on
 * out-of-memory. */
extern int _PyZgc_MarkDrain(struct _zgc_mark *mark,
                            const struct _zgc_page_lookup *released,
                            uint64_t seq, Py_ssize_t budget);

/* Move the top `n` entries (at most all) of `from` onto `to`.  -1 on
 * out-of-memory. */
extern int _PyZgc_MarkSplit(struct _zgc_mark *from, struct _zgc_mark *to,
                            Py_ssize_t n);

/* Exchange the stacks (entries and buffers) of `a` and `b`; O(1). */
extern void _PyZgc_MarkSwap(struct _zgc_mark *a, struct _zgc_mark *b);

extern void _PyZgc_MarkDone(struct _zgc_mark *mark);

/* --- zgc_helper.c: the marking helper thread ---------------------------- */

/* World stopped, in a mark slice of `interp`: have the helper drain
 * `mark` until `deadline` alongside the caller.  0 if it is not available
 * (turned off, busy with another interpreter's slice, or no CPU to spare
 * for it); 1 if it started. */
extern int _PyZgc_HelperBegin(PyInterpreterState *interp,
                              struct _zgc_mark *mark,
                              const struct _zgc_page_lookup *released,
                              uint64_t seq, PyTime_t deadline);

/* Stop the helper and wait for it (after a successful Begin, before the
 * world runs again).  -1 if its drain ran out of memory. */
extern int _PyZgc_HelperEnd(void);

/* Is a mark slice using the helper (or about to)?  Then no thread spins
 * in a stop-the-world wait (zgc_safepoint.c). */
extern int _PyZgc_HelperClaimed(void);

/* --- zgc_pages.c: the GC heaps a page at a time ------------------------- */

struct _zgc_page_ref {
    void *page;                   // mi_page_t *
    void *start;                  // its first block
    size_t block_size;
    uint8_t offset;               // of the PyObject in a block
};

struct _zgc_page_snapshot {
    struct _zgc_page_ref *items;
    Py_ssize_t len;
    Py_ssize_t cap;
    Py_ssize_t next;              // the next page to sweep
};

/* World stopped: record every non-empty page of the GC heaps of `interp`
 * (every thread's, and the abandoned segments').  -1 on out-of-memory. */
extern int _PyZgc_PagesSnapshot(PyInterpreterState *interp,
                                struct _zgc_page_snapshot *snap);

/* World stopped: call `visit` on every allocated block of a snapshot page,
 * unless a page covering it was released after `seq`.  Returns the number
 * of blocks visited. */
extern Py_ssize_t _PyZgc_PageVisit(const struct _zgc_page_ref *ref,
                                   const struct _zgc_page_lookup *released,
                                   uint64_t seq, gcvisitobjects_t visit,
                                   void *arg);

extern void _PyZgc_PagesDone(struct _zgc_page_snapshot *snap);

/* World stopped: the page of the GC heap block that holds `op`, which must
 * be an object of a GC heap whose page was not released since it was
 * known to be one (a promoted-log entry that passed the page-release
 * check). */
extern void _PyZgc_PageOf(PyObject *op, struct _zgc_page_ref *ref);

/* --- zgc_full.c: candidate discovery of a full collection ---------------- */

/* The found objects of one swept page: found[first .. first + count),
 * in block order (zgc_full.c). */
struct _zgc_found_run {
    uintptr_t start;              // the page's first block
    size_t block_size;
    int32_t first;
    int32_t count;
    int32_t map;                  // its block map in cycle->blockmap, or -1
    int32_t nmap;                 // entries of the map: last block + 1
    uint8_t offset;               // of the PyObject in a block
    int32_t blocks;               // its last member's block + 1
};

struct _zgc_found_slice {
    uintptr_t slice;              // address >> 16
    int32_t run;                  // index in cycle->runs + 1; 0: empty
};

/* A full collection's discovery, kept between its slices. */
struct _zgc_cycle {
    int phase;                    // idle, mark, sweep, ready
    int use_marks;
    uint8_t color;                // the cycle's color
    uint64_t seq;                 // page-release sequence number at start
    struct _zgc_mark mark;
    struct _zgc_mark helper_mark; // the marking helper's stack
    struct _zgc_page_snapshot pages;
    struct _zgc_page_lookup released;   // pages released since `seq`
    PyObject **found;             // unmarked objects the sweep saw
    Py_ssize_t nfound;
    Py_ssize_t capfound;
    Py_ssize_t objects;           // objects the sweep saw (a survivor
                                  // cycle: entries of its own steps)
    Py_ssize_t steps;             // entries indexed, linked and planned
    Py_ssize_t slices;
    Py_ssize_t net_at_start;      // gcstate->zgc_net_objects at start
    // The thread whose collection runs the cycle now; NULL while the
    // cycle is detached: automatic cycles advance a slice at a time at the
    // safe points of allocating threads (gc_free_threading.c).
    PyThreadState *owner;
    // Time spent in its slices and in the young collections run since it
    // started: when both are due, the one behind goes first.
    PyTime_t slice_time;
    PyTime_t young_time;
    // The pauses of the detached slices, reported by the collection that
    // completes the cycle (zgc_stat.c).
    struct _zgc_collection_stats stats;
    // Validation in batches of whole components (zgc_full.c): the found
    // objects are linked into components (union-find over found[]
    // indices), then taken a batch at a time.
    int batched;                  // found[] is linked into components
    Py_ssize_t cursor;            // next found[] index to index/link/take
    // The index from address to found[] index (zgc_full.c): one run per
    // swept page with found objects, a directory from 64 KiB address
    // slices to runs, and per-run block maps.
    struct _zgc_found_run *runs;
    Py_ssize_t nruns;
    Py_ssize_t capruns;
    Py_ssize_t run_cursor;        // the run of found[cursor] (index phase)
    struct _zgc_found_slice *dir; // open addressing over slice numbers
    Py_ssize_t dir_mask;
    int32_t *blockmap;            // block index -> found index + 1
    Py_ssize_t capmap;
    int32_t *parent;              // union-find forest over found[]
                                  // (freed once the plan is written)
    int32_t *order;               // the batch order (zgc_full.c's plan)
    Py_ssize_t capindex;          // entries of parent and order
    int plan_pass;                // the plan's pass over found[]
    Py_ssize_t plan_place;        // order[] places given to components
    Py_ssize_t batches;           // validation batches taken so far
    Py_ssize_t net_at_batch;      // gcstate->zgc_net_objects at the last
    // A survivor cycle (zgc_survivor.c): its candidates are the promoted
    // log it took at its start, not what marking left unmarked.
    int survivor;
    uint64_t floor;               // the oldest entry's seq (records needed)
    struct _zgc_young_entry *log; // the promoted log it took
    Py_ssize_t nlog;
    Py_ssize_t caplog;
    int step;                     // filter, count, scatter, runs
    int digit;                    // the radix sort's pass
    int digits;
    uintptr_t key_min;
    uintptr_t key_max;
    Py_ssize_t *counts;           // the radix sort's histograms
    PyObject **scratch;           // the radix sort's other buffer
    Py_ssize_t capscratch;
    uint8_t *ages;                // the age of each found[] entry
    Py_ssize_t capages;
    size_t scratch_touched;
    Py_ssize_t run_first;         // the open run of the runs step
    struct _zgc_page_ref run_page;
    // Bytes of each buffer populated ahead of the slices (zgc_full.c).
    size_t found_touched;
    size_t parent_touched;
    size_t order_touched;
    size_t map_touched;
    size_t dir_touched;
    // Read by any thread with the world running, so only ever stored
    // atomically, resetting included: cycle_reset() zeroes the fields above
    // `detached` with a memset and these three one by one.
    int detached;                 // owner is NULL (atomic)
    PyTime_t next_slice;          // detached: the next slice is due (atomic)
    int behind;                   // detached: the last slice ended behind
                                  // the mutators (atomic)
    // Large buffers the cycle is done with, freed once the world runs again
    // (returning tens of megabytes to the OS is not pause work); kept by
    // cycle_reset().
    struct { void *ptr; size_t size; } graveyard[8];
    int graveyard_len;
};

/* World running, at the end of every pause of a collection: free the
 * buffers the cycle was done with, and populate the pages its next slices
 * will write. */
extern void _PyZgc_CycleAfterPause(struct _gc_runtime_state *gcstate);

/* A cycle is in progress and `tstate` is not running it (NULL: a cycle is
 * in progress): only young collections may run until it ends
 * (zgc_full.c). */
extern int _PyZgc_CycleBusy(PyInterpreterState *interp,
                            PyThreadState *tstate);

/* The thread whose collection runs the cycle in progress (NULL if none is
 * in progress, or it is detached). */
extern PyThreadState *_PyZgc_CycleOwner(PyInterpreterState *interp);

/* `collecting` held: the cycle in progress is detached (no collection runs
 * it; tstate NULL), or the collection of `tstate` runs it from now on. */
extern void _PyZgc_CycleSetOwner(PyInterpreterState *interp,
                                 PyThreadState *tstate);

/* The cycle in progress is detached (any thread, lock-free). */
extern int _PyZgc_CycleDetached(PyInterpreterState *interp);

/* Its discovery is complete: only validation remains. */
extern int _PyZgc_CycleReady(PyInterpreterState *interp);

/* The oldest page-release sequence number the cycle in progress or the
 * promoted log still needs records from (UINT64_MAX if none). */
extern uint64_t _PyZgc_CycleFloor(PyInterpreterState *interp);

/* Interpreter shutdown while another thread's cycle is in progress (that
 * thread can no longer run): forget the cycle, like a forked child. */
extern void _PyZgc_CycleForget(PyInterpreterState *interp);

/* World stopped: one slice of a full collection's discovery, for about
 * `budget` perf-counter ticks; starts a cycle if none is in progress (a
 * survivor cycle if `automatic` and one is due, zgc_survivor.c).
 * 1: ready for validation; 0: more to do; -1: out of memory (the cycle is
 * abandoned). */
extern int _PyZgc_CycleStep(PyInterpreterState *interp, PyTime_t budget,
                            int automatic);

/* Objects the cycle in progress marked or swept so far. */
extern Py_ssize_t _PyZgc_CycleProgress(PyInterpreterState *interp);

/* The cycle in progress is validating in batches, and the GC heaps grew
 * since its last batch began: the mutators outrun it. */
extern int _PyZgc_CycleOutrun(PyInterpreterState *interp);


/* World stopped, refcounts merged: finish the cycle (or run all of it now
 * if no slice ran; with use_marks false, or stale colors, without marking)
 * and add the next batch of the objects it found that are still tracked,
 * unfrozen, mortal and unmarked to `set`: all of them, or, if the slices
 * linked them into components, whole components up to about
 * _PyZgc_BatchObjects() objects.  With `young`, the young set (what was
 * tracked during the cycle) joins the batch.  After the last batch, a cycle
 * run in slices leaves what was tracked during it young (the rest leaves
 * the logs); one run in this pause adds the young set.  *objects is the
 * number of objects in the GC heaps, *marked the number marked.  1: more
 * batches follow; 0: that was the last (the cycle is over); -1 on
 * out-of-memory (the cycle is abandoned; members added so far stay in the
 * set, to be aborted by the caller). */
extern int _PyZgc_FullBatch(PyInterpreterState *interp,
                            struct _zgc_candidates *set, int use_marks,
                            int young, Py_ssize_t *objects,
                            Py_ssize_t *marked);

/* A collection failed between two validation batches: abandon its cycle
 * (the colors stay stale, see zgc_full.c).  No-op if none is in progress. */
extern void _PyZgc_CycleAbandon(PyInterpreterState *interp);

/* World stopped: the full collection validated its candidates, so every
 * tracked, unfrozen object has the current color again. */
extern void _PyZgc_FullDone(PyInterpreterState *interp);

/* Helpers of zgc_full.c for the survivor cycle's discovery (zgc_survivor.c),
 * all with the world stopped. */

/* Free a buffer of `size` bytes once the world runs again. */
extern void _PyZgc_CycleFreeLater(struct _zgc_cycle *cycle, void *ptr,
                                  size_t size);

/* Record the found objects found[first .. nfound) as the run of page
 * `ref`.  -1 on out-of-memory. */
extern int _PyZgc_CycleAddRun(struct _zgc_cycle *cycle,
                              const struct _zgc_page_ref *ref,
                              Py_ssize_t first);

/* `op` is still a candidate of the cycle: no page release since its start
 * covers it, and it is tracked, unfrozen, mortal (and unmarked, if the
 * cycle marks). */
extern int _PyZgc_CycleCandidate(struct _zgc_cycle *cycle,
                                 const struct _zgc_page_lookup *released,
                                 PyObject *op);

/* Swap found[] with the survivor cycle's scratch buffer. */
extern void _PyZgc_CycleSwapFound(struct _zgc_cycle *cycle);

/* The cycle in progress is a survivor cycle. */
extern int _PyZgc_CycleSurvivor(PyInterpreterState *interp);

/* --- zgc_survivor.c: the promoted log and survivor cycles ---------------- */

/* Read -X zgc_survivor / PYTHONZGCSURVIVOR (main interpreter). */
extern PyStatus _PyZgc_SurvivorInit(PyInterpreterState *interp);

/* Interpreter finalization: free the promoted log. */
extern void _PyZgc_SurvivorFini(PyInterpreterState *interp);

/* World stopped, in a validation pause: make room for `n` more entries of
 * the promoted log.  0 if it cannot (it is dropped, and the next cycle is a
 * full one): the caller logs nothing. */
extern int _PyZgc_PromotedRoom(struct _gc_runtime_state *gcstate,
                               Py_ssize_t n);

/* World stopped: a full collection starts and examines every object that
 * was promoted while the log was dropped: it may log again. */
extern void _PyZgc_PromotedFullStart(struct _gc_runtime_state *gcstate);

/* The oldest entry's sequence number (UINT64_MAX if empty). */
extern uint64_t _PyZgc_PromotedFloor(struct _gc_runtime_state *gcstate);

/* The next automatic cycle should be a survivor cycle. */
extern int _PyZgc_SurvivorDue(struct _gc_runtime_state *gcstate);

/* World stopped, starting a survivor cycle: take the promoted log.  -1 on
 * out-of-memory. */
extern int _PyZgc_SurvivorStart(PyInterpreterState *interp,
                                struct _zgc_cycle *cycle);

/* One slice of its discovery until `deadline` (none if 0): filter, sort,
 * runs.  1: found[] and its runs are ready; 0: more to do; -1: out of
 * memory. */
extern int _PyZgc_SurvivorWork(struct _zgc_cycle *cycle,
                               const struct _zgc_page_lookup *released,
                               PyTime_t deadline);

/* Free what the survivor cycle still holds (its log, the sort's buffers). */
extern void _PyZgc_SurvivorFree(struct _zgc_cycle *cycle);

/* --- zgc_young.c: young log and young collection ------------------------- */

/* Called by _PyObject_GC_TRACK: log `op` in the current thread's young log
 * and give it the current color. */
PyAPI_FUNC(void) _PyZgc_YoungLog(PyObject *op);

/* Called by _PyObject_GC_UNTRACK with `gc`, the current thread's state,
 * holding entries logged since the cycle in progress began and a last
 * entry that is not `op` (that case is inline): if one of the last few
 * names `op`, it is cleared; cleared entries at the end of the log are
 * dropped (`op` NULL: only that). */
struct _gc_thread_state;
PyAPI_FUNC(void) _PyZgc_YoungUnlog(struct _gc_thread_state *gc,
                                   PyObject *op);

/* Free the young log of a thread state that is being deleted. */
extern void _PyZgc_YoungLogFree(PyThreadState *tstate);

/* World stopped, per-thread and biased refcounts merged: add the objects
 * logged by every thread of `interp` since the last collection to `set`
 * (those still tracked, mortal, unfrozen and not members yet), and empty
 * the logs: what was young is old from now on.  -1 on out-of-memory (the
 * logs are kept then). */
extern int _PyZgc_YoungGather(PyInterpreterState *interp,
                              struct _zgc_candidates *set);

/* The same for a validation batch of a full collection in progress (color:
 * the cycle's): objects of another color are left out, since the cycle
 * found them (or marked them) already. */
extern int _PyZgc_YoungGatherColor(PyInterpreterState *interp,
                                   struct _zgc_candidates *set, int color);

/* World stopped, a full collection's cycle starts: remember how much of
 * every log was written before, i.e. is examined by the cycle. */
extern void _PyZgc_YoungCycleStart(PyInterpreterState *interp);

/* World stopped, the cycle (started at page-release sequence number `seq`)
 * was validated: drop what it examined from the logs; what was tracked
 * during the cycle stays young. */
extern void _PyZgc_YoungCycleEnd(PyInterpreterState *interp, uint64_t seq);

/* --- zgc_stat.c: statistics ---------------------------------------------- */

/* A collection of `generation` starts (after the "start" callbacks). */
extern void _PyZgc_StatsStart(struct _gc_runtime_state *gcstate,
                              int generation);
/* A full collection starts that completes a cycle whose slices ran
 * detached: their pauses and slices become its own. */
extern void _PyZgc_StatsAdoptCycle(struct _gc_runtime_state *gcstate);

/* Around every _PyEval_StopTheWorld() .. _PyEval_StartTheWorld(). */
extern void _PyZgc_PauseBegin(struct _gc_runtime_state *gcstate);
extern void _PyZgc_PauseEnd(struct _gc_runtime_state *gcstate);
/* Progress of whatever collection runs, in any interpreter: a counter that
 * moves on at every pause's end, every finalizer and weakref callback
 * called, and every 256 objects cleared.  gc.collect() in another thread
 * waits for a running collection while this moves (gc_collect_main). */
extern void _PyZgc_NoteProgress(void);
extern uint64_t _PyZgc_Progress(void);
/* Hold while writing or copying zgc_totals and generation_stats:
 * gc.get_stats() may run in any thread during a collection. */
extern void _PyZgc_StatsLock(struct _gc_runtime_state *gcstate);
extern void _PyZgc_StatsUnlock(struct _gc_runtime_state *gcstate);
/* The collection is done: add it to the generation's totals and write its
 * line to the GC log, if one is open. */
extern void _PyZgc_StatsStop(struct _gc_runtime_state *gcstate,
                             Py_ssize_t collected, Py_ssize_t uncollectable);

/* The kind of a collection: "young", "incremental" (a full collection
 * whose discovery ran in slices) or "full" (all in one pause: at
 * shutdown). */
extern const char *_PyZgc_KindName(const struct _zgc_collection_stats *s);

/* Add pyzgc's cumulative keys to one generation's gc.get_stats() dict:
 * duration, visited, purged (bytes), pause_count, pause_total, pause_max
 * (seconds) and pause_histogram (a tuple of ZGC_PAUSE_BUCKETS counts).
 * -1 on error. */
extern int _PyZgc_AddGenerationStats(PyObject *dict,
                                     const struct _zgc_generation_totals *t);

/* --- zgc_log.c: the GC log ----------------------------------------------- */

/* Interpreter start: open the log named by -X zgc_log[=PATH] or
 * PYTHONZGCLOG (main interpreter only).  An unusable value is a startup
 * error. */
extern PyStatus _PyZgc_LogInit(PyInterpreterState *interp);

/* Resident set size in bytes if a GC log is open, else -1. */
extern Py_ssize_t _PyZgc_LogRss(void);

/* Write one line for a finished collection (no-op without a log). */
extern void _PyZgc_LogCollection(struct _gc_runtime_state *gcstate,
                                 Py_ssize_t collected);

/* The "stop" info dict of gc.callbacks: upstream's keys plus kind,
 * duration, pause_count, pause_total, pause_max (seconds), visited,
 * candidates, purged (bytes) and purge_failures.  New reference, or NULL
 * with an exception set. */
extern PyObject *_PyZgc_StopInfo(const struct _zgc_collection_stats *s,
                                 Py_ssize_t collected,
                                 Py_ssize_t uncollectable);

/* uniqueid.c (patched): merge every thread's per-thread refcount of `obj`
 * (a heap type, code object or module dict with a unique id; anything
 * else is left alone) into its shared refcount.  World stopped, HEAD_LOCK
 * held. */
extern void _PyObject_MergeThreadRefcountsOf(PyInterpreterState *interp,
                                             PyObject *obj);

/* Whether `op` is of a kind that can have a unique id (per-thread
 * refcounts): a type, a dict or a code object.  A young collection merges
 * the per-thread refcounts of such candidates only (zgc_young.c). */
static inline int
_PyZgc_MayHaveUniqueId(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    return (tp->tp_flags & (Py_TPFLAGS_TYPE_SUBCLASS
                            | Py_TPFLAGS_DICT_SUBCLASS)) != 0
           || tp == &PyCode_Type;
}

/* gc_free_threading.c (patched): flush the thread's buffered allocation
 * count, scheduling a collection if that made one due (gc.get_count()). */
extern void _PyGC_FlushAllocCount(PyThreadState *tstate);

/* --- zgc_buffer.c: growable buffers for the collector's bookkeeping ----- */

/* `size` rounded up to what a buffer really holds. */
extern size_t _PyZgc_BufferSize(size_t size);

/* Grow a buffer of `old_size` bytes (0 and NULL: a new one) to at least
 * `new_size`, without copying where the platform allows; new bytes are
 * zero.  NULL on failure (the buffer is unchanged). */
extern void *_PyZgc_BufferGrow(void *ptr, size_t old_size, size_t new_size);

extern void _PyZgc_BufferFree(void *ptr, size_t size);

/* Grow the buffer `*ptr` of `*cap` items of `item_size` bytes, by
 * doubling (from `initial` if empty), until it holds at least `n`.  -1 on
 * out-of-memory (the buffer is left as it was). */
extern int _PyZgc_BufferReserve(void **ptr, Py_ssize_t *cap, Py_ssize_t n,
                                size_t item_size, Py_ssize_t initial);

/* Populate the pages of buffer `ptr` from `*touched` up to `want` bytes
 * (at most its size), keeping their contents; `*touched` is updated. */
extern void _PyZgc_BufferPrefault(void *ptr, size_t *touched, size_t want);

/* Buffers a full collection's cycle hands to the next one, by role: a
 * cycle keeps its buffers at its end and the next takes them back,
 * populated, with whatever they held (their users read only what they
 * wrote). */
enum {
    ZGC_BUFFER_MARK,              // the collector's mark stack
    ZGC_BUFFER_HELPER_MARK,       // the marking helper's
    ZGC_BUFFER_FOUND,             // the found list
    ZGC_BUFFER_ROLES
};

/* Keep buffer `ptr` of `size` bytes for the next cycle: no system call,
 * unless the slot already held a buffer (then that one is unmapped). */
extern void _PyZgc_BufferKeep(int role, void *ptr, size_t size);

/* The buffer kept for `role` (its size in *size), or NULL. */
extern void *_PyZgc_BufferTake(int role, size_t *size);

/* Unmap the largest kept buffers until at most ZGC_BUFFER_KEEP_MAX bytes
 * (4 MiB) are kept.  Called at the end of every collection, with the
 * world running. */
extern void _PyZgc_BufferKeepTrim(void);

/* Bytes of buffers kept now (gc.callbacks "stop" info). */
extern size_t _PyZgc_BufferKept(void);

/* In a child of fork(): forget the kept buffers (another thread may have
 * been changing the slots). */
extern void _PyZgc_BufferAfterForkChild(void);

/* --- zgc_director.c: pacing ---------------------------------------------- */

/* An automatic collection is due: 0 for a young collection, 2 for a full
 * one (the old generation grew enough since the last full collection). */
extern int _PyZgc_ChooseGeneration(struct _gc_runtime_state *gcstate);

/* The out-of-memory fallback.  mimalloc (os.c, patched) reports that the
 * OS refused memory for a request of `size` bytes (any thread, attached
 * or not, inside the allocator: it only sets a flag and the calling
 * thread's eval breaker).  At the next safe point the collection is a
 * full one in a single pause (FallbackTake, with `collecting` held): at
 * most one per ZGC_FALLBACK_INTERVAL_MS. */
extern void _PyZgc_OSAllocFailed(size_t size);
extern int _PyZgc_FallbackRequested(void);
extern int _PyZgc_FallbackTake(void);

/* A knob's text: the value of the last -X XNAME=VALUE (converted into
 * `buf`, of `size` bytes; "" for -X XNAME alone, "?" if it does not fit)
 * or else the environment variable ENVNAME; NULL if neither is set.
 * `*source` is "-X" or ENVNAME, for error messages. */
extern const char *_PyZgc_ReadKnob(PyInterpreterState *interp,
                                   const char *xname, const char *envname,
                                   char *buf, size_t size,
                                   const char **source);

/* Interpreter start: read -X zgc_slice=US or PYTHONZGCSLICE=US (the main
 * interpreter's sets the slice budget of the process).  An invalid value
 * is a startup error. */
extern PyStatus _PyZgc_DirectorInit(PyInterpreterState *interp);

/* The work budget of one slice of a full collection, in perf-counter
 * ticks (nanoseconds). */
extern PyTime_t _PyZgc_SliceBudget(void);

/* About how many candidates one validation batch of a full collection may
 * hold, to fit in the slice budget (whole components may exceed it). */
extern Py_ssize_t _PyZgc_BatchObjects(void);

/* Between two slices (world running, attached): let other threads run. */
extern void _PyZgc_BetweenSlices(PyInterpreterState *interp);

/* A detached cycle's slice of `duration` ended at `now`: schedule the next
 * one. */
extern void _PyZgc_ScheduleSlice(PyInterpreterState *interp, PyTime_t now,
                                 PyTime_t duration);

/* After how many allocations a thread flushes its allocation count (where
 * it looks whether a slice is due): `normal`, or fewer while a detached
 * cycle falls behind the mutators. */
extern Py_ssize_t _PyZgc_FlushAfter(PyInterpreterState *interp,
                                    Py_ssize_t normal);

/* Any thread, lock-free: a detached cycle is in progress and its next
 * slice is due. */
extern int _PyZgc_SliceDue(PyInterpreterState *interp);

/* Account a finished collection of `generation`; a full one left `live`
 * objects in the GC heaps. */
extern void _PyZgc_CollectionDone(struct _gc_runtime_state *gcstate,
                                  int generation, Py_ssize_t live);

/* --- zgc_purge.c: memory back to the OS ---------------------------------- */

/* Interpreter start: read -X zgc_purge=P or PYTHONZGCPURGE=P (0 to 100,
 * or "off").  An invalid value is a startup error. */
extern PyStatus _PyZgc_PurgeInit(PyInterpreterState *interp);

/* A collection starts: note the GC heap's size for the purge policy. */
extern void _PyZgc_PurgeNoteHeap(struct _gc_runtime_state *gcstate);

/* The collecting thread, after the garbage was freed, world running: if
 * the policy says so, return this thread's empty memory to the OS now and
 * ask every other thread to do the same at its next safe point.  `manual`:
 * gc.collect(). */
extern void _PyZgc_PurgeAfterCollection(PyThreadState *tstate,
                                        int manual);

/* A safe point of `tstate` (attached, no borrowed pointers held): purge
 * its own heaps if a purge was requested since it last did. */
extern void _PyZgc_PurgeAtSafePoint(PyThreadState *tstate);

/* Bytes returned to the OS so far, and purges that failed (mimalloc,
 * patched Objects/mimalloc/os.c). */
extern size_t _mi_os_purged_bytes(void);
extern size_t _mi_os_purge_failures(void);

/* --- zgc_safepoint.c: spin-then-park in stop-the-world handshakes ------- */

/* Record how many threads were running (attached) when `interp`'s last
 * stop-the-world request was made, the requester included (pystate.c's
 * stop_the_world(), under the HEAD lock). */
extern void _PyZgc_NoteRunning(PyInterpreterState *interp, int running);

/* Poll `*state` until it differs from `value`, yielding the CPU between
 * polls, for a bounded time: 1 if it changed, 0 if the caller should park
 * (pystate.c's tstate_wait_attach).  No polling at all when more threads
 * were running at the request than there are CPUs. */
extern int _PyZgc_SpinWhileState(PyInterpreterState *interp, int *state,
                                 int value);

/* The same for a stop-the-world request's event (stop_the_world()): 1 once
 * `evt` is set, 0 if the caller should park. */
extern int _PyZgc_SpinUntilSet(PyInterpreterState *interp, PyEvent *evt);

/* A thread found the world stopped when it tried to attach (tstate_wait_
 * attach(), patched pystate.c); it attached, or will never (shutdown). */
extern void _PyZgc_AttachWaitBegin(PyInterpreterState *interp);
extern void _PyZgc_AttachWaitEnd(PyInterpreterState *interp);

/* World running, before a collection's pause: give the threads that the
 * last pause kept from attaching a bounded chance to attach first. */
extern void _PyZgc_LetWaitersAttach(PyInterpreterState *interp);

#endif  /* Py_ZGC */

#ifdef __cplusplus
}
#endif
#endif  /* !Py_INTERNAL_ZGC_H */
