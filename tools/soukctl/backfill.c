/*
 * backfill.c - `soukctl backfill catalog`: the bulk copy of the migration
 * playbook (DESIGN.md §5). Reads the monolith's categories and products
 * (rows, EAV attributes, stock, review aggregate) from one consistent
 * snapshot and writes them into catalog's database as JSONB documents with
 * the same ids, version 1, in batches. Writes no outbox rows: search is
 * rebuilt from catalog afterwards (`soukctl search rebuild`).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "soukctl.h"

static const char backfill_usage[] =
    "usage: soukctl backfill catalog [--batch N] [--if-empty]\n"
    "\n"
    "Copies the monolith's categories and products (SOUK_MONOLITH_DB) into the\n"
    "catalog service's database (SOUK_CATALOG_DB): each product becomes one JSONB\n"
    "document (EAV attributes folded in, stock, rating) with the monolith's id and\n"
    "version 1. Everything is read from one snapshot. Safe to repeat: a product\n"
    "the catalog has changed since (version > 1) is left alone. Then sets the\n"
    "catalog's id sequences past the largest id. Writes no events; rebuild search\n"
    "afterwards.\n"
    "\n"
    "  --batch N     products per statement (default 1000)\n"
    "  --if-empty    do nothing when the catalog already has products\n";

/* Monolith side: keyset pages in id order; attributes and ratings for the
 * page's id range, in the same order, merged by walking both. Times are
 * rendered as the monolith's API does (store_catalog.c TS). */
static const char SQL_COUNT[] = "SELECT COUNT(*) FROM products";
static const char SQL_CATEGORIES[] =
    "SELECT id, slug, name, COALESCE(parent_id, 0) FROM categories ORDER BY id";
static const char SQL_PRODUCTS[] =
    "SELECT p.id, p.sku, p.name, p.description, p.brand, p.price_minor, p.currency,"
    " c.id, c.slug, c.name,"
    " DATE_FORMAT(p.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
    " DATE_FORMAT(p.updated_at, '%Y-%m-%dT%H:%i:%sZ'), COALESCE(i.stock, 0)"
    " FROM products p JOIN categories c ON c.id = p.category_id"
    " LEFT JOIN inventory i ON i.product_id = p.id"
    " WHERE p.id > ? ORDER BY p.id LIMIT ?";
static const char SQL_ATTRS[] = "SELECT product_id, name, value FROM product_attributes"
                                " WHERE product_id BETWEEN ? AND ? ORDER BY product_id";
/* The monolith's own aggregate (store_catalog.c SQL_PRODUCT), so averages agree. */
static const char SQL_RATINGS[] =
    "SELECT product_id, COUNT(*), ROUND(AVG(rating) * 100) FROM reviews"
    " WHERE product_id BETWEEN ? AND ? GROUP BY product_id ORDER BY product_id";

/* Catalog side: one statement per batch, the batch being one JSON array. */
static const char PG_NONEMPTY[] = "SELECT EXISTS (SELECT 1 FROM products)";
static const char PG_CATEGORIES_PUT[] =
    "INSERT INTO categories (id, slug, name, parent_id)"
    " SELECT c.id, c.slug, c.name, NULLIF(c.parent_id, 0)"
    " FROM jsonb_to_recordset($1::jsonb) AS c(id bigint, slug text, name text, parent_id bigint)"
    " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name,"
    " parent_id = EXCLUDED.parent_id";
static const char PG_PRODUCTS_PUT[] =
    "INSERT INTO products AS p (id, version, doc)"
    " SELECT (d->>'id')::bigint, 1, d FROM jsonb_array_elements($1::jsonb) AS d"
    " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now() WHERE p.version = 1";
/* Past the largest id, so the catalog's next insert does not collide. */
static const char PG_SEQUENCES[] =
    "SELECT setval(pg_get_serial_sequence(t, 'id'), m, true)"
    " FROM (VALUES ('products', (SELECT max(id) FROM products)),"
    "              ('categories', (SELECT max(id) FROM categories))) AS s(t, m)"
    " WHERE m IS NOT NULL AND pg_get_serial_sequence(t, 'id') IS NOT NULL";

#define BACKFILL_JSON (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

struct backfill {
    struct mdb *mono;
    struct db  *cat;
    int64_t     batch;
    int64_t     total, done, categories;
    double      t0, last_progress;
};

static void
progress(struct backfill *b, int force)
{
    double t = common_now();

    if (!force && t - b->last_progress < 0.5)
        return;
    b->last_progress = t;
    fprintf(stderr, "backfill: %-18s %9lld/%-9lld (%.1f s)\n", "products", (long long)b->done,
            (long long)b->total, t - b->t0);
}

/* json as text in a (the encoder's buffer dies with a). */
static const char *
dump(json_t *j, struct arena *a)
{
    char *s = json_dumps(j, BACKFILL_JSON);

    json_decref(j);
    if (s == NULL)
        return NULL;
    arena_defer(a, free, s);
    return s;
}

static int
categories_copy(struct backfill *b, struct arena *a)
{
    struct mdb_rows *rs;
    json_t          *all = json_array();
    const char      *text;
    size_t           i;
    int              rc;

    rc = mdb_query(b->mono, a, SQL_CATEGORIES, NULL, 0, &rs);
    if (rc) {
        json_decref(all);
        return rc;
    }
    for (i = 0; i < rs->nrows; i++)
        json_array_append_new(all,
                              json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)mdb_i64(rs, i, 0),
                                        "slug", mdb_get(rs, i, 1), "name", mdb_get(rs, i, 2),
                                        "parent_id", (json_int_t)mdb_i64(rs, i, 3)));
    text = dump(all, a);
    if (text == NULL)
        return ERR_INTERNAL;
    rc = db_exec_sql(b->cat, a, PG_CATEGORIES_PUT, 1, (const char *const[]){text}, NULL);
    if (rc == ERR_OK)
        b->categories = (int64_t)rs->nrows;
    return rc;
}

/* The catalog document of row i of SQL_PRODUCTS (attributes and rating are
 * filled in afterwards). Members in the order of the brief's DOC. */
static json_t *
product_doc(const struct mdb_rows *rs, size_t i)
{
    return json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:{s:I,s:s,s:s},s:{s:I,s:s},s:[],s:{},s:I,"
        "s:{s:f,s:I},s:s,s:s}",
        "id", (json_int_t)mdb_i64(rs, i, 0), "sku", mdb_get(rs, i, 1), "name", mdb_get(rs, i, 2),
        "description", mdb_get(rs, i, 3), "brand", mdb_get(rs, i, 4), "category", "id",
        (json_int_t)mdb_i64(rs, i, 7), "slug", mdb_get(rs, i, 8), "name", mdb_get(rs, i, 9),
        "price", "amount", (json_int_t)mdb_i64(rs, i, 5), "currency", mdb_get(rs, i, 6), "images",
        "attributes", "stock", (json_int_t)mdb_i64(rs, i, 12), "rating", "average", 0.0, "count",
        (json_int_t)0, "created_at", mdb_get(rs, i, 10), "updated_at", mdb_get(rs, i, 11));
}

/* The index in ids[0..n) (ascending) of id, walking forward from *at. */
static int
seek(const int64_t *ids, size_t n, size_t *at, int64_t id)
{
    while (*at < n && ids[*at] < id)
        (*at)++;
    return *at < n && ids[*at] == id;
}

/* Attributes stay strings: the monolith stores every value as text and its
 * v1 API returns them as JSON strings (monolith/api.c api_product), so the
 * documents render the same v1 shape. */
static void
attrs_merge(json_t **docs, const int64_t *ids, size_t n, const struct mdb_rows *rs)
{
    size_t i, at = 0;

    for (i = 0; i < rs->nrows; i++)
        if (seek(ids, n, &at, mdb_i64(rs, i, 0)))
            json_object_set_new(json_object_get(docs[at], "attributes"), mdb_get(rs, i, 1),
                                json_string(mdb_get(rs, i, 2)));
}

/* The monolith renders average as x100 / 100.0 (monolith/api.c rating). */
static void
ratings_merge(json_t **docs, const int64_t *ids, size_t n, const struct mdb_rows *rs)
{
    size_t i, at = 0;

    for (i = 0; i < rs->nrows; i++)
        if (seek(ids, n, &at, mdb_i64(rs, i, 0)))
            json_object_set_new(docs[at], "rating",
                                json_pack("{s:f,s:I}", "average", (double)mdb_i64(rs, i, 2) / 100.0,
                                          "count", (json_int_t)mdb_i64(rs, i, 1)));
}

/* One page after id *after; *n = 0 at the end. */
static int
products_batch(struct backfill *b, struct arena *a, int64_t *after, size_t *n)
{
    struct mdb_rows *rs, *attrs, *ratings;
    struct mdb_arg   range[2];
    json_t          *all, **docs;
    int64_t         *ids;
    const char      *text;
    size_t           i;
    int              rc;

    *n = 0;
    rc = mdb_query(b->mono, a, SQL_PRODUCTS, (struct mdb_arg[]){MDB_I64(*after), MDB_I64(b->batch)},
                   2, &rs);
    if (rc || rs->nrows == 0)
        return rc;
    ids = arena_array(a, int64_t, rs->nrows);
    for (i = 0; i < rs->nrows; i++)
        ids[i] = mdb_i64(rs, i, 0);
    range[0] = MDB_I64(ids[0]);
    range[1] = MDB_I64(ids[rs->nrows - 1]);
    rc = mdb_query(b->mono, a, SQL_ATTRS, range, 2, &attrs);
    if (rc == ERR_OK)
        rc = mdb_query(b->mono, a, SQL_RATINGS, range, 2, &ratings);
    if (rc)
        return rc;
    all = json_array();
    docs = arena_array(a, json_t *, rs->nrows);
    for (i = 0; i < rs->nrows; i++) {
        docs[i] = product_doc(rs, i);
        if (docs[i] == NULL) {
            common_fail("product %lld cannot be a document (text that is not UTF-8?)",
                        (long long)ids[i]);
            json_decref(all);
            return ERR_INVALID;
        }
        json_array_append_new(all, docs[i]); /* all keeps docs[i] alive */
    }
    attrs_merge(docs, ids, rs->nrows, attrs);
    ratings_merge(docs, ids, rs->nrows, ratings);
    text = dump(all, a);
    if (text == NULL)
        return ERR_INTERNAL;
    rc = db_exec_sql(b->cat, a, PG_PRODUCTS_PUT, 1, (const char *const[]){text}, NULL);
    if (rc)
        return rc;
    *after = ids[rs->nrows - 1];
    *n = rs->nrows;
    return ERR_OK;
}

/* 1 (and a message) when --if-empty finds products in the catalog. */
static int
catalog_has_products(struct backfill *b, struct arena *a, int *yes)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(b->cat, a, PG_NONEMPTY, 0, NULL, &rs);
    if (rc)
        return rc;
    *yes = strcmp(db_get(rs, 0, 0), "t") == 0;
    return ERR_OK;
}

static int
backfill_copy(struct backfill *b, struct arena *a)
{
    struct mdb_rows *rs;
    int64_t          after = 0;
    size_t           n = 1;
    int              rc;

    rc = mdb_query(b->mono, a, SQL_COUNT, NULL, 0, &rs);
    if (rc == ERR_OK)
        b->total = mdb_i64(rs, 0, 0);
    if (rc == ERR_OK)
        rc = categories_copy(b, a);
    while (rc == ERR_OK && n > 0) {
        arena_reset(a);
        rc = products_batch(b, a, &after, &n);
        b->done += (int64_t)n;
        progress(b, n == 0);
    }
    if (rc == ERR_OK)
        rc = db_exec_sql(b->cat, a, PG_SEQUENCES, 0, NULL, NULL);
    return rc;
}

static int
backfill_run(struct ctl *ctl, int64_t batch, int if_empty)
{
    struct backfill b = {0};
    struct arena   *a = arena_create();
    int             rc, full = 0;

    b.batch = batch;
    b.t0 = b.last_progress = common_now();
    b.mono = mdb_new(ctl->cfg.monolith_db);
    b.cat = db_new(ctl->cfg.catalog_db, NULL);
    if (b.mono == NULL || b.cat == NULL) {
        common_fail("SOUK_MONOLITH_DB or SOUK_CATALOG_DB is not a valid dsn");
        rc = ERR_INVALID;
        goto done;
    }
    rc = if_empty ? catalog_has_products(&b, a, &full) : ERR_OK;
    if (rc == ERR_OK && full) {
        puts("catalog already has products; nothing to do");
        goto done;
    }
    /* One snapshot of the monolith for every read (InnoDB repeatable read). */
    if (rc == ERR_OK)
        rc = mdb_begin(b.mono);
    if (rc == ERR_OK)
        rc = backfill_copy(&b, a);
    mdb_rollback(b.mono);
    if (rc) {
        common_fail("backfill failed after %lld of %lld products (see the log line above); it is "
                    "safe to run again",
                    (long long)b.done, (long long)b.total);
        goto done;
    }
    printf("backfilled %lld products, %lld categories in %.1f s\n", (long long)b.done,
           (long long)b.categories, common_now() - b.t0);
done:
    db_free(b.cat);
    mdb_free(b.mono);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
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
    int64_t batch = 1000;
    int     c, if_empty = 0;

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
    if (argc - optind != 1 || strcmp(argv[optind], "catalog") != 0) {
        fputs(backfill_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    return backfill_run(ctl, batch, if_empty);
}
