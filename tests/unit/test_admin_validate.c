/* Checks of the values the admin API accepts, and roles. */
#include "first.h"
#include "tap.h"
#include "admin_validate.h"

#include <string.h>

#define OK(fn, s) CHECK_STR(fn((s), strlen(s)), NULL)
#define BAD(fn, s) CHECK(fn((s), strlen(s)) != NULL)

static void test_email(void)
{
    OK(tly_admin_check_email, "owner@example.com");
    OK(tly_admin_check_email, "o+tag@sub.example.co.uk");
    OK(tly_admin_check_email, "admin@localhost");
    OK(tly_admin_check_email, "ünï@exämple.de");
    BAD(tly_admin_check_email, "");
    BAD(tly_admin_check_email, "owner");
    BAD(tly_admin_check_email, "@example.com");
    BAD(tly_admin_check_email, "owner@");
    BAD(tly_admin_check_email, "a@b@c");
    BAD(tly_admin_check_email, "own er@example.com");
    BAD(tly_admin_check_email, "Owner <owner@example.com>");
    BAD(tly_admin_check_email, "a@b.com, c@d.com");
    BAD(tly_admin_check_email, "owner@exa\tmple.com");
    char longest[300];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + 240, "@example.com", 13);
    OK(tly_admin_check_email, longest);                         /* 252 bytes */
    memset(longest, 'a', sizeof longest);
    memcpy(longest + 250, "@example.com", 13);
    BAD(tly_admin_check_email, longest);                         /* 262 bytes */
}

static void test_password(void)
{
    OK(tly_admin_check_password, "0123456789");
    OK(tly_admin_check_password, "äöüßäöüßäö");        /* 10 characters, 20 bytes */
    BAD(tly_admin_check_password, "012345678");
    BAD(tly_admin_check_password, "äöüßäöüßä");         /* 9 characters, 18 bytes */
    BAD(tly_admin_check_password, "");
    char big[1100];
    memset(big, 'x', sizeof big);
    big[1024] = '\0';
    OK(tly_admin_check_password, big);
    OK(tly_admin_check_password_given, big);
    big[1024] = 'x';
    big[1025] = '\0';
    BAD(tly_admin_check_password, big);
    BAD(tly_admin_check_password_given, big);
    OK(tly_admin_check_password_given, "short");        /* old passwords still sign in */
}

static void test_name(void)
{
    OK(tly_admin_check_name, "My site");
    OK(tly_admin_check_name, "Blog — Ünïcode");
    BAD(tly_admin_check_name, "");
    BAD(tly_admin_check_name, "   ");
    BAD(tly_admin_check_name, "line\nbreak");
    BAD(tly_admin_check_name, "bell\x07");
    CHECK(tly_admin_check_name("\xff\xfe", 2) != NULL);
    char s[130];
    memset(s, 'n', sizeof s);
    s[120] = '\0';
    OK(tly_admin_check_name, s);
    s[120] = 'n';
    s[121] = '\0';
    BAD(tly_admin_check_name, s);
}

static void test_label(void)
{
    OK(tly_admin_check_label, "");
    OK(tly_admin_check_label, "website");
    BAD(tly_admin_check_label, "   ");
    BAD(tly_admin_check_label, "two\nlines");
}

static void test_domain(void)
{
    OK(tly_admin_check_domain, "example.com");
    OK(tly_admin_check_domain, "Blog.Example.com");
    OK(tly_admin_check_domain, "localhost");
    OK(tly_admin_check_domain, "xn--bcher-kva.example");
    OK(tly_admin_check_domain, "my_host.internal");
    BAD(tly_admin_check_domain, "");
    BAD(tly_admin_check_domain, "https://example.com");
    BAD(tly_admin_check_domain, "example.com/path");
    BAD(tly_admin_check_domain, "example.com:8080");
    BAD(tly_admin_check_domain, "exa mple.com");
    BAD(tly_admin_check_domain, "example..com");
    BAD(tly_admin_check_domain, ".example.com");
    BAD(tly_admin_check_domain, "-example.com");
    BAD(tly_admin_check_domain, "example-.com");
    BAD(tly_admin_check_domain, "bücher.example");
}

static void test_origin(void)
{
    OK(tly_admin_check_origin, "*");
    OK(tly_admin_check_origin, "example.com");
    OK(tly_admin_check_origin, "https://example.com");
    OK(tly_admin_check_origin, "http://localhost:8080");
    OK(tly_admin_check_origin, "HTTPS://Example.com:443");
    OK(tly_admin_check_origin, "http://[::1]:8080");
    OK(tly_admin_check_origin, "http://[2001:db8::1]");
    BAD(tly_admin_check_origin, "");
    BAD(tly_admin_check_origin, "**");
    BAD(tly_admin_check_origin, "ftp://example.com");
    BAD(tly_admin_check_origin, "https://example.com/");
    BAD(tly_admin_check_origin, "https://example.com/path");
    BAD(tly_admin_check_origin, "https://");
    BAD(tly_admin_check_origin, "https://example.com:0");
    BAD(tly_admin_check_origin, "https://example.com:65536");
    BAD(tly_admin_check_origin, "https://example.com:80a");
    BAD(tly_admin_check_origin, "https://example.com:");
    BAD(tly_admin_check_origin, "http://[::1");
    BAD(tly_admin_check_origin, "http://[]");
    BAD(tly_admin_check_origin, "http://[::1]x");
    BAD(tly_admin_check_origin, "*.example.com");
}

static void test_paths_and_events(void)
{
    OK(tly_admin_check_excluded_path, "/admin");
    OK(tly_admin_check_excluded_path, "/admin/*");
    OK(tly_admin_check_excluded_path, "/ä");
    BAD(tly_admin_check_excluded_path, "admin");
    BAD(tly_admin_check_excluded_path, "");
    BAD(tly_admin_check_excluded_path, "/a\nb");
    OK(tly_admin_check_excluded_address, "192.0.2.7");
    OK(tly_admin_check_excluded_address, "198.51.100.0/24");
    OK(tly_admin_check_excluded_address, "2001:db8::/32");
    OK(tly_admin_check_excluded_address, "0000:0000:0000:0000:0000:ffff:192.168.100.228/128");
    BAD(tly_admin_check_excluded_address, "");
    BAD(tly_admin_check_excluded_address, "10.0.0.0/8, 10.1.0.0/16");
    BAD(tly_admin_check_excluded_address, "192.0.2.0/33");
    BAD(tly_admin_check_excluded_address, "localhost");
    CHECK(tly_admin_check_excluded_address("10.0.0.1\0x", 10) != NULL);   /* a NUL inside */
    OK(tly_admin_check_path_pattern, "/pricing");
    OK(tly_admin_check_path_pattern, "/blog/*/comments");
    BAD(tly_admin_check_path_pattern, "*pricing");
    char long_path[600];
    memset(long_path, 'p', sizeof long_path);
    long_path[0] = '/';
    long_path[500] = '\0';
    OK(tly_admin_check_path_pattern, long_path);
    long_path[500] = 'p';
    long_path[501] = '\0';
    BAD(tly_admin_check_path_pattern, long_path);
    OK(tly_admin_check_event_name, "signup");
    OK(tly_admin_check_event_name, "Newsletter: sign up");
    BAD(tly_admin_check_event_name, "pageview");
    BAD(tly_admin_check_event_name, "");
    BAD(tly_admin_check_event_name, "semi;colon");
}

static void test_timezone_and_ids(void)
{
    OK(tly_admin_check_timezone, "UTC");
    OK(tly_admin_check_timezone, "Europe/Berlin");
    OK(tly_admin_check_timezone, "America/Argentina/Buenos_Aires");
    OK(tly_admin_check_timezone, "Etc/GMT+5");
    BAD(tly_admin_check_timezone, "");
    BAD(tly_admin_check_timezone, "Europe/Berlin; DROP TABLE");
    BAD(tly_admin_check_timezone, "Mars Base");
    CHECK(tly_admin_property_id_valid("prop_abc123", 11));
    CHECK(tly_admin_property_id_valid("prop_e2e1_ab-c_d", 16));
    CHECK(!tly_admin_property_id_valid("prop_", 5));
    CHECK(!tly_admin_property_id_valid("property", 8));
    CHECK(!tly_admin_property_id_valid("prop_a/b", 8));
    CHECK(!tly_admin_property_id_valid("prop_a%20", 9));
}

static void test_stripe_secret(void)
{
    OK(tly_admin_check_stripe_secret, "whsec_1234");                       /* 10 bytes: the shortest */
    OK(tly_admin_check_stripe_secret, "whsec_e2e_0123456789abcdef");
    OK(tly_admin_check_stripe_secret, "whsec_AbC+/de=_-9");
    BAD(tly_admin_check_stripe_secret, "whsec_123");                       /* 9 bytes */
    BAD(tly_admin_check_stripe_secret, "");
    BAD(tly_admin_check_stripe_secret, "sk_live_1234567890");
    BAD(tly_admin_check_stripe_secret, "WHSEC_1234567890");
    BAD(tly_admin_check_stripe_secret, "whsec_12345 67890");
    BAD(tly_admin_check_stripe_secret, "whsec_12345\n67890");
    BAD(tly_admin_check_stripe_secret, "whsec_123456789\xc3\xa9");
    CHECK(tly_admin_check_stripe_secret("whsec_12345\0abc", 15) != NULL);
    char s[210];
    memcpy(s, "whsec_", 6);
    memset(s + 6, 'k', sizeof s - 6);
    s[200] = '\0';
    OK(tly_admin_check_stripe_secret, s);
    s[200] = 'k';
    s[201] = '\0';
    BAD(tly_admin_check_stripe_secret, s);
}

static void test_roles(void)
{
    CHECK_INT(tly_admin_role_parse("owner"), TLY_ROLE_OWNER);
    CHECK_INT(tly_admin_role_parse("admin"), TLY_ROLE_ADMIN);
    CHECK_INT(tly_admin_role_parse("viewer"), TLY_ROLE_VIEWER);
    CHECK_INT(tly_admin_role_parse("Owner"), TLY_ROLE_NONE);
    CHECK_INT(tly_admin_role_parse(""), TLY_ROLE_NONE);
    CHECK(TLY_ROLE_VIEWER < TLY_ROLE_ADMIN && TLY_ROLE_ADMIN < TLY_ROLE_OWNER);
    CHECK_STR(tly_admin_role_name(TLY_ROLE_ADMIN), "admin");
    CHECK_STR(tly_admin_role_name(tly_admin_role_parse("viewer")), "viewer");
}

static void run_tests(void)
{
    test_email();
    test_password();
    test_name();
    test_label();
    test_domain();
    test_origin();
    test_paths_and_events();
    test_timezone_and_ids();
    test_stripe_secret();
    test_roles();
}
