#include "first.h"
#include "admin_password.h"

#include <string.h>

#define OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

int tly_admin_password_hash(const char *password, size_t len, char out[TLY_ADMIN_PASSWORD_HASH_SIZE])
{
    return crypto_pwhash_str(out, password, len, OPSLIMIT, MEMLIMIT);
}

bool tly_admin_password_verify(const char *hash, const char *password, size_t len)
{
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

void tly_admin_password_verify_nobody(const char *password, size_t len)
{
    /* A real hash of nothing anyone knows, made once per process. */
    static char decoy[TLY_ADMIN_PASSWORD_HASH_SIZE];
    if (!decoy[0]) {
        unsigned char random[16];
        randombytes_buf(random, sizeof random);
        if (crypto_pwhash_str(decoy, (const char *)random, sizeof random, OPSLIMIT, MEMLIMIT) != 0)
            return;
    }
    (void)!tly_admin_password_verify(decoy, password, len);
}

bool tly_admin_password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, OPSLIMIT, MEMLIMIT) != 0;
}
