/*
 * resp.c - the head of an answer: status line, Date, Content-Type and
 * Content-Length, X-Request-Id, headers set by the handler, and Connection.
 * Rendered on the loop thread at write time, when it is known whether the
 * connection stays open. Bodies (problem+json included) are req.c's.
 */
#include <time.h>

#include "conn.h"
#include "resp.h"

#define HEAD_MAX 65536 /* status line and headers of one answer */

static const struct {
    int         status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *
resp_reason(int status)
{
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* Cached per thread for a second: no lock, and no strftime per answer. */
const char *
resp_date(void)
{
    static _Thread_local char   text[40];
    static _Thread_local time_t when;
    time_t                      now = time(NULL);
    struct tm                   tm;

    if (now != when || text[0] == '\0') {
        gmtime_r(&now, &tm);
        strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        when = now;
    }
    return text;
}

static void
put_head(struct buf *b, const struct req_state *st, int close, int extra)
{
    const struct resp_hdr *h;

    buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", st->status, resp_reason(st->status),
               resp_date());
    if (st->status >= 200 && st->status != 204 && st->status != 304) {
        if (st->ctype != NULL)
            buf_printf(b, "Content-Type: %s\r\n", st->ctype);
        buf_printf(b, "Content-Length: %zu\r\n", st->out_len);
    }
    buf_printf(b, "X-Request-Id: %s\r\n", st->req.request_id);
    for (h = st->out_hdrs; extra && h != NULL; h = h->next)
        buf_printf(b, "%s: %s\r\n", h->name, h->value);
    if (close)
        buf_puts(b, "Connection: close\r\n");
    else if (st->http10)
        buf_puts(b, "Connection: keep-alive\r\n");
    buf_puts(b, "\r\n");
}

void
resp_render_head(struct req *r, int close)
{
    struct req_state *st = r->st;

    buf_init_in(&st->head, r->arena, HEAD_MAX);
    put_head(&st->head, st, close, 1);
    if (buf_error(&st->head)) {
        rlog_error(r, "response headers exceed %d bytes: sent without the extra ones", HEAD_MAX);
        buf_reset(&st->head);
        put_head(&st->head, st, close, 0);
    }
}
