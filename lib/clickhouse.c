#include "first.h"
#include "clickhouse.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds to connect; and for a whole statement when no timeout is set for it (a report over a
 * long range may scan a lot). */
#define CH_CONNECT_TIMEOUT 3
#define CH_TIMEOUT 120
/* How much longer than the statement timeout the client waits for an answer: time for the server
 * to stop the statement and say so. */
#define CH_CANCEL_GRACE_SECONDS 2

static char *base_url;                 /* the configured URL, with '?' or '&' ready for more */
static int insert_timeout, query_timeout;   /* seconds; 0: none (tly_ch_setup) */
static CURLSH *share;                  /* the connection pool, shared by every thread */
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void url_with_params(tly_buf *b, const char *url);

static void lock_share(CURL *handle, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)handle, (void)access, (void)user;
    pthread_mutex_lock(&share_locks[data]);
}

static void unlock_share(CURL *handle, curl_lock_data data, void *user)
{
    (void)handle, (void)user;
    pthread_mutex_unlock(&share_locks[data]);
}

int tly_ch_setup(const char *url, int insert_seconds, int query_seconds, char *err, size_t errlen)
{
    if (share) return 0;
    insert_timeout = insert_seconds > 0 ? insert_seconds : 0;
    query_timeout = query_seconds > 0 ? query_seconds : 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "setting 'clickhouse_url': libcurl failed to initialise");
        return -1;
    }
    for (size_t i = 0; i < TLY_ARRAY_LEN(share_locks); i++) pthread_mutex_init(&share_locks[i], NULL);
    share = curl_share_init();
    if (!share) {
        snprintf(err, errlen, "setting 'clickhouse_url': libcurl failed to initialise");
        return -1;
    }
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, lock_share);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, unlock_share);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    tly_buf b = {0};
    url_with_params(&b, url);
    base_url = tly_xstrdup(tly_buf_cstr(&b));
    tly_buf_free(&b);
    return 0;
}

void tly_ch_quote(tly_buf *b, const char *s)
{
    tly_buf_append_char(b, '\'');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\': tly_buf_append_str(b, "\\\\"); break;
        case '\'': tly_buf_append_str(b, "\\'"); break;
        case '\n': tly_buf_append_str(b, "\\n"); break;
        case '\r': tly_buf_append_str(b, "\\r"); break;
        case '\t': tly_buf_append_str(b, "\\t"); break;
        default:
            if (*p < 0x20) tly_buf_printf(b, "\\x%02X", *p);
            else tly_buf_append_char(b, (char)*p);
        }
    }
    tly_buf_append_char(b, '\'');
}

/* ClickHouse's codes for a server, shard or network that failed, rather than the statement. */
static bool unreachable_code(long code)
{
    switch (code) {
    case 159:   /* TIMEOUT_EXCEEDED */
    case 209:   /* SOCKET_TIMEOUT */
    case 210:   /* NETWORK_ERROR */
    case 279:   /* ALL_CONNECTION_TRIES_FAILED */
    case 242:   /* TABLE_IS_READ_ONLY */
        return true;
    default:
        return false;
    }
}

void tly_ch_error_from_answer(const char *body, long http_status, tly_db_error *err)
{
    memset(err, 0, sizeof *err);
    const char *code = strstr(body, "Code: ");
    long n = code ? strtol(code + 6, NULL, 10) : 0;
    err->unreachable = unreachable_code(n) || http_status == 502 || http_status == 503 || http_status == 504;
    err->canceled = n == 159;   /* TIMEOUT_EXCEEDED: past the statement timeout */
    /* The message's first line, without the stack trace some versions append. */
    size_t len = strcspn(body, "\n");
    while (len > 0 && (body[len - 1] == ' ' || body[len - 1] == '\r')) len--;
    if (len == 0) snprintf(err->message, sizeof err->message, "ClickHouse answered HTTP %ld", http_status);
    else snprintf(err->message, sizeof err->message, "ClickHouse: %.*s", (int)len, body);
}

static size_t collect(char *data, size_t size, size_t n, void *user)
{
    tly_buf_append(user, data, size * n);
    return size * n;
}

static void transport_error(CURLcode rc, const char *detail, tly_db_error *err)
{
    memset(err, 0, sizeof *err);
    err->unreachable = true;
    snprintf(err->message, sizeof err->message, "ClickHouse unreachable: %s%s%s", curl_easy_strerror(rc),
             *detail ? ": " : "", detail);
}

/* The URL with '?' or '&' ready for more parameters. */
static void url_with_params(tly_buf *b, const char *url)
{
    tly_buf_append_str(b, url);
    tly_buf_append_char(b, strchr(url, '?') ? '&' : '?');
}

static int run_at(const char *url_base, const char *sql, const char *data, size_t len, tly_buf *out,
                  tly_db_error *err);

int tly_ch_run(const char *sql, const char *data, size_t len, tly_buf *out, tly_db_error *err)
{
    return run_at(base_url, sql, data, len, out, err);
}

int tly_ch_run_on(const char *url, const char *sql, tly_buf *out, tly_db_error *err)
{
    tly_buf base = {0};
    url_with_params(&base, url);
    int rc = run_at(tly_buf_cstr(&base), sql, NULL, 0, out, err);
    tly_buf_free(&base);
    return rc;
}

static int run_at(const char *url_base, const char *sql, const char *data, size_t len, tly_buf *out,
                  tly_db_error *err)
{
    if (!share) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "ClickHouse client not set up");
        return -1;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        transport_error(CURLE_FAILED_INIT, "", err);
        return -1;
    }
    /* Inserts wait until every shard has the rows (a 202 means stored), and are not split into
     * blocks that could be half applied. */
    tly_buf url = {0};
    tly_buf_append_str(&url, url_base);
    tly_buf_append_str(&url, "insert_distributed_sync=1&max_insert_block_size=100000000");
    /* The server stops a query that runs too long, or an insert that a shard does not take in
     * time; the client waits a little longer, for a server that does not answer at all. */
    int timeout = data ? insert_timeout : query_timeout;
    long client_timeout = CH_TIMEOUT;
    if (timeout) {
        tly_buf_printf(&url, data ? "&insert_distributed_timeout=%d" : "&max_execution_time=%d", timeout);
        client_timeout = timeout + CH_CANCEL_GRACE_SECONDS;
    }
    const char *body = sql;
    size_t body_len = strlen(sql);
    if (data) {
        char *escaped = curl_easy_escape(curl, sql, 0);
        tly_buf_printf(&url, "&query=%s", escaped ? escaped : "");
        curl_free(escaped);
        body = data;
        body_len = len;
    }
    char detail[CURL_ERROR_SIZE] = "";
    size_t before = out->len;
    curl_easy_setopt(curl, CURLOPT_URL, tly_buf_cstr(&url));
    curl_easy_setopt(curl, CURLOPT_SHARE, share);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CH_CONNECT_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, client_timeout);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* No "Expect: 100-continue" round trip before large inserts. */
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    tly_buf_free(&url);
    if (rc != CURLE_OK) {
        transport_error(rc, detail, err);
    } else if (status != 200) {
        tly_ch_error_from_answer(tly_buf_cstr(out) + before, status, err);
        out->len = before;
        if (out->ptr) out->ptr[before] = '\0';
    } else {
        return 0;
    }
    tly_metrics_inc(TLY_METRIC_DB_ERRORS);
    tly_log_debug("clickhouse: %s", err->message);
    return -1;
}
