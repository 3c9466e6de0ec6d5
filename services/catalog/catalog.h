/*
 * catalog.h - the catalog service's structs and cross-file prototypes.
 * api.c / api_v2.c decode and encode JSON, render.c renders stored products
 * (for handlers and consumers alike), catalog.c is pure logic (document
 * validation, query parsing), store.c holds every SQL statement, cache.c the
 * Redis cache-aside, events.c the events written to the outbox and the
 * consumers (review.created, and the catalog's own product events).
 */
#ifndef SOUK_CATALOG_H
#define SOUK_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "event.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct db;
struct kv;
struct mq;

struct catalog_config {
    struct service_config svc;              /* SOUK_LISTEN, SOUK_CATALOG_DB, SOUK_AMQP_URL, ... */
    const char           *redis_url;        /* redis://host:port/db */
    int64_t               cache_ttl;        /* seconds a cached read lives */
    int64_t               cache_timeout_ms; /* bound on every Redis call */
    int64_t cache_loop_timeout_ms; /* bound on a GET from an I/O loop; 0: hits on workers only */
};

extern struct catalog_config catalog; /* read-only after main() */

/* A Redis handle and its back-off, owned by one thread: each handler
 * thread's (service_ext) and the consumer thread's (mq_msg.ctx). */
struct cache_conn {
    struct kv *kv;
    int64_t    retry_ms; /* monotonic ms before which Redis is not tried again */
};

/* Redis keys (cache.c). A value is "<version>:<v1 reply bytes>"; a deleted
 * product's is "<version>:" (a tombstone). */
#define CACHE_KEY_PRODUCT    "catalog:v1:product:%lld"
#define CACHE_KEY_CATEGORIES "catalog:v1:categories"

#define MAX_PRICE         1000000000000LL /* 10^10 in major units, as the monolith */
#define MAX_ATTRS         64              /* attributes per product */
#define MAX_ATTR_VALUE    255             /* bytes of a string attribute or filter value */
#define MAX_IMAGES        20
#define MAX_IMAGE_URL     2048
#define MAX_V1_FILTERS    8  /* attribute filters of GET /api/v1/products */
#define MAX_V2_FILTERS    16 /* attr.* filters of GET /api/v2/products */
#define MAX_BULK_IDS      100
#define MAX_SLUG          100
#define MAX_CATEGORY_NAME 200

struct money {
    int64_t minor;
    char    currency[4];
};

struct category {
    int64_t     id, parent_id; /* parent_id 0 = top level */
    const char *slug, *name;
};

/* A product as stored: the document stays JSON text from PostgreSQL. */
struct product_row {
    int64_t     id, version;
    const char *doc; /* NUL-terminated JSON object */
    size_t      len;
    int         deleted;       /* a tombstone: the row keeps the id and the deleting version */
    const char *category_path; /* writes: the category's slugs, root first, a JSON array */
};

/* The validated body of POST/PUT /api/v1/products. The json_t members are
 * borrowed from the request body (they live as long as the arena). */
struct product_in {
    const char  *sku, *name, *description, *brand;
    int64_t      category_id;
    json_t      *price_obj, *attributes, *images;
    struct money price;
};

enum product_sort { SORT_RELEVANCE, SORT_NEWEST, SORT_PRICE_ASC, SORT_PRICE_DESC, SORT_NAME };

enum filter_op { FILTER_EQ, FILTER_GT, FILTER_GTE, FILTER_LT, FILTER_LTE };

struct attr_filter {
    const char    *name;  /* [a-z][a-z0-9_]{0,63} */
    const char    *value; /* FILTER_EQ: the text asked for */
    enum filter_op op;
    int64_t        n; /* ranges: the bound */
};

/* Top-level members of a v2 document, in the order they are rendered. */
/* clang-format off */
#define DOC_FIELDS(X)                                                                              \
    X(ID, "id") X(SKU, "sku") X(NAME, "name") X(DESCRIPTION, "description") X(BRAND, "brand")      \
    X(CATEGORY, "category") X(PRICE, "price") X(IMAGES, "images") X(ATTRIBUTES, "attributes")      \
    X(STOCK, "stock") X(RATING, "rating") X(CREATED_AT, "created_at")                              \
    X(UPDATED_AT, "updated_at") X(VERSION, "version")
/* clang-format on */

enum doc_field {
#define X(name, key) DOC_##name,
    DOC_FIELDS(X)
#undef X
        DOC__COUNT
};

extern const char *const catalog_doc_fields[DOC__COUNT];

/* A list query of GET /api/v1/products or /api/v2/products. */
struct product_query {
    const char        *category;             /* slug or NULL */
    int64_t            min_price, max_price; /* -1 = unbounded */
    enum product_sort  sort;
    int64_t            page, limit;
    struct attr_filter filters[MAX_V2_FILTERS];
    size_t             nfilters;
    int                empty;  /* contradictory filters: nothing can match */
    uint32_t           fields; /* v2: bit per enum doc_field; 0 = every member */
    int64_t            ids[MAX_BULK_IDS];
    size_t             nids; /* v2: a bulk read when > 0 */
};

/* The SQL parameters a query's attribute filters become (NULL = none). */
struct filter_sql {
    const char *contains; /* jsonb for doc @> (the GIN index) */
    const char *path;     /* jsonpath for jsonb_path_exists */
    const char *vars;     /* its variables, a JSON object */
};

struct product_page {
    struct product_row *items;
    size_t              n;
    int64_t             total;
};

/* ---- catalog.c: pure logic (no I/O) ---- */
/* Write a detail into detail (len bytes) and return ERR_INVALID: the checks'
 * way to fail (catalog.c, query.c). */
int catalog_fail(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int catalog_attr_name_valid(const char *name);
int catalog_slug_valid(const char *z);
int catalog_image_url_valid(const char *z);
/* Order attribute names as the monolith's MariaDB collation does (case
 * folded to upper, so '_' sorts after letters). */
int            catalog_attr_cmp(const char *a, const char *b);
MUST_CHECK int catalog_sort_parse(const char *z, enum product_sort *out);
/* Check {"amount","currency"}: an integer in [0, MAX_PRICE] and EUR (the
 * shop's only currency). ERR_INVALID with a short detail. */
MUST_CHECK int catalog_price_check(json_t *obj, struct arena *a, struct money *out, char *detail,
                                   size_t detail_len);
/* Check a POST/PUT /api/v1/products body: the monolith's fields and limits
 * plus "images". ERR_INVALID with a short detail. */
MUST_CHECK int catalog_product_check(json_t *body, struct arena *a, struct product_in *out,
                                     char *detail, size_t detail_len);
/* ---- query.c: list queries (pure logic) ---- */
/* Parse the query parameters of the v1 (v2 = 0) or v2 product list; names
 * cut out of "attr.NAME.op" are copied into a. ERR_INVALID with a short
 * detail. */
MUST_CHECK int query_parse(const struct req_kv *kv, size_t n, int v2, struct arena *a,
                           struct product_query *q, char *detail, size_t detail_len);
/* The attribute filters of q as SQL parameters, in a. */
void query_filter_sql(const struct product_query *q, struct arena *a, struct filter_sql *out);

/* ---- store.c: the only SQL ---- */
extern const struct db_stmt catalog_sql[]; /* prepared on every connection */
/* Every category by id; *version is their count (categories are never
 * deleted, so it grows with every insert and versions the cached list). */
MUST_CHECK int store_categories(struct work *w, struct category **out, size_t *n, int64_t *version);
MUST_CHECK int store_category_get(struct work *w, int64_t id, struct category *out);
/* ERR_DUPLICATE (slug taken), ERR_CONFLICT (no such parent). Sets c->id. */
MUST_CHECK int store_category_create(struct work *w, struct category *c);
/* The row of id, tombstone or not; ERR_NOT_FOUND when it never existed. */
MUST_CHECK int store_product_get(struct work *w, int64_t id, struct product_row *out);
/* Insert a product from its editable members (JSON text) and write
 * product.created, in one transaction. ERR_DUPLICATE: the sku is taken. */
MUST_CHECK int store_product_create(struct work *w, const char *part, struct product_row *out);
/* Merge part into product id (version + 1) and write product.updated (and
 * product.price_changed when new_price differs), or only product.price_changed
 * when price_only. ERR_NOT_FOUND, ERR_DUPLICATE. */
MUST_CHECK int store_product_update(struct work *w, int64_t id, const char *part,
                                    const struct money *new_price, int price_only,
                                    struct product_row *out);
/* Soft delete (a tombstone, version + 1) and product.deleted. */
MUST_CHECK int store_product_delete(struct work *w, int64_t id, int64_t *version);
MUST_CHECK int store_products(struct work *w, const struct product_query *q,
                              const struct filter_sql *f, struct product_page *out);
/* Live products among ids (any order). */
MUST_CHECK int store_products_by_ids(struct work *w, const int64_t *ids, size_t n,
                                     struct product_page *out);
/* Add one rating (1..5) to live product id inside the consumer's transaction
 * on w->db (version + 1, the document's rating from the exact count and sum).
 * *found is 0 when the product is deleted or unknown (nothing changed). */
MUST_CHECK int store_rating_add(struct work *w, int64_t id, int64_t rating, struct product_row *out,
                                int *found);
/* The stock replica (inventory.stock_changed) inside the consumer's
 * transaction on w->db: DOC.stock = available and version + 1, when version
 * is newer than the last one applied to live product id. *found is 0 when
 * nothing changed (stale or duplicate version, deleted or unknown product). */
MUST_CHECK int store_stock_apply(struct work *w, int64_t id, int64_t available, int64_t version,
                                 struct product_row *out, int *found);

/* ---- events.c: what the catalog publishes (through the outbox) and consumes ---- */
/* product.created / product.updated / product.price_changed (old_price for
 * the last one) about row, with the transaction open on w->db; "category_path"
 * when row has one. The same for a handler and for the review.created
 * consumer. */
MUST_CHECK int events_product(struct work *w, enum event_type type, const struct product_row *row,
                              const struct money *old_price);
MUST_CHECK int events_product_deleted(struct work *w, int64_t id, int64_t version);
/* review.created → the rating replica; the catalog's own product events →
 * the cache (the second line behind the writers' write-through). The
 * consumer thread's work.ext is its struct cache_conn. */
extern const struct mq_consumer catalog_consumers[];

/* ---- cache.c: Redis cache-aside of serialized replies ---- */
struct cache_hit {
    int         found;     /* 0: a miss (or Redis unreachable) */
    int         tombstone; /* found: the product was deleted */
    int64_t     version;
    const char *body; /* found && !tombstone */
    size_t      len;
};
/* service_spec.setup: checks SOUK_REDIS_URL (ERR_INVALID, logged) and
 * registers the cache's metrics. */
MUST_CHECK int cache_setup(void);
/* service_spec.thread_new / thread_free: a thread's struct cache_conn. */
void *cache_conn_new(void);
void  cache_conn_free(void *state);
void  cache_product_get(struct req *r, int64_t id, struct cache_hit *out);
/* service_spec.loop_new / loop_free: an I/O loop's Redis handle (kv_async),
 * NULL when SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS is 0 (every read on a worker). */
struct uv_loop_s;
void *cache_loop_new(struct uv_loop_s *loop);
void  cache_loop_free(void *state);
/* On r's loop: look product id up without blocking; done runs later on the
 * loop with the entry (found 0 for a miss, a malformed entry or Redis
 * failing). ERR_UNAVAILABLE: no lookup was started (back-off), done never
 * runs. */
typedef void   cache_done_fn(struct req *r, const struct cache_hit *hit);
MUST_CHECK int cache_product_lookup(struct req *r, int64_t id, cache_done_fn *done);
/* Store body as version of product id unless the cache holds a newer one;
 * body NULL stores a tombstone; w->ext is the thread's struct cache_conn. A
 * reader's fill (writer 0) is skipped while the thread backs off from a
 * failed Redis and is never retried. A writer (writer 1: the state it
 * committed) never skips: it tries even in back-off and once more on a
 * fresh connection, and then says so: ERR_UNAVAILABLE means the entry may
 * still show an older version (the product event invalidates it, so a handler
 * does not fail its request over it; the consumer retries the event). */
int cache_product_put(struct work *w, int64_t id, int64_t version, const char *body, size_t len,
                      int writer);
/* A product event of version: delete the cached page if it shows an older
 * version (never stores one: a late event must not bring a page back). */
MUST_CHECK int cache_product_invalidate(struct work *w, int64_t id, int64_t version);
void           cache_categories_get(struct req *r, struct cache_hit *out);
void cache_categories_put(struct req *r, int64_t version, const char *body, size_t len, int writer);

/* ---- render.c: representations of a stored product (no request, no I/O) ---- */
/* The v1 representation (full: the product page) of a stored document, in a
 * (a new reference the caller owns). ERR_INTERNAL (logged) when the document
 * does not parse. */
MUST_CHECK int render_v1_product(struct arena *a, const struct product_row *row, int full,
                                 json_t **out);
/* The product page's reply bytes (what the cache holds), in a. ERR_INTERNAL
 * (logged) when the document cannot be rendered. */
MUST_CHECK int render_v1_page(struct arena *a, const struct product_row *row, char **p, size_t *n);
/* A new object: the document's members in their canonical order (those in
 * fields, every one when fields is 0), then "version" unless version < 0. */
json_t *render_doc(json_t *doc, int64_t version, uint32_t fields);
/* Serialize with req_reply's flags (steals body) into bytes in a. */
MUST_CHECK int render_dump(struct arena *a, json_t *body, char **out, size_t *len);

/* ---- api.c / api_v2.c: handlers ---- */
/* Serialize like req_reply does (steals body), into the arena. */
MUST_CHECK int api_dump(struct req *r, json_t *body, char **out, size_t *len);
/* The v1 category list as reply bytes and the version that names it. */
MUST_CHECK int api_categories_bytes(struct req *r, char **p, size_t *n, int64_t *version);

int category_list(struct req *r);
int category_create(struct req *r);
int product_list(struct req *r);
int product_get(struct req *r);
int product_get_loop(struct req *r);
int product_create(struct req *r);
int product_update(struct req *r);
int product_price_put(struct req *r);
int product_delete(struct req *r);
int product_list_v2(struct req *r);

#endif
