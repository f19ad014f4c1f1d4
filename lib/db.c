#include "first.h"
#include "db.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_PREPARED 64
/* libpq's connect_timeout, unless the conninfo sets one. */
#define CONNECT_TIMEOUT_SECONDS 3
#define TEXT_OF(n) #n
#define TEXT(n) TEXT_OF(n)
/* The longest a handle rests from a database that does not answer (rest_from_database). */
#define MAX_REST_SECONDS 30
/* How much longer than its statement_timeout a handle waits for the server's answer: time for
 * the server to cancel the statement and say so (tly_db_set_statement_timeout). */
#define CANCEL_GRACE_SECONDS 2

struct tly_db {
    char *conninfo;
    char *application_name;
    char *options;           /* server settings sent with every connection, or NULL */
    int statement_timeout;   /* seconds, sent with those settings; 0: the server's own */
    PGconn *conn;
    bool connected_before;   /* a new connection after this is a reconnect (metrics) */
    int answer_timeout;      /* seconds; 0: none (tly_db_set_answer_timeout) */
    /* After the database failed to answer in time: no statement is sent before resting_until
     * (tly_db_admit). Read on callers' threads while the runner's thread sets them. */
    _Atomic bool suspect;
    _Atomic int64_t resting_until_us;   /* on tly_metrics_clock(), in microseconds */
    int rest_seconds;        /* the current rest, which doubles while the database stays silent */
    tly_db_runner *runner;   /* runs each statement's call; NULL: the caller's thread */
    void *runner_ctx;
    /* Statements prepared on the current connection; cleared whenever it is replaced. */
    const tly_db_stmt *prepared[DB_MAX_PREPARED];
    int nprepared;
};

static void drop_connection(tly_db *db);

tly_db *tly_db_new(const char *conninfo, const char *application_name)
{
    tly_db *db = tly_xcalloc(1, sizeof *db);
    db->conninfo = tly_xstrdup(conninfo);
    db->application_name = tly_xstrdup(application_name);
    return db;
}

void tly_db_set_options(tly_db *db, const char *options)
{
    free(db->options);
    db->options = tly_xstrdup(options);
    drop_connection(db);
}

void tly_db_free(tly_db *db)
{
    if (!db) return;
    PQfinish(db->conn);
    free(db->conninfo);
    free(db->application_name);
    free(db->options);
    free(db);
}

static void set_error(tly_db_error *err, bool unreachable, const char *sqlstate, const char *msg)
{
    err->unreachable = unreachable;
    err->schema_behind = false;
    err->timed_out = false;
    err->canceled = false;
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate ? sqlstate : "");
    snprintf(err->message, sizeof err->message, "%s", msg ? msg : "unknown database error");
    /* libpq messages end with a newline; a log line should not. */
    size_t n = strlen(err->message);
    while (n && (err->message[n - 1] == '\n' || err->message[n - 1] == ' ')) err->message[--n] = '\0';
}

static void drop_connection(tly_db *db)
{
    PQfinish(db->conn);
    db->conn = NULL;
    db->nprepared = 0;
}

/* --- answers awaited with a deadline --------------------------------------------------------- */

void tly_db_set_answer_timeout(tly_db *db, int seconds)
{
    db->answer_timeout = seconds > 0 ? seconds : 0;
}

int tly_db_answer_timeout(const tly_db *db)
{
    return db->answer_timeout;
}

void tly_db_set_statement_timeout(tly_db *db, int seconds)
{
    db->statement_timeout = seconds > 0 ? seconds : 0;
    tly_db_set_answer_timeout(db, seconds > 0 ? seconds + CANCEL_GRACE_SECONDS : 0);
    drop_connection(db);
}

double tly_db_deadline(const tly_db *db)
{
    return db->answer_timeout ? tly_metrics_clock() + db->answer_timeout : 0;
}

/* Milliseconds left until the deadline for poll(): -1 none, 0 passed. */
static int remaining_ms(double deadline)
{
    if (deadline == 0) return -1;
    double left = deadline - tly_metrics_clock();
    return left <= 0 ? 0 : (int)ceil(left * 1000);
}

static int64_t now_us(void)
{
    return (int64_t)(tly_metrics_clock() * 1e6);
}

/* After the database failed to answer in time (a statement, or a connection attempt that took as
 * long as connect_timeout), the handle's statements fail at once for a while instead of each
 * waiting that long again (ingest meanwhile serves keys from memory and spools): for the answer
 * timeout, then twice as long each time the database stays silent, up to MAX_REST_SECONDS. */
static void rest_from_database(tly_db *db)
{
    if (!db->answer_timeout) return;
    int rest = db->rest_seconds ? 2 * db->rest_seconds : db->answer_timeout;
    db->rest_seconds = rest < MAX_REST_SECONDS ? rest : MAX_REST_SECONDS;
    atomic_store(&db->resting_until_us, now_us() + db->rest_seconds * 1000000LL);
    atomic_store(&db->suspect, true);
}

/* The server answered: it is asked as usual again. */
static void database_answered(tly_db *db)
{
    if (!atomic_load(&db->suspect)) return;
    db->rest_seconds = 0;
    atomic_store(&db->suspect, false);
}

int tly_db_admit(tly_db *db, tly_db_error *err)
{
    if (!atomic_load(&db->suspect)) return 0;
    int64_t now = now_us();
    if (now >= atomic_load(&db->resting_until_us)) {
        /* This statement asks again; the others fail at once for as long as it may take. */
        atomic_store(&db->resting_until_us, now + (CONNECT_TIMEOUT_SECONDS + db->answer_timeout) * 1000000LL);
        return 0;
    }
    set_error(err, true, NULL, "the database did not answer in time lately: not asked again yet");
    err->timed_out = true;
    return -1;
}

static void give_up_waiting(tly_db *db, tly_db_error *err)
{
    char msg[96];
    snprintf(msg, sizeof msg, "the database did not answer within %d s", db->answer_timeout);
    set_error(err, true, NULL, msg);
    err->timed_out = true;
    tly_log_warn("%s: connection dropped", msg);
    tly_metrics_inc(TLY_METRIC_DB_ERRORS);
    drop_connection(db);
    rest_from_database(db);
}

int tly_db_wait(tly_db *db, tly_db_wait_for what, double deadline, tly_db_error *err)
{
    PGconn *conn = db->conn;
    if (!conn) return 0;
    for (;;) {
        int unsent = PQflush(conn);   /* 1: some left, the socket being full */
        if (unsent < 0) return 0;
        if (!unsent && what == TLY_DB_SENT) return 0;
        if (!unsent && !PQisBusy(conn)) {
            database_answered(db);
            return 0;
        }
        int ms = remaining_ms(deadline);
        if (ms == 0) {
            give_up_waiting(db, err);
            return -1;
        }
        /* Input is read while sending too: a server that answers (an error) before it has read
         * everything could otherwise never make room. */
        struct pollfd fd = {.fd = PQsocket(conn), .events = (short)(POLLIN | (unsent ? POLLOUT : 0))};
        int ready = poll(&fd, 1, ms);
        if (ready < 0 && errno != EINTR) return 0;
        if (ready > 0 && (fd.revents & (POLLIN | POLLERR | POLLHUP)) && PQconsumeInput(conn) != 1) return 0;
    }
}

/* The answer to what was just sent (sent: whether the send succeeded), as libpq's blocking calls
 * give it: the last result, or NULL. Every statement is sent with libpq's asynchronous calls and
 * awaited here, so that one path waits, with or without an answer timeout. With one, waits no
 * longer than that: then *timed_out, NULL, err filled and the connection dropped. */
static PGresult *answer_of(tly_db *db, int sent, tly_db_error *err, bool *timed_out)
{
    *timed_out = false;
    if (!sent) return NULL;
    double deadline = tly_db_deadline(db);
    PGresult *last = NULL;
    for (;;) {
        if (tly_db_wait(db, TLY_DB_ANSWERED, deadline, err) != 0) {
            PQclear(last);
            *timed_out = true;
            return NULL;
        }
        PGresult *res = PQgetResult(db->conn);
        if (!res) return last;
        PQclear(last);
        last = res;
        if (PQstatus(db->conn) == CONNECTION_BAD) return last;   /* as PQexec: no more will come */
    }
}

/* --- the connection -------------------------------------------------------------------------- */

/* Whether the database has every migration this build relies on (tly_db_ensure). 0 yes; -1 not,
 * or the check failed, with err filled. */
static int check_schema(tly_db *db, tly_db_error *err)
{
    static const char sql[] = "SELECT coalesce(max(left(version, 3)), '') FROM schema_migrations";
    bool timed_out = false;
    PGresult *res = answer_of(db, PQsendQuery(db->conn, sql), err, &timed_out);
    if (timed_out) return -1;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *have = "";
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        have = PQgetvalue(res, 0, 0);
    } else if (!state || strcmp(state, "42P01") != 0) {     /* 42P01: no schema_migrations yet */
        tly_db_result_error(db, res, err);
        PQclear(res);
        return -1;
    }
    int ok = strcmp(have, TLY_SCHEMA_NEEDED) >= 0;
    if (!ok) {
        char msg[160];
        snprintf(msg, sizeof msg, "the database schema is at migration %s; this build needs %s: run tally-migrate",
                 *have ? have : "(none)", TLY_SCHEMA_NEEDED);
        set_error(err, true, NULL, msg);
        err->schema_behind = true;
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/* A connection attempt slower than this failed by timing out, not by being refused. */
#define SLOW_CONNECT_SECONDS 1.0

int tly_db_ensure(tly_db *db, tly_db_error *err)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) return 0;
    drop_connection(db);
    double started = tly_metrics_clock();
    /* The conninfo is expanded over these defaults, so a connect_timeout (or options) in it
     * still wins. */
    tly_buf options = {0};
    tly_buf_append_str(&options, db->options ? db->options : "");
    if (db->statement_timeout) tly_buf_printf(&options, " -c statement_timeout=%ds", db->statement_timeout);
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *values[] = {TEXT(CONNECT_TIMEOUT_SECONDS), db->application_name, tly_buf_cstr(&options),
                            db->conninfo, NULL};
    db->conn = PQconnectdbParams(keys, values, 1);
    tly_buf_free(&options);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        set_error(err, true, NULL, PQerrorMessage(db->conn));
        tly_log_warn("database unreachable: %s", err->message);
        tly_metrics_inc(TLY_METRIC_DB_ERRORS);
        drop_connection(db);
        if (tly_metrics_clock() - started >= SLOW_CONNECT_SECONDS) rest_from_database(db);
        return -1;
    }
    if (check_schema(db, err) != 0) {
        if (err->schema_behind) {
            tly_log_error("%s", err->message);
            tly_metrics_inc(TLY_METRIC_DB_ERRORS);
        }
        drop_connection(db);
        return -1;
    }
    if (db->connected_before) tly_metrics_inc(TLY_METRIC_DB_RECONNECTS);
    db->connected_before = true;
    return 0;
}

PGconn *tly_db_conn(tly_db *db)
{
    return db->conn;
}

static bool is_prepared(const tly_db *db, const tly_db_stmt *stmt)
{
    for (int i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == stmt) return true;
    return false;
}

void tly_db_result_error(tly_db *db, const PGresult *res, tly_db_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool broken = PQstatus(db->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
                  (state && strcmp(state, "57P01") == 0);   /* admin shutdown */
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
    set_error(err, broken, state, msg && *msg ? msg : "unexpected result status");
    err->canceled = state && strcmp(state, "57014") == 0;
    tly_metrics_inc(TLY_METRIC_DB_ERRORS);
    if (broken) drop_connection(db);
}

bool tly_db_error_transient(const tly_db_error *err)
{
    return err->unreachable || err->canceled;
}

const char *tly_db_error_summary(const tly_db_error *err)
{
    if (err->canceled) return "the database stopped a query that took longer than allowed";
    if (err->timed_out) return "the database did not answer in time";
    if (err->unreachable) return "database unreachable";
    return "database error";
}

/* --- statements ------------------------------------------------------------------------------ */

static int prepare(tly_db *db, const tly_db_stmt *stmt, tly_db_error *err)
{
    if (is_prepared(db, stmt)) return 0;
    bool timed_out = false;
    PGresult *res = answer_of(db, PQsendPrepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL), err, &timed_out);
    if (timed_out) return -1;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        tly_db_result_error(db, res, err);
        tly_log_error("preparing %s failed: %s", stmt->name, err->message);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (db->nprepared < DB_MAX_PREPARED) db->prepared[db->nprepared++] = stmt;
    return 0;
}

/* Whether a failed statement is sent once more, on a new connection: only when the old connection
 * had broken while idle between requests (typically: the server restarted since), so the statement
 * could not have run. Inside a transaction the caller decides, since what came before is lost. */
static bool resend(bool was_idle, const tly_db_error *err, int attempt)
{
    return attempt == 0 && was_idle && err->unreachable && !err->timed_out;
}

static bool idle(const tly_db *db)
{
    return db->conn && PQtransactionStatus(db->conn) == PQTRANS_IDLE;
}

static PGresult *exec_bin_here(tly_db *db, const tly_db_stmt *stmt, const char *const *params,
                               const int *lengths, const int *formats, ExecStatusType expect,
                               tly_db_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (tly_db_ensure(db, err) != 0) return NULL;
        bool was_idle = idle(db);
        if (prepare(db, stmt, err) != 0) {
            if (resend(was_idle, err, attempt)) continue;
            return NULL;
        }
        bool timed_out = false;
        PGresult *res = answer_of(
            db, PQsendQueryPrepared(db->conn, stmt->name, stmt->nparams, params, lengths, formats, 0), err, &timed_out);
        if (timed_out) return NULL;
        if (PQresultStatus(res) == expect) return res;
        tly_db_result_error(db, res, err);
        PQclear(res);
        if (!resend(was_idle, err, attempt)) return NULL;
    }
}

static PGresult *query_here(tly_db *db, const char *sql, const char *const *params, int nparams,
                            ExecStatusType expect, tly_db_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (tly_db_ensure(db, err) != 0) return NULL;
        bool was_idle = idle(db);
        bool timed_out = false;
        PGresult *res =
            answer_of(db, PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0), err, &timed_out);
        if (timed_out) return NULL;
        if (PQresultStatus(res) == expect) return res;
        tly_db_result_error(db, res, err);
        PQclear(res);
        if (!resend(was_idle, err, attempt)) return NULL;
    }
}

static int command_here(tly_db *db, const char *sql, tly_db_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (tly_db_ensure(db, err) != 0) return -1;
        bool was_idle = idle(db);
        bool timed_out = false;
        PGresult *res = answer_of(db, PQsendQuery(db->conn, sql), err, &timed_out);
        if (timed_out) return -1;
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) tly_db_result_error(db, res, err);
        PQclear(res);
        if (ok) return 0;
        if (!resend(was_idle, err, attempt)) return -1;
    }
}

/* --- statements run by the runner ------------------------------------------------------------ */

void tly_db_set_runner(tly_db *db, tly_db_runner *runner, void *ctx)
{
    db->runner = runner;
    db->runner_ctx = ctx;
}

/* One call of the functions below, handed to the runner: its arguments and its outcome. */
typedef struct db_call {
    tly_db *db;
    const tly_db_stmt *stmt;
    const char *sql;
    const char *const *params;
    const int *lengths, *formats;
    int nparams;
    ExecStatusType expect;
    tly_db_error *err;
    PGresult *res;
    int rc;
} db_call;

static void run_exec_bin(void *arg)
{
    db_call *c = arg;
    c->res = exec_bin_here(c->db, c->stmt, c->params, c->lengths, c->formats, c->expect, c->err);
}

static void run_query(void *arg)
{
    db_call *c = arg;
    c->res = query_here(c->db, c->sql, c->params, c->nparams, c->expect, c->err);
}

static void run_command(void *arg)
{
    db_call *c = arg;
    c->rc = command_here(c->db, c->sql, c->err);
}

PGresult *tly_db_exec_bin(tly_db *db, const tly_db_stmt *stmt, const char *const *params,
                          const int *lengths, const int *formats, ExecStatusType expect,
                          tly_db_error *err)
{
    if (tly_db_admit(db, err) != 0) return NULL;
    if (!db->runner) return exec_bin_here(db, stmt, params, lengths, formats, expect, err);
    db_call c = {.db = db, .stmt = stmt, .params = params, .lengths = lengths, .formats = formats,
                 .expect = expect, .err = err};
    db->runner(db->runner_ctx, run_exec_bin, &c);
    return c.res;
}

PGresult *tly_db_exec(tly_db *db, const tly_db_stmt *stmt, const char *const *params,
                      ExecStatusType expect, tly_db_error *err)
{
    return tly_db_exec_bin(db, stmt, params, NULL, NULL, expect, err);
}

PGresult *tly_db_query(tly_db *db, const char *sql, const char *const *params, int nparams,
                       ExecStatusType expect, tly_db_error *err)
{
    if (tly_db_admit(db, err) != 0) return NULL;
    if (!db->runner) return query_here(db, sql, params, nparams, expect, err);
    db_call c = {.db = db, .sql = sql, .params = params, .nparams = nparams, .expect = expect, .err = err};
    db->runner(db->runner_ctx, run_query, &c);
    return c.res;
}

int tly_db_command(tly_db *db, const char *sql, tly_db_error *err)
{
    if (tly_db_admit(db, err) != 0) return -1;
    if (!db->runner) return command_here(db, sql, err);
    db_call c = {.db = db, .sql = sql, .err = err};
    db->runner(db->runner_ctx, run_command, &c);
    return c.rc;
}
