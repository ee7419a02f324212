/* zgc_purge.c: giving empty memory back to the OS.
 *
 * Owns the purge policy and its knob, -X zgc_purge=P / PYTHONZGCPURGE=P
 * (an integer percentage 0..100, or "off"; default ZGC_PURGE_DEFAULT).
 *
 * Why.  mimalloc frees a page only when its owning thread next touches
 * its heap, and free-threaded CPython keeps emptied pages of object heaps
 * on a QSBR list until every thread has passed a quiescent state; the
 * memory of freed pages is then decommitted lazily, on the owner's later
 * segment operations.  A program that frees a large structure and then
 * stops allocating keeps all of it (stock 3.14 FT: 93% of the peak).
 *
 * Policy.  After a collection, a purge is requested when
 *   - the collection was explicit (gc.collect()), or
 *   - the GC heaps shrank by at least P% of their high-water mark since
 *     the last purge (and by at least ZGC_PURGE_MIN_DROP objects), and
 *     have stayed that far below it for ZGC_PURGE_DELAY_MS, as far as the
 *     collections in between saw (P = 0: at once).  A heap that only
 *     oscillates, as with garbage that outlives young collections, where
 *     each cycle frees a third of the heap and the mutators refill it
 *     within a fraction of a second, would otherwise decommit and re-fault
 *     the same memory every cycle: purging after each of them took 25-40%
 *     off the churn of `gcpause.py --garbage old` at 1M live objects (page
 *     faults in mimalloc's free-list setup and madvise's TLB shootdowns,
 *     about 14% of the samples), for no lower peak.  Memory nobody needed
 *     for a second goes back (ZGC's uncommit delay, jemalloc's decay: the
 *     same idea, with longer defaults).
 * The heap size is zgc_net_objects (GC objects allocated less freed, so
 * it goes down when memory is freed, by refcounting or by a collection);
 * the high-water mark is sampled at every collection's start and end.
 * What is kept: up to P% of the heap's peak as empty memory (so a program
 * whose heap oscillates, like a service between requests or cyclic garbage
 * paced at ZGC_FULL_GROWTH_PERCENT, does not decommit and re-fault the same
 * memory every cycle), plus mimalloc's one retired page per size class.
 * How fast: at once for the collecting thread, at its next safe point for
 * every other thread.  P = 0 purges after every collection that freed
 * ZGC_PURGE_MIN_DROP objects; "off" never purges (stock behaviour).
 *
 * Who purges what.  A thread purges only its own heaps, attached, at a
 * safe point: the collecting thread at the end of the collection, every
 * other thread when it next handles its eval breaker (_Py_RunGC, reached
 * through _PY_GC_SCHEDULED_BIT, which the request sets on every thread).
 * So no thread ever touches a heap whose owner runs.  Segments abandoned
 * by exited threads are purged by whichever thread purges next (mimalloc's
 * abandoned-segment collection is thread-safe).  The arenas (where freed
 * segments go, process-wide) are purged by the collecting thread, and by
 * another thread only if its own purge freed segments: a thread that
 * barely allocates does not pay, at its safe point, for decommitting what
 * the collecting thread is freeing at the same moment (measured: 1.7-2.1
 * ms added to a latency probe thread's wake-ups).  The work of one purge is
 * proportional to the thread's pages and free spans, with the world
 * running; it is never done inside a stop-the-world pause.
 *
 * QSBR.  A purge reports a quiescent state for its thread (safe: a safe
 * point holds no pointer obtained by a lock-free read; the collector does
 * the same in every collection), advances the write sequence and frees
 * the pages whose goal every thread has reached.  Pages some running
 * thread may still read stay queued: the purging thread polls their goal
 * at its next ZGC_PURGE_POLLS safe points and purges again once it is
 * reached (after that, the next request or mimalloc's allocation slow
 * path frees them, as in stock CPython).
 *
 * Page release.  Freeing a page goes through the patched
 * mi_segment_page_clear, which records the release (zgc_heap.c), so young
 * logs and an incremental cycle in progress never trust a purged page.
 *
 * Failure.  A madvise() that fails is counted (gc.callbacks "stop" info
 * "purge_failures", process-wide) and otherwise ignored; mimalloc keeps
 * the memory.
 *
 * The collector's own buffers.  The mark stacks and found list of full
 * collections are not mimalloc memory: zgc_buffer.c keeps them for the
 * next cycle, and the end of every collection, here, trims what it keeps
 * to at most 4 MiB.
 *
 * Accounting.  The bytes the collecting thread returned are the
 * collection's "purged" figure (gc.callbacks info, gc.get_stats() totals,
 * the GC log line); purges by other threads at their safe points count in
 * the process-wide total only (patched Objects/mimalloc/os.c).
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_initconfig.h"    // _PyStatus_ERR()
#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_llist.h"         // llist_empty()
#include "pycore_mimalloc.h"      // mi_heap_collect()
#include "pycore_pymem.h"         // _PyMem_ProcessDelayed()
#include "pycore_pystate.h"       // HEAD_LOCK()
#include "pycore_qsbr.h"          // _Py_qsbr_advance()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_tstate.h"        // _PyThreadStateImpl
#include "pycore_ceval.h"         // _Py_set_eval_breaker_bit()
#include "pycore_zgc.h"

#include <errno.h>
#include <stdlib.h>               // strtol()

#define ZGC_PURGE_DEFAULT 25
#define ZGC_PURGE_MIN_DROP 65536
#define ZGC_PURGE_DELAY_MS 1000
#define ZGC_PURGE_POLLS 100000

// Patched Objects/mimalloc/segment.c.
extern void _mi_segments_purge(mi_segments_tld_t *tld, bool force);

/* Parse the knob; -2 if `text` is not a valid value. */
static int
parse_threshold(const char *text)
{
    if (strcmp(text, "off") == 0) {
        return -1;
    }
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || value < 0
        || value > 100)
    {
        return -2;
    }
    return (int)value;
}

PyStatus
_PyZgc_PurgeInit(PyInterpreterState *interp)
{
    struct _zgc_purge *p = &interp->gc.zgc_purge;
    p->threshold = ZGC_PURGE_DEFAULT;
    char buf[32];
    const char *source;
    const char *text = _PyZgc_ReadKnob(interp, "zgc_purge", "PYTHONZGCPURGE",
                                       buf, sizeof(buf), &source);
    if (text == NULL) {
        return _PyStatus_OK();
    }
    int threshold = parse_threshold(text);
    if (threshold == -2) {
        fprintf(stderr, "%s%s: invalid value %s: expected an integer "
                "percentage from 0 to 100, or off\n",
                source, source[0] == '-' ? " zgc_purge" : "", text);
        return _PyStatus_ERR("invalid -X zgc_purge or PYTHONZGCPURGE value");
    }
    p->threshold = threshold;
    return _PyStatus_OK();
}

void
_PyZgc_PurgeNoteHeap(struct _gc_runtime_state *gcstate)
{
    Py_ssize_t net = _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
    if (net > gcstate->zgc_purge.high) {
        gcstate->zgc_purge.high = net;
    }
}

/* Return the empty memory of the current thread's heaps to the OS.  If
 * some emptied pages must wait until other threads pass a quiescent state,
 * poll for that at this thread's next safe points (`rearm`).  `collector`:
 * the collecting thread, which also purges the arenas for every thread;
 * another thread does so only if it gave segments back itself. */
static void
purge_own_heaps(PyThreadState *tstate, int rearm, int collector)
{
    _PyThreadStateImpl *t = (_PyThreadStateImpl *)tstate;
    if (!t->mimalloc.initialized) {
        return;                 // mimalloc not bound to this thread yet
    }
    size_t segments = t->mimalloc.tld.segments.count;
    // 1. Free the pages that are empty (collecting their cross-thread
    //    frees first); pages of object heaps go on the QSBR list.
    for (int i = 0; i < _Py_MIMALLOC_HEAP_COUNT; i++) {
        mi_heap_collect(&t->mimalloc.heaps[i], false);
    }
    // 2. This thread holds nothing borrowed: move the goals on, then free
    //    what every thread has passed (delayed PyMem frees too).
    uint64_t goal = _Py_qsbr_advance(t->qsbr->shared);
    _Py_qsbr_quiescent_state(t->qsbr);
    _PyMem_ProcessDelayed(tstate);
    for (int i = 0; i < _Py_MIMALLOC_HEAP_COUNT; i++) {
        mi_heap_collect(&t->mimalloc.heaps[i], false);
    }
    // 3. Decommit the free spans of this thread's segments, and the
    //    segments that became free (in the arenas).  The arenas are
    //    process-wide: purging them costs a millisecond or more while the
    //    collecting thread's segments are being freed, which a thread that
    //    freed none (a latency-sensitive one that barely allocates) must
    //    not pay at its safe point.
    _mi_segments_purge(&t->mimalloc.tld.segments, true);
    if (collector || t->mimalloc.tld.segments.count < segments) {
        _mi_arena_collect(true, &t->mimalloc.tld.stats);
    }

    if (rearm && !llist_empty(&t->mimalloc.page_list)) {
        // Running threads pass a quiescent state within microseconds (at
        // every eval-breaker check); one stuck in C code makes us give up
        // after ZGC_PURGE_POLLS safe points, until the next request.
        t->gc.purge_goal = goal;
        t->gc.purge_polls = ZGC_PURGE_POLLS;
        _Py_set_eval_breaker_bit(tstate, _PY_GC_SCHEDULED_BIT);
    }
    else {
        t->gc.purge_goal = 0;
    }
}

void
_PyZgc_PurgeAfterCollection(PyThreadState *tstate, int manual)
{
    PyInterpreterState *interp = tstate->interp;
    struct _gc_runtime_state *gcstate = &interp->gc;
    struct _zgc_purge *p = &gcstate->zgc_purge;
    _PyZgc_PurgeNoteHeap(gcstate);
    // The collector's own buffers kept for the next cycle (zgc_buffer.c),
    // whatever the knob says.
    _PyZgc_BufferKeepTrim();
    if (p->threshold < 0) {
        return;
    }
    Py_ssize_t net = _Py_atomic_load_ssize_relaxed(&gcstate->zgc_net_objects);
    Py_ssize_t drop = p->high - net;
    if (!manual) {
        Py_ssize_t need = p->high / 100 * p->threshold;
        if (need < ZGC_PURGE_MIN_DROP) {
            need = ZGC_PURGE_MIN_DROP;
        }
        if (drop < need) {
            p->low_since = 0;   // the heap came back up (or never fell)
            return;
        }
        if (p->threshold > 0) {
            PyTime_t now;
            (void)PyTime_MonotonicRaw(&now);
            if (p->low_since == 0) {
                p->low_since = now;
                return;
            }
            if (now - p->low_since
                < (PyTime_t)ZGC_PURGE_DELAY_MS * 1000 * 1000)
            {
                return;
            }
        }
    }
    p->high = net;
    p->low_since = 0;

    // Ask every other thread first, so they work while this one does.
    uint64_t epoch = _Py_atomic_add_uint64(&p->epoch, 1) + 1;
    ((_PyThreadStateImpl *)tstate)->gc.purge_seen = epoch;
    HEAD_LOCK(&_PyRuntime);
    for (PyThreadState *other = interp->threads.head; other != NULL;
         other = other->next)
    {
        if (other != tstate) {
            _Py_set_eval_breaker_bit(other, _PY_GC_SCHEDULED_BIT);
        }
    }
    HEAD_UNLOCK(&_PyRuntime);

    size_t before = _mi_os_purged_bytes();
    purge_own_heaps(tstate, 1, 1);
    gcstate->zgc_stats.purged = (Py_ssize_t)(_mi_os_purged_bytes() - before);
}

void
_PyZgc_PurgeAtSafePoint(PyThreadState *tstate)
{
    _PyThreadStateImpl *t = (_PyThreadStateImpl *)tstate;
    uint64_t epoch = _Py_atomic_load_uint64_relaxed(
        &tstate->interp->gc.zgc_purge.epoch);
    if (t->gc.purge_seen != epoch) {
        t->gc.purge_seen = epoch;
        purge_own_heaps(tstate, 1, 0);
    }
    else if (t->gc.purge_goal != 0) {
        if (_Py_qsbr_poll(t->qsbr, t->gc.purge_goal)) {
            purge_own_heaps(tstate, 0, 0);
        }
        else if (--t->gc.purge_polls > 0) {
            _Py_set_eval_breaker_bit(tstate, _PY_GC_SCHEDULED_BIT);
        }
        else {
            t->gc.purge_goal = 0;
        }
    }
}

#endif  /* Py_ZGC */
