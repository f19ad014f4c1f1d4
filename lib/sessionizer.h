/* Visits are built from stored events by the database function tally_sessionize(), in bulk and
 * off the request path. track.fcgi runs it from its background thread (background.h) every few
 * seconds, so session figures trail ingest by about that much; several processes may run it, the
 * database lets one at a time do the work. */
#ifndef TLY_SESSIONIZER_H
#define TLY_SESSIONIZER_H
#include "first.h"
#include "db.h"

/* Runs tally_sessionize() until it has taken every event stored before the call (events stored
 * meanwhile may wait for the next call). Returns the number of events added to visits, or -1
 * with err. */
long long tly_sessionize_pending(tly_db *db, tly_db_error *err) TLY_NONNULL(1, 2);

#endif
