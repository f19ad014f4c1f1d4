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

#include <fcgiapp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static void serve(tly_db *db, tly_req *req, tly_resp *resp, const tly_io_ops *io, void *ctx)
{
    double started = tly_metrics_clock();
    tly_req_begin(req, io, ctx);
    tly_report_serve(db, req, resp);
    if (tly_resp_send(req, resp) != 0) tly_log_debug("client went away before the response");
    tly_metrics_request(resp->status, tly_metrics_clock() - started);
    tly_resp_reset(resp);
    tly_req_reset(req);
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
    tly_req req = {0};
    tly_resp resp = {0};
    if (FCGX_IsCGI()) {
        serve(db, &req, &resp, &tly_io_cgi_ops, NULL);
    } else {
        /* SIGTERM (how lighttpd stops backends) ends the loop after the request in flight. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        FCGX_Init();
        FCGX_Request fr;
        FCGX_InitRequest(&fr, 0, 0);
        while (!stopping && FCGX_Accept_r(&fr) >= 0) {
            serve(db, &req, &resp, &tly_io_fcgx_ops, &fr);
            FCGX_Finish_r(&fr);
        }
        FCGX_Free(&fr, 1);
    }
    tly_req_free(&req);
    tly_resp_free(&resp);
    tly_property_cache_clear();
    tly_db_free(db);
    tly_conf_free(&conf);
    return 0;
}
