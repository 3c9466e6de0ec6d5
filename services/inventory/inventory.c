/*
 * inventory.c - the inventory's pure logic (no I/O, unit-tested in
 * t/10_inventory.c): the holds' state machine as a table, what each
 * transition does to stock, the reservation plan (every line or none) and
 * the admin's stock level.
 */
#include <stdlib.h>
#include <string.h>

#include "inventory.h"

static const struct {
    const char *label, *text, *reason;
} states[] = {
#define X(name, text, reason) {#name, text, reason},
    HOLD_STATES(X)
#undef X
};

/* Everything not listed is acknowledged and changes nothing: a duplicate, a
 * late or reordered event, or one for a reservation in a terminal state.
 * The one exception to "terminal" is a sale given back when the order is
 * cancelled after it (stock held for an order that cannot complete always
 * goes back). A cancellation that arrives before its order.created leaves a
 * tombstone (RELEASED, no lines), so the late order.created holds nothing.
 * order.confirmed is a second way to the sale: whichever of it and
 * payment.succeeded comes first sells, the other finds SOLD. A payment that
 * arrives after the sweeper released the hold (inventory was down or behind
 * for longer than the TTL) sells the units anew if they are still there
 * (fresh: never oversold); otherwise the order stays released and events.c
 * logs it as an error. A cancellation closes that door (a payment that
 * comes after it, reordered, must not sell for a dead order); it moves
 * nothing, so it says nothing. */
/* clang-format off */
#define HOLD_TRANSITIONS(X)                                                                        \
    /* from     on                    to        action          released reason     fresh */     \
    X(NONE,     ON_ORDER_CREATED,     HELD,     ACT_RESERVE,    NULL,               1)           \
    X(NONE,     ON_ORDER_CANCELLED,   RELEASED, ACT_NONE,       "order-cancelled",  0)           \
    X(HELD,     ON_PAYMENT_SUCCEEDED, SOLD,     ACT_SELL,       NULL,               0)           \
    X(HELD,     ON_ORDER_CONFIRMED,   SOLD,     ACT_SELL,       NULL,               0)           \
    X(HELD,     ON_PAYMENT_FAILED,    RELEASED, ACT_RELEASE,    "payment-failed",   0)           \
    X(HELD,     ON_ORDER_CANCELLED,   RELEASED, ACT_RELEASE,    "order-cancelled",  0)           \
    X(HELD,     ON_HOLD_EXPIRED,      EXPIRED,  ACT_RELEASE,    "hold-expired",     0)           \
    X(SOLD,     ON_ORDER_CANCELLED,   RELEASED, ACT_GIVE_BACK,  "order-cancelled",  0)           \
    X(EXPIRED,  ON_PAYMENT_SUCCEEDED, SOLD,     ACT_SELL_LATE,  NULL,               1)           \
    X(EXPIRED,  ON_ORDER_CONFIRMED,   SOLD,     ACT_SELL_LATE,  NULL,               1)           \
    X(EXPIRED,  ON_ORDER_CANCELLED,   RELEASED, ACT_NONE,       "order-cancelled",  0)
/* clang-format on */

static const struct hold_transition transitions[] = {
#define X(from, on, to, act, reason, fresh) {HOLD_##from, on, HOLD_##to, act, reason, fresh},
    HOLD_TRANSITIONS(X)
#undef X
};

/* Per unit: reserved, on_hand, sold. A sale takes the units out of on_hand
 * into sold; giving it back returns them, so received = on_hand + sold. A
 * late sale takes units that are not held. */
static const struct {
    int64_t reserved, on_hand, sold;
} actions[] = {
    [ACT_NONE] = {0, 0, 0},     [ACT_RESERVE] = {1, 0, 0},    [ACT_SELL] = {-1, -1, 1},
    [ACT_RELEASE] = {-1, 0, 0}, [ACT_GIVE_BACK] = {0, 1, -1}, [ACT_SELL_LATE] = {0, -1, 1},
};

const char *
hold_state_name(enum hold_state s)
{
    return (unsigned)s < HOLD__COUNT ? states[s].text : "?";
}

const char *
hold_state_label(enum hold_state s)
{
    return (unsigned)s < HOLD__COUNT ? states[s].label : "?";
}

/* A row whose reason matches wins over the row without one. */
int
hold_state_parse(const char *z, const char *reason, enum hold_state *out)
{
    size_t i;
    int    found = 0;

    for (i = 0; z != NULL && i < HOLD__COUNT; i++) {
        if (strcmp(z, states[i].text) != 0)
            continue;
        if (states[i].reason == NULL && !found) {
            *out = (enum hold_state)i;
            found = 1;
        } else if (states[i].reason != NULL && reason != NULL &&
                   strcmp(reason, states[i].reason) == 0) {
            *out = (enum hold_state)i;
            return ERR_OK;
        }
    }
    return found ? ERR_OK : ERR_INVALID;
}

const struct hold_transition *
hold_transition_find(enum hold_state from, enum hold_event on)
{
    size_t i;

    for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
        if (transitions[i].from == from && transitions[i].on == on)
            return &transitions[i];
    return NULL;
}

void
hold_action_delta(enum hold_action act, int64_t *reserved, int64_t *on_hand, int64_t *sold)
{
    *reserved = actions[act].reserved;
    *on_hand = actions[act].on_hand;
    *sold = actions[act].sold;
}

static int
line_cmp(const void *a, const void *b)
{
    const struct hold_line *x = a, *y = b;

    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

int
hold_lines_normalize(struct hold_line *lines, size_t *n)
{
    size_t i, k = 0;

    if (*n == 0)
        return ERR_OK;
    qsort(lines, *n, sizeof(*lines), line_cmp);
    for (i = 1; i < *n; i++) {
        if (lines[i].product_id == lines[k].product_id) {
            lines[k].quantity += lines[i].quantity;
            if (lines[k].quantity > HOLD_QUANTITY)
                return ERR_INVALID;
        } else {
            lines[++k] = lines[i];
        }
    }
    *n = k + 1;
    return ERR_OK;
}

size_t
hold_shortages(const struct hold_line *lines, size_t n, const struct stock_level *levels,
               struct shortage *out)
{
    int64_t avail;
    size_t  i, k = 0;

    for (i = 0; i < n; i++) {
        avail = levels[i].known ? levels[i].on_hand - levels[i].reserved : 0;
        if (avail >= lines[i].quantity)
            continue;
        out[k].product_id = lines[i].product_id;
        out[k].requested = lines[i].quantity;
        out[k].available = avail > 0 ? avail : 0;
        k++;
    }
    return k;
}

void
stock_set_available(struct stock_level *l, int64_t available)
{
    int64_t on_hand = available + l->reserved;

    l->received += on_hand - l->on_hand;
    l->on_hand = on_hand;
}
