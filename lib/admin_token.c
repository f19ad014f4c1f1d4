#include "first.h"
#include "admin_token.h"

#include <sodium.h>
#include <string.h>

void tly_admin_token_new(const char *prefix, char out[TLY_ADMIN_TOKEN_SIZE])
{
    unsigned char raw[TLY_ADMIN_TOKEN_BYTES];
    size_t n = strnlen(prefix, TLY_ADMIN_PREFIX_MAX);
    memcpy(out, prefix, n);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out + n, TLY_ADMIN_TOKEN_B64_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static bool base64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool tly_admin_token_valid(const char *prefix, const char *s, size_t len)
{
    size_t n = strlen(prefix);
    if (!s || len != n + TLY_ADMIN_TOKEN_B64_LEN || memcmp(s, prefix, n) != 0) return false;
    for (size_t i = n; i < len; i++)
        if (!base64url_char(s[i])) return false;
    return true;
}

void tly_admin_hash_hex(const char *s, size_t len, char out[TLY_ADMIN_HASH_HEX_SIZE])
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)s, len);
    sodium_bin2hex(out, TLY_ADMIN_HASH_HEX_SIZE, hash, sizeof hash);
}

void tly_admin_csrf_of(const char *session_token, char out[TLY_ADMIN_CSRF_SIZE])
{
    static const char label[] = "tally-csrf";
    unsigned char mac[TLY_ADMIN_TOKEN_BYTES];
    /* A session token is 43 bytes, within BLAKE2b's 16-64 byte key range. */
    size_t key_len = strnlen(session_token, crypto_generichash_KEYBYTES_MAX);
    if (key_len < crypto_generichash_KEYBYTES_MIN) key_len = crypto_generichash_KEYBYTES_MIN;
    unsigned char key[crypto_generichash_KEYBYTES_MAX] = {0};
    memcpy(key, session_token, strnlen(session_token, sizeof key));
    crypto_generichash(mac, sizeof mac, (const unsigned char *)label, sizeof label - 1, key, key_len);
    sodium_bin2base64(out, TLY_ADMIN_CSRF_SIZE, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(key, sizeof key);
    sodium_memzero(mac, sizeof mac);
}

bool tly_admin_csrf_matches(const char *session_token, const char *given)
{
    if (!given || strlen(given) != TLY_ADMIN_TOKEN_B64_LEN) return false;
    char want[TLY_ADMIN_CSRF_SIZE];
    tly_admin_csrf_of(session_token, want);
    bool same = sodium_memcmp(want, given, TLY_ADMIN_TOKEN_B64_LEN) == 0;
    sodium_memzero(want, sizeof want);
    return same;
}

void tly_admin_random_id(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++) out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[n] = '\0';
}
