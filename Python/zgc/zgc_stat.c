/* zgc_stat.c: what collections cost.
 *
 * Owns pyzgc's statistics: per collection, the wall duration, the
 * stop-the-world pauses (count, total, longest; each from the request to
 * stop the world until it runs again, so time-to-safepoint is included),
 * the objects visited and the candidates examined, reported in the "stop"
 * info of gc.callbacks; per generation, the same figures accumulated plus a
 * pause histogram, reported by gc.get_stats().  One collection runs at a
 * time per interpreter (gcstate->collecting), so the records live in the
 * interpreter's GC state and are written by the collecting thread only;
 * readers may see a collection half-accounted, as with upstream's counts.
 * Also a process-wide progress counter, which tells a gc.collect() waiting
 * for another thread's collection that it is not stuck.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_pystate.h"       // _PyInterpreterState_GET()
#include "pycore_time.h"          // PyTime_PerfCounterRaw()
#include "pycore_zgc.h"

void
_PyZgc_StatsStart(struct _gc_runtime_state *gcstate, int generation)
{
    struct _zgc_collection_stats *s = &gcstate->zgc_stats;
    memset(s, 0, sizeof(*s));
    s->generation = generation;
    s->rss_before = _PyZgc_LogRss();
    (void)PyTime_PerfCounterRaw(&s->start);
}

void
_PyZgc_StatsAdoptCycle(struct _gc_runtime_state *gcstate)
{
    // The collection completes a cycle whose first slices ran detached
    // (gc_free_threading.c): they are its pauses, and it began with them.
    struct _zgc_collection_stats *s = &gcstate->zgc_stats;
    struct _zgc_collection_stats *c = &gcstate->zgc_cycle.stats;
    if (c->slices == 0) {
        return;
    }
    s->start = c->start;
    s->slices += c->slices;
    s->pause_count += c->pause_count;
    s->pause_total += c->pause_total;
    if (c->pause_max > s->pause_max) {
        s->pause_max = c->pause_max;
    }
    memset(c, 0, sizeof(*c));
}

const char *
_PyZgc_KindName(const struct _zgc_collection_stats *s)
{
    if (s->generation == 0) {
        return "young";
    }
    if (s->fallback) {
        return "fallback";
    }
    if (s->survivor) {
        return "survivor";
    }
    return s->slices > 0 ? "incremental" : "full";
}

// Only ever compared for change.
static uint64_t progress;

void
_PyZgc_NoteProgress(void)
{
    (void)_Py_atomic_add_uint64(&progress, 1);
}

uint64_t
_PyZgc_Progress(void)
{
    return _Py_atomic_load_uint64_relaxed(&progress);
}

void
_PyZgc_PauseBegin(struct _gc_runtime_state *gcstate)
{
    // Not part of the pause: the world still runs (zgc_safepoint.c).
    _PyZgc_LetWaitersAttach(_PyInterpreterState_GET());
    (void)PyTime_PerfCounterRaw(&gcstate->zgc_stats.pause_start);
}

static int
pause_bucket(PyTime_t pause)
{
    PyTime_t us = pause / 1000;
    int bucket = 0;
    while (us >= 2 && bucket < ZGC_PAUSE_BUCKETS - 1) {
        us >>= 1;
        bucket++;
    }
    return bucket;
}

void
_PyZgc_PauseEnd(struct _gc_runtime_state *gcstate)
{
    struct _zgc_collection_stats *s = &gcstate->zgc_stats;
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    PyTime_t pause = now - s->pause_start;
    s->pause_count++;
    s->pause_total += pause;
    if (pause > s->pause_max) {
        s->pause_max = pause;
    }
    // The totals count every pause when it ends, as the histogram does:
    // the slices of a detached cycle belong to no collection yet, and the
    // cycle may never complete (abandoned, or forgotten at fork).
    struct _zgc_generation_totals *t = &gcstate->zgc_totals[s->generation];
    _PyZgc_StatsLock(gcstate);
    t->pause_histogram[pause_bucket(pause)]++;
    t->pause_count++;
    t->pause_total += pause;
    if (pause > t->pause_max) {
        t->pause_max = pause;
    }
    _PyZgc_StatsUnlock(gcstate);
    _PyZgc_CycleAfterPause(gcstate);
    _PyZgc_NoteProgress();
}

/* The totals are written by the collecting thread (which holds
 * `collecting`) and read by gc.get_stats() in any thread.  Both sides hold
 * the lock only to copy or bump a few fields, with no safe point inside,
 * so a thread never waits for one that a stop-the-world request stopped;
 * they wait attached. */
void
_PyZgc_StatsLock(struct _gc_runtime_state *gcstate)
{
    PyMutex_LockFlags(&gcstate->zgc_stats_mutex, _Py_LOCK_DONT_DETACH);
}

void
_PyZgc_StatsUnlock(struct _gc_runtime_state *gcstate)
{
    PyMutex_Unlock(&gcstate->zgc_stats_mutex);
}

void
_PyZgc_StatsStop(struct _gc_runtime_state *gcstate, Py_ssize_t collected,
                 Py_ssize_t uncollectable)
{
    struct _zgc_collection_stats *s = &gcstate->zgc_stats;
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    s->duration = now - s->start;
    s->collected = collected + uncollectable;

    struct _zgc_generation_totals *t = &gcstate->zgc_totals[s->generation];
    _PyZgc_StatsLock(gcstate);
    t->duration += s->duration;
    t->visited += s->visited;
    t->purged += s->purged;
    t->fallbacks += s->fallback;
    _PyZgc_StatsUnlock(gcstate);
    _PyZgc_LogCollection(gcstate, collected + uncollectable);
}

PyObject *
_PyZgc_StopInfo(const struct _zgc_collection_stats *s, Py_ssize_t collected,
                Py_ssize_t uncollectable)
{
    return Py_BuildValue(
        "{sisnsnsssdsnsdsdsnsnsisnsnsn}",
        "generation", s->generation,
        "collected", collected,
        "uncollectable", uncollectable,
        "kind", _PyZgc_KindName(s),
        "duration", PyTime_AsSecondsDouble(s->duration),
        "pause_count", s->pause_count,
        "pause_total", PyTime_AsSecondsDouble(s->pause_total),
        "pause_max", PyTime_AsSecondsDouble(s->pause_max),
        "visited", s->visited,
        "candidates", s->candidates,
        "batches", s->batches,
        "purged", s->purged,
        "purge_failures", (Py_ssize_t)_mi_os_purge_failures(),
        "buffers_kept", (Py_ssize_t)_PyZgc_BufferKept());
}

static int
set_item(PyObject *dict, const char *key, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int res = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return res;
}

int
_PyZgc_AddGenerationStats(PyObject *dict,
                          const struct _zgc_generation_totals *t)
{
    PyObject *hist = PyTuple_New(ZGC_PAUSE_BUCKETS);
    if (hist == NULL) {
        return -1;
    }
    for (int i = 0; i < ZGC_PAUSE_BUCKETS; i++) {
        PyObject *n = PyLong_FromSsize_t(t->pause_histogram[i]);
        if (n == NULL) {
            Py_DECREF(hist);
            return -1;
        }
        PyTuple_SET_ITEM(hist, i, n);
    }
    if (set_item(dict, "duration",
                 PyFloat_FromDouble(PyTime_AsSecondsDouble(t->duration))) < 0
        || set_item(dict, "visited", PyLong_FromSsize_t(t->visited)) < 0
        || set_item(dict, "purged", PyLong_FromSsize_t(t->purged)) < 0
        || set_item(dict, "fallbacks", PyLong_FromSsize_t(t->fallbacks)) < 0
        || set_item(dict, "pause_count",
                    PyLong_FromSsize_t(t->pause_count)) < 0
        || set_item(dict, "pause_total",
                    PyFloat_FromDouble(
                        PyTime_AsSecondsDouble(t->pause_total))) < 0
        || set_item(dict, "pause_max",
                    PyFloat_FromDouble(
                        PyTime_AsSecondsDouble(t->pause_max))) < 0)
    {
        Py_DECREF(hist);
        return -1;
    }
    return set_item(dict, "pause_histogram", hist);
}

#endif  /* Py_ZGC */
