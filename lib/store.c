#include "first.h"
#include "store.h"
#include "events_store.h"
#include "log.h"

#include <string.h>

#define STORE_ATTEMPTS 3

int tly_store_jobs(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    const tly_events_store_ops *store = tly_events_store();
    for (int attempt = 1;; attempt++) {
        if (store->append(db, jobs, n, err) == 0) return 0;
        /* 40P01 deadlock, 40001 serialisation failure: nothing was stored; try again. */
        bool retryable = strcmp(err->sqlstate, "40P01") == 0 || strcmp(err->sqlstate, "40001") == 0;
        if (!retryable || attempt == STORE_ATTEMPTS) return -1;
        tly_log_info("store: %s (attempt %d of %d), retrying", err->message, attempt, STORE_ATTEMPTS);
    }
}
