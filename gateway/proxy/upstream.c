/*
 * upstream.c - connections to upstream servers: the process-wide server
 * registry (address, health, load), each loop's keep-alive pool per server,
 * connecting under a timeout, parsing responses (http-parser in response
 * mode) and reporting them to the connection's owner (an exchange of
 * proxy.c or a shadow mirror) through struct uconn_ops.
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "net.h"

static pthread_mutex_t   servers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_server *servers;

/* ---- the registry ------------------------------------------------------------ */

/* The server called name, registered on first use (resolved then: numeric
 * addresses cost nothing; a host name is looked up once, on the thread that
 * installs the table, see upstream_servers_sync). */
struct gw_server *
upstream_server(const char *name)
{
    struct gw_server *g;

    pthread_mutex_lock(&servers_lock);
    for (g = servers; g != NULL && strcmp(g->name, name) != 0; g = g->next)
        ;
    if (g == NULL) {
        g = calloc(1, sizeof(*g));
        if (g == NULL || (g->name = strdup(name)) == NULL) {
            log_error("out of memory registering upstream %s", name);
            abort();
        }
        g->resolved = net_parse_hostport(name, 0, &g->addr, &g->addrlen) == ERR_OK;
        if (!g->resolved)
            log_error("upstream %s: cannot resolve the address", name);
        atomic_init(&g->healthy, 1);
        g->st = stats_upstream(name);
        g->next = servers;
        servers = g;
    }
    pthread_mutex_unlock(&servers_lock);
    return g;
}

void
upstream_servers_sync(const struct gw_table *t)
{
    int p, i;

    for (p = 0; p < t->npools; p++)
        for (i = 0; i < t->pools[p].nservers; i++)
            (void)upstream_server(t->pools[p].servers[i]);
}

void
upstream_servers_free(void)
{
    struct gw_server *g, *next;

    for (g = servers; g != NULL; g = next) {
        next = g->next;
        free(g->name);
        free(g);
    }
    servers = NULL;
}

/* Gauges of every server: health, requests in flight, idle pool (the
 * breaker's state is breaker.c's own souk_gateway_breaker_state). */
void
upstream_render(struct buf *b)
{
    static const char *const names[] = {"souk_gateway_upstream_healthy",
                                        "souk_gateway_upstream_in_flight",
                                        "souk_gateway_upstream_idle_connections"};
    static const char *const help[] = {"1 when active health checks pass.",
                                       "Requests in flight, every loop.",
                                       "Pooled keep-alive connections, every loop."};
    struct gw_server        *g;
    int                      k, v;

    pthread_mutex_lock(&servers_lock);
    for (k = 0; k < 3; k++) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", names[k], help[k], names[k]);
        for (g = servers; g != NULL; g = g->next) {
            v = k == 0   ? atomic_load(&g->healthy)
                : k == 1 ? atomic_load(&g->active)
                         : atomic_load(&g->idle);
            buf_printf(b, "%s{%s} %d\n", names[k], g->st->labels, v);
        }
    }
    pthread_mutex_unlock(&servers_lock);
}

struct userver *
upstream_userver(struct gw_loop *l, struct gw_server *g)
{
    struct userver *us;

    for (us = l->servers; us != NULL && us->g != g; us = us->next)
        ;
    if (us != NULL)
        return us;
    us = calloc(1, sizeof(*us));
    if (us == NULL) {
        log_error("out of memory");
        abort();
    }
    us->g = g;
    us->next = l->servers;
    l->servers = us;
    return us;
}

/* ---- one connection ------------------------------------------------------------ */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void
on_close(uv_handle_t *h)
{
    struct uconn   *u = h->data;
    struct gw_loop *l = u->loop;

    if (--u->handles > 0)
        return;
    hp_free(u->hp);
    hhead_free(&u->rh);
    if (u->lprev != NULL)
        u->lprev->lnext = u->lnext;
    else
        l->uconns = u->lnext;
    if (u->lnext != NULL)
        u->lnext->lprev = u->lprev;
    free(u);
    l->nuconns--;
    loop_check_exit(l);
}

static void
idle_remove(struct uconn *u)
{
    struct uconn **pp;

    for (pp = &u->us->idle; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            u->us->nidle--;
            atomic_fetch_sub_explicit(&u->us->g->idle, 1, memory_order_relaxed);
            break;
        }
    }
    u->pooled = 0;
}

static void
detach(struct uconn *u)
{
    if (u->owner != NULL)
        atomic_fetch_sub_explicit(&u->us->g->active, 1, memory_order_relaxed);
    u->owner = NULL;
    u->ops = NULL;
}

void
upstream_close(struct uconn *u)
{
    if (u->closing)
        return;
    u->closing = 1;
    u->deadline = 0;
    if (u->pooled)
        idle_remove(u);
    detach(u);
    uv_close((uv_handle_t *)&u->tcp, on_close);
}

/* Report a failure to the owner, then close: the owner never sees u again. */
static void
fail(struct uconn *u, int err)
{
    const struct uconn_ops *ops = u->ops;
    void                   *owner = u->owner;
    int                     got_head = u->got_head;

    if (err == ERR_TIMEOUT)
        atomic_fetch_add_explicit(&u->us->g->st->timeouts, 1, memory_order_relaxed);
    upstream_close(u);
    if (ops != NULL)
        ops->failed(owner, err, got_head);
}

/* The deadline passed (loop_sweep found it): connect, response or idle. */
void
upstream_timeout(struct uconn *u)
{
    u->deadline = 0;
    if (u->pooled)
        upstream_close(u); /* idle too long: the server may drop it any time now */
    else
        fail(u, ERR_TIMEOUT);
}

static void
on_drained(void *ctx, int status)
{
    struct uconn *u = ctx;

    if (u->closing || u->ops == NULL)
        return;
    if (status < 0)
        fail(u, ERR_UPSTREAM);
    else
        u->ops->drained(u->owner);
}

/* ---- response parsing ------------------------------------------------------------ */

static int
on_begin(void *ctx)
{
    struct uconn *u = ctx;

    hhead_reset(&u->rh);
    return 0;
}

static int
on_url(void *ctx, const char *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return -1; /* a response has no target */
}

static int
on_field(void *ctx, const char *p, size_t n)
{
    return hhead_field(&((struct uconn *)ctx)->rh, p, n);
}

static int
on_value(void *ctx, const char *p, size_t n)
{
    return hhead_value(&((struct uconn *)ctx)->rh, p, n);
}

static int
on_head(void *ctx, const struct hp_head *h)
{
    struct uconn *u = ctx;
    int           status = hp_status_code(u->hp);

    /* Interim answers (100 Continue, 103) are ours to drop: the client was
     * answered 100 by the gateway itself. 101 is never asked for. */
    if (status >= 100 && status < 200 && status != 101)
        return 0;
    if (status == 101 || u->ops == NULL)
        return -1;
    u->got_head = 1;
    u->keep = h->keep_alive;
    return u->ops->head(u->owner, status, h);
}

static int
on_body(void *ctx, const char *p, size_t n)
{
    struct uconn *u = ctx;

    if (u->ops == NULL)
        return -1;
    u->ops->body(u->owner, p, n);
    return 0;
}

static int
on_done(void *ctx)
{
    struct uconn *u = ctx;

    if (!u->got_head)
        return 0; /* the end of an interim answer */
    u->resp_done = 1;
    hp_pause(u->hp); /* one response per request: anything after it is a fault */
    if (u->ops != NULL)
        u->ops->done(u->owner);
    return 0;
}

static const struct hp_events resp_events = {
    on_begin, on_url, on_field, on_value, on_head, on_body, on_done,
};

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct uconn *u = h->data;

    (void)hint;
    b->base = u->loop->rbuf;
    b->len = sizeof(u->loop->rbuf);
}

static void
on_eof(struct uconn *u)
{
    /* A response delimited by the close ends here; anything else was cut. */
    if (!u->resp_done && u->got_head && hp_finish(u->hp) == HP_OK && u->resp_done) {
        u->keep = 0;
        if (u->ops != NULL)
            u->ops->read_end(u->owner);
        return;
    }
    if (!u->resp_done) {
        fail(u, ERR_UPSTREAM);
        return;
    }
    u->keep = 0;
}

static void
feed(struct uconn *u, const char *p, size_t n)
{
    size_t         used;
    enum hp_status hs;

    if (u->resp_done) {
        u->keep = 0; /* bytes after the response: never reuse */
        return;
    }
    if (u->timing)
        u->deadline = loop_now(u->loop) + (uint64_t)u->timeout_ms; /* inactivity */
    hs = hp_feed(u->hp, p, n, &used);
    if (u->closing)
        return; /* the owner gave the connection up from a callback */
    if (hs == HP_ERROR || hs == HP_ABORTED) {
        fail(u, ERR_UPSTREAM);
        return;
    }
    if (used < n)
        u->keep = 0;
    if (u->ops != NULL)
        u->ops->read_end(u->owner); /* may release u: nothing after this */
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct uconn *u = s->data;

    if (nread == 0)
        return;
    if (u->owner == NULL) {
        upstream_close(u); /* a pooled connection closed, or spoke unasked */
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF)
            on_eof(u);
        else
            fail(u, ERR_UPSTREAM);
        if (!u->closing && u->owner == NULL)
            upstream_close(u);
        return;
    }
    feed(u, b->base, (size_t)nread);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct uconn *u = req->data;

    if (u->closing)
        return;
    if (status < 0) {
        atomic_fetch_add_explicit(&u->us->g->st->connect_errors, 1, memory_order_relaxed);
        fail(u, status == UV_ETIMEDOUT ? ERR_TIMEOUT : ERR_UPSTREAM);
        return;
    }
    u->connected = 1;
    u->deadline = 0;
    uv_tcp_nodelay(&u->tcp, 1);
    if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) != 0) {
        fail(u, ERR_UPSTREAM);
        return;
    }
    u->ops->connected(u->owner);
}

static struct uconn *
uconn_new(struct gw_loop *l, struct userver *us)
{
    struct uconn *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        log_error("out of memory");
        abort();
    }
    u->loop = l;
    u->us = us;
    uv_tcp_init(&l->ev.uv, &u->tcp);
    u->tcp.data = u;
    u->creq.data = u;
    u->handles = 1;
    u->lnext = l->uconns;
    if (l->uconns != NULL)
        l->uconns->lprev = u;
    l->uconns = u;
    u->hp = hp_new_response(&resp_events, u);
    hhead_init(&u->rh, GW_RESP_HEADERS, GW_RESP_HEAD_BYTES);
    sink_init(&u->out, (uv_stream_t *)&u->tcp, on_drained, u);
    l->nuconns++;
    return u;
}

static void
attach(struct uconn *u, const struct uconn_ops *ops, void *owner)
{
    u->ops = ops;
    u->owner = owner;
    u->got_head = 0;
    u->resp_done = 0;
    u->timing = 0;
    atomic_fetch_add_explicit(&u->us->g->active, 1, memory_order_relaxed);
}

int
upstream_get(struct gw_loop *l, struct userver *us, const struct uconn_ops *ops, void *owner,
             int64_t connect_ms, struct uconn **out, int *reused)
{
    struct uconn *u = us->idle;

    *out = NULL;
    *reused = u != NULL;
    if (u != NULL) {
        idle_remove(u);
        u->deadline = 0;
        hhead_reset(&u->rh);
        hp_resume(u->hp);
        attach(u, ops, owner);
        u->served++;
        *out = u;
        return ERR_OK;
    }
    if (!us->g->resolved)
        return ERR_UPSTREAM;
    u = uconn_new(l, us);
    attach(u, ops, owner);
    if (uv_tcp_connect(&u->creq, &u->tcp, (const struct sockaddr *)&us->g->addr, on_connect) != 0) {
        upstream_close(u);
        return ERR_UPSTREAM;
    }
    u->deadline = loop_now(l) + (uint64_t)connect_ms;
    *out = u;
    return ERR_OK;
}

void
upstream_expect(struct uconn *u, int64_t timeout_ms)
{
    u->timing = 1;
    u->timeout_ms = timeout_ms;
    u->deadline = loop_now(u->loop) + (uint64_t)timeout_ms;
}

void
upstream_release(struct uconn *u)
{
    struct userver *us = u->us;

    detach(u);
    u->timing = 0;
    u->deadline = 0;
    if (u->closing)
        return;
    if (!u->keep || !u->resp_done || !u->connected || sink_busy(&u->out) || u->out.failed ||
        u->loop->draining || us->nidle >= us->max_idle) {
        upstream_close(u);
        return;
    }
    upstream_resume(u);
    u->pooled = 1;
    u->next = us->idle;
    us->idle = u;
    us->nidle++;
    atomic_fetch_add_explicit(&us->g->idle, 1, memory_order_relaxed);
    u->deadline = loop_now(u->loop) + GW_UP_IDLE_MS;
}

/* While paused the gateway waits on its client, not on the server: the
 * response timeout stops, or a client that never reads would make a
 * healthy server time out (a breaker and canary failure). The client's own
 * timeout bounds the wait. */
void
upstream_pause(struct uconn *u)
{
    if (!u->paused && !u->closing && u->connected) {
        uv_read_stop((uv_stream_t *)&u->tcp);
        u->paused = 1;
        if (u->timing)
            u->deadline = 0;
    }
}

void
upstream_resume(struct uconn *u)
{
    if (u->paused && !u->closing) {
        u->paused = 0;
        if (u->timing)
            u->deadline = loop_now(u->loop) + (uint64_t)u->timeout_ms;
        if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) != 0)
            upstream_close(u);
    }
}

/* The drain timed out: every connection goes, owners told (mirrors). */
void
upstream_abort_all(struct gw_loop *l)
{
    struct uconn *u, *next;

    for (u = l->uconns; u != NULL; u = next) {
        next = u->lnext; /* closes are deferred: u stays valid */
        if (u->closing)
            continue;
        if (u->owner != NULL)
            fail(u, ERR_UNAVAILABLE);
        else
            upstream_close(u);
    }
}

void
upstream_close_idle(struct gw_loop *l)
{
    struct userver *us;

    for (us = l->servers; us != NULL; us = us->next)
        while (us->idle != NULL)
            upstream_close(us->idle);
}
