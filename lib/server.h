/*
 * server.h - the HTTP/1.1 server every souk process runs: libuv loops (one per
 * core, SO_REUSEPORT listeners) parse with http-parser and hand complete
 * requests to a worker pool, whose threads may block on a database through
 * per-worker state. Routing, auth per route, limits, problem+json rendering,
 * access logs, /health, /ready, /metrics and SIGTERM drain live here so
 * handlers only "parse or bail, act, reply".
 */
#ifndef SOUK_SERVER_H
#define SOUK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct req;

typedef int handler_fn(struct req *r);

/* A loop handler (route.loop) runs on the I/O loop thread, after auth, and
 * must never block: it answers from memory or from a non-blocking call on
 * the loop (a cache-aside GET, kv_async_get), or passes the request on to
 * the route's handler on a worker. It returns SERVER_LOOP_PASS (run fn on a
 * worker now) or SERVER_LOOP_PENDING: it started a call whose completion, on
 * this loop, calls exactly one of server_loop_answer or server_loop_pass. */
enum server_loop { SERVER_LOOP_PASS, SERVER_LOOP_PENDING };
typedef int loop_handler_fn(struct req *r);

struct uv_loop_s;

enum route_flag {
    ROUTE_USER = 1 << 0,     /* a valid bearer token is required (else 401) */
    ROUTE_ADMIN = 1 << 1,    /* a valid token with role admin (401 / 403) */
    ROUTE_AUTH_OPT = 1 << 2, /* a token is read when present; a bad one is 401 */
    ROUTE_QUIET = 1 << 3,    /* a probe (/health, /ready, /metrics): its access line is debug,
                                not info; it still counts in /metrics */
};

struct route {
    const char *method; /* "GET", "POST", ...; NULL ends the table */
    const char *path;   /* template: "/api/v1/products/{id}/reviews" */
    handler_fn *fn;
    unsigned    flags;    /* enum route_flag */
    size_t      max_body; /* 0 = LIMIT_BODY_DEFAULT */
};

/* The loop half of every route whose handler is fn: its requests go to loop
 * first (see loop_handler_fn), and fn serves what loop passes on. A table
 * beside the routes, so route tables keep their shape. */
struct server_loop_route {
    handler_fn      *fn; /* NULL ends the table */
    loop_handler_fn *loop;
};

/* A readiness check run on a worker for GET /ready: ERR_OK when the
 * dependency answers. */
struct server_check {
    const char *name; /* NULL ends the table */
    handler_fn *fn;
};

struct server_spec {
    const char                *name;   /* service name for logs and metrics */
    const char                *listen; /* "127.0.0.1:7000" */
    const struct route        *routes;
    const struct server_check *checks; /* may be NULL */
    const char                *jwt_secret;
    int                        loops;   /* I/O threads; 0 = number of cores */
    int                        workers; /* handler threads; 0 = 4 per core */
    /* Per-worker state (e.g. a database connection opened lazily); the
     * handler sees it as r->worker. Both may be NULL. */
    void *(*worker_init)(int index, void *arg);
    void (*worker_fini)(void *state);
    void *worker_arg;
    /* Per-loop state for loop handlers (r->loop), made on the main thread
     * before the loop runs (no handles started yet: the loop thread opens
     * them on first use), freed on the loop's thread when it ends (or on the
     * main thread when it never ran). Both may be NULL; a loop whose state
     * is NULL sends every request to a worker (loop handlers off). */
    const struct server_loop_route *loop_routes; /* may be NULL; each fn must be a route's */
    void *(*loop_init)(int index, struct uv_loop_s *loop, void *arg);
    void (*loop_fini)(void *state);
    void *loop_arg;
    /* 0 = the defaults of bounds.h (tests shorten them). */
    int64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, drain_timeout_ms;
};

/* Listen, serve until SIGTERM/SIGINT, drain in-flight requests, return.
 * ERR_OK after a clean drain; ERR_UNAVAILABLE if the address cannot be bound. */
MUST_CHECK int server_run(const struct server_spec *spec);

/* A loop handler's completion (on the loop's thread), for a request it
 * returned SERVER_LOOP_PENDING for: answer with rc as a handler returns it
 * (after req_reply or req_fail), counted in souk_cache_loop_hits_total; or
 * pass it on to the route's handler on a worker, with r->passed set (the
 * handler may skip the look the loop already took), counted in
 * souk_cache_loop_passes_total. Access log and route metrics are the same
 * either way. */
void server_loop_answer(struct req *r, int rc);
void server_loop_pass(struct req *r);

/* Match method+path against routes (used by the server and unit tests).
 * path is the raw target path without the query; each segment is compared
 * percent-decoded, so a literal never matches across an encoded '/'.
 * Returns ERR_OK and the route, ERR_NOT_FOUND, ERR_INVALID for a bad escape
 * or %00 in path, or ERR_METHOD with allow (a buffer of allow_len bytes)
 * filled as "GET, HEAD, POST" (HEAD is listed with GET, which serves it).
 * Up to max_params "{name}" segments are captured as (name, value) views
 * into path, still percent-encoded (req_param decodes). */
struct route_param {
    const char *name;
    size_t      name_len;
    const char *value;
    size_t      value_len;
};
MUST_CHECK int server_route_match(const struct route *routes, const char *method, const char *path,
                                  size_t path_len, const struct route **out,
                                  struct route_param *params, int max_params, int *nparams,
                                  char *allow, size_t allow_len);

#endif
