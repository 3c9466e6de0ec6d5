/*
 * router.c - libFuzzer target: lib/router.c's server_route_match and
 * router_decode, over a fixed route table (the monolith's, plus edge cases:
 * the root, "{}", more captures than fit, a literal with an escape).
 *
 * Input: byte 0 picks the method, byte 1 max_params (0..9), byte 2 the size
 * of the Allow buffer (0..63); the rest is the raw request path. The path,
 * the captures array and the Allow buffer are heap blocks of exactly their
 * size, so any read or write past them is an ASan report.
 *
 * Invariants: ERR_INVALID exactly when the path has a bad escape or %00
 * (the same verdict as router_decode in strict mode); a match has the
 * request's method (or GET for HEAD), captures that are non-empty, '/'-free
 * views inside the path which decode strictly; Allow stays NUL-terminated
 * inside its buffer, is empty unless the answer is ERR_METHOD, and names
 * methods only; a second identical call gives the same answer; decoding
 * never grows the text.
 */
#include <string.h>

#include "fuzz.h"
#include "router.h"
#include "server.h"

static int
nop(struct req *r)
{
    (void)r;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/", nop, 0, 0},
    {"POST", "/api/v1/accounts/register", nop, 0, 0},
    {"POST", "/api/v1/accounts/login", nop, 0, 0},
    {"GET", "/api/v1/accounts/me", nop, 0, 0},
    {"PUT", "/api/v1/accounts/me/address", nop, 0, 0},
    {"GET", "/api/v1/categories", nop, 0, 0},
    {"GET", "/api/v1/products", nop, 0, 0},
    {"POST", "/api/v1/products", nop, 0, 0},
    {"GET", "/api/v1/products/{id}", nop, 0, 0},
    {"PUT", "/api/v1/products/{id}", nop, 0, 0},
    {"PUT", "/api/v1/products/{id}/stock", nop, 0, 0},
    {"GET", "/api/v1/products/{id}/reviews", nop, 0, 0},
    {"POST", "/api/v1/products/{id}/reviews", nop, 0, 0},
    {"GET", "/api/v1/search", nop, 0, 0},
    {"GET", "/api/v1/cart", nop, 0, 0},
    {"POST", "/api/v1/cart/items", nop, 0, 0},
    {"PUT", "/api/v1/cart/items/{product_id}", nop, 0, 0},
    {"DELETE", "/api/v1/cart/items/{product_id}", nop, 0, 0},
    {"POST", "/api/v1/orders", nop, 0, 0},
    {"GET", "/api/v1/orders", nop, 0, 0},
    {"GET", "/api/v1/orders/{id}", nop, 0, 0},
    {"GET", "/api/v1/reports/sales", nop, 0, 0},
    {"PATCH", "/x/{}", nop, 0, 0},
    {"OPTIONS", "/a b/c%d", nop, 0, 0},
    {"GET", "/m/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}", nop, 0, 0},
    {"DELETE", "/m/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}", nop, 0, 0},
    {"GET", "/t/{x}/{x}/", nop, 0, 0},
    {NULL, NULL, NULL, 0, 0},
};

static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get", "",
};

static int
hexdig(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The documented ERR_INVALID: a '%' not followed by two hex digits, or %00. */
static int
path_bad(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != '%')
            continue;
        if (n - i < 3 || !hexdig((unsigned char)p[i + 1]) || !hexdig((unsigned char)p[i + 2]))
            return 1;
        if (p[i + 1] == '0' && p[i + 2] == '0')
            return 1;
    }
    return 0;
}

static int
known_method(const char *p, size_t n)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    size_t                   i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0)
            return 1;
    return 0;
}

/* "GET, HEAD, POST": known names joined by ", ". */
static void
check_allow(const char *allow, size_t allow_len)
{
    const char *p = allow, *comma;
    size_t      n = strnlen(allow, allow_len);

    FUZZ_CHECK(n < allow_len);
    while (*p != '\0') {
        comma = strchr(p, ',');
        n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        FUZZ_CHECK(known_method(p, n));
        if (comma == NULL)
            break;
        FUZZ_CHECK(comma[1] == ' ');
        p = comma + 2;
    }
}

static void
decode_both(const char *p, size_t n, int strict_ok)
{
    char  *out = malloc(n + 1);
    size_t len = (size_t)-1;
    int    rc;

    FUZZ_CHECK(out != NULL);
    rc = router_decode(p, n, ROUTER_STRICT, out, &len);
    FUZZ_CHECK(rc == ERR_OK || rc == ERR_INVALID);
    if (strict_ok >= 0)
        FUZZ_CHECK((rc == ERR_OK) == strict_ok);
    /* %00 is refused, so a NUL in the result can only be a raw one of the input. */
    if (rc == ERR_OK)
        FUZZ_CHECK(len <= n && out[len] == '\0' &&
                   (memchr(out, '\0', len) == NULL || memchr(p, '\0', n) != NULL));
    FUZZ_CHECK(router_decode(p, n, ROUTER_FORM, out, &len) == ERR_OK);
    FUZZ_CHECK(len <= n && out[len] == '\0');
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct route *rt = NULL, *rt2 = NULL;
    struct route_param *params, *params2;
    const char         *method;
    char               *path, *allow, *allow2;
    size_t              n, allow_len;
    int                 max_params, np = -1, np2 = -1, rc, rc2, i, bad;

    if (size < 3)
        return 0;
    method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    max_params = data[1] % 10;
    allow_len = data[2] % 64;
    n = size - 3;
    path = malloc(n);
    params = malloc(sizeof(*params) * (size_t)max_params);
    params2 = malloc(sizeof(*params2) * (size_t)max_params);
    allow = malloc(allow_len);
    allow2 = malloc(allow_len);
    FUZZ_CHECK(path != NULL && params != NULL && params2 != NULL && allow != NULL &&
               allow2 != NULL);
    memcpy(path, data + 3, n);

    rc =
        server_route_match(routes, method, path, n, &rt, params, max_params, &np, allow, allow_len);
    bad = path_bad(path, n);
    FUZZ_CHECK((rc == ERR_INVALID) == bad);
    FUZZ_CHECK(rc == ERR_OK || rc == ERR_NOT_FOUND || rc == ERR_METHOD || rc == ERR_INVALID);
    FUZZ_CHECK((rc == ERR_OK) == (rt != NULL));
    FUZZ_CHECK(np >= 0 && np <= max_params);
    if (rc != ERR_OK)
        FUZZ_CHECK(np == 0);
    if (allow_len > 0) {
        check_allow(allow, allow_len);
        if (rc != ERR_METHOD)
            FUZZ_CHECK(allow[0] == '\0');
        else if (allow_len >= 48)
            FUZZ_CHECK(allow[0] != '\0'); /* room for any list of this table */
    }
    if (rt != NULL) {
        FUZZ_CHECK(strcmp(rt->method, method) == 0 ||
                   (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0));
        for (i = 0; i < np; i++) {
            FUZZ_CHECK(params[i].value >= path && params[i].value_len > 0 &&
                       params[i].value + params[i].value_len <= path + n);
            FUZZ_CHECK(memchr(params[i].value, '/', params[i].value_len) == NULL);
            FUZZ_CHECK(params[i].name > rt->path &&
                       params[i].name + params[i].name_len < rt->path + strlen(rt->path));
            decode_both(params[i].value, params[i].value_len, 1);
        }
    }

    /* Matching is a pure function of its inputs. */
    rc2 = server_route_match(routes, method, path, n, &rt2, params2, max_params, &np2, allow2,
                             allow_len);
    FUZZ_CHECK(rc2 == rc && rt2 == rt && np2 == np);
    for (i = 0; i < np; i++)
        FUZZ_CHECK(params2[i].value == params[i].value &&
                   params2[i].value_len == params[i].value_len);
    if (allow_len > 0)
        FUZZ_CHECK(strcmp(allow, allow2) == 0);

    decode_both(path, n, !bad);
    free(path);
    free(params);
    free(params2);
    free(allow);
    free(allow2);
    return 0;
}
