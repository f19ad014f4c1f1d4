/* track.fcgi: the ingest endpoint. Routes a request to lib/ingest and answers. As a FastCGI
 * program it serves `ingest_threads` requests at once and commits their events together; run as
 * a plain CGI program (stdin not a socket) it serves one request. */
#include "first.h"
#include "conf.h"
#include "events_store.h"
#include "ingest.h"
#include "io.h"
#include "io_loop.h"
#include "json_arena.h"
#include "log.h"
#include "metrics.h"
#include "resp.h"
#include "background.h"
#include "stripe_webhook.h"

#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define STRIPE_PREFIX "/v1/webhooks/stripe/"

static void route(tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    const char *path = tly_buf_cstr(&req->path);
    const char *method = req->method;
    if (strcmp(path, "/v1/events") == 0 || strcmp(path, "/api/event") == 0) {
        if (strcmp(method, "POST") == 0) {
            if (strcmp(path, "/api/event") == 0) tly_ingest_plausible(ing, req, resp);
            else tly_ingest_events(ing, req, resp);
        } else if (strcmp(method, "OPTIONS") == 0) {
            tly_ingest_preflight(req, resp);
        } else {
            tly_resp_header(resp, "Allow", "POST, OPTIONS");
            tly_resp_error(resp, 405, "method %s not allowed on %s; use POST", method, path);
        }
    } else if (strncmp(path, STRIPE_PREFIX, sizeof STRIPE_PREFIX - 1) == 0 && path[sizeof STRIPE_PREFIX - 1]) {
        if (strcmp(method, "POST") == 0) tly_stripe_webhook(ing, req, resp, path + sizeof STRIPE_PREFIX - 1);
        else {
            tly_resp_header(resp, "Allow", "POST");
            tly_resp_error(resp, 405, "method %s not allowed on a webhook; use POST", method);
        }
    } else if (strcmp(path, "/v1/tokens") == 0) {
        if (strcmp(method, "POST") == 0) tly_ingest_mint_token(ing, req, resp);
        else {
            tly_resp_header(resp, "Allow", "POST");
            tly_resp_error(resp, 405, "method %s not allowed on /v1/tokens; use POST", method);
        }
    } else if (strcmp(path, "/v1/metrics") == 0) {
        tly_metrics_respond(req, resp);
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

/* Answers a begun request: routes it, sends the answer, counts it. app: the tly_ingest (a
 * tly_io_handler, as the event loop calls it). */
static void answer(void *app, tly_req *req)
{
    tly_ingest *ing = app;
    double started = tly_metrics_clock();
    tly_resp resp = {0};
    route(ing, req, &resp);
    if (tly_resp_send(req, &resp) != 0) tly_log_debug("client went away before the response");
    tly_metrics_request(resp.status, tly_metrics_clock() - started);
    tly_resp_free(&resp);
}

/* Address space for the JSON values of each concurrent request (resident only as far as used): a
 * batch of 1000 events at the body limit fits. */
#define JSON_ARENA_BYTES ((size_t)16 << 20)
/* Stack of each request in flight: address space too, of which a request touches some tens of KB
 * (more under AddressSanitizer); JSON nesting is bounded before parsing (TLY_MAX_JSON_DEPTH). */
#define REQUEST_STACK_BYTES ((size_t)2 << 20)

static void *run_loop(void *loop)
{
    if (tly_io_loop_run(loop) != 0) kill(getpid(), SIGTERM);   /* cannot serve: stop, and be restarted */
    return NULL;
}

/* Waits for one of the stop signals; returns it. Meanwhile, every second, hands back to the system
 * the memory that requests freed: the allocator keeps freed pages of its heaps otherwise (and
 * each JSON arena the pages of its largest request), and the requests, each alive at a different
 * moment, would leave the resident size at the sum of their peaks. */
static int wait_for_stop(const sigset_t *stop)
{
    const struct timespec second = {1, 0};
    for (;;) {
        int sig = sigtimedwait(stop, NULL, &second);
        if (sig > 0) return sig;
        malloc_trim(0);
        tly_json_arena_trim();
    }
}

/* Serves FastCGI requests, `ingest_threads` at once, from one thread (io_loop.h) until SIGTERM
 * (how lighttpd stops backends), SIGINT or SIGUSR1; requests already read are answered and their
 * events committed. Only the group commit parks a request; a request that asks the database
 * itself (a key not yet cached, /v1/health, a webhook, a token) holds the loop for that round
 * trip: a fraction of a millisecond, or up to connect_timeout (3 s, db.c) while the database
 * cannot be reached. Threads would not do better there: every request takes the lookup
 * connection's lock (ingest.h) to resolve its key. */
static int serve_fastcgi(tly_ingest *ing, const tly_conf *conf)
{
    /* Blocked before any thread starts (the group commit's writer first), and so in all of them:
     * only sigtimedwait sees a stop signal, whose default action would end the process at once. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    size_t in_flight = (size_t)conf->ingest_threads;
    tly_json_arena_setup(in_flight, JSON_ARENA_BYTES);
    if (tly_ingest_start_concurrent(ing, "tally-track") != 0) return 1;
    /* The loop keeps as much of a body as the endpoint that reads the most could take. */
    size_t body_bytes = conf->max_body_bytes > TLY_TOKEN_MAX_BODY_BYTES ? conf->max_body_bytes
                                                                        : TLY_TOKEN_MAX_BODY_BYTES;
    tly_io_loop_settings settings = {in_flight, body_bytes, REQUEST_STACK_BYTES};
    tly_io_loop *loop = tly_io_loop_new(0, &settings, answer, ing);
    if (!loop) {
        tly_log_error("cannot serve FastCGI on fd 0 (not a listening socket?): %s", strerror(errno));
        return 1;
    }
    pthread_t loop_thread;
    if (pthread_create(&loop_thread, NULL, run_loop, loop) != 0) {
        tly_log_error("cannot start the FastCGI thread");
        tly_io_loop_free(loop);
        return 1;
    }
    tly_background *background = tly_background_start(conf->database, "tally-track-background", ing->spool, ing->geo,
                                                      conf->sessionize_interval * 1000, conf->database_timeout);
    int sig = wait_for_stop(&stop);
    tly_log_info("signal %d: finishing requests in flight", sig);
    tly_io_loop_stop(loop);
    pthread_join(loop_thread, NULL);
    tly_io_loop_free(loop);
    tly_background_stop(background);
    return 0;
}

/* track.fcgi --replay-spool: replays the spool into the database once (for cron, and for sites
 * that run track.fcgi as plain CGI, where no process stays to do it). */
static int replay_spool(tly_ingest *ing)
{
    if (!ing->spool) {
        fprintf(stderr, "track.fcgi: no spool_dir configured\n");
        return 1;
    }
    tly_db_error err = {0};
    long long n = tly_spool_replay(ing->spool, ing->db, &err);
    if (n < 0) {
        fprintf(stderr, "track.fcgi: spool kept, database error: %s\n", err.message);
        return 1;
    }
    printf("events replayed %lld\n", n);
    return 0;
}

/* track.fcgi --purge-events: deletes, in the events store, the events of deleted properties and
 * those past their property's retention (for cron: tally-cron retention). PostgreSQL's own
 * functions already do this for the postgresql store. */
static int purge_events(tly_ingest *ing)
{
    const tly_events_store_ops *store = tly_events_store();
    if (!store->purge) {
        printf("events purged 0 (the %s store purges in tally-cron retention)\n", store->name);
        return 0;
    }
    tly_db_error err = {0};
    long long n;
    if (store->purge(ing->db, &n, &err) != 0) {
        fprintf(stderr, "track.fcgi: purging events failed: %s\n", err.message);
        return 1;
    }
    printf("events purged %lld\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    /* glibc gives each thread that allocates an arena of its own. One is enough (requests run on
     * one thread; the group commit's writer and the background thread allocate little), and keeps
     * the resident size down: the requests and commits reuse the same freed memory. */
    mallopt(M_ARENA_MAX, 1);
    bool replay = argc == 2 && strcmp(argv[1], "--replay-spool") == 0;
    bool purge = argc == 2 && strcmp(argv[1], "--purge-events") == 0;
    if (argc > 1 && !replay && !purge) {
        fprintf(stderr, "usage: track.fcgi [--replay-spool | --purge-events]   (as FastCGI or CGI: no arguments)\n");
        return 2;
    }
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
    tly_metrics_open("track", tly_conf_path());
    tly_ingest ing;
    if (tly_ingest_open(&ing, &conf, "tally-track", err, sizeof err) != 0) {
        fprintf(stderr, "track.fcgi: %s\n", err);
        tly_conf_free(&conf);
        return 1;
    }
    int rc = 0;
    if (replay) {
        rc = replay_spool(&ing);
    } else if (purge) {
        rc = purge_events(&ing);
    } else if (FCGX_IsCGI()) {
        tly_json_arena_setup(1, JSON_ARENA_BYTES);
        tly_req req = {0};
        tly_req_begin(&req, &tly_io_cgi_ops, NULL);
        answer(&ing, &req);
        tly_req_free(&req);
    } else {
        rc = serve_fastcgi(&ing, &conf);
    }
    tly_ingest_close(&ing);
    tly_conf_free(&conf);
    return rc;
}
