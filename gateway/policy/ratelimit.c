/*
 * ratelimit.c - token buckets keyed by (route, client key), shared by every
 * loop thread under one mutex. Refill is lazy (computed from the time of the
 * last take), so an idle bucket costs nothing until it is evicted. The map is
 * bounded: idle (full) buckets at the cold end of an LRU list are dropped as
 * new ones arrive, and past RL_MAX the least recently used goes regardless.
 */
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

#define RL_SLOTS     16384 /* hash slots (power of two) */
#define RL_MAX       65536 /* buckets kept at most */
#define RL_IDLE_SCAN 4     /* cold buckets checked for idleness per insert */

struct rl_bucket {
    struct rl_bucket *chain;         /* hash slot chain */
    struct rl_bucket *newer, *older; /* LRU list */
    uint64_t          hash;
    double            tokens;
    uint64_t          last_ms;
    double            rate; /* as of the last take: a reload may change it */
    int               burst;
    size_t            keylen;
    char              key[]; /* route '\0' client key */
};

static pthread_mutex_t   rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rl_bucket *slots[RL_SLOTS];
static struct rl_bucket *newest, *oldest;
static size_t            nbuckets;
/* Client keys are chosen by clients (addresses, user ids), so the hash is
 * keyed SipHash with a per-process random key: no precomputed collisions. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static int           hash_key_set;

static void
lru_unlink(struct rl_bucket *b)
{
    if (b->newer != NULL)
        b->newer->older = b->older;
    else
        newest = b->older;
    if (b->older != NULL)
        b->older->newer = b->newer;
    else
        oldest = b->newer;
    b->newer = b->older = NULL;
}

static void
lru_push(struct rl_bucket *b)
{
    b->older = newest;
    b->newer = NULL;
    if (newest != NULL)
        newest->newer = b;
    newest = b;
    if (oldest == NULL)
        oldest = b;
}

static void
drop(struct rl_bucket *b)
{
    struct rl_bucket **pp = &slots[b->hash & (RL_SLOTS - 1)];

    while (*pp != b)
        pp = &(*pp)->chain;
    *pp = b->chain;
    lru_unlink(b);
    nbuckets--;
    free(b);
}

/* Tokens b holds at now_ms, capped at its burst. */
static double
level(const struct rl_bucket *b, uint64_t now_ms)
{
    double t = b->tokens;

    /* Loops read their clocks at different moments: never refill backwards. */
    if (now_ms > b->last_ms)
        t += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
    return t < b->burst ? t : b->burst;
}

/* A full bucket can be forgotten: a new one starts full, so nothing is lost. */
static void
evict(uint64_t now_ms)
{
    int i;

    for (i = 0; i < RL_IDLE_SCAN && oldest != NULL && level(oldest, now_ms) >= oldest->burst; i++)
        drop(oldest);
    if (nbuckets >= RL_MAX)
        drop(oldest); /* under a flood of keys, leniency beats unbounded memory */
}

static struct rl_bucket *
lookup(const char *route, const char *key, uint64_t now_ms, int burst)
{
    size_t            rlen = strlen(route), klen = strlen(key), n = rlen + 1 + klen;
    struct rl_bucket *b;
    char              stackkey[512], *k = n <= sizeof(stackkey) ? stackkey : malloc(n);
    uint64_t          h;

    if (k == NULL)
        abort();
    memcpy(k, route, rlen + 1);
    memcpy(k + rlen + 1, key, klen);
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)k, n, hash_key);
    for (b = slots[h & (RL_SLOTS - 1)]; b != NULL; b = b->chain)
        if (b->hash == h && b->keylen == n && memcmp(b->key, k, n) == 0)
            break;
    if (b != NULL) {
        lru_unlink(b);
    } else {
        evict(now_ms);
        b = calloc(1, sizeof(*b) + n);
        if (b == NULL)
            abort();
        memcpy(b->key, k, n);
        b->keylen = n;
        b->hash = h;
        b->tokens = burst;
        b->last_ms = now_ms;
        b->chain = slots[h & (RL_SLOTS - 1)];
        slots[h & (RL_SLOTS - 1)] = b;
        nbuckets++;
    }
    lru_push(b);
    if (k != stackkey)
        free(k);
    return b;
}

int
ratelimit_take(const char *route, const char *key, double rate, int burst, uint64_t now_ms,
               int *retry_after_s)
{
    struct rl_bucket *b;
    double            wait_s;
    int               ok;

    *retry_after_s = 0;
    if (rate <= 0 || burst <= 0)
        return 1;
    pthread_mutex_lock(&rl_lock);
    if (!hash_key_set) {
        if (sodium_init() < 0)
            abort();
        randombytes_buf(hash_key, sizeof(hash_key));
        hash_key_set = 1;
    }
    b = lookup(route, key, now_ms, burst);
    b->rate = rate;
    b->burst = burst;
    b->tokens = level(b, now_ms);
    if (now_ms > b->last_ms)
        b->last_ms = now_ms;
    ok = b->tokens >= 1.0;
    if (ok) {
        b->tokens -= 1.0;
    } else {
        /* Seconds until one whole token is back; Retry-After is whole seconds. */
        wait_s = ceil((1.0 - b->tokens) / rate);
        *retry_after_s = wait_s < 1 ? 1 : wait_s > 86400 ? 86400 : (int)wait_s;
    }
    pthread_mutex_unlock(&rl_lock);
    return ok;
}

size_t
ratelimit_size(void)
{
    size_t n;

    pthread_mutex_lock(&rl_lock);
    n = nbuckets;
    pthread_mutex_unlock(&rl_lock);
    return n;
}

void
ratelimit_reset(void)
{
    pthread_mutex_lock(&rl_lock);
    while (oldest != NULL)
        drop(oldest);
    pthread_mutex_unlock(&rl_lock);
}
