/* Group commit: the rows of concurrent requests are stored together. A writer thread of its own
 * takes every request queued, stores them all in one transaction on its connection, answers them
 * and takes what queued meanwhile: so a busy server pays one commit for many requests. A request
 * still gets its answer only after its rows are committed (or spooled). A request waits parked if
 * it runs in a fiber (fiber.h), so that its thread goes on with other requests; a thread waits
 * asleep. */
#ifndef TLY_BATCHER_H
#define TLY_BATCHER_H
#include "first.h"
#include "db.h"
#include "spool.h"
#include "store.h"

typedef struct tly_batcher tly_batcher;

/* A group commit with its own database connection and writer thread; NULL if the thread cannot be
 * started. max_jobs bounds one transaction; a commit not answered within database_timeout seconds
 * (0: no limit) fails as if the database were unreachable. With a spool, what cannot be committed
 * because the database is unreachable is spooled. */
tly_batcher *tly_batcher_start(const char *conninfo, const char *application_name, size_t max_jobs,
                               int database_timeout, tly_spool *spool) TLY_NONNULL(1, 2);
/* Stores job, waiting until committed or failed. 0 ok, -1 with err. Thread-safe. */
int tly_batcher_store(tly_batcher *b, tly_store_job *job, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;
/* Stores what is queued, stops the writer and frees the group commit; no request may be storing. */
void tly_batcher_stop(tly_batcher *b);

#endif
