/*
 * stats.c - the gateway's metrics and access log. Counters live per route
 * name and per upstream address for the process's lifetime, so a route
 * table swap keeps them; loops reach them through their table cache, and
 * updates are relaxed atomics (no lock on the request path). /metrics adds
 * the servers' health and load; breaker.c and shadow.c register their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"

#define LOG_EXTRA_MAX 12288

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_stat *stats_head;
static const char     *class_names[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

static char *
xstrdup(const char *z)
{
    char *s = strdup(z);

    if (s == NULL) {
        log_error("out of memory");
        abort();
    }
    return s;
}

static struct gw_stat *
stat_get(const char *name, int is_route)
{
    struct gw_stat *s;
    struct buf      b;
    size_t          n;

    pthread_mutex_lock(&stats_lock);
    for (s = stats_head; s != NULL; s = s->next)
        if (s->is_route == is_route && strcmp(s->name, name) == 0)
            break;
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            log_error("out of memory");
            abort();
        }
        s->name = xstrdup(name);
        s->is_route = is_route;
        buf_init(&b, 1024);
        buf_puts(&b, is_route ? "route=" : "upstream=");
        buf_json_str(&b, name, strlen(name)); /* names are plain: JSON quoting is label quoting */
        s->labels = buf_take(&b, &n);
        s->latency = metrics_labeled(
            is_route ? "souk_gateway_request_duration_seconds"
                     : "souk_gateway_upstream_duration_seconds",
            is_route ? "Request duration at the gateway, first byte to answer, by route."
                     : "Upstream attempt duration, by server.",
            METRIC_HISTOGRAM, s->labels);
        s->next = stats_head;
        stats_head = s;
    }
    pthread_mutex_unlock(&stats_lock);
    return s;
}

struct gw_stat *
stats_route(const char *name)
{
    return stat_get(name, 1);
}

struct gw_stat *
stats_upstream(const char *address)
{
    return stat_get(address, 0);
}

void
stats_count(struct gw_stat *s, int status, uint64_t us)
{
    int k = status >= 100 && status < 600 ? status / 100 : 0;

    atomic_fetch_add_explicit(&s->by_class[k], 1, memory_order_relaxed);
    metrics_observe(s->latency, us);
}

/* Upper bounds in microseconds of the side latency buckets; the last is
 * everything slower. Finer than the Prometheus histogram: a p99 read from
 * them is off by at most one bucket, which a chart shows well enough. */
const uint64_t stats_lat_bounds[GW_LAT_BUCKETS - 1] = {
    250,    500,    1000,   2000,    5000,    10000,   20000,    50000,
    100000, 200000, 500000, 1000000, 2000000, 5000000, 10000000,
};

void
stats_side(struct gw_stat *s, int side, int status, uint64_t us)
{
    struct gw_side_stat *d = &s->side[side ? 1 : 0];
    int                  b = 0;

    while (b < GW_LAT_BUCKETS - 1 && us > stats_lat_bounds[b])
        b++;
    atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
    if (status == 0 || status >= 500)
        atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->lat[b], 1, memory_order_relaxed);
}

void
stats_each_route(void (*fn)(struct gw_stat *s, void *ctx), void *ctx)
{
    struct gw_stat *s;

    pthread_mutex_lock(&stats_lock);
    for (s = stats_head; s != NULL; s = s->next)
        if (s->is_route)
            fn(s, ctx);
    pthread_mutex_unlock(&stats_lock);
}

static void
log_access(enum log_level l, const char *extra, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(l, extra, fmt, ap);
    va_end(ap);
}

static void
put_member(struct buf *b, const char *key, const char *z, size_t n)
{
    buf_printf(b, ",\"%s\":", key);
    if (z == NULL)
        buf_puts(b, "null");
    else
        buf_json_str(b, z, n);
}

void
stats_access(struct client *c)
{
    static struct gw_stat *unmatched;
    struct str             t = hhead_target(&c->head);
    uint64_t               us = (uv_hrtime() - c->t_begin) / 1000;
    size_t                 n = strcspn(t.p, "?");
    struct buf             b;

    if (c->rstat == NULL && unmatched == NULL)
        unmatched = stats_route("-"); /* idempotent: a race registers it once */
    stats_count(c->rstat != NULL ? c->rstat : unmatched, c->status, us);
    /* Probes come every few seconds: at info they would bury what a person reads. */
    if (!gateway.access_log || !log_enabled(c->quiet ? LOG_DEBUG : LOG_INFO))
        return;
    buf_init(&b, LOG_EXTRA_MAX);
    buf_puts(&b, "\"request_id\":");
    buf_json_str(&b, c->rid != NULL ? c->rid : "", c->rid != NULL ? strlen(c->rid) : 0);
    put_member(&b, "method", c->head_done ? c->hph.method : NULL,
               c->head_done ? strlen(c->hph.method) : 0);
    put_member(&b, "path", c->head_done ? t.p : NULL, n < t.len ? n : t.len);
    put_member(&b, "route", c->route_name, c->route_name ? strlen(c->route_name) : 0);
    put_member(&b, "mode", c->mode_name, c->mode_name ? strlen(c->mode_name) : 0);
    put_member(&b, "upstream", c->upstream_name, c->upstream_name ? strlen(c->upstream_name) : 0);
    buf_printf(&b, ",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%llu.%03llu", c->status,
               (unsigned long long)c->bytes, (unsigned long long)(us / 1000),
               (unsigned long long)(us % 1000));
    put_member(&b, "client", c->ip, strlen(c->ip));
    log_access(c->quiet ? LOG_DEBUG : LOG_INFO, buf_error(&b) ? NULL : buf_data(&b), "access");
    buf_free(&b);
}

/* ---- /metrics -------------------------------------------------------------------- */

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_classes(struct buf *b, int routes)
{
    const char *name =
        routes ? "souk_gateway_requests_total" : "souk_gateway_upstream_requests_total";
    struct gw_stat *s;
    uint64_t        v;
    int             k;

    family(b, name, "counter",
           routes ? "Requests answered, by route and status class (none: no answer)."
                  : "Upstream attempts, by server and status class (none: failed).");
    for (s = stats_head; s != NULL; s = s->next) {
        for (k = 0; s->is_route == routes && k < 6; k++) {
            v = atomic_load_explicit(&s->by_class[k], memory_order_relaxed);
            if (v > 0)
                buf_printf(b, "%s{%s,class=\"%s\"} %llu\n", name, s->labels, class_names[k],
                           (unsigned long long)v);
        }
    }
}

/* One counter or gauge per route (or server), read by offset in gw_stat. */
static void
render_field(struct buf *b, const char *name, const char *help, int routes, size_t off,
             const char *extra)
{
    struct gw_stat *s;

    if (help != NULL)
        family(b, name, "counter", help);
    for (s = stats_head; s != NULL; s = s->next)
        if (s->is_route == routes)
            buf_printf(b, "%s{%s%s} %llu\n", name, s->labels, extra != NULL ? extra : "",
                       (unsigned long long)atomic_load_explicit(
                           (_Atomic uint64_t *)((char *)s + off), memory_order_relaxed));
}

/* A per-route field hold.c keeps in milliseconds, rendered in seconds (the
 * Prometheus base unit: promtool refuses *_milliseconds). */
static void
render_ms_as_seconds(struct buf *b, const char *name, size_t off)
{
    struct gw_stat *s;
    uint64_t        ms;

    for (s = stats_head; s != NULL; s = s->next)
        if (s->is_route) {
            ms = atomic_load_explicit((_Atomic uint64_t *)((char *)s + off), memory_order_relaxed);
            buf_printf(b, "%s{%s} %llu.%03llu\n", name, s->labels, (unsigned long long)(ms / 1000),
                       (unsigned long long)(ms % 1000));
        }
}

/* hold.c's counters (the gauges of the current holds are hold_render's). */
static void
render_holds(struct buf *b)
{
    struct gw_stat *s;

    family(b, "souk_gateway_hold_writes_total", "counter",
           "Writes held by a route's hold: released to an upstream, or refused 503.");
    render_field(b, "souk_gateway_hold_writes_total", NULL, 1,
                 offsetof(struct gw_stat, hold_released), ",result=\"released\"");
    render_field(b, "souk_gateway_hold_writes_total", NULL, 1,
                 offsetof(struct gw_stat, hold_refused), ",result=\"refused\"");
    render_field(b, "souk_gateway_holds_total", "Holds ended, by route.", 1,
                 offsetof(struct gw_stat, holds), NULL);
    family(b, "souk_gateway_hold_seconds_total", "counter", "Time writes were held, by route.");
    render_ms_as_seconds(b, "souk_gateway_hold_seconds_total",
                         offsetof(struct gw_stat, hold_ms_total));
    family(b, "souk_gateway_hold_last_seconds", "gauge", "How long the last hold lasted.");
    render_ms_as_seconds(b, "souk_gateway_hold_last_seconds",
                         offsetof(struct gw_stat, hold_ms_last));
    family(b, "souk_gateway_held", "gauge", "Writes waiting for a hold to end, by route.");
    for (s = stats_head; s != NULL; s = s->next)
        if (s->is_route)
            buf_printf(b, "souk_gateway_held{%s} %d\n", s->labels, atomic_load(&s->held_now));
}

static void
render_routes(struct buf *b)
{
    render_classes(b, 1);
    family(b, "souk_gateway_canary_total", "counter", "Canary decisions, by route and pool.");
    render_field(b, "souk_gateway_canary_total", NULL, 1, offsetof(struct gw_stat, canary_new),
                 ",pool=\"new\"");
    render_field(b, "souk_gateway_canary_total", NULL, 1, offsetof(struct gw_stat, canary_legacy),
                 ",pool=\"legacy\"");
    render_field(b, "souk_gateway_rate_limited_total", "Requests refused by a rate limit.", 1,
                 offsetof(struct gw_stat, rate_limited), NULL);
    render_field(b, "souk_gateway_retries_total", "Attempts retried on another server.", 1,
                 offsetof(struct gw_stat, retries), NULL);
    render_field(b, "souk_gateway_fallbacks_total", "Requests that fell back to legacy.", 1,
                 offsetof(struct gw_stat, fallbacks), NULL);
    render_holds(b);
}

void
metrics_text(struct buf *b)
{
    metrics_render(b);
    pthread_mutex_lock(&stats_lock);
    render_routes(b);
    render_classes(b, 0);
    render_field(b, "souk_gateway_upstream_connect_errors_total", "Failed connects, by server.", 0,
                 offsetof(struct gw_stat, connect_errors), NULL);
    render_field(b, "souk_gateway_upstream_timeouts_total", "Timeouts, by server.", 0,
                 offsetof(struct gw_stat, timeouts), NULL);
    pthread_mutex_unlock(&stats_lock);
    hold_render(b);     /* takes stats_lock itself */
    upstream_render(b); /* shadow.c and breaker.c register their own series */
}

void
stats_free_all(void)
{
    struct gw_stat *s, *next;

    for (s = stats_head; s != NULL; s = next) {
        next = s->next;
        free(s->name);
        free(s->labels);
        free(s->series);
        free(s);
    }
    stats_head = NULL;
}
