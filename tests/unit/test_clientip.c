/* Client address resolution and trusted-proxy lists. */
#include "first.h"
#include "clientip.h"
#include "tap.h"

static tly_cidr_list *trusted;

static void expect(const char *remote, const char *xff, const char *want)
{
    char out[TLY_IP_TEXT_LEN];
    int rc = tly_clientip_resolve(remote, xff, trusted, out);
    printf("# %s | %s\n", remote, xff ? xff : "(none)");
    if (!want) {
        CHECK_INT(rc, -1);
        return;
    }
    CHECK_INT(rc, 0);
    CHECK_STR(out, want);
}

static void test_lists(void)
{
    char err[128] = "";
    tly_cidr_list *l = tly_cidr_list_parse("", err, sizeof err);
    CHECK(l != NULL);
    CHECK(!tly_cidr_list_contains(l, "127.0.0.1"));
    tly_cidr_list_free(l);

    l = tly_cidr_list_parse("10.1.2.3/8, 192.168.0.1 ::1,fd00::/8", err, sizeof err);
    CHECK(l != NULL);
    CHECK(tly_cidr_list_contains(l, "10.255.0.1"));       /* host bits of 10.1.2.3/8 ignored */
    CHECK(!tly_cidr_list_contains(l, "11.0.0.1"));
    CHECK(tly_cidr_list_contains(l, "192.168.0.1"));
    CHECK(!tly_cidr_list_contains(l, "192.168.0.2"));     /* bare address is /32 */
    CHECK(tly_cidr_list_contains(l, "::1"));
    CHECK(!tly_cidr_list_contains(l, "::2"));
    CHECK(tly_cidr_list_contains(l, "fd12:3456::1"));
    CHECK(tly_cidr_list_contains(l, "::ffff:10.9.9.9")); /* mapped counts as IPv4 */
    CHECK(!tly_cidr_list_contains(l, "garbage"));
    tly_cidr_list_free(l);

    l = tly_cidr_list_parse("0.0.0.0/0", err, sizeof err);
    CHECK(l && tly_cidr_list_contains(l, "203.0.113.5") && !tly_cidr_list_contains(l, "2001:db8::1"));
    tly_cidr_list_free(l);
    l = tly_cidr_list_parse("::/0", err, sizeof err);
    CHECK(l && tly_cidr_list_contains(l, "2001:db8::1") && tly_cidr_list_contains(l, "203.0.113.5"));
    tly_cidr_list_free(l);
    l = tly_cidr_list_parse("2001:db8::/128", err, sizeof err);
    CHECK(l && tly_cidr_list_contains(l, "2001:db8::") && !tly_cidr_list_contains(l, "2001:db8::1"));
    tly_cidr_list_free(l);

    CHECK(tly_cidr_list_parse("10.0.0.0/33", err, sizeof err) == NULL);
    CHECK_STR(err, "'10.0.0.0/33' is not an IP address or CIDR range");
    CHECK(tly_cidr_list_parse("127.0.0.1, localhost", err, sizeof err) == NULL);
    CHECK_STR(err, "'localhost' is not an IP address or CIDR range");
    CHECK(tly_cidr_list_parse("::1/129", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("10.0.0.0/-1", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("10.0.0.0/", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("1.2.3", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("10.0.0.0/-0", err, sizeof err) == NULL);  /* not a sneaky /0 */
    CHECK(tly_cidr_list_parse("10.0.0.0/+8", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("10.0.0.0/8/8", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("10.0.0.0/ 8", err, sizeof err) == NULL);
    CHECK_STR(err, "'10.0.0.0/' is not an IP address or CIDR range");
    CHECK(tly_cidr_list_parse("127.1", err, sizeof err) == NULL);         /* inet_aton shorthand */
    CHECK(tly_cidr_list_parse("010.0.0.1", err, sizeof err) == NULL);     /* octal-looking */
    CHECK(tly_cidr_list_parse("fe80::1%eth0", err, sizeof err) == NULL);
    CHECK(tly_cidr_list_parse("::1, 10.0.0.0/8;", err, sizeof err) == NULL);
    CHECK_STR(err, "'10.0.0.0/8;' is not an IP address or CIDR range");

    /* Separators: any mix of commas, spaces, tabs and newlines; empty items ignored. */
    l = tly_cidr_list_parse(" ,, 10.0.0.1,\t::1\n ,", err, sizeof err);
    CHECK(l && tly_cidr_list_contains(l, "10.0.0.1") && tly_cidr_list_contains(l, "::1"));
    tly_cidr_list_free(l);
    l = tly_cidr_list_parse(" , ", err, sizeof err);
    CHECK(l && !tly_cidr_list_contains(l, "10.0.0.1"));
    tly_cidr_list_free(l);
    tly_cidr_list_free(NULL);

    /* Prefix edges. */
    l = tly_cidr_list_parse("192.168.1.255/32 10.0.0.0/31 172.16.0.0/12", err, sizeof err);
    CHECK(l != NULL);
    CHECK(tly_cidr_list_contains(l, "192.168.1.255"));
    CHECK(!tly_cidr_list_contains(l, "192.168.1.254"));
    CHECK(tly_cidr_list_contains(l, "10.0.0.1"));
    CHECK(!tly_cidr_list_contains(l, "10.0.0.2"));
    CHECK(tly_cidr_list_contains(l, "172.31.255.255"));
    CHECK(!tly_cidr_list_contains(l, "172.32.0.0"));
    CHECK(!tly_cidr_list_contains(l, "172.15.255.255"));
    CHECK(!tly_cidr_list_contains(l, "::ffff:172.32.0.0"));
    CHECK(tly_cidr_list_contains(l, "::ffff:172.16.0.1"));
    CHECK(!tly_cidr_list_contains(l, "::172.16.0.1"));     /* IPv4-compatible is not mapped */
    CHECK(!tly_cidr_list_contains(l, ""));
    CHECK(!tly_cidr_list_contains(l, " 10.0.0.1"));
    tly_cidr_list_free(l);
    l = tly_cidr_list_parse("2001:db8::/33 ::ffff:0:0/96", err, sizeof err);
    CHECK(l != NULL);
    CHECK(tly_cidr_list_contains(l, "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(!tly_cidr_list_contains(l, "2001:db8:8000::"));
    CHECK(tly_cidr_list_contains(l, "8.8.8.8"));             /* ::ffff:0:0/96 is all of IPv4 */
    tly_cidr_list_free(l);
}

static void test_resolve(void)
{
    char err[128];
    trusted = tly_cidr_list_parse("127.0.0.1 ::1 10.0.0.0/8", err, sizeof err);
    expect("203.0.113.7", NULL, "203.0.113.7");
    expect("203.0.113.7", "198.51.100.1", "203.0.113.7");            /* untrusted peer: XFF ignored */
    expect("127.0.0.1", NULL, "127.0.0.1");
    expect("127.0.0.1", "", "127.0.0.1");
    expect("127.0.0.1", "198.51.100.1", "198.51.100.1");
    expect("127.0.0.1", "1.1.1.1, 198.51.100.1", "198.51.100.1");    /* right-most untrusted */
    expect("127.0.0.1", "198.51.100.1, 10.0.0.5", "198.51.100.1");   /* skips trusted hops */
    expect("127.0.0.1", "198.51.100.1,10.0.0.5,10.0.0.6", "198.51.100.1");
    expect("127.0.0.1", "  198.51.100.9  ", "198.51.100.9");
    expect("127.0.0.1", "198.51.100.1,,", "198.51.100.1");           /* empty entries skipped */
    expect("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1");       /* garbage stops the walk */
    expect("127.0.0.1", "198.51.100.1, garbage, 10.0.0.3", "10.0.0.3");
    expect("127.0.0.1", "2001:db8::7", "2001:db8::7");
    expect("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7");
    expect("127.0.0.1", "198.51.100.4:5000", "198.51.100.4");
    expect("::1", "198.51.100.2", "198.51.100.2");
    expect("::ffff:127.0.0.1", "198.51.100.3", "198.51.100.3");      /* mapped peer is trusted */
    expect("::ffff:203.0.113.9", NULL, "203.0.113.9");               /* shown as IPv4 */
    expect("2001:DB8::1", NULL, "2001:db8::1");                      /* normalised */
    expect("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1");           /* all trusted: left-most */
    expect("127.0.0.1", "[2001:db8::7]", "2001:db8::7");
    expect("127.0.0.1", "[2001:db8::7]junk", "127.0.0.1");          /* strict after brackets */
    expect("127.0.0.1", "[198.51.100.4]", "127.0.0.1");             /* brackets are for IPv6 */
    expect("127.0.0.1", "198.51.100.4:http", "127.0.0.1");
    expect("127.0.0.1", "198.51.100.4:", "127.0.0.1");
    expect("127.0.0.1", "198.51.100.4:123456", "127.0.0.1");
    expect("127.0.0.1", "::ffff:198.51.100.8", "198.51.100.8");      /* mapped XFF entry */
    expect("127.0.0.1", "198.51.100.1, ::ffff:10.0.0.9", "198.51.100.1"); /* mapped trusted hop */
    expect("127.0.0.1", "198.51.100.1 , , 10.0.0.5", "198.51.100.1");
    expect("127.0.0.1", ",", "127.0.0.1");
    expect("127.0.0.1", "\t198.51.100.1\t", "198.51.100.1");
    expect("127.0.0.1", "198.51.100.1 203.0.113.1", "127.0.0.1");   /* space is not a separator */
    expect("127.0.0.1", "unknown", "127.0.0.1");
    expect("127.0.0.1", "198.51.100.1, unknown", "127.0.0.1");
    expect("127.0.0.1", "127.1", "127.0.0.1");                      /* no inet_aton shorthand */
    expect("10.1.2.3", "203.0.113.50, 198.51.100.1", "198.51.100.1"); /* spoofed left entry ignored */
    expect("198.51.100.77", "10.0.0.1, 127.0.0.1", "198.51.100.77");  /* untrusted peer, spoof */
    expect("2001:db8::99", "198.51.100.1", "2001:db8::99");
    expect("127.0.0.1", "2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    {
        char longxff[300];
        memset(longxff, '1', sizeof longxff - 1);
        longxff[sizeof longxff - 1] = '\0';
        expect("127.0.0.1", longxff, "127.0.0.1");                   /* over-long entry */
    }
    expect("not-an-ip", NULL, NULL);
    expect("not-an-ip", "198.51.100.1", NULL);
    expect("127.0.0.1:80", NULL, NULL);                               /* REMOTE_ADDR has no port */
    expect("", "198.51.100.1", NULL);
    tly_cidr_list_free(trusted);
}

/* One range at a time, as a property's excluded addresses are matched. */
static void test_single_ranges(void)
{
    CHECK(tly_cidr_valid("192.0.2.7"));
    CHECK(tly_cidr_valid("192.0.2.0/24"));
    CHECK(tly_cidr_valid("2001:db8::/32"));
    CHECK(tly_cidr_valid("0.0.0.0/0"));
    CHECK(!tly_cidr_valid(""));
    CHECK(!tly_cidr_valid("192.0.2.0/33"));
    CHECK(!tly_cidr_valid("2001:db8::/129"));
    CHECK(!tly_cidr_valid("192.0.2.0/-0"));
    CHECK(!tly_cidr_valid("192.0.2.0/"));
    CHECK(!tly_cidr_valid("192.0.2.1 192.0.2.2"));
    CHECK(!tly_cidr_valid("example.com"));
    CHECK(tly_cidr_contains("192.0.2.0/24", "192.0.2.200"));
    CHECK(tly_cidr_contains("192.0.2.0/24", "::ffff:192.0.2.200"));
    CHECK(!tly_cidr_contains("192.0.2.0/24", "192.0.3.1"));
    CHECK(tly_cidr_contains("192.0.2.7", "192.0.2.7"));
    CHECK(!tly_cidr_contains("192.0.2.7", "192.0.2.8"));
    CHECK(tly_cidr_contains("2001:db8:e0::/48", "2001:db8:e0:1::9"));
    CHECK(!tly_cidr_contains("2001:db8:e0::/48", "2001:db8:e1::9"));
    CHECK(!tly_cidr_contains("2001:db8::/32", "192.0.2.1"));
    CHECK(!tly_cidr_contains("not a range", "192.0.2.1"));
    CHECK(!tly_cidr_contains("192.0.2.0/24", "not an address"));
}

static void run_tests(void)
{
    test_lists();
    test_resolve();
    test_single_ranges();
}
