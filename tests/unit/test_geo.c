/* GeoIP lookups against a tiny MaxMind DB written by tests/tools/make-test-mmdb. */
#include "first.h"
#include "geo.h"
#include "tap.h"

#include <unistd.h>

#ifndef TLY_TEST_TOOLS
#define TLY_TEST_TOOLS "tests/tools"
#endif

static void expect(const tly_geo *geo, const char *ip, const char *country, const char *region,
                   const char *city)
{
    tly_geo_result r;
    tly_geo_lookup(geo, ip, &r);
    printf("# %s\n", ip);
    CHECK_STR(r.country, country);
    CHECK_STR(r.region, region);
    CHECK_STR(r.city, city);
}

static void run_tests(void)
{
    char path[256];
    const char *given = getenv("TLY_TEST_MMDB");
    if (given && *given) {
        snprintf(path, sizeof path, "%s", given);
    } else {
        snprintf(path, sizeof path, "/tmp/tally-test-%d.mmdb", (int)getpid());
        char cmd[512];
        snprintf(cmd, sizeof cmd, "python3 %s/make-test-mmdb %s", TLY_TEST_TOOLS, path);
        if (system(cmd) != 0) SKIP_ALL("python3 could not write the test database");
    }
    char err[256] = "";
    tly_geo *geo = tly_geo_open(path, err, sizeof err);
    CHECK(geo != NULL);
    if (!geo) { printf("# %s\n", err); return; }
    expect(geo, "192.0.2.7", "DE", "BE", "Berlin");
    expect(geo, "198.51.100.250", "FR", "IDF", "Paris");
    expect(geo, "203.0.113.1", "JP", "", "");
    expect(geo, "2001:db8:1::9", "NL", "", "Amsterdam");
    expect(geo, "8.8.8.8", "", "", "");             /* in no network */
    expect(geo, "2a00::1", "", "", "");
    expect(geo, "not an address", "", "", "");
    expect(geo, "", "", "", "");
    expect(NULL, "192.0.2.7", "", "", "");          /* no database configured */
    tly_geo_close(geo);
    if (!given) unlink(path);

    CHECK(tly_geo_open("/nonexistent.mmdb", err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent.mmdb") != NULL);
}
