#include "first.h"
#include "visitor.h"

#include <sodium.h>
#include <string.h>

/* BLAKE2b-64 keyed with key over the fields joined by NUL bytes, as a little-endian integer.
 * The separators make field boundaries unambiguous ("ab","c" differs from "a","bc"). */
static int64_t keyed_hash64(const uint8_t key[TLY_SALT_BYTES], const char *const *fields,
                            const size_t *lengths, size_t count)
{
    static const unsigned char separator = 0;
    crypto_generichash_state st;
    unsigned char digest[8];
    crypto_generichash_init(&st, key, TLY_SALT_BYTES, sizeof digest);
    for (size_t i = 0; i < count; i++) {
        if (i) crypto_generichash_update(&st, &separator, 1);
        crypto_generichash_update(&st, (const unsigned char *)fields[i], lengths[i]);
    }
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | digest[i];
    return (int64_t)v;
}

int64_t tly_visitor_hash(const uint8_t salt[TLY_SALT_BYTES], const char *property_id,
                         const char *client_ip, const char *user_agent, size_t ua_len)
{
    const char *fields[] = {property_id, client_ip, user_agent};
    const size_t lengths[] = {strlen(property_id), strlen(client_ip), ua_len};
    return keyed_hash64(salt, fields, lengths, 3);
}

int64_t tly_visitor_hash_client_id(const uint8_t property_key[TLY_SALT_BYTES], const char *kind,
                                   const char *property_id, const char *id, size_t id_len)
{
    /* The kind separates visitor ids from session ids that happen to be equal strings. */
    const char *fields[] = {kind, property_id, id};
    const size_t lengths[] = {strlen(kind), strlen(property_id), id_len};
    return keyed_hash64(property_key, fields, lengths, 3);
}
