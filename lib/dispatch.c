/*
 * dispatch.c - the request path between parsing and writing: route a parsed
 * request (built-ins first), then answer it on the loop (refusals, routing
 * errors, GET /health) or in the worker pool: bearer-token auth per route
 * flags, the handler, req_finish. Also counts each written answer in the
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
        rc = authenticate(r);
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

int
dispatch_request(struct req_state *st)
{
    /* Counted until the arena goes, written or dropped with its connection. */
    metrics_add(&builtin_in_flight, 1);
    arena_defer(st->req.arena, in_flight_done, NULL);
    if (st->early_err || st->route_rc != ERR_OK || builtin_inline(st->req.route)) {
        answer(st);
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
