#include "first.h"
#include "ratelimit.h"
#include "mem.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket {
    uint64_t key;
    double tokens;
    int64_t last_ms;
    bool used;
} bucket;

struct tly_ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    size_t mask;
    bucket *buckets;
};

tly_ratelimit *tly_ratelimit_new(double rate, double burst, size_t slots)
{
    tly_ratelimit *rl = tly_xcalloc(1, sizeof *rl);
    size_t n = 1;
    while (n < slots) n <<= 1;
    rl->mask = n - 1;
    rl->buckets = tly_xcalloc(n, sizeof *rl->buckets);
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void tly_ratelimit_free(tly_ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->buckets);
    free(rl);
}

int tly_ratelimit_take(tly_ratelimit *rl, uint64_t key, int64_t now_ms)
{
    pthread_mutex_lock(&rl->lock);
    bucket *b = &rl->buckets[key & rl->mask];
    if (!b->used || b->key != key) {
        /* A new sender, or one sharing this slot: a full bucket (sharing keeps the stricter state
         * only while the old one is still refilling). */
        double refilled = b->used ? b->tokens + (double)(now_ms - b->last_ms) / 1000.0 * rl->rate : rl->burst;
        if (!b->used || refilled >= rl->burst) {
            b->used = true;
            b->key = key;
            b->tokens = rl->burst;
            b->last_ms = now_ms;
        }
    }
    if (now_ms > b->last_ms) {
        b->tokens = fmin(rl->burst, b->tokens + (double)(now_ms - b->last_ms) / 1000.0 * rl->rate);
        b->last_ms = now_ms;
    }
    int wait = 0;
    if (b->tokens >= 1) b->tokens -= 1;
    else wait = (int)ceil((1 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&rl->lock);
    return wait < 0 ? 1 : wait;
}

static unsigned char process_key[crypto_shorthash_KEYBYTES];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void make_process_key(void)
{
    randombytes_buf(process_key, sizeof process_key);
}

uint64_t tly_ratelimit_key(const char *text, size_t len)
{
    pthread_once(&process_key_once, make_process_key);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)text, len, process_key);
    uint64_t k;
    memcpy(&k, out, sizeof k);
    return k;
}
