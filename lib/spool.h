/* The local spool: where accepted events wait, durably, while the database cannot be reached.
 *
 * When a commit fails because PostgreSQL is unreachable, the jobs' rows (enriched events: visitor
 * hashes and coarse fields only, never an address or a user agent) are written to one file in the
 * spool directory, fsync'ed, renamed into place and the directory fsync'ed; only then does the
 * request get its 202. Every spooled row carries an event id (the server assigns one where the
 * client sent none), so replaying a file twice stores its events once. track.fcgi's background
 * thread replays the oldest files first as soon as the database answers again; `track.fcgi
 * --replay-spool` (tally-cron spool) does the same from cron. Several processes may share one
 * directory: a file being replayed is locked. */
#ifndef TLY_SPOOL_H
#define TLY_SPOOL_H
#include "first.h"
#include "db.h"
#include "store.h"
#include <stddef.h>

typedef struct tly_spool tly_spool;

/* Opens (creating it, mode 0700, if missing) the spool directory. NULL with a message in err. */
tly_spool *tly_spool_open(const char *dir, size_t max_bytes, char *err, size_t errlen)
    TLY_NONNULL(1, 3);
void tly_spool_close(tly_spool *sp);

/* Writes the rows of the jobs to a new spool file, durably. 0 ok (each job's sent and stored are
 * its row count); -1 when the spool would grow past its limit or the write failed (err says which;
 * nothing was kept). */
int tly_spool_write(tly_spool *sp, tly_store_job *const *jobs, size_t n, char *err, size_t errlen)
    TLY_NONNULL(1, 2, 4) TLY_MUST_CHECK;

/* Replays every spooled file into the database, oldest first, each in one transaction, removing
 * it once committed. Returns the number of events replayed, or -1 with err when the database failed
 * (the file stays for the next try). */
long long tly_spool_replay(tly_spool *sp, tly_db *db, tly_db_error *err) TLY_NONNULL(1, 2, 3);

/* Bytes in spool files right now (all processes). */
size_t tly_spool_bytes(const tly_spool *sp) TLY_NONNULL(1);

/* Stores jobs in the database, or, when it cannot be reached and a spool is given, in the spool.
 * 0 ok; -1 with err (nothing was kept). */
int tly_store_durably(tly_db *db, tly_spool *sp, tly_store_job *const *jobs, size_t n,
                      tly_db_error *err) TLY_NONNULL(1, 3, 5) TLY_MUST_CHECK;

#endif
