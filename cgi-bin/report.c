/* report.fcgi: the reporting endpoints. Routes a request to lib/report and answers; one request
 * at a time per process (the web server runs several). Also runs as a plain CGI program. */
#include "first.h"
#include "conf.h"
#include "db.h"
#include "events_store.h"
#include "io.h"
#include "log.h"
#include "metrics.h"
#include "property.h"
#include "report.h"
#include "resp.h"

#include <sodium.h>
#include <stdio.h>

/* What answering a request needs, kept between requests. */
typedef struct report_app {
    tly_db *db;
    tly_resp resp;
} report_app;

static void handle(void *app_, tly_req *req)
{
    report_app *app = app_;
    double started = tly_metrics_clock();
    tly_report_serve(app->db, req, &app->resp);
    if (tly_resp_send(req, &app->resp) != 0) tly_log_debug("client went away before the response");
    tly_metrics_request(app->resp.status, tly_metrics_clock() - started);
    tly_resp_reset(&app->resp);
}

int main(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "report.fcgi: libsodium failed to initialise\n");
        return 1;
    }
    tly_conf conf;
    char err[512];
    if (tly_conf_load(tly_conf_path(), &conf, err, sizeof err) != 0) {
        fprintf(stderr, "report.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    tly_log_setup("report", conf.log_level);
    if (tly_events_store_setup(&conf, err, sizeof err) != 0) {
        fprintf(stderr, "report.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    tly_metrics_open("report", tly_conf_path());
    tly_property_cache_setup(conf.key_cache_seconds);
    tly_db *db = tly_db_new(conf.database, "tally-report");
    tly_db_set_options(db, TLY_REPORT_DB_OPTIONS);
    tly_db_set_statement_timeout(db, conf.report_timeout);
    report_app app = {.db = db};
    tly_io_serve(handle, &app);
    tly_resp_free(&app.resp);
    tly_property_cache_clear();
    tly_db_free(db);
    tly_conf_free(&conf);
    return 0;
}
