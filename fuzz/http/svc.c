/*
 * svc.c - the services' server reading a client's stream (see model.h):
 * lib/http_parse.c with callbacks that collect the target and header lines
 * under the limits of bounds.h into one bounded scratch buffer, copy them
 * into a request arena at the end of the head and percent-decode the
 * target, as lib/conn_parse.c does (conn_parse.c itself needs a live
 * connection, so its steps are restated here with the same lib calls).
 */
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "buf.h"
#include "fuzz/http/model.h"
#include "http_parse.h"
#include "router.h"

struct span {
    size_t name_off, name_len, val_off, val_len;
};

struct svc {
    struct hp    *hp;
    struct run   *run;
    struct buf    scratch; /* the target, then header names and values */
    size_t        url_len, hdr_bytes;
    int           nhdr, in_value;
    struct span   hdr[LIMIT_HEADER_COUNT];
    struct arena *a;    /* the request, from end of head to end of message */
    struct buf   *body; /* in a */
    struct msg    cur;
    int           has_length, keep_alive;
    uint64_t      length;
};

static int
svc_fail(struct svc *s)
{
    s->run->refused = 1;
    s->run->stopped = 1;
    return -1;
}

static int
svc_begin(void *ctx)
{
    struct svc *s = ctx;

    buf_reset(&s->scratch);
    s->url_len = 0;
    s->hdr_bytes = 0;
    s->nhdr = 0;
    s->in_value = 0;
    return 0;
}

static int
svc_url(void *ctx, const char *p, size_t n)
{
    struct svc *s = ctx;

    if (s->url_len + n + strlen(hp_method(s->hp)) + 10 > LIMIT_REQUEST_LINE)
        return svc_fail(s); /* 414 */
    buf_append(&s->scratch, p, n);
    s->url_len += n;
    return 0;
}

static int
svc_header_bytes(struct svc *s, size_t n)
{
    s->hdr_bytes += n;
    if (s->hdr_bytes + 4 * (size_t)s->nhdr > LIMIT_HEADER_BYTES)
        return svc_fail(s); /* 431 */
    return 0;
}

static int
svc_field(void *ctx, const char *p, size_t n)
{
    struct svc  *s = ctx;
    struct span *sp;

    if (s->nhdr == 0 || s->in_value) {
        if (s->nhdr == LIMIT_HEADER_COUNT)
            return svc_fail(s); /* 431 */
        sp = &s->hdr[s->nhdr++];
        memset(sp, 0, sizeof(*sp));
        sp->name_off = buf_len(&s->scratch);
        s->in_value = 0;
    }
    if (svc_header_bytes(s, n))
        return -1;
    buf_append(&s->scratch, p, n);
    s->hdr[s->nhdr - 1].name_len += n;
    return 0;
}

static int
svc_value(void *ctx, const char *p, size_t n)
{
    struct svc  *s = ctx;
    struct span *sp;

    FUZZ_CHECK(s->nhdr > 0); /* the parser gives a name before a value */
    sp = &s->hdr[s->nhdr - 1];
    if (!s->in_value) {
        s->in_value = 1;
        sp->val_off = buf_len(&s->scratch);
    }
    if (svc_header_bytes(s, n))
        return -1;
    buf_append(&s->scratch, p, n);
    sp->val_len += n;
    return 0;
}

/* conn_parse.c's target_split: absolute-form keeps the path; the path is
 * decoded strictly (a bad escape is a 400 later), the query as a form. */
static void
svc_target(struct svc *s, const char *t, size_t n)
{
    const char *end = t + n, *q, *h, *raw_path, *raw_query = "";
    size_t      raw_path_len, raw_query_len = 0, len;
    char       *out;

    if (n > 8 && (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
        h = strstr(t, "//") + 2;
        t = memchr(h, '/', (size_t)(end - h));
        if (t == NULL)
            t = end;
    }
    q = t;
    while (q < end && *q != '?' && *q != '#')
        q++;
    raw_path = t < end ? t : "/";
    raw_path_len = t < end ? (size_t)(q - t) : 1;
    if (q < end && *q == '?') {
        raw_query = ++q;
        while (q < end && *q != '#')
            q++;
        raw_query_len = (size_t)(q - raw_query);
    }
    out = arena_alloc(s->a, raw_path_len + 1);
    if (router_decode(raw_path, raw_path_len, ROUTER_STRICT, out, &len) == ERR_OK) {
        FUZZ_CHECK(len <= raw_path_len && out[len] == '\0' && strlen(out) == len);
    }
    out = arena_alloc(s->a, raw_query_len + 1);
    FUZZ_CHECK(router_decode(raw_query, raw_query_len, ROUTER_FORM, out, &len) == ERR_OK);
    FUZZ_CHECK(len <= raw_query_len && out[len] == '\0');
}

static int
svc_head(void *ctx, const struct hp_head *h)
{
    struct svc *s = ctx;
    const char *z = buf_data(&s->scratch);
    char       *name, *value;
    int         i;

    FUZZ_CHECK(buf_error(&s->scratch) == ERR_OK); /* the limits keep it under SCRATCH_MAX */
    s->a = arena_create();
    memset(&s->cur, 0, sizeof(s->cur));
    s->cur.method = h->method;
    s->cur.http_minor = h->http_minor;
    s->cur.target = fnv(FNV_INIT, z, s->url_len);
    s->cur.headers = FNV_INIT;
    s->cur.body = FNV_INIT;
    for (i = 0; i < s->nhdr; i++) {
        FUZZ_CHECK(s->hdr[i].name_off + s->hdr[i].name_len <= buf_len(&s->scratch));
        FUZZ_CHECK(s->hdr[i].val_off + s->hdr[i].val_len <= buf_len(&s->scratch));
        name = arena_strndup(s->a, z + s->hdr[i].name_off, s->hdr[i].name_len);
        value = arena_strndup(s->a, z + s->hdr[i].val_off, s->hdr[i].val_len);
        s->cur.headers =
            span_hash(s->cur.headers, name, s->hdr[i].name_len, value, s->hdr[i].val_len);
    }
    svc_target(s, arena_strndup(s->a, z, s->url_len), s->url_len);
    s->has_length = h->has_length;
    s->length = h->content_length;
    s->keep_alive = h->keep_alive;
    s->body = buf_new(s->a, LIMIT_BODY_DEFAULT);
    if (h->has_length && h->content_length > LIMIT_BODY_DEFAULT)
        return svc_fail(s); /* 413 */
    return 0;
}

static int
svc_body(void *ctx, const char *p, size_t n)
{
    struct svc *s = ctx;

    FUZZ_CHECK(s->a != NULL); /* body only after the head */
    if (buf_len(s->body) + n > LIMIT_BODY_DEFAULT)
        return svc_fail(s); /* 413 */
    buf_append(s->body, p, n);
    s->cur.body = fnv(s->cur.body, p, n);
    s->cur.body_len += n;
    return 0;
}

static int
svc_done(void *ctx)
{
    struct svc *s = ctx;

    FUZZ_CHECK(s->a != NULL);
    FUZZ_CHECK(buf_len(s->body) == s->cur.body_len);
    if (s->has_length && strcmp(s->cur.method, "CONNECT") != 0)
        FUZZ_CHECK(s->cur.body_len == s->length); /* 5 */
    run_msg(s->run, &s->cur);
    arena_destroy(s->a);
    s->a = NULL;
    if (!s->keep_alive) {
        hp_pause(s->hp); /* conn.c: after a final request the rest is never parsed */
        s->run->stopped = 1;
    }
    return 0;
}

static const struct hp_events svc_events = {
    svc_begin, svc_url, svc_field, svc_value, svc_head, svc_body, svc_done,
};

/* Feed the pieces as reads; like lib/conn.c, a final message (no keep-alive)
 * ends the reading. */
void
svc_run(const char *p, const size_t *cut, int ncut, struct run *out)
{
    struct svc     s;
    size_t         used, from = 0, to;
    enum hp_status hs;
    int            i;

    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    s.run = out;
    s.hp = hp_new(&svc_events, &s);
    buf_init(&s.scratch, SCRATCH_MAX);
    for (i = 0; i <= ncut && !out->stopped; i++, from = to) {
        to = cut[i];
        if (to == from)
            continue;
        hs = hp_feed(s.hp, p + from, to - from, &used);
        FUZZ_CHECK(used <= to - from);
        if (hs == HP_ERROR || hs == HP_ABORTED) {
            out->refused = 1;
            out->stopped = 1;
            FUZZ_CHECK(hs == HP_ABORTED || strlen(hp_error(s.hp)) > 0);
        } else if (hs == HP_PAUSED) {
            out->stopped = 1; /* a final message, or an upgrade: the rest is not read */
        } else {
            FUZZ_CHECK(used == to - from);
        }
    }
    arena_destroy(s.a); /* a request cut short */
    buf_free(&s.scratch);
    hp_free(s.hp);
}
