/*
 * main.c - souk-search: configuration, the route table and wiring. Handlers
 * live in api.c, SQL in store.c, consumers in events.c, pure logic in
 * search.c; lib/service.c starts it all.
 */
#include "search.h"

#define CFG struct search_config
static const struct cfg_var search_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7103"),
    CFG_STR_ROW("SOUK_SEARCH_DB", CFG, svc.db,
                "postgresql://search:souk-dev@127.0.0.1:55432/search",
                "PostgreSQL database of the search projection"),
    MQ_CFG_ROWS(CFG, svc.mq),
    {NULL},
};
#undef CFG

static const struct route search_routes[] = {
    {"GET", "/api/v1/search", search_v1, 0, 0},
    {"GET", "/api/v2/search", search_v2, 0, 0},
    {"GET", "/api/v2/search/suggest", search_suggest, 0, 0},
    {NULL},
};

static const struct server_check search_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

struct search_config search_cfg;

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "search",
        .help = "souk-search: full-text product search over a projection of the catalog's "
                "events.",
        .argc = argc,
        .argv = argv,
        .vars = search_vars,
        .config = &search_cfg,
        .svc = &search_cfg.svc,
        .stmts = search_stmts,
        .consumers = search_consumers,
        .routes = search_routes,
        .checks = search_checks,
    });
}
