/*
 * kv.c - hiredis 0.14 behind kv.h: one lazy blocking connection per struct kv
 * (one per thread), every command bounded by the handle's timeout, replies
 * copied into the caller's arena. A transport failure drops the connection;
 * the next call opens a new one, so a Redis restart costs one failed call.
 * kv_async.c holds the same for a loop thread (hiredis' async API on libuv).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "arena.h"
#include "kv.h"
#include "kv_int.h"
#include "log.h"
#include "str.h"

#define KV_DEFAULT_PORT 6379

struct kv {
    struct kv_url u;
    int           timeout_ms;
    redisContext *c;
    int           down; /* the last attempt failed: log the next failure at debug only */
};

/* ------------------------------------------------------------- url */

/* "redis://host[:port][/db]". No userinfo, query or IPv6 literal: the
 * services' Redis is local and unauthenticated (DESIGN.md §2). */
int
kv_url_parse(const char *url, struct kv_url *u)
{
    const char *p, *host, *colon, *slash, *end;
    int64_t     n;

    if (url == NULL || strncmp(url, "redis://", 8) != 0)
        return ERR_INVALID;
    host = url + 8;
    end = host + strlen(host);
    slash = strchr(host, '/');
    if (slash == NULL)
        slash = end;
    colon = memchr(host, ':', (size_t)(slash - host));
    p = colon != NULL ? colon : slash;
    if (p == host || (size_t)(p - host) >= KV_HOST_MAX || memchr(host, '@', (size_t)(p - host)))
        return ERR_INVALID;
    memcpy(u->host, host, (size_t)(p - host));
    u->host[p - host] = '\0';
    u->port = KV_DEFAULT_PORT;
    if (colon != NULL) {
        if (str_to_i64((struct str){colon + 1, (size_t)(slash - colon - 1)}, 1, 65535, &n))
            return ERR_INVALID;
        u->port = (int)n;
    }
    u->dbn = 0;
    if (slash != end && slash[1] != '\0') {
        if (str_z_to_i64(slash + 1, 0, 1 << 16, &n))
            return ERR_INVALID;
        u->dbn = (int)n;
    }
    return ERR_OK;
}

int
kv_url_check(const char *url)
{
    struct kv_url u;

    return kv_url_parse(url, &u);
}

struct kv *
kv_new(const char *url, int timeout_ms)
{
    struct kv *kv;

    kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return NULL;
    if (kv_url_parse(url, &kv->u)) {
        free(kv);
        return NULL;
    }
    kv->timeout_ms = timeout_ms > 0 ? timeout_ms : KV_DEFAULT_TIMEOUT;
    return kv;
}

static void
kv_disconnect(struct kv *kv)
{
    if (kv->c != NULL)
        redisFree(kv->c);
    kv->c = NULL;
}

void
kv_free(struct kv *kv)
{
    if (kv == NULL)
        return;
    kv_disconnect(kv);
    free(kv);
}

/* ------------------------------------------------------------- transport */

/* Log a transport failure once per outage: a storm of calls against a dead
 * Redis logs one error, then debug lines until a call succeeds again. */
static int
kv_down(struct kv *kv, const char *what, const char *msg)
{
    if (kv->down)
        log_debug("redis %s on %s:%d failed: %s", what, kv->u.host, kv->u.port, msg);
    else
        log_error("redis %s on %s:%d failed: %s", what, kv->u.host, kv->u.port, msg);
    kv->down = 1;
    kv_disconnect(kv);
    return ERR_UNAVAILABLE;
}

static int
kv_select(struct kv *kv)
{
    redisReply *rep;
    char        db[16];
    int         rc = ERR_OK;

    snprintf(db, sizeof(db), "%d", kv->u.dbn);
    rep = redisCommand(kv->c, "SELECT %s", db);
    if (rep == NULL)
        return kv_down(kv, "select", kv->c->errstr);
    if (rep->type == REDIS_REPLY_ERROR) {
        rc = kv_down(kv, "select", rep->str);
    }
    freeReplyObject(rep);
    return rc;
}

static int
kv_connect(struct kv *kv)
{
    struct timeval tv;

    tv.tv_sec = kv->timeout_ms / 1000;
    tv.tv_usec = (kv->timeout_ms % 1000) * 1000;
    kv->c = redisConnectWithTimeout(kv->u.host, kv->u.port, tv);
    if (kv->c == NULL)
        return kv_down(kv, "connect", "out of memory");
    if (kv->c->err)
        return kv_down(kv, "connect", kv->c->errstr);
    if (redisSetTimeout(kv->c, tv) != REDIS_OK)
        return kv_down(kv, "connect", "cannot set the timeout");
    if (kv->u.dbn != 0)
        return kv_select(kv);
    return ERR_OK;
}

/* The raw reply of one command, which the caller frees. An error reply is
 * ERR_INTERNAL and freed here. */
static int
kv_raw(struct kv *kv, int argc, const char *const *argv, const size_t *lens, redisReply **out)
{
    redisReply *rep;
    int         rc;

    *out = NULL;
    if (kv->c == NULL) {
        rc = kv_connect(kv);
        if (rc)
            return rc;
    }
    rep = redisCommandArgv(kv->c, argc, (const char **)argv, lens);
    if (rep == NULL)
        return kv_down(kv, "command", kv->c->errstr);
    if (kv->down)
        log_info("redis on %s:%d is reachable again", kv->u.host, kv->u.port);
    kv->down = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        log_error("redis %.32s failed: %.200s", argv[0], rep->str);
        freeReplyObject(rep);
        return ERR_INTERNAL;
    }
    *out = rep;
    return ERR_OK;
}

/* ------------------------------------------------------------- replies */

static int
reply_copy(struct arena *a, const redisReply *rep, struct kv_reply **out)
{
    struct kv_reply *r = arena_new(a, struct kv_reply);
    size_t           i;
    int              rc;

    *out = r;
    switch (rep->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        r->type = rep->type == REDIS_REPLY_STRING ? KV_STR : KV_STATUS;
        r->str = arena_strndup(a, rep->str, rep->len);
        r->len = rep->len;
        return ERR_OK;
    case REDIS_REPLY_INTEGER:
        r->type = KV_INT;
        r->i = rep->integer;
        return ERR_OK;
    case REDIS_REPLY_NIL:
        r->type = KV_NIL;
        return ERR_OK;
    case REDIS_REPLY_ARRAY:
        r->type = KV_ARRAY;
        r->n = rep->elements;
        r->elem = arena_array(a, struct kv_reply *, rep->elements ? rep->elements : 1);
        for (i = 0; i < rep->elements; i++) {
            rc = reply_copy(a, rep->element[i], &r->elem[i]);
            if (rc)
                return rc;
        }
        return ERR_OK;
    default:
        /* An error nested in an array (EXEC): the command as a whole failed. */
        log_error("redis reply error: %.*s", (int)(rep->len < 200 ? rep->len : 200),
                  rep->str != NULL ? rep->str : "");
        return ERR_INTERNAL;
    }
}

int
kv_cmd(struct kv *kv, struct arena *a, int argc, const char *const *argv, const size_t *lens,
       struct kv_reply **out)
{
    redisReply *rep = NULL;
    int         rc;

    assert(argc > 0 && (out == NULL || a != NULL));
    rc = kv_raw(kv, argc, argv, lens, &rep);
    if (rc)
        goto done;
    if (out != NULL)
        rc = reply_copy(a, rep, out);
done:
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

/* ------------------------------------------------------------- helpers */

int
kv_eval(struct kv *kv, struct arena *a, const char *script, int nkeys, const char *const *keys,
        int nargs, const char *const *args, struct kv_reply **out)
{
    const char **argv;
    char         n[16];
    int          i;

    assert(a != NULL && nkeys >= 0 && nargs >= 0);
    argv = arena_array(a, const char *, (size_t)(3 + nkeys + nargs));
    snprintf(n, sizeof(n), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = n;
    for (i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    return kv_cmd(kv, a, 3 + nkeys + nargs, argv, NULL, out);
}

int
kv_get(struct kv *kv, struct arena *a, const char *key, const char **val, size_t *len)
{
    const char      *argv[] = {"GET", key};
    struct kv_reply *rep;
    int              rc;

    *val = NULL;
    *len = 0;
    rc = kv_cmd(kv, a, 2, argv, NULL, &rep);
    if (rc)
        return rc;
    if (rep->type == KV_NIL)
        return ERR_OK;
    if (rep->type != KV_STR) {
        log_error("redis GET returned reply type %d", (int)rep->type);
        return ERR_INTERNAL;
    }
    *val = rep->str;
    *len = rep->len;
    return ERR_OK;
}

/* Run a command whose only expected reply is a status or an integer. */
static int
kv_simple(struct kv *kv, int argc, const char *const *argv, const size_t *lens)
{
    redisReply *rep = NULL;
    int         rc;

    rc = kv_raw(kv, argc, argv, lens, &rep);
    if (rc)
        return rc;
    if (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_INTEGER) {
        log_error("redis %.32s returned reply type %d", argv[0], rep->type);
        rc = ERR_INTERNAL;
    }
    freeReplyObject(rep);
    return rc;
}

int
kv_set(struct kv *kv, const char *key, const char *val, size_t len, int64_t ttl_s)
{
    char        ttl[24];
    const char *argv[] = {"SET", key, val, "EX", ttl};
    size_t      lens[] = {3, strlen(key), len, 2, 0};

    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
    lens[4] = strlen(ttl);
    return kv_simple(kv, ttl_s > 0 ? 5 : 3, argv, lens);
}

int
kv_del(struct kv *kv, const char *key)
{
    const char *argv[] = {"DEL", key};

    return kv_simple(kv, 2, argv, NULL);
}

int
kv_ping(struct kv *kv)
{
    const char *argv[] = {"PING"};

    return kv_simple(kv, 1, argv, NULL);
}
