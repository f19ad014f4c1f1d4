/* Building and sending a response: a status, header lines and a body. Every error a program
 * answers goes through tly_resp_error, so all of them are JSON {"error": "..."}. */
#ifndef TLY_RESP_H
#define TLY_RESP_H
#include "first.h"
#include "buf.h"
#include "io.h"
#include <jansson.h>

/* Significant digits of real numbers in JSON answers (and in CSV, so both print alike). */
#define TLY_JSON_REAL_PRECISION 15

typedef struct tly_resp {
    int status;
    tly_buf headers;  /* "Name: value\r\n" lines */
    tly_buf body;
} tly_resp;

/* The reason phrase of an HTTP status ("Accepted"), "Unknown" for others. */
const char *tly_http_reason(int status);
/* Adds a header line; value must not contain CR or LF (they are replaced by spaces). */
void tly_resp_header(tly_resp *resp, const char *name, const char *value) TLY_NONNULL(1, 2, 3);
/* Sets status and a JSON body; steals `body`. */
void tly_resp_json(tly_resp *resp, int status, json_t *body) TLY_NONNULL(1);
/* Sets status and a JSON body printed by the caller (one JSON value, `len` bytes), for answers on
 * hot paths: building Jansson values only to print them costs more than the rest of such an
 * answer. */
void tly_resp_json_text(tly_resp *resp, int status, const char *json, size_t len) TLY_NONNULL(1, 3);
/* Sets status and {"error": message} (printf format). */
void tly_resp_error(tly_resp *resp, int status, const char *fmt, ...) TLY_NONNULL(1, 3)
    TLY_PRINTF(3, 4);
/* Sets status and a plain-text body. */
void tly_resp_text(tly_resp *resp, int status, const char *content_type, const char *text)
    TLY_NONNULL(1, 3, 4);
/* Writes the response through the request's I/O. 0, or -1 when the client is gone. */
int tly_resp_send(const tly_req *req, const tly_resp *resp) TLY_NONNULL(1, 2);
void tly_resp_reset(tly_resp *resp) TLY_NONNULL(1);
void tly_resp_free(tly_resp *resp) TLY_NONNULL(1);

#endif
