/*
 * main.c - souk-reporting: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in reporting.c, SQL in store.c, the
 * order and product consumers in events.c (lib/mq.c runs them), the views'
 * refresh job in refresh.c (a lib/sweep.h job); lib/service.c starts it all.
 */
#include "reporting.h"

#define CFG struct reporting_config
static const struct cfg_var reporting_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7110"),
    CFG_STR_ROW("SOUK_REPORTING_DB", CFG, svc.db,
                "postgresql://reporting:souk-dev@127.0.0.1:55432/reporting",
                "PostgreSQL database of reporting (facts, tallies, views, replica, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_INT_ROW("SOUK_REPORTING_REFRESH_MS", CFG, refresh_ms, "5000", 100, 86400000,
                "pause between refreshes of the materialized views"),
    CFG_INT_ROW("SOUK_REPORTING_CACHE_MS", CFG, cache_ms, "250", 0, 60000,
                "a cached report answer lives at most this long (0: no cache); an event "
                "applied here drops it at once"),
    /* 6, not 2: each thread takes one message at a time (prefetch 1) and spends
     * several database and broker round trips on it; under the checkout load two
     * threads fell behind and order.confirmed waited ~300 ms in the queue
     * (docs/benchmarks.md, reporting) */
    CFG_INT_ROW("SOUK_REPORTING_CONSUMERS", CFG, consumers, "6", 1, 64,
                "consumer threads (events of one order apply one after the other: row lock)"),
    {NULL},
};
#undef CFG

static const struct route reporting_routes[] = {
    {"GET", "/api/v1/reports/sales", sales_v1, ROUTE_ADMIN, 0},
    {"GET", "/api/v2/reports/sales", sales_v2, ROUTE_ADMIN, 0},
    {"GET", "/api/v2/reports/sales/rollup", rollup_v2, ROUTE_ADMIN, 0},
    {"GET", "/api/v2/reports/top-products", top_products_v2, ROUTE_ADMIN, 0},
    {NULL},
};

static const struct server_check reporting_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

/* every_ms is SOUK_REPORTING_REFRESH_MS, set by reporting_setup. */
static struct sweep_spec reporting_sweeps[] = {
    {"view refresh", refresh_views, 5000, NULL},
    {NULL, NULL, 0, NULL},
};

struct reporting_config reporting_cfg;

static int
reporting_setup(void)
{
    reporting_sweeps[0].every_ms = reporting_cfg.refresh_ms;
    cache_setup(reporting_cfg.cache_ms);
    refresh_setup();
    return ERR_OK;
}

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "reporting",
        .help = "souk-reporting: sales reports kept incrementally from order events (a fact "
                "per order, per-day tallies by country and category, in the consumer's "
                "transaction) and materialized views for the heavier rollups, refreshed "
                "CONCURRENTLY; the v1 sales report and the v2 reports, each saying how "
                "fresh it is.",
        .argc = argc,
        .argv = argv,
        .vars = reporting_vars,
        .config = &reporting_cfg,
        .svc = &reporting_cfg.svc,
        .stmts = reporting_stmts,
        .publishes = 0,
        .consumers = reporting_consumers,
        .routes = reporting_routes,
        .checks = reporting_checks,
        .setup = reporting_setup,
        .sweeps = reporting_sweeps,
        .consumer_threads = &reporting_cfg.consumers,
    });
}
