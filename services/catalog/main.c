/*
 * main.c - souk-catalog: configuration, the route table and wiring.
 * Handlers are in api.c and api_v2.c, SQL in store.c, the cache in cache.c,
 * the events it publishes and consumes in events.c (lib/mq.c relays and
 * delivers them, lib/service.c starts it all).
 */
#include "catalog.h"

#define CFG struct catalog_config
static const struct cfg_var catalog_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7102"),
    CFG_STR_ROW("SOUK_CATALOG_DB", CFG, svc.db,
                "postgresql://catalog:souk-dev@127.0.0.1:55432/catalog",
                "PostgreSQL database of the catalog (products, categories, outbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_STR_ROW("SOUK_REDIS_URL", CFG, redis_url, "redis://127.0.0.1:56379/0",
                "Redis for the read cache"),
    CFG_INT_ROW("SOUK_CATALOG_CACHE_TTL", CFG, cache_ttl, "300", 1, 86400,
                "seconds a cached product or category list lives"),
    CFG_INT_ROW("SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS", CFG, cache_loop_timeout_ms, "20", 0, 1000,
                "bound on a product page GET from an I/O loop, then a worker reads "
                "(0 = cache hits on workers only)"),
    CFG_INT_ROW("SOUK_CATALOG_CACHE_TIMEOUT_MS", CFG, cache_timeout_ms, "250", 10, 10000,
                "bound on every Redis call, ms"),
    {NULL},
};
#undef CFG

#define BODY_SMALL   16384
#define BODY_PRODUCT (256 * 1024) /* as the monolith: a 20000-byte description, 64 attributes */

static const struct route catalog_routes[] = {
    {"GET", "/api/v1/categories", category_list, 0, 0},
    {"GET", "/api/v1/products", product_list, 0, 0},
    {"POST", "/api/v1/products", product_create, ROUTE_ADMIN, BODY_PRODUCT},
    {"GET", "/api/v1/products/{id}", product_get, 0, 0},
    {"PUT", "/api/v1/products/{id}", product_update, ROUTE_ADMIN, BODY_PRODUCT},
    {"DELETE", "/api/v1/products/{id}", product_delete, ROUTE_ADMIN, 0},
    {"PUT", "/api/v1/products/{id}/price", product_price_put, ROUTE_ADMIN, BODY_SMALL},
    {"GET", "/api/v2/products", product_list_v2, 0, 0},
    {"POST", "/api/v2/categories", category_create, ROUTE_ADMIN, BODY_SMALL},
    {NULL},
};

/* A product page hit is answered on the I/O loop (cache.c, kv_async). */
static const struct server_loop_route catalog_loop_routes[] = {
    {product_get, product_get_loop},
    {NULL, NULL},
};

/* Redis is not here on purpose: without it reads fall through to PostgreSQL. */
static const struct server_check catalog_checks[] = {
    {"postgresql", service_ready_db},
    {"outbox", service_ready_mq},
    {NULL},
};

struct catalog_config catalog;

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "catalog",
        .help = "souk-catalog: products as JSONB documents and categories in PostgreSQL, a "
                "Redis read cache, product events through a transactional outbox, the rating "
                "replica from review events; the v1 catalog API and v2 attribute queries.",
        .argc = argc,
        .argv = argv,
        .vars = catalog_vars,
        .config = &catalog,
        .svc = &catalog.svc,
        .stmts = catalog_sql,
        .publishes = 1,
        .consumers = catalog_consumers,
        .routes = catalog_routes,
        .checks = catalog_checks,
        .setup = cache_setup,
        .thread_new = cache_conn_new,
        .thread_free = cache_conn_free,
        .loop_routes = catalog_loop_routes,
        .loop_new = cache_loop_new,
        .loop_free = cache_loop_free,
    });
}
