/* PostgreSQL access: one connection per process, kept across requests, prepared statements
 * prepared lazily per connection, and reconnection by itself after the server went away: a
 * statement that finds the connection broken while idle (the server restarted since the last
 * request) is sent once more on a new one; inside a transaction, the failure goes to the caller.
 * Every value travels as an out-of-line parameter; SQL is never built from input. */
#ifndef TLY_DB_H
#define TLY_DB_H
#include "first.h"
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct tly_db tly_db;

/* The newest migration of sql/migrations this code relies on (its number). Raise it with every
 * migration: tests/e2e/test_operations.py applies all but the newest and expects the programs
 * to refuse the database. */
#define TLY_SCHEMA_NEEDED "022"

/* A statement known at compile time. Keep them in static storage: the pointer is its identity. */
typedef struct tly_db_stmt {
    const char *name;
    const char *sql;
    int nparams;
} tly_db_stmt;

typedef struct tly_db_error {
    bool unreachable;    /* the server could not be reached or the connection broke */
    bool schema_behind;  /* (with unreachable) the database lacks migrations this build relies on */
    bool timed_out;      /* (with unreachable) no answer came within the answer timeout */
    bool canceled;       /* the server canceled the statement (sqlstate 57014): it ran past its
                          * statement_timeout (tly_db_set_statement_timeout), or was canceled by
                          * hand; or ClickHouse stopped it at its timeout (clickhouse.h) */
    char sqlstate[6];    /* "" when not from the server */
    char message[256];
} tly_db_error;

/* Creates the handle; connects on first use. application_name shows in pg_stat_activity. */
tly_db *tly_db_new(const char *conninfo, const char *application_name) TLY_NONNULL(1, 2);
void tly_db_free(tly_db *db);
/* Server settings for every connection from now on, as libpq's options ("-c jit=off -c ...");
 * an options keyword in the conninfo replaces them. Drops the current connection. */
void tly_db_set_options(tly_db *db, const char *options) TLY_NONNULL(1, 2);
/* Connects (or reconnects) when needed. 0 connected, -1 unreachable (err filled). A database
 * whose schema lacks the newest migration this build relies on (TLY_SCHEMA_NEEDED) counts as
 * unreachable, with err->schema_behind and a message that says to run tally-migrate: ingest then
 * spools, as while the database is down, until it has run. */
int tly_db_ensure(tly_db *db, tly_db_error *err) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Runs a prepared statement with text parameters (NULL entries are SQL NULL). Returns the
 * result when its status is `expect` (PGRES_TUPLES_OK or PGRES_COMMAND_OK); otherwise NULL with
 * err filled. The caller PQclears the result. */
PGresult *tly_db_exec(tly_db *db, const tly_db_stmt *stmt, const char *const *params,
                      ExecStatusType expect, tly_db_error *err) TLY_NONNULL(1, 2, 5)
    TLY_MUST_CHECK;
/* Same with explicit lengths and formats (binary parameters such as bytea). */
PGresult *tly_db_exec_bin(tly_db *db, const tly_db_stmt *stmt, const char *const *params,
                          const int *lengths, const int *formats, ExecStatusType expect,
                          tly_db_error *err) TLY_NONNULL(1, 2, 7) TLY_MUST_CHECK;
/* Runs a statement built at run time (its values as text parameters, never in the SQL),
 * planned for these values. Same result contract as tly_db_exec. */
PGresult *tly_db_query(tly_db *db, const char *sql, const char *const *params, int nparams,
                       ExecStatusType expect, tly_db_error *err) TLY_NONNULL(1, 2, 6) TLY_MUST_CHECK;
/* Runs one plain SQL command without parameters (BEGIN, COMMIT, ...). 0 ok, -1 err. */
int tly_db_command(tly_db *db, const char *sql, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;
/* The connection, for modules that need libpq directly (COPY); NULL when not connected. */
PGconn *tly_db_conn(tly_db *db) TLY_NONNULL(1);
/* Where the statements of tly_db_exec, tly_db_exec_bin, tly_db_query and tly_db_command run:
 * runner(ctx, call, arg) must run call(arg) and return once it has returned, on any thread, one
 * call at a time (offload.h: off an event loop's thread). NULL (the default): on the caller's.
 * Other uses of the handle (tly_db_ensure, tly_db_conn) stay on the caller's thread: a handle
 * with a runner is for those four alone. */
typedef void tly_db_runner(void *ctx, void (*call)(void *arg), void *arg);
void tly_db_set_runner(tly_db *db, tly_db_runner *runner, void *ctx) TLY_NONNULL(1);
/* How long a statement (tly_db_exec, tly_db_exec_bin, tly_db_query, tly_db_command, and ingest's
 * commit in store_postgresql_append.c) waits for the server to take it and answer. A server that
 * stops answering (a disk that hangs, a migration that holds a table locked, a stopped process)
 * would otherwise hold the caller until it answered, while ingest can go on from its caches and
 * spool. Past it the statement fails as unreachable, with err->timed_out, and the connection is
 * dropped. The handle then rests (so does it after a connection attempt that timed out): its
 * statements fail at once, so that callers do not each wait that long, for the answer timeout,
 * then twice as long each time the database stays silent, up to 30 s. 0 (the default): wait as
 * long as it takes. */
void tly_db_set_answer_timeout(tly_db *db, int seconds) TLY_NONNULL(1);
/* The answer timeout in seconds; 0: none. */
int tly_db_answer_timeout(const tly_db *db) TLY_NONNULL(1);
/* For programs that answer one request at a time (report.fcgi, admin.fcgi): the server cancels
 * a statement still running after `seconds` (its statement_timeout: the statement fails with
 * err->canceled, and the connection stays), and the handle waits for answers a few seconds
 * longer than that (the answer timeout above), so that only a server that does not answer at
 * all counts as unreachable and makes the handle rest. Statements whose time grows with the data
 * lift both: SET statement_timeout = 0, and an answer timeout of 0 while they run. 0: neither.
 * Drops the current connection. */
void tly_db_set_statement_timeout(tly_db *db, int seconds) TLY_NONNULL(1);
/* Whether a statement may be sent now: 0 yes; -1, err filled (unreachable, timed_out), while the
 * handle rests. The statement sent first once a rest is over asks for all: the others fail at once
 * for as long as it may take. tly_db_exec and the others check it; direct users of the
 * connection (tly_db_conn) call it before tly_db_ensure. Any thread. */
int tly_db_admit(tly_db *db, tly_db_error *err) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* The moment (tly_metrics_clock) by which what is sent now is to be answered; 0: none. */
double tly_db_deadline(const tly_db *db) TLY_NONNULL(1);
/* For a connection in non-blocking mode: waits until libpq has sent all it holds (wait_for
 * TLY_DB_SENT), or until a result can also be read without blocking (TLY_DB_ANSWERED), or until
 * the deadline (0: none). 0 ready, or the connection failed (the next libpq call reports it);
 * -1 when the deadline passed first: err says so (unreachable, timed_out) and the connection is
 * dropped, so that nothing more of its transaction can be committed from this side. */
typedef enum { TLY_DB_SENT, TLY_DB_ANSWERED } tly_db_wait_for;
int tly_db_wait(tly_db *db, tly_db_wait_for what, double deadline, tly_db_error *err) TLY_NONNULL(1, 4)
    TLY_MUST_CHECK;
/* Whether a failure may pass if the request is sent again later (the server unreachable, silent,
 * or stopping a statement that ran too long): the programs answer it 503 with Retry-After. */
bool tly_db_error_transient(const tly_db_error *err) TLY_NONNULL(1);
/* What a client is told of a failure: which of those, or "database error"; never the server's
 * own message, which may show SQL. */
const char *tly_db_error_summary(const tly_db_error *err) TLY_NONNULL(1);
/* Fills err from a failed result of such direct use (NULL: the connection's own error), as every
 * statement's failure is filled: counted, classified, and a broken connection dropped so that the
 * next call reconnects (tly_db_conn is then NULL). */
void tly_db_result_error(tly_db *db, const PGresult *res, tly_db_error *err) TLY_NONNULL(1, 3);

#endif
