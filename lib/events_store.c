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

json_t *tly_events_store_health(int *status)
{
    tly_db_error err = {0};
    *status = 200;
    if (!selected->ping) return json_pack("{s:s, s:s}", "status", "ok", "db", "ok");
    if (selected->ping(&err) == 0)
        return json_pack("{s:s, s:s, s:s}", "status", "ok", "db", "ok", selected->name, "ok");
    *status = 503;
    char why[sizeof err.message + 64];
    snprintf(why, sizeof why, "events store %s unavailable: %s", selected->name, err.message);
    return json_pack("{s:s, s:s, s:s, s:s}", "status", "degraded", "db", "ok", selected->name, "unreachable",
                     "error", why);
}
