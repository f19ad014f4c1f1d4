#include "first.h"
#include "offload.h"
#include "fiber.h"
#include "log.h"
#include "mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* A call waiting for the helper. It lives on the parked fiber's stack: the helper must not touch
 * it after the unpark, which may let the fiber end at once. */
typedef struct call {
    tly_offload_fn *fn;
    void *arg;
    tly_fiber *fiber;
    struct call *next;
} call;

struct tly_offload {
    pthread_mutex_t lock;
    pthread_cond_t queued;   /* the helper waits on it for calls */
    call *head, *tail;
    bool stopping;
    pthread_t thread;
};

static void *run_calls(void *arg)
{
    tly_offload *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (!o->head && !o->stopping) pthread_cond_wait(&o->queued, &o->lock);
        call *c = o->head;
        if (!c) break;   /* stopping, and nothing left */
        o->head = c->next;
        if (!o->head) o->tail = NULL;
        pthread_mutex_unlock(&o->lock);
        tly_fiber *fiber = c->fiber;
        c->fn(c->arg);
        tly_fiber_unpark(fiber);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

static void free_offload(tly_offload *o)
{
    pthread_cond_destroy(&o->queued);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

tly_offload *tly_offload_start(void)
{
    tly_offload *o = tly_xcalloc(1, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->queued, NULL);
    if (pthread_create(&o->thread, NULL, run_calls, o) != 0) {
        tly_log_error("cannot start the thread for calls that wait");
        free_offload(o);
        return NULL;
    }
    return o;
}

void tly_offload_stop(tly_offload *o)
{
    if (!o) return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_mutex_unlock(&o->lock);
    pthread_cond_signal(&o->queued);
    pthread_join(o->thread, NULL);
    free_offload(o);
}

void tly_offload_run(void *offload, tly_offload_fn *fn, void *arg)
{
    tly_offload *o = offload;
    call c = {.fn = fn, .arg = arg, .fiber = tly_fiber_current()};
    if (!c.fiber) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&o->lock);
    if (o->tail) o->tail->next = &c;
    else o->head = &c;
    o->tail = &c;
    pthread_mutex_unlock(&o->lock);
    pthread_cond_signal(&o->queued);
    tly_fiber_park();
}
