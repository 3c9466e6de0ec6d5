/*
 * store.c - every SQL statement of the catalog (a table prepared on each
 * connection) and the row mapping. Documents travel as JSON text both ways;
 * PostgreSQL adds the members it owns (id, timestamps, the stock and rating
 * replicas) and the version. Each write and its outbox rows commit together.
 * Writes also return the category path their events carry (category_path(),
 * migration 0002).
 */
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "db.h"

/* Times in documents are RFC 3339 UTC with second precision, as v1 shows them. */
#define NOW_TEXT "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The expressions the migration indexes; a query must spell them alike. */
#define X_CATEGORY "(p.doc->'category'->>'id')::bigint"
#define X_PRICE    "(p.doc->'price'->>'amount')::bigint"

/* What every write returns: the row and the path of its category. */
#define WRITTEN "id, version, doc::text, category_path((doc->'category'->>'id')::bigint)::text"

/* $1 category slug (with its direct children), $2/$3 price bounds,
 * $4 containment document, $5/$6 jsonpath and its variables; NULL = no
 * condition. Each test folds away in a custom plan when its parameter is NULL. */
#define LIST_WHERE                                                                                 \
    " FROM products p WHERE p.deleted_at IS NULL"                                                  \
    " AND ($1::text IS NULL OR " X_CATEGORY " IN (SELECT c.id FROM categories c"                   \
    "   WHERE c.slug = $1 OR c.parent_id = (SELECT c2.id FROM categories c2 WHERE c2.slug = $1)))" \
    " AND ($2::bigint IS NULL OR " X_PRICE " >= $2)"                                               \
    " AND ($3::bigint IS NULL OR " X_PRICE " <= $3)"                                               \
    " AND ($4::jsonb IS NULL OR p.doc @> $4::jsonb)"                                               \
    " AND ($5::jsonpath IS NULL OR jsonb_path_exists(p.doc, $5::jsonpath, $6::jsonb))"

#define LIST(order)                                                                                \
    "SELECT p.id, p.version, p.doc::text" LIST_WHERE " ORDER BY " order " LIMIT $7 OFFSET $8"

/* clang-format off */
#define CATALOG_SQL(X)                                                                             \
    X(PING, 0, "SELECT 1")                                                                         \
    X(CATEGORY_LIST, 0, "SELECT id, slug, name, COALESCE(parent_id, 0), count(*) OVER ()"         \
                        " FROM categories ORDER BY id")                                            \
    X(CATEGORY_GET, 1, "SELECT id, slug, name, COALESCE(parent_id, 0) FROM categories WHERE id = $1") \
    X(CATEGORY_INSERT, 3, "INSERT INTO categories (parent_id, slug, name)"                         \
                          " VALUES ($1::bigint, $2, $3) RETURNING id")                             \
    X(PRODUCT_GET, 1, "SELECT id, version, doc::text, deleted_at IS NOT NULL"                      \
                      " FROM products WHERE id = $1")                                              \
    X(PRODUCT_INSERT, 1, "WITH n AS (SELECT nextval('products_id_seq') AS id, " NOW_TEXT " AS ts)" \
        " INSERT INTO products (id, version, doc, updated_at)"                                     \
        " SELECT n.id, 1, jsonb_build_object('id', n.id) || $1::jsonb"                             \
        "  || jsonb_build_object('stock', 0, 'rating', jsonb_build_object('average', 0, 'count', 0)," \
        "     'created_at', n.ts, 'updated_at', n.ts), now() FROM n"                               \
        " RETURNING " WRITTEN)                                                                     \
    X(PRODUCT_LOCK, 1, "SELECT (doc->'price'->>'amount')::bigint, doc->'price'->>'currency'"       \
                       " FROM products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")           \
    X(PRODUCT_UPDATE, 2, "UPDATE products SET version = version + 1, updated_at = now(),"          \
                         " doc = doc || $2::jsonb || jsonb_build_object('updated_at', " NOW_TEXT ")" \
                         " WHERE id = $1 RETURNING " WRITTEN)                                      \
    X(PRODUCT_DELETE, 1, "UPDATE products SET version = version + 1, deleted_at = now(),"          \
                         " updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING version") \
    X(PRODUCT_IDS, 1, "SELECT id, version, doc::text FROM products"                                \
                      " WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL")                      \
    X(PRODUCT_COUNT, 6, "SELECT count(*)" LIST_WHERE)                                              \
    X(LIST_RELEVANCE, 8, LIST("p.id"))                                                             \
    X(LIST_NEWEST, 8, LIST("p.doc->>'created_at' DESC, p.id DESC"))                               \
    X(LIST_PRICE_ASC, 8, LIST(X_PRICE ", p.id"))                                                   \
    X(LIST_PRICE_DESC, 8, LIST(X_PRICE " DESC, p.id"))                                             \
    X(LIST_NAME, 8, LIST("upper(p.doc->>'name') COLLATE \"C\", p.id"))
/* clang-format on */

enum { CATALOG_SQL(DB_STMT_ENUM) };

const struct db_stmt catalog_sql[] = {CATALOG_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The consumer (review.created) runs on mq's connection, which has no
 * statement table. One more rating is a document write like any other: the
 * version moves on, and the document's rating is derived from the exact
 * count and sum (rating_doc(), migration 0002). The document's updated_at
 * stays, as the monolith's, whose rating is computed when read. */
static const char rating_add_sql[] =
    "UPDATE products SET version = version + 1, updated_at = now(),"
    " rating_count = rating_count + 1, rating_sum = rating_sum + $2::bigint,"
    " doc = jsonb_set(doc, '{rating}', rating_doc(rating_count + 1, rating_sum + $2::bigint))"
    " WHERE id = $1::bigint AND deleted_at IS NULL RETURNING " WRITTEN;

/* inventory.stock_changed (the consumer, on mq's connection): the sellable
 * units become DOC.stock when inventory's version is newer than the one
 * applied last. A document write like a rating: the version moves on, so
 * the cache's set-if-newer rules hold; updated_at stays (stock is not an
 * edit of the product). */
static const char stock_apply_sql[] =
    "UPDATE products SET version = version + 1, updated_at = now(), stock_version = $3::bigint,"
    " doc = jsonb_set(doc, '{stock}', to_jsonb($2::bigint))"
    " WHERE id = $1::bigint AND deleted_at IS NULL AND stock_version < $3::bigint"
    " RETURNING " WRITTEN;

/* v1 sorts the way the monolith does, ties by id. */
static const int sort_stmt[] = {
    [SORT_RELEVANCE] = SQL_LIST_RELEVANCE, [SORT_NEWEST] = SQL_LIST_NEWEST,
    [SORT_PRICE_ASC] = SQL_LIST_PRICE_ASC, [SORT_PRICE_DESC] = SQL_LIST_PRICE_DESC,
    [SORT_NAME] = SQL_LIST_NAME,
};

/* ---- categories ------------------------------------------------------------------ */

static void
category_map(const struct db_rows *rs, size_t i, struct category *c)
{
    c->id = db_i64(rs, i, 0);
    c->slug = db_get(rs, i, 1);
    c->name = db_get(rs, i, 2);
    c->parent_id = db_i64(rs, i, 3);
}

int
store_categories(struct work *w, struct category **out, size_t *n, int64_t *version)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_CATEGORY_LIST, NULL, &rs);
    if (rc)
        return rc;
    *out = arena_array(w->arena, struct category, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        category_map(rs, i, &(*out)[i]);
    *n = rs->nrows;
    *version = rs->nrows ? db_i64(rs, 0, 4) : 0;
    return ERR_OK;
}

int
store_category_get(struct work *w, int64_t id, struct category *out)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, SQL_CATEGORY_GET,
                     (const char *const[]){db_i64_text(w->arena, id)}, &rs);
    if (rc)
        return rc;
    category_map(rs, 0, out);
    return ERR_OK;
}

int
store_category_create(struct work *w, struct category *c)
{
    const char     *parent = c->parent_id ? db_i64_text(w->arena, c->parent_id) : NULL;
    struct db_rows *rs;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_CATEGORY_INSERT,
                 (const char *const[]){parent, c->slug, c->name}, &rs);
    if (rc)
        return rc;
    c->id = db_i64(rs, 0, 0);
    return ERR_OK;
}

/* ---- products -------------------------------------------------------------------- */

static void
row_map(const struct db_rows *rs, size_t i, struct product_row *p)
{
    memset(p, 0, sizeof(*p));
    p->id = db_i64(rs, i, 0);
    p->version = db_i64(rs, i, 1);
    p->doc = db_get(rs, i, 2);
    p->len = db_len(rs, i, 2);
}

/* A row returned by a write (WRITTEN): with its category path. */
static void
written_map(const struct db_rows *rs, struct product_row *p)
{
    row_map(rs, 0, p);
    p->category_path = db_get(rs, 0, 3);
}

int
store_product_get(struct work *w, int64_t id, struct product_row *out)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, SQL_PRODUCT_GET,
                     (const char *const[]){db_i64_text(w->arena, id)}, &rs);
    if (rc)
        return rc;
    row_map(rs, 0, out);
    out->deleted = strcmp(db_get(rs, 0, 3), "t") == 0;
    return ERR_OK;
}

int
store_product_create(struct work *w, const char *part, struct product_row *out)
{
    struct db      *db = w->db;
    struct db_rows *rs;
    int             rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec(db, w->arena, SQL_PRODUCT_INSERT, (const char *const[]){part}, &rs);
    if (rc)
        goto done;
    written_map(rs, out);
    rc = events_product(w, EVENT_PRODUCT_CREATED, out, NULL);
    if (rc)
        goto done;
    rc = db_commit(db);
done:
    if (rc)
        db_rollback(db);
    return rc;
}

/* The events of one update, inside its transaction. */
static int
update_events(struct work *w, const struct product_row *row, const struct money *old,
              const struct money *new_price, int price_only)
{
    int rc;

    if (!price_only) {
        rc = events_product(w, EVENT_PRODUCT_UPDATED, row, NULL);
        if (rc)
            return rc;
        if (old->minor == new_price->minor && strcmp(old->currency, new_price->currency) == 0)
            return ERR_OK;
    }
    return events_product(w, EVENT_PRODUCT_PRICE_CHANGED, row, old);
}

/* The row lock taken first serialises writers of one product, so versions,
 * commits and outbox rows come in the same order. */
int
store_product_update(struct work *w, int64_t id, const char *part, const struct money *new_price,
                     int price_only, struct product_row *out)
{
    struct db      *db = w->db;
    const char     *idt = db_i64_text(w->arena, id), *cur;
    struct money    old = {0};
    struct db_rows *rs;
    int             rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec_row(db, w->arena, SQL_PRODUCT_LOCK, (const char *const[]){idt}, &rs);
    if (rc)
        goto done;
    old.minor = db_i64(rs, 0, 0);
    cur = db_get(rs, 0, 1);
    if (cur != NULL && strlen(cur) == 3)
        memcpy(old.currency, cur, 4);
    rc = db_exec(db, w->arena, SQL_PRODUCT_UPDATE, (const char *const[]){idt, part}, &rs);
    if (rc)
        goto done;
    written_map(rs, out);
    rc = update_events(w, out, &old, new_price, price_only);
    if (rc)
        goto done;
    rc = db_commit(db);
done:
    if (rc)
        db_rollback(db);
    return rc;
}

int
store_product_delete(struct work *w, int64_t id, int64_t *version)
{
    struct db      *db = w->db;
    struct db_rows *rs;
    int             rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec_row(db, w->arena, SQL_PRODUCT_DELETE,
                     (const char *const[]){db_i64_text(w->arena, id)}, &rs);
    if (rc)
        goto done;
    *version = db_i64(rs, 0, 0);
    rc = events_product_deleted(w, id, *version);
    if (rc)
        goto done;
    rc = db_commit(db);
done:
    if (rc)
        db_rollback(db);
    return rc;
}

static int
page_map(struct work *w, const struct db_rows *rs, struct product_page *out)
{
    size_t i;

    out->n = rs->nrows;
    out->items = arena_array(w->arena, struct product_row, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        row_map(rs, i, &out->items[i]);
    return ERR_OK;
}

int
store_products(struct work *w, const struct product_query *q, const struct filter_sql *f,
               struct product_page *out)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    const char     *params[8];
    int             rc;

    memset(out, 0, sizeof(*out));
    if (q->empty)
        return ERR_OK;
    params[0] = q->category;
    params[1] = q->min_price >= 0 ? db_i64_text(a, q->min_price) : NULL;
    params[2] = q->max_price >= 0 ? db_i64_text(a, q->max_price) : NULL;
    params[3] = f->contains;
    params[4] = f->path;
    params[5] = f->vars;
    params[6] = db_i64_text(a, q->limit);
    params[7] = db_i64_text(a, (q->page - 1) * q->limit);
    rc = db_exec(w->db, a, SQL_PRODUCT_COUNT, params, &rs);
    if (rc)
        return rc;
    out->total = db_i64(rs, 0, 0);
    if (out->total <= (q->page - 1) * q->limit)
        return ERR_OK; /* past the end: no second round trip */
    rc = db_exec(w->db, a, sort_stmt[q->sort], params, &rs);
    if (rc)
        return rc;
    return page_map(w, rs, out);
}

int
store_products_by_ids(struct work *w, const int64_t *ids, size_t n, struct product_page *out)
{
    struct db_rows *rs;
    struct buf     *b = buf_new(w->arena, 32 * (MAX_BULK_IDS + 1));
    size_t          i;
    int             rc;

    buf_putc(b, '{');
    for (i = 0; i < n; i++)
        buf_printf(b, "%s%lld", i ? "," : "", (long long)ids[i]);
    buf_putc(b, '}');
    if (buf_error(b))
        return ERR_INTERNAL;
    rc = db_exec(w->db, w->arena, SQL_PRODUCT_IDS, (const char *const[]){buf_data(b)}, &rs);
    if (rc)
        return rc;
    out->total = (int64_t)rs->nrows;
    return page_map(w, rs, out);
}

int
store_rating_add(struct work *w, int64_t id, int64_t rating, struct product_row *out, int *found)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(
        w->db, w->arena, rating_add_sql, 2,
        (const char *const[]){db_i64_text(w->arena, id), db_i64_text(w->arena, rating)}, &rs);
    if (rc)
        return rc;
    *found = rs->nrows == 1;
    if (*found)
        written_map(rs, out);
    return ERR_OK;
}

int
store_stock_apply(struct work *w, int64_t id, int64_t available, int64_t version,
                  struct product_row *out, int *found)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(w->db, a, stock_apply_sql, 3,
                     (const char *const[]){db_i64_text(a, id), db_i64_text(a, available),
                                           db_i64_text(a, version)},
                     &rs);
    if (rc)
        return rc;
    *found = rs->nrows == 1;
    if (*found)
        written_map(rs, out);
    return ERR_OK;
}
