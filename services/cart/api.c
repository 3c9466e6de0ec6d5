/*
 * api.c - the v1 cart endpoints, answering as monolith/api_orders.c does
 * (same shapes, statuses, problem types and details), for signed-in users
 * and, unlike the monolith, for anonymous visitors identified by a cookie.
 * Which cart a request works on is decided here, from the verified token's
 * sub or the cookie only; a cookie seen with a token is merged first.
 */
#include <stddef.h>
#include <sys/random.h>

#include "cart.h"
#include "kv.h"

#define W(r) ((struct cart_worker *)service_ext(r))

struct cart_config cart_cfg; /* filled by main() before the server starts */

struct item_in {
    int64_t product_id, quantity;
};

static const struct decode_field item_add_fields[] = {
    {"product_id", DECODE_I64, offsetof(struct item_in, product_id), 1, 1, INT64_MAX, 0},
    {"quantity", DECODE_I64, offsetof(struct item_in, quantity), 1, 1, MAX_QTY, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

static const struct decode_field item_put_fields[] = {
    {"quantity", DECODE_I64, offsetof(struct item_in, quantity), 1, 1, MAX_QTY, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* ---- which cart ------------------------------------------------------------------------ */

/* The cookie lives as long as the cart: every anonymous write sends it again. */
static void
cookie_set(struct req *r, const char *id, int64_t max_age)
{
    req_set_header(r, "Set-Cookie",
                   arena_printf(r->arena,
                                CART_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; "
                                            "SameSite=Lax%s",
                                id, (long long)max_age, cart_cfg.cookie_secure ? "; Secure" : ""));
}

/* 128 random bits as 32 hex digits. */
static int
anon_id_new(struct req *r, char out[CART_ANON_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     b[CART_ANON_ID_LEN / 2];
    size_t            i;

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        rlog_error(r, "getrandom failed while making a cart id");
        return ERR_INTERNAL;
    }
    for (i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[CART_ANON_ID_LEN] = '\0';
    return ERR_OK;
}

static void
cookie_refresh(struct req *r, const struct cart_ref *ref)
{
    if (ref->kind == CART_ANON)
        cookie_set(r, ref->key + sizeof(CART_KEY_ANON) - 1, cart_cfg.ttl.anon_s);
}

/* The cart of this request: the token's user (after merging the anonymous
 * cart its cookie names, once: the cookie is cleared), else the cookie's,
 * else none (CART_NONE) or, for an add (create), a new anonymous cart. A
 * malformed cookie counts as none, so it can only ever name an anonymous
 * cart: keys of users' carts come from verified tokens alone. */
/* cart.changed after a write to a user's cart. The write stands either way
 * (Redis has it and the customer is told so); a failure is logged by
 * cart_changed_publish and the next change's event carries the whole cart. */
static void
published(struct req *r, const struct cart_ref *ref)
{
    (void)cart_changed_publish(service_work(r), ref, 0);
}

static int
cart_of(struct req *r, int create, struct cart_ref *ref)
{
    struct cart_ref anon;
    char            id[CART_ANON_ID_LEN + 1];
    int             has_cookie, rc;
    size_t          merged;

    has_cookie = cart_cookie_find(req_header(r, "Cookie"), id);
    if (r->user.role != AUTH_NONE) {
        cart_ref_user(ref, r->user.user_id, &cart_cfg.ttl);
        if (!has_cookie || cart_ref_anon(&anon, id, &cart_cfg.ttl) != ERR_OK)
            return ERR_OK;
        rc = store_cart_merge(service_work(r), &anon, ref, &merged);
        if (rc)
            return rc;
        if (merged > 0) {
            rlog_info(r, "merged %zu anonymous cart line(s) into user %lld's cart", merged,
                      (long long)r->user.user_id);
            published(r, ref);
        }
        cookie_set(r, "", 0);
        return ERR_OK;
    }
    if (!has_cookie) {
        ref->kind = CART_NONE;
        if (!create)
            return ERR_OK;
        rc = anon_id_new(r, id);
        if (rc)
            return rc;
    }
    rc = cart_ref_anon(ref, id, &cart_cfg.ttl);
    if (rc)
        return ERR_INTERNAL; /* cart_cookie_find and anon_id_new give valid ids */
    return ERR_OK;
}

/* ---- encoding -------------------------------------------------------------------------- */

static json_t *
money_encode(const struct money *m)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)m->minor, "currency", m->currency);
}

/* The monolith's members in its order; "price_changed" and "unavailable"
 * are added only when true, so an ordinary line reads exactly as v1. */
static json_t *
line_encode(const struct cart_line *l)
{
    struct money total;
    json_t      *o;

    cart_line_total(l, &total);
    o = json_pack("{s:I,s:s,s:I,s:o,s:o}", "product_id", (json_int_t)l->product_id, "name", l->name,
                  "quantity", (json_int_t)l->quantity, "unit_price", money_encode(&l->unit),
                  "line_total", money_encode(&total));
    if (o != NULL && cart_line_price_changed(l))
        json_object_set_new(o, "price_changed", json_true());
    if (o != NULL && l->unavailable)
        json_object_set_new(o, "unavailable", json_true());
    return o;
}

static int
reply_cart(struct req *r, const struct cart *c)
{
    struct money total;
    int64_t      items;
    json_t      *lines = json_array();
    size_t       i;

    for (i = 0; i < c->n; i++)
        json_array_append_new(lines, line_encode(&c->lines[i]));
    cart_total(c, &total, &items);
    /* this state of the cart, for orders (one live order per state) and for
     * any client's caches; the v1 JSON stays as it was */
    if (c->rev != NULL)
        req_set_header(r, "ETag", arena_printf(r->arena, "\"%s\"", c->rev));
    return req_reply(r, 200,
                     json_pack("{s:o,s:o,s:I}", "items", lines, "total", money_encode(&total),
                               "item_count", (json_int_t)items));
}

static int
conflict(struct req *r)
{
    return req_fail(r, ERR_CONFLICT, "a cart line holds at most %d and a cart at most %d lines",
                    MAX_QTY, MAX_CART_LINES);
}

/* ---- handlers -------------------------------------------------------------------------- */

/* GET /api/v1/cart */
int
cart_get(struct req *r)
{
    struct cart_ref ref;
    struct cart     c = {NULL, 0, NULL};
    int             rc;

    rc = cart_of(r, 0, &ref);
    if (rc)
        return rc;
    if (ref.kind != CART_NONE) {
        rc = store_cart_get(service_work(r), &ref, &c);
        if (rc)
            return rc;
    }
    return reply_cart(r, &c);
}

/* POST /api/v1/cart/items {"product_id", "quantity"}: adds to the line, with
 * a fresh price snapshot from the catalog. */
int
cart_item_add(struct req *r)
{
    struct item_in      in;
    struct product_snap p;
    struct cart_ref     ref;
    struct cart         c;
    json_t             *body;
    int                 rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, item_add_fields, &in, NULL);
    if (rc)
        return rc;
    rc = catalog_product(r, in.product_id, &p);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc) {
        req_set_header(r, "Retry-After", "1");
        return req_fail(r, ERR_UNAVAILABLE, "the catalog did not answer, the cart is unchanged");
    }
    rc = cart_of(r, 1, &ref);
    if (rc)
        return rc;
    rc = store_cart_add(service_work(r), &ref, &p, in.quantity, &c);
    if (rc == ERR_CONFLICT)
        return conflict(r);
    if (rc)
        return rc;
    published(r, &ref);
    cookie_refresh(r, &ref);
    return reply_cart(r, &c);
}

/* PUT /api/v1/cart/items/{product_id} {"quantity"}: sets a line's quantity. */
int
cart_item_put(struct req *r)
{
    struct item_in  in;
    struct cart_ref ref;
    struct cart     c;
    json_t         *body;
    int             rc;

    rc = req_param_id(r, "product_id", "cart item", &in.product_id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, item_put_fields, &in, NULL);
    if (rc)
        return rc;
    rc = cart_of(r, 0, &ref);
    if (rc)
        return rc;
    rc = ref.kind == CART_NONE
             ? ERR_NOT_FOUND
             : store_cart_set(service_work(r), &ref, in.product_id, in.quantity, &c);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "cart item not found");
    if (rc)
        return rc;
    published(r, &ref);
    cookie_refresh(r, &ref);
    return reply_cart(r, &c);
}

/* DELETE /api/v1/cart/items/{product_id} */
int
cart_item_delete(struct req *r)
{
    struct cart_ref ref;
    struct cart     c;
    int64_t         id;
    int             rc;

    rc = req_param_id(r, "product_id", "cart item", &id);
    if (rc)
        return rc;
    rc = cart_of(r, 0, &ref);
    if (rc)
        return rc;
    rc = ref.kind == CART_NONE ? ERR_NOT_FOUND : store_cart_remove(service_work(r), &ref, id, &c);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "cart item not found");
    if (rc)
        return rc;
    published(r, &ref);
    cookie_refresh(r, &ref);
    return reply_cart(r, &c);
}

int
ready_redis(struct req *r)
{
    return kv_ping(W(r)->kv);
}
