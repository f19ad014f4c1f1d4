/* The raw-events export of a property: every stored event (or those of a range of local days) as
 * CSV, streamed row by row so that its size does not matter. Only the stored, coarse fields go
 * out (there is no address or user agent to export); the pseudonymous user_id_hash is left out. */
#ifndef TLY_ADMIN_EXPORT_H
#define TLY_ADMIN_EXPORT_H
#include "first.h"
#include "admin_request.h"

/* GET /properties/{id}/export/events[?from=YYYY-MM-DD&to=YYYY-MM-DD] */
void tly_admin_export_events(tly_admin_ctx *c) TLY_NONNULL(1);

#endif
