/*
 * pool.h - the worker pool that runs handlers: N threads, each with its own
 * state from server_spec.worker_init, popping jobs from one queue (mutex +
 * condition variable). Jobs are intrusive; the pool never allocates per job.
 */
#ifndef SOUK_POOL_H
#define SOUK_POOL_H

#include "err.h"

struct pool;

struct pool_job {
    struct pool_job *next; /* owned by whoever holds the job */
};

/* Run job on a worker whose state is state. cancelled is 1 when the pool
 * was cancelled before the job started: finish it without running it. */
typedef void pool_fn(struct pool_job *job, void *state, int cancelled);

/* Start n threads; init (may be NULL) runs on each thread first, fini at its
 * exit. ERR_INTERNAL if a thread cannot be created. */
MUST_CHECK int pool_start(struct pool **out, int n, pool_fn *fn, void *(*init)(int, void *),
                          void (*fini)(void *), void *arg);
/* Queue a job (any thread). */
void pool_push(struct pool *p, struct pool_job *job);
/* From now on, jobs still queued run with cancelled = 1. */
void pool_cancel(struct pool *p);
/* Run what is queued, join the threads and free the pool. NULL is a no-op. */
void pool_stop(struct pool *p);

#endif
