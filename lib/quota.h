/* Per-property daily event quotas (properties.event_quota_daily; 0: none). Each process counts
 * the events it stores on top of the day's total, which it reads from the database at most every
 * QUOTA_REFRESH seconds: several processes may together overshoot by what they store between two
 * reads. Days are UTC days. */
#ifndef TLY_QUOTA_H
#define TLY_QUOTA_H
#include "first.h"
#include "db.h"
#include <stdint.h>

typedef struct tly_quota tly_quota;

tly_quota *tly_quota_new(void);
void tly_quota_free(tly_quota *q);
/* 0 when the property may store `events` more events now; otherwise the seconds until the quota
 * opens again (the next UTC midnight). A database error lets the events through (the quota is a
 * limit on use, not a safety check). Not thread-safe: ingest calls it from its requests' thread
 * only; a count read while other requests add to it may miss theirs until the next read. */
int tly_quota_check(tly_quota *q, tly_db *db, int property_pk, long long limit, long long events,
                    int64_t now_ms) TLY_NONNULL(1, 2);
/* Where the day's count is read (the events store may be ClickHouse, read over HTTP): as
 * tly_db_set_runner's runner. The counters stay the caller's. */
void tly_quota_set_runner(tly_quota *q, tly_db_runner *runner, void *ctx) TLY_NONNULL(1);
/* Counts events stored by this process. */
void tly_quota_add(tly_quota *q, int property_pk, long long events) TLY_NONNULL(1);

#endif
