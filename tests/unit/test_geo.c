/* GeoIP lookups against tiny MaxMind DBs written by tests/tools/make-test-mmdb, with each record
 * size the format allows (28 bits also with data pointers above 2^24). */
#include "first.h"
#include "geo.h"
#include "tap.h"

#include <stdbool.h>
#include <unistd.h>

#ifndef TLY_TEST_TOOLS
#define TLY_TEST_TOOLS "tests/tools"
#endif

static void expect(tly_geo *geo, const char *ip, const char *country, const char *region,
                   const char *city)
{
    tly_geo_result r;
    memset(&r, 'x', sizeof r);   /* stale bytes must not survive the lookup */
    tly_geo_lookup(geo, ip, &r);
    printf("# %s\n", ip);
    CHECK_STR(r.country, country);
    CHECK_STR(r.region, region);
    CHECK_STR(r.city, city);
}

static void check_database(const char *path)
{
    printf("# database %s\n", path);
    char err[256] = "";
    tly_geo *geo = tly_geo_open(path, err, sizeof err);
    CHECK(geo != NULL);
    if (!geo) {
        printf("# %s\n", err);
        return;
    }
    expect(geo, "192.0.2.7", "DE", "BE", "Berlin");
    expect(geo, "192.0.2.0", "DE", "BE", "Berlin");
    expect(geo, "192.0.2.255", "DE", "BE", "Berlin");
    expect(geo, "192.0.1.255", "", "", "");               /* just outside */
    expect(geo, "192.0.3.0", "", "", "");
    expect(geo, "198.51.100.250", "FR", "IDF", "Paris");
    expect(geo, "203.0.113.1", "JP", "", "");              /* country-only record */
    expect(geo, "2001:db8:1::9", "NL", "", "Amsterdam");
    expect(geo, "2001:DB8:ffff:ffff::", "NL", "", "Amsterdam");
    expect(geo, "2001:db9::1", "", "", "");
    expect(geo, "::ffff:192.0.2.7", "DE", "BE", "Berlin"); /* mapped: looked up as IPv4 */
    expect(geo, "::192.0.2.7", "DE", "BE", "Berlin");      /* where MaxMind stores IPv4 */
    /* First subdivision; English name cut to 63 bytes on a character boundary: "a" + 20 x "€". */
    expect(geo, "233.252.0.1", "IT", "62",
           "a\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac"
           "\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac");
    expect(geo, "100.64.0.1", "", "", "");   /* "DEU", an 11-byte subdivision, a numeric name */
    expect(geo, "8.8.8.8", "", "", "");      /* in no network */
    expect(geo, "0.0.0.0", "", "", "");
    expect(geo, "255.255.255.255", "", "", "");
    expect(geo, "2a00::1", "", "", "");
    expect(geo, "::", "", "", "");
    expect(geo, "not an address", "", "", "");
    expect(geo, "", "", "", "");
    expect(geo, "192.0.519", "", "", "");    /* inet_aton shorthand for 192.0.2.7: refused */
    expect(geo, " 192.0.2.7", "", "", "");
    expect(geo, "192.0.2.7:80", "", "", "");
    expect(NULL, "192.0.2.7", "", "", "");   /* no database configured */
    tly_geo_close(geo);
}

/* Writes a database with the generator; false when python3 or the script is unavailable. */
static bool make_database(const char *path, const char *options)
{
    char cmd[768];
    snprintf(cmd, sizeof cmd, "python3 '%s/make-test-mmdb' %s '%s'", TLY_TEST_TOOLS, options, path);
    return system(cmd) == 0;
}

/* Writes a database to path by renaming a new file into place, as updaters do. */
static bool replace_database(const char *path, const char *options)
{
    char next[300];
    snprintf(next, sizeof next, "%s.next", path);
    return make_database(next, options) && rename(next, path) == 0;
}

/* A database whose file is replaced is read again by tly_geo_refresh, and only then; a file that
 * cannot be read leaves the one in use, and is not tried again until it changes. */
static void check_refresh(void)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "/tmp/tally-test-geo-%d-refresh.mmdb", (int)getpid());
    CHECK(make_database(path, ""));
    tly_geo *geo = tly_geo_open(path, err, sizeof err);
    CHECK(geo != NULL);
    if (!geo) return;
    CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 0);   /* unchanged */
    expect(geo, "192.0.2.7", "DE", "BE", "Berlin");

    CHECK(replace_database(path, "--country 192.0.2.0/24=AT"));
    expect(geo, "192.0.2.7", "DE", "BE", "Berlin");         /* until refreshed */
    CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 1);
    expect(geo, "192.0.2.7", "AT", "", "");
    expect(geo, "198.51.100.1", "FR", "IDF", "Paris");
    CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 0);

    char next[300];
    snprintf(next, sizeof next, "%s.next", path);
    FILE *f = fopen(next, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("half a download\n", f);
        fclose(f);
        CHECK(rename(next, path) == 0);
        err[0] = '\0';
        CHECK_INT(tly_geo_refresh(geo, err, sizeof err), -1);
        CHECK(strstr(err, path) != NULL);
        printf("# %s\n", err);
        expect(geo, "192.0.2.7", "AT", "", "");             /* the old one stays */
        CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 0);   /* and the bad file is not read again */
    }

    unlink(path);
    CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 0);       /* missing for a moment */
    expect(geo, "192.0.2.7", "AT", "", "");
    CHECK(replace_database(path, "--country 192.0.2.0/24=CH"));
    CHECK_INT(tly_geo_refresh(geo, err, sizeof err), 1);
    expect(geo, "192.0.2.7", "CH", "", "");
    tly_geo_close(geo);
    unlink(path);
}

static void run_tests(void)
{
    const char *given = getenv("TLY_TEST_MMDB");
    if (given && *given) {
        check_database(given);
    } else {
        if (system("python3 -c '' 2>/dev/null") != 0) SKIP_ALL("python3 is not available");
        static const char *const variants[] = {
            "--record-size 24", "--record-size 28", "--record-size 32",
            "--record-size 28 --pad 16777216",
        };
        for (size_t i = 0; i < TLY_ARRAY_LEN(variants); i++) {
            char path[256];
            snprintf(path, sizeof path, "/tmp/tally-test-geo-%d-%zu.mmdb", (int)getpid(), i);
            bool made = make_database(path, variants[i]);
            printf("# make-test-mmdb %s\n", variants[i]);
            CHECK(made);
            if (made) check_database(path);
            unlink(path);
        }
        check_refresh();
    }

    tly_geo_close(NULL);
    char err[256] = "";
    CHECK(tly_geo_open("/nonexistent.mmdb", err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent.mmdb") != NULL);
    /* Files that are not MaxMind DBs. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/tally-test-geo-%d-bad.mmdb", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not a MaxMind DB, no metadata marker\n", f);
        fclose(f);
        err[0] = '\0';
        CHECK(tly_geo_open(path, err, sizeof err) == NULL);
        CHECK(strstr(err, path) != NULL);
        printf("# %s\n", err);
        unlink(path);
    }
    CHECK(tly_geo_open("/dev/null", err, sizeof err) == NULL);
}
