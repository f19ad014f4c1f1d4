#include "first.h"
#include "batcher.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "timeparse.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A request waiting for its rows to be committed. Each has a condition of its own, so that a
 * commit wakes exactly the requests whose rows it carried, not every waiting thread. */
typedef struct pending {
    tly_store_job *job;
    pthread_cond_t done;      /* signalled once finished is set */
    bool finished;
    int rc;
    tly_db_error err;
    struct pending *next;
} pending;

struct tly_batcher {
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* the writer: work arrived, or stop */
    pending *head, *tail;
    bool stopping;
    size_t max_jobs;
    tly_db *db;
    tly_spool *spool;         /* borrowed; NULL: none */
    pthread_t thread;
};

/* Takes up to max_jobs waiting requests off the queue. Called with the lock held. */
static size_t take(tly_batcher *b, pending **batch)
{
    size_t n = 0;
    while (b->head && n < b->max_jobs) {
        batch[n++] = b->head;
        b->head = b->head->next;
    }
    if (!b->head) b->tail = NULL;
    return n;
}

static void *writer(void *arg)
{
    tly_batcher *b = arg;
    pending **batch = tly_xcalloc(b->max_jobs, sizeof *batch);
    tly_store_job **jobs = tly_xcalloc(b->max_jobs, sizeof *jobs);
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->wake, &b->lock);
        if (!b->head) break;   /* stopping, and nothing left */
        /* No waiting for company: whatever queued up during the last commit is the batch. */
        size_t n = take(b, batch);
        pthread_mutex_unlock(&b->lock);
        for (size_t i = 0; i < n; i++) jobs[i] = batch[i]->job;
        tly_db_error err;
        memset(&err, 0, sizeof err);
        int64_t started = tly_time_now_ms();
        double clock = tly_metrics_clock();
        int rc = tly_store_durably(b->db, b->spool, jobs, n, &err);
        tly_log_debug("writer: %zu requests in %lld ms", n, (long long)(tly_time_now_ms() - started));
        size_t events = 0;
        for (size_t i = 0; i < n; i++) events += json_array_size(jobs[i]->rows);
        tly_metrics_observe(TLY_HISTOGRAM_BATCH_EVENTS, (double)events);
        tly_metrics_observe(TLY_HISTOGRAM_COMMIT_SECONDS, tly_metrics_clock() - clock);
        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; i < n; i++) {
            batch[i]->rc = rc;
            batch[i]->err = err;
            batch[i]->finished = true;
            pthread_cond_signal(&batch[i]->done);
        }
    }
    pthread_mutex_unlock(&b->lock);
    free(batch);
    free(jobs);
    return NULL;
}

tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               tly_spool *spool)
{
    tly_batcher *b = tly_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    b->max_jobs = max_jobs ? max_jobs : 1;
    b->spool = spool;
    b->db = tly_db_new(conninfo, application_name);
    if (pthread_create(&b->thread, NULL, writer, b) != 0) {
        tly_log_error("cannot start the writer thread");
        tly_db_free(b->db);
        free(b);
        return NULL;
    }
    return b;
}

int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err)
{
    pending p = {.job = job};
    pthread_cond_init(&p.done, NULL);
    pthread_mutex_lock(&b->lock);
    bool writer_idle = !b->head;
    if (b->tail) b->tail->next = &p;
    else b->head = &p;
    b->tail = &p;
    /* A queue that was not empty has already woken the writer (or it is committing and will look
     * again): one wake-up per batch, not one per request. */
    if (writer_idle) pthread_cond_signal(&b->wake);
    while (!p.finished) pthread_cond_wait(&p.done, &b->lock);
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&p.done);
    if (p.rc != 0) *err = p.err;
    return p.rc;
}

void tly_batcher_stop(tly_batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    tly_db_free(b->db);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    free(b);
}
