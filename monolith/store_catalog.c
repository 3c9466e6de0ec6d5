/*
 * store_catalog.c - SQL for categories, products and their EAV attributes.
 * Reading one product joins products, categories, inventory, reviews and one
 * row per attribute; filtering by attributes adds one join per filter. That
 * is the legacy design the catalog service replaces with documents.
 */
#include <string.h>

#include "buf.h"
#include "mdb.h"
#include "monolith.h"

#define DB(r)    ((struct mdb *)(r)->worker)
#define TS(col)  "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
#define MAX_ARGS (8 + 2 * MAX_ATTR_FILTERS)

static const char SQL_CATEGORIES[] =
    "SELECT id, slug, name, COALESCE(parent_id, 0) FROM categories ORDER BY id";
static const char SQL_CATEGORY[] =
    "SELECT id, slug, name, COALESCE(parent_id, 0) FROM categories WHERE id = ?";
static const char SQL_PRODUCT[] =
    "SELECT p.id, p.sku, p.name, p.brand, p.price_minor, p.currency, c.id, c.slug, c.name,"
    " p.description, " TS("p.created_at") ", " TS(
        "p.updated_at") ", COALESCE(i.stock, 0),"
                        " COALESCE(rs.n, 0), COALESCE(rs.avg_x100, 0), a.name, a.value"
                        " FROM products p JOIN categories c ON c.id = p.category_id"
                        " LEFT JOIN inventory i ON i.product_id = p.id"
                        " LEFT JOIN (SELECT product_id, COUNT(*) AS n, ROUND(AVG(rating) * 100) AS "
                        "avg_x100"
                        "            FROM reviews WHERE product_id = ? GROUP BY product_id) rs"
                        "   ON rs.product_id = p.id"
                        " LEFT JOIN product_attributes a ON a.product_id = p.id"
                        " WHERE p.id = ? ORDER BY a.name";
static const char SQL_PRODUCT_LOCK[] = "SELECT id FROM products WHERE id = ? FOR UPDATE";
static const char SQL_PRODUCT_INSERT[] =
    "INSERT INTO products (sku, name, description, category_id, brand, price_minor, currency)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_PRODUCT_UPDATE[] =
    "UPDATE products SET sku = ?, name = ?, description = ?, category_id = ?, brand = ?,"
    " price_minor = ?, currency = ? WHERE id = ?";
static const char SQL_STOCK_INIT[] = "INSERT INTO inventory (product_id, stock) VALUES (?, 0)";
static const char SQL_ATTRS_DELETE[] = "DELETE FROM product_attributes WHERE product_id = ?";
static const char SQL_ATTR_INSERT[] =
    "INSERT INTO product_attributes (product_id, name, value) VALUES (?, ?, ?)";
static const char SQL_STOCK_SET[] = "INSERT INTO inventory (product_id, stock) VALUES (?, ?)"
                                    " ON DUPLICATE KEY UPDATE stock = VALUES(stock)";
static const char SQL_PRODUCT_EXISTS[] = "SELECT id FROM products WHERE id = ?";

/* The list's columns, shared by the listing and the product page. */
#define LIST_COLS "p.id, p.sku, p.name, p.brand, p.price_minor, p.currency, c.id, c.slug, c.name"

static const char *const sort_sql[] = {
    [SORT_RELEVANCE] = "p.id",
    [SORT_NEWEST] = "p.created_at DESC, p.id DESC",
    [SORT_PRICE_ASC] = "p.price_minor, p.id",
    [SORT_PRICE_DESC] = "p.price_minor DESC, p.id",
    [SORT_NAME] = "p.name, p.id",
};

int
store_categories(struct req *r, struct category **out, size_t *n)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_CATEGORIES, NULL, 0, &rs);
    if (rc)
        return rc;
    *out = arena_array(r->arena, struct category, rs->nrows);
    for (i = 0; i < rs->nrows; i++) {
        (*out)[i].id = mdb_i64(rs, i, 0);
        (*out)[i].slug = mdb_get(rs, i, 1);
        (*out)[i].name = mdb_get(rs, i, 2);
        (*out)[i].parent_id = mdb_i64(rs, i, 3);
    }
    *n = rs->nrows;
    return ERR_OK;
}

int
store_category_get(struct req *r, int64_t id, struct category *out)
{
    struct mdb_rows *rs;
    struct mdb_arg   arg = MDB_I64(id);
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_CATEGORY, &arg, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    out->id = mdb_i64(rs, 0, 0);
    out->slug = mdb_get(rs, 0, 1);
    out->name = mdb_get(rs, 0, 2);
    out->parent_id = mdb_i64(rs, 0, 3);
    return ERR_OK;
}

static void
summary_map(const struct mdb_rows *rs, size_t i, struct product *p)
{
    p->id = mdb_i64(rs, i, 0);
    p->sku = mdb_get(rs, i, 1);
    p->name = mdb_get(rs, i, 2);
    p->brand = mdb_get(rs, i, 3);
    p->price.minor = mdb_i64(rs, i, 4);
    memcpy(p->price.currency, mdb_get(rs, i, 5), 3);
    p->category.id = mdb_i64(rs, i, 6);
    p->category.slug = mdb_get(rs, i, 7);
    p->category.name = mdb_get(rs, i, 8);
}

/* LIKE treats % and _ as wildcards; a shopper's "100%" must match literally. */
static char *
like_pattern(struct req *r, const char *q)
{
    struct buf b;
    char      *out;

    buf_init(&b, 1024);
    buf_putc(&b, '%');
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\')
            buf_putc(&b, '\\');
        buf_putc(&b, *q);
    }
    buf_putc(&b, '%');
    out = arena_strdup(r->arena, buf_data(&b));
    buf_free(&b);
    return out;
}

/* FROM ... WHERE ... for a listing; the same text serves COUNT(*) and the page. */
static void
list_where(struct req *r, const struct product_query *q, struct buf *sql, struct mdb_arg *args,
           size_t *n)
{
    size_t i;

    buf_puts(sql, " FROM products p JOIN categories c ON c.id = p.category_id");
    for (i = 0; i < q->nfilters; i++) {
        buf_printf(sql,
                   " JOIN product_attributes f%zu ON f%zu.product_id = p.id"
                   " AND f%zu.name = ? AND f%zu.value = ?",
                   i, i, i, i);
        args[(*n)++] = MDB_STR(q->filters[i].name);
        args[(*n)++] = MDB_STR(q->filters[i].value);
    }
    buf_puts(sql, " WHERE 1 = 1");
    if (q->category) {
        buf_puts(sql,
                 " AND (c.slug = ? OR c.parent_id = (SELECT id FROM categories WHERE slug = ?))");
        args[(*n)++] = MDB_STR(q->category);
        args[(*n)++] = MDB_STR(q->category);
    }
    if (q->min_price >= 0) {
        buf_puts(sql, " AND p.price_minor >= ?");
        args[(*n)++] = MDB_I64(q->min_price);
    }
    if (q->max_price >= 0) {
        buf_puts(sql, " AND p.price_minor <= ?");
        args[(*n)++] = MDB_I64(q->max_price);
    }
    if (q->q) {
        char *pat = like_pattern(r, q->q);

        buf_puts(sql, " AND (p.name LIKE ? OR p.description LIKE ?)");
        args[(*n)++] = MDB_STR(pat);
        args[(*n)++] = MDB_STR(pat);
    }
}

/* A SQL text builder freed with the request. */
static struct buf *
sql_buf(struct req *r, size_t max)
{
    return buf_new(r->arena, max);
}

/* Attributes of the listed products, one query for the whole page. */
static int
attrs_fill(struct req *r, struct product *items, size_t n)
{
    struct mdb_rows *rs;
    struct mdb_arg  *args;
    struct buf      *sql;
    size_t           i, j;
    int              rc;

    if (n == 0)
        return ERR_OK;
    args = arena_array(r->arena, struct mdb_arg, n);
    sql = sql_buf(r, 16384);
    buf_puts(sql, "SELECT product_id, name, value FROM product_attributes WHERE product_id IN (");
    for (i = 0; i < n; i++) {
        buf_puts(sql, i ? ", ?" : "?");
        args[i] = MDB_I64(items[i].id);
        items[i].attrs = arena_array(r->arena, struct attr, MAX_ATTRS);
    }
    buf_puts(sql, ") ORDER BY product_id, name");
    rc = mdb_query(DB(r), r->arena, buf_data(sql), args, n, &rs);
    if (rc)
        return rc;
    for (i = 0; i < rs->nrows; i++) {
        int64_t id = mdb_i64(rs, i, 0);

        for (j = 0; j < n; j++) {
            if (items[j].id == id && items[j].nattrs < MAX_ATTRS) {
                items[j].attrs[items[j].nattrs].name = mdb_get(rs, i, 1);
                items[j].attrs[items[j].nattrs].value = mdb_get(rs, i, 2);
                items[j].nattrs++;
                break;
            }
        }
    }
    return ERR_OK;
}

int
store_products(struct req *r, const struct product_query *q, struct product_page *out)
{
    struct mdb_arg   args[MAX_ARGS + 3];
    struct mdb_rows *rs;
    struct buf      *where, *sql;
    size_t           n = 0, i, nw;
    int              rc;

    where = sql_buf(r, 8192);
    sql = sql_buf(r, 8192);
    list_where(r, q, where, args, &n);
    buf_printf(sql, "SELECT COUNT(*)%s", buf_data(where));
    rc = mdb_query(DB(r), r->arena, buf_data(sql), args, n, &rs);
    if (rc)
        return rc;
    out->total = mdb_i64(rs, 0, 0);

    nw = n;
    buf_reset(sql);
    buf_printf(sql, "SELECT " LIST_COLS "%s ORDER BY ", buf_data(where));
    if (q->q && q->sort == SORT_RELEVANCE) {
        buf_puts(sql, "(p.name LIKE ?) DESC, ");
        args[nw++] = args[n - 2];
    }
    buf_printf(sql, "%s LIMIT ? OFFSET ?", sort_sql[q->sort]);
    args[nw++] = MDB_I64(q->limit);
    args[nw++] = MDB_I64((q->page - 1) * q->limit);
    if (buf_error(sql) || buf_error(where))
        return ERR_INTERNAL;
    rc = mdb_query(DB(r), r->arena, buf_data(sql), args, nw, &rs);
    if (rc)
        return rc;
    out->n = rs->nrows;
    out->items = arena_array(r->arena, struct product, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        summary_map(rs, i, &out->items[i]);
    return attrs_fill(r, out->items, out->n);
}

int
store_product_get(struct req *r, int64_t id, struct product **out)
{
    struct mdb_arg   args[] = {MDB_I64(id), MDB_I64(id)};
    struct mdb_rows *rs;
    struct product  *p;
    size_t           i;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_PRODUCT, args, 2, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    p = arena_new(r->arena, struct product);
    summary_map(rs, 0, p);
    p->description = mdb_get(rs, 0, 9);
    p->created_at = mdb_get(rs, 0, 10);
    p->updated_at = mdb_get(rs, 0, 11);
    p->stock = mdb_i64(rs, 0, 12);
    p->review_count = mdb_i64(rs, 0, 13);
    p->rating_x100 = mdb_i64(rs, 0, 14);
    p->attrs = arena_array(r->arena, struct attr, rs->nrows);
    for (i = 0; i < rs->nrows; i++) {
        if (mdb_get(rs, i, 15) == NULL)
            continue;
        p->attrs[p->nattrs].name = mdb_get(rs, i, 15);
        p->attrs[p->nattrs].value = mdb_get(rs, i, 16);
        p->nattrs++;
    }
    *out = p;
    return ERR_OK;
}

static int
product_rows(struct req *r, struct product *p, int create)
{
    struct mdb_arg   args[] = {MDB_STR(p->sku),
                               MDB_STR(p->name),
                               MDB_STR(p->description),
                               MDB_I64(p->category.id),
                               MDB_STR(p->brand),
                               MDB_I64(p->price.minor),
                               MDB_STR(p->price.currency),
                               MDB_I64(p->id)};
    struct mdb_arg   id = MDB_I64(p->id);
    struct mdb_rows *rs;
    uint64_t         new_id;
    size_t           i;
    int              rc;

    if (create) {
        rc = mdb_exec(DB(r), SQL_PRODUCT_INSERT, args, 7, NULL, &new_id);
        if (rc)
            return rc;
        p->id = (int64_t)new_id;
        id = MDB_I64(p->id);
        rc = mdb_exec(DB(r), SQL_STOCK_INIT, &id, 1, NULL, NULL);
    } else {
        rc = mdb_query(DB(r), r->arena, SQL_PRODUCT_LOCK, &id, 1, &rs);
        if (rc == ERR_OK && rs->nrows == 0)
            rc = ERR_NOT_FOUND;
        if (rc == ERR_OK)
            rc = mdb_exec(DB(r), SQL_PRODUCT_UPDATE, args, 8, NULL, NULL);
        if (rc == ERR_OK)
            rc = mdb_exec(DB(r), SQL_ATTRS_DELETE, &id, 1, NULL, NULL);
    }
    for (i = 0; rc == ERR_OK && i < p->nattrs; i++) {
        struct mdb_arg a[] = {MDB_I64(p->id), MDB_STR(p->attrs[i].name),
                              MDB_STR(p->attrs[i].value)};

        rc = mdb_exec(DB(r), SQL_ATTR_INSERT, a, 3, NULL, NULL);
    }
    return rc;
}

int
store_product_put(struct req *r, struct product *p, int create)
{
    int rc;

    rc = mdb_begin(DB(r));
    if (rc)
        return rc;
    rc = product_rows(r, p, create);
    if (rc)
        goto done;
    rc = mdb_commit(DB(r));
done:
    if (rc)
        mdb_rollback(DB(r));
    return rc;
}

int
store_product_exists(struct req *r, int64_t id)
{
    struct mdb_arg   arg = MDB_I64(id);
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_PRODUCT_EXISTS, &arg, 1, &rs);
    if (rc)
        return rc;
    return rs->nrows ? ERR_OK : ERR_NOT_FOUND;
}

int
store_stock_set(struct req *r, int64_t product_id, int64_t stock)
{
    struct mdb_arg args[] = {MDB_I64(product_id), MDB_I64(stock)};
    int            rc;

    rc = store_product_exists(r, product_id);
    if (rc)
        return rc;
    return mdb_exec(DB(r), SQL_STOCK_SET, args, 2, NULL, NULL);
}
