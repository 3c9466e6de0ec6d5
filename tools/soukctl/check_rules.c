/*
 * check_rules.c - the rules of `soukctl check orders` (SAGA.md "Checker
 * rules") as two tables, per order (with the statuses each applies to) and
 * per product, and the judging of one look (check.h) against them: the
 * join of the three databases' rows by order id happens here.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "check.h"

/* One order with what the other two services hold for it (NULL: nothing). */
struct facts {
    const struct order *o;
    const struct prov  *p;
    const struct lines *l;
};

/* ------------------------------------------------------------------ rules */

/* A rule answers NULL when the facts keep it, else why not (in a). */
typedef const char *order_rule_fn(const struct facts *f, struct arena *a);
typedef const char *stock_rule_fn(const struct stock *s, struct arena *a);

#define P(f, field) ((f)->p ? (f)->p->field : 0)
#define L(f, field) ((f)->l ? (f)->l->field : 0)

static const char *
still_pending(const struct facts *f, struct arena *a)
{
    (void)f;
    return arena_strdup(a, "still PENDING");
}

static const char *
unknown_status(const struct facts *f, struct arena *a)
{
    return arena_printf(a, "status \"%s\" is not PENDING, CONFIRMED, REJECTED or CANCELLED",
                        f->o->status);
}

static const char *
one_key(const struct facts *f, struct arena *a)
{
    if (P(f, keys) <= 1)
        return NULL;
    return arena_printf(a, "%lld idempotency keys at the provider (want at most 1)",
                        (long long)P(f, keys));
}

static const char *
authorized_once(const struct facts *f, struct arena *a)
{
    if (P(f, authorized) == 1)
        return NULL;
    return arena_printf(a, "CONFIRMED with %lld authorizations at the provider (want 1)",
                        (long long)P(f, authorized));
}

static const char *
captured_once(const struct facts *f, struct arena *a)
{
    if (P(f, captured) == 1)
        return NULL;
    return arena_printf(a, "CONFIRMED with %lld captures at the provider (want 1)",
                        (long long)P(f, captured));
}

static const char *
not_given_back(const struct facts *f, struct arena *a)
{
    if (P(f, refunded) == 0 && P(f, voided) == 0)
        return NULL;
    return arena_printf(a, "CONFIRMED but the provider refunded %lld and voided %lld times",
                        (long long)P(f, refunded), (long long)P(f, voided));
}

static const char *
lines_sold(const struct facts *f, struct arena *a)
{
    if (L(f, n) > 0 && L(f, sold) == L(f, n))
        return NULL;
    return arena_printf(a, "CONFIRMED but %lld of its %lld lines are SOLD at inventory",
                        (long long)L(f, sold), (long long)L(f, n));
}

static const char *
no_capture_kept(const struct facts *f, struct arena *a)
{
    if (P(f, captured) <= P(f, refunded))
        return NULL;
    return arena_printf(a, "%s with %lld captures and %lld refunds at the provider", f->o->status,
                        (long long)P(f, captured), (long long)P(f, refunded));
}

static const char *
no_authorization_kept(const struct facts *f, struct arena *a)
{
    if (P(f, authorized) <= P(f, voided) + P(f, refunded))
        return NULL;
    return arena_printf(a, "%s with %lld authorizations, %lld voids and %lld refunds", f->o->status,
                        (long long)P(f, authorized), (long long)P(f, voided),
                        (long long)P(f, refunded));
}

static const char *
no_stock_kept(const struct facts *f, struct arena *a)
{
    if (L(f, held) == 0 && L(f, sold) == 0)
        return NULL;
    return arena_printf(a, "%s with %lld lines HELD and %lld SOLD at inventory", f->o->status,
                        (long long)L(f, held), (long long)L(f, sold));
}

static const char *
hold_states_known(const struct facts *f, struct arena *a)
{
    if (L(f, unknown) == 0)
        return NULL;
    return arena_printf(a, "%lld lines in a state not HELD, SOLD, RELEASED or REJECTED",
                        (long long)L(f, unknown));
}

/* Which orders a rule judges (a mask of statuses), and the rule. */
static const struct order_rule {
    const char    *name;
    unsigned       statuses;
    order_rule_fn *broken;
} order_rules[] = {
    {"terminal", ST_BIT(ST_PENDING), still_pending},
    {"known-status", ST_BIT(ST_OTHER), unknown_status},
    {"one-provider-key", ST_ANY, one_key},
    {"confirmed-authorized-once", ST_BIT(ST_CONFIRMED), authorized_once},
    {"confirmed-captured-once", ST_BIT(ST_CONFIRMED), captured_once},
    {"confirmed-not-refunded", ST_BIT(ST_CONFIRMED), not_given_back},
    {"confirmed-lines-sold", ST_BIT(ST_CONFIRMED), lines_sold},
    {"no-capture-kept", ST_FAILED, no_capture_kept},
    {"no-authorization-kept", ST_FAILED, no_authorization_kept},
    {"no-stock-kept", ST_FAILED, no_stock_kept},
    {"known-hold-state", ST_ANY, hold_states_known},
    {NULL, 0, NULL},
};

static const char *
stock_known(const struct stock *s, struct arena *a)
{
    if (s->known)
        return NULL;
    return arena_strdup(a, "order lines for a product audit_stock has no row for");
}

static const char *
not_negative(const struct stock *s, struct arena *a)
{
    if (s->received >= 0 && s->on_hand >= 0 && s->reserved >= 0 && s->sold >= 0)
        return NULL;
    return arena_printf(a, "negative: received %lld, on_hand %lld, reserved %lld, sold %lld",
                        (long long)s->received, (long long)s->on_hand, (long long)s->reserved,
                        (long long)s->sold);
}

static const char *
conserved(const struct stock *s, struct arena *a)
{
    if (s->received == s->on_hand + s->sold)
        return NULL;
    return arena_printf(a, "received %lld != on_hand %lld + sold %lld", (long long)s->received,
                        (long long)s->on_hand, (long long)s->sold);
}

static const char *
reserved_held(const struct stock *s, struct arena *a)
{
    if (s->reserved == s->held_units)
        return NULL;
    return arena_printf(a, "reserved %lld != %lld units in HELD lines", (long long)s->reserved,
                        (long long)s->held_units);
}

static const char *
sold_lines(const struct stock *s, struct arena *a)
{
    if (s->sold == s->sold_units)
        return NULL;
    return arena_printf(a, "sold %lld != %lld units in SOLD lines", (long long)s->sold,
                        (long long)s->sold_units);
}

static const char *
reserved_on_hand(const struct stock *s, struct arena *a)
{
    if (s->reserved <= s->on_hand)
        return NULL;
    return arena_printf(a, "reserved %lld > on_hand %lld", (long long)s->reserved,
                        (long long)s->on_hand);
}

static const struct stock_rule {
    const char    *name;
    int            unknown_too; /* 1: also for a product with no audit_stock row */
    stock_rule_fn *broken;
} stock_rules[] = {
    {"stock-row", 1, stock_known},
    {"not-negative", 0, not_negative},
    {"stock-conserved", 0, conserved},
    {"reserved-is-held", 1, reserved_held},
    {"sold-is-sold-lines", 1, sold_lines},
    {"reserved-within-on-hand", 0, reserved_on_hand},
    {NULL, 0, NULL},
};

/* ---------------------------------------------------------------- judging */

static void
violation(struct look *k, struct arena *a, const char *line)
{
    if (k->nbad == k->capbad) {
        const char **grown;

        k->capbad = k->capbad ? 2 * k->capbad : 64;
        grown = arena_array(a, const char *, k->capbad);
        if (k->nbad)
            memcpy(grown, k->bad, k->nbad * sizeof(*grown));
        k->bad = grown;
    }
    k->bad[k->nbad++] = line;
}

static int
by_order_id(const void *key, const void *elem)
{
    int64_t a = *(const int64_t *)key, b = *(const int64_t *)elem; /* first field: the id */

    return (a > b) - (a < b);
}

/* The row of a sorted array whose first int64 field is id, or NULL. */
static const void *
find(const void *rows, size_t n, size_t size, int64_t id)
{
    return n ? bsearch(&id, rows, n, size, by_order_id) : NULL;
}

static void
judge_orders(struct look *k, struct arena *a)
{
    const struct order_rule *r;
    size_t                   i;

    for (i = 0; i < k->norders; i++) {
        struct facts f = {&k->orders[i],
                          find(k->provs, k->nprovs, sizeof(struct prov), k->orders[i].id),
                          find(k->lines, k->nlines, sizeof(struct lines), k->orders[i].id)};
        const char  *why;

        k->by_status[f.o->st]++;
        for (r = order_rules; r->name != NULL; r++) {
            if (!(r->statuses & ST_BIT(f.o->st)))
                continue;
            why = r->broken(&f, a);
            if (why != NULL)
                violation(k, a,
                          arena_printf(a, "order %lld: %s: %s", (long long)f.o->id, r->name, why));
        }
    }
}

/* Provider keys and inventory lines for an order orders never created. */
static void
judge_orphans(struct look *k, struct arena *a)
{
    size_t i;

    for (i = 0; i < k->nprovs; i++) {
        const struct prov *p = &k->provs[i];

        k->keys += p->keys;
        k->authorized += p->authorized;
        k->captured += p->captured;
        k->refunded += p->refunded;
        k->voided += p->voided;
        if (find(k->orders, k->norders, sizeof(struct order), p->order_id) == NULL)
            violation(k, a,
                      arena_printf(a,
                                   "order %lld: charge-has-order: the provider has %lld key(s), "
                                   "%lld authorization(s) for an order orders never created",
                                   (long long)p->order_id, (long long)p->keys,
                                   (long long)p->authorized));
    }
    for (i = 0; i < k->nlines; i++)
        if (find(k->orders, k->norders, sizeof(struct order), k->lines[i].order_id) == NULL)
            violation(k, a,
                      arena_printf(a,
                                   "order %lld: hold-has-order: inventory has %lld line(s) for "
                                   "an order orders never created",
                                   (long long)k->lines[i].order_id, (long long)k->lines[i].n));
}

static void
judge_stock(struct look *k, struct arena *a)
{
    const struct stock_rule *r;
    size_t                   i;

    for (i = 0; i < k->nstock; i++) {
        const struct stock *s = &k->stock[i];
        const char         *why;

        k->received += s->received;
        k->on_hand += s->on_hand;
        k->sold += s->sold;
        k->reserved += s->reserved;
        for (r = stock_rules; r->name != NULL; r++) {
            if (!s->known && !r->unknown_too)
                continue;
            why = r->broken(s, a);
            if (why != NULL)
                violation(k, a,
                          arena_printf(a, "product %lld: %s: %s", (long long)s->product_id, r->name,
                                       why));
        }
    }
}

/* One look at the three databases, judged. */
void
check_judge(struct look *k, struct arena *a)
{
    judge_orders(k, a);
    judge_orphans(k, a);
    judge_stock(k, a);
}
