/* report.fcgi's endpoints (api.md section 2): GET /v1/properties/{id}/{report}, answered as JSON
 * or CSV from the rollups and raw events (report_sql.h). */
#ifndef TLY_REPORT_H
#define TLY_REPORT_H
#include "first.h"
#include "db.h"
#include "io.h"
#include "resp.h"

/* Answers one request on db. */
void tly_report_serve(tly_db *db, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);

#endif
