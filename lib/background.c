#include "first.h"
#include "background.h"
#include "events_store.h"
#include "geo.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "timeparse.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 1000

struct tly_background {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    tly_spool *spool;          /* borrowed; NULL: none */
    tly_geo *geo;              /* borrowed; NULL: no geolocation */
    int sessionize_ms;
    int64_t next_sessionize_ms;
    tly_db *db;
    pthread_t thread;
};

static void replay_spool(tly_background *bg)
{
    if (!bg->spool || tly_spool_bytes(bg->spool) == 0) return;
    tly_db_error err;
    memset(&err, 0, sizeof err);
    if (tly_spool_replay(bg->spool, bg->db, &err) < 0)
        tly_log_debug("spool: replay waits for the database: %s", err.message);
}

static void refresh_geo(tly_background *bg)
{
    if (!bg->geo) return;
    char err[300];
    int r = tly_geo_refresh(bg->geo, err, sizeof err);
    if (r > 0) tly_log_info("geoip: the database file has changed; lookups now use the new one");
    else if (r < 0) tly_log_warn("geoip: the database file has changed but cannot be read, the old one stays: %s", err);
}

static void build_visits(tly_background *bg, bool now)
{
    /* A store that builds visits as reports read them has nothing to do here. */
    if (bg->sessionize_ms <= 0 || !tly_events_store()->build_visits) return;
    int64_t t = tly_time_now_ms();
    if (!now && t < bg->next_sessionize_ms) return;
    bg->next_sessionize_ms = t + bg->sessionize_ms;
    tly_db_error err;
    memset(&err, 0, sizeof err);
    double clock = tly_metrics_clock();
    long long n = tly_events_store()->build_visits(bg->db, &err);
    tly_metrics_add(TLY_METRIC_SESSIONIZER_RUNS, 1);
    tly_metrics_observe(TLY_HISTOGRAM_SESSIONIZER_SECONDS, tly_metrics_clock() - clock);
    if (n < 0) {
        tly_metrics_add(TLY_METRIC_SESSIONIZER_ERRORS, 1);
        tly_log_warn("sessioniser: %s", err.message);
        return;
    }
    tly_metrics_add(TLY_METRIC_SESSIONIZER_EVENTS, (uint64_t)n);
    tly_metrics_set_time(TLY_GAUGE_SESSIONIZER_LAST_RUN, t / 1000);
    if (n > 0)
        tly_log_debug("sessioniser: %lld events added to visits in %lld ms", n, (long long)(tly_time_now_ms() - t));
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *loop(void *arg)
{
    tly_background *bg = arg;
    pthread_mutex_lock(&bg->lock);
    while (!bg->stopping) {
        struct timespec until;
        deadline_after(&until, TICK_MS);
        while (!bg->stopping && pthread_cond_timedwait(&bg->wake, &bg->lock, &until) != ETIMEDOUT) {}
        bool last = bg->stopping;
        pthread_mutex_unlock(&bg->lock);
        replay_spool(bg);
        refresh_geo(bg);
        build_visits(bg, last);
        pthread_mutex_lock(&bg->lock);
    }
    pthread_mutex_unlock(&bg->lock);
    return NULL;
}

tly_background *tly_background_start(const char *conninfo, const char *application_name,
                                     tly_spool *spool, tly_geo *geo, int sessionize_ms, int database_timeout)
{
    tly_background *bg = tly_xcalloc(1, sizeof *bg);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&bg->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&bg->lock, NULL);
    bg->spool = spool;
    bg->geo = geo;
    bg->sessionize_ms = sessionize_ms;
    bg->next_sessionize_ms = tly_time_now_ms() + sessionize_ms;
    bg->db = tly_db_new(conninfo, application_name);
    tly_db_set_answer_timeout(bg->db, BACKGROUND_TIMEOUT_FACTOR * database_timeout);
    if (pthread_create(&bg->thread, NULL, loop, bg) != 0) {
        tly_log_error("cannot start the background thread");
        tly_db_free(bg->db);
        pthread_cond_destroy(&bg->wake);
        pthread_mutex_destroy(&bg->lock);
        free(bg);
        return NULL;
    }
    return bg;
}

void tly_background_stop(tly_background *bg)
{
    if (!bg) return;
    pthread_mutex_lock(&bg->lock);
    bg->stopping = true;
    pthread_cond_signal(&bg->wake);
    pthread_mutex_unlock(&bg->lock);
    pthread_join(bg->thread, NULL);
    tly_db_free(bg->db);
    pthread_cond_destroy(&bg->wake);
    pthread_mutex_destroy(&bg->lock);
    free(bg);
}
