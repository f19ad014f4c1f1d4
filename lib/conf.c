#include "first.h"
#include "conf.h"
#include "buf.h"
#include "limits.h"
#include "mem.h"
#include "strict.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TLY_SYSCONFDIR
#define TLY_SYSCONFDIR "/usr/local/etc"
#endif

const char *tly_conf_path(void)
{
    const char *env = getenv("TALLY_CONF");
    return env && *env ? env : TLY_SYSCONFDIR "/tally/tally.conf";
}

static void conf_defaults(tly_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->trusted_proxies = tly_xstrdup("");
    conf->session_timeout = TLY_DEFAULT_SESSION_TIMEOUT;
    conf->max_body_bytes = TLY_MAX_BODY_BYTES;
    conf->max_batch_events = TLY_MAX_BATCH_EVENTS;
    conf->key_cache_seconds = 10;
    conf->ingest_threads = 64;
    conf->database_timeout = 10;
    conf->report_timeout = 120;
    conf->sessionize_interval = 5;
    conf->spool_max_bytes = (size_t)256 << 20;
    conf->rate_limit_key = 10000;
    conf->rate_limit_address = 50;
    conf->log_level = TLY_LOG_INFO;
    conf->events_store = TLY_EVENTS_POSTGRESQL;
    conf->clickhouse_database = tly_xstrdup("tally");
}

/* A ClickHouse database name as it may appear unquoted in SQL: [A-Za-z_][A-Za-z0-9_]{0,63}. */
static bool is_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || isdigit((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static int parse_int_setting(const char *value, long long lo, long long hi, long long *out)
{
    return tly_strict_int(value, strlen(value), lo, hi, out);
}

static void replace_string(char **slot, const char *value)
{
    free(*slot);
    *slot = tly_xstrdup(value);
}

/* Returned by apply_setting for a key it does not know (typos must not pass silently). */
static const char unknown_setting[] = "unknown setting";

/* Applies one setting; returns NULL or a description of what is wrong with the value. */
static const char *apply_setting(tly_conf *conf, const char *key, const char *value)
{
    long long n;
    if (strcmp(key, "database") == 0) {
        if (!*value) return "must not be empty";
        replace_string(&conf->database, value);
    } else if (strcmp(key, "geoip_database") == 0) {
        free(conf->geoip_database);
        conf->geoip_database = *value ? tly_xstrdup(value) : NULL;
    } else if (strcmp(key, "trusted_proxies") == 0) {
        replace_string(&conf->trusted_proxies, value);
    } else if (strcmp(key, "session_timeout") == 0) {
        if (parse_int_setting(value, 60, 86400, &n) != 0) return "must be seconds between 60 and 86400";
        conf->session_timeout = (int)n;
    } else if (strcmp(key, "max_body_bytes") == 0) {
        if (parse_int_setting(value, 1024, TLY_MAX_BODY_BYTES_CEIL, &n) != 0)
            return "must be bytes between 1024 and 16777216";
        conf->max_body_bytes = (size_t)n;
    } else if (strcmp(key, "max_batch_events") == 0) {
        if (parse_int_setting(value, 1, 10000, &n) != 0) return "must be between 1 and 10000";
        conf->max_batch_events = (int)n;
    } else if (strcmp(key, "key_cache_seconds") == 0) {
        if (parse_int_setting(value, 0, 300, &n) != 0) return "must be seconds between 0 and 300";
        conf->key_cache_seconds = (int)n;
    } else if (strcmp(key, "ingest_threads") == 0) {
        if (parse_int_setting(value, 1, 256, &n) != 0) return "must be between 1 and 256";
        conf->ingest_threads = (int)n;
    } else if (strcmp(key, "database_timeout") == 0) {
        if (parse_int_setting(value, 0, 3600, &n) != 0) return "must be seconds between 0 (no limit) and 3600";
        conf->database_timeout = (int)n;
    } else if (strcmp(key, "report_timeout") == 0) {
        if (parse_int_setting(value, 0, 3600, &n) != 0) return "must be seconds between 0 (no limit) and 3600";
        conf->report_timeout = (int)n;
    } else if (strcmp(key, "sessionize_interval") == 0) {
        if (parse_int_setting(value, 0, 3600, &n) != 0) return "must be seconds between 0 and 3600";
        conf->sessionize_interval = (int)n;
    } else if (strcmp(key, "rate_limit_key") == 0 || strcmp(key, "rate_limit_address") == 0) {
        if (parse_int_setting(value, 0, 1000000, &n) != 0) return "must be requests per second between 0 (none) and 1000000";
        if (strcmp(key, "rate_limit_key") == 0) conf->rate_limit_key = (double)n;
        else conf->rate_limit_address = (double)n;
    } else if (strcmp(key, "spool_dir") == 0) {
        if (*value && *value != '/') return "must be an absolute path (or empty: no spool)";
        free(conf->spool_dir);
        conf->spool_dir = *value ? tly_xstrdup(value) : NULL;
    } else if (strcmp(key, "spool_max_bytes") == 0) {
        if (parse_int_setting(value, 1 << 20, (long long)1 << 40, &n) != 0)
            return "must be bytes between 1048576 and 1099511627776";
        conf->spool_max_bytes = (size_t)n;
    } else if (strcmp(key, "events_store") == 0) {
        if (strcmp(value, "postgresql") == 0) conf->events_store = TLY_EVENTS_POSTGRESQL;
        else if (strcmp(value, "clickhouse") == 0) conf->events_store = TLY_EVENTS_CLICKHOUSE;
        else return "must be postgresql or clickhouse";
    } else if (strcmp(key, "clickhouse_url") == 0) {
        if (*value && strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return "must be an http:// or https:// URL (ClickHouse's HTTP interface, e.g. http://127.0.0.1:8123/)";
        free(conf->clickhouse_url);
        conf->clickhouse_url = *value ? tly_xstrdup(value) : NULL;
    } else if (strcmp(key, "clickhouse_shards") == 0) {
        for (const char *u = value; *u; u += strcspn(u, " \t"), u += strspn(u, " \t"))
            if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
                return "must be http:// or https:// URLs separated by spaces (each shard node's HTTP interface)";
        free(conf->clickhouse_shards);
        conf->clickhouse_shards = *value ? tly_xstrdup(value) : NULL;
    } else if (strcmp(key, "clickhouse_database") == 0) {
        if (!is_identifier(value)) return "must be a database name of 1-64 letters, digits and '_'";
        replace_string(&conf->clickhouse_database, value);
    } else if (strcmp(key, "log_level") == 0) {
        if (tly_log_level_parse(value, &conf->log_level) != 0)
            return "must be one of debug, info, warn, error";
    } else {
        return unknown_setting;
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    *end = '\0';
    return s;
}

int tly_conf_parse(const char *text, size_t len, const char *origin, tly_conf *conf, char *err,
                   size_t errlen)
{
    conf_defaults(conf);
    char *copy = tly_xstrndup(text, len);
    int lineno = 0, rc = 0;
    for (char *line = copy, *next; line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *content = trim(line);
        if (!*content) continue;
        char *eq = strchr(content, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", origin, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(content), *value = trim(eq + 1);
        const char *problem = apply_setting(conf, key, value);
        if (problem == unknown_setting) {
            snprintf(err, errlen, "%s:%d: unknown setting '%s'", origin, lineno, key);
            rc = -1;
        } else if (problem) {
            snprintf(err, errlen, "%s:%d: setting '%s' %s", origin, lineno, key, problem);
            rc = -1;
        }
    }
    free(copy);
    if (rc == 0 && !conf->database) {
        snprintf(err, errlen, "%s: required setting 'database' is missing", origin);
        rc = -1;
    }
    if (rc == 0 && conf->events_store == TLY_EVENTS_CLICKHOUSE && !conf->clickhouse_url) {
        snprintf(err, errlen, "%s: setting 'clickhouse_url' is required with events_store = clickhouse", origin);
        rc = -1;
    }
    return rc;
}

int tly_conf_load(const char *path, tly_conf *conf, char *err, size_t errlen)
{
    conf_defaults(conf);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read configuration %s: %s (set TALLY_CONF to its path)", path,
                 strerror(errno));
        return -1;
    }
    tly_buf text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) tly_buf_append(&text, chunk, n);
    fclose(f);
    tly_conf_free(conf);
    int rc = tly_conf_parse(tly_buf_cstr(&text), text.len, path, conf, err, errlen);
    tly_buf_free(&text);
    return rc;
}

void tly_conf_free(tly_conf *conf)
{
    free(conf->database);
    free(conf->geoip_database);
    free(conf->trusted_proxies);
    free(conf->spool_dir);
    free(conf->clickhouse_url);
    free(conf->clickhouse_database);
    free(conf->clickhouse_shards);
    memset(conf, 0, sizeof *conf);
}
