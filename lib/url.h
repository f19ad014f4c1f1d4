/* Parsing of absolute http(s) URLs sent by clients (page url, referrer) and of their query strings.
 * Nothing is allocated: tly_url points into the caller's string, which must outlive it. */
#ifndef TLY_URL_H
#define TLY_URL_H
#include "first.h"
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* Longest host accepted (DNS limit); longer hosts make tly_url_parse fail. */
#define TLY_URL_MAX_HOST_LEN 253

typedef struct tly_url {
    const char *scheme; size_t scheme_len;   /* "http"/"https" (as written) */
    const char *host;   size_t host_len;     /* without userinfo and port; as written (caller lowercases via tly_url_host_lower); IPv6 keeps its brackets "[::1]" */
    const char *path;   size_t path_len;     /* from the first '/' up to '?' or '#'; len 0 means "/" */
    const char *query;  size_t query_len;    /* after '?', up to '#'; len 0 when absent */
} tly_url;

/* Parses an absolute http(s) URL (pointers into s). 0 ok, -1 not an absolute http/https URL or invalid
 * host (empty, too long, spaces/control chars, bad port) or control characters anywhere. */
int tly_url_parse(const char *s, size_t len, tly_url *out) TLY_NONNULL(3) TLY_MUST_CHECK;
/* Length of s without its fragment ("#..."). */
size_t tly_url_without_fragment(const char *s, size_t len);
/* Appends the host lowercased (ASCII), without a trailing '.', with a leading "www." removed when
 * strip_www (unless nothing would remain). */
void tly_url_host_lower(const tly_url *u, bool strip_www, tly_buf *out) TLY_NONNULL(1, 3);
/* Looks up query parameter `name` (exact, case-sensitive) and appends its percent-decoded value
 * ('+' = space) to out; the first occurrence wins. 1 found, 0 absent. Invalid %-escapes (and "%00",
 * so the result stays a C string) are kept literally. */
int tly_url_query_param(const char *query, size_t query_len, const char *name, tly_buf *out)
    TLY_NONNULL(3, 4);

#endif
