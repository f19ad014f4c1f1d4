#include "first.h"
#include "admin_properties.h"
#include "admin_audit.h"
#include "admin_users.h"
#include "events_store.h"
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property as the API shows it; `p` is the property row, `m` the user's membership. Secrets
 * (token_secret, stripe_webhook_secret) never leave the database: only whether the webhook has
 * one (its url is added by add_webhook_url, from the request's host). */
#define PROPERTY_JSON                                                                               \
    "json_build_object('id', p.id, 'name', p.name, 'domains', to_json(p.domains), "                \
    "  'allowed_origins', to_json(p.allowed_origins), 'timezone', p.timezone, "                    \
    "  'retention_days', p.retention_days, 'session_timeout', p.session_timeout, "                 \
    "  'drop_gpc', p.drop_gpc, 'excluded_paths', to_json(p.excluded_paths), "                      \
    "  'excluded_addresses', to_json(p.excluded_addresses), "                                      \
    "  'event_quota_daily', p.event_quota_daily, 'require_token', p.require_token, "               \
    "  'stripe_webhook', json_build_object('configured', p.stripe_webhook_secret IS NOT NULL), "   \
    "  'created_at', tally_time_text(p.created_at), 'role', m.role)"

/* The settings a request may set, each a column of properties of the same name. A secret is
 * write-only: a string sets it, null removes it, and neither answers nor the audit show it. */
typedef enum { SETTING_TEXT, SETTING_INT, SETTING_BOOL, SETTING_LIST, SETTING_SECRET } setting_type;

static const struct setting {
    const char *name;
    setting_type type;
    long long lo, hi;              /* SETTING_INT */
    tly_admin_check_fn check;      /* SETTING_TEXT, SETTING_LIST */
    bool lowercase;                /* SETTING_LIST */
} settings[] = {
    {"name", SETTING_TEXT, 0, 0, tly_admin_check_name, false},
    {"domains", SETTING_LIST, 0, 0, tly_admin_check_domain, true},
    {"allowed_origins", SETTING_LIST, 0, 0, tly_admin_check_origin, true},
    {"timezone", SETTING_TEXT, 0, 0, tly_admin_check_timezone, false},
    {"retention_days", SETTING_INT, 0, TLY_ADMIN_MAX_RETENTION_DAYS, NULL, false},
    {"session_timeout", SETTING_INT, 60, 86400, NULL, false},
    {"drop_gpc", SETTING_BOOL, 0, 0, NULL, false},
    {"excluded_paths", SETTING_LIST, 0, 0, tly_admin_check_excluded_path, false},
    {"excluded_addresses", SETTING_LIST, 0, 0, tly_admin_check_excluded_address, true},
    {"event_quota_daily", SETTING_INT, 0, TLY_ADMIN_MAX_EVENT_QUOTA, NULL, false},
    {"require_token", SETTING_BOOL, 0, 0, NULL, false},
    {"stripe_webhook_secret", SETTING_SECRET, 0, 0, tly_admin_check_stripe_secret, false},
};
#define N_SETTINGS TLY_ARRAY_LEN(settings)

/* The settings found in the body: parameter texts (owned) and what changed, for the audit. */
typedef struct setting_values {
    bool given[N_SETTINGS];        /* in the body */
    char *text[N_SETTINGS];        /* its value as a parameter; NULL for SQL NULL (a secret removed) */
    size_t count;
    json_t *changed;               /* {"name": "New name", ...} */
} setting_values;

static void setting_values_free(setting_values *v)
{
    for (size_t i = 0; i < N_SETTINGS; i++) free(v->text[i]);
    json_decref(v->changed);
    memset(v, 0, sizeof *v);
}

/* The SQL expression of setting i from parameter $n. */
static void setting_expr(tly_buf *sql, size_t i, int n)
{
    switch (settings[i].type) {
    case SETTING_TEXT:
    case SETTING_SECRET: tly_buf_printf(sql, "$%d", n); break;
    case SETTING_INT: tly_buf_printf(sql, "$%d::bigint", n); break;
    case SETTING_BOOL: tly_buf_printf(sql, "$%d::boolean", n); break;
    case SETTING_LIST: tly_buf_printf(sql, "ARRAY(SELECT json_array_elements_text($%d::json))", n); break;
    }
}

static int timezone_exists(tly_admin_ctx *c, const char *tz)
{
    const char *params[] = {tz};
    PGresult *res = tly_admin_sql(c, "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", params,
                                  1, PGRES_TUPLES_OK);
    if (!res) return -1;
    int exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists) tly_admin_fail(c, 400, "timezone: unknown time zone '%.64s' (see GET /admin/api/timezones)", tz);
    return exists ? 0 : -1;
}

/* Reads every setting present in the body. 0 ok, -1 answered. */
static int read_settings(tly_admin_ctx *c, setting_values *v)
{
    memset(v, 0, sizeof *v);
    v->changed = json_object();
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *str;
        long long n;
        bool b;
        json_t *list;
        int found = 0;
        switch (s->type) {
        case SETTING_TEXT:
            found = tly_admin_field_string(c, s->name, false, s->check, &str);
            if (found == 1) {
                if (strcmp(s->name, "timezone") == 0 && timezone_exists(c, str) != 0) return -1;
                v->text[i] = tly_xstrdup(str);
                json_object_set_new(v->changed, s->name, json_string(str));
            }
            break;
        case SETTING_INT:
            found = tly_admin_field_int(c, s->name, s->lo, s->hi, &n);
            if (found == 1) {
                v->text[i] = tly_xmalloc(24);
                tly_admin_id_text(n, v->text[i]);
                json_object_set_new(v->changed, s->name, json_integer(n));
            }
            break;
        case SETTING_BOOL:
            found = tly_admin_field_bool(c, s->name, &b);
            if (found == 1) {
                v->text[i] = tly_xstrdup(b ? "true" : "false");
                json_object_set_new(v->changed, s->name, json_boolean(b));
            }
            break;
        case SETTING_LIST:
            found = tly_admin_field_list(c, s->name, s->check, s->lowercase, &list);
            if (found == 1) {
                v->text[i] = json_dumps(list, JSON_COMPACT);
                json_object_set_new(v->changed, s->name, list);
            }
            break;
        case SETTING_SECRET:
            /* The one secret, stripe_webhook_secret: the audit records only whether there is one,
             * as GET shows it. */
            found = tly_admin_field_string_or_null(c, s->name, s->check, &str);
            if (found == 1) {
                v->text[i] = str ? tly_xstrdup(str) : NULL;
                json_object_set_new(v->changed, "stripe_webhook", json_pack("{s:b}", "configured", str != NULL));
            }
            break;
        }
        if (found < 0) return -1;
        if (found == 1) {
            v->given[i] = true;
            v->count++;
        }
    }
    return 0;
}

int tly_admin_property_load(tly_admin_ctx *c, const char *property_id)
{
    char user[24];
    tly_admin_id_text(c->user.id, user);
    const char *params[] = {property_id, user};
    PGresult *res = tly_admin_sql(c,
        "SELECT p.pk, p.id, m.role FROM properties p "
        "JOIN memberships m ON m.property_pk = p.pk AND m.user_id = $2::bigint WHERE p.id = $1",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        c->prop_pk = atoi(PQgetvalue(res, 0, 0));
        snprintf(c->prop_id, sizeof c->prop_id, "%s", PQgetvalue(res, 0, 1));
        c->role = tly_admin_role_parse(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    /* A property the user has no role on is answered like one that does not exist. */
    if (!found) tly_admin_fail(c, 404, "no such property: %.80s", property_id);
    return found ? 0 : -1;
}

/* Completes "stripe_webhook" with the endpoint to give Stripe: this server's
 * /v1/webhooks/stripe/<id>, as the request reached it. */
static void add_webhook_url(const tly_admin_ctx *c, json_t *property)
{
    json_t *webhook = json_object_get(property, "stripe_webhook");
    const char *id = json_string_value(json_object_get(property, "id"));
    if (!json_is_object(webhook) || !id) return;
    tly_buf url = {0};
    tly_admin_origin(c, &url);
    tly_buf_printf(&url, "/v1/webhooks/stripe/%s", id);
    json_object_set_new(webhook, "url", json_string(tly_buf_cstr(&url)));
    tly_buf_free(&url);
}

void tly_admin_properties_list(tly_admin_ctx *c)
{
    char user[24];
    tly_admin_id_text(c->user.id, user);
    const char *params[] = {user};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" PROPERTY_JSON " ORDER BY p.name, p.id), '[]') "
            "FROM properties p JOIN memberships m ON m.property_pk = p.pk AND m.user_id = $1::bigint",
            params, 1, &rows) == 1) {
        size_t i;
        json_t *property;
        json_array_foreach(rows, i, property) add_webhook_url(c, property);
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
    }
}

static void reply_property(tly_admin_ctx *c, int status)
{
    char pk[24], user[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(c->user.id, user);
    const char *params[] = {pk, user};
    json_t *body;
    int found = tly_admin_sql_json(c,
        "SELECT " PROPERTY_JSON " FROM properties p "
        "JOIN memberships m ON m.property_pk = p.pk AND m.user_id = $2::bigint WHERE p.pk = $1::int",
        params, 2, &body);
    if (found == 0) tly_admin_fail(c, 404, "no such property: %s", c->prop_id);
    if (found == 1) {
        add_webhook_url(c, body);
        tly_admin_reply(c, status, body);
    }
}

void tly_admin_property_get(tly_admin_ctx *c)
{
    reply_property(c, 200);
}

/* INSERT of a new property with the settings given (the others take the column defaults) and the
 * creator as its owner. */
static void build_insert(const setting_values *v, tly_buf *sql, const char **params, int *n)
{
    tly_buf columns = {0}, values = {0};
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (!v->given[i]) continue;
        params[*n] = v->text[i];
        (*n)++;
        tly_buf_printf(&columns, ", %s", settings[i].name);
        tly_buf_append_str(&values, ", ");
        setting_expr(&values, i, *n);
    }
    tly_buf_printf(sql,
        "WITH p AS (INSERT INTO properties (id%s) VALUES ($1%s) RETURNING *), "
        "m AS (INSERT INTO memberships (user_id, property_pk, role) "
        "      SELECT $2::bigint, pk, 'owner' FROM p RETURNING role) "
        "SELECT p.pk, " PROPERTY_JSON " FROM p, m",
        tly_buf_cstr(&columns), tly_buf_cstr(&values));
    tly_buf_free(&columns);
    tly_buf_free(&values);
}

void tly_admin_property_create(tly_admin_ctx *c)
{
    int may = tly_admin_may_create_properties(c);
    if (may <= 0) {
        if (may == 0)
            tly_admin_fail(c, 403, "creating a property needs the owner or admin role on some property");
        return;
    }
    setting_values v;
    const char *name;
    if (tly_admin_read_body(c) != 0 || tly_admin_field_string(c, "name", true, tly_admin_check_name, &name) != 1)
        return;
    if (read_settings(c, &v) != 0) {
        setting_values_free(&v);
        return;
    }
    char id[TLY_MAX_PROPERTY_ID_LEN + 1], user[24];
    memcpy(id, "prop_", 5);
    tly_admin_random_id(id + 5, 16);
    tly_admin_id_text(c->user.id, user);
    const char *params[2 + N_SETTINGS] = {id, user};
    int n = 2;
    tly_buf sql = {0};
    build_insert(&v, &sql, params, &n);
    PGresult *res = NULL;
    if (tly_admin_begin(c) == 0) res = tly_admin_sql(c, tly_buf_cstr(&sql), params, n, PGRES_TUPLES_OK);
    tly_buf_free(&sql);
    if (res) {
        c->prop_pk = atoi(PQgetvalue(res, 0, 0));
        snprintf(c->prop_id, sizeof c->prop_id, "%s", id);
        json_t *body = tly_admin_json_cell(res, 0, 1);
        PQclear(res);
        add_webhook_url(c, body);
        if (tly_admin_audit(c, NULL, "property.create", id, json_incref(v.changed)) == 0)
            tly_admin_reply(c, 201, body);
        else
            json_decref(body);
    }
    setting_values_free(&v);
}

void tly_admin_property_update(tly_admin_ctx *c)
{
    setting_values v;
    if (tly_admin_read_body(c) != 0) return;
    if (read_settings(c, &v) != 0) {
        setting_values_free(&v);
        return;
    }
    if (v.count == 0) {
        tly_buf fields = {0};
        for (size_t i = 0; i < N_SETTINGS; i++) tly_buf_printf(&fields, "%s%s", i ? ", " : "", settings[i].name);
        tly_admin_fail(c, 400, "body: nothing to change (fields: %s)", tly_buf_cstr(&fields));
        tly_buf_free(&fields);
        setting_values_free(&v);
        return;
    }
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[1 + N_SETTINGS] = {pk};
    int n = 1;
    tly_buf sql = {0};
    tly_buf_append_str(&sql, "UPDATE properties SET ");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (!v.given[i]) continue;
        params[n++] = v.text[i];
        tly_buf_printf(&sql, "%s%s = ", n > 2 ? ", " : "", settings[i].name);
        setting_expr(&sql, i, n);
    }
    tly_buf_append_str(&sql, " WHERE pk = $1::int");
    PGresult *res = NULL;
    if (tly_admin_begin(c) == 0) res = tly_admin_sql(c, tly_buf_cstr(&sql), params, n, PGRES_COMMAND_OK);
    tly_buf_free(&sql);
    if (res) {
        PQclear(res);
        if (tly_admin_audit(c, NULL, "property.update", c->prop_id, json_incref(v.changed)) == 0)
            reply_property(c, 200);
    }
    setting_values_free(&v);
}

/* Deletes the property's events from an events store outside PostgreSQL (ClickHouse) and adds
 * them to the answer's count. Runs before the deletion commits: when the store cannot do it, the
 * property stays, to be deleted again later. (Should the commit fail after it, the events are
 * gone and the property remains, which deleting it again completes.) 0 ok; -1 answered. */
static int purge_store(tly_admin_ctx *c, json_t *deleted)
{
    const tly_events_store_ops *store = tly_events_store();
    if (!store->purge_property) return 0;
    long long n = 0;
    tly_db_error err = {0};
    if (store->purge_property(c->db, c->prop_pk, &n, &err) != 0) {
        tly_log_error("deleting the events of %s from the %s store failed: %s", c->prop_id, store->name, err.message);
        if (err.unreachable) tly_resp_header(c->resp, "Retry-After", "5");
        tly_admin_fail(c, err.unreachable ? 503 : 500, "events store (%s): %s; the property was not deleted",
                       store->name, err.unreachable ? "unreachable, retry later" : "its events could not be deleted");
        return -1;
    }
    json_object_set_new(deleted, "events", json_integer(json_integer_value(json_object_get(deleted, "events")) + n));
    return 0;
}

/* Deletes the property's rows in the transaction begun (tally_delete_property); returns as
 * tly_admin_sql_json, *deleted being what went (JSON null: no such property). Its time grows with the
 * property's events, so neither the server's statement_timeout nor the handle's answer timeout
 * bounds it (tly_db_set_statement_timeout). */
static int delete_rows(tly_admin_ctx *c, json_t **deleted)
{
    *deleted = NULL;
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    int answer_timeout = tly_db_answer_timeout(c->db);
    tly_db_set_answer_timeout(c->db, 0);
    PGresult *unbounded = tly_admin_sql(c, "SET LOCAL statement_timeout = 0", NULL, 0, PGRES_COMMAND_OK);
    int found = unbounded ? tly_admin_sql_json(c, "SELECT tally_delete_property($1::int)", params, 1, deleted) : -1;
    PQclear(unbounded);
    tly_db_set_answer_timeout(c->db, answer_timeout);
    return found;
}

void tly_admin_property_delete(tly_admin_ctx *c)
{
    const char *confirm;
    if (tly_admin_read_body(c) != 0 || tly_admin_field_string(c, "confirm", true, NULL, &confirm) != 1) return;
    if (strcmp(confirm, c->prop_id) != 0) {
        tly_admin_fail(c, 400, "confirm: must be the property's id (%s) to delete it and all its data", c->prop_id);
        return;
    }
    json_t *deleted;
    if (tly_admin_begin(c) != 0 || delete_rows(c, &deleted) != 1) return;
    if (!json_is_object(deleted)) {
        json_decref(deleted);
        tly_admin_fail(c, 404, "no such property: %s", c->prop_id);
        return;
    }
    if (purge_store(c, deleted) != 0) {
        json_decref(deleted);
        return;
    }
    json_object_set_new(deleted, "deleted", json_string(c->prop_id));
    if (tly_admin_audit(c, NULL, "property.delete", c->prop_id, json_incref(deleted)) == 0)
        tly_admin_reply(c, 200, deleted);
    else
        json_decref(deleted);
}

void tly_admin_property_token_secret_rotate(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *at;
    if (tly_admin_begin(c) != 0) return;
    /* The new secret is made by the database and never leaves it. */
    int found = tly_admin_sql_json(c,
        "UPDATE properties SET token_secret = tally_random_bytes32() WHERE pk = $1::int "
        "RETURNING to_json(tally_time_text(now()))",
        params, 1, &at);
    if (found == 0) tly_admin_fail(c, 404, "no such property: %s", c->prop_id);
    if (found != 1) return;
    if (tly_admin_audit(c, NULL, "property.token_secret_rotate", c->prop_id, NULL) == 0)
        tly_admin_reply(c, 200, json_pack("{s:s, s:o}", "property_id", c->prop_id, "rotated_at", at));
    else
        json_decref(at);
}

void tly_admin_timezones(tly_admin_ctx *c)
{
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(name ORDER BY name), '[]') FROM pg_timezone_names "
            "WHERE name !~ '^(posix|right)/' AND name <> 'posixrules'",
            NULL, 0, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}
