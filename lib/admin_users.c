#include "first.h"
#include "admin_users.h"
#include "admin_audit.h"
#include "admin_password.h"
#include "admin_throttle.h"
#include "log.h"
#include "mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tly_admin_may_create_properties(tly_admin_ctx *c)
{
    char user[24];
    tly_admin_id_text(c->user.id, user);
    const char *params[] = {user};
    PGresult *res = tly_admin_sql(c,
        "SELECT u.instance_owner OR EXISTS (SELECT 1 FROM memberships m "
        "                                   WHERE m.user_id = u.id AND m.role IN ('owner', 'admin')) "
        "FROM users u WHERE u.id = $1::bigint",
        params, 1, PGRES_TUPLES_OK);
    if (!res) return -1;
    int may = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return may;
}

/* {"user": {...}, "csrf_token": ..., "expires_at": ...} of the current session; NULL answered. */
static json_t *session_json(tly_admin_ctx *c)
{
    char user[24], hash[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_id_text(c->user.id, user);
    tly_admin_hash_hex(c->session_token, strlen(c->session_token), hash);
    const char *params[] = {user, hash};
    json_t *body;
    int found = tly_admin_sql_json(c,
        "SELECT json_build_object("
        "  'user', json_build_object('id', u.id, 'email', u.email, 'instance_owner', u.instance_owner, "
        "    'can_create_properties', u.instance_owner OR EXISTS (SELECT 1 FROM memberships m "
        "        WHERE m.user_id = u.id AND m.role IN ('owner', 'admin')), "
        "    'created_at', tally_time_text(u.created_at)), "
        "  'expires_at', tally_time_text(s.expires_at)) "
        "FROM users u JOIN admin_sessions s ON s.user_id = u.id "
        "WHERE u.id = $1::bigint AND s.token_hash = decode($2, 'hex')",
        params, 2, &body);
    if (found == 0) tly_admin_fail(c, 401, "session: expired; sign in again");
    if (found != 1) return NULL;
    char csrf[TLY_ADMIN_CSRF_SIZE];
    tly_admin_csrf_of(c->session_token, csrf);
    json_object_set_new(body, "csrf_token", json_string(csrf));
    return body;
}

static void set_cookie(tly_admin_ctx *c, const char *value, long max_age)
{
    tly_buf cookie = {0};
    tly_admin_cookie_format(&cookie, TLY_ADMIN_COOKIE_NAME, value, max_age, tly_admin_https(c));
    tly_resp_header(c->resp, "Set-Cookie", tly_buf_cstr(&cookie));
    tly_buf_free(&cookie);
}

int tly_admin_sign_in(tly_admin_ctx *c, const tly_admin_user *user, int status, json_t *extra)
{
    tly_db_error err = {0};
    if (tly_admin_session_create(c->db, user->id, c->session_token, &err) != 0) {
        json_decref(extra);
        tly_admin_db_fail(c, &err);
        return -1;
    }
    c->user = *user;
    c->signed_in = true;
    json_t *body = session_json(c);
    if (!body) {
        json_decref(extra);
        return -1;
    }
    if (extra) json_object_update(body, extra);
    json_decref(extra);
    set_cookie(c, c->session_token, TLY_ADMIN_SESSION_SECONDS);
    tly_admin_reply(c, status, body);
    return 0;
}

int tly_admin_check_password_attempt(tly_admin_ctx *c, const char *email, long long user_id,
                                     const char *hash, const char *password, int wrong_status,
                                     const char *wrong_message)
{
    char ip[TLY_IP_TEXT_LEN];
    tly_admin_client_ip(c, ip);
    tly_admin_throttle t;
    tly_db_error err = {0};
    const char *which = "";
    long wait = tly_admin_throttle_keys(c->db, email, ip, &t, &err) == 0
                    ? tly_admin_throttle_check(c->db, &t, &which, &err) : -1;
    sodium_memzero(ip, sizeof ip);
    if (wait < 0) {
        tly_admin_db_fail(c, &err);
        return -1;
    }
    if (wait > 0) {
        char seconds[24];
        snprintf(seconds, sizeof seconds, "%ld", wait);
        tly_resp_header(c->resp, "Retry-After", seconds);
        tly_admin_fail(c, 429, "too many failed sign-ins for this %s; retry in %ld seconds",
                       strcmp(which, "account") == 0 ? "account" : "address", wait);
        return -1;
    }
    size_t len = strlen(password);
    bool right = false;
    if (hash) right = tly_admin_password_verify(hash, password, len);
    else tly_admin_password_verify_nobody(password, len);
    int rc = right ? tly_admin_throttle_forgive(c->db, &t, &err) : tly_admin_throttle_fail(c->db, &t, &err);
    if (rc != 0) {
        tly_admin_db_fail(c, &err);
        return -1;
    }
    if (right) return 1;
    if (user_id > 0) {
        tly_admin_user owner = {.id = user_id};
        snprintf(owner.email, sizeof owner.email, "%s", email);
        if (tly_admin_audit(c, &owner, "account.sign_in_failed", "", NULL) != 0) return -1;
    }
    tly_admin_fail(c, wrong_status, "%s", wrong_message);
    return 0;
}

void tly_admin_signup_status(tly_admin_ctx *c)
{
    PGresult *res = tly_admin_sql(c, "SELECT NOT EXISTS (SELECT 1 FROM users)", NULL, 0, PGRES_TUPLES_OK);
    if (!res) return;
    bool open = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    tly_admin_reply(c, 200, json_pack("{s:b}", "open", open));
}

static void signup_closed(tly_admin_ctx *c)
{
    tly_admin_fail(c, 409, "sign-up is closed: an account exists; ask an owner for an invitation");
}

void tly_admin_signup(tly_admin_ctx *c)
{
    const char *email, *password;
    if (tly_admin_read_body(c) != 0 ||
        tly_admin_field_string(c, "email", true, tly_admin_check_email, &email) != 1 ||
        tly_admin_field_string(c, "password", true, tly_admin_check_password, &password) != 1)
        return;
    PGresult *res = tly_admin_sql(c, "SELECT EXISTS (SELECT 1 FROM users)", NULL, 0, PGRES_TUPLES_OK);
    if (!res) return;
    bool closed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (closed) {
        signup_closed(c);
        return;
    }
    char hash[TLY_ADMIN_PASSWORD_HASH_SIZE];
    if (tly_admin_password_hash(password, strlen(password), hash) != 0) {
        tly_admin_fail(c, 500, "password: could not be hashed (out of memory)");
        return;
    }
    /* Two first-run sign-ups at once: the lock makes the second find the first's account. */
    if (tly_admin_begin(c) != 0) return;
    const char *params[] = {email, hash};
    res = tly_admin_sql(c, "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", NULL, 0, PGRES_COMMAND_OK);
    if (!res) return;
    PQclear(res);
    res = tly_admin_sql(c,
        "INSERT INTO users (email, password_hash, instance_owner) "
        "SELECT $1, $2, true WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING id",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return;
    tly_admin_user user = {.instance_owner = true};
    bool created = PQntuples(res) == 1;
    if (created) user.id = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!created) {
        signup_closed(c);
        return;
    }
    snprintf(user.email, sizeof user.email, "%s", email);
    if (tly_admin_audit(c, &user, "account.sign_up", email, NULL) != 0) return;
    (void)!tly_admin_sign_in(c, &user, 201, NULL);
}

void tly_admin_login(tly_admin_ctx *c)
{
    const char *email, *password;
    if (tly_admin_read_body(c) != 0 ||
        tly_admin_field_string(c, "email", true, tly_admin_check_email, &email) != 1 ||
        tly_admin_field_string(c, "password", true, tly_admin_check_password_given, &password) != 1)
        return;
    const char *params[] = {email};
    PGresult *res = tly_admin_sql(c,
        "SELECT id, email, instance_owner, password_hash FROM users WHERE lower(email) = lower($1)",
        params, 1, PGRES_TUPLES_OK);
    if (!res) return;
    tly_admin_user user = {0};
    char *hash = NULL;
    if (PQntuples(res) == 1) {
        user.id = atoll(PQgetvalue(res, 0, 0));
        snprintf(user.email, sizeof user.email, "%s", PQgetvalue(res, 0, 1));
        user.instance_owner = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
        hash = tly_xstrdup(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    int right = tly_admin_check_password_attempt(c, user.id ? user.email : email, user.id, hash, password, 401,
                                                 "email or password is wrong");
    if (right == 1 && tly_admin_password_needs_rehash(hash)) {
        /* Hashes made with weaker settings are upgraded while the password is at hand. */
        char fresh[TLY_ADMIN_PASSWORD_HASH_SIZE], id[24];
        tly_admin_id_text(user.id, id);
        const char *update[] = {fresh, id};
        if (tly_admin_password_hash(password, strlen(password), fresh) == 0 &&
            (res = tly_admin_sql(c, "UPDATE users SET password_hash = $1 WHERE id = $2::bigint", update, 2,
                                 PGRES_COMMAND_OK)))
            PQclear(res);
    }
    free(hash);
    if (right != 1 || c->resp->status) return;
    if (tly_admin_audit(c, &user, "account.sign_in", "", NULL) != 0) return;
    (void)!tly_admin_sign_in(c, &user, 200, NULL);
}

void tly_admin_session_info(tly_admin_ctx *c)
{
    json_t *body = session_json(c);
    if (body) tly_admin_reply(c, 200, body);
}

void tly_admin_logout(tly_admin_ctx *c)
{
    tly_db_error err = {0};
    if (tly_admin_session_delete(c->db, c->session_token, &err) != 0) {
        tly_admin_db_fail(c, &err);
        return;
    }
    if (tly_admin_audit(c, NULL, "account.sign_out", "", NULL) != 0) return;
    tly_admin_no_content(c);
    set_cookie(c, "", 0);
}

void tly_admin_password_change(tly_admin_ctx *c)
{
    const char *current, *fresh;
    if (tly_admin_read_body(c) != 0 ||
        tly_admin_field_string(c, "current_password", true, tly_admin_check_password_given, &current) != 1 ||
        tly_admin_field_string(c, "new_password", true, tly_admin_check_password, &fresh) != 1)
        return;
    char user[24];
    tly_admin_id_text(c->user.id, user);
    const char *params[] = {user};
    PGresult *res = tly_admin_sql(c, "SELECT password_hash FROM users WHERE id = $1::bigint", params, 1,
                                  PGRES_TUPLES_OK);
    if (!res) return;
    char *hash = PQntuples(res) == 1 ? tly_xstrdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    int right = tly_admin_check_password_attempt(c, c->user.email, c->user.id, hash, current, 403,
                                                 "current_password: wrong password");
    free(hash);
    if (right != 1) return;
    char new_hash[TLY_ADMIN_PASSWORD_HASH_SIZE], session[TLY_ADMIN_HASH_HEX_SIZE];
    if (tly_admin_password_hash(fresh, strlen(fresh), new_hash) != 0) {
        tly_admin_fail(c, 500, "new_password: could not be hashed (out of memory)");
        return;
    }
    tly_admin_hash_hex(c->session_token, strlen(c->session_token), session);
    if (tly_admin_begin(c) != 0) return;
    /* Every other session of the account ends: a changed password locks out whoever else had it. */
    const char *update[] = {user, new_hash, session};
    res = tly_admin_sql(c,
        "WITH ended AS (DELETE FROM admin_sessions WHERE user_id = $1::bigint "
        "               AND token_hash <> decode($3, 'hex')) "
        "UPDATE users SET password_hash = $2 WHERE id = $1::bigint",
        update, 3, PGRES_COMMAND_OK);
    if (!res) return;
    PQclear(res);
    if (tly_admin_audit(c, NULL, "account.password_change", "", NULL) != 0) return;
    tly_admin_no_content(c);
}
