/*
 * evloop.c - event loop threads and their drain (evloop.h). What used to be
 * written twice, once in server.c and once in the gateway's loop.c.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "net.h"

/* ---- one loop ------------------------------------------------------------------- */

static void
on_connection(uv_stream_t *s, int status)
{
    struct evloop *l = s->data;

    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    l->ops->accept(l);
}

static void
on_wake(uv_async_t *a)
{
    struct evloop *l = a->data;
    int            cmd = atomic_exchange(&l->cmd, 0);

    if (cmd & EVLOOP_DRAIN)
        evloop_drain(l);
    if (cmd & EVLOOP_FORCE)
        l->ops->force(l);
    if (l->ops->wake != NULL)
        l->ops->wake(l);
}

int
evloop_init(struct evloop *l, int index, int fd, const struct evloop_ops *ops, void *owner)
{
    int rc = 0;

    l->index = index;
    l->ops = ops;
    l->owner = owner;
    pthread_mutex_init(&l->lock, NULL);
    uv_loop_init(&l->uv);
    uv_async_init(&l->uv, &l->wake, on_wake);
    l->wake.data = l;
    if (fd < 0)
        return ERR_OK;
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
    struct evloop *l = arg;

    uv_run(&l->uv, UV_RUN_DEFAULT);
    if (l->ops->done != NULL)
        l->ops->done(l);
}

int
evloop_start(struct evloop *l)
{
    if (uv_thread_create(&l->thread, loop_main, l) != 0) {
        log_error("cannot start loop thread %d", l->index);
        return ERR_INTERNAL;
    }
    l->started = 1;
    return ERR_OK;
}

void
evloop_command(struct evloop *l, int cmd)
{
    pthread_mutex_lock(&l->lock);
    atomic_fetch_or(&l->cmd, cmd);
    evloop_wake_locked(l);
    pthread_mutex_unlock(&l->lock);
}

void
evloop_wake_locked(struct evloop *l)
{
    if (!l->exiting)
        uv_async_send(&l->wake);
}

void
evloop_drain(struct evloop *l)
{
    if (l->drained)
        return;
    l->drained = 1;
    if (l->listening)
        uv_close((uv_handle_t *)&l->listener, NULL);
    l->listening = 0;
    l->ops->drain(l);
}

void
evloop_exit(struct evloop *l)
{
    if (l->exiting)
        return;
    pthread_mutex_lock(&l->lock);
    l->exiting = 1;
    pthread_mutex_unlock(&l->lock);
    uv_close((uv_handle_t *)&l->wake, NULL);
}

void
evloop_join(struct evloop *l)
{
    if (l->started)
        uv_thread_join(&l->thread);
    l->started = 0;
}

void
evloop_free(struct evloop *l)
{
    if (l->ops == NULL)
        return; /* never initialised */
    net_uv_close_all(&l->uv);
    if (uv_loop_close(&l->uv) != 0)
        log_error("loop %d closed with open handles", l->index);
    pthread_mutex_destroy(&l->lock);
    l->ops = NULL;
}

/* ---- listening sockets ------------------------------------------------------------ */

/* One listening socket; reuseport joins the loops' group. Port 0: the
 * sockets after the first bind the port the first got. */
static int
socket_listen(struct sockaddr_storage *ss, socklen_t *len, int reuseport, int *fd)
{
    int rc = net_listen_fd(ss, *len, reuseport, fd);

    if (rc)
        return rc;
    if (getsockname(*fd, (struct sockaddr *)ss, len) != 0)
        log_warn("getsockname: %s", strerror(errno));
    return ERR_OK;
}

int
evloop_listeners(struct sockaddr_storage *ss, socklen_t *len, int n, int *fds)
{
    int probe, i, rc, saved;

    rc = socket_listen(ss, len, 0, &probe);
    if (rc)
        return rc;
    close(probe);
    for (i = 0; i < n; i++) {
        rc = socket_listen(ss, len, 1, &fds[i]);
        if (rc)
            break;
    }
    if (i == n)
        return ERR_OK;
    saved = errno;
    while (i-- > 0)
        close(fds[i]);
    errno = saved;
    return ERR_UNAVAILABLE;
}

/* ---- the group: signals and the drain ------------------------------------------- */

static void
on_drain_timeout(uv_timer_t *t)
{
    struct evgroup *g = t->data;
    int             i;

    log_warn("drain timeout after %lld ms: closing every connection", (long long)g->drain_ms);
    if (g->on_force != NULL)
        g->on_force(g);
    for (i = 0; i < g->n; i++)
        evloop_command(g->loops[i], EVLOOP_FORCE);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct evgroup *g = h->data;
    int             i;

    if (atomic_exchange(&g->draining, 1)) {
        /* A second signal: stop waiting, once (the timer must not force again). */
        if (uv_is_active((uv_handle_t *)&g->drain_timer)) {
            uv_timer_stop(&g->drain_timer);
            on_drain_timeout(&g->drain_timer);
        }
        return;
    }
    log_info("signal %d: draining (up to %lld ms)", signum, (long long)g->drain_ms);
    for (i = 0; i < g->n; i++)
        evloop_command(g->loops[i], EVLOOP_DRAIN);
    uv_timer_start(&g->drain_timer, on_drain_timeout, (uint64_t)g->drain_ms, 0);
    if (g->on_drain != NULL)
        g->on_drain(g);
}

static void
on_exited(uv_async_t *a)
{
    struct evgroup *g = a->data;

    if (g->on_exited != NULL)
        g->on_exited(g);
}

int
evgroup_init(struct evgroup *g, uv_loop_t *control)
{
    uv_signal_init(control, &g->sigterm);
    uv_signal_init(control, &g->sigint);
    uv_timer_init(control, &g->drain_timer);
    uv_async_init(control, &g->exited, on_exited);
    pthread_mutex_init(&g->exited_lock, NULL);
    g->sigterm.data = g->sigint.data = g->drain_timer.data = g->exited.data = g;
    if (uv_signal_start(&g->sigterm, on_signal, SIGTERM) != 0 ||
        uv_signal_start(&g->sigint, on_signal, SIGINT) != 0)
        return ERR_INTERNAL;
    return ERR_OK;
}

void
evgroup_loop_done(struct evgroup *g)
{
    pthread_mutex_lock(&g->exited_lock);
    g->nexited++;
    uv_async_send(&g->exited);
    pthread_mutex_unlock(&g->exited_lock);
}

int
evgroup_exited(struct evgroup *g)
{
    int n;

    pthread_mutex_lock(&g->exited_lock);
    n = g->nexited;
    pthread_mutex_unlock(&g->exited_lock);
    return n;
}

void
evgroup_close(struct evgroup *g)
{
    uv_close((uv_handle_t *)&g->sigterm, NULL);
    uv_close((uv_handle_t *)&g->sigint, NULL);
    uv_close((uv_handle_t *)&g->drain_timer, NULL);
    uv_close((uv_handle_t *)&g->exited, NULL);
}

void
evgroup_free(struct evgroup *g)
{
    pthread_mutex_destroy(&g->exited_lock);
}
