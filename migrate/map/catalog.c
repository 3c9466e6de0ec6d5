/*
 * catalog.c - the catalog domain: the monolith's products row, its EAV
 * attribute rows and its inventory row are one JSONB document in the catalog
 * (services/catalog/README.md: id sku name description brand
 * category{id,slug,name} price{amount,currency} images attributes stock
 * rating{average,count} created_at updated_at); categories are rows on both
 * sides. Forward apply changes the document member by member, moves its
 * version on and writes the product event souk-catalog itself would write
 * (full state, version, category_path), so its cache (its own consumer drops
 * older pages) and search (a projection of those events) follow a synced
 * change. Stock stays the monolith's until inventory migrates: reverse sync
 * writes products, attributes and categories back, never stock.
 */
#include "migrate/map/rules.h"

/* ---- the transformation, one copy: monolith columns -> document members -------------- */

/* The members a products row gives; times keep seconds, as v1 shows them.
 * The category is read from the catalog's own categories (synced first). */
#define PRODUCT_PART(sku, name, desc, brand, cat, amount, cur, created, updated)                   \
    "jsonb_build_object('sku', " sku "::text, 'name', " name "::text, 'description', " desc        \
    "::text, 'brand', " brand "::text, 'category', (SELECT jsonb_build_object('id', c.id, 'slug'," \
    " c.slug, 'name', c.name) FROM categories c WHERE c.id = " cat "::bigint), 'price',"           \
    " jsonb_build_object('amount', " amount "::bigint, 'currency', " cur "::text),"                \
    " 'created_at', left(" created "::text, 19) || 'Z', 'updated_at', left(" updated               \
    "::text, 19) || 'Z')"

/* What a new document holds beyond its row (the catalog's PRODUCT_INSERT). */
#define PRODUCT_FRESH(id, attrs, stock, rcount, rsum)                                              \
    "jsonb_build_object('id', " id                                                                 \
    "::bigint, 'images', '[]'::jsonb, 'attributes', coalesce(" attrs                               \
    "::jsonb, '{}'::jsonb), 'stock', " stock "::bigint, 'rating', rating_doc(" rcount              \
    "::bigint, " rsum "::bigint))"

/* An event's payload as souk-catalog writes it (services/catalog/events.c). */
#define PAYLOAD(p)                                                                                 \
    "jsonb_build_object('version', " p ".version, 'product', " p ".doc, 'category_path',"          \
    " category_path((" p ".doc->'category'->>'id')::bigint))::text"

/* ---- forward: monolith change -> catalog ----------------------------------------------- */

/* A products row, inserted or updated (an update for a product the backfill
 * has not copied yet creates it, so stream and copy meet in any order). A
 * write that changes nothing moves nothing; a tombstone stays one. */
/* clang-format off */
static const char PRODUCT_PUT[] =
    "WITH n AS (SELECT " PRODUCT_PART("$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10")
    " AS part),"
    " p AS (INSERT INTO products AS x (id, version, doc)"
    " SELECT $1::bigint, 1, " PRODUCT_FRESH("$1", "NULL", "0", "0", "0") " || n.part FROM n"
    " ON CONFLICT (id) DO UPDATE SET version = x.version + 1, updated_at = now(),"
    " doc = x.doc || (EXCLUDED.doc - '{id,images,attributes,stock,rating}'::text[])"
    " WHERE x.deleted_at IS NULL AND x.doc IS DISTINCT FROM"
    " x.doc || (EXCLUDED.doc - '{id,images,attributes,stock,rating}'::text[])"
    " RETURNING id, version, doc, xmax = 0 AS fresh)"
    " SELECT CASE WHEN fresh THEN 'product.created' ELSE 'product.updated' END, id, "
    PAYLOAD("p") " FROM p"
    " UNION ALL SELECT 'product.price_changed', id, ((" PAYLOAD("p") ")::jsonb"
    " || jsonb_build_object('old_price', jsonb_build_object('amount', $11::bigint,"
    " 'currency', $12::text)))::text FROM p WHERE NOT fresh AND $11::bigint IS NOT NULL"
    " AND ($11::bigint, $12::text) IS DISTINCT FROM ($7::bigint, $8::text)";
/* clang-format on */

/* A tombstone with the deleting version, as the catalog's own delete. */
static const char PRODUCT_GONE[] =
    "WITH p AS (UPDATE products SET version = version + 1, deleted_at = now(), updated_at = now()"
    " WHERE id = $1::bigint AND deleted_at IS NULL RETURNING id, version)"
    " SELECT 'product.deleted', id, jsonb_build_object('version', version, 'product_id', id)::text"
    " FROM p";

/* One document change of a live product: $1 the id, then the statement's own. */
#define DOC_WRITE(new_doc)                                                                         \
    "WITH p AS (UPDATE products x SET version = x.version + 1, updated_at = now(), doc = " new_doc \
    " WHERE x.id = $1::bigint AND x.deleted_at IS NULL AND x.doc IS DISTINCT FROM " new_doc        \
    " RETURNING id, version, doc) SELECT 'product.updated', id, " PAYLOAD("p") " FROM p"

/* An EAV row is one member of the attributes object ($4: the name before an
 * update, which a rename removes). Values stay strings, as v1 shows them. */
static const char ATTR_PUT[] = DOC_WRITE(
    "jsonb_set(x.doc #- ARRAY['attributes', coalesce($4::text, $2::text)], ARRAY['attributes',"
    " $2::text], to_jsonb($3::text))");
static const char ATTR_GONE[] = DOC_WRITE("x.doc #- ARRAY['attributes', $2::text]");
static const char STOCK_PUT[] = DOC_WRITE("jsonb_set(x.doc, '{stock}', to_jsonb($2::bigint))");

/* A category row, and the category member of every live document in it. */
static const char CATEGORY_PUT[] =
    "WITH c AS (INSERT INTO categories AS x (id, slug, name, parent_id)"
    " VALUES ($1::bigint, $2, $3, $4::bigint) ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug,"
    " name = EXCLUDED.name, parent_id = EXCLUDED.parent_id"
    " RETURNING jsonb_build_object('id', id, 'slug', slug, 'name', name) AS m),"
    " p AS (UPDATE products x SET version = x.version + 1, updated_at = now(),"
    " doc = jsonb_set(x.doc, '{category}', (SELECT m FROM c)) WHERE x.deleted_at IS NULL"
    " AND (x.doc->'category'->>'id')::bigint = $1::bigint"
    " AND x.doc->'category' IS DISTINCT FROM (SELECT m FROM c) RETURNING id, version, doc)"
    " SELECT 'product.updated', id, " PAYLOAD("p") " FROM p";

#define PRODUCT_COLS                                                                               \
    "id", "sku", "name", "description", "brand", "category_id", "price_minor", "currency",         \
        "created_at", "updated_at"

static const struct map_rule catalog_rules[] = {
    {"categories", MAP_INS | MAP_UPD, CATEGORY_PUT, {"id", "slug", "name", "parent_id", NULL}},
    {"products", MAP_INS | MAP_UPD, PRODUCT_PUT, {PRODUCT_COLS, "-price_minor", "-currency", NULL}},
    {"products", MAP_DEL, PRODUCT_GONE, {"id", NULL}},
    {"product_attributes",
     MAP_INS | MAP_UPD,
     ATTR_PUT,
     {"product_id", "name", "value", "-name", NULL}},
    {"product_attributes", MAP_DEL, ATTR_GONE, {"product_id", "name", NULL}},
    {"inventory", MAP_INS | MAP_UPD, STOCK_PUT, {"product_id", "stock", NULL}},
    /* Only a product's delete cascades to its inventory row: no stock then. */
    {"inventory", MAP_DEL, DOC_WRITE("jsonb_set(x.doc, '{stock}', '0')"), {"product_id", NULL}},
    {NULL, 0, NULL, {NULL}},
};

static int
catalog_apply(struct work *w, const struct cdc_change *c)
{
    return map_rules_apply(w, catalog_rules, c);
}

/* ---- backfill ------------------------------------------------------------------------ */

/* Monolith: a product with its attributes as one JSON object, its stock and
 * its exact rating aggregate (count, sum: the catalog derives the average as
 * the monolith does, rating_doc()). Categories first, in one page (a parent
 * may have a larger id), so documents can name theirs. A repeat refreshes
 * what the catalog has not changed since (version 1). */
/* clang-format off */
static const struct map_copy catalog_copy[] = {
    {"categories", "SELECT COUNT(*) FROM categories",
     "SELECT id, slug, name, parent_id FROM categories WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO categories (id, slug, name, parent_id)"
     " SELECT (c->>0)::bigint, c->>1, c->>2, (c->>3)::bigint"
     " FROM jsonb_array_elements($1::jsonb) AS c"
     " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name,"
     " parent_id = EXCLUDED.parent_id", 1},
    {"products", "SELECT COUNT(*) FROM products",
     "SELECT p.id, p.sku, p.name, p.description, p.brand, p.category_id, p.price_minor,"
     " p.currency, " MAP_MY_TS("p.created_at") ", " MAP_MY_TS("p.updated_at") ","
     " COALESCE(i.stock, 0),"
     " (SELECT JSON_OBJECTAGG(a.name, a.value) FROM product_attributes a"
     "  WHERE a.product_id = p.id),"
     " (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id),"
     " (SELECT COALESCE(SUM(r.rating), 0) FROM reviews r WHERE r.product_id = p.id)"
     " FROM products p LEFT JOIN inventory i ON i.product_id = p.id"
     " WHERE p.id > ? ORDER BY p.id LIMIT ?",
     "INSERT INTO products AS p (id, version, doc, rating_count, rating_sum)"
     " SELECT (r->>0)::bigint, 1, " PRODUCT_FRESH("(r->>0)", "(r->>11)", "(r->>10)", "(r->>12)",
                                                  "(r->>13)")
     " || " PRODUCT_PART("(r->>1)", "(r->>2)", "(r->>3)", "(r->>4)", "(r->>5)", "(r->>6)",
                         "(r->>7)", "(r->>8)", "(r->>9)") ","
     " (r->>12)::bigint, (r->>13)::bigint FROM jsonb_array_elements($1::jsonb) AS r"
     " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, rating_count = EXCLUDED.rating_count,"
     " rating_sum = EXCLUDED.rating_sum, updated_at = now() WHERE p.version = 1", 0},
    {NULL, NULL, NULL, NULL, 0},
};

/* ---- verify: the canonical rows of each side ------------------------------------------ */

/* Documents keep seconds, so times compare at seconds on both sides; the
 * attributes are one text, name=value pairs in byte order, length-prefixed
 * (no separator can be confused with a value). */
#define MY_SEC(col) "CONCAT(DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s'), '.000Z')"
#define PG_SEC(m)   "left(doc->>'" m "', 19) || '.000Z'"

static const struct map_verify catalog_verify[] = {
    {"categories",
     "SELECT id, slug, name, parent_id FROM categories WHERE id > ? ORDER BY id LIMIT ?",
     "SELECT id, slug, name, parent_id FROM categories WHERE id > $1 ORDER BY id LIMIT $2"},
    {"products",
     "SELECT p.id, p.sku, p.name, p.description, p.brand, p.category_id, p.price_minor,"
     " p.currency, " MY_SEC("p.created_at") ", " MY_SEC("p.updated_at") ", COALESCE(i.stock, 0),"
     " COALESCE((SELECT GROUP_CONCAT(CONCAT(LENGTH(a.name), ':', a.name, LENGTH(a.value), ':',"
     " a.value) ORDER BY CAST(a.name AS BINARY) SEPARATOR '') FROM product_attributes a"
     " WHERE a.product_id = p.id), '')"
     " FROM products p LEFT JOIN inventory i ON i.product_id = p.id"
     " WHERE p.id > ? ORDER BY p.id LIMIT ?",
     "SELECT id, doc->>'sku', doc->>'name', doc->>'description', doc->>'brand',"
     " doc->'category'->>'id', doc->'price'->>'amount', doc->'price'->>'currency',"
     " " PG_SEC("created_at") ", " PG_SEC("updated_at") ", doc->>'stock',"
     " coalesce((SELECT string_agg(octet_length(a.key) || ':' || a.key || octet_length(a.value)"
     " || ':' || a.value, '' ORDER BY a.key COLLATE \"C\") FROM jsonb_each_text(doc->'attributes')"
     " a), '') FROM products WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2"},
    {NULL, NULL, NULL},
};

/* A category's change also rewrites the category member of its products'
 * documents, but verify compares only their category id. */
static const struct map_touch catalog_touch[] = {
    {"categories", "categories", "id"},
    {"products", "products", "id"},
    {"product_attributes", "products", "product_id"},
    {"inventory", "products", "product_id"},
    {NULL, NULL, NULL},
};

/* ---- reverse: the catalog's current document -> monolith rows --------------------------- */

#define MY_DT(m) "replace(left(doc->>'" m "', 19), 'T', ' ')"

static const struct map_reverse_step catalog_reverse_steps[] = {
    /* The product's category and its parents, root first (categories made
     * on the catalog, POST /api/v2/categories, announce nothing). */
    {"WITH RECURSIVE up (id, parent_id, slug, name, depth) AS ("
     " SELECT c.id, c.parent_id, c.slug, c.name, 0 FROM categories c"
     " WHERE c.id = (SELECT (doc->'category'->>'id')::bigint FROM products WHERE id = $1::bigint)"
     " UNION ALL SELECT c.id, c.parent_id, c.slug, c.name, up.depth + 1"
     " FROM categories c JOIN up ON c.id = up.parent_id WHERE up.depth < 64)"
     " SELECT id, slug, name, parent_id FROM up ORDER BY depth DESC",
     "INSERT INTO categories (id, slug, name, parent_id) VALUES (?, ?, ?, ?)"
     " ON DUPLICATE KEY UPDATE slug = " MAP_SAME_ID("slug") ", name = VALUES(name),"
     " parent_id = VALUES(parent_id)",
     NULL, 0},
    /* created_at stays the monolith's; updated_at moves only when the second
     * differs (documents keep seconds, the monolith milliseconds). A product
     * someone ordered stays (order_items refers to it). */
    {"SELECT id, doc->>'sku', doc->>'name', coalesce(doc->>'description', ''),"
     " doc->'category'->>'id', coalesce(doc->>'brand', ''), doc->'price'->>'amount', doc->'price'->>'currency', " MY_DT("created_at") ","
     " " MY_DT("updated_at") " FROM products WHERE id = $1::bigint AND deleted_at IS NULL",
     "INSERT INTO products (id, sku, name, description, category_id, brand, price_minor, currency,"
     " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
     " ON DUPLICATE KEY UPDATE sku = " MAP_SAME_ID("sku") ", name = VALUES(name),"
     " description = VALUES(description), category_id = VALUES(category_id),"
     " brand = VALUES(brand), price_minor = VALUES(price_minor), currency = VALUES(currency),"
     " updated_at = IF(DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') = VALUES(updated_at),"
     " updated_at, VALUES(updated_at))",
     "DELETE FROM products WHERE id = ? AND NOT EXISTS"
     " (SELECT 1 FROM order_items WHERE product_id = ?)",
     0},
    {"SELECT $1::bigint, a.key, a.value FROM products, jsonb_each_text(doc->'attributes') a"
     " WHERE id = $1::bigint AND deleted_at IS NULL",
     "INSERT INTO product_attributes (product_id, name, value) VALUES (?, ?, ?)",
     "DELETE FROM product_attributes WHERE product_id = ?", 1},
    {NULL, NULL, NULL, 0},
};
/* clang-format on */

static const struct map_reverse catalog_reverse = {
    (const char *const[]){"product.created", "product.updated", "product.price_changed",
                          "product.deleted", NULL},
    catalog_reverse_steps,
    NULL,
};

const struct map_domain map_catalog = {
    .name = "catalog",
    .db_env = "SOUK_CATALOG_DB",
    .tables =
        (const char *const[]){"categories", "products", "product_attributes", "inventory", NULL},
    .apply = catalog_apply,
    .copy = catalog_copy,
    .copy_finish = NULL,
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM products)",
    .verify = catalog_verify,
    .touch = catalog_touch,
    .ident = (const char *const[]){"products", "categories", NULL},
    .reverse = &catalog_reverse,
};
