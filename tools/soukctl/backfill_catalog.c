/*
 * backfill_catalog.c - `soukctl backfill catalog`: the monolith's products
 * (rows, EAV attributes, stock, review aggregate) become catalog's JSONB
 * documents with the same ids and version 1; categories are copied as rows.
 * Writes no outbox rows: search is rebuilt from catalog afterwards
 * (`soukctl search rebuild`).
 */
#include "backfill.h"

/* Monolith side: keyset pages in id order; attributes and ratings for the
 * page's id range, in the same order, merged by walking both. Times are
 * rendered as the monolith's API does (store_catalog.c TS). */
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
/* The monolith's own aggregate (store_catalog.c SQL_PRODUCT), so averages
 * agree, and the sum the catalog keeps exact from then on (migration 0002). */
static const char SQL_RATINGS[] =
    "SELECT product_id, COUNT(*), ROUND(AVG(rating) * 100), SUM(rating) FROM reviews"
    " WHERE product_id BETWEEN ? AND ? GROUP BY product_id ORDER BY product_id";

/* Catalog side: a repeat refreshes what the catalog has not changed since
 * (version 1) and leaves alone a product it has written. The rating
 * aggregate goes to its columns: the count from the document, the sum from
 * the "rating_sum" member ratings_merge adds for the trip, which is not
 * kept in the document. */
static const char PG_PRODUCTS_PUT[] =
    "INSERT INTO products AS p (id, version, doc, rating_count, rating_sum)"
    " SELECT (d->>'id')::bigint, 1, d - 'rating_sum', (d #>> '{rating,count}')::bigint,"
    " coalesce((d->>'rating_sum')::bigint, 0) FROM jsonb_array_elements($1::jsonb) AS d"
    " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, rating_count = EXCLUDED.rating_count,"
    " rating_sum = EXCLUDED.rating_sum, updated_at = now() WHERE p.version = 1";

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

    for (i = 0; i < rs->nrows; i++) {
        if (!seek(ids, n, &at, mdb_i64(rs, i, 0)))
            continue;
        json_object_set_new(docs[at], "rating",
                            json_pack("{s:f,s:I}", "average", (double)mdb_i64(rs, i, 2) / 100.0,
                                      "count", (json_int_t)mdb_i64(rs, i, 1)));
        json_object_set_new(docs[at], "rating_sum", json_integer(mdb_i64(rs, i, 3)));
    }
}

/* The page's documents, attributes and ratings merged in; NULL (and a
 * message) when a row cannot be one. */
static json_t *
products_docs(const struct mdb_rows *rs, const int64_t *ids, struct arena *a,
              const struct mdb_rows *attrs, const struct mdb_rows *ratings)
{
    json_t **docs = arena_array(a, json_t *, rs->nrows);
    json_t  *all = json_array();
    size_t   i;

    for (i = 0; i < rs->nrows; i++) {
        docs[i] = product_doc(rs, i);
        if (docs[i] == NULL) {
            common_fail("product %lld cannot be a document (text that is not UTF-8?)",
                        (long long)ids[i]);
            json_decref(all);
            return NULL;
        }
        json_array_append_new(all, docs[i]); /* all keeps docs[i] alive */
    }
    attrs_merge(docs, ids, rs->nrows, attrs);
    ratings_merge(docs, ids, rs->nrows, ratings);
    return all;
}

static int
products_page(struct backfill *b, const struct backfill_table *t, struct arena *a, int64_t *after,
              size_t *n)
{
    struct mdb_rows *rs, *attrs, *ratings;
    struct mdb_arg   range[2];
    json_t          *all;
    int64_t         *ids;
    size_t           i;
    int              rc;

    *n = 0;
    rc = mdb_query(b->mono, a, t->read_sql, (struct mdb_arg[]){MDB_I64(*after), MDB_I64(b->batch)},
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
    all = products_docs(rs, ids, a, attrs, ratings);
    if (all == NULL)
        return ERR_INVALID;
    rc = backfill_write(b, a, t->write_sql, all);
    if (rc)
        return rc;
    *after = ids[rs->nrows - 1];
    *n = rs->nrows;
    return ERR_OK;
}

/* Products first, so the summary reads "N products, M categories";
 * categories in one page because a parent may have a larger id. */
static const struct backfill_table catalog_tables[] = {
    {"products", "SELECT COUNT(*) FROM products", SQL_PRODUCTS, PG_PRODUCTS_PUT, products_page, 0},
    {"categories", "SELECT COUNT(*) FROM categories",
     "SELECT id, slug, name, parent_id FROM categories WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO categories (id, slug, name, parent_id)"
     " SELECT (c->>0)::bigint, c->>1, c->>2, (c->>3)::bigint"
     " FROM jsonb_array_elements($1::jsonb) AS c"
     " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name,"
     " parent_id = EXCLUDED.parent_id",
     NULL, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

const struct backfill_target backfill_catalog = {
    "catalog",  "SELECT EXISTS (SELECT 1 FROM products)",
    "products", catalog_tables,
    NULL,       (const char *const[]){"products", "categories", NULL},
};
