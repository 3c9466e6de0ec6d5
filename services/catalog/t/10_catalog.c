/*
 * 10_catalog.c - the catalog's pure logic, table-driven: names, slugs, image
 * URLs, attribute order, product document checks, v1/v2 list query parsing
 * and the SQL parameters attribute filters become.
 */
#include <string.h>

#include "catalog.h"
#include "t.h"

struct catalog_config catalog; /* main.c is not linked into unit tests */

static const struct {
    const char *name;
    int         valid;
} attr_names[] = {
    {"colour", 1},
    {"ram_gb", 1},
    {"a", 1},
    {"", 0},
    {"Colour", 0},
    {"1abc", 0},
    {"ram-gb", 0},
    {"x' OR 1=1", 0},
    {"_x", 0},
    {"a.b", 0},
    {"a234567890123456789012345678901234567890123456789012345678901234", 1},
    {"a2345678901234567890123456789012345678901234567890123456789012345", 0},
};

static const struct {
    const char *url;
    int         valid;
} urls[] = {
    {"https://img.example.com/a.jpg", 1},
    {"https://img.example.com", 1},
    {"https://img.example.com:8443/x/y.png?w=200#top", 1},
    {"https://1.2.3.4/a.png", 1},
    {"http://img.example.com/a.jpg", 0},
    {"https://", 0},
    {"https:///a.jpg", 0},
    {"https://.example.com/", 0},
    {"https://exa mple.com/", 0},
    {"https://example.com/a b.jpg", 0},
    {"https://example.com/\"onerror=alert(1)", 0},
    {"https://example.com/<script>", 0},
    {"https://user@example.com/", 0},
    {"https://example.com:/a", 0},
    {"https://example.com:123456/a", 0},
    {"javascript:alert(1)", 0},
    {"", 0},
};

static const struct {
    const char *slug;
    int         valid;
} slugs[] = {
    {"laptops", 1}, {"home-garden", 1}, {"4k-tv", 1}, {"", 0},    {"-x", 0},
    {"Laptops", 0}, {"a_b", 0},         {"a b", 0},   {"a/b", 0}, {"é", 0},
};

/* a sorts before b, as MariaDB's case-folding collation orders them. */
static const struct {
    const char *a, *b;
} attr_order[] = {
    {"colour", "size"}, {"rama", "ram_gb"}, {"a1", "ab"}, {"a", "ab"}, {"a9", "a_"},
};

static const struct {
    const char *body, *detail; /* detail: NULL = valid */
} products[] = {
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":100,\"currency\":"
     "\"EUR\"}}",
     NULL},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":0,\"currency\":\"EUR\"}"
     ","
     "\"description\":\"d\",\"brand\":\"b\",\"attributes\":{\"ram_gb\":16,\"touch\":false,\"c\":"
     "\"x\"},\"images\":[\"https://i.example.com/1.jpg\"]}",
     NULL},
    {"{\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}}",
     "\"sku\" is required"},
    {"{\"sku\":\"\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     "}",
     "sku"},
    {"{\"sku\":\"A\",\"name\":42,\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}}",
     "name"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":\"1\",\"price\":{\"amount\":1,\"currency\":"
     "\"EUR\"}}",
     "category_id"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"USD\"}"
     "}",
     "the shop sells in EUR only"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1.5,\"currency\":"
     "\"EUR\"}}",
     "amount"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":10000000000000,"
     "\"currency\":\"EUR\"}}",
     "amount"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\","
     "\"tax\":1}}",
     "unknown field \"tax\""},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"stock\":5}",
     "unknown field \"stock\""},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"id\":5}",
     "unknown field \"id\""},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"attributes\":{\"Colour\":\"x\"}}",
     "attribute names must match"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"attributes\":{\"c\":1.5}}",
     "attribute \"c\" must be"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"attributes\":{\"c\":null}}",
     "attribute \"c\" must be"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"attributes\":{\"c\":[1]}}",
     "attribute \"c\" must be"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"attributes\":[]}",
     "attributes"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"images\":[\"http://x.example.com/a.jpg\"]}",
     "images[0] must be an https url"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"images\":[\"https://x.example.com/a.jpg\",7]}",
     "images[1] must be an https url"},
    {"{\"sku\":\"A\",\"name\":\"N\",\"category_id\":1,\"price\":{\"amount\":1,\"currency\":\"EUR\"}"
     ","
     "\"images\":\"https://x.example.com/a.jpg\"}",
     "images"},
};

/* A query string split on & and = (no escapes: the server decodes those). */
static size_t
kv_split(struct arena *a, const char *qs, struct req_kv *kv, size_t max)
{
    char  *s = arena_strdup(a, qs), *p = s, *amp, *eq;
    size_t n = 0;

    while (*p != '\0' && n < max) {
        amp = strchr(p, '&');
        if (amp != NULL)
            *amp = '\0';
        eq = strchr(p, '=');
        if (eq != NULL)
            *eq = '\0';
        kv[n].name = p;
        kv[n].value = eq != NULL ? eq + 1 : "";
        n++;
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return n;
}

static const struct {
    const char *qs;
    int         v2;
    const char *detail; /* NULL = valid */
} queries[] = {
    {"", 0, NULL},
    {"page=2&limit=100&sort=price_asc&category=laptops&min_price=0&max_price=5", 0, NULL},
    {"colour=blue&ram_gb=16&q=ignored", 0, NULL},
    {"limit=0", 0, "limit must be an integer between 1 and 100"},
    {"limit=101", 0, "limit must be an integer between 1 and 100"},
    {"page=0", 0, "page must be an integer between 1 and 1000000"},
    {"page=99999999999999999999", 0, "page must be an integer between 1 and 1000000"},
    {"min_price=-1", 0, "min_price must be an integer between 0 and 1000000000000"},
    {"max_price=1e3", 0, "max_price must be an integer between 0 and 1000000000000"},
    {"sort=random", 0, "sort must be one of relevance, newest, price_asc, price_desc, name"},
    {"sort=price_asc;DROP TABLE products", 0, "sort must be one of"},
    {"Colour=blue", 0, "unknown query parameter \"Colour\""},
    {"a'b=1", 0, "unknown query parameter \"a'b\""},
    {"a1=1&a2=1&a3=1&a4=1&a5=1&a6=1&a7=1&a8=1&a9=1", 0, "at most 8 attribute filters"},
    {"colour=\xff", 0, "attribute values must be utf-8 text"},
    {"category=\xc3", 0, "category must be utf-8 text"},
    {"attr.colour=blue", 0, "unknown query parameter \"attr.colour\""},
    {"attr.colour=blue&attr.ram_gb.gte=16&attr.ram_gb.lt=64&fields=id,name,price", 1, NULL},
    {"colour=blue", 1, "unknown query parameter \"colour\""},
    {"q=x", 1, "unknown query parameter \"q\""},
    {"attr.Colour=blue", 1, "unknown query parameter \"attr.Colour\""},
    {"attr.ram_gb.ge=16", 1, "unknown query parameter \"attr.ram_gb.ge\""},
    {"attr.ram_gb.gte=16.5", 1, "attr.ram_gb.gte must be an integer"},
    {"attr.ram_gb.gte=' OR 1=1 --", 1, "attr.ram_gb.gte must be an integer"},
    {"attr.=1", 1, "unknown query parameter \"attr.\""},
    {"fields=id,nope", 1, "fields must be a comma-separated list"},
    {"fields=id,,name", 1, "fields must be a comma-separated list"},
    {"fields=", 1, "fields must be a comma-separated list"},
    {"ids=1,2,3", 1, NULL},
    {"ids=1,2,3&fields=id", 1, NULL},
    {"ids=1,x", 1, "ids must be a comma-separated list of at most 100 product ids"},
    {"ids=0", 1, "ids must be a comma-separated list"},
    {"ids=1 OR 1=1", 1, "ids must be a comma-separated list"},
    {"ids=", 1, "ids must be a comma-separated list"},
    {"ids=1&page=2", 1, "ids cannot be combined with \"page\""},
    {"ids=1&attr.colour=blue", 1, "ids cannot be combined with \"attr.colour\""},
};

static const struct {
    const char *qs;
    int         v2;
    const char *contains, *path, *vars;
    int         empty;
} filters[] = {
    {"", 0, NULL, NULL, NULL, 0},
    {"colour=blue", 0, "{\"attributes\":{\"colour\":\"blue\"}}", NULL, NULL, 0},
    {"colour=blue&size=M&colour=blue", 0, "{\"attributes\":{\"colour\":\"blue\",\"size\":\"M\"}}",
     NULL, NULL, 0},
    {"colour=blue&colour=red", 0, "{\"attributes\":{\"colour\":\"blue\"}}", NULL, NULL, 1},
    {"colour=blue\"}}'--", 0, "{\"attributes\":{\"colour\":\"blue\\\"}}'--\"}}", NULL, NULL, 0},
    {"ram_gb=16", 0, NULL, "$.attributes ? ((@.\"ram_gb\" == $v0 || @.\"ram_gb\" == $v1))",
     "{\"v0\":\"16\",\"v1\":16}", 0},
    {"touch=false&colour=blue", 0, "{\"attributes\":{\"colour\":\"blue\"}}",
     "$.attributes ? ((@.\"touch\" == $v0 || @.\"touch\" == $v1))",
     "{\"v0\":\"false\",\"v1\":false}", 0},
    {"pages=0272", 0, "{\"attributes\":{\"pages\":\"0272\"}}", NULL, NULL, 0},
    {"attr.ram_gb.gte=16&attr.ram_gb.lt=64&attr.colour=blue", 1,
     "{\"attributes\":{\"colour\":\"blue\"}}",
     "$.attributes ? (@.\"ram_gb\".double() >= $v0 && @.\"ram_gb\".double() < $v1)",
     "{\"v0\":16,\"v1\":64}", 0},
    {"attr.w.gt=-5&attr.w.lte=9223372036854775807", 1, NULL,
     "$.attributes ? (@.\"w\".double() > $v0 && @.\"w\".double() <= $v1)",
     "{\"v0\":-5,\"v1\":9223372036854775807}", 0},
};

static void
test_names(void)
{
    size_t i;

    for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
        T_EQ_INT(catalog_attr_name_valid(attr_names[i].name), attr_names[i].valid,
                 "attribute name \"%s\"", attr_names[i].name);
    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
        T_EQ_INT(catalog_image_url_valid(urls[i].url), urls[i].valid, "image url \"%s\"",
                 urls[i].url);
    for (i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++)
        T_EQ_INT(catalog_slug_valid(slugs[i].slug), slugs[i].valid, "slug \"%s\"", slugs[i].slug);
    for (i = 0; i < sizeof(attr_order) / sizeof(attr_order[0]); i++) {
        T_OK(catalog_attr_cmp(attr_order[i].a, attr_order[i].b) < 0, "%s sorts before %s",
             attr_order[i].a, attr_order[i].b);
        T_OK(catalog_attr_cmp(attr_order[i].b, attr_order[i].a) > 0, "%s sorts after %s",
             attr_order[i].b, attr_order[i].a);
    }
}

static void
test_products(struct arena *a)
{
    struct product_in in;
    char              detail[256];
    json_error_t      jerr;
    json_t           *body;
    size_t            i;
    int               rc;

    for (i = 0; i < sizeof(products) / sizeof(products[0]); i++) {
        body = json_loads(products[i].body, JSON_REJECT_DUPLICATES, &jerr);
        detail[0] = '\0';
        rc = body != NULL ? catalog_product_check(body, a, &in, detail, sizeof(detail)) : -1;
        if (products[i].detail == NULL)
            T_EQ_INT(rc, ERR_OK, "product %zu is valid (%s)", i, detail);
        else
            T_OK(rc == ERR_INVALID && strstr(detail, products[i].detail) != NULL,
                 "product %zu: \"%s\" mentions \"%s\"", i, detail, products[i].detail);
        json_decref(body);
    }
    body = json_loads("{\"sku\":\"A\",\"name\":\"N\",\"category_id\":3,\"price\":{\"amount\":5,"
                      "\"currency\":\"EUR\"}}",
                      0, &jerr);
    rc = catalog_product_check(body, a, &in, detail, sizeof(detail));
    T_EQ_INT(rc, ERR_OK, "minimal product");
    T_EQ_STR(in.description, "", "absent description is \"\"");
    T_EQ_STR(in.brand, "", "absent brand is \"\"");
    T_EQ_INT(in.price.minor, 5, "price amount");
    T_EQ_STR(in.price.currency, "EUR", "price currency");
    T_EQ_INT(in.category_id, 3, "category id");
    json_decref(body);
}

static void
test_queries(struct arena *a)
{
    struct product_query q;
    struct req_kv        kv[32];
    char                 detail[256];
    size_t               i, n;
    int                  rc;

    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        n = kv_split(a, queries[i].qs, kv, 32);
        detail[0] = '\0';
        rc = query_parse(kv, n, queries[i].v2, a, &q, detail, sizeof(detail));
        if (queries[i].detail == NULL)
            T_EQ_INT(rc, ERR_OK, "v%d query \"%s\" is valid (%s)", queries[i].v2 + 1, queries[i].qs,
                     detail);
        else
            T_OK(rc == ERR_INVALID && strstr(detail, queries[i].detail) != NULL,
                 "v%d query \"%s\": \"%s\"", queries[i].v2 + 1, queries[i].qs, detail);
    }
    n = kv_split(a, "page=3&page=4&limit=7&sort=name&category=phones&min_price=5", kv, 32);
    T_EQ_INT(query_parse(kv, n, 0, a, &q, detail, sizeof(detail)), ERR_OK, "v1 query");
    T_EQ_INT(q.page, 3, "the first page= counts");
    T_EQ_INT(q.limit, 7, "limit");
    T_EQ_INT(q.sort, SORT_NAME, "sort");
    T_EQ_STR(q.category, "phones", "category");
    T_EQ_INT(q.min_price, 5, "min_price");
    T_EQ_INT(q.max_price, -1, "max_price unbounded");
    n = kv_split(a, "fields=name,id,version&ids=5,3,5,9", kv, 32);
    T_EQ_INT(query_parse(kv, n, 1, a, &q, detail, sizeof(detail)), ERR_OK, "v2 bulk query");
    T_EQ_INT(q.fields, (1u << DOC_ID) | (1u << DOC_NAME) | (1u << DOC_VERSION), "fields bits");
    T_EQ_INT(q.nids, 3, "ids asked twice count once");
    T_OK(q.ids[0] == 5 && q.ids[1] == 3 && q.ids[2] == 9, "ids keep the order asked");
}

static void
test_filter_sql(struct arena *a)
{
    struct product_query q;
    struct filter_sql    f;
    struct req_kv        kv[32];
    char                 detail[256];
    size_t               i, n;

    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        n = kv_split(a, filters[i].qs, kv, 32);
        T_EQ_INT(query_parse(kv, n, filters[i].v2, a, &q, detail, sizeof(detail)), ERR_OK,
                 "filters \"%s\" parse", filters[i].qs);
        query_filter_sql(&q, a, &f);
        T_EQ_STR(f.contains, filters[i].contains, "\"%s\": containment", filters[i].qs);
        T_EQ_STR(f.path, filters[i].path, "\"%s\": jsonpath", filters[i].qs);
        T_EQ_STR(f.vars, filters[i].vars, "\"%s\": jsonpath vars", filters[i].qs);
        T_EQ_INT(q.empty, filters[i].empty, "\"%s\": contradiction", filters[i].qs);
    }
}

int
main(void)
{
    struct arena *a = arena_create();

    test_names();
    test_products(a);
    test_queries(a);
    test_filter_sql(a);
    arena_destroy(a);
    return T_DONE();
}
