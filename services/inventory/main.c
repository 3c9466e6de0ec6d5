/*
 * main.c - souk-inventory: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in inventory.c, SQL in store.c, the
 * saga's consumers, the hold sweeper and the events it writes in events.c
 * (relayed by lib/mq.c); lib/service.c starts it all.
 */
#include "inventory.h"
#include "log.h"

#define CFG struct inventory_config
static const struct cfg_var inventory_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7107"),
    CFG_STR_ROW("SOUK_INVENTORY_DB", CFG, svc.db,
                "postgresql://inventory:souk-dev@127.0.0.1:55432/inventory",
                "PostgreSQL database of inventory (stock, reservations, outbox, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_INT_ROW("SOUK_INVENTORY_HOLD_S", CFG, hold_s, "60", 1, 86400,
                "seconds a reservation holds stock before the sweeper releases it "
                "(longer than SOUK_ORDERS_DEADLINE_S)"),
    CFG_INT_ROW("SOUK_INVENTORY_SWEEP_MS", CFG, sweep_ms, "1000", 10, 600000,
                "ms between rounds of the hold sweeper"),
    CFG_INT_ROW("SOUK_INVENTORY_CONSUMERS", CFG, consumers, "4", 1, 64,
                "consumer threads: saga events applied at once (an order's events are "
                "serialised by an advisory lock, stock rows locked in product id order)"),
    {NULL},
};
#undef CFG

#define BODY_SMALL 16384 /* as the monolith's stock route */

static const struct route inventory_routes[] = {
    {"PUT", "/api/v1/products/{id}/stock", stock_put, ROUTE_ADMIN, BODY_SMALL},
    {"GET", "/api/v2/products/{id}/stock", stock_get_v2, ROUTE_ADMIN, 0},
    /* its dead letters, for the control room (lib/service_dlq.c) */
    {"GET", "/api/v2/admin/dlq/inventory", service_dlq_list, ROUTE_ADMIN, 0},
    {"POST", "/api/v2/admin/dlq/inventory/replay", service_dlq_replay, ROUTE_ADMIN,
     SERVICE_DLQ_BODY},
    {NULL},
};

static const struct server_check inventory_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

struct inventory_config inventory_cfg;

static int
setup(void)
{
    inventory_sweeps[0].every_ms = inventory_cfg.sweep_ms;
    events_setup();
    log_info("inventory: holds live %llds, swept every %lldms", (long long)inventory_cfg.hold_s,
             (long long)inventory_cfg.sweep_ms);
    return ERR_OK;
}

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "inventory",
        .help = "souk-inventory: stock per product and reservations (holds with a TTL) in "
                "PostgreSQL; reserves, sells and releases on the order saga's events, never "
                "below zero; inventory.* events through a transactional outbox; the v1 stock "
                "write and the v2 stock read.",
        .argc = argc,
        .argv = argv,
        .vars = inventory_vars,
        .config = &inventory_cfg,
        .svc = &inventory_cfg.svc,
        .stmts = inventory_stmts,
        .publishes = 1,
        .consumers = inventory_consumers,
        .routes = inventory_routes,
        .checks = inventory_checks,
        .consumer_threads = &inventory_cfg.consumers,
        .setup = setup,
        .sweeps = inventory_sweeps,
    });
}
