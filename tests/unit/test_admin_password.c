/* Account passwords: argon2id strings from crypto_pwhash_str, verified and upgraded. */
#include "first.h"
#include "tap.h"
#include "admin_password.h"

#include <sodium.h>
#include <string.h>

static void run_tests(void)
{
    if (sodium_init() < 0) SKIP_ALL("libsodium did not initialise");
    char hash[TLY_ADMIN_PASSWORD_HASH_SIZE], other[TLY_ADMIN_PASSWORD_HASH_SIZE];
    const char pw[] = "correct horse battery staple";
    CHECK_INT(tly_admin_password_hash(pw, strlen(pw), hash), 0);
    CHECK(strncmp(hash, "$argon2id$", 10) == 0);
    CHECK(strstr(hash, pw) == NULL);
    CHECK(tly_admin_password_verify(hash, pw, strlen(pw)));
    CHECK(!tly_admin_password_verify(hash, pw, strlen(pw) - 1));
    CHECK(!tly_admin_password_verify(hash, "Correct horse battery staple", strlen(pw)));
    CHECK(!tly_admin_password_verify("not a hash", pw, strlen(pw)));
    /* Salted: the same password hashes differently each time, and both verify. */
    CHECK_INT(tly_admin_password_hash(pw, strlen(pw), other), 0);
    CHECK(strcmp(hash, other) != 0);
    CHECK(tly_admin_password_verify(other, pw, strlen(pw)));
    CHECK(!tly_admin_password_needs_rehash(hash));
    /* A hash made with cheaper settings is upgraded at the next sign-in. */
    char weak[TLY_ADMIN_PASSWORD_HASH_SIZE];
    CHECK_INT(crypto_pwhash_str(weak, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN, 8192), 0);
    CHECK(tly_admin_password_verify(weak, pw, strlen(pw)));
    CHECK(tly_admin_password_needs_rehash(weak));
    /* Non-ASCII passwords are bytes like any other. */
    const char utf8[] = "pässwörd-ünïcödé";
    CHECK_INT(tly_admin_password_hash(utf8, strlen(utf8), hash), 0);
    CHECK(tly_admin_password_verify(hash, utf8, strlen(utf8)));
    tly_admin_password_verify_nobody(pw, strlen(pw));   /* only spends time; must not crash */
    CHECK(1);
}
