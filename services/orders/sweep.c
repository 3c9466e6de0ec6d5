/*
 * sweep.c - the deadline sweeper, a lib/sweep.h job (a thread of its own
 * with its own database handle, every SOUK_ORDERS_SWEEP_MS): it cancels the
 * orders still PENDING past their deadline (order.cancelled, reason
 * "deadline"), one transaction per order, through the same state machine as
 * the consumer, so a payment.succeeded committing at the same moment wins or
 * loses cleanly (the row lock decides; the loser finds a terminal state and
 * changes nothing). Inventory and payments give back what they hold on the
 * event; checkouts waiting for the order wake.
 */
#include "log.h"
#include "orders.h"

#define SWEEP_BATCH 100 /* orders per round; *more asks for the next at once */

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

int
sweep_deadline(struct work *w, int *more)
{
    int64_t *ids;
    size_t   n, i;
    int      rc;

    rc = store_overdue(w, SWEEP_BATCH, &ids, &n);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        rc = cancel(w, ids[i]);
        if (rc)
            return rc;
    }
    *more = n == SWEEP_BATCH;
    return ERR_OK;
}
