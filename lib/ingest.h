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
#include "quota.h"
#include "ratelimit.h"
#include "resp.h"

#include <pthread.h>

typedef struct tly_ingest {
    const tly_conf *conf;
    tly_db *db;
    tly_cidr_list *trusted_proxies;
    tly_geo *geo;            /* NULL: no geolocation configured */
    /* Requests may be served by several threads. The lock guards the lookup connection and the
     * caches; it is released while a request waits for its rows to be committed. */
    pthread_mutex_t lock;
    tly_batcher *batcher;    /* NULL: each request commits on its own (plain CGI) */
    tly_spool *spool;        /* NULL: no spool (spool_dir unset) */
    tly_ratelimit *key_limit;       /* NULL: no limit */
    tly_ratelimit *address_limit;   /* NULL: no limit */
    tly_quota *quota;
} tly_ingest;

/* Sets up everything ingest needs from the configuration (database handle, proxies, GeoIP,
 * UA and bot tables). 0 ok; -1 with a message naming the setting. */
int tly_ingest_open(tly_ingest *ing, const tly_conf *conf, const char *program, char *err,
                    size_t errlen) TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
void tly_ingest_close(tly_ingest *ing) TLY_NONNULL(1);
/* Switches to group commit (batcher.h): the rows of concurrent requests are stored together,
 * on a connection of their own. 0 ok, -1 when it cannot be set up. */
int tly_ingest_start_group_commit(tly_ingest *ing, const char *program) TLY_NONNULL(1, 2) TLY_MUST_CHECK;

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
