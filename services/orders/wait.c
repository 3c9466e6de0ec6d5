/*
 * wait.c - checkouts waiting for their order's outcome. A v1 checkout
 * registers a waiter for its order id, reads the order, and sleeps on the
 * waiter's condition variable; the consumer (after_commit) and the sweeper
 * (after their commit) wake the waiters of the order they moved, so a
 * checkout wakes on the commit that decides it rather than by polling. The
 * waiter is registered before the order is read, so a commit that lands
 * between the read and the sleep still wakes it (the flag stays set).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "orders.h"
#include "clock.h"

struct waiter {
    int64_t        id;
    int            woken;
    pthread_cond_t cond;
    struct waiter *prev, *next;
};

/* clang-format off */
static struct metric waiting = {.name = "souk_orders_checkouts_waiting",
    .help = "v1 checkouts waiting for their order's outcome now.", .kind = METRIC_GAUGE};
static struct metric wakes = {.name = "souk_orders_checkout_wakes_total",
    .help = "Waiting checkouts woken by the commit that moved their order.",
    .kind = METRIC_COUNTER};
/* clang-format on */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter  *waiters; /* few (one per waiting checkout): a list is enough */

void
wait_setup(void)
{
    metrics_register(&waiting);
    metrics_register(&wakes);
}

/* The request's arena drops the waiter with the request. */
static void
waiter_drop(void *p)
{
    struct waiter *wt = p;

    pthread_mutex_lock(&lock);
    if (wt->prev != NULL)
        wt->prev->next = wt->next;
    else
        waiters = wt->next;
    if (wt->next != NULL)
        wt->next->prev = wt->prev;
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&wt->cond);
    metrics_add(&waiting, -1);
}

struct waiter *
wait_begin(struct arena *a, int64_t id)
{
    struct waiter     *wt = arena_new(a, struct waiter);
    pthread_condattr_t ca;

    memset(wt, 0, sizeof(*wt));
    wt->id = id;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wt->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&lock);
    wt->next = waiters;
    if (waiters != NULL)
        waiters->prev = wt;
    waiters = wt;
    pthread_mutex_unlock(&lock);
    arena_defer_owned(a, waiter_drop, wt);
    metrics_add(&waiting, 1);
    return wt;
}

int
wait_sleep(struct waiter *wt, int64_t deadline_ms)
{
    struct timespec ts;
    int             left;

    ts.tv_sec = deadline_ms / 1000;
    ts.tv_nsec = (deadline_ms % 1000) * 1000000;
    pthread_mutex_lock(&lock);
    while (!wt->woken && clock_mono_ms() < deadline_ms)
        pthread_cond_timedwait(&wt->cond, &lock, &ts);
    left = wt->woken;
    wt->woken = 0;
    pthread_mutex_unlock(&lock);
    return left || clock_mono_ms() < deadline_ms;
}

void
wait_wake(int64_t id)
{
    struct waiter *wt;

    pthread_mutex_lock(&lock);
    for (wt = waiters; wt != NULL; wt = wt->next)
        if (wt->id == id) {
            wt->woken = 1;
            pthread_cond_signal(&wt->cond);
            metrics_add(&wakes, 1);
        }
    pthread_mutex_unlock(&lock);
}
