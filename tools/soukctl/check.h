/*
 * check.h - what `soukctl check orders` reads (check.c) and judges
 * (check_rules.c): the audit views' rows, aggregated per order and per
 * product, and the verdict.
 */
#ifndef SOUKCTL_CHECK_H
#define SOUKCTL_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_rows;

enum status { ST_PENDING, ST_CONFIRMED, ST_REJECTED, ST_CANCELLED, ST_OTHER, ST_N };

#define ST_BIT(s) (1u << (s))
#define ST_FAILED (ST_BIT(ST_REJECTED) | ST_BIT(ST_CANCELLED))
#define ST_ANY    (ST_BIT(ST_N) - 1)

/* The provider's ledger for one order: how many keys, and how many times the
 * "bank" performed each operation over all of them. */
struct prov {
    int64_t order_id, keys, authorized, captured, refunded, voided;
};

/* Inventory's lines for one order, by state. */
struct lines {
    int64_t order_id, n, held, sold, unknown;
};

/* One product: audit_stock beside the units of its HELD and SOLD lines. */
struct stock {
    int64_t product_id, received, on_hand, reserved, sold, held_units, sold_units;
    int     known; /* 0: lines for a product audit_stock has no row for */
};

struct order {
    int64_t     id;
    enum status st;
    const char *status;
};

struct look {
    struct order   *orders;
    struct prov    *provs;
    struct lines   *lines;
    struct stock   *stock;
    size_t          norders, nprovs, nlines, nstock;
    struct db_rows *payments, *hold_states;
    /* the verdict */
    int64_t      by_status[ST_N];
    int64_t      keys, authorized, captured, refunded, voided;
    int64_t      received, on_hand, sold, reserved;
    const char **bad; /* "order 17: rule: why" */
    size_t       nbad, capbad;
};

/* Judge one look: fills the counts and the violations (lines in a). */
void check_judge(struct look *k, struct arena *a);

#endif
