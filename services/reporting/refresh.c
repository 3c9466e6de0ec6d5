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
#include "metrics.h"
#include "reporting.h"

#define HELP "materialized view rounds: recomputed (refreshed) or found current (no change since)"
/* clang-format off */
static struct metric refreshed = {.name = "souk_reporting_view_rounds_total", .help = HELP,
    .kind = METRIC_COUNTER, .labels = "result=\"refreshed\""};
static struct metric current = {.name = "souk_reporting_view_rounds_total", .help = HELP,
    .kind = METRIC_COUNTER, .labels = "result=\"current\""};
static struct metric failed = {.name = "souk_reporting_view_rounds_total", .help = HELP,
    .kind = METRIC_COUNTER, .labels = "result=\"failed\""};
/* clang-format on */

void
refresh_setup(void)
{
    metrics_register(&refreshed);
    metrics_register(&current);
    metrics_register(&failed);
}

int
refresh_views(struct work *w, int *more)
{
    const char *name = NULL;
    size_t      i;
    int         rc = ERR_OK, did = 0;

    *more = 0;
    for (i = 0; rc == ERR_OK; i++) {
        rc = store_refresh(w, i, &name, &did);
        if (rc == ERR_OK)
            metrics_add(did ? &refreshed : &current, 1);
        else if (rc != ERR_NOT_FOUND)
            metrics_add(&failed, 1);
        if (rc && rc != ERR_NOT_FOUND)
            log_warn("reporting: refreshing %s failed (%s); the next round tries again", name,
                     err_name(rc));
    }
    return rc == ERR_NOT_FOUND ? ERR_OK : rc;
}
