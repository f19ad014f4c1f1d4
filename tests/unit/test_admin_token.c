/* Secrets of the admin API: token shape, SHA-256 as the database sees it, CSRF derivation. */
#include "first.h"
#include "tap.h"
#include "admin_token.h"

#include <sodium.h>
#include <string.h>

static void test_new_tokens(void)
{
    char a[TLY_ADMIN_TOKEN_SIZE], b[TLY_ADMIN_TOKEN_SIZE];
    tly_admin_token_new("wk_", a);
    tly_admin_token_new("wk_", b);
    CHECK_INT(strlen(a), 3 + 43);
    CHECK(strncmp(a, "wk_", 3) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK(tly_admin_token_valid("wk_", a, strlen(a)));
    CHECK(!tly_admin_token_valid("rk_", a, strlen(a)));
    CHECK(!tly_admin_token_valid("wk_", a, strlen(a) - 1));
    char longest[TLY_ADMIN_TOKEN_SIZE];
    tly_admin_token_new("inv_", longest);
    CHECK_INT(strlen(longest), 4 + 43);
    CHECK(tly_admin_token_valid("inv_", longest, strlen(longest)));
}

static void test_token_shape(void)
{
    const char good[] = "ts_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-";
    CHECK(tly_admin_token_valid("ts_", good, strlen(good)));
    char bad[sizeof good];
    memcpy(bad, good, sizeof good);
    bad[10] = '+';   /* standard base64, not base64url */
    CHECK(!tly_admin_token_valid("ts_", bad, strlen(bad)));
    bad[10] = ';';
    CHECK(!tly_admin_token_valid("ts_", bad, strlen(bad)));
    CHECK(!tly_admin_token_valid("ts_", "", 0));
    CHECK(!tly_admin_token_valid("ts_", NULL, 0));
}

static void test_hash_hex(void)
{
    char hex[TLY_ADMIN_HASH_HEX_SIZE];
    /* FIPS 180-2 test vector: SHA-256("abc"), as PostgreSQL's sha256('abc') prints it. */
    tly_admin_hash_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tly_admin_hash_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_csrf(void)
{
    char s1[TLY_ADMIN_TOKEN_SIZE], s2[TLY_ADMIN_TOKEN_SIZE], c1[TLY_ADMIN_CSRF_SIZE], again[TLY_ADMIN_CSRF_SIZE],
        c2[TLY_ADMIN_CSRF_SIZE];
    tly_admin_token_new("ts_", s1);
    tly_admin_token_new("ts_", s2);
    tly_admin_csrf_of(s1, c1);
    tly_admin_csrf_of(s1, again);
    tly_admin_csrf_of(s2, c2);
    CHECK_INT(strlen(c1), 43);
    CHECK_STR(c1, again);                       /* a function of the session */
    CHECK(strcmp(c1, c2) != 0);                 /* and of nothing else */
    CHECK(strstr(s1, c1) == NULL);              /* not the session token itself */
    CHECK(tly_admin_csrf_matches(s1, c1));
    CHECK(!tly_admin_csrf_matches(s1, c2));
    CHECK(!tly_admin_csrf_matches(s2, c1));
    CHECK(!tly_admin_csrf_matches(s1, NULL));
    CHECK(!tly_admin_csrf_matches(s1, ""));
    c1[42] = c1[42] == 'A' ? 'B' : 'A';
    CHECK(!tly_admin_csrf_matches(s1, c1));
    char longer[TLY_ADMIN_CSRF_SIZE + 1];
    memcpy(longer, again, 43);
    longer[43] = 'x';
    longer[44] = '\0';
    CHECK(!tly_admin_csrf_matches(s1, longer));
}

static void test_random_id(void)
{
    char a[17], b[17];
    tly_admin_random_id(a, 16);
    tly_admin_random_id(b, 16);
    CHECK_INT(strlen(a), 16);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789") == 16);
}

static void run_tests(void)
{
    if (sodium_init() < 0) SKIP_ALL("libsodium did not initialise");
    test_new_tokens();
    test_token_shape();
    test_hash_hex();
    test_csrf();
    test_random_id();
}
