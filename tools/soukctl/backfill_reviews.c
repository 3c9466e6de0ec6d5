/*
 * backfill_reviews.c - `soukctl backfill reviews`: the monolith's reviews
 * into the reviews service's database as documents with the same ids, the
 * per-product ratings (count, sum) and the two replicas that events fill
 * later (products, users_replica), so reviews answers the monolith's v1
 * list right after a backfill.
 */
#include "backfill.h"

/* Milliseconds, UTC: the list orders by created_at, then id, as the monolith. */
#define MS_TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"

/* A review reviews already has (same id, or the same user and product
 * written there since) stays. Replica rows are what an event at version 1
 * (product.created) or user.registered would write; a newer one stays. */
/* clang-format off */
static const struct backfill_table reviews_tables[] = {
    {"reviews", "SELECT COUNT(*) FROM reviews",
     "SELECT id, product_id, user_id, rating, title, body, " MS_TS("created_at")
     " FROM reviews WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO reviews (id, product_id, user_id, doc, created_at)"
     " SELECT (r->>0)::bigint, (r->>1)::bigint, (r->>2)::bigint,"
     " jsonb_build_object('rating', (r->>3)::integer, 'title', r->>4, 'body', r->>5),"
     " (r->>6)::timestamptz FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     NULL, 0},
    {"products", "SELECT COUNT(*) FROM products",
     "SELECT id FROM products WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO products (id, version, deleted)"
     " SELECT (r->>0)::bigint, 1, false FROM jsonb_array_elements($1::jsonb) AS r"
     " ON CONFLICT (id) DO NOTHING",
     NULL, 0},
    {"user names", "SELECT COUNT(*) FROM users",
     "SELECT id, name FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO users_replica (id, name)"
     " SELECT (r->>0)::bigint, r->>1 FROM jsonb_array_elements($1::jsonb) AS r"
     " ON CONFLICT (id) DO NOTHING",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

/* ratings from the rows, as the service keeps them (store.c RATING_ADD): a
 * share lock holds off review inserts, so no increment made meanwhile is
 * overwritten. One implicit transaction (several statements, no params). */
const struct backfill_target backfill_reviews = {
    "reviews",
    "SELECT EXISTS (SELECT 1 FROM reviews)",
    "reviews",
    reviews_tables,
    "LOCK TABLE reviews IN SHARE MODE;"
    " INSERT INTO ratings AS a (product_id, count, sum)"
    " SELECT product_id, count(*), sum((doc->>'rating')::bigint) FROM reviews GROUP BY product_id"
    " ON CONFLICT (product_id) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum",
    (const char *const[]){"reviews", NULL},
};
