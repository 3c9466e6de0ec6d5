/*
 * builtin.c - GET /health (liveness, answered on the loop), GET /ready (runs
 * server_spec.checks on a worker) and GET /metrics (Prometheus text), plus
 * the per-route series they render. Per-route request counters are a fixed
 * array of atomics indexed by status rather than registered metrics, so no
 * series is created on the request path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "builtin.h"
#include "conn.h"
#include "metrics.h"

#define METRICS_TEXT_MAX (8 << 20)

struct metric builtin_in_flight = {
    .name = "souk_http_in_flight",
    .help = "HTTP requests parsed and not yet answered.",
    .kind = METRIC_GAUGE,
};

static int health_get(struct req *r);
static int ready_get(struct req *r);
static int metrics_get(struct req *r);

const struct route builtin_routes[BUILTIN_ROUTES + 1] = {
    {"GET", "/health", health_get, 0, 0},
    {"GET", "/ready", ready_get, 0, 0},
    {"GET", "/metrics", metrics_get, 0, 0},
    {NULL, NULL, NULL, 0, 0},
};

int
builtin_inline(const struct route *rt)
{
    return rt->fn == health_get;
}

static int
health_get(struct req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";

    return req_reply_bytes(r, 200, "application/json", ok, sizeof(ok) - 1);
}

static void
decref(void *p)
{
    json_decref(p);
}

/* Forget what a check left behind (a req_fail detail, a reply). */
static void
forget_answer(struct req *r)
{
    r->st->err = ERR_OK;
    r->st->detail = NULL;
    r->st->replied = 0;
}

static int
ready_get(struct req *r)
{
    const struct server_check *ck = r->st->srv->spec->checks;
    json_t                    *checks = json_object();
    struct buf                *failing = buf_new(r->arena, 4096);
    int                        rc;

    arena_defer(r->arena, decref, checks);
    for (; ck != NULL && ck->name != NULL; ck++) {
        rc = ck->fn(r);
        forget_answer(r);
        json_object_set_new(checks, ck->name, json_string(rc == ERR_OK ? "ok" : "failing"));
        if (rc != ERR_OK)
            buf_printf(failing, "%s%s", buf_len(failing) ? ", " : "", ck->name);
    }
    if (buf_len(failing) > 0)
        return req_fail(r, ERR_UNAVAILABLE, "failing checks: %s", buf_data(failing));
    return req_reply(r, 200, json_pack("{s:s, s:O}", "status", "ready", "checks", checks));
}

static void
render_requests(struct buf *b, const struct server *srv)
{
    uint64_t n;
    int      i, s;

    buf_puts(b, "# HELP souk_http_requests_total HTTP requests answered, by route and status.\n"
                "# TYPE souk_http_requests_total counter\n");
    for (i = 0; i < srv->nstats; i++) {
        for (s = 0; s < ROUTE_STATUS_N; s++) {
            n = atomic_load_explicit(&srv->stats[i].by_status[s], memory_order_relaxed);
            if (n > 0)
                buf_printf(b, "souk_http_requests_total{%s,status=\"%d\"} %llu\n",
                           srv->stats[i].labels, s + 100, (unsigned long long)n);
        }
    }
}

static int
metrics_get(struct req *r)
{
    struct buf *b = buf_new(r->arena, METRICS_TEXT_MAX);

    metrics_render(b);
    render_requests(b, r->st->srv);
    if (buf_error(b))
        return req_fail(r, ERR_INTERNAL, "metrics text exceeds %d bytes", METRICS_TEXT_MAX);
    return req_reply_bytes(r, 200, "text/plain; version=0.0.4", buf_data(b), buf_len(b));
}

/* route="GET /x" with the label value escaped (backslash, quote, newline). */
static char *
labels_new(const char *label)
{
    struct buf b;
    size_t     n;

    buf_init(&b, 4096);
    buf_puts(&b, "route=\"");
    for (; *label != '\0'; label++) {
        if (*label == '\\' || *label == '"')
            buf_putc(&b, '\\');
        if (*label == '\n')
            buf_puts(&b, "\\n");
        else
            buf_putc(&b, *label);
    }
    buf_putc(&b, '"');
    if (buf_error(&b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b, &n);
}

static int
stat_init(struct route_stat *rs, const char *method, const char *path)
{
    size_t n = strlen(method) + strlen(path) + 2;

    rs->label = malloc(n);
    if (rs->label == NULL)
        return ERR_INTERNAL;
    if (path[0] != '\0')
        snprintf(rs->label, n, "%s %s", method, path);
    else
        snprintf(rs->label, n, "%s", method);
    rs->labels = labels_new(rs->label);
    if (rs->labels == NULL)
        return ERR_INTERNAL;
    rs->latency = metrics_labeled("souk_http_request_duration_seconds",
                                  "HTTP request duration from first byte to answer, by route.",
                                  METRIC_HISTOGRAM, rs->labels);
    return ERR_OK;
}

int
builtin_stats_init(struct server *srv)
{
    const struct route *rt;
    int                 i, rc = ERR_OK;

    metrics_register(&builtin_in_flight);
    srv->nstats = BUILTIN_ROUTES + srv->nspec + 1;
    srv->stats = calloc((size_t)srv->nstats, sizeof(*srv->stats));
    if (srv->stats == NULL)
        return ERR_INTERNAL;
    for (i = 0; i < srv->nstats && rc == ERR_OK; i++) {
        if (i < BUILTIN_ROUTES)
            rt = &builtin_routes[i];
        else if (i < BUILTIN_ROUTES + srv->nspec)
            rt = &srv->spec->routes[i - BUILTIN_ROUTES];
        else
            rt = NULL;
        rc = rt != NULL ? stat_init(&srv->stats[i], rt->method, rt->path)
                        : stat_init(&srv->stats[i], "unmatched", "");
    }
    return rc;
}

void
builtin_stats_free(struct server *srv)
{
    int i;

    for (i = 0; srv->stats != NULL && i < srv->nstats; i++) {
        free(srv->stats[i].label);
        free(srv->stats[i].labels);
    }
    free(srv->stats);
    srv->stats = NULL;
}
