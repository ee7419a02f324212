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
 * Nothing here depends on the world being stopped: a buffer belongs to
 * the thread running the collection.
 */

#include "Python.h"

#ifdef Py_ZGC

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
#ifdef USE_MREMAP
    (void)munmap(ptr, _PyZgc_BufferSize(size));
#else
    PyMem_RawFree(ptr);
#endif
}

#endif  /* Py_ZGC */
