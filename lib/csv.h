/* Report rows as RFC 4180 CSV (format=csv, and the dashboard's exports): a header line of column
 * names, then one line per row, every line ended by CRLF.
 *
 * Cells: strings are written as they are, inside double quotes (with '"' doubled) when they contain
 * ',', '"', CR or LF. Numbers are written exactly as Jansson dumps them with the same precision
 * (integers without a decimal point), booleans as true/false, null and missing values as an empty
 * cell, and objects or arrays (e.g. revenue per currency) as compact JSON text in one quoted cell.
 *
 * Formula injection: spreadsheet programs run a cell that starts with '=', '+', '-' or '@' as a
 * formula (some also after a leading TAB or CR), so a page path or UTM value chosen by any
 * visitor could run =HYPERLINK(...) or worse on the site owner's machine when they open an export.
 * Every string cell (and header name) starting with one of those six characters gets a leading
 * apostrophe, which spreadsheets take as "this is text" and do not display. JSON numbers are never
 * prefixed: "-3" as a number is data, not a formula. */
#ifndef TLY_CSV_H
#define TLY_CSV_H
#include "first.h"
#include "buf.h"
#include <jansson.h>
#include <stddef.h>

/* Appends the CSV of `rows` (a JSON array of objects) to out: the header line `columns[0..n)`,
 * then each row's values for those keys in that order. `real_precision` is the number of
 * significant digits of reals, as in JSON_REAL_PRECISION (1-31; 0 = Jansson's default, 17): pass
 * the precision the JSON answer uses so both formats print the same numbers (15 prints 42.3 as
 * "42.3", where 17 gives "42.299999999999997").
 * 0 ok; -1 when rows is NULL or not an array, or a row is not an object, with out left as it was. */
int tly_csv_from_rows(const json_t *rows, const char *const *columns, size_t n_columns,
                      int real_precision, tly_buf *out) TLY_NONNULL(5) TLY_MUST_CHECK;

/* Appends one string cell s[0..len), defused and quoted as above (no separator, no line end). */
void tly_csv_append_field(tly_buf *out, const char *s, size_t len) TLY_NONNULL(1);
/* Appends one cell for a JSON value (NULL = missing: an empty cell). */
void tly_csv_append_value(tly_buf *out, const json_t *v, int real_precision) TLY_NONNULL(1);

#endif
