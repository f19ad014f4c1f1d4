#include "first.h"
#include "sqlbuild.h"
#include "mem.h"

#include <stdarg.h>
#include <stdlib.h>

void tly_sql_add(tly_sql *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(&q->text, fmt, ap);
    va_end(ap);
}

int tly_sql_param(tly_sql *q, const char *value)
{
    if (q->n_params == TLY_SQL_MAX_PARAMS) {
        q->overflow = 1;
        return (int)q->n_params;   /* the statement is refused before it runs */
    }
    q->params[q->n_params++] = tly_xstrdup(value);
    return (int)q->n_params;
}

void tly_sql_value(tly_sql *q, const char *value)
{
    tly_sql_add(q, "$%d", tly_sql_param(q, value));
}

void tly_sql_free(tly_sql *q)
{
    for (size_t i = 0; i < q->n_params; i++) free(q->params[i]);
    tly_buf_free(&q->text);
    q->n_params = 0;
    q->overflow = 0;
}
