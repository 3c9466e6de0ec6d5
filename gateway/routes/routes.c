/*
 * routes.c - building a route table from its JSON document: strict,
 * table-driven validation that reports every problem at once with a path
 * ("routes[2].mode: must be ..."), defaults, and most-specific-first order.
 * A table is immutable once built and owned by one arena. Matching and the
 * live table (swap, persist, diff, PATCH) are in routes_live.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "gateway.h"
#include "str.h"

#define NAME_MAX_LEN   64 /* route and upstream names end up in metric labels */
#define ROUTE_PATH_MAX 1024
#define IGNORE_DEPTH   16 /* tokens in one shadow ignore pointer */

const char *const        routes_method_names[] = {"GET",   "HEAD",    "POST",  "PUT",     "DELETE",
                                                  "PATCH", "OPTIONS", "TRACE", "CONNECT", NULL};
static const char *const mode_names[] = {"legacy", "shadow", "canary", "new", NULL};
static const char *const auth_names[] = {"public", "user", "admin", NULL};
static const char *const balance_names[] = {"round_robin", "least_conn", NULL};

/* The table and the arena that owns all of it; callers only see the first member. */
struct table_box {
    struct gw_table t;
    struct arena   *a;
};

/* ------------------------------------------------------------ value rules */

static const char *
name_problem(const char *z)
{
    size_t n = strlen(z);

    if (n == 0 || n > NAME_MAX_LEN ||
        strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return "must be 1-64 characters of A-Z a-z 0-9 _ . -";
    return NULL;
}

/* 1 when the n bytes at p are all in set. */
static int
all_in(const char *p, size_t n, const char *set)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] == '\0' || strchr(set, p[i]) == NULL)
            return 0;
    return 1;
}

/* host:port or [v6]:port, port 1..65535. */
static const char *
hostport_problem(const char *z)
{
    const char *colon = strrchr(z, ':');
    int64_t     port;
    int         ok;

    ok = colon != NULL && colon > z && colon[1] != '-' &&
         str_z_to_i64(colon + 1, 1, 65535, &port) == ERR_OK;
    if (ok && z[0] == '[')
        ok = colon - z > 2 && colon[-1] == ']' &&
             all_in(z + 1, (size_t)(colon - z - 2), "0123456789abcdefABCDEF:.");
    else if (ok)
        ok = colon - z <= 253 &&
             all_in(z, (size_t)(colon - z),
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
    return ok ? NULL : "must be \"host:port\" with a port between 1 and 65535";
}

static int
is_param_segment(const char *seg, const char *end)
{
    return end - seg > 2 && seg[0] == '{' && end[-1] == '}' &&
           strspn(seg + 1, "abcdefghijklmnopqrstuvwxyz_0123456789") == (size_t)(end - seg - 2);
}

/* Paths are compared with decoded request bytes, so they hold no escapes;
 * empty and dot segments would match differently than upstreams route. */
static const char *
path_problem(const char *z, int allow_template)
{
    const char *seg, *end, *p;
    size_t      n = strlen(z);

    if (z[0] != '/')
        return "must start with '/'";
    if (n > ROUTE_PATH_MAX)
        return "must be at most 1024 bytes";
    for (p = z; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("%?#\\", *p) != NULL)
            return "must not contain spaces, control characters, '%', '?', '#' or '\\'";
    for (seg = z + 1; n > 1; seg = end + 1) {
        end = strchrnul(seg, '/');
        if (end == seg || (end - seg == 1 && seg[0] == '.') ||
            (end - seg == 2 && seg[0] == '.' && seg[1] == '.'))
            return "must not have empty, \".\" or \"..\" segments";
        if (!(allow_template && is_param_segment(seg, end)) &&
            (memchr(seg, '{', (size_t)(end - seg)) || memchr(seg, '}', (size_t)(end - seg))))
            return allow_template ? "braces only as a whole segment \"{name}\""
                                  : "must not contain '{' or '}'";
        if (*end == '\0')
            break;
    }
    return NULL;
}

/* An app is a directory name under SOUK_GATEWAY_WEB_DIR. */
static const char *
app_problem(const char *z)
{
    size_t n = strlen(z);

    if (n == 0 || n > NAME_MAX_LEN ||
        strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
        return "must be an app directory: 1-64 characters of A-Z a-z 0-9 _ -";
    return NULL;
}

static const char *
route_path_problem(const char *z)
{
    return path_problem(z, 1);
}

static const char *
probe_path_problem(const char *z)
{
    return path_problem(z, 0);
}

/* RFC 6901 plus "*" tokens; '~' must be followed by 0 or 1. */
static const char *
pointer_problem(const char *z)
{
    const char *p;
    int         tokens = 0;

    if (z[0] != '/')
        return "must be a JSON pointer starting with '/'";
    for (p = z; *p != '\0'; p++) {
        tokens += *p == '/';
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return "'~' must be followed by 0 or 1";
    }
    return tokens > IGNORE_DEPTH ? "must have at most 16 tokens" : NULL;
}

static const char *
header_problem(const char *z)
{
    if (z[0] == '\0' || strspn(z, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(z))
        return "must be a lower-case header name";
    return NULL;
}

static void
doc_version(struct jcheck *c, json_t *v, const char *path, void *dst)
{
    (void)dst;
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        jcheck_bad(c, path, "must be 1");
}

static void
skip(struct jcheck *c, json_t *v, const char *path, void *dst)
{
    (void)c, (void)v, (void)path, (void)dst; /* routes_build: upstreams before routes */
}

static void
methods_fn(struct jcheck *c, json_t *v, const char *path, void *dst)
{
    unsigned *out = dst;
    json_t   *m;
    size_t    i;
    int       k;
    char      sub[JCHECK_PATH_LEN];

    *out = 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        jcheck_bad(c, path, "must be a non-empty array of methods");
        return;
    }
    json_array_foreach(v, i, m)
    {
        jcheck_index(sub, path, i);
        k = jcheck_enum_index(routes_method_names, json_string_value(m));
        if (k < 0)
            jcheck_bad(c, sub,
                       "must be GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE or CONNECT");
        else if (*out & GW_METHOD_BIT(k))
            jcheck_bad(c, sub, "duplicate method");
        else
            *out |= GW_METHOD_BIT(k);
    }
}

/* -2 = named but unknown (already reported), so a rule does not also say "required". */
static void
pool_fn(struct jcheck *c, json_t *v, const char *path, void *dst)
{
    struct gw_table *t = c->ctx;
    int             *out = dst, i;

    *out = -2;
    for (i = 0; json_is_string(v) && i < t->npools; i++)
        if (strcmp(t->pools[i].name, json_string_value(v)) == 0)
            *out = i;
    if (*out < 0)
        jcheck_bad(c, path,
                   json_is_string(v) ? "unknown upstream" : "must be the name of an upstream");
}

/* ------------------------------------------------------------ the tables */

/* clang-format off */
#define NUM(n, ty, S, m, lo, hi, req) \
    {.name = n, .type = JCHECK_##ty, .off = offsetof(S, m), .min = lo, .max = hi, .required = req}
#define ENUM(n, S, m, names) {.name = n, .type = JCHECK_ENUM, .off = offsetof(S, m), .aux = names}
#define STR(n, S, m, p, req) \
    {.name = n, .type = JCHECK_STR, .off = offsetof(S, m), .problem = p, .required = req}
#define STRS(n, S, m, count, p) \
    {.name = n, .type = JCHECK_STRS, .off = offsetof(S, m), .cnt = offsetof(S, count), \
     .max = sizeof(((S *)0)->m) / sizeof(char *), .problem = p}
#define BOOL(n, S, m)        {.name = n, .type = JCHECK_BOOL, .off = offsetof(S, m)}
#define FN(n, S, m, f, req)  {.name = n, .type = JCHECK_FN, .off = offsetof(S, m), .fn = f, .required = req}
#define SUB(n, sub)          {.name = n, .type = JCHECK_OBJ, .aux = sub}
#define END                  {.name = NULL}
/* clang-format on */

/* The top level has no C struct: version is checked here, upstreams and
 * routes are built by routes_build in that order (routes refer to upstreams). */
struct doc {
    int unused;
};

static const struct jcheck_field doc_fields[] = {
    FN("version", struct doc, unused, doc_version, 1),
    FN("upstreams", struct doc, unused, skip, 1),
    FN("routes", struct doc, unused, skip, 1),
    END,
};

#define P struct gw_pool_def
static const struct jcheck_field health_fields[] = {
    STR("path", P, health_path, probe_path_problem, 1),
    NUM("interval_ms", I64, P, health_interval_ms, 100, 3600000, 0), END};

static const struct jcheck_field pool_fields[] = {
    STRS("servers", P, servers, nservers, hostport_problem),
    ENUM("balance", P, balance, balance_names), SUB("health", health_fields),
    NUM("max_idle", INT, P, max_idle, 0, 10000, 0), END};
#undef P

#define R struct gw_route
static const struct jcheck_field rl_ip_fields[] = {NUM("rate", NUM, R, rl_ip_rate, 0.001, 1e6, 1),
                                                   NUM("burst", INT, R, rl_ip_burst, 1, 1000000, 0),
                                                   END};
static const struct jcheck_field rl_user_fields[] = {
    NUM("rate", NUM, R, rl_user_rate, 0.001, 1e6, 1),
    NUM("burst", INT, R, rl_user_burst, 1, 1000000, 0), END};
static const struct jcheck_field rl_fields[] = {SUB("ip", rl_ip_fields),
                                                SUB("user", rl_user_fields), END};

static const struct jcheck_field shadow_fields[] = {
    FN("methods", R, shadow_methods, methods_fn, 0),
    STRS("ignore", R, shadow_ignore, nshadow_ignore, pointer_problem),
    STRS("headers", R, shadow_headers, nshadow_headers, header_problem),
    NUM("max_body", SIZE, R, shadow_max_body, 0, 64 << 20, 0),
    NUM("max_inflight", INT, R, shadow_max_inflight, 1, 100000, 0),
    END};

static const struct jcheck_field rollback_fields[] = {
    NUM("error_rate", NUM, R, rollback_error_rate, 0.0001, 1, 1),
    NUM("window_ms", I64, R, rollback_window_ms, 1000, 3600000, 0),
    NUM("min_requests", INT, R, rollback_min_requests, 1, 1000000, 0), END};

static const struct jcheck_field route_fields[] = {
    STR("name", R, name, name_problem, 1),
    FN("methods", R, methods, methods_fn, 0),
    STR("path", R, path, route_path_problem, 1),
    FN("legacy", R, legacy, pool_fn, 0),
    FN("new", R, new_pool, pool_fn, 0),
    ENUM("mode", R, mode, mode_names),
    NUM("canary_percent", INT, R, canary_percent, 0, 100, 0),
    ENUM("auth", R, auth, auth_names),
    NUM("max_body", SIZE, R, max_body, 0, 1 << 30, 0),
    NUM("connect_timeout_ms", I64, R, connect_timeout_ms, 1, 60000, 0),
    NUM("timeout_ms", I64, R, timeout_ms, 1, 3600000, 0),
    NUM("retries", INT, R, retries, 0, 5, 0),
    BOOL("fallback", R, fallback),
    BOOL("hold", R, hold),
    NUM("hold_ms", I64, R, hold_ms, 1, 600000, 0),
    NUM("hold_max", INT, R, hold_max, 0, 100000, 0),
    SUB("rate_limit", rl_fields),
    SUB("shadow", shadow_fields),
    SUB("rollback", rollback_fields),
    STR("static", R, static_app, app_problem, 0),
    END};

/* Defaults for members left out; -1 is "no upstream". */
static const struct gw_route route_defaults = {
    .legacy = -1,
    .new_pool = -1,
    .mode = GW_MODE_LEGACY,
    .auth = GW_AUTH_PUBLIC,
    .max_body = 1 << 20,
    .connect_timeout_ms = 1000,
    .timeout_ms = 10000,
    .retries = 1,
    .shadow_methods = GW_METHOD_BIT(0) | GW_METHOD_BIT(1), /* GET, HEAD */
    .shadow_max_body = 1 << 20,
    .shadow_max_inflight = 64,
    .rollback_window_ms = 30000,
    .rollback_min_requests = 20,
    .hold_ms = 2000,
    .hold_max = 1000,
};
#undef R

/* ------------------------------------------------------------ building */

static void
build_pools(struct jcheck *c, json_t *ups)
{
    struct gw_pool_def *p;
    const char         *key, *problem;
    json_t             *v;
    int                 i, j;
    struct gw_table    *t = c->ctx;
    char                path[JCHECK_PATH_LEN], sub[JCHECK_PATH_LEN];

    if (ups == NULL)
        return; /* reported as required */
    if (!json_is_object(ups) || json_object_size(ups) == 0) {
        jcheck_bad(c, "upstreams", "must be a non-empty object");
        return;
    }
    t->pools = arena_array(c->a, struct gw_pool_def, json_object_size(ups));
    json_object_foreach(ups, key, v)
    {
        p = &t->pools[t->npools++];
        *p = (struct gw_pool_def){.name = arena_strdup(c->a, key),
                                  .health_interval_ms = 2000,
                                  .max_idle = 64,
                                  .balance = GW_BALANCE_ROUND_ROBIN};
        jcheck_path(path, "upstreams", key);
        problem = name_problem(key);
        if (problem != NULL)
            jcheck_bad(c, path, "name %s", problem);
        jcheck_object(c, v, path, pool_fields, p);
        jcheck_path(sub, path, "servers");
        if (json_is_object(v) && json_is_array(json_object_get(v, "servers")) &&
            json_array_size(json_object_get(v, "servers")) == 0)
            jcheck_bad(c, sub, "must not be empty");
        else if (json_is_object(v) && json_object_get(v, "servers") == NULL)
            jcheck_bad(c, sub, "required"); /* README.routes.md: 1 to 16 */
        for (i = 0; i < p->nservers; i++)
            for (j = 0; j < i; j++)
                if (strcmp(p->servers[i], p->servers[j]) == 0)
                    jcheck_bad(c, sub, "duplicate server \"%s\"", p->servers[i]);
    }
}

#define READ_BITS (GW_METHOD_BIT(0) | GW_METHOD_BIT(1)) /* GET, HEAD */

/* A static route answers from the gateway's files (edge/static.c): no
 * upstream, no mode, GET and HEAD only (its other methods are 405). */
static void
static_rules(struct jcheck *c, struct gw_route *r, json_t *v, const char *path)
{
    static const char *const proxy_only[] = {"legacy", "new", "mode", "canary_percent",
                                             "fallback", "hold", "shadow", "rollback", NULL};
    char                     sub[JCHECK_PATH_LEN];
    int                      i;

    for (i = 0; proxy_only[i] != NULL; i++)
        if (json_object_get(v, proxy_only[i]) != NULL) {
            jcheck_path(sub, path, proxy_only[i]);
            jcheck_bad(c, sub, "not allowed on a static route");
        }
    jcheck_path(sub, path, "methods");
    if (r->methods & ~READ_BITS)
        jcheck_bad(c, sub, "a static route answers GET and HEAD only");
    if (r->methods == 0)
        r->methods = READ_BITS;
    if (r->path != NULL && strchr(r->path, '{') != NULL) {
        jcheck_path(sub, path, "path");
        jcheck_bad(c, sub, "a static route is a prefix, not a template");
    }
}

/* Rules that involve more than one member of a route. */
static void
route_rules(struct jcheck *c, struct gw_route *r, json_t *v, const char *path)
{
    char sub[JCHECK_PATH_LEN];

    if (r->path != NULL) {
        r->path_len = strlen(r->path);
        r->is_template = strchr(r->path, '{') != NULL;
    }
    if (r->static_app != NULL) {
        static_rules(c, r, v, path);
        return;
    }
    jcheck_path(sub, path, "legacy");
    if (r->mode != GW_MODE_NEW && r->legacy == -1)
        jcheck_bad(c, sub, "required when mode is %s", mode_names[r->mode]);
    else if (r->fallback && r->legacy == -1)
        jcheck_bad(c, sub, "required when fallback is true");
    jcheck_path(sub, path, "new");
    if (r->mode != GW_MODE_LEGACY && r->new_pool == -1)
        jcheck_bad(c, sub, "required when mode is %s", mode_names[r->mode]);
    jcheck_path(sub, path, "canary_percent");
    if (r->mode == GW_MODE_CANARY && json_object_get(v, "canary_percent") == NULL)
        jcheck_bad(c, sub, "required when mode is canary");
    /* A burst defaults to one second's worth of tokens. */
    if (r->rl_ip_rate > 0 && r->rl_ip_burst == 0)
        r->rl_ip_burst = r->rl_ip_rate < 1 ? 1 : (int)ceil(r->rl_ip_rate);
    if (r->rl_user_rate > 0 && r->rl_user_burst == 0)
        r->rl_user_burst = r->rl_user_rate < 1 ? 1 : (int)ceil(r->rl_user_rate);
}

/* Unique names; two routes with one path must not share a method, or the
 * second could never match. A static route and a proxied one may share a
 * path: the static one never takes /api/ (routes_match). */
static void
cross_rules(struct jcheck *c)
{
    struct gw_table *t = c->ctx;
    struct gw_route *a, *b;
    int              i, j;
    char             path[JCHECK_PATH_LEN];

    for (j = 0; j < t->nroutes; j++) {
        b = &t->routes[j];
        for (i = 0; i < j; i++) {
            a = &t->routes[i];
            if (a->name != NULL && b->name != NULL && strcmp(a->name, b->name) == 0) {
                snprintf(path, sizeof(path), "routes[%d].name", j);
                jcheck_bad(c, path, "duplicate of routes[%d]", i);
            }
            if (a->path != NULL && b->path != NULL && strcmp(a->path, b->path) == 0 &&
                (a->static_app == NULL) == (b->static_app == NULL) &&
                ((a->methods == 0 && b->methods == 0) || (a->methods & b->methods) != 0)) {
                snprintf(path, sizeof(path), "routes[%d].path", j);
                jcheck_bad(c, path, "same path and method as routes[%d]", i);
            }
        }
    }
}

static void
build_routes(struct jcheck *c, json_t *arr)
{
    struct gw_table *t = c->ctx;
    struct gw_route *r;
    json_t          *v;
    size_t           i;
    char             path[JCHECK_PATH_LEN];

    if (arr == NULL)
        return;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        jcheck_bad(c, "routes", "must be a non-empty array");
        return;
    }
    t->routes = arena_array(c->a, struct gw_route, json_array_size(arr));
    json_array_foreach(arr, i, v)
    {
        r = &t->routes[t->nroutes++];
        *r = route_defaults;
        snprintf(path, sizeof(path), "routes[%zu]", i);
        jcheck_object(c, v, path, route_fields, r);
        if (json_is_object(v))
            route_rules(c, r, v, path);
    }
    cross_rules(c);
}

/* Literal bytes before the first "{" (a prefix route: all of it). */
static long
literal_prefix(const struct gw_route *r)
{
    return (long)strcspn(r->path, "{");
}

static long
literal_segments(const struct gw_route *r)
{
    const char *p;
    long        n = 0;

    for (p = r->path; *p != '\0'; p++)
        n += p[0] == '/' && p[1] != '\0' && p[1] != '{';
    return n;
}

/* Most specific first (README.routes.md, "Which route wins"): each key in
 * turn, larger first; the name makes the order total. */
static int
route_cmp(const void *x, const void *y)
{
    const struct gw_route *a = x, *b = y;
    long   ka[] = {literal_prefix(a), literal_segments(a), a->is_template, a->static_app != NULL,
                   a->methods != 0};
    long   kb[] = {literal_prefix(b), literal_segments(b), b->is_template, b->static_app != NULL,
                   b->methods != 0};
    size_t i;

    for (i = 0; i < sizeof(ka) / sizeof(ka[0]); i++)
        if (ka[i] != kb[i])
            return ka[i] > kb[i] ? -1 : 1;
    return strcmp(a->name, b->name);
}

int
routes_build(json_t *doc, struct gw_table **out, struct buf *errors)
{
    struct jcheck     c = {.errors = errors};
    struct table_box *box;
    struct gw_table  *t;
    struct doc        unused;

    *out = NULL;
    c.a = arena_create();
    box = arena_new(c.a, struct table_box);
    box->a = c.a;
    t = &box->t;
    c.ctx = t;
    jcheck_object(&c, doc, "", doc_fields, &unused);
    if (json_is_object(doc)) {
        build_pools(&c, json_object_get(doc, "upstreams"));
        build_routes(&c, json_object_get(doc, "routes"));
    }
    if (c.nerr > 0) {
        arena_destroy(c.a);
        return ERR_INVALID;
    }
    qsort(t->routes, (size_t)t->nroutes, sizeof(struct gw_route), route_cmp);
    atomic_init(&t->refs, 1);
    t->doc = json_incref(doc);
    *out = t;
    return ERR_OK;
}

int
routes_parse(const char *json, size_t len, struct gw_table **out, struct buf *errors)
{
    json_error_t jerr;
    json_t      *doc;
    int          rc;

    *out = NULL;
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        buf_printf(errors, "line %d column %d: %s\n", jerr.line, jerr.column, jerr.text);
        return ERR_INVALID;
    }
    rc = routes_build(doc, out, errors);
    json_decref(doc);
    return rc;
}

void
routes_unref(struct gw_table *t)
{
    struct table_box *box = (struct table_box *)(void *)t;

    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    json_decref(t->doc);
    arena_destroy(box->a);
}

unsigned
routes_method_bit(const char *method)
{
    int i = jcheck_enum_index(routes_method_names, method);

    return i >= 0 ? GW_METHOD_BIT(i) : 0;
}

const char *
routes_mode_name(enum gw_mode m)
{
    return (unsigned)m <= GW_MODE_NEW ? mode_names[m] : "?";
}
