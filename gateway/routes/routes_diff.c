/*
 * routes_diff.c - what installing a table would change against another,
 * route by route (by name) and upstream by upstream: POST /routes/dry-run
 * and the answer of PUT /routes.
 */
#include "gateway.h"

/* [old, new] for one member; a missing side is null. */
static json_t *
pair(json_t *a, json_t *b)
{
    return json_pack("[OO]", a != NULL ? a : json_null(), b != NULL ? b : json_null());
}

/* {"member": [old, new], ...} for the members of a and b that differ. */
static json_t *
changed_fields(json_t *a, json_t *b)
{
    json_t     *out = json_object(), *v;
    const char *key;

    json_object_foreach(a, key, v)
    {
        if (!json_equal(v, json_object_get(b, key)))
            json_object_set_new(out, key, pair(v, json_object_get(b, key)));
    }
    json_object_foreach(b, key, v)
    {
        if (json_object_get(a, key) == NULL)
            json_object_set_new(out, key, pair(NULL, v));
    }
    return out;
}

/* Routes are matched by name, so a renamed route is one removed and one added. */
static void
diff_routes(json_t *from, json_t *to, json_t *out)
{
    json_t     *r, *old;
    size_t      i;
    const char *name;

    json_array_foreach(json_object_get(to, "routes"), i, r)
    {
        name = json_string_value(json_object_get(r, "name"));
        old = from != NULL ? routes_doc_route(from, name) : NULL;
        if (old == NULL)
            json_array_append_new(json_object_get(out, "added"), json_string(name));
        else if (!json_equal(old, r))
            json_array_append_new(
                json_object_get(out, "changed"),
                json_pack("{s:s, s:o}", "name", name, "fields", changed_fields(old, r)));
    }
    json_array_foreach(from != NULL ? json_object_get(from, "routes") : NULL, i, r)
    {
        name = json_string_value(json_object_get(r, "name"));
        if (routes_doc_route(to, name) == NULL)
            json_array_append_new(json_object_get(out, "removed"), json_string(name));
    }
}

static void
diff_upstreams(json_t *from, json_t *to, json_t *out)
{
    json_t     *a = json_object_get(from, "upstreams"), *b = json_object_get(to, "upstreams"), *v;
    const char *key;

    json_object_foreach(b, key, v)
    {
        if (json_object_get(a, key) == NULL)
            json_array_append_new(json_object_get(out, "added"), json_string(key));
        else if (!json_equal(json_object_get(a, key), v))
            json_array_append_new(json_object_get(out, "changed"), json_string(key));
    }
    json_object_foreach(a, key, v)
    {
        if (json_object_get(b, key) == NULL)
            json_array_append_new(json_object_get(out, "removed"), json_string(key));
    }
}

json_t *
routes_diff(const struct gw_table *cur, const struct gw_table *next)
{
    json_t *out = json_pack("{s:[], s:[], s:[], s:{s:[], s:[], s:[]}}", "added", "removed",
                            "changed", "upstreams", "added", "removed", "changed");

    diff_routes(cur != NULL ? cur->doc : NULL, next->doc, out);
    diff_upstreams(cur != NULL ? cur->doc : NULL, next->doc, json_object_get(out, "upstreams"));
    return out;
}
