/* Calls off the loop's thread (lib/offload.c): in place outside a fiber; on the helper thread
 * while the fiber is parked; one at a time, in order; a call that waits holds up only its own
 * fiber. */
#include "first.h"
#include "fiber.h"
#include "offload.h"
#include "tap.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <string.h>

/* The scheduler of these tests: fibers unparked, in order, for the main thread to resume. */
static pthread_mutex_t woken_lock = PTHREAD_MUTEX_INITIALIZER;
static tly_fiber *woken[8];
static int nwoken;
static sem_t wakes;

static void remember(void *ctx, tly_fiber *f)
{
    (void)ctx;
    pthread_mutex_lock(&woken_lock);
    woken[nwoken++] = f;
    pthread_mutex_unlock(&woken_lock);
    sem_post(&wakes);
}

/* Waits for the next fiber to be unparked and returns it. */
static tly_fiber *next_woken(void)
{
    while (sem_wait(&wakes) != 0) {}
    pthread_mutex_lock(&woken_lock);
    tly_fiber *f = woken[0];
    memmove(woken, woken + 1, (size_t)--nwoken * sizeof *woken);
    pthread_mutex_unlock(&woken_lock);
    return f;
}

static char trace[32];
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void note(char c)
{
    pthread_mutex_lock(&trace_lock);
    size_t n = strlen(trace);
    if (n + 1 < sizeof trace) {
        trace[n] = c;
        trace[n + 1] = '\0';
    }
    pthread_mutex_unlock(&trace_lock);
}

/* A call: notes its letter and the thread it ran on; the gated one first waits for the gate. */
typedef struct job {
    char letter;
    sem_t *gate;        /* NULL: none */
    pthread_t ran_on;
} job;

static void work(void *arg)
{
    job *j = arg;
    if (j->gate) while (sem_wait(j->gate) != 0) {}
    j->ran_on = pthread_self();
    note(j->letter);
}

static tly_offload *offload;

/* A request: notes its job's letter in capitals before the call, and as a digit (a 0, b 1, ...)
 * once the call has returned. */
static void request(void *arg)
{
    job *j = arg;
    note((char)(j->letter - 'a' + 'A'));
    tly_offload_run(offload, work, j);
    note((char)(j->letter - 'a' + '0'));
}

static void run_tests(void)
{
    sem_init(&wakes, 0, 0);
    offload = tly_offload_start();
    CHECK(offload != NULL);

    /* Outside a fiber: in place. */
    job here = {.letter = 'h'};
    tly_offload_run(offload, work, &here);
    CHECK(pthread_equal(here.ran_on, pthread_self()));
    CHECK_STR(trace, "h");

    /* In a fiber: on the helper thread, the fiber parked until the call has returned. */
    trace[0] = '\0';
    tly_fiber *f = tly_fiber_new(64 * 1024), *g = tly_fiber_new(64 * 1024);
    job a = {.letter = 'a'};
    tly_fiber_start(f, request, &a, remember, NULL);
    CHECK(tly_fiber_resume(f));            /* parked in the call */
    CHECK(next_woken() == f);              /* unparked once the call has run */
    CHECK_STR(trace, "Aa");
    CHECK(!pthread_equal(a.ran_on, pthread_self()));
    CHECK(!tly_fiber_resume(f));
    CHECK_STR(trace, "Aa0");

    /* A call that waits holds up its own fiber only: another fiber runs meanwhile, and its call
     * runs after the first, in order. */
    trace[0] = '\0';
    sem_t gate;
    sem_init(&gate, 0, 0);
    job b = {.letter = 'b', .gate = &gate}, c = {.letter = 'c'};
    tly_fiber_start(f, request, &b, remember, NULL);
    tly_fiber_start(g, request, &c, remember, NULL);
    CHECK(tly_fiber_resume(f));
    CHECK(tly_fiber_resume(g));
    CHECK_STR(trace, "BC");                /* both ran up to their calls, b's still waiting */
    sem_post(&gate);
    CHECK(next_woken() == f);
    CHECK(next_woken() == g);
    CHECK_STR(trace, "BCbc");
    CHECK(!tly_fiber_resume(g));
    CHECK(!tly_fiber_resume(f));
    CHECK_STR(trace, "BCbc21");
    CHECK(pthread_equal(b.ran_on, c.ran_on));

    /* Stopping runs what is queued first. */
    trace[0] = '\0';
    job d = {.letter = 'd', .gate = &gate}, e = {.letter = 'e'};
    tly_fiber_start(f, request, &d, remember, NULL);
    tly_fiber_start(g, request, &e, remember, NULL);
    CHECK(tly_fiber_resume(f));
    CHECK(tly_fiber_resume(g));
    sem_post(&gate);
    tly_offload_stop(offload);
    CHECK_STR(trace, "DEde");
    CHECK(next_woken() == f);
    CHECK(next_woken() == g);
    CHECK(!tly_fiber_resume(f));
    CHECK(!tly_fiber_resume(g));

    sem_destroy(&gate);
    tly_fiber_free(f);
    tly_fiber_free(g);
    tly_offload_stop(NULL);
}
