/* The dashboard's session cookie: reading it from a Cookie header and writing Set-Cookie. */
#include "first.h"
#include "tap.h"
#include "admin_session.h"

#include <sodium.h>
#include <string.h>

static const char *cookie(const char *header, const char *name)
{
    static char out[64];
    int rc = tly_admin_cookie_get(header, name, out, sizeof out);
    return rc == 1 ? out : rc == 0 ? "(absent)" : "(too long)";
}

static void test_cookie_get(void)
{
    CHECK_STR(cookie("tally_session=abc", "tally_session"), "abc");
    CHECK_STR(cookie("a=1; tally_session=abc; b=2", "tally_session"), "abc");
    CHECK_STR(cookie("a=1;tally_session=abc", "tally_session"), "abc");
    CHECK_STR(cookie("tally_session=\"abc\"", "tally_session"), "abc");
    CHECK_STR(cookie("tally_session=abc  ", "tally_session"), "abc");
    CHECK_STR(cookie("tally_session=", "tally_session"), "");
    CHECK_STR(cookie("x_tally_session=abc", "tally_session"), "(absent)");
    CHECK_STR(cookie("tally_sessionx=abc", "tally_session"), "(absent)");
    CHECK_STR(cookie("tally_session", "tally_session"), "(absent)");
    CHECK_STR(cookie("", "tally_session"), "(absent)");
    CHECK_STR(cookie("a=1; b=2", "tally_session"), "(absent)");
    CHECK_STR(cookie("tally_session=first; tally_session=second", "tally_session"), "first");
    char big[200];
    memset(big, 'x', sizeof big);
    memcpy(big, "tally_session=", 14);
    big[sizeof big - 1] = '\0';
    CHECK_STR(cookie(big, "tally_session"), "(too long)");
}

static void test_cookie_format(void)
{
    tly_buf b = {0};
    tly_admin_cookie_format(&b, "tally_session", "ts_x", 1209600, false);
    CHECK_STR(tly_buf_cstr(&b), "tally_session=ts_x; Path=/; Max-Age=1209600; HttpOnly; SameSite=Lax");
    tly_buf_reset(&b);
    tly_admin_cookie_format(&b, "tally_session", "", 0, true);
    CHECK_STR(tly_buf_cstr(&b), "tally_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
    tly_buf_free(&b);
}

/* The token of a request with this Cookie header: "(none)", "(malformed)" or the token. */
static const char *request_token(const char *header)
{
    static char out[TLY_ADMIN_TOKEN_SIZE];
    static char line[512];
    const char *env[] = {line, NULL};
    snprintf(line, sizeof line, "HTTP_COOKIE=%s", header);
    tly_io_mem mem = {.env = header ? env : NULL};
    tly_req req = {0};
    tly_req_begin(&req, &tly_io_mem_ops, &mem);
    int rc = tly_admin_session_token(&req, out);
    tly_req_free(&req);
    return rc == 1 ? out : rc == 0 ? "(none)" : "(malformed)";
}

static void test_session_token(void)
{
    char token[TLY_ADMIN_TOKEN_SIZE], header[128];
    tly_admin_token_new(TLY_ADMIN_SESSION_PREFIX, token);
    snprintf(header, sizeof header, "theme=dark; tally_session=%s", token);
    CHECK_STR(request_token(header), token);
    CHECK_STR(request_token(NULL), "(none)");
    CHECK_STR(request_token("theme=dark"), "(none)");
    CHECK_STR(request_token("tally_session=forged"), "(malformed)");
    snprintf(header, sizeof header, "tally_session=wk_%s", token + 3);   /* an API key is no session */
    CHECK_STR(request_token(header), "(malformed)");
}

static void run_tests(void)
{
    if (sodium_init() < 0) SKIP_ALL("libsodium did not initialise");
    test_cookie_get();
    test_cookie_format();
    test_session_token();
}
