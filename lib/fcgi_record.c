#include "first.h"
#include "fcgi_record.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

void tly_fcgi_put_header(tly_buf *b, enum tly_fcgi_type type, unsigned request_id, size_t content_len)
{
    unsigned char *h = (unsigned char *)tly_buf_reserve(b, TLY_FCGI_HEADER_BYTES);
    h[0] = 1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(request_id >> 8);
    h[3] = (unsigned char)request_id;
    h[4] = (unsigned char)(content_len >> 8);
    h[5] = (unsigned char)content_len;
    h[6] = 0;
    h[7] = 0;
    tly_buf_commit(b, TLY_FCGI_HEADER_BYTES);
}

void tly_fcgi_put_end_request(tly_buf *b, unsigned request_id, enum tly_fcgi_status status)
{
    tly_fcgi_put_header(b, TLY_FCGI_END_REQUEST, request_id, 8);
    unsigned char body[8] = {0, 0, 0, 0, (unsigned char)status, 0, 0, 0};   /* application status 0 */
    tly_buf_append(b, body, sizeof body);
}

void tly_fcgi_put_stdout(tly_buf *b, unsigned request_id, const char *text, size_t len)
{
    while (len > 0) {
        size_t n = len < TLY_FCGI_MAX_CONTENT ? len : TLY_FCGI_MAX_CONTENT;
        tly_fcgi_put_header(b, TLY_FCGI_STDOUT, request_id, n);
        tly_buf_append(b, text, n);
        text += n;
        len -= n;
    }
    tly_fcgi_put_header(b, TLY_FCGI_STDOUT, request_id, 0);
}

/* A name-value pair's length: one byte below 128, else four with the top bit set. */
static int pair_length(const unsigned char **p, const unsigned char *end, size_t *len)
{
    if (*p >= end) return -1;
    if (!(**p & 0x80)) {
        *len = *(*p)++;
        return 0;
    }
    if (end - *p < 4) return -1;
    const unsigned char *q = *p;
    *len = ((size_t)(q[0] & 0x7f) << 24) | ((size_t)q[1] << 16) | ((size_t)q[2] << 8) | q[3];
    *p += 4;
    return 0;
}

int tly_fcgi_decode_params(const char *params, size_t len, tly_fcgi_env *env)
{
    const unsigned char *p = (const unsigned char *)params, *end = p + len;
    tly_buf_reset(&env->text);
    size_t count = 0;
    while (p < end) {
        size_t name_len, value_len;
        if (pair_length(&p, end, &name_len) != 0 || pair_length(&p, end, &value_len) != 0) return -1;
        if (name_len > (size_t)(end - p) || value_len > (size_t)(end - p) - name_len) return -1;
        if (memchr(p, '\0', name_len + value_len)) return -1;   /* no environment holds one */
        tly_buf_append(&env->text, p, name_len);
        tly_buf_append_char(&env->text, '=');
        tly_buf_append(&env->text, p + name_len, value_len);
        tly_buf_append_char(&env->text, '\0');
        p += name_len + value_len;
        count++;
    }
    if (count + 1 > env->cap) {
        env->cap = count + 1;
        env->vars = tly_xrealloc(env->vars, env->cap * sizeof *env->vars);
    }
    const char *s = env->text.ptr;
    for (size_t i = 0; i < count; i++) {
        env->vars[i] = s;
        s += strlen(s) + 1;
    }
    env->vars[count] = NULL;
    return 0;
}

void tly_fcgi_env_free(tly_fcgi_env *env)
{
    tly_buf_free(&env->text);
    free(env->vars);
    env->vars = NULL;
    env->cap = 0;
}
