/* The team of a property: its members and their roles (owner, admin, viewer), invitations by
 * link (the token is shown once, to the owner who invites; there is no mail server), and their
 * acceptance, which creates the account or adds the property to an existing one. A property
 * always keeps at least one owner. */
#ifndef TLY_ADMIN_TEAM_H
#define TLY_ADMIN_TEAM_H
#include "first.h"
#include "admin_request.h"

#define TLY_ADMIN_INVITATION_PREFIX  "inv_"
#define TLY_ADMIN_INVITATION_SECONDS (7 * 86400)

void tly_admin_members_list(tly_admin_ctx *c) TLY_NONNULL(1);       /* GET /properties/{id}/members */
void tly_admin_member_update(tly_admin_ctx *c) TLY_NONNULL(1);      /* PATCH .../members/{user} */
void tly_admin_member_remove(tly_admin_ctx *c) TLY_NONNULL(1);      /* DELETE .../members/{user} */
void tly_admin_invitations_list(tly_admin_ctx *c) TLY_NONNULL(1);   /* GET /properties/{id}/invitations */
void tly_admin_invitation_create(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST /properties/{id}/invitations */
void tly_admin_invitation_revoke(tly_admin_ctx *c) TLY_NONNULL(1);  /* DELETE .../invitations/{inv} */
void tly_admin_invitation_preview(tly_admin_ctx *c) TLY_NONNULL(1); /* POST /invitations/preview */
void tly_admin_invitation_accept(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST /invitations/accept */

#endif
