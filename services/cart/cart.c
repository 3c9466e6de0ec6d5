/*
 * cart.c - the cart's pure logic: which key and TTL a cart has, the cookie,
 * the text a line is kept as in Redis, and the arithmetic of adding,
 * setting, merging and applying product events. No I/O (t/10_cart.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "str.h"

void
cart_ref_user(struct cart_ref *ref, int64_t user_id, const struct cart_ttls *t)
{
    ref->kind = CART_USER;
    ref->user_id = user_id;
    cart_user_key(user_id, ref->key);
    ref->ttl_s = t->user_s;
    ref->index_ttl_s = t->user_s > t->anon_s ? t->user_s : t->anon_s;
}

static int
anon_id_valid(const char *p, size_t n)
{
    size_t i;

    if (n != CART_ANON_ID_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

int
cart_ref_anon(struct cart_ref *ref, const char *id, const struct cart_ttls *t)
{
    if (id == NULL || !anon_id_valid(id, strlen(id)))
        return ERR_INVALID;
    ref->kind = CART_ANON;
    ref->user_id = 0;
    snprintf(ref->key, sizeof(ref->key), CART_KEY_ANON "%s", id);
    ref->ttl_s = t->anon_s;
    ref->index_ttl_s = t->user_s > t->anon_s ? t->user_s : t->anon_s;
    return ERR_OK;
}

/* RFC 6265 §4.2.1: "name=value" pairs separated by "; ". The first
 * souk_cart pair decides; a malformed value is as good as none. */
int
cart_cookie_find(const char *header, char out[CART_ANON_ID_LEN + 1])
{
    const char *p = header, *end, *eq;
    size_t      nlen = strlen(CART_COOKIE);

    out[0] = '\0';
    if (header == NULL)
        return 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        end = p + strcspn(p, ";");
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, CART_COOKIE, nlen) == 0) {
            if (!anon_id_valid(eq + 1, (size_t)(end - eq - 1)))
                return 0;
            memcpy(out, eq + 1, CART_ANON_ID_LEN);
            out[CART_ANON_ID_LEN] = '\0';
            return 1;
        }
        p = end;
    }
    return 0;
}

/* ---- arithmetic ---------------------------------------------------------------------- */

const struct cart_line *
cart_find(const struct cart *c, int64_t product_id)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (c->lines[i].product_id == product_id)
            return &c->lines[i];
    return NULL;
}

static int
by_seq(const void *x, const void *y)
{
    const struct cart_line *a = x, *b = y;

    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    if (a->product_id != b->product_id)
        return a->product_id < b->product_id ? -1 : 1;
    return 0;
}

void
cart_sort(struct cart *c)
{
    if (c->n > 1)
        qsort(c->lines, c->n, sizeof(c->lines[0]), by_seq);
}

static int64_t
next_seq(const struct cart *c)
{
    int64_t max = 0;
    size_t  i;

    for (i = 0; i < c->n; i++)
        if (c->lines[i].seq > max)
            max = c->lines[i].seq;
    return max + 1;
}

/* Adding takes a fresh snapshot of price and name: what the customer just
 * saw, so the line no longer counts as "price changed". */
int
cart_add(const struct cart *c, const struct product_snap *p, int64_t qty, struct cart_line *out)
{
    const struct cart_line *l = cart_find(c, p->id);

    if (qty < 1 || qty > MAX_QTY)
        return ERR_INVALID;
    if (l != NULL) {
        if (l->quantity + qty > MAX_QTY)
            return ERR_CONFLICT;
        *out = *l;
        out->quantity += qty;
    } else {
        if (c->n >= MAX_CART_LINES)
            return ERR_CONFLICT;
        memset(out, 0, sizeof(*out));
        out->product_id = p->id;
        out->quantity = qty;
        out->seq = next_seq(c);
    }
    out->unit = out->added = p->price;
    out->name = p->name;
    return ERR_OK;
}

int
cart_set(const struct cart *c, int64_t product_id, int64_t qty, struct cart_line *out)
{
    const struct cart_line *l = cart_find(c, product_id);

    if (qty < 1 || qty > MAX_QTY)
        return ERR_INVALID;
    if (l == NULL)
        return ERR_NOT_FOUND;
    *out = *l;
    out->quantity = qty;
    return ERR_OK;
}

/* Both carts had the product: the quantities add up (capped); what the newer
 * catalog version says about price and name wins; deleted stays deleted. */
static int
merge_line(const struct cart_line *u, const struct cart_line *a, struct cart_line *out)
{
    *out = *u;
    out->quantity = u->quantity + a->quantity > MAX_QTY ? MAX_QTY : u->quantity + a->quantity;
    out->unavailable = u->unavailable || a->unavailable;
    if (a->version > u->version) {
        out->version = a->version;
        out->unit = a->unit;
        out->name = a->name;
    }
    return out->quantity != u->quantity || out->unavailable != u->unavailable ||
           out->version != u->version;
}

size_t
cart_merge(const struct cart *user, const struct cart *anon, struct cart_line *out)
{
    const struct cart_line *u;
    size_t                  i, n = 0, lines = user->n;
    int64_t                 seq = next_seq(user);

    for (i = 0; i < anon->n; i++) {
        u = cart_find(user, anon->lines[i].product_id);
        if (u != NULL) {
            if (merge_line(u, &anon->lines[i], &out[n]))
                n++;
        } else if (lines < MAX_CART_LINES) {
            out[n] = anon->lines[i];
            out[n++].seq = seq++;
            lines++;
        }
    }
    return n;
}

int
cart_line_apply(const struct cart_line *l, const struct product_event *ev, struct cart_line *out)
{
    if (ev->version <= l->version)
        return 0; /* a duplicate or a late older event */
    *out = *l;
    out->version = ev->version;
    if (ev->deleted) {
        out->unavailable = 1;
    } else {
        out->unit = ev->price;
        out->name = ev->name;
    }
    return 1;
}

int
cart_line_price_changed(const struct cart_line *l)
{
    return l->unit.minor != l->added.minor || strcmp(l->unit.currency, l->added.currency) != 0;
}

void
cart_line_total(const struct cart_line *l, struct money *out)
{
    out->minor = l->unit.minor * l->quantity;
    memcpy(out->currency, l->unit.currency, sizeof(out->currency));
}

void
cart_order_apply(const struct cart *c, const struct order_line *o, size_t n, struct cart_line *keep,
                 size_t *n_keep, int64_t *gone, size_t *n_gone)
{
    size_t  i, j;
    int64_t took;

    *n_keep = *n_gone = 0;
    for (i = 0; i < c->n; i++) {
        took = 0;
        for (j = 0; j < n; j++)
            if (o[j].product_id == c->lines[i].product_id)
                took += o[j].quantity;
        if (took <= 0)
            continue;
        if (c->lines[i].quantity > took) {
            keep[*n_keep] = c->lines[i];
            keep[(*n_keep)++].quantity -= took;
        } else {
            gone[(*n_gone)++] = c->lines[i].product_id;
        }
    }
}

void
cart_total(const struct cart *c, struct money *out, int64_t *items)
{
    size_t i;

    out->minor = 0;
    memcpy(out->currency, "EUR", 4);
    *items = 0;
    for (i = 0; i < c->n; i++) {
        out->minor += c->lines[i].unit.minor * c->lines[i].quantity;
        *items += c->lines[i].quantity;
        memcpy(out->currency, c->lines[i].unit.currency, sizeof(out->currency));
    }
}
