/* Unit tests of the small core modules: buf, strict, utf8, conf, visitor, io, resp, and what a
 * database failure is told as (db). */
#include "first.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "io.h"
#include "memo.h"
#include "resp.h"
#include "strict.h"
#include "utf8.h"
#include "visitor.h"
#include "tap.h"

#include <sodium.h>
#include <stdint.h>

static void test_buf(void)
{
    tly_buf b = {0};
    CHECK_STR(tly_buf_cstr(&b), "");
    tly_buf_append_str(&b, "hello");
    tly_buf_append_char(&b, ' ');
    tly_buf_printf(&b, "%d-%s", 42, "x");
    CHECK_STR(tly_buf_cstr(&b), "hello 42-x");
    CHECK_INT(b.len, 10);
    char big[1000];
    memset(big, 'a', sizeof big);
    tly_buf_printf(&b, "%.*s", (int)sizeof big, big);   /* longer than the small stack buffer */
    CHECK_INT(b.len, 1010);
    tly_buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(tly_buf_cstr(&b), "");
    CHECK(b.ptr != NULL);   /* small allocations are kept for reuse */
    char *huge = tly_buf_reserve(&b, TLY_BUF_MAX_REUSE * 2);
    memset(huge, 'b', TLY_BUF_MAX_REUSE * 2);
    tly_buf_commit(&b, TLY_BUF_MAX_REUSE * 2);
    tly_buf_reset(&b);
    CHECK(b.ptr == NULL);   /* large ones are released */
    tly_buf_free(&b);
}

/* Integers as printf's %lld writes them, at the edges too. */
static void test_buf_append_int(void)
{
    const long long values[] = {0, 7, -7, 42, 1000000, -1000000, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < TLY_ARRAY_LEN(values); i++) {
        tly_buf b = {0};
        char expected[32];
        snprintf(expected, sizeof expected, "%lld", values[i]);
        tly_buf_append_str(&b, "=");
        tly_buf_append_int(&b, values[i]);
        CHECK_STR(tly_buf_cstr(&b) + 1, expected);
        CHECK_INT(b.len, strlen(expected) + 1);
        tly_buf_free(&b);
    }
}

static void test_strict(void)
{
    long long v = -1;
    CHECK_INT(tly_strict_int("1234", 4, 0, 10000, &v), 0);
    CHECK_INT(v, 1234);
    CHECK_INT(tly_strict_int("-5", 2, -10, 10, &v), 0);
    CHECK_INT(v, -5);
    CHECK_INT(tly_strict_int("", 0, 0, 10, &v), -1);
    CHECK_INT(tly_strict_int("-", 1, -10, 10, &v), -1);
    CHECK_INT(tly_strict_int("12a", 3, 0, 1000, &v), -1);
    CHECK_INT(tly_strict_int(" 12", 3, 0, 1000, &v), -1);
    CHECK_INT(tly_strict_int("+12", 3, 0, 1000, &v), -1);
    CHECK_INT(tly_strict_int("11", 2, 0, 10, &v), -1);
    CHECK_INT(tly_strict_int("9223372036854775807", 19, 0, INT64_MAX, &v), 0);
    CHECK_INT(tly_strict_int("9223372036854775808", 19, 0, INT64_MAX, &v), -1);
    CHECK_INT(tly_strict_int("99999999999999999999", 20, 0, INT64_MAX, &v), -1);
}

static void test_utf8(void)
{
    CHECK(tly_utf8_valid("caf\xc3\xa9", 5));
    CHECK(tly_utf8_valid("\xf0\x9f\x98\x80", 4));
    CHECK(!tly_utf8_valid("\xc3", 1));              /* truncated */
    CHECK(!tly_utf8_valid("\xc0\xaf", 2));          /* overlong */
    CHECK(!tly_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    CHECK(!tly_utf8_valid("a\0b", 3));
    CHECK_INT(tly_utf8_length("caf\xc3\xa9", 5), 4);
    CHECK_INT(tly_utf8_cut("caf\xc3\xa9", 5, 5), 5);    /* fits whole */
    CHECK_INT(tly_utf8_cut("caf\xc3\xa9", 5, 4), 3);    /* would split the 2-byte e-acute */
    CHECK_INT(tly_utf8_cut("\xf0\x9f\x98\x80!", 5, 3), 0);
    tly_buf out = {0};
    tly_utf8_sanitize("a\xffz", 3, &out);
    CHECK_STR(tly_buf_cstr(&out), "a\xef\xbf\xbdz");
    tly_buf_free(&out);
}

static void test_conf(void)
{
    tly_conf c;
    char err[256] = "";
    const char *good = "# comment\n database = dbname=tally  \ntrusted_proxies = 127.0.0.1 ::1\n"
                       "session_timeout=900\nmax_body_bytes = 2048 # inline\nlog_level = debug\n";
    CHECK_INT(tly_conf_parse(good, strlen(good), "t.conf", &c, err, sizeof err), 0);
    CHECK_STR(c.database, "dbname=tally");
    CHECK_STR(c.trusted_proxies, "127.0.0.1 ::1");
    CHECK_INT(c.session_timeout, 900);
    CHECK_INT(c.max_body_bytes, 2048);
    CHECK_INT(c.max_batch_events, 1000);
    CHECK_INT(c.key_cache_seconds, 10);
    CHECK_INT(c.ingest_threads, 64);
    CHECK_INT(c.sessionize_interval, 5);
    CHECK_INT(c.database_timeout, 10);
    CHECK_INT(c.report_timeout, 120);
    CHECK_INT(c.log_level, TLY_LOG_DEBUG);
    CHECK(c.geoip_database == NULL);
    CHECK(c.spool_dir == NULL);
    tly_conf_free(&c);

    const char *missing = "log_level = info\n";
    CHECK_INT(tly_conf_parse(missing, strlen(missing), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf: required setting 'database' is missing");
    tly_conf_free(&c);

    const char *typo = "database = x\ndatabse = y\n";
    CHECK_INT(tly_conf_parse(typo, strlen(typo), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: unknown setting 'databse'");
    tly_conf_free(&c);

    const char *bad = "database = x\nsession_timeout = 10\n";
    CHECK_INT(tly_conf_parse(bad, strlen(bad), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'session_timeout' must be seconds between 60 and 86400");
    tly_conf_free(&c);

    const char *off = "database = x\nsessionize_interval = 0\n";
    CHECK_INT(tly_conf_parse(off, strlen(off), "t.conf", &c, err, sizeof err), 0);
    CHECK_INT(c.sessionize_interval, 0);
    tly_conf_free(&c);
    const char *slow = "database = x\nsessionize_interval = 3601\n";
    CHECK_INT(tly_conf_parse(slow, strlen(slow), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'sessionize_interval' must be seconds between 0 and 3600");
    tly_conf_free(&c);

    const char *patient = "database = x\ndatabase_timeout = 0\nreport_timeout = 0\n";
    CHECK_INT(tly_conf_parse(patient, strlen(patient), "t.conf", &c, err, sizeof err), 0);
    CHECK_INT(c.database_timeout, 0);
    CHECK_INT(c.report_timeout, 0);
    tly_conf_free(&c);
    const char *hour = "database = x\nreport_timeout = 3601\n";
    CHECK_INT(tly_conf_parse(hour, strlen(hour), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'report_timeout' must be seconds between 0 (no limit) and 3600");
    tly_conf_free(&c);
    const char *negative = "database = x\ndatabase_timeout = -1\n";
    CHECK_INT(tly_conf_parse(negative, strlen(negative), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'database_timeout' must be seconds between 0 (no limit) and 3600");
    tly_conf_free(&c);

    const char *spool = "database = x\nspool_dir = /var/spool/tally\nspool_max_bytes = 2097152\n";
    CHECK_INT(tly_conf_parse(spool, strlen(spool), "t.conf", &c, err, sizeof err), 0);
    CHECK_STR(c.spool_dir, "/var/spool/tally");
    CHECK_INT(c.spool_max_bytes, 2097152);
    tly_conf_free(&c);
    const char *relative = "database = x\nspool_dir = spool\n";
    CHECK_INT(tly_conf_parse(relative, strlen(relative), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'spool_dir' must be an absolute path (or empty: no spool)");
    tly_conf_free(&c);
    const char *tiny = "database = x\nspool_max_bytes = 10\n";
    CHECK_INT(tly_conf_parse(tiny, strlen(tiny), "t.conf", &c, err, sizeof err), -1);
    tly_conf_free(&c);

    const char *noeq = "database\n";
    CHECK_INT(tly_conf_parse(noeq, strlen(noeq), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:1: expected 'key = value'");
    tly_conf_free(&c);

    CHECK_INT(tly_conf_load("/nonexistent/tally.conf", &c, err, sizeof err), -1);
    CHECK(strstr(err, "/nonexistent/tally.conf") != NULL);
    tly_conf_free(&c);
}

/* events_store, clickhouse_url and clickhouse_database (events_store.h). */
static void test_conf_events_store(void)
{
    tly_conf c;
    char err[256] = "";
    const char *plain = "database = x\n";
    CHECK_INT(tly_conf_parse(plain, strlen(plain), "t.conf", &c, err, sizeof err), 0);
    CHECK_INT(c.events_store, TLY_EVENTS_POSTGRESQL);
    CHECK(c.clickhouse_url == NULL);
    CHECK_STR(c.clickhouse_database, "tally");
    tly_conf_free(&c);

    const char *ch = "database = x\nevents_store = clickhouse\nclickhouse_url = http://127.0.0.1:8123/?user=tally\n"
                     "clickhouse_database = analytics_2\n";
    CHECK_INT(tly_conf_parse(ch, strlen(ch), "t.conf", &c, err, sizeof err), 0);
    CHECK_INT(c.events_store, TLY_EVENTS_CLICKHOUSE);
    CHECK_STR(c.clickhouse_url, "http://127.0.0.1:8123/?user=tally");
    CHECK_STR(c.clickhouse_database, "analytics_2");
    tly_conf_free(&c);

    const char *no_url = "database = x\nevents_store = clickhouse\n";
    CHECK_INT(tly_conf_parse(no_url, strlen(no_url), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf: setting 'clickhouse_url' is required with events_store = clickhouse");
    tly_conf_free(&c);

    const char *empty_url = "database = x\nclickhouse_url =\nevents_store = postgresql\n";
    CHECK_INT(tly_conf_parse(empty_url, strlen(empty_url), "t.conf", &c, err, sizeof err), 0);
    CHECK(c.clickhouse_url == NULL);
    tly_conf_free(&c);

    const char *other = "database = x\nevents_store = cassandra\n";
    CHECK_INT(tly_conf_parse(other, strlen(other), "t.conf", &c, err, sizeof err), -1);
    CHECK_STR(err, "t.conf:2: setting 'events_store' must be postgresql or clickhouse");
    tly_conf_free(&c);

    const char *scheme = "database = x\nclickhouse_url = 127.0.0.1:8123\n";
    CHECK_INT(tly_conf_parse(scheme, strlen(scheme), "t.conf", &c, err, sizeof err), -1);
    CHECK(strstr(err, "t.conf:2: setting 'clickhouse_url' must be an http:// or https:// URL") == err);
    tly_conf_free(&c);

    const char *shards = "database = x\nclickhouse_shards = http://10.0.0.1:8123/  http://10.0.0.2:8123/\n";
    CHECK_INT(tly_conf_parse(shards, strlen(shards), "t.conf", &c, err, sizeof err), 0);
    CHECK_STR(c.clickhouse_shards, "http://10.0.0.1:8123/  http://10.0.0.2:8123/");
    tly_conf_free(&c);
    const char *bad_shards = "database = x\nclickhouse_shards = http://10.0.0.1:8123/ 10.0.0.2:8123\n";
    CHECK_INT(tly_conf_parse(bad_shards, strlen(bad_shards), "t.conf", &c, err, sizeof err), -1);
    CHECK(strstr(err, "t.conf:2: setting 'clickhouse_shards' must be http:// or https:// URLs") == err);
    tly_conf_free(&c);

    static const char *const bad_names[] = {"", "1abc", "tally.events", "x;DROP", "a b"};
    for (size_t i = 0; i < TLY_ARRAY_LEN(bad_names); i++) {
        char text[128];
        snprintf(text, sizeof text, "database = x\nclickhouse_database = %s\n", bad_names[i]);
        CHECK_INT(tly_conf_parse(text, strlen(text), "t.conf", &c, err, sizeof err), -1);
        CHECK_STR(err, "t.conf:2: setting 'clickhouse_database' must be a database name of 1-64 letters, digits and '_'");
        tly_conf_free(&c);
    }
}

static void test_visitor(void)
{
    uint8_t salt[TLY_SALT_BYTES];
    for (int i = 0; i < TLY_SALT_BYTES; i++) salt[i] = (uint8_t)i;
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64)";
    /* Known answer computed independently (Python hashlib.blake2b, key=salt, digest_size=8). */
    CHECK_INT(tly_visitor_hash(salt, "prop_demo", "203.0.113.9", ua, strlen(ua)), 849271217727870461LL);
    CHECK_INT(tly_visitor_hash_client_id(salt, "visitor", "prop_demo", "v_abc123", 8), 6284112196392352844LL);
    /* The property, the address and the salt each change the hash. */
    int64_t base = tly_visitor_hash(salt, "prop_demo", "203.0.113.9", ua, strlen(ua));
    CHECK(tly_visitor_hash(salt, "prop_other", "203.0.113.9", ua, strlen(ua)) != base);
    CHECK(tly_visitor_hash(salt, "prop_demo", "203.0.113.10", ua, strlen(ua)) != base);
    salt[0] ^= 1;
    CHECK(tly_visitor_hash(salt, "prop_demo", "203.0.113.9", ua, strlen(ua)) != base);
    /* Field boundaries are unambiguous: moving a byte between fields changes the hash. */
    CHECK(tly_visitor_hash(salt, "prop_a", "b", "c", 1) != tly_visitor_hash(salt, "prop_", "ab", "c", 1));
}

static void test_io_body(void)
{
    const char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/v1/events?key=a%20b", "QUERY_STRING=key=a%20b",
                         "CONTENT_LENGTH=5", "HTTP_ORIGIN=https://x.example", NULL};
    tly_io_mem mem = {env, "hello", 5, 0, {0}};
    tly_req req = {0};
    tly_req_begin(&req, &tly_io_mem_ops, &mem);
    CHECK_STR(req.method, "POST");
    CHECK_STR(tly_buf_cstr(&req.path), "/v1/events");
    CHECK_STR(tly_req_param(&req, "HTTP_ORIGIN"), "https://x.example");
    CHECK(tly_req_param(&req, "HTTP_NOPE") == NULL);

    /* A name is matched whole: not as the prefix of a longer one, nor by a longer one. */
    const char *env_names[] = {"HTTP_X_FORWARDED_FOR=203.0.113.1", "HTTP_X", "HTTP_X_EMPTY=", "HTTP_X=x=y", NULL};
    tly_io_mem names = {env_names, "", 0, 0, {0}};
    tly_req named = {0};
    tly_req_begin(&named, &tly_io_mem_ops, &names);
    CHECK_STR(tly_req_param(&named, "HTTP_X"), "x=y");
    CHECK_STR(tly_req_param(&named, "HTTP_X_EMPTY"), "");
    CHECK_STR(tly_req_param(&named, "HTTP_X_FORWARDED_FOR"), "203.0.113.1");
    CHECK(tly_req_param(&named, "HTTP_X_FORWARDED") == NULL);
    CHECK(tly_req_param(&named, "HTTP_X_FORWARDED_FOR_2") == NULL);
    tly_req_free(&named);

    tly_buf key = {0};
    CHECK_INT(tly_req_query_param(&req, "key", &key), 1);
    CHECK_STR(tly_buf_cstr(&key), "a b");
    tly_buf_free(&key);
    tly_body_error berr;
    CHECK_INT(tly_req_read_body(&req, 100, &berr), 0);
    CHECK_STR(tly_buf_cstr(&req.body), "hello");
    CHECK_INT(tly_req_read_body(&req, 4, &berr), -1);   /* over the cap: refused before reading */
    CHECK_INT(berr.status, 413);

    const char *env_short[] = {"REQUEST_METHOD=POST", "CONTENT_LENGTH=10", NULL};
    tly_io_mem short_body = {env_short, "abc", 3, 0, {0}};
    tly_req_begin(&req, &tly_io_mem_ops, &short_body);
    CHECK_INT(tly_req_read_body(&req, 100, &berr), -1);
    CHECK_INT(berr.status, 400);
    const char *env_none[] = {"REQUEST_METHOD=POST", NULL};
    tly_io_mem none = {env_none, "", 0, 0, {0}};
    tly_req_begin(&req, &tly_io_mem_ops, &none);
    CHECK_INT(tly_req_read_body(&req, 100, &berr), -1);
    CHECK_INT(berr.status, 411);
    const char *env_bad[] = {"REQUEST_METHOD=POST", "CONTENT_LENGTH=-1", NULL};
    tly_io_mem bad = {env_bad, "", 0, 0, {0}};
    tly_req_begin(&req, &tly_io_mem_ops, &bad);
    CHECK_INT(tly_req_read_body(&req, 100, &berr), -1);
    CHECK_INT(berr.status, 400);
    tly_req_free(&req);
}

static void test_resp(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", NULL};
    tly_io_mem mem = {env, "", 0, 0, {0}};
    tly_req req = {0};
    tly_req_begin(&req, &tly_io_mem_ops, &mem);
    tly_resp resp = {0};
    tly_resp_header(&resp, "X-Test", "a\r\nInjected: yes");
    tly_resp_error(&resp, 400, "bad value '%s'", "\xff\"q");
    CHECK_INT(tly_resp_send(&req, &resp), 0);
    CHECK_STR(tly_buf_cstr(&mem.out),
              "Status: 400 Bad Request\r\nX-Test: a  Injected: yes\r\nContent-Type: application/json\r\n"
              "Cache-Control: no-store\r\n\r\n{\"error\":\"bad value '\xef\xbf\xbd\\\"q'\"}\n");
    CHECK_STR(tly_http_reason(202), "Accepted");
    CHECK_STR(tly_http_reason(299), "Unknown");
    /* A body printed by the caller replaces the one before, and ends with a newline as any JSON
     * answer. */
    const char text[] = "{\"accepted\":1,\"errors\":[]}";
    tly_resp_json_text(&resp, 202, text, sizeof text - 1);
    CHECK_INT(resp.status, 202);
    tly_buf_reset(&mem.out);
    CHECK_INT(tly_resp_send(&req, &resp), 0);
    CHECK_STR(tly_buf_cstr(&mem.out), "Status: 202 Accepted\r\nX-Test: a  Injected: yes\r\n"
                                      "Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n"
                                      "{\"accepted\":1,\"errors\":[]}\n");
    tly_resp_free(&resp);
    tly_buf_free(&mem.out);
    tly_req_free(&req);
}

static void test_memo(void)
{
    tly_memo *m = tly_memo_new(3, sizeof(int), 8);   /* rounded up to 4 slots */
    int v = 0;
    CHECK(!tly_memo_get(m, "a", 1, &v));
    v = 7;
    tly_memo_put(m, "a", 1, &v);
    v = 0;
    CHECK(tly_memo_get(m, "a", 1, &v));
    CHECK_INT(v, 7);
    CHECK(!tly_memo_get(m, "ab", 2, &v));          /* a key is compared whole, not by its hash */
    v = 9;
    tly_memo_put(m, "a", 1, &v);                    /* replaced in place */
    CHECK(tly_memo_get(m, "a", 1, &v));
    CHECK_INT(v, 9);
    tly_memo_put(m, "123456789", 9, &v);            /* over max_key: not remembered */
    CHECK(!tly_memo_get(m, "123456789", 9, &v));
    int filled = 0;
    for (int i = 0; i < 100; i++) {                 /* many keys in 4 slots: bounded, always right */
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        tly_memo_put(m, key, strlen(key), &i);
        int got = -1;
        if (tly_memo_get(m, key, strlen(key), &got) && got == i) filled++;
    }
    CHECK_INT(filled, 100);
    tly_memo_free(m);
}

/* Which failures are answered 503 (worth retrying) and what the client is told of each. */
static void test_db_error(void)
{
    tly_db_error err = {.sqlstate = "42P01", .message = "relation \"secret_sql\" does not exist"};
    CHECK(!tly_db_error_transient(&err));
    CHECK_STR(tly_db_error_summary(&err), "database error");   /* never the server's own message */
    err = (tly_db_error){.unreachable = true};
    CHECK(tly_db_error_transient(&err));
    CHECK_STR(tly_db_error_summary(&err), "database unreachable");
    err = (tly_db_error){.unreachable = true, .timed_out = true};
    CHECK(tly_db_error_transient(&err));
    CHECK_STR(tly_db_error_summary(&err), "the database did not answer in time");
    err = (tly_db_error){.canceled = true, .sqlstate = "57014"};
    CHECK(tly_db_error_transient(&err));
    CHECK_STR(tly_db_error_summary(&err), "the database stopped a query that took longer than allowed");
}

static void run_tests(void)
{
    test_memo();
    if (sodium_init() < 0) SKIP_ALL("libsodium failed to initialise");
    test_buf();
    test_buf_append_int();
    test_strict();
    test_utf8();
    test_conf();
    test_conf_events_store();
    test_visitor();
    test_io_body();
    test_resp();
    test_db_error();
}
