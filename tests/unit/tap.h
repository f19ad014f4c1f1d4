/* Minimal TAP producer for the C unit tests: each test program defines run_tests() and uses the
 * CHECK macros, which print "ok N - file:line expr" or "not ok N - ..." with expected and got. */
#ifndef TLY_TAP_H
#define TLY_TAP_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

static void run_tests(void);

static void tap_result(int ok, const char *file, int line, const char *what)
{
    tap_count++;
    if (!ok) tap_failed++;
    printf("%s %d - %s:%d %s\n", ok ? "ok" : "not ok", tap_count, file, line, what);
}

#define CHECK(expr) tap_result(!!(expr), __FILE__, __LINE__, #expr)

#define CHECK_STR(got, want) do { \
        const char *g_ = (got), *w_ = (want); \
        int ok_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0); \
        tap_result(ok_, __FILE__, __LINE__, #got " == " #want); \
        if (!ok_) printf("#   expected: \"%s\"\n#        got: \"%s\"\n", w_ ? w_ : "(null)", g_ ? g_ : "(null)"); \
    } while (0)

#define CHECK_INT(got, want) do { \
        long long g_ = (long long)(got), w_ = (long long)(want); \
        tap_result(g_ == w_, __FILE__, __LINE__, #got " == " #want); \
        if (g_ != w_) printf("#   expected: %lld\n#        got: %lld\n", w_, g_); \
    } while (0)

/* Exit 77 tells the test driver the test was skipped (e.g. a missing optional resource). */
#define SKIP_ALL(why) do { printf("1..0 # SKIP %s\n", why); exit(0); } while (0)

int main(void)
{
    run_tests();
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
