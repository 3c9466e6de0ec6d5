/*
 * backfill_inventory.c - `soukctl backfill inventory`: the monolith's
 * stock into the inventory service's database, one row per product with its
 * level as the units received and on hand (nothing reserved or sold yet:
 * the monolith's stock is what it can still sell). Every monolith product
 * gets a row, with 0 when it has no inventory row, so inventory knows the
 * same products the catalog backfill copies (404 for any other).
 */
#include "backfill.h"

/* A product inventory already has (a row events or an admin wrote since)
 * stays: a repeat never resets stock that moved. Version 0, catalog version
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
    .copy_finish = "ANALYZE stock",
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM stock)",
    /* It copies products but holds their stock: "already has stock". */
    .copy_holds = "stock",
};
