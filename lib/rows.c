#include "first.h"
#include "rows.h"
#include "json_arena.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tly_rows_get(const tly_rows *r, size_t row, size_t col)
{
    if (row >= r->n_rows || col >= r->n_cols) return "";
    return r->cells[row * r->n_cols + col];
}

long long tly_rows_int(const tly_rows *r, size_t row, size_t col)
{
    return atoll(tly_rows_get(r, row, col));
}

void tly_rows_init(tly_rows *r, size_t n_cols)
{
    memset(r, 0, sizeof *r);
    r->n_cols = n_cols;
}

void tly_rows_add_row(tly_rows *r, const char *const *values)
{
    r->cells = tly_xrealloc(r->cells, (r->n_rows + 1) * r->n_cols * sizeof *r->cells);
    for (size_t c = 0; c < r->n_cols; c++)
        r->cells[r->n_rows * r->n_cols + c] = tly_xstrdup(values[c] ? values[c] : "");
    r->n_rows++;
}

void tly_rows_from_pg(tly_rows *r, const PGresult *res)
{
    tly_rows_init(r, (size_t)PQnfields(res));
    size_t n = (size_t)PQntuples(res);
    if (n == 0 || r->n_cols == 0) return;
    r->cells = tly_xcalloc(n * r->n_cols, sizeof *r->cells);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < r->n_cols; c++)
            r->cells[i * r->n_cols + c] = tly_xstrdup(PQgetvalue(res, (int)i, (int)c));
    r->n_rows = n;
}

/* The text of one JSON value as a cell. */
static char *cell_text(const json_t *v)
{
    if (json_is_string(v)) return tly_xstrndup(json_string_value(v), json_string_length(v));
    if (!v || json_is_null(v)) return tly_xstrdup("");
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy = tly_xstrdup(text ? text : "");
    tly_json_free(text);
    return copy;
}

int tly_rows_from_json_compact(tly_rows *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *data = json_object_get(doc, "data");
    json_t *meta = json_object_get(doc, "meta");
    if (!json_is_array(data) || !json_is_array(meta)) {
        json_decref(doc);
        return -1;
    }
    size_t n_cols = json_array_size(meta), n_rows = json_array_size(data);
    for (size_t i = 0; i < n_rows; i++) {
        json_t *row = json_array_get(data, i);
        if (!json_is_array(row) || json_array_size(row) != n_cols) {
            json_decref(doc);
            return -1;
        }
    }
    tly_rows_init(r, n_cols);
    if (n_rows > 0 && n_cols > 0) {
        r->cells = tly_xcalloc(n_rows * n_cols, sizeof *r->cells);
        for (size_t i = 0; i < n_rows; i++)
            for (size_t c = 0; c < n_cols; c++)
                r->cells[i * n_cols + c] = cell_text(json_array_get(json_array_get(data, i), c));
        r->n_rows = n_rows;
    }
    json_decref(doc);
    return 0;
}

void tly_rows_free(tly_rows *r)
{
    for (size_t i = 0; i < r->n_rows * r->n_cols; i++) free(r->cells[i]);
    free(r->cells);
    memset(r, 0, sizeof *r);
}
