#include "first.h"
#include "resp.h"
#include "json_arena.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"},
    {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Method Not Allowed"}, {409, "Conflict"}, {411, "Length Required"},
    {413, "Content Too Large"}, {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
    {429, "Too Many Requests"}, {500, "Internal Server Error"}, {503, "Service Unavailable"},
};

const char *tly_http_reason(int status)
{
    for (size_t i = 0; i < TLY_ARRAY_LEN(reasons); i++)
        if (reasons[i].status == status) return reasons[i].reason;
    return "Unknown";
}

void tly_resp_header(tly_resp *resp, const char *name, const char *value)
{
    tly_buf_append_str(&resp->headers, name);
    tly_buf_append(&resp->headers, ": ", 2);
    /* Header injection is impossible by construction: line breaks never reach the wire. */
    for (const char *p = value; *p; p++)
        tly_buf_append_char(&resp->headers, (*p == '\r' || *p == '\n') ? ' ' : *p);
    tly_buf_append(&resp->headers, "\r\n", 2);
}

void tly_resp_json_text(tly_resp *resp, int status, const char *json, size_t len)
{
    resp->status = status;
    tly_buf_reset(&resp->body);
    tly_buf_append(&resp->body, json, len);
    tly_buf_append_char(&resp->body, '\n');
}

void tly_resp_json(tly_resp *resp, int status, json_t *body)
{
    /* 15 significant digits print 42.3 as 42.3 (17 would give 42.299999999999997). */
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(TLY_JSON_REAL_PRECISION)) : NULL;
    const char *json = text ? text : "{}";
    tly_resp_json_text(resp, status, json, strlen(json));
    tly_json_free(text);
    json_decref(body);
}

void tly_resp_error(tly_resp *resp, int status, const char *fmt, ...)
{
    tly_buf msg = {0};
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    /* Messages may echo client text, which need not be valid UTF-8. */
    tly_buf clean = {0};
    tly_utf8_sanitize(tly_buf_cstr(&msg), msg.len, &clean);
    tly_resp_json(resp, status, json_pack("{s:s%}", "error", tly_buf_cstr(&clean), clean.len));
    tly_buf_free(&clean);
    tly_buf_free(&msg);
}

void tly_resp_text(tly_resp *resp, int status, const char *content_type, const char *text)
{
    resp->status = status;
    tly_buf_reset(&resp->body);
    tly_buf_append_str(&resp->body, text);
    tly_resp_header(resp, "Content-Type", content_type);
}

int tly_resp_send(const tly_req *req, const tly_resp *resp)
{
    tly_buf head = {0};
    int status = resp->status ? resp->status : 500;
    tly_buf_append_str(&head, "Status: ");
    tly_buf_append_int(&head, status);
    tly_buf_append_char(&head, ' ');
    tly_buf_append_str(&head, tly_http_reason(status));
    tly_buf_append_str(&head, "\r\n");
    tly_buf_append(&head, tly_buf_cstr(&resp->headers), resp->headers.len);
    if (!strstr(tly_buf_cstr(&resp->headers), "Content-Type:") && status != 204)
        tly_buf_append_str(&head, "Content-Type: application/json\r\n");
    tly_buf_append_str(&head, "Cache-Control: no-store\r\n\r\n");
    int rc = req->io->write(req->ctx, head.ptr, head.len);
    /* HEAD gets the headers GET would (the server drops a body anyway; this saves sending it). */
    if (rc == 0 && status != 204 && resp->body.len && strcmp(req->method, "HEAD") != 0)
        rc = req->io->write(req->ctx, resp->body.ptr, resp->body.len);
    tly_buf_free(&head);
    return rc;
}

void tly_resp_reset(tly_resp *resp)
{
    resp->status = 0;
    tly_buf_reset(&resp->headers);
    tly_buf_reset(&resp->body);
}

void tly_resp_free(tly_resp *resp)
{
    tly_buf_free(&resp->headers);
    tly_buf_free(&resp->body);
}
