/*
 * reporting.c - pure logic of the reporting service: the order-fact lattice
 * (which event moves an order's fact where, and whether the order starts or
 * stops counting in the tallies), and the checks of report parameters.
 * No I/O; unit-tested in t/10_reporting.c.
 */
#include <string.h>

#include "reporting.h"

static const char *const state_names[FACT__COUNT] = {
    [FACT_PENDING] = "PENDING",
    [FACT_CONFIRMED] = "CONFIRMED",
    [FACT_CANCELLED] = "CANCELLED",
    [FACT_REJECTED] = "REJECTED",
};

/* Height in the lattice: an event never moves a fact down, and the two
 * terminal failures are equal tops, so the first of them to arrive stays
 * (orders never emits both for one order). */
static const int state_rank[FACT__COUNT] = {
    [FACT_PENDING] = 0,
    [FACT_CONFIRMED] = 1,
    [FACT_CANCELLED] = 2,
    [FACT_REJECTED] = 2,
};

/* The state each event announces; order.created announces PENDING (rank 0,
 * so it never moves a state) and, besides, places the order. */
static const enum fact_state event_state[FACT_EV__COUNT] = {
    [FACT_EV_CREATED] = FACT_PENDING,
    [FACT_EV_CONFIRMED] = FACT_CONFIRMED,
    [FACT_EV_CANCELLED] = FACT_CANCELLED,
    [FACT_EV_REJECTED] = FACT_REJECTED,
};

static const char *const group_names[GROUP__COUNT] = {
    [GROUP_MONTH] = "month",
    [GROUP_MONTH_CATEGORY] = "month_category",
    [GROUP_MONTH_COUNTRY] = "month_country",
};

const char *
fact_state_name(enum fact_state s)
{
    return (unsigned)s < FACT__COUNT ? state_names[s] : "?";
}

int
fact_state_parse(const char *name, enum fact_state *out)
{
    int i;

    for (i = 0; i < FACT__COUNT; i++)
        if (strcmp(state_names[i], name) == 0) {
            *out = (enum fact_state)i;
            return ERR_OK;
        }
    return ERR_INVALID;
}

int
fact_apply(const struct fact *cur, enum fact_event ev, struct fact *next, int *delta)
{
    enum fact_state to = event_state[ev];

    *next = *cur;
    if (state_rank[to] > state_rank[cur->state])
        next->state = to;
    if (ev == FACT_EV_CREATED)
        next->placed = 1;
    next->counted = next->placed && next->state == FACT_CONFIRMED;
    *delta = next->counted - cur->counted;
    return next->state != cur->state || next->placed != cur->placed;
}

static int
digits(const char *z, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (z[i] < '0' || z[i] > '9')
            return 0;
    return 1;
}

static int
num(const char *z, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++)
        v = v * 10 + (z[i] - '0');
    return v;
}

int
report_month_valid(const char *z)
{
    return strlen(z) == 7 && z[4] == '-' && digits(z, 4) && digits(z + 5, 2) && num(z, 4) >= 1000 &&
           num(z + 5, 2) >= 1 && num(z + 5, 2) <= 12;
}

int
report_day_valid(const char *z)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int              y, m, d;

    if (strlen(z) != 10 || z[7] != '-' || !digits(z + 8, 2))
        return 0;
    {
        char month[8];

        memcpy(month, z, 7);
        month[7] = '\0';
        if (!report_month_valid(month))
            return 0;
    }
    y = num(z, 4);
    m = num(z + 5, 2);
    d = num(z + 8, 2);
    if (d < 1 || d > mdays[m - 1])
        return 0;
    /* 29 February only in leap years, as MariaDB (and so the monolith) has it. */
    return !(m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

int
report_group_parse(const char *name, enum report_group *out)
{
    int i;

    for (i = 0; i < GROUP__COUNT; i++)
        if (strcmp(group_names[i], name) == 0) {
            *out = (enum report_group)i;
            return ERR_OK;
        }
    return ERR_INVALID;
}

const char *
report_group_name(enum report_group g)
{
    return (unsigned)g < GROUP__COUNT ? group_names[g] : "?";
}
