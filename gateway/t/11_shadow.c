/*
 * 11_shadow.c - shadow comparison: key order, 1 == 1.0, order-sensitive
 * arrays, ignore pointers with "*" and ~ escapes, the first differing
 * pointer; then per-route counting, samples, truncation and metrics.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "metrics.h"
#include "t.h"

static const struct {
    const char *a, *b;
    const char *ignore[4];
    int         equal;
    const char *where;
} cases[] = {
    {"{'a':1,'b':2}", "{'b':2,'a':1}", {NULL}, 1, ""},
    {"{'a':1}", "{'a':1.0}", {NULL}, 1, ""},
    {"{'a':-0.0}", "{'a':0}", {NULL}, 1, ""},
    {"{'a':1}", "{'a':1.5}", {NULL}, 0, "/a"},
    {"9007199254740993", "9007199254740992.0", {NULL}, 0, ""},
    {"[1,2]", "[2,1]", {NULL}, 0, "/0"},
    {"[1,2]", "[1,2,3]", {NULL}, 0, "/2"},
    {"{'a':{'b':[1,{'c':'x'}]}}", "{'a':{'b':[1,{'c':'y'}]}}", {NULL}, 0, "/a/b/1/c"},
    {"{'a':1,'b':2}", "{'a':1}", {NULL}, 0, "/b"},
    {"{'a':1}", "{'a':1,'c':3}", {NULL}, 0, "/c"},
    {"{'a':'1'}", "{'a':1}", {NULL}, 0, "/a"},
    {"1", "2", {NULL}, 0, ""},
    {"null", "false", {NULL}, 0, ""},
    {"{'a/b':1}", "{'a/b':2}", {NULL}, 0, "/a~1b"},
    {"{'m~n':1}", "{'m~n':2}", {NULL}, 0, "/m~0n"},
    {"{'request_id':'x','v':1}", "{'request_id':'y','v':1}", {"/request_id"}, 1, ""},
    {"{'a':1,'t':5}", "{'a':1}", {"/t"}, 1, ""},
    {"{'items':[{'id':1,'created_at':'t1'},{'id':2,'created_at':'t2'}]}",
     "{'items':[{'id':1,'created_at':'u1'},{'id':2,'created_at':'u2'}]}",
     {"/items/*/created_at"},
     1,
     ""},
    {"{'items':[{'id':1,'created_at':'t1'},{'id':2,'created_at':'t2'}]}",
     "{'items':[{'id':1,'created_at':'u1'},{'id':3,'created_at':'u2'}]}",
     {"/items/*/created_at"},
     0,
     "/items/1/id"},
    {"{'a/b':1,'m~n':2,'x':3}", "{'a/b':9,'m~n':8,'x':3}", {"/a~1b", "/m~0n"}, 1, ""},
    {"{'a/b':1,'x':3}", "{'a/b':1,'x':4}", {"/a~1b"}, 0, "/x"},
    {"{'x':{'p':1,'q':2},'y':1}", "{'x':{'p':9,'q':8},'y':1}", {"/x/*"}, 1, ""},
    {"{'items':['a','b']}", "{'items':['c','b']}", {"/items/0"}, 1, ""},
    {"{'items':['a','b','z']}", "{'items':['b','z']}", {"/items/0"}, 0, "/items/1"},
    {"{'a':{'id':1,'v':1},'b':{'id':2,'v':1}}",
     "{'a':{'id':7,'v':1},'b':{'id':8,'v':1}}",
     {"/*/id"},
     1,
     ""},
    {"{'a':{'id':1,'v':1}}", "{'a':{'id':7,'v':2}}", {"/*/id"}, 0, "/a/v"},
    {"{'a':1}", "{'a':2}", {"/a/b/c"}, 0, "/a"},
    {"{'*':1,'k':1}", "{'*':2,'k':2}", {"/*"}, 1, ""},
    {"{'':1}", "{'':2}", {NULL}, 0, "/"},
    {"{'':1,'b':1}", "{'':2,'b':1}", {"/"}, 1, ""},
};

static json_t *
load(const char *z)
{
    char   *s = strdup(z), *p;
    json_t *j;

    for (p = s; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(s, JSON_DECODE_ANY, NULL);
    free(s);
    return j;
}

static void
test_equal(void)
{
    json_t *a, *b;
    char   *ignore[4], where[256];
    size_t  i;
    int     n, eq;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        a = load(cases[i].a);
        b = load(cases[i].b);
        for (n = 0; n < 4 && cases[i].ignore[n] != NULL; n++)
            ignore[n] = (char *)cases[i].ignore[n];
        eq = shadow_equal(a, b, ignore, n, where, sizeof(where));
        T_EQ_INT(eq, cases[i].equal, "case %zu: %s vs %s", i, cases[i].a, cases[i].b);
        T_EQ_STR(where, cases[i].where, "case %zu: where", i);
        /* Symmetric verdict (the pointer may name the other side's key). */
        T_EQ_INT(shadow_equal(b, a, ignore, n, NULL, 0), cases[i].equal, "case %zu reversed", i);
        json_decref(a);
        json_decref(b);
    }
}

static json_t *
route_stats(const char *route)
{
    json_t *all = shadow_json(),
           *r = json_incref(json_object_get(json_object_get(all, "routes"), route));

    json_decref(all);
    return r;
}

static const char *
sample_field(json_t *r, int i, const char *side, const char *field)
{
    json_t *x = json_array_get(json_object_get(r, "samples"), (size_t)i);

    if (side != NULL)
        x = json_object_get(x, side);
    return json_string_value(json_object_get(x, field));
}

static void
test_compare(void)
{
    static const struct {
        int         ls, ns;
        const char *lb, *nb;
        const char *lh, *nh; /* content-type values, "-" = absent */
        const char *where;   /* NULL = match */
    } rows[] = {
        {200, 200, "{\"id\":1,\"request_id\":\"a\"}", "{\"request_id\":\"b\",\"id\":1}", "json",
         "json", NULL},
        {200, 404, "{}", "{}", "json", "json", "status"},
        {200, 200, "{}", "{}", "json", "text", "header content-type"},
        {200, 200, "{}", "{}", "-", "json", "header content-type"},
        {200, 200, "<html>", "<html>", "-", "-", NULL},
        {200, 200, "<html>", "<body>", "-", "-", "body"},
        {200, 200, "{}", "<body>", "-", "-", "body"},
        {204, 204, "", "", "-", "-", NULL},
        {200, 200, "{\"id\":1}", "{\"id\":2}", "json", "json", "/id"},
    };
    struct gw_route      r = {.name = "products"};
    struct shadow_answer a, b;
    const char          *ha[1], *hb[1];
    json_t              *st;
    size_t               i;
    int                  matches = 0;

    r.shadow_ignore[0] = "/request_id";
    r.nshadow_ignore = 1;
    r.shadow_headers[0] = "content-type";
    r.nshadow_headers = 1;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ha[0] = strcmp(rows[i].lh, "-") != 0 ? rows[i].lh : NULL;
        hb[0] = strcmp(rows[i].nh, "-") != 0 ? rows[i].nh : NULL;
        a = (struct shadow_answer){rows[i].ls, rows[i].lb, strlen(rows[i].lb), ha};
        b = (struct shadow_answer){rows[i].ns, rows[i].nb, strlen(rows[i].nb), hb};
        shadow_compare_answers(&r, &a, &b, "GET /api/v1/products/1");
        matches += rows[i].where == NULL;
        st = route_stats("products");
        T_EQ_INT(json_integer_value(json_object_get(st, "matches")), matches, "row %zu: matches",
                 i);
        if (rows[i].where != NULL)
            T_EQ_STR(sample_field(st, 0, NULL, "where"), rows[i].where, "row %zu: where", i);
        json_decref(st);
    }
    st = route_stats("products");
    T_EQ_STR(sample_field(st, 0, "legacy", "body"), "{\"id\":1}", "newest sample first: legacy");
    T_EQ_STR(sample_field(st, 0, "new", "body"), "{\"id\":2}", "newest sample first: new");
    T_EQ_STR(sample_field(st, 0, NULL, "request"), "GET /api/v1/products/1", "request line kept");
    T_EQ_INT(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(json_object_get(st, "samples"), 5), "new"), "status")),
        404, "oldest sample: the status mismatch");
    json_decref(st);
}

static void
test_samples_and_metrics(void)
{
    struct gw_route r = {.name = "reviews"};
    char            line[64], *big;
    struct buf      m;
    json_t         *st;
    int             i;

    shadow_reset();
    for (i = 0; i < 25; i++) {
        snprintf(line, sizeof(line), "GET /r/%d", i);
        shadow_compare(&r, 200, "[1]", 3, 200, "[2]", 3, line);
    }
    shadow_compare(&r, 200, "[1]", 3, 200, "[1]", 3, "GET /same");
    shadow_drop("reviews");
    shadow_drop("reviews");
    st = route_stats("reviews");
    T_EQ_INT(json_integer_value(json_object_get(st, "mismatches")), 25, "25 mismatches");
    T_EQ_INT(json_integer_value(json_object_get(st, "matches")), 1, "1 match");
    T_EQ_INT(json_integer_value(json_object_get(st, "dropped")), 2, "2 dropped");
    T_EQ_INT(json_array_size(json_object_get(st, "samples")), 20, "samples bounded at 20");
    T_EQ_STR(sample_field(st, 0, NULL, "request"), "GET /r/24", "newest sample first");
    T_EQ_STR(sample_field(st, 19, NULL, "request"), "GET /r/5", "oldest kept sample");
    json_decref(st);

    big = malloc(100000);
    memset(big, 'x', 100000);
    big[0] = '\xff'; /* invalid UTF-8 survives as '?' */
    shadow_compare(&r, 200, big, 100000, 200, "ok", 2, "GET /big\xc3");
    free(big);
    st = route_stats("reviews");
    T_EQ_INT(strlen(sample_field(st, 0, "legacy", "body")), 65536, "sample body cut at 64 KiB");
    T_OK(json_is_true(json_object_get(
             json_object_get(json_array_get(json_object_get(st, "samples"), 0), "legacy"),
             "truncated")),
         "cut body marked truncated");
    T_EQ_INT(sample_field(st, 0, "legacy", "body")[0], '?', "invalid UTF-8 byte replaced");
    T_EQ_STR(sample_field(st, 0, NULL, "request"), "GET /big?", "request line made valid UTF-8");
    T_EQ_STR(sample_field(st, 0, NULL, "where"), "body", "non-JSON bodies compared as bytes");
    json_decref(st);

    buf_init(&m, 1 << 20);
    metrics_render(&m);
    T_OK(strstr(buf_data(&m), "souk_gateway_shadow_total{route=\"reviews\",result=\"mismatch\"} "
                              "26\n") != NULL,
         "mismatch counter in /metrics");
    T_OK(strstr(buf_data(&m),
                "souk_gateway_shadow_total{route=\"reviews\",result=\"dropped\"} 2\n") != NULL,
         "dropped counter in /metrics");
    buf_free(&m);
    shadow_reset();
    st = route_stats("reviews");
    T_EQ_INT(json_array_size(json_object_get(st, "samples")), 0, "reset drops samples");
    json_decref(st);
}

int
main(void)
{
    test_equal();
    test_compare();
    test_samples_and_metrics();
    shadow_reset();
    return T_DONE();
}
