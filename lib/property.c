#include "first.h"
#include "property.h"
#include "clientip.h"
#include "log.h"
#include "timeparse.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Columns 10-13 of every lookup: the quota, the browser-token settings and the excluded
 * addresses. */
#define PROPERTY_TAIL_COLUMNS                                                                       \
    "p.event_quota_daily, p.require_token, encode(p.token_secret, 'hex'), "                        \
    "array_to_json(p.excluded_addresses)::text "

/* One round trip: find the key, its property, and stamp last_used_at when it is stale. */
static const tly_db_stmt stmt_by_key = {
    "property_by_key",
    "WITH k AS (SELECT id, property_pk, revoked_at IS NOT NULL AS revoked FROM api_keys "
    "           WHERE key_hash = $1 AND kind = $2), "
    "     used AS (UPDATE api_keys SET last_used_at = now() "
    "              WHERE id = (SELECT id FROM k WHERE NOT revoked) "
    "                AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') "
    "              RETURNING 1) "
    "SELECT k.revoked, p.pk, p.id, p.session_timeout, p.drop_gpc, "
    "       array_to_json(p.allowed_origins)::text, array_to_json(p.excluded_paths)::text, "
    "       array_to_json(p.domains)::text, encode(p.visitor_key, 'hex'), "
    "       (SELECT count(*) FROM used), " PROPERTY_TAIL_COLUMNS
    "FROM k JOIN properties p ON p.pk = k.property_pk",
    2};

static const tly_db_stmt stmt_by_domain = {
    "property_by_domain",
    "SELECT false, p.pk, p.id, p.session_timeout, p.drop_gpc, "
    "       array_to_json(p.allowed_origins)::text, array_to_json(p.excluded_paths)::text, "
    "       array_to_json(p.domains)::text, encode(p.visitor_key, 'hex'), 0, " PROPERTY_TAIL_COLUMNS
    "FROM properties p WHERE lower($1) = ANY (p.domains) ORDER BY p.pk LIMIT 1",
    1};

static const tly_db_stmt stmt_by_id = {
    "property_by_id",
    "SELECT false, p.pk, p.id, p.session_timeout, p.drop_gpc, "
    "       array_to_json(p.allowed_origins)::text, array_to_json(p.excluded_paths)::text, "
    "       array_to_json(p.domains)::text, encode(p.visitor_key, 'hex'), 0, " PROPERTY_TAIL_COLUMNS
    "FROM properties p WHERE p.id = $1",
    1};

static json_t *json_array_from(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!json_is_array(v)) {
        json_decref(v);
        return json_array();
    }
    return v;
}

/* Fills prop from a row of the shape every lookup selects (columns 1-8 and 10-13). */
static void property_from_row(const PGresult *res, tly_property *prop)
{
    memset(prop, 0, sizeof *prop);
    prop->pk = atoi(PQgetvalue(res, 0, 1));
    snprintf(prop->id, sizeof prop->id, "%s", PQgetvalue(res, 0, 2));
    prop->session_timeout = atoi(PQgetvalue(res, 0, 3));
    prop->drop_gpc = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    prop->allowed_origins = json_array_from(PQgetvalue(res, 0, 5));
    prop->excluded_paths = json_array_from(PQgetvalue(res, 0, 6));
    prop->domains = json_array_from(PQgetvalue(res, 0, 7));
    prop->event_quota_daily = atoll(PQgetvalue(res, 0, 10));
    prop->require_token = strcmp(PQgetvalue(res, 0, 11), "t") == 0;
    prop->excluded_addresses = json_array_from(PQgetvalue(res, 0, 13));
    const char *secret = PQgetvalue(res, 0, 12);
    if (sodium_hex2bin(prop->token_secret, sizeof prop->token_secret, secret, strlen(secret), NULL, NULL,
                       NULL) != 0)
        tly_log_error("property %s has a malformed token secret", prop->id);
    const char *hex = PQgetvalue(res, 0, 8);
    if (sodium_hex2bin(prop->visitor_key, sizeof prop->visitor_key, hex, strlen(hex), NULL, NULL,
                       NULL) != 0)
        tly_log_error("property %s has a malformed visitor key", prop->id);
}

/* Recent key lookups, so that a busy site costs one database round trip per request instead of
 * two. An entry lives key_cache_ms; a revoked key therefore stops working within that time. */
#define KEY_CACHE_SLOTS 64

static struct cached_key {
    bool used;
    unsigned char hash[crypto_hash_sha256_BYTES];
    char kind[8];
    int64_t expires_ms;
    tly_key_status status;
    tly_property prop;   /* valid when status is TLY_KEY_OK */
} key_cache[KEY_CACHE_SLOTS];

static int64_t key_cache_ms = 10000;

void tly_property_cache_setup(int seconds)
{
    key_cache_ms = (int64_t)seconds * 1000;
    tly_property_cache_clear();
}

void tly_property_cache_clear(void)
{
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
        if (key_cache[i].used && key_cache[i].status == TLY_KEY_OK) tly_property_clear(&key_cache[i].prop);
        sodium_memzero(&key_cache[i], sizeof key_cache[i]);
    }
}

/* A copy of prop that shares its (reference-counted) arrays. */
static void property_copy(tly_property *dst, const tly_property *src)
{
    *dst = *src;
    json_incref(dst->allowed_origins);
    json_incref(dst->excluded_paths);
    json_incref(dst->excluded_addresses);
    json_incref(dst->domains);
}

static struct cached_key *cache_slot(const unsigned char *hash)
{
    /* The hash is uniformly distributed, so its first byte is a fine slot index. */
    return &key_cache[hash[0] % KEY_CACHE_SLOTS];
}

/* While the database is unreachable, a key seen in the last hour is taken as it was: ingest goes on
 * into the spool instead of refusing every request. */
#define STALE_IF_ERROR_MS (3600 * 1000)

static bool cache_get(const unsigned char *hash, const char *kind, int64_t stale_ms, tly_property *prop,
                      tly_key_status *status)
{
    struct cached_key *c = cache_slot(hash);
    if (!c->used || c->expires_ms + stale_ms <= tly_time_now_ms() || strcmp(c->kind, kind) != 0 ||
        sodium_memcmp(c->hash, hash, sizeof c->hash) != 0)
        return false;
    *status = c->status;
    if (c->status == TLY_KEY_OK) property_copy(prop, &c->prop);
    return true;
}

static void cache_put(const unsigned char *hash, const char *kind, const tly_property *prop, tly_key_status status)
{
    if (key_cache_ms <= 0) return;
    struct cached_key *c = cache_slot(hash);
    if (c->used && c->status == TLY_KEY_OK) tly_property_clear(&c->prop);
    memset(c, 0, sizeof *c);
    c->used = true;
    memcpy(c->hash, hash, sizeof c->hash);
    snprintf(c->kind, sizeof c->kind, "%s", kind);
    c->expires_ms = tly_time_now_ms() + key_cache_ms;
    c->status = status;
    if (status == TLY_KEY_OK) property_copy(&c->prop, prop);
}

tly_key_status tly_property_by_key(tly_db *db, const char *kind, const char *secret,
                                   tly_property *prop, tly_db_error *err)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)secret, strlen(secret));
    tly_key_status cached;
    if (cache_get(hash, kind, 0, prop, &cached)) return cached;
    const char *params[] = {(const char *)hash, kind};
    const int lengths[] = {sizeof hash, 0};
    const int formats[] = {1, 0};
    PGresult *res = tly_db_exec_bin(db, &stmt_by_key, params, lengths, formats, PGRES_TUPLES_OK, err);
    if (!res) {
        if (err->unreachable && cache_get(hash, kind, STALE_IF_ERROR_MS, prop, &cached)) return cached;
        return TLY_KEY_ERROR;
    }
    tly_key_status status = TLY_KEY_UNKNOWN;
    if (PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
            status = TLY_KEY_REVOKED;
        } else {
            property_from_row(res, prop);
            status = TLY_KEY_OK;
        }
    }
    PQclear(res);
    cache_put(hash, kind, prop, status);
    return status;
}

tly_key_status tly_property_by_token(tly_db *db, const char *token, int64_t now, tly_property *prop,
                                     tly_token_status *why, tly_db_error *err)
{
    char id[TLY_MAX_PROPERTY_ID_LEN + 1];
    *why = TLY_TOKEN_MALFORMED;
    if (tly_token_property(token, id, sizeof id) != 0) return TLY_KEY_UNKNOWN;
    /* Lookups by id are cached like keys, under the hash of "token:<id>". */
    unsigned char hash[crypto_hash_sha256_BYTES];
    char label[TLY_MAX_PROPERTY_ID_LEN + 8];
    snprintf(label, sizeof label, "token:%s", id);
    crypto_hash_sha256(hash, (const unsigned char *)label, strlen(label));
    tly_key_status status;
    if (!cache_get(hash, "token", 0, prop, &status)) {
        const char *params[] = {id};
        PGresult *res = tly_db_exec(db, &stmt_by_id, params, PGRES_TUPLES_OK, err);
        if (!res) {
            if (!err->unreachable || !cache_get(hash, "token", STALE_IF_ERROR_MS, prop, &status)) return TLY_KEY_ERROR;
        } else {
            status = TLY_KEY_UNKNOWN;
            if (PQntuples(res) == 1) {
                property_from_row(res, prop);
                status = TLY_KEY_OK;
            }
            PQclear(res);
            cache_put(hash, "token", prop, status);
        }
    }
    if (status != TLY_KEY_OK) return status;
    *why = tly_token_verify(token, prop->token_secret, now);
    if (*why == TLY_TOKEN_OK) return TLY_KEY_OK;
    tly_property_clear(prop);
    return TLY_KEY_UNKNOWN;
}

int tly_property_by_id(tly_db *db, const char *id, tly_property *prop, tly_db_error *err)
{
    const char *params[] = {id};
    PGresult *res = tly_db_exec(db, &stmt_by_id, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    int found = PQntuples(res) == 1;
    if (found) property_from_row(res, prop);
    PQclear(res);
    return found;
}

int tly_property_by_domain(tly_db *db, const char *domain, tly_property *prop, tly_db_error *err)
{
    /* Cached like keys (a busy Plausible-style site asks for its domain on every event), under
     * the hash of "domain:<name>" in lower case; unknown domains are remembered too. */
    char label[300];
    size_t n = (size_t)snprintf(label, sizeof label, "domain:%s", domain);
    if (n >= sizeof label) n = sizeof label - 1;
    for (size_t i = 7; i < n; i++) label[i] = (char)tolower((unsigned char)label[i]);
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)label, n);
    tly_key_status status;
    if (cache_get(hash, "domain", 0, prop, &status)) return status == TLY_KEY_OK;
    const char *params[] = {domain};
    PGresult *res = tly_db_exec(db, &stmt_by_domain, params, PGRES_TUPLES_OK, err);
    if (!res) {
        if (err->unreachable && cache_get(hash, "domain", STALE_IF_ERROR_MS, prop, &status)) return status == TLY_KEY_OK;
        return -1;
    }
    int found = PQntuples(res) == 1;
    if (found) property_from_row(res, prop);
    PQclear(res);
    cache_put(hash, "domain", prop, found ? TLY_KEY_OK : TLY_KEY_UNKNOWN);
    return found;
}

void tly_property_clear(tly_property *prop)
{
    json_decref(prop->allowed_origins);
    json_decref(prop->excluded_paths);
    json_decref(prop->excluded_addresses);
    json_decref(prop->domains);
    sodium_memzero(prop, sizeof *prop);
}

/* "https://Example.com:8443" -> host part "Example.com" (no scheme, no port). */
static void origin_host(const char *origin, const char **host, size_t *len)
{
    const char *p = strstr(origin, "://");
    p = p ? p + 3 : origin;
    size_t n = strcspn(p, ":/");
    if (*p == '[') n = strcspn(p, "]") + 1;   /* IPv6 literal */
    *host = p;
    *len = n;
}

bool tly_property_origin_allowed(const tly_property *prop, const char *origin)
{
    size_t i;
    json_t *entry;
    const char *host;
    size_t host_len;
    origin_host(origin, &host, &host_len);
    json_array_foreach(prop->allowed_origins, i, entry) {
        const char *allowed = json_string_value(entry);
        if (!allowed) continue;
        if (strcmp(allowed, "*") == 0 || strcasecmp(allowed, origin) == 0) return true;
        /* An entry without a scheme names a host and allows it on any scheme and port. */
        if (!strstr(allowed, "://") && strlen(allowed) == host_len &&
            strncasecmp(allowed, host, host_len) == 0)
            return true;
    }
    return false;
}

bool tly_property_path_excluded(const tly_property *prop, const char *path)
{
    size_t i;
    json_t *entry;
    json_array_foreach(prop->excluded_paths, i, entry) {
        const char *pattern = json_string_value(entry);
        if (!pattern || !*pattern) continue;
        size_t n = strlen(pattern);
        if (pattern[n - 1] == '*') {
            if (strncmp(path, pattern, n - 1) == 0) return true;
        } else if (strcmp(path, pattern) == 0) {
            return true;
        }
    }
    return false;
}

bool tly_property_address_excluded(const tly_property *prop, const char *ip)
{
    size_t i;
    json_t *entry;
    json_array_foreach(prop->excluded_addresses, i, entry) {
        const char *range = json_string_value(entry);
        if (range && tly_cidr_contains(range, ip)) return true;
    }
    return false;
}
