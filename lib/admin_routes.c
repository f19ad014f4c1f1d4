/* The admin API's routes and what every request goes through before its handler: the route
 * (404/405), the session cookie (401), the CSRF token of anything but GET (403), the property of
 * /properties/{id}/... and the role it needs (404/403); and afterwards the transaction. */
#include "first.h"
#include "admin.h"
#include "admin_audit.h"
#include "admin_export.h"
#include "admin_funnels.h"
#include "admin_goals.h"
#include "admin_keys.h"
#include "admin_properties.h"
#include "admin_request.h"
#include "admin_shares.h"
#include "admin_team.h"
#include "admin_users.h"
#include "events_store.h"
#include "log.h"
#include "mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tly_admin {
    tly_db *db;
    tly_cidr_list *trusted_proxies;
};

/* Who may call a route. */
typedef enum {
    ACCESS_PUBLIC,      /* anyone (sign-up, sign-in, invitations, health) */
    ACCESS_SIGNED_IN,   /* any signed-in user */
    ACCESS_VIEWER,      /* a role on the property of the path (segment 1), at least ... */
    ACCESS_ADMIN,
    ACCESS_OWNER,
} access_level;

static void health(tly_admin_ctx *c);

static const struct route {
    const char *method;
    const char *pattern;      /* below /admin/api/; '*' is one segment */
    access_level access;
    void (*handler)(tly_admin_ctx *c);
} routes[] = {
    {"GET", "health", ACCESS_PUBLIC, health},
    {"GET", "signup", ACCESS_PUBLIC, tly_admin_signup_status},
    {"POST", "signup", ACCESS_PUBLIC, tly_admin_signup},
    {"POST", "session", ACCESS_PUBLIC, tly_admin_login},
    {"GET", "session", ACCESS_SIGNED_IN, tly_admin_session_info},
    {"DELETE", "session", ACCESS_SIGNED_IN, tly_admin_logout},
    {"POST", "account/password", ACCESS_SIGNED_IN, tly_admin_password_change},
    {"GET", "audit", ACCESS_SIGNED_IN, tly_admin_audit_list_mine},
    {"GET", "timezones", ACCESS_SIGNED_IN, tly_admin_timezones},
    {"POST", "invitations/preview", ACCESS_PUBLIC, tly_admin_invitation_preview},
    {"POST", "invitations/accept", ACCESS_PUBLIC, tly_admin_invitation_accept},
    {"GET", "properties", ACCESS_SIGNED_IN, tly_admin_properties_list},
    {"POST", "properties", ACCESS_SIGNED_IN, tly_admin_property_create},
    {"GET", "properties/*", ACCESS_VIEWER, tly_admin_property_get},
    {"PATCH", "properties/*", ACCESS_ADMIN, tly_admin_property_update},
    {"DELETE", "properties/*", ACCESS_OWNER, tly_admin_property_delete},
    {"POST", "properties/*/token-secret/rotate", ACCESS_ADMIN, tly_admin_property_token_secret_rotate},
    {"GET", "properties/*/keys", ACCESS_VIEWER, tly_admin_keys_list},
    {"POST", "properties/*/keys", ACCESS_ADMIN, tly_admin_key_create},
    {"POST", "properties/*/keys/*/revoke", ACCESS_ADMIN, tly_admin_key_revoke},
    {"POST", "properties/*/keys/*/rotate", ACCESS_ADMIN, tly_admin_key_rotate},
    {"GET", "properties/*/goals", ACCESS_VIEWER, tly_admin_goals_list},
    {"POST", "properties/*/goals", ACCESS_ADMIN, tly_admin_goal_create},
    {"PATCH", "properties/*/goals/*", ACCESS_ADMIN, tly_admin_goal_update},
    {"DELETE", "properties/*/goals/*", ACCESS_ADMIN, tly_admin_goal_delete},
    {"GET", "properties/*/funnels", ACCESS_VIEWER, tly_admin_funnels_list},
    {"POST", "properties/*/funnels", ACCESS_ADMIN, tly_admin_funnel_create},
    {"PATCH", "properties/*/funnels/*", ACCESS_ADMIN, tly_admin_funnel_update},
    {"DELETE", "properties/*/funnels/*", ACCESS_ADMIN, tly_admin_funnel_delete},
    {"GET", "properties/*/shares", ACCESS_VIEWER, tly_admin_shares_list},
    {"POST", "properties/*/shares", ACCESS_ADMIN, tly_admin_share_create},
    {"POST", "properties/*/shares/*/revoke", ACCESS_ADMIN, tly_admin_share_revoke},
    {"GET", "properties/*/members", ACCESS_VIEWER, tly_admin_members_list},
    {"PATCH", "properties/*/members/*", ACCESS_OWNER, tly_admin_member_update},
    /* Owners remove anyone; other members only themselves (checked by the handler). */
    {"DELETE", "properties/*/members/*", ACCESS_VIEWER, tly_admin_member_remove},
    {"GET", "properties/*/invitations", ACCESS_OWNER, tly_admin_invitations_list},
    {"POST", "properties/*/invitations", ACCESS_OWNER, tly_admin_invitation_create},
    {"DELETE", "properties/*/invitations/*", ACCESS_OWNER, tly_admin_invitation_revoke},
    {"GET", "properties/*/export/events", ACCESS_ADMIN, tly_admin_export_events},
    {"GET", "properties/*/audit", ACCESS_ADMIN, tly_admin_audit_list_property},
};

static const char api_prefix[] = "/admin/api/";

/* --- setup --------------------------------------------------------------------------------- */

tly_admin *tly_admin_new(const tly_conf *conf, char *err, size_t errlen)
{
    char problem[256];
    tly_cidr_list *trusted = tly_cidr_list_parse(conf->trusted_proxies, problem, sizeof problem);
    if (!trusted) {
        snprintf(err, errlen, "setting 'trusted_proxies': %s", problem);
        return NULL;
    }
    /* The events store: the raw-events export reads it, deleting a property purges it. */
    if (tly_events_store_setup(conf, err, errlen) != 0) {
        tly_cidr_list_free(trusted);
        return NULL;
    }
    tly_admin *adm = tly_xcalloc(1, sizeof *adm);
    adm->trusted_proxies = trusted;
    adm->db = tly_db_new(conf->database, "tally-admin");
    tly_db_set_statement_timeout(adm->db, conf->database_timeout);
    return adm;
}

void tly_admin_free(tly_admin *adm)
{
    if (!adm) return;
    tly_db_free(adm->db);
    tly_cidr_list_free(adm->trusted_proxies);
    free(adm);
}

/* --- routing ------------------------------------------------------------------------------- */

static void health(tly_admin_ctx *c)
{
    tly_db_error err = {0};
    PGresult *res = tly_db_query(c->db, "SELECT 1", NULL, 0, PGRES_TUPLES_OK, &err);
    if (res) {
        PQclear(res);
        int status;
        json_t *body = tly_events_store_health(&status);
        if (status != 200) tly_resp_header(c->resp, "Retry-After", "5");
        tly_admin_reply(c, status, body);
    } else {
        tly_resp_header(c->resp, "Retry-After", "5");
        tly_admin_reply(c, 503, json_pack("{s:s, s:s}", "status", "degraded", "db", "unreachable"));
    }
}

/* Splits the path below /admin/api/ into c->seg. -1 when it cannot be a route. */
static int split_path(tly_admin_ctx *c, const char *path)
{
    if (strncmp(path, api_prefix, sizeof api_prefix - 1) != 0) return -1;
    const char *p = path + sizeof api_prefix - 1;
    c->n_seg = 0;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len > TLY_ADMIN_MAX_SEGMENT_LEN || c->n_seg == TLY_ADMIN_MAX_SEGMENTS) return -1;
        memcpy(c->seg[c->n_seg], p, len);
        c->seg[c->n_seg][len] = '\0';
        c->n_seg++;
        p += len;
        if (*p == '/' && !*++p) return -1;   /* a trailing slash */
    }
    return c->n_seg > 0 ? 0 : -1;
}

static bool path_matches(const tly_admin_ctx *c, const char *pattern)
{
    size_t i = 0;
    for (const char *p = pattern; *p; i++) {
        size_t len = strcspn(p, "/");
        if (i >= c->n_seg) return false;
        if (!(len == 1 && *p == '*') && (strlen(c->seg[i]) != len || strncmp(c->seg[i], p, len) != 0)) return false;
        p += len;
        if (*p == '/') p++;
    }
    return i == c->n_seg;
}

/* The route of the request, or NULL after answering 404 or 405. */
static const struct route *find_route(tly_admin_ctx *c)
{
    const char *path = tly_buf_cstr(&c->req->path);
    if (split_path(c, path) != 0) {
        tly_admin_fail(c, 404, "no such endpoint: %.200s", path);
        return NULL;
    }
    tly_buf allow = {0};
    const struct route *found = NULL;
    for (size_t i = 0; i < TLY_ARRAY_LEN(routes) && !found; i++) {
        if (!path_matches(c, routes[i].pattern)) continue;
        if (strcmp(routes[i].method, c->req->method) == 0) found = &routes[i];
        else tly_buf_printf(&allow, "%s%s", allow.len ? ", " : "", routes[i].method);
    }
    if (!found && allow.len) {
        tly_resp_header(c->resp, "Allow", tly_buf_cstr(&allow));
        tly_admin_fail(c, 405, "method %s not allowed on %.200s; use %s", c->req->method, path, tly_buf_cstr(&allow));
    } else if (!found) {
        tly_admin_fail(c, 404, "no such endpoint: %.200s", path);
    }
    tly_buf_free(&allow);
    return found;
}

static void expire_cookie(tly_admin_ctx *c)
{
    tly_buf cookie = {0};
    tly_admin_cookie_format(&cookie, TLY_ADMIN_COOKIE_NAME, "", 0, tly_admin_https(c));
    tly_resp_header(c->resp, "Set-Cookie", tly_buf_cstr(&cookie));
    tly_buf_free(&cookie);
}

/* The signed-in user, and for anything but GET the CSRF token. 0 ok, -1 answered. */
static int authenticate(tly_admin_ctx *c)
{
    int found = tly_admin_session_token(c->req, c->session_token);
    bool sent_cookie = found != 0;
    if (found == 1) {
        tly_db_error err = {0};
        found = tly_admin_session_user(c->db, c->session_token, &c->user, &err);
        if (found < 0) {
            tly_admin_db_fail(c, &err);
            return -1;
        }
    }
    if (found != 1) {
        if (sent_cookie) {
            expire_cookie(c);
            tly_admin_fail(c, 401, "session: expired or unknown; sign in again");
        } else {
            tly_admin_fail(c, 401, "not signed in: POST /admin/api/session with email and password first");
        }
        return -1;
    }
    c->signed_in = true;
    if (strcmp(c->req->method, "GET") != 0 &&
        !tly_admin_csrf_matches(c->session_token, tly_req_param(c->req, "HTTP_X_CSRF_TOKEN"))) {
        tly_admin_fail(c, 403, "X-CSRF-Token: missing or not this session's (GET /admin/api/session gives it)");
        return -1;
    }
    return 0;
}

/* The property of the path and the role the route needs on it. 0 ok, -1 answered. */
static int authorise(tly_admin_ctx *c, access_level access)
{
    const char *id = c->seg[1];
    if (!tly_admin_property_id_valid(id, strlen(id))) {
        tly_admin_fail(c, 404, "no such property: %.80s", id);
        return -1;
    }
    if (tly_admin_property_load(c, id) != 0) return -1;
    tly_admin_role need = access == ACCESS_OWNER ? TLY_ROLE_OWNER : access == ACCESS_ADMIN ? TLY_ROLE_ADMIN
                                                                                             : TLY_ROLE_VIEWER;
    if (c->role < need) {
        tly_admin_fail(c, 403, "this needs the %s role on %s; you are %s", tly_admin_role_name(need), c->prop_id,
                       tly_admin_role_name(c->role));
        return -1;
    }
    return 0;
}

/* Ends the request's transaction: committed when the answer is a success, else rolled back. */
static void finish_transaction(tly_admin_ctx *c)
{
    if (!c->in_tx) return;
    c->in_tx = false;
    tly_db_error err = {0};
    if (c->resp->status < 400 && !c->streamed) {
        if (tly_db_command(c->db, "COMMIT", &err) != 0) {
            tly_resp_reset(c->resp);
            tly_admin_db_fail(c, &err);
        }
    } else if (tly_db_command(c->db, "ROLLBACK", &err) != 0) {
        tly_log_warn("rollback failed: %s", err.message);
    }
}

void tly_admin_serve(tly_admin *adm, tly_req *req, tly_resp *resp)
{
    tly_admin_ctx c;
    memset(&c, 0, sizeof c);
    c.db = adm->db;
    c.req = req;
    c.resp = resp;
    c.trusted_proxies = adm->trusted_proxies;
    const struct route *route = find_route(&c);
    if (route && (route->access == ACCESS_PUBLIC || authenticate(&c) == 0) &&
        (route->access < ACCESS_VIEWER || authorise(&c, route->access) == 0))
        route->handler(&c);
    finish_transaction(&c);
    if (!c.streamed && tly_resp_send(req, resp) != 0) tly_log_debug("client went away before the response");
    json_decref(c.body);
    sodium_memzero(c.session_token, sizeof c.session_token);
}
