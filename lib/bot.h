/* Bots, crawlers and automation tools, recognised by the patterns of crawler-user-agents
 * (lib/data/bot_patterns.inc): plain-text patterns through a hashed substring table, the few real
 * regexes as one PCRE2 alternation with JIT. Results are memoised; not thread-safe. */
#ifndef TLY_BOT_H
#define TLY_BOT_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

/* Builds the tables and compiles the patterns, once per process. 0 ok, -1 error (message on stderr). */
int tly_bot_init(void);
/* True for a known bot and for an empty user agent; bytes past TLY_MAX_UA_LEN are ignored.
 * Before a successful tly_bot_init only the empty user agent counts as a bot. */
bool tly_bot_match(const char *ua, size_t ua_len) TLY_NONNULL(1);
/* Frees everything; tly_bot_init may be called again afterwards. */
void tly_bot_shutdown(void);

#endif
