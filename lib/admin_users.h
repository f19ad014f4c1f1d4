/* Accounts and signing in: the first-run sign-up of the owner, sign-in and sign-out with a
 * session cookie, the current session (with its CSRF token), and password changes. */
#ifndef TLY_ADMIN_USERS_H
#define TLY_ADMIN_USERS_H
#include "first.h"
#include "admin_request.h"

void tly_admin_signup_status(tly_admin_ctx *c) TLY_NONNULL(1);   /* GET /signup */
void tly_admin_signup(tly_admin_ctx *c) TLY_NONNULL(1);          /* POST /signup */
void tly_admin_login(tly_admin_ctx *c) TLY_NONNULL(1);           /* POST /session */
void tly_admin_session_info(tly_admin_ctx *c) TLY_NONNULL(1);    /* GET /session */
void tly_admin_logout(tly_admin_ctx *c) TLY_NONNULL(1);          /* DELETE /session */
void tly_admin_password_change(tly_admin_ctx *c) TLY_NONNULL(1); /* POST /account/password */

/* Signs user in: a new session, its cookie, and the answer {"user", "csrf_token", "expires_at"}
 * with status (also used when an invitation is accepted). 0 ok, -1 answered. */
int tly_admin_sign_in(tly_admin_ctx *c, const tly_admin_user *user, int status, json_t *extra)
    TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Checks a password attempt for an existing account (or none: user_id 0) with login throttling:
 * 1 right, 0 wrong (answered: 401 or, with wrong_status, that), -1 answered (429, errors). */
int tly_admin_check_password_attempt(tly_admin_ctx *c, const char *email, long long user_id,
                                     const char *hash, const char *password, int wrong_status,
                                     const char *wrong_message) TLY_NONNULL(1, 2, 5, 7) TLY_MUST_CHECK;
/* Whether the signed-in user may create properties (the first-run owner, or an owner or admin
 * of some property). 1 yes, 0 no, -1 answered. */
int tly_admin_may_create_properties(tly_admin_ctx *c) TLY_NONNULL(1) TLY_MUST_CHECK;

#endif
