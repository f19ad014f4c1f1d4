#include "first.h"
#include "admin_request.h"
#include "envelope.h"
#include "log.h"
#include "mem.h"
#include "strict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- answers ------------------------------------------------------------------------------- */

void tly_admin_fail(tly_admin_ctx *c, int status, const char *fmt, ...)
{
    tly_buf msg = {0};
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    tly_resp_error(c->resp, status, "%s", tly_buf_cstr(&msg));
    tly_buf_free(&msg);
}

void tly_admin_db_fail(tly_admin_ctx *c, const tly_db_error *err)
{
    if (tly_db_error_transient(err)) {
        tly_resp_header(c->resp, "Retry-After", "5");
        tly_admin_fail(c, 503, "%s; retry later", tly_db_error_summary(err));
    } else {
        tly_log_error("admin query failed: %s (sqlstate %s)", err->message, err->sqlstate);
        tly_admin_fail(c, 500, "database error");
    }
}

void tly_admin_reply(tly_admin_ctx *c, int status, json_t *body)
{
    tly_resp_json(c->resp, status, body);
}

void tly_admin_no_content(tly_admin_ctx *c)
{
    tly_resp_reset(c->resp);
    c->resp->status = 204;
}

/* --- database ------------------------------------------------------------------------------ */

PGresult *tly_admin_sql(tly_admin_ctx *c, const char *sql, const char *const *params, int n,
                        ExecStatusType expect)
{
    tly_db_error err = {0};
    PGresult *res = tly_db_query(c->db, sql, params, n, expect, &err);
    if (!res) tly_admin_db_fail(c, &err);
    return res;
}

int tly_admin_sql_json(tly_admin_ctx *c, const char *sql, const char *const *params, int n, json_t **out)
{
    *out = NULL;
    PGresult *res = tly_admin_sql(c, sql, params, n, PGRES_TUPLES_OK);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found && PQgetisnull(res, 0, 0)) {
        *out = json_null();
    } else if (found) {
        json_error_t jerr;
        *out = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, &jerr);
        if (!*out) {
            tly_log_error("admin query returned bad JSON: %s", jerr.text);
            tly_admin_fail(c, 500, "database error");
            found = -1;
        }
    }
    PQclear(res);
    return found;
}

json_t *tly_admin_json_cell(const PGresult *res, int row, int col)
{
    json_t *v = PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

bool tly_admin_db_conflict(const tly_db_error *err)
{
    return strcmp(err->sqlstate, "23505") == 0;
}

int tly_admin_begin(tly_admin_ctx *c)
{
    tly_db_error err = {0};
    if (tly_db_command(c->db, "BEGIN", &err) != 0) {
        tly_admin_db_fail(c, &err);
        return -1;
    }
    c->in_tx = true;
    return 0;
}

/* --- the JSON body ------------------------------------------------------------------------- */

static bool is_json_type(const char *type)
{
    static const char json[] = "application/json";
    if (!type || strncasecmp(type, json, sizeof json - 1) != 0) return false;
    char next = type[sizeof json - 1];
    return next == '\0' || next == ';' || next == ' ';
}

int tly_admin_read_body(tly_admin_ctx *c)
{
    const char *length = tly_req_param(c->req, "CONTENT_LENGTH");
    if (!length || !*length || strcmp(length, "0") == 0) {
        tly_admin_fail(c, 400, "body: a JSON object is required");
        return -1;
    }
    if (!is_json_type(tly_req_param(c->req, "CONTENT_TYPE"))) {
        tly_admin_fail(c, 415, "Content-Type: must be application/json");
        return -1;
    }
    tly_body_error berr;
    if (tly_req_read_body(c->req, TLY_ADMIN_MAX_BODY_BYTES, &berr) != 0) {
        tly_admin_fail(c, berr.status, "body: %s", berr.message);
        return -1;
    }
    char why[160];
    if (tly_json_body_check(tly_buf_cstr(&c->req->body), c->req->body.len, why, sizeof why) != 0) {
        tly_admin_fail(c, 400, "body: %s", why);
        return -1;
    }
    json_error_t jerr;
    json_t *body = json_loadb(c->req->body.ptr, c->req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        if (body) tly_admin_fail(c, 400, "body: expected a JSON object");
        else tly_admin_fail(c, 400, "body: not JSON (%s at position %d)", jerr.text, jerr.position);
        json_decref(body);
        return -1;
    }
    c->body = body;
    return 0;
}

/* The member, or NULL when absent or null. */
static json_t *member(const tly_admin_ctx *c, const char *name)
{
    json_t *v = c->body ? json_object_get(c->body, name) : NULL;
    return json_is_null(v) ? NULL : v;
}

int tly_admin_field_string(tly_admin_ctx *c, const char *name, bool required, tly_admin_check_fn check,
                           const char **out)
{
    json_t *v = member(c, name);
    if (!v) {
        if (!required) return 0;
        tly_admin_fail(c, 400, "%s: required", name);
        return -1;
    }
    if (!json_is_string(v)) {
        tly_admin_fail(c, 400, "%s: must be a string", name);
        return -1;
    }
    const char *problem = check ? check(json_string_value(v), json_string_length(v)) : NULL;
    if (problem) {
        tly_admin_fail(c, 400, "%s: %s", name, problem);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

int tly_admin_field_string_or_null(tly_admin_ctx *c, const char *name, tly_admin_check_fn check, const char **out)
{
    json_t *v = c->body ? json_object_get(c->body, name) : NULL;
    if (json_is_null(v)) {
        *out = NULL;
        return 1;
    }
    return tly_admin_field_string(c, name, false, check, out);
}

int tly_admin_field_bool(tly_admin_ctx *c, const char *name, bool *out)
{
    json_t *v = member(c, name);
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        tly_admin_fail(c, 400, "%s: must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

int tly_admin_field_int(tly_admin_ctx *c, const char *name, long long lo, long long hi, long long *out)
{
    json_t *v = member(c, name);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        tly_admin_fail(c, 400, "%s: must be an integer from %lld to %lld", name, lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

int tly_admin_field_list(tly_admin_ctx *c, const char *name, tly_admin_check_fn check, bool lowercase,
                         json_t **out)
{
    json_t *v = member(c, name);
    if (!v) return 0;
    if (!json_is_array(v) || json_array_size(v) > TLY_ADMIN_MAX_LIST_ITEMS) {
        tly_admin_fail(c, 400, "%s: must be an array of at most %d strings", name, TLY_ADMIN_MAX_LIST_ITEMS);
        return -1;
    }
    json_t *list = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        const char *problem = json_is_string(item) ? check(json_string_value(item), json_string_length(item))
                                                   : "must be a string";
        if (problem) {
            tly_admin_fail(c, 400, "%s[%zu]: %s", name, i, problem);
            json_decref(list);
            return -1;
        }
        char *s = tly_xstrdup(json_string_value(item));
        if (lowercase)
            for (char *p = s; *p; p++)
                if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        if (!list_has(list, s)) json_array_append_new(list, json_string(s));
        free(s);
    }
    *out = list;
    return 1;
}

/* --- the request --------------------------------------------------------------------------- */

long long tly_admin_seg_id(tly_admin_ctx *c, size_t i, const char *what)
{
    long long id;
    const char *s = i < c->n_seg ? c->seg[i] : "";
    if (tly_strict_int(s, strlen(s), 1, (1LL << 53), &id) != 0 || s[0] == '-') {
        tly_admin_fail(c, 404, "no such %s: %.40s", what, s);
        return -1;
    }
    return id;
}

int tly_admin_query_int(tly_admin_ctx *c, const char *name, long long lo, long long hi, long long dflt,
                        long long *out)
{
    tly_buf v = {0};
    int rc = 0;
    *out = dflt;
    if (tly_req_query_param(c->req, name, &v) == 1 &&
        tly_strict_int(tly_buf_cstr(&v), v.len, lo, hi, out) != 0) {
        tly_admin_fail(c, 400, "%s: must be an integer from %lld to %lld", name, lo, hi);
        rc = -1;
    }
    tly_buf_free(&v);
    return rc;
}

bool tly_admin_https(const tly_admin_ctx *c)
{
    const char *https = tly_req_param(c->req, "HTTPS");
    return https && strcasecmp(https, "on") == 0;
}

void tly_admin_client_ip(const tly_admin_ctx *c, char out[TLY_IP_TEXT_LEN])
{
    const char *remote = tly_req_param(c->req, "REMOTE_ADDR");
    if (tly_clientip_resolve(remote ? remote : "", tly_req_param(c->req, "HTTP_X_FORWARDED_FOR"),
                             c->trusted_proxies, out) != 0)
        snprintf(out, TLY_IP_TEXT_LEN, "unknown");
}

void tly_admin_origin(const tly_admin_ctx *c, tly_buf *out)
{
    const char *host = tly_req_param(c->req, "HTTP_HOST");
    /* The Host header is the client's text: only host[:port] characters make it into a link. */
    bool usable = host && *host && strlen(host) <= 260;
    for (const char *p = host; usable && *p; p++)
        usable = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr(".-:[]", *p);
    if (!usable) host = tly_req_param(c->req, "SERVER_NAME");
    tly_buf_printf(out, "%s://%s", tly_admin_https(c) ? "https" : "http", host ? host : "localhost");
}

void tly_admin_id_text(long long id, char out[24])
{
    snprintf(out, 24, "%lld", id);
}
