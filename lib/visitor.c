#include "first.h"
#include "visitor.h"

#include <sodium.h>
#include <string.h>

static int64_t digest_to_int64(const unsigned char digest[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | digest[i];   /* little-endian, portable */
    return (int64_t)v;
}

int64_t tly_visitor_hash(const uint8_t salt[TLY_SALT_BYTES], const char *property_id,
                         const char *client_ip, const char *user_agent, size_t ua_len)
{
    static const unsigned char zero = 0;
    crypto_generichash_state st;
    unsigned char digest[8];
    crypto_generichash_init(&st, salt, TLY_SALT_BYTES, sizeof digest);
    crypto_generichash_update(&st, (const unsigned char *)property_id, strlen(property_id));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const unsigned char *)client_ip, strlen(client_ip));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const unsigned char *)user_agent, ua_len);
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
    return digest_to_int64(digest);
}

int64_t tly_visitor_hash_client_id(const uint8_t property_key[TLY_SALT_BYTES], const char *kind,
                                   const char *property_id, const char *id, size_t id_len)
{
    static const unsigned char zero = 0;
    crypto_generichash_state st;
    unsigned char digest[8];
    crypto_generichash_init(&st, property_key, TLY_SALT_BYTES, sizeof digest);
    /* The kind separates visitor ids from session ids that happen to be equal strings. */
    crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const unsigned char *)property_id, strlen(property_id));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const unsigned char *)id, id_len);
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
    return digest_to_int64(digest);
}
