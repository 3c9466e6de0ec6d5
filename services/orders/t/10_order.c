/*
 * 10_order.c - orders.c: the saga's state machine table (every state x
 * every event), what a failed order answers a v1 client, pricing and the
 * Idempotency-Key fingerprint.
 */
#include <stdint.h>
#include <string.h>

#include "orders.h"
#include "t.h"

static void
test_transitions(void)
{
    static const enum order_state want[ORDER_EV__COUNT] = {
        [ORDER_EV_INVENTORY_REJECTED] = ORDER_STATE_REJECTED,
        [ORDER_EV_PAYMENT_SUCCEEDED] = ORDER_STATE_CONFIRMED,
        [ORDER_EV_PAYMENT_FAILED] = ORDER_STATE_CANCELLED,
        [ORDER_EV_DEADLINE] = ORDER_STATE_CANCELLED,
    };
    enum order_state to;
    int              s, e;

    for (e = 0; e < ORDER_EV__COUNT; e++) {
        to = ORDER_STATE__COUNT;
        T_EQ_INT(order_transition(ORDER_STATE_PENDING, (enum order_event)e, &to), ERR_OK,
                 "PENDING moves on event %d", e);
        T_EQ_INT(to, want[e], "PENDING + event %d -> state %d", e, want[e]);
    }
    for (s = ORDER_STATE_CONFIRMED; s < ORDER_STATE__COUNT; s++) {
        T_OK(order_state_terminal((enum order_state)s), "%s is terminal",
             order_state_name((enum order_state)s));
        for (e = 0; e < ORDER_EV__COUNT; e++)
            T_EQ_INT(order_transition((enum order_state)s, (enum order_event)e, &to),
                     ERR_ORDER_STATE, "nothing leaves %s (event %d)",
                     order_state_name((enum order_state)s), e);
    }
    T_OK(!order_state_terminal(ORDER_STATE_PENDING), "PENDING is not terminal");
}

static void
test_names(void)
{
    enum order_state s;
    int              i;

    for (i = 0; i < ORDER_STATE__COUNT; i++) {
        T_EQ_INT(order_state_parse(order_state_name((enum order_state)i), &s), ERR_OK, "parse %s",
                 order_state_name((enum order_state)i));
        T_EQ_INT(s, i, "round trip %d", i);
    }
    T_EQ_INT(order_state_parse("pending", &s), ERR_INVALID, "names are upper case");
    T_EQ_INT(order_state_parse("", &s), ERR_INVALID, "empty");
    T_EQ_INT(order_state_parse(NULL, &s), ERR_INVALID, "NULL");
}

static void
test_failure(void)
{
    struct arena *a = arena_create();
    struct order  o = {0};
    const char   *d;

    o.reason = "out-of-stock";
    o.shortage = (struct shortage){7, 3, 1, NULL};
    T_EQ_INT(order_failure(&o, a, &d), ERR_OUT_OF_STOCK, "out of stock -> 409");
    T_EQ_STR(d, "only 1 of product 7 left, 3 wanted", "detail names the product");
    o.reason = "payment-declined";
    T_EQ_INT(order_failure(&o, a, &d), ERR_PAYMENT_DECLINED, "declined -> 402");
    o.reason = "payment-unavailable";
    T_EQ_INT(order_failure(&o, a, &d), ERR_PAYMENT_UNAVAILABLE, "unavailable -> 503");
    o.reason = "deadline";
    T_EQ_INT(order_failure(&o, a, &d), ERR_UNAVAILABLE, "deadline -> 503");
    arena_destroy(a);
}

static void
test_total(void)
{
    struct line l[3] = {
        {3, 2, "c", {1999, "EUR"}}, {1, 1, "a", {500, "EUR"}}, {2, 4, "b", {1, "EUR"}}};
    struct money m;

    T_EQ_INT(order_total(l, 3, &m), ERR_OK, "total");
    T_EQ_INT(m.minor, 2 * 1999 + 500 + 4, "sum of the lines");
    T_EQ_STR(m.currency, "EUR", "currency");
    order_lines_sort(l, 3);
    T_EQ_INT(l[0].product_id * 100 + l[1].product_id * 10 + l[2].product_id, 123,
             "sorted by product id");
    memcpy(l[1].unit.currency, "USD", 4);
    T_EQ_INT(order_total(l, 3, &m), ERR_CONFLICT, "mixed currencies");
    memcpy(l[1].unit.currency, "EUR", 4);
    l[2].unit.minor = INT64_MAX / 2; /* quantity 4 */
    T_EQ_INT(order_total(l, 3, &m), ERR_CONFLICT, "overflow");
}

static void
test_hash(void)
{
    char a[65], b[65], c[65];

    order_request_hash("secret", 7, "4242424242424242", a);
    order_request_hash("secret", 7, "4242424242424242", b);
    order_request_hash("secret", 8, "4242424242424242", c);
    T_EQ_STR(a, b, "the same request, the same fingerprint");
    T_OK(strcmp(a, c) != 0, "another user, another fingerprint");
    T_EQ_INT(strlen(a), 64, "64 hex digits");
}

int
main(void)
{
    test_transitions();
    test_names();
    test_failure();
    test_total();
    test_hash();
    return T_DONE();
}
