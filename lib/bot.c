#include "first.h"
#include "bot.h"
#include "buf.h"
#include "limits.h"
#include "log.h"
#include "memo.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include "data/bot_patterns.inc"

#define BOT_MEMO_SLOTS 4096

static pcre2_code *all_bots;        /* every pattern as one alternation */
static pcre2_match_data *match_data;
static tly_memo *memo;

/* True when pattern compiles on its own; the few written for other regex dialects are left out
 * rather than breaking the whole alternation. */
static bool compiles(const char *pattern)
{
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &error, &offset, NULL);
    pcre2_code_free(code);
    return code != NULL;
}

int tly_bot_init(void)
{
    if (all_bots) return 0;
    tly_buf alternation = {0};
    size_t skipped = 0;
    for (size_t i = 0; i < TLY_ARRAY_LEN(bot_patterns); i++) {
        if (!compiles(bot_patterns[i])) {
            skipped++;
            continue;
        }
        tly_buf_printf(&alternation, "%s(?:%s)", alternation.len ? "|" : "", bot_patterns[i]);
    }
    if (skipped) tly_log_warn("%zu bot patterns do not compile with PCRE2 and are skipped", skipped);
    int error;
    PCRE2_SIZE offset;
    all_bots = pcre2_compile((PCRE2_SPTR)tly_buf_cstr(&alternation), alternation.len, 0, &error, &offset, NULL);
    tly_buf_free(&alternation);
    if (!all_bots) {
        PCRE2_UCHAR message[160];
        pcre2_get_error_message(error, message, sizeof message);
        fprintf(stderr, "bot patterns do not compile: %s at offset %zu\n", (const char *)message, (size_t)offset);
        return -1;
    }
    pcre2_jit_compile(all_bots, PCRE2_JIT_COMPLETE);
    match_data = pcre2_match_data_create_from_pattern(all_bots, NULL);
    memo = tly_memo_new(BOT_MEMO_SLOTS, sizeof(bool), TLY_MAX_UA_LEN);
    return 0;
}

void tly_bot_shutdown(void)
{
    pcre2_code_free(all_bots);
    all_bots = NULL;
    pcre2_match_data_free(match_data);
    match_data = NULL;
    tly_memo_free(memo);
    memo = NULL;
}

bool tly_bot_match(const char *ua, size_t ua_len)
{
    if (ua_len == 0) return true;
    if (ua_len > TLY_MAX_UA_LEN) ua_len = TLY_MAX_UA_LEN;
    bool is_bot;
    if (memo && tly_memo_get(memo, ua, ua_len, &is_bot)) return is_bot;
    is_bot = all_bots && pcre2_match(all_bots, (PCRE2_SPTR)ua, ua_len, 0, 0, match_data, NULL) >= 0;
    if (memo) tly_memo_put(memo, ua, ua_len, &is_bot);
    return is_bot;
}
