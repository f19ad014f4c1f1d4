#include "first.h"
#include "quota.h"
#include "events_store.h"
#include "mem.h"
#include "timeparse.h"

#include <stdio.h>
#include <stdlib.h>

#define QUOTA_REFRESH_MS 30000
#define QUOTA_SLOTS 64
#define DAY_MS 86400000LL

typedef struct counter {
    int property_pk;        /* 0: unused */
    int32_t day;
    long long count;
    int64_t read_ms;        /* when count was last read from the database */
} counter;

struct tly_quota {
    counter slots[QUOTA_SLOTS];
    tly_db_runner *runner;  /* runs the count; NULL: in place */
    void *runner_ctx;
};

tly_quota *tly_quota_new(void)
{
    return tly_xcalloc(1, sizeof(tly_quota));
}

void tly_quota_free(tly_quota *q)
{
    free(q);
}

void tly_quota_set_runner(tly_quota *q, tly_db_runner *runner, void *ctx)
{
    q->runner = runner;
    q->runner_ctx = ctx;
}

/* The count of the day's events, as the runner runs it. */
typedef struct count_call {
    tly_db *db;
    int property_pk;
    long long stored;
    int rc;
} count_call;

static void count_today(void *arg)
{
    count_call *c = arg;
    tly_db_error err;
    c->rc = tly_events_store()->count_today(c->db, c->property_pk, &c->stored, &err);
}

static counter *slot(tly_quota *q, int property_pk)
{
    return &q->slots[(unsigned)property_pk % QUOTA_SLOTS];
}

int tly_quota_check(tly_quota *q, tly_db *db, int property_pk, long long limit, long long events,
                    int64_t now_ms)
{
    if (limit <= 0) return 0;
    counter *c = slot(q, property_pk);
    int32_t day = tly_time_day_of_ms(now_ms);
    if (c->property_pk != property_pk || c->day != day || now_ms - c->read_ms >= QUOTA_REFRESH_MS) {
        count_call call = {.db = db, .property_pk = property_pk};
        if (q->runner) q->runner(q->runner_ctx, count_today, &call);
        else count_today(&call);
        if (call.rc != 0) return 0;
        c->property_pk = property_pk;
        c->day = day;
        c->count = call.stored;
        c->read_ms = now_ms;
    }
    if (c->count + events <= limit) return 0;
    int64_t next_midnight = ((int64_t)day + 1) * DAY_MS;
    return (int)((next_midnight - now_ms + 999) / 1000);
}

void tly_quota_add(tly_quota *q, int property_pk, long long events)
{
    counter *c = slot(q, property_pk);
    if (c->property_pk == property_pk) c->count += events;
}
