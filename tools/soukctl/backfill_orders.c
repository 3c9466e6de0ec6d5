/*
 * backfill_orders.c - `soukctl backfill orders`: the monolith's orders with
 * their lines and payment (status and last four digits) into the orders
 * service's database with the same ids, and the two replicas that events
 * keep later: product names and prices (as product.created at version 1
 * would write them) and customers with their address (as user.registered and
 * a first user.address_changed would), so souk-orders answers the
 * monolith's v1 orders and can check out right after a backfill.
 */
#include "backfill.h"

/* Milliseconds, UTC: v1 lists orders by created_at, then id, as the monolith. */
#define MS_TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"

/* What orders already has stays (the same id, or the same user's key
 * written there since): orders is where orders change after the cutover.
 * A monolith order is decided (its checkout was one transaction), so its
 * deadline is its creation. Lines are read per order (one JSON array per
 * order), so a page never splits an order's lines. */
/* clang-format off */
static const struct map_copy orders_tables[] = {
    {"product prices", "SELECT COUNT(*) FROM products",
     "SELECT id, name, price_minor, currency FROM products WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO products_replica (id, version, deleted, name, price_minor, currency)"
     " SELECT (r->>0)::bigint, 1, false, r->>1, (r->>2)::bigint, r->>3"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
     0},
    {"customers", "SELECT COUNT(*) FROM users",
     "SELECT u.id, a.line1, a.line2, a.city, a.postal_code, a.country FROM users u"
     " LEFT JOIN addresses a ON a.user_id = u.id WHERE u.id > ? ORDER BY u.id LIMIT ?",
     "INSERT INTO customers_replica (id, address_version, line1, line2, city, postal_code,"
     " country) SELECT (r->>0)::bigint, CASE WHEN r->>1 IS NULL THEN 0 ELSE 1 END, r->>1, r->>2,"
     " r->>3, r->>4, r->>5 FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
     0},
    {"orders", "SELECT COUNT(*) FROM orders",
     "SELECT o.id, o.user_id, o.status, o.total_minor, o.currency, o.idempotency_key,"
     " o.request_hash, o.ship_line1, o.ship_line2, o.ship_city, o.ship_postal_code,"
     " o.ship_country, " MS_TS("o.created_at") ", p.status, p.card_last4"
     " FROM orders o LEFT JOIN payments p ON p.order_id = o.id"
     " WHERE o.id > ? ORDER BY o.id LIMIT ?",
     "INSERT INTO orders (id, user_id, status, total_minor, currency, idempotency_key,"
     " request_hash, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,"
     " created_at, deadline, updated_at, payment_status, card_last4)"
     " SELECT (r->>0)::bigint, (r->>1)::bigint, r->>2, (r->>3)::bigint, r->>4, r->>5, r->>6,"
     " r->>7, r->>8, r->>9, r->>10, r->>11, (r->>12)::timestamptz, (r->>12)::timestamptz,"
     " (r->>12)::timestamptz, r->>13, r->>14"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     0},
    {"order lines", "SELECT COUNT(*) FROM orders",
     "SELECT o.id, (SELECT JSON_ARRAYAGG(JSON_ARRAY(oi.product_id, oi.quantity,"
     "   oi.unit_price_minor, oi.currency, COALESCE(p.name, '')))"
     "   FROM order_items oi LEFT JOIN products p ON p.id = oi.product_id"
     "   WHERE oi.order_id = o.id)"
     " FROM orders o WHERE o.id > ? ORDER BY o.id LIMIT ?",
     "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price_minor, currency)"
     " SELECT o.id, (l->>0)::bigint, l->>4, (l->>1)::integer, (l->>2)::bigint, l->>3"
     " FROM jsonb_array_elements($1::jsonb) AS r"
     " JOIN orders o ON o.id = (r->>0)::bigint AND r->>1 IS NOT NULL,"
     " jsonb_array_elements((r->>1)::jsonb) AS l ON CONFLICT DO NOTHING",
     0},
    {NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

/* After the copy: the imported orders' events into orders' retained log (order_log,
 * services/orders/migrations/0003), never into the outbox, so nothing is published but
 * `soukctl history rebuild` replays them too: order.created (marked "backfilled", with the
 * monolith's payment status, which v1 shows) and, for a decided order, its terminal event.
 * An order that has any logged event already is left alone (run again: nothing doubles). */
#define PG_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
static const char orders_log_sql[] =
    "WITH ev AS (SELECT o.id AS order_id, x.ord, x.type, gen_random_uuid() AS eid, x.payload,"
    "   o.created_at FROM orders o CROSS JOIN LATERAL ("
    "   SELECT 1 AS ord, 'order.created' AS type, jsonb_build_object('order_id', o.id,"
    "     'user_id', o.user_id, 'lines', COALESCE((SELECT jsonb_agg(jsonb_build_object("
    "       'product_id', i.product_id, 'quantity', i.quantity, 'unit_price',"
    "       jsonb_build_object('amount', i.unit_price_minor, 'currency', i.currency), 'name',"
    "       i.name) ORDER BY i.product_id) FROM order_items i WHERE i.order_id = o.id), '[]'),"
    "     'total', jsonb_build_object('amount', o.total_minor, 'currency', o.currency),"
    "     'card', jsonb_build_object('last4', COALESCE(o.card_last4, '')),"
    "     'ship_to', jsonb_build_object('line1', o.ship_line1, 'line2', o.ship_line2, 'city',"
    "       o.ship_city, 'postal_code', o.ship_postal_code, 'country', o.ship_country),"
    "     'deadline', " PG_TS("o.deadline") ", 'created_at', " PG_TS("o.created_at") ","
    "     'backfilled', true, 'payment_status', o.payment_status) AS payload"
    "   UNION ALL SELECT 2, 'order.' || lower(o.status), jsonb_build_object('order_id', o.id,"
    "     'user_id', o.user_id, 'at', " PG_TS("o.updated_at") ", 'reason',"
    "     COALESCE(o.reason, 'cancelled'), 'shortages', '[]'::jsonb) WHERE o.status <> 'PENDING'"
    "   ) x WHERE NOT EXISTS (SELECT 1 FROM order_log l WHERE l.order_id = o.id))"
    " INSERT INTO order_log (event_id, type, order_id, envelope)"
    " SELECT eid, type, order_id, jsonb_build_object('id', eid, 'type', type, 'version', 1,"
    "   'occurred_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "   'aggregate_id', order_id, 'trace_id', '', 'payload', payload)"
    " FROM ev ORDER BY order_id, ord";

/* Order ids follow the identity scheme (backfill_ident.c): the monolith's
 * legacy checkout allocates odd ones, orders even ones above every id copied. */
static const char *const orders_ident[] = {"orders", NULL};

/* Copy steps only: orders is backfilled, not (yet) live-migrated. */
const struct map_domain backfill_orders = {
    .name = "orders",
    .db_env = "SOUK_ORDERS_DB",
    .copy = orders_tables,
    .copy_finish = orders_log_sql,
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM orders)",
    .ident = orders_ident,
};
