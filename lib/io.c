#include "first.h"
#include "io.h"
#include "strict.h"
#include "url.h"

#include <fcgiapp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- parameters as "NAME=value" strings ------------------------------------------------------ */

/* The value of `name` in a NULL-terminated list of "NAME=value" strings, or NULL. Compared a
 * byte at a time in place: most entries differ from the name within a few bytes, and a request
 * looks up about a dozen names among some thirty parameters. (libfcgi's FCGX_GetParam calls
 * strncmp for every entry: 7,500 instructions a single-event request, against 3,750.) */
static const char *find_param(const char *const *env, const char *name)
{
    for (; env && *env; env++) {
        const char *e = *env, *n = name;
        while (*n && *e == *n) {
            e++;
            n++;
        }
        if (!*n && *e == '=') return e + 1;
    }
    return NULL;
}

/* --- plain CGI: the environment, stdin and stdout ------------------------------------------ */

static const char *cgi_param(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static long cgi_read(void *ctx, char *buf, size_t len)
{
    (void)ctx;
    size_t n = fread(buf, 1, len, stdin);
    if (n == 0 && ferror(stdin)) return -1;
    return (long)n;
}

static int cgi_write(void *ctx, const char *buf, size_t len)
{
    (void)ctx;
    if (fwrite(buf, 1, len, stdout) != len) return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

const tly_io_ops tly_io_cgi_ops = {cgi_param, cgi_read, cgi_write};

/* --- FastCGI ------------------------------------------------------------------------------- */

static const char *fcgx_param(void *ctx, const char *name)
{
    FCGX_Request *r = ctx;
    return find_param((const char *const *)r->envp, name);
}

static long fcgx_read(void *ctx, char *buf, size_t len)
{
    FCGX_Request *r = ctx;
    /* FCGX_GetStr takes an int; the body cap keeps len far below INT_MAX. */
    int n = FCGX_GetStr(buf, (int)len, r->in);
    if (n < 0 || FCGX_GetError(r->in) != 0) return -1;
    return n;
}

static int fcgx_write(void *ctx, const char *buf, size_t len)
{
    FCGX_Request *r = ctx;
    if (len && FCGX_PutStr(buf, (int)len, r->out) != (int)len) return -1;
    return FCGX_GetError(r->out) == 0 ? 0 : -1;
}

const tly_io_ops tly_io_fcgx_ops = {fcgx_param, fcgx_read, fcgx_write};

void tly_io_fcgx_finish(void *ctx)
{
    FCGX_Request *r = ctx;
    /* The end of stdin is usually in the buffer already (the server sends it with the body). A
     * request whose body was left unread (refused by its length) keeps the lingering close, which
     * reads the rest so that the server can finish sending and read the answer. */
    if (r->in && FCGX_GetChar(r->in) == EOF && FCGX_HasSeenEOF(r->in) == EOF) FCGX_Detach(r);
    FCGX_Finish_r(r);
}

/* --- memory, for unit tests --------------------------------------------------------------- */

static const char *mem_param(void *ctx, const char *name)
{
    const tly_io_mem *m = ctx;
    return find_param(m->env, name);
}

static long mem_read(void *ctx, char *buf, size_t len)
{
    tly_io_mem *m = ctx;
    size_t left = m->in_len - m->in_pos;
    if (len > left) len = left;
    memcpy(buf, m->in + m->in_pos, len);
    m->in_pos += len;
    return (long)len;
}

static int mem_write(void *ctx, const char *buf, size_t len)
{
    tly_io_mem *m = ctx;
    tly_buf_append(&m->out, buf, len);
    return 0;
}

const tly_io_ops tly_io_mem_ops = {mem_param, mem_read, mem_write};

/* --- the request --------------------------------------------------------------------------- */

const char *tly_req_param(const tly_req *req, const char *name)
{
    return req->io->param(req->ctx, name);
}

void tly_req_begin(tly_req *req, const tly_io_ops *io, void *ctx)
{
    req->io = io;
    req->ctx = ctx;
    const char *method = tly_req_param(req, "REQUEST_METHOD");
    req->method = method ? method : "";

    /* REQUEST_URI is what the client asked for, whatever the server's script mapping; plain CGI
     * servers without it give SCRIPT_NAME + PATH_INFO. */
    const char *uri = tly_req_param(req, "REQUEST_URI");
    tly_buf_reset(&req->path);
    if (uri) {
        const char *q = strchr(uri, '?');
        tly_buf_append(&req->path, uri, q ? (size_t)(q - uri) : strlen(uri));
    } else {
        const char *script = tly_req_param(req, "SCRIPT_NAME");
        const char *info = tly_req_param(req, "PATH_INFO");
        tly_buf_append_str(&req->path, script ? script : "");
        tly_buf_append_str(&req->path, info ? info : "");
    }
    const char *query = tly_req_param(req, "QUERY_STRING");
    req->query = query ? query : "";
}

int tly_req_query_param(const tly_req *req, const char *name, tly_buf *out)
{
    return tly_url_query_param(req->query, strlen(req->query), name, out);
}

int tly_req_read_body(tly_req *req, size_t max_bytes, tly_body_error *err)
{
    const char *cl = tly_req_param(req, "CONTENT_LENGTH");
    long long length;
    tly_buf_reset(&req->body);
    if (!cl || !*cl) {
        err->status = 411;
        snprintf(err->message, sizeof err->message, "Content-Length header is required");
        return -1;
    }
    if (tly_strict_int(cl, strlen(cl), 0, INT32_MAX, &length) != 0) {
        err->status = 400;
        snprintf(err->message, sizeof err->message, "Content-Length header is not a valid length");
        return -1;
    }
    if ((unsigned long long)length > max_bytes) {
        err->status = 413;
        snprintf(err->message, sizeof err->message,
                 "body is %lld bytes; the limit is %zu bytes", length, max_bytes);
        return -1;
    }
    char *dst = tly_buf_reserve(&req->body, (size_t)length);
    size_t got = 0;
    while (got < (size_t)length) {
        long n = req->io->read(req->ctx, dst + got, (size_t)length - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    tly_buf_commit(&req->body, got);
    if (got != (size_t)length) {
        err->status = 400;
        snprintf(err->message, sizeof err->message,
                 "body ended after %zu of %lld bytes announced by Content-Length", got, length);
        return -1;
    }
    return 0;
}

void tly_req_reset(tly_req *req)
{
    tly_buf_reset(&req->path);
    tly_buf_reset(&req->body);
    req->method = "";
    req->query = "";
}

void tly_req_free(tly_req *req)
{
    tly_buf_free(&req->path);
    tly_buf_free(&req->body);
}

/* --- the serve loop ------------------------------------------------------------------------ */

static volatile sig_atomic_t stopping;

static void on_stop_signal(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static void serve_fastcgi(tly_io_handler *handle, void *app, tly_req *req)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    FCGX_Init();
    FCGX_Request fr;
    FCGX_InitRequest(&fr, 0, 0);
    while (!stopping && FCGX_Accept_r(&fr) >= 0) {
        tly_req_begin(req, &tly_io_fcgx_ops, &fr);
        handle(app, req);
        tly_req_reset(req);
        tly_io_fcgx_finish(&fr);
    }
    FCGX_Free(&fr, 1);
}

void tly_io_serve(tly_io_handler *handle, void *app)
{
    tly_req req = {0};
    if (FCGX_IsCGI()) {
        tly_req_begin(&req, &tly_io_cgi_ops, NULL);
        handle(app, &req);
    } else {
        serve_fastcgi(handle, app, &req);
    }
    tly_req_free(&req);
}
