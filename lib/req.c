/*
 * req.c - the handler-facing API of req.h, and the one place answers are
 * rendered: problem+json for every failure (problem.c, from ERR_MAP), the
 * status line and headers, and the access line. Handlers only record a
 * failure with req_fail; req_finish turns it into the answer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conn.h"
#include "bounds.h"
#include "log.h"
#include "problem.h"
#include "router.h"
#include "str.h"
#include "trace.h"

#define CTX_MAX        32768 /* request_id, method and path members of a log line */
#define JSON_ERROR_MAX 100   /* jansson's message, cut to keep details short */

/* ---- text helpers ------------------------------------------------------------ */

/* z as a JSON string; request bytes (a decoded path) may be any bytes, and
 * buf_json_str keeps the document valid. */
static void
put_text(struct buf *b, const char *z)
{
    buf_json_str(b, z, strlen(z));
}

/* The decoded path z as a URI reference (RFC 9457's instance), in a: a byte
 * outside RFC 3986's pchar set and '/' is percent-encoded again, '%'
 * included. */
static const char *
uri_path(struct arena *a, const char *z)
{
    static const char    keep[] = "-._~!$&'()*+,;=:@/";
    static const char    hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    char                *out = arena_alloc(a, 3 * strlen(z) + 1), *o = out;

    for (p = (const unsigned char *)z; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr(keep, *p) != NULL) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* ---- inputs --------------------------------------------------------------------- */

const char *
req_param(struct req *r, const char *name)
{
    struct req_state *st = r->st;
    size_t            n = strlen(name), len;
    char             *out;
    int               i;

    for (i = 0; i < st->nparams; i++) {
        if (st->params[i].name_len != n || memcmp(st->params[i].name, name, n) != 0)
            continue;
        out = arena_alloc(r->arena, st->params[i].value_len + 1);
        /* The router already refused bad escapes in the path. */
        if (router_decode(st->params[i].value, st->params[i].value_len, ROUTER_STRICT, out, &len) !=
            ERR_OK)
            return NULL;
        return out;
    }
    return NULL;
}

int
req_param_id(struct req *r, const char *name, const char *what, int64_t *out)
{
    const char *v = req_param(r, name);

    if (str_z_to_i64(v, 1, INT64_MAX, out) != ERR_OK)
        return req_fail(r, ERR_NOT_FOUND, "%s not found", what);
    return ERR_OK;
}

static char *
form_decode(struct arena *a, const char *p, size_t n)
{
    char  *out = arena_alloc(a, n + 1);
    size_t len;

    if (router_decode(p, n, ROUTER_FORM, out, &len) != ERR_OK)
        return arena_strndup(a, p, n); /* FORM mode keeps bad escapes: unreachable */
    return out;
}

/* application/x-www-form-urlencoded, parsed on first use. */
static void
query_parse(struct req *r)
{
    struct req_state *st = r->st;
    const char       *p = st->raw_query, *end = p + st->raw_query_len, *amp, *eq;
    struct req_kv    *kv;
    size_t            n = 1, i;

    st->query_done = 1;
    for (i = 0; i < st->raw_query_len; i++)
        n += p[i] == '&';
    kv = arena_array(r->arena, struct req_kv, n);
    for (n = 0; p < end; p = amp + 1) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp == p)
            continue;
        eq = memchr(p, '=', (size_t)(amp - p));
        kv[n].name = form_decode(r->arena, p, (size_t)((eq != NULL ? eq : amp) - p));
        kv[n].value = eq != NULL ? form_decode(r->arena, eq + 1, (size_t)(amp - eq - 1)) : "";
        n++;
    }
    st->query = kv;
    st->nquery = n;
}

const char *
req_query(struct req *r, const char *name)
{
    size_t i;

    if (!r->st->query_done)
        query_parse(r);
    for (i = 0; i < r->st->nquery; i++)
        if (strcmp(r->st->query[i].name, name) == 0)
            return r->st->query[i].value;
    return NULL;
}

size_t
req_query_all(struct req *r, const struct req_kv **out)
{
    if (!r->st->query_done)
        query_parse(r);
    *out = r->st->query;
    return r->st->nquery;
}

int
req_query_i64(struct req *r, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    const char *v = req_query(r, name);

    if (v == NULL) {
        *out = def;
        return ERR_OK;
    }
    if (str_z_to_i64(v, min, max, out) != ERR_OK)
        return req_fail(r, ERR_INVALID, "%s must be an integer between %lld and %lld", name,
                        (long long)min, (long long)max);
    return ERR_OK;
}

int
req_paging(struct req *r, int64_t max_page, int64_t *page, int64_t *limit)
{
    int rc;

    rc = req_query_i64(r, "page", 1, 1, max_page, page);
    return rc ? rc : req_query_i64(r, "limit", 20, 1, LIMIT_PAGE_SIZE, limit);
}

json_t *
req_page_body(json_t *items, int64_t page, int64_t limit, int64_t total)
{
    return json_pack("{s:o,s:I,s:I,s:I}", "items", items, "page", (json_int_t)page, "limit",
                     (json_int_t)limit, "total", (json_int_t)total);
}

const char *
req_header(struct req *r, const char *name)
{
    int i;

    for (i = 0; i < r->st->nhdrs; i++)
        if (strcasecmp(r->st->hdrs[i].name, name) == 0)
            return r->st->hdrs[i].value;
    return NULL;
}

static const char *
trace_of(struct req *r)
{
    const char *tp = req_header(r, "traceparent");
    char        id[TRACE_ID_LEN + 1];

    if (tp == NULL || !trace_id(tp, strlen(tp), id))
        return r->request_id;
    return arena_strdup(r->arena, id);
}

const char *
req_trace_id(struct req *r)
{
    if (r->work.trace_id == NULL)
        r->work.trace_id = trace_of(r);
    return r->work.trace_id;
}

void
req_body(struct req *r, const char **p, size_t *len)
{
    *p = buf_data(&r->st->body);
    *len = buf_len(&r->st->body);
}

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* application/json, optionally with charset=utf-8 (quoted or not). */
static int
media_is_json(const char *ct)
{
    const char *p = skip_ws(ct);
    int         quoted;

    if (strncasecmp(p, "application/json", 16) != 0)
        return 0;
    p = skip_ws(p + 16);
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return 0;
    p = skip_ws(p + 1);
    if (strncasecmp(p, "charset=", 8) != 0)
        return 0;
    p += 8;
    quoted = *p == '"';
    p += quoted;
    if (strncasecmp(p, "utf-8", 5) != 0)
        return 0;
    p += 5;
    if (quoted && *p++ != '"')
        return 0;
    return *skip_ws(p) == '\0';
}

static void
decref(void *p)
{
    json_decref(p);
}

int
req_json(struct req *r, json_t **out)
{
    const char  *ct = req_header(r, "Content-Type"), *p;
    char         text[JSON_ERROR_MAX + 1];
    size_t       n, i;
    json_error_t e;
    json_t      *j;

    *out = NULL;
    if (ct == NULL || !media_is_json(ct))
        return req_fail(r, ERR_MEDIA_TYPE, "content-type must be application/json");
    req_body(r, &p, &n);
    if (n == 0)
        return req_fail(r, ERR_BAD_JSON, "empty body");
    j = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (j == NULL) {
        for (i = 0; e.text[i] != '\0' && i < JSON_ERROR_MAX; i++)
            text[i] = (char)(e.text[i] >= 'A' && e.text[i] <= 'Z' ? e.text[i] + 32 : e.text[i]);
        text[i] = '\0';
        return req_fail(r, ERR_BAD_JSON, "invalid json at line %d column %d: %s", e.line, e.column,
                        text);
    }
    arena_defer(r->arena, decref, j);
    if (!json_is_object(j))
        return req_fail(r, ERR_INVALID, "body must be a json object");
    *out = j;
    return ERR_OK;
}

int
req_decode(struct req *r, json_t *obj, const struct decode_field *fields, void *out,
           uint32_t *present)
{
    char detail[256];
    int  rc;

    detail[0] = '\0';
    rc = decode_object(obj, fields, out, present, r->arena, detail, sizeof(detail));
    if (rc)
        return req_fail(r, ERR_INVALID, "%s", detail[0] ? detail : "invalid body");
    return ERR_OK;
}

/* ---- answers -------------------------------------------------------------------- */

int
req_fail(struct req *r, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    r->st->detail = arena_vprintf(r->arena, fmt, ap);
    va_end(ap);
    r->st->err = err;
    return err;
}

int
req_reply_bytes(struct req *r, int status, const char *content_type, const char *p, size_t n)
{
    struct req_state *st = r->st;

    if (n > LIMIT_RESPONSE_BYTES)
        return req_fail(r, ERR_INTERNAL, "reply of %zu bytes exceeds the limit", n);
    st->replied = 1;
    st->status = status;
    st->ctype = content_type != NULL ? arena_strdup(r->arena, content_type) : NULL;
    st->out = p;
    st->out_len = n;
    return ERR_OK;
}

int
req_reply(struct req *r, int status, json_t *body)
{
    char *s;

    if (body == NULL)
        return req_reply_bytes(r, status, NULL, NULL, 0);
    /* Two decimals of an average rating print as 4.33, not 4.3300000000000001. */
    s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (s == NULL)
        return req_fail(r, ERR_INTERNAL, "cannot serialise the reply");
    arena_defer(r->arena, free, s);
    return req_reply_bytes(r, status, "application/json", s, strlen(s));
}

/* A copy with CR and LF replaced, so no value can split the header block. */
static char *
header_text(struct arena *a, const char *z)
{
    char *s = arena_strdup(a, z), *p;

    for (p = s; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    return s;
}

void
req_set_header(struct req *r, const char *name, const char *value)
{
    struct req_state *st = r->st;
    struct resp_hdr  *h = arena_new(r->arena, struct resp_hdr);

    h->name = header_text(r->arena, name);
    h->value = header_text(r->arena, value);
    if (st->out_tail != NULL)
        st->out_tail->next = h;
    else
        st->out_hdrs = h;
    st->out_tail = h;
}

static const struct resp_hdr *
out_header(const struct req_state *st, const char *name)
{
    const struct resp_hdr *h;

    for (h = st->out_hdrs; h != NULL; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return h;
    return NULL;
}

/* The problem+json body of failure rc (RFC 9457), keys in a fixed order. */
static void
problem(struct req *r, int rc)
{
    struct req_state *st = r->st;
    struct buf       *b;
    const char       *detail = st->err == rc ? st->detail : NULL, *instance;
    int               status = err_status(rc);
    char             *title;

    if (status >= 500) {
        /* The full story goes to the log; a 500 never shows it to the client.
         * A 503 is a dependency that is down (already logged where it was
         * noticed, and a /ready probe during start-up): a warning. */
        if (status == 500)
            rlog_error(r, "%s: %s", err_name(rc), detail != NULL ? detail : "(no detail)");
        else
            rlog_warn(r, "%s: %s", err_name(rc), detail != NULL ? detail : "(no detail)");
        if (status == 500)
            detail = "internal error";
    }
    if (detail == NULL) {
        title = arena_strdup(r->arena, err_title(rc));
        for (detail = title; *title != '\0'; title++)
            *title = (char)(*title >= 'A' && *title <= 'Z' ? *title + 32 : *title);
    }
    b = buf_new(r->arena, LIMIT_RESPONSE_BYTES);
    instance = r->path[0] != '\0' ? uri_path(r->arena, r->path) : NULL;
    problem_render(b, rc, detail, instance, instance != NULL ? strlen(instance) : 0, r->request_id,
                   NULL);
    (void)req_reply_bytes(r, status, "application/problem+json", buf_data(b), buf_len(b));
}

void
req_finish(struct req *r, int rc)
{
    struct req_state *st = r->st;

    if (rc == ERR_OK && !st->replied) {
        rc = req_fail(r, ERR_INTERNAL, "handler returned without a reply");
    } else if (rc != ERR_OK && st->replied) {
        rlog_warn(r, "handler replied, then returned %s: the reply stands", err_name(rc));
        rc = ERR_OK;
    }
    if (rc != ERR_OK)
        problem(r, rc);
    if (st->status == 401 && out_header(st, "WWW-Authenticate") == NULL)
        req_set_header(r, "WWW-Authenticate", "Bearer realm=\"souk\"");
    if (st->status < 200 || st->status == 204 || st->status == 304) {
        st->ctype = NULL; /* these statuses never carry a body */
        st->out_len = 0;
    }
}

/* ---- logs -------------------------------------------------------------------------- */

/* "request_id":..,"trace_id":..,"method":..,"path":.. members for log_write. */
static void
put_ctx(struct buf *b, struct req *r)
{
    buf_puts(b, "\"request_id\":");
    put_text(b, r->request_id);
    buf_puts(b, ",\"trace_id\":");
    put_text(b, req_trace_id(r));
    buf_puts(b, ",\"method\":");
    put_text(b, r->method);
    buf_puts(b, ",\"path\":");
    put_text(b, r->path);
}

void
req_log_context(struct buf *b, void *r)
{
    put_ctx(b, r);
}

static void
rlog(struct req *r, enum log_level l, const char *fmt, va_list ap)
{
    struct buf b;

    if (!log_enabled(l))
        return;
    buf_init(&b, CTX_MAX);
    put_ctx(&b, r);
    log_write(l, buf_error(&b) ? NULL : buf_data(&b), fmt, ap);
    buf_free(&b);
}

void
rlog_info(struct req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rlog(r, LOG_INFO, fmt, ap);
    va_end(ap);
}

void
rlog_warn(struct req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rlog(r, LOG_WARN, fmt, ap);
    va_end(ap);
}

void
rlog_error(struct req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rlog(r, LOG_ERROR, fmt, ap);
    va_end(ap);
}

static void
log_with(enum log_level l, const char *extra, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(l, extra, fmt, ap);
    va_end(ap);
}

void
req_log_access(struct req *r, const char *route, size_t bytes, uint64_t us)
{
    /* Probes come every few seconds from every checker: at info they would
     * bury the lines a person reads. */
    enum log_level l = r->route != NULL && (r->route->flags & ROUTE_QUIET) ? LOG_DEBUG : LOG_INFO;
    struct buf     b;

    if (!log_enabled(l))
        return;
    buf_init(&b, CTX_MAX);
    put_ctx(&b, r);
    buf_puts(&b, ",\"route\":");
    put_text(&b, route);
    buf_printf(&b, ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%llu.%03llu", r->st->status, bytes,
               (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
    log_with(l, buf_error(&b) ? NULL : buf_data(&b), "access");
    buf_free(&b);
}
