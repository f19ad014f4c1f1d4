/* libFuzzer target: user-agent parsing (tly_ua_parse, uap-core rules through PCRE2) and bot
 * matching (tly_bot_match). The memos are left on, as in production. */
#include "first.h"
#include "bot.h"
#include "fuzz_check.h"
#include "ua.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (tly_ua_init() != 0 || tly_bot_init() != 0) abort();
    return 0;
}

static void check_field(const char *field, size_t size)
{
    size_t len = strnlen(field, size);
    FUZZ_CHECK(len < size);
    FUZZ_CHECK(tly_utf8_valid(field, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The web server hands over a C string: the user agent never holds a NUL byte. */
    char *ua = malloc(size + 1);
    memcpy(ua, data, size);
    ua[size] = '\0';
    size_t len = strlen(ua);
    (void)tly_bot_match(ua, len);
    tly_ua_info info;
    tly_ua_parse(ua, len, &info);
    check_field(info.browser, sizeof info.browser);
    check_field(info.browser_version, sizeof info.browser_version);
    check_field(info.os, sizeof info.os);
    check_field(info.os_version, sizeof info.os_version);
    FUZZ_CHECK(strcmp(info.device, "desktop") == 0 || strcmp(info.device, "mobile") == 0 ||
               strcmp(info.device, "tablet") == 0);
    free(ua);
    return 0;
}
