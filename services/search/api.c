/*
 * api.c - the search endpoints: v1 search (the monolith's shape), v2 search
 * with facets and typo correction, and type-ahead suggestions. Handlers
 * decode and check the query string, call store.c, and encode JSON; this is
 * the only file of the service that builds responses.
 */
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "search.h"
#include "str.h"

/* v1: the monolith's list parameters; every other name is an attribute filter. */
static const char *const v1_params[] = {"page",      "limit", "category", "min_price",
                                        "max_price", "sort",  "q",        NULL};
static const char *const v2_params[] = {"page",      "limit", "category", "brand", "min_price",
                                        "max_price", "sort",  "q",        NULL};

static const char *const suggest_params[] = {"q", "limit", NULL};

#define V2_ATTR_PREFIX "attr."

static int
only_params(struct req *r, const char *const *names)
{
    const struct req_kv *kv;
    size_t               i, n = req_query_all(r, &kv);

    for (i = 0; i < n; i++)
        if (!search_listed(names, kv[i].name))
            return req_fail(r, ERR_INVALID, "unknown query parameter \"%.64s\"", kv[i].name);
    return ERR_OK;
}

/* q: present, not blank, at most SEARCH_Q_MAX bytes, UTF-8 (the monolith's
 * rules and details). Also refuses any parameter that is not UTF-8, which
 * PostgreSQL would reject later. */
static int
text_decode(struct req *r, const char **text)
{
    const struct req_kv *kv;
    size_t               i, n;
    const char          *q = req_query(r, "q");

    if (q == NULL || q[strspn(q, " \t")] == '\0')
        return req_fail(r, ERR_INVALID, "q is required");
    if (strlen(q) > SEARCH_Q_MAX)
        return req_fail(r, ERR_INVALID, "q must be at most %d bytes", SEARCH_Q_MAX);
    n = req_query_all(r, &kv);
    for (i = 0; i < n; i++) {
        if (!str_utf8_valid(kv[i].value) || !str_utf8_valid(kv[i].name))
            return req_fail(r, ERR_INVALID, "%s must be utf-8 text",
                            strcmp(kv[i].name, "q") == 0 ? "q" : "query parameters");
    }
    *text = q;
    return ERR_OK;
}

static int
filter_add(struct req *r, struct search_query *q, const char *name, const char *value)
{
    if (!search_attr_name_valid(name))
        return req_fail(r, ERR_INVALID, "unknown query parameter \"%.64s\"", name);
    if (q->nfilters == SEARCH_MAX_FILTERS)
        return req_fail(r, ERR_INVALID, "at most %d attribute filters", SEARCH_MAX_FILTERS);
    if (strlen(value) > SEARCH_VALUE_MAX)
        return req_fail(r, ERR_INVALID, "attribute values are at most %d bytes", SEARCH_VALUE_MAX);
    q->filters[q->nfilters].name = name;
    q->filters[q->nfilters].value = value;
    q->nfilters++;
    return ERR_OK;
}

/* The parameters v1 and v2 share: paging and the price range. */
static int
common_decode(struct req *r, struct search_query *q)
{
    int rc;

    rc = req_paging(r, LIMIT_PAGE_INDEX, &q->page, &q->limit);
    if (rc)
        return rc;
    rc = req_query_i64(r, "min_price", -1, 0, SEARCH_MAX_PRICE, &q->min_price);
    if (rc)
        return rc;
    rc = req_query_i64(r, "max_price", -1, 0, SEARCH_MAX_PRICE, &q->max_price);
    if (rc)
        return rc;
    q->category = req_query(r, "category");
    return ERR_OK;
}

static int
v1_decode(struct req *r, struct search_query *q)
{
    const struct req_kv *kv;
    const char          *s;
    size_t               i, n;
    int                  rc;

    rc = common_decode(r, q);
    if (rc)
        return rc;
    s = req_query(r, "sort");
    if (s && search_sort_parse(s, 1, &q->sort))
        return req_fail(r, ERR_INVALID,
                        "sort must be one of relevance, newest, price_asc, price_desc, name");
    n = req_query_all(r, &kv);
    for (i = 0; i < n; i++) {
        if (search_listed(v1_params, kv[i].name))
            continue;
        rc = filter_add(r, q, kv[i].name, kv[i].value);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static int
v2_decode(struct req *r, struct search_query *q)
{
    const struct req_kv *kv;
    const char          *s;
    size_t               i, n, plen = strlen(V2_ATTR_PREFIX);
    int                  rc;

    rc = common_decode(r, q);
    if (rc)
        return rc;
    q->brand = req_query(r, "brand");
    s = req_query(r, "sort");
    if (s && search_sort_parse(s, 0, &q->sort))
        return req_fail(r, ERR_INVALID,
                        "sort must be one of relevance, price_asc, price_desc, "
                        "newest");
    n = req_query_all(r, &kv);
    for (i = 0; i < n; i++) {
        if (search_listed(v2_params, kv[i].name))
            continue;
        if (strncmp(kv[i].name, V2_ATTR_PREFIX, plen) != 0)
            return req_fail(r, ERR_INVALID, "unknown query parameter \"%.64s\"", kv[i].name);
        rc = filter_add(r, q, kv[i].name + plen, kv[i].value);
        if (rc)
            return rc;
    }
    q->facets = 1;
    return ERR_OK;
}

static json_t *
items_encode(struct req *r, const struct search_result *res)
{
    json_t      *items = json_array(), *o;
    json_error_t jerr;
    size_t       i;

    for (i = 0; i < res->nitems; i++) {
        o = json_loads(res->items[i].summary, JSON_REJECT_DUPLICATES, &jerr);
        if (o == NULL) {
            rlog_error(r, "product %lld has a bad stored summary: %s", (long long)res->items[i].id,
                       jerr.text);
            continue;
        }
        json_array_append_new(items, o);
    }
    return items;
}

static json_t *
page_encode(struct req *r, const struct search_query *q, const struct search_result *res,
            const char *text)
{
    return json_pack("{s:o,s:I,s:I,s:I,s:s}", "items", items_encode(r, res), "page",
                     (json_int_t)q->page, "limit", (json_int_t)q->limit, "total",
                     (json_int_t)res->total, "query", text);
}

static json_t *
price_facets(const struct search_result *res)
{
    json_t *a = json_array();
    int64_t min, max;
    int     i;

    for (i = 0; i < SEARCH_PRICE_BUCKETS; i++) {
        search_price_range(i, &min, &max);
        json_array_append_new(a, json_pack("{s:I,s:o,s:I}", "min", (json_int_t)min, "max",
                                           max < 0 ? json_null() : json_integer(max), "count",
                                           (json_int_t)res->price[i]));
    }
    return a;
}

/* Attribute facets arrive ordered by name: one array per name. */
static json_t *
attr_facets(const struct search_result *res)
{
    json_t *o = json_object(), *a;
    size_t  i;

    for (i = 0; i < res->nattrs; i++) {
        a = json_object_get(o, res->attrs[i].value);
        if (a == NULL) {
            a = json_array();
            json_object_set_new(o, res->attrs[i].value, a);
        }
        json_array_append_new(a, json_pack("{s:s,s:I}", "value", res->attrs[i].label, "count",
                                           (json_int_t)res->attrs[i].count));
    }
    return o;
}

static json_t *
facets_encode(const struct search_result *res)
{
    json_t *cat = json_array(), *brand = json_array();
    size_t  i;

    for (i = 0; i < res->ncategories; i++)
        json_array_append_new(cat,
                              json_pack("{s:s,s:s,s:I}", "value", res->categories[i].value, "name",
                                        res->categories[i].label ? res->categories[i].label : "",
                                        "count", (json_int_t)res->categories[i].count));
    for (i = 0; i < res->nbrands; i++)
        json_array_append_new(brand, json_pack("{s:s,s:I}", "value", res->brands[i].value, "count",
                                               (json_int_t)res->brands[i].count));
    return json_pack("{s:o,s:o,s:o,s:o}", "category", cat, "brand", brand, "price",
                     price_facets(res), "attributes", attr_facets(res));
}

/* What v1 and v2 share: q (*text) and the other parameters (v1's or v2's
 * into *q), its words, and the first search. */
static int
search_run(struct req *r, int v2, const char **text, struct search_query *q, struct search_words *w,
           struct search_result *res)
{
    int rc;

    rc = text_decode(r, text);
    if (rc)
        return rc;
    rc = v2 ? v2_decode(r, q) : v1_decode(r, q);
    if (rc)
        return rc;
    if (search_words_parse(*text, r->arena, w))
        return req_fail(r, ERR_INVALID, "q has more than %d words", SEARCH_MAX_WORDS);
    q->tsquery = search_tsquery(r->arena, w, SEARCH_PREFIX_MIN);
    return store_search(service_work(r), q, res);
}

/* GET /api/v1/search: the monolith's search, answered from the projection. */
int
search_v1(struct req *r)
{
    struct search_query  q = {0};
    struct search_result res;
    struct search_words  w;
    const char          *text;
    int                  rc;

    rc = search_run(r, 0, &text, &q, &w, &res);
    if (rc)
        return rc;
    return req_reply(r, 200, page_encode(r, &q, &res, text));
}

/* When nothing matched, replace the words that match no document by their
 * most similar lexicon word and search again. *corrected is NULL when no
 * word was replaced. */
static int
correct(struct req *r, const char *text, struct search_words *w, struct search_query *q,
        struct search_result *res, const char **corrected)
{
    struct search_fix fix[SEARCH_MAX_WORDS];
    const char       *repl[SEARCH_MAX_WORDS];
    size_t            i, n = 0;
    int               rc;

    *corrected = NULL;
    rc = store_correct(service_work(r), w, fix);
    if (rc)
        return rc;
    for (i = 0; i < w->n; i++) {
        repl[i] = search_correct_pick(&fix[i]);
        n += repl[i] != NULL;
    }
    if (n == 0)
        return ERR_OK;
    *corrected = search_corrected_text(r->arena, text, w, repl);
    for (i = 0; i < w->n; i++)
        if (repl[i])
            w->w[i].text = repl[i];
    q->tsquery = search_tsquery(r->arena, w, SEARCH_PREFIX_MIN);
    return store_search(service_work(r), q, res);
}

/* GET /api/v2/search: ranked full-text search with filters, facets and typo
 * correction. */
int
search_v2(struct req *r)
{
    struct search_query  q = {0};
    struct search_result res;
    struct search_words  w;
    const char          *text, *corrected = NULL;
    json_t              *o;
    int                  rc;

    rc = search_run(r, 1, &text, &q, &w, &res);
    if (rc)
        return rc;
    if (res.total == 0 && w.n > 0) {
        rc = correct(r, text, &w, &q, &res, &corrected);
        if (rc)
            return rc;
    }
    o = page_encode(r, &q, &res, text);
    json_object_set_new(o, "total_exact", json_boolean(res.total_exact));
    if (corrected != NULL)
        json_object_set_new(o, "corrected_query", json_string(corrected));
    json_object_set_new(o, "facets", facets_encode(&res));
    return req_reply(r, 200, o);
}

/* GET /api/v2/search/suggest: products whose name or brand has words
 * starting with what was typed so far. */
int
search_suggest(struct req *r)
{
    struct search_suggestion *s;
    struct search_words       w;
    const char               *text, *prefix;
    json_t                   *a = json_array();
    int64_t                   limit;
    size_t                    i, n = 0;
    int                       rc;

    rc = text_decode(r, &text);
    if (rc)
        goto done;
    rc = req_query_i64(r, "limit", 10, 1, SEARCH_SUGGEST_LIMIT, &limit);
    if (rc)
        goto done;
    rc = only_params(r, suggest_params);
    if (rc)
        goto done;
    if (search_words_parse(text, r->arena, &w)) {
        rc = req_fail(r, ERR_INVALID, "q has more than %d words", SEARCH_MAX_WORDS);
        goto done;
    }
    if (w.n > 0) {
        prefix = search_words_join(r->arena, &w);
        rc = store_suggest(service_work(r), search_tsquery(r->arena, &w, 1), prefix, limit, &s, &n);
        if (rc)
            goto done;
    }
    for (i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:s}", "id", (json_int_t)s[i].id, "name",
                                           s[i].name ? s[i].name : ""));
    return req_reply(r, 200, json_pack("{s:o}", "suggestions", a));
done:
    json_decref(a);
    return rc;
}
