/*
 * api_v2.c - the v2 API: the product list filtered on any attribute
 * (attr.NAME=value, attr.NAME.gte=N ...), with field selection and bulk reads
 * by id, where items are the catalog documents themselves; and category
 * creation for shops whose catalog is not backfilled from the monolith.
 */
#include <string.h>

#include "catalog.h"

#define DETAIL_MAX 256

static void
json_release(void *p)
{
    json_decref(p);
}

/* The v2 item of row, appended to items. */
static int
item_add(struct req *r, json_t *items, const struct product_row *row, uint32_t fields)
{
    json_error_t jerr;
    json_t      *doc;

    doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (doc == NULL) {
        rlog_error(r, "product %lld: stored document does not parse: %s", (long long)row->id,
                   jerr.text);
        return ERR_INTERNAL;
    }
    json_array_append_new(items, render_doc(doc, row->version, fields));
    json_decref(doc);
    return ERR_OK;
}

/* ids=3,1,2: the live products in the order asked, and the ids that name
 * none (never created, or deleted). */
static int
bulk_read(struct req *r, const struct product_query *q)
{
    struct product_page pg;
    json_t             *items, *missing;
    size_t              i, j;
    int                 rc;

    rc = store_products_by_ids(service_work(r), q->ids, q->nids, &pg);
    if (rc)
        return rc;
    items = json_array();
    missing = json_array();
    arena_defer(r->arena, json_release, items);
    arena_defer(r->arena, json_release, missing);
    for (i = 0; i < q->nids; i++) {
        for (j = 0; j < pg.n && pg.items[j].id != q->ids[i]; j++)
            ;
        if (j == pg.n) {
            json_array_append_new(missing, json_integer(q->ids[i]));
            continue;
        }
        rc = item_add(r, items, &pg.items[j], q->fields);
        if (rc)
            return rc;
    }
    return req_reply(r, 200, json_pack("{s:O,s:O}", "items", items, "missing", missing));
}

int
product_list_v2(struct req *r)
{
    const struct req_kv *kv;
    struct product_query q;
    struct filter_sql    f;
    struct product_page  pg;
    char                 detail[DETAIL_MAX];
    json_t              *items;
    size_t               i, n;
    int                  rc;

    n = req_query_all(r, &kv);
    rc = query_parse(kv, n, 1, r->arena, &q, detail, sizeof(detail));
    if (rc)
        return req_fail(r, rc, "%s", detail);
    if (q.nids > 0)
        return bulk_read(r, &q);
    query_filter_sql(&q, r->arena, &f);
    rc = store_products(service_work(r), &q, &f, &pg);
    if (rc)
        return rc;
    items = json_array();
    arena_defer(r->arena, json_release, items);
    for (i = 0; i < pg.n; i++) {
        rc = item_add(r, items, &pg.items[i], q.fields);
        if (rc)
            return rc;
    }
    return req_reply(r, 200, req_page_body(json_incref(items), q.page, q.limit, pg.total));
}

/* ---- categories ------------------------------------------------------------------ */

struct category_in {
    const char *slug, *name;
    int64_t     parent_id;
};

static const struct decode_field category_fields[] = {
    {"slug", DECODE_STR, offsetof(struct category_in, slug), 1, 1, MAX_SLUG, 0},
    {"name", DECODE_STR, offsetof(struct category_in, name), 1, 1, MAX_CATEGORY_NAME, 0},
    {"parent_id", DECODE_I64, offsetof(struct category_in, parent_id), 0, 1, INT64_MAX, 1},
    {NULL},
};

/* POST /api/v2/categories (admin). */
int
category_create(struct req *r)
{
    struct category_in in = {0};
    struct category    c;
    json_t            *body;
    char              *p;
    size_t             n;
    int64_t            version;
    int                rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, category_fields, &in, NULL);
    if (rc)
        return rc;
    if (!catalog_slug_valid(in.slug))
        return req_fail(r, ERR_INVALID, "slug must match [a-z0-9][a-z0-9-]{0,99}");
    c = (struct category){0, in.parent_id, in.slug, in.name};
    rc = store_category_create(service_work(r), &c);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, rc, "a category with slug \"%s\" exists", in.slug);
    if (rc == ERR_CONFLICT)
        return req_fail(r, ERR_INVALID, "parent category %lld does not exist",
                        (long long)in.parent_id);
    if (rc)
        return rc;
    /* Write the new list through (its version is the category count), so the
     * next read cannot miss the category. */
    if (api_categories_bytes(r, &p, &n, &version) == ERR_OK)
        cache_categories_put(r, version, p, n, 1);
    else
        rlog_warn(r, "cached category list may be stale for up to %llds",
                  (long long)catalog.cache_ttl);
    return req_reply(r, 201,
                     json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)c.id, "slug", c.slug, "name",
                               c.name, "parent_id",
                               c.parent_id ? json_integer(c.parent_id) : json_null()));
}
