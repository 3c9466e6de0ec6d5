/*
 * mirror.c - shadow traffic (DESIGN.md §5): a read on a shadow route is also
 * sent to the new pool, off the client's path. The client is answered by
 * legacy alone; the mirror keeps its own arena, table reference and
 * upstream connection, buffers both bodies up to the route's shadow
 * max_body, and once both answers are in hands them to shadow.c to compare.
 * Mirrors in flight are bounded per route; what is not sent or cannot be
 * compared counts as a drop.
 */
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

#define INLINE_COMPARE_MAX 16384 /* bigger answers are compared on libuv's pool */
#define SHADOW_MARK        "X-Souk-Shadow: 1\r\n\r\n"

enum side_state { SIDE_PENDING, SIDE_DONE, SIDE_FAILED };

struct answer {
    enum side_state state;
    int             status;
    struct buf      body;
    char           *headers[8]; /* values of the route's shadow_headers */
};

struct mirror {
    struct arena          *a;
    struct gw_loop        *loop;
    struct gw_table       *t;
    const struct gw_route *route;
    struct gw_stat        *rs;
    struct userver        *us;
    struct uconn          *u;
    char                  *head;
    size_t                 head_len;
    char                  *request_line;
    int                    is_head, chunked;
    int                    connected, body_pending; /* the request body is still being read */
    struct buf             req_body;
    struct answer          legacy, shadow;
    uv_work_t              work;
    uint64_t               t_start; /* uv_hrtime: the new side's latency in GET /stats */
};

static void
mirror_free(struct mirror *m)
{
    struct gw_loop *l = m->loop;

    atomic_fetch_sub_explicit(&m->rs->shadow_inflight, 1, memory_order_relaxed);
    buf_free(&m->req_body);
    buf_free(&m->legacy.body);
    buf_free(&m->shadow.body);
    routes_unref(m->t);
    arena_destroy(m->a);
    l->nmirrors--;
    loop_check_exit(l);
}

static void
compare(struct mirror *m)
{
    struct shadow_answer a = {m->legacy.status, buf_data(&m->legacy.body), buf_len(&m->legacy.body),
                              (const char *const *)m->legacy.headers};
    struct shadow_answer b = {m->shadow.status, buf_data(&m->shadow.body), buf_len(&m->shadow.body),
                              (const char *const *)m->shadow.headers};

    shadow_compare_answers(m->route, &a, &b, m->request_line);
}

static void
work_compare(uv_work_t *w)
{
    compare(w->data);
}

static void
work_done(uv_work_t *w, int status)
{
    (void)status;
    mirror_free(w->data);
}

static void
drop(struct mirror *m)
{
    shadow_drop(m->route->name);
}

/* Both sides are in (or one never will be): compare, then go. JSON work on
 * big answers would stall the loop, so those go to libuv's thread pool. */
static void
settle(struct mirror *m)
{
    if (m->legacy.state == SIDE_PENDING || m->shadow.state == SIDE_PENDING)
        return;
    if (m->legacy.state == SIDE_FAILED || m->shadow.state == SIDE_FAILED ||
        buf_error(&m->legacy.body) || buf_error(&m->shadow.body)) {
        drop(m);
        mirror_free(m);
        return;
    }
    if (buf_len(&m->legacy.body) + buf_len(&m->shadow.body) <= INLINE_COMPARE_MAX) {
        compare(m);
        mirror_free(m);
        return;
    }
    m->work.data = m;
    if (uv_queue_work(&m->loop->ev.uv, &m->work, work_compare, work_done) != 0) {
        drop(m);
        mirror_free(m);
    }
}

/* The values of the route's compared headers in head h, copied. */
static void
pick_headers(struct mirror *m, const struct hhead *h, char **out)
{
    struct str v;
    int        i, k;

    for (i = 0; i < m->route->nshadow_headers && i < 8; i++) {
        k = hhead_find(h, m->route->shadow_headers[i]);
        v = k >= 0 ? headers_trim(hhead_val(h, k)) : (struct str){NULL, 0};
        out[i] = v.p != NULL ? arena_strndup(m->a, v.p, v.len) : NULL;
    }
}

/* ---- the new pool's answer ------------------------------------------------------------ */

/* The copy goes once it is connected and the client's body is all in. */
static void
send_head(struct mirror *m)
{
    struct uconn *u = m->u;

    if (u == NULL || !m->connected || m->body_pending)
        return;
    sink_add(&u->out, m->head, m->head_len);
    if (m->chunked && buf_len(&m->req_body) > 0)
        sink_chunk(&u->out, buf_data(&m->req_body), buf_len(&m->req_body));
    else
        sink_add(&u->out, buf_data(&m->req_body), buf_len(&m->req_body));
    if (m->chunked)
        sink_add(&u->out, "0\r\n\r\n", 5);
    if (sink_flush(&u->out) == 0) {
        upstream_expect(u, m->route->timeout_ms);
        return;
    }
    m->u = NULL;
    upstream_close(u);
    m->shadow.state = SIDE_FAILED;
    settle(m);
}

static void
on_connected(void *owner)
{
    struct mirror *m = owner;

    m->connected = 1;
    send_head(m);
}

/* The shadow side ends before its request was sent (bounds, client gone). */
static void
shadow_abort(struct mirror *m)
{
    struct uconn *u = m->u;

    m->u = NULL;
    if (u != NULL)
        upstream_close(u);
    m->shadow.state = SIDE_FAILED;
}

static void
on_failed(void *owner, int err, int got_head)
{
    struct mirror *m = owner;

    breaker_record(m->us->g->name, 0, loop_now(m->loop));
    if (!got_head) /* one with a head was counted there, with its status */
        stats_side(m->rs, 1, 0, (uv_hrtime() - m->t_start) / 1000);
    log_debug("shadow request to %s failed: %s", m->us->g->name, err_name(err));
    m->u = NULL;
    m->shadow.state = SIDE_FAILED;
    settle(m);
}

static int
on_head(void *owner, int status, const struct hp_head *h)
{
    struct mirror *m = owner;

    (void)h;
    m->shadow.status = status;
    stats_side(m->rs, 1, status, (uv_hrtime() - m->t_start) / 1000); /* time to its head */
    pick_headers(m, &m->u->rh, m->shadow.headers);
    return m->is_head ? 1 : 0;
}

static void
on_body(void *owner, const char *p, size_t n)
{
    struct mirror *m = owner;

    buf_append(&m->shadow.body, p, n); /* bounded: an overflow is a drop */
}

static void
on_done(void *owner)
{
    ((struct mirror *)owner)->shadow.state = SIDE_DONE;
}

static void
on_read_end(void *owner)
{
    struct mirror *m = owner;
    struct uconn  *u = m->u;

    if (m->shadow.state != SIDE_DONE || u == NULL)
        return;
    m->u = NULL;
    breaker_record(m->us->g->name, !gw_gateway_failure(m->shadow.status), loop_now(m->loop));
    upstream_release(u);
    settle(m);
}

static void
on_drained(void *owner)
{
    (void)owner;
}

static const struct uconn_ops mirror_ops = {
    on_connected, on_failed, on_head, on_body, on_done, on_read_end, on_drained,
};

/* ---- the legacy side and the start ---------------------------------------------------------- */

struct buf *
mirror_body_buf(struct mirror *m)
{
    return &m->legacy.body;
}

void
mirror_legacy_head(struct mirror *m, const struct hhead *h)
{
    pick_headers(m, h, m->legacy.headers);
}

void
mirror_legacy_done(struct mirror *m, int status, struct buf *body, int ok)
{
    (void)body; /* it is m->legacy.body */
    m->legacy.state = ok ? SIDE_DONE : SIDE_FAILED;
    m->legacy.status = status;
    if (m->body_pending && m->shadow.state == SIDE_PENDING)
        shadow_abort(m); /* its request would never be complete */
    settle(m);
}

void
mirror_request_body(struct mirror *m, const char *p, size_t n)
{
    buf_append(&m->req_body, p, n);
}

/* The client's body is all in: send the copy, unless it outgrew the bound. */
void
mirror_request_done(struct mirror *m)
{
    m->body_pending = 0;
    if (buf_error(&m->req_body)) {
        shadow_abort(m);
        settle(m);
        return;
    }
    send_head(m);
}

/* The request head as sent to legacy, marked as shadow traffic. */
static void
copy_head(struct mirror *m, const struct client *c)
{
    size_t     n = buf_len(&c->uhead) - 2; /* without the final CRLF */
    struct str t = hhead_target(&c->head);

    m->head = arena_alloc(m->a, n + sizeof(SHADOW_MARK));
    memcpy(m->head, buf_data(&c->uhead), n);
    memcpy(m->head + n, SHADOW_MARK, sizeof(SHADOW_MARK));
    m->head_len = n + sizeof(SHADOW_MARK) - 1;
    m->request_line = arena_printf(m->a, "%s %.*s", c->hph.method, (int)t.len, t.p);
}

/* A server of the new pool whose breaker lets the copy through. */
static struct userver *
pick(struct exch *x)
{
    int             i, n = x->nsrv[1];
    struct userver *us;

    for (i = 0; i < n; i++) {
        us = x->srv[1][(x->start[1] + (unsigned)i) % (unsigned)n];
        if (atomic_load(&us->g->healthy) && breaker_allow(us->g->name, loop_now(x->loop)))
            return us;
    }
    return NULL;
}

struct mirror *
mirror_start(struct exch *x)
{
    const struct gw_route *r = x->route;
    struct gw_stat        *rs = x->c->rstat;
    struct userver        *us = pick(x);
    struct mirror         *m;
    struct arena          *a;
    int                    reused;

    if (us == NULL || atomic_fetch_add_explicit(&rs->shadow_inflight, 1, memory_order_relaxed) >=
                          r->shadow_max_inflight) {
        if (us != NULL)
            atomic_fetch_sub_explicit(&rs->shadow_inflight, 1, memory_order_relaxed);
        shadow_drop(r->name);
        return NULL;
    }
    a = arena_create();
    m = arena_new(a, struct mirror);
    m->a = a;
    m->loop = x->loop;
    m->t = x->t;
    atomic_fetch_add(&m->t->refs, 1); /* the route must outlive the client's exchange */
    m->route = r;
    m->rs = rs;
    m->us = us;
    m->t_start = uv_hrtime();
    m->is_head = strcmp(x->c->hph.method, "HEAD") == 0;
    m->chunked = x->c->ri.chunked;
    m->body_pending = x->has_body && !x->c->req_done;
    buf_init(&m->req_body, r->shadow_max_body);
    buf_init(&m->legacy.body, r->shadow_max_body);
    buf_init(&m->shadow.body, r->shadow_max_body);
    copy_head(m, x->c);
    m->loop->nmirrors++;
    if (upstream_get(m->loop, us, &mirror_ops, m, r->connect_timeout_ms, &m->u, &reused) != 0) {
        m->shadow.state = SIDE_FAILED;
        m->legacy.state = SIDE_FAILED;
        drop(m);
        mirror_free(m);
        return NULL;
    }
    m->connected = reused;
    send_head(m);
    return m;
}
