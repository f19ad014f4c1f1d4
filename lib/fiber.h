/* Fibers: functions that run on a stack of their own and can pause (tly_fiber_park) in the middle
 * of their work, to be resumed later by the thread that started them. A FastCGI event loop
 * (io_loop.h) runs each request in one, so that a request waiting for its group commit holds a
 * small stack instead of a thread that sleeps and wakes: on a virtual machine a sleep and a wake-up
 * can cost more than the request's own work.
 *
 * A fiber runs only on the thread that resumes it, and only while that thread is inside
 * tly_fiber_resume. Any thread may ask for a parked fiber to be resumed (tly_fiber_unpark): the
 * fiber's scheduler, given when it starts, hands it back to its thread. */
#ifndef TLY_FIBER_H
#define TLY_FIBER_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct tly_fiber tly_fiber;
typedef void tly_fiber_fn(void *arg);
/* Called by tly_fiber_unpark, from any thread: must arrange for tly_fiber_resume(f) on the
 * fiber's own thread. */
typedef void tly_fiber_scheduler(void *ctx, tly_fiber *f);

/* A fiber with a stack of stack_bytes (rounded to pages, with a guard page below it): resident
 * only as far as used. NULL when the memory cannot be had. Reusable: start it again once done. */
tly_fiber *tly_fiber_new(size_t stack_bytes);
void tly_fiber_free(tly_fiber *f);
/* Gives back to the kernel the pages of a done fiber's stack beyond keep_bytes from its top (where
 * a stack starts): those a deep call left resident. */
void tly_fiber_trim(tly_fiber *f, size_t keep_bytes) TLY_NONNULL(1);

/* Makes f run fn(arg) from its first resume; wake(ctx, f) will be its scheduler. f must be new
 * or done. */
void tly_fiber_start(tly_fiber *f, tly_fiber_fn *fn, void *arg, tly_fiber_scheduler *wake, void *ctx)
    TLY_NONNULL(1, 2, 4);
/* Runs f until it parks or returns. True while f has work left (it parked), false once done. */
bool tly_fiber_resume(tly_fiber *f) TLY_NONNULL(1);
/* The fiber running on this thread, or NULL outside any fiber. */
tly_fiber *tly_fiber_current(void);
/* Inside a fiber: returns to its resumer until the fiber is resumed again (after an unpark). */
void tly_fiber_park(void);
/* From any thread: asks the fiber's scheduler to resume f. May be called before f has parked (on
 * another thread, racing with it): the scheduler's thread resumes it only once it has. */
void tly_fiber_unpark(tly_fiber *f) TLY_NONNULL(1);

#endif
