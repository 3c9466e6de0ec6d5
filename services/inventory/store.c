/*
 * store.c - every SQL statement of the inventory service and the row
 * mapping. Stock is one row per product (received, on_hand, reserved, sold,
 * version); a reservation is one row per order with its lines. Every change
 * of stock happens under row locks taken in product id order inside one
 * transaction, with the CHECK constraints of the migration as the last line
 * (never negative, reserved <= on_hand, received = on_hand + sold).
 */
#include <string.h>

#include "buf.h"
#include "inventory.h"

/* Seconds, UTC, RFC 3339. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define LEVEL_COLS "received, on_hand, reserved, sold, version"

/* clang-format off */
#define INVENTORY_SQL(X)                                                                           \
    X(STOCK_LOCK, 1,                                                                               \
      "SELECT " LEVEL_COLS " FROM stock WHERE product_id = $1::bigint AND NOT deleted FOR UPDATE") \
    X(STOCK_WRITE, 3,                                                                              \
      "UPDATE stock SET received = $2::bigint, on_hand = $3::bigint, version = version + 1,"       \
      " updated_at = now() WHERE product_id = $1::bigint RETURNING " LEVEL_COLS)                   \
    /* One snapshot: the level and a page of its live holds (NULL columns: none). */               \
    X(STOCK_GET, 2,                                                                                \
      "SELECT s.received, s.on_hand, s.reserved, s.sold, s.version, h.order_id, h.quantity,"      \
      " h.hold_until, h.created_at FROM stock s LEFT JOIN LATERAL ("                               \
      "  SELECT l.order_id, l.quantity, " TS("r.hold_until") " AS hold_until,"                     \
      "  " TS("r.created_at") " AS created_at, r.hold_until AS at"                                 \
      "  FROM reservation_lines l JOIN reservations r ON r.order_id = l.order_id"                  \
      "  WHERE l.product_id = s.product_id AND r.state = 'HELD'"                                   \
      "  ORDER BY r.hold_until, l.order_id LIMIT $2::bigint) h ON true"                            \
      " WHERE s.product_id = $1::bigint AND NOT s.deleted ORDER BY h.at, h.order_id")
/* clang-format on */

enum { INVENTORY_SQL(DB_STMT_ENUM) };

const struct db_stmt inventory_stmts[] = {INVENTORY_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The saga's statements run on the consumer's connection (mq's, which has
 * no statement table) and the sweeper's, so they are SQL text. */

/* Events for one order are serialised by a transaction-scoped advisory lock
 * on its id (a row lock cannot cover an order not seen yet). The two-int4
 * form keeps order ids out of the one-bigint key space lib/mq.c's outbox
 * lock lives in. The state is read by the next statement: in READ COMMITTED
 * its snapshot is taken after the lock is held, so it sees what the
 * previous holder committed. */
static const char order_lock_sql[] = "SELECT pg_advisory_xact_lock(($1::bigint >> 32)::integer,"
                                     " (($1::bigint & 4294967295) - 2147483648)::integer)";
static const char order_state_sql[] =
    "SELECT state, reason FROM reservations WHERE order_id = $1::bigint";
/* ORDER BY ... FOR UPDATE locks in that order: every writer of several
 * products locks them by ascending id, so they cannot deadlock. */
static const char stock_lock_many_sql[] =
    "SELECT product_id, " LEVEL_COLS " FROM stock WHERE product_id = ANY($1::bigint[])"
    " AND NOT deleted ORDER BY product_id FOR UPDATE";
static const char lines_lock_sql[] =
    "SELECT l.product_id, l.quantity, s.on_hand, s.reserved FROM reservation_lines l"
    " JOIN stock s ON s.product_id = l.product_id WHERE l.order_id = $1::bigint"
    " ORDER BY l.product_id FOR UPDATE OF s";
/* $1..$3: per-unit deltas of reserved, on_hand, sold (inventory.c). */
static const char stock_move_sql[] =
    "UPDATE stock s SET reserved = s.reserved + $1::bigint * l.q,"
    " on_hand = s.on_hand + $2::bigint * l.q, sold = s.sold + $3::bigint * l.q,"
    " version = s.version + 1, updated_at = now()"
    " FROM unnest($4::bigint[], $5::bigint[]) AS l(p, q) WHERE s.product_id = l.p"
    " RETURNING s.product_id, s.received, s.on_hand, s.reserved, s.sold, s.version";
static const char reservation_put_sql[] =
    "INSERT INTO reservations (order_id, user_id, state, reason, hold_until)"
    " VALUES ($1::bigint, $2::bigint, $3::text, $4::text,"
    " CASE WHEN $3::text = 'HELD' THEN now() + make_interval(secs => $5::bigint) END)"
    " RETURNING " TS("hold_until");
static const char reservation_set_sql[] =
    "UPDATE reservations SET state = $2::text, reason = $3::text, updated_at = now()"
    " WHERE order_id = $1::bigint";
static const char lines_put_sql[] =
    "INSERT INTO reservation_lines (order_id, product_id, quantity)"
    " SELECT $1::bigint, l.p, l.q FROM unnest($2::bigint[], $3::integer[]) AS l(p, q)";
static const char holds_expired_sql[] =
    "SELECT order_id FROM reservations WHERE state = 'HELD' AND hold_until <= now()"
    " ORDER BY hold_until LIMIT $1::bigint";
/* Catalog's product events: written only when the catalog version is newer;
 * a delete stays as a tombstone with its stock (the audit keeps counting it). */
static const char product_apply_sql[] =
    "INSERT INTO stock AS s (product_id, catalog_version, deleted)"
    " VALUES ($1::bigint, $2::bigint, $3::boolean) ON CONFLICT (product_id) DO UPDATE"
    " SET catalog_version = EXCLUDED.catalog_version, deleted = EXCLUDED.deleted"
    " WHERE s.catalog_version < EXCLUDED.catalog_version RETURNING true";

/* ---- helpers ------------------------------------------------------------------- */

/* LEVEL_COLS from column col on. */
static void
level_map(const struct db_rows *rs, size_t i, size_t col, struct stock_level *l)
{
    l->received = db_i64(rs, i, col);
    l->on_hand = db_i64(rs, i, col + 1);
    l->reserved = db_i64(rs, i, col + 2);
    l->sold = db_i64(rs, i, col + 3);
    l->version = db_i64(rs, i, col + 4);
    l->known = 1;
}

/* The product ids (quantities = 0) or quantities (1) of lines as a
 * PostgreSQL array literal, in a. */
static const char *
lines_array(struct arena *a, const struct hold_line *lines, size_t n, int quantities)
{
    struct buf *b = buf_new(a, 24 * (n + 1));
    size_t      i;

    buf_putc(b, '{');
    for (i = 0; i < n; i++)
        buf_printf(b, "%s%lld", i ? "," : "",
                   (long long)(quantities ? lines[i].quantity : lines[i].product_id));
    buf_putc(b, '}');
    return buf_error(b) ? "{}" : buf_data(b);
}

static int
sql(struct work *w, const char *text, int n, const char *const *params, struct db_rows **out)
{
    return db_exec_sql(w->db, w->arena, text, n, params, out);
}

/* ---- the admin's level and the v2 read ---------------------------------------------- */

int
store_stock_set(struct work *w, int64_t id, int64_t available, struct stock_level *out)
{
    struct arena   *a = w->arena;
    const char     *idt = db_i64_text(a, id);
    struct db_rows *rs;
    int             rc;

    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = db_exec_row(w->db, a, SQL_STOCK_LOCK, (const char *const[]){idt}, &rs);
    if (rc)
        goto done;
    out->product_id = id;
    level_map(rs, 0, 0, out);
    stock_set_available(out, available);
    rc = db_exec_row(
        w->db, a, SQL_STOCK_WRITE,
        (const char *const[]){idt, db_i64_text(a, out->received), db_i64_text(a, out->on_hand)},
        &rs);
    if (rc)
        goto done;
    level_map(rs, 0, 0, out);
    rc = events_stock_changed(w, out);
    if (rc)
        goto done;
    rc = db_commit(w->db);
done:
    if (rc)
        db_rollback(w->db);
    return rc;
}

int
store_stock_get(struct work *w, int64_t id, int64_t limit, struct stock_level *out,
                struct hold_view **holds, size_t *n)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec_row(w->db, a, SQL_STOCK_GET,
                     (const char *const[]){db_i64_text(a, id), db_i64_text(a, limit)}, &rs);
    if (rc)
        return rc;
    out->product_id = id;
    level_map(rs, 0, 0, out);
    *holds = arena_array(a, struct hold_view, rs->nrows + 1);
    *n = 0;
    for (i = 0; i < rs->nrows; i++) {
        if (db_get(rs, i, 5) == NULL)
            continue;
        (*holds)[*n].order_id = db_i64(rs, i, 5);
        (*holds)[*n].quantity = db_i64(rs, i, 6);
        (*holds)[*n].hold_until = db_get(rs, i, 7);
        (*holds)[*n].created_at = db_get(rs, i, 8);
        (*n)++;
    }
    return ERR_OK;
}

/* ---- the saga ------------------------------------------------------------------- */

/* Move the stock of out->lines by act and keep the new levels in out. */
static int
stock_move(struct work *w, enum hold_action act, struct hold_result *out)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    int64_t         dr, dh, ds;
    size_t          i;
    int             rc;

    hold_action_delta(act, &dr, &dh, &ds);
    rc = sql(w, stock_move_sql, 5,
             (const char *const[]){db_i64_text(a, dr), db_i64_text(a, dh), db_i64_text(a, ds),
                                   lines_array(a, out->lines, out->n, 0),
                                   lines_array(a, out->lines, out->n, 1)},
             &rs);
    if (rc)
        return rc;
    if (rs->nrows != out->n)
        return ERR_CONFLICT; /* a line's product has no stock row: cannot happen under lock */
    out->levels = arena_array(a, struct stock_level, rs->nrows + 1);
    out->nlevels = rs->nrows;
    for (i = 0; i < rs->nrows; i++) {
        out->levels[i].product_id = db_i64(rs, i, 0);
        level_map(rs, i, 1, &out->levels[i]);
    }
    return ERR_OK;
}

static int
reservation_put(struct work *w, const struct order_in *in, int64_t order_id, enum hold_state st,
                const char *reason, int64_t hold_s, struct hold_result *out)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    int             rc;

    rc = sql(w, reservation_put_sql, 5,
             (const char *const[]){db_i64_text(a, order_id),
                                   in != NULL ? db_i64_text(a, in->user_id) : NULL,
                                   hold_state_name(st), reason, db_i64_text(a, hold_s)},
             &rs);
    if (rc)
        return rc;
    out->hold_until = db_get(rs, 0, 0);
    if (out->n == 0)
        return ERR_OK;
    return sql(w, lines_put_sql, 3,
               (const char *const[]){db_i64_text(a, order_id),
                                     lines_array(a, out->lines, out->n, 0),
                                     lines_array(a, out->lines, out->n, 1)},
               NULL);
}

/* ON_ORDER_CREATED on NONE: lock the lines' products, then hold every line
 * or none (REJECTED, naming the short lines). */
static int
reserve(struct work *w, const struct order_in *in, int64_t hold_s, struct hold_result *out)
{
    struct arena       *a = w->arena;
    struct stock_level *levels;
    struct db_rows     *rs;
    size_t              i, k;
    int                 rc;

    out->lines = in->lines;
    out->n = in->n;
    rc = sql(w, stock_lock_many_sql, 1, (const char *const[]){lines_array(a, in->lines, in->n, 0)},
             &rs);
    if (rc)
        return rc;
    levels = arena_array(a, struct stock_level, in->n + 1);
    for (i = 0, k = 0; i < in->n; i++) { /* both in product id order */
        levels[i].product_id = in->lines[i].product_id;
        if (k < rs->nrows && db_i64(rs, k, 0) == in->lines[i].product_id)
            level_map(rs, k++, 1, &levels[i]);
    }
    out->shortages = arena_array(a, struct shortage, in->n + 1);
    out->nshort = hold_shortages(in->lines, in->n, levels, out->shortages);
    if (out->nshort > 0) {
        out->to = HOLD_REJECTED;
        out->act = ACT_NONE;
        return reservation_put(w, in, in->order_id, HOLD_REJECTED, NULL, hold_s, out);
    }
    rc = stock_move(w, ACT_RESERVE, out);
    if (rc)
        return rc;
    return reservation_put(w, in, in->order_id, HOLD_HELD, NULL, hold_s, out);
}

/* A transition of a reservation inventory has: its lines, their stock rows
 * locked. A fresh take (a late sale) that finds a line short changes
 * nothing (applied 0, the shortages in out). */
static int
move(struct work *w, int64_t order_id, const struct hold_transition *t, struct hold_result *out)
{
    struct arena       *a = w->arena;
    const char         *idt = db_i64_text(a, order_id);
    struct stock_level *levels;
    struct db_rows     *rs;
    size_t              i;
    int                 rc;

    rc = sql(w, lines_lock_sql, 1, (const char *const[]){idt}, &rs);
    if (rc)
        return rc;
    out->lines = arena_array(a, struct hold_line, rs->nrows + 1);
    out->n = rs->nrows;
    levels = arena_array(a, struct stock_level, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        out->lines[i].product_id = levels[i].product_id = db_i64(rs, i, 0);
        out->lines[i].quantity = db_i64(rs, i, 1);
        levels[i].on_hand = db_i64(rs, i, 2);
        levels[i].reserved = db_i64(rs, i, 3);
        levels[i].known = 1;
    }
    if (t->fresh) { /* units not held: only what is still available */
        out->shortages = arena_array(a, struct shortage, out->n + 1);
        out->nshort = hold_shortages(out->lines, out->n, levels, out->shortages);
        if (out->nshort > 0) {
            out->applied = 0;
            return ERR_OK;
        }
    }
    if (out->n > 0 && t->act != ACT_NONE) { /* nothing moves: no stock row changes */
        rc = stock_move(w, t->act, out);
        if (rc)
            return rc;
    }
    return sql(w, reservation_set_sql, 3,
               (const char *const[]){idt, hold_state_name(t->to), t->reason}, NULL);
}

int
store_hold_apply(struct work *w, int64_t order_id, enum hold_event on, const struct order_in *in,
                 int64_t hold_s, struct hold_result *out)
{
    const struct hold_transition *t;
    struct db_rows               *rs;
    const char                   *idt = db_i64_text(w->arena, order_id);
    int                           rc;

    memset(out, 0, sizeof(*out));
    rc = sql(w, order_lock_sql, 1, (const char *const[]){idt}, NULL);
    if (rc)
        return rc;
    rc = sql(w, order_state_sql, 1, (const char *const[]){idt}, &rs);
    if (rc)
        return rc;
    out->from = HOLD_NONE;
    if (rs->nrows == 1 &&
        hold_state_parse(db_get(rs, 0, 0), db_get(rs, 0, 1), &out->from) != ERR_OK)
        return ERR_INTERNAL;
    t = hold_transition_find(out->from, on);
    if (t == NULL || (on == ON_ORDER_CREATED && in == NULL))
        return ERR_OK;
    out->applied = 1;
    out->to = t->to;
    out->act = t->act;
    out->reason = t->reason;
    if (t->act == ACT_RESERVE)
        return reserve(w, in, hold_s, out);
    if (out->from == HOLD_NONE) /* a tombstone: the order ended before inventory saw it */
        return reservation_put(w, NULL, order_id, t->to, t->reason, hold_s, out);
    return move(w, order_id, t, out);
}

int
store_holds_expired(struct work *w, int64_t limit, int64_t **ids, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = sql(w, holds_expired_sql, 1, (const char *const[]){db_i64_text(w->arena, limit)}, &rs);
    if (rc)
        return rc;
    *ids = arena_array(w->arena, int64_t, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        (*ids)[i] = db_i64(rs, i, 0);
    *n = rs->nrows;
    return ERR_OK;
}

int
store_product_apply(struct work *w, int64_t id, int64_t version, int deleted, int *applied)
{
    const char     *params[] = {db_i64_text(w->arena, id), db_i64_text(w->arena, version),
                            deleted ? "true" : "false"};
    struct db_rows *rs;
    int             rc;

    rc = sql(w, product_apply_sql, 3, params, &rs);
    if (rc)
        return rc;
    *applied = rs->nrows == 1;
    return ERR_OK;
}
