/*
 * store.c - every SQL statement of the reporting service, as one table, and
 * the row -> struct mapping. A fact's change and the tallies' change commit
 * in the consumer's transaction (with its inbox row); the reports read the
 * tallies (a few hundred day rows per range) or the materialized views.
 */
#include <string.h>

#include "buf.h"
#include "reporting.h"

/* Milliseconds, UTC. */
#define MS(col)       "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define AGE(col)      "(extract(epoch FROM clock_timestamp() - " col ") * 1000)::bigint"
#define EPOCH_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* Add $5 (1 or -1; 0: nothing) times placed fact $1 to a tally: the order
 * counts once when it has lines (the monolith's join drops an order without
 * any). */
#define TALLY_ADD(table, keys, vals)                                                               \
    "INSERT INTO " table " AS s (" keys ", orders, items, revenue)"                                \
    " SELECT " vals ", CASE WHEN f.items > 0 THEN $5::bigint ELSE 0 END,"                          \
    " $5::bigint * f.items, $5::bigint * f.revenue FROM facts f"                                   \
    " WHERE f.order_id = $1::bigint AND $5::bigint <> 0"                                           \
    " ON CONFLICT (" keys ") DO UPDATE SET orders = s.orders + EXCLUDED.orders,"                   \
    " items = s.items + EXCLUDED.items, revenue = s.revenue + EXCLUDED.revenue"

/* Month totals over days $1..$2 of a tally, without months that net to no order. */
#define SALES(cols, table)                                                                         \
    "SELECT to_char(day, 'YYYY-MM') AS month, " cols ", sum(orders)::bigint, sum(items)::bigint,"  \
    " sum(revenue)::bigint FROM " table " WHERE day BETWEEN $1::date AND $2::date"                 \
    " GROUP BY 1, 2, 3 HAVING sum(orders) > 0 ORDER BY 1, 2, 3"

/* clang-format off */
#define REPORTING_SQL(X)                                                                           \
    /* The no-op update takes the row lock, so concurrent events of one */                        \
    /* order apply one after the other. */                                                         \
    X(FACT_LOCK, 1,                                                                                \
      "INSERT INTO facts AS f (order_id, state) VALUES ($1::bigint, 'PENDING')"                    \
      " ON CONFLICT (order_id) DO UPDATE SET order_id = f.order_id"                                \
      " RETURNING f.state, f.placed, f.counted")                                                   \
    X(FACT_PLACE, 6,                                                                               \
      "WITH l AS (INSERT INTO fact_lines (order_id, line_no, product_id, quantity, unit_minor,"    \
      "   category) SELECT $1::bigint, l.n, l.p, l.q, l.u, COALESCE(r.category, '')"               \
      "   FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS l(p, q, u, n)"  \
      "   LEFT JOIN products_replica r ON r.id = l.p ON CONFLICT DO NOTHING"                       \
      "   RETURNING quantity, unit_minor)"                                                         \
      " UPDATE facts SET day = ($5::timestamptz AT TIME ZONE 'UTC')::date, country = $6,"          \
      " items = (SELECT COALESCE(sum(quantity), 0) FROM l),"                                       \
      " revenue = (SELECT COALESCE(sum(quantity * unit_minor), 0) FROM l)"                         \
      " WHERE order_id = $1::bigint")                                                              \
    /* The rest of an event, in one statement (one round trip): the fact's */                  \
    /* state, the tallies by $5 and the feed. Every consumer takes the hot rows */                \
    /* (today's tallies, the feed) in this one statement right before its */                     \
    /* commit, so it holds their locks for the shortest time, and in the same */                  \
    /* order (categories sorted), so two never deadlock. */                                        \
    X(FACT_SETTLE, 6,                                                                              \
      "WITH st AS (UPDATE facts SET state = $2, placed = $3::boolean, counted = $4::boolean,"     \
      "   updated_at = now() WHERE order_id = $1::bigint),"                                        \
      " d AS (" TALLY_ADD("sales_day", "day", "f.day") "),"                                        \
      " c AS (" TALLY_ADD("sales_day_country", "day, country", "f.day, f.country") "),"            \
      " g AS (INSERT INTO sales_day_category AS s (day, category, orders, items, revenue)"        \
      "   SELECT f.day, l.category, $5::bigint, $5::bigint * sum(l.quantity),"                     \
      "   $5::bigint * sum(l.quantity * l.unit_minor) FROM facts f"                                \
      "   JOIN fact_lines l ON l.order_id = f.order_id WHERE f.order_id = $1::bigint"              \
      "   AND $5::bigint <> 0 GROUP BY f.day, l.category ORDER BY l.category"                      \
      "   ON CONFLICT (day, category) DO UPDATE SET orders = s.orders + EXCLUDED.orders,"          \
      "   items = s.items + EXCLUDED.items, revenue = s.revenue + EXCLUDED.revenue)"               \
      " UPDATE feed SET last_event_at = greatest(last_event_at, $6::timestamptz),"                 \
      " changes = changes + 1 WHERE id = 1")                                                       \
    X(PRODUCT_APPLY, 4,                                                                            \
      "INSERT INTO products_replica AS p (id, version, deleted, category)"                         \
      " VALUES ($1::bigint, $2::bigint, $3::boolean, COALESCE($4, ''))"                            \
      " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted,"    \
      " category = CASE WHEN EXCLUDED.deleted THEN p.category ELSE EXCLUDED.category END"          \
      " WHERE p.version < EXCLUDED.version RETURNING true")                                        \
    X(FRESH_FEED, 0,                                                                               \
      "SELECT " MS("last_event_at") ", " AGE("last_event_at") ", " EPOCH_MS("last_event_at")      \
      " FROM feed")                                                                                \
    X(FRESH_VIEW, 1,                                                                               \
      "SELECT " MS("refreshed_at") ", " AGE("refreshed_at") ", " EPOCH_MS("refreshed_at")         \
      " FROM refreshes WHERE view_name = $1")                                                      \
    X(SALES_MONTH, 2, SALES("NULL::text, NULL::text", "sales_day"))                                \
    X(SALES_CATEGORY, 2, SALES("category, NULL::text", "sales_day_category"))                     \
    X(SALES_COUNTRY, 2, SALES("NULL::text, country", "sales_day_country"))                        \
    X(ROLLUP, 2,                                                                                   \
      "SELECT month, category, country, orders, items, revenue"                                    \
      " FROM sales_month_category_country WHERE month BETWEEN $1 AND $2 ORDER BY 1, 2, 3")         \
    X(TOP, 2,                                                                                      \
      "SELECT rank, product_id, items, revenue FROM top_products_month"                            \
      " WHERE month = $1 AND rank <= $2::integer ORDER BY rank")                                   \
    X(REFRESH_MCC, 0, "REFRESH MATERIALIZED VIEW CONCURRENTLY sales_month_category_country")       \
    X(REFRESH_TOP, 0, "REFRESH MATERIALIZED VIEW CONCURRENTLY top_products_month")                 \
    X(REFRESHED, 3,                                                                                \
      "UPDATE refreshes SET refreshed_at = $2::timestamptz,"                                       \
      " took_ms = (extract(epoch FROM clock_timestamp() - $2::timestamptz) * 1000)::bigint,"       \
      " changes = $3::bigint WHERE view_name = $1")                                                \
    /* The changes applied so far, and whether the view missed any of them. */                     \
    /* Nothing changed since the last refresh: the view is current as of now. */                   \
    X(REFRESH_CURRENT, 2,                                                                          \
      "UPDATE refreshes SET refreshed_at = $2::timestamptz WHERE view_name = $1")                  \
    X(REFRESH_DUE, 1,                                                                              \
      "SELECT now()::text, f.changes, f.changes > r.changes FROM feed f, refreshes r"              \
      " WHERE r.view_name = $1")
/* clang-format on */

enum reporting_stmt { REPORTING_SQL(DB_STMT_ENUM) SQL__COUNT };

const struct db_stmt reporting_stmts[] = {REPORTING_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The views the refresh job keeps, in its order. */
static const struct {
    const char *name;
    int         stmt;
} views[] = {
    {"sales_month_category_country", SQL_REFRESH_MCC},
    {"top_products_month", SQL_REFRESH_TOP},
};

static const int sales_stmt[GROUP__COUNT] = {
    [GROUP_MONTH] = SQL_SALES_MONTH,
    [GROUP_MONTH_CATEGORY] = SQL_SALES_CATEGORY,
    [GROUP_MONTH_COUNTRY] = SQL_SALES_COUNTRY,
};

/* Consumers and the refresh job run on connections without the statement
 * table, so every statement runs as text (prepared once per connection by
 * lib/db.c's cache). */
static int
run(struct work *w, int id, const char *const *params, struct db_rows **out)
{
    return db_exec_sql(w->db, w->arena, reporting_stmts[id].sql, reporting_stmts[id].nparams,
                       params, out);
}

static const char *
i64(struct work *w, int64_t n)
{
    return db_i64_text(w->arena, n);
}

static const char *
boolean(int v)
{
    return v ? "true" : "false";
}

int
store_fact_lock(struct work *w, int64_t id, struct fact *out)
{
    struct db_rows *rs;
    int             rc;

    rc = run(w, SQL_FACT_LOCK, (const char *const[]){i64(w, id)}, &rs);
    if (rc)
        return rc;
    if (rs->nrows != 1 || fact_state_parse(db_get(rs, 0, 0), &out->state) != ERR_OK)
        return ERR_INTERNAL;
    out->placed = strcmp(db_get(rs, 0, 1), "t") == 0;
    out->counted = strcmp(db_get(rs, 0, 2), "t") == 0;
    return ERR_OK;
}

/* "{1,2,3}": a bigint[] literal of one member of every line (n is bounded
 * by REPORT_LINES_MAX, so the buffer cannot overflow). */
static const char *
array_text(struct work *w, const struct fact_line *l, size_t n, size_t member)
{
    struct buf *b = buf_new(w->arena, 32 + n * 21);
    size_t      i;

    buf_putc(b, '{');
    for (i = 0; i < n; i++) {
        const int64_t v[] = {l[i].product_id, l[i].quantity, l[i].unit_minor};

        buf_printf(b, "%s%lld", i ? "," : "", (long long)v[member]);
    }
    buf_putc(b, '}');
    return buf_data(b);
}

int
store_fact_place(struct work *w, int64_t id, const struct placed *p)
{
    const char *params[] = {i64(w, id),
                            array_text(w, p->lines, p->n, 0),
                            array_text(w, p->lines, p->n, 1),
                            array_text(w, p->lines, p->n, 2),
                            p->created_at,
                            p->country};

    return run(w, SQL_FACT_PLACE, params, NULL);
}

int
store_fact_settle(struct work *w, int64_t id, const struct fact *f, int sign,
                  const char *occurred_at)
{
    return run(w, SQL_FACT_SETTLE,
               (const char *const[]){i64(w, id), fact_state_name(f->state), boolean(f->placed),
                                     boolean(f->counted), i64(w, sign), occurred_at},
               NULL);
}

int
store_product_apply(struct work *w, int64_t id, int64_t version, int deleted, const char *category,
                    int *applied)
{
    struct db_rows *rs;
    int             rc;

    rc = run(w, SQL_PRODUCT_APPLY,
             (const char *const[]){i64(w, id), i64(w, version), boolean(deleted), category}, &rs);
    if (rc == ERR_OK)
        *applied = rs->nrows == 1;
    return rc;
}

static int
freshness(struct work *w, int id, const char *const *params, struct freshness *f)
{
    struct db_rows *rs;
    int             rc;

    rc = run(w, id, params, &rs);
    if (rc)
        return rc;
    if (rs->nrows != 1)
        return ERR_INTERNAL;
    f->as_of = db_get(rs, 0, 0);
    f->age_ms = db_i64(rs, 0, 1);
    f->as_of_ms = db_i64(rs, 0, 2);
    if (f->age_ms < 0)
        f->age_ms = 0;
    return ERR_OK;
}

static void
sales_map(struct work *w, const struct db_rows *rs, struct sales_row **out, size_t *n)
{
    size_t i;

    *out = arena_array(w->arena, struct sales_row, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        (*out)[i].month = db_get(rs, i, 0);
        (*out)[i].category = db_get(rs, i, 1);
        (*out)[i].country = db_get(rs, i, 2);
        (*out)[i].orders = db_i64(rs, i, 3);
        (*out)[i].items = db_i64(rs, i, 4);
        (*out)[i].revenue = db_i64(rs, i, 5);
    }
    *n = rs->nrows;
}

int
store_sales(struct work *w, const char *from, const char *to, enum report_group g,
            struct sales_row **out, size_t *n, struct freshness *f)
{
    struct db_rows *rs;
    int             rc;

    /* The feed first: the rows read after it are at least that fresh. */
    rc = freshness(w, SQL_FRESH_FEED, NULL, f);
    if (rc == ERR_OK)
        rc = run(w, sales_stmt[g], (const char *const[]){from, to}, &rs);
    if (rc)
        return rc;
    sales_map(w, rs, out, n);
    return ERR_OK;
}

int
store_rollup(struct work *w, const char *from, const char *to, struct sales_row **out, size_t *n,
             struct freshness *f)
{
    struct db_rows *rs;
    int             rc;

    /* One transaction, so the refresh time and the rows are one snapshot. */
    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = freshness(w, SQL_FRESH_VIEW, (const char *const[]){views[0].name}, f);
    if (rc == ERR_OK)
        rc = run(w, SQL_ROLLUP, (const char *const[]){from, to}, &rs);
    db_rollback(w->db);
    if (rc)
        return rc;
    sales_map(w, rs, out, n);
    return ERR_OK;
}

int
store_top(struct work *w, const char *month, int64_t limit, struct top_row **out, size_t *n,
          struct freshness *f)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = freshness(w, SQL_FRESH_VIEW, (const char *const[]){views[1].name}, f);
    if (rc == ERR_OK)
        rc = run(w, SQL_TOP, (const char *const[]){month, i64(w, limit)}, &rs);
    db_rollback(w->db);
    if (rc)
        return rc;
    *out = arena_array(w->arena, struct top_row, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        (*out)[i].rank = db_i64(rs, i, 0);
        (*out)[i].product_id = db_i64(rs, i, 1);
        (*out)[i].items = db_i64(rs, i, 2);
        (*out)[i].revenue = db_i64(rs, i, 3);
    }
    *n = rs->nrows;
    return ERR_OK;
}

int
store_refresh(struct work *w, size_t i, const char **name, int *refreshed)
{
    struct db_rows *rs;
    int             rc;

    if (i >= sizeof(views) / sizeof(views[0]))
        return ERR_NOT_FOUND;
    *name = views[i].name;
    *refreshed = 0;
    /* now() is the transaction's start: what the refreshed view reflects.
     * The refresh reads after the count, so it holds at least those changes;
     * one committed later makes the next round refresh again. */
    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = run(w, SQL_REFRESH_DUE, (const char *const[]){views[i].name}, &rs);
    if (rc == ERR_OK && rs->nrows == 1 && strcmp(db_get(rs, 0, 2), "t") == 0) {
        *refreshed = 1;
        rc = run(w, views[i].stmt, NULL, NULL);
        if (rc == ERR_OK)
            rc =
                run(w, SQL_REFRESHED,
                    (const char *const[]){views[i].name, db_get(rs, 0, 0), db_get(rs, 0, 1)}, NULL);
    } else if (rc == ERR_OK && rs->nrows == 1) {
        rc = run(w, SQL_REFRESH_CURRENT, (const char *const[]){views[i].name, db_get(rs, 0, 0)},
                 NULL);
    }
    if (rc == ERR_OK)
        rc = db_commit(w->db);
    if (rc)
        db_rollback(w->db);
    return rc;
}
