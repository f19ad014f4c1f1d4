/* User agent -> browser, OS and device class, with the browser and OS rules of uap-core
 * (lib/data/ua_regexes.inc) matched by PCRE2 with JIT; the device class comes from a token list.
 * Results of the last ~4,096 distinct user agents are memoised. State is per process, not
 * thread-safe (one request at a time per FastCGI worker). */
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

/* Prepares matching; each regex is compiled (and JIT-compiled) once per process on its first use,
 * so a CGI process that parses one user agent compiles only the rules it tries. 0 ok, -1 error. */
int tly_ua_init(void);
/* Fills out from ua[0..ua_len) (bytes past TLY_MAX_UA_LEN are ignored); never fails. Fields are
 * valid UTF-8, cut on character boundaries; unknown ones are "". Without tly_ua_init: device only. */
void tly_ua_parse(const char *ua, size_t ua_len, tly_ua_info *out) TLY_NONNULL(1, 3);
/* Frees the compiled regexes and the memo; tly_ua_init may be called again afterwards. */
void tly_ua_shutdown(void);

#endif
