/*
 * forward.c - the two heads a proxy rewrites (RFC 9110 §7.6): the request
 * head sent upstream and the response head sent to the client. Hop-by-hop
 * headers go (the fixed ones and those named in Connection), framing is
 * re-stated from what the parser understood, client-sent X-User-* never
 * pass, and the gateway adds X-Forwarded-For/-Proto, Via, X-Request-Id,
 * traceparent and, for a verified token, X-User-Id and X-User-Role.
 */
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "gw.h"
#include "resp.h"

#define VIA_TOKEN "1.1 souk-gateway"

/* Request headers the gateway states itself (the client's copies go) and
 * the ones it must never pass (X-User-*: identity is the gateway's word). */
static int
request_own(int id)
{
    return id == H_CONTENT_LENGTH || id == H_X_FORWARDED_FOR || id == H_X_FORWARDED_PROTO ||
           id == H_VIA || id == H_X_REQUEST_ID || id == H_TRACEPARENT || id == H_EXPECT ||
           id == H_X_USER;
}

/* Appends without printf: the heads are built on every request. */
#define PUT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

static void
put_z(struct buf *b, const char *z)
{
    buf_append(b, z, strlen(z));
}

static void
put_u64(struct buf *b, uint64_t v)
{
    char  d[24];
    char *p = d + sizeof(d);

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    buf_append(b, p, (size_t)(d + sizeof(d) - p));
}

static void
put_line(struct buf *b, struct str name, struct str value)
{
    buf_append(b, name.p, name.len);
    buf_append(b, ": ", 2);
    buf_append(b, value.p, value.len);
    buf_append(b, "\r\n", 2);
}

/* Values of every header called name, joined with ", " (a list header). */
static void
put_joined(struct buf *b, const struct hhead *h, enum hname id)
{
    struct str v;
    int        i, n = 0;

    for (i = 0; i < h->n; i++) {
        if (h->f[i].id != (int)id)
            continue;
        v = headers_trim(hhead_val(h, i));
        if (v.len == 0)
            continue;
        if (n++ > 0)
            buf_append(b, ", ", 2);
        buf_append(b, v.p, v.len);
    }
    if (n > 0)
        buf_append(b, ", ", 2);
}

void
forward_request(struct exch *x)
{
    struct client      *c = x->c;
    const struct hhead *h = &c->head;
    struct buf         *b = &c->uhead;
    int                 i;

    buf_reset(b);
    put_z(b, c->hph.method);
    PUT(b, " ");
    buf_append(b, h->text.p, h->url_len);
    PUT(b, " HTTP/1.1\r\n");
    for (i = 0; i < h->n; i++) {
        if (request_own(h->f[i].id) ||
            headers_hop_by_hop(h, i, c->ri.conn_tokens, c->ri.nconn_tokens))
            continue;
        put_line(b, hhead_name(h, i), headers_trim(hhead_val(h, i)));
    }
    if (c->ri.host < 0) { /* HTTP/1.0 without one */
        PUT(b, "Host: ");
        put_z(b, x->srv[x->side][0]->g->name);
        PUT(b, "\r\n");
    }
    PUT(b, "X-Forwarded-For: ");
    put_joined(b, h, H_X_FORWARDED_FOR);
    put_z(b, c->ip);
    PUT(b, "\r\nX-Forwarded-Proto: http\r\nVia: ");
    put_joined(b, h, H_VIA);
    PUT(b, VIA_TOKEN "\r\nX-Request-Id: ");
    put_z(b, c->rid);
    PUT(b, "\r\ntraceparent: ");
    put_z(b, x->traceparent);
    PUT(b, "\r\n");
    if (x->user.user_id > 0) {
        PUT(b, "X-User-Id: ");
        put_u64(b, (uint64_t)x->user.user_id);
        PUT(b, "\r\nX-User-Role: ");
        put_z(b, auth_role_name(x->user.role));
        PUT(b, "\r\n");
    }
    if (c->ri.has_length) {
        PUT(b, "Content-Length: ");
        put_u64(b, c->ri.length);
        PUT(b, "\r\n");
    } else if (c->ri.chunked) {
        PUT(b, "Transfer-Encoding: chunked\r\n");
    }
    PUT(b, "\r\n");
}

void
forward_response(struct exch *x, int status, const struct hp_head *h, int close)
{
    struct client *c = x->c;
    struct hhead  *rh = &x->u->rh;
    struct buf    *b = &c->ohead;
    struct str     tokens[16];
    int            i, ntok, conn_close;

    hhead_classify(rh);
    ntok = headers_conn_tokens(rh, tokens, 16, &conn_close);
    buf_reset(b);
    PUT(b, "HTTP/1.1 ");
    put_u64(b, (uint64_t)status);
    PUT(b, " ");
    put_z(b, resp_reason(status));
    PUT(b, "\r\n");
    for (i = 0; i < rh->n; i++) {
        /* Length and request id are restated below; the rest passes. */
        if (rh->f[i].id == H_CONTENT_LENGTH || rh->f[i].id == H_X_REQUEST_ID ||
            headers_hop_by_hop(rh, i, tokens, ntok))
            continue;
        put_line(b, hhead_name(rh, i), headers_trim(hhead_val(rh, i)));
    }
    if (h->has_length) {
        PUT(b, "Content-Length: ");
        put_u64(b, h->content_length);
        PUT(b, "\r\n");
    } else if (x->chunk_out) {
        PUT(b, "Transfer-Encoding: chunked\r\n");
    }
    PUT(b, "X-Request-Id: ");
    put_z(b, c->rid);
    PUT(b, "\r\nVia: " VIA_TOKEN "\r\n");
    if (x->set_cookie != NULL) {
        PUT(b, "Set-Cookie: ");
        put_z(b, x->set_cookie);
        PUT(b, "\r\n");
    }
    if (close)
        PUT(b, "Connection: close\r\n");
    else if (c->hph.http_minor == 0)
        PUT(b, "Connection: keep-alive\r\n");
    PUT(b, "\r\n");
}
