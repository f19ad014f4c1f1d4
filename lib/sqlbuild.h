/* Building one SQL statement whose values all travel as parameters: text is appended, and every
 * value becomes "$n". Only fixed SQL fragments chosen by the program are ever appended as text. */
#ifndef TLY_SQLBUILD_H
#define TLY_SQLBUILD_H
#include "first.h"
#include "buf.h"
#include <stddef.h>

#define TLY_SQL_MAX_PARAMS 64

typedef struct tly_sql {
    tly_buf text;
    char *params[TLY_SQL_MAX_PARAMS];   /* owned copies */
    size_t n_params;
    int overflow;                       /* more than TLY_SQL_MAX_PARAMS values were added */
} tly_sql;

/* Appends fixed SQL text (printf format; never put request data in the format arguments). */
void tly_sql_add(tly_sql *q, const char *fmt, ...) TLY_NONNULL(1, 2) TLY_PRINTF(2, 3);
/* Adds a value and appends its placeholder "$n". */
void tly_sql_value(tly_sql *q, const char *value) TLY_NONNULL(1, 2);
/* The placeholder number of a value, added once: for values used in several places. */
int tly_sql_param(tly_sql *q, const char *value) TLY_NONNULL(1, 2);
void tly_sql_free(tly_sql *q) TLY_NONNULL(1);

#endif
