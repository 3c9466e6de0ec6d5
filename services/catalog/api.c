/*
 * api.c - the v1 API, shaped exactly like the monolith's (api_catalog.c,
 * api.c there): categories, the product list with attribute filters, the
 * product page (through the cache), and the admin writes. The v1
 * representation is render.c's (the consumer renders it too); v2 is api_v2.c.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "str.h"
#include "log.h"

#define DETAIL_MAX 256

static void
json_release(void *p)
{
    json_decref(p);
}

int
api_dump(struct req *r, json_t *body, char **out, size_t *len)
{
    int rc;

    rc = render_dump(r->arena, body, out, len);
    if (rc)
        return req_fail(r, rc, "cannot serialise the reply");
    return ERR_OK;
}

static int
reply_json(struct req *r, int status, const char *p, size_t n)
{
    return req_reply_bytes(r, status, "application/json", p, n);
}

/* The full v1 reply bytes of row (what the cache holds). */
static int
product_bytes(struct req *r, const struct product_row *row, char **p, size_t *n)
{
    return render_v1_page(r->arena, row, p, n);
}

/* ---- categories ------------------------------------------------------------------ */

/* The v1 category list as reply bytes, and the version that names it. */
int
api_categories_bytes(struct req *r, char **p, size_t *n, int64_t *version)
{
    struct category *c;
    size_t           count, i;
    json_t          *items;
    int              rc;

    rc = store_categories(service_work(r), &c, &count, version);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < count; i++)
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)c[i].id, "slug", c[i].slug,
                             "name", c[i].name, "parent_id",
                             c[i].parent_id ? json_integer(c[i].parent_id) : json_null()));
    return api_dump(r, json_pack("{s:o}", "items", items), p, n);
}

int
category_list(struct req *r)
{
    struct cache_hit hit;
    char            *p;
    size_t           n;
    int64_t          version;
    int              rc;

    cache_categories_get(r, &hit);
    if (hit.found && !hit.tombstone)
        return reply_json(r, 200, hit.body, hit.len);
    rc = api_categories_bytes(r, &p, &n, &version);
    if (rc)
        return rc;
    cache_categories_put(r, version, p, n, 0);
    return reply_json(r, 200, p, n);
}

/* ---- products: reads ------------------------------------------------------------- */

int
product_list(struct req *r)
{
    const struct req_kv *kv;
    struct product_query q;
    struct filter_sql    f;
    struct product_page  pg;
    char                 detail[DETAIL_MAX];
    json_t              *items, *o;
    size_t               i, n;
    int                  rc;

    n = req_query_all(r, &kv);
    rc = query_parse(kv, n, 0, r->arena, &q, detail, sizeof(detail));
    if (rc)
        return req_fail(r, rc, "%s", detail);
    query_filter_sql(&q, r->arena, &f);
    rc = store_products(service_work(r), &q, &f, &pg);
    if (rc)
        return rc;
    items = json_array();
    arena_defer(r->arena, json_release, items);
    for (i = 0; i < pg.n; i++) {
        rc = render_v1_product(r->arena, &pg.items[i], 0, &o);
        if (rc)
            return rc;
        json_array_append_new(items, o);
    }
    return req_reply(r, 200, req_page_body(json_incref(items), q.page, q.limit, pg.total));
}

/* The answer a cache entry gives: the page, or 404 for a tombstone. */
static int
answer_hit(struct req *r, const struct cache_hit *hit)
{
    if (hit->tombstone)
        return req_fail(r, ERR_NOT_FOUND, "product not found");
    return reply_json(r, 200, hit->body, hit->len);
}

int
product_get(struct req *r)
{
    struct cache_hit   hit;
    struct product_row row;
    int64_t            id;
    char              *p;
    size_t             n;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    /* Passed on by product_get_loop: the cache was just read (a miss) or is failing. */
    memset(&hit, 0, sizeof(hit));
    if (!r->passed)
        cache_product_get(r, id, &hit);
    if (hit.found)
        return answer_hit(r, &hit);
    rc = store_product_get(service_work(r), id, &row);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    if (row.deleted) {
        cache_product_put(service_work(r), id, row.version, NULL, 0, 0);
        return req_fail(r, ERR_NOT_FOUND, "product not found");
    }
    rc = product_bytes(r, &row, &p, &n);
    if (rc)
        return rc;
    cache_product_put(service_work(r), id, row.version, p, n, 0);
    return reply_json(r, 200, p, n);
}

static void
product_looked_up(struct req *r, const struct cache_hit *hit)
{
    if (hit->found)
        server_loop_answer(r, answer_hit(r, hit));
    else
        server_loop_pass(r);
}

/* On the I/O loop: a cache hit is answered there (a writer's write-through
 * lands in Redis before its reply, so a read sent after it sees it on any
 * loop); a miss, a bad id or Redis failing goes to product_get on a worker. */
int
product_get_loop(struct req *r)
{
    int64_t id;

    if (str_z_to_i64(req_param(r, "id"), 1, INT64_MAX, &id) != ERR_OK)
        return SERVER_LOOP_PASS;
    if (cache_product_lookup(r, id, product_looked_up) != ERR_OK)
        return SERVER_LOOP_PASS;
    return SERVER_LOOP_PENDING;
}

/* ---- products: admin writes ------------------------------------------------------ */

/* The members an admin writes, as JSON text for the store to merge. */
static int
doc_part(struct req *r, const struct product_in *in, const struct category *c, char **out)
{
    json_t *o;
    size_t  n;

    o = json_pack("{s:s,s:s,s:s,s:s,s:{s:I,s:s,s:s},s:{s:I,s:s}}", "sku", in->sku, "name", in->name,
                  "description", in->description, "brand", in->brand, "category", "id",
                  (json_int_t)c->id, "slug", c->slug, "name", c->name, "price", "amount",
                  (json_int_t)in->price.minor, "currency", in->price.currency);
    if (o == NULL)
        return req_fail(r, ERR_INTERNAL, "cannot build the document");
    json_object_set_new(o, "images", in->images ? json_incref(in->images) : json_array());
    json_object_set_new(o, "attributes",
                        in->attributes ? json_incref(in->attributes) : json_object());
    return api_dump(r, o, out, &n);
}

static int
product_input(struct req *r, struct product_in *in, char **part)
{
    struct category cat;
    char            detail[DETAIL_MAX];
    json_t         *body;
    int             rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = catalog_product_check(body, r->arena, in, detail, sizeof(detail));
    if (rc)
        return req_fail(r, rc, "%s", detail);
    /* The category first, so an unknown one is 400 even for an unknown
     * product (the monolith's order). */
    rc = store_category_get(service_work(r), in->category_id, &cat);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_INVALID, "category %lld does not exist", (long long)in->category_id);
    if (rc)
        return rc;
    return doc_part(r, in, &cat, part);
}

/* After the commit: write the new state through to the cache and reply it. */
static int
written(struct req *r, int status, const struct product_row *row)
{
    char  *p;
    size_t n;
    int    rc;

    rc = product_bytes(r, row, &p, &n);
    if (rc)
        return rc;
    cache_product_put(service_work(r), row->id, row->version, p, n, 1);
    return reply_json(r, status, p, n);
}

static int
write_failed(struct req *r, int rc, const struct product_in *in)
{
    if (rc == ERR_DUPLICATE)
        return req_fail(r, rc, "a product with sku \"%.64s\" exists", in->sku);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    return rc;
}

int
product_create(struct req *r)
{
    struct product_in  in;
    struct product_row row;
    char              *part;
    int                rc;

    rc = product_input(r, &in, &part);
    if (rc)
        return rc;
    rc = store_product_create(service_work(r), part, &row);
    if (rc)
        return write_failed(r, rc, &in);
    return written(r, 201, &row);
}

int
product_update(struct req *r)
{
    struct product_in  in;
    struct product_row row;
    int64_t            id;
    char              *part;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = product_input(r, &in, &part);
    if (rc)
        return rc;
    rc = store_product_update(service_work(r), id, part, &in.price, 0, &row);
    if (rc)
        return write_failed(r, rc, &in);
    return written(r, 200, &row);
}

/* PUT /api/v1/products/{id}/price: product.price_changed only. */
int
product_price_put(struct req *r)
{
    struct product_in  in = {.sku = ""};
    struct product_row row;
    char               detail[DETAIL_MAX];
    json_t            *body;
    int64_t            id;
    char              *part;
    size_t             n;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = catalog_price_check(body, r->arena, &in.price, detail, sizeof(detail));
    if (rc)
        return req_fail(r, rc, "%s", detail);
    rc = api_dump(r,
                  json_pack("{s:{s:I,s:s}}", "price", "amount", (json_int_t)in.price.minor,
                            "currency", in.price.currency),
                  &part, &n);
    if (rc)
        return rc;
    rc = store_product_update(service_work(r), id, part, &in.price, 1, &row);
    if (rc)
        return write_failed(r, rc, &in);
    return written(r, 200, &row);
}

int
product_delete(struct req *r)
{
    int64_t id, version;
    int     rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = store_product_delete(service_work(r), id, &version);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    /* A tombstone, not a DEL: a reader that read the live row before the
     * delete committed cannot put it back. */
    cache_product_put(service_work(r), id, version, NULL, 0, 1);
    return req_reply(r, 204, NULL);
}
