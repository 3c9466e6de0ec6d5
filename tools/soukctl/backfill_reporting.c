/*
 * backfill_reporting.c - `soukctl backfill orders` also fills reporting:
 * every monolith order as a fact (placed, its state, day and ship-to
 * country) with its lines (each with its product's category), the product
 * -> category replica, then the per-day tallies and the views recomputed
 * from the facts, so souk-reporting answers the monolith's report right
 * away. Bulk: COPY into staging tables (db_copy_*), then set-based SQL, in
 * one transaction; progress on stderr. Runs only when SOUK_REPORTING_DB is
 * set and not empty (make run sets it), so a shop without reporting (and
 * the tests of other services) is not touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "backfill.h"
#include "buf.h"
#include "db.h"
#include "mdb.h"

#define PAGE     20000      /* monolith orders read per page */
#define PAGE_BUF (64 << 20) /* COPY text of one page (lines included) */

/* The monolith's side. The day is the UTC placed-at day the monolith's report groups by. */
static const char count_sql[] = "SELECT COUNT(*) FROM orders";
static const char products_sql[] =
    "SELECT p.id, c.slug FROM products p JOIN categories c ON c.id = p.category_id";
static const char orders_sql[] =
    "SELECT id, status, DATE_FORMAT(created_at, '%Y-%m-%d'), ship_country FROM orders"
    " WHERE id > ? ORDER BY id LIMIT ?";
static const char lines_sql[] =
    "SELECT oi.order_id, oi.product_id, oi.quantity, oi.unit_price_minor, COALESCE(c.slug, '')"
    " FROM order_items oi LEFT JOIN products p ON p.id = oi.product_id"
    " LEFT JOIN categories c ON c.id = p.category_id"
    " WHERE oi.order_id > ? AND oi.order_id <= ? ORDER BY oi.order_id, oi.product_id";

/* reporting's side: staging tables for the COPY, then the real ones. */
static const char staging_sql[] =
    "CREATE TEMP TABLE bf_products (id bigint, category text) ON COMMIT DROP;"
    "CREATE TEMP TABLE bf_facts (order_id bigint, state text, day date, country text)"
    " ON COMMIT DROP;"
    "CREATE TEMP TABLE bf_lines (order_id bigint, line_no integer, product_id bigint,"
    " quantity bigint, unit_minor bigint, category text) ON COMMIT DROP";
/* What events wrote meanwhile stays (ON CONFLICT DO NOTHING); the tallies
 * are then recomputed from all the facts under a lock that holds the
 * consumers off, so they equal the facts whatever raced. */
static const char apply_sql[] =
    "INSERT INTO products_replica (id, version, category) SELECT id, 1, category"
    " FROM bf_products ON CONFLICT (id) DO NOTHING;"
    "LOCK TABLE facts, sales_day, sales_day_country, sales_day_category IN EXCLUSIVE MODE;"
    "INSERT INTO facts (order_id, state, placed, day, country, items, revenue, counted)"
    " SELECT f.order_id, f.state, true, f.day, f.country, COALESCE(l.items, 0),"
    " COALESCE(l.revenue, 0), f.state = 'CONFIRMED' FROM bf_facts f LEFT JOIN"
    " (SELECT order_id, sum(quantity) AS items, sum(quantity * unit_minor) AS revenue"
    "  FROM bf_lines GROUP BY 1) l USING (order_id) ON CONFLICT (order_id) DO NOTHING;"
    "INSERT INTO fact_lines (order_id, line_no, product_id, quantity, unit_minor, category)"
    " SELECT b.order_id, b.line_no, b.product_id, b.quantity, b.unit_minor, b.category"
    " FROM bf_lines b JOIN facts f ON f.order_id = b.order_id AND f.placed"
    " ON CONFLICT DO NOTHING;"
    "DELETE FROM sales_day; DELETE FROM sales_day_country; DELETE FROM sales_day_category;"
    "INSERT INTO sales_day (day, orders, items, revenue) SELECT day,"
    " count(*) FILTER (WHERE items > 0), sum(items), sum(revenue) FROM facts WHERE counted"
    " GROUP BY 1;"
    "INSERT INTO sales_day_country (day, country, orders, items, revenue) SELECT day, country,"
    " count(*) FILTER (WHERE items > 0), sum(items), sum(revenue) FROM facts WHERE counted"
    " GROUP BY 1, 2;"
    "INSERT INTO sales_day_category (day, category, orders, items, revenue)"
    " SELECT f.day, l.category, count(DISTINCT f.order_id), sum(l.quantity),"
    " sum(l.quantity * l.unit_minor) FROM facts f JOIN fact_lines l USING (order_id)"
    " WHERE f.counted GROUP BY 1, 2;"
    "UPDATE feed SET last_event_at = greatest(last_event_at, now()), changes = changes + 1"
    " WHERE id = 1";
static const char refresh_sql[] = "REFRESH MATERIALIZED VIEW sales_month_category_country;"
                                  "REFRESH MATERIALIZED VIEW top_products_month;"
                                  "UPDATE refreshes SET refreshed_at = now(), took_ms = 0,"
                                  " changes = (SELECT changes FROM feed WHERE id = 1)";
static const char filled_sql[] = "SELECT EXISTS (SELECT 1 FROM facts)";

struct bf {
    struct mdb *mono;
    struct db  *dst;
    struct buf  text;
    int64_t     total, orders, lines, products, counted;
    double      t0, last;
};

static void
progress(struct bf *b, int force)
{
    double t = common_now();

    if (!force && t - b->last < 0.5)
        return;
    b->last = t;
    fprintf(stderr, "backfill: %-18s %9lld/%-9lld (%.1f s)\n", "reporting facts",
            (long long)b->orders, (long long)b->total, t - b->t0);
}

/* Send what b->text holds as the rows of one COPY into table (cols). */
static int
copy_text(struct bf *b, const char *copy_sql)
{
    int rc;

    rc = buf_error(&b->text);
    if (rc == ERR_OK)
        rc = db_copy_begin(b->dst, copy_sql);
    if (rc)
        return rc;
    rc = db_copy_put(b->dst, buf_data(&b->text), buf_len(&b->text));
    rc = db_copy_end(b->dst, rc ? "backfill failed" : NULL, NULL) || rc;
    buf_reset(&b->text);
    return rc ? ERR_INTERNAL : ERR_OK;
}

/* One row of text fields. */
static void
row(struct buf *t, const char *const *f, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i)
            buf_putc(t, '\t');
        db_copy_text(t, f[i]);
    }
    buf_putc(t, '\n');
}

static int
copy_products(struct bf *b, struct arena *a)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(b->mono, a, products_sql, NULL, 0, &rs);
    if (rc)
        return rc;
    for (i = 0; i < rs->nrows; i++)
        row(&b->text, (const char *const[]){mdb_get(rs, i, 0), mdb_get(rs, i, 1)}, 2);
    b->products = (int64_t)rs->nrows;
    return copy_text(b, "COPY bf_products (id, category) FROM STDIN");
}

/* Orders after *after (one page) and their lines; *n orders read. */
static int
copy_page(struct bf *b, struct arena *a, int64_t *after, size_t *n)
{
    struct mdb_rows *os, *ls;
    int64_t          last, order = 0;
    size_t           i;
    int              rc, line_no = 0;

    rc = mdb_query(b->mono, a, orders_sql, (struct mdb_arg[]){MDB_I64(*after), MDB_I64(PAGE)}, 2,
                   &os);
    if (rc || os->nrows == 0) {
        *n = 0;
        return rc;
    }
    last = mdb_i64(os, os->nrows - 1, 0);
    for (i = 0; i < os->nrows; i++)
        row(&b->text,
            (const char *const[]){mdb_get(os, i, 0), mdb_get(os, i, 1), mdb_get(os, i, 2),
                                  mdb_get(os, i, 3)},
            4);
    rc = copy_text(b, "COPY bf_facts (order_id, state, day, country) FROM STDIN");
    if (rc == ERR_OK)
        rc = mdb_query(b->mono, a, lines_sql, (struct mdb_arg[]){MDB_I64(*after), MDB_I64(last)}, 2,
                       &ls);
    if (rc)
        return rc;
    for (i = 0; i < ls->nrows; i++) {
        const char *no;

        line_no = mdb_i64(ls, i, 0) == order ? line_no + 1 : 1;
        order = mdb_i64(ls, i, 0);
        no = arena_printf(a, "%d", line_no);
        row(&b->text,
            (const char *const[]){mdb_get(ls, i, 0), no, mdb_get(ls, i, 1), mdb_get(ls, i, 2),
                                  mdb_get(ls, i, 3), mdb_get(ls, i, 4)},
            6);
    }
    rc = copy_text(b, "COPY bf_lines (order_id, line_no, product_id, quantity, unit_minor, "
                      "category) FROM STDIN");
    *after = last;
    *n = os->nrows;
    b->lines += (int64_t)ls->nrows;
    return rc;
}

static int
fill(struct bf *b, struct arena *a)
{
    struct mdb_rows *rs;
    struct db_rows  *c;
    int64_t          after = 0;
    size_t           n = 1;
    int              rc;

    rc = mdb_query(b->mono, a, count_sql, NULL, 0, &rs);
    if (rc == ERR_OK)
        b->total = mdb_i64(rs, 0, 0);
    if (rc == ERR_OK)
        rc = db_begin(b->dst);
    if (rc == ERR_OK)
        rc = db_exec_sql(b->dst, a, staging_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = copy_products(b, a);
    while (rc == ERR_OK && n > 0) {
        arena_reset(a); /* the pages' rows; nothing read before is kept */
        rc = copy_page(b, a, &after, &n);
        b->orders += (int64_t)n;
        progress(b, n == 0);
    }
    if (rc == ERR_OK)
        rc = db_exec_sql(b->dst, a, apply_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(b->dst, a, "SELECT count(*) FROM facts WHERE counted", 0, NULL, &c);
    if (rc == ERR_OK)
        b->counted = db_i64(c, 0, 0);
    if (rc == ERR_OK)
        rc = db_commit(b->dst);
    if (rc) {
        db_rollback(b->dst);
        return rc;
    }
    return db_exec_sql(b->dst, a, refresh_sql, 0, NULL, NULL);
}

int
backfill_reporting(struct ctl *ctl, int if_empty)
{
    struct bf       b = {0};
    struct arena   *a = arena_create();
    struct db_rows *rs;
    int             rc = ERR_OK;

    if (getenv("SOUK_REPORTING_DB") == NULL || getenv("SOUK_REPORTING_DB")[0] == '\0') {
        fprintf(stderr, "backfill: SOUK_REPORTING_DB is not set; reporting is not filled\n");
        goto done;
    }
    b.t0 = b.last = common_now();
    b.mono = mdb_new(ctl->cfg.monolith_db);
    b.dst = db_new(ctl->cfg.reporting_db, NULL);
    buf_init(&b.text, PAGE_BUF);
    if (b.mono == NULL) {
        common_fail("SOUK_MONOLITH_DB is not a valid dsn");
        rc = ERR_INVALID;
        goto done;
    }
    if (if_empty) {
        rc = db_exec_sql(b.dst, a, filled_sql, 0, NULL, &rs);
        if (rc == ERR_OK && strcmp(db_get(rs, 0, 0), "t") == 0) {
            printf("reporting already has order facts; nothing to do\n");
            goto done;
        }
    }
    if (rc == ERR_OK)
        rc = fill(&b, a);
    if (rc) {
        common_fail("backfill of reporting failed (see the log line above); it is safe to run "
                    "again");
        goto done;
    }
    printf("backfilled %lld order facts (%lld counted), %lld lines, %lld products into reporting "
           "in %.1f s\n",
           (long long)b.orders, (long long)b.counted, (long long)b.lines, (long long)b.products,
           common_now() - b.t0);
done:
    buf_free(&b.text);
    db_free(b.dst);
    mdb_free(b.mono);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
