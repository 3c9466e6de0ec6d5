/*
 * req.h - the handler-facing API. A handler reads its inputs through these
 * calls, allocates only from r->arena, and either returns req_reply(...) or
 * returns req_fail(r, ERR_*, "detail"). The server renders every failure as
 * application/problem+json in one place (req.c).
 */
#ifndef SOUK_REQ_H
#define SOUK_REQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "decode.h"
#include "err.h"
#include "work.h"

struct arena;
struct buf;
struct route;
struct req_state; /* private to the server */

struct req {
    struct arena      *arena;      /* request lifetime; destroyed after the reply is written */
    const char        *method;     /* "GET" */
    const char        *path;       /* decoded path without the query string */
    const char        *request_id; /* X-Request-Id, honoured or generated */
    struct auth_claims user;       /* role AUTH_NONE when anonymous */
    void              *worker;     /* the running worker's state (server_spec.worker_init) */
    void *loop;   /* in a loop handler: the loop's state (server_spec.loop_init); else NULL */
    int   passed; /* 1: the route's loop handler passed this request on (server_loop_pass) */
    const struct route *route;
    /* The work context (work.h): arena and trace_id are set by the server
     * before the handler runs; db and ext are the process's to fill (a
     * service's handlers get it through service_work). */
    struct work       work;
    struct req_state *st; /* private */
};

struct req_kv {
    const char *name;  /* percent-decoded */
    const char *value; /* percent-decoded, "" when absent */
};

/* Path parameter {name}, NUL-terminated in the arena; NULL if the route has none. */
const char *req_param(struct req *r, const char *name);
/* Path parameter as an id in [1, INT64_MAX]; anything else is ERR_NOT_FOUND
 * with detail "<what> not found". */
MUST_CHECK int req_param_id(struct req *r, const char *name, const char *what, int64_t *out);

/* First query parameter called name, percent-decoded; NULL if absent. */
const char *req_query(struct req *r, const char *name);
/* Every query parameter in order; returns the count. */
size_t req_query_all(struct req *r, const struct req_kv **out);
/* Query parameter as an integer in [min, max], def when absent;
 * ERR_INVALID "name must be an integer between min and max" otherwise. */
MUST_CHECK int req_query_i64(struct req *r, const char *name, int64_t def, int64_t min, int64_t max,
                             int64_t *out);
/* The v1 list paging (contracts/api-v1.yaml): ?page= from 1 to max_page
 * (default 1) and ?limit= from 1 to LIMIT_PAGE_SIZE (default 20), each
 * checked as req_query_i64 does. */
MUST_CHECK int req_paging(struct req *r, int64_t max_page, int64_t *page, int64_t *limit);
/* The v1 list body {"items","page","limit","total"}; takes items' reference. */
json_t *req_page_body(json_t *items, int64_t page, int64_t limit, int64_t total);

/* Request header (case-insensitive name); NULL if absent. */
const char *req_header(struct req *r, const char *name);
/* What an event caused by r carries as trace_id, and what r's log lines show
 * as trace_id: the trace id of a W3C traceparent when r has a valid one
 * (trace.h, the gateway's rules too), else r's request id, so the event
 * leads back to the request. Computed once (r->work.trace_id). */
const char *req_trace_id(struct req *r);
/* The raw body (may be empty). */
void req_body(struct req *r, const char **p, size_t *len);

/* Parse the body as one JSON object: Content-Type must be application/json
 * (ERR_MEDIA_TYPE), the text must parse with duplicate keys rejected
 * (ERR_BAD_JSON with line/column), and the root must be an object
 * (ERR_INVALID). The object is released with the arena. */
MUST_CHECK int req_json(struct req *r, json_t **out);
/* decode_object on obj; a failure becomes req_fail(ERR_INVALID, detail). */
MUST_CHECK int req_decode(struct req *r, json_t *obj, const struct decode_field *fields, void *out,
                          uint32_t *present);

/* Record a failure with a short lower-case detail and return err, so a
 * handler writes `return req_fail(r, ERR_INVALID, "...")`. */
int req_fail(struct req *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reply with status and body serialised compactly; steals the reference to
 * body (NULL = no body). Returns ERR_OK. */
int req_reply(struct req *r, int status, json_t *body);
/* Reply with bytes that live at least as long as the arena. */
int req_reply_bytes(struct req *r, int status, const char *content_type, const char *p, size_t n);
/* Add a response header (copied into the arena). */
void req_set_header(struct req *r, const char *name, const char *value);

/* Log lines with request_id, method and path attached. */
void rlog_info(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rlog_warn(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rlog_error(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Server side: called by the server (dispatch.c, conn.c) only, never by handlers. */
/* Settle the answer after the handler returned rc: a failure, or ERR_OK
 * without a reply (a programmer error, logged), becomes problem+json. */
void req_finish(struct req *r, int rc);
/* The log context of r (log_context): request_id, trace_id, method, path. */
void req_log_context(struct buf *b, void *r);
/* Write the one access line of the request: route label, bytes sent, and
 * duration in microseconds; at debug level for a ROUTE_QUIET route. */
void req_log_access(struct req *r, const char *route, size_t bytes, uint64_t us);

#endif
