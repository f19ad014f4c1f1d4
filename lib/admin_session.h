/* Dashboard sessions: the cookie that carries a session token, the session rows (stored by the
 * token's SHA-256 only), and the check report.fcgi makes when a dashboard reads reports. */
#ifndef TLY_ADMIN_SESSION_H
#define TLY_ADMIN_SESSION_H
#include "first.h"
#include "admin_token.h"
#include "buf.h"
#include "db.h"
#include "io.h"
#include "limits.h"
#include <stdbool.h>
#include <stddef.h>

#define TLY_ADMIN_COOKIE_NAME     "tally_session"
#define TLY_ADMIN_SESSION_PREFIX  "ts_"
/* A session ends this long after sign-in (no sliding renewal: reading never writes). */
#define TLY_ADMIN_SESSION_SECONDS (14 * 86400)

typedef struct tly_admin_user {
    long long id;
    char email[TLY_ADMIN_MAX_EMAIL_LEN + 1];
    bool instance_owner;       /* created at first run */
} tly_admin_user;

/* Copies the value of cookie `name` from a Cookie header ("a=1; name=value") into out.
 * 1 found, 0 absent, -1 present but longer than outsize - 1. */
int tly_admin_cookie_get(const char *header, const char *name, char *out, size_t outsize)
    TLY_NONNULL(2, 3);
/* Appends a Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Max-Age (0 deletes the cookie),
 * and Secure when the request came over HTTPS. */
void tly_admin_cookie_format(tly_buf *out, const char *name, const char *value, long max_age,
                             bool secure) TLY_NONNULL(1, 2, 3);
/* The session token of the request's cookie: 1 found (in out), 0 no session cookie, -1 a
 * session cookie that cannot be a token (malformed: treated like an expired session). */
int tly_admin_session_token(const tly_req *req, char out[TLY_ADMIN_TOKEN_SIZE]) TLY_NONNULL(1, 2);

/* Creates a session for user_id; the new token (for the cookie) in token. 0 ok, -1 err. */
int tly_admin_session_create(tly_db *db, long long user_id, char token[TLY_ADMIN_TOKEN_SIZE],
                             tly_db_error *err) TLY_NONNULL(1, 3, 4) TLY_MUST_CHECK;
/* The user of a live session: 1 found (user filled), 0 unknown or expired, -1 err. */
int tly_admin_session_user(tly_db *db, const char *token, tly_admin_user *user, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
/* Ends the session of token. 0 ok, -1 err. */
int tly_admin_session_delete(tly_db *db, const char *token, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;

/* What a request's dashboard session may do with a property's reports. */
typedef enum {
    TLY_SESSION_ABSENT,        /* no session cookie */
    TLY_SESSION_INVALID,       /* unknown or expired session */
    TLY_SESSION_NO_PROPERTY,   /* no such property */
    TLY_SESSION_NOT_MEMBER,    /* the user has no role on the property */
    TLY_SESSION_MEMBER,        /* any role: *pk is the property's */
    TLY_SESSION_ERROR          /* database error: see err */
} tly_admin_session_access;

/* report.fcgi's check of the dashboard cookie: may this session read property_id's reports? */
tly_admin_session_access tly_admin_session_property(tly_db *db, const tly_req *req,
                                                    const char *property_id, int *pk,
                                                    tly_db_error *err) TLY_NONNULL(1, 2, 3, 4, 5);

#endif
