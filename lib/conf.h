/* tally.conf: one "key = value" per line, '#' starts a comment. Read once at program start;
 * a missing required setting, an unknown key or a bad value stops the program with a message
 * naming the setting. The path is $TALLY_CONF, else SYSCONFDIR/tally/tally.conf. */
#ifndef TLY_CONF_H
#define TLY_CONF_H
#include "first.h"
#include "log.h"
#include <stddef.h>

/* Where events are stored (events_store.h). */
typedef enum { TLY_EVENTS_POSTGRESQL = 0, TLY_EVENTS_CLICKHOUSE } tly_events_store_kind;

typedef struct tly_conf {
    char *database;           /* libpq connection string (required) */
    char *geoip_database;     /* path of a MaxMind DB, or NULL: no geolocation */
    char *trusted_proxies;    /* addresses/CIDRs whose X-Forwarded-For is believed; "" none */
    int session_timeout;      /* seconds, default for properties that set none */
    size_t max_body_bytes;
    int max_batch_events;
    int key_cache_seconds;    /* how long a key lookup is remembered (revocation delay) */
    int ingest_threads;       /* concurrent requests per track.fcgi process (group commit) */
    int database_timeout;     /* seconds a statement of ingest and the admin API may take; 0: no limit */
    int report_timeout;       /* seconds a report's statement may take; 0: no limit */
    int sessionize_interval;  /* seconds between track.fcgi's sessioniser runs; 0: cron only */
    double rate_limit_key;     /* requests per second per write key (burst: twice that); 0: none */
    double rate_limit_address; /* requests per second per client address; 0: none */
    char *spool_dir;          /* where events wait while the database is unreachable; NULL: no spool */
    size_t spool_max_bytes;   /* beyond this the spool is full and ingest answers 503 */
    tly_log_level log_level;
    tly_events_store_kind events_store;   /* default postgresql */
    char *clickhouse_url;      /* HTTP interface of the ClickHouse node to talk to; NULL: unset */
    char *clickhouse_database; /* the database holding the events tables (default "tally") */
    char *clickhouse_shards;   /* space-separated HTTP URLs of every shard node, for deletions;
                                * NULL: clickhouse_url alone */
} tly_conf;

/* The path to read: $TALLY_CONF when set, else the installed default. */
const char *tly_conf_path(void);
/* Loads path into conf (defaults first). 0 ok; -1 with a message naming the file, line and
 * setting in err. conf is freed by tly_conf_free either way. */
int tly_conf_load(const char *path, tly_conf *conf, char *err, size_t errlen) TLY_MUST_CHECK;
/* Same, from text in memory (used by tests). */
int tly_conf_parse(const char *text, size_t len, const char *origin, tly_conf *conf, char *err,
                   size_t errlen) TLY_MUST_CHECK;
void tly_conf_free(tly_conf *conf);

#endif
