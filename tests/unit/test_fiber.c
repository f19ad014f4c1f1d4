/* Fibers (lib/fiber.c): run, park, resume from another thread's request, reuse, trim. */
#include "first.h"
#include "fiber.h"
#include "tap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static char trace[64];

static void note(char c)
{
    size_t n = strlen(trace);
    if (n + 1 < sizeof trace) {
        trace[n] = c;
        trace[n + 1] = '\0';
    }
}

/* The scheduler of these tests: remembers the fiber to resume. */
static tly_fiber *_Atomic woken;
static void remember(void *ctx, tly_fiber *f)
{
    (void)ctx;
    atomic_store(&woken, f);
}

static void parks_twice(void *arg)
{
    note(*(const char *)arg);
    tly_fiber_park();
    note('b');
    tly_fiber_park();
    note('c');
}

static void current_is_self(void *arg)
{
    *(tly_fiber **)arg = tly_fiber_current();
}

/* Deep enough to touch several hundred KB of stack. */
static int deep(int n)
{
    volatile char page[4096];
    page[0] = (char)n;
    return n == 0 ? page[0] : deep(n - 1) + page[0];
}

static void goes_deep(void *arg)
{
    *(int *)arg = deep(100);
}

static void *unpark_later(void *arg)
{
    tly_fiber_unpark(arg);
    return NULL;
}

static void run_tests(void)
{
    CHECK(tly_fiber_current() == NULL);

    /* Runs to its first park, then on each resume to the next; done after the last. */
    tly_fiber *f = tly_fiber_new(256 * 1024);
    CHECK(f != NULL);
    trace[0] = '\0';
    tly_fiber_start(f, parks_twice, "a", remember, NULL);
    CHECK(strcmp(trace, "") == 0);
    CHECK(tly_fiber_resume(f));
    CHECK_STR(trace, "a");
    CHECK(tly_fiber_current() == NULL);
    CHECK(tly_fiber_resume(f));
    CHECK_STR(trace, "ab");
    CHECK(!tly_fiber_resume(f));
    CHECK_STR(trace, "abc");

    /* Started again once done: runs from the top. */
    trace[0] = '\0';
    tly_fiber_start(f, parks_twice, "x", remember, NULL);
    CHECK(tly_fiber_resume(f));
    CHECK_STR(trace, "x");

    /* Unparked from another thread: the scheduler is told which fiber, and resuming it goes on. */
    atomic_store(&woken, NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, unpark_later, f) == 0);
    pthread_join(t, NULL);
    CHECK(atomic_load(&woken) == f);
    CHECK(tly_fiber_resume(f));
    CHECK_STR(trace, "xb");
    CHECK(!tly_fiber_resume(f));

    /* Inside, the fiber is the current one. */
    tly_fiber *seen = NULL;
    tly_fiber_start(f, current_is_self, &seen, remember, NULL);
    CHECK(!tly_fiber_resume(f));
    CHECK(seen == f);

    /* A deep call on the fiber's own stack (400 KB of frames on a 1 MB stack); trimmed afterwards,
     * the fiber runs again as new. */
    tly_fiber *big = tly_fiber_new(1024 * 1024);
    int sum = -1;
    tly_fiber_start(big, goes_deep, &sum, remember, NULL);
    CHECK(!tly_fiber_resume(big));
    CHECK_INT(sum, 5050);
    tly_fiber_trim(big, 64 * 1024);
    sum = -1;
    tly_fiber_start(big, goes_deep, &sum, remember, NULL);
    CHECK(!tly_fiber_resume(big));
    CHECK_INT(sum, 5050);

    /* Two fibers interleaved. */
    tly_fiber *g = tly_fiber_new(64 * 1024);
    trace[0] = '\0';
    tly_fiber_start(f, parks_twice, "1", remember, NULL);
    tly_fiber_start(g, parks_twice, "2", remember, NULL);
    CHECK(tly_fiber_resume(f));
    CHECK(tly_fiber_resume(g));
    CHECK(tly_fiber_resume(g));
    CHECK(tly_fiber_resume(f));
    CHECK(!tly_fiber_resume(f));
    CHECK(!tly_fiber_resume(g));
    CHECK_STR(trace, "12bbcc");

    tly_fiber_free(f);
    tly_fiber_free(g);
    tly_fiber_free(big);
    tly_fiber_free(NULL);
}
