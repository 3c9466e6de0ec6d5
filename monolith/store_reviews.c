/*
 * store_reviews.c - SQL for reviews. The average is computed on every read
 * with AVG() over the product's reviews, as the legacy shop always did.
 */
#include "mdb.h"
#include "monolith.h"

#define DB(r)   ((struct mdb *)(r)->worker)
#define TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

static const char SQL_STATS[] =
    "SELECT COUNT(*), COALESCE(ROUND(AVG(rating) * 100), 0) FROM reviews WHERE product_id = ?";
static const char SQL_PAGE[] =
    "SELECT r.id, r.product_id, r.user_id, u.name, r.rating, r.title, r.body, " TS(
        "r.created_at") " FROM reviews r JOIN users u ON u.id = r.user_id"
                        " WHERE r.product_id = ? ORDER BY r.created_at DESC, r.id DESC LIMIT ? "
                        "OFFSET ?";
static const char SQL_INSERT[] =
    "INSERT INTO reviews (product_id, user_id, rating, title, body) VALUES (?, ?, ?, ?, ?)";
static const char SQL_ONE[] =
    "SELECT r.id, r.product_id, r.user_id, u.name, r.rating, r.title, r.body, " TS(
        "r.created_at") " FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.id = ?";

static void
review_map(const struct mdb_rows *rs, size_t i, struct review *rv)
{
    rv->id = mdb_i64(rs, i, 0);
    rv->product_id = mdb_i64(rs, i, 1);
    rv->user_id = mdb_i64(rs, i, 2);
    rv->author = mdb_get(rs, i, 3);
    rv->rating = mdb_i64(rs, i, 4);
    rv->title = mdb_get(rs, i, 5);
    rv->body = mdb_get(rs, i, 6);
    rv->created_at = mdb_get(rs, i, 7);
}

int
store_reviews(struct req *r, int64_t product_id, int64_t page, int64_t limit, struct review **out,
              size_t *n, int64_t *total, int64_t *rating_x100)
{
    struct mdb_arg   args[] = {MDB_I64(product_id), MDB_I64(limit), MDB_I64((page - 1) * limit)};
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = store_product_exists(r, product_id);
    if (rc)
        return rc;
    rc = mdb_query(DB(r), r->arena, SQL_STATS, args, 1, &rs);
    if (rc)
        return rc;
    *total = mdb_i64(rs, 0, 0);
    *rating_x100 = mdb_i64(rs, 0, 1);
    rc = mdb_query(DB(r), r->arena, SQL_PAGE, args, 3, &rs);
    if (rc)
        return rc;
    *out = arena_array(r->arena, struct review, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        review_map(rs, i, &(*out)[i]);
    *n = rs->nrows;
    return ERR_OK;
}

int
store_review_create(struct req *r, struct review *rv)
{
    struct mdb_arg   args[] = {MDB_I64(rv->product_id), MDB_I64(rv->user_id), MDB_I64(rv->rating),
                               MDB_STR(rv->title), MDB_STR(rv->body)};
    struct mdb_arg   id;
    struct mdb_rows *rs;
    uint64_t         new_id;
    int              rc;

    rc = store_product_exists(r, rv->product_id);
    if (rc)
        return rc;
    rc = mdb_exec(DB(r), SQL_INSERT, args, 5, NULL, &new_id);
    if (rc == ERR_CONFLICT)
        return ERR_UNAUTHORIZED; /* reviews_user: the token's account does not exist */
    if (rc)
        return rc;
    id = MDB_I64((int64_t)new_id);
    rc = mdb_query(DB(r), r->arena, SQL_ONE, &id, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_INTERNAL;
    review_map(rs, 0, rv);
    return ERR_OK;
}
