/* Saved funnels of a property: a name and 2-8 ordered steps (lib/admin_funnel_steps.h), kept for
 * the dashboard, which shows them through report.fcgi's funnel report: every funnel in an answer
 * carries its `report_query` for GET /v1/properties/{id}/funnel?<report_query>. */
#ifndef TLY_ADMIN_FUNNELS_H
#define TLY_ADMIN_FUNNELS_H
#include "first.h"
#include "admin_request.h"

void tly_admin_funnels_list(tly_admin_ctx *c) TLY_NONNULL(1);   /* GET /properties/{id}/funnels */
void tly_admin_funnel_create(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST /properties/{id}/funnels */
void tly_admin_funnel_update(tly_admin_ctx *c) TLY_NONNULL(1);  /* PATCH .../funnels/{funnel} */
void tly_admin_funnel_delete(tly_admin_ctx *c) TLY_NONNULL(1);  /* DELETE .../funnels/{funnel} */

#endif
