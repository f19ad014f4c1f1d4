#include "first.h"
#include "tap.h"
#include "io.h"
#include "metrics.h"
#include "resp.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *render(void)
{
    static tly_buf out;
    tly_buf_reset(&out);
    tly_metrics_render(&out);
    return tly_buf_cstr(&out);
}

/* Whether the exposition has this exact line. */
static int has_line(const char *line)
{
    char needle[512];
    snprintf(needle, sizeof needle, "\n%s\n", line);
    const char *text = render();
    int found = strstr(text, needle) != NULL;
    if (!found) printf("#   no line: %s\n", line);
    return found;
}

static int run_child(const char *conf_path, uint64_t stored)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        tly_metrics_open("unittest", conf_path);
        tly_metrics_add(TLY_METRIC_EVENTS_STORED, stored);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_local_counting(void)
{
    tly_metrics_inc(TLY_METRIC_EVENTS_STORED);
    tly_metrics_inc(TLY_METRIC_EVENTS_STORED);
    tly_metrics_add(TLY_METRIC_DB_ERRORS, 3);
    CHECK(has_line("tally_events_total{program=\"tally\",outcome=\"stored\"} 2"));
    CHECK(has_line("tally_db_errors_total{program=\"tally\"} 3"));
    CHECK(has_line("tally_metrics_shared{program=\"tally\"} 0"));
    CHECK(has_line("tally_processes{program=\"tally\"} 1"));
}

static void test_shared_across_processes(const char *conf_path)
{
    CHECK_INT(tly_metrics_open("unittest", conf_path), 0);
    CHECK(has_line("tally_metrics_shared{program=\"unittest\"} 1"));
    CHECK(has_line("tally_events_total{program=\"unittest\",outcome=\"stored\"} 0"));
    tly_metrics_add(TLY_METRIC_EVENTS_STORED, 3);
    CHECK_INT(run_child(conf_path, 5), 0);
    CHECK(has_line("tally_events_total{program=\"unittest\",outcome=\"stored\"} 8"));
    /* The child has ended: one process left. */
    CHECK(has_line("tally_processes{program=\"unittest\"} 1"));
    /* More processes, one after another, than there are slots: each takes over an ended one's
     * slot with its counts, so nothing is lost. */
    int failed = 0;
    for (int i = 0; i < 70; i++) failed += run_child(conf_path, 1) != 0;
    CHECK_INT(failed, 0);
    CHECK(has_line("tally_events_total{program=\"unittest\",outcome=\"stored\"} 78"));
    CHECK(has_line("tally_metrics_shared{program=\"unittest\"} 1"));
}

static void test_requests_and_histograms(void)
{
    tly_metrics_request(202, 0.0003);
    tly_metrics_request(202, 0.003);
    tly_metrics_request(404, 2);
    tly_metrics_request(299, 10);
    CHECK(has_line("tally_http_requests_total{program=\"unittest\",code=\"202\"} 2"));
    CHECK(has_line("tally_http_requests_total{program=\"unittest\",code=\"404\"} 1"));
    CHECK(has_line("tally_http_requests_total{program=\"unittest\",code=\"other\"} 1"));
    CHECK(has_line("tally_http_request_duration_seconds_bucket{program=\"unittest\",le=\"0.0005\"} 1"));
    CHECK(has_line("tally_http_request_duration_seconds_bucket{program=\"unittest\",le=\"0.0025\"} 1"));
    CHECK(has_line("tally_http_request_duration_seconds_bucket{program=\"unittest\",le=\"0.005\"} 2"));
    CHECK(has_line("tally_http_request_duration_seconds_bucket{program=\"unittest\",le=\"5\"} 3"));
    CHECK(has_line("tally_http_request_duration_seconds_bucket{program=\"unittest\",le=\"+Inf\"} 4"));
    CHECK(has_line("tally_http_request_duration_seconds_count{program=\"unittest\"} 4"));
    CHECK(has_line("tally_http_request_duration_seconds_sum{program=\"unittest\"} 12.003300"));

    tly_metrics_observe(TLY_HISTOGRAM_BATCH_EVENTS, 100);
    tly_metrics_observe(TLY_HISTOGRAM_BATCH_EVENTS, 101);
    CHECK(has_line("tally_ingest_batch_events_bucket{program=\"unittest\",le=\"100\"} 1"));
    CHECK(has_line("tally_ingest_batch_events_bucket{program=\"unittest\",le=\"200\"} 2"));
    CHECK(has_line("tally_ingest_batch_events_sum{program=\"unittest\"} 201.000000"));

    tly_metrics_set_time(TLY_GAUGE_SESSIONIZER_LAST_RUN, 1700000000);
    CHECK(has_line("tally_sessionizer_last_run_timestamp_seconds{program=\"unittest\"} 1700000000"));
}

/* Every label of the exposition is one of a few fixed names: nothing about a client fits in. */
static void test_labels_are_fixed(void)
{
    const char *allowed[] = {"program", "outcome", "code", "le", "pid"};
    const char *text = render();
    int bad = 0, seen = 0;
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (!end) { bad++; break; }
        for (const char *q = p + 1; q < end;) {
            size_t n = strcspn(q, "=");
            int ok = 0;
            for (size_t i = 0; i < TLY_ARRAY_LEN(allowed); i++)
                ok |= strlen(allowed[i]) == n && strncmp(q, allowed[i], n) == 0;
            bad += !ok;
            seen++;
            const char *close = strchr(q + n + 2, '"');   /* after ="value" */
            if (!close) { bad++; break; }
            q = close + 1 + (close[1] == ',');
        }
    }
    CHECK(seen > 50);
    CHECK_INT(bad, 0);
    /* Text format: every sample line is "name{labels} value" or "name value". */
    CHECK(strstr(text, "# TYPE tally_events_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE tally_ingest_commit_duration_seconds histogram\n") != NULL);
}

static int respond(const char *method, const char *remote, const char *forwarded, tly_buf *out)
{
    char m[32], r[64], f[64];
    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    snprintf(r, sizeof r, "REMOTE_ADDR=%s", remote);
    snprintf(f, sizeof f, "HTTP_X_FORWARDED_FOR=%s", forwarded ? forwarded : "");
    const char *env[] = {m, r, "REQUEST_URI=/v1/metrics", forwarded ? f : NULL, NULL};
    tly_io_mem mem = {env, "", 0, 0, {0}};
    tly_req req = {0};
    tly_resp resp = {0};
    tly_req_begin(&req, &tly_io_mem_ops, &mem);
    tly_metrics_respond(&req, &resp);
    tly_resp_send(&req, &resp);
    int status = resp.status;
    tly_buf_append_str(out, tly_buf_cstr(&mem.out));
    tly_buf_free(&mem.out);
    tly_resp_free(&resp);
    tly_req_free(&req);
    return status;
}

static void test_endpoint(void)
{
    tly_buf out = {0};
    CHECK_INT(respond("GET", "127.0.0.1", NULL, &out), 200);
    CHECK(strstr(tly_buf_cstr(&out), "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != NULL);
    CHECK(strstr(tly_buf_cstr(&out), "\ntally_processes{program=\"unittest\"} 1\n") != NULL);
    tly_buf_reset(&out);
    CHECK_INT(respond("GET", "::1", NULL, &out), 200);
    tly_buf_reset(&out);
    CHECK_INT(respond("GET", "203.0.113.9", NULL, &out), 403);
    CHECK(strstr(tly_buf_cstr(&out), "{\"error\":") != NULL);
    tly_buf_reset(&out);
    CHECK_INT(respond("GET", "127.0.0.1", "203.0.113.9", &out), 403);
    tly_buf_reset(&out);
    CHECK_INT(respond("POST", "127.0.0.1", NULL, &out), 405);
    CHECK(strstr(tly_buf_cstr(&out), "Allow: GET, HEAD\r\n") != NULL);
    tly_buf_free(&out);
}

static void run_tests(void)
{
    char conf_path[64];
    snprintf(conf_path, sizeof conf_path, "/nonexistent/test_metrics-%d.conf", (int)getpid());
    test_local_counting();
    test_shared_across_processes(conf_path);
    test_requests_and_histograms();
    test_labels_are_fixed();
    test_endpoint();
    tly_metrics_unlink();
}
