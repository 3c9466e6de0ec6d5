/*
 * cart.c - the user's cart from souk-cart (GET /api/v1/cart), read with the
 * request's own Authorization header, so the cart service answers for the
 * same user it would answer the client for. Only product ids and quantities
 * are taken: orders prices the lines from its own replica. Each handler
 * thread keeps one keep-alive client (lib/httpc).
 */
#include <string.h>

#include "httpc.h"
#include "orders.h"

#define CART_BODY (256 * 1024) /* 100 lines with names: far below */

void *
cart_thread_new(void)
{
    return httpc_new(CART_BODY);
}

void
cart_thread_free(void *state)
{
    httpc_free(state);
}

static void
json_release(void *p)
{
    json_decref(p);
}

/* {"items": [{"product_id", "quantity", ...}], ...}: the v1 Cart. */
static int
lines_decode(struct req *r, const struct httpc_resp *res, struct checkout *c)
{
    json_t      *root, *items, *it;
    json_error_t jerr;
    size_t       i;

    root = json_loadb(res->body, res->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rlog_warn(r, "cart: invalid JSON: %s", jerr.text);
        return ERR_UNAVAILABLE;
    }
    arena_defer(r->arena, json_release, root);
    items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) > ORDER_LINES_MAX) {
        rlog_warn(r, "cart: unexpected document");
        return ERR_UNAVAILABLE;
    }
    c->n = json_array_size(items);
    c->lines = arena_array(r->arena, struct line, c->n + 1);
    json_array_foreach(items, i, it)
    {
        json_int_t id, qty;

        if (json_unpack(it, "{s:I,s:I}", "product_id", &id, "quantity", &qty) != 0 || id < 1 ||
            qty < 1 || qty > ORDER_QTY_MAX) {
            rlog_warn(r, "cart: unexpected line %zu", i);
            return ERR_UNAVAILABLE;
        }
        memset(&c->lines[i], 0, sizeof(c->lines[i]));
        c->lines[i].product_id = id;
        c->lines[i].quantity = qty;
    }
    return c->n == 0 ? ERR_CART_EMPTY : ERR_OK;
}

/* The ETag's opaque value ("v" or W/"v"), if it is a sane one: at most 64
 * visible characters. Anything else counts as none (no guard, as with a
 * cart service from before ETags). */
static const char *
etag_value(struct req *r, const char *h)
{
    const char *p = h, *end;
    size_t      i;

    if (h == NULL)
        return NULL;
    if (strncmp(p, "W/", 2) == 0)
        p += 2;
    if (*p != '"' || (end = strchr(p + 1, '"')) == NULL || end[1] != '\0' || end - p - 1 < 1 ||
        end - p - 1 > 64)
        return NULL;
    for (i = 1; p + i < end; i++)
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
            return NULL;
    return arena_printf(r->arena, "%.*s", (int)(end - p - 1), p + 1);
}

int
cart_lines(struct req *r, struct checkout *c)
{
    struct httpc      *hc = service_ext(r);
    struct httpc_resp *res;
    const char        *base = orders_cfg.cart_url;
    size_t             n = strlen(base);
    int                rc;

    while (n > 0 && base[n - 1] == '/')
        n--;
    rc = httpc_request_auth(hc, r->arena,
                            &(struct httpc_req){
                                arena_printf(r->arena, "%.*s/api/v1/cart", (int)n, base),
                                (int)orders_cfg.cart_timeout_ms,
                                r->request_id,
                                req_header(r, "traceparent"),
                            },
                            req_header(r, "Authorization"), &res);
    if (rc) {
        rlog_warn(r, "cart: %s", httpc_error(hc));
        return ERR_UNAVAILABLE;
    }
    if (res->status != 200) {
        rlog_warn(r, "cart: answered %d", res->status);
        return ERR_UNAVAILABLE;
    }
    c->cart_version = etag_value(r, httpc_resp_header(res, "ETag"));
    return lines_decode(r, res, c);
}
