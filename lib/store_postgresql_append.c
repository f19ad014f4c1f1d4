#include "first.h"
#include "store_postgresql_append.h"
#include "buf.h"
#include "event_copy.h"
#include "log.h"
#include "mem.h"

#include <stdbool.h>
#include <stdlib.h>

static const tly_db_stmt stmt_claim = {
    "claim_events", "SELECT tally_claim_events($1::integer[], $2::text[])", 2};

static const char copy_sql[] = "COPY events (" TLY_EVENT_COPY_COLUMNS ") FROM STDIN";

/* COPY data goes to the server in pieces of about this size, so that a large batch is never
 * encoded whole in memory. */
#define COPY_CHUNK 32768

/* One event of the batch: its job, its row, and whether it is to be stored. */
typedef struct entry {
    size_t job;
    const json_t *row;
    bool keep;
} entry;

/* An array literal element: quoted, with backslash and double quote escaped. */
static void put_array_text(tly_buf *out, const char *s)
{
    tly_buf_append_char(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') tly_buf_append_char(out, '\\');
        tly_buf_append_char(out, *s);
    }
    tly_buf_append_char(out, '"');
}

/* Lists every job's rows in order, with the array literals of their properties and ids. */
static size_t list_entries(tly_store_job *const *jobs, size_t n, entry **out, tly_buf *pks, tly_buf *ids)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += json_array_size(jobs[i]->rows);
    entry *e = tly_xcalloc(total ? total : 1, sizeof *e);
    size_t k = 0;
    tly_buf_append_char(pks, '{');
    tly_buf_append_char(ids, '{');
    for (size_t i = 0; i < n; i++) {
        size_t r;
        json_t *row;
        json_array_foreach(jobs[i]->rows, r, row) {
            if (k) {
                tly_buf_append_char(pks, ',');
                tly_buf_append_char(ids, ',');
            }
            tly_buf_printf(pks, "%d", jobs[i]->property_pk);
            const char *id = json_string_value(json_object_get(row, "event_id"));
            if (id) put_array_text(ids, id);
            else tly_buf_append_str(ids, "NULL");
            e[k++] = (entry){i, row, false};
        }
    }
    tly_buf_append_char(pks, '}');
    tly_buf_append_char(ids, '}');
    *out = e;
    return total;
}

/* Claims the ids; marks every event to store and counts it for its job. */
static int claim(tly_db *db, tly_store_job *const *jobs, entry *entries, size_t total, const char *pks,
                 const char *ids, size_t *kept, tly_db_error *err)
{
    const char *params[] = {pks, ids};
    PGresult *res = tly_db_exec(db, &stmt_claim, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    *kept = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        long k = strtol(PQgetvalue(res, r, 0), NULL, 10) - 1;
        if (k < 0 || (size_t)k >= total || entries[k].keep) continue;
        entries[k].keep = true;
        jobs[entries[k].job]->stored++;
        (*kept)++;
    }
    PQclear(res);
    return 0;
}

/* Sends the events to store with COPY FROM STDIN. 0 ok, -1 with err. */
static int copy_kept(tly_db *db, tly_store_job *const *jobs, const entry *entries, size_t total,
                     tly_db_error *err)
{
    PGconn *conn = tly_db_conn(db);
    PGresult *res = conn ? PQexec(conn, copy_sql) : NULL;
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        tly_db_result_error(db, res, err);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    tly_buf chunk = {0};
    bool sent = true;
    for (size_t k = 0; k < total && sent; k++) {
        if (!entries[k].keep) continue;
        tly_event_copy_row(&chunk, jobs[entries[k].job]->property_pk, entries[k].row);
        if (chunk.len >= COPY_CHUNK) {
            sent = PQputCopyData(conn, chunk.ptr, (int)chunk.len) == 1;
            tly_buf_reset(&chunk);
        }
    }
    if (sent && chunk.len > 0) sent = PQputCopyData(conn, chunk.ptr, (int)chunk.len) == 1;
    tly_buf_free(&chunk);
    sent = sent && PQputCopyEnd(conn, NULL) == 1;
    /* Every result is read, so that the connection is ready for the next command. */
    bool failed = false;
    while ((res = PQgetResult(conn))) {
        if (!failed && PQresultStatus(res) != PGRES_COMMAND_OK) {
            tly_db_result_error(db, res, err);
            failed = true;
        }
        PQclear(res);
        if (failed && !tly_db_conn(db)) break;   /* dropped as broken: nothing more to read */
    }
    if (!failed && !sent) {
        tly_db_result_error(db, NULL, err);
        failed = true;
    }
    return failed ? -1 : 0;
}

/* The claim and the COPY, inside the caller's transaction. */
static int append_in_transaction(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    tly_buf pks = {0}, ids = {0};
    entry *entries;
    size_t total = list_entries(jobs, n, &entries, &pks, &ids), kept = 0;
    int rc = claim(db, jobs, entries, total, tly_buf_cstr(&pks), tly_buf_cstr(&ids), &kept, err);
    if (rc == 0 && kept > 0) rc = copy_kept(db, jobs, entries, total, err);
    free(entries);
    tly_buf_free(&pks);
    tly_buf_free(&ids);
    return rc;
}

int tly_pg_append(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        jobs[i]->sent = (int)json_array_size(jobs[i]->rows);
        jobs[i]->stored = 0;
        total += (size_t)jobs[i]->sent;
    }
    if (total == 0) return 0;
    if (tly_db_command(db, "BEGIN", err) != 0) return -1;
    int rc = append_in_transaction(db, jobs, n, err);
    if (rc == 0) {
        rc = tly_db_command(db, "COMMIT", err);
    } else if (!err->unreachable) {
        tly_db_error ignored;
        if (tly_db_command(db, "ROLLBACK", &ignored) != 0) tly_log_warn("rollback failed: %s", ignored.message);
    }
    if (rc != 0)
        for (size_t i = 0; i < n; i++) jobs[i]->stored = 0;
    return rc;
}
