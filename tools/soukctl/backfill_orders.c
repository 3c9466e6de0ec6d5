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
static const struct backfill_table orders_tables[] = {
    {"product prices", "SELECT COUNT(*) FROM products",
     "SELECT id, name, price_minor, currency FROM products WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO products_replica (id, version, deleted, name, price_minor, currency)"
     " SELECT (r->>0)::bigint, 1, false, r->>1, (r->>2)::bigint, r->>3"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
     NULL, 0},
    {"customers", "SELECT COUNT(*) FROM users",
     "SELECT u.id, a.line1, a.line2, a.city, a.postal_code, a.country FROM users u"
     " LEFT JOIN addresses a ON a.user_id = u.id WHERE u.id > ? ORDER BY u.id LIMIT ?",
     "INSERT INTO customers_replica (id, address_version, line1, line2, city, postal_code,"
     " country) SELECT (r->>0)::bigint, CASE WHEN r->>1 IS NULL THEN 0 ELSE 1 END, r->>1, r->>2,"
     " r->>3, r->>4, r->>5 FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
     NULL, 0},
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
     NULL, 0},
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
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

const struct backfill_target backfill_orders = {
    "orders",
    "SELECT EXISTS (SELECT 1 FROM orders)",
    "orders",
    orders_tables,
    "SELECT setval(pg_get_serial_sequence('orders', 'id'), max(id)) FROM orders"
    " HAVING max(id) IS NOT NULL",
    NULL,
};
