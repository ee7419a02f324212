/* zgc_mark.c: colored mark state and marking from the roots.
 *
 * Owns the mark color, the mark stack and the tracer that marks the
 * tracked objects reachable from the known roots.  Everything here runs
 * with the world stopped (a full collection's slices), by the collecting
 * thread and, on a stack of its own, the marking helper (zgc_helper.c;
 * "Two tracers" below).
 *
 * Colors.  "Marked" means "has this cycle's color": bit 7 of ob_gc_bits
 * (unused upstream) equals gcstate->zgc_color.  A full collection flips
 * the color before it marks, which unmarks every object at once; nothing
 * is ever cleared.  Marking is only complete if, when a full collection
 * flips the color, every tracked, unfrozen object has the color of the
 * cycle before: an object with an older color would look marked, and
 * neither it nor what only it reaches would be a candidate.  So every path
 * that leaves a tracked object behind gives it the current color:
 *   - marking, here;
 *   - validation, for every candidate, garbage included (a finalizer may
 *     resurrect it) (zgc_validate.c);
 *   - tracking, for objects tracked since (zgc_young.c's log hook);
 *   - gc.unfreeze(), for objects that were frozen (patched visit_unfreeze);
 *   - a full collection abandoned after the flip cannot: it leaves the
 *     colors marked stale, and the next one runs without marks
 *     (zgc_full.c).  The bit is in the header rather than a side bitmap because
 * the tracer reads the header anyway (ob_type for tp_traverse, the
 * TRACKED and FROZEN bits), so the color costs no extra cache line; see
 * InternalDocs/zgc.md for the measurement.
 *
 * Marking.  The roots are those of upstream's mark-alive pass: the sys
 * and builtins dicts, the interpreter dict, the dicts and subclass lists
 * of managed static types, and every object on the thread stacks.  What
 * is marked is reachable from a root with the world stopped, so it is
 * live.  What is not marked is only a candidate (objects reachable only
 * from C globals, non-GC objects or untracked containers are not marked):
 * the validation in zgc_validate.c decides, so an incomplete set of roots
 * costs pause time, never safety.  Frozen objects are neither marked nor
 * written; objects reachable only through them stay unmarked and are kept
 * by validation.
 *
 * Out of memory while marking leaves a partly marked cycle behind, which
 * needs no undoing: a color is only a hint to candidate discovery.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_gc.h"            // _PyObject_GC_IS_TRACKED()
#include "pycore_interp.h"        // PyInterpreterState
#include "pycore_interpframe.h"   // _PyInterpreterFrame
#include "pycore_object.h"        // _Py_IsImmortal()
#include "pycore_pystate.h"       // _Py_FOR_EACH_TSTATE_BEGIN()
#include "pycore_setobject.h"     // _PySet_NextEntry()
#include "pycore_stackref.h"      // PyStackRef_AsPyObjectBorrow()
#include "pycore_tuple.h"         // _PyTuple_MaybeUntrack()
#include "pycore_zgc.h"

#define MARK_STACK_INITIAL 4096
// Items of a large list, tuple, dict or set, or referents of any other
// object, visited per mark step.
#define MARK_CHUNK 512
// What a chunk counts against a drain's budget of pops.
#define MARK_CHUNK_COST 48
// A resumed traversal of any other type passes over the referents visited
// in earlier steps (a skip reads a pointer, about 1/128 of a pop); past
// this many, marking leaves the rest of its referents unvisited (see
// mark_traverse), so that no step is long and the total work stays
// linear.
#define MARK_MAX_SKIP ((Py_ssize_t)1 << 18)
#define MARK_SKIPS_PER_POP 128
// A large instance of a subclass of list, tuple, dict or set is chunked
// by index too; what its type adds (the type itself, __slots__, the
// instance dict, a defaultdict's factory, an OrderedDict's inst dict)
// comes first in every standard tp_traverse, so its first this many
// referents are visited through tp_traverse.
#define MARK_SUBCLASS_EXTRAS 64

void
_PyZgc_MarkStart(PyInterpreterState *interp, struct _zgc_mark *mark)
{
    assert(interp->stoptheworld.world_stopped);
    interp->gc.zgc_color ^= _PyGC_BITS_ZGC_COLOR;
    *mark = (struct _zgc_mark){ .color = interp->gc.zgc_color };
}

int
_PyZgc_MarkReserve(struct _zgc_mark *mark, Py_ssize_t n)
{
    return _PyZgc_BufferReserve((void **)&mark->items, &mark->cap, n,
                                sizeof(*mark->items), MARK_STACK_INITIAL);
}

static int
push(struct _zgc_mark *mark, PyObject *op, Py_ssize_t pos)
{
    if (mark->len == mark->cap
        && _PyZgc_MarkReserve(mark, mark->len + 1) < 0)
    {
        return -1;
    }
    mark->items[mark->len++] = (struct _zgc_mark_entry){ op, pos };
    return 0;
}

/* Two tracers.  Inside a mark slice the collecting thread and the marking
 * helper (zgc_helper.c) each drain a stack of their own, with the world
 * stopped.  They share only the objects: ob_gc_bits is read and written
 * with atomic operations here, setting the color is an atomic or/and whose
 * old value says who colored the object first (only that tracer pushes
 * it), and tuples of atoms are untracked with an atomic and.  Everything
 * else a tracer reads (tp_traverse of an object, a container's items) no
 * one writes while the world is stopped. */
static inline uint8_t
gc_bits(PyObject *op)
{
    return _Py_atomic_load_uint8_relaxed(&op->ob_gc_bits);
}

// Untrack an exact tuple that can never be part of a cycle (every item
// is there and is neither a GC object nor a tracked tuple), as upstream's
// mark-alive pass does.  1 if it was untracked.
static int
untrack_tuple_of_atoms(PyObject *op)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(op); i++) {
        PyObject *item = PyTuple_GET_ITEM(op, i);
        if (item == NULL) {
            return 0;
        }
        if (PyObject_IS_GC(item)
            && (!PyTuple_CheckExact(item)
                || (gc_bits(item) & _PyGC_BITS_TRACKED)))
        {
            return 0;
        }
    }
    _Py_atomic_and_uint8(&op->ob_gc_bits, (uint8_t)~_PyGC_BITS_TRACKED);
    return 1;
}

// Mark `op` if it is tracked, unfrozen and not yet marked, and push it so
// that its referents get marked too.
static int
mark_visit(PyObject *op, void *arg)
{
    struct _zgc_mark *mark = (struct _zgc_mark *)arg;
    uint8_t bits = gc_bits(op);
    if ((bits & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN))
            != _PyGC_BITS_TRACKED
        || (bits & _PyGC_BITS_ZGC_COLOR) == mark->color
        || _Py_IsImmortal(op))
    {
        // Immortal objects are never candidates, and may be shared with
        // other interpreters, which mark with their worlds stopped, not
        // this one's: they are not written.
        return 0;
    }
    // The marking helper may color the same object at the same moment:
    // whoever changes the bit pushes the object.
    uint8_t old = mark->color
        ? _Py_atomic_or_uint8(&op->ob_gc_bits, _PyGC_BITS_ZGC_COLOR)
        : _Py_atomic_and_uint8(&op->ob_gc_bits,
                               (uint8_t)~_PyGC_BITS_ZGC_COLOR);
    if ((old & _PyGC_BITS_ZGC_COLOR) == mark->color) {
        return 0;
    }
    mark->marked++;
    return push(mark, op, -1);
}

static int
mark_root(struct _zgc_mark *mark, PyObject *op)
{
    return op == NULL ? 0 : mark_visit(op, mark);
}

static int
mark_stackref(struct _zgc_mark *mark, _PyStackRef ref)
{
    if (PyStackRef_IsNullOrInt(ref)) {
        return 0;
    }
    return mark_visit(PyStackRef_AsPyObjectBorrow(ref), mark);
}

static int
mark_thread_stacks(PyInterpreterState *interp, struct _zgc_mark *mark)
{
    int err = 0;
    _Py_FOR_EACH_TSTATE_BEGIN(interp, p) {
        for (_PyInterpreterFrame *f = p->current_frame; f != NULL;
             f = f->previous)
        {
            if (f->owner >= FRAME_OWNED_BY_INTERPRETER) {
                continue;
            }
            if (f->stackpointer == NULL) {
                // GH-129236: no valid stack pointer while the frame is in
                // the middle of PyStackRef_CLOSE(); its objects stay
                // candidates, which validation keeps.
                continue;
            }
            if (mark_stackref(mark, f->f_executable) < 0) {
                err = -1;
                goto done;
            }
            for (_PyStackRef *top = f->stackpointer; top != f->localsplus; ) {
                --top;
                if (mark_stackref(mark, *top) < 0) {
                    err = -1;
                    goto done;
                }
            }
        }
    }
done:
    _Py_FOR_EACH_TSTATE_END(interp);
    return err;
}

int
_PyZgc_MarkRoots(PyInterpreterState *interp, struct _zgc_mark *mark)
{
    assert(interp->stoptheworld.world_stopped);
    if (mark_root(mark, interp->sysdict) < 0
        || mark_root(mark, interp->builtins) < 0
        || mark_root(mark, interp->dict) < 0)
    {
        return -1;
    }
    struct types_state *types = &interp->types;
    for (int i = 0; i < _Py_MAX_MANAGED_STATIC_BUILTIN_TYPES; i++) {
        if (mark_root(mark, types->builtins.initialized[i].tp_dict) < 0
            || mark_root(mark,
                         types->builtins.initialized[i].tp_subclasses) < 0)
        {
            return -1;
        }
    }
    for (int i = 0; i < _Py_MAX_MANAGED_STATIC_EXT_TYPES; i++) {
        if (mark_root(mark, types->for_extensions.initialized[i].tp_dict) < 0
            || mark_root(mark,
                         types->for_extensions.initialized[i].tp_subclasses)
               < 0)
        {
            return -1;
        }
    }
    return mark_thread_stacks(interp, mark);
}

static int mark_subclass_extras(struct _zgc_mark *mark, PyObject *op);

// Visit at most MARK_CHUNK items of a list, tuple, dict or set (or of an
// instance of a subclass: its first MARK_SUBCLASS_EXTRAS referents are
// visited first, through tp_traverse) from `pos` on, and push the rest.
// The container may have changed since an earlier slice (the world ran):
// the items are read afresh, with the world stopped; an item skipped or
// seen twice only costs precision.  (A subclass's referents beyond the
// first MARK_SUBCLASS_EXTRAS that are not items stay unvisited: unmarked,
// they are candidates, which validation keeps if referenced.)  1 if `op`
// was handled this way, 0 if it must be traversed whole, -1 on error.
static int
mark_chunk(struct _zgc_mark *mark, PyObject *op, Py_ssize_t pos)
{
    // Every popped object comes here: only flag tests and pointer
    // compares (PyAnySet_Check() would walk the MRO of every object; a set
    // subclass of a set subclass is traversed instead).
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t end;
    if (PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS
                                | Py_TPFLAGS_TUPLE_SUBCLASS)) {
        Py_ssize_t size = Py_SIZE(op);
        if (pos < 0 && size <= MARK_CHUNK) {
            return 0;
        }
        if (pos < 0 && tp != &PyList_Type && tp != &PyTuple_Type
            && mark_subclass_extras(mark, op) < 0)
        {
            return -1;
        }
        PyObject **items = PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS)
                           ? ((PyListObject *)op)->ob_item
                           : ((PyTupleObject *)op)->ob_item;
        pos = pos < 0 ? 0 : pos;
        end = pos + MARK_CHUNK < size ? pos + MARK_CHUNK : size;
        for (Py_ssize_t i = pos; i < end; i++) {
            if (items[i] != NULL && mark_visit(items[i], mark) < 0) {
                return -1;
            }
        }
        if (end < size && push(mark, op, end) < 0) {
            return -1;
        }
        return 1;
    }
    if (PyType_FastSubclass(tp, Py_TPFLAGS_DICT_SUBCLASS)) {
        if (pos < 0 && PyDict_GET_SIZE(op) <= MARK_CHUNK) {
            return 0;
        }
        if (pos < 0 && tp != &PyDict_Type
            && mark_subclass_extras(mark, op) < 0)
        {
            return -1;
        }
        pos = pos < 0 ? 0 : pos;
        PyObject *key, *value;
        for (int n = 0; n < MARK_CHUNK; n++) {
            if (!PyDict_Next(op, &pos, &key, &value)) {
                return 1;
            }
            if (mark_visit(key, mark) < 0 || mark_visit(value, mark) < 0) {
                return -1;
            }
        }
        return push(mark, op, pos) < 0 ? -1 : 1;
    }
    int exact_set = tp == &PySet_Type || tp == &PyFrozenSet_Type;
    if (exact_set || tp->tp_base == &PySet_Type
        || tp->tp_base == &PyFrozenSet_Type)
    {
        if (pos < 0 && PySet_GET_SIZE(op) <= MARK_CHUNK) {
            return 0;
        }
        if (pos < 0 && !exact_set
            && mark_subclass_extras(mark, op) < 0)
        {
            return -1;
        }
        pos = pos < 0 ? 0 : pos;
        PyObject *key;
        Py_hash_t hash;
        for (int n = 0; n < MARK_CHUNK; n++) {
            if (_PySet_NextEntry(op, &pos, &key, &hash) <= 0) {
                return 1;
            }
            if (mark_visit(key, mark) < 0) {
                return -1;
            }
        }
        return push(mark, op, pos) < 0 ? -1 : 1;
    }
    return 0;
}

// Any other object is traversed with tp_traverse, MARK_CHUNK referents
// per step: an object with more (a deque, a large instance of a container
// type of an extension) is pushed again with the number visited so far,
// and the next step skips that many.  tp_traverse stops when the visitor
// returns non-zero (Py_VISIT); a type that ignores that only gets visits
// that do nothing.  The referents may have changed in between (the world
// ran), so a step may skip or see twice some of them: that only costs
// precision, as for the chunks above (an unmarked object stays a
// candidate, which validation keeps if it is referenced).  Past
// MARK_MAX_SKIP referents the rest are left unvisited, for the same
// reason: visiting them in one step made pauses proportional to the
// container (47 ms for a deque of 2M objects), and resuming past that
// would make the skips quadratic.  They and what only they reach become
// candidates, so validation does the work instead, in batches of whole
// components: a deque of independent objects costs bounded pauses; a
// large structure reachable only through such a tail is one component,
// validated in one pause (see Known limits in InternalDocs/zgc.md).
struct traverse_step {
    struct _zgc_mark *mark;
    Py_ssize_t skip;              // referents still to pass over
    Py_ssize_t left;              // referents this step may still visit
    Py_ssize_t visited;
    int full;                     // a referent was left for the next step
};

#define STEP_FULL 1

static int
traverse_step_visit(PyObject *op, void *arg)
{
    struct traverse_step *step = (struct traverse_step *)arg;
    if (step->skip > 0) {
        step->skip--;
        return 0;
    }
    if (step->left == 0) {
        step->full = 1;
        return STEP_FULL;
    }
    step->left--;
    step->visited++;
    return mark_visit(op, step->mark);
}

static int
mark_subclass_extras(struct _zgc_mark *mark, PyObject *op)
{
    struct traverse_step step = {
        .mark = mark,
        .left = MARK_SUBCLASS_EXTRAS,
    };
    return Py_TYPE(op)->tp_traverse(op, traverse_step_visit, &step) < 0
           ? -1 : 0;
}

// Traverse `op` from referent `pos` on (-1: a fresh object).  Returns the
// step's cost in pops beyond the first, or -1 on error.
static Py_ssize_t
mark_traverse(struct _zgc_mark *mark, PyObject *op, Py_ssize_t pos)
{
    Py_ssize_t skip = pos < 0 ? 0 : pos;
    if (skip >= MARK_MAX_SKIP) {
        return 0;               // the rest stay candidates (see above)
    }
    struct traverse_step step = {
        .mark = mark,
        .skip = skip,
        .left = MARK_CHUNK,
    };
    int err = Py_TYPE(op)->tp_traverse(op, traverse_step_visit, &step);
    if (err < 0) {
        return -1;
    }
    if (step.full && push(mark, op, skip + step.visited) < 0) {
        return -1;
    }
    return step.visited * MARK_CHUNK_COST / MARK_CHUNK
           + skip / MARK_SKIPS_PER_POP;
}

int
_PyZgc_MarkDrain(struct _zgc_mark *mark,
                 const struct _zgc_page_lookup *released, uint64_t seq,
                 Py_ssize_t budget)
{
    while (mark->len > 0) {
        if (budget >= 0 && budget-- == 0) {
            return 0;
        }
        struct _zgc_mark_entry entry = mark->items[--mark->len];
        PyObject *op = entry.op;
        // Pushed in an earlier slice, the entry may be stale: follow it
        // only if its page was not released since (zgc_full.c), and only
        // if it is still a tracked, unfrozen object (a freed block says
        // not tracked; an object allocated since in the same block is
        // simply live).
        if (released != NULL
            && _PyZgc_PageReleasedSince(released, op, seq)) {
            continue;
        }
        if ((gc_bits(op) & (_PyGC_BITS_TRACKED | _PyGC_BITS_FROZEN))
            != _PyGC_BITS_TRACKED)
        {
            continue;
        }
        if (entry.pos < 0 && PyTuple_CheckExact(op)
            && untrack_tuple_of_atoms(op))
        {
            continue;           // and it needs no visit
        }
        int chunked = mark_chunk(mark, op, entry.pos);
        if (chunked < 0) {
            return -1;
        }
        // A chunk visits up to MARK_CHUNK items (each a likely cache miss
        // in a large heap): it costs as much as that many pops, or a slice
        // that checks the clock every 64 pops overruns.
        Py_ssize_t cost = chunked ? MARK_CHUNK_COST
                                  : mark_traverse(mark, op, entry.pos);
        if (cost < 0) {
            return -1;
        }
        if (budget > 0) {
            budget = budget > cost ? budget - cost : 0;
        }
    }
    return 1;
}

int
_PyZgc_MarkSplit(struct _zgc_mark *from, struct _zgc_mark *to,
                 Py_ssize_t n)
{
    if (n > from->len) {
        n = from->len;
    }
    if (_PyZgc_MarkReserve(to, to->len + n) < 0) {
        return -1;
    }
    memcpy(to->items + to->len, from->items + from->len - n,
           (size_t)n * sizeof(*from->items));
    to->len += n;
    from->len -= n;
    return 0;
}

void
_PyZgc_MarkSwap(struct _zgc_mark *a, struct _zgc_mark *b)
{
    struct _zgc_mark t = *a;
    a->items = b->items;
    a->len = b->len;
    a->cap = b->cap;
    a->touched = b->touched;
    b->items = t.items;
    b->len = t.len;
    b->cap = t.cap;
    b->touched = t.touched;
}

void
_PyZgc_MarkDone(struct _zgc_mark *mark)
{
    _PyZgc_BufferFree(mark->items, (size_t)mark->cap * sizeof(*mark->items));
    mark->items = NULL;
    mark->len = 0;
    mark->cap = 0;
    mark->touched = 0;
}

#endif  /* Py_ZGC */
