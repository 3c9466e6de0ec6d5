/*
 * sweep.c - the deadline sweeper: a thread of its own with its own database
 * connection that, every SOUK_ORDERS_SWEEP_MS, cancels the orders still
 * PENDING past their deadline (order.cancelled, reason "deadline"), one
 * transaction per order, through the same state machine as the consumer, so
 * a payment.succeeded committing at the same moment wins or loses cleanly
 * (the row lock decides, the loser finds a terminal state and changes
 * nothing). Inventory and payments give back what they hold on the event.
 */
#include <pthread.h>
#include <time.h>

#include "log.h"
#include "orders.h"

#define SWEEP_BATCH 100 /* orders per round; the next round takes the rest */

static int
cancel(struct work *w, int64_t id)
{
    int rc;

    w->trace_id = NULL; /* events_order_move takes the order's own */
    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = events_order_move(w, id, ORDER_EV_DEADLINE, "deadline", NULL);
    if (rc == ERR_OK)
        rc = db_commit(w->db);
    if (rc)
        db_rollback(w->db);
    if (rc == ERR_OK) {
        log_info("orders: order %lld cancelled: past its deadline", (long long)id);
        wait_wake(id);
    }
    return rc == ERR_ORDER_STATE ? ERR_OK : rc;
}

static void
round_run(struct work *w)
{
    int64_t *ids;
    size_t   n, i;

    if (store_overdue(w, SWEEP_BATCH, &ids, &n))
        return; /* database down: logged by db.c, the next round retries */
    for (i = 0; i < n; i++)
        if (cancel(w, ids[i]))
            return;
}

static void *
sweeper(void *arg)
{
    struct work     w = {0};
    struct timespec ts;

    (void)arg;
    w.db = db_new(orders_cfg.svc.db, NULL);
    w.arena = arena_create();
    if (w.db == NULL || w.arena == NULL) {
        log_error("orders: the deadline sweeper cannot start: out of memory");
        return NULL;
    }
    ts.tv_sec = orders_cfg.sweep_ms / 1000;
    ts.tv_nsec = (orders_cfg.sweep_ms % 1000) * 1000000;
    for (;;) {
        nanosleep(&ts, NULL);
        round_run(&w);
        arena_reset(w.arena);
    }
    return NULL;
}

int
sweep_deadline_start(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, sweeper, NULL) != 0) {
        log_error("orders: cannot start the deadline sweeper thread");
        return ERR_INTERNAL;
    }
    pthread_detach(t);
    return ERR_OK;
}
