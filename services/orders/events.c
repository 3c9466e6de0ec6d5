/*
 * events.c - what orders hears and says on souk.events.
 * In: the saga's answers (inventory.rejected, payment.succeeded,
 * payment.failed) move an order through the state machine (orders.c); the
 * other saga events about an order only join its timeline. catalog's product
 * events keep the price replica and users' events the customer replica, each
 * applied only when newer, so duplicates and reordering are harmless (the
 * inbox drops exact redeliveries before that).
 * Out: order.created (in the checkout's transaction), order.confirmed,
 * order.rejected and order.cancelled (in the transaction of the move). Every
 * saga event in or out is recorded in the order's timeline; after a commit
 * that may have moved an order, the checkouts waiting for it wake (wait.c).
 */
#include <string.h>

#include "log.h"
#include "orders.h"

static int on_saga(struct mq_msg *m);
static int on_product_upsert(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);
static int on_user_registered(struct mq_msg *m);
static int on_address_changed(struct mq_msg *m);

const struct mq_consumer orders_consumers[] = {
    {EVENT_INVENTORY_RESERVED, on_saga},
    {EVENT_INVENTORY_REJECTED, on_saga},
    {EVENT_INVENTORY_RELEASED, on_saga},
    {EVENT_INVENTORY_SOLD, on_saga},
    {EVENT_PAYMENT_SUCCEEDED, on_saga},
    {EVENT_PAYMENT_FAILED, on_saga},
    {EVENT_PAYMENT_CAPTURED, on_saga},
    {EVENT_PAYMENT_REFUNDED, on_saga},
    {EVENT_PRODUCT_CREATED, on_product_upsert},
    {EVENT_PRODUCT_UPDATED, on_product_upsert},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_upsert},
    {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT_USER_REGISTERED, on_user_registered},
    {EVENT_USER_ADDRESS_CHANGED, on_address_changed},
    {EVENT__COUNT, NULL},
};

/* ---- out ---- */

static json_t *
money_json(const struct money *m)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)m->minor, "currency", m->currency);
}

static json_t *
lines_json(const struct order *o, int priced)
{
    json_t *a = json_array();
    size_t  i;

    for (i = 0; i < o->n; i++) {
        json_t *l = json_pack("{s:I,s:I}", "product_id", (json_int_t)o->lines[i].product_id,
                              "quantity", (json_int_t)o->lines[i].quantity);

        if (priced) { /* with the name, so history shows the line without a catalog */
            json_object_set_new(l, "unit_price", money_json(&o->lines[i].unit));
            json_object_set_new(l, "name", json_string(o->lines[i].name ? o->lines[i].name : ""));
        }
        json_array_append_new(a, l);
    }
    return a;
}

int
events_order_created(struct work *w, const struct order *o, const struct checkout *c)
{
    const struct address *s = &o->ship;

    return mq_outbox_put(w, EVENT_ORDER_CREATED, o->id,
                         json_pack("{s:I,s:I,s:o,s:o,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s}",
                                   "order_id", (json_int_t)o->id, "user_id", (json_int_t)o->user_id,
                                   "lines", lines_json(o, 1), "total", money_json(&o->total),
                                   "card", "token", c->token, "last4", c->last4, "ship_to", "line1",
                                   s->line1, "line2", s->line2, "city", s->city, "postal_code",
                                   s->postal_code, "country", s->country, "deadline", o->deadline,
                                   "created_at", o->created_at));
}

static const struct {
    enum order_state state;
    enum event_type  type;
} emitted[] = {
    {ORDER_STATE_CONFIRMED, EVENT_ORDER_CONFIRMED},
    {ORDER_STATE_REJECTED, EVENT_ORDER_REJECTED},
    {ORDER_STATE_CANCELLED, EVENT_ORDER_CANCELLED},
};

/* The payload of the event that announces o's new state. */
static json_t *
moved_payload(const struct order *o, const struct shortage *s)
{
    switch (o->state) {
    case ORDER_STATE_CONFIRMED:
        return json_pack("{s:I,s:I,s:o,s:o,s:s}", "order_id", (json_int_t)o->id, "user_id",
                         (json_int_t)o->user_id, "lines", lines_json(o, 0), "total",
                         money_json(&o->total), "at", o->updated_at);
    case ORDER_STATE_REJECTED:
        if (s->list != NULL) /* inventory's list as it came (checked by saga_move) */
            return json_pack("{s:I,s:I,s:O,s:s}", "order_id", (json_int_t)o->id, "user_id",
                             (json_int_t)o->user_id, "shortages", (json_t *)s->list, "at",
                             o->updated_at);
        return json_pack("{s:I,s:I,s:[{s:I,s:I,s:I}],s:s}", "order_id", (json_int_t)o->id,
                         "user_id", (json_int_t)o->user_id, "shortages", "product_id",
                         (json_int_t)s->product_id, "requested", (json_int_t)s->requested,
                         "available", (json_int_t)s->available, "at", o->updated_at);
    default:
        return json_pack("{s:I,s:I,s:s,s:s}", "order_id", (json_int_t)o->id, "user_id",
                         (json_int_t)o->user_id, "reason", o->reason, "at", o->updated_at);
    }
}

int
events_order_move(struct work *w, int64_t id, enum order_event ev, const char *reason,
                  const struct shortage *s)
{
    struct order *o;
    size_t        i;
    int           rc;

    rc = store_order_move(w, id, ev, reason, s, &o);
    if (rc)
        return rc;
    if (w->trace_id == NULL || w->trace_id[0] == '\0')
        w->trace_id = o->trace_id; /* the sweeper: the saga's own trace */
    for (i = 0; i < sizeof(emitted) / sizeof(emitted[0]); i++)
        if (emitted[i].state == o->state) {
            /* The outbox row last: its insert takes the outbox lock, held to the commit. */
            rc = store_saga_record(w, id, "out", event_key(emitted[i].type), "orders", NULL,
                                   reason ? reason : "");
            if (rc)
                return rc;
            return mq_outbox_put(w, emitted[i].type, id, moved_payload(o, s));
        }
    return ERR_OK;
}

/* ---- in: the saga ---- */

static void
woken(struct mq_msg *m, void *arg)
{
    (void)m;
    wait_wake(*(int64_t *)arg);
}

/* The service that emits an event type: its routing key's first word. */
static const char *
emitter(enum event_type t)
{
    const char *k = event_key(t);

    return strncmp(k, "payment.", 8) == 0      ? "payments"
           : strncmp(k, "inventory.", 10) == 0 ? "inventory"
                                               : "orders";
}

/* What a saga event asks of the order: the move, its reason and shortage.
 * ERR_NOT_FOUND for events that only join the timeline. */
static int
saga_move(struct mq_msg *m, enum order_event *ev, const char **reason, struct shortage *s)
{
    json_t     *p = m->ev->payload, *sh, *why;
    const char *z;
    int         rc;

    switch (m->ev->type) {
    case EVENT_PAYMENT_SUCCEEDED:
        *ev = ORDER_EV_PAYMENT_SUCCEEDED;
        return ERR_OK;
    case EVENT_PAYMENT_FAILED:
        why = json_object_get(p, "reason");
        z = json_string_value(why);
        if (z == NULL || (strcmp(z, "declined") != 0 && strcmp(z, "unavailable") != 0))
            return mq_msg_bad(m, "payload.reason must be declined or unavailable");
        *ev = ORDER_EV_PAYMENT_FAILED;
        *reason = strcmp(z, "declined") == 0 ? "payment-declined" : "payment-unavailable";
        return ERR_OK;
    case EVENT_INVENTORY_REJECTED:
        s->list = json_object_get(p, "shortages");
        sh = json_array_get(s->list, 0);
        if (!json_is_object(sh))
            return mq_msg_bad(m, "payload.shortages must be a non-empty array");
        rc = mq_msg_positive(m, sh, "product_id", &s->product_id);
        if (rc == ERR_OK)
            rc = mq_msg_positive(m, sh, "requested", &s->requested);
        if (rc)
            return rc;
        if (!json_is_integer(json_object_get(sh, "available")) ||
            json_integer_value(json_object_get(sh, "available")) < 0)
            return mq_msg_bad(m, "payload.shortages[0].available must be an integer >= 0");
        s->available = json_integer_value(json_object_get(sh, "available"));
        *ev = ORDER_EV_INVENTORY_REJECTED;
        *reason = "out-of-stock";
        return ERR_OK;
    default:
        return ERR_NOT_FOUND;
    }
}

static int
on_saga(struct mq_msg *m)
{
    struct shortage  s = {0};
    enum order_event ev = ORDER_EV__COUNT;
    const char      *reason = NULL;
    int64_t         *id = arena_new(m->work.arena, int64_t);
    int              rc, moved;

    rc = mq_msg_positive(m, m->ev->payload, "order_id", id);
    if (rc)
        return rc;
    if (*id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id differs from aggregate_id");
    rc = saga_move(m, &ev, &reason, &s);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND)
        return rc;
    /* Recorded first, so the timeline reads cause before effect. */
    moved = rc == ERR_OK;
    rc = store_saga_record(&m->work, *id, "in", event_key(m->ev->type), emitter(m->ev->type),
                           m->ev->id, "");
    if (rc || !moved)
        return rc; /* or an event that only joins the timeline */
    rc = events_order_move(&m->work, *id, ev, reason, &s);
    log_debug("orders: %s order %lld %s", event_key(m->ev->type), (long long)*id,
              rc == ERR_OK ? "applied" : "ignored");
    if (rc == ERR_ORDER_STATE)
        return store_saga_ignored(&m->work, *id, m->ev->id);
    if (rc)
        return rc;
    m->after_commit = woken;
    m->after_commit_arg = id;
    return ERR_OK;
}

/* ---- in: the replicas ---- */

/* product.created, .updated, .price_changed: {"version", "product": DOC}. */
static int
on_product_upsert(struct mq_msg *m)
{
    json_t      *doc, *price;
    const char  *name, *cur;
    struct money p = {0};
    int64_t      version, id = m->ev->aggregate_id;
    int          rc, applied;

    rc = mq_msg_product(m, &version, &doc);
    if (rc)
        return rc;
    price = json_object_get(doc, "price");
    name = json_string_value(json_object_get(doc, "name"));
    cur = json_string_value(json_object_get(price, "currency"));
    if (name == NULL || strlen(name) != json_string_length(json_object_get(doc, "name")))
        return mq_msg_bad(m, "payload.product.name must be a string");
    if (!json_is_integer(json_object_get(price, "amount")) || cur == NULL || strlen(cur) != 3 ||
        json_integer_value(json_object_get(price, "amount")) < 0)
        return mq_msg_bad(m, "payload.product.price must be money");
    p.minor = json_integer_value(json_object_get(price, "amount"));
    memcpy(p.currency, cur, 4);
    rc = store_product_apply(&m->work, id, version, 0, name, &p, &applied);
    if (rc == ERR_OK)
        log_debug("orders: %s product %lld v%lld %s", event_key(m->ev->type), (long long)id,
                  (long long)version, applied ? "applied" : "stale");
    return rc;
}

/* product.deleted: {"version", "product_id"}; leaves a tombstone. */
static int
on_product_deleted(struct mq_msg *m)
{
    json_t *doc;
    int64_t version;
    int     rc, applied;

    rc = mq_msg_product(m, &version, &doc);
    if (rc)
        return rc;
    return store_product_apply(&m->work, m->ev->aggregate_id, version, 1, NULL, NULL, &applied);
}

/* user.registered: the account exists (checkout's "account not found"). */
static int
on_user_registered(struct mq_msg *m)
{
    int64_t id;
    int     rc;

    rc = mq_msg_positive(m, m->ev->payload, "user_id", &id);
    if (rc)
        return rc;
    return store_customer_known(&m->work, id);
}

static int
address_field(struct mq_msg *m, json_t *a, const char *name, const char **out)
{
    json_t *v = json_object_get(a, name);

    *out = json_string_value(v);
    if (*out == NULL || strlen(*out) != json_string_length(v))
        return mq_msg_bad(m, "payload.address members must be strings");
    return ERR_OK;
}

/* user.address_changed: {"user_id", "address", "version"}. */
static int
on_address_changed(struct mq_msg *m)
{
    json_t        *a = json_object_get(m->ev->payload, "address");
    struct address ad;
    int64_t        id, version;
    int            rc, applied;

    rc = mq_msg_positive(m, m->ev->payload, "user_id", &id);
    if (rc == ERR_OK)
        rc = mq_msg_positive(m, m->ev->payload, "version", &version);
    if (rc == ERR_OK)
        rc = address_field(m, a, "line1", &ad.line1);
    if (rc == ERR_OK)
        rc = address_field(m, a, "line2", &ad.line2);
    if (rc == ERR_OK)
        rc = address_field(m, a, "city", &ad.city);
    if (rc == ERR_OK)
        rc = address_field(m, a, "postal_code", &ad.postal_code);
    if (rc == ERR_OK)
        rc = address_field(m, a, "country", &ad.country);
    if (rc)
        return rc;
    return store_address_apply(&m->work, id, version, &ad, &applied);
}
