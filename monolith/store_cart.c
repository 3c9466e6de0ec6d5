/*
 * store_cart.c - SQL for the cart, which the legacy shop keeps in MariaDB:
 * one carts row per user and one cart_items row per product.
 */
#include <string.h>

#include "mdb.h"
#include "monolith.h"

#define DB(r) ((struct mdb *)(r)->worker)

static const char SQL_CART_LINES[] =
    "SELECT ci.product_id, p.name, ci.quantity, p.price_minor, p.currency"
    " FROM carts c JOIN cart_items ci ON ci.cart_id = c.id"
    " JOIN products p ON p.id = ci.product_id"
    " WHERE c.user_id = ? ORDER BY ci.added_at, ci.product_id";
static const char SQL_CART_ENSURE[] = "INSERT INTO carts (user_id) VALUES (?)"
                                      " ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(3)";
/* Locking the cart row serialises concurrent edits of one cart. */
static const char SQL_CART_LOCK[] = "SELECT id FROM carts WHERE user_id = ? FOR UPDATE";
/* A locking read on purpose: the transaction's snapshot was taken by the
 * product check before the cart lock was granted, so a plain SELECT here would
 * miss a concurrent add that committed meanwhile (a lost update). */
static const char SQL_CART_STATE[] =
    "SELECT COUNT(*), COALESCE(SUM(product_id = ? ), 0),"
    " COALESCE(MAX(IF(product_id = ?, quantity, 0)), 0) FROM cart_items WHERE cart_id = ?"
    " FOR UPDATE";
static const char SQL_ITEM_UPSERT[] =
    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?)"
    " ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)";
static const char SQL_ITEM_DELETE[] =
    "DELETE ci FROM cart_items ci JOIN carts c ON c.id = ci.cart_id"
    " WHERE c.user_id = ? AND ci.product_id = ?";

int
store_cart_get(struct req *r, int64_t user_id, struct cart *out)
{
    struct mdb_arg   arg = MDB_I64(user_id);
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(DB(r), r->arena, SQL_CART_LINES, &arg, 1, &rs);
    if (rc)
        return rc;
    out->lines = arena_array(r->arena, struct line, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        struct line *l = &out->lines[i];

        l->product_id = mdb_i64(rs, i, 0);
        l->name = mdb_get(rs, i, 1);
        l->quantity = mdb_i64(rs, i, 2);
        l->unit.minor = mdb_i64(rs, i, 3);
        memcpy(l->unit.currency, mdb_get(rs, i, 4), 3);
    }
    out->n = rs->nrows;
    return ERR_OK;
}

static int
cart_edit(struct req *r, int64_t user_id, int64_t product_id, int64_t qty, int replace)
{
    struct mdb_arg   uid = MDB_I64(user_id), pid = MDB_I64(product_id);
    struct mdb_rows *rs;
    int64_t          cart_id, lines, present, have;
    int              rc;

    rc = store_product_exists(r, product_id);
    if (rc)
        return rc;
    rc = mdb_exec(DB(r), SQL_CART_ENSURE, &uid, 1, NULL, NULL);
    if (rc == ERR_CONFLICT)
        return ERR_UNAUTHORIZED; /* carts_user: the token's account does not exist */
    if (rc)
        return rc;
    rc = mdb_query(DB(r), r->arena, SQL_CART_LOCK, &uid, 1, &rs);
    if (rc)
        return rc;
    cart_id = mdb_i64(rs, 0, 0);
    {
        struct mdb_arg a[] = {pid, pid, MDB_I64(cart_id)};

        rc = mdb_query(DB(r), r->arena, SQL_CART_STATE, a, 3, &rs);
        if (rc)
            return rc;
    }
    lines = mdb_i64(rs, 0, 0);
    present = mdb_i64(rs, 0, 1);
    have = mdb_i64(rs, 0, 2);
    if (replace && !present)
        return ERR_NOT_FOUND;
    if (!replace)
        qty += have;
    if (qty > MAX_QTY || (!present && lines >= MAX_CART_LINES))
        return ERR_CONFLICT;
    {
        struct mdb_arg a[] = {MDB_I64(cart_id), pid, MDB_I64(qty)};

        return mdb_exec(DB(r), SQL_ITEM_UPSERT, a, 3, NULL, NULL);
    }
}

int
store_cart_add(struct req *r, int64_t user_id, int64_t product_id, int64_t qty, int replace)
{
    int rc, attempt;

    for (attempt = 0; attempt < 3; attempt++) {
        rc = mdb_begin(DB(r));
        if (rc)
            return rc;
        rc = cart_edit(r, user_id, product_id, qty, replace);
        if (rc == ERR_OK)
            rc = mdb_commit(DB(r));
        if (rc)
            mdb_rollback(DB(r));
        if (rc != ERR_BUSY)
            break;
    }
    return rc;
}

int
store_cart_remove(struct req *r, int64_t user_id, int64_t product_id)
{
    struct mdb_arg args[] = {MDB_I64(user_id), MDB_I64(product_id)};
    uint64_t       n;
    int            rc;

    rc = mdb_exec(DB(r), SQL_ITEM_DELETE, args, 2, &n, NULL);
    if (rc)
        return rc;
    return n ? ERR_OK : ERR_NOT_FOUND;
}
