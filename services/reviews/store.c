/*
 * store.c - every SQL statement of the reviews service, as one table, and the
 * row -> struct mapping. A review is a JSONB document {"rating","title",
 * "body"} built and taken apart by PostgreSQL, so no JSON is handled here.
 * A review, its product's rating aggregate and its review.created outbox row
 * commit together, so the count and average never drift from the rows.
 */
#include <string.h>

#include "reviews.h"

/* Seconds, UTC, as the monolith's DATE_FORMAT(..., '%Y-%m-%dT%H:%i:%sZ'). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* clang-format off */
#define REVIEWS_SQL(X)                                                                             \
    /* One snapshot: the product (absent or a tombstone = 404), its aggregate */                   \
    /* and one page of reviews (none on a page past the end: NULL columns). */                     \
    X(PAGE, 3,                                                                                     \
      "SELECT p.deleted, COALESCE(a.count, 0), COALESCE(a.sum, 0), v.id, v.user_id, v.author,"     \
      " v.rating, v.title, v.body, v.created_at FROM products p"                                   \
      " LEFT JOIN ratings a ON a.product_id = p.id"                                                \
      " LEFT JOIN LATERAL (SELECT rv.id, rv.user_id, COALESCE(u.name, '') AS author,"              \
      "   (rv.doc->>'rating')::bigint AS rating, rv.doc->>'title' AS title,"                       \
      "   rv.doc->>'body' AS body, " TS("rv.created_at") " AS created_at, rv.created_at AS at"     \
      "   FROM reviews rv LEFT JOIN users_replica u ON u.id = rv.user_id"                          \
      "   WHERE rv.product_id = p.id ORDER BY rv.created_at DESC, rv.id DESC"                      \
      "   LIMIT $2::bigint OFFSET $3::bigint) v ON true"                                           \
      " WHERE p.id = $1::bigint ORDER BY v.at DESC, v.id DESC")                                    \
    /* Holds off a concurrent product.deleted until the review commits. */                         \
    X(PRODUCT_LOCK, 1,                                                                             \
      "SELECT 1 FROM products WHERE id = $1::bigint AND NOT deleted FOR SHARE")                    \
    X(REVIEW_INSERT, 5,                                                                            \
      "INSERT INTO reviews (product_id, user_id, doc) VALUES ($1::bigint, $2::bigint,"             \
      " jsonb_build_object('rating', $3::integer, 'title', $4::text, 'body', $5::text))"           \
      " ON CONFLICT (product_id, user_id) DO NOTHING"                                              \
      " RETURNING id, " TS("created_at") ","                                                       \
      " COALESCE((SELECT name FROM users_replica WHERE id = $2::bigint), '')")                     \
    X(RATING_ADD, 2,                                                                               \
      "INSERT INTO ratings AS a (product_id, count, sum) VALUES ($1::bigint, 1, $2::bigint)"       \
      " ON CONFLICT (product_id) DO UPDATE SET count = a.count + 1, sum = a.sum + EXCLUDED.sum")
/* clang-format on */

enum reviews_stmt { REVIEWS_SQL(DB_STMT_ENUM) };

const struct db_stmt reviews_stmts[] = {REVIEWS_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The consumer runs on mq's connection, which has no statement table. A
 * product row is written only when the event's version is newer; a delete
 * keeps the row as a tombstone with its version. */
static const char product_apply_sql[] =
    "INSERT INTO products AS p (id, version, deleted) VALUES ($1::bigint, $2::bigint, $3::boolean)"
    " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted"
    " WHERE p.version < EXCLUDED.version RETURNING true";
/* An account is registered once (contracts/events.md): the first name wins. */
static const char user_apply_sql[] = "INSERT INTO users_replica (id, name)"
                                     " VALUES ($1::bigint, $2::text) ON CONFLICT (id) DO NOTHING";

/* Columns 3..9 of PAGE. */
static void
review_map(const struct db_rows *rs, size_t i, int64_t product_id, struct review *rv)
{
    rv->id = db_i64(rs, i, 3);
    rv->product_id = product_id;
    rv->user_id = db_i64(rs, i, 4);
    rv->author = db_get(rs, i, 5);
    rv->rating = db_i64(rs, i, 6);
    rv->title = db_get(rs, i, 7);
    rv->body = db_get(rs, i, 8);
    rv->created_at = db_get(rs, i, 9);
    if (rv->title == NULL)
        rv->title = ""; /* a document written without one (backfill) */
    if (rv->body == NULL)
        rv->body = "";
}

int
store_reviews(struct work *w, int64_t product_id, int64_t page, int64_t limit,
              struct review_page *out)
{
    const char     *params[] = {db_i64_text(w->arena, product_id), db_i64_text(w->arena, limit),
                                db_i64_text(w->arena, review_offset(page, limit))};
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_PAGE, params, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0 || strcmp(db_get(rs, 0, 0), "t") == 0)
        return ERR_NOT_FOUND;
    out->rating.count = db_i64(rs, 0, 1);
    out->rating.sum = db_i64(rs, 0, 2);
    out->items = arena_array(w->arena, struct review, rs->nrows + 1);
    out->n = 0;
    for (i = 0; i < rs->nrows; i++)
        if (db_get(rs, i, 3) != NULL)
            review_map(rs, i, product_id, &out->items[out->n++]);
    return ERR_OK;
}

/* The statements of store_review_create, inside its transaction. */
static int
review_insert(struct work *w, struct review *rv)
{
    struct arena   *a = w->arena;
    const char     *product = db_i64_text(a, rv->product_id);
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, a, SQL_PRODUCT_LOCK, (const char *const[]){product}, &rs);
    if (rc)
        return rc;
    rc = db_exec(w->db, a, SQL_REVIEW_INSERT,
                 (const char *const[]){product, db_i64_text(a, rv->user_id),
                                       db_i64_text(a, rv->rating), rv->title, rv->body},
                 &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_DUPLICATE; /* ON CONFLICT: this user's review of this product exists */
    rv->id = db_i64(rs, 0, 0);
    rv->created_at = db_get(rs, 0, 1);
    rv->author = db_get(rs, 0, 2);
    return db_exec(w->db, a, SQL_RATING_ADD,
                   (const char *const[]){product, db_i64_text(a, rv->rating)}, NULL);
}

int
store_review_create(struct work *w, struct review *rv)
{
    struct db *db = w->db;
    int        rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = review_insert(w, rv);
    if (rc)
        goto done;
    rc = events_review_created(w, rv);
    if (rc)
        goto done;
    rc = db_commit(db);
done:
    if (rc)
        db_rollback(db);
    return rc;
}

int
store_product_apply(struct work *w, int64_t id, int64_t version, int deleted, int *applied)
{
    const char     *params[] = {db_i64_text(w->arena, id), db_i64_text(w->arena, version),
                            deleted ? "true" : "false"};
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(w->db, w->arena, product_apply_sql, 3, params, &rs);
    if (rc)
        return rc;
    *applied = rs->nrows == 1;
    return ERR_OK;
}

int
store_user_apply(struct work *w, int64_t id, const char *name)
{
    return db_exec_sql(w->db, w->arena, user_apply_sql, 2,
                       (const char *const[]){db_i64_text(w->arena, id), name}, NULL);
}
