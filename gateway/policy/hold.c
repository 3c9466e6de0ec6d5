/*
 * hold.c - a route's `hold`: the fence a migration's cutover puts on the
 * route's writes. While a route is held, each write (any method but GET and
 * HEAD) waits at the gateway, unread beyond its head, in its loop's FIFO
 * queue; reads keep flowing. When a table without the hold is installed the
 * queued writes go on, in the order they came, to the side the route's mode
 * names now (after a cutover's flip: new; after a rollback: legacy), as if
 * they had just arrived: nothing was sent anywhere before, so nothing is
 * sent twice. A write that waited the route's hold_ms, or that finds
 * hold_max writes queued already, is answered 503 with Retry-After and was
 * never sent.
 *
 * Control side (hold_note, under the install lock): when each hold started
 * and how long it lasted ("hold_end" on /events, /metrics). Data side
 * (hold_begin, hold_sweep, hold_cancel): the per-loop queue, released from
 * the loop's deadline sweep, so a hold ends for its writes at most
 * GW_SWEEP_MS after the table that ends it was installed.
 */
#include <string.h>

#include "gw.h"
#include "log.h"

#define HOLD_DETAIL "writes to this resource are paused for a migration; retry shortly"

static uint64_t
mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static const struct gw_route *
route_named(const struct gw_table *t, const char *name)
{
    int i;

    for (i = 0; t != NULL && i < t->nroutes; i++)
        if (strcmp(t->routes[i].name, name) == 0)
            return &t->routes[i];
    return NULL;
}

/* ---- control side --------------------------------------------------------------- */

static void
hold_ended(struct gw_stat *s, const char *name, uint64_t now, json_t *ended)
{
    uint64_t since = atomic_exchange(&s->hold_since, 0), ms;

    if (since == 0)
        return;
    ms = now - since;
    atomic_store(&s->hold_ms_last, ms);
    atomic_fetch_add(&s->hold_ms_total, ms);
    atomic_fetch_add(&s->holds, 1);
    gwevents_add("hold_end", "route %s: writes held %llu ms (%d still queued are released now)",
                 name, (unsigned long long)ms, atomic_load(&s->held_now));
    if (ended != NULL)
        json_object_set_new(ended, name, json_integer((json_int_t)ms));
}

void
hold_note(const struct gw_table *old, const struct gw_table *next, json_t *ended)
{
    const struct gw_route *r, *o;
    uint64_t               now = mono_ms();
    uint64_t               zero;
    struct gw_stat        *s;
    int                    i;

    for (i = 0; next != NULL && i < next->nroutes; i++) {
        r = &next->routes[i];
        o = route_named(old, r->name);
        if (!r->hold && (o == NULL || !o->hold))
            continue;
        s = stats_route(r->name);
        if (!r->hold) {
            hold_ended(s, r->name, now, ended);
            continue;
        }
        zero = 0;
        if (atomic_compare_exchange_strong(&s->hold_since, &zero, now))
            gwevents_add("hold_start", "route %s: writes held (at most %lld ms, %d at once)",
                         r->name, (long long)r->hold_ms, r->hold_max);
    }
    for (i = 0; old != NULL && i < old->nroutes; i++) /* held routes that are gone */
        if (old->routes[i].hold && route_named(next, old->routes[i].name) == NULL)
            hold_ended(stats_route(old->routes[i].name), old->routes[i].name, now, ended);
}

void
hold_render(struct buf *b)
{
    struct gw_table *t = routes_acquire();
    uint64_t         now = mono_ms(), since;
    struct gw_stat  *s;
    int              i;

    buf_puts(b, "# HELP souk_gateway_hold_active 1 while the route's writes are held.\n"
                "# TYPE souk_gateway_hold_active gauge\n");
    for (i = 0; t != NULL && i < t->nroutes; i++)
        buf_printf(b, "souk_gateway_hold_active{route=\"%s\"} %d\n", t->routes[i].name,
                   t->routes[i].hold);
    buf_puts(b, "# HELP souk_gateway_hold_current_seconds How long the current hold has lasted.\n"
                "# TYPE souk_gateway_hold_current_seconds gauge\n");
    for (i = 0; t != NULL && i < t->nroutes; i++) {
        s = stats_route(t->routes[i].name);
        since = atomic_load(&s->hold_since);
        buf_printf(b, "souk_gateway_hold_current_seconds{route=\"%s\"} %.3f\n", t->routes[i].name,
                   since != 0 ? (double)(now - since) / 1000.0 : 0.0);
    }
    routes_unref(t);
}

/* {"routes": {name: {"hold", "held", "writes_in_flight"}}}: soukctl's cutover
 * waits, once the hold is on, until no write sent before it is still in flight
 * (one could reach the monolith after the marker otherwise). */
json_t *
hold_json(void)
{
    struct gw_table *t = routes_acquire();
    json_t          *routes = json_object();
    struct gw_stat  *s;
    int              i;

    for (i = 0; t != NULL && i < t->nroutes; i++) {
        s = stats_route(t->routes[i].name);
        json_object_set_new(routes, t->routes[i].name,
                            json_pack("{s:b, s:i, s:i}", "hold", t->routes[i].hold, "held",
                                      atomic_load(&s->held_now), "writes_in_flight",
                                      atomic_load(&s->writes_out)));
    }
    routes_unref(t);
    return json_pack("{s:o}", "routes", routes);
}

/* ---- data side -------------------------------------------------------------------- */

static void
unlink_held(struct exch *x)
{
    struct gw_loop *l = x->loop;
    struct exch   **pp, *prev = NULL;

    for (pp = &l->held; *pp != NULL; prev = *pp, pp = &(*pp)->hnext) {
        if (*pp != x)
            continue;
        *pp = x->hnext;
        if (l->held_tail == x)
            l->held_tail = prev;
        break;
    }
    x->hnext = NULL;
    x->held = 0;
    atomic_fetch_sub(&x->c->rstat->held_now, 1);
}

static int
retry_after_s(const struct gw_route *r)
{
    return (int)((r->hold_ms + 999) / 1000);
}

enum cphase
hold_begin(struct exch *x)
{
    struct client         *c = x->c;
    const struct gw_route *r = x->route;
    struct gw_loop        *l = x->loop;

    if (atomic_fetch_add(&c->rstat->held_now, 1) >= r->hold_max) {
        atomic_fetch_sub(&c->rstat->held_now, 1);
        atomic_fetch_add_explicit(&c->rstat->hold_refused, 1, memory_order_relaxed);
        c->x = NULL;
        c->retry_after = retry_after_s(r);
        client_problem(c, ERR_UNAVAILABLE, HOLD_DETAIL);
        return client_answered_phase(c);
    }
    x->held = 1;
    x->hold_deadline = loop_now(l) + (uint64_t)r->hold_ms;
    x->hnext = NULL;
    if (l->held_tail != NULL)
        l->held_tail->hnext = x;
    else
        l->held = x;
    l->held_tail = x;
    c->x = x;
    return CP_CONNECT; /* the client's further bytes are kept unread until then */
}

void
hold_cancel(struct exch *x)
{
    if (x->held)
        unlink_held(x);
}

void
hold_sweep(struct gw_loop *l)
{
    struct exch           *x, *next;
    struct gw_table       *t;
    const struct gw_route *r;
    struct gw_stat        *s;
    uint64_t               now = loop_now(l);

    for (x = l->held; x != NULL; x = next) {
        next = x->hnext;
        t = loop_table(l);
        r = route_named(t, x->route->name);
        if (r != NULL && r->hold && now < x->hold_deadline) {
            routes_unref(t);
            continue;
        }
        s = x->c->rstat;
        unlink_held(x);
        if (x->c->eof) { /* it left (or half-closed) before any answer: never sent */
            routes_unref(t);
            proxy_abort(x, 0, NULL);
            continue;
        }
        if (r != NULL && !r->hold) {
            atomic_fetch_add_explicit(&s->hold_released, 1, memory_order_relaxed);
            proxy_release(x, t, r); /* takes t */
            continue;
        }
        atomic_fetch_add_explicit(&s->hold_refused, 1, memory_order_relaxed);
        x->c->retry_after = retry_after_s(r != NULL ? r : x->route);
        routes_unref(t);
        proxy_abort(x, ERR_UNAVAILABLE, HOLD_DETAIL);
    }
}
