/* Bots, crawlers and automation tools, recognised by the patterns of crawler-user-agents
 * (lib/data/bot_patterns.inc), compiled into one PCRE2 alternation. */
#ifndef TLY_BOT_H
#define TLY_BOT_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

/* Compiles the patterns. 0 ok, -1 error (message on stderr). */
int tly_bot_init(void);
/* True for a known bot and for an empty user agent. */
bool tly_bot_match(const char *ua, size_t ua_len) TLY_NONNULL(1);
void tly_bot_shutdown(void);

#endif
