/*
 * health.c - active health checks, run from the control loop so probes
 * never compete with traffic: every server of a pool with a health path is
 * asked GET <path> every interval on a fresh connection. Two failures in a
 * row mark it unhealthy, two successes healthy again; data loops skip
 * unhealthy servers (proxy.c) unless the whole pool is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"

#define TICK_MS      50
#define PROBE_MAX_MS 2000 /* a probe's own timeout, at most its interval */
#define FALL         2
#define RISE         2

struct probe {
    struct probe     *next;
    struct gw_server *g;
    char             *path;
    int64_t           interval;
    uint64_t          due;
    int               ok_run, fail_run, live, busy;
};

struct check {
    uv_tcp_t      tcp;
    uv_timer_t    timer;
    uv_connect_t  creq;
    uv_write_t    wreq;
    struct probe *p;
    char          req[1024];
    char          resp[32];
    size_t        got;
    int           handles, finished;
};

static uv_loop_t    *hloop;
static uv_timer_t    tick;
static struct probe *probes;
static int           nchecks, stopped, started;

static void
set_health(struct probe *p, int ok)
{
    if (ok) {
        p->fail_run = 0;
        if (++p->ok_run >= RISE && !atomic_exchange(&p->g->healthy, 1))
            log_info("upstream %s is healthy again (GET %s)", p->g->name, p->path);
    } else {
        p->ok_run = 0;
        if (++p->fail_run >= FALL && atomic_exchange(&p->g->healthy, 0))
            log_warn("upstream %s is unhealthy (GET %s)", p->g->name, p->path);
    }
}

static void
on_check_close(uv_handle_t *h)
{
    struct check *k = h->data;

    if (--k->handles > 0)
        return;
    k->p->busy = 0;
    free(k);
    nchecks--;
}

static void
check_end(struct check *k, int ok)
{
    if (k->finished)
        return;
    k->finished = 1;
    if (!stopped)
        set_health(k->p, ok);
    uv_close((uv_handle_t *)&k->timer, on_check_close);
    uv_close((uv_handle_t *)&k->tcp, on_check_close);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct check *k = h->data;

    (void)hint;
    b->base = k->resp + k->got;
    b->len = sizeof(k->resp) - 1 - k->got;
}

/* "HTTP/1.1 200 ..." is all a probe needs: 2xx and 3xx are healthy. */
static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct check *k = s->data;

    (void)b;
    if (nread > 0)
        k->got += (size_t)nread;
    if (k->got >= 12 || nread < 0) {
        k->resp[k->got] = '\0';
        check_end(k, k->got >= 12 && strncmp(k->resp, "HTTP/1.", 7) == 0 &&
                         (k->resp[9] == '2' || k->resp[9] == '3'));
    }
}

static void
on_written(uv_write_t *w, int status)
{
    struct check *k = w->data;

    if (status < 0)
        check_end(k, 0);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct check *k = req->data;
    uv_buf_t      b = uv_buf_init(k->req, (unsigned)strlen(k->req));

    if (k->finished)
        return;
    if (status < 0 || uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, on_written) != 0 ||
        uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read) != 0)
        check_end(k, 0);
}

static void
on_check_timeout(uv_timer_t *t)
{
    check_end(t->data, 0);
}

static void
check_start(struct probe *p)
{
    struct check *k = calloc(1, sizeof(*k));
    int64_t       ms = p->interval < PROBE_MAX_MS ? p->interval : PROBE_MAX_MS;

    if (k == NULL || !p->g->resolved) {
        free(k);
        set_health(p, 0);
        return;
    }
    k->p = p;
    snprintf(k->req, sizeof(k->req),
             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: souk-gateway-health\r\n"
             "Connection: close\r\n\r\n",
             p->path, p->g->name);
    uv_tcp_init(hloop, &k->tcp);
    uv_timer_init(hloop, &k->timer);
    k->tcp.data = k->timer.data = k->creq.data = k->wreq.data = k;
    k->handles = 2;
    p->busy = 1;
    nchecks++;
    uv_timer_start(&k->timer, on_check_timeout, (uint64_t)ms, 0);
    if (uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&p->g->addr, on_connect) != 0)
        check_end(k, 0);
}

static void
on_tick(uv_timer_t *t)
{
    struct probe *p;
    uint64_t      now = uv_now(t->loop);

    for (p = probes; p != NULL; p = p->next) {
        if (!p->live || p->busy || now < p->due)
            continue;
        p->due = now + (uint64_t)p->interval;
        check_start(p);
    }
}

static struct probe *
probe_get(struct gw_server *g, const char *path)
{
    struct probe *p;

    for (p = probes; p != NULL; p = p->next)
        if (p->g == g && strcmp(p->path, path) == 0)
            return p;
    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->path = strdup(path)) == NULL) {
        log_error("out of memory");
        abort();
    }
    p->g = g;
    p->next = probes;
    probes = p;
    return p;
}

/* Drop probes the table no longer asks for; their servers count as healthy. */
static void
probes_prune(void)
{
    struct probe **pp = &probes, *p;

    while (*pp != NULL) {
        p = *pp;
        if (p->live || p->busy) {
            pp = &p->next;
            continue;
        }
        atomic_store(&p->g->healthy, 1);
        *pp = p->next;
        free(p->path);
        free(p);
    }
}

void
health_sync(void)
{
    struct gw_table *t = routes_acquire();
    struct probe    *p;
    int              i, j;

    if (!started || stopped) {
        routes_unref(t);
        return;
    }
    for (p = probes; p != NULL; p = p->next)
        p->live = 0;
    for (i = 0; t != NULL && i < t->npools; i++) {
        if (t->pools[i].health_path == NULL)
            continue;
        for (j = 0; j < t->pools[i].nservers; j++) {
            p = probe_get(upstream_server(t->pools[i].servers[j]), t->pools[i].health_path);
            p->live = 1;
            p->interval = t->pools[i].health_interval_ms;
        }
    }
    routes_unref(t);
    probes_prune();
}

void
health_start(uv_loop_t *control)
{
    hloop = control;
    uv_timer_init(control, &tick);
    uv_timer_start(&tick, on_tick, TICK_MS, TICK_MS);
    started = 1;
    health_sync();
}

void
health_stop(void)
{
    struct probe *p;

    if (!started || stopped)
        return;
    stopped = 1;
    uv_timer_stop(&tick);
    for (p = probes; p != NULL; p = p->next)
        p->live = 0;
}

int
health_idle(void)
{
    if (nchecks > 0)
        return 0;
    probes_prune();
    return 1;
}
