/*
 * backfill_inventory.c - `soukctl backfill inventory`: the monolith's
 * stock into the inventory service's database, one row per product with its
 * level as the units received and on hand. Every monolith product gets a
 * row, with 0 when it has no inventory row, so inventory knows the same
 * products the catalog backfill copies (404 for any other).
 *
 * The monolith's CONFIRMED orders sold units that its stock no longer
 * counts; `soukctl backfill orders` copies those orders, so inventory gets
 * their sales too: a SOLD reservation per order with its lines, and the
 * units counted as received and sold. That is what a sale through the saga
 * leaves behind, so the order checker's rules (SAGA.md: CONFIRMED => every
 * line SOLD; received = on_hand + sold; sold = the SOLD lines) hold on a
 * backfilled shop, and on hand stays the monolith's stock.
 */
#include "backfill.h"

/* A product inventory already has (a row events or an admin wrote since)
 * stays: a repeat never resets stock that moved; products come first, so
 * the sales find their rows. Version 0, catalog version
 * 0: the first stock change is version 1, and any product event is newer. */
/* clang-format off */
static const struct map_copy inventory_tables[] = {
    {"products", "SELECT COUNT(*) FROM products",
     "SELECT p.id, COALESCE(i.stock, 0) FROM products p"
     " LEFT JOIN inventory i ON i.product_id = p.id WHERE p.id > ? ORDER BY p.id LIMIT ?",
     "INSERT INTO stock (product_id, received, on_hand)"
     " SELECT (r->>0)::bigint, (r->>1)::bigint, (r->>1)::bigint"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (product_id) DO NOTHING",
     0},
    /* One page of CONFIRMED orders: an order already there (a repeat, or
     * the saga's own) is skipped with its lines and their stock. Lines of
     * one product are merged, as inventory keeps them; a product without a
     * stock row (none, with the products step first) would get one. */
    {"sales", "SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'",
     "SELECT o.id, o.user_id, DATE_FORMAT(o.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
     " (SELECT JSON_ARRAYAGG(JSON_ARRAY(oi.product_id, oi.quantity)) FROM order_items oi"
     "   WHERE oi.order_id = o.id)"
     " FROM orders o WHERE o.status = 'CONFIRMED' AND o.id > ? ORDER BY o.id LIMIT ?",
     "WITH o AS ("
     "  INSERT INTO reservations (order_id, user_id, state, created_at, updated_at)"
     "  SELECT (r->>0)::bigint, (r->>1)::bigint, 'SOLD', (r->>2)::timestamptz,"
     "   (r->>2)::timestamptz FROM jsonb_array_elements($1::jsonb) AS r WHERE r->>3 IS NOT NULL"
     "  ON CONFLICT (order_id) DO NOTHING RETURNING order_id),"
     " l AS ("
     "  SELECT (r->>0)::bigint AS order_id, (x->>0)::bigint AS product_id,"
     "   sum((x->>1)::integer)::integer AS quantity"
     "  FROM jsonb_array_elements($1::jsonb) AS r, jsonb_array_elements((r->>3)::jsonb) AS x"
     "  WHERE r->>3 IS NOT NULL AND (r->>0)::bigint IN (SELECT order_id FROM o) GROUP BY 1, 2),"
     " li AS (INSERT INTO reservation_lines (order_id, product_id, quantity)"
     "  SELECT order_id, product_id, quantity FROM l)"
     " INSERT INTO stock AS t (product_id, received, on_hand, sold)"
     " SELECT product_id, sum(quantity), 0, sum(quantity) FROM l GROUP BY product_id"
     " ON CONFLICT (product_id) DO UPDATE SET received = t.received + EXCLUDED.received,"
     " sold = t.sold + EXCLUDED.sold",
     0},
    {NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

/* No sequence to move (ids are the catalog's); fresh planner statistics for
 * the reservation path's ANY($1) lookups after a bulk load. Copy steps only:
 * inventory is backfilled, not (yet) live-migrated. */
const struct map_domain backfill_inventory = {
    .name = "inventory",
    .db_env = "SOUK_INVENTORY_DB",
    .copy = inventory_tables,
    .copy_finish = "ANALYZE stock, reservations, reservation_lines",
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM stock)",
    /* It copies products but holds their stock: "already has stock". */
    .copy_holds = "stock",
};
