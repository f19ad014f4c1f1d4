/* API keys of a property: write keys for POST /v1/events, read keys for the reports, server keys
 * (write keys for a site's backend, which may pass the end user's address and user agent). The secret
 * is shown once, in the answer that creates it; the database keeps its SHA-256 (the form
 * lib/property.c looks keys up by) and a short prefix for recognition. Revocation reaches the
 * programs within their key_cache_seconds. */
#ifndef TLY_ADMIN_KEYS_H
#define TLY_ADMIN_KEYS_H
#include "first.h"
#include "admin_request.h"

void tly_admin_keys_list(tly_admin_ctx *c) TLY_NONNULL(1);    /* GET /properties/{id}/keys */
void tly_admin_key_create(tly_admin_ctx *c) TLY_NONNULL(1);   /* POST /properties/{id}/keys */
void tly_admin_key_revoke(tly_admin_ctx *c) TLY_NONNULL(1);   /* POST .../keys/{key}/revoke */
void tly_admin_key_rotate(tly_admin_ctx *c) TLY_NONNULL(1);   /* POST .../keys/{key}/rotate */

#endif
