/*
 * kv_async.c - hiredis' async API on a libuv loop behind kv.h: GETs from a
 * loop thread that must never block it (lib/server.h loop handlers). One
 * connection per loop, opened on first use; every GET has a deadline, and a
 * late, refused or dropped connection fails every waiting GET and leaves
 * Redis alone for backoff_ms, so a dead Redis costs one try per loop per
 * back-off. Split from kv.c, the blocking client; kv_int.h is what the two
 * share.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <async.h>
#include <adapters/libuv.h>

#include "arena.h"
#include "kv.h"
#include "kv_int.h"
#include "log.h"
#include "str.h"

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
    if (kv_url_parse(url, &ka->u)) {
        free(ka);
        return NULL;
    }
    ka->loop = loop;
    ka->timeout_ms = timeout_ms > 0 ? timeout_ms : KV_DEFAULT_TIMEOUT;
    ka->backoff_ms = backoff_ms > 0 ? backoff_ms : 0;
    return ka;
}

/* A failure: log it once per outage and send nothing for backoff_ms. A late answer is a
 * warning, not an error: the caller falls back (a worker asks Redis with its own, longer
 * deadline), so a busy machine costs latency, not an answer; a broken connection is an error. */
static void
ka_down(struct kv_async *ka, const char *what, const char *msg, int late)
{
    if (ka->down)
        log_debug("redis %s on %s:%d (loop) failed: %s", what, ka->u.host, ka->u.port, msg);
    else
        (late ? log_warn : log_error)("redis %s on %s:%d (loop) failed: %s; backing off %d ms",
                                      what, ka->u.host, ka->u.port, msg, ka->backoff_ms);
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
        ka_down(ka, "GET", ac->errstr[0] != '\0' ? ac->errstr : "connection lost", 0);
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
        ka_down(ka, "select", rep != NULL ? rep->str : ac->errstr, 0);
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
    ka_down(ka, "connect", ac->errstr, 0);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct kv_async *ka = ac->data;

    if (ka->ac == ac)
        ka->ac = NULL;
    if (status != REDIS_OK)
        ka_down(ka, "connection", ac->errstr, 0);
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
        ka_down(ka, "connect", ac != NULL && ac->err ? ac->errstr : "cannot attach to the loop", 0);
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
    ka_down(ka, "GET", "no answer within the deadline", 1);
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
