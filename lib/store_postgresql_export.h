/* The raw-events export of the postgresql events store (events_store.h: export_events). */
#ifndef TLY_STORE_POSTGRESQL_EXPORT_H
#define TLY_STORE_POSTGRESQL_EXPORT_H
#include "first.h"
#include "events_store.h"

int tly_pg_export_events(tly_db *db, int property_pk, const char *from, const char *to, tly_export_row_fn row,
                         void *ctx, tly_db_error *err) TLY_NONNULL(1, 5, 7);

#endif
