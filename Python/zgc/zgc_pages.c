/* zgc_pages.c: enumerating the GC heaps a page at a time.
 *
 * Owns the page snapshot that lets an incremental full collection sweep
 * the GC heaps in bounded slices with mutators running in between
 * (zgc_full.c).  Everything here runs with the world stopped.
 *
 * Snapshot.  At the start of a cycle, the pages of every thread's GC and
 * GC_PRE heaps (their page queues, as mimalloc's own heap visit walks
 * them) and of the interpreter's abandoned segments are recorded, with
 * the offset of the object in a block of that heap.  That is O(pages),
 * not O(objects).
 *
 * Validity across slices.  A page pointer is the page's metadata inside
 * its segment.  Between two slices the page may be freed and its memory
 * handed to another size class, another heap or the OS, and its segment
 * freed; every such path releases the page first (patched
 * mi_segment_page_clear), which zgc_heap.c records with a sequence number.
 * So a slice visits a snapshot page only if no page release newer than
 * the cycle's start covers the page's memory: then the page still exists,
 * still belongs to a GC heap with the same block size, and its allocated
 * blocks are objects (or blocks in the middle of allocation, which are not
 * tracked yet).  A page may have changed owner (a thread exited and another
 * claimed the segment); it is visited all the same.  A page released since
 * held nothing live when it was released: everything on it died, and
 * whatever is allocated there now was allocated during the cycle.  Pages
 * created during the cycle are not in the snapshot: their objects are too
 * young for this cycle (zgc_mark.c gives them the cycle's color).
 *
 * Visiting a page's blocks goes through mimalloc's own block visitor,
 * which first collects the page's thread-free list; like every heap walk,
 * it needs the page's owner stopped.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_mimalloc.h"      // mi_page_t, _Py_MIMALLOC_HEAP_GC
#include "pycore_pymem.h"         // _PyMem_DebugEnabled()
#include "pycore_pystate.h"       // HEAD_LOCK()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_tstate.h"        // _PyThreadStateImpl
#include "pycore_zgc.h"

// Patched Objects/mimalloc/segment.c.
extern bool _mi_abandoned_pool_visit_pages(
    mi_abandoned_pool_t *pool, uint8_t page_tag,
    bool (*fn)(mi_page_t *page, void *arg), void *arg);

struct snapshot_args {
    struct _zgc_page_snapshot *snap;
    uint8_t offset;
    int error;
};

static bool
add_page(mi_page_t *page, void *arg)
{
    struct snapshot_args *args = (struct snapshot_args *)arg;
    struct _zgc_page_snapshot *snap = args->snap;
    if (page->used == 0) {
        return true;            // nothing that could be a candidate
    }
    if (snap->len == snap->cap) {
        Py_ssize_t cap = snap->cap ? snap->cap * 2 : 256;
        struct _zgc_page_ref *items =
            PyMem_RawRealloc(snap->items, cap * sizeof(*items));
        if (items == NULL) {
            args->error = 1;
            return false;
        }
        snap->items = items;
        snap->cap = cap;
    }
    snap->items[snap->len++] = (struct _zgc_page_ref){
        .page = page,
        .start = _mi_page_start(_mi_page_segment(page), page, NULL),
        .block_size = mi_page_block_size(page),
        .offset = args->offset,
    };
    return true;
}

static int
add_heap_pages(mi_heap_t *heap, struct snapshot_args *args)
{
    for (size_t i = 0; i <= MI_BIN_FULL; i++) {
        for (mi_page_t *page = heap->pages[i].first; page != NULL;
             page = page->next)
        {
            if (!add_page(page, args)) {
                return -1;
            }
        }
    }
    return 0;
}

int
_PyZgc_PagesSnapshot(PyInterpreterState *interp,
                     struct _zgc_page_snapshot *snap)
{
    assert(interp->stoptheworld.world_stopped);
    *snap = (struct _zgc_page_snapshot){0};
    // Offset of the PyObject header in a block (as gc_free_threading.c's
    // heap walk): the debug allocator adds two words, and objects with
    // Py_TPFLAGS_PREHEADER two more.
    uint8_t base = _PyMem_DebugEnabled() ? 2 * sizeof(size_t) : 0;
    uint8_t pre = (uint8_t)(base + 2 * sizeof(PyObject *));
    struct snapshot_args args = { .snap = snap };
    int err = 0;

    HEAD_LOCK(&_PyRuntime);
    _Py_FOR_EACH_TSTATE_UNLOCKED(interp, p) {
        struct _mimalloc_thread_state *m = &((_PyThreadStateImpl *)p)->mimalloc;
        if (!_Py_atomic_load_int(&m->initialized)) {
            continue;
        }
        args.offset = base;
        if (add_heap_pages(&m->heaps[_Py_MIMALLOC_HEAP_GC], &args) < 0) {
            err = -1;
            break;
        }
        args.offset = pre;
        if (add_heap_pages(&m->heaps[_Py_MIMALLOC_HEAP_GC_PRE], &args) < 0) {
            err = -1;
            break;
        }
    }
    if (err == 0) {
        mi_abandoned_pool_t *pool = &interp->mimalloc.abandoned_pool;
        args.offset = base;
        if (!_mi_abandoned_pool_visit_pages(pool, _Py_MIMALLOC_HEAP_GC,
                                            add_page, &args))
        {
            err = -1;
        }
        args.offset = pre;
        if (err == 0
            && !_mi_abandoned_pool_visit_pages(pool, _Py_MIMALLOC_HEAP_GC_PRE,
                                               add_page, &args))
        {
            err = -1;
        }
    }
    HEAD_UNLOCK(&_PyRuntime);
    if (err < 0) {
        _PyZgc_PagesDone(snap);
    }
    return err;
}

void
_PyZgc_PageOf(PyObject *op, struct _zgc_page_ref *ref)
{
    // As _PyZgc_PagesSnapshot(): the header's offset in a block depends on
    // the debug allocator and on the heap (GC_PRE: two more words).
    mi_page_t *page = _mi_ptr_page(op);
    uint8_t offset = _PyMem_DebugEnabled() ? 2 * sizeof(size_t) : 0;
    if (page->tag == _Py_MIMALLOC_HEAP_GC_PRE) {
        offset += 2 * sizeof(PyObject *);
    }
    *ref = (struct _zgc_page_ref){
        .page = page,
        .start = _mi_page_start(_mi_page_segment(page), page, NULL),
        .block_size = mi_page_block_size(page),
        .offset = offset,
    };
}

struct visit_args {
    uint8_t offset;
    gcvisitobjects_t visit;
    void *arg;
    Py_ssize_t blocks;
};

static bool
visit_block(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
            size_t block_size, void *arg)
{
    struct visit_args *args = (struct visit_args *)arg;
    if (block == NULL) {
        return true;
    }
    args->blocks++;
    return args->visit((PyObject *)((char *)block + args->offset),
                       args->arg) != 0;
}

Py_ssize_t
_PyZgc_PageVisit(const struct _zgc_page_ref *ref,
                 const struct _zgc_page_lookup *released, uint64_t seq,
                 gcvisitobjects_t visit, void *arg)
{
    mi_page_t *page = (mi_page_t *)ref->page;
    // The page's memory, without touching its metadata: only a page that
    // was not released since `seq` is known to be a page still.
    if (_PyZgc_PageReleasedSince(released, ref->start, seq)) {
        return 0;
    }
    mi_heap_area_t area;
    _mi_heap_area_init(&area, page);
    struct visit_args args = {
        .offset = ref->offset,
        .visit = visit,
        .arg = arg,
    };
    _mi_heap_area_visit_blocks(&area, page, visit_block, &args);
    return args.blocks;
}

void
_PyZgc_PagesDone(struct _zgc_page_snapshot *snap)
{
    PyMem_RawFree(snap->items);
    *snap = (struct _zgc_page_snapshot){0};
}

#endif  /* Py_ZGC */
