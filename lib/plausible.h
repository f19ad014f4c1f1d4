/* The body of Plausible's Events API (POST /api/event), so that Plausible's own tracker and its
 * integrations can send to Tally unchanged. Long and short keys are both accepted:
 * name/n, url/u, domain/d, referrer/r, props/p (object or JSON string), revenue/$,
 * interactive/i, screen width w, hashMode/h (the route in the fragment is the path). An
 * "engagement" event keeps sd and e as the properties scroll_depth and engaged_ms. */
#ifndef TLY_PLAUSIBLE_H
#define TLY_PLAUSIBLE_H
#include "first.h"
#include "envelope.h"
#include <jansson.h>

/* Parses body into ev (timestamped received_ms) and the list of domains it names (a JSON array of
 * lowercased strings, owned by the caller). 0 ok; -1 with a message naming the field. */
int tly_plausible_parse(const char *body, size_t len, int64_t received_ms, tly_event *ev,
                        json_t **domains, char *err, size_t errlen) TLY_NONNULL(1, 4, 5, 6)
    TLY_MUST_CHECK;

#endif
