/*
 * server.c - server_run: one event loop thread and SO_REUSEPORT listener per
 * core (evloop.c, shared with the gateway), the worker pool, and what the
 * loops do on a drain or a worker's answer. Connections are conn.c's, the
 * request path (routing, auth, handler) dispatch.c's, and answers are
 * rendered by req.c.
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

/* ---- loops (evloop.h does the thread, the wake-up and the drain) ------------------- */

/* Hand a finished request back to its loop. The wake-up is sent under the
 * lock the loop takes before it closes it, so it never hits a closed handle. */
void
server_complete(struct loop *l, struct req_state *st)
{
    pthread_mutex_lock(&l->ev.lock);
    st->job.next = l->done;
    l->done = &st->job;
    evloop_wake_locked(&l->ev);
    pthread_mutex_unlock(&l->ev.lock);
}

/* The loop handlers' state goes on the loop's thread (it may hold handles
 * of this loop), or on the main thread when the loop never ran. */
static void
loop_state_free(struct loop *l)
{
    if (l->state != NULL && l->srv->spec->loop_fini != NULL)
        l->srv->spec->loop_fini(l->state);
    l->state = NULL;
}

static void
loop_check_exit(struct loop *l)
{
    if (l->ev.drained && l->nconns == 0) {
        loop_state_free(l);
        evloop_exit(&l->ev);
    }
}

void
server_conn_gone(struct loop *l)
{
    loop_check_exit(l);
}

static void
loop_accept(struct evloop *ev)
{
    conn_accept(ev->owner);
}

static void
loop_drain(struct evloop *ev)
{
    struct loop *l = ev->owner;
    struct conn *c, *cn;

    for (c = l->conns; c != NULL; c = cn) {
        cn = conn_next(c); /* closes are deferred, so c stays valid */
        conn_drain(c);
    }
}

static void
loop_force(struct evloop *ev)
{
    struct loop *l = ev->owner;
    struct conn *c, *cn;

    for (c = l->conns; c != NULL; c = cn) {
        cn = conn_next(c);
        conn_kill(c);
    }
}

/* Every wake-up: answers finished by workers, oldest first. */
static void
loop_wake(struct evloop *ev)
{
    struct loop     *l = ev->owner;
    struct pool_job *job, *next, *list = NULL;

    pthread_mutex_lock(&l->ev.lock);
    job = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->ev.lock);
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
loop_done(struct evloop *ev)
{
    struct loop *l = ev->owner;

    evgroup_loop_done(&l->srv->group);
}

static const struct evloop_ops loop_ops = {
    loop_accept, loop_drain, loop_force, loop_wake, loop_done,
};

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
    srv->group.loops[index] = &l->ev;
    rc = evloop_init(&l->ev, index, fd, &loop_ops, l);
    if (rc == ERR_OK && srv->spec->loop_init != NULL && srv->spec->loop_routes != NULL)
        l->state = srv->spec->loop_init(index, &l->ev.uv, srv->spec->loop_arg);
    return rc;
}

static void
loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    loop_state_free(l);
    evloop_free(&l->ev); /* it never ran or has exited */
    free(l);
}

/* ---- main thread: signals and the drain ------------------------------------------- */

static void
on_force(struct evgroup *g)
{
    struct server *srv = g->owner;

    pool_cancel(srv->pool);
}

static void
on_exited(struct evgroup *g)
{
    if (evgroup_exited(g) == g->n)
        evgroup_close(g);
}

static int
control_init(struct server *srv)
{
    uv_loop_init(&srv->control);
    srv->control_ready = 1;
    srv->group.n = srv->nloops;
    srv->group.drain_ms = srv->drain_ms;
    srv->group.on_force = on_force;
    srv->group.on_exited = on_exited;
    srv->group.owner = srv;
    return evgroup_init(&srv->group, &srv->control);
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
    if (builtin_stats_init(srv) != ERR_OK)
        return ERR_INTERNAL;
    return dispatch_init(srv);
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
        rc = evloop_start(&srv->loops[i]->ev);
        if (rc)
            return rc;
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
        if (srv->loops[i] != NULL && srv->loops[i]->ev.started)
            evloop_command(&srv->loops[i]->ev, EVLOOP_DRAIN);
    for (i = 0; i < srv->nloops; i++)
        if (srv->loops[i] != NULL)
            evloop_join(&srv->loops[i]->ev);
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
        evgroup_free(&srv->group);
    }
    builtin_stats_free(srv);
    free(srv->loops);
    free(srv->group.loops);
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
    srv.group.loops = calloc((size_t)srv.nloops, sizeof(*srv.group.loops));
    if (fds == NULL || srv.loops == NULL || srv.group.loops == NULL) {
        rc = ERR_INTERNAL;
        goto done;
    }
    rc = evloop_listeners(&srv.addr, &srv.addrlen, srv.nloops, fds);
    if (rc) {
        log_error("cannot listen on %s: %s", spec->listen, strerror(errno));
        goto done;
    }
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
