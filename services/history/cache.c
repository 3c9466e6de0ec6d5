/*
 * cache.c - the v1 "my orders" pages as answered, kept in this process for
 * up to SOUK_HISTORY_CACHE_TTL_MS, so a repeated page costs no PostgreSQL
 * round trip. Entries hang in buckets by user; an apply of one of the user's
 * events drops the bucket's entries and bumps its generation after the
 * commit, and a swap after a rebuild bumps the epoch, dropping all. A worker
 * takes the generation before it reads PostgreSQL and stores its answer
 * only if nothing was applied meanwhile, so an old answer never lands after
 * the invalidation that should have removed it. Several history processes
 * share one queue, so another process's apply reaches this cache only by
 * the TTL: that bounds how stale a page without Souk-Min-Order-Version can
 * be (reads with it skip the cache). Bounded by SOUK_HISTORY_CACHE_MB;
 * every store also sweeps one other bucket of expired entries.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define BUCKETS    1024
#define BUCKET_MAX 4 /* entries per bucket */

struct entry {
    struct entry *next;
    int64_t       user, page, limit, at_ms;
    uint64_t      epoch;
    size_t        len;
    char          bytes[];
};

static struct bucket {
    pthread_mutex_t mu;
    struct entry   *head;
    uint64_t        gen;
    int             n;
} buckets[BUCKETS];

static _Atomic uint64_t epoch = 1;
static _Atomic int64_t  bytes_used;
static _Atomic unsigned sweep_at;
static pthread_once_t   once = PTHREAD_ONCE_INIT;

static void
init(void)
{
    size_t i;

    for (i = 0; i < BUCKETS; i++)
        pthread_mutex_init(&buckets[i].mu, NULL);
}

static struct bucket *
bucket_of(int64_t user)
{
    pthread_once(&once, init);
    return &buckets[(uint64_t)user * 0x9E3779B97F4A7C15ull >> 54];
}

static void
drop(struct bucket *b, struct entry **at)
{
    struct entry *e = *at;

    *at = e->next;
    atomic_fetch_sub(&bytes_used, (int64_t)(sizeof(*e) + e->len));
    b->n--;
    free(e);
}

static int
live(const struct entry *e, int64_t now)
{
    return e->epoch == atomic_load(&epoch) && now - e->at_ms < history_cfg.cache_ttl_ms;
}

/* Free what expired in b (its lock held). */
static void
sweep(struct bucket *b, int64_t now)
{
    struct entry **at = &b->head;

    while (*at != NULL)
        if (!live(*at, now))
            drop(b, at);
        else
            at = &(*at)->next;
}

int
cache_get(struct arena *a, int64_t user, int64_t page, int64_t limit, const char **p, size_t *n)
{
    struct bucket *b = bucket_of(user);
    struct entry  *e;
    int64_t        now = wait_now_ms();
    int            hit = 0;

    if (history_cfg.cache_ttl_ms == 0)
        return 0;
    pthread_mutex_lock(&b->mu);
    for (e = b->head; e != NULL && !hit; e = e->next)
        if (e->user == user && e->page == page && e->limit == limit && live(e, now)) {
            *p = arena_strndup(a, e->bytes, e->len);
            *n = e->len;
            hit = 1;
        }
    pthread_mutex_unlock(&b->mu);
    return hit;
}

struct cache_mark
cache_mark(int64_t user)
{
    struct bucket    *b = bucket_of(user);
    struct cache_mark m;

    pthread_mutex_lock(&b->mu);
    m.gen = b->gen;
    pthread_mutex_unlock(&b->mu);
    m.epoch = atomic_load(&epoch);
    return m;
}

void
cache_put(struct cache_mark m, int64_t user, int64_t page, int64_t limit, const char *p, size_t n)
{
    struct bucket *b = bucket_of(user), *other;
    struct entry **at, *e;
    int64_t        now = wait_now_ms();

    if (history_cfg.cache_ttl_ms == 0 ||
        atomic_load(&bytes_used) + (int64_t)n > history_cfg.cache_mb << 20)
        return;
    other = &buckets[atomic_fetch_add(&sweep_at, 1) % BUCKETS];
    if (other != b) {
        pthread_mutex_lock(&other->mu);
        sweep(other, now);
        pthread_mutex_unlock(&other->mu);
    }
    e = malloc(sizeof(*e) + n);
    if (e == NULL)
        return;
    *e = (struct entry){NULL, user, page, limit, now, m.epoch, n};
    memcpy(e->bytes, p, n);
    pthread_mutex_lock(&b->mu);
    if (b->gen != m.gen || atomic_load(&epoch) != m.epoch) { /* applied meanwhile: stale */
        pthread_mutex_unlock(&b->mu);
        free(e);
        return;
    }
    sweep(b, now);
    for (at = &b->head; *at != NULL;)
        if ((*at)->user == user && (*at)->page == page && (*at)->limit == limit)
            drop(b, at);
        else
            at = &(*at)->next;
    while (b->n >= BUCKET_MAX) { /* the oldest is last */
        for (at = &b->head; (*at)->next != NULL; at = &(*at)->next)
            ;
        drop(b, at);
    }
    e->next = b->head;
    b->head = e;
    b->n++;
    atomic_fetch_add(&bytes_used, (int64_t)(sizeof(*e) + n));
    pthread_mutex_unlock(&b->mu);
}

void
cache_forget(int64_t user)
{
    struct bucket *b = bucket_of(user);

    pthread_mutex_lock(&b->mu);
    b->gen++;
    while (b->head != NULL)
        drop(b, &b->head);
    pthread_mutex_unlock(&b->mu);
}

void
cache_forget_all(void)
{
    atomic_fetch_add(&epoch, 1);
}
