/* admin.fcgi: the JSON API under /admin/api/ that the dashboard uses (lib/admin.h). One request
 * at a time per process; also runs as a plain CGI program. */
#include "first.h"
#include "admin.h"
#include "conf.h"
#include "io.h"
#include "log.h"
#include "metrics.h"
#include "resp.h"

#include <sodium.h>
#include <stdio.h>

/* What answering a request needs, kept between requests. */
typedef struct admin_app {
    tly_admin *adm;
    tly_resp resp;
} admin_app;

static void handle(void *app_, tly_req *req)
{
    admin_app *app = app_;
    double started = tly_metrics_clock();
    tly_admin_serve(app->adm, req, &app->resp);
    tly_metrics_request(app->resp.status, tly_metrics_clock() - started);
    tly_resp_reset(&app->resp);
}

int main(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "admin.fcgi: libsodium failed to initialise\n");
        return 1;
    }
    tly_conf conf;
    char err[512];
    if (tly_conf_load(tly_conf_path(), &conf, err, sizeof err) != 0) {
        fprintf(stderr, "admin.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    tly_log_setup("admin", conf.log_level);
    tly_metrics_open("admin", tly_conf_path());
    tly_admin *adm = tly_admin_new(&conf, err, sizeof err);
    if (!adm) {
        fprintf(stderr, "admin.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    admin_app app = {.adm = adm};
    tly_io_serve(handle, &app);
    tly_resp_free(&app.resp);
    tly_admin_free(adm);
    tly_conf_free(&conf);
    return 0;
}
