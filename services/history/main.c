/*
 * main.c - souk-history: configuration, the route table and wiring. Reads
 * are in api.c, the read-your-writes wait in wait.c, the consumer in
 * events.c, the rebuild's endpoints in rebuild.c, pure logic in history.c,
 * SQL in store.c; lib/service.c starts it all.
 */
#include "bounds.h"
#include "history.h"


#define CFG struct history_config
static const struct cfg_var history_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7109"),
    CFG_STR_ROW("SOUK_HISTORY_DB", CFG, svc.db,
                "postgresql://history:souk-dev@127.0.0.1:55432/history",
                "PostgreSQL database of history (order rows, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_INT_ROW("SOUK_HISTORY_RYW_WAIT_MS", CFG, ryw_wait_ms, "1000", 0, 30000,
                "a read with Souk-Min-Order-Version waits this long for that version"),
    CFG_INT_ROW("SOUK_HISTORY_RYW_WAITERS", CFG, ryw_waiters, "0", 0, 4096,
                "at most this many such reads wait at once (0: a quarter of the workers, at "
                "least 1); past it a read answers at once with Souk-Stale: true"),
    CFG_INT_ROW("SOUK_HISTORY_CONSUMERS", CFG, consumers, "2", 1, 64,
                "consumer threads (an apply locks the order's row)"),
    CFG_INT_ROW("SOUK_HISTORY_CACHE_TTL_MS", CFG, cache_ttl_ms, "1000", 0, 60000,
                "a v1 list page is kept in this process this long (0: never); this process's "
                "applies drop it at once, another process's only by this bound"),
    CFG_INT_ROW("SOUK_HISTORY_CACHE_MB", CFG, cache_mb, "64", 1, 65536,
                "memory the page cache may hold"),
    {NULL},
};
#undef CFG

/* one page of orders' feed: at most LIMIT_FEED_PAGE_BYTES of envelopes, or one
 * event larger than that (orders' store.c), and the page's few framing bytes */
#define REPLAY_BODY (2 * LIMIT_FEED_PAGE_BYTES)

static const struct route history_routes[] = {
    {"GET", "/api/v1/orders", orders_list_v1, ROUTE_USER, 0},
    {"GET", "/api/v1/orders/{id}", order_get_v1, ROUTE_USER, 0},
    {"GET", "/api/v2/orders", orders_list_v2, ROUTE_USER, 0},
    {"POST", "/api/v2/admin/history/rebuild", rebuild_begin, ROUTE_ADMIN, 0},
    {"GET", "/api/v2/admin/history/rebuild", rebuild_status, ROUTE_ADMIN, 0},
    {"DELETE", "/api/v2/admin/history/rebuild", rebuild_abort, ROUTE_ADMIN, 0},
    {"POST", "/api/v2/admin/history/replay", rebuild_replay, ROUTE_ADMIN, REPLAY_BODY},
    {"POST", "/api/v2/admin/history/swap", rebuild_swap, ROUTE_ADMIN, 0},
    {NULL},
};

/* A cached v1 page is answered on the I/O loop (loop.c, cache.c). */
static const struct server_loop_route history_loop_routes[] = {
    {orders_list_v1, orders_list_v1_loop},
    {NULL, NULL},
};

static const struct server_check history_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "history",
        .help = "souk-history: the query side of orders, one flat row per order kept from "
                "order events with its v1 and v2 JSON stored as rendered; my orders (v1, and "
                "v2 with a cursor and a status filter), read-your-writes, and the endpoints "
                "of a rebuild by replay of orders' retained events.",
        .argc = argc,
        .argv = argv,
        .vars = history_vars,
        .config = &history_cfg,
        .svc = &history_cfg.svc,
        .stmts = history_stmts,
        .consumers = history_consumers,
        .routes = history_routes,
        .checks = history_checks,
        .consumer_threads = &history_cfg.consumers,
        .loop_routes = history_loop_routes,
        .loop_new = loop_new,
        .loop_free = loop_free,
    });
}
