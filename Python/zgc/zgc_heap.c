/* zgc_heap.c: which pages of the object heaps mimalloc released, and when.
 *
 * Owns the released-page table that keeps young-log entries sound (see
 * InternalDocs/zgc.md, "Young log validity").
 *
 * A young-log entry (op, seq) records a pointer to an object that was
 * tracked when it was logged, and the page-release sequence number read
 * then.  mimalloc reuses freed blocks only for blocks of the same size class
 * in the same page, and keeps the first bytes of a freed Python object (up
 * to ob_type, see debug_offset in pystate.c) intact; PyObject_GC_Del clears
 * the TRACKED bit before freeing.  So as long as the page that held `op` was
 * not released, `op` still points at an object header: the logged object,
 * a freed block whose header says "not tracked", or a newer object in the
 * same block (which has its own, newer entry).  Only a released page can be
 * handed out again for another size class, another heap or the OS, and then
 * `op` may point into the middle of anything.
 *
 * Every release of a page of a Python object heap bumps the sequence number
 * and records the page's address range with the new number (any thread, any
 * time; under `table.mutex`, never detaching).  A collection, with the
 * world stopped, takes a sorted snapshot of the records (its own: other
 * interpreters collect concurrently) and then trusts an entry only if no
 * record newer than the entry covers its address.  A release that could
 * not be recorded (out of memory) is remembered by its sequence number
 * alone: every entry older than it is distrusted.  An entry logged after a
 * page was released and reused carries a sequence number at least as new
 * as the record, so it stays trusted.  Reading an old sequence number on
 * the logging side can only make a good entry look stale: the object is
 * then not collected by this young collection, never freed wrongly.
 *
 * Records older than every interpreter's last log clear (its "log floor")
 * can no longer match any entry and are dropped at the end of a collection;
 * so is a lost-release marker that old.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_initconfig.h"    // PyStatus
#include "pycore_interp.h"        // PyInterpreterState.gc
#include "pycore_lock.h"          // PyMutex_LockFlags()
#include "pycore_pystate.h"       // HEAD_LOCK()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_zgc.h"

#include <pthread.h>              // pthread_atfork()
#include <stdlib.h>               // qsort()

static struct {
    PyMutex mutex;
    uint64_t lost_seq;            // newest release not recorded, or 0
    struct _zgc_released_page *items;   // in release order
    Py_ssize_t len;
    Py_ssize_t cap;
} table;

// Bumped by every release, under table.mutex; read by anyone (atomic).
uint64_t _PyZgc_page_release_seq;

static void
after_fork_child(void)
{
    // The lock may have been held by a thread that does not exist in the
    // child; the records themselves are consistent (appends finish under
    // the lock before it is released).
    table.mutex = (PyMutex){0};
    _PyZgc_BufferAfterForkChild();

    // Another thread may have been collecting: fork stops the world, not a
    // collection, and a full collection's discovery lets the world run
    // between its slices.  That thread is gone, and so is its collection:
    // the child must be able to collect.  (If the forking thread itself is
    // collecting, from a finalizer or a gc callback, it finishes.)
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate != NULL) {
        struct _gc_runtime_state *gcstate = &tstate->interp->gc;
        // A cycle run by another thread: between its slices `collecting`
        // may be free, or held by a young collection of a third thread.
        if (_PyZgc_CycleBusy(tstate->interp, tstate)) {
            _PyZgc_CycleForget(tstate->interp);
        }
        if (_Py_atomic_load_int_relaxed(&gcstate->collecting)
            && _Py_atomic_load_ptr_relaxed(&gcstate->zgc_collector) != tstate)
        {
            _Py_atomic_store_int(&gcstate->collecting, 0);
        }
        // (Set and consumed by one thread with no safe point between, so
        // it is empty here; a stale pointer could name a reused tstate.)
        _Py_atomic_store_ptr_relaxed(&gcstate->zgc_nested_young, NULL);
        // The threads that waited to attach are gone (zgc_safepoint.c):
        // left counted, they would delay every pause of the child.
        _Py_atomic_store_int_relaxed(&gcstate->zgc_attach_waiters, 0);
    }
}

PyStatus
_PyZgc_Init(PyInterpreterState *interp)
{
    // interp->gc.zgc_log_floor stays 0 until the interpreter's first
    // collection: objects may have been logged before this call.
    static int atfork_registered;
    if (_Py_IsMainInterpreter(interp) && !atfork_registered) {
        atfork_registered = 1;
        (void)pthread_atfork(NULL, NULL, after_fork_child);
    }
    PyStatus status = _PyZgc_DirectorInit(interp);
    if (_PyStatus_EXCEPTION(status)) {
        return status;
    }
    status = _PyZgc_PurgeInit(interp);
    if (_PyStatus_EXCEPTION(status)) {
        return status;
    }
    status = _PyZgc_SurvivorInit(interp);
    if (_PyStatus_EXCEPTION(status)) {
        return status;
    }
    return _PyZgc_LogInit(interp);
}

void
_PyZgc_OnGcPageRelease(void *start, size_t size)
{
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    uint64_t seq = _Py_atomic_load_uint64_relaxed(&_PyZgc_page_release_seq)
                   + 1;
    _Py_atomic_store_uint64_relaxed(&_PyZgc_page_release_seq, seq);
    if (table.len == table.cap) {
        Py_ssize_t cap = table.cap ? table.cap * 2 : 256;
        struct _zgc_released_page *items =
            PyMem_RawRealloc(table.items, cap * sizeof(*items));
        if (items == NULL) {
            // Cannot remember where: collections distrust every entry
            // logged before this release instead.
            table.lost_seq = seq;
            PyMutex_Unlock(&table.mutex);
            return;
        }
        table.items = items;
        table.cap = cap;
    }
    table.items[table.len++] = (struct _zgc_released_page){
        .start = (uintptr_t)start,
        .end = (uintptr_t)start + size,
        .seq = seq,
    };
    PyMutex_Unlock(&table.mutex);
}

static int
cmp_start(const void *a, const void *b)
{
    uintptr_t x = ((const struct _zgc_released_page *)a)->start;
    uintptr_t y = ((const struct _zgc_released_page *)b)->start;
    return (x > y) - (x < y);
}

int
_PyZgc_PageLookupBegin(struct _zgc_page_lookup *lookup)
{
    *lookup = (struct _zgc_page_lookup){0};
    // Other interpreters may release pages meanwhile: copy under the lock.
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    Py_ssize_t n = table.len;
    if (n > 0) {
        lookup->sorted = PyMem_RawMalloc(n * sizeof(*lookup->sorted));
        lookup->max_end = PyMem_RawMalloc(n * sizeof(*lookup->max_end));
        if (lookup->sorted == NULL || lookup->max_end == NULL) {
            PyMutex_Unlock(&table.mutex);
            _PyZgc_PageLookupDone(lookup);
            return -1;
        }
        memcpy(lookup->sorted, table.items, n * sizeof(*lookup->sorted));
        // The table is in release order: its last record is the newest.
        lookup->last_seq = table.items[n - 1].seq;
    }
    lookup->lost_seq = table.lost_seq;
    PyMutex_Unlock(&table.mutex);
    if (n > 1) {
        qsort(lookup->sorted, n, sizeof(*lookup->sorted), cmp_start);
    }
    uintptr_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (lookup->sorted[i].end > m) {
            m = lookup->sorted[i].end;
        }
        lookup->max_end[i] = m;
    }
    lookup->len = n;
    return 0;
}

int
_PyZgc_PageLookupRefresh(struct _zgc_page_lookup *lookup, uint64_t since)
{
    uint64_t after = lookup->last_seq > since ? lookup->last_seq : since;
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    // The table is in release order: find the first record newer than
    // `after`.
    Py_ssize_t lo = 0, hi = table.len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (table.items[mid].seq <= after) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    Py_ssize_t n = table.len - lo;
    struct _zgc_released_page *fresh = NULL;
    uint64_t newest = lookup->last_seq;
    if (n > 0) {
        fresh = PyMem_RawMalloc(n * sizeof(*fresh));
        if (fresh == NULL) {
            PyMutex_Unlock(&table.mutex);
            return -1;
        }
        memcpy(fresh, table.items + lo, n * sizeof(*fresh));
        newest = table.items[table.len - 1].seq;
    }
    uint64_t lost_seq = table.lost_seq;
    PyMutex_Unlock(&table.mutex);
    if (n == 0) {
        lookup->lost_seq = lost_seq;
        return 0;
    }

    // Merge the new records into the sorted ones; a page released again
    // keeps one record, the newest.
    qsort(fresh, n, sizeof(*fresh), cmp_start);
    Py_ssize_t total = lookup->len + n;
    struct _zgc_released_page *merged =
        PyMem_RawMalloc(total * sizeof(*merged));
    uintptr_t *max_end = PyMem_RawRealloc(lookup->max_end,
                                          total * sizeof(*max_end));
    if (merged == NULL || max_end == NULL) {
        PyMem_RawFree(merged);
        if (max_end != NULL) {
            lookup->max_end = max_end;
        }
        PyMem_RawFree(fresh);
        return -1;
    }
    lookup->max_end = max_end;
    Py_ssize_t i = 0, j = 0, k = 0;
    while (i < lookup->len || j < n) {
        struct _zgc_released_page r;
        if (j == n || (i < lookup->len
                       && lookup->sorted[i].start <= fresh[j].start)) {
            r = lookup->sorted[i++];
        }
        else {
            r = fresh[j++];
        }
        if (k > 0 && merged[k - 1].start == r.start
            && merged[k - 1].end == r.end)
        {
            if (r.seq > merged[k - 1].seq) {
                merged[k - 1].seq = r.seq;
            }
            continue;
        }
        merged[k++] = r;
    }
    PyMem_RawFree(fresh);
    PyMem_RawFree(lookup->sorted);
    lookup->sorted = merged;
    lookup->len = k;
    lookup->last_seq = newest;
    lookup->lost_seq = lost_seq;
    uintptr_t m = 0;
    for (Py_ssize_t x = 0; x < k; x++) {
        if (merged[x].end > m) {
            m = merged[x].end;
        }
        max_end[x] = m;
    }
    return 0;
}

int
_PyZgc_PageLookupFind(const struct _zgc_page_lookup *lookup, void *op,
                      uint64_t seq)
{
    uintptr_t p = (uintptr_t)op;
    // Last record starting at or before p.
    Py_ssize_t lo = 0, hi = lookup->len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (lookup->sorted[mid].start <= p) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    // Records 0..lo-1 start at or before p; walk back while one of them
    // may still reach past p.
    for (Py_ssize_t i = lo - 1; i >= 0 && lookup->max_end[i] > p; i--) {
        if (p < lookup->sorted[i].end && lookup->sorted[i].seq > seq) {
            return 1;
        }
    }
    return 0;
}

void
_PyZgc_PageLookupDone(struct _zgc_page_lookup *lookup)
{
    PyMem_RawFree(lookup->sorted);
    PyMem_RawFree(lookup->max_end);
    *lookup = (struct _zgc_page_lookup){0};
}

void
_PyZgc_LogsEmptied(PyInterpreterState *interp)
{
    // This interpreter's logs are empty now: none of its entries is older
    // than the current sequence number.
    _PyZgc_LogsFloor(interp, _PyZgc_PageReleaseSeq());
}

void
_PyZgc_LogsFloor(PyInterpreterState *interp, uint64_t floor)
{
    assert(interp->stoptheworld.world_stopped);
    // A full collection in progress (zgc_full.c) still needs the records
    // since its start, whatever young collections ran meanwhile.
    uint64_t cycle_floor = _PyZgc_CycleFloor(interp);
    if (cycle_floor < floor) {
        floor = cycle_floor;
    }
    _Py_atomic_store_uint64_relaxed(&interp->gc.zgc_log_floor, floor);

    HEAD_LOCK(&_PyRuntime);
    for (PyInterpreterState *i = _PyRuntime.interpreters.head; i != NULL;
         i = i->next)
    {
        uint64_t f = _Py_atomic_load_uint64_relaxed(&i->gc.zgc_log_floor);
        if (f < floor) {
            floor = f;
        }
    }
    HEAD_UNLOCK(&_PyRuntime);

    // No entry of any interpreter is older than `floor`.
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    if (table.lost_seq <= floor) {
        table.lost_seq = 0;
    }
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < table.len; i++) {
        if (table.items[i].seq > floor) {
            table.items[j++] = table.items[i];
        }
    }
    table.len = j;
    if (j == 0 && table.cap > 4096) {
        PyMem_RawFree(table.items);
        table.items = NULL;
        table.cap = 0;
    }
    PyMutex_Unlock(&table.mutex);
}

#endif  /* Py_ZGC */
