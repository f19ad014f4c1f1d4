#include "first.h"
#include "admin_audit.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tly_admin_audit(tly_admin_ctx *c, const tly_admin_user *actor, const char *action, const char *target,
                    json_t *details)
{
    if (!actor) actor = &c->user;
    char user[24], pk[24];
    tly_admin_id_text(actor->id, user);
    tly_admin_id_text(c->prop_pk, pk);
    if (!details) details = json_object();
    char *text = json_dumps(details, JSON_COMPACT);
    const char *params[] = {actor->id > 0 ? user : NULL, actor->email, action,
                            c->prop_pk > 0 ? pk : NULL, c->prop_pk > 0 ? c->prop_id : NULL, target, text};
    PGresult *res = tly_admin_sql(c,
        "INSERT INTO audit_log (user_id, actor_email, action, property_pk, property_id, target, details) "
        "VALUES ($1::bigint, $2, $3, $4::int, $5, $6, $7::jsonb)",
        params, 7, PGRES_COMMAND_OK);
    free(text);
    json_decref(details);
    if (!res) return -1;
    PQclear(res);
    return 0;
}

void tly_admin_audit_reply(tly_admin_ctx *c, const char *action, const char *target, json_t *details, int status,
                           json_t *body)
{
    if (tly_admin_audit(c, NULL, action, target, details) != 0) json_decref(body);
    else if (body) tly_admin_reply(c, status, body);
    else tly_admin_no_content(c);
}

void tly_admin_audit_reply_link(tly_admin_ctx *c, const char *action, const char *target, json_t *details,
                                const char *member, json_t *obj, const char *token, tly_buf *url)
{
    tly_admin_audit_reply(c, action, target, details, 201,
                          json_pack("{s:o, s:s, s:s}", member, obj, "token", token, "url", tly_buf_cstr(url)));
    sodium_memzero(url->ptr, url->len);
    tly_buf_free(url);
}

#define ENTRY_JSON                                                                                   \
    "json_build_object('id', a.id, 'at', tally_time_text(a.at), "                                   \
    "  'actor', json_build_object('id', a.user_id, 'email', a.actor_email), 'action', a.action, "    \
    "  'property_id', a.property_id, 'target', a.target, 'details', a.details)"

/* Pages newest first: ?limit=1-200 (default 50) and ?before=<id> for the next page. */
static void list_entries(tly_admin_ctx *c, const char *where, const char *subject)
{
    long long limit, before;
    if (tly_admin_query_int(c, "limit", 1, TLY_ADMIN_MAX_PAGE, 50, &limit) != 0 ||
        tly_admin_query_int(c, "before", 1, INT64_MAX, INT64_MAX, &before) != 0)
        return;
    char limit_text[24], before_text[24];
    tly_admin_id_text(limit, limit_text);
    tly_admin_id_text(before, before_text);
    tly_buf sql = {0};
    tly_buf_printf(&sql,
        "SELECT coalesce(json_agg(" ENTRY_JSON " ORDER BY a.id DESC), '[]') FROM ("
        "  SELECT * FROM audit_log WHERE %s AND id < $2::bigint ORDER BY id DESC LIMIT $3::int) a",
        where);
    const char *params[] = {subject, before_text, limit_text};
    json_t *rows;
    if (tly_admin_sql_json(c, tly_buf_cstr(&sql), params, 3, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
    tly_buf_free(&sql);
}

void tly_admin_audit_list_property(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    list_entries(c, "property_pk = $1::int", pk);
}

void tly_admin_audit_list_mine(tly_admin_ctx *c)
{
    char user[24];
    tly_admin_id_text(c->user.id, user);
    list_entries(c, "user_id = $1::bigint", user);
}
