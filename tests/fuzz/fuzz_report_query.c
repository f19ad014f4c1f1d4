/* libFuzzer target: the query string of report requests (tly_report_query_parse): filters,
 * dates, lists, limits and the Accept header. The input is "query\nAccept"; the first two bytes
 * also move "today" so that periods and ranges are exercised around many dates. */
#include "first.h"
#include "fuzz_check.h"
#include "report_query.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TODAY 20477   /* 2026-01-24 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t today = TODAY;
    if (size >= 2) today += (int32_t)((data[0] << 8 | data[1]) % 40000) - 20000;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = memchr(s, '\n', size);
    const char *accept = NULL;
    size_t query_len = size;
    if (nl) {
        *nl = '\0';
        accept = nl + 1;
        query_len = (size_t)(nl - s);
    }
    tly_report_query q;
    char err[TLY_REPORT_ERR_SIZE];
    if (tly_report_query_parse(&q, s, query_len, accept, today, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof err);
        FUZZ_CHECK(q.n_filters == 0);
        free(s);
        return 0;
    }
    FUZZ_CHECK(q.from_day <= q.to_day);
    FUZZ_CHECK(q.to_day - q.from_day < TLY_REPORT_MAX_RANGE_DAYS);
    FUZZ_CHECK(q.limit >= 1 && q.limit <= TLY_REPORT_MAX_LIMIT);
    FUZZ_CHECK(q.offset <= TLY_REPORT_MAX_OFFSET);
    FUZZ_CHECK(q.n_filters <= TLY_REPORT_MAX_FILTERS && q.n_group_by <= TLY_REPORT_MAX_GROUP_BY);
    FUZZ_CHECK((q.metrics & ~TLY_METRIC_ALL) == 0);
    for (size_t i = 0; i < q.n_filters; i++) {
        const tly_filter *f = &q.filters[i];
        FUZZ_CHECK(f->value != NULL && tly_utf8_valid(f->value, strlen(f->value)));
        FUZZ_CHECK(tly_utf8_length(f->value, strlen(f->value)) <= TLY_REPORT_MAX_FILTER_VALUE);
        FUZZ_CHECK(f->op != TLY_FILTER_CONTAINS || f->value[0] != '\0');
        FUZZ_CHECK(f->dim.kind > TLY_DIM_NONE && f->dim.kind < TLY_DIM_COUNT);
    }
    for (size_t i = 0; i < q.n_group_by; i++) {
        char label[TLY_DIM_LABEL_SIZE];
        tly_dim_label(&q.group_by[i], label);
        tly_dim parsed;
        FUZZ_CHECK(tly_dim_parse(label, strlen(label), &parsed) == 0 && parsed.kind == q.group_by[i].kind);
    }
    int32_t from, to;
    tly_report_query_previous(&q, &from, &to);
    FUZZ_CHECK(to == q.from_day - 1 && to - from == q.to_day - q.from_day);
    tly_report_query_free(&q);
    tly_report_query_free(&q);
    free(s);
    return 0;
}
