/*
 * main.c - souk-cart: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in cart.c, Redis commands in store.c,
 * the catalog client in catalog.c, product event consumers in events.c;
 * lib/service.c starts it all.
 */
#include <stdlib.h>

#include "cart.h"
#include "httpc.h"
#include "kv.h"
#include "log.h"

#define CFG struct cart_config
static const struct cfg_var cart_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7105"),
    CFG_STR_ROW("SOUK_CART_DB", CFG, svc.db, "postgresql://cart:souk-dev@127.0.0.1:55432/cart",
                "PostgreSQL database of the cart service (the inbox of consumed events only)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_STR_ROW("SOUK_REDIS_URL", CFG, redis_url, "redis://127.0.0.1:56379/0",
                "Redis holding the carts (a hash per cart with a sliding TTL)"),
    CFG_STR_ROW("SOUK_CATALOG_URL", CFG, catalog_url, "http://127.0.0.1:7102",
                "souk-catalog, asked for a price snapshot when an item is added"),
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
    {NULL},
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
    {NULL},
};

/* The catalog is not a readiness dependency: only adds need it, and they
 * answer 503 on their own while it is down. */
static const struct server_check cart_checks[] = {
    {"redis", ready_redis},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

static int
setup(void)
{
    if (kv_url_check(cart_cfg.redis_url) != ERR_OK) {
        log_error("SOUK_REDIS_URL is not a redis://host:port/db URL");
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* A Redis connection and an HTTP client per thread; both connect on first
 * use. The consumer thread gets one too but only uses its Redis. */
static void *
cart_worker_new(void)
{
    struct cart_worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->kv = kv_new(cart_cfg.redis_url, REDIS_TIMEOUT); /* the url was checked by setup */
    w->hc = httpc_new(CATALOG_BODY);
    if (w->kv == NULL) {
        httpc_free(w->hc);
        free(w);
        return NULL;
    }
    return w;
}

static void
cart_worker_free(void *state)
{
    struct cart_worker *w = state;

    if (w == NULL)
        return;
    kv_free(w->kv);
    httpc_free(w->hc);
    free(w);
}

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "cart",
        .help = "souk-cart: shopping carts in Redis (a hash per cart with a sliding TTL) for "
                "signed-in users and anonymous visitors, merged at login; price snapshots from "
                "the catalog; product events flag changed and deleted lines.",
        .argc = argc,
        .argv = argv,
        .vars = cart_vars,
        .config = &cart_cfg,
        .svc = &cart_cfg.svc,
        .consumers = cart_consumers,
        .routes = cart_routes,
        .checks = cart_checks,
        .setup = setup,
        .thread_new = cart_worker_new,
        .thread_free = cart_worker_free,
        .publishes = 1, /* cart.changed (events.c) */
    });
}
