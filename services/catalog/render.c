/*
 * render.c - the catalog's representations of a stored product, below both
 * the HTTP handlers (api.c, api_v2.c) and the consumers (events.c): the v2
 * document, the v1 product (list item and page) and the page's reply bytes,
 * which the cache holds. Nothing here knows about a request or a message:
 * everything lives in the arena it is given.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"

static void
json_release(void *p)
{
    json_decref(p);
}

/* Serialize with the flags of req_reply, so cached bytes equal what it
 * would send (steals body). */
int
render_dump(struct arena *a, json_t *body, char **out, size_t *len)
{
    *out = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    if (*out == NULL)
        return ERR_INTERNAL;
    arena_defer(a, free, *out);
    *len = strlen(*out);
    return ERR_OK;
}

json_t *
render_doc(json_t *doc, int64_t version, uint32_t fields)
{
    json_t     *o = json_object(), *v;
    const char *k;
    int         i;

    for (i = 0; i < DOC__COUNT; i++) {
        v = json_object_get(doc, catalog_doc_fields[i]);
        if (i != DOC_VERSION && v != NULL && (fields == 0 || (fields & (1u << i))))
            json_object_set(o, catalog_doc_fields[i], v);
    }
    /* Members a newer writer added stay visible, after the known ones. */
    json_object_foreach(doc, k, v)
    {
        if (fields == 0 && json_object_get(o, k) == NULL && strcmp(k, "version") != 0)
            json_object_set(o, k, v);
    }
    if (version >= 0 && (fields == 0 || (fields & (1u << DOC_VERSION))))
        json_object_set_new(o, "version", json_integer(version));
    return o;
}

static const char *
text_of(json_t *o, const char *key)
{
    const char *z = json_string_value(json_object_get(o, key));

    return z != NULL ? z : "";
}

static json_int_t
int_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static int
attr_sort(const void *a, const void *b)
{
    return catalog_attr_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* v1 shows every attribute as text, ordered by name like the monolith's
 * ORDER BY over its EAV rows (the document keeps their JSON types). */
static json_t *
attrs_v1(struct arena *a, json_t *attrs)
{
    size_t       n = json_object_size(attrs), i = 0;
    const char **keys = arena_array(a, const char *, n + 1);
    json_t      *out = json_object(), *v;
    const char  *k;

    json_object_foreach(attrs, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), attr_sort);
    for (i = 0; i < n; i++) {
        v = json_object_get(attrs, keys[i]);
        if (json_is_string(v))
            json_object_set(out, keys[i], v);
        else if (json_is_integer(v))
            json_object_set_new(out, keys[i],
                                json_sprintf("%lld", (long long)json_integer_value(v)));
        else if (json_is_boolean(v))
            json_object_set_new(out, keys[i], json_string(json_is_true(v) ? "true" : "false"));
        else if (json_is_number(v))
            json_object_set_new(out, keys[i], json_sprintf("%.17g", json_number_value(v)));
    }
    return out;
}

/* stock and rating are replicas kept in the document; absent means none yet. */
static void
page_members(json_t *o, json_t *doc)
{
    json_t *rating = json_object_get(doc, "rating");

    json_object_set_new(o, "description", json_string(text_of(doc, "description")));
    json_object_set_new(o, "stock", json_integer(int_of(doc, "stock")));
    json_object_set_new(o, "rating",
                        json_pack("{s:f,s:I}", "average",
                                  json_number_value(json_object_get(rating, "average")), "count",
                                  int_of(rating, "count")));
    json_object_set_new(o, "created_at", json_string(text_of(doc, "created_at")));
    json_object_set_new(o, "updated_at", json_string(text_of(doc, "updated_at")));
}

int
render_v1_product(struct arena *a, const struct product_row *row, int full, json_t **out)
{
    json_error_t jerr;
    json_t      *doc, *cat, *price, *o;

    doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (doc == NULL) {
        log_error("product %lld: stored document does not parse: %s", (long long)row->id,
                  jerr.text);
        return ERR_INTERNAL;
    }
    arena_defer(a, json_release, doc);
    cat = json_object_get(doc, "category");
    price = json_object_get(doc, "price");
    o = json_pack("{s:I,s:s,s:s,s:s,s:{s:I,s:s,s:s},s:{s:I,s:s},s:o}", "id", (json_int_t)row->id,
                  "sku", text_of(doc, "sku"), "name", text_of(doc, "name"), "brand",
                  text_of(doc, "brand"), "category", "id", int_of(cat, "id"), "slug",
                  text_of(cat, "slug"), "name", text_of(cat, "name"), "price", "amount",
                  int_of(price, "amount"), "currency", text_of(price, "currency"), "attributes",
                  attrs_v1(a, json_object_get(doc, "attributes")));
    if (o == NULL)
        return ERR_INTERNAL;
    if (full)
        page_members(o, doc);
    *out = o;
    return ERR_OK;
}

int
render_v1_page(struct arena *a, const struct product_row *row, char **p, size_t *n)
{
    json_t *o;
    int     rc;

    rc = render_v1_product(a, row, 1, &o);
    if (rc)
        return rc;
    rc = render_dump(a, o, p, n);
    if (rc)
        log_error("product %lld: cannot serialise the product page", (long long)row->id);
    return rc;
}
