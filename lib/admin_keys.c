#include "first.h"
#include "admin_keys.h"
#include "admin_audit.h"
#include "mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_JSON                                                                                     \
    "json_build_object('id', k.id, 'kind', k.kind, 'name', k.name, 'prefix', k.prefix, "            \
    "  'created_at', tally_time_text(k.created_at), 'last_used_at', tally_time_text(k.last_used_at), " \
    "  'revoked_at', tally_time_text(k.revoked_at))"

/* The kinds of key and the prefix of their secrets, by which the programs tell them apart (a
 * server key is a write key that may also name the end user: lib/ingest.c). */
static const struct key_kind {
    const char *name, *prefix;
} kinds[] = {
    {"write", "wk_"},
    {"read", "rk_"},
    {"server", "sk_"},
};

static const char *kind_prefix(const char *kind)
{
    for (size_t i = 0; i < TLY_ARRAY_LEN(kinds); i++)
        if (strcmp(kind, kinds[i].name) == 0) return kinds[i].prefix;
    return NULL;
}

static const char *check_kind(const char *s, size_t len)
{
    (void)len;
    return kind_prefix(s) ? NULL : "must be \"write\", \"read\" or \"server\"";
}

void tly_admin_keys_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" KEY_JSON " ORDER BY k.id), '[]') FROM api_keys k "
            "WHERE k.property_pk = $1::int",
            params, 1, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

/* Inserts a new key of kind with name; its secret into secret. The new row as JSON, NULL answered. */
static json_t *insert_key(tly_admin_ctx *c, const char *kind, const char *name, char secret[TLY_ADMIN_TOKEN_SIZE])
{
    char pk[24], hash[TLY_ADMIN_HASH_HEX_SIZE], prefix[TLY_ADMIN_VISIBLE_PREFIX + 1];
    tly_admin_token_new(kind_prefix(kind), secret);
    tly_admin_hash_hex(secret, strlen(secret), hash);
    snprintf(prefix, sizeof prefix, "%s", secret);
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk, kind, hash, prefix, name};
    json_t *key;
    if (tly_admin_sql_json(c,
            "WITH k AS (INSERT INTO api_keys (property_pk, kind, key_hash, prefix, name) "
            "           VALUES ($1::int, $2, decode($3, 'hex'), $4, $5) RETURNING *) "
            "SELECT " KEY_JSON " FROM k",
            params, 5, &key) != 1)
        return NULL;
    return key;
}

static json_t *key_details(const json_t *key)
{
    return json_pack("{s:O, s:O, s:O, s:O}", "key_id", json_object_get(key, "id"), "kind",
                     json_object_get(key, "kind"), "prefix", json_object_get(key, "prefix"), "name",
                     json_object_get(key, "name"));
}

void tly_admin_key_create(tly_admin_ctx *c)
{
    const char *kind, *name = "";
    if (tly_admin_read_body(c) != 0 || tly_admin_field_string(c, "kind", true, check_kind, &kind) != 1 ||
        tly_admin_field_string(c, "name", false, tly_admin_check_label, &name) < 0 || tly_admin_begin(c) != 0)
        return;
    char secret[TLY_ADMIN_TOKEN_SIZE];
    json_t *key = insert_key(c, kind, name, secret);
    if (key)
        tly_admin_audit_reply(c, "key.create", json_string_value(json_object_get(key, "prefix")), key_details(key),
                              201, json_pack("{s:o, s:s}", "key", key, "secret", secret));
    sodium_memzero(secret, sizeof secret);
}

/* Locks key {key} of the property for a change: 1 live (kind and name copied), 0 answered 404/409,
 * -1 answered. */
static int lock_live_key(tly_admin_ctx *c, long long id, char kind[8], char **name)
{
    char pk[24], key[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, key);
    const char *params[] = {key, pk};
    PGresult *res = tly_admin_sql(c,
        "SELECT kind, name, revoked_at IS NOT NULL FROM api_keys WHERE id = $1::bigint AND property_pk = $2::int "
        "FOR UPDATE",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return -1;
    int live = 0;
    if (PQntuples(res) == 0) {
        tly_admin_fail(c, 404, "no such key: %lld", id);
    } else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        tly_admin_fail(c, 409, "key %lld is already revoked", id);
    } else {
        snprintf(kind, 8, "%s", PQgetvalue(res, 0, 0));
        *name = tly_xstrdup(PQgetvalue(res, 0, 1));
        live = 1;
    }
    PQclear(res);
    return live;
}

/* Revokes key id; its row as JSON, NULL answered. */
static json_t *revoke_key(tly_admin_ctx *c, long long id)
{
    char key[24];
    tly_admin_id_text(id, key);
    const char *params[] = {key};
    json_t *row;
    if (tly_admin_sql_json(c,
            "WITH k AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1::bigint RETURNING *) "
            "SELECT " KEY_JSON " FROM k",
            params, 1, &row) != 1)
        return NULL;
    return row;
}

void tly_admin_key_revoke(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "key");
    char kind[8], *name = NULL;
    if (id < 0 || tly_admin_begin(c) != 0 || lock_live_key(c, id, kind, &name) != 1) return;
    free(name);
    json_t *key = revoke_key(c, id);
    if (key)
        tly_admin_audit_reply(c, "key.revoke", json_string_value(json_object_get(key, "prefix")), key_details(key),
                              200, json_pack("{s:o}", "key", key));
}

void tly_admin_key_rotate(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "key");
    char kind[8], *name = NULL;
    if (id < 0 || tly_admin_begin(c) != 0 || lock_live_key(c, id, kind, &name) != 1) return;
    char secret[TLY_ADMIN_TOKEN_SIZE];
    json_t *fresh = insert_key(c, kind, name, secret);
    free(name);
    json_t *old = fresh ? revoke_key(c, id) : NULL;
    if (old) {
        json_t *details = key_details(fresh);
        json_object_set(details, "revoked_key_id", json_object_get(old, "id"));
        json_object_set(details, "revoked_prefix", json_object_get(old, "prefix"));
        tly_admin_audit_reply(c, "key.rotate", json_string_value(json_object_get(fresh, "prefix")), details, 201,
                              json_pack("{s:o, s:s, s:o}", "key", fresh, "secret", secret, "revoked", old));
    } else {
        json_decref(fresh);
    }
    sodium_memzero(secret, sizeof secret);
}
