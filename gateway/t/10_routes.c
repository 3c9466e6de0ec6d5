/*
 * 10_routes.c - the route table: the default file, every class of
 * validation error reported at once with its path, most-specific-first
 * matching, PATCH of a mode, diff, install/persist/reload, and acquire
 * racing with swaps.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "t.h"

/* JSON fixtures use ' for " to stay readable in C. */
static char *
q(const char *z)
{
    char *s = strdup(z), *p;

    for (p = s; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static int
parse(const char *doc, struct gw_table **t, struct buf *errors)
{
    char *json = q(doc);
    int   rc = routes_parse(json, strlen(json), t, errors);

    free(json);
    return rc;
}

static void
test_default_file(void)
{
    /* Every v1 route starts legacy; those with a service already name it as
     * the one that will take them over (new == NULL: none yet). The v2 APIs
     * have no legacy side: mode new from the start. */
    static const struct {
        const char  *method, *path, *route, *legacy, *new;
        enum gw_mode mode;
    } cases[] = {
        {"GET", "/api/v1/products", "products", "monolith", "catalog", GW_MODE_LEGACY},
        {"GET", "/api/v1/products/5", "products", "monolith", "catalog", GW_MODE_LEGACY},
        {"PUT", "/api/v1/products/5/price", "products", "monolith", "catalog", GW_MODE_LEGACY},
        {"PUT", "/api/v1/products/5/stock", "stock", "monolith", "inventory", GW_MODE_LEGACY},
        {"GET", "/api/v1/products/5/reviews", "reviews", "monolith", "reviews", GW_MODE_LEGACY},
        {"POST", "/api/v1/products/5/reviews", "reviews", "monolith", "reviews", GW_MODE_LEGACY},
        {"GET", "/api/v1/productsx", "catch_all", "monolith", NULL, GW_MODE_LEGACY},
        {"GET", "/api/v1/categories", "categories", "monolith", "catalog", GW_MODE_LEGACY},
        {"GET", "/api/v1/search", "search", "monolith", "search", GW_MODE_LEGACY},
        {"POST", "/api/v1/accounts/login", "accounts", "monolith", "users", GW_MODE_LEGACY},
        {"DELETE", "/api/v1/cart/items/3", "cart", "monolith", "cart", GW_MODE_LEGACY},
        {"GET", "/api/v1/orders", "orders_read", "monolith", "history", GW_MODE_LEGACY},
        {"GET", "/api/v1/orders/7", "orders_read", "monolith", "history", GW_MODE_LEGACY},
        {"POST", "/api/v1/orders", "orders", "monolith", "orders", GW_MODE_LEGACY},
        {"GET", "/api/v1/reports/sales", "reports", "monolith", "reporting", GW_MODE_LEGACY},
        {"GET", "/api/v2/products", "products_v2", NULL, "catalog", GW_MODE_NEW},
        {"POST", "/api/v2/categories", "categories_v2", NULL, "catalog", GW_MODE_NEW},
        {"GET", "/api/v2/search", "search_v2", NULL, "search", GW_MODE_NEW},
        {"GET", "/api/v2/search/suggest", "search_v2", NULL, "search", GW_MODE_NEW},
        {"POST", "/api/v2/orders", "orders_v2", NULL, "orders", GW_MODE_NEW},
        {"GET", "/api/v2/orders/7", "orders_v2_one", NULL, "orders", GW_MODE_NEW},
        {"GET", "/api/v2/orders", "orders_v2_list", NULL, "history", GW_MODE_NEW},
        {"GET", "/api/v2/admin/order-events", "order_events_v2", NULL, "orders", GW_MODE_NEW},
        {"POST", "/api/v2/admin/history/swap", "history_admin_v2", NULL, "history", GW_MODE_NEW},
        {"GET", "/api/v2/admin/sagas", "sagas_v2", NULL, "orders", GW_MODE_NEW},
        {"GET", "/api/v2/products/5/stock", "stock_v2", NULL, "inventory", GW_MODE_NEW},
        {"GET", "/api/v2/products/5", "products_v2", NULL, "catalog", GW_MODE_NEW},
        {"GET", "/api/v2/payments/7", "payments_v2", NULL, "payments", GW_MODE_NEW},
        {"POST", "/api/v2/sessions", "sessions_v2", NULL, "users", GW_MODE_NEW},
        {"POST", "/api/v2/sessions/refresh", "sessions_v2", NULL, "users", GW_MODE_NEW},
        {"DELETE", "/api/v2/sessions/abc", "sessions_v2", NULL, "users", GW_MODE_NEW},
        {"GET", "/api/v2/reports/sales", "reports_v2", NULL, "reporting", GW_MODE_NEW},
        {"GET", "/api/v2/reports/top-products", "reports_v2", NULL, "reporting", GW_MODE_NEW},
        {"GET", "/api/v2/ordersx", "catch_all", "monolith", NULL, GW_MODE_LEGACY},
        {"GET", "/health", "storefront", NULL, NULL, GW_MODE_LEGACY}, /* a page */
        {"GET", "/product/12", "storefront", NULL, NULL, GW_MODE_LEGACY},
        {"POST", "/cart", "storefront", NULL, NULL, GW_MODE_LEGACY}, /* its 405 */
        {"GET", "/api/v9/nothing", "catch_all", "monolith", NULL, GW_MODE_LEGACY},
        {"POST", "/api/v1/nothing", "catch_all", "monolith", NULL, GW_MODE_LEGACY},
        {"GET", "/api", "catch_all", "monolith", NULL, GW_MODE_LEGACY},
    };
    struct gw_table       *t;
    const struct gw_route *r;
    struct buf             errors;
    size_t                 i;
    int                    rc;

    buf_init(&errors, 1 << 16);
    rc = routes_read_file("gateway/routes.default.json", &t, &errors);
    T_EQ_INT(rc, ERR_OK, "default routes file is valid");
    T_EQ_STR(buf_data(&errors), "", "default routes file: no errors");
    if (rc)
        return;
    T_EQ_INT(t->nroutes, 28, "default: 28 routes");
    T_EQ_INT(t->npools, 11,
             "default: monolith, catalog, search, users, reviews, cart, orders, inventory, "
             "payments, history and reporting upstreams");
    for (i = 0; i < (size_t)t->npools; i++)
        T_EQ_STR(t->pools[i].health_path, "/health", "default: %s health path", t->pools[i].name);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = routes_match(t, cases[i].method, cases[i].path, strlen(cases[i].path));
        T_EQ_STR(r != NULL ? r->name : NULL, cases[i].route, "default: %s %s", cases[i].method,
                 cases[i].path);
        if (r == NULL)
            continue;
        T_EQ_INT(r->mode, cases[i].mode, "default: %s mode", cases[i].path);
        T_EQ_STR(r->legacy >= 0 ? t->pools[r->legacy].name : NULL, cases[i].legacy,
                 "default: %s legacy upstream", cases[i].path);
        T_EQ_STR(r->new_pool >= 0 ? t->pools[r->new_pool].name : NULL, cases[i].new,
                 "default: %s new upstream", cases[i].path);
    }
    routes_unref(t);
    T_EQ_INT(routes_read_file("gateway/t/no-such-file.json", &t, &errors), ERR_NOT_FOUND,
             "a missing file is ERR_NOT_FOUND");
    T_OK(t == NULL, "no table from a missing file");
    buf_free(&errors);
}

/* One document with every class of mistake; all are reported in one go. */
static const char *const bad_doc =
    "{'version': 2, 'extra': 1,"
    " 'upstreams': {"
    "  'm': {'servers': ['127.0.0.1:7000', 'nohost', '127.0.0.1:0', '[::1]:80'],"
    "        'balance': 'random', 'health': {'path': 'health', 'interval_ms': 10},"
    "        'max_idle': -1, 'color': 'red'},"
    "  'bad name!': {'servers': []},"
    "  'big': {'servers': ['a:1','a:2','a:3','a:4','a:5','a:6','a:7','a:8','a:9','a:10',"
    "                      'a:11','a:12','a:13','a:14','a:15','a:16','a:17']}},"
    " 'routes': ["
    "  {'name': 'a', 'path': 'api', 'legacy': 'm', 'methods': ['GET', 'FETCH', 'GET']},"
    "  {'name': 'a', 'path': '/x/{id', 'legacy': 'nope'},"
    "  {'name': 'c', 'path': '/c', 'mode': 'canary', 'legacy': 'm'},"
    "  {'name': 'd', 'path': '/d', 'mode': 'shadow', 'new': 'm'},"
    "  {'name': 'e', 'path': '/e', 'mode': 'new', 'new': 'm', 'fallback': true},"
    "  {'name': 'f', 'path': '/f', 'legacy': 'm', 'mode': 'blue', 'canary_percent': 101,"
    "   'retries': '1', 'timeout_ms': 0, 'auth': 'root', 'bogus': 1},"
    "  {'name': 'g', 'path': '/g', 'legacy': 'm',"
    "   'rate_limit': {'ip': {'burst': 5}, 'user': {'rate': -1}, 'host': {}}},"
    "  {'name': 'h', 'path': '/h', 'legacy': 'm',"
    "   'shadow': {'ignore': ['a', '/x~2'], 'headers': ['Content-Type'], 'methods': []},"
    "   'rollback': {'error_rate': 2}},"
    "  {'name': 'g2', 'path': '/g', 'legacy': 'm'},"
    "  {'path': '/n', 'legacy': 'm'},"
    "  'str',"
    "  {'name': 'p q', 'path': '/a b', 'legacy': 'm'},"
    "  {'name': 'k', 'path': '/k/../x', 'legacy': 'm', 'max_body': 1.5}"
    " ]}";

static const char *const bad_doc_errors[] = {
    "version: must be 1",
    "extra: unknown field",
    "upstreams.m.servers[1]: must be \"host:port\" with a port between 1 and 65535",
    "upstreams.m.servers[2]: must be \"host:port\" with a port between 1 and 65535",
    "upstreams.m.balance: must be round_robin or least_conn",
    "upstreams.m.health.path: must start with '/'",
    "upstreams.m.health.interval_ms: must be an integer between 100 and 3600000",
    "upstreams.m.max_idle: must be an integer between 0 and 10000",
    "upstreams.m.color: unknown field",
    "upstreams.bad name!: name must be 1-64 characters of A-Z a-z 0-9 _ . -",
    "upstreams.bad name!.servers: must not be empty",
    "upstreams.big.servers: must be an array of at most 16 strings",
    "routes[0].path: must start with '/'",
    "routes[0].methods[1]: must be GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE or CONNECT",
    "routes[0].methods[2]: duplicate method",
    "routes[1].path: braces only as a whole segment \"{name}\"",
    "routes[1].legacy: unknown upstream",
    "routes[1].name: duplicate of routes[0]",
    "routes[2].new: required when mode is canary",
    "routes[2].canary_percent: required when mode is canary",
    "routes[3].legacy: required when mode is shadow",
    "routes[4].legacy: required when fallback is true",
    "routes[5].mode: must be legacy, shadow, canary or new",
    "routes[5].canary_percent: must be an integer between 0 and 100",
    "routes[5].retries: must be an integer between 0 and 5",
    "routes[5].timeout_ms: must be an integer between 1 and 3600000",
    "routes[5].auth: must be public, user or admin",
    "routes[5].bogus: unknown field",
    "routes[6].rate_limit.ip.rate: required",
    "routes[6].rate_limit.user.rate: must be a number between 0.001 and 1e+06",
    "routes[6].rate_limit.host: unknown field",
    "routes[7].shadow.ignore[0]: must be a JSON pointer starting with '/'",
    "routes[7].shadow.ignore[1]: '~' must be followed by 0 or 1",
    "routes[7].shadow.headers[0]: must be a lower-case header name",
    "routes[7].shadow.methods: must be a non-empty array of methods",
    "routes[7].rollback.error_rate: must be a number between 0.0001 and 1",
    "routes[8].path: same path and method as routes[6]",
    "routes[9].name: required",
    "routes[10]: must be an object",
    "routes[11].name: must be 1-64 characters of A-Z a-z 0-9 _ . -",
    "routes[11].path: must not contain spaces, control characters, '%', '?', '#' or '\\'",
    "routes[12].path: must not have empty, \".\" or \"..\" segments",
    "routes[12].max_body: must be an integer between 0 and 1073741824",
};

static int
has_line(const char *text, const char *line)
{
    size_t      n = strlen(line);
    const char *p;

    for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && p[n] == '\n')
            return 1;
    return 0;
}

static int
count_lines(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

static void
test_errors(void)
{
    static const struct {
        const char *doc, *first;
        int         nerr;
    } small[] = {
        {"{'version': 1,", "line 1 column 14: ", 1},
        {"[]", ": must be an object", 1},
        {"{}", "version: required", 3},
        {"{'version': 1, 'upstreams': {}, 'routes': []}", "upstreams: must be a non-empty object",
         2},
        {"{'version':1,'upstreams':{'m':{'servers':['h:1']}},'routes':[{'name':'x','path':'/',"
         "'legacy':'m','shadow':{'ignore':['/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q']}}]}",
         "routes[0].shadow.ignore[0]: must have at most 16 tokens", 1},
        {"{'version':1,'upstreams':{'m':{'servers':['h:1']}},'routes':[{'name':'x',"
         "'path':'/a/{id}/{Id}','legacy':'m'}]}",
         "routes[0].path: braces only as a whole segment \"{name}\"", 1},
    };
    struct gw_table *t = NULL;
    struct buf       errors;
    size_t           i;
    int              rc;

    buf_init(&errors, 1 << 16);
    rc = parse(bad_doc, &t, &errors);
    T_EQ_INT(rc, ERR_INVALID, "a bad document is ERR_INVALID");
    T_OK(t == NULL, "no table from a bad document");
    for (i = 0; i < sizeof(bad_doc_errors) / sizeof(bad_doc_errors[0]); i++)
        T_OK(has_line(buf_data(&errors), bad_doc_errors[i]), "reported: %s", bad_doc_errors[i]);
    T_EQ_INT(count_lines(buf_data(&errors)), (int)i, "nothing else reported");
    if (count_lines(buf_data(&errors)) != (int)i)
        printf("# got:\n%s", buf_data(&errors));
    for (i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        buf_reset(&errors);
        rc = parse(small[i].doc, &t, &errors);
        T_EQ_INT(rc, ERR_INVALID, "small[%zu] is invalid", i);
        if (!T_OK(strncmp(buf_data(&errors), small[i].first, strlen(small[i].first)) == 0,
                  "small[%zu] starts \"%s\"", i, small[i].first))
            printf("# got: %s", buf_data(&errors));
        T_EQ_INT(count_lines(buf_data(&errors)), small[i].nerr, "small[%zu] problem count", i);
    }
    buf_free(&errors);
}

static void
test_servers(void)
{
    static const struct {
        const char *server;
        int         ok;
    } rows[] = {
        {"127.0.0.1:7000", 1},
        {"catalog.internal:80", 1},
        {"[::1]:8080", 1},
        {"localhost:65535", 1},
        {"localhost", 0},
        {":80", 0},
        {"h:", 0},
        {"h:0", 0},
        {"h:65536", 0},
        {"h:-1", 0},
        {"h:+1", 0},
        {"[]:80", 0},
        {"[::1]80", 0},
        {"h h:80", 0},
        {"h/x:80", 0},
    };
    struct gw_table *t;
    struct buf       errors;
    char             doc[512];
    size_t           i;
    int              rc;

    buf_init(&errors, 1 << 12);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        buf_reset(&errors);
        snprintf(doc, sizeof(doc),
                 "{'version':1,'upstreams':{'m':{'servers':['%s']}},"
                 "'routes':[{'name':'r','path':'/','legacy':'m'}]}",
                 rows[i].server);
        rc = parse(doc, &t, &errors);
        T_EQ_INT(rc, rows[i].ok ? ERR_OK : ERR_INVALID, "server \"%s\"", rows[i].server);
        routes_unref(t);
    }
    buf_free(&errors);
}

static const char *const spec_doc =
    "{'version': 1, 'upstreams': {'m': {'servers': ['127.0.0.1:1']}}, 'routes': ["
    " {'name': 'root', 'path': '/', 'legacy': 'm'},"
    " {'name': 'api', 'path': '/api', 'legacy': 'm'},"
    " {'name': 'products', 'path': '/api/v1/products', 'legacy': 'm'},"
    " {'name': 'products_get', 'path': '/api/v1/products', 'methods': ['GET', 'HEAD'],"
    "  'legacy': 'm'},"
    " {'name': 'product', 'path': '/api/v1/products/{id}', 'legacy': 'm'},"
    " {'name': 'reviews', 'path': '/api/v1/products/{id}/reviews', 'legacy': 'm'},"
    " {'name': 'featured', 'path': '/api/v1/products/featured', 'legacy': 'm'},"
    " {'name': 'any_reviews', 'path': '/api/v1/{kind}/{id}/reviews', 'legacy': 'm'},"
    " {'name': 'star', 'path': '/{x}', 'legacy': 'm'}"
    "]}";

/* The sorted order documents the rule: longer literal prefix, then more
 * literal segments, then template before prefix, then method-restricted. */
static const char *const spec_order[] = {
    "featured",    "reviews", "product", "products_get", "products",
    "any_reviews", "api",     "star",    "root",
};

static const struct {
    const char *method, *path, *route; /* route NULL: no match */
} spec_cases[] = {
    {"GET", "/api/v1/products", "products_get"},
    {"HEAD", "/api/v1/products", "products_get"},
    {"POST", "/api/v1/products", "products"},
    {"PROPFIND", "/api/v1/products", "products"},
    {"GET", "/api/v1/productsx", "api"},
    {"GET", "/api/v1/products/", "products_get"},
    {"GET", "/api/v1/products/42", "product"},
    {"DELETE", "/api/v1/products/42/reviews", "reviews"},
    {"GET", "/api/v1/products/42/reviews/7", "products_get"},
    {"GET", "/api/v1/products/featured", "featured"},
    {"GET", "/api/v1/products/featured/x", "featured"},
    {"GET", "/api/v1/categories/3/reviews", "any_reviews"},
    {"GET", "/apix", "star"},
    {"GET", "/api", "api"},
    {"GET", "/a/b", "root"},
    {"GET", "/", "root"},
    {"GET", "/api/v1/pro%64ucts/42", "product"},
    {"GET", "/api/v1/products%2F42", "api"},
    {"GET", "/api/v1/products/4%2F2", "product"},
    {"GET", "", NULL},
    {"GET", "*", NULL},
};

static void
test_specificity(void)
{
    struct gw_table       *t;
    const struct gw_route *r;
    struct buf             errors;
    size_t                 i;
    int                    rc;

    buf_init(&errors, 1 << 16);
    rc = parse(spec_doc, &t, &errors);
    T_EQ_INT(rc, ERR_OK, "specificity table parses");
    buf_free(&errors);
    if (rc)
        return;
    for (i = 0; i < sizeof(spec_order) / sizeof(spec_order[0]); i++)
        T_EQ_STR(t->routes[i].name, spec_order[i], "sorted position %zu", i);
    for (i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
        r = routes_match(t, spec_cases[i].method, spec_cases[i].path, strlen(spec_cases[i].path));
        T_EQ_STR(r != NULL ? r->name : NULL, spec_cases[i].route, "%s \"%s\"", spec_cases[i].method,
                 spec_cases[i].path);
    }
    /* The path is a (pointer, length) view: bytes past path_len are not read. */
    r = routes_match(t, "GET", "/api/v1/products/42?x", strlen("/api/v1/products/42"));
    T_EQ_STR(r != NULL ? r->name : NULL, "product", "path_len bounds the match");
    routes_unref(t);
}

static const char *const patch_doc =
    "{'version': 1,"
    " 'upstreams': {'monolith': {'servers': ['127.0.0.1:7000']},"
    "               'catalog': {'servers': ['127.0.0.1:7101', '127.0.0.1:7102']}},"
    " 'routes': ["
    "  {'name': 'products', 'path': '/api/v1/products', 'legacy': 'monolith', 'new': 'catalog'},"
    "  {'name': 'cart', 'path': '/api/v1/cart', 'legacy': 'monolith', 'auth': 'user'}"
    " ]}";

static const struct gw_route *
named(const struct gw_table *t, const char *name)
{
    int i;

    for (i = 0; i < t->nroutes; i++)
        if (strcmp(t->routes[i].name, name) == 0)
            return &t->routes[i];
    return NULL;
}

static char *
dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

    json_decref(j);
    return s;
}

static void
test_patch(void)
{
    static const struct {
        const char *name, *mode;
        int         percent, rc;
        const char *error;
    } cases[] = {
        {"products", "canary", 10, ERR_OK, ""},
        {"products", "shadow", -1, ERR_OK, ""},
        {"products", "new", -1, ERR_OK, ""},
        {"cart", "canary", 10, ERR_INVALID, "routes[1].new: required when mode is canary\n"},
        {"cart", "sideways", -1, ERR_INVALID,
         "routes[1].mode: must be legacy, shadow, canary or new\n"},
        {"products", "canary", 101, ERR_INVALID,
         "routes[0].canary_percent: must be an integer between 0 and 100\n"},
        {"nope", "legacy", -1, ERR_NOT_FOUND, "nope: no such route\n"},
    };
    struct gw_table *t, *next;
    struct buf       errors;
    size_t           i;
    int              rc;

    buf_init(&errors, 1 << 16);
    rc = parse(patch_doc, &t, &errors);
    T_EQ_INT(rc, ERR_OK, "patch fixture parses");
    if (rc)
        return;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&errors);
        rc = routes_with_mode(t, cases[i].name, cases[i].mode, cases[i].percent, &next, &errors);
        T_EQ_INT(rc, cases[i].rc, "patch %s to %s %d", cases[i].name, cases[i].mode,
                 cases[i].percent);
        T_EQ_STR(buf_data(&errors), cases[i].error, "patch %zu: errors", i);
        if (rc)
            continue;
        T_EQ_STR(routes_mode_name(named(next, cases[i].name)->mode), cases[i].mode,
                 "patch %zu: mode applied", i);
        T_OK(cases[i].percent < 0 || named(next, cases[i].name)->canary_percent == cases[i].percent,
             "patch %zu: percent applied", i);
        routes_unref(next);
    }
    T_EQ_STR(routes_mode_name(named(t, "products")->mode), "legacy", "the source table is intact");
    routes_unref(t);
    buf_free(&errors);
}

static void
test_diff(void)
{
    struct gw_table *t, *next;
    struct buf       errors;
    char            *s;
    int              rc;

    buf_init(&errors, 1 << 16);
    rc = parse(patch_doc, &t, &errors);
    T_EQ_INT(rc, ERR_OK, "diff fixture parses");
    if (rc)
        return;
    rc = routes_with_mode(t, "products", "canary", 10, &next, &errors);
    T_EQ_INT(rc, ERR_OK, "canary 10 for the diff");
    s = dump(routes_diff(t, next));
    T_EQ_STR(s,
             "{\"added\":[],\"changed\":[{\"fields\":{\"canary_percent\":[null,10],\"mode\":[null,"
             "\"canary\"]},\"name\":\"products\"}],\"removed\":[],\"upstreams\":{\"added\":[],"
             "\"changed\":[],\"removed\":[]}}",
             "diff of a PATCH");
    free(s);
    s = dump(routes_diff(NULL, t));
    T_EQ_STR(s,
             "{\"added\":[\"products\",\"cart\"],\"changed\":[],\"removed\":[],\"upstreams\":{"
             "\"added\":[\"monolith\",\"catalog\"],\"changed\":[],\"removed\":[]}}",
             "diff against no table: everything added");
    free(s);
    routes_unref(next);

    buf_reset(&errors);
    rc = parse("{'version': 1, 'upstreams': {'monolith': {'servers': ['127.0.0.1:7001']}},"
               " 'routes': [{'name': 'cart', 'path': '/api/v1/cart', 'legacy': 'monolith',"
               " 'auth': 'user'}, {'name': 'orders', 'path': '/api/v1/orders',"
               " 'legacy': 'monolith'}]}",
               &next, &errors);
    T_EQ_INT(rc, ERR_OK, "second diff fixture parses");
    s = dump(routes_diff(t, next));
    T_EQ_STR(s,
             "{\"added\":[\"orders\"],\"changed\":[],\"removed\":[\"products\"],\"upstreams\":{"
             "\"added\":[],\"changed\":[\"monolith\"],\"removed\":[\"catalog\"]}}",
             "diff: added, removed, upstream changed");
    free(s);
    routes_unref(next);
    routes_unref(t);
    buf_free(&errors);
}

static int
has_event(const char *type, const char *needle)
{
    json_t *ev = gwevents_json(), *e;
    size_t  i;
    int     found = 0;

    json_array_foreach(json_object_get(ev, "events"), i, e)
    {
        found |= strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
                 strstr(json_string_value(json_object_get(e, "detail")), needle) != NULL;
    }
    json_decref(ev);
    return found;
}

static void
test_install(void)
{
    struct gw_table *t, *cur, *reread;
    struct buf       errors;
    char             dir[] = "/tmp/souk-routes-XXXXXX", path[256], tmp[270], cmd[300];
    uint64_t         v0;
    int              rc;

    buf_init(&errors, 1 << 16);
    T_OK(routes_acquire() == NULL, "no table before the first install");
    T_OK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof(path), "%s/sub/dir/routes.json", dir);
    rc = parse(patch_doc, &t, &errors);
    T_EQ_INT(rc, ERR_OK, "install fixture parses");
    rc = routes_install(t, path);
    T_EQ_INT(rc, ERR_OK, "install persists, creating the directories");
    cur = routes_acquire();
    T_OK(cur == t, "acquire returns the installed table");
    v0 = cur->version;
    T_EQ_INT(v0, 1, "first install is version 1");
    T_EQ_INT(routes_version(), v0, "routes_version without a lock");
    rc = routes_read_file(path, &reread, &errors);
    T_EQ_INT(rc, ERR_OK, "the persisted file reads back");
    T_OK(rc == ERR_OK && json_equal(reread->doc, cur->doc), "persisted document is identical");
    routes_unref(reread);
    T_OK(has_event("reload", "version 1"), "install logged a reload event");

    rc = routes_set_mode("products", "canary", 25, path, &errors);
    T_EQ_INT(rc, ERR_OK, "routes_set_mode");
    t = routes_acquire();
    T_EQ_INT(t->version, v0 + 1, "set_mode bumps the version");
    T_EQ_INT(routes_version(), v0 + 1, "routes_version follows");
    T_OK(named(t, "products")->mode == GW_MODE_CANARY && named(t, "products")->canary_percent == 25,
         "set_mode is live");
    T_EQ_INT(named(cur, "products")->mode, GW_MODE_LEGACY, "the old table is unchanged");
    T_OK(has_event("route_patch", "route products mode canary canary_percent 25"),
         "set_mode logged a route_patch event");
    routes_unref(cur);
    routes_unref(t);
    rc = routes_set_mode("nope", "legacy", -1, path, &errors);
    T_EQ_INT(rc, ERR_NOT_FOUND, "set_mode of an unknown route");

    rc = routes_load_file(path, &errors);
    T_EQ_INT(rc, ERR_OK, "reload from the persisted file");
    t = routes_acquire();
    T_EQ_INT(t->version, v0 + 2, "reload bumps the version");
    T_EQ_INT(named(t, "products")->canary_percent, 25, "the patch survived a reload");
    routes_unref(t);
    rc = routes_load_file("/nonexistent/routes.json", &errors);
    T_EQ_INT(rc, ERR_NOT_FOUND, "reload of a missing file fails");
    t = routes_acquire();
    T_EQ_INT(t->version, v0 + 2, "a failed reload keeps the current table");
    routes_unref(t);

    /* A directory where the temp file goes: the write fails even for root. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    T_EQ_INT(mkdir(tmp, 0755), 0, "an unwritable routes file");
    rc = routes_set_mode("products", "legacy", -1, path, &errors);
    T_OK(rc != ERR_OK, "set_mode: a failed write installs nothing");
    t = routes_acquire();
    T_EQ_INT(named(t, "products")->mode, GW_MODE_CANARY, "...the route keeps its mode");
    routes_unref(t);
    T_EQ_INT(routes_persisted(), 1, "...and memory still matches the file");
    rc = routes_force_mode("products", "legacy", path, &errors);
    T_EQ_INT(rc, ERR_OK, "force_mode: installed although the write failed");
    t = routes_acquire();
    T_EQ_INT(named(t, "products")->mode, GW_MODE_LEGACY, "...the route is legacy in memory");
    routes_unref(t);
    T_EQ_INT(routes_persisted(), 0, "...and the file is known to be behind");
    T_OK(has_event("persist_failed", path), "...a persist_failed event names the file");
    T_EQ_INT(rmdir(tmp), 0, "the routes file is writable again");
    rc = routes_set_mode("products", "legacy", -1, path, &errors);
    T_EQ_INT(rc, ERR_OK, "the next write succeeds");
    T_EQ_INT(routes_persisted(), 1, "...and memory matches the file again");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0, "cleanup");
    buf_free(&errors);
}

static _Atomic int  stop;
static _Atomic long progress[4];

/* Readers acquire, match and release while the main thread swaps tables;
 * under ASan a use-after-free here would abort. */
static void *
reader(void *arg)
{
    _Atomic long          *n = arg;
    struct gw_table       *t;
    const struct gw_route *r;

    while (!atomic_load(&stop)) {
        t = routes_acquire();
        r = routes_match(t, "GET", "/api/v1/products/1", 18);
        if (r != NULL && strcmp(r->name, "products") == 0)
            atomic_fetch_add(n, 1);
        routes_unref(t);
    }
    return NULL;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
readers_busy(void)
{
    int i;

    for (i = 0; i < 4; i++)
        if (atomic_load(&progress[i]) < 1000)
            return 0;
    return 1;
}

static void
test_swap_race(void)
{
    pthread_t        th[4];
    struct gw_table *t;
    struct buf       errors;
    double           t0, ns;
    int              i, failed = 0, n = 1000000;

    buf_init(&errors, 1 << 16);
    for (i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, reader, &progress[i]);
    t0 = now_s();
    for (i = 0; (i < 200 || !readers_busy()) && now_s() - t0 < 20; i++) {
        failed |= parse(patch_doc, &t, &errors) != ERR_OK;
        failed |= routes_install(t, NULL) != ERR_OK;
    }
    atomic_store(&stop, 1);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    T_OK(!failed, "installs while 4 threads acquire and match");
    T_OK(readers_busy(), "every reader matched the live table throughout");

    t0 = now_s();
    for (i = 0; i < n; i++)
        routes_unref(routes_acquire());
    ns = (now_s() - t0) * 1e9 / n;
    printf("# routes_acquire + routes_unref, uncontended: %.1f ns\n", ns);
    T_OK(ns < 2000, "acquire+unref is cheap");
    buf_free(&errors);
}

int
main(void)
{
    test_default_file();
    test_errors();
    test_servers();
    test_specificity();
    test_patch();
    test_diff();
    test_install();
    test_swap_race();
    routes_shutdown();
    T_OK(routes_acquire() == NULL && routes_version() == 0, "routes_shutdown released the table");
    return T_DONE();
}
