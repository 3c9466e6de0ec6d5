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
 */
#include <pthread.h>
#include <time.h>

#include "history.h"

struct history_config history_cfg; /* main.c fills it; here so unit tests link without main */

static pthread_mutex_t  mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   cv;
static pthread_once_t   once = PTHREAD_ONCE_INIT;
static uint64_t         generation;

static void
cv_init(void)
{
    pthread_condattr_t at;

    pthread_condattr_init(&at);
    pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &at);
    pthread_condattr_destroy(&at);
}

int64_t
wait_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    while (generation == gen && wait_now_ms() < deadline_ms)
        pthread_cond_timedwait(&cv, &mu, &ts);
    woke = generation != gen;
    pthread_mutex_unlock(&mu);
    return woke;
}

int
wait_min_version(struct req *r)
{
    const char *h = req_header(r, "Souk-Min-Order-Version");
    int64_t     id, want, have, owner, deadline = wait_now_ms() + history_cfg.ryw_wait_ms;
    int         rc;

    if (h == NULL)
        return ERR_OK;
    if (hist_min_version_parse(h, &id, &want) != ERR_OK)
        return req_fail(r, ERR_INVALID, "Souk-Min-Order-Version must be ORDER_ID:VERSION (1 or 2)");
    for (;;) {
        uint64_t gen = wait_generation(); /* before the read: no commit in between is missed */

        rc = store_version(service_work(r), id, &have, &owner);
        if (rc)
            return rc;
        if (owner == r->user.user_id && have >= want)
            return ERR_OK;
        if (!wait_sleep(gen, deadline) && wait_now_ms() >= deadline)
            break;
    }
    req_set_header(r, "Souk-Stale", "true");
    return ERR_OK;
}
