/* POST /v1/events: from a request to stored, deduplicated, sessionised events and a 202 that
 * says what happened to each one. Also the CORS preflight and the health check of track.fcgi. */
#ifndef TLY_INGEST_H
#define TLY_INGEST_H
#include "first.h"
#include "batcher.h"
#include "clientip.h"
#include "conf.h"
#include "db.h"
#include "geo.h"
#include "io.h"
#include "offload.h"
#include "quota.h"
#include "ratelimit.h"
#include "resp.h"

typedef struct tly_ingest {
    const tly_conf *conf;
    tly_db *db;
    tly_cidr_list *trusted_proxies;
    tly_geo *geo;            /* NULL: no geolocation configured */
    tly_batcher *batcher;    /* NULL: each request commits on its own (plain CGI) */
    tly_spool *spool;        /* NULL: no spool (spool_dir unset) */
    tly_ratelimit *key_limit;       /* NULL: no limit */
    tly_ratelimit *address_limit;   /* NULL: no limit */
    tly_quota *quota;
    tly_offload *offload;    /* runs the lookup connection's statements; NULL: plain CGI */
} tly_ingest;

/* Sets up everything ingest needs from the configuration (database handle, proxies, GeoIP,
 * UA and bot tables). 0 ok; -1 with a message naming the setting. */
int tly_ingest_open(tly_ingest *ing, const tly_conf *conf, const char *program, char *err,
                    size_t errlen) TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
void tly_ingest_close(tly_ingest *ing) TLY_NONNULL(1);
/* Prepares for requests served concurrently, each in a fiber on one thread (io_loop.h): the rows
 * of concurrent requests are stored together by group commit (batcher.h), on a connection of its
 * own, and the statements of the lookup connection (keys, salts, quotas, health) run on a helper
 * thread while their request is parked (offload.h), so that a request waiting for the database
 * holds up no other. The caches and memos belong to the requests' thread: every handler below
 * runs on it (or, without this call, in a plain CGI process of one request). 0 ok, -1 when it
 * cannot be set up. */
int tly_ingest_start_concurrent(tly_ingest *ing, const char *program) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Stores one job durably: by group commit, or on the lookup connection without it (plain CGI). */
int tly_ingest_store(tly_ingest *ing, tly_store_job *job, tly_db_error *err) TLY_NONNULL(1, 2, 3)
    TLY_MUST_CHECK;

void tly_ingest_events(tly_ingest *ing, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);
/* POST /api/event: Plausible's Events API body; answers 202 "ok". */
void tly_ingest_plausible(tly_ingest *ing, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);
void tly_ingest_preflight(tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2);
/* The largest body POST /v1/tokens reads. */
#define TLY_TOKEN_MAX_BODY_BYTES 4096
/* POST /v1/tokens: mints a signed browser token (browser_token.h) for the read key's property. */
void tly_ingest_mint_token(tly_ingest *ing, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);
void tly_ingest_health(tly_ingest *ing, tly_resp *resp) TLY_NONNULL(1, 2);

#endif
