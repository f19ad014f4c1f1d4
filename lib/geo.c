#include "first.h"
#include "geo.h"
#include "mem.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tly_geo {
    MMDB_s mmdb;
};

tly_geo *tly_geo_open(const char *path, char *err, size_t errlen)
{
    tly_geo *geo = tly_xcalloc(1, sizeof *geo);
    int status = MMDB_open(path, MMDB_MODE_MMAP, &geo->mmdb);
    if (status != MMDB_SUCCESS) {
        if (status == MMDB_IO_ERROR)
            snprintf(err, errlen, "cannot open %s: %s (%m)", path, MMDB_strerror(status));
        else
            snprintf(err, errlen, "cannot open %s: %s", path, MMDB_strerror(status));
        free(geo);
        return NULL;
    }
    return geo;
}

void tly_geo_close(tly_geo *geo)
{
    if (!geo) return;
    MMDB_close(&geo->mmdb);
    free(geo);
}

/* The string at path under entry, or false when absent or not a string. */
static bool get_string(MMDB_entry_s *entry, MMDB_entry_data_s *value, ...)
{
    va_list path;
    va_start(path, value);
    int status = MMDB_vget_value(entry, value, path);
    va_end(path);
    return status == MMDB_SUCCESS && value->has_data && value->type == MMDB_DATA_TYPE_UTF8_STRING;
}

/* Codes are copied whole or not at all: a cut "DEU" would be a different, wrong country. Only
 * [A-Z0-9] is taken, so nothing odd from a database reaches reports. */
static void copy_code(const MMDB_entry_data_s *value, char *out, size_t size)
{
    size_t n = value->data_size;
    if (n == 0 || n >= size) return;
    for (size_t i = 0; i < n; i++) {
        char c = value->utf8_string[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return;
    }
    memcpy(out, value->utf8_string, n);
    out[n] = '\0';
}

/* Names are cut to fit, backing up to the start of a UTF-8 sequence so the result stays valid;
 * an embedded NUL ends the name. */
static void copy_name(const MMDB_entry_data_s *value, char *out, size_t size)
{
    const char *s = value->utf8_string;
    size_t n = tly_utf8_cut(s, strnlen(s, value->data_size), size - 1);
    memcpy(out, s, n);
    out[n] = '\0';
}

void tly_geo_lookup(const tly_geo *geo, const char *ip, tly_geo_result *out)
{
    memset(out, 0, sizeof *out);
    if (!geo) return;
    /* inet_pton rather than MMDB_lookup_string: getaddrinfo would accept inet_aton forms such as
     * "192.0.519", and a mapped ::ffff:a.b.c.d is looked up as the IPv4 address it stands for,
     * since not every database aliases ::ffff:0:0/96 to its IPv4 subtree. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            struct in_addr mapped;
            memcpy(&mapped, &v6->sin6_addr.s6_addr[12], sizeof mapped);
            memset(&ss, 0, sizeof ss);
            v4->sin_family = AF_INET;
            v4->sin_addr = mapped;
        } else {
            v6->sin6_family = AF_INET6;
        }
    } else {
        return;
    }
    int mmdb_error = MMDB_SUCCESS;
    /* MMDB_lookup_sockaddr takes a non-const handle but does not modify it. */
    MMDB_lookup_result_s r =
        MMDB_lookup_sockaddr((MMDB_s *)&geo->mmdb, (const struct sockaddr *)&ss, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !r.found_entry) return;
    MMDB_entry_data_s value;
    if (get_string(&r.entry, &value, "country", "iso_code", NULL))
        copy_code(&value, out->country, sizeof out->country);
    if (get_string(&r.entry, &value, "subdivisions", "0", "iso_code", NULL))
        copy_code(&value, out->region, sizeof out->region);
    if (get_string(&r.entry, &value, "city", "names", "en", NULL))
        copy_name(&value, out->city, sizeof out->city);
}
