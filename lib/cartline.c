/*
 * cartline.c - the keys of a cart in Redis and the text of a line
 * (cartline.h); pure, no I/O (services/cart/t/10_cart.c tests it).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cartline.h"
#include "str.h"

#define LINE_FORMAT 1 /* first token of an encoded line */

void
cart_user_key(int64_t user_id, char out[CART_KEY_MAX])
{
    snprintf(out, CART_KEY_MAX, CART_KEY_USER "%lld", (long long)user_id);
}

void
cart_index_key(int64_t product_id, char out[CART_KEY_MAX])
{
    snprintf(out, CART_KEY_MAX, CART_KEY_PRODUCT "%lld", (long long)product_id);
}

int
cart_currency_valid(const char *z)
{
    return z != NULL && strlen(z) == 3 && z[0] >= 'A' && z[0] <= 'Z' && z[1] >= 'A' &&
           z[1] <= 'Z' && z[2] >= 'A' && z[2] <= 'Z';
}

/* ---- the line as text ---------------------------------------------------------------
 * "1 seq qty version added_minor added_cur unit_minor unit_cur flags name": the
 * name is last and runs to the end, so it may hold spaces. */

char *
cart_line_encode(const struct cart_line *l, struct arena *a, size_t *len)
{
    char *z = arena_printf(a, "%d %lld %lld %lld %lld %s %lld %s %d %s", LINE_FORMAT,
                           (long long)l->seq, (long long)l->quantity, (long long)l->version,
                           (long long)l->added.minor, l->added.currency, (long long)l->unit.minor,
                           l->unit.currency, l->unavailable ? 1 : 0, l->name ? l->name : "");

    *len = strlen(z);
    return z;
}

static int
token(const char **p, const char *end, struct str *out)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));

    if (sp == NULL || sp == *p)
        return ERR_INVALID;
    *out = (struct str){*p, (size_t)(sp - *p)};
    *p = sp + 1;
    return ERR_OK;
}

static int
number(const char **p, const char *end, int64_t min, int64_t max, int64_t *out)
{
    struct str s;
    int        rc;

    rc = token(p, end, &s);
    if (rc)
        return rc;
    return str_to_i64(s, min, max, out);
}

static int
money(const char **p, const char *end, struct money *m)
{
    struct str s;
    int        rc;

    rc = number(p, end, 0, CART_PRICE_MAX, &m->minor);
    if (rc)
        return rc;
    rc = token(p, end, &s);
    if (rc)
        return rc;
    if (s.len != 3)
        return ERR_INVALID;
    memcpy(m->currency, s.p, 3);
    m->currency[3] = '\0';
    return cart_currency_valid(m->currency) ? ERR_OK : ERR_INVALID;
}

int
cart_line_decode(const char *p, size_t n, int64_t product_id, struct arena *a,
                 struct cart_line *out)
{
    const char *end = p + n;
    int64_t     format, flags;
    int         rc;

    memset(out, 0, sizeof(*out));
    out->product_id = product_id;
    rc = number(&p, end, LINE_FORMAT, LINE_FORMAT, &format);
    if (rc == ERR_OK)
        rc = number(&p, end, 0, INT64_MAX, &out->seq);
    if (rc == ERR_OK)
        rc = number(&p, end, 1, MAX_QTY, &out->quantity);
    if (rc == ERR_OK)
        rc = number(&p, end, 0, INT64_MAX, &out->version);
    if (rc == ERR_OK)
        rc = money(&p, end, &out->added);
    if (rc == ERR_OK)
        rc = money(&p, end, &out->unit);
    if (rc == ERR_OK)
        rc = number(&p, end, 0, 1, &flags);
    if (rc)
        return ERR_INVALID;
    out->unavailable = (int)flags;
    out->name = arena_strndup(a, p, (size_t)(end - p));
    return ERR_OK;
}

const char *
cart_rev_new(struct arena *a)
{
    unsigned char b[CART_REV_LEN / 2];
    char         *out = arena_alloc(a, CART_REV_LEN + 1);

    randombytes_buf(b, sizeof(b));
    sodium_bin2hex(out, CART_REV_LEN + 1, b, sizeof(b));
    return out;
}
