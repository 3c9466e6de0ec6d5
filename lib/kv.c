/*
 * kv.c - hiredis 0.14 behind kv.h: one lazy blocking connection per struct kv
 * (one per thread), every command bounded by the handle's timeout, replies
 * copied into the caller's arena. A transport failure drops the connection;
 * the next call opens a new one, so a Redis restart costs one failed call.
 * Below, kv_async: hiredis' async API on a libuv loop, for GETs from a loop
 * thread that must never block it.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>
#include <async.h>
#include <adapters/libuv.h>

#include "arena.h"
#include "kv.h"
#include "log.h"
#include "str.h"

#define KV_HOST_MAX        256
#define KV_DEFAULT_PORT    6379
#define KV_DEFAULT_TIMEOUT 1000 /* ms, when kv_new is given <= 0 */

struct kv_url {
    char host[KV_HOST_MAX];
    int  port;
    int  dbn; /* SELECTed on connect when not 0 */
};

struct kv {
    struct kv_url u;
    int           timeout_ms;
    redisContext *c;
    int           down; /* the last attempt failed: log the next failure at debug only */
};

/* ------------------------------------------------------------- url */

/* "redis://host[:port][/db]". No userinfo, query or IPv6 literal: the
 * services' Redis is local and unauthenticated (DESIGN.md §2). */
static int
url_parse(const char *url, struct kv_url *u)
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

    return url_parse(url, &u);
}

struct kv *
kv_new(const char *url, int timeout_ms)
{
    struct kv *kv;

    kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return NULL;
    if (url_parse(url, &kv->u)) {
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

/* ------------------------------------------------------------- async, on a loop */

#define KV_ASYNC_MAX_PENDING                                                                       \
    1024 /* per loop; beyond it a GET is refused (the caller's worker                              \
            path answers), so a slow Redis cannot pile up memory */

/* One GET sent and not yet answered. hiredis owns it until its callback
 * runs (maybe after the caller was answered by a timeout: done). */
struct kv_pend {
    struct kv_pend  *next;
    struct kv_async *ka;
    kv_async_cb     *cb;
    void            *arg;
    uint64_t         deadline; /* now_ms */
    int              done;     /* the caller was answered already */
};

struct kv_async {
    struct kv_url      u;
    uv_loop_t         *loop;
    redisAsyncContext *ac;
    uv_timer_t         timer; /* the oldest outstanding GET's deadline */
    int                timer_ready;
    int                timeout_ms, backoff_ms;
    uint64_t           retry_at;    /* now_ms: no new connection before this */
    struct kv_pend    *head, *tail; /* outstanding, oldest first (Redis answers in order) */
    int                npend;
    int                down;       /* log the next failure at debug only */
    int                bad_select; /* this connection's SELECT failed: its answers are not ours */
};

/* The clock, not uv_now: the loop's cached time is as old as the start of
 * its turn, and a busy turn would shorten every deadline set in it. */
static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

struct kv_async *
kv_async_new(const char *url, struct uv_loop_s *loop, int timeout_ms, int backoff_ms)
{
    struct kv_async *ka = calloc(1, sizeof(*ka));

    if (ka == NULL)
        return NULL;
    if (url_parse(url, &ka->u)) {
        free(ka);
        return NULL;
    }
    ka->loop = loop;
    ka->timeout_ms = timeout_ms > 0 ? timeout_ms : KV_DEFAULT_TIMEOUT;
    ka->backoff_ms = backoff_ms > 0 ? backoff_ms : 0;
    return ka;
}

/* A failure: log it once per outage and send nothing for backoff_ms. */
static void
ka_down(struct kv_async *ka, const char *what, const char *msg)
{
    if (ka->down)
        log_debug("redis %s on %s:%d (loop) failed: %s", what, ka->u.host, ka->u.port, msg);
    else
        log_error("redis %s on %s:%d (loop) failed: %s; backing off %d ms", what, ka->u.host,
                  ka->u.port, msg, ka->backoff_ms);
    ka->down = 1;
    ka->retry_at = now_ms() + (uint64_t)ka->backoff_ms;
}

static void
ka_unlink(struct kv_async *ka, struct kv_pend *p)
{
    struct kv_pend **pp;

    for (pp = &ka->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    ka->tail = NULL;
    for (p = ka->head; p != NULL; p = p->next)
        ka->tail = p; /* the list is short and the head is almost always the one answered */
    ka->npend--;
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct kv_pend  *p = priv;
    struct kv_async *ka = p->ka;
    redisReply      *rep = reply;
    const char      *val = NULL;
    size_t           len = 0;
    int              rc = ERR_OK;

    if (p->done) {
        free(p);
        return;
    }
    ka_unlink(ka, p);
    if (rep == NULL || ka->bad_select) {
        rc = ERR_UNAVAILABLE;
        ka_down(ka, "GET", ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
    } else if (rep->type == REDIS_REPLY_STRING) {
        val = rep->str;
        len = rep->len;
    } else if (rep->type != REDIS_REPLY_NIL) {
        log_error("redis GET (loop) returned reply type %d: %.200s", rep->type,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        rc = ERR_INTERNAL;
    }
    if (rc == ERR_OK && ka->down) {
        log_info("redis on %s:%d is reachable again (loop)", ka->u.host, ka->u.port);
        ka->down = 0;
    }
    p->cb(p->arg, rc, val, len);
    free(p);
}

static void
on_select(redisAsyncContext *ac, void *reply, void *priv)
{
    struct kv_async *ka = priv;
    redisReply      *rep = reply;

    if (rep != NULL && rep->type != REDIS_REPLY_ERROR)
        return;
    if (ka->ac == ac) {
        ka->bad_select = 1; /* the GETs queued behind it read another database */
        ka_down(ka, "select", rep != NULL ? rep->str : ac->errstr);
        redisAsyncDisconnect(ac);
    }
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct kv_async *ka = ac->data;

    if (status == REDIS_OK)
        return;
    if (ka->ac == ac)
        ka->ac = NULL; /* hiredis frees it and fails what was queued on it */
    ka_down(ka, "connect", ac->errstr);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct kv_async *ka = ac->data;

    if (ka->ac == ac)
        ka->ac = NULL;
    if (status != REDIS_OK)
        ka_down(ka, "connection", ac->errstr);
}

static int
ka_connect(struct kv_async *ka)
{
    redisAsyncContext *ac;
    char               db[16];

    if (now_ms() < ka->retry_at)
        return ERR_UNAVAILABLE;
    /* The host is resolved here, blocking: keep SOUK_REDIS_URL an address
     * (or a name /etc/hosts answers), as every deployment of souk does. */
    ac = redisAsyncConnect(ka->u.host, ka->u.port);
    if (ac == NULL || ac->err || redisLibuvAttach(ac, ka->loop) != REDIS_OK) {
        ka_down(ka, "connect", ac != NULL && ac->err ? ac->errstr : "cannot attach to the loop");
        if (ac != NULL)
            redisAsyncFree(ac);
        return ERR_UNAVAILABLE;
    }
    ac->data = ka;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ka->ac = ac;
    ka->bad_select = 0;
    if (ka->u.dbn != 0) {
        snprintf(db, sizeof(db), "%d", ka->u.dbn);
        if (redisAsyncCommandArgv(ac, on_select, ka, 2, (const char *[]){"SELECT", db}, NULL) !=
            REDIS_OK)
            ka->bad_select = 1;
    }
    return ERR_OK;
}

/* Answer every outstanding GET with rc and drop the connection (hiredis
 * then frees them). The timer's callback, never one of hiredis'. */
static void
ka_fail_all(struct kv_async *ka, int rc)
{
    redisAsyncContext *ac = ka->ac;
    struct kv_pend    *p, *list = ka->head;

    ka->head = ka->tail = NULL;
    ka->npend = 0;
    ka->ac = NULL;
    for (p = list; p != NULL; p = p->next)
        p->done = 1;
    for (p = list; p != NULL; p = p->next)
        p->cb(p->arg, rc, NULL, 0);
    if (ac != NULL)
        redisAsyncFree(ac);
}

static void
on_deadline(uv_timer_t *t)
{
    struct kv_async *ka = t->data;
    uint64_t         now = now_ms();

    /* libuv runs timers before polling: an answer may sit unread in the
     * socket after a busy turn of the loop. Read it before calling it late. */
    if (ka->head != NULL && ka->head->deadline <= now && ka->ac != NULL &&
        (ka->ac->c.flags & REDIS_CONNECTED))
        redisAsyncHandleRead(ka->ac);
    if (ka->head == NULL)
        return;
    if (ka->head->deadline > now) {
        uv_timer_start(&ka->timer, on_deadline, ka->head->deadline - now, 0);
        return;
    }
    ka_down(ka, "GET", "no answer within the deadline");
    ka_fail_all(ka, ERR_TIMEOUT);
}

int
kv_async_get(struct kv_async *ka, const char *key, kv_async_cb *cb, void *arg)
{
    struct kv_pend *p;

    if (ka->npend >= KV_ASYNC_MAX_PENDING)
        return ERR_UNAVAILABLE;
    if (ka->ac == NULL && ka_connect(ka) != ERR_OK)
        return ERR_UNAVAILABLE;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ERR_UNAVAILABLE;
    *p = (struct kv_pend){
        .ka = ka, .cb = cb, .arg = arg, .deadline = now_ms() + (uint64_t)ka->timeout_ms};
    if (redisAsyncCommandArgv(ka->ac, on_reply, p, 2, (const char *[]){"GET", key}, NULL) !=
        REDIS_OK) {
        free(p);
        return ERR_UNAVAILABLE; /* the context is going away; the next GET reconnects */
    }
    if (ka->tail != NULL)
        ka->tail->next = p;
    else
        ka->head = p;
    ka->tail = p;
    ka->npend++;
    if (!ka->timer_ready) {
        uv_timer_init(ka->loop, &ka->timer);
        ka->timer.data = ka;
        ka->timer_ready = 1;
    }
    if (!uv_is_active((uv_handle_t *)&ka->timer))
        uv_timer_start(&ka->timer, on_deadline, (uint64_t)ka->timeout_ms, 0);
    return ERR_OK;
}

static void
ka_closed(uv_handle_t *h)
{
    free(h->data);
}

void
kv_async_free(struct kv_async *ka)
{
    redisAsyncContext *ac;
    struct kv_pend    *p;

    if (ka == NULL)
        return;
    for (p = ka->head; p != NULL; p = p->next)
        p->done = 1; /* none by contract; hiredis frees them below */
    ka->head = ka->tail = NULL;
    ac = ka->ac;
    ka->ac = NULL;
    if (ac != NULL)
        redisAsyncFree(ac);
    if (ka->timer_ready)
        uv_close((uv_handle_t *)&ka->timer, ka_closed);
    else
        free(ka);
}
