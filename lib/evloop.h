/*
 * evloop.h - the event loops every souk server runs on, the services'
 * (server.c) and the gateway's: one thread per loop, each with its own
 * SO_REUSEPORT listener (libuv 1.44 has no UV_TCP_REUSEPORT, so the sockets
 * are made by hand), a wake-up any thread may send (drain, force, or the
 * owner's own work), and on the main thread a group that drains them all
 * on SIGTERM/SIGINT and forces them after the drain timeout.
 *
 * The loop knows nothing of connections: its owner does the accepting,
 * draining and closing through struct evloop_ops, and says when nothing is
 * left (evloop_exit) so that uv_run returns.
 */
#ifndef SOUK_EVLOOP_H
#define SOUK_EVLOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "err.h"

enum evloop_cmd { EVLOOP_DRAIN = 1 << 0, EVLOOP_FORCE = 1 << 1 };

struct evloop;

/* The owner's side; every callback runs on the loop's thread. */
struct evloop_ops {
    void (*accept)(struct evloop *l); /* a connection waits on l->listener */
    void (*drain)(struct evloop *l);  /* once, the listener already closed */
    void (*force)(struct evloop *l);  /* the drain timed out: close everything now */
    void (*wake)(struct evloop *l);   /* every wake-up, after the commands; may be NULL */
    void (*done)(struct evloop *l);   /* the thread's uv_run returned; may be NULL */
};

struct evloop {
    int             index;
    uv_loop_t       uv;
    uv_tcp_t        listener;
    int             listening;
    uv_async_t      wake;
    pthread_mutex_t lock;         /* guards exiting against uv_async_send on wake (owners may
                                     queue their own work under it, see evloop_wake_locked) */
    _Atomic int              cmd; /* enum evloop_cmd bits */
    int                      drained, exiting;
    uv_thread_t              thread;
    int                      started;
    const struct evloop_ops *ops;
    void                    *owner;
};

/* Set up l (the caller's memory) on listening socket fd, which it now owns
 * (closed on failure; fd < 0: no listener). Nothing runs until
 * evloop_start, or uv_run on the caller's thread. ERR_UNAVAILABLE when the
 * socket cannot be listened on (logged). */
MUST_CHECK int evloop_init(struct evloop *l, int index, int fd, const struct evloop_ops *ops,
                           void *owner);
/* Run l on a thread of its own. ERR_INTERNAL when the thread cannot start. */
MUST_CHECK int evloop_start(struct evloop *l);
/* Any thread: post cmd (enum evloop_cmd bits, or 0 for a bare wake-up). */
void evloop_command(struct evloop *l, int cmd);
/* Any thread, with l->lock held: wake l for work the owner queued under the
 * lock (dropped when l is exiting: its owner then has nothing in flight). */
void evloop_wake_locked(struct evloop *l);
/* l's thread: stop accepting and let the owner drain, once. */
void evloop_drain(struct evloop *l);
/* l's thread: the owner holds nothing open any more; close the wake-up so
 * uv_run returns once the owner's own closes are done. */
void evloop_exit(struct evloop *l);
/* Wait for l's thread to end (nothing when it never started). */
void evloop_join(struct evloop *l);
/* After evloop_join: close what is left, release l's resources (not l). */
void evloop_free(struct evloop *l);

/* n listening sockets on ss, one per loop, in fds (the caller's). A probe
 * bound without SO_REUSEPORT comes first, so a port another process holds
 * (even with SO_REUSEPORT) is an error, not a share; port 0 becomes the
 * port the first socket got, in *ss. ERR_UNAVAILABLE with errno kept. */
MUST_CHECK int evloop_listeners(struct sockaddr_storage *ss, socklen_t *len, int n, int *fds);

/* The main thread's side: SIGTERM and SIGINT drain every loop, a second
 * signal or drain_ms later forces them. Set loops, n, drain_ms and the
 * hooks (any may be NULL), then evgroup_init. */
struct evgroup {
    struct evloop **loops;
    int             n;
    int64_t         drain_ms;
    void (*on_drain)(struct evgroup *g);  /* after every loop was told to drain */
    void (*on_force)(struct evgroup *g);  /* after every loop was told to force */
    void (*on_exited)(struct evgroup *g); /* a loop thread ended (see evgroup_exited) */
    void           *owner;
    uv_signal_t     sigterm, sigint;
    uv_timer_t      drain_timer;
    uv_async_t      exited;
    pthread_mutex_t exited_lock; /* a count seen as complete means every send is done */
    int             nexited;
    _Atomic int     draining; /* read by loop threads to refuse new connections */
};

/* Start g's handles on control (the main thread's loop). ERR_INTERNAL when
 * the signal handlers cannot be installed. */
MUST_CHECK int evgroup_init(struct evgroup *g, uv_loop_t *control);
/* Any thread (a loop's ops->done): one loop thread ended; on_exited runs on
 * the control loop. */
void evgroup_loop_done(struct evgroup *g);
/* The number of loop threads that have ended. */
int evgroup_exited(struct evgroup *g);
/* Close g's handles (the control loop then runs out); after the control
 * loop ended, evgroup_free. */
void evgroup_close(struct evgroup *g);
void evgroup_free(struct evgroup *g);

#endif
