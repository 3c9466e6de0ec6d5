/*
 * orders.c - the orders service's pure logic, no I/O: the saga's state
 * machine as a table, what a failed order answers a v1 client, pricing and
 * the Idempotency-Key fingerprint. 10_order.c tests it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "orders.h"

struct orders_config orders_cfg; /* here, not in main.c, so unit tests link */

static const char *const state_names[ORDER_STATE__COUNT] = {
    [ORDER_STATE_PENDING] = "PENDING",
    [ORDER_STATE_CONFIRMED] = "CONFIRMED",
    [ORDER_STATE_REJECTED] = "REJECTED",
    [ORDER_STATE_CANCELLED] = "CANCELLED",
};

/* Every move the saga makes. Only PENDING has rows, so nothing leaves a
 * terminal state, and a duplicate or late event finds no row and changes
 * nothing (contracts/events.md, "Rules every saga consumer keeps"). */
static const struct {
    enum order_state from;
    enum order_event ev;
    enum order_state to;
} transitions[] = {
    {ORDER_STATE_PENDING, ORDER_EV_INVENTORY_REJECTED, ORDER_STATE_REJECTED},
    {ORDER_STATE_PENDING, ORDER_EV_PAYMENT_SUCCEEDED, ORDER_STATE_CONFIRMED},
    {ORDER_STATE_PENDING, ORDER_EV_PAYMENT_FAILED, ORDER_STATE_CANCELLED},
    {ORDER_STATE_PENDING, ORDER_EV_DEADLINE, ORDER_STATE_CANCELLED},
};

const char *
order_state_name(enum order_state s)
{
    return s < ORDER_STATE__COUNT ? state_names[s] : "UNKNOWN";
}

int
order_state_parse(const char *name, enum order_state *out)
{
    int i;

    for (i = 0; i < ORDER_STATE__COUNT; i++)
        if (name != NULL && strcmp(name, state_names[i]) == 0) {
            *out = (enum order_state)i;
            return ERR_OK;
        }
    return ERR_INVALID;
}

int
order_transition(enum order_state from, enum order_event ev, enum order_state *to)
{
    size_t i;

    for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
        if (transitions[i].from == from && transitions[i].ev == ev) {
            *to = transitions[i].to;
            return ERR_OK;
        }
    return ERR_ORDER_STATE;
}

int
order_state_terminal(enum order_state s)
{
    return s != ORDER_STATE_PENDING;
}

/* A failed order's reason -> what the monolith answered for that failure
 * (monolith/api_orders.c checkout_problems). */
static const struct {
    const char *reason;
    int         rc;
    const char *detail;
} failures[] = {
    {"payment-declined", ERR_PAYMENT_DECLINED, "the card was declined, nothing was charged"},
    {"payment-unavailable", ERR_PAYMENT_UNAVAILABLE,
     "the payment provider did not answer, nothing was charged"},
    {"deadline", ERR_UNAVAILABLE, "the order could not be completed in time, nothing was charged"},
};

int
order_failure(const struct order *o, struct arena *a, const char **detail)
{
    const struct shortage *s = &o->shortage;
    size_t                 i;

    if (o->reason != NULL && strcmp(o->reason, "out-of-stock") == 0) {
        *detail = s->product_id > 0
                      ? arena_printf(a, "only %lld of product %lld left, %lld wanted",
                                     (long long)s->available, (long long)s->product_id,
                                     (long long)s->requested)
                      : "a product is out of stock";
        return ERR_OUT_OF_STOCK;
    }
    for (i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
        if (o->reason != NULL && strcmp(o->reason, failures[i].reason) == 0) {
            *detail = failures[i].detail;
            return failures[i].rc;
        }
    *detail = "the order failed, nothing was charged";
    return ERR_UNAVAILABLE;
}

int
order_total(const struct line *lines, size_t n, struct money *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    memcpy(out->currency, n ? lines[0].unit.currency : "EUR", 3);
    for (i = 0; i < n; i++) {
        int64_t line;

        if (memcmp(lines[i].unit.currency, out->currency, 3) != 0)
            return ERR_CONFLICT;
        if (__builtin_mul_overflow(lines[i].unit.minor, lines[i].quantity, &line) ||
            __builtin_add_overflow(out->minor, line, &out->minor))
            return ERR_CONFLICT;
    }
    return ERR_OK;
}

static int
by_product(const void *x, const void *y)
{
    const struct line *a = x, *b = y;

    return (a->product_id > b->product_id) - (a->product_id < b->product_id);
}

void
order_lines_sort(struct line *lines, size_t n)
{
    if (n > 1)
        qsort(lines, n, sizeof(*lines), by_product);
}

/* The monolith's fingerprint (shop_request_hash), so a key is judged the
 * same way on both sides of the cutover. */
void
order_request_hash(const char *secret, int64_t user_id, const char *card, char out[65])
{
    char msg[64];
    int  n;

    n = snprintf(msg, sizeof(msg), "checkout:%lld:%s", (long long)user_id, card);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0; /* card numbers are at most 19 digits; never reached */
    auth_hmac_hex(secret, msg, (size_t)n, out);
}
