#include "first.h"
#include "batcher.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "timeparse.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What a waiting request is woken for. */
typedef enum role { WAITING, FINISHED, LEADER } role;

/* A request whose rows are to be committed. It sleeps on a semaphore of its own, posted once by
 * whoever decides its fate, outside the lock: a condition variable would wake it only for it to
 * wait again for the lock still held by the waker. (A semaphore may be destroyed as soon as its
 * sem_wait returns, even while sem_post is returning.) */
typedef struct pending {
    tly_store_job *job;
    sem_t wake;
    role role;
    int rc;
    tly_db_error err;
    struct pending *next;
} pending;

struct tly_batcher {
    pthread_mutex_t lock;
    pending *head, *tail;     /* queued requests, not yet taken by a leader */
    bool committing;          /* a leader is storing a batch */
    size_t max_jobs;
    tly_db *db;               /* used by the leader only */
    tly_spool *spool;         /* borrowed; NULL: none */
    pending **batch;          /* the leader's, max_jobs each */
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

/* The leader's work: stores what is queued (its own request first) in one transaction, wakes
 * the requests it carried, and hands what arrived meanwhile to the first of those requests, which
 * leads the next batch. Called with the lock held and committing set; returns without the lock. */
static void lead(tly_batcher *b, pending *self)
{
    size_t n = take(b);
    pthread_mutex_unlock(&b->lock);
    tly_db_error err;
    int rc = commit(b, n, &err);
    self->rc = rc;
    if (rc != 0) self->err = err;
    for (size_t i = 0; i < n; i++) {
        pending *p = b->batch[i];
        if (p == self) continue;
        p->rc = rc;
        if (rc != 0) p->err = err;
        p->role = FINISHED;
        sem_post(&p->wake);
    }
    pthread_mutex_lock(&b->lock);
    pending *next = b->head;
    b->committing = next != NULL;
    pthread_mutex_unlock(&b->lock);
    if (next) {
        next->role = LEADER;
        sem_post(&next->wake);
    }
}

tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               tly_spool *spool)
{
    tly_batcher *b = tly_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->max_jobs = max_jobs ? max_jobs : 1;
    b->spool = spool;
    b->db = tly_db_new(conninfo, application_name);
    b->batch = tly_xcalloc(b->max_jobs, sizeof *b->batch);
    b->jobs = tly_xcalloc(b->max_jobs, sizeof *b->jobs);
    return b;
}

int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err)
{
    pending p = {.job = job, .role = WAITING};
    sem_init(&p.wake, 0, 0);
    pthread_mutex_lock(&b->lock);
    if (b->tail) b->tail->next = &p;
    else b->head = &p;
    b->tail = &p;
    if (b->committing) {
        /* A leader is committing: this request waits to be stored by the next batch, or to lead
         * it. Nobody else touches p once its semaphore is posted. */
        pthread_mutex_unlock(&b->lock);
        while (sem_wait(&p.wake) != 0) {}
        if (p.role == LEADER) {
            pthread_mutex_lock(&b->lock);
            lead(b, &p);
        }
    } else {
        b->committing = true;
        lead(b, &p);
    }
    sem_destroy(&p.wake);
    if (p.rc != 0) *err = p.err;
    return p.rc;
}

void tly_batcher_stop(tly_batcher *b)
{
    if (!b) return;
    /* Every request has returned from tly_batcher_store by now: nothing is queued. */
    tly_db_free(b->db);
    pthread_mutex_destroy(&b->lock);
    free(b->batch);
    free(b->jobs);
    free(b);
}
