/*
 * request.c - the parser's events for one client request: collect the
 * target and header lines (client.c has already linted the raw bytes and
 * feeds the parser one message at a time), check what a proxy must refuse
 * once the head is complete, and hand the request to the gateway's own
 * endpoints, the admin API or the proxy; trailers are dropped.
 */
#include "arena.h"
#include "gw.h"

static int
ev_begin(void *ctx)
{
    (void)ctx;
    return 0;
}

static int
ev_url(void *ctx, const char *p, size_t n)
{
    return hhead_url(&((struct client *)ctx)->head, p, n);
}

static int
ev_field(void *ctx, const char *p, size_t n)
{
    struct client *c = ctx;

    /* After the head these are trailer lines: checked by chunkv, dropped. */
    return c->phase == CP_HEAD ? hhead_field(&c->head, p, n) : 0;
}

static int
ev_value(void *ctx, const char *p, size_t n)
{
    struct client *c = ctx;

    return c->phase == CP_HEAD ? hhead_value(&c->head, p, n) : 0;
}

static int
ev_head(void *ctx, const struct hp_head *h)
{
    struct client *c = ctx;
    const char    *why;

    c->hph = *h;
    c->head_done = 1;
    why = headers_check_request(&c->head, h, &c->ri);
    if (why != NULL)
        return client_fail(c, ERR_INVALID, why);
    c->left = c->ri.has_length ? c->ri.length : 0;
    c->rid = ids_request_id(c, c->a);
    if (c->loop->kind == GW_ADMIN)
        client_phase(c, admin_begin(c));
    else if (!local_endpoint(c))
        client_phase(c, proxy_begin(c));
    /* Refused with a body that will not be read: the connection ends. */
    if (c->answered && c->close_after && (c->ri.chunked || c->left > 0))
        client_exchange_end(c);
    return c->closing ? -1 : 0;
}

static int
ev_body(void *ctx, const char *p, size_t n)
{
    struct client *c = ctx;

    if (c->x != NULL)
        return proxy_body(c->x, p, n);
    if (c->answered)
        return 0; /* refused already: the body is only read to keep the connection */
    return admin_body(c, p, n);
}

static int
ev_done(void *ctx)
{
    struct client *c = ctx;

    hp_pause(c->hp); /* one message at a time: the next waits for this answer */
    c->req_done = 1;
    if (c->x != NULL) {
        proxy_request_done(c->x);
    } else if (c->answered) {
        client_exchange_end(c);
    } else {
        client_phase(c, CP_WAIT);
        admin_run(c);
    }
    return 0;
}

const struct hp_events client_request_events = {
    ev_begin, ev_url, ev_field, ev_value, ev_head, ev_body, ev_done,
};
