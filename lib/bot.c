#include "first.h"
#include "bot.h"
#include "buf.h"
#include "limits.h"
#include "mem.h"
#include "memo.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bot_patterns.inc"

#define BOT_MEMO_SLOTS 4096
/* Buckets of the literal table, keyed by a literal's first 3 bytes: ~1,500 literals spread
 * over 4,096 buckets leave most buckets empty, so a browser's user agent costs one table read
 * per byte and almost never a memcmp. */
#define BUCKET_BITS 12
#define NBUCKETS (1u << BUCKET_BITS)
#define KEY_LEN 3

static pcre2_code *regexes;             /* bot_regexes[] as one alternation */
static pcre2_match_data *match_data;
static uint16_t *bucket_start;          /* NBUCKETS + 1 offsets into bucket_items */
static uint16_t *bucket_items;          /* indices into bot_literals, grouped by bucket */
static uint16_t *literal_len;
static uint16_t short_literals[8];      /* literals under KEY_LEN bytes, searched with memmem */
static size_t n_short;
static tly_memo *memo;
static bool ready;

static unsigned bucket_of(const char *p)
{
    uint32_t k = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8 |
                 (uint32_t)(unsigned char)p[2] << 16;
    return (k * 2654435761u) >> (32 - BUCKET_BITS);
}

/* Counting sort of the literals by bucket, so each bucket is one contiguous run. */
static int build_literal_table(void)
{
    size_t n = TLY_ARRAY_LEN(bot_literals);
    if (n >= UINT16_MAX) {
        fprintf(stderr, "bot: %zu literal patterns exceed the table's 16-bit indices\n", n);
        return -1;
    }
    bucket_start = tly_xcalloc(NBUCKETS + 1, sizeof *bucket_start);
    bucket_items = tly_xcalloc(n ? n : 1, sizeof *bucket_items);
    literal_len = tly_xcalloc(n ? n : 1, sizeof *literal_len);
    uint16_t *fill = tly_xcalloc(NBUCKETS, sizeof *fill);
    n_short = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(bot_literals[i]);
        if (len > UINT16_MAX) len = UINT16_MAX;   /* never in the data; a cut literal still cannot overread */
        literal_len[i] = (uint16_t)len;
        if (len >= KEY_LEN) {
            bucket_start[bucket_of(bot_literals[i]) + 1]++;
        } else if (n_short < TLY_ARRAY_LEN(short_literals)) {
            short_literals[n_short++] = (uint16_t)i;
        } else {
            fprintf(stderr, "bot: too many literal patterns shorter than %d bytes\n", KEY_LEN);
            free(fill);
            return -1;
        }
    }
    for (unsigned b = 0; b < NBUCKETS; b++) bucket_start[b + 1] += bucket_start[b];
    for (size_t i = 0; i < n; i++) {
        if (literal_len[i] < KEY_LEN) continue;
        unsigned b = bucket_of(bot_literals[i]);
        bucket_items[bucket_start[b] + fill[b]++] = (uint16_t)i;
    }
    free(fill);
    return 0;
}

/* The regex patterns as one alternation. A pattern PCRE2 rejects on its own (written for another
 * regex dialect) is left out with a warning rather than breaking all the others. */
static int compile_regexes(void)
{
    tly_buf alternation = {0};
    size_t skipped = 0;
    int error;
    PCRE2_SIZE offset;
    for (size_t i = 0; i < TLY_ARRAY_LEN(bot_regexes); i++) {
        pcre2_code *one = pcre2_compile((PCRE2_SPTR)bot_regexes[i], PCRE2_ZERO_TERMINATED, 0, &error, &offset, NULL);
        if (!one) {
            skipped++;
            continue;
        }
        pcre2_code_free(one);
        tly_buf_printf(&alternation, "%s(?:%s)", alternation.len ? "|" : "", bot_regexes[i]);
    }
    if (skipped) fprintf(stderr, "bot: %zu patterns do not compile with PCRE2 and are skipped\n", skipped);
    if (alternation.len == 0) tly_buf_append_str(&alternation, "(*FAIL)");
    /* Captures are never read: without them the JIT code does less work. */
    regexes = pcre2_compile((PCRE2_SPTR)tly_buf_cstr(&alternation), alternation.len, PCRE2_NO_AUTO_CAPTURE,
                            &error, &offset, NULL);
    tly_buf_free(&alternation);
    if (!regexes) {
        PCRE2_UCHAR message[160];
        pcre2_get_error_message(error, message, sizeof message);
        fprintf(stderr, "bot: patterns do not compile: %s at offset %zu\n", (const char *)message, (size_t)offset);
        return -1;
    }
    pcre2_jit_compile(regexes, PCRE2_JIT_COMPLETE);   /* without JIT (unsupported CPU) it still works */
    match_data = pcre2_match_data_create_from_pattern(regexes, NULL);
    return 0;
}

int tly_bot_init(void)
{
    if (ready) return 0;
    if (build_literal_table() != 0 || compile_regexes() != 0) {
        tly_bot_shutdown();
        return -1;
    }
    memo = tly_memo_new(BOT_MEMO_SLOTS, sizeof(bool), TLY_MAX_UA_LEN);
    ready = true;
    return 0;
}

void tly_bot_shutdown(void)
{
    pcre2_code_free(regexes);
    regexes = NULL;
    pcre2_match_data_free(match_data);
    match_data = NULL;
    free(bucket_start);
    free(bucket_items);
    free(literal_len);
    bucket_start = bucket_items = literal_len = NULL;
    n_short = 0;
    tly_memo_free(memo);
    memo = NULL;
    ready = false;
}

static bool literal_match(const char *ua, size_t len)
{
    for (size_t i = 0; i < n_short; i++)
        if (memmem(ua, len, bot_literals[short_literals[i]], literal_len[short_literals[i]])) return true;
    for (size_t i = 0; i + KEY_LEN <= len; i++) {
        unsigned b = bucket_of(ua + i);
        for (unsigned j = bucket_start[b]; j < bucket_start[b + 1]; j++) {
            uint16_t lit = bucket_items[j];
            if (literal_len[lit] <= len - i && memcmp(ua + i, bot_literals[lit], literal_len[lit]) == 0) return true;
        }
    }
    return false;
}

bool tly_bot_match(const char *ua, size_t ua_len)
{
    if (ua_len == 0) return true;
    if (!ready) return false;   /* tly_bot_init was not called or failed: nothing is known */
    if (ua_len > TLY_MAX_UA_LEN) ua_len = TLY_MAX_UA_LEN;
    bool is_bot;
    if (tly_memo_get(memo, ua, ua_len, &is_bot)) return is_bot;
    is_bot = literal_match(ua, ua_len) ||
             pcre2_match(regexes, (PCRE2_SPTR)ua, ua_len, 0, 0, match_data, NULL) >= 0;
    tly_memo_put(memo, ua, ua_len, &is_bot);
    return is_bot;
}
