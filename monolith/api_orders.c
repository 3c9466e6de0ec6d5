/*
 * api_orders.c - the cart, checkout, my orders and the sales report.
 * Checkout is one MariaDB transaction in store_checkout; this file only
 * decodes, maps outcomes to problems and encodes.
 */
#include <stddef.h>
#include <string.h>

#include "card.h"
#include "monolith.h"

struct item_in {
    int64_t product_id, quantity;
};

static const struct decode_field item_add_fields[] = {
    {"product_id", DECODE_I64, offsetof(struct item_in, product_id), 1, 1, INT64_MAX, 0},
    {"quantity", DECODE_I64, offsetof(struct item_in, quantity), 1, 1, MAX_QTY, 0},
    {NULL},
};

static const struct decode_field item_put_fields[] = {
    {"quantity", DECODE_I64, offsetof(struct item_in, quantity), 1, 1, MAX_QTY, 0},
    {NULL},
};

static const struct decode_field checkout_fields[] = {
    {"card_number", DECODE_STR, offsetof(struct checkout, card_number), 1, 1, 32, 0},
    {NULL},
};

static int
reply_cart(struct req *r, int status)
{
    struct cart c;
    int         rc;

    rc = store_cart_get(r, r->user.user_id, &c);
    if (rc)
        return rc;
    return req_reply(r, status, api_cart(&c));
}

int
cart_get(struct req *r)
{
    return reply_cart(r, 200);
}

static int
cart_outcome(struct req *r, int rc)
{
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc == ERR_UNAUTHORIZED)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc == ERR_CONFLICT)
        return req_fail(r, rc, "a cart line holds at most %d and a cart at most %d lines", MAX_QTY,
                        MAX_CART_LINES);
    if (rc)
        return rc;
    return reply_cart(r, 200);
}

int
cart_item_add(struct req *r)
{
    struct item_in in;
    json_t        *body;
    int            rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, item_add_fields, &in, NULL);
    if (rc)
        return rc;
    return cart_outcome(r, store_cart_add(r, r->user.user_id, in.product_id, in.quantity, 0));
}

int
cart_item_put(struct req *r)
{
    struct item_in in;
    json_t        *body;
    int            rc;

    rc = req_param_id(r, "product_id", "cart item", &in.product_id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, item_put_fields, &in, NULL);
    if (rc)
        return rc;
    rc = store_cart_add(r, r->user.user_id, in.product_id, in.quantity, 1);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "cart item not found");
    return cart_outcome(r, rc);
}

int
cart_item_delete(struct req *r)
{
    int64_t id;
    int     rc;

    rc = req_param_id(r, "product_id", "cart item", &id);
    if (rc)
        return rc;
    rc = store_cart_remove(r, r->user.user_id, id);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "cart item not found");
    if (rc)
        return rc;
    return reply_cart(r, 200);
}

/* Idempotency-Key: 1..128 visible ASCII characters (RFC 9110 token-ish). */
static int
idempotency_key(struct req *r, const char **out)
{
    const char *k = req_header(r, "Idempotency-Key");
    size_t      i;

    *out = NULL;
    if (k == NULL)
        return ERR_OK;
    for (i = 0; k[i]; i++)
        if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 0x7f)
            break;
    if (i == 0 || i > 128 || k[i] != '\0')
        return req_fail(r, ERR_INVALID, "Idempotency-Key must be 1 to 128 visible characters");
    *out = k;
    return ERR_OK;
}

/* Outcomes of the checkout transaction that are the client's to fix. */
static const struct {
    int         rc;
    const char *detail;
} checkout_problems[] = {
    {ERR_PAYMENT_UNAVAILABLE, "the payment provider did not answer, nothing was charged"},
    {ERR_PAYMENT_DECLINED, "the card was declined, nothing was charged"},
    {ERR_CART_EMPTY, "add items to the cart before checking out"},
    {ERR_IDEMPOTENCY_REUSED, "this Idempotency-Key was used for a different request"},
    {ERR_UNPROCESSABLE, "set a shipping address before checking out"},
};

static int
checkout_fail(struct req *r, int rc)
{
    size_t i;

    if (rc == ERR_PAYMENT_UNAVAILABLE)
        req_set_header(r, "Retry-After", "1");
    if (rc == ERR_UNAUTHORIZED)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    for (i = 0; i < sizeof(checkout_problems) / sizeof(checkout_problems[0]); i++)
        if (checkout_problems[i].rc == rc)
            return req_fail(r, rc, "%s", checkout_problems[i].detail);
    return rc; /* already failed with a detail (out of stock), or internal */
}

int
order_create(struct req *r)
{
    struct checkout c = {0};
    struct order   *o;
    json_t         *body;
    int             rc, replayed = 0;

    rc = idempotency_key(r, &c.idempotency_key);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, checkout_fields, &c, NULL);
    if (rc)
        return rc;
    if (!card_valid(c.card_number))
        return req_fail(r, ERR_INVALID, "\"card_number\" is not a valid card number");
    shop_request_hash(monolith.svc.jwt_secret, r->user.user_id, c.card_number, c.request_hash);
    rc = store_checkout(r, r->user.user_id, &c, &o, &replayed);
    if (rc)
        return checkout_fail(r, rc);
    if (replayed)
        req_set_header(r, "Idempotent-Replayed", "true");
    req_set_header(r, "Location", arena_printf(r->arena, "/api/v1/orders/%lld", (long long)o->id));
    return req_reply(r, replayed ? 200 : 201, api_order(o));
}

int
order_list(struct req *r)
{
    struct order *o;
    size_t        n, i;
    int64_t       page, limit, total;
    json_t       *items;
    int           rc;

    rc = api_page(r, &page, &limit);
    if (rc)
        return rc;
    rc = store_orders(r, r->user.user_id, page, limit, &o, &n, &total);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(items, api_order(&o[i]));
    return req_reply(r, 200, req_page_body(items, page, limit, total));
}

/* Another customer's order is "not found", never "forbidden": an id must
 * not reveal that the order exists. */
int
order_get(struct req *r)
{
    struct order *o;
    int64_t       id;
    int           rc;

    rc = req_param_id(r, "id", "order", &id);
    if (rc)
        return rc;
    rc = store_order_get(r, id, &o);
    if (rc == ERR_OK && o->user_id != r->user.user_id && r->user.role != AUTH_ADMIN)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "order not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_order(o));
}

/* GET /api/v1/reports/sales?from=YYYY-MM-DD&to=YYYY-MM-DD: confirmed orders
 * placed on the days from to to (both included), grouped by month, computed
 * on the fly with GROUP BY over every order line. */
int
report_sales(struct req *r)
{
    struct sales_month *m;
    const char         *from = req_query(r, "from"), *to = req_query(r, "to");
    size_t              n, i;
    json_t             *months;
    int                 rc;

    if (from == NULL)
        from = "1970-01-01";
    if (to == NULL)
        to = "9999-12-31";
    if (!shop_date_valid(from) || !shop_date_valid(to))
        return req_fail(r, ERR_INVALID, "from and to must be dates as YYYY-MM-DD");
    if (strcmp(from, to) > 0)
        return req_fail(r, ERR_INVALID, "from must not be after to");
    rc = store_sales(r, from, to, &m, &n);
    if (rc)
        return rc;
    months = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(months, json_pack("{s:s,s:I,s:I,s:{s:I,s:s}}", "month", m[i].month,
                                                "orders", (json_int_t)m[i].orders, "items",
                                                (json_int_t)m[i].items, "revenue", "amount",
                                                (json_int_t)m[i].revenue_minor, "currency", "EUR"));
    return req_reply(r, 200, json_pack("{s:s,s:s,s:o}", "from", from, "to", to, "months", months));
}

int
ready_db(struct req *r)
{
    return store_ping(r);
}
