#include "first.h"
#include "batcher.h"
#include "fiber.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A request whose rows are to be committed. Its outcome is set by the writer before the request is
 * woken, and nobody touches it after: the request may be gone as soon as it is woken. A thread
 * sleeps on a semaphore of its own, posted outside the lock (a condition variable would wake it
 * only for it to wait again for the lock). A semaphore may be destroyed as soon as its sem_wait
 * returns, even while sem_post is returning. */
typedef struct pending {
    tly_store_job *job;
    tly_fiber *fiber;         /* NULL: a thread, sleeping on `wake` */
    sem_t wake;
    int rc;
    tly_db_error err;
    struct pending *next;
} pending;

struct tly_batcher {
    pthread_mutex_t lock;
    pthread_cond_t queued;    /* the writer waits on it for requests */
    pending *head, *tail;     /* queued requests, not yet taken by the writer */
    bool stopping;
    pthread_t writer;
    size_t max_jobs;
    tly_db *db;               /* the writer's */
    tly_spool *spool;         /* borrowed; NULL: none */
    pending **batch;          /* the writer's, max_jobs each */
    tly_store_job **jobs;
};

/* Takes up to max_jobs queued requests. Called with the lock held. */
static size_t take(tly_batcher *b)
{
    size_t n = 0;
    while (b->head && n < b->max_jobs) {
        b->batch[n++] = b->head;
        b->head = b->head->next;
    }
    if (!b->head) b->tail = NULL;
    return n;
}

/* Stores the jobs of a batch in one transaction (or the spool). Called without the lock. */
static int commit(tly_batcher *b, size_t n, tly_db_error *err)
{
    for (size_t i = 0; i < n; i++) b->jobs[i] = b->batch[i]->job;
    memset(err, 0, sizeof *err);
    double clock = tly_metrics_clock();
    int rc = tly_store_durably(b->db, b->spool, b->jobs, n, err);
    double seconds = tly_metrics_clock() - clock;
    tly_log_debug("group commit: %zu requests in %.1f ms", n, seconds * 1000);
    size_t events = 0;
    for (size_t i = 0; i < n; i++) events += json_array_size(b->jobs[i]->rows);
    tly_metrics_observe(TLY_HISTOGRAM_BATCH_EVENTS, (double)events);
    tly_metrics_observe(TLY_HISTOGRAM_COMMIT_SECONDS, seconds);
    return rc;
}

static void wake(pending *p)
{
    if (p->fiber) tly_fiber_unpark(p->fiber);
    else sem_post(&p->wake);
}

/* The writer: commits whatever is queued, as soon as the commit before has ended. */
static void *write_batches(void *arg)
{
    tly_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->queued, &b->lock);
        if (!b->head) break;   /* stopping, and nothing left */
        size_t n = take(b);
        pthread_mutex_unlock(&b->lock);
        tly_db_error err;
        int rc = commit(b, n, &err);
        for (size_t i = 0; i < n; i++) {
            pending *p = b->batch[i];
            p->rc = rc;
            if (rc != 0) p->err = err;
            wake(p);
        }
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static void free_batcher(tly_batcher *b)
{
    tly_db_free(b->db);
    pthread_cond_destroy(&b->queued);
    pthread_mutex_destroy(&b->lock);
    free(b->batch);
    free(b->jobs);
    free(b);
}

tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               int database_timeout, tly_spool *spool)
{
    tly_batcher *b = tly_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->queued, NULL);
    b->max_jobs = max_jobs ? max_jobs : 1;
    b->spool = spool;
    b->db = tly_db_new(conninfo, application_name);
    tly_db_set_answer_timeout(b->db, database_timeout);
    b->batch = tly_xcalloc(b->max_jobs, sizeof *b->batch);
    b->jobs = tly_xcalloc(b->max_jobs, sizeof *b->jobs);
    if (pthread_create(&b->writer, NULL, write_batches, b) != 0) {
        tly_log_error("cannot start the group commit's writer thread");
        free_batcher(b);
        return NULL;
    }
    return b;
}

int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err)
{
    pending p = {.job = job, .fiber = tly_fiber_current()};
    if (!p.fiber) sem_init(&p.wake, 0, 0);
    pthread_mutex_lock(&b->lock);
    bool idle = b->head == NULL;
    if (b->tail) b->tail->next = &p;
    else b->head = &p;
    b->tail = &p;
    pthread_mutex_unlock(&b->lock);
    /* When requests were queued already, the writer is committing and takes this one with them
     * next: no need to signal it. */
    if (idle) pthread_cond_signal(&b->queued);
    if (p.fiber) {
        tly_fiber_park();
    } else {
        while (sem_wait(&p.wake) != 0) {}
        sem_destroy(&p.wake);
    }
    if (p.rc != 0) *err = p.err;
    return p.rc;
}

void tly_batcher_stop(tly_batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_mutex_unlock(&b->lock);
    pthread_cond_signal(&b->queued);
    pthread_join(b->writer, NULL);
    free_batcher(b);
}
