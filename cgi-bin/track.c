/* track.fcgi: the ingest endpoint. Routes a request to lib/ingest and answers; runs as a
 * long-lived FastCGI process, or once as a plain CGI program when stdin is not a socket. */
#include "first.h"
#include "conf.h"
#include "ingest.h"
#include "io.h"
#include "log.h"
#include "resp.h"

#include <fcgiapp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void route(tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    const char *path = tly_buf_cstr(&req->path);
    const char *method = req->method;
    if (strcmp(path, "/v1/events") == 0) {
        if (strcmp(method, "POST") == 0) tly_ingest_events(ing, req, resp);
        else if (strcmp(method, "OPTIONS") == 0) tly_ingest_preflight(req, resp);
        else {
            tly_resp_header(resp, "Allow", "POST, OPTIONS");
            tly_resp_error(resp, 405, "method %s not allowed on /v1/events; use POST", method);
        }
    } else if (strcmp(path, "/api/event") == 0) {
        if (strcmp(method, "POST") == 0) tly_ingest_plausible(ing, req, resp);
        else if (strcmp(method, "OPTIONS") == 0) tly_ingest_preflight(req, resp);
        else {
            tly_resp_header(resp, "Allow", "POST, OPTIONS");
            tly_resp_error(resp, 405, "method %s not allowed on /api/event; use POST", method);
        }
    } else if (strcmp(path, "/v1/health") == 0) {
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) tly_ingest_health(ing, resp);
        else {
            tly_resp_header(resp, "Allow", "GET, HEAD");
            tly_resp_error(resp, 405, "method %s not allowed on /v1/health; use GET", method);
        }
    } else {
        tly_resp_error(resp, 404, "no such endpoint: %s", path);
    }
}

static void serve(tly_ingest *ing, tly_req *req, tly_resp *resp, const tly_io_ops *io, void *ctx)
{
    tly_req_begin(req, io, ctx);
    route(ing, req, resp);
    if (tly_resp_send(req, resp) != 0) tly_log_debug("client went away before the response");
    tly_resp_reset(resp);
    tly_req_reset(req);
}

int main(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "track.fcgi: libsodium failed to initialise\n");
        return 1;
    }
    tly_conf conf;
    char err[512];
    if (tly_conf_load(tly_conf_path(), &conf, err, sizeof err) != 0) {
        fprintf(stderr, "track.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    tly_log_setup("track", conf.log_level);
    tly_ingest ing;
    if (tly_ingest_open(&ing, &conf, "tally-track", err, sizeof err) != 0) {
        fprintf(stderr, "track.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }

    tly_req req = {0};
    tly_resp resp = {0};
    if (FCGX_IsCGI()) {
        serve(&ing, &req, &resp, &tly_io_cgi_ops, NULL);
    } else {
        FCGX_Init();
        FCGX_Request fr;
        FCGX_InitRequest(&fr, 0, 0);
        /* FCGX_Init's handlers make accept return on SIGTERM/SIGUSR1, ending the loop cleanly. */
        while (FCGX_Accept_r(&fr) == 0) {
            serve(&ing, &req, &resp, &tly_io_fcgx_ops, &fr);
            FCGX_Finish_r(&fr);
        }
        FCGX_Free(&fr, 1);
    }
    tly_req_free(&req);
    tly_resp_free(&resp);
    tly_ingest_close(&ing);
    tly_conf_free(&conf);
    return 0;
}
