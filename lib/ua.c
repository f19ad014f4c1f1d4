#include "first.h"
#include "ua.h"
#include "buf.h"
#include "limits.h"
#include "log.h"
#include "memo.h"
#include "utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <stdint.h>
#include <pcre2.h>
#include <string.h>

struct ua_rule {
    const char *regex;
    unsigned char icase;
    const char *required; /* texts of 3+ bytes, NUL-separated: every match has one; or NULL */
    const char *family;   /* replacement, may hold $1; NULL: group 1 */
    const char *v1;       /* replacement; NULL: group 2 */
};

struct os_rule {
    const char *regex;
    unsigned char icase;
    const char *required; /* texts of 3+ bytes, NUL-separated: every match has one; or NULL */
    const char *os;       /* replacement, may hold $1; NULL: group 1 */
    const char *v1;       /* replacement; NULL: group 2 */
    const char *v2;       /* replacement; NULL: group 3 */
};

#include "data/ua_regexes.inc"

#define UA_MEMO_SLOTS 4096
#define MAX_GROUPS 16   /* uap-core 0.18.0 uses at most 7 capture groups */

/* Compiled lazily: most user agents match early rules, and a CGI process parses just one. */
static pcre2_code *ua_code[TLY_ARRAY_LEN(ua_rules)];
static pcre2_code *os_code[TLY_ARRAY_LEN(os_rules)];
static unsigned char ua_broken[TLY_ARRAY_LEN(ua_rules)], os_broken[TLY_ARRAY_LEN(os_rules)];
static pcre2_match_data *match_data;
static tly_memo *memo;

int tly_ua_init(void)
{
    if (!match_data) match_data = pcre2_match_data_create(MAX_GROUPS, NULL);
    if (!memo) memo = tly_memo_new(UA_MEMO_SLOTS, sizeof(tly_ua_info), TLY_MAX_UA_LEN);
    return match_data ? 0 : -1;
}

void tly_ua_shutdown(void)
{
    for (size_t i = 0; i < TLY_ARRAY_LEN(ua_code); i++) pcre2_code_free(ua_code[i]), ua_code[i] = NULL;
    for (size_t i = 0; i < TLY_ARRAY_LEN(os_code); i++) pcre2_code_free(os_code[i]), os_code[i] = NULL;
    pcre2_match_data_free(match_data);
    match_data = NULL;
    tly_memo_free(memo);
    memo = NULL;
}

/* The compiled form of a rule, compiling it on first use; NULL when the rule does not compile
 * (logged once and skipped from then on). */
static pcre2_code *compiled(pcre2_code **slot, unsigned char *broken, const char *regex, int icase)
{
    if (*slot || *broken) return *slot;
    int error;
    PCRE2_SIZE offset;
    *slot = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, icase ? PCRE2_CASELESS : 0,
                          &error, &offset, NULL);
    if (!*slot) {
        *broken = 1;
        tly_log_warn("user-agent rule does not compile at offset %zu, skipped: %s", (size_t)offset, regex);
        return NULL;
    }
    pcre2_jit_compile(*slot, PCRE2_JIT_COMPLETE);   /* without JIT it still works, slower */
    return *slot;
}

/* Appends capture group n of the last match (nothing when unset). */
static void append_group(tly_buf *out, const char *subject, int rc, int n)
{
    if (n <= 0 || n >= rc) return;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match_data);
    if (ov[2 * n] == PCRE2_UNSET) return;
    tly_buf_append(out, subject + ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
}

/* The value of a field: the replacement with $1..$9 substituted, else capture group `group`. */
static void field_value(tly_buf *out, const char *replacement, int group, const char *subject, int rc)
{
    tly_buf_reset(out);
    if (!replacement) {
        append_group(out, subject, rc, group);
    } else {
        for (const char *p = replacement; *p; p++) {
            if (p[0] == '$' && p[1] >= '1' && p[1] <= '9') {
                append_group(out, subject, rc, p[1] - '0');
                p++;
            } else {
                tly_buf_append_char(out, *p);
            }
        }
    }
    /* Trim surrounding spaces, as the uap-core reference parsers do. */
    size_t start = 0, end = out->len;
    while (start < end && isspace((unsigned char)out->ptr[start])) start++;
    while (end > start && isspace((unsigned char)out->ptr[end - 1])) end--;
    if (start || end != out->len) {
        memmove(out->ptr, out->ptr + start, end - start);
        out->len = end - start;
        out->ptr[out->len] = '\0';
    }
}

/* Copies src into dst (size bytes with NUL) as valid UTF-8: captured groups are client bytes,
 * so ill-formed sequences become U+FFFD, then the text is cut on a character boundary. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    tly_buf clean = {0};
    if (!tly_utf8_valid(src, n)) {
        tly_utf8_sanitize(src, n, &clean);
        src = tly_buf_cstr(&clean);
        n = clean.len;
    }
    n = tly_utf8_cut(src, n, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    tly_buf_free(&clean);
}

/* The 3-byte pieces present in a user agent, as a hashed bitmap. uap-core's rules are tried in
 * order and most fail; even a failing JIT match costs ~50 ns and a few big alternations cost
 * microseconds, so a rule is skipped without running it when each text it requires (see
 * lib/data/generate.js) has a piece missing from the user agent. A hash collision only makes a
 * rule run needlessly; it can never skip a rule that would match. */
#define TRIGRAM_BITS 4096
typedef struct trigrams {
    uint64_t bits[TRIGRAM_BITS / 64];
} trigrams;

/* ASCII letters fold to lower case, so rules with regex_flag 'i', (?i) or [Ss]-style classes can
 * be prefiltered as well; folding only lets more rules through, never fewer. */
static uint32_t fold(const char *p, int i)
{
    unsigned char c = (unsigned char)p[i];
    return c >= 'A' && c <= 'Z' ? c | 0x20u : c;
}

static unsigned trigram_hash(const char *p)
{
    uint32_t k = fold(p, 0) | fold(p, 1) << 8 | fold(p, 2) << 16;
    return (k * 2654435761u) >> 20;   /* top 12 bits: 0 .. TRIGRAM_BITS-1 */
}

static void trigrams_of(const char *ua, size_t len, trigrams *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i + 3 <= len; i++) {
        unsigned h = trigram_hash(ua + i);
        t->bits[h / 64] |= (uint64_t)1 << (h % 64);
    }
}

/* required lists texts separated by NUL bytes and ends with an empty one; a match needs at least
 * one of them, so the rule may match when some text has all its 3-byte pieces in t. */
static bool may_contain(const trigrams *t, const char *required)
{
    if (!required) return true;
    for (const char *text = required; *text; text += strlen(text) + 1) {
        const char *p = text;
        for (; p[0] && p[1] && p[2]; p++) {
            unsigned h = trigram_hash(p);
            if (!(t->bits[h / 64] & (uint64_t)1 << (h % 64))) break;
        }
        if (!(p[0] && p[1] && p[2])) return true;   /* every piece present */
    }
    return false;
}

static int match(pcre2_code *code, const char *ua, size_t len)
{
    return code ? pcre2_match(code, (PCRE2_SPTR)ua, len, 0, 0, match_data, NULL) : -1;
}

static void parse_browser(const char *ua, size_t len, const trigrams *t, tly_ua_info *out)
{
    tly_buf value = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(ua_rules); i++) {
        if (!may_contain(t, ua_rules[i].required)) continue;
        int rc = match(compiled(&ua_code[i], &ua_broken[i], ua_rules[i].regex, ua_rules[i].icase), ua, len);
        if (rc <= 0) continue;
        field_value(&value, ua_rules[i].family, 1, ua, rc);
        copy_field(out->browser, sizeof out->browser, tly_buf_cstr(&value));
        field_value(&value, ua_rules[i].v1, 2, ua, rc);
        copy_field(out->browser_version, sizeof out->browser_version, tly_buf_cstr(&value));
        break;
    }
    tly_buf_free(&value);
}

static void parse_os(const char *ua, size_t len, const trigrams *t, tly_ua_info *out)
{
    tly_buf value = {0}, version = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(os_rules); i++) {
        if (!may_contain(t, os_rules[i].required)) continue;
        int rc = match(compiled(&os_code[i], &os_broken[i], os_rules[i].regex, os_rules[i].icase), ua, len);
        if (rc <= 0) continue;
        field_value(&value, os_rules[i].os, 1, ua, rc);
        /* uap-core keeps the historical name; people know it as macOS. */
        copy_field(out->os, sizeof out->os, strcmp(tly_buf_cstr(&value), "Mac OS X") == 0 ? "macOS" : tly_buf_cstr(&value));
        field_value(&version, os_rules[i].v1, 2, ua, rc);
        field_value(&value, os_rules[i].v2, 3, ua, rc);
        if (version.len && value.len) {
            tly_buf_append_char(&version, '.');
            tly_buf_append(&version, value.ptr, value.len);
        }
        copy_field(out->os_version, sizeof out->os_version, tly_buf_cstr(&version));
        break;
    }
    tly_buf_free(&value);
    tly_buf_free(&version);
}

static bool contains(const char *ua, size_t len, const char *needle)
{
    return memmem(ua, len, needle, strlen(needle)) != NULL;
}

/* Device class from well-known tokens: the uap-core device rules (~8,000 lines) name models, not
 * classes, so a short token list decides instead. Tablet tokens go first because iPads and Android
 * tablets also say "Mobile" in places. iPadOS 13+ presents itself as desktop Safari and is counted
 * as desktop, as every user-agent based tool does. */
static const char *device_class(const char *ua, size_t len)
{
    static const char *const tablet[] = {"iPad", "Tablet", "tablet", "Kindle", "Silk/", "PlayBook",
                                         "Nexus 7", "Nexus 9", "Nexus 10", "SM-T", "SM-X", "Tab "};
    static const char *const mobile[] = {"Mobi", "iPhone", "iPod", "Windows Phone", "BlackBerry",
                                         "BB10", "Opera Mini", "IEMobile", "webOS", "Fennec",
                                         "KAIOS", "KaiOS", "Symbian", "MIDP"};
    /* Windows touch PCs say "Tablet PC"; they are desktops. */
    bool tablet_pc = contains(ua, len, "Tablet PC");
    for (size_t i = 0; i < TLY_ARRAY_LEN(tablet); i++)
        if (contains(ua, len, tablet[i]) && !(tablet_pc && strcmp(tablet[i], "Tablet") == 0)) return "tablet";
    for (size_t i = 0; i < TLY_ARRAY_LEN(mobile); i++)
        if (contains(ua, len, mobile[i])) return "mobile";
    /* Android phones say "Mobile"; Android without it is a tablet, unless it is a TV. */
    if (contains(ua, len, "Android") && !contains(ua, len, "TV")) return "tablet";
    return "desktop";
}

void tly_ua_parse(const char *ua, size_t ua_len, tly_ua_info *out)
{
    if (ua_len > TLY_MAX_UA_LEN) ua_len = TLY_MAX_UA_LEN;
    if (memo && tly_memo_get(memo, ua, ua_len, out)) return;
    memset(out, 0, sizeof *out);
    if (match_data) {
        trigrams t;
#ifdef TLY_UA_NO_PREFILTER   /* for comparing results with and without the prefilter by hand */
        memset(&t, 0xff, sizeof t);
#else
        trigrams_of(ua, ua_len, &t);
#endif
        parse_browser(ua, ua_len, &t, out);
        parse_os(ua, ua_len, &t, out);
    }
    /* uap-core answers "Other" for what it does not know; an empty field says that better. */
    if (strcmp(out->browser, "Other") == 0) out->browser[0] = out->browser_version[0] = '\0';
    if (strcmp(out->os, "Other") == 0) out->os[0] = out->os_version[0] = '\0';
    copy_field(out->device, sizeof out->device, device_class(ua, ua_len));
    if (memo) tly_memo_put(memo, ua, ua_len, out);
}
