/* The postgresql events store's append (events_store.h): one transaction per call that claims the
 * events' ids in the dedupe ledger (tally_claim_event_keys(), sql/migrations/019_claim_event_keys.sql)
 * and COPYs the events it may store into events, in four round trips: BEGIN, the claim, the start
 * of the COPY, and its data with the COMMIT. */
#ifndef TLY_STORE_POSTGRESQL_APPEND_H
#define TLY_STORE_POSTGRESQL_APPEND_H
#include "first.h"
#include "db.h"
#include "store.h"

#include <stddef.h>

/* Stores the rows of every job, each (property, event_id) once; fills each job's sent and stored.
 * All or nothing. 0 ok, -1 with err. */
int tly_pg_append(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err) TLY_NONNULL(1, 2, 4)
    TLY_MUST_CHECK;

#endif
