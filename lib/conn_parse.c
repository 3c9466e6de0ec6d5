/*
 * conn_parse.c - parser events to request state: collect the target and the
 * header lines of one request under the limits of bounds.h, copy them into
 * a new request arena at end of headers, route it, and collect the body.
 * Transport, ordering and timers are conn.c's; this file only reads bytes.
 */
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conn.h"
#include "http_parse.h"
#include "router.h"
#include "trace.h"

#define SCRATCH_MAX (LIMIT_REQUEST_LINE + LIMIT_HEADER_BYTES + 4 * LIMIT_HEADER_COUNT)

static struct req_state *
st_new(struct conn_parse *ps)
{
    struct arena     *a = arena_create();
    struct req_state *st = arena_new(a, struct req_state);

    st->req.arena = a;
    st->req.work.arena = a;
    st->req.st = st;
    st->req.method = "";
    st->req.path = "";
    st->req.request_id = trace_request_id_new(a);
    st->conn = ps->conn;
    st->loop = ps->loop;
    st->srv = ps->loop->srv;
    st->t_start = ps->t_begin != 0 ? ps->t_begin : uv_hrtime();
    st->stat = st->srv->nstats - 1;
    st->max_body = LIMIT_BODY_DEFAULT;
    buf_init_in(&st->body, a, 0);
    return st;
}

struct req_state *
conn_parse_take(struct conn_parse *ps)
{
    struct req_state *st = ps->cur != NULL ? ps->cur : st_new(ps);

    ps->cur = NULL;
    return st;
}

/* Split the target into path and query; absolute-form keeps only the path. */
static void
target_split(struct conn_parse *ps, struct req_state *st, const char *t, size_t n)
{
    const char *end = t + n, *q, *h;
    char       *path;
    size_t      len;

    if (n > 8 && (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
        h = strstr(t, "//") + 2;
        t = memchr(h, '/', (size_t)(end - h));
        if (t == NULL)
            t = end;
    }
    q = t;
    while (q < end && *q != '?' && *q != '#')
        q++;
    st->raw_path = t < end ? t : "/";
    st->raw_path_len = t < end ? (size_t)(q - t) : 1;
    st->raw_query = "";
    if (q < end && *q == '?') {
        st->raw_query = ++q;
        while (q < end && *q != '#')
            q++;
        st->raw_query_len = (size_t)(q - st->raw_query);
    }
    path = arena_alloc(st->req.arena, st->raw_path_len + 1);
    if (router_decode(st->raw_path, st->raw_path_len, ROUTER_STRICT, path, &len) != ERR_OK) {
        st->route_rc = ERR_INVALID;
        st->req.path = arena_strndup(st->req.arena, st->raw_path, st->raw_path_len);
        return;
    }
    st->req.path = path;
    ps->ops->route(st);
}

static int
on_begin(void *ctx)
{
    struct conn_parse *ps = ctx;

    ps->t_begin = uv_hrtime();
    buf_reset(&ps->scratch);
    ps->url_len = 0;
    ps->hdr_bytes = 0;
    ps->nhdr = 0;
    ps->in_value = 0;
    ps->ops->phase(ps, CONN_HEAD);
    return 0;
}

static int
on_url(void *ctx, const char *p, size_t n)
{
    struct conn_parse *ps = ctx;

    /* Method, target and " HTTP/1.1" together form the request line. */
    if (ps->url_len + n + strlen(hp_method(ps->hp)) + 10 > LIMIT_REQUEST_LINE)
        return ps->ops->fail(ps, ERR_URI_TOO_LONG, "request line is too long");
    buf_append(&ps->scratch, p, n);
    ps->url_len += n;
    return 0;
}

/* Count n more header bytes (plus ": " and CRLF per line); 431 past the limit. */
static int
header_bytes(struct conn_parse *ps, size_t n)
{
    ps->hdr_bytes += n;
    if (ps->hdr_bytes + 4 * (size_t)ps->nhdr > LIMIT_HEADER_BYTES)
        return ps->ops->fail(ps, ERR_HEADERS_TOO_LARGE, "request header fields are too large");
    return 0;
}

static int
on_field(void *ctx, const char *p, size_t n)
{
    struct conn_parse *ps = ctx;
    struct hdr_span   *sp;

    if (ps->nhdr == 0 || ps->in_value) {
        if (ps->nhdr == LIMIT_HEADER_COUNT)
            return ps->ops->fail(ps, ERR_HEADERS_TOO_LARGE, "too many request header fields");
        sp = &ps->hdr[ps->nhdr++];
        memset(sp, 0, sizeof(*sp));
        sp->name_off = buf_len(&ps->scratch);
        ps->in_value = 0;
    }
    if (header_bytes(ps, n))
        return -1;
    buf_append(&ps->scratch, p, n);
    ps->hdr[ps->nhdr - 1].name_len += n;
    return 0;
}

static int
on_value(void *ctx, const char *p, size_t n)
{
    struct conn_parse *ps = ctx;
    struct hdr_span   *sp = &ps->hdr[ps->nhdr - 1];

    if (!ps->in_value) {
        ps->in_value = 1;
        sp->val_off = buf_len(&ps->scratch);
    }
    if (header_bytes(ps, n))
        return -1;
    buf_append(&ps->scratch, p, n);
    sp->val_len += n;
    return 0;
}

/* "Expect: 100-continue" is answered when the body will be accepted. */
static int
expect_continue(struct conn_parse *ps, struct req_state *st, const struct hp_head *h)
{
    const char *e = req_header(&st->req, "Expect");

    if (e == NULL || strcasecmp(e, "100-continue") != 0 || st->http10 || st->route_rc != ERR_OK)
        return 0;
    if (!h->chunked && h->content_length == 0)
        return 0;
    return ps->ops->cont(ps);
}

static int
on_head(void *ctx, const struct hp_head *h)
{
    struct conn_parse *ps = ctx;
    struct req_state  *st = st_new(ps);
    struct arena      *a = st->req.arena;
    const char        *s = buf_data(&ps->scratch), *id;
    int                i;

    ps->cur = st;
    st->req.method = h->method;
    st->is_head = strcmp(h->method, "HEAD") == 0;
    st->http10 = h->http_minor == 0;
    st->http_minor = h->http_minor;
    st->keep_alive = h->keep_alive;
    st->hdrs = arena_array(a, struct req_hdr, ps->nhdr > 0 ? (size_t)ps->nhdr : 1);
    for (i = 0; i < ps->nhdr; i++) {
        st->hdrs[i].name = arena_strndup(a, s + ps->hdr[i].name_off, ps->hdr[i].name_len);
        st->hdrs[i].value = arena_strndup(a, s + ps->hdr[i].val_off, ps->hdr[i].val_len);
    }
    st->nhdrs = ps->nhdr;
    id = req_header(&st->req, "X-Request-Id");
    if (id != NULL && trace_request_id_ok(id, strlen(id)))
        st->req.request_id = id;
    target_split(ps, st, arena_strndup(a, s, ps->url_len), ps->url_len);
    buf_init(&st->body, st->max_body);
    ps->ops->phase(ps, CONN_BODY);
    if (h->has_length && h->content_length > st->max_body)
        return ps->ops->fail(ps, ERR_TOO_LARGE, "request body is too large");
    return expect_continue(ps, st, h);
}

static int
on_body(void *ctx, const char *p, size_t n)
{
    struct conn_parse *ps = ctx;
    struct req_state  *st = ps->cur;

    /* Chunked bodies are refused as soon as they outgrow the route's limit. */
    if (buf_len(&st->body) + n > st->max_body)
        return ps->ops->fail(ps, ERR_TOO_LARGE, "request body is too large");
    buf_append(&st->body, p, n);
    return 0;
}

static int
on_done(void *ctx)
{
    struct conn_parse *ps = ctx;
    struct req_state  *st = ps->cur;

    ps->cur = NULL;
    ps->t_begin = 0;
    return ps->ops->request(ps, st);
}

static const struct hp_events events = {
    on_begin, on_url, on_field, on_value, on_head, on_body, on_done,
};

void
conn_parse_init(struct conn_parse *ps, const struct conn_parse_ops *ops, struct conn *c,
                struct loop *l)
{
    memset(ps, 0, sizeof(*ps));
    ps->ops = ops;
    ps->conn = c;
    ps->loop = l;
    ps->hp = hp_new(&events, ps);
    buf_init(&ps->scratch, SCRATCH_MAX);
}

void
conn_parse_drop(struct conn_parse *ps)
{
    if (ps->cur != NULL)
        arena_destroy(ps->cur->req.arena);
    ps->cur = NULL;
}

void
conn_parse_free(struct conn_parse *ps)
{
    conn_parse_drop(ps);
    hp_free(ps->hp);
    ps->hp = NULL;
    buf_free(&ps->scratch);
}
