/*
 * loop.c - what the gateway adds to lib/evloop.c's loops (one thread and
 * one SO_REUSEPORT listener per core, wake-ups, drain): its connections'
 * drain and close, the deadline sweep, and the per-loop cache that resolves
 * a route table's pools and routes to this loop's upstream state once per
 * table version instead of per request.
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"

struct gateway_config gateway; /* here, not in main.c: unit tests link without main.o */

uint64_t
loop_now(struct gw_loop *l)
{
    return uv_now(&l->ev.uv);
}

static void
on_drain(struct evloop *ev)
{
    struct gw_loop *l = ev->owner;
    struct client  *c, *next;

    l->draining = 1;
    for (c = l->clients; c != NULL; c = next) {
        next = c->next; /* closes are deferred: c stays valid */
        client_drain(c);
    }
    upstream_close_idle(l);
    loop_check_exit(l);
}

void
loop_drain(struct gw_loop *l)
{
    evloop_drain(&l->ev);
}

static void
on_force(struct evloop *ev)
{
    loop_force(ev->owner);
}

void
loop_force(struct gw_loop *l)
{
    struct client *c, *next;

    for (c = l->clients; c != NULL; c = next) {
        next = c->next;
        client_close(c);
    }
    upstream_abort_all(l); /* what is left belongs to shadow mirrors */
}

/* Every connection of a draining loop is gone: let uv_run return. */
void
loop_check_exit(struct gw_loop *l)
{
    if (!l->draining || l->ev.exiting || l->nclients > 0 || l->nuconns > 0 || l->nmirrors > 0)
        return;
    uv_close((uv_handle_t *)&l->sweep, NULL);
    evloop_exit(&l->ev);
    if (l->on_exit != NULL)
        l->on_exit(l);
}

/* Deadlines instead of a libuv timer per connection: setting one is a store,
 * and this walk costs O(connections) ten to twenty times a second. Timeouts
 * fire up to GW_SWEEP_MS late. */
static void
on_sweep(uv_timer_t *t)
{
    struct gw_loop *l = t->data;
    struct client  *c, *cn;
    struct uconn   *u, *un;
    uint64_t        now = uv_now(&l->ev.uv);

    for (c = l->clients; c != NULL; c = cn) {
        cn = c->next; /* closes are deferred: c stays valid */
        if (c->deadline != 0 && c->deadline <= now)
            client_timeout(c);
    }
    for (u = l->uconns; u != NULL; u = un) {
        un = u->lnext;
        if (u->deadline != 0 && u->deadline <= now)
            upstream_timeout(u);
    }
    if (l->held != NULL)
        hold_sweep(l);
}

static void
on_accept(struct evloop *ev)
{
    client_accept(ev->owner, (uv_stream_t *)&ev->listener);
}

static void
on_wake(struct evloop *ev)
{
    loop_check_exit(ev->owner);
}

static void
on_thread_done(struct evloop *ev)
{
    struct gw_loop *l = ev->owner;

    if (l->thread_done != NULL)
        l->thread_done(l);
}

static const struct evloop_ops gw_loop_ops = {
    on_accept, on_drain, on_force, on_wake, on_thread_done,
};

int
loop_init(struct gw_loop *l, int index, enum gw_kind kind, int fd)
{
    int rc = evloop_init(&l->ev, index, fd, &gw_loop_ops, l);

    l->kind = kind;
    uv_timer_init(&l->ev.uv, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, GW_SWEEP_MS, GW_SWEEP_MS);
    return rc;
}

static void
cache_clear(struct lcache *k)
{
    free(k->srv);
    free(k->rr);
    free(k->rstat);
    memset(k, 0, sizeof(*k));
}

/* After the thread is joined (or never ran): close what is left, free. */
void
loop_free(struct gw_loop *l)
{
    struct userver *us, *next;

    if (l == NULL)
        return;
    evloop_free(&l->ev);
    for (us = l->servers; us != NULL; us = next) {
        next = us->next;
        free(us);
    }
    cache_clear(&l->cache);
    routes_unref(l->table);
    l->table = NULL;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);

    if (p == NULL) {
        log_error("out of memory");
        abort();
    }
    return p;
}

/* The current table with a reference for the caller. The loop keeps one
 * acquired and re-acquires only when the version moved, so the request path
 * takes no lock (routes_acquire's mutex) and no second reference count. */
struct gw_table *
loop_table(struct gw_loop *l)
{
    uint64_t v = routes_version();

    if (l->table == NULL || l->table->version != v) {
        routes_unref(l->table);
        l->table = routes_acquire();
    }
    if (l->table != NULL)
        atomic_fetch_add_explicit(&l->table->refs, 1, memory_order_relaxed);
    return l->table;
}

struct lcache *
loop_cache(struct gw_loop *l, const struct gw_table *t)
{
    struct lcache *k = &l->cache;
    int            p, i;

    if (k->srv != NULL && k->version == t->version)
        return k;
    cache_clear(k);
    k->version = t->version;
    k->npools = t->npools;
    k->nroutes = t->nroutes;
    k->srv = xcalloc((size_t)t->npools * GW_MAX_SERVERS, sizeof(*k->srv));
    k->rr = xcalloc((size_t)t->npools, sizeof(*k->rr));
    k->rstat = xcalloc((size_t)t->nroutes, sizeof(*k->rstat));
    for (p = 0; p < t->npools; p++) {
        for (i = 0; i < t->pools[p].nservers; i++) {
            k->srv[p * GW_MAX_SERVERS + i] =
                upstream_userver(l, upstream_server(t->pools[p].servers[i]));
            k->srv[p * GW_MAX_SERVERS + i]->max_idle = t->pools[p].max_idle;
        }
    }
    for (i = 0; i < t->nroutes; i++)
        k->rstat[i] = stats_route(t->routes[i].name);
    return k;
}
