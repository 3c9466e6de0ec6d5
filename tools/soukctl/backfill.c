/*
 * backfill.c - `soukctl backfill reviews|catalog|users|orders|inventory|payments`:
 * one copy loop for every target (backfill.h), driven by its mapping's copy
 * steps (migrate/map for a live-migrated domain, backfill_<svc>.c for a
 * service that is only backfilled so far). Everything is read from one snapshot of the monolith,
 * each step in keyset pages of --batch rows, each page one statement on the service's database;
 * then the domain's finishing statement (aggregates) and the identity scheme's sequences. Writes no
 * outbox rows: a backfill is not news to other services.
 */
#include <assert.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "kv.h"
#include "work.h"
#include "migrate/sync/position.h"

static const char backfill_usage[] =
    "usage: soukctl backfill reviews|catalog|users|cart|orders|inventory|payments|reporting\n"
    "                        [--batch N] [--if-empty]\n"
    "\n"
    "Copies the monolith's data (SOUK_MONOLITH_DB) into a service's database, with\n"
    "the monolith's ids, all read from one snapshot. The service's id sequences\n"
    "then allocate even ids above every id the monolith has given, and the monolith\n"
    "(which must run with auto_increment_increment=2, auto_increment_offset=1)\n"
    "odd ones, so no id is ever given twice. Writes no events. Safe to repeat: rows the\n"
    "service already has are not duplicated (and not overwritten, except catalog\n"
    "products still at version 1).\n"
    "\n"
    "  catalog   categories, then products as JSONB documents (EAV attributes, stock,\n"
    "            rating) at version 1 (SOUK_CATALOG_DB); rebuild search afterwards\n"
    "  users     accounts with their Argon2id hashes, roles and addresses\n"
    "            (SOUK_USERS_DB)\n"
    "  reviews   reviews as documents, the per-product ratings (count, sum), and the\n"
    "            product and user-name replicas events would fill (SOUK_REVIEWS_DB)\n"
    "  orders    orders with their lines and payment, and the product-price and\n"
    "            customer-address replicas events would fill (SOUK_ORDERS_DB);\n"
    "            then, when SOUK_REPORTING_DB is set, reporting's order facts, sales\n"
    "            tallies and views, bulk-loaded with COPY (--if-empty: unless it has facts)\n"
    "  inventory every product's stock as received and on hand (SOUK_INVENTORY_DB)\n"
    "  payments  payments (APPROVED as CAPTURED) and the simulated provider's record\n"
    "            of those charges (SOUK_PAYMENTS_DB)\n"
    "  reporting what `backfill orders` ends with, alone: reporting's order facts,\n"
    "            tallies and views (SOUK_REPORTING_DB, which must be set)\n"
    "\n"
    "  --batch N     rows per statement (default 1000)\n"
    "  --if-empty    do nothing when the service already has data\n";

#define BACKFILL_JSON (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

static void
progress(struct backfill *b, int force)
{
    double t = common_now();

    if (!force && t - b->last_progress < 0.5)
        return;
    b->last_progress = t;
    fprintf(stderr, "backfill: %-18s %9lld/%-9lld (%.1f s)\n", b->d->copy[b->table].what,
            (long long)b->done[b->table], (long long)b->total, t - b->t0);
}

/* Run sql on the service with rows (stolen) dumped as its $1. */
static int
backfill_write(struct backfill *b, struct arena *a, const char *sql, json_t *rows)
{
    char *text = json_dumps(rows, BACKFILL_JSON);

    json_decref(rows);
    if (text == NULL)
        return ERR_INTERNAL;
    arena_defer(a, free, text);
    return db_exec_sql(b->dst, a, sql, 1, (const char *const[]){text}, NULL);
}

/* Row i of rs as an array of strings; NULL (and a message) when a value is
 * not UTF-8 (jansson refuses it). */
static json_t *
row_array(const struct map_copy *t, const struct mdb_rows *rs, size_t i)
{
    json_t     *row = json_array();
    const char *v;
    size_t      c;
    int         bad = 0;

    for (c = 0; c < rs->ncols && !bad; c++) {
        v = mdb_get(rs, i, c);
        bad = json_array_append_new(row, v != NULL ? json_string(v) : json_null()) != 0;
    }
    if (!bad)
        return row;
    common_fail("%s %s: column %s is not UTF-8", t->what, mdb_get(rs, i, 0), rs->cols[c - 1]);
    json_decref(row);
    return NULL;
}

/* One page of t: the rows after key *after (at most b->batch), read from
 * the monolith as arrays of strings, written to the service. Moves *after to
 * the page's last key; *n = 0 at the end. */
static int
rows_page(struct backfill *b, const struct map_copy *t, struct arena *a, int64_t *after, size_t *n)
{
    int64_t          limit = t->whole ? INT64_MAX : b->batch;
    struct mdb_rows *rs;
    json_t          *all, *row;
    size_t           i;
    int              rc;

    *n = 0;
    rc = mdb_query(b->mono, a, t->read_sql, (struct mdb_arg[]){MDB_I64(*after), MDB_I64(limit)}, 2,
                   &rs);
    if (rc || rs->nrows == 0)
        return rc;
    all = json_array();
    for (i = 0; i < rs->nrows; i++) {
        row = row_array(t, rs, i);
        if (row == NULL) {
            json_decref(all);
            return ERR_INVALID;
        }
        json_array_append_new(all, row);
    }
    rc = backfill_write(b, a, t->write_sql, all);
    if (rc)
        return rc;
    *after = mdb_i64(rs, rs->nrows - 1, 0);
    *n = rs->nrows;
    return ERR_OK;
}

/* Table k of the target, page after page. */
static int
table_copy(struct backfill *b, size_t k, struct arena *a)
{
    const struct map_copy *t = &b->d->copy[k];
    struct mdb_rows       *rs;
    int64_t                after = 0;
    size_t                 n = 1;
    int                    rc;

    assert(k < BACKFILL_MAX_TABLES);
    b->table = k;
    rc = mdb_query(b->mono, a, t->count_sql, NULL, 0, &rs);
    if (rc)
        return rc;
    b->total = mdb_i64(rs, 0, 0);
    while (rc == ERR_OK && n > 0) {
        arena_reset(a);
        rc = rows_page(b, t, a, &after, &n);
        b->done[k] += (int64_t)n;
        progress(b, n == 0);
    }
    return rc;
}

const char *
backfill_kv_url(void)
{
    const char *z = getenv("SOUK_REDIS_URL");

    return z != NULL && z[0] ? z : "redis://127.0.0.1:56379/0";
}

/* A domain kept in Redis (map_domain.kv): its copy_kv reads the monolith in
 * the backfill's snapshot and writes the service's Redis. */
static int
kv_copy(struct backfill *b, struct arena *a)
{
    struct map_ext ext = {.kv = kv_new(backfill_kv_url(), 5000), .mono = b->mono};
    struct work    w = {.arena = a, .db = b->dst, .ext = &ext};
    int            rc;

    if (ext.kv == NULL) {
        common_fail("SOUK_REDIS_URL is not a redis:// url");
        return ERR_INVALID;
    }
    rc = b->d->copy_kv(&w, &b->done[0]);
    kv_free(ext.kv);
    return rc;
}

static int
backfill_copy(struct backfill *b, struct arena *a)
{
    size_t k;
    int    rc;

    /* A monolith that would hand out the service's ids stops the run before
     * anything is copied; the sequences move after the finishing statement. */
    rc = backfill_ident_check(b, a);
    if (rc == ERR_OK && b->d->copy_kv != NULL)
        return kv_copy(b, a);
    for (k = 0; rc == ERR_OK && b->d->copy[k].what != NULL; k++)
        rc = table_copy(b, k, a);
    if (rc == ERR_OK && b->d->copy_finish != NULL)
        rc = db_exec_sql(b->dst, a, b->d->copy_finish, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = backfill_ident(b, a);
    return rc;
}

/* *yes = 1 when --if-empty finds the target filled. */
static int
target_filled(struct backfill *b, struct arena *a, int *yes)
{
    struct db_rows *rs;
    int             rc;

    *yes = 0;
    if (b->d->copy_nonempty == NULL) /* a kv domain: copying again is idempotent */
        return ERR_OK;
    rc = db_exec_sql(b->dst, a, b->d->copy_nonempty, 0, NULL, &rs);
    if (rc)
        return rc;
    *yes = strcmp(db_get(rs, 0, 0), "t") == 0;
    return ERR_OK;
}

/* "backfilled 150 products, 14 categories in 0.1 s" */
static void
summary(const struct backfill *b)
{
    size_t k;

    fputs("backfilled", stdout);
    if (b->d->copy == NULL)
        printf(" %lld %s lines", (long long)b->done[0], b->d->name);
    for (k = 0; b->d->copy != NULL && b->d->copy[k].what != NULL; k++)
        printf("%s %lld %s", k ? "," : "", (long long)b->done[k], b->d->copy[k].what);
    printf(" in %.1f s\n", common_now() - b->t0);
}

static int
backfill_open(struct ctl *ctl, struct backfill *b)
{
    const struct ctl_target *target = common_target(b->d->name);

    b->mono = mdb_new(ctl->cfg.monolith_db);
    b->dst = target != NULL ? db_new(common_target_dsn(ctl, target), NULL) : NULL;
    if (b->mono == NULL || b->dst == NULL) {
        common_fail("SOUK_MONOLITH_DB or %s is not a valid dsn",
                    target != NULL ? target->env : b->d->name);
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* What the domain is a store of: what its emptiness check finds when it
 * says so, else its copy step named like it, else the last ("catalog
 * already has products"). */
static const char *
main_what(const struct map_domain *d)
{
    size_t k;

    if (d->copy_holds != NULL)
        return d->copy_holds;
    for (k = 0; d->copy[k + 1].what != NULL && strcmp(d->copy[k].what, d->name) != 0; k++)
        ;
    return d->copy[k].what;
}

/* Where the domain's souk-sync starts: the snapshot's GTID (position.h),
 * unless a sync already has a position (it then keeps it: its changes are
 * applied idempotently on top of this copy). */
static int
stream_handover(struct backfill *b, struct arena *a, const char *gtid)
{
    int rc;

    if (gtid == NULL) {
        fprintf(stderr,
                "backfill: the monolith writes no binlog; souk-sync --domain %s will "
                "start at the position it finds\n",
                b->d->name);
        return ERR_OK;
    }
    rc = position_init(b->dst, a);
    if (rc == ERR_OK)
        rc = position_start(b->dst, a, b->d->name, gtid);
    if (rc == ERR_OK)
        printf("stream position for souk-sync --domain %s: %s\n", b->d->name, gtid);
    return rc;
}

static int
backfill_run(struct ctl *ctl, const struct map_domain *t, int64_t batch, int if_empty)
{
    struct backfill b = {.d = t, .batch = batch};
    struct arena   *a = arena_create(), *keep = arena_create();
    char           *gtid = NULL;
    int             rc, full = 0;

    b.t0 = b.last_progress = common_now();
    rc = backfill_open(ctl, &b);
    if (rc)
        goto done;
    if (if_empty)
        rc = target_filled(&b, a, &full);
    if (rc == ERR_OK && full) {
        /* Nothing to copy, but a shop filled before the identity scheme
         * existed still gets it (idempotent; never moves a sequence back). */
        rc = backfill_ident_check(&b, a);
        if (rc == ERR_OK)
            rc = backfill_ident(&b, a);
        if (rc == ERR_OK)
            printf("%s already has %s; nothing to do\n", t->name,
                   t->copy != NULL ? main_what(t) : "data");
        if (rc == ERR_OK && t == &backfill_orders)
            rc = backfill_history(ctl, b.dst, a);
        goto done;
    }
    /* One snapshot of the monolith for every read (InnoDB repeatable read),
     * which also says where in the binlog it stands. */
    if (rc == ERR_OK)
        rc = mdb_begin_snapshot(b.mono, keep, &gtid);
    if (rc == ERR_OK)
        rc = backfill_copy(&b, a);
    mdb_rollback(b.mono);
    if (rc == ERR_OK)
        rc = stream_handover(&b, a, gtid);
    if (rc) {
        common_fail("backfill %s failed after %lld of %lld %s (see the log line above); it is "
                    "safe to run again",
                    t->name, (long long)b.done[b.table], (long long)b.total,
                    t->copy != NULL ? t->copy[b.table].what : "lines");
        goto done;
    }
    summary(&b);
    if (t == &backfill_orders) /* its read model, from what was just copied */
        rc = backfill_history(ctl, b.dst, a);
done:
    db_free(b.dst);
    mdb_free(b.mono);
    arena_destroy(a);
    arena_destroy(keep);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

/* Services that are backfilled but not live-migrated (yet): copy steps only. */
static const struct map_domain *const copy_only[] = {
    &backfill_orders,
    &backfill_inventory,
    &backfill_payments,
    NULL,
};

/* The domain or service called name, if it has copy steps; or NULL. */
static const struct map_domain *
target_find(const char *name)
{
    const struct map_domain *d = map_find(name);
    size_t                   i;

    for (i = 0; d == NULL && copy_only[i] != NULL; i++)
        if (strcmp(copy_only[i]->name, name) == 0)
            d = copy_only[i];
    return d != NULL && (d->copy != NULL || d->copy_kv != NULL) ? d : NULL;
}

int
backfill_main(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"batch", required_argument, NULL, 'b'},
        {"if-empty", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct map_domain *t;
    int64_t                  batch = 1000;
    int                      c, if_empty = 0;

    optind = 1;
    for (c = getopt_long(argc, argv, "h", opts, NULL); c != -1;
         c = getopt_long(argc, argv, "h", opts, NULL)) {
        if (c == 'h') {
            fputs(backfill_usage, stdout);
            return CTL_EXIT_OK;
        }
        if (c == 'e') {
            if_empty = 1;
        } else if (c != 'b' || common_int_opt("batch", optarg, 1, 10000, &batch)) {
            fputs(backfill_usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc - optind == 1 && strcmp(argv[optind], "reporting") == 0)
        return backfill_reporting(ctl, if_empty); /* alone: what `backfill orders` ends with */
    t = argc - optind == 1 ? target_find(argv[optind]) : NULL;
    if (t == NULL) {
        fputs(backfill_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    c = backfill_run(ctl, t, batch, if_empty);
    if (c == CTL_EXIT_OK && t == &backfill_orders)
        c = backfill_reporting(ctl, if_empty);
    return c;
}
