/* Login throttling keys: keyed hashes of an account or an address under a day's salt. */
#include "first.h"
#include "tap.h"
#include "admin_throttle.h"

#include <sodium.h>
#include <string.h>

static void run_tests(void)
{
    if (sodium_init() < 0) SKIP_ALL("libsodium did not initialise");
    uint8_t salt[TLY_SALT_BYTES], other_salt[TLY_SALT_BYTES];
    for (int i = 0; i < TLY_SALT_BYTES; i++) {
        salt[i] = (uint8_t)i;
        other_salt[i] = (uint8_t)(i + 1);
    }
    char a[TLY_ADMIN_HASH_HEX_SIZE], b[TLY_ADMIN_HASH_HEX_SIZE];
    tly_admin_throttle_hash(salt, "address", "203.0.113.7", a);
    CHECK_INT(strlen(a), 64);
    tly_admin_throttle_hash(salt, "address", "203.0.113.7", b);
    CHECK_STR(a, b);                                          /* stable within a day */
    tly_admin_throttle_hash(other_salt, "address", "203.0.113.7", b);
    CHECK(strcmp(a, b) != 0);                                 /* unrelated across days */
    tly_admin_throttle_hash(salt, "address", "203.0.113.8", b);
    CHECK(strcmp(a, b) != 0);
    tly_admin_throttle_hash(salt, "account", "203.0.113.7", b);
    CHECK(strcmp(a, b) != 0);                                 /* kinds are separated */
    /* Emails are one account whatever their case (ASCII); addresses are taken as they are. */
    tly_admin_throttle_hash(salt, "account", "Owner@Example.COM", a);
    tly_admin_throttle_hash(salt, "account", "owner@example.com", b);
    CHECK_STR(a, b);
    tly_admin_throttle_hash(salt, "address", "2001:DB8::1", a);
    tly_admin_throttle_hash(salt, "address", "2001:db8::1", b);
    CHECK(strcmp(a, b) != 0);
}
