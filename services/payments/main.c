/*
 * main.c - souk-payments: configuration, the route table and wiring.
 * The saga's reactions are in events.c (consumed and relayed by lib/mq.c,
 * on SOUK_PAYMENTS_CONSUMERS threads), the state machine in payments.c, SQL
 * in store.c, the simulated provider in provider_sim.c, the HTTP view in
 * api.c; lib/service.c starts it all.
 */
#include <string.h>

#include "log.h"
#include "payments.h"

#define CFG struct payments_config
static const struct cfg_var payments_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7108"),
    CFG_STR_ROW("SOUK_PAYMENTS_DB", CFG, svc.db,
                "postgresql://payments:souk-dev@127.0.0.1:55432/payments",
                "PostgreSQL database of payments (payments, the simulated provider's ledger, "
                "outbox, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    CFG_INT_ROW("SOUK_PAYMENTS_CONSUMERS", CFG, consumers, "8", 1, 64,
                "consumer threads: charges handled at once (each waits on the provider)"),
    CFG_INT_ROW("SOUK_PAYMENTS_RETRY_LIMIT", CFG, retry_limit, "5", 1, 20,
                "tries of an unavailable provider before payment.failed (unavailable)"),
    CFG_INT_ROW("SOUK_PAYMENTS_RETRY_BASE_MS", CFG, retry_base_ms, "250", 1, 10000,
                "wait after the first unanswered try, doubled per try"),
    CFG_INT_ROW("SOUK_PAYMENTS_RETRY_MAX_MS", CFG, retry_max_ms, "2000", 1, 10000,
                "longest wait between two tries"),
    CFG_INT_ROW("SOUK_PAYMENTS_PROVIDER_LATENCY_MS", CFG, latency_ms, "0", 0, 10000,
                "the simulated provider sleeps this long before each operation"),
    CFG_STR_ROW("SOUK_PAYMENTS_FAULT", CFG, fault, "",
                "TESTS ONLY: crash-after-provider kills the process (SIGKILL) after the "
                "provider answered and before payments commits"),
    {NULL},
};
#undef CFG

/* The longest an order may wait for its payment's outcome is the orders
 * service's deadline (SOUK_ORDERS_DEADLINE_S, 30 s by default); the saga's
 * timing (contracts/events.md) wants payments to give up well before. */
#define RETRY_BUDGET_MS 10000

static const struct route payments_routes[] = {
    {"GET", "/api/v2/payments/{order_id}", payment_get, ROUTE_USER, 0},
    /* its dead letters, for the control room (lib/service_dlq.c) */
    {"GET", "/api/v2/admin/dlq/payments", service_dlq_list, ROUTE_ADMIN, 0},
    {"POST", "/api/v2/admin/dlq/payments/replay", service_dlq_replay, ROUTE_ADMIN,
     SERVICE_DLQ_BODY},
    {NULL},
};

static const struct server_check payments_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

struct payments_config payments_cfg;

const struct provider_ops *const payments_provider = &provider_sim;

static int
payments_setup(void)
{
    const struct payments_config *c = &payments_cfg;
    int64_t                       total;

    if (c->fault[0] != '\0' && strcmp(c->fault, "crash-after-provider") != 0) {
        log_error("SOUK_PAYMENTS_FAULT must be empty or crash-after-provider (tests only)");
        return ERR_INVALID;
    }
    if (c->fault[0] != '\0')
        log_warn("SOUK_PAYMENTS_FAULT=%s: this process will kill itself (tests only)", c->fault);
    total =
        payment_retry_total_ms(c->retry_limit, c->retry_base_ms, c->retry_max_ms, c->latency_ms);
    if (total > RETRY_BUDGET_MS)
        log_warn("an unavailable provider may hold an order for %lld ms (SOUK_PAYMENTS_RETRY_*), "
                 "more than the %d ms the saga allows before the order's deadline",
                 (long long)total, RETRY_BUDGET_MS);
    events_setup();
    return ERR_OK;
}

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "payments",
        .help = "souk-payments: the order saga's payments: authorises an order's amount on "
                "inventory.reserved through a provider adapter (a simulated provider with its "
                "own ledger), captures on order.confirmed, voids or refunds on "
                "order.cancelled, never charging twice; GET /api/v2/payments/{order_id}.",
        .argc = argc,
        .argv = argv,
        .vars = payments_vars,
        .config = &payments_cfg,
        .svc = &payments_cfg.svc,
        .stmts = payments_stmts,
        .publishes = 1,
        .consumers = payments_consumers,
        .routes = payments_routes,
        .checks = payments_checks,
        .setup = payments_setup,
        .thread_new = payments_thread_new,
        .thread_free = payments_thread_free,
        .consumer_threads = &payments_cfg.consumers,
    });
}
