/*
 * events.c - what the cart hears on souk.events (it says nothing).
 * product.updated and product.price_changed bring the product's name and
 * price into every cart line holding it (GET then shows "price_changed"
 * when the price differs from the one at add time); product.deleted marks
 * those lines "unavailable". Each carries the product's version and a line
 * keeps the version it shows, so duplicates and reordering are harmless.
 * order.confirmed takes the ordered quantities out of the user's cart (the
 * checkout's lines; what was added again since stays), once per order.
 *
 * The inbox row (PostgreSQL) and the Redis writes are not one transaction:
 * if the commit fails after Redis was written, the event comes again and
 * finds every line already at its version. That is why product handlers
 * only ever move a line forward to a version, never add or subtract; the
 * one that subtracts (order.confirmed) leaves a marker per order in the
 * same Redis transaction and does nothing when it finds it.
 */
#include <stdio.h>
#include <string.h>

#include "cart.h"
#include "db.h"
#include "kv.h"
#include "log.h"

static int on_product_doc(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);
static int on_order_confirmed(struct mq_msg *m);

const struct mq_consumer cart_consumers[] = {
    {EVENT_PRODUCT_UPDATED, on_product_doc},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_doc},
    {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT_ORDER_CONFIRMED, on_order_confirmed},
    {EVENT__COUNT, NULL},
};

static int
apply(struct mq_msg *m, const struct product_event *ev)
{
    size_t carts;
    int    rc;

    catalog_cache_evict(ev->id);
    rc = store_product_event(&m->work, ev, &carts);
    if (rc) {
        m->error = arena_printf(m->work.arena, "redis: %s", err_name(rc));
        return rc;
    }
    log_debug("cart: %s product %lld v%lld: %zu cart(s) changed", event_key(m->ev->type),
              (long long)ev->id, (long long)ev->version, carts);
    return ERR_OK;
}

/* {"version": N, "product": DOC}: DOC's id, name and price. */
static int
on_product_doc(struct mq_msg *m)
{
    struct product_event ev = {.id = m->ev->aggregate_id};
    json_t              *doc, *price, *name, *cur;
    int                  rc;

    rc = mq_msg_product(m, &ev.version, &doc);
    if (rc)
        return rc;
    name = json_object_get(doc, "name");
    price = json_object_get(doc, "price");
    cur = json_object_get(price, "currency");
    if (!json_is_string(name) || json_string_length(name) > CART_NAME_MAX ||
        strlen(json_string_value(name)) != json_string_length(name))
        return mq_msg_bad(m, "payload.product.name must be a string of at most 200 bytes");
    if (!json_is_integer(json_object_get(price, "amount")) || !json_is_string(cur) ||
        !cart_currency_valid(json_string_value(cur)))
        return mq_msg_bad(m, "payload.product.price must be {\"amount\", \"currency\"}");
    ev.price.minor = json_integer_value(json_object_get(price, "amount"));
    if (ev.price.minor < 0 || ev.price.minor > CART_PRICE_MAX)
        return mq_msg_bad(m, "payload.product.price.amount is out of range");
    memcpy(ev.price.currency, json_string_value(cur), 4);
    ev.name = json_string_value(name);
    return apply(m, &ev);
}

/* {"version": N, "product_id": ID} */
static int
on_product_deleted(struct mq_msg *m)
{
    struct product_event ev = {.id = m->ev->aggregate_id, .deleted = 1};
    json_t              *doc;
    int                  rc;

    rc = mq_msg_product(m, &ev.version, &doc);
    if (rc)
        return rc;
    return apply(m, &ev);
}

/* ---- publishing ----------------------------------------------------------------------- */

/* cart.changed {"user_id", "version", "items": [{"product_id", "quantity"}]}: the user's
 * whole cart in display order. Redis is written first (the change is what
 * the customer was told), then this row: the version is read together with
 * the state it describes, so whatever order the rows commit and arrive in,
 * the highest version carries the newest state, and a lost row (the
 * database failed after Redis) is repaired by the next change's event. */
int
cart_changed_publish(struct work *w, const struct cart_ref *ref, int in_txn)
{
    struct cart c;
    int64_t     version;
    json_t     *items, *payload;
    size_t      i;
    int         rc;

    if (ref->kind != CART_USER)
        return ERR_OK;
    rc = store_cart_version(w, ref, &version, &c);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < c.n; i++)
        json_array_append_new(items, json_pack("{s:I,s:I}", "product_id",
                                               (json_int_t)c.lines[i].product_id, "quantity",
                                               (json_int_t)c.lines[i].quantity));
    payload = json_pack("{s:I,s:I,s:o}", "user_id", (json_int_t)ref->user_id, "version",
                        (json_int_t)version, "items", items);
    if (payload == NULL)
        return ERR_INTERNAL;
    rc = in_txn ? ERR_OK : db_begin(w->db);
    if (rc == ERR_OK)
        rc = mq_outbox_put(w, EVENT_CART_CHANGED, ref->user_id, payload); /* takes payload */
    else
        json_decref(payload);
    if (!in_txn && rc != ERR_OK)
        db_rollback(w->db);
    else if (!in_txn)
        rc = db_commit(w->db);
    if (rc)
        log_error("cart: cart.changed of user %lld version %lld not written (%s); the next "
                  "change carries the whole cart",
                  (long long)ref->user_id, (long long)version, err_name(rc));
    return rc;
}

/* {"order_id", "user_id", "lines": [{"product_id", "quantity"}], ...}:
 * an order is made of one cart, so it has at most MAX_CART_LINES lines. */
static int
on_order_confirmed(struct mq_msg *m)
{
    json_t            *lines = json_object_get(m->ev->payload, "lines");
    struct order_line *o;
    struct cart_ref    ref;
    int64_t            order_id, user_id;
    size_t             i, n, changed;
    int                rc;

    rc = mq_msg_positive(m, m->ev->payload, "order_id", &order_id);
    if (rc == ERR_OK)
        rc = mq_msg_positive(m, m->ev->payload, "user_id", &user_id);
    if (rc)
        return rc;
    if (order_id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id differs from aggregate_id");
    n = json_array_size(lines);
    if (!json_is_array(lines) || n == 0 || n > MAX_CART_LINES)
        return mq_msg_bad(m, "payload.lines must be an array of 1 to 100 lines");
    o = arena_array(m->work.arena, struct order_line, n);
    for (i = 0; i < n; i++) {
        rc = mq_msg_positive(m, json_array_get(lines, i), "product_id", &o[i].product_id);
        if (rc == ERR_OK)
            rc = mq_msg_positive(m, json_array_get(lines, i), "quantity", &o[i].quantity);
        if (rc)
            return rc;
        if (o[i].quantity > MAX_QTY)
            return mq_msg_bad(m, "payload.lines[].quantity must be at most 99");
    }
    cart_ref_user(&ref, user_id, &cart_cfg.ttl);
    rc = store_order_confirmed(&m->work, &ref, order_id, o, n, &changed);
    /* Also on a redelivery that changed nothing: the state is whole and
     * versioned, so one more cart.changed is harmless. */
    if (rc == ERR_OK)
        rc = cart_changed_publish(&m->work, &ref, 1);
    if (rc) {
        m->error = arena_printf(m->work.arena, "redis: %s", err_name(rc));
        return rc;
    }
    log_debug("cart: order %lld of user %lld: %zu line(s) changed", (long long)order_id,
              (long long)user_id, changed);
    return ERR_OK;
}
