/*
 * ids.c - the request id (X-Request-Id: honoured when it is a sane token,
 * else made here) and W3C trace context (traceparent: continued with a new
 * span id when valid, else a new trace is started), both sent upstream.
 * The rules are lib/trace.c's, the same as the services'.
 */
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "trace.h"

const char *
ids_request_id(struct client *c, struct arena *a)
{
    struct str v;

    if (c->ri.request_id >= 0) {
        v = headers_trim(hhead_val(&c->head, c->ri.request_id));
        if (trace_request_id_ok(v.p, v.len))
            return arena_strndup(a, v.p, v.len);
    }
    return trace_request_id_new(a);
}

const char *
ids_traceparent(struct client *c, struct arena *a, char trace_id[33])
{
    char      *tp = arena_alloc(a, TRACE_PARENT_LEN + 1);
    struct str v = {"", 0};

    if (c->ri.traceparent >= 0)
        v = headers_trim(hhead_val(&c->head, c->ri.traceparent));
    trace_parent_next(v.p, v.len, tp);
    memcpy(trace_id, tp + 3, TRACE_ID_LEN);
    trace_id[TRACE_ID_LEN] = '\0';
    return tp;
}

char *
ids_random(struct arena *a, size_t n)
{
    char *s = arena_alloc(a, n + 1);

    trace_hex(s, n);
    s[n] = '\0';
    return s;
}
