/*
 * client.c - one client connection on a loop: read, check the raw head
 * (http1.c) and feed the parser exactly one message at a time, hold bytes
 * that arrive while no message is being read, keep the header, body and
 * idle timeouts, and end each exchange in order (one request at a time, so
 * pipelined requests are answered in order). What a request means is
 * proxy.c's (data listener) or admin.c's (admin listener); answers made
 * here are rendered by answer.c.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

#define SCRATCH_MAX (LIMIT_REQUEST_LINE + LIMIT_HEADER_BYTES + 4 * LIMIT_HEADER_COUNT)

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void process(struct client *c, const char *p, size_t n);

/* ---- reading and timers ------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct client *c = h->data;

    (void)hint;
    b->base = c->loop->rbuf;
    b->len = sizeof(c->loop->rbuf);
}

static void
read_start(struct client *c)
{
    if (c->reading || c->closing || c->eof)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        client_close(c);
        return;
    }
    c->reading = 1;
}

static void
read_stop(struct client *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

void
client_pause(struct client *c)
{
    c->stalled = 1;
    read_stop(c);
}

void
client_resume(struct client *c)
{
    c->stalled = 0;
    if (c->pending == NULL && c->phase != CP_CONNECT && c->phase != CP_WAIT)
        read_start(c);
}

/* The deadline passed (loop_sweep found it). */
void
client_timeout(struct client *c)
{
    c->deadline = 0;
    switch (c->phase) {
    case CP_HEAD:
        client_fail(c, ERR_REQ_TIMEOUT, "request headers not received in time");
        break;
    case CP_BODY:
        if (c->x != NULL)
            proxy_abort(c->x, ERR_REQ_TIMEOUT, "request body not received in time");
        else
            client_fail(c, ERR_REQ_TIMEOUT, "request body not received in time");
        break;
    default:
        client_close(c); /* idle, lingering, or not reading what we write */
        break;
    }
}

/* The deadline of the phase: fixed for the head (trickled bytes never
 * extend it), inactivity for the body, the idle timeout between requests
 * and while the client does not read what is written to it. A deadline is
 * a number the loop's sweep compares, not a timer: no heap operation on the
 * request path. */
static void
timer_for(struct client *c)
{
    int64_t ms;

    switch (c->phase) {
    case CP_IDLE:
        ms = c->served > 0 ? gateway.idle_timeout_ms : gateway.header_timeout_ms;
        break;
    case CP_HEAD:
        ms = gateway.header_timeout_ms;
        break;
    case CP_BODY:
        ms = gateway.body_timeout_ms;
        break;
    case CP_LINGER:
        ms = GW_LINGER_MS;
        break;
    default:
        if (!sink_busy(&c->out)) {
            c->deadline = 0;
            return;
        }
        ms = gateway.idle_timeout_ms;
        break;
    }
    c->deadline = loop_now(c->loop) + (uint64_t)ms;
}

void
client_write_wait(struct client *c)
{
    if (c->phase == CP_WAIT && !c->closing)
        timer_for(c);
}

void
client_phase(struct client *c, enum cphase ph)
{
    if (c->phase == ph || c->closing)
        return;
    c->phase = ph;
    timer_for(c);
}

/* Bytes that arrived while no message is being read: kept (and reading
 * stopped) until the current exchange ends. A write waiting for a route's
 * hold (hold.c) is read on up to GW_READ_BUF bytes, so that a client that
 * leaves meanwhile is noticed and its write is never sent. */
static void
hold(struct client *c, const char *p, size_t n)
{
    char *q;

    if (c->x == NULL || !c->x->held || c->pending_len + n >= GW_READ_BUF)
        read_stop(c);
    if (n == 0)
        return;
    q = malloc(c->pending_len + n);
    if (q == NULL) {
        client_close(c);
        return;
    }
    if (c->pending_len > 0)
        memcpy(q, c->pending, c->pending_len);
    memcpy(q + c->pending_len, p, n);
    free(c->pending);
    c->pending = q;
    c->pending_len += n;
}

/* Parse what was held back, then read again. A loop, not recursion: an
 * exchange that ends while its bytes are parsed leaves the rest to it. */
static void
unhold(struct client *c)
{
    char  *p;
    size_t n;

    if (c->in_process)
        return;
    while (c->pending != NULL && !c->closing &&
           (c->phase == CP_IDLE || c->phase == CP_HEAD || c->phase == CP_BODY)) {
        p = c->pending;
        n = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        process(c, p, n);
        free(p);
    }
    if (!c->closing && c->pending == NULL && !c->stalled && c->phase != CP_WAIT &&
        c->phase != CP_CONNECT && !c->close_after)
        read_start(c);
}

void
client_stream(struct client *c, enum cphase ph)
{
    client_phase(c, ph);
    unhold(c);
}

/* ---- one message at a time ---------------------------------------------------- */

static void
begin_request(struct client *c)
{
    lint_reset(&c->lint);
    chunkv_reset(&c->chv);
    hhead_reset(&c->head);
    hp_resume(c->hp); /* paused at the end of the previous message */
    memset(&c->ri, 0, sizeof(c->ri));
    c->ri.host = c->ri.authorization = c->ri.cookie = c->ri.request_id = c->ri.traceparent = -1;
    c->t_begin = uv_hrtime();
    c->answered = 0;
    c->req_done = 0;
    c->head_done = 0;
    c->status = 0;
    c->bytes = 0;
    c->retry_after = 0;
    c->rstat = NULL;
    c->route_name = c->mode_name = c->upstream_name = NULL;
    c->quiet = 0;
    client_phase(c, CP_HEAD);
}

ssize_t
client_head_scan(struct client *c, const char *p, size_t n, int *err, const char **why,
                 struct client_scan *info)
{
    struct client_scan s = {0};

    s.lint = lint_scan(&c->lint, p, n, &s.done, err, why);
    s.fed = *why == NULL;
    if (s.fed)
        s.hs = hp_feed(c->hp, p, s.lint, &s.used);
    if (*why == NULL && s.hs == HP_ERROR) {
        *err = ERR_INVALID;
        *why = hp_error(c->hp);
    } else if (*why == NULL && s.hs != HP_ABORTED && !c->closing && s.done && c->phase == CP_HEAD) {
        *err = ERR_INVALID;
        *why = "malformed request head"; /* the parser disagrees */
    }
    if (info != NULL)
        *info = s;
    if (*why != NULL || s.hs == HP_ABORTED || c->closing)
        return -1;
    return (ssize_t)s.lint;
}

static ssize_t
head_bytes(struct client *c, const char *p, size_t n)
{
    const char *why;
    int         err;
    ssize_t     k = client_head_scan(c, p, n, &err, &why, NULL);

    if (why != NULL) {
        /* The parser may refuse a message after its head callback has
         * already started an exchange: end that exchange, never leave it
         * to meet the upstream's answer on a failed client. */
        if (c->x != NULL)
            proxy_abort(c->x, err, why);
        else
            client_fail(c, err, why);
    }
    return k;
}

ssize_t
client_body_scan(struct client *c, const char *p, size_t n, const char **why,
                 struct client_scan *info)
{
    struct client_scan s = {0};

    *why = NULL;
    if (c->ri.chunked) {
        s.lint = chunkv_scan(&c->chv, p, n, &s.done, why);
    } else {
        s.lint = n < c->left ? n : (size_t)c->left;
        c->left -= s.lint;
        s.done = c->left == 0;
    }
    s.fed = s.lint > 0;
    s.hs = s.fed ? hp_feed(c->hp, p, s.lint, &s.used) : HP_OK;
    if (*why == NULL && s.hs == HP_ERROR)
        *why = hp_error(c->hp);
    if (*why == NULL && s.hs == HP_OK && s.done && !c->req_done)
        *why = "malformed chunked body"; /* the parser disagrees about the end */
    if (info != NULL)
        *info = s;
    if (*why != NULL || c->closing || s.hs == HP_ABORTED)
        return -1;
    return (ssize_t)s.lint;
}

static ssize_t
body_bytes(struct client *c, const char *p, size_t n)
{
    const char *why;
    ssize_t     m = client_body_scan(c, p, n, &why, NULL);

    if (m < 0) {
        if (why != NULL && c->x != NULL)
            proxy_abort(c->x, ERR_INVALID, why);
        else if (why != NULL)
            client_fail(c, ERR_INVALID, why);
        return -1;
    }
    if (c->phase == CP_BODY)
        timer_for(c); /* inactivity: restarted by every read */
    return m;
}

static void
process(struct client *c, const char *p, size_t n)
{
    ssize_t used;

    c->in_process = 1;
    while (n > 0 && !c->closing) {
        if (c->phase == CP_IDLE && c->close_after)
            break; /* draining: no new request on this connection */
        if (c->phase == CP_IDLE)
            begin_request(c);
        if (c->phase == CP_HEAD) {
            used = head_bytes(c, p, n);
        } else if (c->phase == CP_BODY) {
            used = body_bytes(c, p, n);
        } else if (c->phase == CP_LINGER || c->close_after) {
            break; /* dropped: the connection ends after the answer */
        } else {
            hold(c, p, n);
            break;
        }
        if (used < 0)
            break;
        p += used;
        n -= (size_t)used;
    }
    c->in_process = 0;
    /* Head and body bytes of one read leave in one write. */
    if (c->x != NULL && !c->closing)
        proxy_flush(c->x);
}

static void
on_eof(struct client *c)
{
    c->eof = 1;
    read_stop(c);
    /* A client that half-closes after a complete request still gets its
     * answer; one that stops mid-request does not. */
    if (c->req_done || c->answered || c->phase == CP_IDLE) {
        if (c->phase == CP_IDLE && !sink_busy(&c->out))
            client_close(c);
        else if (c->phase == CP_IDLE)
            c->close_after = 1;
        return;
    }
    if (c->x != NULL)
        proxy_abort(c->x, 0, NULL);
    client_close(c);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct client *c = s->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && c->phase != CP_LINGER) {
            on_eof(c);
        } else {
            if (c->x != NULL)
                proxy_abort(c->x, 0, NULL);
            client_close(c);
        }
        return;
    }
    process(c, b->base, (size_t)nread);
}

/* ---- the end of an exchange and of the connection ------------------------------- */

static void
on_close(uv_handle_t *h)
{
    struct client  *c = h->data;
    struct gw_loop *l = c->loop;

    if (--c->handles > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    l->nclients--;
    hp_free(c->hp);
    hhead_free(&c->head);
    buf_free(&c->uhead);
    buf_free(&c->ohead);
    buf_free(&c->abody);
    arena_destroy(c->a);
    free(c->pending);
    free(c);
    loop_check_exit(l);
}

void
client_close(struct client *c)
{
    if (c->closing)
        return;
    if (c->x != NULL)
        proxy_abort(c->x, 0, NULL); /* which closes c (access-logged as 499) */
    if (c->closing)
        return;
    c->closing = 1;
    c->deadline = 0;
    read_stop(c);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct client *c = req->data;

    if (status < 0)
        client_close(c);
}

/* The last answer is out. After an error the client may still be sending:
 * send FIN and drop its bytes for a while, so closing with unread data
 * does not reset the connection before the client read the answer. */
static void
finish(struct client *c)
{
    if (c->closing)
        return;
    if (c->eof || c->req_done) {
        client_close(c);
        return;
    }
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        client_close(c);
        return;
    }
    client_phase(c, CP_LINGER);
    read_start(c);
}

static void
on_drained(void *ctx, int status)
{
    struct client *c = ctx;

    if (c->closing)
        return;
    if (status < 0) {
        client_close(c);
        return;
    }
    if (c->x != NULL) {
        proxy_client_drained(c->x);
        client_write_wait(c); /* it reads again: the upstream's timeout runs instead */
    } else if (c->close_after) {
        finish(c);
    } else if (c->phase == CP_IDLE || c->phase == CP_WAIT) {
        timer_for(c);
    }
}

void
client_exchange_end(struct client *c)
{
    stats_access(c);
    c->x = NULL;
    c->stalled = 0; /* a stall waited on the exchange's upstream, gone now */
    c->served++;
    arena_reset(c->a);
    c->rid = NULL;
    if (c->close_after || c->closing) {
        if (!sink_busy(&c->out))
            finish(c);
        return;
    }
    if (c->eof && c->pending == NULL) {
        if (!sink_busy(&c->out))
            client_close(c);
        else
            c->close_after = 1;
        return;
    }
    client_phase(c, CP_IDLE);
    unhold(c);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

void
client_accept(struct gw_loop *l, uv_stream_t *server)
{
    struct client          *c = calloc(1, sizeof(*c));
    struct sockaddr_storage ss;
    int                     len = sizeof(ss);

    if (c == NULL) {
        log_error("out of memory accepting a connection");
        return;
    }
    c->loop = l;
    c->phase = CP_WAIT; /* so that CP_IDLE below arms the timer */
    c->hp = hp_new(&client_request_events, c);
    c->a = arena_create();
    hhead_init(&c->head, LIMIT_HEADER_COUNT, SCRATCH_MAX);
    buf_init(&c->uhead, SCRATCH_MAX + 4096);
    buf_init(&c->ohead, GW_RESP_HEAD_BYTES + 4096);
    buf_init(&c->abody, GW_ADMIN_BODY_MAX);
    uv_tcp_init(&l->ev.uv, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    sink_init(&c->out, (uv_stream_t *)&c->tcp, on_drained, c);
    c->next = l->clients;
    if (l->clients != NULL)
        l->clients->prev = c;
    l->clients = c;
    l->nclients++;
    /* Over the limit the connection is accepted and closed at once, so
     * the backlog does not fill with clients that would time out anyway. */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || l->draining ||
        (l->max_clients > 0 && l->nclients > l->max_clients)) {
        client_close(c);
        return;
    }
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        client_set_ip(c, &ss);
    if (l->kind == GW_ADMIN && !client_loopback(&ss)) {
        client_close(c); /* the admin API answers the machine itself only */
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    client_phase(c, CP_IDLE);
    read_start(c);
}

void
client_drain(struct client *c)
{
    if (c->closing)
        return;
    if (c->phase == CP_IDLE && c->pending == NULL && !sink_busy(&c->out))
        client_close(c);
    else
        c->close_after = 1; /* after the answer under way (with Connection: close) */
}
