/*
 * 10_reporting.c - the order-fact lattice (every event from every state,
 * then every order of arrival of an order's events, with duplicates: the
 * final fact is the same and the deltas sum to whether it counts), and the
 * report parameters' checks (the monolith's date rule, months, groups).
 */
#include <string.h>

#include "reporting.h"
#include "t.h"

#define P FACT_PENDING
#define C FACT_CONFIRMED
#define X FACT_CANCELLED
#define R FACT_REJECTED

static void
test_apply(void)
{
    static const struct {
        struct fact     cur;
        enum fact_event ev;
        struct fact     next;
        int             changed, delta;
    } rows[] = {
        {{P, 0, 0}, FACT_EV_CREATED, {P, 1, 0}, 1, 0},
        {{P, 1, 0}, FACT_EV_CREATED, {P, 1, 0}, 0, 0},   /* duplicate */
        {{P, 1, 0}, FACT_EV_CONFIRMED, {C, 1, 1}, 1, 1}, /* starts counting */
        {{P, 0, 0}, FACT_EV_CONFIRMED, {C, 0, 0}, 1, 0}, /* confirmed before created */
        {{C, 0, 0}, FACT_EV_CREATED, {C, 1, 1}, 1, 1},   /* ... counts once created comes */
        {{C, 1, 1}, FACT_EV_CREATED, {C, 1, 1}, 0, 0},   /* created again: nothing */
        {{C, 1, 1}, FACT_EV_CONFIRMED, {C, 1, 1}, 0, 0},
        {{C, 1, 1}, FACT_EV_CANCELLED, {X, 1, 0}, 1, -1}, /* refund: subtracts */
        {{X, 1, 0}, FACT_EV_CONFIRMED, {X, 1, 0}, 0, 0},  /* late confirm after cancel */
        {{X, 0, 0}, FACT_EV_CREATED, {X, 1, 0}, 1, 0},
        {{P, 1, 0}, FACT_EV_REJECTED, {R, 1, 0}, 1, 0},
        {{R, 1, 0}, FACT_EV_CANCELLED, {R, 1, 0}, 0, 0}, /* first failure stays */
        {{X, 1, 0}, FACT_EV_REJECTED, {X, 1, 0}, 0, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct fact next;
        int         delta, changed = fact_apply(&rows[i].cur, rows[i].ev, &next, &delta);

        T_EQ_INT(changed, rows[i].changed, "apply row %zu: changed", i);
        T_EQ_INT(delta, rows[i].delta, "apply row %zu: delta", i);
        T_EQ_INT(next.state, rows[i].next.state, "apply row %zu: state", i);
        T_EQ_INT(next.placed, rows[i].next.placed, "apply row %zu: placed", i);
        T_EQ_INT(next.counted, rows[i].next.counted, "apply row %zu: counted", i);
    }
}

/* Every sequence of length 4 over the four events (256 of them, so every
 * order and every duplicate): the deltas sum to the final counted flag, and
 * the final state is the highest one announced. */
static void
test_any_order(void)
{
    int seq, bad_sum = 0, bad_state = 0;

    for (seq = 0; seq < 256; seq++) {
        struct fact f = {P, 0, 0}, next;
        int         i, delta, sum = 0, confirmed = 0, failed = -1, placed = 0;

        for (i = 0; i < 4; i++) {
            enum fact_event ev = (enum fact_event)((seq >> (2 * i)) & 3);

            fact_apply(&f, ev, &next, &delta);
            sum += delta;
            f = next;
            confirmed |= ev == FACT_EV_CONFIRMED;
            placed |= ev == FACT_EV_CREATED;
            if (failed < 0 && (ev == FACT_EV_CANCELLED || ev == FACT_EV_REJECTED))
                failed = ev == FACT_EV_CANCELLED ? X : R;
        }
        bad_sum += sum != f.counted || f.counted != (placed && confirmed && failed < 0);
        bad_state += f.state != (failed >= 0 ? (enum fact_state)failed : confirmed ? C : P);
    }
    T_EQ_INT(bad_sum, 0, "any order: the deltas sum to whether the order counts");
    T_EQ_INT(bad_state, 0, "any order: the final state is the highest announced");
}

static void
test_dates(void)
{
    static const struct {
        const char *z;
        int         day, month;
    } rows[] = {
        {"2026-01-31", 1, 0},  {"2026-02-29", 0, 0}, {"2024-02-29", 1, 0}, {"2000-02-29", 1, 0},
        {"1900-02-29", 0, 0},  {"2026-04-31", 0, 0}, {"2026-13-01", 0, 0}, {"2026-00-10", 0, 0},
        {"0999-12-31", 0, 0},  {"9999-12-31", 1, 0}, {"2026-1-01", 0, 0},  {"2026-01-1", 0, 0},
        {"2026-01-01x", 0, 0}, {"", 0, 0},           {"2026-01", 0, 1},    {"2026-12", 0, 1},
        {"2026-13", 0, 0},     {"20a6-01", 0, 0},    {"2026/01/01", 0, 0}, {"1970-01-01", 1, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        T_EQ_INT(report_day_valid(rows[i].z), rows[i].day, "day '%s'", rows[i].z);
        T_EQ_INT(report_month_valid(rows[i].z), rows[i].month, "month '%s'", rows[i].z);
    }
}

static void
test_groups(void)
{
    enum report_group g;
    enum fact_state   s;
    int               i;

    for (i = 0; i < GROUP__COUNT; i++) {
        T_EQ_INT(report_group_parse(report_group_name((enum report_group)i), &g), ERR_OK,
                 "group %d round-trips", i);
        T_EQ_INT(g, i, "group %d parses back", i);
    }
    T_EQ_INT(report_group_parse("day", &g), ERR_INVALID, "group: day is not one");
    T_EQ_INT(fact_state_parse("CONFIRMED", &s), ERR_OK, "state CONFIRMED parses");
    T_EQ_INT(s, FACT_CONFIRMED, "state CONFIRMED");
    T_EQ_INT(fact_state_parse("confirmed", &s), ERR_INVALID, "state names are upper case");
}

int
main(void)
{
    test_apply();
    test_any_order();
    test_dates();
    test_groups();
    return T_DONE();
}
