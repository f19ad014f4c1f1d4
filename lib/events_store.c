#include "first.h"
#include "events_store.h"

#include <stdio.h>

static const tly_events_store_ops *selected = &tly_store_postgresql;

int tly_events_store_setup(const tly_conf *conf, char *err, size_t errlen)
{
    const tly_events_store_ops *ops =
        conf->events_store == TLY_EVENTS_CLICKHOUSE ? &tly_store_clickhouse : &tly_store_postgresql;
    if (ops->setup && ops->setup(conf, err, errlen) != 0) return -1;
    selected = ops;
    return 0;
}

const tly_events_store_ops *tly_events_store(void)
{
    return selected;
}
