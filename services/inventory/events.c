/*
 * events.c - what inventory hears and says on souk.events, and the hold
 * sweeper. In: the saga's order.created (reserve every line or none),
 * payment.succeeded and order.confirmed (the hold becomes a sale),
 * payment.failed and order.cancelled (release, or give a sale back); the
 * catalog's product events keep the set of known products. Out, through the
 * outbox in the same transaction: inventory.reserved / rejected / sold /
 * released, and inventory.stock_changed for every product whose stock moved.
 * The holds' state machine (inventory.c) makes duplicates, late and
 * reordered events harmless; the inbox drops exact redeliveries before that.
 */
#include <string.h>

#include "inventory.h"
#include "log.h"
#include "metrics.h"
#include "sweep.h"

static int on_order_created(struct mq_msg *m);
static int on_payment_succeeded(struct mq_msg *m);
static int on_order_confirmed(struct mq_msg *m);
static int on_payment_failed(struct mq_msg *m);
static int on_order_cancelled(struct mq_msg *m);
static int on_product(struct mq_msg *m);
static int sweep_holds(struct work *w, int *more);

const struct mq_consumer inventory_consumers[] = {
    {EVENT_ORDER_CREATED, on_order_created},     {EVENT_PAYMENT_SUCCEEDED, on_payment_succeeded},
    {EVENT_ORDER_CONFIRMED, on_order_confirmed}, {EVENT_PAYMENT_FAILED, on_payment_failed},
    {EVENT_ORDER_CANCELLED, on_order_cancelled}, {EVENT_PRODUCT_CREATED, on_product},
    {EVENT_PRODUCT_UPDATED, on_product},         {EVENT_PRODUCT_PRICE_CHANGED, on_product},
    {EVENT_PRODUCT_DELETED, on_product},         {EVENT__COUNT, NULL},
};

/* every_ms comes from SOUK_INVENTORY_SWEEP_MS (main.c's setup, before the start). */
struct sweep_spec inventory_sweeps[] = {
    {"hold sweeper", sweep_holds, 1000, NULL},
    {NULL, NULL, 0, NULL},
};

/* Committed transitions by the state they reached (an ignored event counts
 * in souk_events_consumed_total only). */
#define RESERVATIONS(state)                                                                        \
    {                                                                                              \
        .name = "souk_inventory_reservations_total",                                               \
        .help = "Reservations that reached a state (committed).", .kind = METRIC_COUNTER,          \
        .labels = "state=\"" state "\""                                                            \
    }
/* One per state of the table (NONE is never reached, so not registered). */
static struct metric reached[HOLD__COUNT] = {
#define X(name, text, reason) [HOLD_##name] = RESERVATIONS(#name),
    HOLD_STATES(X)
#undef X
};
static struct metric expired = {.name = "souk_inventory_holds_expired_total",
                                .help = "Holds the sweeper released past their hold_until.",
                                .kind = METRIC_COUNTER};

void
events_setup(void)
{
    int i;

    for (i = HOLD_NONE + 1; i < HOLD__COUNT; i++)
        metrics_register(&reached[i]);
    metrics_register(&expired);
}

/* ---- payloads ------------------------------------------------------------------ */

static json_t *
lines_encode(const struct hold_line *lines, size_t n)
{
    json_t *a = json_array();
    size_t  i;

    for (i = 0; i < n; i++)
        json_array_append_new(a,
                              json_pack("{s:I,s:I}", "product_id", (json_int_t)lines[i].product_id,
                                        "quantity", (json_int_t)lines[i].quantity));
    return a;
}

int
events_stock_changed(struct work *w, const struct stock_level *l)
{
    return mq_outbox_put(w, EVENT_INVENTORY_STOCK_CHANGED, l->product_id,
                         json_pack("{s:I,s:I,s:I,s:I,s:I}", "product_id", (json_int_t)l->product_id,
                                   "available", (json_int_t)(l->on_hand - l->reserved), "on_hand",
                                   (json_int_t)l->on_hand, "reserved", (json_int_t)l->reserved,
                                   "version", (json_int_t)l->version));
}

typedef int emit_fn(struct work *w, int64_t order_id, const struct order_in *in,
                    const struct hold_result *res);

static int
emit_reserved(struct work *w, int64_t order_id, const struct order_in *in,
              const struct hold_result *res)
{
    return mq_outbox_put(
        w, EVENT_INVENTORY_RESERVED, order_id,
        json_pack("{s:I,s:I,s:o,s:{s:I,s:s},s:{s:s,s:s},s:s}", "order_id", (json_int_t)order_id,
                  "user_id", (json_int_t)in->user_id, "lines", lines_encode(res->lines, res->n),
                  "amount", "amount", (json_int_t)in->amount, "currency", in->currency, "card",
                  "token", in->card_token, "last4", in->card_last4, "hold_until", res->hold_until));
}

static int
emit_rejected(struct work *w, int64_t order_id, const struct order_in *in,
              const struct hold_result *res)
{
    json_t *a = json_array();
    size_t  i;

    (void)in;
    for (i = 0; i < res->nshort; i++)
        json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "product_id",
                                           (json_int_t)res->shortages[i].product_id, "requested",
                                           (json_int_t)res->shortages[i].requested, "available",
                                           (json_int_t)res->shortages[i].available));
    return mq_outbox_put(w, EVENT_INVENTORY_REJECTED, order_id,
                         json_pack("{s:I,s:o}", "order_id", (json_int_t)order_id, "shortages", a));
}

static int
emit_sold(struct work *w, int64_t order_id, const struct order_in *in,
          const struct hold_result *res)
{
    (void)in;
    return mq_outbox_put(w, EVENT_INVENTORY_SOLD, order_id,
                         json_pack("{s:I,s:o}", "order_id", (json_int_t)order_id, "lines",
                                   lines_encode(res->lines, res->n)));
}

/* Only units that moved are news: nothing for a tombstone (an order
 * cancelled before inventory saw it) or for closing an expired hold. */
static int
emit_released(struct work *w, int64_t order_id, const struct order_in *in,
              const struct hold_result *res)
{
    (void)in;
    if (res->n == 0 || res->act == ACT_NONE)
        return ERR_OK;
    return mq_outbox_put(w, EVENT_INVENTORY_RELEASED, order_id,
                         json_pack("{s:I,s:o,s:s}", "order_id", (json_int_t)order_id, "lines",
                                   lines_encode(res->lines, res->n), "reason", res->reason));
}

static emit_fn *const emits[HOLD__COUNT] = {
    [HOLD_HELD] = emit_reserved,     [HOLD_REJECTED] = emit_rejected, [HOLD_SOLD] = emit_sold,
    [HOLD_RELEASED] = emit_released, [HOLD_EXPIRED] = emit_released,
};

/* Apply on to order_id inside the transaction open on w->db and write what
 * it says: the reservation's event and a stock_changed per product moved. */
static int
hold_apply(struct work *w, int64_t order_id, enum hold_event on, const struct order_in *in,
           struct hold_result *res)
{
    size_t i;
    int    rc;

    rc = store_hold_apply(w, order_id, on, in, inventory_cfg.hold_s, res);
    if (rc || !res->applied)
        return rc;
    rc = emits[res->to](w, order_id, in, res);
    for (i = 0; rc == ERR_OK && i < res->nlevels; i++)
        rc = events_stock_changed(w, &res->levels[i]);
    return rc;
}

/* After the commit (lib/mq.h after_commit): count the state reached. */
static void
counted(struct mq_msg *m, void *arg)
{
    (void)m;
    metrics_add(&reached[*(const enum hold_state *)arg], 1);
}

static int
applied_log(struct mq_msg *m, int64_t order_id, int rc, const struct hold_result *res)
{
    enum hold_state *to;

    if (rc)
        return rc;
    if (!res->applied && res->nshort > 0) /* never oversold: the sale is refused */
        log_error("inventory: %s order %lld: paid after its hold expired, but %zu of its "
                  "lines are no longer available: not sold",
                  event_key(m->ev->type), (long long)order_id, res->nshort);
    if (res->applied) {
        to = arena_new(m->work.arena, enum hold_state);
        *to = res->to;
        m->after_commit = counted;
        m->after_commit_arg = to;
    }
    log_debug("inventory: %s order %lld: %s -> %s%s", event_key(m->ev->type), (long long)order_id,
              hold_state_label(res->from), hold_state_label(res->applied ? res->to : res->from),
              res->applied ? "" : " (ignored)");
    return ERR_OK;
}

/* ---- the saga ------------------------------------------------------------------ */

/* One line of order.created {"product_id","quantity","unit_price"}. */
static int
line_decode(struct mq_msg *m, json_t *j, struct hold_line *out)
{
    json_int_t product = 0, quantity = 0;

    if (json_unpack(j, "{s:I,s:I}", "product_id", &product, "quantity", &quantity) != 0 ||
        product < 1 || quantity < 1 || quantity > HOLD_QUANTITY)
        return mq_msg_bad(m, "payload.lines[] need a product_id >= 1 and a quantity 1..1000000");
    out->product_id = product;
    out->quantity = quantity;
    return ERR_OK;
}

/* order.created: {"order_id","user_id","lines","total","card",...}. */
static int
order_decode(struct mq_msg *m, struct order_in *o)
{
    json_t    *lines = NULL;
    json_int_t order = 0, user = 0, amount = 0;
    size_t     i;
    int        rc;

    memset(o, 0, sizeof(*o));
    if (json_unpack(m->ev->payload, "{s:I,s:I,s:o,s:{s:I,s:s},s:{s:s,s:s}}", "order_id", &order,
                    "user_id", &user, "lines", &lines, "total", "amount", &amount, "currency",
                    &o->currency, "card", "token", &o->card_token, "last4", &o->card_last4) != 0)
        return mq_msg_bad(m, "payload needs order_id, user_id, lines, total and card");
    if (order < 1 || user < 1 || order != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id must be the aggregate_id, user_id positive");
    if (!json_is_array(lines) || json_array_size(lines) < 1 ||
        json_array_size(lines) > HOLD_LINES_MAX)
        return mq_msg_bad(m, "payload.lines must hold 1..100 lines");
    o->order_id = order;
    o->user_id = user;
    o->amount = amount;
    o->n = json_array_size(lines);
    o->lines = arena_array(m->work.arena, struct hold_line, o->n);
    for (i = 0; i < o->n; i++) {
        rc = line_decode(m, json_array_get(lines, i), &o->lines[i]);
        if (rc)
            return rc;
    }
    if (hold_lines_normalize(o->lines, &o->n) != ERR_OK)
        return mq_msg_bad(m, "payload.lines: a product's quantity passes 1000000");
    return ERR_OK;
}

static int
on_order_created(struct mq_msg *m)
{
    struct hold_result res;
    struct order_in    o;
    int                rc;

    rc = order_decode(m, &o);
    if (rc)
        return rc;
    rc = hold_apply(&m->work, o.order_id, ON_ORDER_CREATED, &o, &res);
    return applied_log(m, o.order_id, rc, &res);
}

/* Every other saga event names its order in aggregate_id and payload.order_id. */
static int
order_event(struct mq_msg *m, enum hold_event on)
{
    struct hold_result res;
    int64_t            id;
    int                rc;

    rc = mq_msg_positive(m, m->ev->payload, "order_id", &id);
    if (rc)
        return rc;
    if (id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id differs from aggregate_id");
    rc = hold_apply(&m->work, id, on, NULL, &res);
    return applied_log(m, id, rc, &res);
}

static int
on_payment_succeeded(struct mq_msg *m)
{
    return order_event(m, ON_PAYMENT_SUCCEEDED);
}

static int
on_order_confirmed(struct mq_msg *m)
{
    return order_event(m, ON_ORDER_CONFIRMED);
}

static int
on_payment_failed(struct mq_msg *m)
{
    return order_event(m, ON_PAYMENT_FAILED);
}

static int
on_order_cancelled(struct mq_msg *m)
{
    return order_event(m, ON_ORDER_CANCELLED);
}

/* ---- the product replica ------------------------------------------------------- */

/* product.created, .updated, .price_changed and .deleted: only the version
 * and whether the product still exists matter here (a delete leaves a
 * tombstone). */
static int
on_product(struct mq_msg *m)
{
    return mq_msg_product_exists(m, "inventory", store_product_apply);
}

/* ---- the hold sweeper ---------------------------------------------------------- */

/* Release holds past hold_until (reason hold-expired), each order in a
 * transaction of its own. Several sweepers (instances) may pick the same
 * order: the order's lock and its state make the second a no-op. */
static int
sweep_holds(struct work *w, int *more)
{
    struct hold_result res;
    int64_t           *ids;
    size_t             i, n, released = 0;
    int                rc;

    rc = store_holds_expired(w, SWEEP_BATCH, &ids, &n);
    if (rc) {
        log_warn("hold sweeper: cannot list expired holds: %s", err_name(rc));
        return rc;
    }
    for (i = 0; i < n; i++) {
        rc = db_begin(w->db);
        if (rc)
            return rc;
        rc = hold_apply(w, ids[i], ON_HOLD_EXPIRED, NULL, &res);
        if (rc == ERR_OK)
            rc = db_commit(w->db);
        if (rc) {
            db_rollback(w->db);
            log_warn("hold sweeper: order %lld: %s", (long long)ids[i], err_name(rc));
            return rc;
        }
        if (res.applied) {
            metrics_add(&reached[res.to], 1);
            metrics_add(&expired, 1);
            released++;
        }
    }
    if (released > 0)
        log_info("hold sweeper: released %zu expired holds", released);
    *more = n == SWEEP_BATCH;
    return ERR_OK;
}
