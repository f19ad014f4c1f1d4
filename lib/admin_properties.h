/* Properties (tracked sites) and their settings: list, create, read, change, delete with all
 * their data; the secret that signs its browser tokens; and the time zones a property may use. */
#ifndef TLY_ADMIN_PROPERTIES_H
#define TLY_ADMIN_PROPERTIES_H
#include "first.h"
#include "admin_request.h"

void tly_admin_properties_list(tly_admin_ctx *c) TLY_NONNULL(1);    /* GET /properties */
void tly_admin_property_create(tly_admin_ctx *c) TLY_NONNULL(1);    /* POST /properties */
void tly_admin_property_get(tly_admin_ctx *c) TLY_NONNULL(1);       /* GET /properties/{id} */
void tly_admin_property_update(tly_admin_ctx *c) TLY_NONNULL(1);    /* PATCH /properties/{id} */
void tly_admin_property_delete(tly_admin_ctx *c) TLY_NONNULL(1);    /* DELETE /properties/{id} */
/* POST /properties/{id}/token-secret/rotate: a new secret for signed browser tokens. */
void tly_admin_property_token_secret_rotate(tly_admin_ctx *c) TLY_NONNULL(1);
void tly_admin_timezones(tly_admin_ctx *c) TLY_NONNULL(1);          /* GET /timezones */

/* Finds the property of a /properties/{id}/... request and the signed-in user's role on it
 * (into c->prop_*, c->role). 0 ok; -1 answered 404 (no such property, or not a member). */
int tly_admin_property_load(tly_admin_ctx *c, const char *property_id) TLY_NONNULL(1, 2) TLY_MUST_CHECK;

#endif
