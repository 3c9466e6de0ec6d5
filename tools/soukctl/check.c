/*
 * check.c - `soukctl check orders`: proves the order saga kept money and
 * stock sacred. It reads only the audit views each service's migrations
 * define (SAGA.md "Audit views"; services/<svc>/README.md): audit_orders
 * (orders), audit_stock and audit_holds (inventory), audit_provider and
 * audit_payments (payments), each with that service's own DSN. Aggregation
 * inside one database is SQL; the join across the three is here, by order
 * id, in check_rules.c, where the rules are tables: adding a rule is adding
 * a row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "db.h"
#include "soukctl.h"

static const char check_usage[] =
    "usage: soukctl check orders [--wait SECONDS] [--max-shown N]\n"
    "\n"
    "Reads the order saga's audit views (SOUK_ORDERS_DB audit_orders,\n"
    "SOUK_INVENTORY_DB audit_stock and audit_holds, SOUK_PAYMENTS_DB\n"
    "audit_provider and audit_payments), prints the counts (orders by status,\n"
    "the provider's authorizations, captures, refunds and voids, units received,\n"
    "on hand, sold and reserved) and one line per violation:\n"
    "  order ID: RULE: what is wrong        product ID: RULE: what is wrong\n"
    "then \"violations: N\".\n"
    "\n"
    "Rules: every order is terminal; a CONFIRMED order was authorized and\n"
    "captured exactly once at the provider, never refunded or voided, and every\n"
    "line of it is SOLD; any other order kept no capture and no authorization\n"
    "(each voided or refunded) and no HELD or SOLD line; per product received =\n"
    "on_hand + sold, reserved = the units of its HELD lines, sold = the units of\n"
    "its SOLD lines, 0 <= reserved <= on_hand, nothing negative; no provider key\n"
    "or hold for an order orders never created; at most one provider key per\n"
    "order.\n"
    "\n"
    "--wait SECONDS  the shop may still be settling: judge again every 0.5 s\n"
    "                until every order is terminal and nothing is violated, or\n"
    "                SECONDS pass; then report what the last look found.\n"
    "--max-shown N   print at most N violation lines (default 200); all count.\n"
    "\n"
    "Exit status: 0 no violation, 1 violations, 2 bad command line or a\n"
    "database that cannot be read.\n";

/* ------------------------------------------------------------ what is read */

static const char *const status_names[ST_N] = {"PENDING", "CONFIRMED", "REJECTED", "CANCELLED",
                                               "other"};

static const char orders_sql[] = "SELECT order_id, status FROM audit_orders ORDER BY order_id";
static const char provider_sql[] =
    "SELECT order_id, count(*), sum(authorized), sum(captured), sum(refunded), sum(voided)"
    " FROM audit_provider GROUP BY order_id ORDER BY order_id";
static const char payments_sql[] = "SELECT coalesce(state, '(null)'), count(*)"
                                   " FROM audit_payments GROUP BY 1 ORDER BY 1";
static const char lines_sql[] = "SELECT order_id, count(*), count(*) FILTER (WHERE state = 'HELD'),"
                                " count(*) FILTER (WHERE state = 'SOLD'),"
                                " count(*) FILTER (WHERE state IS NULL"
                                "   OR state NOT IN ('HELD', 'SOLD', 'RELEASED', 'REJECTED'))"
                                " FROM audit_holds GROUP BY order_id ORDER BY order_id";
static const char hold_states_sql[] = "SELECT coalesce(state, '(null)'), count(*)"
                                      " FROM audit_holds GROUP BY 1 ORDER BY 1";
static const char stock_sql[] =
    "SELECT coalesce(s.product_id, h.product_id), s.product_id IS NOT NULL,"
    " s.received, s.on_hand, s.reserved, s.sold, coalesce(h.held, 0), coalesce(h.sold, 0)"
    " FROM audit_stock s FULL JOIN ("
    "   SELECT product_id, sum(quantity) FILTER (WHERE state = 'HELD') AS held,"
    "    sum(quantity) FILTER (WHERE state = 'SOLD') AS sold"
    "   FROM audit_holds GROUP BY product_id) h ON h.product_id = s.product_id"
    " ORDER BY 1";

struct dbs {
    struct db *orders, *inventory, *payments;
};

static int
query(struct db *db, struct arena *a, const char *sql, const char *what, const char *env,
      struct db_rows **out)
{
    int rc = db_exec_sql(db, a, sql, 0, NULL, out);

    if (rc)
        common_fail("cannot read %s from %s (%s)", what, env, err_name(rc));
    return rc;
}

static enum status
status_of(const char *s)
{
    int i;

    for (i = 0; i < ST_OTHER; i++)
        if (s != NULL && strcmp(s, status_names[i]) == 0)
            return (enum status)i;
    return ST_OTHER;
}

static int
read_orders(struct look *k, struct db *db, struct arena *a)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = query(db, a, orders_sql, "audit_orders", "SOUK_ORDERS_DB", &rs);
    if (rc)
        return rc;
    k->norders = rs->nrows;
    k->orders = arena_array(a, struct order, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        k->orders[i].id = db_i64(rs, i, 0);
        k->orders[i].status = db_get(rs, i, 1) ? db_get(rs, i, 1) : "(null)";
        k->orders[i].st = status_of(db_get(rs, i, 1));
    }
    return ERR_OK;
}

/* Every column of rs as int64 into n structs of int64 fields (struct prov,
 * struct lines are rows of int64_t, in the columns' order). */
static int64_t *
read_i64s(const struct db_rows *rs, struct arena *a, size_t width)
{
    int64_t *v = arena_array(a, int64_t, rs->nrows * width + 1);
    size_t   i, j;

    for (i = 0; i < rs->nrows; i++)
        for (j = 0; j < width; j++)
            v[i * width + j] = db_i64(rs, i, j);
    return v;
}

static int
read_all(struct look *k, const struct dbs *d, struct arena *a)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = read_orders(k, d->orders, a);
    if (rc == ERR_OK)
        rc = query(d->payments, a, provider_sql, "audit_provider", "SOUK_PAYMENTS_DB", &rs);
    if (rc)
        return rc;
    k->provs = (struct prov *)read_i64s(rs, a, sizeof(struct prov) / sizeof(int64_t));
    k->nprovs = rs->nrows;
    rc = query(d->payments, a, payments_sql, "audit_payments", "SOUK_PAYMENTS_DB", &k->payments);
    if (rc == ERR_OK)
        rc = query(d->inventory, a, lines_sql, "audit_holds", "SOUK_INVENTORY_DB", &rs);
    if (rc)
        return rc;
    k->lines = (struct lines *)read_i64s(rs, a, sizeof(struct lines) / sizeof(int64_t));
    k->nlines = rs->nrows;
    rc = query(d->inventory, a, hold_states_sql, "audit_holds", "SOUK_INVENTORY_DB",
               &k->hold_states);
    if (rc == ERR_OK)
        rc = query(d->inventory, a, stock_sql, "audit_stock", "SOUK_INVENTORY_DB", &rs);
    if (rc)
        return rc;
    k->nstock = rs->nrows;
    k->stock = arena_array(a, struct stock, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        struct stock *s = &k->stock[i];

        s->product_id = db_i64(rs, i, 0);
        s->known = db_get(rs, i, 1) != NULL && strcmp(db_get(rs, i, 1), "t") == 0;
        s->received = db_i64(rs, i, 2);
        s->on_hand = db_i64(rs, i, 3);
        s->reserved = db_i64(rs, i, 4);
        s->sold = db_i64(rs, i, 5);
        s->held_units = db_i64(rs, i, 6);
        s->sold_units = db_i64(rs, i, 7);
    }
    return ERR_OK;
}

static int
look_once(struct look *k, const struct dbs *d, struct arena *a)
{
    int rc;

    memset(k, 0, sizeof(*k));
    rc = read_all(k, d, a);
    if (rc)
        return rc;
    check_judge(k, a);
    return ERR_OK;
}

/* --------------------------------------------------------------- printing */

static void
print_states(const char *what, const struct db_rows *rs)
{
    int64_t total = 0;
    size_t  i;

    for (i = 0; i < rs->nrows; i++)
        total += db_i64(rs, i, 1);
    printf("%s: %lld", what, (long long)total);
    for (i = 0; i < rs->nrows; i++)
        printf("%s%s %s", i ? ", " : " (", db_get(rs, i, 0), db_get(rs, i, 1));
    puts(rs->nrows ? ")" : "");
}

static void
print_look(const struct look *k, int64_t max_shown)
{
    size_t i;
    int    s;

    printf("orders: %zu (", k->norders);
    for (s = 0; s < ST_N; s++)
        if (s < ST_OTHER || k->by_status[s])
            printf("%s%s %lld", s ? ", " : "", status_names[s], (long long)k->by_status[s]);
    puts(")");
    printf("provider: %lld keys, %lld authorizations, %lld captures, %lld refunds, %lld voids\n",
           (long long)k->keys, (long long)k->authorized, (long long)k->captured,
           (long long)k->refunded, (long long)k->voided);
    print_states("payments", k->payments);
    printf("stock: %zu products, %lld units received, %lld on hand, %lld sold, %lld reserved\n",
           k->nstock, (long long)k->received, (long long)k->on_hand, (long long)k->sold,
           (long long)k->reserved);
    print_states("order lines at inventory", k->hold_states);
    for (i = 0; i < k->nbad && (int64_t)i < max_shown; i++)
        puts(k->bad[i]);
    if ((int64_t)k->nbad > max_shown)
        printf("... and %lld more violations\n", (long long)k->nbad - (long long)max_shown);
    printf("violations: %zu\n", k->nbad);
}

static int
check_orders(struct ctl *ctl, int64_t wait_s, int64_t max_shown)
{
    struct dbs    d = {db_new(ctl->cfg.orders_db, NULL), db_new(ctl->cfg.inventory_db, NULL),
                       db_new(ctl->cfg.payments_db, NULL)};
    struct arena *a = arena_create();
    struct look   k;
    double        t0 = common_now();
    int           rc;

    for (;;) {
        arena_reset(a);
        rc = look_once(&k, &d, a);
        if (rc || k.nbad == 0 || common_now() - t0 >= (double)wait_s)
            break;
        nanosleep(&(struct timespec){0, 500 * 1000 * 1000}, NULL);
    }
    if (rc == ERR_OK) {
        print_look(&k, max_shown);
        if (wait_s > 0)
            fprintf(stderr, "soukctl check orders: %s after %.1f s\n",
                    k.nbad ? "still violated" : "settled", common_now() - t0);
    }
    db_free(d.orders);
    db_free(d.inventory);
    db_free(d.payments);
    arena_destroy(a);
    return rc ? CTL_EXIT_USAGE : k.nbad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int
check_main(struct ctl *ctl, int argc, char **argv)
{
    int64_t wait_s = 0, max_shown = 200;
    int     i, rc;

    if (common_wants_help(argc, argv)) {
        fputs(check_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "orders") != 0) {
        fputs(check_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            rc = common_int_opt("--wait", argv[++i], 0, 86400, &wait_s);
            if (rc)
                return CTL_EXIT_USAGE;
        } else if (strcmp(argv[i], "--max-shown") == 0 && i + 1 < argc) {
            rc = common_int_opt("--max-shown", argv[++i], 0, 1000000, &max_shown);
            if (rc)
                return CTL_EXIT_USAGE;
        } else {
            common_fail("unknown option \"%s\"", argv[i]);
            fputs(check_usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    return check_orders(ctl, wait_s, max_shown);
}
