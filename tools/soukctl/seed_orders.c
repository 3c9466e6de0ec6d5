/*
 * seed_orders.c - orders over the 24 months before --now, with their lines
 * and payments. Customers and times are drawn first and sorted, so order
 * ids rise with created_at as they would in a live shop; each order's
 * contents then come from its own stream (seed, id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soukctl.h"

#define SEED_DAY         86400
#define SEED_DEMO        2
#define SEED_DEMO_ORDERS 20
#define SEED_MAX_LINES   5

/* Line counts 1..5 by weight, statuses by weight. */
static const unsigned seed_line_weights[SEED_MAX_LINES] = {40, 25, 18, 10, 7};

static const struct seed_status {
    const char *status;
    unsigned    weight;
    int         paid; /* has an APPROVED payment */
} seed_statuses[] = {
    {"CONFIRMED", 92, 1},
    {"CANCELLED", 8, 0},
};

/* Simulator test cards (DESIGN.md §3): only approved ones are ever seeded. */
static const char *const seed_cards[] = {"4242", "4444", "1881", "0005", "5100", NULL};

struct seed_slot {
    int64_t  t, user;
    uint64_t i; /* draw order: breaks ties so the sort is total */
};

static int
by_time(const void *x, const void *y)
{
    const struct seed_slot *a = x, *b = y;

    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static size_t
weighted(struct rng *r, const unsigned *w, size_t n)
{
    unsigned total = 0, x;
    size_t   i;

    for (i = 0; i < n; i++)
        total += w[i];
    x = (unsigned)rng_below(r, total);
    for (i = 0; x >= w[i]; i++)
        x -= w[i];
    return i;
}

/* Who ordered when: the demo customer's first, everyone else at random. */
static struct seed_slot *
draw_slots(struct seed *s)
{
    struct seed_slot *slot = calloc((size_t)s->orders + 1, sizeof(*slot));
    struct rng        r = rng_for(s->seed, "order-slots", 0);
    int64_t           demo = s->orders >= 2 * SEED_DEMO_ORDERS ? SEED_DEMO_ORDERS : s->orders / 2;
    int64_t           i, from;

    if (slot == NULL)
        abort();
    for (i = 0; i < s->orders; i++) {
        slot[i].user = i < demo ? SEED_DEMO : people_customer(s, &r);
        from = people_created(s, slot[i].user);
        if (from < s->now - 730 * SEED_DAY)
            from = s->now - 730 * SEED_DAY;
        slot[i].t = rng_range(&r, from, s->now - 3600);
        slot[i].i = (uint64_t)i;
    }
    qsort(slot, (size_t)s->orders, sizeof(*slot), by_time);
    return slot;
}

static const struct seed_status *
pick_status(struct rng *r)
{
    unsigned w[sizeof(seed_statuses) / sizeof(seed_statuses[0])];
    size_t   i;

    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        w[i] = seed_statuses[i].weight;
    return &seed_statuses[weighted(r, w, sizeof(w) / sizeof(w[0]))];
}

/* One order: lines first (the total is their sum), then the order row and,
 * when paid, its payment a few seconds later. */
static int
order(struct seed *s, struct batch *b, int64_t id, const struct seed_slot *slot,
      int64_t *payment_id, struct arena *a)
{
    struct rng                r = rng_for(s->seed, "order", (uint64_t)id);
    const struct seed_status *st = pick_status(&r);
    int64_t                   items[SEED_MAX_LINES], qty, total = 0;
    const char               *ship[5], *at = seed_time(a, slot->t, (int)rng_below(&r, 1000));
    size_t                    i, n;
    int                       rc = ERR_OK;

    n = catalog_pick(s, &r, items, weighted(&r, seed_line_weights, SEED_MAX_LINES) + 1);
    for (i = 0; rc == ERR_OK && i < n; i++) {
        qty = rng_pct(&r, 75) ? 1 : rng_range(&r, 2, 3);
        total += qty * s->price[items[i]];
        rc = batch_row(&b[1], (struct mdb_arg[]){MDB_I64(id), MDB_I64(items[i]), MDB_I64(qty),
                                                 MDB_I64(s->price[items[i]]), MDB_STR("EUR")});
    }
    people_address(s, slot->user, a, ship);
    if (rc == ERR_OK)
        rc = batch_row(&b[0],
                       (struct mdb_arg[]){MDB_I64(id), MDB_I64(slot->user), MDB_STR(st->status),
                                          MDB_I64(total), MDB_STR("EUR"), MDB_STR(ship[0]),
                                          MDB_STR(ship[1]), MDB_STR(ship[2]), MDB_STR(ship[3]),
                                          MDB_STR(ship[4]), MDB_STR(at)});
    if (rc || !st->paid)
        return rc;
    ++*payment_id;
    return batch_row(&b[2],
                     (struct mdb_arg[]){
                         MDB_I64(*payment_id), MDB_I64(id), MDB_I64(total), MDB_STR("EUR"),
                         MDB_STR("APPROVED"),
                         MDB_STR(arena_printf(a, "sim_%016llx", (unsigned long long)rng_next(&r))),
                         MDB_STR(rng_pick(&r, seed_cards)),
                         MDB_STR(seed_time(a, slot->t + rng_range(&r, 2, 40), 0))});
}

int
orders_load(struct seed *s)
{
    struct seed_slot *slot;
    struct arena     *a = arena_create();
    struct batch      b[3];
    int64_t           id, payment_id = 0;
    size_t            i;
    int               rc = ERR_OK;

    slot = draw_slots(s);
    batch_open(&b[0], s, "orders",
               "INSERT INTO orders (id, user_id, status, total_minor, currency, ship_line1, "
               "ship_line2, ship_city, ship_postal_code, ship_country, created_at) VALUES ",
               11);
    batch_open(&b[1], s, "order_items",
               "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, "
               "currency) VALUES ",
               5);
    batch_open(&b[2], s, "payments",
               "INSERT INTO payments (id, order_id, amount_minor, currency, status, provider_ref, "
               "card_last4, created_at) VALUES ",
               8);
    for (id = 1; rc == ERR_OK && id <= s->orders; id++) {
        rc = order(s, b, id, &slot[id - 1], &payment_id, a);
        arena_reset(a);
        seed_progress(s, "orders", id, s->orders, id == s->orders);
    }
    for (i = 0; i < 3; i++) {
        if (rc == ERR_OK)
            rc = batch_flush(&b[i]);
        batch_close(&b[i]);
    }
    free(slot);
    arena_destroy(a);
    return rc;
}
