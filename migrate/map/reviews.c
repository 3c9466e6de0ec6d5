/*
 * reviews.c - the reviews domain's mapping: the monolith's reviews rows ↔
 * the reviews service's documents (reviews.doc = {"rating","title","body"}),
 * its per-product ratings aggregate, and the two replicas events fill later
 * (products: does it exist; users_replica: authors' names). One copy of the
 * transformation for the backfill (copy), forward sync (apply) and verify.
 * Every statement is idempotent: an upsert by id, or a delete, and the
 * ratings move by the difference between the row the service had and the
 * row it gets, so a change applied twice leaves the same aggregate.
 */
#include <string.h>

#include "arena.h"
#include "db.h"
#include "migrate/map/map.h"
#include "work.h"

/* Milliseconds, UTC (the monolith stores UTC): the canonical DATETIME(3). */
#define MONO_TS(col) "CONCAT(LEFT(DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"
#define SVC_TS(col)  "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char *const reviews_tables[] = {"reviews", "products", "users", NULL};

/* ---- forward sync --------------------------------------------------------------------------- */

#define REVIEW_OLD "SELECT product_id, doc->>'rating' FROM reviews WHERE id = $1::bigint FOR UPDATE"
#define REVIEW_UPSERT                                                                              \
    "INSERT INTO reviews (id, product_id, user_id, doc, created_at) VALUES ($1::bigint,"           \
    " $2::bigint, $3::bigint, jsonb_build_object('rating', $4::integer, 'title', $5::text,"        \
    " 'body', $6::text), $7::timestamptz) ON CONFLICT (id) DO UPDATE SET"                          \
    " product_id = EXCLUDED.product_id, user_id = EXCLUDED.user_id, doc = EXCLUDED.doc,"           \
    " created_at = EXCLUDED.created_at"
#define REVIEW_DELETE                                                                              \
    "DELETE FROM reviews WHERE id = $1::bigint RETURNING product_id, doc->>'rating'"
#define RATING_SUB                                                                                 \
    "UPDATE ratings SET count = count - 1, sum = sum - $2::bigint WHERE product_id = $1::bigint"
#define RATING_ADD                                                                                 \
    "INSERT INTO ratings AS a (product_id, count, sum) VALUES ($1::bigint, 1, $2::bigint)"         \
    " ON CONFLICT (product_id) DO UPDATE SET count = a.count + 1, sum = a.sum + EXCLUDED.sum"
#define PRODUCT_UPSERT                                                                             \
    "INSERT INTO products (id, version, deleted) VALUES ($1::bigint, 1, false)"                    \
    " ON CONFLICT (id) DO NOTHING"
#define USER_UPSERT                                                                                \
    "INSERT INTO users_replica (id, name) VALUES ($1::bigint, $2)"                                 \
    " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"
#define USER_DELETE "DELETE FROM users_replica WHERE id = $1::bigint"

/* The review the service has now leaves the aggregate. */
static int
review_unrate(struct work *w, struct db_rows *old)
{
    if (old->nrows == 0)
        return ERR_OK;
    return db_exec_sql(w->db, w->arena, RATING_SUB, 2,
                       (const char *const[]){db_get(old, 0, 0), db_get(old, 0, 1)}, NULL);
}

static int
review_apply(struct work *w, const struct cdc_change *c)
{
    const char     *id = map_value(c, "id");
    struct db_rows *old;
    int             rc;

    if (c->op == CDC_DELETE) {
        rc = db_exec_sql(w->db, w->arena, REVIEW_DELETE, 1, (const char *const[]){id}, &old);
        return rc ? rc : review_unrate(w, old);
    }
    rc = db_exec_sql(w->db, w->arena, REVIEW_OLD, 1, (const char *const[]){id}, &old);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, REVIEW_UPSERT, 7,
                         (const char *const[]){id, map_value(c, "product_id"),
                                               map_value(c, "user_id"), map_value(c, "rating"),
                                               map_value(c, "title"), map_value(c, "body"),
                                               map_value(c, "created_at")},
                         NULL);
    if (rc == ERR_OK)
        rc = review_unrate(w, old);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, RATING_ADD, 2,
                         (const char *const[]){map_value(c, "product_id"), map_value(c, "rating")},
                         NULL);
    return rc;
}

static int
product_apply(struct work *w, const struct cdc_change *c)
{
    const char *id = map_value(c, "id");
    int         rc;

    if (c->op == CDC_UPDATE) /* reviews knows only that a product exists */
        return ERR_OK;
    if (c->op == CDC_INSERT)
        return db_exec_sql(w->db, w->arena, PRODUCT_UPSERT, 1, (const char *const[]){id}, NULL);
    /* The monolith deletes a product's reviews by ON DELETE CASCADE, which the
     * binlog does not show (InnoDB cascades are not logged as rows): do it here. */
    rc = db_exec_sql(w->db, w->arena, "UPDATE products SET deleted = true WHERE id = $1::bigint", 1,
                     (const char *const[]){id}, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, "DELETE FROM reviews WHERE product_id = $1::bigint", 1,
                         (const char *const[]){id}, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, "DELETE FROM ratings WHERE product_id = $1::bigint", 1,
                         (const char *const[]){id}, NULL);
    return rc;
}

static int
user_apply(struct work *w, const struct cdc_change *c)
{
    const char *id = map_value(c, "id");

    if (c->op == CDC_DELETE)
        return db_exec_sql(w->db, w->arena, USER_DELETE, 1, (const char *const[]){id}, NULL);
    return db_exec_sql(w->db, w->arena, USER_UPSERT, 2,
                       (const char *const[]){id, map_value(c, "name")}, NULL);
}

static int
reviews_apply(struct work *w, const struct cdc_change *c)
{
    struct cdc_change gone;
    int               rc;

    if (map_value(c, "id") == NULL)
        return ERR_INVALID;
    /* An update that changes the key is the old row's delete and the new one's upsert. */
    if (c->op == CDC_UPDATE && map_before(c, "id") != NULL &&
        strcmp(map_before(c, "id"), map_value(c, "id")) != 0) {
        gone = *c;
        gone.op = CDC_DELETE;
        gone.after = NULL;
        rc = reviews_apply(w, &gone);
        if (rc)
            return rc;
    }
    if (strcmp(c->table, "reviews") == 0)
        return review_apply(w, c);
    if (strcmp(c->table, "products") == 0)
        return product_apply(w, c);
    if (strcmp(c->table, "users") == 0)
        return user_apply(w, c);
    return ERR_OK;
}

/* ---- backfill ------------------------------------------------------------------------------- */

/* A review the service already has (same id, or the same user and product
 * written there since) stays. Replica rows are what an event at version 1
 * (product.created) or user.registered would write; a newer one stays. */
/* clang-format off */
static const struct map_copy reviews_copy[] = {
    {"reviews", "SELECT COUNT(*) FROM reviews",
     "SELECT id, product_id, user_id, rating, title, body, " MONO_TS("created_at")
     " FROM reviews WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO reviews (id, product_id, user_id, doc, created_at)"
     " SELECT (r->>0)::bigint, (r->>1)::bigint, (r->>2)::bigint,"
     " jsonb_build_object('rating', (r->>3)::integer, 'title', r->>4, 'body', r->>5),"
     " (r->>6)::timestamptz FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     0},
    {"products", "SELECT COUNT(*) FROM products",
     "SELECT id FROM products WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO products (id, version, deleted)"
     " SELECT (r->>0)::bigint, 1, false FROM jsonb_array_elements($1::jsonb) AS r"
     " ON CONFLICT (id) DO NOTHING",
     0},
    {"user names", "SELECT COUNT(*) FROM users",
     "SELECT id, name FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO users_replica (id, name)"
     " SELECT (r->>0)::bigint, r->>1 FROM jsonb_array_elements($1::jsonb) AS r"
     " ON CONFLICT (id) DO NOTHING",
     0},
    {NULL, NULL, NULL, NULL, 0},
};

/* Canonical rows of both sides (migrate/README.md). */
static const struct map_verify reviews_verify[] = {
    {"reviews",
     "SELECT id, product_id, user_id, rating, title, body, " MONO_TS("created_at")
     " FROM reviews WHERE id > ? ORDER BY id LIMIT ?",
     "SELECT id, product_id, user_id, doc->>'rating', doc->>'title', doc->>'body', "
     SVC_TS("created_at") " FROM reviews WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"},
    {"ratings",
     "SELECT product_id, COUNT(*), SUM(rating) FROM reviews WHERE product_id > ?"
     " GROUP BY product_id ORDER BY product_id LIMIT ?",
     "SELECT product_id, count, sum FROM ratings WHERE product_id > $1::bigint AND count > 0"
     " ORDER BY product_id LIMIT $2::bigint"},
    {"user names",
     "SELECT id, name FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "SELECT id, name FROM users_replica WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"},
    {NULL, NULL, NULL},
};
/* clang-format on */

/* The products replica is not compared (verify has no such entity). */
static const struct map_touch reviews_touch[] = {
    {"reviews", "reviews", "id"},
    {"reviews", "ratings", "product_id"},
    {"users", "user names", "id"},
    {NULL, NULL, NULL},
};

/* ratings from the rows, as the service keeps them (store.c RATING_ADD): a
 * share lock holds off review inserts, so no increment made meanwhile is
 * overwritten. One implicit transaction (several statements, no params). */
/* ---- reverse sync: a review made on the service, into the monolith -----------------------------
 */

/* Reviews are never changed or deleted, so a put is an insert that a repeat
 * leaves alone (ON DUPLICATE KEY: unlike INSERT IGNORE it still refuses a
 * review whose product or user the monolith lacks, which is retried); one
 * that clashes with another id's review of the same product and user fails
 * (id set to NULL, as MAP_SAME_ID in rules.h) instead of vanishing. */
static const struct map_reverse_step reviews_reverse_steps[] = {
    {"SELECT id, product_id, user_id, (doc->>'rating')::int, coalesce(doc->>'title', ''),"
     " doc->>'body', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')"
     " FROM reviews WHERE id = $1::bigint",
     "INSERT INTO reviews (id, product_id, user_id, rating, title, body, created_at)"
     " VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = IF(id = VALUES(id), id, NULL)",
     NULL, 0},
    {NULL, NULL, NULL, 0},
};

static const struct map_reverse reviews_reverse = {
    (const char *const[]){"review.created", NULL},
    reviews_reverse_steps,
    NULL,
};

const struct map_domain map_reviews = {
    .name = "reviews",
    .db_env = "SOUK_REVIEWS_DB",
    .tables = reviews_tables,
    .apply = reviews_apply,
    .copy = reviews_copy,
    .copy_finish =
        "LOCK TABLE reviews IN SHARE MODE;"
        " INSERT INTO ratings AS a (product_id, count, sum)"
        " SELECT product_id, count(*), sum((doc->>'rating')::bigint) FROM reviews GROUP BY "
        "product_id"
        " ON CONFLICT (product_id) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum",
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM reviews)",
    .verify = reviews_verify,
    .touch = reviews_touch,
    /* Sequences: the identity scheme (soukctl backfill_ident.c), not setval. */
    .ident = (const char *const[]){"reviews", NULL},
    .reverse = &reviews_reverse,
};
