/* Structured logging: one JSON object per line on stderr (the web server's error log).
 * Callers never pass client addresses or user agents; messages describe what happened. */
#ifndef TLY_LOG_H
#define TLY_LOG_H
#include "first.h"

typedef enum { TLY_LOG_DEBUG, TLY_LOG_INFO, TLY_LOG_WARN, TLY_LOG_ERROR } tly_log_level;

/* Sets the program name shown in every line and the lowest level written. */
void tly_log_setup(const char *program, tly_log_level min_level);
/* Parses "debug", "info", "warn", "error". 0 ok, -1 unknown. */
int tly_log_level_parse(const char *name, tly_log_level *out) TLY_NONNULL(1, 2);
void tly_log(tly_log_level level, const char *fmt, ...) TLY_PRINTF(2, 3);

#define tly_log_error(...) tly_log(TLY_LOG_ERROR, __VA_ARGS__)
#define tly_log_warn(...)  tly_log(TLY_LOG_WARN, __VA_ARGS__)
#define tly_log_info(...)  tly_log(TLY_LOG_INFO, __VA_ARGS__)
#define tly_log_debug(...) tly_log(TLY_LOG_DEBUG, __VA_ARGS__)

#endif
