/* Traffic source of a visit derived from its referrer URL (known-referrer table in referrers.inc). */
#ifndef TLY_REFERRER_H
#define TLY_REFERRER_H
#include "first.h"
#include "buf.h"
#include <stddef.h>

/* The traffic source for a referrer URL seen on a page of host page_host (both as given by the client):
 * a known name ("Google", "Bing", "Twitter", "Hacker News", ...) for known referrer hosts, else the
 * referrer's host lowercased without "www." (e.g. "blog.example.org").
 * Appends nothing (returns 0) for an empty/unparseable referrer and for a self-referral (same host as
 * page_host, ignoring case, port, trailing dot and "www."). Returns 1 when a source was appended.
 * page_host may be NULL when page_host_len is 0. */
int tly_referrer_source(const char *referrer, size_t ref_len, const char *page_host,
                        size_t page_host_len, tly_buf *out) TLY_NONNULL(5);
/* The known source name for a host that is already lowercase and without "www.", or NULL when the
 * host is not in the table. The returned string is static. */
const char *tly_referrer_known(const char *host, size_t host_len);
/* Self-check of the table for the unit tests: 0 when both sections are strictly sorted, else -1. */
int tly_referrer_table_check(void);

#endif
