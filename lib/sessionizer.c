#include "first.h"
#include "sessionizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events per call: one call is one transaction, short enough not to hold visits locked long. */
#define SESSIONIZE_CHUNK 20000

static const tly_db_stmt stmt_sessionize = {"sessionize", "SELECT tally_sessionize($1::int)", 1};
static const tly_db_stmt stmt_summarize = {"summarize_new_events", "SELECT tally_summarize_new_events()", 0};

long long tly_sessionize_pending(tly_db *db, tly_db_error *err)
{
    long long total = 0;
    char chunk[16];
    snprintf(chunk, sizeof chunk, "%d", SESSIONIZE_CHUNK);
    /* The new events are found through a block range index: without summarizing what arrived
     * since the last call, every call would read every event since the last vacuum. */
    PGresult *summarized = tly_db_exec(db, &stmt_summarize, NULL, PGRES_TUPLES_OK, err);
    if (!summarized) return -1;
    PQclear(summarized);
    for (;;) {
        const char *params[] = {chunk};
        PGresult *res = tly_db_exec(db, &stmt_sessionize, params, PGRES_TUPLES_OK, err);
        if (!res) return -1;
        long long n = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        total += n;
        /* A partial chunk took everything that was there: under steady ingest there is always
         * something new, and chasing it call after call would cost more than waiting. */
        if (n < SESSIONIZE_CHUNK) return total;
    }
}
