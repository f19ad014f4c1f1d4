/* Visits are built from stored events by the database function tally_sessionize(), in bulk and
 * off the request path. track.fcgi runs it from a background thread every few seconds, so
 * session figures trail ingest by about that much; several processes may run it, the database
 * lets one at a time do the work. */
#ifndef TLY_SESSIONIZER_H
#define TLY_SESSIONIZER_H
#include "first.h"
#include "db.h"

typedef struct tly_sessionizer tly_sessionizer;

/* Runs tally_sessionize() until it has taken every event stored before the call (events stored
 * meanwhile may wait for the next call). Returns the number of events added to visits, or -1
 * with err. */
long long tly_sessionize_pending(tly_db *db, tly_db_error *err) TLY_NONNULL(1, 2);

/* Starts a thread that calls tly_sessionize_pending every interval_ms on its own connection. */
tly_sessionizer *tly_sessionizer_start(const char *conninfo, const char *application_name,
                                       int interval_ms) TLY_NONNULL(1, 2);
/* Runs once more (so nothing committed before the stop waits for cron), then stops. */
void tly_sessionizer_stop(tly_sessionizer *s);

#endif
