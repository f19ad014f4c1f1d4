/* The client's address: REMOTE_ADDR, or, behind trusted proxies, the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy. The result lives only in memory. */
#ifndef TLY_CLIENTIP_H
#define TLY_CLIENTIP_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

#define TLY_IP_TEXT_LEN 46   /* INET6_ADDRSTRLEN */

typedef struct tly_cidr_list tly_cidr_list;

/* Parses "127.0.0.1, 10.0.0.0/8 ::1 fd00::/8" (comma and/or space separated; a bare address is
 * /32 or /128). NULL with a message naming the bad item in err. An empty spec is an empty list. */
tly_cidr_list *tly_cidr_list_parse(const char *spec, char *err, size_t errlen) TLY_NONNULL(1, 2);
void tly_cidr_list_free(tly_cidr_list *list);   /* NULL ok */
/* False for an unparseable ip. IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
bool tly_cidr_list_contains(const tly_cidr_list *list, const char *ip) TLY_NONNULL(1, 2);
/* One item of a list: true when text is an address or a CIDR range ("10.0.0.0/8"). */
bool tly_cidr_valid(const char *text) TLY_NONNULL(1);
/* True when ip is in range (an address or a CIDR range); false when either is not valid. */
bool tly_cidr_contains(const char *range, const char *ip) TLY_NONNULL(1, 2);
/* remote_addr, or when it is in trusted and xff (may be NULL) is set, the right-most XFF entry not
 * in trusted (empty entries skipped; garbage stops the walk at the last valid address). Writes
 * normalised text (mapped IPv6 as IPv4) into out. 0 ok, -1 (out "") when remote_addr is invalid. */
int tly_clientip_resolve(const char *remote_addr, const char *xff, const tly_cidr_list *trusted,
                         char out[TLY_IP_TEXT_LEN]) TLY_NONNULL(1, 3, 4);

#endif
