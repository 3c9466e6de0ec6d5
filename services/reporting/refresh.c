/*
 * refresh.c - the job that keeps the materialized views (a lib/sweep.h job
 * on its own thread, every SOUK_REPORTING_REFRESH_MS). CONCURRENTLY, so the
 * reports read the old contents meanwhile and never wait; each refresh is
 * recorded in refreshes, which is what a view report's as_of says. A view
 * under which no change was applied since its last refresh is not refreshed
 * (only marked current as of now), so an idle shop, or one benchmarked on
 * reads, costs nothing.
 */
#include "log.h"
#include "reporting.h"

int
refresh_views(struct work *w, int *more)
{
    const char *name = NULL;
    size_t      i;
    int         rc = ERR_OK;

    *more = 0;
    for (i = 0; rc == ERR_OK; i++) {
        rc = store_refresh(w, i, &name);
        if (rc && rc != ERR_NOT_FOUND)
            log_warn("reporting: refreshing %s failed (%s); the next round tries again", name,
                     err_name(rc));
    }
    return rc == ERR_NOT_FOUND ? ERR_OK : rc;
}
