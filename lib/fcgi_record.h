/* FastCGI records (the FastCGI 1.0 specification): the few that a responder reads from a web
 * server and writes back, for lib/io_loop.c. */
#ifndef TLY_FCGI_RECORD_H
#define TLY_FCGI_RECORD_H
#include "first.h"
#include "buf.h"
#include <stddef.h>

#define TLY_FCGI_HEADER_BYTES 8
#define TLY_FCGI_MAX_CONTENT 65535

enum tly_fcgi_type {
    TLY_FCGI_BEGIN_REQUEST = 1, TLY_FCGI_ABORT_REQUEST = 2, TLY_FCGI_END_REQUEST = 3, TLY_FCGI_PARAMS = 4,
    TLY_FCGI_STDIN = 5, TLY_FCGI_STDOUT = 6, TLY_FCGI_GET_VALUES = 9, TLY_FCGI_GET_VALUES_RESULT = 10,
    TLY_FCGI_UNKNOWN_TYPE = 11
};
enum { TLY_FCGI_RESPONDER = 1, TLY_FCGI_KEEP_CONN = 1 };
enum tly_fcgi_status { TLY_FCGI_REQUEST_COMPLETE = 0, TLY_FCGI_CANT_MPX_CONN = 1, TLY_FCGI_UNKNOWN_ROLE = 3 };

/* Appends a record header (no padding follows). */
void tly_fcgi_put_header(tly_buf *b, enum tly_fcgi_type type, unsigned request_id, size_t content_len)
    TLY_NONNULL(1);
void tly_fcgi_put_end_request(tly_buf *b, unsigned request_id, enum tly_fcgi_status status) TLY_NONNULL(1);
/* Appends text as FCGI_STDOUT records of at most TLY_FCGI_MAX_CONTENT bytes, and the stream's end. */
void tly_fcgi_put_stdout(tly_buf *b, unsigned request_id, const char *text, size_t len) TLY_NONNULL(1);

/* A request's parameters as a CGI environment: "NAME=value" strings. */
typedef struct tly_fcgi_env {
    tly_buf text;              /* each variable followed by a NUL */
    const char **vars;         /* pointers into text, NULL-terminated */
    size_t cap;
} tly_fcgi_env;

/* Decodes an FCGI_PARAMS stream (name-value pairs) into env, replacing what it held. 0, or -1
 * when a length runs past the end or a name or value holds a NUL byte. */
int tly_fcgi_decode_params(const char *params, size_t len, tly_fcgi_env *env) TLY_NONNULL(3) TLY_MUST_CHECK;
void tly_fcgi_env_free(tly_fcgi_env *env) TLY_NONNULL(1);

#endif
