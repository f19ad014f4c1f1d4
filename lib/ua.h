/* User agent -> browser, OS and device class, with the browser and OS rules of uap-core
 * (lib/data/ua_rules.inc) matched by PCRE2. Results of recent user agents are memoised. */
#ifndef TLY_UA_H
#define TLY_UA_H
#include "first.h"
#include <stddef.h>

typedef struct tly_ua_info {
    char browser[48];          /* "Chrome", "Firefox", "Mobile Safari", ...; "" when unknown */
    char browser_version[16];  /* major version, e.g. "120"; "" when unknown */
    char os[48];               /* "Windows", "macOS", "iOS", "Android", "Linux", ...; "" when unknown */
    char os_version[16];       /* major or major.minor, e.g. "10", "17.2"; "" when unknown */
    char device[8];            /* "desktop", "mobile" or "tablet" */
} tly_ua_info;

/* Prepares the rule tables (regexes compile lazily, on first use). 0 ok, -1 error. */
int tly_ua_init(void);
/* Fills out; never fails. Fields are valid UTF-8, cut on character boundaries. */
void tly_ua_parse(const char *ua, size_t ua_len, tly_ua_info *out) TLY_NONNULL(1, 3);
/* Frees the compiled regexes and the memo. */
void tly_ua_shutdown(void);

#endif
