/* Group commit: requests handled by concurrent threads hand their rows to one writer thread,
 * which stores everything waiting in one transaction, so a busy server pays one commit for many
 * requests. A request still gets its answer only after its rows are committed. */
#ifndef TLY_BATCHER_H
#define TLY_BATCHER_H
#include "first.h"
#include "db.h"
#include "spool.h"
#include "store.h"

typedef struct tly_batcher tly_batcher;

/* Starts the writer thread with its own database connection. max_jobs bounds one transaction.
 * With a spool, what cannot be committed because the database is unreachable is spooled. */
tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               tly_spool *spool) TLY_NONNULL(1, 2);
/* Stores job (blocking until committed or failed). 0 ok, -1 with err. Thread-safe. */
int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;
/* Stores what is still queued, then stops the writer. */
void tly_batcher_stop(tly_batcher *b);

#endif
