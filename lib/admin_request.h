/* One request to the admin API as its handlers see it: who asks (the signed-in user), which
 * property it is about and the user's role there, its JSON body, and the helpers every handler
 * answers through (errors always JSON {"error": "<field>: <problem>"}). */
#ifndef TLY_ADMIN_REQUEST_H
#define TLY_ADMIN_REQUEST_H
#include "first.h"
#include "admin_session.h"
#include "admin_token.h"
#include "admin_validate.h"
#include "buf.h"
#include "clientip.h"
#include "db.h"
#include "io.h"
#include "limits.h"
#include "resp.h"
#include <jansson.h>
#include <stdbool.h>

#define TLY_ADMIN_MAX_SEGMENTS 6
#define TLY_ADMIN_MAX_SEGMENT_LEN 128

typedef struct tly_admin_ctx {
    tly_db *db;
    tly_req *req;
    tly_resp *resp;
    const tly_cidr_list *trusted_proxies;
    /* The path below /admin/api/, split at '/' ("properties", "prop_x", "keys"). */
    char seg[TLY_ADMIN_MAX_SEGMENTS][TLY_ADMIN_MAX_SEGMENT_LEN + 1];
    size_t n_seg;
    /* Set when the request carries a live session cookie. */
    bool signed_in;
    tly_admin_user user;
    char session_token[TLY_ADMIN_TOKEN_SIZE];
    /* For /properties/{id}/... routes: the property and the user's role on it. */
    int prop_pk;
    char prop_id[TLY_MAX_PROPERTY_ID_LEN + 1];
    tly_admin_role role;
    json_t *body;             /* the JSON object body, once tly_admin_read_body succeeded */
    bool in_tx;               /* a transaction is open: committed if the answer is a success */
    bool streamed;            /* the handler wrote the response itself (exports) */
} tly_admin_ctx;

/* --- answers --- */
/* Answers {"error": ...} with status (printf format). */
void tly_admin_fail(tly_admin_ctx *c, int status, const char *fmt, ...) TLY_NONNULL(1, 3) TLY_PRINTF(3, 4);
/* Answers a database failure: 503 + Retry-After when unreachable, else 500 (logged). */
void tly_admin_db_fail(tly_admin_ctx *c, const tly_db_error *err) TLY_NONNULL(1, 2);
/* Answers body (stolen) with status. */
void tly_admin_reply(tly_admin_ctx *c, int status, json_t *body) TLY_NONNULL(1);
void tly_admin_no_content(tly_admin_ctx *c) TLY_NONNULL(1);

/* --- database --- */
/* Runs sql (values only as parameters). NULL after answering the failure. */
PGresult *tly_admin_sql(tly_admin_ctx *c, const char *sql, const char *const *params, int n,
                        ExecStatusType expect) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Runs a query whose first column is JSON text; *out is row 0's value parsed (a new reference).
 * 1 a row, 0 no row (*out NULL), -1 answered. */
int tly_admin_sql_json(tly_admin_ctx *c, const char *sql, const char *const *params, int n,
                       json_t **out) TLY_NONNULL(1, 2, 5) TLY_MUST_CHECK;
/* The JSON text in a result cell, parsed (a new reference; json null for SQL NULL or bad JSON). */
json_t *tly_admin_json_cell(const PGresult *res, int row, int col) TLY_NONNULL(1);
/* True when err is a violation of a unique constraint (answer 409). */
bool tly_admin_db_conflict(const tly_db_error *err) TLY_NONNULL(1);
/* Opens the request's transaction (see in_tx). 0 ok, -1 answered. */
int tly_admin_begin(tly_admin_ctx *c) TLY_NONNULL(1) TLY_MUST_CHECK;

/* --- the JSON body --- */
/* Reads the body: Content-Type application/json (else 415), at most TLY_ADMIN_MAX_BODY_BYTES
 * (else 413), a JSON object (else 400). 0 ok, -1 answered. */
int tly_admin_read_body(tly_admin_ctx *c) TLY_NONNULL(1) TLY_MUST_CHECK;
/* Each reads member `name` of the body (null counts as absent): 1 present (*out set), 0 absent
 * (400 instead when required), -1 answered 400 naming the field. */
int tly_admin_field_string(tly_admin_ctx *c, const char *name, bool required, tly_admin_check_fn check,
                           const char **out) TLY_NONNULL(1, 2, 5) TLY_MUST_CHECK;
/* Like tly_admin_field_string, for a value that null removes (write-only secrets): 1 present with
 * *out the string, or NULL when the member is null; 0 absent; -1 answered 400 naming the field. */
int tly_admin_field_string_or_null(tly_admin_ctx *c, const char *name, tly_admin_check_fn check, const char **out)
    TLY_NONNULL(1, 2, 4) TLY_MUST_CHECK;
int tly_admin_field_bool(tly_admin_ctx *c, const char *name, bool *out) TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
int tly_admin_field_int(tly_admin_ctx *c, const char *name, long long lo, long long hi, long long *out)
    TLY_NONNULL(1, 2, 5) TLY_MUST_CHECK;
/* An array of at most TLY_ADMIN_MAX_LIST_ITEMS strings, each passing check; lowercased when
 * asked, duplicates dropped. *out is a new array. */
int tly_admin_field_list(tly_admin_ctx *c, const char *name, tly_admin_check_fn check, bool lowercase,
                         json_t **out) TLY_NONNULL(1, 2, 3, 5) TLY_MUST_CHECK;

/* --- the request --- */
/* Path segment i as a positive integer id; -1 after answering 404 naming what. */
long long tly_admin_seg_id(tly_admin_ctx *c, size_t i, const char *what) TLY_NONNULL(1, 3);
/* A query parameter as an integer in [lo, hi], or dflt when absent. 0 ok, -1 answered 400. */
int tly_admin_query_int(tly_admin_ctx *c, const char *name, long long lo, long long hi, long long dflt,
                        long long *out) TLY_NONNULL(1, 2, 6) TLY_MUST_CHECK;
/* True when the request came over HTTPS (the server's HTTPS=on). */
bool tly_admin_https(const tly_admin_ctx *c) TLY_NONNULL(1);
/* The client address (REMOTE_ADDR, or X-Forwarded-For behind trusted proxies); memory only. */
void tly_admin_client_ip(const tly_admin_ctx *c, char out[TLY_IP_TEXT_LEN]) TLY_NONNULL(1, 2);
/* Appends "scheme://host" of this request (for links handed out: invitations, share links). */
void tly_admin_origin(const tly_admin_ctx *c, tly_buf *out) TLY_NONNULL(1, 2);
/* "1234" for an id (for SQL parameters). */
void tly_admin_id_text(long long id, char out[24]) TLY_NONNULL(2);

#endif
