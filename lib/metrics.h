/* Operational metrics in the Prometheus text format (GET /v1/metrics): counters, histograms and
 * gauges that any code adds to from any thread, at the cost of a relaxed atomic add.
 *
 * The figures of all processes of a program add up: tly_metrics_open() gives the process a slot
 * in a shared memory segment (/dev/shm, mode 0600) named after the program, the user and the
 * configuration file, so that a scrape answered by any one process reports the whole program.
 * The slot of a process that ended is taken over, counts included, by the next one, so totals
 * only grow (until a reboot empties /dev/shm, which Prometheus handles as a counter reset).
 * Before tly_metrics_open(), or when the segment cannot be used, a process counts on its own and
 * says so (tally_metrics_shared 0).
 *
 * Labels are fixed words and status codes: never a client address, user agent, path or property. */
#ifndef TLY_METRICS_H
#define TLY_METRICS_H
#include "first.h"
#include "buf.h"
#include "io.h"
#include "resp.h"
#include <stdint.h>

typedef enum {
    TLY_METRIC_EVENTS_STORED,       /* events newly stored */
    TLY_METRIC_EVENTS_DUPLICATE,    /* events already stored (same property and event_id) */
    TLY_METRIC_EVENTS_FILTERED,     /* events dropped on purpose: bots, GPC opt-out, excluded paths */
    TLY_METRIC_EVENTS_REJECTED,     /* invalid events (the rest of their request was accepted) */
    TLY_METRIC_EVENTS_SPOOLED,      /* events written to the local spool while the database was away */
    TLY_METRIC_EVENTS_REPLAYED,     /* events moved from the spool into the database */
    TLY_METRIC_DB_ERRORS,           /* database calls that failed (connection or statement) */
    TLY_METRIC_DB_RECONNECTS,       /* new database connections after a lost one */
    TLY_METRIC_SESSIONIZER_RUNS,    /* sessioniser passes */
    TLY_METRIC_SESSIONIZER_EVENTS,  /* events the sessioniser added to visits */
    TLY_METRIC_SESSIONIZER_ERRORS,  /* sessioniser passes that failed */
    TLY_METRIC_COUNT
} tly_metric;

typedef enum {
    TLY_HISTOGRAM_REQUEST_SECONDS,     /* time a program spent on a request, response sent */
    TLY_HISTOGRAM_BATCH_EVENTS,        /* events per ingest commit */
    TLY_HISTOGRAM_COMMIT_SECONDS,      /* time of one ingest commit */
    TLY_HISTOGRAM_SESSIONIZER_SECONDS, /* time of one sessioniser pass */
    TLY_HISTOGRAM_COUNT
} tly_histogram;

/* Gauges that hold a point in time; the program reports the latest of its processes. */
typedef enum {
    TLY_GAUGE_SESSIONIZER_LAST_RUN,    /* unix time of the last sessioniser pass that succeeded */
    TLY_GAUGE_COUNT
} tly_gauge;

/* Gives this process its slot in the segment of `program` ("track", "report", "admin") for the
 * configuration at `conf_path`. Call once at start, before other threads run (and again in a
 * forked child). 0 shared, -1 counting on its own (the reason is logged). */
int tly_metrics_open(const char *program, const char *conf_path) TLY_NONNULL(1, 2);
/* Removes this program's segment (tests; the next tly_metrics_open creates a new one). */
void tly_metrics_unlink(void);

void tly_metrics_add(tly_metric m, uint64_t n);
static inline void tly_metrics_inc(tly_metric m) { tly_metrics_add(m, 1); }
/* Records one value (seconds, or events for TLY_HISTOGRAM_BATCH_EVENTS). */
void tly_metrics_observe(tly_histogram h, double value);
/* Sets a point-in-time gauge (unix seconds); the latest one wins. */
void tly_metrics_set_time(tly_gauge g, int64_t unix_seconds);
/* Counts one answered request by its status and records its duration in seconds. */
void tly_metrics_request(int status, double seconds);

/* Seconds on a monotonic clock, for durations. */
double tly_metrics_clock(void);

/* Appends the text exposition (version 0.0.4) of every Tally program that has a segment for the
 * same user and configuration: track, report, admin. */
void tly_metrics_render(tly_buf *out) TLY_NONNULL(1);
/* GET /v1/metrics: the exposition, for clients on this host only (REMOTE_ADDR on the loopback
 * interface and no X-Forwarded-For, so a proxied request from elsewhere is refused: 403). */
void tly_metrics_respond(const tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2);

#endif
