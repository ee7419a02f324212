/* zgc_heap.c: which pages of the GC heaps mimalloc released, and when.
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
 * world stopped, sorts the records and then trusts an entry only if no
 * record newer than the entry covers its address.  An entry logged after a
 * page was released and reused carries a sequence number at least as new
 * as the record, so it stays trusted.  Reading an old sequence number on
 * the logging side can only make a good entry look stale: the object is
 * then not collected by this young collection, never freed wrongly.
 *
 * Records older than every interpreter's last log clear (its "log floor")
 * can no longer match any entry and are dropped at the end of a collection.
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

typedef struct {
    uintptr_t start;
    uintptr_t end;
    uint64_t seq;
} released_page;

static struct {
    PyMutex mutex;
    uint64_t seq;                 // atomic; bumped by every release
    int lost;                     // a release could not be recorded
    released_page *items;         // in release order
    Py_ssize_t len;
    Py_ssize_t cap;
    // Lookup table of one collection (world stopped): `items` sorted by
    // start, with max_end[i] = max(end of sorted[0..i]).
    released_page *sorted;
    uintptr_t *max_end;
    Py_ssize_t sorted_len;
} table;

static void
table_after_fork_child(void)
{
    // The lock may have been held by a thread that does not exist in the
    // child; the records themselves are consistent (appends finish under
    // the lock before it is released).
    table.mutex = (PyMutex){0};
}

PyStatus
_PyZgc_Init(PyInterpreterState *interp)
{
    // interp->gc.zgc_log_floor stays 0 until the interpreter's first
    // collection: objects may have been logged before this call.
    static int atfork_registered;
    if (_Py_IsMainInterpreter(interp) && !atfork_registered) {
        atfork_registered = 1;
        (void)pthread_atfork(NULL, NULL, table_after_fork_child);
    }
    return _PyZgc_LogInit(interp);
}

void
_PyZgc_OnGcPageRelease(void *start, size_t size)
{
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    uint64_t seq = _Py_atomic_load_uint64_relaxed(&table.seq) + 1;
    _Py_atomic_store_uint64_relaxed(&table.seq, seq);
    if (table.len == table.cap) {
        Py_ssize_t cap = table.cap ? table.cap * 2 : 256;
        released_page *items = PyMem_RawRealloc(table.items,
                                                cap * sizeof(*items));
        if (items == NULL) {
            // Cannot remember this release: the next collection distrusts
            // every log entry instead (see _PyZgc_PageReleasedSince).
            _Py_atomic_store_int_relaxed(&table.lost, 1);
            PyMutex_Unlock(&table.mutex);
            return;
        }
        table.items = items;
        table.cap = cap;
    }
    table.items[table.len++] = (released_page){
        .start = (uintptr_t)start,
        .end = (uintptr_t)start + size,
        .seq = seq,
    };
    PyMutex_Unlock(&table.mutex);
}

uint64_t
_PyZgc_PageReleaseSeq(void)
{
    return _Py_atomic_load_uint64_relaxed(&table.seq);
}

static int
cmp_start(const void *a, const void *b)
{
    uintptr_t x = ((const released_page *)a)->start;
    uintptr_t y = ((const released_page *)b)->start;
    return (x > y) - (x < y);
}

int
_PyZgc_PageTableBegin(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    // Other interpreters may still release pages: take the lock while
    // copying.
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    Py_ssize_t n = table.len;
    released_page *sorted = NULL;
    uintptr_t *max_end = NULL;
    if (n > 0) {
        sorted = PyMem_RawMalloc(n * sizeof(*sorted));
        max_end = PyMem_RawMalloc(n * sizeof(*max_end));
        if (sorted == NULL || max_end == NULL) {
            PyMutex_Unlock(&table.mutex);
            PyMem_RawFree(sorted);
            PyMem_RawFree(max_end);
            return -1;
        }
        memcpy(sorted, table.items, n * sizeof(*sorted));
    }
    PyMutex_Unlock(&table.mutex);
    if (n > 1) {
        qsort(sorted, n, sizeof(*sorted), cmp_start);
    }
    uintptr_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (sorted[i].end > m) {
            m = sorted[i].end;
        }
        max_end[i] = m;
    }
    table.sorted = sorted;
    table.max_end = max_end;
    table.sorted_len = n;
    return 0;
}

int
_PyZgc_PageReleasedSince(void *op, uint64_t seq)
{
    if (_Py_atomic_load_int_relaxed(&table.lost)) {
        return 1;
    }
    uintptr_t p = (uintptr_t)op;
    // Last record starting at or before p.
    Py_ssize_t lo = 0, hi = table.sorted_len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (table.sorted[mid].start <= p) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    // Records 0..lo-1 start at or before p; walk back while one of them
    // may still reach past p.
    for (Py_ssize_t i = lo - 1; i >= 0 && table.max_end[i] > p; i--) {
        if (p < table.sorted[i].end && table.sorted[i].seq > seq) {
            return 1;
        }
    }
    return 0;
}

void
_PyZgc_PageTableDone(void)
{
    PyMem_RawFree(table.sorted);
    PyMem_RawFree(table.max_end);
    table.sorted = NULL;
    table.max_end = NULL;
    table.sorted_len = 0;
}

void
_PyZgc_LogsEmptied(PyInterpreterState *interp)
{
    assert(interp->stoptheworld.world_stopped);
    // This interpreter's logs are empty now: none of its entries is older
    // than the current sequence number.
    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
    uint64_t now = _Py_atomic_load_uint64_relaxed(&table.seq);
    _Py_atomic_store_uint64_relaxed(&interp->gc.zgc_log_floor, now);
    if (_Py_atomic_load_int_relaxed(&table.lost)) {
        // Every entry logged before now was distrusted and is gone; the
        // records no longer matter.
        _Py_atomic_store_int_relaxed(&table.lost, 0);
        table.len = 0;
        PyMutex_Unlock(&table.mutex);
        return;
    }
    PyMutex_Unlock(&table.mutex);

    uint64_t floor = now;
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

    PyMutex_LockFlags(&table.mutex, _Py_LOCK_DONT_DETACH);
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
