/* The postgresql events store's append (events_store.h): one transaction per call that claims the
 * events' ids in the dedupe ledger (tally_claim_event_keys(), sql/migrations/019_claim_event_keys.sql)
 * and COPYs the events it may store into events. The transaction is one simple query answered in
 * two round trips: BEGIN and the claim, then the COPY's data, after which the COMMIT runs. */
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
