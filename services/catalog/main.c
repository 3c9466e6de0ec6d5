/*
 * main.c - souk-catalog: configuration, the route table and wiring.
 * Handlers are in api.c and api_v2.c, SQL in store.c, the cache in cache.c,
 * the events it publishes and consumes in events.c (lib/mq.c relays and
 * delivers them).
 */
#include <stdlib.h>

#include "auth.h"
#include "catalog.h"
#include "cfg.h"
#include "db.h"
#include "kv.h"
#include "log.h"
#include "mq.h"
#include "server.h"

#define CFG struct catalog_config
static const struct cfg_var catalog_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7102", "address to listen on"),
    CFG_STR_ROW("SOUK_CATALOG_DB", CFG, db, "postgresql://catalog:souk-dev@127.0.0.1:55432/catalog",
                "PostgreSQL database of the catalog (products, categories, outbox)"),
    CFG_STR_ROW("SOUK_REDIS_URL", CFG, redis_url, "redis://127.0.0.1:56379/0",
                "Redis for the read cache"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, AUTH_DEV_SECRET,
                "HS256 secret shared with users, the monolith and the gateway"),
    CFG_INT_ROW("SOUK_CATALOG_CACHE_TTL", CFG, cache_ttl, "300", 1, 86400,
                "seconds a cached product or category list lives"),
    CFG_INT_ROW("SOUK_CATALOG_CACHE_TIMEOUT_MS", CFG, cache_timeout_ms, "250", 10, 10000,
                "bound on every Redis call, ms"),
    CFG_INT_ROW("SOUK_WORKERS", CFG, workers, "0", 0, 256, "handler threads (0 = 4 per core)"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, loops, "0", 0, 64, "I/O loops (0 = one per core)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", CFG, header_timeout_ms, "10000", 100, 600000,
                "time allowed to send request headers"),
    CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", CFG, body_timeout_ms, "30000", 100, 600000,
                "time allowed to send a request body"),
    CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", CFG, idle_timeout_ms, "60000", 100, 3600000,
                "keep-alive idle time before closing"),
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

static int
ready_db(struct req *r)
{
    return store_ping(r);
}

static int
ready_mq(struct req *r)
{
    (void)r;
    return mq_ready(catalog_mq);
}

/* Redis is not here on purpose: without it reads fall through to PostgreSQL. */
static const struct server_check catalog_checks[] = {
    {"postgresql", ready_db},
    {"outbox", ready_mq},
    {NULL},
};

struct catalog_config catalog;
struct mq            *catalog_mq;

/* The consumer thread's own Redis handle, for its write-through. */
static struct cache_conn consumer_cache;

/* Each worker owns one PostgreSQL and one Redis connection, opened on first
 * use, so a dependency that is down at boot only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    struct catalog_worker *w = calloc(1, sizeof(*w));

    (void)index;
    (void)arg;
    if (w != NULL) {
        w->db = db_new(catalog.db, catalog_sql);
        w->cache.kv = kv_new(catalog.redis_url, (int)catalog.cache_timeout_ms);
    }
    if (w == NULL || w->db == NULL || w->cache.kv == NULL) {
        log_error("out of memory while starting a worker");
        abort();
    }
    return w;
}

static void
worker_fini(void *state)
{
    struct catalog_worker *w = state;

    if (w == NULL)
        return;
    db_free(w->db);
    kv_free(w->cache.kv);
    free(w);
}

static int
config_check(void)
{
    if (kv_url_check(catalog.redis_url) != ERR_OK) {
        log_error("SOUK_REDIS_URL is not redis://host:port[/db]");
        return 2;
    }
    if (auth_secret_check(catalog.jwt_secret, catalog.listen) != ERR_OK) {
        log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
                  "beyond loopback (the dev default lets anyone mint admin tokens)");
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct mq_spec spec = {0};
    int            rc;

    cfg_load(catalog_vars, &catalog, argc, argv,
             "souk-catalog: products as JSONB documents and categories in PostgreSQL, a Redis "
             "read cache, product events through a transactional outbox, the rating replica "
             "from review events; the v1 catalog API and v2 attribute queries.");
    log_open("catalog", catalog.log_level);
    if (config_check())
        return 2;
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    cache_init();
    consumer_cache.kv = kv_new(catalog.redis_url, (int)catalog.cache_timeout_ms);
    if (consumer_cache.kv == NULL) {
        log_error("out of memory while starting the consumer");
        return 1;
    }
    spec.service = "catalog";
    spec.db_url = catalog.db;
    spec.publishes = 1;
    spec.consumers = catalog_consumers;
    spec.ctx = &consumer_cache;
    spec.cfg = catalog.mq;
    rc = mq_start(&catalog_mq, &spec);
    if (rc) {
        log_error("cannot start the outbox relay (is SOUK_AMQP_URL an amqp:// URL?)");
        kv_free(consumer_cache.kv);
        return rc == ERR_INVALID ? 2 : 1;
    }
    log_info("catalog up: listen=%s cache_ttl=%llds", catalog.listen, (long long)catalog.cache_ttl);
    rc = server_run(&(struct server_spec){
        .name = "catalog",
        .listen = catalog.listen,
        .routes = catalog_routes,
        .checks = catalog_checks,
        .jwt_secret = catalog.jwt_secret,
        .loops = (int)catalog.loops,
        .workers = (int)catalog.workers,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .header_timeout_ms = catalog.header_timeout_ms,
        .body_timeout_ms = catalog.body_timeout_ms,
        .idle_timeout_ms = catalog.idle_timeout_ms,
    });
    mq_stop(catalog_mq);
    kv_free(consumer_cache.kv);
    log_info("catalog down");
    return rc == ERR_OK ? 0 : 1;
}
