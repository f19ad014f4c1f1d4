/* report.fcgi's endpoints (api.md section 2): GET /v1/properties/{id}/{report}, answered as JSON
 * or CSV from the rollups and raw events (report_sql.h). */
#ifndef TLY_REPORT_H
#define TLY_REPORT_H
#include "first.h"
#include "db.h"
#include "io.h"
#include "resp.h"

/* Server settings for report.fcgi's connection (tly_db_set_options). Report statements are
 * built per request and run once: JIT compilation costs more than it saves on them (it was a
 * third of an overview's time), and the distinct-visitor sorts of a day's raw events fit in
 * memory with a larger work_mem. */
#define TLY_REPORT_DB_OPTIONS "-c jit=off -c work_mem=32MB"

/* Answers one request on db. */
void tly_report_serve(tly_db *db, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);

#endif
