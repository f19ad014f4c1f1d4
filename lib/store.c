#include "first.h"
#include "store.h"
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_ATTEMPTS 3

static const tly_db_stmt stmt_ingest = {
    "ingest", "SELECT job, sent, stored FROM tally_ingest($1::int, $2::jsonb)", 2};

/* Sends the rows of every job of one property in one call. */
static int store_group(tly_db *db, tly_store_job *const *jobs, size_t n, size_t first,
                       bool *done, tly_db_error *err)
{
    const tly_store_job *lead = jobs[first];
    json_t *rows = json_array();
    for (size_t i = first; i < n; i++) {
        tly_store_job *job = jobs[i];
        if (done[i] || job->property_pk != lead->property_pk)
            continue;
        size_t k;
        json_t *row;
        json_array_foreach(job->rows, k, row) {
            json_object_set_new(row, "job", json_integer((json_int_t)i));
            json_array_append(rows, row);
        }
        job->sent = job->stored = 0;
        done[i] = true;
    }
    char pk[16];
    snprintf(pk, sizeof pk, "%d", lead->property_pk);
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *params[] = {pk, text};
    PGresult *res = tly_db_exec(db, &stmt_ingest, params, PGRES_TUPLES_OK, err);
    free(text);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
        if (i >= n) continue;
        jobs[i]->sent = atoi(PQgetvalue(res, r, 1));
        jobs[i]->stored = atoi(PQgetvalue(res, r, 2));
    }
    PQclear(res);
    return 0;
}

static int store_once(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    /* One job is one statement: autocommit is its transaction. */
    bool transaction = n > 1;
    if (transaction && tly_db_command(db, "BEGIN", err) != 0) return -1;
    bool *done = tly_xcalloc(n, sizeof *done);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!done[i] && json_array_size(jobs[i]->rows) > 0) rc = store_group(db, jobs, n, i, done, err);
    free(done);
    if (transaction) {
        tly_db_error ignored;
        if (rc == 0) rc = tly_db_command(db, "COMMIT", err);
        else if (!err->unreachable && tly_db_command(db, "ROLLBACK", &ignored) != 0)
            tly_log_warn("rollback failed: %s", ignored.message);
    }
    return rc;
}

int tly_store_jobs(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    for (int attempt = 1;; attempt++) {
        if (store_once(db, jobs, n, err) == 0) return 0;
        /* 40P01 deadlock, 40001 serialisation failure: nothing was stored; try again. */
        bool retryable = strcmp(err->sqlstate, "40P01") == 0 || strcmp(err->sqlstate, "40001") == 0;
        if (!retryable || attempt == STORE_ATTEMPTS) return -1;
        tly_log_info("store: %s (attempt %d of %d), retrying", err->message, attempt, STORE_ATTEMPTS);
    }
}
