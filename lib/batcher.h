/* Group commit: requests handled by concurrent threads store their rows together. The first
 * request to arrive while no commit is running leads: it stores everything queued in one
 * transaction; requests arriving meanwhile queue up, and when the commit ends the first of them
 * leads the next. So a busy server pays one commit for many requests, and a request is woken
 * once, with its outcome or to lead. A request still gets its answer only after its rows are
 * committed (or spooled). */
#ifndef TLY_BATCHER_H
#define TLY_BATCHER_H
#include "first.h"
#include "db.h"
#include "spool.h"
#include "store.h"

typedef struct tly_batcher tly_batcher;

/* A group commit with its own database connection (used by one leader at a time). max_jobs
 * bounds one transaction. With a spool, what cannot be committed because the database is
 * unreachable is spooled. */
tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               tly_spool *spool) TLY_NONNULL(1, 2);
/* Stores job (blocking until committed or failed). 0 ok, -1 with err. Thread-safe. */
int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;
/* Frees the group commit; no request may be storing. */
void tly_batcher_stop(tly_batcher *b);

#endif
