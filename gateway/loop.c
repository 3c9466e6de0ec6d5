/*
 * loop.c - the gateway's event loops: one thread and one SO_REUSEPORT
 * listening socket per loop (made by lib/net.c: libuv 1.44 has no
 * UV_TCP_REUSEPORT), commands from the main thread (drain, force), and the
 * per-loop cache that resolves a route table's pools and routes to this
 * loop's upstream state once per table version instead of per request.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "log.h"
#include "net.h"

struct gateway_config gateway; /* here, not in main.c: unit tests link without main.o */

static void
on_connection(uv_stream_t *s, int status)
{
    struct gw_loop *l = s->data;

    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    client_accept(l, s);
}

uint64_t
loop_now(struct gw_loop *l)
{
    return uv_now(&l->uv);
}

void
loop_drain(struct gw_loop *l)
{
    struct client *c, *next;

    if (l->draining)
        return;
    l->draining = 1;
    if (l->listening)
        uv_close((uv_handle_t *)&l->listener, NULL);
    l->listening = 0;
    for (c = l->clients; c != NULL; c = next) {
        next = c->next; /* closes are deferred: c stays valid */
        client_drain(c);
    }
    upstream_close_idle(l);
    loop_check_exit(l);
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
    if (!l->draining || l->exiting || l->nclients > 0 || l->nuconns > 0 || l->nmirrors > 0)
        return;
    pthread_mutex_lock(&l->lock);
    l->exiting = 1;
    pthread_mutex_unlock(&l->lock);
    uv_close((uv_handle_t *)&l->sweep, NULL);
    if (l->on_exit != NULL)
        l->on_exit(l);
    else
        uv_close((uv_handle_t *)&l->wake, NULL);
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
    uint64_t        now = uv_now(&l->uv);

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
}

static void
on_wake(uv_async_t *a)
{
    struct gw_loop *l = a->data;
    int             cmd = atomic_exchange(&l->cmd, 0);

    if (cmd & GW_CMD_DRAIN)
        loop_drain(l);
    if (cmd & GW_CMD_FORCE)
        loop_force(l);
    loop_check_exit(l);
}

void
loop_command(struct gw_loop *l, int cmd)
{
    pthread_mutex_lock(&l->lock);
    if (!l->exiting) {
        atomic_fetch_or(&l->cmd, cmd);
        uv_async_send(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
}

int
loop_init(struct gw_loop *l, int index, enum gw_kind kind, int fd)
{
    int rc;

    l->index = index;
    l->kind = kind;
    pthread_mutex_init(&l->lock, NULL);
    uv_loop_init(&l->uv);
    uv_async_init(&l->uv, &l->wake, on_wake);
    l->wake.data = l;
    uv_timer_init(&l->uv, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, GW_SWEEP_MS, GW_SWEEP_MS);
    uv_tcp_init(&l->uv, &l->listener);
    l->listener.data = l;
    l->listening = 1;
    rc = uv_tcp_open(&l->listener, fd);
    if (rc != 0)
        close(fd); /* not the handle's yet */
    else
        rc = uv_listen((uv_stream_t *)&l->listener, NET_LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        log_error("cannot listen: %s", uv_strerror(rc));
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

static void
loop_main(void *arg)
{
    struct gw_loop *l = arg;

    uv_run(&l->uv, UV_RUN_DEFAULT);
    if (l->thread_done != NULL)
        l->thread_done(l);
}

int
loop_start(struct gw_loop *l)
{
    if (uv_thread_create(&l->thread, loop_main, l) != 0) {
        log_error("cannot start loop thread %d", l->index);
        return ERR_INTERNAL;
    }
    l->started = 1;
    return ERR_OK;
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
    net_uv_close_all(&l->uv);
    if (uv_loop_close(&l->uv) != 0)
        log_error("loop %d closed with open handles", l->index);
    for (us = l->servers; us != NULL; us = next) {
        next = us->next;
        free(us);
    }
    cache_clear(&l->cache);
    routes_unref(l->table);
    l->table = NULL;
    pthread_mutex_destroy(&l->lock);
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
