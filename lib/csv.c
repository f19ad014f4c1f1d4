#include "first.h"
#include "csv.h"
#include "json_arena.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool starts_formula(const char *s, size_t len)
{
    return len > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                       s[0] == '\r');
}

static bool needs_quotes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') return true;
    return false;
}

void tly_csv_append_field(tly_buf *out, const char *s, size_t len)
{
    if (s == NULL) len = 0;
    bool defuse = starts_formula(s, len);
    /* A defused value starting with CR still contains that CR, so quoting looks at s itself. */
    if (!needs_quotes(s, len)) {
        if (defuse) tly_buf_append_char(out, '\'');
        tly_buf_append(out, s, len);
        return;
    }
    tly_buf_append_char(out, '"');
    if (defuse) tly_buf_append_char(out, '\'');
    size_t run = 0;   /* start of the bytes not yet copied */
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"') continue;
        tly_buf_append(out, s + run, i + 1 - run);   /* up to and including the quote ... */
        tly_buf_append_char(out, '"');               /* ... which is doubled */
        run = i + 1;
    }
    tly_buf_append(out, s + run, len - run);
    tly_buf_append_char(out, '"');
}

static size_t real_flags(int real_precision)
{
    if (real_precision < 0 || real_precision > 31) real_precision = 0;
    return JSON_REAL_PRECISION(real_precision);
}

void tly_csv_append_value(tly_buf *out, const json_t *v, int real_precision)
{
    if (v == NULL || json_is_null(v)) return;
    if (json_is_string(v)) {
        tly_csv_append_field(out, json_string_value(v), json_string_length(v));
    } else if (json_is_number(v) || json_is_boolean(v)) {
        /* Jansson's own dump, so that a cell reads exactly like the same value in the JSON answer. */
        char num[64];
        size_t n = json_dumpb(v, num, sizeof num, JSON_ENCODE_ANY | real_flags(real_precision));
        if (n > 0 && n <= sizeof num) tly_buf_append(out, num, n);
    } else {
        char *text = json_dumps(v, JSON_COMPACT | real_flags(real_precision));
        if (text) tly_csv_append_field(out, text, strlen(text));
        tly_json_free(text);
    }
}

int tly_csv_from_rows(const json_t *rows, const char *const *columns, size_t n_columns,
                      int real_precision, tly_buf *out)
{
    if (!json_is_array(rows)) return -1;
    size_t start = out->len;
    for (size_t c = 0; c < n_columns; c++) {
        if (c > 0) tly_buf_append_char(out, ',');
        tly_csv_append_field(out, columns[c], columns[c] ? strlen(columns[c]) : 0);
    }
    tly_buf_append(out, "\r\n", 2);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        if (!json_is_object(row)) {
            /* Leave out as it was: a half-written CSV must not reach a client. */
            out->len = start;
            out->ptr[start] = '\0';
            return -1;
        }
        size_t line = out->len;
        for (size_t c = 0; c < n_columns; c++) {
            if (c > 0) tly_buf_append_char(out, ',');
            if (columns[c]) tly_csv_append_value(out, json_object_get(row, columns[c]), real_precision);
        }
        /* A lone empty cell would make an empty line, which many readers skip as no row at all. */
        if (n_columns == 1 && out->len == line) tly_buf_append(out, "\"\"", 2);
        tly_buf_append(out, "\r\n", 2);
    }
    return 0;
}
