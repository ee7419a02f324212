/* markbits.c: header mark bit against a side bitmap, measured.
 *
 * The question behind pyzgc's colored mark state (Python/zgc/zgc_mark.c):
 * should "marked in this cycle" live in the object header (bit 7 of
 * ob_gc_bits) or in a side bitmap (one bit per 16-byte granule of the
 * heap, as HotSpot's ZLiveMap and mimalloc-style page bitmaps do)?
 *
 * The tracer must read each object's header anyway (ob_type to call
 * tp_traverse, the TRACKED and FROZEN bits), so this program models
 * exactly that: N 64-byte "objects" spread over a heap in random order,
 * each pointing at the next one to visit; the mark loop reads the header,
 * tests and sets the mark, and follows the pointer.  Variant "header"
 * keeps the mark in the header byte; "bitmap" keeps it in a separate
 * bitmap.  Both flip the meaning of the bit per cycle (epoch parity), so
 * neither clears anything between cycles.
 *
 *     cc -O2 -o markbits Tools/zgc/bench/markbits.c && ./markbits 1000000 4000000
 *
 * Prints ns per object for each variant and heap size (best of 5 cycles).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct obj {
    struct obj *next;       // the reference the tracer follows
    uint8_t gc_bits;        // bit 0: tracked, bit 7: mark color
    uint8_t pad[55];
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t
mark_header(struct obj *start, uint8_t color)
{
    size_t marked = 0;
    for (struct obj *op = start; op != NULL; op = op->next) {
        uint8_t bits = op->gc_bits;
        if ((bits & 1) && (bits & 0x80) != color) {
            op->gc_bits = (uint8_t)((bits & 0x7f) | color);
            marked++;
        }
    }
    return marked;
}

static size_t
mark_bitmap(struct obj *start, struct obj *base, uint8_t *bitmap,
            uint8_t color)
{
    size_t marked = 0;
    for (struct obj *op = start; op != NULL; op = op->next) {
        uint8_t bits = op->gc_bits;             // read anyway (tracked?)
        size_t granule = (size_t)((char *)op - (char *)base) / 16;
        uint8_t mask = (uint8_t)(1u << (granule & 7));
        uint8_t *byte = &bitmap[granule >> 3];
        int is_set = (*byte & mask) != 0;
        if ((bits & 1) && is_set != (color != 0)) {
            *byte ^= mask;
            marked++;
        }
    }
    return marked;
}

static void
measure(size_t n)
{
    struct obj *heap = aligned_alloc(64, n * sizeof(struct obj));
    uint8_t *bitmap = calloc(n * sizeof(struct obj) / 16 / 8 + 1, 1);
    size_t *order = malloc(n * sizeof(size_t));
    if (heap == NULL || bitmap == NULL || order == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(heap, 0, n * sizeof(struct obj));
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = xorshift() % (i + 1);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        heap[order[i]].gc_bits = 1;
        heap[order[i]].next = i + 1 < n ? &heap[order[i + 1]] : NULL;
    }
    struct obj *start = &heap[order[0]];

    double best_header = 1e9, best_bitmap = 1e9;
    uint8_t color = 0;
    for (int cycle = 0; cycle < 5; cycle++) {
        color ^= 0x80;
        double t0 = now();
        size_t m = mark_header(start, color);
        double t1 = now();
        if (m != n) {
            fprintf(stderr, "header: marked %zu of %zu\n", m, n);
            exit(1);
        }
        m = mark_bitmap(start, heap, bitmap, color);
        double t2 = now();
        if (m != n) {
            fprintf(stderr, "bitmap: marked %zu of %zu\n", m, n);
            exit(1);
        }
        if (t1 - t0 < best_header) {
            best_header = t1 - t0;
        }
        if (t2 - t1 < best_bitmap) {
            best_bitmap = t2 - t1;
        }
    }
    printf("%9zu objects: header bit %.1f ns/object, side bitmap %.1f "
           "ns/object (%.2fx)\n", n, best_header * 1e9 / n,
           best_bitmap * 1e9 / n, best_bitmap / best_header);
    free(order);
    free(bitmap);
    free(heap);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [N...]\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        measure((size_t)strtoull(argv[i], NULL, 10));
    }
    return 0;
}
