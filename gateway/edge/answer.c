/*
 * answer.c - answers the gateway makes itself: problem+json bodies (rendered
 * by lib/problem.c, as the services' are, with the gateway's own headers
 * such as Retry-After), local replies (admin API, /health, /ready,
 * /metrics) and their heads. Proxied answers are respond.c's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "log.h"
#include "problem.h"
#include "resp.h"

#define DISCARD_MAX 65536 /* a refused request's body is read (not closed) up to this */
#define PROBLEM_MAX (LIMIT_REQUEST_LINE + 4096)

/* 1 when the request's body is still unread and too big (or unbounded) to
 * read and drop: the connection must close after the answer. */
static int
body_unread(const struct client *c)
{
    if (c->req_done || !(c->ri.chunked || c->left > 0))
        return 0;
    return c->ri.chunked || c->left > DISCARD_MAX || c->x != NULL;
}

enum cphase
client_answered_phase(struct client *c)
{
    return !c->close_after && (c->ri.chunked || c->left > 0) ? CP_BODY : CP_WAIT;
}

void
client_answer(struct client *c, int status, const char *ctype, const char *body, size_t n,
              const char *extra)
{
    client_answer_pinned(c, status, ctype, body, n, extra, NULL, NULL, NULL);
}

void
client_answer_pinned(struct client *c, int status, const char *ctype, const char *body, size_t n,
                     const char *extra, void *pin, void (*hold)(void *), void (*drop)(void *))
{
    struct buf *h = &c->ohead;
    int         close;

    /* Before the end of a head the stream is lost: nothing more is read. */
    close = c->close_after || c->loop->draining || c->eof || !c->head_done || !c->hph.keep_alive ||
            body_unread(c);
    buf_reset(h);
    buf_printf(h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, resp_reason(status), resp_date());
    if (ctype != NULL)
        buf_printf(h, "Content-Type: %s\r\n", ctype);
    if (status != 304) /* a 304's length would be the representation's (RFC 9110 §8.6) */
        buf_printf(h, "Content-Length: %zu\r\n", n);
    if (c->rid != NULL)
        buf_printf(h, "X-Request-Id: %s\r\n", c->rid);
    if (extra != NULL)
        buf_puts(h, extra);
    if (close)
        buf_puts(h, "Connection: close\r\n");
    else if (c->hph.http_minor == 0)
        buf_puts(h, "Connection: keep-alive\r\n");
    buf_puts(h, "\r\n");
    sink_add(&c->out, buf_data(h), buf_len(h));
    if ((!c->head_done || strcmp(c->hph.method, "HEAD") != 0) && pin != NULL)
        sink_add_pinned(&c->out, body, n, pin, hold, drop);
    else if (!c->head_done || strcmp(c->hph.method, "HEAD") != 0)
        sink_add(&c->out, body, n);
    c->bytes += buf_len(h) + n;
    c->status = status;
    c->answered = 1;
    if (close)
        c->close_after = 1;
    if (sink_flush(&c->out) != 0)
        client_close(c);
}

/* An upstream failing under load would otherwise log a line per request:
 * one line per second per loop, with the number of the others. */
static void
log_problem(int err, const char *detail, const char *rid)
{
    static _Thread_local uint64_t           second;
    static _Thread_local unsigned long long more;
    uint64_t                                now = uv_hrtime() / 1000000000u;

    if (now == second) {
        more++;
        return;
    }
    log_warn("%s: %s (request_id %s; %llu more in the second before)", err_name(err), detail,
             rid != NULL ? rid : "-", more);
    second = now;
    more = 0;
}

/* The request path (target without query) for "instance"; NULL before a head. */
static const char *
instance_of(const struct client *c, size_t *len)
{
    struct str t = hhead_target(&c->head);
    size_t     n = strcspn(t.p, "?");

    if (!c->head_done || t.len == 0 || t.p[0] != '/')
        return NULL;
    *len = n < t.len ? n : t.len;
    return t.p;
}

void
client_problem(struct client *c, int err, const char *detail)
{
    client_problem_ext(c, err, detail, NULL);
}

void
client_problem_ext(struct client *c, int err, const char *detail, const char *members)
{
    client_problem_hdr(c, err, detail, members, NULL);
}

void
client_problem_hdr(struct client *c, int err, const char *detail, const char *members,
                   const char *hdr)
{
    struct buf  b;
    char        extra[160];
    int         status = err_status(err);
    size_t      ilen = 0;
    const char *instance = instance_of(c, &ilen);

    buf_init(&b, PROBLEM_MAX);
    problem_render(&b, err, detail, instance, ilen, c->rid, members);
    extra[0] = '\0';
    if (err == ERR_UNAUTHORIZED)
        snprintf(extra, sizeof(extra), "WWW-Authenticate: Bearer realm=\"souk\"\r\n");
    else if (err == ERR_TOO_MANY || (err == ERR_UNAVAILABLE && c->retry_after > 0))
        snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
                 c->retry_after > 0 ? c->retry_after : 1);
    else if (hdr != NULL)
        snprintf(extra, sizeof(extra), "%s", hdr);
    if (status >= 500)
        log_problem(err, detail, c->rid);
    client_answer(c, status, "application/problem+json", buf_data(&b), buf_len(&b), extra);
    buf_free(&b);
}

/* A protocol error: answer, then close (the stream can no longer be trusted). */
int
client_fail(struct client *c, int err, const char *why)
{
    if (c->closing)
        return -1;
    c->close_after = 1;
    if (c->rid == NULL)
        c->rid = ids_request_id(c, c->a);
    client_problem(c, err, why);
    if (!c->closing)
        client_exchange_end(c);
    return -1;
}

void
client_set_ip(struct client *c, const struct sockaddr_storage *ss)
{
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

    if (inet_ntop(ss->ss_family, a, c->ip, sizeof(c->ip)) == NULL)
        c->ip[0] = '\0';
}

int
client_loopback(const struct sockaddr_storage *ss)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    const uint8_t             *b = s6->sin6_addr.s6_addr;
    static const uint8_t       v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family != AF_INET6)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
        return 1;
    return memcmp(b, v4map, 12) == 0 && b[12] == 127;
}

/* GET /health and /ready are the gateway's own on the data listener. */
int
local_endpoint(struct client *c)
{
    /* The shape every process's /ready has (contracts/api-v1.yaml Ready). */
    static const char ok[] = "{\"status\":\"ok\"}",
                      ready[] = "{\"status\":\"ready\",\"checks\":{\"routes_file\":\"ok\"}}",
                      degraded[] = "{\"status\":\"degraded\",\"checks\":{\"routes_file\":\"not "
                                   "written: the route table in memory is newer (GET /events)\"}}";
    struct str       t = hhead_target(&c->head);
    size_t           n = strcspn(t.p, "?");
    struct gw_table *tab;

    n = n < t.len ? n : t.len;
    if (strcmp(c->hph.method, "GET") != 0 && strcmp(c->hph.method, "HEAD") != 0)
        return 0;
    c->route_name = "gateway";
    c->quiet = 1;
    if (n == 7 && memcmp(t.p, "/health", 7) == 0) {
        client_answer(c, 200, "application/json", ok, sizeof(ok) - 1, NULL);
    } else if (n == 6 && memcmp(t.p, "/ready", 6) == 0) {
        /* Still ready with an unwritten routes file: it routes right, and
         * a restart (what a failing probe invites) would lose the table. */
        tab = routes_acquire();
        if (tab == NULL)
            client_problem(c, ERR_UNAVAILABLE, "no route table");
        else if (!routes_persisted())
            client_answer(c, 200, "application/json", degraded, sizeof(degraded) - 1, NULL);
        else
            client_answer(c, 200, "application/json", ready, sizeof(ready) - 1, NULL);
        routes_unref(tab);
    } else if (n == 8 && memcmp(t.p, "/metrics", 8) == 0) {
        /* Route names, upstream addresses and rates (MiBs rendered on a
         * data loop) are the admin listener's; answered here so that no
         * upstream's own /metrics is proxied either. */
        client_problem(c, ERR_NOT_FOUND, "metrics are served on the admin listener");
    } else {
        c->route_name = NULL;
        c->quiet = 0;
        return 0;
    }
    return 1;
}
