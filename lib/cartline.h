/*
 * cartline.h - how a cart is kept in Redis, for the two writers of it: the
 * cart service (services/cart) and the cart mapping of the live migration
 * (migrate/map/cart.c, which fills the same hashes from the monolith's
 * carts and cart_items). One copy of the keys and of the line's text.
 */
#ifndef SOUK_CARTLINE_H
#define SOUK_CARTLINE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

/* The monolith's limits (monolith/monolith.h). */
#define MAX_QTY        99 /* per cart line */
#define MAX_CART_LINES 100

#define CART_PRICE_MAX 1000000000000LL /* minor units, the catalog's own bound */
#define CART_NAME_MAX  200             /* bytes, the catalog's own bound */

/* Key formats: a hash per cart (field = product id, value = an encoded line)
 * and a set per product of the cart keys holding it (for product events). */
#define CART_KEY_USER    "souk:cart:u:" /* + user id (the verified token's sub) */
#define CART_KEY_ANON    "souk:cart:a:" /* + the cookie's 32 hex digits */
#define CART_KEY_PRODUCT "souk:cart:p:" /* + product id */
#define CART_KEY_ORDER   "souk:cart:o:" /* + order id: order.confirmed applied (a marker) */
/* + user id: the user's cart version (INCR per change, cart.changed's
 * "version"); never expires, so a version never goes back. */
#define CART_KEY_VERSION "souk:cart:v:"
#define CART_FIELD_REV   "rev" /* the hash field holding the cart's revision (the ETag) */
#define CART_REV_LEN     16    /* 64 random bits in lower-case hex */
#define CART_KEY_MAX     64

#define CART_TTL_USER_S_DEFAULT 604800 /* SOUK_CART_TTL_USER_S's default (7 days) */

struct money {
    int64_t minor;
    char    currency[4];
};

struct cart_line {
    int64_t      product_id, quantity;
    int64_t      seq;         /* order of addition */
    int64_t      version;     /* catalog version of unit and name; 0 = a snapshot */
    struct money unit;        /* the price today, as far as events told */
    struct money added;       /* the price when the line was added */
    int          unavailable; /* the product was deleted */
    const char  *name;
};

void cart_user_key(int64_t user_id, char out[CART_KEY_MAX]);
void cart_index_key(int64_t product_id, char out[CART_KEY_MAX]);
int  cart_currency_valid(const char *z);
/* A line as the text kept in Redis, in a; and back (ERR_INVALID for junk). */
char          *cart_line_encode(const struct cart_line *l, struct arena *a, size_t *len);
MUST_CHECK int cart_line_decode(const char *p, size_t n, int64_t product_id, struct arena *a,
                                struct cart_line *out);

/* A new revision for a cart being written (the CART_FIELD_REV value): random,
 * so no state of any cart of the user, however old, has it (orders keys live
 * orders by it). Every writer of a cart hash sets one: souk-cart and the cart
 * domain's forward sync alike. */
const char *cart_rev_new(struct arena *a);

#endif
