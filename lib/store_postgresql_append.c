#include "first.h"
#include "store_postgresql_append.h"
#include "buf.h"
#include "event_copy.h"
#include "log.h"
#include "mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transaction is one simple query: BEGIN, the claim, the COPY and the COMMIT. The server
 * answers the claim and then waits for the COPY data, which the client sends once it knows from
 * the claim which events to keep; the COMMIT runs when the data ends (and is skipped if anything
 * before it fails). Two round trips per commit instead of four: on a busy server each round trip
 * costs both sides a sleep and a wake-up, more than the statements' own work for a few events. */
static const char claim_sql[] = "BEGIN; SELECT property_pk, event_id FROM tally_claim_event_keys(";
static const char copy_commit_sql[] = "); COPY events (" TLY_EVENT_COPY_COLUMNS ") FROM STDIN; COMMIT";

/* COPY data goes to the server in pieces of about this size. */
#define COPY_CHUNK 32768

/* One event of the batch: its job, its row and id, and whether it is to be stored. */
typedef struct entry {
    size_t job;
    int property_pk;
    const json_t *row;
    const char *id;          /* NULL: none */
    bool keep;
} entry;

typedef struct batch {
    tly_store_job *const *jobs;
    entry *entries;
    size_t total;
    entry **claims;          /* the first entry of each (property, id), in (property, id) order */
    size_t nclaims;
} batch;

/* The order of claims: by property, then id. */
static int compare_key(int pk_a, const char *id_a, int pk_b, const char *id_b)
{
    if (pk_a != pk_b) return pk_a < pk_b ? -1 : 1;
    return strcmp(id_a, id_b);
}

static int compare_claims(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = compare_key(x->property_pk, x->id, y->property_pk, y->id);
    if (c != 0) return c;
    return x < y ? -1 : x > y;   /* the batch's first of the same id comes first */
}

/* Lists every job's rows in order, and the claims: each (property, id) once, the batch's first. */
static void list_entries(batch *bt, tly_store_job *const *jobs, size_t n)
{
    memset(bt, 0, sizeof *bt);
    bt->jobs = jobs;
    for (size_t i = 0; i < n; i++) bt->total += json_array_size(jobs[i]->rows);
    bt->entries = tly_xcalloc(bt->total ? bt->total : 1, sizeof *bt->entries);
    bt->claims = tly_xcalloc(bt->total ? bt->total : 1, sizeof *bt->claims);
    size_t k = 0, ids = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r;
        json_t *row;
        json_array_foreach(jobs[i]->rows, r, row) {
            const char *id = json_string_value(json_object_get(row, "event_id"));
            bt->entries[k] = (entry){.job = i, .property_pk = jobs[i]->property_pk, .row = row, .id = id};
            if (id) bt->claims[ids++] = &bt->entries[k];
            k++;
        }
    }
    qsort(bt->claims, ids, sizeof *bt->claims, compare_claims);
    for (size_t c = 0; c < ids; c++) {
        const entry *prev = bt->nclaims ? bt->claims[bt->nclaims - 1] : NULL;
        if (prev && compare_key(prev->property_pk, prev->id, bt->claims[c]->property_pk, bt->claims[c]->id) == 0)
            continue;   /* a later event with the same id: a duplicate within the batch */
        bt->claims[bt->nclaims++] = bt->claims[c];
    }
}

static void free_batch(batch *bt)
{
    free(bt->entries);
    free(bt->claims);
}

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

static void put_claim(tly_buf *pks, tly_buf *ids, int property_pk, const char *id)
{
    tly_buf_append_char(pks, pks->len ? ',' : '{');
    tly_buf_append_char(ids, ids->len ? ',' : '{');
    tly_buf_append_int(pks, property_pk);
    if (id) put_array_text(ids, id);
    else tly_buf_append_str(ids, "NULL");
}

/* The claim's array literals: every (property, id) to claim, and each job's property (whether it
 * still exists decides for its events without an id). */
static void claim_arrays(const batch *bt, size_t n, tly_buf *pks, tly_buf *ids)
{
    for (size_t c = 0; c < bt->nclaims; c++) put_claim(pks, ids, bt->claims[c]->property_pk, bt->claims[c]->id);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || bt->jobs[i]->property_pk != bt->jobs[i - 1]->property_pk)
            put_claim(pks, ids, bt->jobs[i]->property_pk, NULL);
    tly_buf_append_char(pks, '}');
    tly_buf_append_char(ids, '}');
}

static entry *find_claim(const batch *bt, int property_pk, const char *id)
{
    size_t lo = 0, hi = bt->nclaims;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry *e = bt->claims[mid];
        int c = compare_key(e->property_pk, e->id, property_pk, id);
        if (c == 0) return bt->claims[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Marks the events to store from the claim's answer: the claimed ones, and those without an id of
 * a property that exists. Counts them for their jobs. */
static void mark_kept(batch *bt, const PGresult *res)
{
    for (int r = 0; r < PQntuples(res); r++) {
        int pk = (int)strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (PQgetisnull(res, r, 1)) {
            for (size_t k = 0; k < bt->total; k++) {
                entry *e = &bt->entries[k];
                if (e->property_pk == pk && !e->id) e->keep = true;
            }
        } else {
            entry *e = find_claim(bt, pk, PQgetvalue(res, r, 1));
            if (e) e->keep = true;
        }
    }
    for (size_t k = 0; k < bt->total; k++)
        if (bt->entries[k].keep) bt->jobs[bt->entries[k].job]->stored++;
}

/* Hands a piece of COPY data to libpq, waiting (until the deadline) for room when libpq's buffer
 * is full: the connection is in non-blocking mode. *sent false when libpq failed to take it.
 * -1 with err when the deadline passed. */
static int put_copy_data(tly_db *db, const tly_buf *piece, double deadline, bool *sent, tly_db_error *err)
{
    for (;;) {
        int put = PQputCopyData(tly_db_conn(db), piece->ptr, (int)piece->len);
        if (put != 0) {
            *sent = put == 1;
            return 0;
        }
        if (tly_db_wait(db, TLY_DB_SENT, deadline, err) != 0) return -1;
    }
}

/* Sends the COPY data: the kept rows' lines, encoded as they are sent, in pieces of about
 * COPY_CHUNK bytes, and then the end of the data. -1 with err when the deadline passed. */
static int send_rows(tly_db *db, const batch *bt, double deadline, tly_db_error *err)
{
    tly_buf piece = {0};
    bool sent = true;
    int rc = 0;
    for (size_t k = 0; k < bt->total && sent && rc == 0; k++) {
        const entry *e = &bt->entries[k];
        if (!e->keep) continue;
        tly_event_copy_row(&piece, e->property_pk, e->row);
        if (piece.len < COPY_CHUNK) continue;
        rc = put_copy_data(db, &piece, deadline, &sent, err);
        tly_buf_reset(&piece);
    }
    if (sent && rc == 0 && piece.len > 0) rc = put_copy_data(db, &piece, deadline, &sent, err);
    tly_buf_free(&piece);
    /* Rows that could not all be sent end the COPY with an error: nothing is committed. */
    const char *failure = sent ? NULL : "the rows could not all be sent";
    while (rc == 0 && PQputCopyEnd(tly_db_conn(db), failure) == 0)
        rc = tly_db_wait(db, TLY_DB_SENT, deadline, err);
    return rc;
}

/* The transaction's query: the claim's arrays as literals (one query cannot carry parameters).
 * false when they cannot be escaped (out of memory, invalid encoding). */
static bool transaction_sql(PGconn *conn, const char *pks, const char *ids, tly_buf *sql)
{
    char *pks_literal = PQescapeLiteral(conn, pks, strlen(pks));
    char *ids_literal = PQescapeLiteral(conn, ids, strlen(ids));
    bool ok = pks_literal && ids_literal;
    if (ok) {   /* appended, not printed: vsnprintf of the 600-byte query cost 10,000 instructions */
        tly_buf_append_str(sql, claim_sql);
        tly_buf_append_str(sql, pks_literal);
        tly_buf_append_str(sql, "::integer[], ");
        tly_buf_append_str(sql, ids_literal);
        tly_buf_append_str(sql, "::text[]");
        tly_buf_append_str(sql, copy_commit_sql);
    }
    PQfreemem(pks_literal);
    PQfreemem(ids_literal);
    return ok;
}

/* The results of the transaction's query, in order: BEGIN, the claim (which marks the events to
 * keep), the COPY (answered with the kept rows), the COPY's count, the COMMIT. Every result is
 * read, so that the connection is ready for the next command. *claimed: whether the claim's
 * answer came. 0 committed, -1 with err; err->timed_out when the server did not answer by the
 * deadline (the connection is then dropped). */
static int read_results(tly_db *db, batch *bt, double deadline, bool *claimed, tly_db_error *err)
{
    PGresult *res;
    bool failed = false, copied = false, committed = false;
    for (;;) {
        if (tly_db_wait(db, TLY_DB_ANSWERED, deadline, err) != 0) return -1;
        PGconn *conn = tly_db_conn(db);   /* NULL once dropped as broken: nothing more to read */
        if (!conn || !(res = PQgetResult(conn))) break;
        ExecStatusType status = PQresultStatus(res);
        if (failed) {
            /* Only read: the rest of the query was skipped. */
        } else if (status == PGRES_TUPLES_OK && !*claimed) {
            mark_kept(bt, res);
            *claimed = true;
        } else if (status == PGRES_COPY_IN && *claimed && !copied) {
            copied = true;
            if (send_rows(db, bt, deadline, err) != 0) {
                PQclear(res);
                return -1;
            }
        } else if (status == PGRES_COMMAND_OK) {
            committed = strcmp(PQcmdStatus(res), "COMMIT") == 0;
        } else {
            tly_db_result_error(db, res, err);
            failed = true;
        }
        PQclear(res);
    }
    if (!failed && (!copied || !committed)) {
        tly_db_result_error(db, NULL, err);
        failed = true;
    }
    return failed ? -1 : 0;
}

/* One attempt at the claim, the COPY and the commit, on a connection, answered by the deadline.
 * *claimed: whether the claim's answer came. 0 committed, -1 with err (rolled back, or left to the
 * server to roll back when the connection was dropped). */
static int try_append(tly_db *db, batch *bt, const char *pks, const char *ids, bool *claimed,
                      tly_db_error *err)
{
    PGconn *conn = tly_db_conn(db);
    double deadline = tly_db_deadline(db);
    tly_buf sql = {0};
    int rc = -1;
    /* Non-blocking, so that sending too waits no longer than the deadline. */
    if (PQsetnonblocking(conn, 1) != 0 || !transaction_sql(conn, pks, ids, &sql)) tly_db_result_error(db, NULL, err);
    else if (PQsendQuery(conn, tly_buf_cstr(&sql)) != 1) tly_db_result_error(db, NULL, err);
    else rc = read_results(db, bt, deadline, claimed, err);
    tly_buf_free(&sql);
    conn = tly_db_conn(db);
    if (conn) PQsetnonblocking(conn, 0);
    if (rc != 0 && conn && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        tly_db_error ignored;
        if (tly_db_command(db, "ROLLBACK", &ignored) != 0) tly_log_warn("rollback failed: %s", ignored.message);
    }
    return rc;
}

/* The claim, the COPY and the commit. A connection found broken before the claim answered
 * (typically: the server restarted since the last commit) gets one more try on a new connection,
 * as single statements do (db.c): nothing can have run on it. A server that did not answer in
 * time gets none: the caller spools. 0 committed, -1 with err. */
static int append_batch(tly_db *db, batch *bt, const char *pks, const char *ids, tly_db_error *err)
{
    if (tly_db_admit(db, err) != 0) return -1;
    for (int attempt = 0;; attempt++) {
        if (tly_db_ensure(db, err) != 0) return -1;
        bool claimed = false;
        int rc = try_append(db, bt, pks, ids, &claimed, err);
        if (rc == 0 || claimed || !err->unreachable || err->timed_out || attempt > 0) return rc;
    }
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
    batch bt;
    list_entries(&bt, jobs, n);
    tly_buf pks = {0}, ids = {0};
    claim_arrays(&bt, n, &pks, &ids);
    int rc = append_batch(db, &bt, tly_buf_cstr(&pks), tly_buf_cstr(&ids), err);
    if (rc != 0)
        for (size_t i = 0; i < n; i++) jobs[i]->stored = 0;
    free_batch(&bt);
    tly_buf_free(&pks);
    tly_buf_free(&ids);
    return rc;
}
