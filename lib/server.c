/*
 * server.c - server_run: the listening sockets (one SO_REUSEPORT socket per
 * loop, made by hand because libuv 1.44 has no UV_TCP_REUSEPORT), one libuv
 * loop per thread, the worker pool, and the SIGTERM drain. Connections are
 * conn.c's, the request path (routing, auth, handler) dispatch.c's, and
 * answers are rendered by req.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "builtin.h"
#include "conn.h"
#include "bounds.h"
#include "log.h"
#include "net.h"

/* ---- loops ------------------------------------------------------------------------ */

/* Hand a finished request back to its loop. The send happens under the lock
 * the loop takes before it closes wake, so it never hits a closed handle. */
void
server_complete(struct loop *l, struct req_state *st)
{
    pthread_mutex_lock(&l->lock);
    st->job.next = l->done;
    l->done = &st->job;
    uv_async_send(&l->wake);
    pthread_mutex_unlock(&l->lock);
}

static void
loop_check_exit(struct loop *l)
{
    if (!l->drained || l->nconns > 0 || l->exiting)
        return;
    pthread_mutex_lock(&l->lock);
    l->exiting = 1;
    pthread_mutex_unlock(&l->lock);
    uv_close((uv_handle_t *)&l->wake, NULL);
}

void
server_conn_gone(struct loop *l)
{
    loop_check_exit(l);
}

static void
on_connection(uv_stream_t *s, int status)
{
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    conn_accept(s->data);
}

static void
on_wake(uv_async_t *a)
{
    struct loop     *l = a->data;
    struct pool_job *job, *next, *list = NULL;
    struct conn     *c, *cn;
    int              cmd = atomic_exchange(&l->cmd, 0);

    if ((cmd & LOOP_DRAIN) && !l->drained) {
        l->drained = 1;
        if (l->listening)
            uv_close((uv_handle_t *)&l->listener, NULL);
        l->listening = 0;
        for (c = l->conns; c != NULL; c = cn) {
            cn = conn_next(c); /* closes are deferred, so c stays valid */
            conn_drain(c);
        }
    }
    if (cmd & LOOP_FORCE) {
        for (c = l->conns; c != NULL; c = cn) {
            cn = conn_next(c);
            conn_kill(c);
        }
    }
    pthread_mutex_lock(&l->lock);
    job = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->lock);
    for (; job != NULL; job = next) { /* newest first: reverse */
        next = job->next;
        job->next = list;
        list = job;
    }
    for (job = list; job != NULL; job = next) {
        next = job->next;
        conn_done((struct req_state *)((char *)job - offsetof(struct req_state, job)), 1);
    }
    loop_check_exit(l);
}

static void
loop_command(struct loop *l, int cmd)
{
    pthread_mutex_lock(&l->lock);
    if (!l->exiting) {
        atomic_fetch_or(&l->cmd, cmd);
        uv_async_send(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
}

static void
loop_main(void *arg)
{
    struct loop   *l = arg;
    struct server *srv = l->srv;

    uv_run(&l->uv, UV_RUN_DEFAULT);
    pthread_mutex_lock(&srv->exited_lock);
    srv->nexited++;
    uv_async_send(&srv->exited);
    pthread_mutex_unlock(&srv->exited_lock);
}

static int
loop_new(struct server *srv, int index, int fd, struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));
    int          rc;

    *out = l;
    if (l == NULL) {
        close(fd);
        return ERR_INTERNAL;
    }
    l->srv = srv;
    l->index = index;
    pthread_mutex_init(&l->lock, NULL);
    uv_loop_init(&l->uv);
    uv_async_init(&l->uv, &l->wake, on_wake);
    l->wake.data = l;
    uv_tcp_init(&l->uv, &l->listener);
    l->listener.data = l;
    l->listening = 1;
    rc = uv_tcp_open(&l->listener, fd);
    if (rc != 0)
        close(fd); /* not the handle's yet */
    else
        rc = uv_listen((uv_stream_t *)&l->listener, NET_LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        log_error("cannot listen on %s: %s", srv->spec->listen, uv_strerror(rc));
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

static void
loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    net_uv_close_all(&l->uv); /* it never ran or has exited */
    if (uv_loop_close(&l->uv) != 0)
        log_error("loop %d closed with open handles", l->index);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* ---- listening sockets --------------------------------------------------------- */

/* One listening socket; reuseport joins the loops' group. -1 with errno set. */
static int
socket_listen(struct server *srv, int reuseport)
{
    int fd, rc;

    rc = net_listen_fd(&srv->addr, srv->addrlen, reuseport, &fd);
    if (rc)
        return -1;
    /* Port 0: every later socket of the group binds the port the first got. */
    if (getsockname(fd, (struct sockaddr *)&srv->addr, &srv->addrlen) != 0)
        log_warn("getsockname: %s", strerror(errno));
    return fd;
}

/* fds[0..nloops-1]. A probe bound without SO_REUSEPORT first, so a port some
 * other process holds (even with SO_REUSEPORT) is an error, not a share. */
static int
listeners_open(struct server *srv, int *fds)
{
    int probe, i;

    probe = socket_listen(srv, 0);
    if (probe >= 0)
        close(probe);
    for (i = 0; probe >= 0 && i < srv->nloops; i++) {
        fds[i] = socket_listen(srv, 1);
        if (fds[i] < 0)
            break;
    }
    if (probe >= 0 && i == srv->nloops)
        return ERR_OK;
    log_error("cannot listen on %s: %s", srv->spec->listen, strerror(errno));
    while (probe >= 0 && i-- > 0)
        close(fds[i]);
    return ERR_UNAVAILABLE;
}

/* ---- main thread: signals and drain ------------------------------------------- */

static void
on_drain_timeout(uv_timer_t *t)
{
    struct server *srv = t->data;
    int            i;

    log_warn("drain timeout after %lld ms: closing every connection", (long long)srv->drain_ms);
    pool_cancel(srv->pool);
    for (i = 0; i < srv->nloops; i++)
        loop_command(srv->loops[i], LOOP_FORCE);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    int            i;

    if (atomic_exchange(&srv->draining, 1)) {
        on_drain_timeout(&srv->drain_timer); /* a second signal: stop waiting */
        return;
    }
    log_info("signal %d: draining (up to %lld ms)", signum, (long long)srv->drain_ms);
    for (i = 0; i < srv->nloops; i++)
        loop_command(srv->loops[i], LOOP_DRAIN);
    uv_timer_start(&srv->drain_timer, on_drain_timeout, (uint64_t)srv->drain_ms, 0);
}

static void
on_exited(uv_async_t *a)
{
    struct server *srv = a->data;
    int            n;

    pthread_mutex_lock(&srv->exited_lock);
    n = srv->nexited;
    pthread_mutex_unlock(&srv->exited_lock);
    if (n < srv->nloops)
        return;
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->drain_timer, NULL);
    uv_close((uv_handle_t *)&srv->exited, NULL);
}

static int
control_init(struct server *srv)
{
    uv_loop_init(&srv->control);
    srv->control_ready = 1;
    uv_signal_init(&srv->control, &srv->sigterm);
    uv_signal_init(&srv->control, &srv->sigint);
    uv_timer_init(&srv->control, &srv->drain_timer);
    uv_async_init(&srv->control, &srv->exited, on_exited);
    srv->sigterm.data = srv->sigint.data = srv->drain_timer.data = srv->exited.data = srv;
    pthread_mutex_init(&srv->exited_lock, NULL);
    if (uv_signal_start(&srv->sigterm, on_signal, SIGTERM) != 0 ||
        uv_signal_start(&srv->sigint, on_signal, SIGINT) != 0)
        return ERR_INTERNAL;
    return ERR_OK;
}

/* ---- server_run ------------------------------------------------------------------ */

static int64_t
or_default(int64_t v, int64_t def)
{
    return v > 0 ? v : def;
}

static int
server_init(struct server *srv, const struct server_spec *spec)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    srv->cores = cores > 0 ? (int)cores : 1;
    srv->spec = spec;
    srv->header_ms = or_default(spec->header_timeout_ms, LIMIT_HEADER_TIMEOUT_MS);
    srv->body_ms = or_default(spec->body_timeout_ms, LIMIT_BODY_TIMEOUT_MS);
    srv->idle_ms = or_default(spec->idle_timeout_ms, LIMIT_IDLE_TIMEOUT_MS);
    srv->drain_ms = or_default(spec->drain_timeout_ms, LIMIT_DRAIN_TIMEOUT_MS);
    srv->nloops = spec->loops > 0 ? spec->loops : srv->cores;
    while (spec->routes != NULL && spec->routes[srv->nspec].method != NULL)
        srv->nspec++;
    if (net_parse_hostport(spec->listen, 1, &srv->addr, &srv->addrlen) != ERR_OK) {
        log_error("invalid listen address \"%s\": want host:port",
                  spec->listen ? spec->listen : "");
        return ERR_UNAVAILABLE;
    }
    if (auth_init() != ERR_OK)
        return ERR_INTERNAL;
    return builtin_stats_init(srv);
}

static int
loops_start(struct server *srv, int *fds)
{
    int i, rc;

    for (i = 0; i < srv->nloops; i++) {
        rc = loop_new(srv, i, fds[i], &srv->loops[i]);
        if (rc) {
            while (++i < srv->nloops)
                close(fds[i]);
            return rc;
        }
    }
    for (i = 0; i < srv->nloops; i++) {
        if (uv_thread_create(&srv->loops[i]->thread, loop_main, srv->loops[i]) != 0) {
            log_error("cannot start loop thread %d", i);
            return ERR_INTERNAL;
        }
        srv->loops[i]->started = 1;
    }
    return ERR_OK;
}

/* Serve until the drain is over, or stop the loops that did start. */
static void
loops_run(struct server *srv, int ok)
{
    int i;

    if (ok)
        uv_run(&srv->control, UV_RUN_DEFAULT);
    for (i = 0; !ok && i < srv->nloops; i++)
        if (srv->loops[i] != NULL && srv->loops[i]->started)
            loop_command(srv->loops[i], LOOP_DRAIN);
    for (i = 0; i < srv->nloops; i++)
        if (srv->loops[i] != NULL && srv->loops[i]->started)
            uv_thread_join(&srv->loops[i]->thread);
}

static void
server_free(struct server *srv)
{
    int i;

    pool_stop(srv->pool);
    for (i = 0; srv->loops != NULL && i < srv->nloops; i++)
        loop_free(srv->loops[i]);
    if (srv->control_ready) {
        net_uv_close_all(&srv->control);
        uv_loop_close(&srv->control);
        pthread_mutex_destroy(&srv->exited_lock);
    }
    builtin_stats_free(srv);
    free(srv->loops);
}

int
server_run(const struct server_spec *spec)
{
    struct server srv;
    int          *fds = NULL;
    int           i, rc, workers;

    memset(&srv, 0, sizeof(srv));
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an EPIPE, not a death */
    rc = server_init(&srv, spec);
    if (rc)
        goto done;
    fds = calloc((size_t)srv.nloops, sizeof(*fds));
    srv.loops = calloc((size_t)srv.nloops, sizeof(*srv.loops));
    if (fds == NULL || srv.loops == NULL) {
        rc = ERR_INTERNAL;
        goto done;
    }
    rc = listeners_open(&srv, fds);
    if (rc)
        goto done;
    workers = spec->workers > 0 ? spec->workers : 4 * srv.cores;
    rc = control_init(&srv);
    if (rc == ERR_OK)
        rc = pool_start(&srv.pool, workers, dispatch_work, spec->worker_init, spec->worker_fini,
                        spec->worker_arg);
    if (rc) {
        for (i = 0; i < srv.nloops; i++)
            close(fds[i]);
        goto done;
    }
    rc = loops_start(&srv, fds);
    if (rc == ERR_OK)
        log_info("%s listening on %s: %d loops, %d workers", spec->name ? spec->name : "souk",
                 spec->listen, srv.nloops, workers);
    loops_run(&srv, rc == ERR_OK);
    if (rc == ERR_OK)
        log_info("drained; stopping");
done:
    server_free(&srv);
    free(fds);
    return rc;
}
