/*
 * httpc.h - a small blocking HTTP/1.1 client for service -> service calls
 * from worker threads (the gateway has its own non-blocking client). One
 * struct httpc per thread keeps a few keep-alive connections; every exchange
 * is bounded by one deadline (poll), and responses are parsed by
 * http_parse.h, so the tree has one HTTP parser.
 */
#ifndef SOUK_HTTPC_H
#define SOUK_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;
struct httpc;

#define HTTPC_MAX_BODY_DEFAULT (1 << 20) /* bytes; httpc_new(0) */

struct httpc_header {
    const char *name, *value; /* NUL-terminated, in the arena */
};

/* A response, in the arena of the call. */
struct httpc_resp {
    int                        status;
    const char                *body; /* NUL-terminated (the NUL is not counted in len) */
    size_t                     len;
    const struct httpc_header *headers;
    size_t                     nheaders;
};

/* One GET. request_id and traceparent are passed on as X-Request-Id and
 * traceparent when not NULL (values with control characters are dropped). */
struct httpc_req {
    const char *url;        /* http://host[:port]/path[?query]; no https */
    int         timeout_ms; /* bounds connect, write and read together; > 0 */
    const char *request_id;
    const char *traceparent;
};

/* A client whose responses may carry at most max_body body bytes (0 = the
 * default). Never NULL (aborts on OOM). Not thread-safe: one per thread. */
struct httpc *httpc_new(size_t max_body);
/* Close every connection and free c. NULL is a no-op. */
void httpc_free(struct httpc *c);

/* Send rq and read the whole response into a. An idle kept-alive connection
 * to the same host:port is reused, and retried once on a fresh connection
 * if the server had closed it. Any status is ERR_OK (the caller reads
 * (*out)->status). Errors: ERR_INVALID (a malformed url), ERR_UNAVAILABLE
 * (the host does not resolve, the connection is refused or reset),
 * ERR_TIMEOUT (the deadline passed), ERR_TOO_LARGE (the body exceeds the
 * cap), ERR_UPSTREAM (a malformed or truncated response). */
MUST_CHECK int httpc_request(struct httpc *c, struct arena *a, const struct httpc_req *rq,
                             struct httpc_resp **out);
/* httpc_request with an Authorization header too (a service calling another
 * on behalf of the request's user, e.g. orders reading the user's cart); a
 * value with control bytes or over 4 KiB is not sent. */
MUST_CHECK int httpc_request_auth(struct httpc *c, struct arena *a, const struct httpc_req *rq,
                                  const char *authorization, struct httpc_resp **out);
/* httpc_request without forwarded headers. */
MUST_CHECK int httpc_get(struct httpc *c, struct arena *a, const char *url, int timeout_ms,
                         struct httpc_resp **out);
/* httpc_get with an Authorization header (e.g. "Bearer TOKEN" for the
 * gateway's admin API); a value with control bytes or over 4 KiB is not sent. */
MUST_CHECK int httpc_get_auth(struct httpc *c, struct arena *a, const char *url, int timeout_ms,
                              const char *authorization, struct httpc_resp **out);

/* A write (PATCH, POST, PUT, DELETE) with a JSON body (NULL: none) and an
 * Authorization value (NULL: none): sent once on a new connection, never
 * again (a write that may have arrived is not repeated). Errors as above. */
MUST_CHECK int httpc_send(struct httpc *c, struct arena *a, const char *method, const char *url,
                          int timeout_ms, const char *authorization, const char *json_body,
                          struct httpc_resp **out);

/* The first header called name (case-insensitive), NULL when absent. */
const char *httpc_resp_header(const struct httpc_resp *resp, const char *name);
/* What went wrong in the last failed call ("connect 127.0.0.1:7102: connection
 * refused"), for the caller's log line; "" after a success. */
const char *httpc_error(const struct httpc *c);
/* Connections opened so far (metrics and tests of keep-alive reuse). */
uint64_t httpc_connects(const struct httpc *c);

#endif
