/* zgc_buffer.c: growable buffers for the collector's own bookkeeping.
 *
 * Owns the memory of a full collection's mark stack, found list and
 * component tables.  With a large heap these grow to tens of megabytes,
 * and they grow inside stop-the-world slices.  realloc() may copy: glibc
 * serves a block from its heap rather than mapping it once its dynamic
 * mmap threshold has risen (it does after a large block is freed), and
 * copying 16 MB made single slices cost milliseconds.  So these buffers
 * are mapped directly and grown with mremap(), which moves page tables,
 * not bytes; pages are zero until written, and are touched a little at a
 * time by the slices that fill them.  Where mremap() does not exist the
 * buffers fall back to PyMem_RawRealloc().
 *
 * First touches.  A page's first write is a page fault: 1.7 us on average
 * here, but one in a few thousand takes 100-400 us (the VM's host backing
 * the page), and inside a slice that is the pause's whole budget.  So the
 * cycle asks for the pages a slice is about to write to be populated
 * beforehand, with the world running (_PyZgc_BufferPrefault;
 * zgc_full.c decides how far ahead).
 *
 * Reuse.  A full collection of a heap of N objects fills megabytes of
 * these (the mark stack alone: 2 MiB for a 150,000-object graph), and
 * mapping, populating and unmapping them again at every collection cost
 * 10-25% of an explicit gc.collect() of such a heap (page faults, the
 * zeroing of every page, the unmap's TLB work).  So the buffers that every
 * cycle uses the same way, the two mark stacks and found[], are handed
 * back at the cycle's end to a slot per role (_PyZgc_BufferKeep) and
 * taken again, populated, by the next cycle (_PyZgc_BufferTake).  Only
 * those: a general cache kept buffers that no later cycle took (the
 * index's arrays must start zero) and gave one role's large buffer to
 * another role that wrote a fraction of it, and raised the peak RSS of a
 * 4M-object churn by 127 MB.  Their users never read past what they
 * wrote, so stale contents do no harm.  Bound: at most ZGC_BUFFER_KEEP_MAX
 * bytes stay kept, the largest given back first, trimmed at the end of
 * every collection.  A limit in proportion to the heap (4 MiB + 32 bytes
 * per live object) was tried first: keeping a 4M-object heap's mark stacks
 * and found list between cycles, resident while the heap peaks (a cycle
 * frees them before its validation), raised the peak RSS of the project's
 * benchmark by 57 MB at 4M live objects (848 against 790 MB); and for a
 * large heap the faults saved are a few percent of its marking.
 *
 * Nothing here depends on the world being stopped: a buffer belongs to
 * the thread running the collection.  The slots are process-wide (every
 * interpreter's collections), under their own lock.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_lock.h"          // PyMutex_LockFlags()
#include "pycore_zgc.h"

#include <string.h>               // memset()
#ifdef HAVE_SYS_MMAN_H
#  include <sys/mman.h>           // mmap(), mremap(), munmap()
#endif

#if defined(MREMAP_MAYMOVE) && defined(MAP_ANONYMOUS)
#  define USE_MREMAP 1
#endif

// Sizes are rounded up to this (a multiple of any page size in use).
#define GRANULE ((size_t)1 << 16)

size_t
_PyZgc_BufferSize(size_t size)
{
    return (size + GRANULE - 1) & ~(GRANULE - 1);
}

void *
_PyZgc_BufferGrow(void *ptr, size_t old_size, size_t new_size)
{
    assert(new_size > old_size);
    assert(old_size == _PyZgc_BufferSize(old_size));
    new_size = _PyZgc_BufferSize(new_size);
#ifdef USE_MREMAP
    void *mem;
    if (ptr == NULL) {
        mem = mmap(NULL, new_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    else {
        mem = mremap(ptr, old_size, new_size, MREMAP_MAYMOVE);
    }
    return mem == MAP_FAILED ? NULL : mem;
#else
    char *mem = PyMem_RawRealloc(ptr, new_size);
    if (mem != NULL) {
        memset(mem + old_size, 0, new_size - old_size);
    }
    return mem;
#endif
}

/* The kept buffers (see Reuse above). */
#define ZGC_BUFFER_KEEP_MAX ((size_t)4 << 20)

// The lock is taken inside stop-the-world pauses (a cycle keeps and takes
// its buffers there), so it never detaches the thread state; it is held
// for a few stores, never across a system call.
static struct {
    PyMutex mutex;
    struct { void *ptr; size_t size; } slots[ZGC_BUFFER_ROLES];
} kept;

static void
unmap(void *ptr, size_t size)
{
#ifdef USE_MREMAP
    (void)munmap(ptr, size);
#else
    PyMem_RawFree(ptr);
#endif
}

void
_PyZgc_BufferKeep(int role, void *ptr, size_t size)
{
    assert(0 <= role && role < ZGC_BUFFER_ROLES);
    if (ptr == NULL) {
        return;
    }
    PyMutex_LockFlags(&kept.mutex, _Py_LOCK_DONT_DETACH);
    void *old = kept.slots[role].ptr;
    size_t old_size = kept.slots[role].size;
    kept.slots[role].ptr = ptr;
    kept.slots[role].size = _PyZgc_BufferSize(size);
    PyMutex_Unlock(&kept.mutex);
    if (old != NULL) {
        unmap(old, old_size);   // not expected: one cycle at a time
    }
}

void *
_PyZgc_BufferTake(int role, size_t *size)
{
    assert(0 <= role && role < ZGC_BUFFER_ROLES);
    PyMutex_LockFlags(&kept.mutex, _Py_LOCK_DONT_DETACH);
    void *ptr = kept.slots[role].ptr;
    *size = kept.slots[role].size;
    kept.slots[role].ptr = NULL;
    kept.slots[role].size = 0;
    PyMutex_Unlock(&kept.mutex);
    return ptr;
}

void
_PyZgc_BufferKeepTrim(void)
{
    size_t limit = ZGC_BUFFER_KEEP_MAX;
    void *out[ZGC_BUFFER_ROLES];
    size_t out_size[ZGC_BUFFER_ROLES];
    int n = 0;
    PyMutex_LockFlags(&kept.mutex, _Py_LOCK_DONT_DETACH);
    for (;;) {
        size_t total = 0;
        int largest = -1;
        for (int i = 0; i < ZGC_BUFFER_ROLES; i++) {
            total += kept.slots[i].size;
            if (kept.slots[i].ptr != NULL
                && (largest < 0
                    || kept.slots[i].size > kept.slots[largest].size))
            {
                largest = i;
            }
        }
        if (total <= limit || largest < 0) {
            break;
        }
        out[n] = kept.slots[largest].ptr;
        out_size[n] = kept.slots[largest].size;
        n++;
        kept.slots[largest].ptr = NULL;
        kept.slots[largest].size = 0;
    }
    PyMutex_Unlock(&kept.mutex);
    for (int i = 0; i < n; i++) {
        unmap(out[i], out_size[i]);
    }
}

size_t
_PyZgc_BufferKept(void)
{
    PyMutex_LockFlags(&kept.mutex, _Py_LOCK_DONT_DETACH);
    size_t total = 0;
    for (int i = 0; i < ZGC_BUFFER_ROLES; i++) {
        total += kept.slots[i].size;
    }
    PyMutex_Unlock(&kept.mutex);
    return total;
}

void
_PyZgc_BufferAfterForkChild(void)
{
    // The lock may have been held by a thread that does not exist in the
    // child, halfway through a change: forget the slots (the mappings
    // stay, shared copy-on-write with the parent, untouched).
    memset(&kept, 0, sizeof(kept));
}

int
_PyZgc_BufferReserve(void **ptr, Py_ssize_t *cap, Py_ssize_t n,
                     size_t item_size, Py_ssize_t initial)
{
    if (n <= *cap) {
        return 0;
    }
    Py_ssize_t want = *cap ? *cap : initial;
    while (want < n) {
        want *= 2;
    }
    void *mem = _PyZgc_BufferGrow(*ptr, (size_t)*cap * item_size,
                                  (size_t)want * item_size);
    if (mem == NULL) {
        return -1;
    }
    *ptr = mem;
    // Whatever the rounding to granules adds is usable too.
    *cap = (Py_ssize_t)(_PyZgc_BufferSize((size_t)want * item_size)
                        / item_size);
    return 0;
}

void
_PyZgc_BufferPrefault(void *ptr, size_t *touched, size_t want)
{
    if (ptr == NULL || want <= *touched) {
        return;
    }
    // Whole granules: the buffers' sizes are multiples of them.
    size_t from = *touched & ~(GRANULE - 1);
    size_t to = _PyZgc_BufferSize(want);
#if defined(USE_MREMAP) && defined(MADV_POPULATE_WRITE)
    // Populates the pages writable without changing what they hold.
    if (madvise((char *)ptr + from, to - from, MADV_POPULATE_WRITE) == 0) {
        *touched = to;
        return;
    }
#endif
    // Rewrite one byte per 4 KiB as it is (only the collecting thread
    // writes these buffers).
    for (size_t off = from; off < to; off += 4096) {
        volatile char *byte = (volatile char *)ptr + off;
        *byte = *byte;
    }
    *touched = to;
}

void
_PyZgc_BufferFree(void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    unmap(ptr, _PyZgc_BufferSize(size));
}

#endif  /* Py_ZGC */
