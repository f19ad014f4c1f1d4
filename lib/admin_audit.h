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

/* GET /admin/api/properties/{id}/audit: the property's entries, newest first. */
void tly_admin_audit_list_property(tly_admin_ctx *c) TLY_NONNULL(1);
/* GET /admin/api/audit: the signed-in user's own entries (sign-ins, actions everywhere). */
void tly_admin_audit_list_mine(tly_admin_ctx *c) TLY_NONNULL(1);

#endif
