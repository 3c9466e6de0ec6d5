/*
 * store.c - every SQL statement of the orders service, as one table, and the
 * row -> struct mapping. An order, its lines, its order.created outbox row
 * and the first entry of its timeline commit together; every later move is
 * one transaction of the consumer (or the sweeper) that locks the order, asks
 * the state machine (orders.c) and writes the new state with its event.
 */
#include <string.h>

#include "bounds.h"
#include "orders.h"

/* Seconds, UTC, as the monolith's DATE_FORMAT(..., '%Y-%m-%dT%H:%i:%sZ'). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Columns 0..22 of an order (o) and, from 23, one line (i) with the name the
 * product replica knows today (v1 shows the current name, as the monolith's
 * join does), else the name at checkout. */
#define ORDER_COLS                                                                                 \
    "o.id, o.user_id, o.status, o.reason, o.short_product_id, o.short_requested,"                  \
    " o.short_available, o.total_minor, o.currency, o.ship_line1, o.ship_line2, o.ship_city,"      \
    " o.ship_postal_code, o.ship_country, o.card_last4, o.payment_status, " TS(                    \
        "o.created_at") ", " TS("o.deadline") ", " TS("o.updated_at") ", o.trace_id,"              \
                                                                      " extract(epoch FROM now() " \
                                                                      "- o.created_at)::bigint, "  \
                                                                      "o.idempotency_key, "        \
                                                                      "o.failed_checkout"
#define LINE_COLS                                                                                  \
    "i.product_id, COALESCE(p.name, i.name), i.quantity, i.unit_price_minor, i.currency"
#define LINE_JOIN                                                                                  \
    " LEFT JOIN order_items i ON i.order_id = o.id LEFT JOIN products_replica p ON p.id = "        \
    "i.product_id"
#define NCOLS      23
#define V1_VISIBLE "NOT o.failed_checkout"

/* clang-format off */
#define ORDERS_SQL(X)                                                                              \
    X(KEY_FIND, 2,                                                                                 \
      "SELECT id, request_hash FROM orders WHERE user_id = $1::bigint AND idempotency_key = $2")    \
    X(CUSTOMER, 1,                                                                                 \
      "SELECT line1, line2, city, postal_code, country FROM customers_replica WHERE id = $1::bigint") \
    X(PRICE, 1,                                                                                    \
      "SELECT name, price_minor, currency, deleted FROM products_replica WHERE id = $1::bigint")    \
    X(CART_TAKEN, 2,                                                                               \
      "SELECT 1 FROM orders WHERE user_id = $1::bigint AND cart_version = $2"                      \
      " AND status IN ('PENDING', 'CONFIRMED') LIMIT 1")                                           \
    /* Unique indexes decide races between concurrent repeats: the key's, */                      \
    /* and one live order per cart version (migrations/0002). */                                   \
    X(ORDER_INSERT, 14,                                                                            \
      "INSERT INTO orders (user_id, status, total_minor, currency, ship_line1, ship_line2,"         \
      " ship_city, ship_postal_code, ship_country, card_last4, idempotency_key, request_hash,"      \
      " trace_id, deadline, cart_version) VALUES ($1::bigint, 'PENDING', $2::bigint, $3, $4, $5,"   \
      " $6, $7, $8, $9, $10, $11, $12, now() + make_interval(secs => $13::bigint), $14)"           \
      " ON CONFLICT DO NOTHING"                                                                    \
      " RETURNING id, " TS("created_at") ", " TS("deadline") ", " TS("updated_at"))               \
    X(ITEM_INSERT, 6,                                                                              \
      "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price_minor, currency)"  \
      " VALUES ($1::bigint, $2::bigint, $3, $4::integer, $5::bigint, $6)")                         \
    X(ORDER_ONE, 1,                                                                                \
      "SELECT " ORDER_COLS ", " LINE_COLS " FROM orders o" LINE_JOIN                               \
      " WHERE o.id = $1::bigint ORDER BY i.product_id")                                            \
    X(ORDER_LOCK, 1, "SELECT status FROM orders WHERE id = $1::bigint FOR UPDATE")                 \
    /* A failed order gives its key back (failed_key keeps it for audit). */                       \
    X(ORDER_MOVE, 6,                                                                               \
      "UPDATE orders SET status = $2, reason = $3, short_product_id = $4::bigint,"                 \
      " short_requested = $5::bigint, short_available = $6::bigint,"                               \
      " payment_status = CASE WHEN $2 = 'CONFIRMED' THEN 'APPROVED' ELSE payment_status END,"      \
      " failed_key = CASE WHEN $2 = 'CONFIRMED' THEN failed_key ELSE idempotency_key END,"         \
      " failed_checkout = $2 <> 'CONFIRMED',"                                                     \
      " idempotency_key = CASE WHEN $2 = 'CONFIRMED' THEN idempotency_key END,"                    \
      " updated_at = now() WHERE id = $1::bigint")                                                 \
    X(V1_COUNT, 1, "SELECT count(*) FROM orders o WHERE o.user_id = $1::bigint AND " V1_VISIBLE)   \
    X(V1_PAGE, 3,                                                                                  \
      "SELECT " ORDER_COLS ", " LINE_COLS " FROM (SELECT id FROM orders o"                         \
      "   WHERE o.user_id = $1::bigint AND " V1_VISIBLE                                            \
      "   ORDER BY o.created_at DESC, o.id DESC LIMIT $2::bigint OFFSET $3::bigint) pg"            \
      " JOIN orders o ON o.id = pg.id" LINE_JOIN                                                   \
      " ORDER BY o.created_at DESC, o.id DESC, i.product_id")                                      \
    X(SAGA_EVENTS, 1,                                                                              \
      "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), direction,"     \
      " type, service, event_id::text, trace_id, note FROM saga_events"                            \
      " WHERE order_id = $1::bigint ORDER BY seq")                                                 \
    X(SAGAS, 3,                                                                                    \
      "SELECT " ORDER_COLS ", NULL, NULL, NULL, NULL, NULL FROM orders o"                          \
      " WHERE ($1::text IS NULL OR o.status = $1)"                                                 \
      "   AND o.created_at <= now() - make_interval(secs => $2::bigint)"                           \
      " ORDER BY o.created_at, o.id LIMIT $3::bigint")                                             \
    X(SAGA_RECORD, 7,                                                                              \
      "INSERT INTO saga_events (order_id, direction, type, service, event_id, trace_id, note)"     \
      " SELECT o.id, $2, $3, $4, COALESCE($5::uuid, CASE WHEN $2 = 'out' THEN (SELECT x.id"        \
      "   FROM outbox x WHERE x.aggregate_id = o.id AND x.type = $3 ORDER BY x.seq DESC LIMIT 1)"   \
      " END), $6, $7 FROM orders o WHERE o.id = $1::bigint")                                       \
    X(SAGA_IGNORED, 2,                                                                             \
      "UPDATE saga_events SET note = 'ignored' WHERE order_id = $1::bigint"                        \
      " AND event_id = $2::uuid AND direction = 'in'")                                             \
    X(OVERDUE, 1,                                                                                  \
      "SELECT id FROM orders WHERE status = 'PENDING' AND deadline < now()"                        \
      " ORDER BY deadline LIMIT $1::bigint")                                                       \
    /* A product row is written only by a newer version; a delete keeps */                         \
    /* the name and price it had (the tombstone). */                                               \
    X(PRODUCT_APPLY, 6,                                                                            \
      "INSERT INTO products_replica AS p (id, version, deleted, name, price_minor, currency)"       \
      " VALUES ($1::bigint, $2::bigint, $3::boolean, COALESCE($4, ''), COALESCE($5::bigint, 0),"   \
      " COALESCE($6, 'EUR')) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"           \
      " deleted = EXCLUDED.deleted, name = COALESCE($4, p.name),"                                  \
      " price_minor = COALESCE($5::bigint, p.price_minor), currency = COALESCE($6, p.currency)"    \
      " WHERE p.version < EXCLUDED.version RETURNING true")                                        \
    /* The retained order events (migrations/0003), a page after a seq. */                     \
    X(ORDER_LOG_PAGE, 2,                                                                           \
      "SELECT seq, envelope::text FROM order_log WHERE seq > $1::bigint ORDER BY seq"              \
      " LIMIT $2::bigint")                                                                         \
    X(ORDER_LOG_HEAD, 0, "SELECT COALESCE(max(seq), 0) FROM order_log")                            \
    X(CUSTOMER_KNOWN, 1,                                                                           \
      "INSERT INTO customers_replica (id) VALUES ($1::bigint) ON CONFLICT (id) DO NOTHING")        \
    X(ADDRESS_APPLY, 7,                                                                            \
      "INSERT INTO customers_replica AS c (id, address_version, line1, line2, city, postal_code,"  \
      " country) VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE"    \
      " SET address_version = EXCLUDED.address_version, line1 = EXCLUDED.line1,"                   \
      " line2 = EXCLUDED.line2, city = EXCLUDED.city, postal_code = EXCLUDED.postal_code,"         \
      " country = EXCLUDED.country WHERE c.address_version < EXCLUDED.address_version"             \
      " RETURNING true")
/* clang-format on */

enum orders_stmt { ORDERS_SQL(DB_STMT_ENUM) SQL__COUNT };

const struct db_stmt orders_stmts[] = {ORDERS_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The consumer runs on mq's connection, which has no statement table: code
 * that consumers (and the sweeper) call runs the same statement as text. */
static int
run_text(struct work *w, int id, const char *const *params, struct db_rows **out)
{
    return db_exec_sql(w->db, w->arena, orders_stmts[id].sql, orders_stmts[id].nparams, params,
                       out);
}

static const char *
i64(struct work *w, int64_t n)
{
    return db_i64_text(w->arena, n);
}

static void
money_map(const struct db_rows *rs, size_t i, size_t col, struct money *m)
{
    const char *c = db_get(rs, i, col + 1);

    m->minor = db_i64(rs, i, col);
    memcpy(m->currency, c && strlen(c) == 3 ? c : "EUR", 4);
}

static void
order_map(const struct db_rows *rs, size_t i, struct order *o)
{
    memset(o, 0, sizeof(*o));
    o->id = db_i64(rs, i, 0);
    o->user_id = db_i64(rs, i, 1);
    if (order_state_parse(db_get(rs, i, 2), &o->state))
        o->state = ORDER_STATE_PENDING; /* the CHECK constraint allows only the four */
    o->reason = db_get(rs, i, 3);
    o->shortage.product_id = db_i64(rs, i, 4);
    o->shortage.requested = db_i64(rs, i, 5);
    o->shortage.available = db_i64(rs, i, 6);
    money_map(rs, i, 7, &o->total);
    o->ship.line1 = db_get(rs, i, 9);
    o->ship.line2 = db_get(rs, i, 10);
    o->ship.city = db_get(rs, i, 11);
    o->ship.postal_code = db_get(rs, i, 12);
    o->ship.country = db_get(rs, i, 13);
    o->card_last4 = db_get(rs, i, 14);
    o->payment_status = db_get(rs, i, 15);
    o->created_at = db_get(rs, i, 16);
    o->deadline = db_get(rs, i, 17);
    o->updated_at = db_get(rs, i, 18);
    o->trace_id = db_get(rs, i, 19);
    o->age_s = db_i64(rs, i, 20);
    o->failed = db_get(rs, i, 22) != NULL && strcmp(db_get(rs, i, 22), "t") == 0;
}

/* Group joined rows (ordered by order) into orders with their lines. */
static void
orders_map(struct arena *a, const struct db_rows *rs, struct order **out, size_t *n)
{
    struct order *o = NULL;
    size_t        i;

    *out = arena_array(a, struct order, rs->nrows + 1);
    *n = 0;
    for (i = 0; i < rs->nrows; i++) {
        if (o == NULL || o->id != db_i64(rs, i, 0)) {
            o = &(*out)[(*n)++];
            order_map(rs, i, o);
            o->lines = arena_array(a, struct line, rs->nrows - i);
        }
        if (db_get(rs, i, NCOLS) == NULL)
            continue;
        o->lines[o->n].product_id = db_i64(rs, i, NCOLS);
        o->lines[o->n].name = db_get(rs, i, NCOLS + 1);
        o->lines[o->n].quantity = db_i64(rs, i, NCOLS + 2);
        money_map(rs, i, NCOLS + 3, &o->lines[o->n].unit);
        o->n++;
    }
}

int
store_key_find(struct work *w, const struct checkout *c, int64_t *id)
{
    struct db_rows *rs;
    const char     *hash;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_KEY_FIND,
                 (const char *const[]){i64(w, c->user_id), c->idempotency_key}, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    *id = db_i64(rs, 0, 0);
    hash = db_get(rs, 0, 1);
    return hash != NULL && strcmp(hash, c->request_hash) == 0 ? ERR_OK : ERR_IDEMPOTENCY_REUSED;
}

int
store_cart_taken(struct work *w, const struct checkout *c)
{
    struct db_rows *rs;
    int             rc;

    if (c->cart_version == NULL)
        return ERR_OK;
    rc = db_exec(w->db, w->arena, SQL_CART_TAKEN,
                 (const char *const[]){i64(w, c->user_id), c->cart_version}, &rs);
    if (rc)
        return rc;
    return rs->nrows > 0 ? ERR_DUPLICATE : ERR_OK;
}

int
store_customer_address(struct work *w, int64_t user_id, struct address *out)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, SQL_CUSTOMER, (const char *const[]){i64(w, user_id)}, &rs);
    if (rc)
        return rc;
    if (db_get(rs, 0, 0) == NULL)
        return ERR_UNPROCESSABLE;
    out->line1 = db_get(rs, 0, 0);
    out->line2 = db_get(rs, 0, 1) ? db_get(rs, 0, 1) : "";
    out->city = db_get(rs, 0, 2);
    out->postal_code = db_get(rs, 0, 3);
    out->country = db_get(rs, 0, 4);
    return ERR_OK;
}

int
store_price(struct work *w, struct checkout *c, int64_t *missing)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    for (i = 0; i < c->n; i++) {
        struct line *l = &c->lines[i];

        rc = db_exec(w->db, w->arena, SQL_PRICE, (const char *const[]){i64(w, l->product_id)}, &rs);
        if (rc)
            return rc;
        if (rs->nrows == 0 || strcmp(db_get(rs, 0, 3), "t") == 0) {
            *missing = l->product_id;
            return ERR_OUT_OF_STOCK;
        }
        l->name = db_get(rs, 0, 0);
        money_map(rs, 0, 1, &l->unit);
    }
    return ERR_OK;
}

/* The statements of store_order_create, inside its transaction. */
static int
order_insert(struct work *w, const struct checkout *c, const struct address *s, struct order *o)
{
    const char *const p[] = {i64(w, c->user_id),
                             i64(w, o->total.minor),
                             o->total.currency,
                             s->line1,
                             s->line2,
                             s->city,
                             s->postal_code,
                             s->country,
                             c->last4,
                             c->idempotency_key,
                             c->idempotency_key ? c->request_hash : NULL,
                             w->trace_id ? w->trace_id : "",
                             i64(w, orders_cfg.deadline_s),
                             c->cart_version};
    struct db_rows   *rs;
    size_t            i;
    int               rc;

    rc = db_exec(w->db, w->arena, SQL_ORDER_INSERT, p, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_DUPLICATE;
    o->id = db_i64(rs, 0, 0);
    o->created_at = db_get(rs, 0, 1);
    o->deadline = db_get(rs, 0, 2);
    o->updated_at = db_get(rs, 0, 3);
    for (i = 0; i < c->n; i++) {
        const struct line *l = &c->lines[i];

        rc = db_exec(w->db, w->arena, SQL_ITEM_INSERT,
                     (const char *const[]){i64(w, o->id), i64(w, l->product_id), l->name,
                                           i64(w, l->quantity), i64(w, l->unit.minor),
                                           l->unit.currency},
                     NULL);
        if (rc)
            return rc;
    }
    /* The outbox row last: its insert takes the outbox lock, held to the commit. */
    rc = store_saga_record(w, o->id, "out", "order.created", "orders", NULL, "");
    if (rc)
        return rc;
    return events_order_created(w, o, c);
}

int
store_order_create(struct work *w, const struct checkout *c, const struct address *ship,
                   struct order *o)
{
    int rc;

    o->user_id = c->user_id;
    o->state = ORDER_STATE_PENDING;
    o->lines = c->lines;
    o->n = c->n;
    o->ship = *ship;
    o->card_last4 = c->last4;
    o->trace_id = w->trace_id ? w->trace_id : "";
    rc = order_total(c->lines, c->n, &o->total);
    if (rc)
        return rc;
    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = order_insert(w, c, ship, o);
    if (rc == ERR_OK)
        rc = db_commit(w->db);
    if (rc)
        db_rollback(w->db);
    return rc;
}

static int
order_load(struct work *w, int64_t id, int text, struct order **out)
{
    const char *const p[] = {i64(w, id)};
    struct db_rows   *rs;
    size_t            n;
    int               rc;

    rc =
        text ? run_text(w, SQL_ORDER_ONE, p, &rs) : db_exec(w->db, w->arena, SQL_ORDER_ONE, p, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    orders_map(w->arena, rs, out, &n);
    return ERR_OK;
}

int
store_order_get(struct work *w, int64_t id, struct order **out)
{
    return order_load(w, id, 0, out);
}

int
store_orders_v1(struct work *w, int64_t user_id, int64_t page, int64_t limit, struct order **out,
                size_t *n, int64_t *total)
{
    const char *const p[] = {i64(w, user_id), i64(w, limit), i64(w, (page - 1) * limit)};
    struct db_rows   *rs;
    int               rc;

    rc = db_exec(w->db, w->arena, SQL_V1_COUNT, p, &rs);
    if (rc)
        return rc;
    *total = db_i64(rs, 0, 0);
    rc = db_exec(w->db, w->arena, SQL_V1_PAGE, p, &rs);
    if (rc)
        return rc;
    orders_map(w->arena, rs, out, n);
    return ERR_OK;
}

int
store_saga_events(struct work *w, int64_t id, struct saga_event **out, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_SAGA_EVENTS, (const char *const[]){i64(w, id)}, &rs);
    if (rc)
        return rc;
    *out = arena_array(w->arena, struct saga_event, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        struct saga_event *e = &(*out)[i];

        e->at = db_get(rs, i, 0);
        e->direction = db_get(rs, i, 1);
        e->type = db_get(rs, i, 2);
        e->service = db_get(rs, i, 3);
        e->event_id = db_get(rs, i, 4);
        e->trace_id = db_get(rs, i, 5);
        e->note = db_get(rs, i, 6);
    }
    *n = rs->nrows;
    return ERR_OK;
}

int
store_sagas(struct work *w, int all, enum order_state state, int64_t older_than_s, int64_t limit,
            struct order **out, size_t *n)
{
    const char *const p[] = {all ? NULL : order_state_name(state), i64(w, older_than_s),
                             i64(w, limit)};
    struct db_rows   *rs;
    int               rc;

    rc = db_exec(w->db, w->arena, SQL_SAGAS, p, &rs);
    if (rc)
        return rc;
    orders_map(w->arena, rs, out, n);
    return ERR_OK;
}

int
store_order_move(struct work *w, int64_t id, enum order_event ev, const char *reason,
                 const struct shortage *s, struct order **o)
{
    struct db_rows  *rs;
    enum order_state from, to;
    int              rc;

    *o = NULL;
    rc = run_text(w, SQL_ORDER_LOCK, (const char *const[]){i64(w, id)}, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_ORDER_STATE; /* not an order of ours (yet): nothing to move */
    if (order_state_parse(db_get(rs, 0, 0), &from) || order_transition(from, ev, &to))
        return ERR_ORDER_STATE;
    rc = run_text(w, SQL_ORDER_MOVE,
                  (const char *const[]){i64(w, id), order_state_name(to), reason,
                                        s && s->product_id ? i64(w, s->product_id) : NULL,
                                        s && s->product_id ? i64(w, s->requested) : NULL,
                                        s && s->product_id ? i64(w, s->available) : NULL},
                  NULL);
    if (rc)
        return rc;
    return order_load(w, id, 1, o);
}

int
store_saga_record(struct work *w, int64_t id, const char *direction, const char *type,
                  const char *service, const char *event_id, const char *note)
{
    return run_text(w, SQL_SAGA_RECORD,
                    (const char *const[]){i64(w, id), direction, type, service, event_id,
                                          w->trace_id ? w->trace_id : "", note ? note : ""},
                    NULL);
}

int
store_saga_ignored(struct work *w, int64_t id, const char *event_id)
{
    return run_text(w, SQL_SAGA_IGNORED, (const char *const[]){i64(w, id), event_id}, NULL);
}

int
store_overdue(struct work *w, int64_t limit, int64_t **ids, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = run_text(w, SQL_OVERDUE, (const char *const[]){i64(w, limit)}, &rs);
    if (rc)
        return rc;
    *ids = arena_array(w->arena, int64_t, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        (*ids)[i] = db_i64(rs, i, 0);
    *n = rs->nrows;
    return ERR_OK;
}

int
store_product_apply(struct work *w, int64_t id, int64_t version, int deleted, const char *name,
                    const struct money *price, int *applied)
{
    struct db_rows *rs;
    int             rc;

    rc = run_text(w, SQL_PRODUCT_APPLY,
                  (const char *const[]){i64(w, id), i64(w, version), deleted ? "true" : "false",
                                        name, price ? i64(w, price->minor) : NULL,
                                        price ? price->currency : NULL},
                  &rs);
    if (rc)
        return rc;
    *applied = rs->nrows == 1;
    return ERR_OK;
}

int
store_customer_known(struct work *w, int64_t id)
{
    return run_text(w, SQL_CUSTOMER_KNOWN, (const char *const[]){i64(w, id)}, NULL);
}

int
store_address_apply(struct work *w, int64_t id, int64_t version, const struct address *a,
                    int *applied)
{
    struct db_rows *rs;
    int             rc;

    rc = run_text(w, SQL_ADDRESS_APPLY,
                  (const char *const[]){i64(w, id), i64(w, version), a->line1, a->line2, a->city,
                                        a->postal_code, a->country},
                  &rs);
    if (rc)
        return rc;
    *applied = rs->nrows == 1;
    return ERR_OK;
}

int
store_order_log(struct work *w, int64_t after, int64_t limit, struct order_log_page *p)
{
    struct db_rows *rs;
    size_t          i, bytes;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_ORDER_LOG_PAGE,
                 (const char *const[]){db_i64_text(w->arena, after), db_i64_text(w->arena, limit)},
                 &rs);
    if (rc)
        return rc;
    p->envelope = arena_alloc(w->arena, (rs->nrows + 1) * sizeof(*p->envelope));
    p->len = arena_alloc(w->arena, (rs->nrows + 1) * sizeof(*p->len));
    p->last = after;
    /* a page ends by count or by bytes (LIMIT_FEED_PAGE_BYTES), whichever
     * comes first, so a replay of it fits history's body bound */
    for (i = 0, bytes = 0; i < rs->nrows; i++) {
        bytes += db_len(rs, i, 1) + 1;
        if (i > 0 && bytes > LIMIT_FEED_PAGE_BYTES)
            break;
        p->envelope[i] = db_get(rs, i, 1);
        p->len[i] = db_len(rs, i, 1);
        p->last = db_i64(rs, i, 0);
    }
    p->n = i;
    rc = db_exec_row(w->db, w->arena, SQL_ORDER_LOG_HEAD, NULL, &rs);
    if (rc == ERR_OK)
        p->head = db_i64(rs, 0, 0);
    return rc;
}
