/*
 * admin.c - the admin API on its own listener (loopback only, bearer token
 * compared in constant time), served by the main thread's control loop so
 * that validating, diffing and persisting a table (fsync) never stalls a
 * data loop: GET/PUT/PATCH /routes, PATCH /routes/{name}, POST /routes/dry-run,
 * GET /shadow, /upstreams, /events, /holds, /stats, /sync, /migration, /health,
 * /metrics, PUT /migration/{domain}.
 * It also carries the public API (/api/...) through the same route table,
 * proxy and edge checks as the public listener, so the control room at "/"
 * reads the services' admin views same-origin, with the user's own JWT.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

#define ERRORS_MAX 65536
#define DETAIL_MAX 4096

typedef void admin_fn(struct client *c, const char *arg);

struct admin_route {
    const char *method, *path;
    int         prefix; /* path is a prefix; the rest is arg */
    int         open;   /* no token needed (liveness probes, scrapers) */
    admin_fn   *fn;
    json_t *(*state)(void); /* instead of fn: answer 200 with this document */
};

static admin_fn routes_get, routes_put, routes_dry_run, routes_patch, routes_patch_all,
    upstreams_get, health_get, metrics_get, stats_get, migration_put_one;

static const struct admin_route admin_routes[] = {
    {"GET", "/routes", 0, 0, routes_get, NULL},
    {"PUT", "/routes", 0, 0, routes_put, NULL},
    {"POST", "/routes/dry-run", 0, 0, routes_dry_run, NULL},
    {"PATCH", "/routes", 0, 0, routes_patch_all, NULL},
    {"PATCH", "/routes/", 1, 0, routes_patch, NULL},
    {"GET", "/shadow", 0, 0, NULL, shadow_json},
    {"GET", "/upstreams", 0, 0, upstreams_get, NULL},
    {"GET", "/events", 0, 0, NULL, gwevents_json},
    {"GET", "/holds", 0, 0, NULL, hold_json},
    {"GET", "/stats", 0, 0, stats_get, NULL},
    {"GET", "/sync", 0, 0, NULL, syncwatch_json},
    {"GET", "/migration", 0, 0, NULL, migration_json},
    {"PUT", "/migration/", 1, 0, migration_put_one, NULL},
    {"GET", "/health", 0, 1, health_get, NULL},
    {"GET", "/metrics", 0, 1, metrics_get, NULL},
    {NULL, NULL, 0, 0, NULL, NULL},
};

/* ---- answers ------------------------------------------------------------------------ */

/* Reply with j (reference taken) as compact JSON. */
static void
reply_json(struct client *c, int status, json_t *j, const char *extra)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (s == NULL) {
        client_problem(c, ERR_INTERNAL, "cannot render the answer");
        return;
    }
    client_answer(c, status, "application/json", s, strlen(s), extra);
    free(s);
}

/* 400 listing every reason: in detail ("; "-joined) and as "errors". */
static void
reply_invalid(struct client *c, const struct buf *errors)
{
    struct buf  detail, list;
    const char *p = buf_data(errors), *nl;
    size_t      n;

    buf_init(&detail, DETAIL_MAX);
    buf_init(&list, ERRORS_MAX);
    buf_puts(&list, "\"errors\":[");
    for (; *p != '\0'; p = nl + (*nl == '\n')) {
        nl = strchrnul(p, '\n');
        n = (size_t)(nl - p);
        if (n == 0)
            continue;
        buf_printf(&detail, "%s%.*s", buf_len(&detail) > 0 ? "; " : "", (int)n, p);
        if (buf_len(&list) > 10)
            buf_putc(&list, ',');
        buf_json_str(&list, p, n);
    }
    buf_putc(&list, ']');
    client_problem_ext(c, ERR_INVALID, buf_len(&detail) > 0 ? buf_data(&detail) : "invalid table",
                       buf_error(&list) ? NULL : buf_data(&list));
    buf_free(&detail);
    buf_free(&list);
}

/* The request body as a JSON document, or answered (NULL). */
static json_t *
body_json(struct client *c)
{
    json_error_t e;
    json_t      *j;

    j = json_loadb(buf_data(&c->abody), buf_len(&c->abody), JSON_REJECT_DUPLICATES, &e);
    if (j == NULL) {
        char detail[256];

        snprintf(detail, sizeof(detail), "invalid json at line %d column %d: %s", e.line, e.column,
                 e.text);
        client_problem(c, ERR_BAD_JSON, detail);
    }
    return j;
}

/* ---- /routes -------------------------------------------------------------------------- */

static void
routes_get(struct client *c, const char *arg)
{
    struct gw_table *t = routes_acquire();
    char             extra[64];

    (void)arg;
    if (t == NULL) {
        client_problem(c, ERR_UNAVAILABLE, "no route table");
        return;
    }
    snprintf(extra, sizeof(extra), "X-Routes-Version: %llu\r\n", (unsigned long long)t->version);
    reply_json(c, 200, routes_to_json(t), extra);
    routes_unref(t);
}

/* A new table from the body, or answered (NULL). */
static struct gw_table *
body_table(struct client *c)
{
    struct gw_table *t = NULL;
    struct buf       errors;
    json_t          *doc = body_json(c);

    if (doc == NULL)
        return NULL;
    buf_init(&errors, ERRORS_MAX);
    if (routes_build(doc, &t, &errors) != ERR_OK)
        reply_invalid(c, &errors);
    json_decref(doc);
    buf_free(&errors);
    return t;
}

static void
routes_put(struct client *c, const char *arg)
{
    struct gw_table *next = body_table(c), *cur;
    json_t          *diff;
    uint64_t         version;

    (void)arg;
    if (next == NULL)
        return;
    upstream_servers_sync(next);    /* resolve names here, not on a data loop */
    static_reload(gateway.web_dir); /* a failure keeps the pages served, logged */
    cur = routes_acquire();
    diff = routes_diff(cur, next);
    routes_unref(cur);
    if (routes_install(next, gateway.routes_path) != ERR_OK) {
        json_decref(diff);
        client_problem(c, ERR_INTERNAL, "cannot persist the routes file");
        return;
    }
    health_sync();
    version = routes_version();
    reply_json(c, 200, json_pack("{s:I, s:o}", "version", (json_int_t)version, "diff", diff), NULL);
}

static void
routes_dry_run(struct client *c, const char *arg)
{
    struct gw_table *next = body_table(c), *cur;
    json_t          *diff;

    (void)arg;
    if (next == NULL)
        return;
    cur = routes_acquire();
    diff = routes_diff(cur, next);
    routes_unref(cur);
    routes_unref(next);
    reply_json(c, 200, json_pack("{s:b, s:o}", "valid", 1, "diff", diff), NULL);
}

/* One route's changes in a PATCH: only mode, canary_percent and hold, of the
 * right types. NULL or why not. */
static const char *
patch_problem(json_t *ch)
{
    const char *key;
    json_t     *v;

    if (!json_is_object(ch) || json_object_size(ch) == 0)
        return "each route's changes must be a non-empty object";
    json_object_foreach(ch, key, v)
    {
        if (strcmp(key, "mode") == 0 && !json_is_string(v))
            return "mode must be a string";
        if (strcmp(key, "canary_percent") == 0 && !json_is_integer(v))
            return "canary_percent must be an integer";
        if (strcmp(key, "hold") == 0 && !json_is_boolean(v))
            return "hold must be true or false";
        if (strcmp(key, "mode") != 0 && strcmp(key, "canary_percent") != 0 &&
            strcmp(key, "hold") != 0)
            return "only mode, canary_percent and hold may be patched";
    }
    return NULL;
}

/* Install changes ({"name": {...}}, reference taken) as one table and answer
 * {"version", "routes": changes, "held_ms": {"name": ms}} (held_ms: the
 * holds this change ended). */
static void
patch_apply(struct client *c, json_t *changes)
{
    json_t     *ended = json_object(), *ch;
    struct buf  errors;
    const char *name, *why = json_object_size(changes) == 0 ? "no route to change" : NULL;
    int         rc;

    json_object_foreach(changes, name, ch)
    {
        if (why == NULL)
            why = patch_problem(ch);
    }
    if (why != NULL) {
        client_problem(c, ERR_INVALID, why);
        json_decref(changes);
        json_decref(ended);
        return;
    }
    buf_init(&errors, ERRORS_MAX);
    rc = routes_patch_many(changes, gateway.routes_path, &errors, ended);
    if (rc == ERR_NOT_FOUND)
        client_problem(c, ERR_NOT_FOUND, "no such route");
    else if (rc == ERR_INVALID)
        reply_invalid(c, &errors);
    else if (rc)
        client_problem(c, ERR_INTERNAL, "cannot install the route change");
    else
        reply_json(c, 200,
                   json_pack("{s:I, s:O, s:O}", "version", (json_int_t)routes_version(), "routes",
                             changes, "held_ms", ended),
                   NULL);
    json_decref(changes);
    json_decref(ended);
    buf_free(&errors);
}

/* PATCH /routes/{name} {"mode": "canary", "canary_percent": 10, "hold": true}. */
static void
routes_patch(struct client *c, const char *name)
{
    json_t *j = body_json(c);

    if (j != NULL)
        patch_apply(c, json_pack("{s:o}", name, j));
}

/* PATCH /routes {"routes": {"reviews": {"mode": "new", "hold": false}, ...}}:
 * several routes in one install, so a cutover's flip and the end of its
 * hold happen at once for every route of a domain. */
static void
routes_patch_all(struct client *c, const char *arg)
{
    json_t *j = body_json(c), *routes;

    (void)arg;
    if (j == NULL)
        return;
    routes = json_object_get(j, "routes");
    if (!json_is_object(routes) || json_object_size(j) != 1)
        client_problem(c, ERR_INVALID, "the body must be {\"routes\": {name: changes}}");
    else
        patch_apply(c, json_incref(routes));
    json_decref(j);
}

/* ---- state ------------------------------------------------------------------------------ */

/* The value of ?name= in the target as an integer in [lo, hi]: def when it
 * is absent, -1 when it is there but not such a number. */
static long
query_long(struct client *c, const char *name, long lo, long hi, long def)
{
    struct str  t = hhead_target(&c->head);
    const char *q = memchr(t.p, '?', t.len), *end = t.p + t.len, *v;
    size_t      nl = strlen(name);
    long        n;

    for (q = q != NULL ? q + 1 : end; q < end; q = v + 1) {
        v = memchr(q, '&', (size_t)(end - q));
        v = v != NULL ? v : end;
        if ((size_t)(v - q) <= nl || memcmp(q, name, nl) != 0 || q[nl] != '=')
            continue;
        q += nl + 1;
        if (v - q < 1 || v - q > 9)
            return -1;
        for (n = 0; q < v; q++) {
            if (*q < '0' || *q > '9')
                return -1;
            n = n * 10 + (*q - '0');
        }
        return n >= lo && n <= hi ? n : -1;
    }
    return def;
}

/* GET /stats?window=60: per route and side, requests, errors, req/s, error
 * rate and p99 over the last window seconds, and each second of it. */
static void
stats_get(struct client *c, const char *arg)
{
    long window = query_long(c, "window", 1, 120, 60);

    (void)arg;
    if (window < 0) {
        client_problem(c, ERR_INVALID, "window must be a whole number of seconds, 1 to 120");
        return;
    }
    reply_json(c, 200, stats_json((int)window), NULL);
}

/* PUT /migration/{domain}: soukctl migrate's report of the domain's record. */
static void
migration_put_one(struct client *c, const char *domain)
{
    json_t    *doc = body_json(c);
    struct buf errors;
    int        rc;

    if (doc == NULL)
        return;
    buf_init(&errors, ERRORS_MAX);
    rc = migration_put(domain, doc, &errors);
    if (rc == ERR_INVALID)
        reply_invalid(c, &errors);
    else if (rc == ERR_CONFLICT)
        client_problem(c, ERR_CONFLICT, "16 domains are reported already");
    else
        reply_json(c, 200, json_pack("{s:s}", "domain", domain), NULL);
    buf_free(&errors);
}

static json_t *
server_json(const char *name)
{
    struct gw_server *g = upstream_server(name);

    return json_pack("{s:s, s:b, s:o, s:i, s:i}", "address", name, "healthy",
                     atomic_load(&g->healthy), "breaker", breaker_json(name), "in_flight",
                     atomic_load(&g->active), "idle", atomic_load(&g->idle));
}

/* Every pool of the current table with its servers' health, breaker and load. */
static void
upstreams_get(struct client *c, const char *arg)
{
    static const char *const balance[] = {"round_robin", "least_conn"};
    struct gw_table         *t = routes_acquire();
    json_t                  *pools = json_array(), *servers;
    int                      p, i;

    (void)arg;
    for (p = 0; t != NULL && p < t->npools; p++) {
        servers = json_array();
        for (i = 0; i < t->pools[p].nservers; i++)
            json_array_append_new(servers, server_json(t->pools[p].servers[i]));
        json_array_append_new(pools,
                              json_pack("{s:s, s:s, s:s?, s:o}", "name", t->pools[p].name,
                                        "balance", balance[t->pools[p].balance], "health_path",
                                        t->pools[p].health_path, "servers", servers));
    }
    routes_unref(t);
    reply_json(c, 200, json_pack("{s:o}", "pools", pools), NULL);
}

static void
health_get(struct client *c, const char *arg)
{
    static const char ok[] = "{\"status\":\"ok\"}";

    (void)arg;
    client_answer(c, 200, "application/json", ok, sizeof(ok) - 1, NULL);
}

static void
metrics_get(struct client *c, const char *arg)
{
    struct buf b;

    (void)arg;
    buf_init(&b, 8 << 20);
    metrics_text(&b);
    client_answer(c, 200, "text/plain; version=0.0.4", buf_data(&b), buf_len(&b), NULL);
    buf_free(&b);
}

/* ---- the request path --------------------------------------------------------------------- */

static const struct admin_route *
admin_find(struct client *c, const char **arg, int *path_known)
{
    const struct admin_route *r;
    struct str                t = hhead_target(&c->head);
    size_t                    n = strcspn(t.p, "?"), len;

    n = n < t.len ? n : t.len;
    *path_known = 0;
    for (r = admin_routes; r->method != NULL; r++) {
        len = strlen(r->path);
        if (r->prefix ? (n <= len || memcmp(t.p, r->path, len) != 0 ||
                         memchr(t.p + len, '/', n - len) != NULL)
                      : (n != len || memcmp(t.p, r->path, len) != 0))
            continue;
        *path_known = 1;
        if (strcmp(r->method, c->hph.method) != 0)
            continue;
        *arg = r->prefix ? arena_strndup(c->a, t.p + len, n - len) : NULL;
        return r;
    }
    return NULL;
}

/* /api/...: not the admin API's (no admin token: the API's own auth). */
static int
public_api(struct client *c)
{
    struct str t = hhead_target(&c->head);

    return t.len >= 5 && memcmp(t.p, "/api/", 5) == 0;
}

enum cphase
admin_begin(struct client *c)
{
    const struct admin_route *r;
    const char               *arg = NULL;
    int                       known;

    buf_reset(&c->abody);
    if (public_api(c))
        return proxy_begin(c); /* the public listener's way, checks and all */
    c->route_name = "admin";
    r = admin_find(c, &arg, &known);
    /* The console's files hold no secret; its calls to the API need the token. */
    if (r == NULL && !known && static_admin(c))
        return client_answered_phase(c);
    c->quiet = r != NULL && r->open; /* /health and /metrics: probes and scrapers */
    if (r == NULL || !r->open) {
        /* The token first: without it, nothing about the API is told. */
        if (!gwauth_admin(c)) {
            client_problem(c, ERR_UNAUTHORIZED, "admin bearer token required");
            return client_answered_phase(c);
        }
    }
    if (r == NULL) {
        client_problem(c, known ? ERR_METHOD : ERR_NOT_FOUND,
                       known ? "method not allowed here" : "no such admin resource");
        return client_answered_phase(c);
    }
    if (c->ri.has_length && c->ri.length > GW_ADMIN_BODY_MAX) {
        client_problem(c, ERR_TOO_LARGE, "request body is too large");
        return client_answered_phase(c);
    }
    c->aroute = r;
    c->aarg = arg;
    if (c->ri.expect_continue && (c->ri.chunked || c->left > 0) && c->hph.http_minor > 0) {
        sink_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25); /* curl waits a second */
        (void)sink_flush(&c->out);                              /* a failure shows at the answer */
    }
    return c->ri.chunked || c->left > 0 ? CP_BODY : CP_WAIT;
}

int
admin_body(struct client *c, const char *p, size_t n)
{
    buf_append(&c->abody, p, n);
    if (buf_error(&c->abody))
        return client_fail(c, ERR_TOO_LARGE, "request body is too large");
    return 0;
}

void
admin_run(struct client *c)
{
    const struct admin_route *r = c->aroute;

    c->aroute = NULL;
    if (r->state != NULL)
        reply_json(c, 200, r->state(), NULL); /* a state document: GET /shadow, /events, ... */
    else
        r->fn(c, c->aarg);
    buf_reset(&c->abody);
    client_exchange_end(c);
}
