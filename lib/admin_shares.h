/* Share links: a public, read-only view of one property's reports for whoever holds the link.
 * The token is shown once (with the link); share_links keeps its SHA-256, which is how
 * report.fcgi recognises ?share=<token>. */
#ifndef TLY_ADMIN_SHARES_H
#define TLY_ADMIN_SHARES_H
#include "first.h"
#include "admin_request.h"

void tly_admin_shares_list(tly_admin_ctx *c) TLY_NONNULL(1);   /* GET /properties/{id}/shares */
void tly_admin_share_create(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST /properties/{id}/shares */
void tly_admin_share_revoke(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST .../shares/{share}/revoke */

#endif
