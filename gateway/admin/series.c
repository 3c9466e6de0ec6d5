/*
 * series.c - the recent history behind the control room's charts (GET
 * /stats): once a second, on the control loop, each route's per-side
 * counters (stats_side) are read and what changed since the last tick is
 * kept in a ring of SERIES_LEN seconds. /stats turns a window of it into
 * req/s, error rate and p99 per side, overall and second by second. The
 * ring is touched only by the control loop (the tick and the admin API
 * both run there), so it needs no lock of its own; the data loops only
 * ever add to the atomic counters.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "log.h"

#define SERIES_LEN     120 /* seconds kept */
#define SERIES_TICK_MS 1000

/* One second of one side. */
struct second {
    uint32_t req, err;
    uint32_t lat[GW_LAT_BUCKETS];
};

struct stat_series {
    uint64_t      last_req[2], last_err[2], last_lat[2][GW_LAT_BUCKETS]; /* at the last tick */
    struct second ring[SERIES_LEN][2];
    uint64_t      ticks; /* seconds recorded since this route was first seen */
};

static uv_timer_t tick_timer;
static int        tick_started;
static uint64_t   tick_count; /* ticks since start: the ring's write position */
static time_t     tick_at;    /* wall clock of the last tick */

static uint32_t
delta(uint64_t now, uint64_t *last)
{
    uint64_t d = now - *last;

    *last = now;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* A route's last second: what its counters gained since the previous tick. */
static void
tick_route(struct gw_stat *s, void *ctx)
{
    struct stat_series *h = s->series;
    struct second      *sec;
    int                 side, b;

    (void)ctx;
    if (h == NULL) { /* a route's counters start at its first request: all of it is new */
        h = s->series = calloc(1, sizeof(*h));
        if (h == NULL) {
            log_error("out of memory");
            abort();
        }
    }
    for (side = 0; side < 2; side++) {
        const struct gw_side_stat *d = &s->side[side];

        sec = &h->ring[tick_count % SERIES_LEN][side];
        sec->req =
            delta(atomic_load_explicit(&d->requests, memory_order_relaxed), &h->last_req[side]);
        sec->err =
            delta(atomic_load_explicit(&d->errors, memory_order_relaxed), &h->last_err[side]);
        for (b = 0; b < GW_LAT_BUCKETS; b++)
            sec->lat[b] = delta(atomic_load_explicit(&d->lat[b], memory_order_relaxed),
                                &h->last_lat[side][b]);
    }
    h->ticks++;
}

void
series_tick(void)
{
    stats_each_route(tick_route, NULL);
    tick_at = time(NULL);
    tick_count++;
}

static void
on_tick(uv_timer_t *t)
{
    (void)t;
    series_tick();
}

int
series_start(uv_loop_t *loop)
{
    if (uv_timer_init(loop, &tick_timer) != 0 ||
        uv_timer_start(&tick_timer, on_tick, SERIES_TICK_MS, SERIES_TICK_MS) != 0)
        return ERR_INTERNAL;
    uv_unref((uv_handle_t *)&tick_timer); /* never what keeps the gateway up */
    tick_started = 1;
    tick_at = time(NULL);
    return ERR_OK;
}

void
series_stop(void)
{
    if (tick_started)
        uv_timer_stop(&tick_timer);
}

/* The p99 of a histogram in milliseconds: the upper bound of the bucket the
 * 99th percentile falls in (an upper estimate); null when it is empty. */
static json_t *
p99_ms(const uint64_t *lat, uint64_t n)
{
    uint64_t rank = (n * 99 + 99) / 100, seen = 0;
    int      b;

    if (n == 0)
        return json_null();
    for (b = 0; b < GW_LAT_BUCKETS - 1; b++) {
        seen += lat[b];
        if (seen >= rank)
            return json_real((double)stats_lat_bounds[b] / 1000.0);
    }
    return json_real((double)stats_lat_bounds[GW_LAT_BUCKETS - 2] * 2 / 1000.0);
}

struct window {
    int     n; /* seconds asked for */
    json_t *routes;
};

/* One side over the window: totals since start, then per second, oldest first. */
static json_t *
side_json(const struct gw_stat *s, int side, int n)
{
    const struct stat_series *h = s->series;
    json_t                   *rps = json_array(), *errs = json_array(), *p99 = json_array();
    uint64_t                  lat[GW_LAT_BUCKETS] = {0}, one[GW_LAT_BUCKETS], req = 0, err = 0;
    uint64_t have = h != NULL ? (h->ticks < (uint64_t)n ? h->ticks : (uint64_t)n) : 0;
    int      i, b;

    for (i = n - 1; i >= 0; i--) {
        const struct second *sec;

        if ((uint64_t)i >= have) { /* before this route was first seen */
            json_array_append_new(rps, json_null());
            json_array_append_new(errs, json_null());
            json_array_append_new(p99, json_null());
            continue;
        }
        sec = &h->ring[(tick_count - 1 - (uint64_t)i) % SERIES_LEN][side];
        req += sec->req;
        err += sec->err;
        for (b = 0; b < GW_LAT_BUCKETS; b++) {
            lat[b] += sec->lat[b];
            one[b] = sec->lat[b];
        }
        json_array_append_new(rps, json_integer(sec->req));
        json_array_append_new(errs, json_integer(sec->err));
        json_array_append_new(p99, p99_ms(one, sec->req));
    }
    return json_pack("{s:I, s:I, s:f, s:o, s:o, s:{s:o, s:o, s:o}}", "requests",
                     (json_int_t)atomic_load(&s->side[side].requests), "errors",
                     (json_int_t)atomic_load(&s->side[side].errors), "rps",
                     have > 0 ? (double)req / (double)have : 0.0, "error_rate",
                     req > 0 ? json_real((double)err / (double)req) : json_null(), "p99_ms",
                     p99_ms(lat, req), "series", "rps", rps, "errors", errs, "p99_ms", p99);
}

static void
route_json(struct gw_stat *s, void *ctx)
{
    struct window *w = ctx;

    if (strcmp(s->name, "-") == 0)
        return; /* requests no route matched: no sides */
    json_object_set_new(w->routes, s->name,
                        json_pack("{s:o, s:o, s:{s:I, s:I}}", "legacy", side_json(s, 0, w->n),
                                  "new", side_json(s, 1, w->n), "canary", "legacy",
                                  (json_int_t)atomic_load(&s->canary_legacy), "new",
                                  (json_int_t)atomic_load(&s->canary_new)));
}

json_t *
stats_json(int window_s)
{
    struct window w = {window_s, json_object()};

    if (w.n < 1 || w.n > SERIES_LEN)
        w.n = SERIES_LEN;
    stats_each_route(route_json, &w);
    return json_pack("{s:i, s:i, s:I, s:o}", "window_s", w.n, "tick_ms", SERIES_TICK_MS, "at",
                     (json_int_t)tick_at, "routes", w.routes);
}
