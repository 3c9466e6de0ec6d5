/*
 * store_orders.c - SQL for checkout, orders and the sales report.
 * Checkout is the legacy shop's one big transaction: claim the idempotency
 * key, lock the cart and the stock rows, decrement stock, write the order
 * and its lines, charge the card, clear the cart - all or nothing.
 */
#include <string.h>
#include <time.h>

#include "card.h"
#include "mdb.h"
#include "monolith.h"

#define DB(r)             ((struct mdb *)(r)->worker)
#define TS(col)           "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
#define CHECKOUT_ATTEMPTS 4 /* deadlock retries */

static const char SQL_IDEM_FIND[] =
    "SELECT id, request_hash FROM orders WHERE user_id = ? AND idempotency_key = ?";
static const char SQL_ORDER_CLAIM[] =
    "INSERT INTO orders (user_id, status, total_minor, currency, idempotency_key, request_hash)"
    " VALUES (?, 'PENDING', 0, 'EUR', ?, ?)";
static const char SQL_CART_LOCK[] =
    "SELECT ci.product_id, p.name, ci.quantity, p.price_minor, p.currency, c.id"
    " FROM carts c JOIN cart_items ci ON ci.cart_id = c.id"
    " JOIN products p ON p.id = ci.product_id"
    " WHERE c.user_id = ? ORDER BY ci.product_id FOR UPDATE";
static const char SQL_ADDRESS[] =
    "SELECT line1, line2, city, postal_code, country FROM addresses WHERE user_id = ?";
/* Stock rows are locked in product-id order so concurrent checkouts of
 * overlapping carts cannot deadlock on each other. */
static const char SQL_STOCK_LOCK[] = "SELECT stock FROM inventory WHERE product_id = ? FOR UPDATE";
static const char SQL_STOCK_TAKE[] =
    "UPDATE inventory SET stock = stock - ? WHERE product_id = ? AND stock >= ?";
static const char SQL_ITEM_INSERT[] =
    "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, currency)"
    " VALUES (?, ?, ?, ?, ?)";
static const char SQL_PAYMENT_INSERT[] =
    "INSERT INTO payments (order_id, amount_minor, currency, status, provider_ref, card_last4)"
    " VALUES (?, ?, ?, 'APPROVED', ?, ?)";
static const char SQL_ORDER_CONFIRM[] =
    "UPDATE orders SET status = 'CONFIRMED', total_minor = ?, currency = ?, ship_line1 = ?,"
    " ship_line2 = ?, ship_city = ?, ship_postal_code = ?, ship_country = ? WHERE id = ?";
static const char SQL_CART_CLEAR[] = "DELETE FROM cart_items WHERE cart_id = ?";

/* One row per order line, joined with products and payments: the legacy
 * "my orders" query that the history read model replaces. */
#define ORDER_SELECT                                                                               \
    "SELECT o.id, o.user_id, o.status, o.total_minor, o.currency, " TS(                            \
        "o.created_at") ","                                                                        \
                        " o.ship_line1, o.ship_line2, o.ship_city, o.ship_postal_code, "           \
                        "o.ship_country,"                                                          \
                        " pay.status, pay.card_last4, oi.product_id, p.name, oi.quantity, "        \
                        "oi.unit_price_minor,"                                                     \
                        " oi.currency"
static const char SQL_ORDER_ONE[] = ORDER_SELECT
    " FROM orders o LEFT JOIN order_items oi ON oi.order_id = o.id"
    " LEFT JOIN products p ON p.id = oi.product_id LEFT JOIN payments pay ON pay.order_id = o.id"
    " WHERE o.id = ? ORDER BY oi.product_id";
static const char SQL_ORDER_COUNT[] = "SELECT COUNT(*) FROM orders WHERE user_id = ?";
static const char SQL_ORDER_PAGE[] = ORDER_SELECT
    " FROM (SELECT id FROM orders WHERE user_id = ?"
    "       ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?) pg"
    " JOIN orders o ON o.id = pg.id LEFT JOIN order_items oi ON oi.order_id = o.id"
    " LEFT JOIN products p ON p.id = oi.product_id LEFT JOIN payments pay ON pay.order_id = o.id"
    " ORDER BY o.created_at DESC, o.id DESC, oi.product_id";
/* The last day counts up to its last millisecond (created_at is DATETIME(3));
 * not "< DATE_ADD(to, INTERVAL 1 DAY)", which is NULL for 9999-12-31. */
static const char SQL_SALES[] =
    "SELECT DATE_FORMAT(o.created_at, '%Y-%m') AS m, COUNT(DISTINCT o.id), SUM(oi.quantity),"
    " SUM(oi.quantity * oi.unit_price_minor)"
    " FROM orders o JOIN order_items oi ON oi.order_id = o.id"
    " WHERE o.status = 'CONFIRMED' AND o.created_at >= ?"
    "   AND o.created_at <= CONCAT(?, ' 23:59:59.999')"
    " GROUP BY m ORDER BY m";

/* Group the joined rows (ordered by order) into orders. */
static void
orders_map(struct req *r, const struct mdb_rows *rs, struct order **out, size_t *n)
{
    struct order *o = NULL;
    size_t        i;

    *out = arena_array(r->arena, struct order, rs->nrows + 1);
    *n = 0;
    for (i = 0; i < rs->nrows; i++) {
        if (o == NULL || o->id != mdb_i64(rs, i, 0)) {
            o = &(*out)[(*n)++];
            o->id = mdb_i64(rs, i, 0);
            o->user_id = mdb_i64(rs, i, 1);
            o->status = mdb_get(rs, i, 2);
            o->total.minor = mdb_i64(rs, i, 3);
            memcpy(o->total.currency, mdb_get(rs, i, 4), 3);
            o->created_at = mdb_get(rs, i, 5);
            o->ship.line1 = mdb_get(rs, i, 6);
            o->ship.line2 = mdb_get(rs, i, 7);
            o->ship.city = mdb_get(rs, i, 8);
            o->ship.postal_code = mdb_get(rs, i, 9);
            o->ship.country = mdb_get(rs, i, 10);
            o->payment_status = mdb_get(rs, i, 11);
            o->card_last4 = mdb_get(rs, i, 12);
            o->lines = arena_array(r->arena, struct line, rs->nrows - i);
        }
        if (mdb_get(rs, i, 13) == NULL)
            continue;
        o->lines[o->n].product_id = mdb_i64(rs, i, 13);
        o->lines[o->n].name = mdb_get(rs, i, 14) ? mdb_get(rs, i, 14) : "";
        o->lines[o->n].quantity = mdb_i64(rs, i, 15);
        o->lines[o->n].unit.minor = mdb_i64(rs, i, 16);
        memcpy(o->lines[o->n].unit.currency, mdb_get(rs, i, 17), 3);
        o->n++;
    }
}

int
store_order_get(struct req *r, int64_t id, struct order **out)
{
    struct mdb_arg   arg = MDB_I64(id);
    struct mdb_rows *rs;
    size_t           n;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_ORDER_ONE, &arg, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    orders_map(r, rs, out, &n);
    return ERR_OK;
}

int
store_orders(struct req *r, int64_t user_id, int64_t page, int64_t limit, struct order **out,
             size_t *n, int64_t *total)
{
    struct mdb_arg   args[] = {MDB_I64(user_id), MDB_I64(limit), MDB_I64((page - 1) * limit)};
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_ORDER_COUNT, args, 1, &rs);
    if (rc)
        return rc;
    *total = mdb_i64(rs, 0, 0);
    rc = mdb_query(DB(r), r->arena, SQL_ORDER_PAGE, args, 3, &rs);
    if (rc)
        return rc;
    orders_map(r, rs, out, n);
    return ERR_OK;
}

/* An earlier checkout with the same key: ERR_OK and its id when the request
 * matches, ERR_IDEMPOTENCY_REUSED when it does not, ERR_NOT_FOUND if none. */
static int
idem_find(struct req *r, int64_t user_id, const struct checkout *c, int64_t *id)
{
    struct mdb_arg   args[] = {MDB_I64(user_id), MDB_STR(c->idempotency_key)};
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_IDEM_FIND, args, 2, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    *id = mdb_i64(rs, 0, 0);
    if (mdb_get(rs, 0, 1) == NULL || strcmp(mdb_get(rs, 0, 1), c->request_hash) != 0)
        return ERR_IDEMPOTENCY_REUSED;
    return ERR_OK;
}

static int
stock_take(struct req *r, const struct line *lines, size_t n)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    for (i = 0; i < n; i++) {
        struct mdb_arg pid = MDB_I64(lines[i].product_id);
        struct mdb_arg a[] = {MDB_I64(lines[i].quantity), pid, MDB_I64(lines[i].quantity)};
        uint64_t       changed;
        int64_t        have;

        rc = mdb_query(DB(r), r->arena, SQL_STOCK_LOCK, &pid, 1, &rs);
        if (rc)
            return rc;
        have = rs->nrows ? mdb_i64(rs, 0, 0) : 0;
        if (have < lines[i].quantity)
            return req_fail(r, ERR_OUT_OF_STOCK, "only %lld of product %lld left, %lld wanted",
                            (long long)have, (long long)lines[i].product_id,
                            (long long)lines[i].quantity);
        rc = mdb_exec(DB(r), SQL_STOCK_TAKE, a, 3, &changed, NULL);
        if (rc)
            return rc;
        if (changed != 1)
            return req_fail(r, ERR_OUT_OF_STOCK, "product %lld is out of stock",
                            (long long)lines[i].product_id);
    }
    return ERR_OK;
}

static int
load_lines(struct req *r, int64_t user_id, struct cart *cart, int64_t *cart_id)
{
    struct mdb_arg   uid = MDB_I64(user_id);
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_CART_LOCK, &uid, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_CART_EMPTY;
    cart->lines = arena_array(r->arena, struct line, rs->nrows);
    cart->n = rs->nrows;
    for (i = 0; i < rs->nrows; i++) {
        cart->lines[i].product_id = mdb_i64(rs, i, 0);
        cart->lines[i].name = mdb_get(rs, i, 1);
        cart->lines[i].quantity = mdb_i64(rs, i, 2);
        cart->lines[i].unit.minor = mdb_i64(rs, i, 3);
        memcpy(cart->lines[i].unit.currency, mdb_get(rs, i, 4), 3);
    }
    *cart_id = mdb_i64(rs, 0, 5);
    return ERR_OK;
}

static int
load_address(struct req *r, int64_t user_id, struct address *a)
{
    struct mdb_arg   uid = MDB_I64(user_id);
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_ADDRESS, &uid, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_UNPROCESSABLE;
    a->line1 = mdb_get(rs, 0, 0);
    a->line2 = mdb_get(rs, 0, 1);
    a->city = mdb_get(rs, 0, 2);
    a->postal_code = mdb_get(rs, 0, 3);
    a->country = mdb_get(rs, 0, 4);
    return ERR_OK;
}

/* A real provider answers over the network; SOUK_MONOLITH_PROVIDER_LATENCY_MS
 * (default 0) makes the simulated one take that long, as the payments service's
 * SOUK_PAYMENTS_PROVIDER_LATENCY_MS does, so the benchmark compares like with
 * like (bench/saga.sh). The monolith charges inside its transaction, after
 * stock_take locked the products' rows, so those locks are held meanwhile. */
static void
provider_wait(void)
{
    int64_t ms = monolith.provider_latency_ms;

    if (ms > 0)
        nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* Lines, payment and confirmation of the order claimed as order_id. */
static int
fulfil(struct req *r, int64_t order_id, const struct cart *cart, int64_t cart_id,
       const struct address *a, const char *card)
{
    struct money total;
    int64_t      items;
    char         ref[33] = "", last4[5];
    size_t       i;
    int          rc;

    for (i = 0; i < cart->n; i++) {
        const struct line *l = &cart->lines[i];
        struct mdb_arg args[] = {MDB_I64(order_id), MDB_I64(l->product_id), MDB_I64(l->quantity),
                                 MDB_I64(l->unit.minor), MDB_STR(l->unit.currency)};

        rc = mdb_exec(DB(r), SQL_ITEM_INSERT, args, 5, NULL, NULL);
        if (rc)
            return rc;
    }
    shop_cart_total(cart->lines, cart->n, &total, &items);
    provider_wait();
    switch (shop_payment_charge(card, total.minor, ref)) {
    case PAYMENT_APPROVED:
        break;
    case PAYMENT_DECLINED:
        return ERR_PAYMENT_DECLINED;
    case PAYMENT_TRANSIENT:
        return ERR_PAYMENT_UNAVAILABLE;
    default:
        return req_fail(r, ERR_INVALID, "\"card_number\" is not a valid card number");
    }
    card_last4(card, last4);
    {
        struct mdb_arg pay[] = {MDB_I64(order_id), MDB_I64(total.minor), MDB_STR(total.currency),
                                MDB_STR(ref), MDB_STR(last4)};
        struct mdb_arg conf[] = {
            MDB_I64(total.minor), MDB_STR(total.currency), MDB_STR(a->line1),   MDB_STR(a->line2),
            MDB_STR(a->city),     MDB_STR(a->postal_code), MDB_STR(a->country), MDB_I64(order_id)};
        struct mdb_arg cid = MDB_I64(cart_id);

        rc = mdb_exec(DB(r), SQL_PAYMENT_INSERT, pay, 5, NULL, NULL);
        if (rc == ERR_OK)
            rc = mdb_exec(DB(r), SQL_ORDER_CONFIRM, conf, 8, NULL, NULL);
        if (rc == ERR_OK)
            rc = mdb_exec(DB(r), SQL_CART_CLEAR, &cid, 1, NULL, NULL);
    }
    return rc;
}

static int
checkout_tx(struct req *r, int64_t user_id, const struct checkout *c, int64_t *order_id)
{
    struct mdb_arg claim[] = {MDB_I64(user_id), MDB_STR(c->idempotency_key),
                              MDB_STR(c->idempotency_key ? c->request_hash : NULL)};
    struct address a;
    struct cart    cart;
    int64_t        cart_id;
    uint64_t       id;
    int            rc;

    rc = mdb_exec(DB(r), SQL_ORDER_CLAIM, claim, 3, NULL, &id);
    if (rc == ERR_CONFLICT)
        return ERR_UNAUTHORIZED; /* orders_user: the token's account does not exist */
    if (rc)
        return rc; /* ERR_DUPLICATE: a concurrent request with this key won */
    *order_id = (int64_t)id;
    rc = load_lines(r, user_id, &cart, &cart_id);
    if (rc)
        return rc;
    rc = load_address(r, user_id, &a);
    if (rc)
        return rc;
    rc = stock_take(r, cart.lines, cart.n);
    if (rc)
        return rc;
    return fulfil(r, *order_id, &cart, cart_id, &a, c->card_number);
}

int
store_checkout(struct req *r, int64_t user_id, struct checkout *c, struct order **out,
               int *replayed)
{
    int64_t id = 0;
    int     rc = ERR_BUSY, attempt;

    *replayed = 0;
    for (attempt = 0; attempt < CHECKOUT_ATTEMPTS && (rc == ERR_BUSY || rc == ERR_DUPLICATE);
         attempt++) {
        if (c->idempotency_key) {
            rc = idem_find(r, user_id, c, &id);
            if (rc == ERR_OK) {
                *replayed = 1;
                break;
            }
            if (rc != ERR_NOT_FOUND)
                return rc;
        }
        rc = mdb_begin(DB(r));
        if (rc)
            return rc;
        rc = checkout_tx(r, user_id, c, &id);
        if (rc == ERR_OK)
            rc = mdb_commit(DB(r));
        if (rc)
            mdb_rollback(DB(r));
    }
    if (rc)
        return rc;
    return store_order_get(r, id, out);
}

int
store_sales(struct req *r, const char *from, const char *to, struct sales_month **out, size_t *n)
{
    struct mdb_arg   args[] = {MDB_STR(from), MDB_STR(to)};
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_SALES, args, 2, &rs);
    if (rc)
        return rc;
    *out = arena_array(r->arena, struct sales_month, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        (*out)[i].month = mdb_get(rs, i, 0);
        (*out)[i].orders = mdb_i64(rs, i, 1);
        (*out)[i].items = mdb_i64(rs, i, 2);
        (*out)[i].revenue_minor = mdb_i64(rs, i, 3);
    }
    *n = rs->nrows;
    return ERR_OK;
}
