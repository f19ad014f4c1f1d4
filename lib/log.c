#include "first.h"
#include "log.h"
#include "json_arena.h"
#include "buf.h"
#include "timeparse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_program = "tally";
static tly_log_level log_min = TLY_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tly_log_setup(const char *program, tly_log_level min_level)
{
    log_program = program;
    log_min = min_level;
}

int tly_log_level_parse(const char *name, tly_log_level *out)
{
    for (size_t i = 0; i < TLY_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (tly_log_level)i;
            return 0;
        }
    }
    return -1;
}

void tly_log(tly_log_level level, const char *fmt, ...)
{
    if (level < log_min) return;
    tly_buf msg = {0};
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(&msg, fmt, ap);
    va_end(ap);

    char ts[32];
    tly_time_format_rfc3339(tly_time_now_ms(), ts);
    /* Jansson escapes the message, so any text is a valid JSON line. */
    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
                             "program", log_program, "msg", tly_buf_cstr(&msg));
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    fprintf(stderr, "%s\n", text ? text : tly_buf_cstr(&msg));
    fflush(stderr);
    tly_json_free(text);
    json_decref(line);
    tly_buf_free(&msg);
}
