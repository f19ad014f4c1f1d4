/* ClickHouse through its HTTP interface (libcurl): one statement per request, the statement in
 * the body (or, for an INSERT with data, in the URL and the data in the body). The connections
 * are pooled for the whole process and shared by its threads.
 *
 * ClickHouse 18.16 (Debian 12) has no query parameters, so values go into statements as string
 * literals written by tly_ch_quote, which escapes every character that could end one; numbers
 * are formatted by the program. Nothing else from a request is ever written into SQL. */
#ifndef TLY_CLICKHOUSE_H
#define TLY_CLICKHOUSE_H
#include "first.h"
#include "buf.h"
#include "db.h"

#include <stddef.h>

/* Prepares the client for url (ClickHouse's HTTP interface, e.g. http://127.0.0.1:8123/, maybe
 * with ?user=...&password=...). ClickHouse stops an insert that a shard has not taken within
 * insert_seconds, and a query still running after query_seconds (err->canceled,
 * err->unreachable); the client gives up 2 s later on a server that does not answer
 * (err->unreachable). 0: no limit, and the client waits 120 s. Once per process, before threads
 * start. 0 ok; -1 with err. */
int tly_ch_setup(const char *url, int insert_seconds, int query_seconds, char *err, size_t errlen)
    TLY_NONNULL(1, 4) TLY_MUST_CHECK;

/* Runs one statement. With data (len bytes; e.g. JSONEachRow lines) the statement is an INSERT
 * and the data its rows. The answer's body goes to out (appended). 0 ok; -1 with err filled:
 * unreachable when ClickHouse (or one of its shards) could not be reached, so that the caller may
 * spool or answer 503. */
int tly_ch_run(const char *sql, const char *data, size_t len, tly_buf *out, tly_db_error *err)
    TLY_NONNULL(1, 4, 5) TLY_MUST_CHECK;

/* Runs one statement (no data) on the node at url, e.g. one shard's for an ALTER of its local
 * table. Same contract as tly_ch_run. */
int tly_ch_run_on(const char *url, const char *sql, tly_buf *out, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;

/* Appends s as a ClickHouse string literal: in single quotes, with backslash, quote and control
 * characters escaped. */
void tly_ch_quote(tly_buf *b, const char *s) TLY_NONNULL(1, 2);

/* Fills err from an error answer of ClickHouse ("Code: 60, e.displayText() = DB::Exception: ...").
 * Codes that mean a server or shard could not be reached set err->unreachable. */
void tly_ch_error_from_answer(const char *body, long http_status, tly_db_error *err) TLY_NONNULL(1, 3);

#endif
