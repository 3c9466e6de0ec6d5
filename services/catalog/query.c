/*
 * query.c - the v1 and v2 list queries: parameters parsed with the
 * monolith's rules and messages (v1) or the stricter attr.NAME[.op] grammar
 * (v2), and attribute filters turned into SQL parameters: a containment
 * document for the GIN index and a jsonpath whose values are variables.
 * Pure logic, tested by t/10_catalog.c.
 */
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "buf.h"
#include "catalog.h"
#include "str.h"

#define FILTER_SQL_MAX 65536 /* MAX_V2_FILTERS values, escaped, fit many times over */

/* ---- list queries ---------------------------------------------------------------- */

/* v1: every other parameter is an attribute filter, as the monolith grew.
 * v2: filters are spelled attr.NAME[.op] and anything unknown is refused. */
static const char *const v1_params[] = {"page",      "limit", "category", "min_price",
                                        "max_price", "sort",  "q",        NULL};
static const char *const v2_params[] = {"page", "limit",  "category", "min_price", "max_price",
                                        "sort", "fields", "ids",      NULL};

static const struct {
    const char    *name;
    enum filter_op op;
} range_ops[] = {{"gt", FILTER_GT}, {"gte", FILTER_GTE}, {"lt", FILTER_LT}, {"lte", FILTER_LTE}};

static int
in_list(const char *const *list, const char *name)
{
    size_t i;

    for (i = 0; list[i] != NULL; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

/* The first occurrence of name, as the contract says. */
static const char *
first(const struct req_kv *kv, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

static int
q_i64(const struct req_kv *kv, size_t n, const char *name, int64_t def, int64_t min, int64_t max,
      int64_t *out, char *detail, size_t len)
{
    const char *v = first(kv, n, name);

    *out = def;
    if (v == NULL)
        return ERR_OK;
    if (str_z_to_i64(v, min, max, out) != ERR_OK)
        return catalog_fail(detail, len, "%s must be an integer between %lld and %lld", name,
                            (long long)min, (long long)max);
    return ERR_OK;
}

/* Page, limit, category, prices and sort: the monolith's checks, in its order. */
static int
common_parse(const struct req_kv *kv, size_t n, struct product_query *q, char *detail, size_t len)
{
    const char *s;
    int         rc;

    rc = q_i64(kv, n, "page", 1, 1, LIMIT_PAGE_INDEX, &q->page, detail, len);
    if (rc == ERR_OK)
        rc = q_i64(kv, n, "limit", 20, 1, LIMIT_PAGE_SIZE, &q->limit, detail, len);
    if (rc == ERR_OK)
        rc = q_i64(kv, n, "min_price", -1, 0, MAX_PRICE, &q->min_price, detail, len);
    if (rc == ERR_OK)
        rc = q_i64(kv, n, "max_price", -1, 0, MAX_PRICE, &q->max_price, detail, len);
    if (rc)
        return rc;
    q->category = first(kv, n, "category");
    s = first(kv, n, "sort");
    if (s != NULL && catalog_sort_parse(s, &q->sort))
        return catalog_fail(detail, len,
                            "sort must be one of relevance, newest, price_asc, price_desc, name");
    if (q->category != NULL && !str_utf8_valid(q->category))
        return catalog_fail(detail, len, "category must be utf-8 text");
    return ERR_OK;
}

/* Equality filters on one name can all hold only when they ask for the same
 * text: a repeat is dropped, a contradiction makes the page empty. */
static void
filter_add(struct product_query *q, const char *name, const char *value, enum filter_op op,
           int64_t bound)
{
    struct attr_filter *f;
    size_t              i;

    for (i = 0; op == FILTER_EQ && i < q->nfilters; i++) {
        if (q->filters[i].op != FILTER_EQ || strcmp(q->filters[i].name, name) != 0)
            continue;
        if (strcmp(q->filters[i].value, value) != 0)
            q->empty = 1;
        return;
    }
    f = &q->filters[q->nfilters++];
    f->name = name;
    f->value = value;
    f->op = op;
    f->n = bound;
}

static int
value_check(const char *value, char *detail, size_t len)
{
    if (strlen(value) > MAX_ATTR_VALUE)
        return catalog_fail(detail, len, "attribute values are at most %d bytes", MAX_ATTR_VALUE);
    if (!str_utf8_valid(value))
        return catalog_fail(detail, len, "attribute values must be utf-8 text");
    return ERR_OK;
}

static int
v1_filters(const struct req_kv *kv, size_t n, struct product_query *q, char *detail, size_t len)
{
    size_t i, seen = 0;
    int    rc;

    for (i = 0; i < n; i++) {
        if (in_list(v1_params, kv[i].name))
            continue;
        if (!catalog_attr_name_valid(kv[i].name))
            return catalog_fail(detail, len, "unknown query parameter \"%.64s\"", kv[i].name);
        if (seen++ == MAX_V1_FILTERS)
            return catalog_fail(detail, len, "at most %d attribute filters", MAX_V1_FILTERS);
        rc = value_check(kv[i].value, detail, len);
        if (rc)
            return rc;
        filter_add(q, kv[i].name, kv[i].value, FILTER_EQ, 0);
    }
    return ERR_OK;
}

/* attr.NAME=value or attr.NAME.OP=integer; name is copied into a. */
static int
v2_filter(const struct req_kv *kv, struct product_query *q, struct arena *a, char *detail,
          size_t len)
{
    const char *name = kv->name + 5, *dot = strchr(name, '.');
    char       *attr;
    int64_t     bound;
    size_t      i;

    attr = arena_strndup(a, name, dot != NULL ? (size_t)(dot - name) : strlen(name));
    if (!catalog_attr_name_valid(attr))
        return catalog_fail(detail, len, "unknown query parameter \"%.64s\"", kv->name);
    if (dot == NULL) {
        if (value_check(kv->value, detail, len))
            return ERR_INVALID;
        filter_add(q, attr, kv->value, FILTER_EQ, 0);
        return ERR_OK;
    }
    for (i = 0; i < sizeof(range_ops) / sizeof(range_ops[0]); i++) {
        if (strcmp(dot + 1, range_ops[i].name) != 0)
            continue;
        if (str_z_to_i64(kv->value, INT64_MIN, INT64_MAX, &bound) != ERR_OK)
            return catalog_fail(detail, len, "%.80s must be an integer", kv->name);
        filter_add(q, attr, kv->value, range_ops[i].op, bound);
        return ERR_OK;
    }
    return catalog_fail(detail, len, "unknown query parameter \"%.64s\"", kv->name);
}

/* "a,b,c" split on commas: each part to fn; an empty part is an error. */
static int
split_list(const char *z, struct arena *a, int (*fn)(const char *part, void *ctx), void *ctx)
{
    const char *p = z, *comma;
    int         rc;

    for (;;) {
        comma = strchr(p, ',');
        if ((comma != NULL ? comma : p + strlen(p)) == p)
            return ERR_INVALID;
        rc = fn(arena_strndup(a, p, comma != NULL ? (size_t)(comma - p) : strlen(p)), ctx);
        if (rc || comma == NULL)
            return rc;
        p = comma + 1;
    }
}

static int
field_add(const char *part, void *ctx)
{
    struct product_query *q = ctx;
    int                   i;

    for (i = 0; i < DOC__COUNT; i++) {
        if (strcmp(part, catalog_doc_fields[i]) == 0) {
            q->fields |= 1u << i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

static int
id_add(const char *part, void *ctx)
{
    struct product_query *q = ctx;
    int64_t               id;
    size_t                i;

    if (str_z_to_i64(part, 1, INT64_MAX, &id) != ERR_OK)
        return ERR_INVALID;
    for (i = 0; i < q->nids; i++)
        if (q->ids[i] == id)
            return ERR_OK; /* asked twice, answered once */
    if (q->nids == MAX_BULK_IDS)
        return ERR_INVALID;
    q->ids[q->nids++] = id;
    return ERR_OK;
}

static int
v2_lists(const struct req_kv *kv, size_t n, struct product_query *q, struct arena *a, char *detail,
         size_t len)
{
    const char *fields = first(kv, n, "fields"), *ids = first(kv, n, "ids");
    size_t      i;

    if (fields != NULL && split_list(fields, a, field_add, q) != ERR_OK)
        return catalog_fail(detail, len,
                            "fields must be a comma-separated list of: id, sku, name, "
                            "description, brand, category, price, images, attributes, "
                            "stock, rating, created_at, updated_at, version");
    if (ids == NULL)
        return ERR_OK;
    if (split_list(ids, a, id_add, q) != ERR_OK)
        return catalog_fail(detail, len,
                            "ids must be a comma-separated list of at most %d product ids",
                            MAX_BULK_IDS);
    for (i = 0; i < n; i++)
        if (strcmp(kv[i].name, "ids") != 0 && strcmp(kv[i].name, "fields") != 0)
            return catalog_fail(detail, len, "ids cannot be combined with \"%.64s\"", kv[i].name);
    return ERR_OK;
}

static int
v2_parse(const struct req_kv *kv, size_t n, struct product_query *q, struct arena *a, char *detail,
         size_t len)
{
    size_t i, seen = 0;
    int    rc;

    for (i = 0; i < n; i++) {
        if (in_list(v2_params, kv[i].name))
            continue;
        if (strncmp(kv[i].name, "attr.", 5) != 0)
            return catalog_fail(detail, len, "unknown query parameter \"%.64s\"", kv[i].name);
        if (seen++ == MAX_V2_FILTERS)
            return catalog_fail(detail, len, "at most %d attribute filters", MAX_V2_FILTERS);
        rc = v2_filter(&kv[i], q, a, detail, len);
        if (rc)
            return rc;
    }
    return v2_lists(kv, n, q, a, detail, len);
}

int
query_parse(const struct req_kv *kv, size_t n, int v2, struct arena *a, struct product_query *q,
            char *detail, size_t detail_len)
{
    int rc;

    memset(q, 0, sizeof(*q));
    q->sort = SORT_NEWEST;
    rc = common_parse(kv, n, q, detail, detail_len);
    if (rc)
        return rc;
    if (!v2)
        return v1_filters(kv, n, q, detail, detail_len);
    return v2_parse(kv, n, q, a, detail, detail_len);
}

/* ---- filters as SQL parameters --------------------------------------------------- */

enum { KIND_STR = 1, KIND_INT = 2, KIND_BOOL = 4 };

/* What a filter's text may equal besides the string itself: "16" is also the
 * integer 16 and "true" the boolean, since v1 compares values as text. */
static int
value_kinds(const char *v)
{
    char    canon[24];
    int64_t n;

    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return KIND_STR | KIND_BOOL;
    if (str_z_to_i64(v, INT64_MIN, INT64_MAX, &n) == ERR_OK) {
        snprintf(canon, sizeof(canon), "%lld", (long long)n);
        if (strcmp(canon, v) == 0)
            return KIND_STR | KIND_INT;
    }
    return KIND_STR;
}

static const char *const op_text[] = {
    [FILTER_EQ] = "==", [FILTER_GT] = ">",   [FILTER_GTE] = ">=",
    [FILTER_LT] = "<",  [FILTER_LTE] = "<=",
};

/* One jsonpath variable: "vN": value (json_text: a JSON literal as it is). */
static void
var_put(struct buf *v, size_t *nv, const char *value, int json_text)
{
    buf_printf(v, "%s\"v%zu\":", *nv ? "," : "{", *nv);
    if (json_text)
        buf_puts(v, value);
    else
        buf_json_str(v, value, strlen(value));
    (*nv)++;
}

/* A string-only equality goes into one containment document, which the GIN
 * index (jsonb_path_ops) answers. Everything else becomes one jsonpath
 * predicate whose values travel as variables, never as path text; the names
 * in it passed catalog_attr_name_valid. Ranges compare .double() of the
 * value, so numbers written as text (the monolith's EAV rows, backfilled as
 * strings) compare as numbers; anything else makes the predicate unknown,
 * which is false. They cannot use jsonb_path_ops (it hashes path and value
 * together), so they filter what the other conditions and indexes leave. */
void
query_filter_sql(const struct product_query *q, struct arena *a, struct filter_sql *out)
{
    const struct attr_filter *f;
    struct buf                c, p, v;
    size_t                    i, nc = 0, np = 0, nv = 0;
    char                      bound[24];

    buf_init(&c, FILTER_SQL_MAX);
    buf_init(&p, FILTER_SQL_MAX);
    buf_init(&v, FILTER_SQL_MAX);
    for (i = 0; i < q->nfilters; i++) {
        f = &q->filters[i];
        if (f->op == FILTER_EQ && value_kinds(f->value) == KIND_STR) {
            buf_puts(&c, nc++ ? "," : "{\"attributes\":{");
            buf_json_str(&c, f->name, strlen(f->name));
            buf_putc(&c, ':');
            buf_json_str(&c, f->value, strlen(f->value));
            continue;
        }
        buf_puts(&p, np++ ? " && " : "$.attributes ? (");
        if (f->op == FILTER_EQ) {
            buf_printf(&p, "(@.\"%s\" == $v%zu || @.\"%s\" == $v%zu)", f->name, nv, f->name,
                       nv + 1);
            var_put(&v, &nv, f->value, 0);
            var_put(&v, &nv, f->value, 1);
        } else {
            buf_printf(&p, "@.\"%s\".double() %s $v%zu", f->name, op_text[f->op], nv);
            snprintf(bound, sizeof(bound), "%lld", (long long)f->n);
            var_put(&v, &nv, bound, 1);
        }
    }
    buf_puts(&c, "}}");
    buf_putc(&p, ')');
    buf_putc(&v, '}');
    out->contains = nc ? arena_strdup(a, buf_data(&c)) : NULL;
    out->path = np ? arena_strdup(a, buf_data(&p)) : NULL;
    out->vars = np ? arena_strdup(a, buf_data(&v)) : NULL;
    buf_free(&c);
    buf_free(&p);
    buf_free(&v);
}
