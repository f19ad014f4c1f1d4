/* A result set of text values, whichever store produced it: rows of columns, each value a
 * NUL-terminated string ("" for SQL NULL). Reports read figures from it without knowing whether
 * they came from PostgreSQL or ClickHouse. A zero-initialised tly_rows is valid and empty. */
#ifndef TLY_ROWS_H
#define TLY_ROWS_H
#include "first.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

typedef struct tly_rows {
    size_t n_rows, n_cols;
    char **cells;            /* n_rows * n_cols owned strings, row after row */
} tly_rows;

/* The value at (row, col); "" outside the result. */
const char *tly_rows_get(const tly_rows *r, size_t row, size_t col) TLY_NONNULL(1);
long long tly_rows_int(const tly_rows *r, size_t row, size_t col) TLY_NONNULL(1);
/* Copies a PostgreSQL result (which the caller still clears). */
void tly_rows_from_pg(tly_rows *r, const PGresult *res) TLY_NONNULL(1, 2);
/* Reads the "data" member of a JSONCompact document ([[v, ...], ...]): strings as they are,
 * numbers and booleans as their JSON text, null as "", arrays and objects as compact JSON. 0 ok;
 * -1 when text is not such a document (r is left empty). */
int tly_rows_from_json_compact(tly_rows *r, const char *text, size_t len) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Starts an empty result of n_cols columns, to be filled with tly_rows_add_row. */
void tly_rows_init(tly_rows *r, size_t n_cols) TLY_NONNULL(1);
/* Appends a row of n_cols values (copied; NULL entries become ""). */
void tly_rows_add_row(tly_rows *r, const char *const *values) TLY_NONNULL(1, 2);
void tly_rows_free(tly_rows *r) TLY_NONNULL(1);

#endif
