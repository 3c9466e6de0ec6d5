/*
 * routes_json.c - libFuzzer target: the gateway's route table validator
 * (routes_parse, routes_build, jcheck.c) on arbitrary bytes, then
 * routes_match, a mode change, a diff, and routes_unref.
 *
 * Input: a routes document, optionally followed by a NUL byte and a probe
 * "METHOD /path" (the last NUL splits). Every accepted table is matched
 * against the probe and a few fixed paths.
 *
 * Invariants: a refusal says why (errors not empty; one line per problem,
 * valid UTF-8 when the document was valid JSON, since admin.c returns
 * them as JSON strings); an accepted table keeps the documented rules
 * (README.routes.md: names, paths, 1-16 servers per upstream, mode needs
 * its pools, unique names); it survives the persist/reload round trip (its
 * document re-parses to the same routes in the same order); a template
 * route matches exactly the paths lib/router.c's server_route_match matches
 * for the same template (the gateway and the services agree on what a path
 * means, README.routes.md "Paths"); nothing leaks.
 */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "gateway.h"
#include "server.h"

#define ERRORS_MAX (1 << 16)

static const char default_doc[] =
    "{\"version\":1,\"upstreams\":{\"monolith\":{\"servers\":[\"127.0.0.1:7000\"]}},"
    "\"routes\":[{\"name\":\"products\",\"path\":\"/api/v1/products\",\"legacy\":\"monolith\"},"
    "{\"name\":\"catch_all\",\"path\":\"/\",\"legacy\":\"monolith\"}]}";

static struct gw_table *base;

static const char *const probes[] = {
    "GET /",
    "GET /api/v1/products",
    "GET /api/v1/products/42/reviews",
    "POST /api/v1/products/4%2F2/reviews",
    "DELETE /api/v1/cart/items/%41",
    "HEAD /api/v1/productsx",
    "PATCH /a/b/c/",
    "get /",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct buf errors;

    (void)argc;
    (void)argv;
    json_object_seed(1); /* deterministic key order: a crash reproduces */
    buf_init(&errors, ERRORS_MAX);
    FUZZ_CHECK(routes_parse(default_doc, strlen(default_doc), &base, &errors) == ERR_OK);
    buf_free(&errors);
    return 0;
}

static int
nop(struct req *r)
{
    (void)r;
    return 0;
}

static int
name_ok(const char *z)
{
    size_t n = strlen(z);

    return n >= 1 && n <= 64 &&
           strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int
hexdig(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* lib/router.c's ERR_INVALID: a '%' without two hex digits, or %00. */
static int
path_bad(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] == '%' && (n - i < 3 || !hexdig(p[i + 1]) || !hexdig(p[i + 2]) ||
                            (p[i + 1] == '0' && p[i + 2] == '0')))
            return 1;
    return 0;
}

/* "METHOD /path" (n bytes) against t. */
static void
probe(const struct gw_table *t, const char *z, size_t n)
{
    const struct gw_route *r;
    const struct route    *lr;
    struct route_param     params[8];
    struct route           one[2] = {{"GET", NULL, nop, 0, 0}, {NULL, NULL, NULL, 0, 0}};
    const char            *sp = memchr(z, ' ', n), *path;
    char                   method[16];
    size_t                 path_len;
    int                    i, np, lib, gw;

    if (sp == NULL || (size_t)(sp - z) >= sizeof(method))
        return;
    memcpy(method, z, (size_t)(sp - z));
    method[sp - z] = '\0';
    path = sp + 1;
    path_len = n - (size_t)(path - z);
    r = routes_match(t, method, path, path_len);
    if (r != NULL) {
        FUZZ_CHECK(r >= t->routes && r < t->routes + t->nroutes);
        /* A static route owns its paths for every method (the others are its 405), and
         * never the API's. */
        FUZZ_CHECK(r->static_app != NULL || r->methods == 0 ||
                   (r->methods & routes_method_bit(method)) != 0);
        FUZZ_CHECK(r->static_app == NULL || !(path_len >= 4 && memcmp(path, "/api", 4) == 0 &&
                                              (path_len == 4 || path[4] == '/')));
    }
    if (path_bad(path, path_len))
        return; /* the services answer 400 for it; the gateway matches it literally */
    for (i = 0; i < t->nroutes; i++) {
        if (!t->routes[i].is_template)
            continue;
        one[0].path = t->routes[i].path;
        lib =
            server_route_match(one, "GET", path, path_len, &lr, params, 8, &np, NULL, 0) == ERR_OK;
        /* routes_match on a table of this one route, every method allowed. */
        {
            struct gw_route only = t->routes[i];
            struct gw_table t1 = {.routes = &only, .nroutes = 1};

            only.methods = 0;
            gw = routes_match(&t1, "GET", path, path_len) != NULL;
        }
        if (lib != gw)
            fprintf(stderr, "template %s, path %.*s: lib/router.c %d, gateway %d\n",
                    t->routes[i].path, (int)path_len, path, lib, gw);
        FUZZ_CHECK(lib == gw);
    }
}

static void
check_table(const struct gw_table *t)
{
    const struct gw_route *r;
    int                    i, j;

    FUZZ_CHECK(t->nroutes >= 1 && t->npools >= 1 && t->doc != NULL);
    for (i = 0; i < t->npools; i++) {
        FUZZ_CHECK(name_ok(t->pools[i].name));
        /* README.routes.md: servers is required, 1 to 16. */
        FUZZ_CHECK(t->pools[i].nservers >= 1 && t->pools[i].nservers <= GW_MAX_SERVERS);
    }
    for (i = 0; i < t->nroutes; i++) {
        r = &t->routes[i];
        FUZZ_CHECK(r->name != NULL && name_ok(r->name));
        for (j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(r->name, t->routes[j].name) != 0);
        FUZZ_CHECK(r->path != NULL && r->path[0] == '/' && r->path_len == strlen(r->path));
        FUZZ_CHECK(r->is_template == (strchr(r->path, '{') != NULL));
        FUZZ_CHECK(r->legacy >= -1 && r->legacy < t->npools);
        FUZZ_CHECK(r->new_pool >= -1 && r->new_pool < t->npools);
        if (r->static_app != NULL) { /* the gateway's files: no upstream, GET and HEAD */
            FUZZ_CHECK(r->legacy == -1 && r->new_pool == -1 && !r->is_template && !r->hold);
            FUZZ_CHECK(r->methods != 0 &&
                       (r->methods & ~(routes_method_bit("GET") | routes_method_bit("HEAD"))) == 0);
            continue;
        }
        FUZZ_CHECK(r->mode == GW_MODE_NEW || r->legacy >= 0);
        FUZZ_CHECK(r->mode == GW_MODE_LEGACY || r->new_pool >= 0);
        FUZZ_CHECK(!r->fallback || r->legacy >= 0);
        FUZZ_CHECK(r->canary_percent >= 0 && r->canary_percent <= 100);
        FUZZ_CHECK(r->nshadow_ignore <= GW_MAX_IGNORE && r->nshadow_headers <= 8);
    }
}

/* What PUT /routes stores is what a restart reads back. */
static void
check_round_trip(const struct gw_table *t)
{
    json_t          *doc = routes_to_json(t);
    char            *text = json_dumps(doc, JSON_COMPACT);
    struct gw_table *t2 = NULL;
    struct buf       errors;
    int              i;

    FUZZ_CHECK(text != NULL);
    buf_init(&errors, ERRORS_MAX);
    if (routes_parse(text, strlen(text), &t2, &errors) != ERR_OK)
        fprintf(stderr, "round trip refused: %s\n", buf_data(&errors));
    FUZZ_CHECK(t2 != NULL && t2->nroutes == t->nroutes && t2->npools == t->npools);
    for (i = 0; i < t->nroutes; i++)
        FUZZ_CHECK(strcmp(t->routes[i].name, t2->routes[i].name) == 0 &&
                   strcmp(t->routes[i].path, t2->routes[i].path) == 0);
    routes_unref(t2);
    buf_free(&errors);
    free(text);
    json_decref(doc);
}

static void
check_errors(const struct buf *errors, int valid_json)
{
    const char *p = buf_data(errors);
    size_t      n = buf_len(errors);

    FUZZ_CHECK(n > 0 && p[n - 1] == '\n');
    if (valid_json)
        FUZZ_CHECK(utf8_valid(p, n));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const modes[] = {"legacy", "shadow", "canary", "new", "bogus"};
    const uint8_t           *nul = size > 0 ? memrchr(data, '\0', size) : NULL;
    size_t                   json_len = nul != NULL ? (size_t)(nul - data) : size;
    struct gw_table         *t = NULL, *t2 = NULL;
    struct buf               errors;
    json_t                  *diff, *j;
    char                    *json = malloc(json_len + 1);
    size_t                   i;
    int                      rc;

    FUZZ_CHECK(json != NULL);
    memcpy(json, data, json_len); /* exactly json_len bytes are routes_parse's */
    buf_init(&errors, ERRORS_MAX);
    rc = routes_parse(json, json_len, &t, &errors);
    if (rc != ERR_OK) {
        FUZZ_CHECK(rc == ERR_INVALID && t == NULL);
        j = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, NULL);
        if (buf_error(&errors) == ERR_OK)
            check_errors(&errors, j != NULL);
        json_decref(j);
        goto out;
    }
    FUZZ_CHECK(t != NULL && buf_len(&errors) == 0);
    check_table(t);
    check_round_trip(t);
    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        probe(t, probes[i], strlen(probes[i]));
    if (nul != NULL)
        probe(t, (const char *)nul + 1, size - json_len - 1);

    diff = routes_diff(base, t);
    FUZZ_CHECK(diff != NULL);
    json_decref(diff);
    diff = routes_diff(NULL, t);
    json_decref(diff);

    /* PATCH /routes/{name}: a mode change re-validates the whole table. */
    rc = routes_with_mode(t, t->routes[size % (size_t)t->nroutes].name, modes[size % 5],
                          (int)(size % 103) - 1, &t2, &errors);
    FUZZ_CHECK(rc == ERR_OK || rc == ERR_INVALID);
    FUZZ_CHECK((rc == ERR_OK) == (t2 != NULL));
    if (t2 != NULL)
        check_table(t2);
    routes_unref(t2);
    routes_unref(t);
out:
    buf_free(&errors);
    free(json);
    return 0;
}
