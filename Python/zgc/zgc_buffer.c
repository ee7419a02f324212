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
 * zeroing of every page, the unmap's TLB work).  So freed buffers are
 * kept in a small cache, populated, and an empty mark stack or found[]
 * (whose users never read past what they wrote, so stale contents do no
 * harm) takes one from it instead of mapping a new one.  Bound: the cache
 * keeps at most ZGC_BUFFER_CACHE_MIN bytes plus ZGC_BUFFER_CACHE_PER_OBJECT
 * per live GC object (what a collection of the heap as it is now would
 * need again), trimmed at the end of every collection, so the memory of a
 * large heap's collection goes back when the heap has shrunk.  Buffers
 * that must start zero (the index's directory and maps) are always newly
 * mapped.
 *
 * Nothing here depends on the world being stopped: a buffer belongs to
 * the thread running the collection.  The cache is process-wide (every
 * interpreter's collections), under its own lock.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_lock.h"          // PyMutex
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

/* The cache of freed buffers (see Reuse above). */
#define ZGC_BUFFER_CACHE_MIN ((size_t)4 << 20)
#define ZGC_BUFFER_CACHE_PER_OBJECT 32
#define CACHE_SLOTS 8

static struct {
    PyMutex mutex;
    int len;
    size_t bytes;                 // the sizes of items[0..len) together
    size_t limit;
    struct { void *ptr; size_t size; } items[CACHE_SLOTS];
} cache = { .limit = ZGC_BUFFER_CACHE_MIN };

// Unmap the largest cached buffers until the cache holds at most `limit`
// bytes.  Called with the lock held; returns how many it took out into
// `out` (at most CACHE_SLOTS), to unmap once the lock is released.
static int
cache_trim_locked(size_t limit, void **out, size_t *out_size)
{
    int n = 0;
    while (cache.bytes > limit && cache.len > 0) {
        int largest = 0;
        for (int i = 1; i < cache.len; i++) {
            if (cache.items[i].size > cache.items[largest].size) {
                largest = i;
            }
        }
        out[n] = cache.items[largest].ptr;
        out_size[n] = cache.items[largest].size;
        n++;
        cache.bytes -= cache.items[largest].size;
        cache.items[largest] = cache.items[--cache.len];
    }
    return n;
}

static void
unmap_all(void **ptrs, size_t *sizes, int n)
{
    for (int i = 0; i < n; i++) {
#ifdef USE_MREMAP
        (void)munmap(ptrs[i], sizes[i]);
#else
        PyMem_RawFree(ptrs[i]);
#endif
    }
}

// The smallest cached buffer of at least `size` bytes, taken out of the
// cache (its size in *got), or NULL.
static void *
cache_take(size_t size, size_t *got)
{
    void *ptr = NULL;
    PyMutex_Lock(&cache.mutex);
    int best = -1;
    for (int i = 0; i < cache.len; i++) {
        if (cache.items[i].size >= size
            && (best < 0 || cache.items[i].size < cache.items[best].size))
        {
            best = i;
        }
    }
    if (best >= 0) {
        ptr = cache.items[best].ptr;
        *got = cache.items[best].size;
        cache.bytes -= *got;
        cache.items[best] = cache.items[--cache.len];
    }
    PyMutex_Unlock(&cache.mutex);
    return ptr;
}

void
_PyZgc_BufferCacheLimit(Py_ssize_t live_objects)
{
    size_t limit = ZGC_BUFFER_CACHE_MIN;
    if (live_objects > 0) {
        limit += (size_t)live_objects * ZGC_BUFFER_CACHE_PER_OBJECT;
    }
    void *out[CACHE_SLOTS];
    size_t out_size[CACHE_SLOTS];
    PyMutex_Lock(&cache.mutex);
    cache.limit = limit;
    int n = cache_trim_locked(limit, out, out_size);
    PyMutex_Unlock(&cache.mutex);
    unmap_all(out, out_size, n);
}

size_t
_PyZgc_BufferCached(void)
{
    PyMutex_Lock(&cache.mutex);
    size_t bytes = cache.bytes;
    PyMutex_Unlock(&cache.mutex);
    return bytes;
}

void
_PyZgc_BufferAfterForkChild(void)
{
    // The lock may have been held by a thread that does not exist in the
    // child, halfway through a change: forget what the cache held (the
    // mappings stay, shared copy-on-write with the parent, untouched).
    cache.mutex = (PyMutex){0};
    cache.len = 0;
    cache.bytes = 0;
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
    if (*ptr == NULL) {
        size_t got;
        void *mem = cache_take(_PyZgc_BufferSize((size_t)want * item_size),
                               &got);
        if (mem != NULL) {
            *ptr = mem;
            *cap = (Py_ssize_t)(got / item_size);
            return 0;
        }
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
    size = _PyZgc_BufferSize(size);
    void *out[CACHE_SLOTS + 1];
    size_t out_size[CACHE_SLOTS + 1];
    int n = 0;
    PyMutex_Lock(&cache.mutex);
    if (size <= cache.limit) {
        if (cache.len == CACHE_SLOTS) {
            // Make room: the smallest goes (the larger ones save more).
            int smallest = 0;
            for (int i = 1; i < cache.len; i++) {
                if (cache.items[i].size < cache.items[smallest].size) {
                    smallest = i;
                }
            }
            out[n] = cache.items[smallest].ptr;
            out_size[n] = cache.items[smallest].size;
            n++;
            cache.bytes -= cache.items[smallest].size;
            cache.items[smallest] = cache.items[--cache.len];
        }
        cache.items[cache.len].ptr = ptr;
        cache.items[cache.len].size = size;
        cache.len++;
        cache.bytes += size;
        n += cache_trim_locked(cache.limit, out + n, out_size + n);
    }
    else {
        out[n] = ptr;
        out_size[n] = size;
        n++;
    }
    PyMutex_Unlock(&cache.mutex);
    unmap_all(out, out_size, n);
}

#endif  /* Py_ZGC */
