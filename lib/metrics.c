#include "first.h"
#include "metrics.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The counters live in shared memory and are updated by several processes at once: they must be
 * lock-free atomics, not a mutex-protected copy. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "atomics must be lock-free");

/* Status codes counted by name; any other is counted as "other". */
static const int status_codes[] = {200, 202, 204, 304, 400, 401, 403, 404, 405, 409, 411, 413, 415, 422,
                                   429, 500, 502, 503};
#define STATUS_SLOTS (TLY_ARRAY_LEN(status_codes) + 1)

#define MAX_BOUNDS 12

typedef struct histogram_def {
    const char *name;
    const char *help;
    double scale;               /* the sum is kept as an integer of value * scale */
    size_t nbounds;
    double bounds[MAX_BOUNDS];  /* upper bounds; +Inf follows */
} histogram_def;

static const histogram_def histograms[TLY_HISTOGRAM_COUNT] = {
    [TLY_HISTOGRAM_REQUEST_SECONDS] = {"tally_http_request_duration_seconds",
        "Time a program spent on a request, response sent.", 1e6, 12,
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}},
    [TLY_HISTOGRAM_BATCH_EVENTS] = {"tally_ingest_batch_events",
        "Events committed to the database per transaction.", 1, 12,
        {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}},
    [TLY_HISTOGRAM_COMMIT_SECONDS] = {"tally_ingest_commit_duration_seconds",
        "Time of one ingest commit.", 1e6, 11,
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}},
    [TLY_HISTOGRAM_SESSIONIZER_SECONDS] = {"tally_sessionizer_duration_seconds",
        "Time of one sessioniser pass.", 1e6, 9,
        {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60}},
};

typedef struct metric_def {
    const char *name;
    const char *label;   /* "name=\"value\"" or NULL */
    const char *help;
} metric_def;

/* Counters sharing a name are written together under one HELP/TYPE line. */
static const metric_def counters[TLY_METRIC_COUNT] = {
    [TLY_METRIC_EVENTS_STORED] = {"tally_events_total", "outcome=\"stored\"",
        "Events by outcome: stored, duplicate (already stored), filtered (bots, GPC, excluded paths), "
        "rejected (invalid), spooled (kept locally while the database was away), replayed (spool to database)."},
    [TLY_METRIC_EVENTS_DUPLICATE] = {"tally_events_total", "outcome=\"duplicate\"", NULL},
    [TLY_METRIC_EVENTS_FILTERED] = {"tally_events_total", "outcome=\"filtered\"", NULL},
    [TLY_METRIC_EVENTS_REJECTED] = {"tally_events_total", "outcome=\"rejected\"", NULL},
    [TLY_METRIC_EVENTS_SPOOLED] = {"tally_events_total", "outcome=\"spooled\"", NULL},
    [TLY_METRIC_EVENTS_REPLAYED] = {"tally_events_total", "outcome=\"replayed\"", NULL},
    [TLY_METRIC_DB_ERRORS] = {"tally_db_errors_total", NULL, "Database calls that failed."},
    [TLY_METRIC_DB_RECONNECTS] = {"tally_db_reconnects_total", NULL,
        "New database connections after a lost one."},
    [TLY_METRIC_SESSIONIZER_RUNS] = {"tally_sessionizer_runs_total", NULL, "Sessioniser passes."},
    [TLY_METRIC_SESSIONIZER_EVENTS] = {"tally_sessionizer_events_total", NULL,
        "Events the sessioniser added to visits."},
    [TLY_METRIC_SESSIONIZER_ERRORS] = {"tally_sessionizer_errors_total", NULL, "Sessioniser passes that failed."},
};

static const metric_def gauges[TLY_GAUGE_COUNT] = {
    [TLY_GAUGE_SESSIONIZER_LAST_RUN] = {"tally_sessionizer_last_run_timestamp_seconds", NULL,
        "Unix time of the last sessioniser pass that succeeded (lag: time() minus this)."},
};

typedef struct hist_cells {
    _Atomic uint64_t buckets[MAX_BOUNDS + 1];  /* per bucket, not cumulative; last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum;                       /* value * scale */
} hist_cells;

/* One process's figures. A slot keeps its counts when its process ends; the next owner adds on. */
typedef struct slot {
    _Atomic int pid;            /* 0: never used */
    _Atomic int64_t started_ms; /* of the current owner, unix milliseconds */
    _Atomic uint64_t counters[TLY_METRIC_COUNT];
    _Atomic uint64_t requests[STATUS_SLOTS];
    hist_cells hist[TLY_HISTOGRAM_COUNT];
    _Atomic int64_t gauges[TLY_GAUGE_COUNT];
} slot;

/* More processes than this (of one program) count on their own. */
#define SLOTS 64

typedef struct segment {
    slot slots[SLOTS];
} segment;

static const char *const programs[] = {"track", "report", "admin"};

static slot local_slot;
static slot *mine = &local_slot;
static segment *shared;
static char program_name[16] = "tally";
static char segment_suffix[64];   /* "-<uid>-<hash of the configuration path>-<layout size>" */

double tly_metrics_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: names the configuration in the segment name, so two installations stay apart. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

static void segment_name(char *out, size_t size, const char *program)
{
    snprintf(out, size, "/tally-%s%s", program, segment_suffix);
}

static int pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* A slot that was never used, or whose process is gone; taken with a compare-and-swap so two
 * starting processes never share one. */
static slot *claim_slot(segment *seg, int self)
{
    for (size_t i = 0; i < SLOTS; i++) {
        slot *s = &seg->slots[i];
        int owner = atomic_load(&s->pid);
        if (owner == self) return s;
        if (owner != 0 && pid_alive(owner)) continue;
        if (atomic_compare_exchange_strong(&s->pid, &owner, self)) return s;
    }
    return NULL;
}

static segment *map_segment(const char *name, int writable)
{
    int fd = shm_open(name, writable ? O_RDWR | O_CREAT : O_RDONLY, 0600);
    if (fd < 0) return NULL;
    struct stat st;
    /* A new segment is sized by whoever comes first; zero bytes are a valid empty segment. */
    if (fstat(fd, &st) != 0 || (st.st_size < (off_t)sizeof(segment) &&
                                (!writable || ftruncate(fd, sizeof(segment)) != 0))) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, sizeof(segment), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

int tly_metrics_open(const char *program, const char *conf_path)
{
    snprintf(program_name, sizeof program_name, "%s", program);
    snprintf(segment_suffix, sizeof segment_suffix, "-%u-%016llx-%zu", (unsigned)getuid(),
             (unsigned long long)fnv1a(conf_path), sizeof(segment));
    if (shared) munmap(shared, sizeof(segment));
    shared = NULL;
    mine = &local_slot;
    char name[128];
    segment_name(name, sizeof name, program_name);
    segment *seg = map_segment(name, 1);
    if (!seg) {
        tly_log_warn("metrics: shared memory %s unavailable (%s); this process reports only its own figures",
                     name, strerror(errno));
        return -1;
    }
    slot *s = claim_slot(seg, (int)getpid());
    if (!s) {
        tly_log_warn("metrics: all %d slots of %s are in use; this process reports only its own figures",
                     SLOTS, name);
        munmap(seg, sizeof(segment));
        return -1;
    }
    atomic_store(&s->started_ms, unix_ms());
    shared = seg;
    mine = s;
    return 0;
}

void tly_metrics_unlink(void)
{
    char name[128];
    segment_name(name, sizeof name, program_name);
    shm_unlink(name);
}

void tly_metrics_add(tly_metric m, uint64_t n)
{
    if ((unsigned)m < TLY_METRIC_COUNT) atomic_fetch_add_explicit(&mine->counters[m], n, memory_order_relaxed);
}

void tly_metrics_observe(tly_histogram h, double value)
{
    if ((unsigned)h >= TLY_HISTOGRAM_COUNT) return;
    const histogram_def *def = &histograms[h];
    if (!(value >= 0)) value = 0;   /* also NaN */
    size_t b = 0;
    while (b < def->nbounds && value > def->bounds[b]) b++;
    hist_cells *c = &mine->hist[h];
    atomic_fetch_add_explicit(&c->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->sum, (uint64_t)(value * def->scale + 0.5), memory_order_relaxed);
}

void tly_metrics_set_time(tly_gauge g, int64_t unix_seconds)
{
    if ((unsigned)g < TLY_GAUGE_COUNT) atomic_store_explicit(&mine->gauges[g], unix_seconds, memory_order_relaxed);
}

void tly_metrics_request(int status, double seconds)
{
    size_t i = 0;
    while (i < TLY_ARRAY_LEN(status_codes) && status_codes[i] != status) i++;
    atomic_fetch_add_explicit(&mine->requests[i], 1, memory_order_relaxed);
    tly_metrics_observe(TLY_HISTOGRAM_REQUEST_SECONDS, seconds);
}

/* --- rendering ---------------------------------------------------------------------------------- */

/* A program's figures summed over its slots; gauges of the latest; the live processes listed. */
typedef struct totals {
    uint64_t counters[TLY_METRIC_COUNT];
    uint64_t requests[STATUS_SLOTS];
    uint64_t buckets[TLY_HISTOGRAM_COUNT][MAX_BOUNDS + 1];
    uint64_t count[TLY_HISTOGRAM_COUNT];
    uint64_t sum[TLY_HISTOGRAM_COUNT];
    int64_t gauges[TLY_GAUGE_COUNT];
    size_t live;
    int pids[SLOTS];
    int64_t started_ms[SLOTS];
} totals;

static void add_slot(totals *t, slot *s, int alive)
{
    for (size_t i = 0; i < TLY_METRIC_COUNT; i++) t->counters[i] += atomic_load_explicit(&s->counters[i], memory_order_relaxed);
    for (size_t i = 0; i < STATUS_SLOTS; i++) t->requests[i] += atomic_load_explicit(&s->requests[i], memory_order_relaxed);
    for (size_t h = 0; h < TLY_HISTOGRAM_COUNT; h++) {
        for (size_t b = 0; b <= MAX_BOUNDS; b++) t->buckets[h][b] += atomic_load_explicit(&s->hist[h].buckets[b], memory_order_relaxed);
        t->count[h] += atomic_load_explicit(&s->hist[h].count, memory_order_relaxed);
        t->sum[h] += atomic_load_explicit(&s->hist[h].sum, memory_order_relaxed);
    }
    for (size_t g = 0; g < TLY_GAUGE_COUNT; g++) {
        int64_t v = atomic_load_explicit(&s->gauges[g], memory_order_relaxed);
        if (v > t->gauges[g]) t->gauges[g] = v;
    }
    if (alive && t->live < SLOTS) {
        t->pids[t->live] = atomic_load(&s->pid);
        t->started_ms[t->live] = atomic_load(&s->started_ms);
        t->live++;
    }
}

static void gather(totals *t, segment *seg)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < SLOTS; i++) {
        slot *s = &seg->slots[i];
        int pid = atomic_load(&s->pid);
        if (pid != 0) add_slot(t, s, pid_alive(pid));
    }
}

static void gather_local(totals *t)
{
    memset(t, 0, sizeof *t);
    add_slot(t, &local_slot, 0);
    t->pids[0] = (int)getpid();
    t->started_ms[0] = atomic_load(&local_slot.started_ms);
    t->live = 1;
}

static void header(tly_buf *out, const char *name, const char *type, const char *help)
{
    tly_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Resident memory of a process in bytes, from /proc; -1 when unknown. */
static long long resident_bytes(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? (long long)(resident * (unsigned long long)sysconf(_SC_PAGESIZE)) : -1;
}

static void render_program(tly_buf *out, const char *prog, const totals *t, int is_shared)
{
    const char *last = NULL;
    for (size_t i = 0; i < TLY_METRIC_COUNT; i++) {
        const metric_def *d = &counters[i];
        if (!last || strcmp(last, d->name) != 0) header(out, d->name, "counter", d->help);
        last = d->name;
        tly_buf_printf(out, "%s{program=\"%s\"%s%s} %llu\n", d->name, prog, d->label ? "," : "",
                       d->label ? d->label : "", (unsigned long long)t->counters[i]);
    }
    header(out, "tally_http_requests_total", "counter", "Requests answered, by HTTP status.");
    for (size_t i = 0; i < STATUS_SLOTS; i++) {
        if (i < TLY_ARRAY_LEN(status_codes))
            tly_buf_printf(out, "tally_http_requests_total{program=\"%s\",code=\"%d\"} %llu\n", prog,
                           status_codes[i], (unsigned long long)t->requests[i]);
        else
            tly_buf_printf(out, "tally_http_requests_total{program=\"%s\",code=\"other\"} %llu\n", prog,
                           (unsigned long long)t->requests[i]);
    }
    for (size_t h = 0; h < TLY_HISTOGRAM_COUNT; h++) {
        const histogram_def *d = &histograms[h];
        header(out, d->name, "histogram", d->help);
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= d->nbounds; b++) {
            cumulative += t->buckets[h][b];
            if (b < d->nbounds)
                tly_buf_printf(out, "%s_bucket{program=\"%s\",le=\"%g\"} %llu\n", d->name, prog, d->bounds[b],
                               (unsigned long long)cumulative);
            else
                tly_buf_printf(out, "%s_bucket{program=\"%s\",le=\"+Inf\"} %llu\n", d->name, prog,
                               (unsigned long long)cumulative);
        }
        tly_buf_printf(out, "%s_sum{program=\"%s\"} %.6f\n%s_count{program=\"%s\"} %llu\n", d->name, prog,
                       (double)t->sum[h] / d->scale, d->name, prog, (unsigned long long)t->count[h]);
    }
    for (size_t g = 0; g < TLY_GAUGE_COUNT; g++) {
        header(out, gauges[g].name, "gauge", gauges[g].help);
        tly_buf_printf(out, "%s{program=\"%s\"} %lld\n", gauges[g].name, prog, (long long)t->gauges[g]);
    }
    header(out, "tally_metrics_shared", "gauge",
           "1 when these figures add up every process of the program, 0 when they are one process's.");
    tly_buf_printf(out, "tally_metrics_shared{program=\"%s\"} %d\n", prog, is_shared);
    header(out, "tally_processes", "gauge", "Running processes of the program.");
    tly_buf_printf(out, "tally_processes{program=\"%s\"} %zu\n", prog, t->live);
    header(out, "tally_process_uptime_seconds", "gauge", "Seconds since each running process started.");
    int64_t now = unix_ms();
    for (size_t i = 0; i < t->live; i++)
        tly_buf_printf(out, "tally_process_uptime_seconds{program=\"%s\",pid=\"%d\"} %.3f\n", prog, t->pids[i],
                       t->started_ms[i] ? (double)(now - t->started_ms[i]) / 1000 : 0.0);
    header(out, "tally_process_resident_memory_bytes", "gauge", "Resident memory of each running process.");
    for (size_t i = 0; i < t->live; i++) {
        long long rss = resident_bytes(t->pids[i]);
        if (rss >= 0)
            tly_buf_printf(out, "tally_process_resident_memory_bytes{program=\"%s\",pid=\"%d\"} %lld\n", prog,
                           t->pids[i], rss);
    }
}

void tly_metrics_render(tly_buf *out)
{
    static totals t;   /* large; rendering is rare and serialised by the caller's request */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (shared) gather(&t, shared);
    else gather_local(&t);
    render_program(out, program_name, &t, shared != NULL);
    /* The other programs of this installation, when they run with a segment. */
    for (size_t p = 0; segment_suffix[0] && p < TLY_ARRAY_LEN(programs); p++) {
        if (strcmp(programs[p], program_name) == 0) continue;
        char name[128];
        segment_name(name, sizeof name, programs[p]);
        segment *seg = map_segment(name, 0);
        if (!seg) continue;
        gather(&t, seg);
        munmap(seg, sizeof(segment));
        render_program(out, programs[p], &t, 1);
    }
    pthread_mutex_unlock(&lock);
}

static int loopback(const char *addr)
{
    return addr && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
                    strncmp(addr, "::ffff:127.", 11) == 0);
}

void tly_metrics_respond(const tly_req *req, tly_resp *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        tly_resp_header(resp, "Allow", "GET, HEAD");
        tly_resp_error(resp, 405, "method %s not allowed on /v1/metrics; use GET", req->method);
        return;
    }
    const char *forwarded = tly_req_param(req, "HTTP_X_FORWARDED_FOR");
    if (!loopback(tly_req_param(req, "REMOTE_ADDR")) || (forwarded && *forwarded)) {
        tly_resp_error(resp, 403, "/v1/metrics answers only clients on this host (loopback, not proxied)");
        return;
    }
    tly_buf text = {0};
    tly_metrics_render(&text);
    tly_resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", tly_buf_cstr(&text));
    tly_buf_free(&text);
}
