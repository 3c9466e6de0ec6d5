/*
 * pool.c - see pool.h. One FIFO under one mutex: handlers block on
 * databases for milliseconds, so the queue lock is never the bottleneck.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "pool.h"

struct worker {
    struct pool *pool;
    pthread_t    thread;
    int          index;
    int          started;
};

struct pool {
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    struct pool_job *head, *tail;
    int              stopping, cancelled;
    pool_fn         *fn;
    void *(*init)(int, void *);
    void (*fini)(void *);
    void          *arg;
    int            n;
    struct worker *workers;
};

static void *
worker_main(void *arg)
{
    struct worker   *w = arg;
    struct pool     *p = w->pool;
    struct pool_job *job;
    void            *state = p->init != NULL ? p->init(w->index, p->arg) : NULL;
    int              cancelled;

    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        job = p->head;
        if (job == NULL) {
            pthread_mutex_unlock(&p->lock);
            break; /* stopping and drained */
        }
        p->head = job->next;
        if (p->head == NULL)
            p->tail = NULL;
        cancelled = p->cancelled;
        pthread_mutex_unlock(&p->lock);
        job->next = NULL;
        p->fn(job, state, cancelled);
    }
    if (p->fini != NULL)
        p->fini(state);
    return NULL;
}

int
pool_start(struct pool **out, int n, pool_fn *fn, void *(*init)(int, void *), void (*fini)(void *),
           void *arg)
{
    struct pool *p;
    int          i, rc = ERR_OK;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ERR_INTERNAL;
    p->workers = calloc((size_t)n, sizeof(*p->workers));
    if (p->workers == NULL) {
        free(p);
        return ERR_INTERNAL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->fn = fn;
    p->init = init;
    p->fini = fini;
    p->arg = arg;
    p->n = n;
    for (i = 0; i < n; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            log_error("cannot start worker thread %d", i);
            rc = ERR_INTERNAL;
            break;
        }
        p->workers[i].started = 1;
    }
    if (rc) {
        pool_stop(p);
        return rc;
    }
    *out = p;
    return ERR_OK;
}

void
pool_push(struct pool *p, struct pool_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail != NULL)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void
pool_cancel(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->cancelled = 1;
    pthread_mutex_unlock(&p->lock);
}

void
pool_stop(struct pool *p)
{
    int i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->n; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
}
