/*
 * sweep.c - periodic jobs on threads of their own (sweep.h). A job sleeps
 * on a condition variable, so stopping wakes it at once instead of waiting
 * out its interval.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "arena.h"
#include "log.h"
#include "sweep.h"

struct sweep_job {
    const struct sweep_spec *spec;
    struct sweep            *owner;
    struct db               *db;
    pthread_t                thread;
    int                      started;
};

struct sweep {
    pthread_mutex_t   lock;
    pthread_cond_t    wake;
    int               stopping; /* under lock */
    struct sweep_job *jobs;
    size_t            n;
};

/* Wait ms or until stopping; 1 when stopping. */
static int
nap(struct sweep *s, int64_t ms)
{
    struct timespec until;
    int             stop;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stopping && ms > 0 && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
        ;
    stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static void *
job_main(void *arg)
{
    struct sweep_job *j = arg;
    struct arena     *a = arena_create();
    struct work       w = {.arena = a, .db = j->db, .trace_id = NULL, .ext = j->spec->ctx};
    int               more = 0, rc;

    while (!nap(j->owner, more ? 0 : j->spec->every_ms)) {
        more = 0;
        rc = j->spec->fn(&w, &more);
        if (rc) {
            log_debug("%s: round failed: %s", j->spec->name, err_name(rc));
            more = 0;
        }
        arena_reset(a);
    }
    arena_destroy(a);
    return NULL;
}

void
sweep_stop(struct sweep *s)
{
    size_t i;

    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < s->n; i++) {
        if (s->jobs[i].started)
            pthread_join(s->jobs[i].thread, NULL);
        db_free(s->jobs[i].db);
    }
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->jobs);
    free(s);
}

int
sweep_start(struct sweep **out, const struct sweep_spec *specs, const char *url,
            const struct db_stmt *stmts)
{
    pthread_condattr_t ca;
    struct sweep      *s;
    size_t             i, n = 0;

    *out = NULL;
    while (specs != NULL && specs[n].name != NULL)
        n++;
    if (n == 0)
        return ERR_OK;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->jobs = calloc(n, sizeof(*s->jobs))) == NULL) {
        free(s);
        return ERR_INTERNAL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* immune to wall-clock steps */
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    s->n = n;
    for (i = 0; i < n; i++) {
        s->jobs[i].spec = &specs[i];
        s->jobs[i].owner = s;
        s->jobs[i].db = db_new(url, stmts);
        if (s->jobs[i].db == NULL ||
            pthread_create(&s->jobs[i].thread, NULL, job_main, &s->jobs[i]) != 0) {
            log_error("%s: cannot start its thread", specs[i].name);
            sweep_stop(s);
            return ERR_INTERNAL;
        }
        s->jobs[i].started = 1;
    }
    *out = s;
    return ERR_OK;
}
