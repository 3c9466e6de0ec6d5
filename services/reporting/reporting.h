/*
 * reporting.h - the reporting service's structs and cross-file prototypes.
 * reporting.c is pure logic (the order-fact lattice and what each event does
 * to the tallies, date and group parsing), store.c holds every SQL statement,
 * events.c applies order and product events, refresh.c is the job that
 * refreshes the materialized views, api.c the v1 and v2 report handlers.
 */
#ifndef SOUK_REPORTING_H
#define SOUK_REPORTING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct reporting_config {
    struct service_config svc;        /* SOUK_LISTEN, SOUK_REPORTING_DB, SOUK_AMQP_URL, ... */
    int64_t               refresh_ms; /* SOUK_REPORTING_REFRESH_MS */
    int64_t               cache_ms;   /* SOUK_REPORTING_CACHE_MS */
    int64_t               consumers;  /* SOUK_REPORTING_CONSUMERS */
};

extern struct reporting_config reporting_cfg; /* read-only after main() */

/* The monolith's report is in its one shop currency (monolith/api_orders.c). */
#define REPORT_CURRENCY  "EUR"
#define REPORT_LINES_MAX 1000 /* lines of one order.created (orders allows 100) */
#define REPORT_TOP_MAX   20   /* ranks kept by the top_products_month view */

/* An order's state as reporting knows it: a lattice, each event only moves
 * it up (PENDING < CONFIRMED < CANCELLED | REJECTED), so any order of
 * arrival ends in the same place. */
enum fact_state { FACT_PENDING, FACT_CONFIRMED, FACT_CANCELLED, FACT_REJECTED, FACT__COUNT };

enum fact_event {
    FACT_EV_CREATED, /* order.created: placed-at day, country, priced lines */
    FACT_EV_CONFIRMED,
    FACT_EV_CANCELLED,
    FACT_EV_REJECTED,
    FACT_EV__COUNT
};

/* One order's fact row. counted: in the tallies (CONFIRMED and placed). */
struct fact {
    enum fact_state state;
    int             placed, counted;
};

/* A priced line of order.created. */
struct fact_line {
    int64_t product_id, quantity, unit_minor;
};

/* What order.created tells. */
struct placed {
    const char       *created_at; /* RFC 3339; its UTC day is the order's day */
    const char       *country;    /* ship_to.country */
    struct fact_line *lines;
    size_t            n;
};

enum report_group { GROUP_MONTH, GROUP_MONTH_CATEGORY, GROUP_MONTH_COUNTRY, GROUP__COUNT };

/* One row of a sales report; category and country are NULL unless grouped by them. */
struct sales_row {
    const char *month, *category, *country;
    int64_t     orders, items, revenue;
};

/* A top product of a month. */
struct top_row {
    int64_t rank, product_id, items, revenue;
};

/* How fresh an answer is: as_of (RFC 3339 UTC, ms; and as epoch ms) and now - as_of. */
struct freshness {
    const char *as_of;
    int64_t     as_of_ms, age_ms;
};

/* A tally report's rows as JSON text (the array), as cache.c keeps it. */
struct cached {
    const char      *body;
    size_t           len;
    struct freshness fresh; /* age_ms is not kept: it is computed when served */
};

/* reporting.c: pure logic */
const char    *fact_state_name(enum fact_state s);
MUST_CHECK int fact_state_parse(const char *name, enum fact_state *out);
/* The fact after ev: *next, and *delta = +1 when the order starts counting,
 * -1 when it stops, 0 otherwise. Returns 1 when anything changed, 0 for an
 * event that changes nothing (a duplicate, a late or reordered one). */
int fact_apply(const struct fact *cur, enum fact_event ev, struct fact *next, int *delta);
/* 1 when z is YYYY-MM-DD naming a real day of year 1000 or later (the
 * monolith's rule, shop_date_valid); YYYY-MM for report_month_valid. */
int report_day_valid(const char *z);
int report_month_valid(const char *z);
/* ERR_OK and *out for "month", "month_category", "month_country"; else ERR_INVALID. */
MUST_CHECK int report_group_parse(const char *name, enum report_group *out);
const char    *report_group_name(enum report_group g);

/* store.c: every SQL statement */
extern const struct db_stmt reporting_stmts[];
/* Order id's fact, created PENDING and unplaced if it is new, locked until
 * the transaction on w->db ends. */
MUST_CHECK int store_fact_lock(struct work *w, int64_t id, struct fact *out);
/* Record what order.created tells (day, country, lines with each product's
 * category from the replica, items, revenue) in fact id. */
MUST_CHECK int store_fact_place(struct work *w, int64_t id, const struct placed *p);
/* Write f's state, placed and counted into fact id; add (sign 1) or take out
 * (sign -1; 0: neither) placed fact id from the three tallies; and record that
 * the tallies include events up to occurred_at (the newest such time). */
MUST_CHECK int store_fact_settle(struct work *w, int64_t id, const struct fact *f, int sign,
                                 const char *occurred_at);
/* Product replica write; *applied is 0 when a newer version was already there. */
MUST_CHECK int store_product_apply(struct work *w, int64_t id, int64_t version, int deleted,
                                   const char *category, int *applied);
/* Counted orders placed on days from..to (both included, YYYY-MM-DD) by
 * month (and category or country), from the tallies; *f from the feed. */
MUST_CHECK int store_sales(struct work *w, const char *from, const char *to, enum report_group g,
                           struct sales_row **out, size_t *n, struct freshness *f);
/* Months from..to (YYYY-MM) by category and country, from the view; *f its refresh. */
MUST_CHECK int store_rollup(struct work *w, const char *from, const char *to,
                            struct sales_row **out, size_t *n, struct freshness *f);
/* The month's best products by revenue (at most limit), from the view. */
MUST_CHECK int store_top(struct work *w, const char *month, int64_t limit, struct top_row **out,
                         size_t *n, struct freshness *f);
/* REFRESH MATERIALIZED VIEW CONCURRENTLY the i-th view and record it, or
 * only mark it current when no change was applied since its last refresh
 * (*refreshed 0); ERR_NOT_FOUND past the last one. */
MUST_CHECK int store_refresh(struct work *w, size_t i, const char **name, int *refreshed);

/* cache.c: answers kept between requests while no event changed the tallies
 * (the generation) and for at most ttl_ms (cache_setup; 0 disables). */
void     cache_setup(int64_t ttl_ms);
uint64_t cache_generation(void);
/* After a commit that changed the tallies (consumers' after_commit). */
void cache_bump(void);
/* 1 and *out (copied into a) when key was stored in generation gen and is young enough. */
int  cache_get(struct arena *a, const char *key, uint64_t gen, struct cached *out);
void cache_put(const char *key, uint64_t gen, const struct cached *c);

/* events.c */
extern const struct mq_consumer reporting_consumers[];

/* refresh.c: the materialized views' refresh job (a lib/sweep.h job). */
int  refresh_views(struct work *w, int *more);
void refresh_setup(void); /* its metrics; once, before serving */

/* api.c */
int sales_v1(struct req *r);
int sales_v2(struct req *r);
int rollup_v2(struct req *r);
int top_products_v2(struct req *r);

#endif
