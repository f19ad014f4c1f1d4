#include "first.h"
#include "geo.h"
#include "mem.h"

#include <maxminddb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tly_geo {
    MMDB_s mmdb;
};

tly_geo *tly_geo_open(const char *path, char *err, size_t errlen)
{
    tly_geo *geo = tly_xcalloc(1, sizeof *geo);
    int status = MMDB_open(path, MMDB_MODE_MMAP, &geo->mmdb);
    if (status != MMDB_SUCCESS) {
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

/* Copies a UTF-8 string value into out (size bytes with NUL), cut on a character boundary. */
static void copy_utf8(const MMDB_entry_data_s *value, char *out, size_t size)
{
    size_t n = value->data_size;
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)value->utf8_string[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, value->utf8_string, n);
    out[n] = '\0';
}

static void get_string(MMDB_entry_s *entry, char *out, size_t size, ...)
{
    MMDB_entry_data_s value;
    va_list path;
    va_start(path, size);
    int status = MMDB_vget_value(entry, &value, path);
    va_end(path);
    if (status == MMDB_SUCCESS && value.has_data && value.type == MMDB_DATA_TYPE_UTF8_STRING)
        copy_utf8(&value, out, size);
}

void tly_geo_lookup(const tly_geo *geo, const char *ip, tly_geo_result *out)
{
    memset(out, 0, sizeof *out);
    if (!geo) return;
    int gai_error = 0, mmdb_error = 0;
    /* MMDB_lookup_string takes a non-const handle but does not modify it. */
    MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)&geo->mmdb, ip, &gai_error, &mmdb_error);
    if (gai_error != 0 || mmdb_error != MMDB_SUCCESS || !r.found_entry) return;
    get_string(&r.entry, out->country, sizeof out->country, "country", "iso_code", NULL);
    get_string(&r.entry, out->region, sizeof out->region, "subdivisions", "0", "iso_code", NULL);
    get_string(&r.entry, out->city, sizeof out->city, "city", "names", "en", NULL);
}
