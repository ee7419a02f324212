/* zgc_stat.c: what one collection cost.
 *
 * Owns the per-collection statistics of pyzgc: wall duration, the
 * stop-the-world pauses (count, total, longest; each from the request to
 * stop the world until it runs again, so time-to-safepoint is included),
 * the objects visited and the candidates examined, and their report in the
 * "stop" info of gc.callbacks.  One collection runs at a time per
 * interpreter (gcstate->collecting), so the record lives in the
 * interpreter's GC state; nothing here needs the world stopped.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_time.h"          // PyTime_PerfCounterRaw()
#include "pycore_zgc.h"

void
_PyZgc_StatsStart(struct _zgc_collection_stats *s, int generation)
{
    memset(s, 0, sizeof(*s));
    s->generation = generation;
    (void)PyTime_PerfCounterRaw(&s->start);
}

void
_PyZgc_PauseBegin(struct _zgc_collection_stats *s)
{
    (void)PyTime_PerfCounterRaw(&s->pause_start);
}

void
_PyZgc_PauseEnd(struct _zgc_collection_stats *s)
{
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    PyTime_t pause = now - s->pause_start;
    s->pause_count++;
    s->pause_total += pause;
    if (pause > s->pause_max) {
        s->pause_max = pause;
    }
}

void
_PyZgc_StatsStop(struct _zgc_collection_stats *s)
{
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    s->duration = now - s->start;
}

PyObject *
_PyZgc_StopInfo(const struct _zgc_collection_stats *s, Py_ssize_t collected,
                Py_ssize_t uncollectable)
{
    return Py_BuildValue(
        "{sisnsnsssdsnsdsdsnsn}",
        "generation", s->generation,
        "collected", collected,
        "uncollectable", uncollectable,
        "kind", s->generation == 0 ? "young" : "full",
        "duration", PyTime_AsSecondsDouble(s->duration),
        "pause_count", s->pause_count,
        "pause_total", PyTime_AsSecondsDouble(s->pause_total),
        "pause_max", PyTime_AsSecondsDouble(s->pause_max),
        "visited", s->visited,
        "candidates", s->candidates);
}

#endif  /* Py_ZGC */
