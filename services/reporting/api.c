/*
 * api.c - the report handlers: decode and check the query, call store.c,
 * encode. v1 is the monolith's report, body for body (monolith/api_orders.c
 * report_sales), with its freshness in headers (the body is the contract's);
 * v2 reports carry as_of and age_ms in the body. The tally reports' rows
 * are kept serialized between requests (cache.c). Every route is admin only
 * (ROUTE_ADMIN in main.c: 401 without a token, 403 for a customer).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reporting.h"

#define DAY_MIN     "1970-01-01" /* the monolith's defaults for an absent from/to */
#define DAY_MAX     "9999-12-31"
#define MONTH_MIN   "1000-01"
#define MONTH_MAX   "9999-12"
#define TOP_DEFAULT 10

static json_t *
money(int64_t minor)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)minor, "currency", REPORT_CURRENCY);
}

/* ?from=&to= as days (both included): the monolith's rules and details. */
static int
day_range(struct req *r, const char **from, const char **to)
{
    *from = req_query(r, "from");
    *to = req_query(r, "to");
    if (*from == NULL)
        *from = DAY_MIN;
    if (*to == NULL)
        *to = DAY_MAX;
    if (!report_day_valid(*from) || !report_day_valid(*to))
        return req_fail(r, ERR_INVALID, "from and to must be dates as YYYY-MM-DD");
    if (strcmp(*from, *to) > 0)
        return req_fail(r, ERR_INVALID, "from must not be after to");
    return ERR_OK;
}

static void
fresh_headers(struct req *r, const struct freshness *f)
{
    req_set_header(r, "Souk-As-Of", f->as_of);
    req_set_header(r, "Souk-Data-Age-Ms", arena_printf(r->arena, "%lld", (long long)f->age_ms));
}

static json_t *
sales_rows(const struct sales_row *rows, size_t n)
{
    json_t *a = json_array();
    size_t  i;

    for (i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s}", "month", rows[i].month);

        if (rows[i].category != NULL)
            json_object_set_new(o, "category", json_string(rows[i].category));
        if (rows[i].country != NULL)
            json_object_set_new(o, "country", json_string(rows[i].country));
        json_object_set_new(o, "orders", json_integer(rows[i].orders));
        json_object_set_new(o, "items", json_integer(rows[i].items));
        json_object_set_new(o, "revenue", money(rows[i].revenue));
        json_array_append_new(a, o);
    }
    return a;
}

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The rows of a tally report as JSON text, from the cache (cache.c) or
 * from the tallies, then kept; c->fresh.age_ms as of now. */
static int
sales_answer(struct req *r, const char *from, const char *to, enum report_group g, struct cached *c)
{
    const char       *key = arena_printf(r->arena, "%s|%s|%d", from, to, (int)g);
    uint64_t          gen = cache_generation(); /* before the read: a later bump wins */
    struct sales_row *rows;
    json_t           *a;
    char             *text;
    size_t            n;
    int               rc;

    if (!cache_get(r->arena, key, gen, c)) {
        rc = store_sales(service_work(r), from, to, g, &rows, &n, &c->fresh);
        if (rc)
            return rc;
        a = sales_rows(rows, n);
        text = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        if (text == NULL)
            return req_fail(r, ERR_INTERNAL, "cannot serialise the report");
        c->len = strlen(text);
        c->body = arena_strndup(r->arena, text, c->len);
        free(text);
        cache_put(key, gen, c);
    }
    c->fresh.age_ms = wall_ms() - c->fresh.as_of_ms;
    if (c->fresh.age_ms < 0)
        c->fresh.age_ms = 0;
    fresh_headers(r, &c->fresh);
    return ERR_OK;
}

/* GET /api/v1/reports/sales?from=YYYY-MM-DD&to=YYYY-MM-DD: confirmed orders
 * placed on those days by month, summed from the per-day tallies. The body
 * is written around the cached rows with the members in the monolith's
 * order; from and to are checked dates, so they need no escaping. */
int
sales_v1(struct req *r)
{
    struct cached c;
    const char   *from, *to, *body;
    int           rc;

    rc = day_range(r, &from, &to);
    if (rc == ERR_OK)
        rc = sales_answer(r, from, to, GROUP_MONTH, &c);
    if (rc)
        return rc;
    body =
        arena_printf(r->arena, "{\"from\":\"%s\",\"to\":\"%s\",\"months\":%s}", from, to, c.body);
    return req_reply_bytes(r, 200, "application/json", body, strlen(body));
}

/* GET /api/v2/reports/sales?from&to&group=month|month_category|month_country. */
int
sales_v2(struct req *r)
{
    struct cached     c;
    enum report_group g = GROUP_MONTH;
    const char       *from, *to, *group = req_query(r, "group"), *body;
    int               rc;

    rc = day_range(r, &from, &to);
    if (rc)
        return rc;
    if (group != NULL && report_group_parse(group, &g) != ERR_OK)
        return req_fail(r, ERR_INVALID, "group must be month, month_category or month_country");
    rc = sales_answer(r, from, to, g, &c);
    if (rc)
        return rc;
    body = arena_printf(r->arena,
                        "{\"from\":\"%s\",\"to\":\"%s\",\"group\":\"%s\",\"as_of\":\"%s\","
                        "\"age_ms\":%lld,\"rows\":%s}",
                        from, to, report_group_name(g), c.fresh.as_of, (long long)c.fresh.age_ms,
                        c.body);
    return req_reply_bytes(r, 200, "application/json", body, strlen(body));
}

/* ?name=YYYY-MM, def when absent. */
static int
month_query(struct req *r, const char *name, const char *def, const char **out)
{
    *out = req_query(r, name);
    if (*out == NULL && def != NULL)
        *out = def;
    if (*out == NULL || !report_month_valid(*out))
        return req_fail(r, ERR_INVALID, "%s must be a month as YYYY-MM", name);
    return ERR_OK;
}

/* GET /api/v2/reports/sales/rollup?from=YYYY-MM&to=YYYY-MM: month x category
 * x country from the materialized view, as of its last refresh. */
int
rollup_v2(struct req *r)
{
    struct sales_row *rows;
    struct freshness  f;
    const char       *from, *to;
    size_t            n;
    int               rc;

    rc = month_query(r, "from", MONTH_MIN, &from);
    if (rc == ERR_OK)
        rc = month_query(r, "to", MONTH_MAX, &to);
    if (rc)
        return rc;
    if (strcmp(from, to) > 0)
        return req_fail(r, ERR_INVALID, "from must not be after to");
    rc = store_rollup(service_work(r), from, to, &rows, &n, &f);
    if (rc)
        return rc;
    fresh_headers(r, &f);
    return req_reply(r, 200,
                     json_pack("{s:s,s:s,s:s,s:I,s:o}", "from", from, "to", to, "as_of", f.as_of,
                               "age_ms", (json_int_t)f.age_ms, "rows", sales_rows(rows, n)));
}

/* GET /api/v2/reports/top-products?month=YYYY-MM&limit=N: the month's best
 * products by revenue, from the materialized view. */
int
top_products_v2(struct req *r)
{
    struct top_row  *top;
    struct freshness f;
    const char      *month;
    int64_t          limit;
    json_t          *a;
    size_t           n, i;
    int              rc;

    rc = month_query(r, "month", NULL, &month);
    if (rc == ERR_OK)
        rc = req_query_i64(r, "limit", TOP_DEFAULT, 1, REPORT_TOP_MAX, &limit);
    if (rc)
        return rc;
    rc = store_top(service_work(r), month, limit, &top, &n, &f);
    if (rc)
        return rc;
    a = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:o}", "rank", (json_int_t)top[i].rank,
                                           "product_id", (json_int_t)top[i].product_id, "items",
                                           (json_int_t)top[i].items, "revenue",
                                           money(top[i].revenue)));
    fresh_headers(r, &f);
    return req_reply(r, 200,
                     json_pack("{s:s,s:s,s:I,s:o}", "month", month, "as_of", f.as_of, "age_ms",
                               (json_int_t)f.age_ms, "products", a));
}
