/*
 * http_parse.c - http-parser 2.9 behind struct hp (see http_parse.h).
 * Nothing else in the tree includes <http_parser.h>.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include <http_parser.h>

#include "http_parse.h"

struct hp {
    http_parser             parser; /* first: callbacks cast back from it */
    http_parser_settings    settings;
    const struct hp_events *ev;
    void                   *ctx;
    char                    error[64];
};

static struct hp *
hp_of(http_parser *parser)
{
    return (struct hp *)parser;
}

static int
on_begin(http_parser *parser)
{
    struct hp *p = hp_of(parser);

    return p->ev->begin(p->ctx) ? -1 : 0;
}

static int
on_url(http_parser *parser, const char *at, size_t n)
{
    struct hp *p = hp_of(parser);

    return p->ev->url(p->ctx, at, n) ? -1 : 0;
}

static int
on_field(http_parser *parser, const char *at, size_t n)
{
    struct hp *p = hp_of(parser);

    return p->ev->field(p->ctx, at, n) ? -1 : 0;
}

static int
on_value(http_parser *parser, const char *at, size_t n)
{
    struct hp *p = hp_of(parser);

    return p->ev->value(p->ctx, at, n) ? -1 : 0;
}

static int
on_head(http_parser *parser)
{
    struct hp     *p = hp_of(parser);
    struct hp_head h;
    int            rc;

    h.method =
        parser->type == HTTP_REQUEST ? http_method_str((enum http_method)parser->method) : "";
    h.http_minor = parser->http_minor;
    /* An upgrade (or CONNECT) is not served: answer it as a plain request
     * and close, so the bytes after it are never read as HTTP. */
    h.keep_alive = http_should_keep_alive(parser) && !parser->upgrade;
    h.chunked = (parser->flags & F_CHUNKED) != 0;
    h.has_length = (parser->flags & F_CONTENTLENGTH) != 0;
    h.content_length = h.has_length ? parser->content_length : 0;
    if (parser->http_major != 1) {
        snprintf(p->error, sizeof(p->error), "unsupported http version");
        return -1;
    }
    rc = p->ev->head(p->ctx, &h);
    /* http-parser's own "skip the body" answer; a request always has one. */
    if (rc == 1 && parser->type == HTTP_RESPONSE)
        return 1;
    return rc ? -1 : 0;
}

static int
on_body(http_parser *parser, const char *at, size_t n)
{
    struct hp *p = hp_of(parser);

    return p->ev->body(p->ctx, at, n) ? -1 : 0;
}

static int
on_done(http_parser *parser)
{
    struct hp *p = hp_of(parser);

    return p->ev->done(p->ctx) ? -1 : 0;
}

static struct hp *
parser_new(const struct hp_events *ev, void *ctx, enum http_parser_type type)
{
    struct hp *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    http_parser_init(&p->parser, type);
    http_parser_settings_init(&p->settings);
    p->settings.on_message_begin = on_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_field;
    p->settings.on_header_value = on_value;
    p->settings.on_headers_complete = on_head;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_done;
    p->ev = ev;
    p->ctx = ctx;
    return p;
}

struct hp *
hp_new(const struct hp_events *ev, void *ctx)
{
    return parser_new(ev, ctx, HTTP_REQUEST);
}

struct hp *
hp_new_response(const struct hp_events *ev, void *ctx)
{
    return parser_new(ev, ctx, HTTP_RESPONSE);
}

void
hp_free(struct hp *p)
{
    free(p);
}

/* http-parser's descriptions, lower-cased: "invalid character in header". */
static void
set_error(struct hp *p, enum http_errno e)
{
    const char *z = http_errno_description(e);
    size_t      i;

    if (p->error[0] != '\0')
        return; /* on_head already said why */
    for (i = 0; z[i] != '\0' && i + 1 < sizeof(p->error); i++)
        p->error[i] = (char)tolower((unsigned char)z[i]);
    p->error[i] = '\0';
}

enum hp_status
hp_feed(struct hp *p, const char *data, size_t n, size_t *used)
{
    enum http_errno e;

    *used = http_parser_execute(&p->parser, &p->settings, data, n);
    e = HTTP_PARSER_ERRNO(&p->parser);
    if (e == HPE_OK)
        return *used == n ? HP_OK : HP_PAUSED; /* short only after an upgrade */
    if (e == HPE_PAUSED)
        return HP_PAUSED;
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete && p->error[0] == '\0')
        return HP_ABORTED;
    set_error(p, e);
    return HP_ERROR;
}

void
hp_pause(struct hp *p)
{
    http_parser_pause(&p->parser, 1);
}

void
hp_resume(struct hp *p)
{
    http_parser_pause(&p->parser, 0);
}

const char *
hp_method(const struct hp *p)
{
    return http_method_str((enum http_method)p->parser.method);
}

const char *
hp_error(const struct hp *p)
{
    return p->error[0] != '\0' ? p->error : "malformed request";
}

int
hp_status_code(const struct hp *p)
{
    return (int)p->parser.status_code;
}

enum hp_status
hp_finish(struct hp *p)
{
    enum http_errno e;

    /* A zero-length execute is http-parser's end-of-stream signal. */
    (void)http_parser_execute(&p->parser, &p->settings, NULL, 0);
    e = HTTP_PARSER_ERRNO(&p->parser);
    if (e == HPE_OK || e == HPE_PAUSED)
        return HP_OK;
    set_error(p, e);
    return HP_ERROR;
}
