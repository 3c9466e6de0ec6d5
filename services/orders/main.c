/*
 * main.c - souk-orders: configuration, the route table and wiring.
 * Handlers are in api.c (v1) and api_v2.c, pure logic in orders.c, SQL in
 * store.c, the saga's consumers and events in events.c (relayed by
 * lib/mq.c), the cart client in cart.c, waiting checkouts in wait.c and the
 * deadline sweeper in sweep.c (a lib/sweep.h job); lib/service.c starts it all.
 */
#include "log.h"
#include "orders.h"

#define CFG struct orders_config
static const struct cfg_var orders_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7106"),
    CFG_STR_ROW("SOUK_ORDERS_DB", CFG, svc.db,
                "postgresql://orders:souk-dev@127.0.0.1:55432/orders",
                "PostgreSQL database of orders (orders, lines, timeline, replicas, outbox, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_STR_ROW("SOUK_CART_URL", CFG, cart_url, "http://127.0.0.1:7105",
                "souk-cart, read at checkout with the user's own token"),
    CFG_INT_ROW("SOUK_CART_TIMEOUT_MS", CFG, cart_timeout_ms, "2000", 10, 60000,
                "a cart read waits this long, then the checkout is a 503"),
    CFG_INT_ROW("SOUK_ORDERS_SYNC_WAIT_MS", CFG, sync_wait_ms, "15000", 0, 120000,
                "a v1 checkout waits this long for the saga's outcome, then answers 202"),
    CFG_INT_ROW("SOUK_ORDERS_DEADLINE_S", CFG, deadline_s, "30", 1, 86400,
                "a pending order is cancelled this long after it was placed"),
    CFG_INT_ROW("SOUK_ORDERS_SWEEP_MS", CFG, sweep_ms, "1000", 10, 60000,
                "how often the deadline sweeper looks for overdue orders"),
    CFG_INT_ROW("SOUK_ORDERS_WAITERS", CFG, waiters, "64", 1, 256,
                "handler threads when SOUK_WORKERS is 0: each waiting v1 checkout holds one"),
    CFG_INT_ROW("SOUK_ORDERS_CONSUMERS", CFG, consumers, "4", 1, 64,
                "consumer threads: saga events applied at once (moves lock the order's row)"),
    {NULL},
};
#undef CFG

#define BODY_SMALL 16384 /* as the monolith's checkout route */

static const struct route orders_routes[] = {
    {"POST", "/api/v1/orders", order_create, ROUTE_USER, BODY_SMALL},
    {"GET", "/api/v1/orders", order_list, ROUTE_USER, 0},
    {"GET", "/api/v1/orders/{id}", order_get, ROUTE_USER, 0},
    {"POST", "/api/v2/orders", order_create_v2, ROUTE_USER, BODY_SMALL},
    {"GET", "/api/v2/orders/{id}", order_get_v2, ROUTE_USER, 0},
    {"GET", "/api/v2/admin/sagas", saga_list, ROUTE_ADMIN, 0},
    /* its dead letters, for the control room (lib/service_dlq.c) */
    {"GET", "/api/v2/admin/dlq/orders", service_dlq_list, ROUTE_ADMIN, 0},
    {"POST", "/api/v2/admin/dlq/orders/replay", service_dlq_replay, ROUTE_ADMIN, SERVICE_DLQ_BODY},
    {"GET", "/api/v2/admin/order-events", order_events, ROUTE_ADMIN, 0},
    {NULL},
};

static const struct server_check orders_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

/* every_ms is SOUK_ORDERS_SWEEP_MS, set by orders_setup. */
static struct sweep_spec orders_sweeps[] = {
    {"deadline sweeper", sweep_deadline, 1000, NULL},
    {NULL, NULL, 0, NULL},
};

/* A v1 checkout holds its handler thread while it waits for the saga, so
 * the pool is sized for waiting, not for CPU. */
static int
orders_setup(void)
{
    if (orders_cfg.svc.workers == 0)
        orders_cfg.svc.workers = orders_cfg.waiters;
    if (orders_cfg.deadline_s * 1000 <= orders_cfg.sync_wait_ms)
        log_warn("SOUK_ORDERS_SYNC_WAIT_MS is not below SOUK_ORDERS_DEADLINE_S: a v1 checkout "
                 "may see its order cancelled by the deadline");
    orders_sweeps[0].every_ms = orders_cfg.sweep_ms;
    wait_setup();
    return ERR_OK;
}

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "orders",
        .help = "souk-orders: orders in PostgreSQL placed as a choreographed saga over the "
                "event bus (order.created through a transactional outbox; inventory and "
                "payments answer), product-price and customer replicas fed by events, a "
                "deadline sweeper; the v1 checkout (waiting for the outcome) and the v2 "
                "asynchronous checkout, order timeline and saga tracker.",
        .argc = argc,
        .argv = argv,
        .vars = orders_vars,
        .config = &orders_cfg,
        .svc = &orders_cfg.svc,
        .stmts = orders_stmts,
        .publishes = 1,
        .consumers = orders_consumers,
        .routes = orders_routes,
        .checks = orders_checks,
        .setup = orders_setup,
        .thread_new = cart_thread_new,
        .thread_free = cart_thread_free,
        .sweeps = orders_sweeps,
        .consumer_threads = &orders_cfg.consumers,
    });
}
