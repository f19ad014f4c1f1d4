/* Calls that may wait, made off an event loop's thread. A request running in a fiber (fiber.h)
 * hands such a call (a database round trip) to a helper thread and parks until it has run, so that
 * the loop's thread goes on with the other requests meanwhile: one request waiting for a slow or
 * stuck database no longer holds up those that need nothing from it. Outside a fiber the call
 * simply runs in place. The helper runs calls one at a time, in the order they came. */
#ifndef TLY_OFFLOAD_H
#define TLY_OFFLOAD_H
#include "first.h"

typedef struct tly_offload tly_offload;
typedef void tly_offload_fn(void *arg);

/* Starts the helper thread; NULL when it cannot be started. */
tly_offload *tly_offload_start(void);
/* Runs the calls still queued, stops the helper and frees it; no call may be coming. */
void tly_offload_stop(tly_offload *o);
/* Runs fn(arg): on the helper thread while the calling fiber is parked, or in place when the
 * caller is not in a fiber. Returns once fn has returned. `o` is a tly_offload *, untyped so
 * that this can serve as a callback (tly_db_set_runner). */
void tly_offload_run(void *o, tly_offload_fn *fn, void *arg) TLY_NONNULL(1, 2);

#endif
