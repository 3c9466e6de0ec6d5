/*
 * main.c - souk-monolith: configuration, the v1 route table and wiring.
 * Handlers live in api_*.c, SQL in store_*.c, pure logic in shop.c.
 */
#include <stdlib.h>

#include "auth.h"
#include "cfg.h"
#include "log.h"
#include "mdb.h"
#include "monolith.h"
#include "server.h"

#define CFG struct monolith_config
static const struct cfg_var monolith_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7000"),
    CFG_STR_ROW("SOUK_MONOLITH_DB", CFG, svc.db,
                "mysql://souk_monolith:souk-dev@127.0.0.1:53306/souk_monolith",
                "MariaDB DSN of the shop schema"),
    CFG_INT_ROW("SOUK_JWT_TTL", CFG, jwt_ttl, "3600", 60, 86400 * 30, "token lifetime, seconds"),
    CFG_INT_ROW("SOUK_ARGON2_OPS", CFG, argon2_ops, "2", 1, 10, "Argon2id time cost"),
    CFG_INT_ROW("SOUK_ARGON2_MEM_KIB", CFG, argon2_mem_kib, "19456", 8, 1048576,
                "Argon2id memory cost, KiB"),
    CFG_INT_ROW("SOUK_MONOLITH_PROVIDER_LATENCY_MS", CFG, provider_latency_ms, "0", 0, 60000,
                "simulated payment provider latency, ms (spent inside the checkout transaction)"),
    {NULL},
};
#undef CFG

#define BODY_SMALL   16384 /* accounts, cart, orders: a few fields */
#define BODY_PRODUCT (256 * 1024)

static const struct route monolith_routes[] = {
    {"POST", "/api/v1/accounts/register", account_register, 0, BODY_SMALL},
    {"POST", "/api/v1/accounts/login", account_login, 0, BODY_SMALL},
    {"GET", "/api/v1/accounts/me", account_me, ROUTE_USER, 0},
    {"PUT", "/api/v1/accounts/me/address", account_address_put, ROUTE_USER, BODY_SMALL},
    {"GET", "/api/v1/categories", category_list, 0, 0},
    {"GET", "/api/v1/products", product_list, 0, 0},
    {"POST", "/api/v1/products", product_create, ROUTE_ADMIN, BODY_PRODUCT},
    {"GET", "/api/v1/products/{id}", product_get, 0, 0},
    {"PUT", "/api/v1/products/{id}", product_update, ROUTE_ADMIN, BODY_PRODUCT},
    {"PUT", "/api/v1/products/{id}/stock", product_stock_put, ROUTE_ADMIN, BODY_SMALL},
    {"GET", "/api/v1/products/{id}/reviews", review_list, 0, 0},
    {"POST", "/api/v1/products/{id}/reviews", review_create, ROUTE_USER, BODY_SMALL},
    {"GET", "/api/v1/search", search_products, 0, 0},
    {"GET", "/api/v1/cart", cart_get, ROUTE_USER, 0},
    {"POST", "/api/v1/cart/items", cart_item_add, ROUTE_USER, BODY_SMALL},
    {"PUT", "/api/v1/cart/items/{product_id}", cart_item_put, ROUTE_USER, BODY_SMALL},
    {"DELETE", "/api/v1/cart/items/{product_id}", cart_item_delete, ROUTE_USER, 0},
    {"POST", "/api/v1/orders", order_create, ROUTE_USER, BODY_SMALL},
    {"GET", "/api/v1/orders", order_list, ROUTE_USER, 0},
    {"GET", "/api/v1/orders/{id}", order_get, ROUTE_USER, 0},
    {"GET", "/api/v1/reports/sales", report_sales, ROUTE_ADMIN, 0},
    {NULL},
};

static const struct server_check monolith_checks[] = {
    {"mariadb", ready_db},
    {NULL},
};

struct monolith_config monolith;

/* Each worker owns one MariaDB connection; it connects on first use so a
 * database that is down at boot only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    (void)index;
    (void)arg;
    return mdb_new(monolith.svc.db);
}

static void
worker_fini(void *state)
{
    mdb_free(state);
}

int
main(int argc, char **argv)
{
    struct server_spec spec = {
        .name = "monolith",
        .routes = monolith_routes,
        .checks = monolith_checks,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
    };
    struct mdb *db;
    int         rc;

    cfg_load(monolith_vars, &monolith, argc, argv,
             "souk-monolith: the legacy shop, the v1 API over one MariaDB schema.");
    log_open("monolith", monolith.svc.log_level);
    if (auth_init() != ERR_OK || mdb_global_init() != ERR_OK) {
        log_error("cannot initialise libsodium or the MariaDB client library");
        return 1;
    }
    db = mdb_new(monolith.svc.db); /* parses the DSN, does not connect */
    if (db == NULL) {
        log_error("SOUK_MONOLITH_DB is not a valid mysql:// DSN");
        return 2;
    }
    mdb_free(db);

    if (service_secret_check(&monolith.svc) != ERR_OK)
        return 2;
    log_info("monolith up: listen=%s", monolith.svc.listen);
    service_server_spec(&monolith.svc, &spec);
    rc = server_run(&spec);
    log_info("monolith down");
    return rc == ERR_OK ? 0 : 1;
}
