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
    expect("not-an-ip", NULL, NULL);
    expect("", "198.51.100.1", NULL);
    tly_cidr_list_free(trusted);
}

static void run_tests(void)
{
    test_lists();
    test_resolve();
}
