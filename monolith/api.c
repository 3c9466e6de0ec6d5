/*
 * api.c - the v1 representations shared by several handlers: money,
 * addresses, users, products, carts and orders, plus paging. This file and
 * api_*.c are the only places of the monolith that touch JSON.
 */
#include "bounds.h"
#include "monolith.h"

json_t *
api_money(const struct money *m)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)m->minor, "currency", m->currency);
}

json_t *
api_address(const struct address *a)
{
    if (a == NULL || a->line1 == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "line1", a->line1, "line2", a->line2 ? a->line2 : "",
                     "city", a->city, "postal_code", a->postal_code, "country", a->country);
}

json_t *
api_user(const struct user *u)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)u->id, "email", u->email,
                     "name", u->name, "role", u->role, "created_at", u->created_at,
                     "shipping_address", api_address(u->address));
}

static json_t *
rating(int64_t x100, int64_t count)
{
    return json_pack("{s:f,s:I}", "average", (double)x100 / 100.0, "count", (json_int_t)count);
}

json_t *
api_product(const struct product *p, int full)
{
    json_t *o, *attrs = json_object();
    size_t  i;

    for (i = 0; i < p->nattrs; i++)
        json_object_set_new(attrs, p->attrs[i].name, json_string(p->attrs[i].value));
    o = json_pack("{s:I,s:s,s:s,s:s,s:{s:I,s:s,s:s},s:o,s:o}", "id", (json_int_t)p->id, "sku",
                  p->sku, "name", p->name, "brand", p->brand, "category", "id",
                  (json_int_t)p->category.id, "slug", p->category.slug, "name", p->category.name,
                  "price", api_money(&p->price), "attributes", attrs);
    if (full) {
        json_object_set_new(o, "description", json_string(p->description));
        json_object_set_new(o, "stock", json_integer(p->stock));
        json_object_set_new(o, "rating", rating(p->rating_x100, p->review_count));
        json_object_set_new(o, "created_at", json_string(p->created_at));
        json_object_set_new(o, "updated_at", json_string(p->updated_at));
    }
    return o;
}

json_t *
api_product_page(struct req *r, const struct product_page *pg, int64_t page, int64_t limit)
{
    json_t *items = json_array();
    size_t  i;

    (void)r;
    for (i = 0; i < pg->n; i++)
        json_array_append_new(items, api_product(&pg->items[i], 0));
    return req_page_body(items, page, limit, pg->total);
}

static json_t *
lines(const struct line *l, size_t n)
{
    json_t      *a = json_array();
    struct money total;
    size_t       i;

    for (i = 0; i < n; i++) {
        shop_line_total(&l[i], &total);
        json_array_append_new(a, json_pack("{s:I,s:s,s:I,s:o,s:o}", "product_id",
                                           (json_int_t)l[i].product_id, "name", l[i].name,
                                           "quantity", (json_int_t)l[i].quantity, "unit_price",
                                           api_money(&l[i].unit), "line_total", api_money(&total)));
    }
    return a;
}

json_t *
api_cart(const struct cart *c)
{
    struct money total;
    int64_t      items;

    shop_cart_total(c->lines, c->n, &total, &items);
    return json_pack("{s:o,s:o,s:I}", "items", lines(c->lines, c->n), "total", api_money(&total),
                     "item_count", (json_int_t)items);
}

json_t *
api_order(const struct order *o)
{
    json_t *payment = json_null();

    if (o->payment_status != NULL)
        payment = json_pack("{s:s,s:s}", "status", o->payment_status, "card_last4",
                            o->card_last4 ? o->card_last4 : "");
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:s}", "id", (json_int_t)o->id, "user_id",
                     (json_int_t)o->user_id, "status", o->status, "total", api_money(&o->total),
                     "items", lines(o->lines, o->n), "shipping_address", api_address(&o->ship),
                     "payment", payment, "created_at", o->created_at);
}

/* ?page=1&limit=20: pages count from 1; limit is capped by LIMIT_PAGE_SIZE. */
int
api_page(struct req *r, int64_t *page, int64_t *limit)
{
    return req_paging(r, LIMIT_PAGE_INDEX, page, limit);
}
