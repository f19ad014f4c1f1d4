#include "first.h"
#include "admin_shares.h"
#include "admin_audit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SHARE_JSON                                                                                  \
    "json_build_object('id', s.id, 'name', s.name, 'prefix', s.prefix, "                           \
    "  'created_at', tally_time_text(s.created_at), 'revoked_at', tally_time_text(s.revoked_at))"

void tly_admin_shares_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" SHARE_JSON " ORDER BY s.id), '[]') FROM share_links s "
            "WHERE s.property_pk = $1::int",
            params, 1, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

void tly_admin_share_create(tly_admin_ctx *c)
{
    const char *name = "";
    if (tly_admin_read_body(c) != 0 || tly_admin_field_string(c, "name", false, tly_admin_check_label, &name) < 0 ||
        tly_admin_begin(c) != 0)
        return;
    char token[TLY_ADMIN_TOKEN_SIZE], hash[TLY_ADMIN_HASH_HEX_SIZE], prefix[TLY_ADMIN_VISIBLE_PREFIX + 1], pk[24];
    tly_admin_token_new("sh_", token);
    tly_admin_hash_hex(token, strlen(token), hash);
    snprintf(prefix, sizeof prefix, "%s", token);
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk, hash, prefix, name};
    json_t *share;
    if (tly_admin_sql_json(c,
            "WITH s AS (INSERT INTO share_links (property_pk, token_hash, prefix, name) "
            "           VALUES ($1::int, decode($2, 'hex'), $3, $4) RETURNING *) "
            "SELECT " SHARE_JSON " FROM s",
            params, 4, &share) == 1) {
        /* The dashboard reads the token from the fragment, which browsers never send to a server. */
        tly_buf url = {0};
        tly_admin_origin(c, &url);
        tly_buf_printf(&url, "/admin/#/share/%s/%s", c->prop_id, token);
        json_t *details = json_pack("{s:O, s:s, s:s}", "share_id", json_object_get(share, "id"), "prefix", prefix,
                                    "name", name);
        tly_admin_audit_reply_link(c, "share.create", prefix, details, "share", share, token, &url);
    }
    sodium_memzero(token, sizeof token);
}

void tly_admin_share_revoke(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "share link");
    if (id < 0 || tly_admin_begin(c) != 0) return;
    char pk[24], share_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, share_id);
    const char *params[] = {share_id, pk};
    PGresult *res = tly_admin_sql(c,
        "SELECT revoked_at IS NOT NULL FROM share_links WHERE id = $1::bigint AND property_pk = $2::int FOR UPDATE",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return;
    int state = PQntuples(res) == 0 ? 0 : strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 2;
    PQclear(res);
    if (state != 2) {
        if (state == 0) tly_admin_fail(c, 404, "no such share link: %lld", id);
        else tly_admin_fail(c, 409, "share link %lld is already revoked", id);
        return;
    }
    json_t *share;
    if (tly_admin_sql_json(c,
            "WITH s AS (UPDATE share_links SET revoked_at = now() WHERE id = $1::bigint RETURNING *) "
            "SELECT " SHARE_JSON " FROM s",
            params, 1, &share) != 1)
        return;
    json_t *details = json_pack("{s:O, s:O}", "share_id", json_object_get(share, "id"), "prefix",
                                json_object_get(share, "prefix"));
    tly_admin_audit_reply(c, "share.revoke", json_string_value(json_object_get(share, "prefix")), details, 200,
                          json_pack("{s:o}", "share", share));
}
