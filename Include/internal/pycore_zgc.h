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

struct _gc_runtime_state;

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
    Py_ssize_t pause_histogram[ZGC_PAUSE_BUCKETS];
};

/* What one collection cost (zgc_stat.c); times are perf-counter ticks. */
struct _zgc_collection_stats {
    int generation;               // 0: young, 2: full
    PyTime_t start;
    PyTime_t duration;
    PyTime_t pause_start;
    PyTime_t pause_total;
    PyTime_t pause_max;
    Py_ssize_t pause_count;
    Py_ssize_t visited;           // objects the collection looked at
    Py_ssize_t candidates;        // objects trial deletion ran over
    Py_ssize_t rss_before;        // bytes, only while a GC log is open
};

/* One young-log entry: an object that was tracked by the GC, and the
 * page-release sequence number (zgc_heap.c) read when it was logged.  The
 * entry is only trusted if no object-heap page covering `op` was released
 * after `seq` (see _PyZgc_PageReleasedSince). */
struct _zgc_young_entry {
    PyObject *op;
    uint64_t seq;
};

/* --- zgc_heap.c: release of object-heap pages --------------------------- */

/* Called by mimalloc (patched segment.c) whenever a page of a Python object
 * heap (OBJECT, GC, GC_PRE) is released back to its segment, from any
 * thread. */
extern void _PyZgc_OnGcPageRelease(void *start, size_t size);

/* Current page-release sequence number (relaxed read). */
extern uint64_t _PyZgc_PageReleaseSeq(void);

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
};

/* World stopped: take the snapshot.  Returns -1 on out-of-memory (no
 * exception set). */
extern int _PyZgc_PageLookupBegin(struct _zgc_page_lookup *lookup);

/* True if a page covering `op` was released after sequence `seq`, i.e.
 * a young-log entry (op, seq) may no longer point at an object. */
extern int _PyZgc_PageReleasedSince(const struct _zgc_page_lookup *lookup,
                                    void *op, uint64_t seq);

extern void _PyZgc_PageLookupDone(struct _zgc_page_lookup *lookup);

/* World stopped, every young log of `interp` was just emptied: forget the
 * release records that no remaining log entry can need. */
extern void _PyZgc_LogsEmptied(PyInterpreterState *interp);

/* Interpreter start (from _PyGC_Init). */
extern PyStatus _PyZgc_Init(PyInterpreterState *interp);

/* --- zgc_young.c: young log and young collection ------------------------- */

/* Called by _PyObject_GC_TRACK: log `op` in the current thread's young log. */
PyAPI_FUNC(void) _PyZgc_YoungLog(PyObject *op);

/* Free the young log of a thread state that is being deleted. */
extern void _PyZgc_YoungLogFree(PyThreadState *tstate);

/* The young set of one young collection: candidates gathered from the
 * logs, each with _PyGC_BITS_UNREACHABLE set while it is a member. */
struct _zgc_young_set {
    PyObject **items;
    Py_ssize_t len;
};

/* Callback through which a young collection hands each candidate back to
 * the host collector (gc_free_threading.c), which finishes it exactly as a
 * full collection would: still unreachable (bit set) -> garbage worklist,
 * otherwise restore ob_tid. */
typedef void (*_PyZgc_ScanFunc)(PyObject *op, void *arg);

/* Young collection, phase 1 (world stopped, per-thread and biased
 * refcounts merged): gather the young set from every thread's log of
 * `interp`, empty the logs, and compute in ob_tid
 * gc_refs = refcount - references from inside the young set.
 * Returns the number of candidates, or -1 on out-of-memory (nothing was
 * changed then; the logs are kept). */
extern Py_ssize_t _PyZgc_YoungBegin(PyInterpreterState *interp,
                                    struct _zgc_young_set *set);

/* The visitor of phase 1 that subtracts internal references; deferred
 * stack references must not be passed to it (_PyGC_VisitStackRef). */
extern int _PyZgc_VisitDecrefYoung(PyObject *op, void *arg);

/* Phase 2 (after the host added deferred stack references): clear the
 * unreachable bit on every candidate with references from outside the set
 * and on everything reachable from it inside the set.  With keep_deferred,
 * candidates with deferred refcounting count as referenced (GH-129236).
 * Returns -1 on out-of-memory. */
extern int _PyZgc_YoungMarkReachable(struct _zgc_young_set *set,
                                     int keep_deferred);

/* Phase 3: call `scan` on every candidate, then release the set.  The
 * survivors are old from now on; returns how many of them are still
 * tracked (promoted). */
extern Py_ssize_t _PyZgc_YoungScan(struct _zgc_young_set *set,
                                   _PyZgc_ScanFunc scan, void *arg);

/* Out-of-memory after phase 1: hand every candidate to `restore` (which
 * must clear the unreachable bit and restore ob_tid), release the set. */
extern void _PyZgc_YoungAbort(struct _zgc_young_set *set,
                              _PyZgc_ScanFunc restore, void *arg);

/* World stopped, at the start of a full collection: every logged object is
 * about to become old; empty the young logs of `interp`. */
extern void _PyZgc_YoungForgetAll(PyInterpreterState *interp);

/* --- zgc_stat.c: statistics ---------------------------------------------- */

/* A collection of `generation` starts (after the "start" callbacks). */
extern void _PyZgc_StatsStart(struct _gc_runtime_state *gcstate,
                              int generation);
/* Around every _PyEval_StopTheWorld() .. _PyEval_StartTheWorld(). */
extern void _PyZgc_PauseBegin(struct _gc_runtime_state *gcstate);
extern void _PyZgc_PauseEnd(struct _gc_runtime_state *gcstate);
/* The collection is done: add it to the generation's totals and write its
 * line to the GC log, if one is open. */
extern void _PyZgc_StatsStop(struct _gc_runtime_state *gcstate,
                             Py_ssize_t collected, Py_ssize_t uncollectable);

/* Add pyzgc's cumulative keys to one generation's gc.get_stats() dict:
 * duration, visited, pause_count, pause_total, pause_max (seconds) and
 * pause_histogram (a tuple of ZGC_PAUSE_BUCKETS counts).  -1 on error. */
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
 * duration, pause_count, pause_total, pause_max (seconds), visited and
 * candidates.  New reference, or NULL with an exception set. */
extern PyObject *_PyZgc_StopInfo(const struct _zgc_collection_stats *s,
                                 Py_ssize_t collected,
                                 Py_ssize_t uncollectable);

/* gc_free_threading.c (patched): flush the thread's buffered allocation
 * count, scheduling a collection if that made one due (gc.get_count()). */
extern void _PyGC_FlushAllocCount(PyThreadState *tstate);

/* --- zgc_director.c: pacing ---------------------------------------------- */

/* An automatic collection is due: 0 for a young collection, 2 for a full
 * one (the old generation grew enough since the last full collection). */
extern int _PyZgc_ChooseGeneration(struct _gc_runtime_state *gcstate);

/* Account a finished collection of `generation`; a full one left `live`
 * objects in the GC heaps. */
extern void _PyZgc_CollectionDone(struct _gc_runtime_state *gcstate,
                                  int generation, Py_ssize_t live);

#endif  /* Py_ZGC */

#ifdef __cplusplus
}
#endif
#endif  /* !Py_INTERNAL_ZGC_H */
