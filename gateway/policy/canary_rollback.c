/*
 * canary_rollback.c - the canary rollbacks data loops ask for: canary.c's
 * window says a route's new side fails too often (on a data loop), this
 * queue hands the route's name to the main thread's control loop, which
 * sets the route back to legacy through routes_set_mode (it validates,
 * installs and fsyncs, so it never runs on a data loop).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"

#define ERRORS_MAX 65536
#define ROLLBACK_Q 64

static uv_async_t      rollback_async;
static pthread_mutex_t rollback_lock = PTHREAD_MUTEX_INITIALIZER;
static char           *rollback_q[ROLLBACK_Q];
static int             rollback_n, rollback_ready;

void
canary_rollback_request(const char *route)
{
    char *name = strdup(route);

    pthread_mutex_lock(&rollback_lock);
    if (name != NULL && rollback_ready && rollback_n < ROLLBACK_Q) {
        rollback_q[rollback_n++] = name;
        name = NULL;
        uv_async_send(&rollback_async);
    }
    pthread_mutex_unlock(&rollback_lock);
    free(name); /* queue full or shutting down: the next failing answer asks again */
}

/* A route still in canary goes back to legacy; a repeat request is a no-op. */
static void
rollback(const char *name)
{
    struct gw_table       *t = routes_acquire();
    const struct gw_route *r = NULL;
    struct buf             errors;
    int                    i, rc;

    for (i = 0; t != NULL && i < t->nroutes; i++)
        if (strcmp(t->routes[i].name, name) == 0)
            r = &t->routes[i];
    if (r == NULL || r->mode != GW_MODE_CANARY) {
        routes_unref(t);
        return;
    }
    routes_unref(t);
    buf_init(&errors, ERRORS_MAX);
    rc = routes_force_mode(name, "legacy", gateway.routes_path, &errors);
    if (rc) {
        log_error("canary rollback of route %s failed: %s", name, buf_data(&errors));
        gwevents_add("rollback_failed", "route %s: canary rollback failed", name);
    } else {
        log_warn("route %s: canary error rate over its threshold, rolled back to legacy", name);
        gwevents_add("rollback",
                     "route %s: canary error rate over the threshold; mode canary -> "
                     "legacy",
                     name);
    }
    buf_free(&errors);
}

static void
on_rollback(uv_async_t *a)
{
    char *q[ROLLBACK_Q];
    int   n, i;

    (void)a;
    pthread_mutex_lock(&rollback_lock);
    n = rollback_n;
    memcpy(q, rollback_q, sizeof(q[0]) * (size_t)n);
    rollback_n = 0;
    pthread_mutex_unlock(&rollback_lock);
    for (i = 0; i < n; i++) {
        rollback(q[i]);
        free(q[i]);
    }
}

int
canary_rollback_init(uv_loop_t *control)
{
    if (uv_async_init(control, &rollback_async, on_rollback) != 0)
        return ERR_INTERNAL;
    pthread_mutex_lock(&rollback_lock);
    rollback_ready = 1;
    pthread_mutex_unlock(&rollback_lock);
    return ERR_OK;
}

/* Before the control loop closes its handles: no more sends. */
void
canary_rollback_free(void)
{
    int i;

    pthread_mutex_lock(&rollback_lock);
    rollback_ready = 0;
    for (i = 0; i < rollback_n; i++)
        free(rollback_q[i]);
    rollback_n = 0;
    pthread_mutex_unlock(&rollback_lock);
}
