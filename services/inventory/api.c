/*
 * api.c - inventory's HTTP endpoints: the v1 admin write of a product's
 * stock level, answering exactly as the monolith's product_stock_put
 * (monolith/api_catalog.c), and the v2 read of a product's stock and live
 * holds. Handlers decode, call store.c, and encode.
 */
#include <stddef.h>

#include "inventory.h"

struct stock_in {
    int64_t stock;
};

/* The monolith's decode table, so every detail is its text. */
static const struct decode_field stock_fields[] = {
    {"stock", DECODE_I64, offsetof(struct stock_in, stock), 1, 0, STOCK_MAX, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* PUT /api/v1/products/{id}/stock {"stock": N} (ROUTE_ADMIN): N becomes the
 * units the shop can sell (available; units held for orders stay held). */
int
stock_put(struct req *r)
{
    struct stock_level l;
    struct stock_in    in;
    json_t            *body;
    int64_t            id;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, stock_fields, &in, NULL);
    if (rc)
        return rc;
    rc = store_stock_set(service_work(r), id, in.stock, &l);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    return req_reply(r, 200,
                     json_pack("{s:I,s:I}", "product_id", (json_int_t)id, "stock",
                               (json_int_t)(l.on_hand - l.reserved)));
}

static json_t *
hold_encode(const struct hold_view *h)
{
    return json_pack("{s:I,s:I,s:s,s:s}", "order_id", (json_int_t)h->order_id, "quantity",
                     (json_int_t)h->quantity, "hold_until", h->hold_until, "created_at",
                     h->created_at);
}

/* GET /api/v2/products/{id}/stock?limit (ROUTE_ADMIN): the level, its
 * counters and the live holds that expire first. */
int
stock_get_v2(struct req *r)
{
    struct stock_level l;
    struct hold_view  *holds;
    int64_t            id, limit;
    json_t            *items;
    size_t             i, n;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = req_query_i64(r, "limit", 20, 1, HOLDS_LIST_LIMIT, &limit);
    if (rc)
        return rc;
    rc = store_stock_get(service_work(r), id, limit, &l, &holds, &n);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(items, hold_encode(&holds[i]));
    return req_reply(r, 200,
                     json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "product_id", (json_int_t)id,
                               "available", (json_int_t)(l.on_hand - l.reserved), "on_hand",
                               (json_int_t)l.on_hand, "reserved", (json_int_t)l.reserved, "sold",
                               (json_int_t)l.sold, "received", (json_int_t)l.received, "version",
                               (json_int_t)l.version, "holds", items));
}
