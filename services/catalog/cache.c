/*
 * cache.c - cache-aside in Redis for the product page and the category list.
 * A value is the serialized reply with the version it shows, so a hit is
 * returned as it is (no JSON work on the hit path). Every write goes through
 * one Lua script that stores a value only when the cached one is older: a
 * reader that read before a write committed cannot overwrite what the writer
 * stored after it (write-through, or a tombstone for a delete; the
 * review.created consumer writes through the same way, on its own handle).
 * The catalog's own product events, consumed later and in any order, only
 * invalidate an older entry (cache_product_invalidate): they never store a
 * page, so a late event cannot bring back a page an eviction or a delete
 * already took away. Redis being down costs a fall-through to PostgreSQL,
 * never an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "str.h"
#include "clock.h"

#define CACHE_BACKOFF_MS 1000 /* after a failure, a worker's reads leave Redis alone this long */
#define VERSION_MAX      24   /* "<int64>:" */
#define RATIO_SCALE      1000000

/* KEYS[1] key, ARGV[1] version, ARGV[2] "<version>:<bytes>", ARGV[3] ttl.
 * 1: stored; 0: refused (Redis holds a newer version); 2: it holds this one
 * already (the product event after a successful write-through). */
static const char set_if_newer[] = "local cur = redis.call('GET', KEYS[1])\n"
                                   "if cur then\n"
                                   "  local v = tonumber(string.match(cur, '^(%d+):'))\n"
                                   "  if v and v > tonumber(ARGV[1]) then return 0 end\n"
                                   "  if v and v == tonumber(ARGV[1]) then return 2 end\n"
                                   "end\n"
                                   "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
                                   "return 1\n";

/* KEYS[1] key, ARGV[1] version. 1: deleted (Redis held an older version);
 * 2: nothing to do (no entry, or one of this version or newer). */
static const char del_if_older[] = "local cur = redis.call('GET', KEYS[1])\n"
                                   "if not cur then return 2 end\n"
                                   "local v = tonumber(string.match(cur, '^(%d+):'))\n"
                                   "if v and v >= tonumber(ARGV[1]) then return 2 end\n"
                                   "redis.call('DEL', KEYS[1])\n"
                                   "return 1\n";

/* clang-format off */
static struct metric hits = {.name = "souk_catalog_cache_hits_total",
    .help = "Reads answered from Redis.", .kind = METRIC_COUNTER};
static struct metric misses = {.name = "souk_catalog_cache_misses_total",
    .help = "Reads that found no entry and went to PostgreSQL.", .kind = METRIC_COUNTER};
static struct metric errors = {.name = "souk_catalog_cache_errors_total",
    .help = "Cache reads and writes that failed or were skipped (Redis down); reads fell through.",
    .kind = METRIC_COUNTER};
static struct metric refused = {.name = "souk_catalog_cache_stale_writes_refused_total",
    .help = "Cache writes refused because Redis held a newer version.", .kind = METRIC_COUNTER};
static struct metric invalidated = {.name = "souk_catalog_cache_invalidations_total",
    .help = "Entries a product event found older than itself and deleted (a missed write-through).",
    .kind = METRIC_COUNTER};
static struct metric ratio = {.name = "souk_catalog_cache_hit_ratio",
    .help = "hits / (hits + misses) since start.", .kind = METRIC_GAUGE, .scale = RATIO_SCALE};
/* clang-format on */

int
cache_setup(void)
{
    if (kv_url_check(catalog.redis_url) != ERR_OK) {
        log_error("SOUK_REDIS_URL is not redis://host:port[/db]");
        return ERR_INVALID;
    }
    metrics_register(&hits);
    metrics_register(&misses);
    metrics_register(&errors);
    metrics_register(&refused);
    metrics_register(&invalidated);
    metrics_register(&ratio);
    return ERR_OK;
}

/* Every handler thread and the consumer thread (its write-through) own a
 * Redis handle, opened on first use. */
void *
cache_conn_new(void)
{
    struct cache_conn *c = calloc(1, sizeof(*c));

    if (c != NULL)
        c->kv = kv_new(catalog.redis_url, (int)catalog.cache_timeout_ms);
    if (c != NULL && c->kv == NULL) {
        free(c);
        c = NULL;
    }
    return c;
}

void
cache_conn_free(void *state)
{
    struct cache_conn *c = state;

    if (c == NULL)
        return;
    kv_free(c->kv);
    free(c);
}

static void
count(struct metric *m)
{
    int64_t h, n;

    metrics_add(m, 1);
    h = atomic_load_explicit(&hits.value, memory_order_relaxed);
    n = h + atomic_load_explicit(&misses.value, memory_order_relaxed);
    if (n > 0)
        metrics_set(&ratio, (int64_t)((double)h / (double)n * RATIO_SCALE));
}

/* 1 when this thread may talk to Redis: a failure makes it skip Redis for a
 * moment, so a hung Redis costs one timeout per thread per second, not one
 * per request. */
static int
usable(const struct cache_conn *c)
{
    if (c->kv == NULL)
        return 0;
    return clock_mono_ms() >= c->retry_ms;
}

static void
failed(struct cache_conn *c)
{
    c->retry_ms = clock_mono_ms() + CACHE_BACKOFF_MS;
    count(&errors);
}

/* The entry val (in r's arena) read under key, counted as a hit or a miss. */
static void
decode(struct req *r, const char *key, const char *val, size_t len, struct cache_hit *out)
{
    const char *colon;

    memset(out, 0, sizeof(*out));
    colon = val != NULL ? memchr(val, ':', len < VERSION_MAX ? len : VERSION_MAX) : NULL;
    if (colon == NULL ||
        str_to_i64((struct str){val, (size_t)(colon - val)}, 0, INT64_MAX, &out->version)) {
        if (val != NULL)
            rlog_warn(r, "cache entry %s is malformed; reading the database", key);
        count(&misses);
        return;
    }
    out->found = 1;
    out->body = colon + 1;
    out->len = len - (size_t)(colon + 1 - val);
    out->tombstone = out->len == 0;
    count(&hits);
}

static void
get(struct req *r, const char *key, struct cache_hit *out)
{
    struct cache_conn *c = service_ext(r);
    const char        *val;
    size_t             len;
    int                rc;

    memset(out, 0, sizeof(*out));
    if (!usable(c)) {
        count(&errors);
        return;
    }
    rc = kv_get(c->kv, r->arena, key, &val, &len);
    if (rc) {
        failed(c);
        return;
    }
    decode(r, key, val, len, out);
}

/* One set-if-newer of value (version) under key through c. */
static int
eval_put(struct cache_conn *c, struct arena *a, const char *key, const char *vtext, size_t vlen,
         const char *value, size_t len)
{
    char             ttl[VERSION_MAX];
    struct kv_reply *rep;
    int              rc;

    snprintf(ttl, sizeof(ttl), "%lld", (long long)catalog.cache_ttl);
    rc = kv_cmd(
        c->kv, a, 7, (const char *const[]){"EVAL", set_if_newer, "1", key, vtext, value, ttl},
        (const size_t[]){4, sizeof(set_if_newer) - 1, 1, strlen(key), vlen, len, strlen(ttl)},
        &rep);
    if (rc == ERR_OK && rep->type == KV_INT && rep->i == 0)
        metrics_add(&refused, 1);
    return rc;
}

/* Store through w->ext with w->arena. A reader's fill is worth one try and
 * only outside back-off. A writer's is what keeps every thread from serving
 * the old state, so it never skips: it goes to Redis even in back-off and
 * tries once more on a fresh connection (kv re-opens after a failure, which
 * covers a dropped or killed connection); if Redis is really down, the
 * product event the write committed invalidates the entry (events.c). */
static int
put(struct work *w, const char *key, int64_t version, const char *body, size_t len, int writer)
{
    struct cache_conn *c = w->ext;
    char               vtext[VERSION_MAX];
    char              *value;
    size_t             vlen;
    int                rc, tries;

    if (c->kv == NULL || (!writer && !usable(c))) {
        count(&errors);
        return ERR_UNAVAILABLE;
    }
    vlen = (size_t)snprintf(vtext, sizeof(vtext), "%lld", (long long)version);
    value = arena_alloc(w->arena, vlen + 1 + len + 1);
    memcpy(value, vtext, vlen);
    value[vlen] = ':';
    if (len > 0)
        memcpy(value + vlen + 1, body, len);
    rc = eval_put(c, w->arena, key, vtext, vlen, value, vlen + 1 + len);
    for (tries = 1; rc != ERR_OK && writer && tries < 2; tries++)
        rc = eval_put(c, w->arena, key, vtext, vlen, value, vlen + 1 + len);
    if (rc == ERR_OK) {
        c->retry_ms = 0;
        return ERR_OK;
    }
    failed(c);
    /* A reader's failed fill only costs the next reader a miss. */
    if (writer)
        log_warn("cache entry %s may show an older version until its product event is applied: "
                 "redis write failed",
                 key);
    return rc;
}

/* The product event's side: drop the entry if it shows a version older than
 * the event's. Tried like a writer (it is the repair of a failed one). */
int
cache_product_invalidate(struct work *w, int64_t id, int64_t version)
{
    struct cache_conn *c = w->ext;
    const char        *key = arena_printf(w->arena, CACHE_KEY_PRODUCT, (long long)id);
    char               vtext[VERSION_MAX];
    size_t             vlen;
    struct kv_reply   *rep;
    int                rc = ERR_UNAVAILABLE, tries;

    if (c->kv == NULL) {
        count(&errors);
        return rc;
    }
    vlen = (size_t)snprintf(vtext, sizeof(vtext), "%lld", (long long)version);
    for (tries = 0; rc != ERR_OK && tries < 2; tries++)
        rc =
            kv_cmd(c->kv, w->arena, 5, (const char *const[]){"EVAL", del_if_older, "1", key, vtext},
                   (const size_t[]){4, sizeof(del_if_older) - 1, 1, strlen(key), vlen}, &rep);
    if (rc == ERR_OK) {
        c->retry_ms = 0;
        if (rep->type == KV_INT && rep->i == 1)
            metrics_add(&invalidated, 1);
        return ERR_OK;
    }
    failed(c);
    return rc;
}

void
cache_product_get(struct req *r, int64_t id, struct cache_hit *out)
{
    get(r, arena_printf(r->arena, CACHE_KEY_PRODUCT, (long long)id), out);
}

int
cache_product_put(struct work *w, int64_t id, int64_t version, const char *body, size_t len,
                  int writer)
{
    return put(w, arena_printf(w->arena, CACHE_KEY_PRODUCT, (long long)id), version, body,
               body != NULL ? len : 0, writer);
}

void
cache_categories_get(struct req *r, struct cache_hit *out)
{
    get(r, CACHE_KEY_CATEGORIES, out);
}

void
cache_categories_put(struct req *r, int64_t version, const char *body, size_t len, int writer)
{
    put(service_work(r), CACHE_KEY_CATEGORIES, version, body, len, writer);
}

/* ---- on an I/O loop: the product page without a worker ---------------------------- */

/* A loop that saw Redis fail or time out leaves it alone this long: its
 * reads go to workers (and PostgreSQL), and a dead Redis costs one try per
 * loop per back-off, not one per request. */
#define CACHE_LOOP_BACKOFF_MS CACHE_BACKOFF_MS

void *
cache_loop_new(struct uv_loop_s *loop)
{
    if (catalog.cache_loop_timeout_ms == 0)
        return NULL;
    return kv_async_new(catalog.redis_url, loop, (int)catalog.cache_loop_timeout_ms,
                        CACHE_LOOP_BACKOFF_MS);
}

void
cache_loop_free(void *state)
{
    kv_async_free(state);
}

struct lookup {
    struct req    *r;
    const char    *key;
    cache_done_fn *done;
};

static void
looked_up(void *arg, int rc, const char *val, size_t len)
{
    struct lookup   *lk = arg;
    struct cache_hit hit;

    memset(&hit, 0, sizeof(hit));
    if (rc)
        count(&errors);
    else /* val lives only during this call: the reply goes out of the arena */
        decode(lk->r, lk->key, val != NULL ? arena_strndup(lk->r->arena, val, len) : NULL, len,
               &hit);
    lk->done(lk->r, &hit);
}

int
cache_product_lookup(struct req *r, int64_t id, cache_done_fn *done)
{
    struct lookup *lk = arena_new(r->arena, struct lookup);
    int            rc;

    lk->r = r;
    lk->key = arena_printf(r->arena, CACHE_KEY_PRODUCT, (long long)id);
    lk->done = done;
    rc = kv_async_get(r->loop, lk->key, looked_up, lk);
    if (rc)
        count(&errors);
    return rc;
}
