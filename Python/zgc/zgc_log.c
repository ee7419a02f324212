/* zgc_log.c: the GC log, one line per collection (like the JVM's -Xlog:gc).
 *
 * Owns -X zgc_log[=PATH] and PYTHONZGCLOG=VALUE (the -X option wins).
 * A missing value, "1" or "stderr" logs to stderr; anything else is a file
 * opened for appending, and a file that cannot be opened is a startup
 * error.  The main interpreter opens the log; every interpreter writes to
 * it.  Each line is written with one fprintf() call (stdio locks the
 * stream), after the collection, with the world running:
 *
 *   [zgc 12.345s] young #42 pauses 1 max 0.080ms total 0.080ms visited 2104 collected 1800 rss 512.3M->511.9M purged 0.0M
 *
 * time since the log was opened; kind (young, incremental, full, or fallback
 * for the out-of-memory fallback, zgc_director.c) and the number of
 * collections of that kind so far; stop-the-world pauses; objects visited;
 * objects found unreachable (collected + uncollectable); resident set size
 * before and after ("?" where it cannot be read); memory the collecting
 * thread returned to the OS (zgc_purge.c).  The format is stable:
 * fields are only ever appended.
 */

#include "Python.h"

#ifdef Py_ZGC

#include "pycore_fileutils.h"     // _Py_wfopen()
#include "pycore_initconfig.h"    // _PyStatus_ERR()
#include "pycore_interp.h"        // struct _gc_runtime_state
#include "pycore_pystate.h"       // _PyInterpreterState_GetConfig()
#include "pycore_time.h"          // PyTime_PerfCounterRaw()
#include "pycore_zgc.h"

#include <errno.h>
#include <string.h>               // strerror()
#include <unistd.h>               // sysconf()

static FILE *log_file;            // NULL: no log
static PyTime_t log_start;

static int
is_stderr_value(const wchar_t *value)
{
    return value[0] == L'\0' || wcscmp(value, L"1") == 0
           || wcscmp(value, L"stderr") == 0;
}

PyStatus
_PyZgc_LogInit(PyInterpreterState *interp)
{
    if (!_Py_IsMainInterpreter(interp) || log_file != NULL) {
        return _PyStatus_OK();
    }
    const PyConfig *config = _PyInterpreterState_GetConfig(interp);
    const wchar_t *value = NULL;
    for (Py_ssize_t i = 0; i < config->xoptions.length; i++) {
        const wchar_t *opt = config->xoptions.items[i];
        if (wcsncmp(opt, L"zgc_log", 7) == 0
            && (opt[7] == L'\0' || opt[7] == L'='))
        {
            value = opt[7] == L'=' ? opt + 8 : L"";
        }
    }
    const char *env = NULL;
    if (value == NULL) {
        env = _Py_GetEnv(config->use_environment, "PYTHONZGCLOG");
        if (env == NULL) {
            return _PyStatus_OK();
        }
    }

    FILE *f;
    const char *source = value != NULL ? "-X zgc_log" : "PYTHONZGCLOG";
    if (value != NULL ? is_stderr_value(value)
        : (env[0] == '\0' || strcmp(env, "1") == 0
           || strcmp(env, "stderr") == 0))
    {
        f = stderr;
    }
    else {
        f = value != NULL ? _Py_wfopen(value, L"a") : fopen(env, "a");
        if (f == NULL) {
            int err = errno;
            if (value != NULL) {
                fprintf(stderr, "%s: cannot open %ls: %s\n",
                        source, value, strerror(err));
            }
            else {
                fprintf(stderr, "%s: cannot open %s: %s\n",
                        source, env, strerror(err));
            }
            return _PyStatus_ERR("cannot open the GC log file named by "
                                 "-X zgc_log or PYTHONZGCLOG");
        }
        setvbuf(f, NULL, _IOLBF, 0);
    }
    (void)PyTime_PerfCounterRaw(&log_start);
    log_file = f;
    return _PyStatus_OK();
}

Py_ssize_t
_PyZgc_LogRss(void)
{
    if (log_file == NULL) {
        return -1;
    }
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return -1;
    }
    long pages_total, pages_resident;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
    fclose(f);
    if (n != 2) {
        return -1;
    }
    return (Py_ssize_t)pages_resident * sysconf(_SC_PAGESIZE);
}

static void
format_mb(char *buf, size_t size, Py_ssize_t bytes)
{
    if (bytes < 0) {
        PyOS_snprintf(buf, size, "?");
    }
    else {
        PyOS_snprintf(buf, size, "%.1fM", (double)bytes / (1024 * 1024));
    }
}

void
_PyZgc_LogCollection(struct _gc_runtime_state *gcstate, Py_ssize_t collected)
{
    FILE *f = log_file;
    if (f == NULL) {
        return;
    }
    const struct _zgc_collection_stats *s = &gcstate->zgc_stats;
    PyTime_t now;
    (void)PyTime_PerfCounterRaw(&now);
    char before[32], after[32], purged[32];
    format_mb(before, sizeof(before), s->rss_before);
    format_mb(after, sizeof(after), _PyZgc_LogRss());
    format_mb(purged, sizeof(purged), s->purged);
    fprintf(f, "[zgc %.3fs] %s #%zd pauses %zd max %.3fms total %.3fms "
               "visited %zd collected %zd rss %s->%s purged %s\n",
            PyTime_AsSecondsDouble(now - log_start),
            _PyZgc_KindName(s),
            gcstate->generation_stats[s->generation].collections + 1,
            s->pause_count,
            PyTime_AsSecondsDouble(s->pause_max) * 1e3,
            PyTime_AsSecondsDouble(s->pause_total) * 1e3,
            s->visited, collected, before, after, purged);
}

#endif  /* Py_ZGC */
