/*
 * cache.c - the serialized answers of the tally reports, kept between
 * requests (DESIGN.md §8: a cache stores the bytes and the handler returns
 * them as they are), so a repeated report costs no database round trip.
 * An entry is good while no event has been applied in this process since
 * it was read (a generation the consumers bump after each commit that
 * changed the tallies) and for at most SOUK_REPORTING_CACHE_MS, which
 * bounds what another instance's consumers or a backfill changed unseen.
 * Process lifetime; owned here; one mutex (entries are small, copies short).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "reporting.h"
#include "xalloc.h"

#define CACHE_SLOTS 64

struct entry {
    char    *key;  /* NULL: empty */
    char    *body; /* the JSON answer */
    size_t   len;
    char    *as_of; /* its freshness (RFC 3339), and as epoch milliseconds */
    int64_t  as_of_ms;
    uint64_t gen;       /* the generation it was read in */
    int64_t  stored_ms; /* monotonic */
};

static struct entry     slots[CACHE_SLOTS];
static pthread_mutex_t  lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t generation = 1;
static int64_t          ttl_ms = 250;

#define HELP "tally reports answered from the cache (hit) or the database (miss)"
/* clang-format off */
static struct metric hits = {.name = "souk_reporting_cache_total", .help = HELP,
    .kind = METRIC_COUNTER, .labels = "result=\"hit\""};
static struct metric misses = {.name = "souk_reporting_cache_total", .help = HELP,
    .kind = METRIC_COUNTER, .labels = "result=\"miss\""};
/* clang-format on */

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cache_setup(int64_t ttl)
{
    ttl_ms = ttl;
    metrics_register(&hits);
    metrics_register(&misses);
}

uint64_t
cache_generation(void)
{
    return atomic_load(&generation);
}

void
cache_bump(void)
{
    atomic_fetch_add(&generation, 1);
}

static void
entry_clear(struct entry *e)
{
    free(e->key);
    free(e->body);
    free(e->as_of);
    memset(e, 0, sizeof(*e));
}

int
cache_get(struct arena *a, const char *key, uint64_t gen, struct cached *out)
{
    int64_t now = mono_ms();
    size_t  i;
    int     hit = 0;

    if (ttl_ms <= 0)
        return 0;
    pthread_mutex_lock(&lock);
    for (i = 0; i < CACHE_SLOTS && !hit; i++) {
        struct entry *e = &slots[i];

        if (e->key == NULL || strcmp(e->key, key) != 0)
            continue;
        if (e->gen != gen || now - e->stored_ms > ttl_ms) {
            entry_clear(e);
            break;
        }
        out->body = arena_strndup(a, e->body, e->len);
        out->len = e->len;
        out->fresh.as_of = arena_strdup(a, e->as_of);
        out->fresh.as_of_ms = e->as_of_ms;
        hit = 1;
    }
    pthread_mutex_unlock(&lock);
    metrics_add(hit ? &hits : &misses, 1);
    return hit;
}

void
cache_put(const char *key, uint64_t gen, const struct cached *c)
{
    struct entry *victim = &slots[0];
    size_t        i;

    if (ttl_ms <= 0)
        return;
    pthread_mutex_lock(&lock);
    /* The same key, else an empty slot, else the oldest entry. */
    for (i = 0; i < CACHE_SLOTS; i++) {
        struct entry *e = &slots[i];

        if (e->key != NULL && strcmp(e->key, key) == 0) {
            victim = e;
            break;
        }
        if (victim->key != NULL && (e->key == NULL || e->stored_ms < victim->stored_ms))
            victim = e;
    }
    entry_clear(victim);
    victim->key = xstrdup(key);
    victim->body = xcalloc(1, c->len + 1);
    memcpy(victim->body, c->body, c->len);
    victim->len = c->len;
    victim->as_of = xstrdup(c->fresh.as_of);
    victim->as_of_ms = c->fresh.as_of_ms;
    victim->gen = gen;
    victim->stored_ms = mono_ms();
    pthread_mutex_unlock(&lock);
}
