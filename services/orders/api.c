/*
 * api.c - the v1 orders endpoints, answering as the monolith's
 * monolith/api_orders.c: the checkout (now a saga: the order is placed
 * PENDING and the handler waits, bounded, for its outcome), my orders and one
 * order. A failed checkout stays in the database for audit but is not a v1
 * order: v1 neither lists nor shows it (a backfilled monolith order it
 * shows in any state, as the monolith did).
 */
#include <stddef.h>
#include <string.h>

#include "bounds.h"
#include "orders.h"

#define CART_EMPTY_DETAIL "add items to the cart before checking out"

static const struct decode_field checkout_fields[] = {
    {"card_number", DECODE_STR, offsetof(struct checkout, card_number), 1, 1, 32, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

json_t *
api_money(const struct money *m)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)m->minor, "currency", m->currency);
}

json_t *
api_address(const struct address *a)
{
    if (a == NULL || a->line1 == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "line1", a->line1, "line2", a->line2 ? a->line2 : "",
                     "city", a->city, "postal_code", a->postal_code, "country", a->country);
}

json_t *
api_lines(const struct line *l, size_t n)
{
    json_t *arr = json_array();
    size_t  i;

    for (i = 0; i < n; i++) {
        struct money total = l[i].unit;

        total.minor = l[i].unit.minor * l[i].quantity;
        json_array_append_new(
            arr,
            json_pack("{s:I,s:s,s:I,s:o,s:o}", "product_id", (json_int_t)l[i].product_id, "name",
                      l[i].name ? l[i].name : "", "quantity", (json_int_t)l[i].quantity,
                      "unit_price", api_money(&l[i].unit), "line_total", api_money(&total)));
    }
    return arr;
}

/* The v1 Order, members in the monolith's order (shadow mode compares them). */
static json_t *
order_encode(const struct order *o)
{
    json_t *payment = json_null();

    if (o->payment_status != NULL)
        payment = json_pack("{s:s,s:s}", "status", o->payment_status, "card_last4",
                            o->card_last4 ? o->card_last4 : "");
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:s}", "id", (json_int_t)o->id, "user_id",
                     (json_int_t)o->user_id, "status", order_state_name(o->state), "total",
                     api_money(&o->total), "items", api_lines(o->lines, o->n), "shipping_address",
                     api_address(&o->ship), "payment", payment, "created_at", o->created_at);
}

/* Idempotency-Key: 1..128 visible ASCII characters, as the monolith. */
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
    if (i == 0 || i > ORDER_KEY_MAX || k[i] != '\0')
        return req_fail(r, ERR_INVALID, "Idempotency-Key must be 1 to 128 visible characters");
    *out = k;
    return ERR_OK;
}

/* An earlier checkout with c's key: ERR_OK with it in *o (a replay),
 * ERR_NOT_FOUND when there is none; 422 when it was another request. */
static int
replay_find(struct req *r, const struct checkout *c, struct order **o)
{
    int64_t id;
    int     rc;

    rc = store_key_find(service_work(r), c, &id);
    if (rc == ERR_IDEMPOTENCY_REUSED)
        return req_fail(r, rc, "this Idempotency-Key was used for a different request");
    if (rc)
        return rc;
    return store_order_get(service_work(r), id, o);
}

/* The monolith's checks, in its order: the account, the cart, the address;
 * then the prices from the replica. */
static int
checkout_inputs(struct req *r, struct checkout *c, struct address *ship)
{
    int64_t missing;
    int     rc, addr;

    addr = store_customer_address(service_work(r), c->user_id, ship);
    if (addr == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (addr != ERR_OK && addr != ERR_UNPROCESSABLE)
        return addr;
    rc = cart_lines(r, c);
    if (rc == ERR_UNAVAILABLE) {
        req_set_header(r, "Retry-After", "1");
        return req_fail(r, rc, "the cart service did not answer, nothing was ordered");
    }
    /* this state of the cart is an order already (a repeat before the cart
     * service emptied it): ERR_DUPLICATE, answered by checkout_lost */
    if (rc == ERR_OK)
        rc = store_cart_taken(service_work(r), c);
    if (rc == ERR_CART_EMPTY)
        return req_fail(r, rc, CART_EMPTY_DETAIL);
    if (rc)
        return rc;
    if (addr == ERR_UNPROCESSABLE)
        return req_fail(r, addr, "set a shipping address before checking out");
    order_lines_sort(c->lines, c->n);
    rc = store_price(service_work(r), c, &missing);
    if (rc == ERR_OUT_OF_STOCK)
        return req_fail(r, rc, "product %lld is not available", (long long)missing);
    return rc;
}

/* Another checkout placed an order first (it won the insert, or committed
 * while this one read the cart): one with this key (answer as its replay)
 * or one of the same cart version (409 cart-empty, as the monolith's second
 * checkout found the cart emptied by the first). */
static int
checkout_lost(struct req *r, const struct checkout *c, struct order **o, int *replayed)
{
    int rc;

    if (c->idempotency_key != NULL) {
        rc = replay_find(r, c, o);
        *replayed = rc == ERR_OK;
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    rc = store_cart_taken(service_work(r), c);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, ERR_CART_EMPTY, CART_EMPTY_DETAIL);
    if (rc)
        return rc;
    return req_fail(r, ERR_BUSY, "retry"); /* the winner failed meanwhile */
}

int
api_checkout(struct req *r, struct order **o, int *replayed)
{
    struct checkout *c = arena_new(r->arena, struct checkout);
    struct address   ship;
    json_t          *body;
    int              rc;

    memset(c, 0, sizeof(*c));
    *replayed = 0;
    rc = idempotency_key(r, &c->idempotency_key);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, checkout_fields, c, NULL);
    if (rc)
        return rc;
    if (!card_valid(c->card_number))
        return req_fail(r, ERR_INVALID, "\"card_number\" is not a valid card number");
    c->user_id = r->user.user_id;
    order_request_hash(orders_cfg.svc.jwt_secret, c->user_id, c->card_number, c->request_hash);
    if (c->idempotency_key != NULL) {
        rc = replay_find(r, c, o);
        if (rc != ERR_NOT_FOUND) {
            *replayed = rc == ERR_OK;
            return rc;
        }
    }
    rc = checkout_inputs(r, c, &ship);
    if (rc == ERR_DUPLICATE)
        return checkout_lost(r, c, o, replayed);
    if (rc)
        return rc;
    rc = card_tokenize(c->card_number, c->token);
    if (rc)
        return req_fail(r, ERR_INVALID, "\"card_number\" is not a valid card number");
    card_last4(c->card_number, c->last4);
    c->card_number = NULL; /* from here on only the token and the last four travel */
    *o = arena_new(r->arena, struct order);
    memset(*o, 0, sizeof(**o));
    rc = store_order_create(service_work(r), c, &ship, *o);
    if (rc == ERR_DUPLICATE)
        return checkout_lost(r, c, o, replayed);
    if (rc == ERR_CONFLICT)
        return req_fail(r, rc, "the cart's lines cannot be priced together");
    return rc;
}

/* Wait, bounded by SOUK_ORDERS_SYNC_WAIT_MS, until o is terminal; woken by
 * the commit that moves it (wait.c), re-read after each wake. */
static int
outcome_wait(struct req *r, struct order **o)
{
    struct waiter *wt;
    int64_t        deadline = wait_now_ms() + orders_cfg.sync_wait_ms, id = (*o)->id;
    int            rc;

    if (order_state_terminal((*o)->state))
        return ERR_OK;
    wt = wait_begin(r->arena, id);
    for (;;) {
        rc = store_order_get(service_work(r), id, o);
        if (rc || order_state_terminal((*o)->state))
            return rc;
        if (!wait_sleep(wt, deadline))
            return store_order_get(service_work(r), id, o);
    }
}

/* POST /api/v1/orders {"card_number"} (ROUTE_USER). */
int
order_create(struct req *r)
{
    struct order *o;
    const char   *detail;
    int           rc, replayed;

    rc = api_checkout(r, &o, &replayed);
    if (rc)
        return rc;
    rc = outcome_wait(r, &o);
    if (rc)
        return rc;
    if (o->state == ORDER_STATE_CONFIRMED || o->state == ORDER_STATE_PENDING) {
        if (replayed)
            req_set_header(r, "Idempotent-Replayed", "true");
        feed_version_header(r, o);
        req_set_header(r, "Location",
                       arena_printf(r->arena, "/api/v1/orders/%lld", (long long)o->id));
        return req_reply(r,
                         o->state == ORDER_STATE_PENDING ? 202
                         : replayed                      ? 200
                                                         : 201,
                         order_encode(o));
    }
    rc = order_failure(o, r->arena, &detail);
    if (rc == ERR_PAYMENT_UNAVAILABLE || rc == ERR_UNAVAILABLE)
        req_set_header(r, "Retry-After", "1");
    return req_fail(r, rc, "%s", detail);
}

/* GET /api/v1/orders?page&limit: the user's orders, newest first. */
int
order_list(struct req *r)
{
    struct order *o;
    size_t        n, i;
    int64_t       page, limit, total;
    json_t       *items;
    int           rc;

    rc = req_paging(r, LIMIT_PAGE_INDEX, &page, &limit);
    if (rc)
        return rc;
    rc = store_orders_v1(service_work(r), r->user.user_id, page, limit, &o, &n, &total);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(items, order_encode(&o[i]));
    return req_reply(r, 200, req_page_body(items, page, limit, total));
}

/* GET /api/v1/orders/{id}: another customer's order is "not found", never
 * "forbidden" (an id must not reveal that the order exists); an admin sees
 * every order; a checkout the saga failed is no v1 order. */
int
order_get(struct req *r)
{
    struct order *o;
    int64_t       id;
    int           rc;

    rc = req_param_id(r, "id", "order", &id);
    if (rc)
        return rc;
    rc = store_order_get(service_work(r), id, &o);
    if (rc == ERR_OK && o->user_id != r->user.user_id && r->user.role != AUTH_ADMIN)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_OK && o->failed)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "order not found");
    if (rc)
        return rc;
    return req_reply(r, 200, order_encode(o));
}
