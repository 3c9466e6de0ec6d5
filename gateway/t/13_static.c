/*
 * 13_static.c - the pure rules of the gateway's own files (edge/static_rules.c):
 * types by extension, which names are immutable, the request path made safe
 * (escapes, dot segments, separators), If-None-Match lists and Accept-Encoding
 * with q-values.
 */
#include <string.h>

#include "arena.h"
#include "gateway.h"
#include "t.h"

static void
test_type(void)
{
    static const struct {
        const char *name, *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a/main-AB12CD34.js", "text/javascript; charset=utf-8"},
        {"style.CSS", "text/css; charset=utf-8"},
        {"icons/cart.svg", "image/svg+xml"},
        {"x.woff2", "font/woff2"},
        {"main-AB12CD34.js.LEGAL.txt", "text/plain; charset=utf-8"},
        {"README", "application/octet-stream"},
        {"dir.js/README",
         "application/octet-stream"}, /* a dot in a directory is not an extension */
        {"x.exe", "application/octet-stream"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_STR(static_type(cases[i].name), cases[i].type, "type of %s", cases[i].name);
}

static void
test_hashed(void)
{
    static const struct {
        const char *path;
        int         hashed;
    } cases[] = {
        {"main-IPSKCWEZ.js", 1},
        {"assets/style-3MVO7VGP.css", 1},
        {"main-IPSKCWEZ.js.LEGAL.txt", 1},
        {"index.html", 0},
        {"main-short.js", 0}, /* 5 characters: a word, not a hash */
        {"my-page.html", 0},
        {"-ABCDEFGH.js", 0},      /* no name before the hash */
        {"main-ABCD_EFGH.js", 0}, /* '_' is not in a hash */
        {"main-ABCDEFGH", 0},     /* no extension */
        {"v-ABCDEFGH.d/index.html", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_INT(static_hashed(cases[i].path), cases[i].hashed, "hashed(%s)", cases[i].path);
}

static void
test_clean(void)
{
    static const struct {
        const char *raw, *out; /* out NULL: ERR_INVALID */
    } cases[] = {
        {"", ""},
        {"index.html", "index.html"},
        {"product/12", "product/12"},
        {"icons/", "icons/"},
        {"a%20b.txt", "a b.txt"},
        {"%41.js", "A.js"},
        {"..", NULL},
        {"../x", NULL},
        {"a/../../x", NULL},
        {"./index.html", NULL},
        {"a/./b", NULL},
        {"%2e%2e/x", NULL},
        {"%2E%2e", NULL},
        {"..%2fx", NULL},
        {"a%2Fb", NULL},
        {"a%5c..%5cx", NULL},
        {"a\\b", NULL},
        {"%00", NULL},
        {"x%00.js", NULL},
        {"%0a", NULL},
        {"%7f", NULL},
        {"%zz", NULL},
        {"%4", NULL},
        {"a//b", NULL},
        {"/a", NULL},
        {"...", "..."}, /* only "." and ".." are special */
    };
    struct arena *a = arena_create();
    size_t        i;
    char         *out;
    int           rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = static_clean(a, cases[i].raw, strlen(cases[i].raw), &out);
        if (cases[i].out == NULL) {
            T_EQ_INT(rc, ERR_INVALID, "clean(\"%s\") is refused", cases[i].raw);
            T_OK(out == NULL, "clean(\"%s\"): no path", cases[i].raw);
        } else {
            T_EQ_INT(rc, ERR_OK, "clean(\"%s\") is accepted", cases[i].raw);
            T_EQ_STR(out, cases[i].out, "clean(\"%s\")", cases[i].raw);
        }
    }
    /* A NUL byte in the raw bytes (length-delimited input) is refused too. */
    T_EQ_INT(static_clean(a, "a\0b", 3, &out), ERR_INVALID, "a raw NUL is refused");
    arena_destroy(a);
}

static void
test_etag(void)
{
    static const struct {
        const char *inm;
        int         match;
    } cases[] = {
        {"\"abc\"", 1}, {"W/\"abc\"", 1},    {"\"x\", \"abc\"", 1}, {" \"x\" ,W/\"abc\" ", 1},
        {"*", 1},       {"\"abcd\"", 0},     {"\"ab\"", 0},         {"abc", 0},
        {"", 0},        {"\"x\", \"y\"", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_INT(static_etag_match(cases[i].inm, strlen(cases[i].inm), "\"abc\""), cases[i].match,
                 "If-None-Match: %s", cases[i].inm);
}

static void
test_gzip(void)
{
    static const struct {
        const char *ae;
        int         gzip;
    } cases[] = {
        {"gzip", 1},
        {"gzip, deflate, br", 1},
        {"br;q=1.0, GZIP;q=0.5", 1},
        {"x-gzip", 1},
        {"*", 1},
        {"deflate, br", 0},
        {"gzip;q=0", 0},
        {"gzip; q=0.000", 0},
        {"gzip;q=0.001", 1},
        {"*;q=0", 0},
        {"gzip;q=0, *", 0}, /* named explicitly: the star does not overrule it */
        {"identity", 0},
        {"", 0},
        {"gzipx", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_INT(static_accepts_gzip(cases[i].ae, strlen(cases[i].ae)), cases[i].gzip,
                 "Accept-Encoding: %s", cases[i].ae);
}

int
main(void)
{
    test_type();
    test_hashed();
    test_clean();
    test_etag();
    test_gzip();
    return T_DONE();
}
