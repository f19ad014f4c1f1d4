/* The audit log: who did what to which property and when, with details that never hold a secret
 * (no tokens, keys, passwords or client addresses). Entries outlive their property. */
#ifndef TLY_ADMIN_AUDIT_H
#define TLY_ADMIN_AUDIT_H
#include "first.h"
#include "admin_request.h"

/* Records action (e.g. "key.create") by actor (NULL: the signed-in user) on the request's
 * property (if any) and target (e.g. "key 12"; may be ""). details is stolen, may be NULL.
 * 0 ok, -1 answered (the request's transaction then rolls back with it). */
int tly_admin_audit(tly_admin_ctx *c, const tly_admin_user *actor, const char *action,
                    const char *target, json_t *details) TLY_NONNULL(1, 3, 4) TLY_MUST_CHECK;

/* Records the action as tly_admin_audit does, then answers body (stolen) with status, or 204 No
 * Content when body is NULL. When recording fails, that failure is the answer and body is dropped:
 * an action is never answered as done without its entry. */
void tly_admin_audit_reply(tly_admin_ctx *c, const char *action, const char *target, json_t *details, int status,
                           json_t *body) TLY_NONNULL(1, 2, 3);
/* The same for something reached through a secret link (share links, invitations): answers 201
 * with {member: obj, "token": token, "url": url}, the only time the token is shown. obj is stolen;
 * url (the link, which holds the token) is wiped and freed. */
void tly_admin_audit_reply_link(tly_admin_ctx *c, const char *action, const char *target, json_t *details,
                                const char *member, json_t *obj, const char *token, tly_buf *url)
    TLY_NONNULL(1, 2, 3, 5, 6, 7, 8);

/* GET /admin/api/properties/{id}/audit: the property's entries, newest first. */
void tly_admin_audit_list_property(tly_admin_ctx *c) TLY_NONNULL(1);
/* GET /admin/api/audit: the signed-in user's own entries (sign-ins, actions everywhere). */
void tly_admin_audit_list_mine(tly_admin_ctx *c) TLY_NONNULL(1);

#endif
