/*
 * headers.c - a message head as collected from the parser (target and
 * header lines in one buffer), the checks a proxy adds to the parser's for
 * a request (duplicate or conflicting framing, Host, target form), the
 * hop-by-hop headers, and the reason phrases. Pure functions.
 */
#include <string.h>
#include <strings.h>

#include "gw.h"

void
hhead_init(struct hhead *h, int max_fields, size_t max_bytes)
{
    memset(h, 0, sizeof(*h));
    h->max = max_fields < GW_RESP_HEADERS ? max_fields : GW_RESP_HEADERS;
    buf_init(&h->text, max_bytes);
}

void
hhead_reset(struct hhead *h)
{
    buf_reset(&h->text);
    h->url_len = 0;
    h->n = 0;
    h->in_value = 0;
    h->overflow = 0;
}

void
hhead_free(struct hhead *h)
{
    buf_free(&h->text);
}

int
hhead_url(struct hhead *h, const char *p, size_t n)
{
    buf_append(&h->text, p, n);
    h->url_len += n;
    return buf_error(&h->text) ? -1 : 0;
}

int
hhead_field(struct hhead *h, const char *p, size_t n)
{
    struct hspan *sp;

    if (h->n == 0 || h->in_value) {
        if (h->n == h->max) {
            h->overflow = 1;
            return -1;
        }
        sp = &h->f[h->n++];
        memset(sp, 0, sizeof(*sp));
        sp->name_off = (uint32_t)buf_len(&h->text);
        h->in_value = 0;
    }
    buf_append(&h->text, p, n);
    h->f[h->n - 1].name_len += (uint32_t)n;
    return buf_error(&h->text) ? -1 : 0;
}

int
hhead_value(struct hhead *h, const char *p, size_t n)
{
    struct hspan *sp = &h->f[h->n - 1];

    if (!h->in_value) {
        h->in_value = 1;
        sp->val_off = (uint32_t)buf_len(&h->text);
    }
    buf_append(&h->text, p, n);
    sp->val_len += (uint32_t)n;
    return buf_error(&h->text) ? -1 : 0;
}

struct str
hhead_name(const struct hhead *h, int i)
{
    return (struct str){buf_data(&h->text) + h->f[i].name_off, h->f[i].name_len};
}

struct str
hhead_val(const struct hhead *h, int i)
{
    return (struct str){buf_data(&h->text) + h->f[i].val_off, h->f[i].val_len};
}

struct str
hhead_target(const struct hhead *h)
{
    return (struct str){buf_data(&h->text), h->url_len};
}

int
hhead_find(const struct hhead *h, const char *name)
{
    int i;

    for (i = 0; i < h->n; i++)
        if (str_eqi(hhead_name(h, i), name))
            return i;
    return -1;
}

struct str
headers_trim(struct str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* ---- names ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t      len;
    enum hname  id;
} known[] = {
#define K(z, id)                                                                                   \
    {                                                                                              \
        z, sizeof(z) - 1, id                                                                       \
    }
    K("te", H_TE),
    K("via", H_VIA),
    K("host", H_HOST),
    K("cookie", H_COOKIE),
    K("expect", H_EXPECT),
    K("trailer", H_TRAILER),
    K("upgrade", H_UPGRADE),
    K("keep-alive", H_KEEP_ALIVE),
    K("connection", H_CONNECTION),
    K("traceparent", H_TRACEPARENT),
    K("x-request-id", H_X_REQUEST_ID),
    K("authorization", H_AUTHORIZATION),
    K("content-length", H_CONTENT_LENGTH),
    K("x-forwarded-for", H_X_FORWARDED_FOR),
    K("proxy-connection", H_PROXY_CONNECTION),
    K("transfer-encoding", H_TRANSFER_ENCODING),
    K("x-forwarded-proto", H_X_FORWARDED_PROTO),
#undef K
};

/* Lengths are compared first: most names are rejected without a byte read. */
enum hname
headers_name(struct str name)
{
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].len == name.len && strncasecmp(known[i].name, name.p, name.len) == 0)
            return known[i].id;
    if (name.len > 7 && strncasecmp(name.p, "x-user-", 7) == 0)
        return H_X_USER;
    return H_OTHER;
}

void
hhead_classify(struct hhead *h)
{
    int i;

    for (i = 0; i < h->n; i++)
        h->f[i].id = headers_name(hhead_name(h, i));
}

/* ---- request rules ------------------------------------------------------------ */

int
headers_hop_by_hop(const struct hhead *h, int i, const struct str *tokens, int ntokens)
{
    struct str name;
    int        k;

    if (h->f[i].id >= H_CONNECTION || h->f[i].id == H_TRANSFER_ENCODING)
        return 1; /* framing is restated by the gateway */
    if (ntokens == 0 || h->f[i].id == H_HOST)
        return 0; /* "Connection: host" must not take Host away */
    name = hhead_name(h, i);
    for (k = 0; k < ntokens; k++)
        if (tokens[k].len == name.len && strncasecmp(tokens[k].p, name.p, name.len) == 0)
            return 1;
    return 0;
}

int
headers_conn_tokens(const struct hhead *h, struct str *out, int max, int *close)
{
    struct str  v, tok;
    const char *comma;
    int         i, n = 0;

    *close = 0;
    for (i = 0; i < h->n; i++) {
        if (h->f[i].id != H_CONNECTION)
            continue;
        for (v = hhead_val(h, i); v.len > 0; v.len -= (size_t)(comma - v.p) + 1, v.p = comma + 1) {
            comma = memchr(v.p, ',', v.len);
            if (comma == NULL)
                comma = v.p + v.len;
            tok = headers_trim((struct str){v.p, (size_t)(comma - v.p)});
            if (str_eqi(tok, "close"))
                *close = 1;
            else if (tok.len > 0 && n < max && !str_eqi(tok, "keep-alive"))
                out[n++] = tok;
            if (comma == v.p + v.len)
                break;
        }
    }
    return n;
}

/* Host is a uri-host with an optional port: no spaces, paths or userinfo. */
static int
host_ok(struct str v)
{
    size_t i;

    for (i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];

        if (ch <= ' ' || ch >= 0x7f || strchr("/?#@\\\"<>{}|^`", ch) != NULL)
            return 0;
    }
    return 1;
}

static const char *
target_problem(struct str t, const char *method)
{
    if (t.len == 0)
        return "empty request target";
    if (memchr(t.p, '#', t.len) != NULL)
        return "fragment in request target";
    if (t.p[0] == '/')
        return NULL;
    if (t.len == 1 && t.p[0] == '*' && strcmp(method, "OPTIONS") == 0)
        return NULL;
    if (strcmp(method, "CONNECT") == 0)
        return "connect is not supported";
    if (memmem(t.p, t.len, "://", 3) != NULL)
        return "absolute-form request target is not accepted";
    return "invalid request target";
}

/* One header line's part in the checks; NULL or why the request is refused. */
static const char *
check_line(struct reqinfo *ri, int id, struct str v, int i, int *ncl, int *nte, int *nhost)
{
    int64_t len;

    switch (id) {
    case H_CONTENT_LENGTH:
        if (++*ncl > 1)
            return "duplicate content-length";
        if (str_to_i64(v, 0, INT64_MAX, &len) != ERR_OK || v.p[0] == '-')
            return "invalid content-length";
        ri->has_length = 1;
        ri->length = (uint64_t)len;
        return NULL;
    case H_TRANSFER_ENCODING:
        if (++*nte > 1)
            return "duplicate transfer-encoding";
        if (!str_eqi(v, "chunked"))
            return "transfer-encoding other than chunked";
        ri->chunked = 1;
        return NULL;
    case H_HOST:
        if (++*nhost > 1)
            return "duplicate host header";
        ri->host = i;
        return host_ok(v) ? NULL : "invalid host header";
    case H_AUTHORIZATION:
        if (ri->authorization >= 0)
            return "duplicate authorization header";
        ri->authorization = i;
        return NULL;
    case H_EXPECT:
        ri->expect_continue = str_eqi(v, "100-continue");
        return NULL;
    case H_COOKIE:
        ri->cookie = ri->cookie < 0 ? i : ri->cookie;
        return NULL;
    case H_X_REQUEST_ID:
        ri->request_id = ri->request_id < 0 ? i : ri->request_id;
        return NULL;
    case H_TRACEPARENT:
        ri->traceparent = ri->traceparent < 0 ? i : -2; /* two: start a new trace */
        return NULL;
    default:
        return NULL;
    }
}

/* http-parser 2.9 treats a field whose name merely starts with
 * "Transfer-Encoding" (or "Content-Length") as that header, so
 * "Transfer-Encodingx: 1" would be read as framing by the parser and as an
 * ordinary field by everyone else: refuse such names outright. */
static const char *
framing_lookalike(struct str name)
{
    static const char *const framing[] = {"transfer-encoding", "content-length"};
    size_t                   i, n;

    for (i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        n = strlen(framing[i]);
        if (name.len > n && strncasecmp(name.p, framing[i], n) == 0)
            return "header name mimics a framing header";
    }
    return NULL;
}

const char *
headers_check_request(struct hhead *h, const struct hp_head *hp, struct reqinfo *ri)
{
    const char *why;
    int         i, ncl = 0, nte = 0, nhost = 0;

    memset(ri, 0, sizeof(*ri));
    hhead_classify(h);
    ri->host = ri->authorization = ri->cookie = ri->request_id = ri->traceparent = -1;
    why = target_problem(hhead_target(h), hp->method);
    for (i = 0; why == NULL && i < h->n; i++)
        why = framing_lookalike(hhead_name(h, i));
    for (i = 0; why == NULL && i < h->n; i++)
        why = check_line(ri, h->f[i].id, headers_trim(hhead_val(h, i)), i, &ncl, &nte, &nhost);
    if (why != NULL)
        return why;
    if (ncl > 0 && nte > 0)
        return "content-length with transfer-encoding";
    if (nte > 0 && hp->http_minor == 0)
        return "transfer-encoding in an http/1.0 request";
    if (nhost == 0 && hp->http_minor > 0)
        return "missing host header";
    /* Our reading of the framing must be the parser's, byte for byte. */
    if (ri->chunked != (hp->chunked != 0) || ri->has_length != (hp->has_length != 0) ||
        (ri->has_length && ri->length != hp->content_length))
        return "ambiguous message framing";
    ri->nconn_tokens = headers_conn_tokens(h, ri->conn_tokens, 8, &ri->conn_close);
    return NULL;
}
