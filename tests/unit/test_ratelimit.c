#include "first.h"
#include "tap.h"
#include "ratelimit.h"

#include <string.h>

static void test_burst_then_rate(void)
{
    tly_ratelimit *rl = tly_ratelimit_new(10, 20, 16);
    uint64_t k = tly_ratelimit_key("203.0.113.9", 11);
    int64_t t = 1000000;
    int allowed = 0;
    for (int i = 0; i < 25; i++) allowed += tly_ratelimit_take(rl, k, t) == 0;
    CHECK_INT(allowed, 20);                      /* the burst, then nothing */
    CHECK_INT(tly_ratelimit_take(rl, k, t), 1);  /* one token comes in 0.1 s: wait 1 s (whole seconds) */
    CHECK_INT(tly_ratelimit_take(rl, k, t + 100), 0);   /* 0.1 s later one token came back */
    CHECK(tly_ratelimit_take(rl, k, t + 100) > 0);
    CHECK_INT(tly_ratelimit_take(rl, k, t + 1100), 0);  /* a second later: ten more */
    allowed = 0;
    for (int i = 0; i < 20; i++) allowed += tly_ratelimit_take(rl, k, t + 1100) == 0;
    CHECK_INT(allowed, 9);
    /* Long idle: the bucket refills to the burst, not beyond. */
    allowed = 0;
    for (int i = 0; i < 50; i++) allowed += tly_ratelimit_take(rl, k, t + 600000) == 0;
    CHECK_INT(allowed, 20);
    tly_ratelimit_free(rl);
}

static void test_senders_are_apart(void)
{
    tly_ratelimit *rl = tly_ratelimit_new(1, 2, 4096);
    uint64_t a = tly_ratelimit_key("198.51.100.1", 12), b = tly_ratelimit_key("198.51.100.2", 12);
    CHECK(a != b);
    CHECK_INT(tly_ratelimit_take(rl, a, 0), 0);
    CHECK_INT(tly_ratelimit_take(rl, a, 0), 0);
    CHECK_INT(tly_ratelimit_take(rl, a, 0), 1);
    CHECK_INT(tly_ratelimit_take(rl, b, 0), 0);   /* another sender has its own bucket */
    CHECK_INT(tly_ratelimit_take(rl, a, 500), 1);
    CHECK_INT(tly_ratelimit_take(rl, a, 1000), 0);
    /* Slow rates give longer waits. */
    tly_ratelimit *slow = tly_ratelimit_new(0.1, 1, 8);
    CHECK_INT(tly_ratelimit_take(slow, a, 0), 0);
    CHECK_INT(tly_ratelimit_take(slow, a, 0), 10);
    tly_ratelimit_free(slow);
    tly_ratelimit_free(rl);
}

static void test_keys_are_stable_and_keyed(void)
{
    CHECK(tly_ratelimit_key("x", 1) == tly_ratelimit_key("x", 1));
    CHECK(tly_ratelimit_key("x", 1) != tly_ratelimit_key("y", 1));
    CHECK(tly_ratelimit_key("", 0) == tly_ratelimit_key("", 0));
}

static void run_tests(void)
{
    test_burst_then_rate();
    test_senders_are_apart();
    test_keys_are_stable_and_keyed();
}
