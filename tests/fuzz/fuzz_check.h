/* Shared by the libFuzzer targets: an invariant check that aborts (so libFuzzer reports a crash
 * with the input) when a parser hands back something its header promises it never does. */
#ifndef TLY_FUZZ_CHECK_H
#define TLY_FUZZ_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

#endif
