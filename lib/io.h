/* Request and response I/O, the only part of lib/ that knows how a request arrives: through
 * FastCGI, as a plain CGI process, or from memory in the unit tests. Programs read the request
 * through tly_req and answer through tly_resp (resp.h). */
#ifndef TLY_IO_H
#define TLY_IO_H
#include "first.h"
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct tly_io_ops {
    /* The CGI/FastCGI parameter `name` (e.g. "REQUEST_METHOD", "HTTP_ORIGIN"), or NULL. */
    const char *(*param)(void *ctx, const char *name);
    /* Reads up to len body bytes: count read, 0 at end, -1 on error. */
    long (*read)(void *ctx, char *buf, size_t len);
    /* Writes all of buf: 0, or -1 when the client went away. */
    int (*write)(void *ctx, const char *buf, size_t len);
} tly_io_ops;

extern const tly_io_ops tly_io_cgi_ops;   /* ctx unused: getenv, stdin, stdout */
extern const tly_io_ops tly_io_fcgx_ops;  /* ctx is an accepted FCGX_Request * */
extern const tly_io_ops tly_io_mem_ops;   /* ctx is a tly_io_mem * */

/* An in-memory request for tests: env is a NULL-terminated list of "NAME=value" strings. */
typedef struct tly_io_mem {
    const char *const *env;
    const char *in;
    size_t in_len, in_pos;
    tly_buf out;
} tly_io_mem;

typedef struct tly_req {
    const tly_io_ops *io;
    void *ctx;
    const char *method;  /* never NULL; "" when the server sent none */
    tly_buf path;        /* request path without query string, as sent (not decoded) */
    const char *query;   /* raw query string, "" when none */
    tly_buf body;
} tly_req;

/* Starts a request: method, path and query from the server parameters. */
void tly_req_begin(tly_req *req, const tly_io_ops *io, void *ctx) TLY_NONNULL(1, 2);
/* A parameter or NULL; headers are "HTTP_<NAME>" with '-' as '_'. */
const char *tly_req_param(const tly_req *req, const char *name) TLY_NONNULL(1, 2);
/* Appends the percent-decoded value of query parameter name to out: 1 found, 0 absent. */
int tly_req_query_param(const tly_req *req, const char *name, tly_buf *out) TLY_NONNULL(1, 2, 3);
/* Drops per-request state, keeping modest buffers for the next request. */
void tly_req_reset(tly_req *req) TLY_NONNULL(1);
void tly_req_free(tly_req *req) TLY_NONNULL(1);

/* Why a body could not be read; the status the client gets. */
typedef struct tly_body_error {
    int status;          /* 400, 411 or 413 */
    char message[160];
} tly_body_error;

/* Reads exactly CONTENT_LENGTH bytes into req->body, deciding length problems before reading:
 * missing length -> 411, malformed -> 400, over max_bytes -> 413, short body -> 400.
 * 0 ok, -1 with err filled. */
int tly_req_read_body(tly_req *req, size_t max_bytes, tly_body_error *err) TLY_NONNULL(1, 3)
    TLY_MUST_CHECK;

/* Ends an accepted FastCGI request (ctx: its FCGX_Request *): sends what is left of the answer
 * and closes the connection, unless the web server keeps it. Once the server has sent all of the
 * request, the connection is closed at once: libfcgi's lingering close (shut down, then wait for
 * the server to hang up) would put the thread to sleep once more per request. */
void tly_io_fcgx_finish(void *ctx) TLY_NONNULL(1);

/* Answers one request: reads it through req and writes the whole response before returning. */
typedef void tly_io_handler(void *app, tly_req *req);

/* Serves requests one at a time: the one request of a plain CGI process, or FastCGI requests until
 * SIGTERM or SIGINT (how web servers stop their backends), which end the loop after the request in
 * flight. For the single-threaded programs; track.fcgi runs threads of its own. */
void tly_io_serve(tly_io_handler *handle, void *app) TLY_NONNULL(1);

#endif
