/*
 * kv.h - Redis (hiredis 0.14) behind a small API. One connection per worker
 * thread, opened lazily and re-opened after a failure; every reply is copied
 * into the caller's arena and the redisReply freed inside the wrapper, so
 * callers never see hiredis. Any failure to talk to Redis is ERR_UNAVAILABLE.
 */
#ifndef SOUK_KV_H
#define SOUK_KV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;
struct kv;

enum kv_type { KV_NIL, KV_STR, KV_INT, KV_ARRAY, KV_STATUS };

/* A reply, in the arena. Strings are NUL-terminated as well as sized. */
struct kv_reply {
    enum kv_type      type;
    const char       *str; /* KV_STR, KV_STATUS */
    size_t            len;
    int64_t           i;    /* KV_INT */
    struct kv_reply **elem; /* KV_ARRAY */
    size_t            n;
};

/* A handle for url "redis://host:port[/db]". Does not connect. NULL when url
 * is malformed. timeout_ms bounds connect and every command. */
struct kv *kv_new(const char *url, int timeout_ms);
void       kv_free(struct kv *kv);
/* ERR_OK when url parses (for startup validation), ERR_INVALID otherwise. */
MUST_CHECK int kv_url_check(const char *url);

/* Run one command given as argc binary-safe arguments (lens may be NULL when
 * every argv is a C string). out may be NULL. An error reply from Redis is
 * ERR_INTERNAL (logged); a transport failure ERR_UNAVAILABLE. */
MUST_CHECK int kv_cmd(struct kv *kv, struct arena *a, int argc, const char *const *argv,
                      const size_t *lens, struct kv_reply **out);

/* GET key: *val NULL when the key is absent. */
MUST_CHECK int kv_get(struct kv *kv, struct arena *a, const char *key, const char **val,
                      size_t *len);
/* SET key val, with EX ttl_s when ttl_s > 0. */
MUST_CHECK int kv_set(struct kv *kv, const char *key, const char *val, size_t len, int64_t ttl_s);
/* DEL key. */
MUST_CHECK int kv_del(struct kv *kv, const char *key);
/* PING (for /ready). */
MUST_CHECK int kv_ping(struct kv *kv);

#endif
