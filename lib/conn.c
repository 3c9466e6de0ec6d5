/*
 * conn.c - one HTTP/1.1 connection on a loop thread: read, feed the parser
 * (conn_parse.c turns its events into requests), keep the timeouts of
 * bounds.h, queue parsed requests (pipelining), and write their answers
 * strictly in request order. The loop never blocks: handlers run in the
 * pool and come back through conn_done.
 */
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conn.h"
#include "http_parse.h"
#include "bounds.h"
#include "log.h"
#include "resp.h"
#include "router.h"

#define CONN_LINGER_MS 2000 /* after an error answer: drop what the client still sends */

struct conn {
    uv_tcp_t          tcp;
    uv_timer_t        timer;
    uv_shutdown_t     shutdown;
    struct loop      *loop;
    struct server    *srv;
    struct conn      *prev, *next; /* loop->conns */
    struct conn_parse ps;
    enum conn_phase   phase;
    int               served;  /* requests parsed so far */
    int               handles; /* uv handles not yet closed */
    /* parsed requests, answered in this order */
    struct req_state *fifo, *fifo_tail;
    int               nfifo, inpool, nwriting;
    /* read but not parsed while the parser is paused */
    char  *pending;
    size_t pending_len;
    /* paused: pipeline full; no_more: parse nothing else on this connection;
     * close_after: the last answer is being written; linger: it was an error */
    unsigned paused : 1, no_more : 1, eof : 1, closing : 1, close_after : 1, linger : 1,
        reading : 1;
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void conn_close(struct conn *c);
static void conn_flush(struct conn *c);

static void
fifo_push(struct conn *c, struct req_state *st)
{
    st->next = NULL;
    if (c->fifo_tail != NULL)
        c->fifo_tail->next = st;
    else
        c->fifo = st;
    c->fifo_tail = st;
    c->nfifo++;
}

static void
fifo_remove(struct conn *c, struct req_state *st)
{
    struct req_state **pp, *prev = NULL;

    for (pp = &c->fifo; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            if (c->fifo_tail == st)
                c->fifo_tail = prev;
            c->nfifo--;
            return;
        }
    }
}

/* ---- timers and reading --------------------------------------------------- */

static void
on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    /* A slow client gets 408 (best effort), then the connection closes. */
    if (c->phase == CONN_HEAD)
        (void)conn_fail(c, ERR_REQ_TIMEOUT, "request headers not received in time");
    else if (c->phase == CONN_BODY)
        (void)conn_fail(c, ERR_REQ_TIMEOUT, "request body not received in time");
    else
        conn_close(c);
}

/* Enter phase ph; the timer restarts only on a change, so trickling bytes
 * never extend a deadline (slowloris). */
void
conn_phase(struct conn *c, enum conn_phase ph)
{
    int64_t ms;

    if (c->phase == ph || c->closing)
        return;
    c->phase = ph;
    switch (ph) {
    case CONN_IDLE:
        ms = c->served > 0 ? c->srv->idle_ms : c->srv->header_ms;
        break;
    case CONN_HEAD:
        ms = c->srv->header_ms;
        break;
    case CONN_BODY:
        ms = c->srv->body_ms;
        break;
    case CONN_LINGER:
        ms = CONN_LINGER_MS;
        break;
    default:
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;

    /* One buffer per loop: every byte is copied out before on_read returns. */
    (void)hint;
    b->base = c->loop->rbuf;
    b->len = sizeof(c->loop->rbuf);
}

static void
read_start(struct conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    c->reading = 1;
}

static void
read_stop(struct conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* ---- requests ---------------------------------------------------------------- */

/* Refuse the request being read with err; the connection closes after the
 * answer. Returns -1 so parser callbacks can return it. */
int
conn_fail(struct conn *c, int err, const char *detail)
{
    struct req_state *st = conn_parse_take(&c->ps);

    st->early_err = err;
    st->early_detail = detail;
    st->keep_alive = 0;
    c->no_more = 1;
    c->linger = 1;
    read_stop(c);
    fifo_push(c, st);
    conn_phase(c, CONN_BUSY);
    (void)dispatch_request(st); /* answered inline */
    return -1;
}

int
conn_request(struct conn *c, struct req_state *st)
{
    c->served++;
    fifo_push(c, st);
    if (!st->keep_alive) {
        c->no_more = 1;
        hp_pause(c->ps.hp);
    } else if (c->nfifo + c->nwriting >= LIMIT_PIPELINE_DEPTH) {
        c->paused = 1; /* stop reading until answers are written */
        hp_pause(c->ps.hp);
    }
    conn_phase(c, CONN_BUSY);
    if (dispatch_request(st))
        c->inpool++;
    return c->closing ? -1 : 0;
}

int
conn_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t          b = uv_buf_init((char *)line, sizeof(line) - 1);

    /* An earlier answer must go first; the client then sends the body after
     * its own short wait. */
    if (c->fifo != NULL || c->nwriting > 0)
        return 0;
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)b.len) {
        conn_close(c); /* a partial interim line would corrupt the stream */
        return -1;
    }
    return 0;
}

static void
feed(struct conn *c, const char *p, size_t n)
{
    size_t         used;
    enum hp_status hs = hp_feed(c->ps.hp, p, n, &used);
    char          *rest;

    if (c->closing || hs == HP_OK || hs == HP_ABORTED)
        return;
    if (hs == HP_ERROR) {
        (void)conn_fail(c, ERR_INVALID, hp_error(c->ps.hp));
        return;
    }
    read_stop(c);
    if (c->no_more || used == n)
        return; /* after a final request, the rest is never parsed */
    rest = malloc(n - used);
    if (rest == NULL) {
        conn_close(c);
        return;
    }
    memcpy(rest, p + used, n - used);
    free(c->pending);
    c->pending = rest;
    c->pending_len = n - used;
}

/* Parse what was held back while the pipeline was full, then read again. */
static void
conn_resume(struct conn *c)
{
    char  *p = c->pending;
    size_t n = c->pending_len;

    if (!c->paused || c->no_more || c->closing || c->nfifo + c->nwriting >= LIMIT_PIPELINE_DEPTH)
        return;
    c->paused = 0;
    hp_resume(c->ps.hp);
    c->pending = NULL;
    c->pending_len = 0;
    if (p != NULL) {
        feed(c, p, n);
        free(p);
    }
    if (!c->paused && !c->no_more)
        read_start(c);
}

static void
on_eof(struct conn *c)
{
    c->eof = 1;
    c->no_more = 1;
    read_stop(c);
    conn_parse_drop(&c->ps); /* a request cut short is never answered */
    /* A half-closed client may still read the answers it is owed. */
    if (c->fifo == NULL && c->nwriting == 0)
        conn_close(c);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && c->phase != CONN_LINGER)
            on_eof(c);
        else
            conn_close(c);
        return;
    }
    if (c->phase == CONN_LINGER || c->no_more)
        return; /* dropped */
    feed(c, b->base, (size_t)nread);
}

/* ---- answers ---------------------------------------------------------------- */

static void
maybe_free(struct conn *c)
{
    struct loop *l = c->loop;

    if (!c->closing || c->handles > 0 || c->inpool > 0 || c->nwriting > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    l->nconns--;
    conn_parse_free(&c->ps);
    free(c);
    server_conn_gone(l);
}

static void
on_close(uv_handle_t *h)
{
    struct conn *c = h->data;

    c->handles--;
    maybe_free(c);
}

static void
conn_close(struct conn *c)
{
    struct req_state *st, *next;

    if (c->closing)
        return;
    c->closing = 1;
    read_stop(c);
    conn_parse_drop(&c->ps);
    /* Answers still in the pool stay queued until they come back. */
    for (st = c->fifo; st != NULL; st = next) {
        next = st->next;
        if (st->ready) {
            fifo_remove(c, st);
            arena_destroy(st->req.arena);
        }
    }
    free(c->pending);
    c->pending = NULL;
    uv_close((uv_handle_t *)&c->timer, on_close);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;

    if (status < 0)
        conn_close(c);
}

/* The last answer is out. After an error the client may still be sending:
 * send FIN and drop its bytes for a while, so that closing with unread data
 * does not reset the connection before the client has read the answer. */
static void
conn_finish(struct conn *c)
{
    if (!c->linger || c->eof) {
        conn_close(c);
        return;
    }
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_phase(c, CONN_LINGER);
    read_start(c);
}

/* Nothing parsed is waiting: close if the client or the server is done,
 * else wait under the idle timeout, which also bounds how long a client may
 * take to read what is being written. */
static void
conn_settle(struct conn *c)
{
    if (c->closing || c->fifo != NULL || c->ps.cur != NULL)
        return;
    if (!c->close_after && c->nwriting == 0 && (c->eof || atomic_load(&c->srv->group.draining))) {
        conn_close(c);
        return;
    }
    if (c->phase == CONN_BUSY)
        conn_phase(c, CONN_IDLE);
}

static void
on_write(uv_write_t *w, int status)
{
    struct req_state *st = w->data;
    struct conn      *c = st->conn;

    arena_destroy(st->req.arena);
    c->nwriting--;
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after) {
        if (c->nwriting == 0)
            conn_finish(c);
        return;
    }
    conn_resume(c);
    conn_settle(c);
}

static int
conn_write(struct conn *c, struct req_state *st, int close)
{
    uv_buf_t    b[2];
    unsigned    n = 1;
    uv_write_t *w;

    resp_render_head(&st->req, close);
    b[0] = uv_buf_init((char *)buf_data(&st->head), (unsigned)buf_len(&st->head));
    if (!st->is_head && st->out_len > 0)
        b[n++] = uv_buf_init((char *)st->out, (unsigned)st->out_len);
    dispatch_account(st, b[0].len + (n > 1 ? b[1].len : 0));
    w = arena_new(st->req.arena, uv_write_t);
    w->data = st;
    if (uv_write(w, (uv_stream_t *)&c->tcp, b, n, on_write) != 0) {
        arena_destroy(st->req.arena);
        conn_close(c);
        return -1;
    }
    c->nwriting++;
    return 0;
}

/* Write every answer at the head of the queue that is ready, in order. */
static void
conn_flush(struct conn *c)
{
    struct req_state *st;
    int               close;

    while (!c->closing && !c->close_after && c->fifo != NULL && c->fifo->ready) {
        st = c->fifo;
        c->fifo = st->next;
        if (c->fifo == NULL)
            c->fifo_tail = NULL;
        c->nfifo--;
        /* Close after the last parsed request once the client half-closed or
         * the server is draining; never drop a request already parsed. */
        close = !st->keep_alive || (c->fifo == NULL && c->ps.cur == NULL && c->pending == NULL &&
                                    (c->eof || atomic_load(&c->srv->group.draining)));
        if (close) {
            c->no_more = 1;
            c->close_after = 1;
            read_stop(c);
        }
        if (conn_write(c, st, close))
            return;
    }
    conn_settle(c);
}

void
conn_done(struct req_state *st, int from_pool)
{
    struct conn *c = st->conn;

    if (from_pool)
        c->inpool--;
    st->ready = 1;
    if (c->closing) {
        fifo_remove(c, st);
        arena_destroy(st->req.arena);
        maybe_free(c);
        return;
    }
    conn_flush(c);
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* conn_parse.c's view of a connection (struct conn_parse_ops). */
static void
parse_phase(struct conn_parse *ps, enum conn_phase ph)
{
    conn_phase(ps->conn, ph);
}

static int
parse_fail(struct conn_parse *ps, int err, const char *detail)
{
    return conn_fail(ps->conn, err, detail);
}

static int
parse_request(struct conn_parse *ps, struct req_state *st)
{
    return conn_request(ps->conn, st);
}

static int
parse_continue(struct conn_parse *ps)
{
    return conn_continue(ps->conn);
}

const struct conn_parse_ops conn_parse_ops = {
    parse_phase, parse_fail, parse_request, parse_continue, dispatch_route,
};

void
conn_accept(struct loop *l)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        log_error("out of memory accepting a connection");
        return;
    }
    c->loop = l;
    c->srv = l->srv;
    c->phase = CONN_BUSY; /* so that CONN_IDLE below arms the timer */
    conn_parse_init(&c->ps, &conn_parse_ops, c, l);
    uv_tcp_init(&l->ev.uv, &c->tcp);
    uv_timer_init(&l->ev.uv, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    c->next = l->conns;
    if (l->conns != NULL)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    if (uv_accept((uv_stream_t *)&l->ev.listener, (uv_stream_t *)&c->tcp) != 0 ||
        atomic_load(&l->srv->group.draining)) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_phase(c, CONN_IDLE);
    read_start(c);
}

void
conn_drain(struct conn *c)
{
    if (!c->closing && c->phase == CONN_IDLE && c->nwriting == 0)
        conn_close(c);
}

void
conn_kill(struct conn *c)
{
    conn_close(c);
}

struct conn *
conn_next(const struct conn *c)
{
    return c->next;
}
