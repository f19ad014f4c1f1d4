#include "first.h"
#include "admin_team.h"
#include "admin_audit.h"
#include "admin_password.h"
#include "admin_users.h"
#include "mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_JSON "json_build_object('user_id', u.id, 'email', u.email, 'role', m.role)"
#define INVITATION_JSON                                                                              \
    "json_build_object('id', i.id, 'email', i.email, 'role', i.role, "                              \
    "  'invited_by', (SELECT email FROM users WHERE id = i.invited_by), "                           \
    "  'created_at', tally_time_text(i.created_at), 'expires_at', tally_time_text(i.expires_at))"
#define PENDING "i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()"

static const char *check_role(const char *s, size_t len)
{
    (void)len;
    return tly_admin_role_parse(s) == TLY_ROLE_NONE ? "must be \"owner\", \"admin\" or \"viewer\"" : NULL;
}

/* --- members ------------------------------------------------------------------------------- */

void tly_admin_members_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" MEMBER_JSON " ORDER BY array_position(ARRAY['owner', 'admin', 'viewer'], "
            "  m.role), lower(u.email)), '[]') "
            "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.property_pk = $1::int",
            params, 1, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

/* A member and the property's number of owners, with every membership of the property locked so
 * that two changes cannot both remove "the other" owner. 1 found, 0 answered 404, -1 answered. */
static int lock_member(tly_admin_ctx *c, long long user_id, char role[8], char email[TLY_ADMIN_MAX_EMAIL_LEN + 1],
                       int *owners)
{
    char pk[24], user[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(user_id, user);
    const char *params[] = {pk, user};
    PGresult *res = tly_admin_sql(c,
        "WITH locked AS (SELECT user_id, role FROM memberships WHERE property_pk = $1::int FOR UPDATE) "
        "SELECT l.role, u.email, (SELECT count(*) FROM locked WHERE role = 'owner') "
        "FROM locked l JOIN users u ON u.id = l.user_id WHERE l.user_id = $2::bigint",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        snprintf(role, 8, "%s", PQgetvalue(res, 0, 0));
        snprintf(email, TLY_ADMIN_MAX_EMAIL_LEN + 1, "%s", PQgetvalue(res, 0, 1));
        *owners = atoi(PQgetvalue(res, 0, 2));
    } else {
        tly_admin_fail(c, 404, "no such member: %lld", user_id);
    }
    PQclear(res);
    return found;
}

static bool is_last_owner(tly_admin_ctx *c, const char *role, int owners, const char *what)
{
    if (strcmp(role, "owner") != 0 || owners > 1) return false;
    tly_admin_fail(c, 409, "%s: the last owner of %s cannot be %s; make another member owner first",
                   strcmp(what, "removed") == 0 ? "user" : "role", c->prop_id, what);
    return true;
}

void tly_admin_member_update(tly_admin_ctx *c)
{
    long long user_id = tly_admin_seg_id(c, 3, "member");
    const char *new_role;
    if (user_id < 0 || tly_admin_read_body(c) != 0 ||
        tly_admin_field_string(c, "role", true, check_role, &new_role) != 1 || tly_admin_begin(c) != 0)
        return;
    char role[8], email[TLY_ADMIN_MAX_EMAIL_LEN + 1];
    int owners;
    if (lock_member(c, user_id, role, email, &owners) != 1) return;
    if (strcmp(new_role, "owner") != 0 && is_last_owner(c, role, owners, "demoted")) return;
    char pk[24], user[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(user_id, user);
    const char *params[] = {pk, user, new_role};
    PGresult *res = tly_admin_sql(c,
        "UPDATE memberships SET role = $3 WHERE property_pk = $1::int AND user_id = $2::bigint",
        params, 3, PGRES_COMMAND_OK);
    if (!res) return;
    PQclear(res);
    json_t *details = json_pack("{s:I, s:s, s:s, s:s}", "user_id", (json_int_t)user_id, "email", email,
                                "from", role, "to", new_role);
    tly_admin_audit_reply(c, "member.role", email, details, 200,
                          json_pack("{s:I, s:s, s:s}", "user_id", (json_int_t)user_id, "email", email, "role", new_role));
}

void tly_admin_member_remove(tly_admin_ctx *c)
{
    long long user_id = tly_admin_seg_id(c, 3, "member");
    if (user_id < 0) return;
    /* Owners manage the team; anyone may leave. */
    if (c->role != TLY_ROLE_OWNER && user_id != c->user.id) {
        tly_admin_fail(c, 403, "removing other members needs the owner role on %s; you are %s", c->prop_id,
                       tly_admin_role_name(c->role));
        return;
    }
    if (tly_admin_begin(c) != 0) return;
    char role[8], email[TLY_ADMIN_MAX_EMAIL_LEN + 1];
    int owners;
    if (lock_member(c, user_id, role, email, &owners) != 1 || is_last_owner(c, role, owners, "removed")) return;
    char pk[24], user[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(user_id, user);
    const char *params[] = {pk, user};
    PGresult *res = tly_admin_sql(c, "DELETE FROM memberships WHERE property_pk = $1::int AND user_id = $2::bigint",
                                  params, 2, PGRES_COMMAND_OK);
    if (!res) return;
    PQclear(res);
    json_t *details = json_pack("{s:I, s:s, s:s}", "user_id", (json_int_t)user_id, "email", email, "role", role);
    tly_admin_audit_reply(c, user_id == c->user.id ? "member.leave" : "member.remove", email, details, 204, NULL);
}

/* --- invitations --------------------------------------------------------------------------- */

void tly_admin_invitations_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" INVITATION_JSON " ORDER BY i.id), '[]') FROM invitations i "
            "WHERE i.property_pk = $1::int AND " PENDING,
            params, 1, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

void tly_admin_invitation_create(tly_admin_ctx *c)
{
    const char *email, *role;
    if (tly_admin_read_body(c) != 0 || tly_admin_field_string(c, "email", true, tly_admin_check_email, &email) != 1 ||
        tly_admin_field_string(c, "role", true, check_role, &role) != 1 || tly_admin_begin(c) != 0)
        return;
    char pk[24], user[24], seconds[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(c->user.id, user);
    tly_admin_id_text(TLY_ADMIN_INVITATION_SECONDS, seconds);
    const char *check[] = {pk, email};
    PGresult *res = tly_admin_sql(c,
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.property_pk = $1::int AND lower(u.email) = lower($2)",
        check, 2, PGRES_TUPLES_OK);
    if (!res) return;
    if (PQntuples(res) == 1) {
        tly_admin_fail(c, 409, "email: %s is already a member of %s (%s)", email, c->prop_id, PQgetvalue(res, 0, 0));
        PQclear(res);
        return;
    }
    PQclear(res);
    char token[TLY_ADMIN_TOKEN_SIZE], hash[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_token_new(TLY_ADMIN_INVITATION_PREFIX, token);
    tly_admin_hash_hex(token, strlen(token), hash);
    /* A new invitation replaces the pending ones for the same address. */
    const char *params[] = {pk, email, role, hash, user, seconds};
    json_t *inv;
    if (tly_admin_sql_json(c,
            "WITH replaced AS (UPDATE invitations i SET revoked_at = now() "
            "                  WHERE i.property_pk = $1::int AND lower(i.email) = lower($2) AND " PENDING "), "
            "i AS (INSERT INTO invitations (property_pk, email, role, token_hash, invited_by, expires_at) "
            "      VALUES ($1::int, $2, $3, decode($4, 'hex'), $5::bigint, now() + make_interval(secs => $6::int)) "
            "      RETURNING *) "
            "SELECT " INVITATION_JSON " FROM i",
            params, 6, &inv) == 1) {
        tly_buf url = {0};
        tly_admin_origin(c, &url);
        tly_buf_printf(&url, "/admin/#/invite/%s", token);
        json_t *details = json_pack("{s:O, s:s, s:s}", "invitation_id", json_object_get(inv, "id"), "email", email,
                                    "role", role);
        tly_admin_audit_reply_link(c, "member.invite", email, details, "invitation", inv, token, &url);
    }
    sodium_memzero(token, sizeof token);
}

void tly_admin_invitation_revoke(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "invitation");
    if (id < 0 || tly_admin_begin(c) != 0) return;
    char pk[24], inv_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, inv_id);
    const char *params[] = {inv_id, pk};
    PGresult *res = tly_admin_sql(c,
        "UPDATE invitations i SET revoked_at = now() "
        "WHERE i.id = $1::bigint AND i.property_pk = $2::int AND " PENDING " RETURNING i.email",
        params, 2, PGRES_TUPLES_OK);
    if (!res) return;
    char *email = PQntuples(res) == 1 ? tly_xstrdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    if (!email) {
        tly_admin_fail(c, 404, "no such pending invitation: %lld", id);
        return;
    }
    json_t *details = json_pack("{s:I}", "invitation_id", (json_int_t)id);
    tly_admin_audit_reply(c, "member.invitation_revoke", email, details, 204, NULL);
    free(email);
}

/* --- accepting ----------------------------------------------------------------------------- */

static const char *check_invitation_token(const char *s, size_t len)
{
    return tly_admin_token_valid(TLY_ADMIN_INVITATION_PREFIX, s, len) ? NULL : "not an invitation token";
}

/* The token of the body, hashed. 0 ok, -1 answered. */
static int read_token(tly_admin_ctx *c, char hash[TLY_ADMIN_HASH_HEX_SIZE])
{
    const char *token;
    if (tly_admin_read_body(c) != 0 ||
        tly_admin_field_string(c, "token", true, check_invitation_token, &token) != 1)
        return -1;
    tly_admin_hash_hex(token, strlen(token), hash);
    return 0;
}

static void no_invitation(tly_admin_ctx *c)
{
    tly_admin_fail(c, 404, "token: no pending invitation (unknown, used, revoked or expired)");
}

void tly_admin_invitation_preview(tly_admin_ctx *c)
{
    char hash[TLY_ADMIN_HASH_HEX_SIZE];
    if (read_token(c, hash) != 0) return;
    const char *params[] = {hash};
    json_t *inv;
    int found = tly_admin_sql_json(c,
        "SELECT json_build_object('email', i.email, 'role', i.role, "
        "  'property', json_build_object('id', p.id, 'name', p.name), "
        "  'account_exists', EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(i.email)), "
        "  'expires_at', tally_time_text(i.expires_at)) "
        "FROM invitations i JOIN properties p ON p.pk = i.property_pk "
        "WHERE i.token_hash = decode($1, 'hex') AND " PENDING,
        params, 1, &inv);
    if (found == 0) no_invitation(c);
    if (found == 1) tly_admin_reply(c, 200, inv);
}

/* A pending invitation and the account of its address, if any. */
typedef struct invitation {
    long long id;
    char email[TLY_ADMIN_MAX_EMAIL_LEN + 1];
    char role[8];
    tly_admin_user user;        /* id 0: no account yet */
    char *password_hash;        /* the account's */
} invitation;

/* 1 found, 0 answered 404, -1 answered. With lock, the invitation row is locked (in a transaction). */
static int find_invitation(tly_admin_ctx *c, const char *hash, bool lock, invitation *inv)
{
    const char *params[] = {hash};
    PGresult *res = tly_admin_sql(c, lock
        ? "SELECT i.id, i.email, i.role, p.pk, p.id, u.id, u.email, u.instance_owner, u.password_hash "
          "FROM invitations i JOIN properties p ON p.pk = i.property_pk "
          "LEFT JOIN users u ON lower(u.email) = lower(i.email) "
          "WHERE i.token_hash = decode($1, 'hex') AND " PENDING " FOR UPDATE OF i"
        : "SELECT i.id, i.email, i.role, p.pk, p.id, u.id, u.email, u.instance_owner, u.password_hash "
          "FROM invitations i JOIN properties p ON p.pk = i.property_pk "
          "LEFT JOIN users u ON lower(u.email) = lower(i.email) "
          "WHERE i.token_hash = decode($1, 'hex') AND " PENDING,
        params, 1, PGRES_TUPLES_OK);
    if (!res) return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        memset(inv, 0, sizeof *inv);
        inv->id = atoll(PQgetvalue(res, 0, 0));
        snprintf(inv->email, sizeof inv->email, "%s", PQgetvalue(res, 0, 1));
        snprintf(inv->role, sizeof inv->role, "%s", PQgetvalue(res, 0, 2));
        c->prop_pk = atoi(PQgetvalue(res, 0, 3));
        snprintf(c->prop_id, sizeof c->prop_id, "%s", PQgetvalue(res, 0, 4));
        if (!PQgetisnull(res, 0, 5)) {
            inv->user.id = atoll(PQgetvalue(res, 0, 5));
            snprintf(inv->user.email, sizeof inv->user.email, "%s", PQgetvalue(res, 0, 6));
            inv->user.instance_owner = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
            inv->password_hash = tly_xstrdup(PQgetvalue(res, 0, 8));
        }
    } else {
        no_invitation(c);
    }
    PQclear(res);
    return found;
}

/* Creates the invitation's account in the open transaction. 0 ok, -1 answered. */
static int create_account(tly_admin_ctx *c, invitation *inv, const char *password_hash)
{
    const char *params[] = {inv->email, password_hash};
    tly_db_error err = {0};
    PGresult *res = tly_db_query(c->db, "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id",
                                 params, 2, PGRES_TUPLES_OK, &err);
    if (!res) {
        if (tly_admin_db_conflict(&err))
            tly_admin_fail(c, 409, "email: an account for %s was just created; try again", inv->email);
        else
            tly_admin_db_fail(c, &err);
        return -1;
    }
    inv->user.id = atoll(PQgetvalue(res, 0, 0));
    snprintf(inv->user.email, sizeof inv->user.email, "%s", inv->email);
    PQclear(res);
    return tly_admin_audit(c, &inv->user, "account.sign_up", inv->email, NULL);
}

/* Gives the account the invitation's role (never less than it has; the role it ends up with in
 * role) and uses up the invitation. 0 ok, -1 answered. */
static int join(tly_admin_ctx *c, const invitation *inv, char role[8])
{
    char pk[24], user[24], inv_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(inv->user.id, user);
    tly_admin_id_text(inv->id, inv_id);
    const char *params[] = {pk, user, inv->role, inv_id};
    PGresult *res = tly_admin_sql(c,
        "WITH used AS (UPDATE invitations SET accepted_at = now(), accepted_by = $2::bigint WHERE id = $4::bigint) "
        "INSERT INTO memberships AS m (user_id, property_pk, role) VALUES ($2::bigint, $1::int, $3) "
        "ON CONFLICT (user_id, property_pk) DO UPDATE SET role = CASE "
        "  WHEN array_position(ARRAY['viewer', 'admin', 'owner'], excluded.role) > "
        "       array_position(ARRAY['viewer', 'admin', 'owner'], m.role) THEN excluded.role ELSE m.role END "
        "RETURNING m.role",
        params, 4, PGRES_TUPLES_OK);
    if (!res) return -1;
    snprintf(role, 8, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    json_t *details = json_pack("{s:I, s:s}", "invitation_id", (json_int_t)inv->id, "role", role);
    return tly_admin_audit(c, &inv->user, "member.join", inv->email, details);
}

void tly_admin_invitation_accept(tly_admin_ctx *c)
{
    char hash[TLY_ADMIN_HASH_HEX_SIZE];
    const char *password;
    invitation inv;
    if (read_token(c, hash) != 0 ||
        tly_admin_field_string(c, "password", true, tly_admin_check_password_given, &password) != 1 ||
        find_invitation(c, hash, false, &inv) != 1)
        return;
    char fresh_hash[TLY_ADMIN_PASSWORD_HASH_SIZE] = "";
    int ok;
    if (inv.user.id) {
        /* An existing account joins: its password proves the address is theirs. */
        ok = tly_admin_check_password_attempt(c, inv.user.email, inv.user.id, inv.password_hash, password, 401,
                                              "password: wrong password for the existing account of this email") == 1;
    } else {
        const char *problem = tly_admin_check_password(password, strlen(password));
        if (problem) tly_admin_fail(c, 400, "password: %s", problem);
        else if (tly_admin_password_hash(password, strlen(password), fresh_hash) != 0)
            tly_admin_fail(c, 500, "password: could not be hashed (out of memory)");
        ok = !problem && fresh_hash[0];
    }
    bool had_account = inv.user.id != 0;
    free(inv.password_hash);
    if (!ok || tly_admin_begin(c) != 0) return;
    /* Locked and read again: an invitation is used once, even when accepted twice at once. */
    if (find_invitation(c, hash, true, &inv) != 1) return;
    free(inv.password_hash);
    if ((inv.user.id != 0) != had_account) {
        tly_admin_fail(c, 409, "email: the account of this invitation changed meanwhile; try again");
        return;
    }
    char role[8];
    if ((!had_account && create_account(c, &inv, fresh_hash) != 0) || join(c, &inv, role) != 0) return;
    json_t *extra = json_pack("{s:{s:s, s:s}}", "property", "id", c->prop_id, "role", role);
    (void)!tly_admin_sign_in(c, &inv.user, 200, extra);
}
