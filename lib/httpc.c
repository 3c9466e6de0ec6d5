/*
 * httpc.c - the blocking HTTP/1.1 client of httpc.h: non-blocking sockets
 * driven by poll(2) against one deadline per exchange, a small cache of idle
 * keep-alive connections, responses parsed by http_parse.c (the URL and the
 * request text: httpc_text.c). GETs, and writes with a JSON body
 * (httpc_send, for tools such as soukctl migrate driving the gateway's admin
 * API): a write always goes on a new connection and is never sent twice.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "http_parse.h"
#include "httpc.h"
#include "httpc_int.h"
#include "net.h"
#include "clock.h"

#define HTTPC_CONNS       4     /* idle connections kept per client */
#define HTTPC_HEAD_BYTES  16384 /* every response header line together */
#define HTTPC_HEADERS_MAX 64
#define HTTPC_READ_CHUNK  16384

struct hconn {
    int      fd; /* -1: a free slot */
    char     hostport[HTTPC_HOST_MAX];
    uint64_t used; /* LRU tick */
};

struct httpc {
    struct hconn idle[HTTPC_CONNS];
    size_t       max_body;
    uint64_t     connects, tick;
    char         error[192];
};

/* One exchange's parser state: the context of the hp_events callbacks. */
struct exch {
    struct hp           *hp;
    struct arena        *a;
    struct buf           body, field, value;
    int                  in_value;
    struct httpc_header *headers;
    size_t               nheaders, head_bytes, max_body;
    int                  status, keep_alive, done, too_large;
    const char          *bad; /* why the head was refused */
};

static int fail(struct httpc *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why the call failed (httpc_error) and return rc. */
static int
fail(struct httpc *c, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    return rc;
}

/* ERR_OK when fd is ready for events (or has an error the next call will
 * report), ERR_TIMEOUT at the deadline. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {fd, events, 0};
    int64_t       left;
    int           n;

    for (;;) {
        left = deadline - clock_mono_ms();
        if (left <= 0)
            return ERR_TIMEOUT;
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return ERR_OK;
        if (n < 0 && errno != EINTR)
            return ERR_UNAVAILABLE;
    }
}

/* ---- connections ---------------------------------------------------------------------- */

struct httpc *
httpc_new(size_t max_body)
{
    struct httpc *c = calloc(1, sizeof(*c));
    int           i;

    if (c == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    for (i = 0; i < HTTPC_CONNS; i++)
        c->idle[i].fd = -1;
    c->max_body = max_body > 0 ? max_body : HTTPC_MAX_BODY_DEFAULT;
    return c;
}

void
httpc_free(struct httpc *c)
{
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < HTTPC_CONNS; i++)
        if (c->idle[i].fd >= 0)
            close(c->idle[i].fd);
    free(c);
}

/* An idle connection to hostport, or -1. One the server has closed (or that
 * holds unasked bytes) is readable while idle: it is dropped here. */
static int
take_idle(struct httpc *c, const char *hostport)
{
    struct pollfd pfd;
    int           i, fd;

    for (i = 0; i < HTTPC_CONNS; i++) {
        if (c->idle[i].fd < 0 || strcmp(c->idle[i].hostport, hostport) != 0)
            continue;
        fd = c->idle[i].fd;
        c->idle[i].fd = -1;
        pfd = (struct pollfd){fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) == 0)
            return fd;
        close(fd);
    }
    return -1;
}

static void
put_idle(struct httpc *c, const char *hostport, int fd)
{
    struct hconn *slot = &c->idle[0];
    int           i;

    for (i = 0; i < HTTPC_CONNS; i++) {
        if (c->idle[i].fd < 0) {
            slot = &c->idle[i];
            break;
        }
        if (c->idle[i].used < slot->used)
            slot = &c->idle[i];
    }
    if (slot->fd >= 0)
        close(slot->fd); /* the least recently used one */
    slot->fd = fd;
    slot->used = ++c->tick;
    snprintf(slot->hostport, sizeof(slot->hostport), "%s", hostport);
}

static int
conn_open(struct httpc *c, const struct target *t, int64_t deadline, int *out)
{
    struct sockaddr_storage ss;
    socklen_t               len, elen = sizeof(int);
    int                     fd, rc, err = 0, one = 1;

    if (net_parse_hostport(t->hostport, 0, &ss, &len) != ERR_OK)
        return fail(c, ERR_UNAVAILABLE, "resolve %s: no such host", t->hostport);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(c, ERR_UNAVAILABLE, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        err = errno;
    } else {
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc) {
            close(fd);
            return fail(c, rc, "connect %s: %s", t->hostport,
                        rc == ERR_TIMEOUT ? "timed out" : "poll failed");
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
            err = errno;
    }
    if (err != 0) {
        close(fd);
        return fail(c, ERR_UNAVAILABLE, "connect %s: %s", t->hostport, strerror(err));
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->connects++;
    *out = fd;
    return ERR_OK;
}

/* ---- one exchange --------------------------------------------------------------------- */

static int
on_begin(void *ctx)
{
    (void)ctx;
    return 0;
}

static int
on_url(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

static int
header_bytes(struct exch *x, struct buf *b, const char *p, size_t n)
{
    x->head_bytes += n;
    if (x->head_bytes > HTTPC_HEAD_BYTES) {
        x->bad = "response head too large";
        return -1;
    }
    buf_append(b, p, n);
    return 0;
}

static int
header_commit(struct exch *x)
{
    if (x->nheaders == HTTPC_HEADERS_MAX) {
        x->bad = "too many response headers";
        return -1;
    }
    x->headers[x->nheaders].name = arena_strndup(x->a, buf_data(&x->field), buf_len(&x->field));
    x->headers[x->nheaders].value = arena_strndup(x->a, buf_data(&x->value), buf_len(&x->value));
    x->nheaders++;
    buf_reset(&x->field);
    buf_reset(&x->value);
    x->in_value = 0;
    return 0;
}

static int
on_field(void *ctx, const char *p, size_t n)
{
    struct exch *x = ctx;

    if (x->in_value && header_commit(x))
        return -1;
    return header_bytes(x, &x->field, p, n);
}

static int
on_value(void *ctx, const char *p, size_t n)
{
    struct exch *x = ctx;

    x->in_value = 1;
    return header_bytes(x, &x->value, p, n);
}

static int
on_head(void *ctx, const struct hp_head *h)
{
    struct exch *x = ctx;

    if (x->in_value && header_commit(x))
        return -1;
    x->status = hp_status_code(x->hp);
    x->keep_alive = h->keep_alive;
    if (h->has_length && h->content_length > x->max_body) {
        x->too_large = 1; /* refused before reading it */
        return -1;
    }
    return 0;
}

static int
on_body(void *ctx, const char *p, size_t n)
{
    struct exch *x = ctx;

    buf_append(&x->body, p, n);
    if (buf_error(&x->body)) {
        x->too_large = 1;
        return -1;
    }
    return 0;
}

/* One response per exchange: stop there, so bytes after it are noticed. */
static int
on_done(void *ctx)
{
    struct exch *x = ctx;

    x->done = 1;
    hp_pause(x->hp);
    return 0;
}

static const struct hp_events resp_events = {
    on_begin, on_url, on_field, on_value, on_head, on_body, on_done,
};

/* Write all n bytes. *stale: the peer had closed a reused connection. */
static int
send_all(struct httpc *c, int fd, const char *p, size_t n, int64_t deadline, int *stale)
{
    ssize_t k;
    int     rc;

    while (n > 0) {
        k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc)
                return fail(c, rc, "send: %s", rc == ERR_TIMEOUT ? "timed out" : "poll failed");
        } else if (k < 0 && errno != EINTR) {
            *stale = errno == EPIPE || errno == ECONNRESET;
            return fail(c, ERR_UNAVAILABLE, "send: %s", strerror(errno));
        }
    }
    return ERR_OK;
}

/* The end of the stream: complete for a close-delimited body, else cut short. */
static int
read_eof(struct httpc *c, struct exch *x, size_t got, int *stale)
{
    if (got == 0) {
        *stale = 1;
        return fail(c, ERR_UNAVAILABLE, "the server closed the connection without answering");
    }
    if (hp_finish(x->hp) == HP_OK && x->done) {
        x->keep_alive = 0;
        return ERR_OK;
    }
    return fail(c, ERR_UPSTREAM, "the response was cut short");
}

/* Feed bytes to the parser until one response is complete. */
static int
read_resp(struct httpc *c, int fd, struct exch *x, int64_t deadline, int *stale)
{
    char           in[HTTPC_READ_CHUNK];
    ssize_t        k;
    size_t         used, got = 0;
    enum hp_status hs;
    int            rc;

    for (;;) {
        k = recv(fd, in, sizeof(in), 0);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rc = wait_fd(fd, POLLIN, deadline);
            if (rc)
                return fail(c, rc, "read: %s", rc == ERR_TIMEOUT ? "timed out" : "poll failed");
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            *stale = got == 0 && errno == ECONNRESET;
            return fail(c, ERR_UNAVAILABLE, "recv: %s", strerror(errno));
        }
        if (k == 0)
            return read_eof(c, x, got, stale);
        got += (size_t)k;
        hs = hp_feed(x->hp, in, (size_t)k, &used);
        if (x->too_large)
            return fail(c, ERR_TOO_LARGE, "response body over %zu bytes", x->max_body);
        if (hs == HP_ERROR || hs == HP_ABORTED)
            return fail(c, ERR_UPSTREAM, "malformed response: %s",
                        x->bad != NULL ? x->bad : hp_error(x->hp));
        if (x->done) {
            if (used < (size_t)k)
                x->keep_alive = 0; /* bytes nobody asked for: never reuse */
            return ERR_OK;
        }
    }
}

static int
exchange(struct httpc *c, struct arena *a, int fd, const char *req, int64_t deadline,
         struct httpc_resp **out, int *keep, int *stale)
{
    struct exch        x;
    struct httpc_resp *resp;
    char              *body;
    size_t             len;
    int                rc;

    memset(&x, 0, sizeof(x));
    x.a = a;
    x.max_body = c->max_body;
    x.hp = hp_new_response(&resp_events, &x);
    x.headers = arena_array(a, struct httpc_header, HTTPC_HEADERS_MAX);
    buf_init(&x.body, c->max_body);
    buf_init(&x.field, HTTPC_HEAD_BYTES);
    buf_init(&x.value, HTTPC_HEAD_BYTES);
    rc = send_all(c, fd, req, strlen(req), deadline, stale);
    if (rc == ERR_OK)
        rc = read_resp(c, fd, &x, deadline, stale);
    if (rc == ERR_OK) {
        resp = arena_new(a, struct httpc_resp);
        resp->status = x.status;
        resp->headers = x.headers;
        resp->nheaders = x.nheaders;
        body = buf_take(&x.body, &len);
        if (body != NULL)
            arena_defer(a, free, body);
        resp->body = body != NULL ? body : "";
        resp->len = len;
        *out = resp;
        *keep = x.keep_alive;
    }
    hp_free(x.hp);
    buf_free(&x.body);
    buf_free(&x.field);
    buf_free(&x.value);
    return rc;
}

/* A method token of upper-case letters (RFC 9110 §9: what we send). */
static int
method_ok(const char *m)
{
    size_t i;

    for (i = 0; m[i] != '\0'; i++)
        if (m[i] < 'A' || m[i] > 'Z' || i >= 16)
            return 0;
    return i > 0;
}

static int
request_with(struct httpc *c, struct arena *a, const struct httpc_req *rq,
             const struct httpc_extra *x, struct httpc_resp **out)
{
    struct target t;
    const char   *req;
    int64_t       deadline;
    int           rc, fd, reused, keep, stale, attempt, write;

    *out = NULL;
    c->error[0] = '\0';
    if (rq->timeout_ms <= 0)
        return fail(c, ERR_INVALID, "timeout must be positive");
    if (httpc_target_parse(rq->url, &t) != ERR_OK)
        return fail(c, ERR_INVALID, "malformed url");
    if (x->method != NULL && !method_ok(x->method))
        return fail(c, ERR_INVALID, "malformed method");
    write = x->method != NULL && strcmp(x->method, "GET") != 0;
    deadline = clock_mono_ms() + rq->timeout_ms;
    req = httpc_request_text(a, rq, x, &t);
    /* A kept-alive connection the server closed meanwhile fails before
     * any byte of the answer: a GET is safe to send again, once. */
    for (attempt = 0;; attempt++) {
        fd = attempt == 0 && !write ? take_idle(c, t.hostport) : -1;
        reused = fd >= 0;
        if (!reused) {
            rc = conn_open(c, &t, deadline, &fd);
            if (rc)
                return rc;
        }
        keep = stale = 0;
        rc = exchange(c, a, fd, req, deadline, out, &keep, &stale);
        if (rc == ERR_OK && keep)
            put_idle(c, t.hostport, fd);
        else
            close(fd);
        if (rc == ERR_OK || !reused || !stale)
            return rc;
        c->error[0] = '\0';
    }
}

int
httpc_request(struct httpc *c, struct arena *a, const struct httpc_req *rq, struct httpc_resp **out)
{
    return request_with(c, a, rq, &(struct httpc_extra){NULL, NULL, NULL}, out);
}

int
httpc_request_auth(struct httpc *c, struct arena *a, const struct httpc_req *rq,
                   const char *authorization, struct httpc_resp **out)
{
    return request_with(c, a, rq, &(struct httpc_extra){NULL, NULL, authorization}, out);
}

int
httpc_get(struct httpc *c, struct arena *a, const char *url, int timeout_ms,
          struct httpc_resp **out)
{
    return httpc_request(c, a, &(struct httpc_req){url, timeout_ms, NULL, NULL}, out);
}

int
httpc_get_auth(struct httpc *c, struct arena *a, const char *url, int timeout_ms,
               const char *authorization, struct httpc_resp **out)
{
    return request_with(c, a, &(struct httpc_req){url, timeout_ms, NULL, NULL},
                        &(struct httpc_extra){NULL, NULL, authorization}, out);
}

const char *
httpc_resp_header(const struct httpc_resp *resp, const char *name)
{
    size_t i;

    for (i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

const char *
httpc_error(const struct httpc *c)
{
    return c->error;
}

uint64_t
httpc_connects(const struct httpc *c)
{
    return c->connects;
}

int
httpc_send(struct httpc *c, struct arena *a, const char *method, const char *url, int timeout_ms,
           const char *authorization, const char *json_body, struct httpc_resp **out)
{
    return request_with(c, a, &(struct httpc_req){url, timeout_ms, NULL, NULL},
                        &(struct httpc_extra){method, json_body, authorization}, out);
}
