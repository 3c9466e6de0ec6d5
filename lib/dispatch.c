/*
 * dispatch.c - the request path between parsing and writing: route a parsed
 * request (built-ins first), then answer it on the loop (refusals, routing
 * errors, GET /health) or in the worker pool: bearer-token auth per route
 * flags, the handler, req_finish. A route with a loop half
 * (server_loop_route) runs it on the loop after auth; it answers there or
 * passes the request on to the pool. Also counts each written answer in the
 * per-route metrics and the access log.
 */
#include <stddef.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "auth.h"
#include "builtin.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"

/* clang-format off */
static struct metric dispatch_loop_hits = {.name = "souk_cache_loop_hits_total",
    .help = "Requests a loop handler answered on the I/O loop (a cache hit), no worker involved.",
    .kind = METRIC_COUNTER};
static struct metric dispatch_loop_passes = {.name = "souk_cache_loop_passes_total",
    .help = "Requests a loop handler passed on to a worker (a miss, a cache error or back-off).",
    .kind = METRIC_COUNTER};
/* clang-format on */

int
dispatch_init(struct server *srv)
{
    const struct server_loop_route *lr = srv->spec->loop_routes;
    int                             i, n;

    for (; lr != NULL && lr->fn != NULL; lr++) {
        for (i = n = 0; i < srv->nspec; i++) {
            if (srv->spec->routes[i].fn == lr->fn) {
                srv->stats[BUILTIN_ROUTES + i].loop = lr->loop;
                n++;
            }
        }
        if (n == 0) {
            log_error("a loop route's handler serves no route");
            return ERR_INVALID;
        }
        metrics_register(&dispatch_loop_hits);
        metrics_register(&dispatch_loop_passes);
    }
    return ERR_OK;
}

void
dispatch_route(struct req_state *st)
{
    struct server      *srv = st->srv;
    struct req         *r = &st->req;
    const struct route *table = builtin_routes, *rt;
    int                 rc, base = 0;

    rc = server_route_match(table, r->method, st->raw_path, st->raw_path_len, &rt, st->params,
                            REQ_MAX_PARAMS, &st->nparams, st->allow, sizeof(st->allow));
    if (rc == ERR_NOT_FOUND && srv->spec->routes != NULL) {
        table = srv->spec->routes;
        base = BUILTIN_ROUTES;
        rc = server_route_match(table, r->method, st->raw_path, st->raw_path_len, &rt, st->params,
                                REQ_MAX_PARAMS, &st->nparams, st->allow, sizeof(st->allow));
    }
    st->route_rc = rc;
    if (rc != ERR_OK)
        return;
    r->route = rt;
    st->stat = base + (int)(rt - table);
    if (rt->max_body > 0)
        st->max_body = rt->max_body;
}

/* Bearer token per route flags; claims go to r->user. */
static int
authenticate(struct req *r)
{
    unsigned    flags = r->route->flags;
    const char *h, *token;
    char        why[128];
    int         rc;

    if (!(flags & (ROUTE_USER | ROUTE_ADMIN | ROUTE_AUTH_OPT)))
        return ERR_OK;
    h = req_header(r, "Authorization");
    if (h == NULL) {
        if (!(flags & (ROUTE_USER | ROUTE_ADMIN)))
            return ERR_OK;
        return req_fail(r, ERR_UNAUTHORIZED, "missing bearer token");
    }
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return req_fail(r, ERR_UNAUTHORIZED, "authorization must be a bearer token");
    for (token = h + 7; *token == ' '; token++)
        ;
    why[0] = '\0';
    rc = auth_token_verify(r->st->srv->spec->jwt_secret ? r->st->srv->spec->jwt_secret : "", token,
                           (int64_t)time(NULL), &r->user, why, sizeof(why));
    if (rc) {
        r->user.role = AUTH_NONE;
        return req_fail(r, rc, "%s", why[0] ? why : "invalid token"); /* 401, or 500 if unset */
    }
    if ((flags & ROUTE_ADMIN) && r->user.role != AUTH_ADMIN)
        return req_fail(r, ERR_FORBIDDEN, "admin role required");
    return ERR_OK;
}

static int
route_error(struct req_state *st)
{
    struct req *r = &st->req;

    switch (st->route_rc) {
    case ERR_METHOD:
        req_set_header(r, "Allow", st->allow);
        return req_fail(r, ERR_METHOD, "method %s is not allowed here", r->method);
    case ERR_NOT_FOUND:
        return req_fail(r, ERR_NOT_FOUND, "no such resource");
    default:
        return req_fail(r, ERR_INVALID, "invalid percent-encoding in path");
    }
}

/* Run the request to a settled answer: refusal, routing error, or handler. */
static void
answer(struct req_state *st)
{
    struct req *r = &st->req;
    int         rc;

    if (st->early_err)
        rc = req_fail(r, st->early_err, "%s", st->early_detail);
    else if (st->route_rc != ERR_OK)
        rc = route_error(st);
    else {
        rc = r->passed ? ERR_OK : authenticate(r); /* the loop half authenticated it */
        if (rc == ERR_OK)
            rc = r->route->fn(r);
    }
    req_finish(r, rc);
}

void
dispatch_work(struct pool_job *job, void *state, int cancelled)
{
    struct req_state *st = (struct req_state *)((char *)job - offsetof(struct req_state, job));
    struct req       *r = &st->req;

    r->worker = state;
    (void)req_trace_id(r);
    /* Whatever the handler's callees log carries the request's ids. */
    log_context(req_log_context, r);
    if (cancelled)
        req_finish(r, req_fail(r, ERR_UNAVAILABLE, "server is shutting down"));
    else
        answer(st);
    log_context(NULL, NULL);
    server_complete(st->loop, st);
}

static void
in_flight_done(void *unused)
{
    (void)unused;
    metrics_add(&builtin_in_flight, -1);
}

/* The loop half of st's route, after auth: 1 when st is left with the
 * pool or the loop handler (answered later), 0 when answered here. */
static int
loop_first(struct req_state *st, loop_handler_fn *fn)
{
    struct req *r = &st->req;
    int         rc, verdict;

    r->loop = st->loop->state;
    (void)req_trace_id(r);
    log_context(req_log_context, r);
    rc = authenticate(r);
    if (rc) {
        req_finish(r, rc);
        log_context(NULL, NULL);
        return 0;
    }
    verdict = fn(r);
    log_context(NULL, NULL);
    if (verdict == SERVER_LOOP_PASS)
        server_loop_pass(r);
    return 1;
}

void
server_loop_answer(struct req *r, int rc)
{
    struct req_state *st = r->st;

    metrics_add(&dispatch_loop_hits, 1);
    log_context(req_log_context, r);
    req_finish(r, rc);
    log_context(NULL, NULL);
    r->loop = NULL;
    conn_done(st, 1);
}

void
server_loop_pass(struct req *r)
{
    metrics_add(&dispatch_loop_passes, 1);
    r->loop = NULL; /* the loop's state is the loop thread's only */
    r->passed = 1;
    pool_push(r->st->srv->pool, &r->st->job);
}

int
dispatch_request(struct req_state *st)
{
    loop_handler_fn *loop;

    /* Counted until the arena goes, written or dropped with its connection. */
    metrics_add(&builtin_in_flight, 1);
    arena_defer(st->req.arena, in_flight_done, NULL);
    if (st->early_err || st->route_rc != ERR_OK || builtin_inline(st->req.route)) {
        answer(st);
        conn_done(st, 0);
        return 0;
    }
    loop = st->srv->stats[st->stat].loop;
    if (loop != NULL && st->loop->state != NULL) {
        if (loop_first(st, loop))
            return 1;
        conn_done(st, 0);
        return 0;
    }
    pool_push(st->srv->pool, &st->job);
    return 1;
}

void
dispatch_account(struct req_state *st, size_t bytes)
{
    struct route_stat *rs = &st->srv->stats[st->stat];
    uint64_t           us = (uv_hrtime() - st->t_start) / 1000;

    if (st->status >= 100 && st->status < 100 + ROUTE_STATUS_N)
        atomic_fetch_add_explicit(&rs->by_status[st->status - 100], 1, memory_order_relaxed);
    metrics_observe(rs->latency, us);
    req_log_access(&st->req, rs->label, bytes, us);
}
