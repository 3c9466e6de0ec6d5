/*
 * monolith.h - the legacy shop's structs and cross-file prototypes.
 * Handlers (api_*.c) decode and encode JSON; store_*.c hold every SQL
 * statement; shop.c is pure logic (payment simulator, checks) with no I/O.
 */
#ifndef SOUK_MONOLITH_H
#define SOUK_MONOLITH_H

#include <jansson.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "req.h"
#include "service.h"

struct monolith_config {
    struct service_config svc;     /* SOUK_LISTEN, ...; svc.db: mysql://user:pass@host:port/db */
    int64_t               jwt_ttl; /* seconds */
    int64_t               argon2_ops;
    int64_t               argon2_mem_kib;
    int64_t               provider_latency_ms; /* the simulated provider's answer time */
};

extern struct monolith_config monolith; /* read-only after main() */

#define MAX_ATTRS        64 /* attributes per product */
#define MAX_ATTR_FILTERS 8  /* attribute filters per list query */
#define MAX_QTY          99 /* per cart line */
#define MAX_CART_LINES   100

struct money {
    int64_t minor;
    char    currency[4];
};

struct address {
    const char *line1, *line2, *city, *postal_code, *country;
};

struct user {
    int64_t         id;
    const char     *email, *name, *role, *created_at;
    struct address *address; /* NULL when none */
};

struct category {
    int64_t     id, parent_id; /* parent_id 0 = top level */
    const char *slug, *name;
};

struct attr {
    const char *name, *value;
};

struct product {
    int64_t         id;
    const char     *sku, *name, *description, *brand, *created_at, *updated_at;
    struct category category;
    struct money    price;
    struct attr    *attrs;
    size_t          nattrs;
    int64_t         stock;
    int64_t         review_count;
    int64_t         rating_x100; /* average rating × 100, 0 when no reviews */
};

enum product_sort { SORT_RELEVANCE, SORT_NEWEST, SORT_PRICE_ASC, SORT_PRICE_DESC, SORT_NAME };

struct product_query {
    const char       *category;             /* slug or NULL */
    const char       *q;                    /* search text or NULL */
    int64_t           min_price, max_price; /* -1 = unbounded */
    enum product_sort sort;
    struct attr       filters[MAX_ATTR_FILTERS];
    size_t            nfilters;
    int64_t           page, limit;
};

struct product_page {
    struct product *items;
    size_t          n;
    int64_t         total;
};

struct line {
    int64_t      product_id, quantity;
    const char  *name;
    struct money unit;
};

struct cart {
    struct line *lines;
    size_t       n;
};

struct order {
    int64_t        id, user_id;
    const char    *status, *created_at, *payment_status, *card_last4;
    struct money   total;
    struct line   *lines;
    size_t         n;
    struct address ship;
};

struct checkout {
    const char *card_number;
    const char *idempotency_key; /* NULL = none */
    char        request_hash[65];
};

struct review {
    int64_t     id, product_id, user_id, rating;
    const char *author, *title, *body, *created_at;
};

struct sales_month {
    const char *month;
    int64_t     orders, items, revenue_minor;
};

/* shop.c: pure logic */
enum payment_result { PAYMENT_APPROVED, PAYMENT_DECLINED, PAYMENT_TRANSIENT, PAYMENT_INVALID };
enum payment_result shop_payment_charge(const char *card_number, int64_t amount_minor,
                                        char ref[33]);
int                 shop_attr_name_valid(const char *name);
int                 shop_sort_parse(const char *z, enum product_sort *out);
int                 shop_month_valid(const char *z);
int                 shop_date_valid(const char *z);
void                shop_line_total(const struct line *l, struct money *out);
void shop_cart_total(const struct line *lines, size_t n, struct money *out, int64_t *items);
void shop_request_hash(const char *key, int64_t user_id, const char *card_number, char out[65]);

/* store_*.c return ERR_* codes. A write keyed by the caller's user id returns
 * ERR_UNAUTHORIZED when that id names no account (a valid token for a user
 * that is gone); handlers answer it as 404 "account not found". */

/* store_accounts.c */
MUST_CHECK int store_user_create(struct req *r, const char *email, const char *hash,
                                 const char *name, struct user **out);
MUST_CHECK int store_user_by_email(struct req *r, const char *email, struct user **out,
                                   const char **hash);
MUST_CHECK int store_user_get(struct req *r, int64_t id, struct user **out);
MUST_CHECK int store_address_put(struct req *r, int64_t user_id, const struct address *a);
MUST_CHECK int store_ping(struct req *r);

/* store_catalog.c */
MUST_CHECK int store_categories(struct req *r, struct category **out, size_t *n);
MUST_CHECK int store_category_get(struct req *r, int64_t id, struct category *out);
MUST_CHECK int store_products(struct req *r, const struct product_query *q,
                              struct product_page *out);
MUST_CHECK int store_product_get(struct req *r, int64_t id, struct product **out);
MUST_CHECK int store_product_put(struct req *r, struct product *p, int create);
MUST_CHECK int store_stock_set(struct req *r, int64_t product_id, int64_t stock);
/* ERR_OK when product id exists, ERR_NOT_FOUND when not. */
MUST_CHECK int store_product_exists(struct req *r, int64_t id);

/* store_reviews.c */
MUST_CHECK int store_reviews(struct req *r, int64_t product_id, int64_t page, int64_t limit,
                             struct review **out, size_t *n, int64_t *total, int64_t *rating_x100);
MUST_CHECK int store_review_create(struct req *r, struct review *rv);

/* store_orders.c */
MUST_CHECK int store_cart_get(struct req *r, int64_t user_id, struct cart *out);
MUST_CHECK int store_cart_add(struct req *r, int64_t user_id, int64_t product_id, int64_t qty,
                              int replace);
MUST_CHECK int store_cart_remove(struct req *r, int64_t user_id, int64_t product_id);
MUST_CHECK int store_checkout(struct req *r, int64_t user_id, struct checkout *c,
                              struct order **out, int *replayed);
MUST_CHECK int store_orders(struct req *r, int64_t user_id, int64_t page, int64_t limit,
                            struct order **out, size_t *n, int64_t *total);
MUST_CHECK int store_order_get(struct req *r, int64_t id, struct order **out);
MUST_CHECK int store_sales(struct req *r, const char *from, const char *to,
                           struct sales_month **out, size_t *n);

/* api.c: shared encoders and decoders */
json_t *api_money(const struct money *m);
json_t *api_address(const struct address *a);
json_t *api_user(const struct user *u);
json_t *api_product(const struct product *p, int full);
json_t *api_product_page(struct req *r, const struct product_page *pg, int64_t page, int64_t limit);
json_t *api_order(const struct order *o);
json_t *api_cart(const struct cart *c);
MUST_CHECK int api_page(struct req *r, int64_t *page, int64_t *limit);

/* handlers */
int account_register(struct req *r);
int account_login(struct req *r);
int account_me(struct req *r);
int account_address_put(struct req *r);
int category_list(struct req *r);
int product_list(struct req *r);
int product_get(struct req *r);
int product_create(struct req *r);
int product_update(struct req *r);
int product_stock_put(struct req *r);
int search_products(struct req *r);
int review_list(struct req *r);
int review_create(struct req *r);
int cart_get(struct req *r);
int cart_item_add(struct req *r);
int cart_item_put(struct req *r);
int cart_item_delete(struct req *r);
int order_create(struct req *r);
int order_list(struct req *r);
int order_get(struct req *r);
int report_sales(struct req *r);
int ready_db(struct req *r);

#endif
