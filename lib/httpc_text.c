/*
 * httpc_text.c - the text side of httpc: the URL a caller names and the
 * request head sent for it, with only the forwarded headers whose values are
 * safe to put on a header line. Split from httpc.c (the sockets and the
 * exchange); httpc_int.h is what the two share.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "err.h"
#include "httpc.h"
#include "httpc_int.h"

#define HTTPC_TRACE_MAX 256 /* longest forwarded X-Request-Id / traceparent */

/* ---- url ------------------------------------------------------------------------------ */

/* "http://host[:port][/path][?query][#frag]", visible ASCII only (no
 * userinfo, no https). The port defaults to 80. */
int
httpc_target_parse(const char *url, struct target *t)
{
    const char *p, *end;
    size_t      n, i;
    int         has_port, w;

    if (url == NULL || strncasecmp(url, "http://", 7) != 0)
        return ERR_INVALID;
    for (i = 0; url[i] != '\0'; i++)
        if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f)
            return ERR_INVALID;
    p = url + 7;
    n = strcspn(p, "/?#");
    if (n == 0 || memchr(p, '@', n) != NULL)
        return ERR_INVALID;
    if (p[0] == '[') {
        end = memchr(p, ']', n);
        if (end == NULL)
            return ERR_INVALID;
        has_port = end + 1 < p + n;
    } else {
        has_port = memchr(p, ':', n) != NULL;
    }
    w = snprintf(t->hostport, sizeof(t->hostport), "%.*s%s", (int)n, p, has_port ? "" : ":80");
    if (w < 0 || (size_t)w >= sizeof(t->hostport))
        return ERR_INVALID;
    t->host = p;
    t->host_len = n;
    t->path = p + n;
    t->path_len = strcspn(t->path, "#");
    return ERR_OK;
}

/* A value safe to put in a header line: 1..max bytes of printable ASCII, and
 * spaces only when spaces is set. */
static int
value_ok(const char *z, size_t max, int spaces)
{
    size_t i;

    if (z == NULL || z[0] == '\0')
        return 0;
    for (i = 0; z[i] != '\0'; i++)
        if (i >= max || (unsigned char)z[i] < ' ' || (unsigned char)z[i] >= 0x7f ||
            (z[i] == ' ' && !spaces))
            return 0;
    return 1;
}

/* A forwarded X-Request-Id / traceparent: 1..HTTPC_TRACE_MAX visible characters. */
static int
header_ok(const char *z)
{
    return value_ok(z, HTTPC_TRACE_MAX, 0);
}

char *
httpc_request_text(struct arena *a, const struct httpc_req *rq, const struct httpc_extra *x,
                   const struct target *t)
{
    const char *authorization = x->authorization;
    const char *slash = t->path_len > 0 && t->path[0] == '/' ? "" : "/";
    int         auth = value_ok(authorization, 4096, 1); /* "Bearer TOKEN" */

    const char *body = x->body != NULL
                           ? arena_printf(a,
                                          "Content-Type: application/json\r\n"
                                          "Content-Length: %zu\r\n\r\n%.*s",
                                          strlen(x->body), (int)strlen(x->body), x->body)
                           : "\r\n";

    return arena_printf(
        a,
        "%s %s%.*s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: souk-httpc\r\n"
        "Accept: application/json\r\n%s%s%s%s%s%s%s%s%s%s",
        x->method != NULL ? x->method : "GET", slash, (int)t->path_len, t->path, (int)t->host_len,
        t->host, header_ok(rq->request_id) ? "X-Request-Id: " : "",
        header_ok(rq->request_id) ? rq->request_id : "", header_ok(rq->request_id) ? "\r\n" : "",
        header_ok(rq->traceparent) ? "traceparent: " : "",
        header_ok(rq->traceparent) ? rq->traceparent : "", header_ok(rq->traceparent) ? "\r\n" : "",
        auth ? "Authorization: " : "", auth ? authorization : "", auth ? "\r\n" : "", body);
}
