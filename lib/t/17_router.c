/*
 * 17_router.c - server_route_match and router_decode: templates with {name}
 * segments, exact segment matching, 404 vs 405 with Allow, HEAD via GET,
 * trailing slashes and percent-encoded segments.
 */
#include <string.h>

#include "router.h"
#include "server.h"
#include "t.h"

static int
h(struct req *r)
{
    (void)r;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/api/v1/products", h, 0, 0},                    /* 0 */
    {"POST", "/api/v1/products", h, 0, 0},                   /* 1 */
    {"GET", "/api/v1/products/{id}", h, 0, 0},               /* 2 */
    {"PATCH", "/api/v1/products/{id}", h, 0, 0},             /* 3 */
    {"GET", "/api/v1/products/{id}/reviews/{rid}", h, 0, 0}, /* 4 */
    {"GET", "/api/v1/products/featured", h, 0, 0},           /* 5: after {id}: never wins */
    {"DELETE", "/api/v1/cart", h, 0, 0},                     /* 6 */
    {"HEAD", "/api/v1/cart", h, 0, 0},                       /* 7 */
    {"GET", "/api/v1/cart", h, 0, 0},                        /* 8 */
    {"GET", "/a b", h, 0, 0},                                /* 9 */
    {"GET", "/", h, 0, 0},                                   /* 10 */
    {NULL, NULL, NULL, 0, 0},
};

static const struct {
    const char *method, *path;
    int         rc;
    int         route;  /* index in routes, -1 for none */
    const char *params; /* "name=value;..." raw (still encoded) */
    const char *allow;
} cases[] = {
    {"GET", "/api/v1/products", ERR_OK, 0, "", ""},
    {"POST", "/api/v1/products", ERR_OK, 1, "", ""},
    {"GET", "/api/v1/products/42", ERR_OK, 2, "id=42;", ""},
    {"PATCH", "/api/v1/products/42", ERR_OK, 3, "id=42;", ""},
    {"GET", "/api/v1/products/7/reviews/9", ERR_OK, 4, "id=7;rid=9;", ""},
    {"GET", "/api/v1/products/featured", ERR_OK, 2, "id=featured;", ""},
    {"GET", "/api/v1/products/a%2Fb", ERR_OK, 2, "id=a%2Fb;", ""},
    {"GET", "/api/v1/pro%64ucts", ERR_OK, 0, "", ""},
    {"GET", "/api/v1/pro%64ucts/%34%32", ERR_OK, 2, "id=%34%32;", ""},
    {"GET", "/a%20b", ERR_OK, 9, "", ""},
    {"GET", "/", ERR_OK, 10, "", ""},
    /* HEAD: served by GET unless a HEAD route exists */
    {"HEAD", "/api/v1/products/5", ERR_OK, 2, "id=5;", ""},
    {"HEAD", "/api/v1/cart", ERR_OK, 7, "", ""},
    /* 404 */
    {"GET", "/api/v1/products/", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1/products//reviews/1", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1/products/1/reviews", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1/products/1/reviews/2/x", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "//api/v1/products", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1/productsx", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api/v1/product", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/API/v1/products", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "/api%2Fv1/products", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "", ERR_NOT_FOUND, -1, "", ""},
    {"GET", "api/v1/products", ERR_NOT_FOUND, -1, "", ""},
    /* 405 with Allow */
    {"DELETE", "/api/v1/products", ERR_METHOD, -1, "", "GET, HEAD, POST"},
    {"POST", "/api/v1/products/3", ERR_METHOD, -1, "", "GET, HEAD, PATCH"},
    {"PUT", "/api/v1/cart", ERR_METHOD, -1, "", "DELETE, HEAD, GET"},
    {"HEAD", "/api/v1/products/3/reviews/4/x", ERR_NOT_FOUND, -1, "", ""},
    /* bad escapes */
    {"GET", "/api/v1/products/%zz", ERR_INVALID, -1, "", ""},
    {"GET", "/api/v1/products/%4", ERR_INVALID, -1, "", ""},
    {"GET", "/api/v1/products/1%00", ERR_INVALID, -1, "", ""},
};

static void
params_text(const struct route_param *p, int n, char *out, size_t len)
{
    size_t used = 0;
    int    i, w;

    out[0] = '\0';
    for (i = 0; i < n && used < len; i++) {
        w = snprintf(out + used, len - used, "%.*s=%.*s;", (int)p[i].name_len, p[i].name,
                     (int)p[i].value_len, p[i].value);
        used += w > 0 ? (size_t)w : 0;
    }
}

static void
test_match(void)
{
    const struct route *rt;
    struct route_param  params[4];
    char                allow[64], got[256];
    size_t              i;
    int                 n, rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = server_route_match(routes, cases[i].method, cases[i].path, strlen(cases[i].path), &rt,
                                params, 4, &n, allow, sizeof(allow));
        T_EQ_STR(err_name(rc), err_name(cases[i].rc), "%s %s: rc", cases[i].method, cases[i].path);
        T_EQ_INT(rt != NULL ? rt - routes : -1, cases[i].route, "%s %s: route", cases[i].method,
                 cases[i].path);
        params_text(params, rc == ERR_OK ? n : 0, got, sizeof(got));
        T_EQ_STR(got, cases[i].params, "%s %s: params", cases[i].method, cases[i].path);
        T_EQ_STR(allow, cases[i].allow, "%s %s: allow", cases[i].method, cases[i].path);
    }
}

static void
test_limits(void)
{
    const struct route *rt;
    struct route_param  one[1];
    char                small[8];
    int                 n, rc;

    rc = server_route_match(routes, "GET", "/api/v1/products/1/reviews/2", 28, &rt, one, 1, &n,
                            small, sizeof(small));
    T_OK(rc == ERR_OK && n == 1 && one[0].value_len == 1, "captures stop at max_params");
    rc = server_route_match(routes, "DELETE", "/api/v1/products", 16, &rt, one, 1, &n, small,
                            sizeof(small));
    T_OK(rc == ERR_METHOD && strlen(small) < sizeof(small), "allow never overflows its buffer");
    T_EQ_STR(small, "GET", "allow keeps what fits");
    rc = server_route_match(routes, "GET", "/api/v1/products/9", 18, &rt, NULL, 0, &n, NULL, 0);
    T_OK(rc == ERR_OK && rt == &routes[2] && n == 0, "no capture buffers needed");
    rc = server_route_match(NULL, "GET", "/", 1, &rt, NULL, 0, &n, NULL, 0);
    T_EQ_INT(rc, ERR_NOT_FOUND, "an empty table matches nothing");
}

static const struct {
    const char *in;
    unsigned    mode;
    int         rc;
    const char *out;
} decodes[] = {
    {"abc", ROUTER_STRICT, ERR_OK, "abc"},         {"a%20b", ROUTER_STRICT, ERR_OK, "a b"},
    {"a+b", ROUTER_STRICT, ERR_OK, "a+b"},         {"%2f%2F", ROUTER_STRICT, ERR_OK, "//"},
    {"%C3%A9", ROUTER_STRICT, ERR_OK, "\xc3\xa9"}, {"%", ROUTER_STRICT, ERR_INVALID, ""},
    {"%g0", ROUTER_STRICT, ERR_INVALID, ""},       {"ab%0", ROUTER_STRICT, ERR_INVALID, ""},
    {"%00", ROUTER_STRICT, ERR_INVALID, ""},       {"a+b%21", ROUTER_FORM, ERR_OK, "a b!"},
    {"100%", ROUTER_FORM, ERR_OK, "100%"},         {"%zz", ROUTER_FORM, ERR_OK, "%zz"},
    {"x%00y", ROUTER_FORM, ERR_OK, "x%00y"},       {"", ROUTER_FORM, ERR_OK, ""},
};

static void
test_decode(void)
{
    char   out[64];
    size_t i, len;
    int    rc;

    for (i = 0; i < sizeof(decodes) / sizeof(decodes[0]); i++) {
        out[0] = '\0';
        rc = router_decode(decodes[i].in, strlen(decodes[i].in), decodes[i].mode, out, &len);
        T_EQ_INT(rc, decodes[i].rc, "decode \"%s\" mode %u: rc", decodes[i].in, decodes[i].mode);
        if (rc == ERR_OK) {
            T_EQ_STR(out, decodes[i].out, "decode \"%s\" mode %u", decodes[i].in, decodes[i].mode);
            T_EQ_INT(len, strlen(decodes[i].out), "decode \"%s\": length", decodes[i].in);
        }
    }
}

int
main(void)
{
    test_match();
    test_limits();
    test_decode();
    return T_DONE();
}
