/*
 * wait.c - read-your-writes. A checkout's answer names the order's version
 * (Souk-Order-Version: ID:V, from orders); a read that sends it back as
 * Souk-Min-Order-Version waits, up to SOUK_HISTORY_RYW_WAIT_MS, until
 * history's row for that order has reached V, then answers; if it is still
 * behind it answers anyway with Souk-Stale: true. The wait is woken by the
 * consumer's after-commit hook (a generation counter and one condition
 * variable: such waits are rare and short, so every apply wakes them all
 * and each re-reads its row), never by polling.
 *
 * Only the caller's own order counts: another user's order (or none) reads
 * as "behind", so the wait tells nothing about orders that are not theirs.
 * It cannot answer such a read at once either: an order of the caller's that
 * has not arrived yet is also unknown, and answering another user's order
 * sooner than an unknown one would tell them apart. What bounds the cost of
 * bogus waits instead is a cap on the reads that wait at once
 * (SOUK_HISTORY_RYW_WAITERS, by default a quarter of the worker threads):
 * past it a read does not wait but answers stale at once, whoever's order it
 * names, so the other workers stay free for everyone's plain reads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "clock.h"

struct history_config history_cfg; /* main.c fills it; here so unit tests link without main */

static pthread_mutex_t  mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   cv;
static pthread_once_t   once = PTHREAD_ONCE_INIT;
static uint64_t         generation;
static atomic_long      waiters; /* reads in wait_min_version's loop now */

/* How many reads may wait at once: the setting, or a quarter of the worker
 * threads (lib/service.h: SOUK_WORKERS, 0 = 4 per core), at least 1. */
static long
waiters_cap(void)
{
    long workers = (long)history_cfg.svc.workers, cores;

    if (history_cfg.ryw_waiters > 0)
        return (long)history_cfg.ryw_waiters;
    if (workers <= 0) {
        cores   = sysconf(_SC_NPROCESSORS_ONLN);
        workers = 4 * (cores > 0 ? cores : 1);
    }
    return workers / 4 > 0 ? workers / 4 : 1;
}

static void
cv_init(void)
{
    pthread_condattr_t at;

    pthread_condattr_init(&at);
    pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &at);
    pthread_condattr_destroy(&at);
}

void
wait_wake(void)
{
    pthread_once(&once, cv_init);
    pthread_mutex_lock(&mu);
    generation++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

uint64_t
wait_generation(void)
{
    uint64_t g;

    pthread_once(&once, cv_init);
    pthread_mutex_lock(&mu);
    g = generation;
    pthread_mutex_unlock(&mu);
    return g;
}

int
wait_sleep(uint64_t gen, int64_t deadline_ms)
{
    struct timespec ts = {deadline_ms / 1000, (deadline_ms % 1000) * 1000000};
    int             woke;

    pthread_once(&once, cv_init);
    pthread_mutex_lock(&mu);
    while (generation == gen && clock_mono_ms() < deadline_ms)
        pthread_cond_timedwait(&cv, &mu, &ts);
    woke = generation != gen;
    pthread_mutex_unlock(&mu);
    return woke;
}

int
wait_min_version(struct req *r)
{
    const char *h = req_header(r, "Souk-Min-Order-Version");
    int64_t     id, want, have, owner, deadline = clock_mono_ms() + history_cfg.ryw_wait_ms;
    int         rc, full;

    if (h == NULL)
        return ERR_OK;
    if (hist_min_version_parse(h, &id, &want) != ERR_OK)
        return req_fail(r, ERR_INVALID, "Souk-Min-Order-Version must be ORDER_ID:VERSION (1 or 2)");
    /* full: one look and no wait, the same for every order, known or not */
    full = atomic_fetch_add(&waiters, 1) >= waiters_cap();
    for (;;) {
        uint64_t gen = wait_generation(); /* before the read: no commit in between is missed */

        rc = store_version(service_work(r), id, &have, &owner);
        if (rc || (owner == r->user.user_id && have >= want))
            break;
        if (full || (!wait_sleep(gen, deadline) && clock_mono_ms() >= deadline)) {
            req_set_header(r, "Souk-Stale", "true");
            break;
        }
    }
    atomic_fetch_sub(&waiters, 1);
    return rc;
}
