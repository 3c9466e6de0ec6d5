/*
 * 10_inventory.c - inventory.c: the holds' transition table (every pair of
 * state and event), what each action does to the counters (conservation:
 * received = on_hand + sold never moves under a transition), line merging
 * and the every-line-or-none plan, and the admin's stock level.
 */
#include <stdint.h>
#include <string.h>

#include "inventory.h"
#include "t.h"

struct inventory_config inventory_cfg; /* main.c is not linked into unit tests */

static const char *const event_names[] = {
    "order.created",  "payment.succeeded", "order.confirmed",
    "payment.failed", "order.cancelled",   "hold expired",
};

static void
test_transitions(void)
{
    /* Expected: the state after (from, on); -1 = ignored. Rows: the states; columns: the
     * events above. */
    static const int want[HOLD__COUNT][6] = {
        [HOLD_NONE] = {HOLD_HELD, -1, -1, -1, HOLD_RELEASED, -1},
        [HOLD_HELD] = {-1, HOLD_SOLD, HOLD_SOLD, HOLD_RELEASED, HOLD_RELEASED, HOLD_EXPIRED},
        [HOLD_SOLD] = {-1, -1, -1, -1, HOLD_RELEASED, -1},
        [HOLD_RELEASED] = {-1, -1, -1, -1, -1, -1},
        [HOLD_REJECTED] = {-1, -1, -1, -1, -1, -1},
        [HOLD_EXPIRED] = {-1, HOLD_SOLD, HOLD_SOLD, -1, HOLD_RELEASED, -1},
    };
    static const struct {
        enum hold_state  from;
        enum hold_event  on;
        enum hold_action act;
        const char      *reason;
    } acts[] = {
        {HOLD_NONE, ON_ORDER_CREATED, ACT_RESERVE, NULL},
        {HOLD_NONE, ON_ORDER_CANCELLED, ACT_NONE, "order-cancelled"},
        {HOLD_HELD, ON_PAYMENT_SUCCEEDED, ACT_SELL, NULL},
        {HOLD_HELD, ON_ORDER_CONFIRMED, ACT_SELL, NULL},
        {HOLD_HELD, ON_PAYMENT_FAILED, ACT_RELEASE, "payment-failed"},
        {HOLD_HELD, ON_ORDER_CANCELLED, ACT_RELEASE, "order-cancelled"},
        {HOLD_HELD, ON_HOLD_EXPIRED, ACT_RELEASE, "hold-expired"},
        {HOLD_SOLD, ON_ORDER_CANCELLED, ACT_GIVE_BACK, "order-cancelled"},
        {HOLD_EXPIRED, ON_PAYMENT_SUCCEEDED, ACT_SELL_LATE, NULL},
        {HOLD_EXPIRED, ON_ORDER_CONFIRMED, ACT_SELL_LATE, NULL},
        {HOLD_EXPIRED, ON_ORDER_CANCELLED, ACT_NONE, "order-cancelled"},
    };
    const struct hold_transition *t;
    int                           s, e;
    size_t                        i;

    for (s = 0; s < HOLD__COUNT; s++)
        for (e = 0; e <= ON_HOLD_EXPIRED; e++) {
            t = hold_transition_find((enum hold_state)s, (enum hold_event)e);
            T_EQ_INT(t != NULL ? (int)t->to : -1, want[s][e], "%s + %s",
                     hold_state_label((enum hold_state)s), event_names[e]);
        }
    for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        t = hold_transition_find(acts[i].from, acts[i].on);
        T_OK(t != NULL && t->act == acts[i].act &&
                 t->fresh == (acts[i].act == ACT_RESERVE || acts[i].act == ACT_SELL_LATE),
             "action of %s + %s (and whether it takes units not held)",
             hold_state_name(acts[i].from), event_names[acts[i].on]);
        T_EQ_STR(t != NULL && t->reason != NULL ? t->reason : "(none)",
                 acts[i].reason != NULL ? acts[i].reason : "(none)", "reason of %s + %s",
                 hold_state_label(acts[i].from), event_names[acts[i].on]);
    }
}

static void
test_states(void)
{
    static const struct {
        const char *text, *reason;
        int         want; /* -1: invalid */
    } rows[] = {
        {"HELD", NULL, HOLD_HELD},
        {"SOLD", NULL, HOLD_SOLD},
        {"REJECTED", NULL, HOLD_REJECTED},
        {"RELEASED", "payment-failed", HOLD_RELEASED},
        {"RELEASED", "order-cancelled", HOLD_RELEASED},
        {"RELEASED", NULL, HOLD_RELEASED},
        {"RELEASED", "hold-expired", HOLD_EXPIRED},
        {"HELD", "hold-expired", HOLD_HELD},
        {"held", NULL, -1},
        {NULL, NULL, -1},
        {"EXPIRED", NULL, -1},
    };
    enum hold_state s;
    size_t          i;
    int             rc;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        s = HOLD__COUNT;
        rc = hold_state_parse(rows[i].text, rows[i].reason, &s);
        T_EQ_INT(rc == ERR_OK ? (int)s : -1, rows[i].want, "parse %s / %s",
                 rows[i].text ? rows[i].text : "NULL", rows[i].reason ? rows[i].reason : "NULL");
    }
    T_EQ_STR(hold_state_name(HOLD_EXPIRED), "RELEASED", "EXPIRED is stored as RELEASED");
    T_EQ_STR(hold_state_label(HOLD_EXPIRED), "EXPIRED", "and named EXPIRED in logs");
    T_EQ_STR(hold_state_name((enum hold_state)99), "?", "an unknown state has no name");
}

/* Under every action received = on_hand + sold holds and reserved moves
 * with on_hand - available. */
static void
test_actions(void)
{
    static const struct {
        enum hold_action act;
        int64_t          reserved, on_hand, sold;
    } rows[] = {
        {ACT_NONE, 0, 0, 0},     {ACT_RESERVE, 1, 0, 0},    {ACT_SELL, -1, -1, 1},
        {ACT_RELEASE, -1, 0, 0}, {ACT_GIVE_BACK, 0, 1, -1}, {ACT_SELL_LATE, 0, -1, 1},
    };
    int64_t r, h, s;
    size_t  i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        hold_action_delta(rows[i].act, &r, &h, &s);
        T_EQ_INT(r, rows[i].reserved, "action %zu: reserved", i);
        T_EQ_INT(h, rows[i].on_hand, "action %zu: on_hand", i);
        T_EQ_INT(s, rows[i].sold, "action %zu: sold", i);
        T_EQ_INT(h + s, 0, "action %zu: received = on_hand + sold is kept", i);
    }
}

static void
test_lines(void)
{
    struct hold_line l[] = {{9, 1}, {3, 2}, {9, 4}, {1, 1}, {3, 1}};
    struct hold_line big[] = {{5, HOLD_QUANTITY}, {5, 1}};
    struct hold_line one[] = {{5, HOLD_QUANTITY}};
    size_t           n = 5;

    T_EQ_INT(hold_lines_normalize(l, &n), ERR_OK, "normalize");
    T_EQ_INT(n, 3, "three products");
    T_OK(l[0].product_id == 1 && l[0].quantity == 1, "product 1: 1");
    T_OK(l[1].product_id == 3 && l[1].quantity == 3, "product 3: 2 + 1");
    T_OK(l[2].product_id == 9 && l[2].quantity == 5, "product 9: 1 + 4");
    n = 2;
    T_EQ_INT(hold_lines_normalize(big, &n), ERR_INVALID, "a merged quantity over the bound");
    n = 1;
    T_EQ_INT(hold_lines_normalize(one, &n), ERR_OK, "the bound itself is fine");
    n = 0;
    T_EQ_INT(hold_lines_normalize(l, &n), ERR_OK, "no lines");
}

static void
test_shortages(void)
{
    struct hold_line   lines[] = {{1, 2}, {2, 5}, {3, 1}, {4, 1}};
    struct stock_level levels[] = {
        {1, 10, 10, 8, 0, 1, 1}, /* 2 available: enough */
        {2, 9, 9, 5, 0, 1, 1},   /* 4 available: short */
        {3, 0, 0, 0, 0, 0, 0},   /* unknown */
        {4, 3, 3, 3, 0, 1, 1},   /* all held */
    };
    struct shortage out[4];
    size_t          n;

    n = hold_shortages(lines, 4, levels, out);
    T_EQ_INT(n, 3, "three short lines");
    T_OK(out[0].product_id == 2 && out[0].requested == 5 && out[0].available == 4, "2: 5 of 4");
    T_OK(out[1].product_id == 3 && out[1].requested == 1 && out[1].available == 0,
         "3: unknown has 0");
    T_OK(out[2].product_id == 4 && out[2].available == 0, "4: all held");
    T_EQ_INT(hold_shortages(lines, 1, levels, out), 0, "the first line alone fits exactly");
}

static void
test_stock_set(void)
{
    static const struct {
        int64_t received, on_hand, reserved, sold, set;
        int64_t want_received, want_on_hand;
    } rows[] = {
        {0, 0, 0, 0, 7, 7, 7},  {7, 7, 0, 0, 0, 0, 0}, {10, 5, 3, 5, 10, 18, 13},
        {10, 5, 3, 5, 0, 8, 3}, {5, 5, 5, 0, 0, 5, 5}, {4, 4, 0, 0, 4, 4, 4},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct stock_level l = {
            1, rows[i].received, rows[i].on_hand, rows[i].reserved, rows[i].sold, 1, 1};

        stock_set_available(&l, rows[i].set);
        T_EQ_INT(l.on_hand - l.reserved, rows[i].set, "set %zu: available is what was set", i);
        T_EQ_INT(l.on_hand, rows[i].want_on_hand, "set %zu: on_hand", i);
        T_EQ_INT(l.received, rows[i].want_received, "set %zu: received", i);
        T_EQ_INT(l.received, l.on_hand + l.sold, "set %zu: received = on_hand + sold", i);
        T_OK(l.reserved <= l.on_hand, "set %zu: held units stay held", i);
    }
}

int
main(void)
{
    test_transitions();
    test_states();
    test_actions();
    test_lines();
    test_shortages();
    test_stock_set();
    return T_DONE();
}
