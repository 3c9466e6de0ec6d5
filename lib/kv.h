/*
 * kv.h - Redis (hiredis 0.14) behind a small API. One connection per worker
 * thread, opened lazily and re-opened after a failure; every reply is copied
 * into the caller's arena and the redisReply freed inside the wrapper, so
 * callers never see hiredis. Any failure to talk to Redis is ERR_UNAVAILABLE.
 * kv_async: a non-blocking GET on an event loop thread (one per loop), with a
 * deadline and a back-off, for loop handlers (server.h) that answer a cache
 * hit without a worker.
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

/* EVAL script over nkeys keys and nargs arguments (C strings): a Lua script
 * runs atomically, which is how a read-check-write on several keys is made
 * race-free without WATCH retries. Redis keeps the compiled script keyed by
 * its text, so a repeated EVAL costs the bytes sent, not a compile. Errors
 * as kv_cmd (a script's error reply is ERR_INTERNAL, logged). */
MUST_CHECK int kv_eval(struct kv *kv, struct arena *a, const char *script, int nkeys,
                       const char *const *keys, int nargs, const char *const *args,
                       struct kv_reply **out);

/* GET key: *val NULL when the key is absent. */
MUST_CHECK int kv_get(struct kv *kv, struct arena *a, const char *key, const char **val,
                      size_t *len);
/* SET key val, with EX ttl_s when ttl_s > 0. */
MUST_CHECK int kv_set(struct kv *kv, const char *key, const char *val, size_t len, int64_t ttl_s);
/* DEL key. */
MUST_CHECK int kv_del(struct kv *kv, const char *key);
/* PING (for /ready). */
MUST_CHECK int kv_ping(struct kv *kv);

/* ---- on an event loop (its thread only) ---- */

struct kv_async;
struct uv_loop_s;

/* What a GET came to: rc ERR_OK with val NULL (no such key) or val, len (the
 * value, valid only during the call: copy what you keep); ERR_TIMEOUT (no
 * answer within the deadline), ERR_UNAVAILABLE (the connection failed),
 * ERR_INTERNAL (an error reply). */
typedef void kv_async_cb(void *arg, int rc, const char *val, size_t len);

/* A handle on loop for url (as kv_new). Does not connect and starts no
 * handle, so it may be made before the loop runs. timeout_ms bounds every
 * GET (connecting included); after a failure or a timeout the handle sends
 * nothing for backoff_ms. NULL when url is malformed or out of memory. */
struct kv_async *kv_async_new(const char *url, struct uv_loop_s *loop, int timeout_ms,
                              int backoff_ms);
/* On the loop's thread (or any thread when the loop never ran), with no GET
 * outstanding: drop the connection; the memory goes when the loop has run
 * the closes. NULL is a no-op. */
void kv_async_free(struct kv_async *ka);
/* Send GET key (opening the connection first if there is none). ERR_OK: cb
 * runs exactly once, later, on the loop (never inside this call).
 * ERR_UNAVAILABLE: nothing was sent (backing off, cannot connect, too many
 * outstanding) and cb never runs. */
MUST_CHECK int kv_async_get(struct kv_async *ka, const char *key, kv_async_cb *cb, void *arg);

#endif
