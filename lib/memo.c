#include "first.h"
#include "memo.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tly_memo {
    size_t mask, value_size, max_key;
    char **keys;        /* NULL: empty slot */
    size_t *key_lens;
    unsigned char *values;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

tly_memo *tly_memo_new(size_t slots, size_t value_size, size_t max_key)
{
    size_t n = 1;
    while (n < slots) n <<= 1;
    tly_memo *m = tly_xcalloc(1, sizeof *m);
    m->mask = n - 1;
    m->value_size = value_size;
    m->max_key = max_key;
    m->keys = tly_xcalloc(n, sizeof *m->keys);
    m->key_lens = tly_xcalloc(n, sizeof *m->key_lens);
    m->values = tly_xcalloc(n, value_size);
    return m;
}

void tly_memo_free(tly_memo *m)
{
    if (!m) return;
    for (size_t i = 0; i <= m->mask; i++) free(m->keys[i]);
    free(m->keys);
    free(m->key_lens);
    free(m->values);
    free(m);
}

bool tly_memo_get(const tly_memo *m, const char *key, size_t len, void *value)
{
    size_t slot = fnv1a(key, len) & m->mask;
    if (!m->keys[slot] || m->key_lens[slot] != len || memcmp(m->keys[slot], key, len) != 0) return false;
    memcpy(value, m->values + slot * m->value_size, m->value_size);
    return true;
}

void tly_memo_put(tly_memo *m, const char *key, size_t len, const void *value)
{
    if (len > m->max_key) return;
    size_t slot = fnv1a(key, len) & m->mask;
    free(m->keys[slot]);
    m->keys[slot] = tly_xstrndup(key, len);
    m->key_lens[slot] = len;
    memcpy(m->values + slot * m->value_size, value, m->value_size);
}
