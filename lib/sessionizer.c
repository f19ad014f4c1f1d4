#include "first.h"
#include "sessionizer.h"
#include "log.h"
#include "mem.h"
#include "timeparse.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Events per call: one call is one transaction, short enough not to hold visits locked long. */
#define SESSIONIZE_CHUNK 20000

static const tly_db_stmt stmt_sessionize = {"sessionize", "SELECT tally_sessionize($1::int)", 1};

long long tly_sessionize_pending(tly_db *db, tly_db_error *err)
{
    long long total = 0;
    char chunk[16];
    snprintf(chunk, sizeof chunk, "%d", SESSIONIZE_CHUNK);
    for (;;) {
        const char *params[] = {chunk};
        PGresult *res = tly_db_exec(db, &stmt_sessionize, params, PGRES_TUPLES_OK, err);
        if (!res) return -1;
        long long n = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        total += n;
        /* A partial chunk took everything that was there: under steady ingest there is always
         * something new, and chasing it call after call would cost more than waiting. */
        if (n < SESSIONIZE_CHUNK) return total;
    }
}

struct tly_sessionizer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    int interval_ms;
    tly_db *db;
    pthread_t thread;
};

static void run_once(tly_sessionizer *s)
{
    tly_db_error err;
    memset(&err, 0, sizeof err);
    int64_t started = tly_time_now_ms();
    long long n = tly_sessionize_pending(s->db, &err);
    if (n < 0) tly_log_warn("sessioniser: %s", err.message);
    else if (n > 0)
        tly_log_debug("sessioniser: %lld events added to visits in %lld ms", n,
                      (long long)(tly_time_now_ms() - started));
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
    tly_sessionizer *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec until;
        deadline_after(&until, s->interval_ms);
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT) {}
        pthread_mutex_unlock(&s->lock);
        run_once(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

tly_sessionizer *tly_sessionizer_start(const char *conninfo, const char *application_name,
                                       int interval_ms)
{
    tly_sessionizer *s = tly_xcalloc(1, sizeof *s);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    s->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    s->db = tly_db_new(conninfo, application_name);
    if (pthread_create(&s->thread, NULL, loop, s) != 0) {
        tly_log_error("cannot start the sessioniser thread");
        tly_db_free(s->db);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

void tly_sessionizer_stop(tly_sessionizer *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    tly_db_free(s->db);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
