#include "first.h"
#include "admin_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tly_admin_cookie_get(const char *header, const char *name, char *out, size_t outsize)
{
    size_t name_len = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            const char *value = p + name_len + 1;
            size_t value_len = len - name_len - 1;
            if (value_len >= 2 && value[0] == '"' && value[value_len - 1] == '"') {
                value++;
                value_len -= 2;
            }
            if (value_len >= outsize) return -1;
            memcpy(out, value, value_len);
            out[value_len] = '\0';
            return 1;
        }
        p = end;
    }
    return 0;
}

void tly_admin_cookie_format(tly_buf *out, const char *name, const char *value, long max_age, bool secure)
{
    tly_buf_printf(out, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, value, max_age,
                   secure ? "; Secure" : "");
}

int tly_admin_session_token(const tly_req *req, char out[TLY_ADMIN_TOKEN_SIZE])
{
    const char *header = tly_req_param(req, "HTTP_COOKIE");
    int found = header ? tly_admin_cookie_get(header, TLY_ADMIN_COOKIE_NAME, out, TLY_ADMIN_TOKEN_SIZE) : 0;
    if (found == 1 && !tly_admin_token_valid(TLY_ADMIN_SESSION_PREFIX, out, strlen(out))) found = -1;
    if (found != 1) out[0] = '\0';
    return found;
}

int tly_admin_session_create(tly_db *db, long long user_id, char token[TLY_ADMIN_TOKEN_SIZE], tly_db_error *err)
{
    char hash[TLY_ADMIN_HASH_HEX_SIZE], user[24], seconds[16];
    tly_admin_token_new(TLY_ADMIN_SESSION_PREFIX, token);
    tly_admin_hash_hex(token, strlen(token), hash);
    snprintf(user, sizeof user, "%lld", user_id);
    snprintf(seconds, sizeof seconds, "%d", TLY_ADMIN_SESSION_SECONDS);
    const char *params[] = {hash, user, seconds};
    /* Expired sessions of everyone are swept here: sign-ins are rare, and it needs no cron. */
    PGresult *res = tly_db_query(db,
        "WITH swept AS (DELETE FROM admin_sessions WHERE expires_at < now()) "
        "INSERT INTO admin_sessions (token_hash, user_id, expires_at) "
        "VALUES (decode($1, 'hex'), $2::bigint, now() + make_interval(secs => $3::int))",
        params, 3, PGRES_COMMAND_OK, err);
    if (!res) return -1;
    PQclear(res);
    return 0;
}

static void user_from_row(const PGresult *res, int row, int col, tly_admin_user *user)
{
    user->id = atoll(PQgetvalue(res, row, col));
    snprintf(user->email, sizeof user->email, "%s", PQgetvalue(res, row, col + 1));
    user->instance_owner = strcmp(PQgetvalue(res, row, col + 2), "t") == 0;
}

int tly_admin_session_user(tly_db *db, const char *token, tly_admin_user *user, tly_db_error *err)
{
    char hash[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_hash_hex(token, strlen(token), hash);
    const char *params[] = {hash};
    PGresult *res = tly_db_query(db,
        "SELECT u.id, u.email, u.instance_owner FROM admin_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = decode($1, 'hex') AND s.expires_at > now()",
        params, 1, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    int found = PQntuples(res) == 1;
    if (found) user_from_row(res, 0, 0, user);
    PQclear(res);
    return found;
}

int tly_admin_session_delete(tly_db *db, const char *token, tly_db_error *err)
{
    char hash[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_hash_hex(token, strlen(token), hash);
    const char *params[] = {hash};
    PGresult *res = tly_db_query(db, "DELETE FROM admin_sessions WHERE token_hash = decode($1, 'hex')",
                                 params, 1, PGRES_COMMAND_OK, err);
    if (!res) return -1;
    PQclear(res);
    return 0;
}

/* report.fcgi asks on every dashboard request: prepared once per connection. */
static const tly_db_stmt stmt_session_property = {
    "admin_session_property",
    "SELECT p.pk, EXISTS (SELECT 1 FROM admin_sessions s JOIN memberships m ON m.user_id = s.user_id "
    "                     WHERE s.token_hash = decode($1, 'hex') AND s.expires_at > now() "
    "                       AND m.property_pk = p.pk), "
    "       EXISTS (SELECT 1 FROM admin_sessions s "
    "               WHERE s.token_hash = decode($1, 'hex') AND s.expires_at > now()) "
    "FROM (SELECT 1) one LEFT JOIN properties p ON p.id = $2",
    2};

tly_admin_session_access tly_admin_session_property(tly_db *db, const tly_req *req,
                                                    const char *property_id, int *pk,
                                                    tly_db_error *err)
{
    char token[TLY_ADMIN_TOKEN_SIZE];
    int found = tly_admin_session_token(req, token);
    if (found != 1) return found == 0 ? TLY_SESSION_ABSENT : TLY_SESSION_INVALID;
    char hash[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_hash_hex(token, strlen(token), hash);
    const char *params[] = {hash, property_id};
    PGresult *res = tly_db_exec(db, &stmt_session_property, params, PGRES_TUPLES_OK, err);
    if (!res) return TLY_SESSION_ERROR;
    tly_admin_session_access access;
    if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) access = TLY_SESSION_INVALID;
    else if (PQgetisnull(res, 0, 0)) access = TLY_SESSION_NO_PROPERTY;
    else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) access = TLY_SESSION_NOT_MEMBER;
    else {
        access = TLY_SESSION_MEMBER;
        *pk = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return access;
}
