/* GeoIP: country, subdivision and city of an address from a MaxMind DB (GeoLite2-Country/City,
 * DB-IP lite). Optional: without a database every field is empty. */
#ifndef TLY_GEO_H
#define TLY_GEO_H
#include "first.h"
#include <stddef.h>

typedef struct tly_geo tly_geo;

typedef struct tly_geo_result {
    char country[3];   /* ISO 3166-1 alpha-2, "" when unknown */
    char region[8];    /* ISO 3166-2 subdivision code without the country ("BE"), "" when unknown */
    char city[64];     /* English name, cut on a character boundary, "" when unknown */
} tly_geo_result;

/* Opens the database (memory-mapped). NULL with a message in err on failure. */
tly_geo *tly_geo_open(const char *path, char *err, size_t errlen) TLY_NONNULL(1, 2);
/* Looks up ip (inet_pton text form; ::ffff:a.b.c.d as IPv4). geo may be NULL, ip invalid or not
 * in the database: all fields empty. Never fails. Safe from any number of threads, also while
 * another refreshes the database. */
void tly_geo_lookup(tly_geo *geo, const char *ip, tly_geo_result *out) TLY_NONNULL(2, 3);
/* Reads the database again if its file has changed since it was read (updaters such as MaxMind's
 * geoipupdate rename a new file into place; a file rewritten in place must not be read while it
 * is being written). 1: the new file is in use; 0: unchanged (or missing: the old one stays);
 * -1: the new file cannot be read, message in err, and the old one stays (that file is not
 * tried again until it changes once more). One thread at a time. */
int tly_geo_refresh(tly_geo *geo, char *err, size_t errlen) TLY_NONNULL(1, 2);
void tly_geo_close(tly_geo *geo);   /* NULL ok */

#endif
