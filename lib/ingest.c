#include "first.h"
#include "ingest.h"
#include "json_arena.h"
#include "bot.h"
#include "envelope.h"
#include "events_store.h"
#include "plausible.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "property.h"
#include "referrer.h"
#include "salt.h"
#include "timeparse.h"
#include "ua.h"
#include "visitor.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_AFTER_SECONDS "30"
#define DIRECT_SOURCE "Direct / None"

static const tly_db_stmt stmt_health = {"health", "SELECT 1", 0};

int tly_ingest_open(tly_ingest *ing, const tly_conf *conf, const char *program, char *err,
                    size_t errlen)
{
    memset(ing, 0, sizeof *ing);
    ing->conf = conf;
    char why[200] = "";
    ing->trusted_proxies = tly_cidr_list_parse(conf->trusted_proxies, why, sizeof why);
    if (!ing->trusted_proxies) {
        snprintf(err, errlen, "setting 'trusted_proxies': %s", why);
        return -1;
    }
    if (conf->geoip_database) {
        ing->geo = tly_geo_open(conf->geoip_database, why, sizeof why);
        if (!ing->geo) {
            snprintf(err, errlen, "setting 'geoip_database': %s", why);
            tly_ingest_close(ing);
            return -1;
        }
    }
    if (tly_events_store_setup(conf, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s", why);
        tly_ingest_close(ing);
        return -1;
    }
    if (tly_ua_init() != 0 || tly_bot_init() != 0) {
        snprintf(err, errlen, "cannot compile the user-agent and bot tables");
        tly_ingest_close(ing);
        return -1;
    }
    if (conf->spool_dir) {
        ing->spool = tly_spool_open(conf->spool_dir, conf->spool_max_bytes, why, sizeof why);
        if (!ing->spool) {
            snprintf(err, errlen, "setting 'spool_dir': %s", why);
            tly_ingest_close(ing);
            return -1;
        }
    }
    /* Buckets for a few thousand busy senders at once; beyond that they share. */
    if (conf->rate_limit_key > 0)
        ing->key_limit = tly_ratelimit_new(conf->rate_limit_key, 2 * conf->rate_limit_key, 1024);
    if (conf->rate_limit_address > 0)
        ing->address_limit = tly_ratelimit_new(conf->rate_limit_address, 2 * conf->rate_limit_address, 8192);
    ing->quota = tly_quota_new();
    ing->db = tly_db_new(conf->database, program);
    tly_db_set_answer_timeout(ing->db, conf->database_timeout);
    tly_property_cache_setup(conf->key_cache_seconds);
    return 0;
}

/* At most this many requests share one transaction. */
#define GROUP_MAX_JOBS 256

int tly_ingest_start_concurrent(tly_ingest *ing, const char *program)
{
    char name[64];
    snprintf(name, sizeof name, "%s-writer", program);
    ing->batcher = tly_batcher_start(ing->conf->database, name, GROUP_MAX_JOBS, ing->conf->database_timeout,
                                     ing->spool);
    ing->offload = tly_offload_start();
    if (!ing->batcher || !ing->offload) return -1;
    tly_db_set_runner(ing->db, tly_offload_run, ing->offload);
    tly_quota_set_runner(ing->quota, tly_offload_run, ing->offload);   /* ClickHouse's count too */
    return 0;
}

void tly_ingest_close(tly_ingest *ing)
{
    tly_batcher_stop(ing->batcher);
    tly_offload_stop(ing->offload);
    tly_spool_close(ing->spool);
    tly_ratelimit_free(ing->key_limit);
    tly_ratelimit_free(ing->address_limit);
    tly_quota_free(ing->quota);
    tly_db_free(ing->db);
    tly_geo_close(ing->geo);
    tly_cidr_list_free(ing->trusted_proxies);
    tly_ua_shutdown();
    tly_bot_shutdown();
    tly_salt_forget_all();
    tly_property_cache_clear();
    memset(ing, 0, sizeof *ing);
}

/* --- CORS ---------------------------------------------------------------------------------- */

static void allow_origin(const tly_req *req, tly_resp *resp)
{
    const char *origin = tly_req_param(req, "HTTP_ORIGIN");
    if (!origin || !*origin || strlen(origin) > TLY_MAX_HEADER_VALUE_LEN) return;
    tly_resp_header(resp, "Access-Control-Allow-Origin", origin);
    tly_resp_header(resp, "Vary", "Origin");
}

void tly_ingest_preflight(tly_req *req, tly_resp *resp)
{
    /* The preflight carries no key, so it cannot know the property: it allows the request, and
     * the POST itself is checked against the property's allowed origins. */
    allow_origin(req, resp);
    tly_resp_header(resp, "Access-Control-Allow-Methods", "POST, OPTIONS");
    tly_resp_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Write-Key");
    tly_resp_header(resp, "Access-Control-Max-Age", "86400");
    resp->status = 204;
}

/* --- request checks ------------------------------------------------------------------------ */

static bool content_type_accepted(const char *ct)
{
    if (!ct) return false;
    size_t n = strcspn(ct, "; \t");
    return (n == 16 && strncasecmp(ct, "application/json", n) == 0) ||
           (n == 10 && strncasecmp(ct, "text/plain", n) == 0);
}

/* The write key from Authorization: Bearer, X-Write-Key or ?key=, in that order. */
static bool find_write_key(const tly_req *req, tly_buf *key)
{
    const char *auth = tly_req_param(req, "HTTP_AUTHORIZATION");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *k = auth + 7;
        while (*k == ' ') k++;
        tly_buf_append_str(key, k);
    } else if ((auth = tly_req_param(req, "HTTP_X_WRITE_KEY")) && *auth) {
        tly_buf_append_str(key, auth);
    } else {
        tly_req_query_param(req, "key", key);
    }
    return key->len > 0 && key->len <= 256;
}

static void database_unavailable(tly_resp *resp, const tly_db_error *dberr)
{
    tly_log_error("database error: %s", dberr->message);
    tly_resp_header(resp, "Retry-After", RETRY_AFTER_SECONDS);
    tly_resp_error(resp, 503, "database unavailable; retry later");
}

/* --- limits -------------------------------------------------------------------------------- */

static void too_many(tly_resp *resp, int wait_seconds, const char *what)
{
    char after[16];
    snprintf(after, sizeof after, "%d", wait_seconds);
    tly_resp_header(resp, "Retry-After", after);
    tly_resp_error(resp, 429, "%s; retry in %d s", what, wait_seconds);
}

/* The client address as ingest sees it (REMOTE_ADDR or the trusted proxies' X-Forwarded-For). */
static void client_address(const tly_ingest *ing, const tly_req *req, char ip[46])
{
    const char *remote = tly_req_param(req, "REMOTE_ADDR");
    if (tly_clientip_resolve(remote ? remote : "", tly_req_param(req, "HTTP_X_FORWARDED_FOR"),
                             ing->trusted_proxies, ip) != 0)
        snprintf(ip, 46, "0.0.0.0");
}

/* Rate limits per client address and, when given, per write key. 0 ok, -1 answered 429. */
static int within_rate_limits(tly_ingest *ing, const char *ip, tly_resp *resp, const char *key, int64_t now_ms)
{
    int wait;
    if (ing->address_limit) {
        if ((wait = tly_ratelimit_take(ing->address_limit, tly_ratelimit_key(ip, strlen(ip)), now_ms)) > 0) {
            too_many(resp, wait, "rate limit: too many requests from this address");
            return -1;
        }
    }
    if (key && ing->key_limit &&
        (wait = tly_ratelimit_take(ing->key_limit, tly_ratelimit_key(key, strlen(key)), now_ms)) > 0) {
        too_many(resp, wait, "rate limit: too many requests with this write key");
        return -1;
    }
    return 0;
}

/* --- enrichment ---------------------------------------------------------------------------- */

/* What is known about the sender of the request, computed once for all its events. The address
 * and user agent live only in memory, for hashing and lookups. */
typedef struct sender {
    char ip[46];
    const char *ua;
    size_t ua_len;
    tly_ua_info ua_info;
    tly_geo_result geo;
    bool is_bot;
    bool gpc;
    int32_t today;
} sender;

/* The sender from an address and a user agent (borrowed: ua must outlive s). */
static void sender_set(sender *s, tly_ingest *ing, const char *ip, const char *ua, bool gpc, int64_t now_ms)
{
    memset(s, 0, sizeof *s);
    snprintf(s->ip, sizeof s->ip, "%s", ip);
    s->ua = ua ? ua : "";
    s->ua_len = strlen(s->ua);
    size_t parse_len = s->ua_len > TLY_MAX_UA_LEN ? TLY_MAX_UA_LEN : s->ua_len;
    s->is_bot = tly_bot_match(s->ua, parse_len);
    if (!s->is_bot) tly_ua_parse(s->ua, parse_len, &s->ua_info);
    if (!s->is_bot) tly_geo_lookup(ing->geo, s->ip, &s->geo);
    s->gpc = gpc;
    s->today = tly_time_day_of_ms(now_ms);
}

static void sender_init(sender *s, tly_ingest *ing, const tly_req *req, const char *ip, int64_t now_ms)
{
    const char *gpc = tly_req_param(req, "HTTP_SEC_GPC");
    sender_set(s, ing, ip, tly_req_param(req, "HTTP_USER_AGENT"), gpc && strcmp(gpc, "1") == 0, now_ms);
}

/* The salt of `day` (made if missing; today's when that day's cannot be had) and, when it exists,
 * the previous day's. The salts are cached per process. 0, or -1 on database error. */
static int day_salts(tly_ingest *ing, int32_t day, int32_t today, uint8_t salt[TLY_SALT_BYTES],
                     uint8_t prev[TLY_SALT_BYTES], bool *have_prev, tly_db_error *err)
{
    int rc = -1;
    int found = tly_salt_get(ing->db, day, today, true, salt, err);
    if (found == 0) found = tly_salt_get(ing->db, today, today, true, salt, err);
    if (found == 0) snprintf(err->message, sizeof err->message, "no salt for today could be made");
    if (found == 1) {
        found = tly_salt_get(ing->db, day - 1, today, false, prev, err);
        *have_prev = found == 1;
        rc = found < 0 ? -1 : 0;
    }
    return rc;
}

/* The daily visitor hash, and the same person's hash under the previous day's salt (so a visit
 * can continue across midnight). -1 on database error. */
static int visitor_hashes(tly_ingest *ing, const tly_property *prop, const sender *s,
                          const tly_event *ev, json_t *row, tly_db_error *err)
{
    if (ev->visitor_id) {
        json_object_set_new_nocheck(row, "visitor", json_integer(tly_visitor_hash_client_id(
            prop->visitor_key, "visitor", prop->id, ev->visitor_id, strlen(ev->visitor_id))));
        return 0;
    }
    int32_t day = tly_time_day_of_ms(ev->ts_ms);
    /* Salts older than yesterday no longer exist: late events are counted under today's. */
    if (day < s->today - 1) day = s->today;
    uint8_t salt[TLY_SALT_BYTES], prev[TLY_SALT_BYTES];
    bool have_prev = false;
    int rc = day_salts(ing, day, s->today, salt, prev, &have_prev, err);
    if (rc == 0) {
        json_object_set_new_nocheck(row, "visitor", json_integer(tly_visitor_hash(salt, prop->id, s->ip, s->ua, s->ua_len)));
        if (have_prev)
            json_object_set_new_nocheck(row, "prev_visitor",
                                json_integer(tly_visitor_hash(prev, prop->id, s->ip, s->ua, s->ua_len)));
    }
    sodium_memzero(salt, sizeof salt);
    sodium_memzero(prev, sizeof prev);
    return rc;
}

static void set_text(json_t *row, const char *key, const char *value)
{
    if (value && *value) json_object_set_new_nocheck(row, key, json_string(value));
}

/* An id for an event sent without one (api.md: the server assigns it). Random, so the client's
 * retries are not recognised; but a commit that is retried or spooled and replayed by the server
 * is stored once. */
static json_t *server_event_id(void)
{
    unsigned char id[16];
    char hex[2 * sizeof id + 1], text[48];
    randombytes_buf(id, sizeof id);
    sodium_bin2hex(hex, sizeof hex, id, sizeof id);
    snprintf(text, sizeof text, "srv-%s", hex);
    return json_string(text);
}

/* The row handed to tally_ingest(): the event's own fields plus what the sender tells. Its members
 * are named by ASCII literals here and in the functions above, so their keys are set without
 * Jansson's UTF-8 check (the _nocheck calls); the values are still checked. */
static json_t *event_row(const tly_event *ev, const sender *s)
{
    json_t *row = json_object();
    json_object_set_new_nocheck(row, "event_id", ev->event_id ? json_string(ev->event_id) : server_event_id());
    json_object_set_new_nocheck(row, "ts_ms", json_integer(ev->ts_ms));
    json_object_set_new_nocheck(row, "name", json_string(ev->name));
    set_text(row, "hostname", ev->hostname);
    set_text(row, "path", ev->path);
    set_text(row, "query", ev->query);
    set_text(row, "title", ev->title);
    set_text(row, "referrer", ev->referrer);
    set_text(row, "utm_source", ev->utm_source);
    set_text(row, "utm_medium", ev->utm_medium);
    set_text(row, "utm_campaign", ev->utm_campaign);
    set_text(row, "utm_term", ev->utm_term);
    set_text(row, "utm_content", ev->utm_content);
    set_text(row, "campaign_id", ev->campaign_id);

    tly_buf source = {0};
    if (*ev->utm_source) tly_buf_append_str(&source, ev->utm_source);
    else if (!tly_referrer_source(ev->referrer, strlen(ev->referrer), ev->hostname,
                                  strlen(ev->hostname), &source))
        tly_buf_append_str(&source, DIRECT_SOURCE);
    json_object_set_new_nocheck(row, "source", json_string(tly_buf_cstr(&source)));
    tly_buf_free(&source);

    set_text(row, "country", s->geo.country);
    set_text(row, "region", s->geo.region);
    set_text(row, "city", s->geo.city);
    set_text(row, "device", s->ua_info.device);
    set_text(row, "browser", s->ua_info.browser);
    set_text(row, "browser_version", s->ua_info.browser_version);
    set_text(row, "os", s->ua_info.os);
    set_text(row, "os_version", s->ua_info.os_version);
    if (ev->screen_width >= 0) json_object_set_new_nocheck(row, "screen_width", json_integer(ev->screen_width));
    set_text(row, "user_id_hash", ev->user_id_hash);
    set_text(row, "visit_token", ev->visit_token);
    json_object_set_new_nocheck(row, "interactive", json_boolean(ev->interactive));
    if (ev->revenue_amount) {
        json_object_set_new_nocheck(row, "revenue_amount", json_string(ev->revenue_amount));
        json_object_set_new_nocheck(row, "revenue_currency", json_string(ev->revenue_currency));
    }
    if (ev->props) json_object_set_nocheck(row, "props", ev->props);
    return row;
}

/* --- the endpoint -------------------------------------------------------------------------- */

typedef struct outcome {
    int rejected, duplicates, filtered, stored;
    json_t *errors;
} outcome;

static void reject(outcome *o, size_t index, json_t *event, const char *message)
{
    json_t *item = json_pack("{s:I, s:s}", "index", (json_int_t)index, "error", message);
    json_t *id = json_is_object(event) ? json_object_get(event, "event_id") : NULL;
    if (json_is_string(id)) json_object_set(item, "event_id", id);
    json_array_append_new(o->errors, item);
    o->rejected++;
}

/* Appends one valid event to `batch`, enriched, unless it is to be dropped on purpose (bots,
 * GPC opt-out, excluded paths, and senders whose address the property excludes: the caller
 * decides that once per sender, as tly_property_address_excluded). -1 on database error. */
static int enrich_into_batch(tly_ingest *ing, const tly_property *prop, const sender *s, bool address_excluded,
                             const tly_event *ev, json_t *batch, outcome *o, tly_db_error *dberr)
{
    if (s->is_bot || (s->gpc && prop->drop_gpc) || address_excluded || tly_property_path_excluded(prop, ev->path)) {
        o->filtered++;
        return 0;
    }
    json_t *row = event_row(ev, s);
    if (ev->session_id)
        json_object_set_new_nocheck(row, "session_key", json_integer(tly_visitor_hash_client_id(
            prop->visitor_key, "session", prop->id, ev->session_id, strlen(ev->session_id))));
    if (visitor_hashes(ing, prop, s, ev, row, dberr) != 0) {
        json_decref(row);
        return -1;
    }
    json_array_append_new(batch, row);
    return 0;
}

/* Validates and enriches every event into `batch`; counts rejections and deliberate drops. A
 * server key's events may name the end user (context.client): they are enriched as that user's. */
static int build_batch(tly_ingest *ing, const tly_envelope *env, const tly_property *prop, const sender *s,
                       bool server_key, int64_t now_ms, json_t *batch, outcome *o, tly_db_error *dberr)
{
    size_t n = json_array_size(env->events);
    bool excluded = tly_property_address_excluded(prop, s->ip);
    for (size_t i = 0; i < n; i++) {
        tly_event ev;
        char why[256];
        if (tly_event_parse(env, i, now_ms, &ev, why, sizeof why) != 0) {
            reject(o, i, json_array_get(env->events, i), why);
            continue;
        }
        if (ev.client_ip && !server_key) {
            reject(o, i, json_array_get(env->events, i),
                   "context.client: only server keys (sk_...) may send the end user's address and user agent");
            tly_event_clear(&ev);
            continue;
        }
        int rc;
        if (ev.client_ip) {
            sender user;
            sender_set(&user, ing, ev.client_ip, ev.client_ua, s->gpc, now_ms);
            rc = enrich_into_batch(ing, prop, &user, tly_property_address_excluded(prop, user.ip), &ev, batch, o,
                                   dberr);
            sodium_memzero(&user, sizeof user);
        } else {
            rc = enrich_into_batch(ing, prop, s, excluded, &ev, batch, o, dberr);
        }
        tly_event_clear(&ev);
        if (rc != 0) return -1;
    }
    return 0;
}

int tly_ingest_store(tly_ingest *ing, tly_store_job *job, tly_db_error *err)
{
    if (ing->batcher) return tly_batcher_store(ing->batcher, job, err);
    tly_store_job *jobs[] = {job};
    return tly_store_durably(ing->db, ing->spool, jobs, 1, err);
}

static int store_batch(tly_ingest *ing, const tly_property *prop, json_t *batch, outcome *o,
                       tly_db_error *dberr)
{
    if (json_array_size(batch) == 0) return 0;
    tly_store_job job = {prop->pk, batch, 0, 0};
    if (tly_ingest_store(ing, &job, dberr) != 0) return -1;
    o->stored += job.stored;
    o->duplicates += job.sent - job.stored;
    return 0;
}

/* Seconds to wait before the property's daily quota lets `events` more through; 0: go ahead. */
static int quota_wait(tly_ingest *ing, const tly_property *prop, long long events, int64_t now_ms)
{
    return tly_quota_check(ing->quota, ing->db, prop->pk, prop->event_quota_daily, events, now_ms);
}

/* Counts stored events against the property's daily quota, if it has one. */
static void count_quota(tly_ingest *ing, const tly_property *prop, int stored)
{
    if (prop->event_quota_daily <= 0 || stored == 0) return;
    tly_quota_add(ing->quota, prop->pk, stored);
}

/* What became of a request's events, for /v1/metrics. */
static void count_outcome(const outcome *o)
{
    tly_metrics_add(TLY_METRIC_EVENTS_STORED, (uint64_t)o->stored);
    tly_metrics_add(TLY_METRIC_EVENTS_DUPLICATE, (uint64_t)o->duplicates);
    tly_metrics_add(TLY_METRIC_EVENTS_FILTERED, (uint64_t)o->filtered);
    tly_metrics_add(TLY_METRIC_EVENTS_REJECTED, (uint64_t)o->rejected);
}

/* The 202 body, printed here: json_pack and json_dumps of its five members took 2.8 µs in a tight
 * loop, and a single-event request's profile showed 6% of track.fcgi's time in them (json_dumps
 * keeps a hashtable of the containers it is in, to refuse cycles). Only a non-empty error list
 * goes through Jansson. */
static void answer(tly_resp *resp, const outcome *o)
{
    tly_buf text = {0};
    tly_buf_append_str(&text, "{\"accepted\":");
    tly_buf_append_int(&text, o->stored + o->duplicates + o->filtered);
    tly_buf_append_str(&text, ",\"rejected\":");
    tly_buf_append_int(&text, o->rejected);
    tly_buf_append_str(&text, ",\"duplicates\":");
    tly_buf_append_int(&text, o->duplicates);
    tly_buf_append_str(&text, ",\"filtered\":");
    tly_buf_append_int(&text, o->filtered);
    tly_buf_append_str(&text, ",\"errors\":");
    char *errors = json_array_size(o->errors) ? json_dumps(o->errors, JSON_COMPACT) : NULL;
    tly_buf_append_str(&text, errors ? errors : "[]");
    tly_json_free(errors);
    tly_buf_append_char(&text, '}');
    tly_resp_json_text(resp, 202, text.ptr, text.len);
    tly_buf_free(&text);
}

/* The body of either ingest endpoint: JSON sent as application/json or text/plain (what
 * sendBeacon and no-preflight fetch can send), within the body limit. 0, or -1 answered. */
static int read_body(const tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    if (!content_type_accepted(tly_req_param(req, "CONTENT_TYPE"))) {
        tly_resp_error(resp, 415, "Content-Type must be application/json or text/plain");
        return -1;
    }
    tly_body_error berr;
    if (tly_req_read_body(req, ing->conf->max_body_bytes, &berr) != 0) {
        tly_resp_error(resp, berr.status, "%s", berr.message);
        return -1;
    }
    return 0;
}

/* Checks that do not need the database: content type, body, key presence, envelope. */
static int read_request(tly_ingest *ing, tly_req *req, tly_resp *resp, tly_buf *key,
                        tly_envelope *env)
{
    if (read_body(ing, req, resp) != 0) return -1;
    if (!find_write_key(req, key)) {
        tly_resp_error(resp, 401, "missing write key: send 'Authorization: Bearer <key>', 'X-Write-Key: <key>' or '?key=<key>'");
        return -1;
    }
    tly_envelope_error eerr;
    if (tly_envelope_parse(tly_buf_cstr(&req->body), req->body.len,
                           ing->conf->max_batch_events, env, &eerr) != 0) {
        tly_resp_error(resp, eerr.status, "%s", eerr.message);
        return -1;
    }
    return 0;
}

/* Resolves the key to its property and checks the property and the browser's origin. */
static int authorise(tly_ingest *ing, const tly_req *req, tly_resp *resp, const char *key,
                     const tly_envelope *env, tly_property *prop, bool *server_key)
{
    tly_db_error dberr;
    const char *origin = tly_req_param(req, "HTTP_ORIGIN");
    bool token = tly_token_is(key);
    /* Server keys (sk_...) are write keys that may also name the end user of each event. */
    *server_key = strncmp(key, "sk_", 3) == 0;
    tly_token_status why = TLY_TOKEN_OK;
    tly_key_status status = token ? tly_property_by_token(ing->db, key, tly_time_now_ms() / 1000, prop, &why, &dberr)
                                  : tly_property_by_key(ing->db, *server_key ? "server" : "write", key, prop, &dberr);
    switch (status) {
    case TLY_KEY_OK: break;
    case TLY_KEY_UNKNOWN:
        tly_resp_error(resp, 401, "%s", token ? tly_token_status_text(why) : "unknown write key");
        return -1;
    case TLY_KEY_REVOKED: tly_resp_error(resp, 401, "write key has been revoked"); return -1;
    case TLY_KEY_ERROR: database_unavailable(resp, &dberr); return -1;
    }
    if (strcmp(prop->id, env->property_id) != 0) {
        tly_resp_error(resp, 403, "property_id: this %s belongs to another property", token ? "token" : "write key");
        tly_property_clear(prop);
        return -1;
    }
    if (!token && prop->require_token && origin && *origin) {
        tly_resp_error(resp, 401, "this property takes browser requests only with a signed browser token");
        tly_property_clear(prop);
        return -1;
    }
    if (origin && *origin && !tly_property_origin_allowed(prop, origin)) {
        tly_resp_error(resp, 403, "Origin %s is not in the property's allowed_origins", origin);
        tly_property_clear(prop);
        return -1;
    }
    return 0;
}

void tly_ingest_events(tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    int64_t now_ms = tly_time_now_ms();
    tly_buf key = {0};
    tly_envelope env;
    tly_property prop;
    memset(&env, 0, sizeof env);
    char ip[46] = "";
    tly_json_arena_begin();
    allow_origin(req, resp);
    if (read_request(ing, req, resp, &key, &env) != 0) goto done;
    client_address(ing, req, ip);
    if (within_rate_limits(ing, ip, resp, tly_buf_cstr(&key), now_ms) != 0) goto done;
    /* The property comes from the key cache and may go into it: its values outlive the request. */
    tly_json_arena_pause();
    bool server_key = false;
    int denied = authorise(ing, req, resp, tly_buf_cstr(&key), &env, &prop, &server_key);
    tly_json_arena_resume();
    if (denied != 0) goto done;

    sender s;
    sender_init(&s, ing, req, ip, now_ms);
    outcome o = {0, 0, 0, 0, json_array()};
    json_t *batch = json_array();
    tly_db_error dberr;
    int wait = 0;
    if (build_batch(ing, &env, &prop, &s, server_key, now_ms, batch, &o, &dberr) != 0) {
        database_unavailable(resp, &dberr);
    } else if ((wait = quota_wait(ing, &prop, (long long)json_array_size(batch), now_ms)) > 0) {
        too_many(resp, wait, "quota: the property's daily event quota is used up");
    } else if (store_batch(ing, &prop, batch, &o, &dberr) != 0) {
        database_unavailable(resp, &dberr);
    } else {
        count_quota(ing, &prop, o.stored);
        count_outcome(&o);
        answer(resp, &o);
        tly_log_debug("property %s: %d stored, %d duplicates, %d filtered, %d rejected", prop.id,
                      o.stored, o.duplicates, o.filtered, o.rejected);
    }
    tly_json_arena_drop(batch);
    tly_json_arena_drop(o.errors);
    tly_property_clear(&prop);
    memset(&s, 0, sizeof s);   /* the address and user agent pointer do not outlive the request */
done:
    sodium_memzero(ip, sizeof ip);
    tly_envelope_clear(&env);
    tly_json_arena_end();
    tly_buf_free(&key);
}

/* Stores one Plausible-style event for one property. -1 on database error. */
static int plausible_store(tly_ingest *ing, const tly_property *prop, const sender *s,
                           const tly_event *ev, tly_db_error *dberr)
{
    outcome o = {0, 0, 0, 0, NULL};
    json_t *batch = json_array();
    int rc = enrich_into_batch(ing, prop, s, tly_property_address_excluded(prop, s->ip), ev, batch, &o, dberr);
    if (rc == 0) rc = store_batch(ing, prop, batch, &o, dberr);
    if (rc == 0) {
        count_quota(ing, prop, o.stored);
        count_outcome(&o);
    }
    json_decref(batch);
    return rc;
}

void tly_ingest_plausible(tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    int64_t now_ms = tly_time_now_ms();
    allow_origin(req, resp);
    if (read_body(ing, req, resp) != 0) return;
    tly_event ev;
    json_t *domains;
    char why[256];
    if (tly_plausible_parse(tly_buf_cstr(&req->body), req->body.len, now_ms, &ev, &domains, why,
                            sizeof why) != 0) {
        tly_resp_error(resp, 400, "%s", why);
        return;
    }
    char ip[46];
    client_address(ing, req, ip);
    if (within_rate_limits(ing, ip, resp, NULL, now_ms) != 0) {
        sodium_memzero(ip, sizeof ip);
        tly_event_clear(&ev);
        json_decref(domains);
        return;
    }
    sender s;
    sender_init(&s, ing, req, ip, now_ms);
    const char *origin = tly_req_param(req, "HTTP_ORIGIN");
    size_t i;
    json_t *domain;
    tly_db_error dberr;
    int failed = 0, refused = 0, over_quota = 0, wait = 0;
    /* Like Plausible: an unknown domain is answered 202 and nothing is stored. */
    json_array_foreach(domains, i, domain) {
        tly_property prop;
        int found = tly_property_by_domain(ing->db, json_string_value(domain), &prop, &dberr);
        if (found < 0) { failed = 1; break; }
        if (found == 0) continue;
        if (origin && *origin && !tly_property_origin_allowed(&prop, origin)) refused++;
        else if ((wait = quota_wait(ing, &prop, 1, now_ms)) > 0) over_quota++;
        else if (plausible_store(ing, &prop, &s, &ev, &dberr) != 0) failed = 1;
        tly_property_clear(&prop);
        if (failed) break;
    }
    if (failed) database_unavailable(resp, &dberr);
    else if (over_quota && over_quota + refused == (int)json_array_size(domains))
        too_many(resp, wait, "quota: the property's daily event quota is used up");
    else if (refused && refused == (int)json_array_size(domains))
        tly_resp_error(resp, 403, "Origin %s is not in the property's allowed_origins", origin);
    else tly_resp_text(resp, 202, "text/plain; charset=utf-8", "ok");
    memset(&s, 0, sizeof s);
    sodium_memzero(ip, sizeof ip);
    tly_event_clear(&ev);
    json_decref(domains);
}

/* The lifetime asked for in a POST /v1/tokens body ({"ttl": seconds}; no body: 15 minutes). 0, or
 * -1 answered. */
static int token_ttl(tly_req *req, tly_resp *resp, long long *ttl)
{
    *ttl = 900;
    const char *length = tly_req_param(req, "CONTENT_LENGTH");
    if (!length || !*length || strcmp(length, "0") == 0) return 0;
    tly_body_error berr;
    if (tly_req_read_body(req, TLY_TOKEN_MAX_BODY_BYTES, &berr) != 0) {
        tly_resp_error(resp, berr.status, "%s", berr.message);
        return -1;
    }
    char why[160];
    if (tly_json_body_check(tly_buf_cstr(&req->body), req->body.len, why, sizeof why) != 0) {
        tly_resp_error(resp, 400, "body: %s", why);
        return -1;
    }
    json_t *body = json_loadb(req->body.ptr ? req->body.ptr : "", req->body.len, 0, NULL);
    json_t *t = json_object_get(body, "ttl");
    int rc = 0;
    if (!json_is_object(body) || (t && !json_is_integer(t))) {
        tly_resp_error(resp, 400, "body: expected {\"ttl\": seconds}");
        rc = -1;
    } else if (t && (json_integer_value(t) < TLY_TOKEN_MIN_TTL || json_integer_value(t) > TLY_TOKEN_MAX_TTL)) {
        tly_resp_error(resp, 400, "ttl: must be seconds between %d and %d", TLY_TOKEN_MIN_TTL, TLY_TOKEN_MAX_TTL);
        rc = -1;
    } else if (t) {
        *ttl = json_integer_value(t);
    }
    json_decref(body);
    return rc;
}

/* POST /v1/tokens: a site's backend, holding a read key, mints a browser token for its pages. */
void tly_ingest_mint_token(tly_ingest *ing, tly_req *req, tly_resp *resp)
{
    const char *auth = tly_req_param(req, "HTTP_AUTHORIZATION");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
        tly_resp_error(resp, 401, "missing read key: send 'Authorization: Bearer <read key>'");
        return;
    }
    long long ttl;
    if (token_ttl(req, resp, &ttl) != 0) return;
    tly_property prop;
    tly_db_error dberr;
    tly_key_status status = tly_property_by_key(ing->db, "read", auth + 7, &prop, &dberr);
    switch (status) {
    case TLY_KEY_OK: break;
    case TLY_KEY_UNKNOWN: tly_resp_error(resp, 401, "unknown read key"); return;
    case TLY_KEY_REVOKED: tly_resp_error(resp, 401, "read key has been revoked"); return;
    case TLY_KEY_ERROR: database_unavailable(resp, &dberr); return;
    }
    int64_t expires = tly_time_now_ms() / 1000 + ttl;
    char token[TLY_TOKEN_MAX_LEN + 1], at[32];
    if (tly_token_mint(prop.id, prop.token_secret, expires, token, sizeof token) != 0) {
        tly_resp_error(resp, 500, "cannot mint a token for this property id");
    } else {
        tly_time_format_rfc3339(expires * 1000, at);
        tly_resp_json(resp, 201, json_pack("{s:s, s:s, s:s}", "token", token, "property_id", prop.id,
                                           "expires_at", at));
    }
    tly_property_clear(&prop);
}

void tly_ingest_health(tly_ingest *ing, tly_resp *resp)
{
    tly_db_error dberr;
    PGresult *res = tly_db_exec(ing->db, &stmt_health, NULL, PGRES_TUPLES_OK, &dberr);
    if (res) {
        PQclear(res);
        /* Events stored elsewhere (ClickHouse): that store must answer too, or ingest spools. */
        int status;
        json_t *body = tly_events_store_health(&status);
        if (status != 200) tly_resp_header(resp, "Retry-After", RETRY_AFTER_SECONDS);
        tly_resp_json(resp, status, body);
        return;
    }
    tly_resp_header(resp, "Retry-After", RETRY_AFTER_SECONDS);
    json_t *body = json_pack("{s:s, s:s, s:s}", "status", "degraded", "db", "unreachable", "error",
                             dberr.schema_behind ? dberr.message : "database unavailable");
    if (dberr.schema_behind) json_object_set_new(body, "schema", json_string("behind"));
    /* Ingest still answers 202 while the spool has room. */
    json_object_set_new(body, "spool", ing->spool ? json_pack("{s:I}", "bytes", (json_int_t)tly_spool_bytes(ing->spool))
                                                  : json_string("disabled"));
    tly_resp_json(resp, 503, body);
}
