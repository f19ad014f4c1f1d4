/* Storing enriched event rows: several requests' rows at once, in the configured events store
 * (events_store.h), all or nothing. */
#ifndef TLY_STORE_H
#define TLY_STORE_H
#include "first.h"
#include "db.h"
#include <jansson.h>
#include <stdbool.h>

/* One request's events for one property, and what became of them. */
typedef struct tly_store_job {
    int property_pk;
    json_t *rows;        /* borrowed array of rows, only read by the store: a value that a group
                          * commit's leader added to another request's row would come from the
                          * leader's JSON arena (json_arena.h), emptied when the leader's request ends */
    int sent, stored;    /* out: rows sent and newly stored (the others were duplicates) */
} tly_store_job;

/* Stores every job at once: all or nothing. A deadlock or serialisation failure against a
 * concurrent writer is retried. 0 ok, -1 with err (nothing was stored). */
int tly_store_jobs(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
    TLY_NONNULL(1, 2, 4) TLY_MUST_CHECK;

#endif
