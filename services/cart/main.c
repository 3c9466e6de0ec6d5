/*
 * main.c - souk-cart: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in cart.c, Redis commands in store.c,
 * the catalog client in catalog.c, product event consumers in events.c.
 */
#include <stdlib.h>

#include "auth.h"
#include "cart.h"
#include "cfg.h"
#include "httpc.h"
#include "kv.h"
#include "log.h"
#include "server.h"

#define CFG struct cart_config
static const struct cfg_var cart_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7105", "address to listen on"),
    CFG_STR_ROW("SOUK_REDIS_URL", CFG, redis_url, "redis://127.0.0.1:56379/0",
                "Redis holding the carts (a hash per cart with a sliding TTL)"),
    CFG_STR_ROW("SOUK_CATALOG_URL", CFG, catalog_url, "http://127.0.0.1:7102",
                "souk-catalog, asked for a price snapshot when an item is added"),
    CFG_STR_ROW("SOUK_CART_DB", CFG, db, "postgresql://cart:souk-dev@127.0.0.1:55432/cart",
                "PostgreSQL database of the cart service (the inbox of consumed events only)"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, AUTH_DEV_SECRET,
                "HS256 secret shared with users, the monolith and the gateway"),
    CFG_INT_ROW("SOUK_CART_TTL_USER_S", CFG, ttl.user_s, "604800", 1, 365 * 86400,
                "a signed-in user's cart expires this long after its last use"),
    CFG_INT_ROW("SOUK_CART_TTL_ANON_S", CFG, ttl.anon_s, "86400", 1, 365 * 86400,
                "an anonymous cart (and its cookie) expires this long after its last use"),
    CFG_INT_ROW("SOUK_CATALOG_TIMEOUT_MS", CFG, catalog_timeout_ms, "1000", 10, 60000,
                "a price snapshot waits this long for the catalog, then the add is a 503"),
    CFG_INT_ROW("SOUK_CART_PRICE_CACHE_MS", CFG, price_cache_ms, "3000", 0, 600000,
                "price snapshots are reused this long per process (0 = never)"),
    CFG_BOOL_ROW("SOUK_CART_COOKIE_SECURE", CFG, cookie_secure, "0",
                 "mark the souk_cart cookie Secure (when served over TLS)"),
    CFG_INT_ROW("SOUK_WORKERS", CFG, workers, "0", 0, 256, "handler threads (0 = 4 per core)"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, loops, "0", 0, 64, "I/O loops (0 = one per core)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", CFG, header_timeout_ms, "10000", 100, 600000,
                "time allowed to send request headers"),
    CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", CFG, body_timeout_ms, "30000", 100, 600000,
                "time allowed to send a request body"),
    CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", CFG, idle_timeout_ms, "60000", 100, 3600000,
                "keep-alive idle time before closing"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};
#undef CFG

#define BODY_SMALL    16384 /* as the monolith's cart routes */
#define REDIS_TIMEOUT 1000  /* ms, every Redis command */
#define CATALOG_BODY  (256 * 1024)

/* ROUTE_AUTH_OPT: a token means the user's cart, no token the cookie's. */
static const struct route cart_routes[] = {
    {"GET", "/api/v1/cart", cart_get, ROUTE_AUTH_OPT, 0},
    {"POST", "/api/v1/cart/items", cart_item_add, ROUTE_AUTH_OPT, BODY_SMALL},
    {"PUT", "/api/v1/cart/items/{product_id}", cart_item_put, ROUTE_AUTH_OPT, BODY_SMALL},
    {"DELETE", "/api/v1/cart/items/{product_id}", cart_item_delete, ROUTE_AUTH_OPT, 0},
    {NULL, NULL, NULL, 0, 0},
};

/* The catalog is not a readiness dependency: only adds need it, and they
 * answer 503 on their own while it is down. */
static const struct server_check cart_checks[] = {
    {"redis", ready_redis},
    {"rabbitmq", ready_mq},
    {NULL, NULL},
};

static struct kv *events_kv; /* the consumer thread's own Redis connection */

/* Each worker owns one Redis connection and one HTTP client; both connect
 * on first use, so a dependency that is down at boot only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    struct cart_worker *w = calloc(1, sizeof(*w));

    (void)index;
    (void)arg;
    if (w == NULL)
        abort();
    w->kv = kv_new(cart_cfg.redis_url, REDIS_TIMEOUT);
    w->hc = httpc_new(CATALOG_BODY);
    if (w->kv == NULL)
        abort(); /* the url was checked in main() */
    return w;
}

static void
worker_fini(void *state)
{
    struct cart_worker *w = state;

    kv_free(w->kv);
    httpc_free(w->hc);
    free(w);
}

static int
config_check(void)
{
    if (kv_url_check(cart_cfg.redis_url) != ERR_OK) {
        log_error("SOUK_REDIS_URL is not a redis://host:port/db URL");
        return 2;
    }
    if (mq_url_check(cart_cfg.mq.amqp_url) != ERR_OK) {
        log_error("SOUK_AMQP_URL is not an amqp:// URL");
        return 2;
    }
    if (auth_secret_check(cart_cfg.jwt_secret, cart_cfg.listen) != ERR_OK) {
        log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
                  "beyond loopback");
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int rc;

    cfg_load(cart_vars, &cart_cfg, argc, argv,
             "souk-cart: shopping carts in Redis (a hash per cart with a sliding TTL) for "
             "signed-in users and anonymous visitors, merged at login; price snapshots from "
             "the catalog; product events flag changed and deleted lines.");
    log_open("cart", cart_cfg.log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    rc = config_check();
    if (rc)
        return rc;
    events_kv = kv_new(cart_cfg.redis_url, REDIS_TIMEOUT);
    rc = mq_start(&cart_mq, &(struct mq_spec){
                                .service = "cart",
                                .db_url = cart_cfg.db,
                                .consumers = cart_consumers,
                                .ctx = events_kv,
                                .cfg = cart_cfg.mq,
                            });
    if (rc) {
        log_error("cannot start the event consumer");
        kv_free(events_kv);
        return 1;
    }
    log_info("cart up: listen=%s catalog=%s", cart_cfg.listen, cart_cfg.catalog_url);
    rc = server_run(&(struct server_spec){
        .name = "cart",
        .listen = cart_cfg.listen,
        .routes = cart_routes,
        .checks = cart_checks,
        .jwt_secret = cart_cfg.jwt_secret,
        .loops = (int)cart_cfg.loops,
        .workers = (int)cart_cfg.workers,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .header_timeout_ms = cart_cfg.header_timeout_ms,
        .body_timeout_ms = cart_cfg.body_timeout_ms,
        .idle_timeout_ms = cart_cfg.idle_timeout_ms,
    });
    mq_stop(cart_mq);
    kv_free(events_kv);
    log_info("cart down");
    return rc == ERR_OK ? 0 : 1;
}
