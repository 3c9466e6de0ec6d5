/*
 * cart.h - the cart service's structs and cross-file prototypes.
 * api.c decodes and encodes JSON, cart.c is pure logic (quantities, caps,
 * merging, TTLs, key and line formats), store.c holds every Redis command,
 * catalog.c takes price snapshots from the catalog over HTTP, events.c
 * flags lines from product events.
 */
#ifndef SOUK_CART_H
#define SOUK_CART_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "cartline.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct httpc;
struct kv;

struct cart_ttls {
    int64_t user_s, anon_s; /* seconds */
};

struct cart_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_CART_DB (the inbox only), SOUK_AMQP_URL, ... */
    const char           *redis_url;   /* redis://host:port/db: the carts */
    const char           *catalog_url; /* http://host:port of souk-catalog: price snapshots */
    struct cart_ttls      ttl;         /* sliding TTLs of a user's / an anonymous cart */
    int64_t               catalog_timeout_ms, price_cache_ms;
    int                   cookie_secure; /* add "Secure" to the cart cookie (behind TLS) */
};

extern struct cart_config cart_cfg; /* read-only after main() */

/* What every handler thread (service_ext) and the consumer thread
 * (mq_msg.ctx) own. */
struct cart_worker {
    struct kv    *kv;
    struct httpc *hc;
};

#define CART_ANON_ID_LEN 32 /* 128 random bits in lower-case hex */
#define CART_COOKIE      "souk_cart"

enum cart_kind { CART_NONE, CART_USER, CART_ANON };

/* Which cart a request works on and how long it lives. */
struct cart_ref {
    enum cart_kind kind;
    int64_t        user_id; /* CART_USER: whose; 0 for an anonymous cart */
    char           key[CART_KEY_MAX];
    int64_t        ttl_s;       /* the cart's sliding TTL */
    int64_t        index_ttl_s; /* the product sets': outlives every cart */
};

/* Lines in the order they were added. rev names this state of the cart
 * (the ETag): every write gives it a new random value, so one state is
 * never mistaken for another, across expiries and Redis restarts alike. */
struct cart {
    struct cart_line *lines;
    size_t            n;
    const char       *rev; /* NULL: a cart written before revisions, or none */
};

/* A line of a confirmed order (order.confirmed): what the cart gives up. */
struct order_line {
    int64_t product_id, quantity;
};

/* The catalog's answer for one product. */
struct product_snap {
    int64_t      id;
    struct money price;
    const char  *name;
};

/* A product event, reduced to what a cart line shows. */
struct product_event {
    int64_t      id, version;
    int          deleted;
    struct money price; /* when !deleted */
    const char  *name;  /* when !deleted */
};

/* cart.c: pure logic */
void cart_ref_user(struct cart_ref *ref, int64_t user_id, const struct cart_ttls *t);
/* ERR_INVALID unless id is CART_ANON_ID_LEN lower-case hex digits. */
MUST_CHECK int cart_ref_anon(struct cart_ref *ref, const char *id, const struct cart_ttls *t);
/* The souk_cart value of a Cookie header when it is a well-formed id (copied
 * into out): 1; 0 when absent or malformed (a forged value is ignored). */
int                     cart_cookie_find(const char *header, char out[CART_ANON_ID_LEN + 1]);
const struct cart_line *cart_find(const struct cart *c, int64_t product_id);
void                    cart_sort(struct cart *c);
/* The line after adding qty of p: ERR_CONFLICT past MAX_QTY or MAX_CART_LINES. */
MUST_CHECK int cart_add(const struct cart *c, const struct product_snap *p, int64_t qty,
                        struct cart_line *out);
/* The line with its quantity set: ERR_NOT_FOUND when not in the cart. */
MUST_CHECK int cart_set(const struct cart *c, int64_t product_id, int64_t qty,
                        struct cart_line *out);
/* The lines of user to write so that anon is merged into it: quantities
 * added and capped at MAX_QTY, new lines appended in anon's order while the
 * cart has room (the rest is dropped). out holds anon->n lines; returns how
 * many were filled. */
size_t cart_merge(const struct cart *user, const struct cart *anon, struct cart_line *out);
/* The line after ev: 1 and *out when ev is newer than what the line shows. */
int cart_line_apply(const struct cart_line *l, const struct product_event *ev,
                    struct cart_line *out);
/* The cart after an order of lines o[0..n) was confirmed: each line loses
 * what the order took of its product (several order lines of one product
 * add up); what the user added since stays. keep (c->n lines) gets the
 * lines left with less, gone (c->n ids) the products whose line is used
 * up; lines the order does not name appear in neither. */
void cart_order_apply(const struct cart *c, const struct order_line *o, size_t n,
                      struct cart_line *keep, size_t *n_keep, int64_t *gone, size_t *n_gone);
int  cart_line_price_changed(const struct cart_line *l);
void cart_line_total(const struct cart_line *l, struct money *out);
/* Sum of the line totals ("EUR" when empty, as the monolith) and of the quantities. */
void cart_total(const struct cart *c, struct money *out, int64_t *items);

/* store.c: every Redis command. ERR_UNAVAILABLE when Redis is down, ERR_BUSY
 * when concurrent writers kept winning. Reads and writes extend the TTL. */
MUST_CHECK int store_cart_get(struct work *w, const struct cart_ref *ref, struct cart *out);
MUST_CHECK int store_cart_add(struct work *w, const struct cart_ref *ref,
                              const struct product_snap *p, int64_t qty, struct cart *out);
MUST_CHECK int store_cart_set(struct work *w, const struct cart_ref *ref, int64_t product_id,
                              int64_t qty, struct cart *out);
MUST_CHECK int store_cart_remove(struct work *w, const struct cart_ref *ref, int64_t product_id,
                                 struct cart *out);
/* Merge anon into user and delete anon, in one transaction: a retry finds
 * anon gone and adds nothing. *lines is how many lines changed. */
MUST_CHECK int store_cart_merge(struct work *w, const struct cart_ref *anon,
                                const struct cart_ref *user, size_t *lines);
/* Apply ev to every cart holding its product; *carts is how many changed. */
MUST_CHECK int store_product_event(struct work *w, const struct product_event *ev, size_t *carts);
/* Take the lines of order_id out of ref's cart (cart_order_apply) and mark
 * the order applied, in one transaction: *lines is how many lines changed,
 * 0 as well when the marker shows the order was applied already (a
 * redelivery whose inbox commit had failed). */
MUST_CHECK int store_order_confirmed(struct work *w, const struct cart_ref *ref, int64_t order_id,
                                     const struct order_line *o, size_t n, size_t *lines);

/* The user cart's next version and its lines at that version, read in one
 * MULTI (INCR of CART_KEY_VERSION, HGETALL): a higher version always comes
 * with a later state (cart.changed, events.c). */
MUST_CHECK int store_cart_version(struct work *w, const struct cart_ref *ref, int64_t *version,
                                  struct cart *out);

/* catalog.c: price snapshots */
/* The product's name and price from the catalog (or the per-process cache).
 * ERR_NOT_FOUND (unknown or deleted product), ERR_UNAVAILABLE (the catalog
 * is down, slow or answered nonsense; logged). */
MUST_CHECK int catalog_product(struct req *r, int64_t id, struct product_snap *out);
void           catalog_cache_evict(int64_t id);

/* events.c */
extern const struct mq_consumer cart_consumers[];
/* After a write to a user's cart: cart.changed with its whole state and
 * version into the outbox (in_txn: w->db's transaction is open, a
 * consumer's; else one of its own). Anonymous carts publish nothing. */
int cart_changed_publish(struct work *w, const struct cart_ref *ref, int in_txn);

/* api.c: handlers */
int cart_get(struct req *r);
int cart_item_add(struct req *r);
int cart_item_put(struct req *r);
int cart_item_delete(struct req *r);
int ready_redis(struct req *r);

#endif
