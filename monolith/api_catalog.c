/*
 * api_catalog.c - categories, products (list with filters, detail, admin
 * writes, stock) and the legacy LIKE search.
 */
#include <stddef.h>
#include <string.h>

#include "monolith.h"
#include "str.h"

#define MAX_PRICE 1000000000000LL /* 10^10 in major units: far beyond any product */

struct product_in {
    const char *sku, *name, *description, *brand;
    int64_t     category_id;
    json_t     *price, *attributes;
};

static const struct decode_field product_fields[] = {
    {"sku", DECODE_STR, offsetof(struct product_in, sku), 1, 1, 64, 0},
    {"name", DECODE_STR, offsetof(struct product_in, name), 1, 1, 200, 0},
    {"description", DECODE_STR, offsetof(struct product_in, description), 0, 0, 20000, 0},
    {"brand", DECODE_STR, offsetof(struct product_in, brand), 0, 0, 100, 0},
    {"category_id", DECODE_I64, offsetof(struct product_in, category_id), 1, 1, INT64_MAX, 0},
    {"price", DECODE_OBJECT, offsetof(struct product_in, price), 1, 0, 0, 0},
    {"attributes", DECODE_OBJECT, offsetof(struct product_in, attributes), 0, 0, 0, 0},
    {NULL},
};

struct price_in {
    int64_t     amount;
    const char *currency;
};

static const struct decode_field price_fields[] = {
    {"amount", DECODE_I64, offsetof(struct price_in, amount), 1, 0, MAX_PRICE, 0},
    {"currency", DECODE_STR, offsetof(struct price_in, currency), 1, 3, 3, 0},
    {NULL},
};

struct stock_in {
    int64_t stock;
};

static const struct decode_field stock_fields[] = {
    {"stock", DECODE_I64, offsetof(struct stock_in, stock), 1, 0, 1000000000, 0},
    {NULL},
};

int
category_list(struct req *r)
{
    struct category *c;
    size_t           n, i;
    json_t          *items;
    int              rc;

    rc = store_categories(r, &c, &n);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)c[i].id, "slug", c[i].slug,
                             "name", c[i].name, "parent_id",
                             c[i].parent_id ? json_integer(c[i].parent_id) : json_null()));
    return req_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* Query parameters the list understands; every other name is an attribute
 * filter (colour=blue, ram_gb=16), which is how the legacy shop grew. */
static const char *const list_params[] = {"page",      "limit", "category", "min_price",
                                          "max_price", "sort",  "q",        NULL};

static int
is_list_param(const char *name)
{
    size_t i;

    for (i = 0; list_params[i]; i++)
        if (strcmp(name, list_params[i]) == 0)
            return 1;
    return 0;
}

static int
query_decode(struct req *r, struct product_query *q, enum product_sort def_sort)
{
    const struct req_kv *kv;
    const char          *s;
    size_t               i, n;
    int                  rc;

    memset(q, 0, sizeof(*q));
    q->sort = def_sort;
    rc = api_page(r, &q->page, &q->limit);
    if (rc)
        return rc;
    rc = req_query_i64(r, "min_price", -1, 0, MAX_PRICE, &q->min_price);
    if (rc)
        return rc;
    rc = req_query_i64(r, "max_price", -1, 0, MAX_PRICE, &q->max_price);
    if (rc)
        return rc;
    q->category = req_query(r, "category");
    s = req_query(r, "sort");
    if (s && shop_sort_parse(s, &q->sort))
        return req_fail(r, ERR_INVALID,
                        "sort must be one of relevance, newest, price_asc, price_desc, name");
    n = req_query_all(r, &kv);
    for (i = 0; i < n; i++) {
        if (is_list_param(kv[i].name))
            continue;
        if (!shop_attr_name_valid(kv[i].name))
            return req_fail(r, ERR_INVALID, "unknown query parameter \"%.64s\"", kv[i].name);
        if (q->nfilters == MAX_ATTR_FILTERS)
            return req_fail(r, ERR_INVALID, "at most %d attribute filters", MAX_ATTR_FILTERS);
        if (strlen(kv[i].value) > 255)
            return req_fail(r, ERR_INVALID, "attribute values are at most 255 bytes");
        q->filters[q->nfilters].name = kv[i].name;
        q->filters[q->nfilters].value = kv[i].value;
        q->nfilters++;
    }
    return ERR_OK;
}

int
product_list(struct req *r)
{
    struct product_query q;
    struct product_page  pg;
    int                  rc;

    rc = query_decode(r, &q, SORT_NEWEST);
    if (rc)
        return rc;
    q.q = NULL;
    rc = store_products(r, &q, &pg);
    if (rc)
        return rc;
    return req_reply(r, 200, api_product_page(r, &pg, q.page, q.limit));
}

int
search_products(struct req *r)
{
    struct product_query q;
    struct product_page  pg;
    const char          *text = req_query(r, "q");
    json_t              *o;
    int                  rc;

    if (text == NULL || text[strspn(text, " \t")] == '\0')
        return req_fail(r, ERR_INVALID, "q is required");
    if (strlen(text) > 200)
        return req_fail(r, ERR_INVALID, "q must be at most 200 bytes");
    if (!str_utf8_valid(text))
        return req_fail(r, ERR_INVALID, "q must be utf-8 text");
    rc = query_decode(r, &q, SORT_RELEVANCE);
    if (rc)
        return rc;
    q.q = text;
    rc = store_products(r, &q, &pg);
    if (rc)
        return rc;
    o = api_product_page(r, &pg, q.page, q.limit);
    json_object_set_new(o, "query", json_string(text));
    return req_reply(r, 200, o);
}

int
product_get(struct req *r)
{
    struct product *p;
    int64_t         id;
    int             rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = store_product_get(r, id, &p);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_product(p, 1));
}

/* Attribute values may be strings, integers or booleans; the EAV table
 * stores them all as text, which is exactly the legacy shop's weakness. */
static int
attrs_decode(struct req *r, json_t *obj, struct product *p)
{
    const char *k;
    json_t     *v;

    p->attrs = arena_array(r->arena, struct attr, MAX_ATTRS);
    p->nattrs = 0;
    if (obj == NULL)
        return ERR_OK;
    if (json_object_size(obj) > MAX_ATTRS)
        return req_fail(r, ERR_INVALID, "at most %d attributes", MAX_ATTRS);
    json_object_foreach(obj, k, v)
    {
        struct attr *a = &p->attrs[p->nattrs++];

        if (!shop_attr_name_valid(k))
            return req_fail(r, ERR_INVALID, "attribute names must match [a-z][a-z0-9_]{0,63}");
        a->name = arena_strdup(r->arena, k);
        if (json_is_string(v) && json_string_length(v) <= 255 &&
            strlen(json_string_value(v)) == json_string_length(v))
            a->value = arena_strdup(r->arena, json_string_value(v));
        else if (json_is_integer(v))
            a->value = arena_printf(r->arena, "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            a->value = json_is_true(v) ? "true" : "false";
        else
            return req_fail(r, ERR_INVALID,
                            "attribute \"%.64s\" must be a string of at most 255 bytes, an "
                            "integer or a boolean",
                            k);
    }
    return ERR_OK;
}

static int
product_decode(struct req *r, struct product *p)
{
    struct product_in in = {0};
    struct price_in   price = {0};
    json_t           *body;
    int               rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, product_fields, &in, NULL);
    if (rc)
        return rc;
    rc = req_decode(r, in.price, price_fields, &price, NULL);
    if (rc)
        return rc;
    if (strcmp(price.currency, "EUR") != 0)
        return req_fail(r, ERR_INVALID, "the shop sells in EUR only");
    p->sku = in.sku;
    p->name = in.name;
    p->description = in.description ? in.description : "";
    p->brand = in.brand ? in.brand : "";
    p->category.id = in.category_id;
    p->price.minor = price.amount;
    memcpy(p->price.currency, "EUR", 4);
    return attrs_decode(r, in.attributes, p);
}

static int
product_write(struct req *r, struct product *p, int create)
{
    int rc;

    rc = store_category_get(r, p->category.id, &p->category);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_INVALID, "category %lld does not exist", (long long)p->category.id);
    if (rc)
        return rc;
    rc = store_product_put(r, p, create);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, rc, "a product with sku \"%.64s\" exists", p->sku);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    rc = store_product_get(r, p->id, &p);
    if (rc)
        return rc;
    return req_reply(r, create ? 201 : 200, api_product(p, 1));
}

int
product_create(struct req *r)
{
    struct product *p = arena_new(r->arena, struct product);
    int             rc;

    rc = product_decode(r, p);
    if (rc)
        return rc;
    return product_write(r, p, 1);
}

int
product_update(struct req *r)
{
    struct product *p = arena_new(r->arena, struct product);
    int             rc;

    rc = req_param_id(r, "id", "product", &p->id);
    if (rc)
        return rc;
    rc = product_decode(r, p);
    if (rc)
        return rc;
    return product_write(r, p, 0);
}

int
product_stock_put(struct req *r)
{
    struct stock_in in;
    json_t         *body;
    int64_t         id;
    int             rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, stock_fields, &in, NULL);
    if (rc)
        return rc;
    rc = store_stock_set(r, id, in.stock);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    return req_reply(
        r, 200,
        json_pack("{s:I,s:I}", "product_id", (json_int_t)id, "stock", (json_int_t)in.stock));
}
