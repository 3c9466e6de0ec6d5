/*
 * proxy.c - one request forwarded upstream: route it on the acquired table
 * (held until the exchange ends), apply the route's edge policy (body
 * limit, auth, rate limits), choose the pool by mode (legacy, new, canary,
 * shadow), pick a server (round robin or least connections, skipping
 * unhealthy ones and open breakers), stream the request, and retry or fall
 * back when an attempt fails before any byte of the answer was sent.
 * Generic forwarding only: the policies are the control plane's modules,
 * the answer's way back is respond.c's.
 */
#include <string.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

static const char *const mode_names[] = {"legacy", "shadow", "canary", "new"};

static void
table_release(void *p)
{
    routes_unref(p);
}

/* What may be sent twice: safe methods only (RFC 9110 §9.2.1). PUT and
 * DELETE are idempotent on one server, but a timed-out write may have
 * committed, and re-sending it elsewhere (a retry, or the monolith on
 * fallback) writes to both sides. TRACE and CONNECT are never sent. */
static int
safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

static int
is_read(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* A write goes upstream: counted in flight until its exchange finishes, so
 * a cutover can wait for the writes sent before its hold (GET /holds). */
static void
write_out(struct exch *x)
{
    if (is_read(x->c->hph.method) || x->wstat != NULL)
        return;
    x->wstat = x->c->rstat;
    atomic_fetch_add(&x->wstat->writes_out, 1);
}

static void
write_done(struct exch *x)
{
    if (x->wstat != NULL)
        atomic_fetch_sub(&x->wstat->writes_out, 1);
    x->wstat = NULL;
}

static unsigned
method_bit(const char *m)
{
    int i;

    for (i = 0; routes_method_names[i] != NULL; i++)
        if (strcmp(routes_method_names[i], m) == 0)
            return GW_METHOD_BIT(i);
    return 0;
}

/* Rate limits of the route, per client address and per user. */
static int
rate_limited(struct client *c, const struct gw_route *r, const struct auth_claims *user)
{
    char     key[32];
    uint64_t now = loop_now(c->loop);

    if (r->rl_ip_rate > 0 &&
        !ratelimit_take(r->name, c->ip, r->rl_ip_rate, r->rl_ip_burst, now, &c->retry_after))
        return 1;
    if (r->rl_user_rate > 0 && user->user_id > 0) {
        snprintf(key, sizeof(key), "user:%lld", (long long)user->user_id);
        if (!ratelimit_take(r->name, key, r->rl_user_rate, r->rl_user_burst, now, &c->retry_after))
            return 1;
    }
    return 0;
}

/* The first eligible server of the current side: healthy (unless none is),
 * not tried yet, and its breaker lets a request through. */
static int
pick(struct exch *x, int *open)
{
    int               n = x->nsrv[x->side], j, i, best, any_healthy = 0, pass;
    struct gw_server *g;
    enum gw_balance   bal = x->t->pools[x->side ? x->route->new_pool : x->route->legacy].balance;

    for (j = 0; j < n; j++)
        any_healthy |= atomic_load_explicit(&x->srv[x->side][j]->g->healthy, memory_order_relaxed);
    for (pass = 0; pass < n; pass++) {
        best = -1;
        for (j = 0; j < n; j++) {
            i = (int)((x->start[x->side] + (unsigned)j) % (unsigned)n);
            g = x->srv[x->side][i]->g;
            if ((x->tried & (1u << i)) ||
                (any_healthy && !atomic_load_explicit(&g->healthy, memory_order_relaxed)))
                continue;
            if (best < 0 ||
                (bal == GW_BALANCE_LEAST_CONN &&
                 atomic_load(&g->active) < atomic_load(&x->srv[x->side][best]->g->active)))
                best = i;
            if (bal == GW_BALANCE_ROUND_ROBIN)
                break;
        }
        if (best < 0)
            return -1;
        x->tried |= 1u << best;
        if (breaker_allow(x->srv[x->side][best]->g->name, loop_now(x->loop)))
            return best;
        *open = 1;
    }
    return -1;
}

static void
send_head(struct exch *x)
{
    struct client *c = x->c;

    sink_add(&x->u->out, buf_data(&c->uhead), buf_len(&c->uhead));
    x->head_sent = 1;
    if (c->req_done)
        upstream_expect(x->u, x->route->timeout_ms);
}

/* Start an attempt: 1 = a pooled connection took the head, 0 = connecting,
 * -1 = no server can be tried (*why: ERR_UNAVAILABLE or ERR_UPSTREAM). */
static int
try_attempt(struct exch *x, int *why)
{
    struct uconn *u;
    int           i, rc, reused, open = 0;

    for (;;) {
        i = pick(x, &open);
        if (i < 0) {
            *why = open || x->nsrv[x->side] == 0 ? ERR_UNAVAILABLE : ERR_UPSTREAM;
            return -1;
        }
        x->cur = i;
        x->us = x->srv[x->side][i];
        x->t_attempt = uv_hrtime();
        rc = upstream_get(x->loop, x->us, &proxy_uconn_ops, x, x->route->connect_timeout_ms, &u,
                          &reused);
        if (rc == ERR_OK)
            break;
        breaker_record(x->us->g->name, 0, loop_now(x->loop));
    }
    x->u = u;
    if (!reused)
        return 0;
    send_head(x);
    return 1;
}

/* Legacy may answer instead of new: in mode new when the route says so,
 * and always for a canary read (its split is a preference, not a promise). */
static int
fallback_ok(const struct exch *x)
{
    return x->side == 1 && x->route->legacy >= 0 && x->replayable && !x->resp_started &&
           (x->route->fallback || x->route->mode == GW_MODE_CANARY);
}

/* The exchange ends without an upstream answer: tell the client why. */
static void
give_up(struct exch *x, int err)
{
    struct client *c = x->c;
    const char    *why = err == ERR_TIMEOUT       ? "upstream timed out"
                         : err == ERR_UNAVAILABLE ? "no upstream available"
                                                  : "upstream connection failed";

    x->finished = 1;
    write_done(x);
    if (x->us != NULL)
        c->upstream_name = x->us->g->name;
    if (x->mirror != NULL)
        mirror_legacy_done(x->mirror, 0, NULL, 0);
    x->mirror = NULL;
    if (x->resp_started) {
        c->x = NULL;
        c->status = x->status;
        stats_access(c);
        client_close(c); /* part of an answer is out: only closing tells the client */
        return;
    }
    client_problem(c, err, why);
    c->x = NULL;
    client_exchange_end(c);
}

static void
canary_note(struct exch *x, int failed)
{
    if (x->side == 1 && x->route->mode == GW_MODE_CANARY &&
        canary_record(x->route, failed, loop_now(x->loop)))
        canary_rollback_request(x->route->name);
}

/* Another server, another pool, or the end: after a failed attempt. */
static void
retry(struct exch *x, int err)
{
    int why, rc;

    x->head_sent = 0;
    while (!x->resp_started && !x->finished) {
        if (x->replayable && x->retries_left > 0) {
            x->retries_left--;
            atomic_fetch_add_explicit(&x->c->rstat->retries, 1, memory_order_relaxed);
            if ((x->tried & ((1u << x->nsrv[x->side]) - 1)) == ((1u << x->nsrv[x->side]) - 1))
                x->tried = 0; /* every server was tried: the same ones again */
        } else if (fallback_ok(x)) {
            x->side = 0;
            x->tried = 0;
            atomic_fetch_add_explicit(&x->c->rstat->fallbacks, 1, memory_order_relaxed);
        } else {
            break;
        }
        rc = try_attempt(x, &why);
        if (rc == 1)
            proxy_flush(x);
        if (rc >= 0)
            return;
        err = why;
    }
    give_up(x, err);
}

void
proxy_attempt_failed(struct exch *x, int err)
{
    x->u = NULL;
    breaker_record(x->us->g->name, 0, loop_now(x->loop));
    stats_count(x->us->g->st, 0, (uv_hrtime() - x->t_attempt) / 1000);
    stats_side(x->c->rstat, x->side, 0, (uv_hrtime() - x->t_attempt) / 1000);
    canary_note(x, 1);
    retry(x, err);
}

/* 5xx from the new pool in mode new: the same request goes to legacy. */
int
proxy_fallback(struct exch *x, int status)
{
    struct uconn *u = x->u;

    if (!fallback_ok(x) || x->route->mode != GW_MODE_NEW)
        return 0;
    x->u = NULL;
    upstream_close(u); /* its body is not wanted: the connection cannot be reused */
    breaker_record(x->us->g->name, !gw_gateway_failure(status), loop_now(x->loop));
    stats_count(x->us->g->st, status, (uv_hrtime() - x->t_attempt) / 1000);
    stats_side(x->c->rstat, x->side, status, (uv_hrtime() - x->t_attempt) / 1000);
    x->retries_left = 0; /* a 5xx is an answer: straight to legacy */
    retry(x, ERR_UPSTREAM);
    return 1;
}

/* Which pool: legacy and shadow answer from legacy; canary sends a sticky
 * share of reads to new (writes never split); new sends everything. */
static void
choose_side(struct exch *x)
{
    struct client         *c = x->c;
    const struct gw_route *r = x->route;
    const char            *key;
    int                    fresh = 0;

    x->side = r->mode == GW_MODE_NEW ? 1 : 0;
    if (r->mode != GW_MODE_CANARY || r->new_pool < 0)
        return;
    if (is_read(c->hph.method)) {
        key = gwauth_canary_key(c, c->a, &x->user, &fresh);
        x->side = canary_pick(key, r->canary_percent) ? 1 : 0;
        if (fresh)
            x->set_cookie = arena_printf(c->a,
                                         "souk_canary=%s; Path=/; Max-Age=2592000; "
                                         "HttpOnly; SameSite=Lax",
                                         key);
    }
    x->canary = 1;
    atomic_fetch_add_explicit(x->side ? &c->rstat->canary_new : &c->rstat->canary_legacy, 1,
                              memory_order_relaxed);
}

static void
servers_copy(struct exch *x, const struct lcache *k, int side, int pool)
{
    if (pool < 0)
        return;
    x->nsrv[side] = x->t->pools[pool].nservers;
    memcpy(x->srv[side], &k->srv[pool * GW_MAX_SERVERS], sizeof(x->srv[side]));
    x->start[side] = k->rr[pool]++;
}

/* Edge policy of the route; 0 to go on, else answered. */
int
edge_refused(struct client *c, const struct gw_route *r, struct auth_claims *user)
{
    const char *why = NULL;
    int         rc;

    if (r->max_body > 0 && c->ri.has_length && c->ri.length > r->max_body) {
        client_problem(c, ERR_TOO_LARGE, "request body is too large");
        return 1;
    }
    rc = gwauth_check(c, r->auth, user, &why);
    if (rc) {
        client_problem(c, rc, why);
        return 1;
    }
    if (rate_limited(c, r, user)) {
        atomic_fetch_add_explicit(&c->rstat->rate_limited, 1, memory_order_relaxed);
        client_problem(c, ERR_TOO_MANY, "rate limit exceeded");
        return 1;
    }
    return 0;
}

static struct exch *
exch_new(struct client *c, struct gw_table *t, const struct gw_route *r)
{
    struct exch   *x = arena_new(c->a, struct exch);
    struct lcache *k = loop_cache(c->loop, t);

    x->c = c;
    x->loop = c->loop;
    x->t = t;
    x->route = r;
    x->has_body = c->ri.chunked || (c->ri.has_length && c->ri.length > 0);
    x->replayable = safe_method(c->hph.method) && !x->has_body;
    x->retries_left = x->replayable ? r->retries : 0;
    servers_copy(x, k, 0, r->legacy);
    servers_copy(x, k, 1, r->new_pool);
    c->rstat = k->rstat[r - t->routes];
    c->route_name = r->name;
    c->mode_name = mode_names[r->mode];
    return x;
}

enum cphase
proxy_begin(struct client *c)
{
    struct gw_table       *t = loop_table(c->loop);
    const struct gw_route *r;
    struct auth_claims     user;
    struct exch           *x;
    struct str             path = hhead_target(&c->head);
    int                    rc, why;

    if (t == NULL) {
        client_problem(c, ERR_UNAVAILABLE, "no route table");
        return client_answered_phase(c);
    }
    arena_defer(c->a, table_release, t);
    path.len = strcspn(path.p, "?") < path.len ? strcspn(path.p, "?") : path.len;
    r = routes_match(t, c->hph.method, path.p, path.len);
    if (r == NULL) {
        client_problem(c, ERR_NOT_FOUND, "no route for this path");
        return client_answered_phase(c);
    }
    if (r->static_app != NULL)
        return static_begin(c, t, r); /* the gateway's own files: nothing goes upstream */
    x = exch_new(c, t, r);
    if (edge_refused(c, r, &user))
        return client_answered_phase(c);
    x->user = user;
    x->traceparent = ids_traceparent(c, c->a, x->trace_id);
    if (r->hold && !is_read(c->hph.method))
        return hold_begin(x); /* a migration's fence: sent when the hold ends */
    choose_side(x);
    forward_request(x);
    write_out(x);
    rc = try_attempt(x, &why);
    if (rc < 0 && fallback_ok(x)) {
        canary_note(x, 1); /* new is not even reachable: that counts against it */
        x->side = 0;
        x->tried = 0;
        rc = try_attempt(x, &why);
    }
    if (rc < 0) {
        write_done(x); /* never sent */
        client_problem(c, why,
                       why == ERR_UNAVAILABLE ? "no upstream available"
                                              : "upstream connection failed");
        return client_answered_phase(c);
    }
    c->x = x;
    /* Which methods are mirrored is the route's call (GET and HEAD unless
     * it lists more): a copied write would run twice. */
    if (r->mode == GW_MODE_SHADOW && (r->shadow_methods & method_bit(c->hph.method)))
        x->mirror = mirror_start(x);
    if (c->ri.expect_continue && x->has_body && c->hph.http_minor > 0) {
        sink_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        (void)sink_flush(&c->out); /* a failure shows at the next write */
    }
    if (rc == 0)
        return CP_CONNECT;
    return x->has_body ? CP_BODY : CP_WAIT;
}

void
proxy_release(struct exch *x, struct gw_table *t, const struct gw_route *r)
{
    struct client *c = x->c;
    struct lcache *k = loop_cache(x->loop, t);
    int            rc, why;

    arena_defer(c->a, table_release, t);
    x->t = t;
    x->route = r;
    x->nsrv[0] = x->nsrv[1] = 0;
    servers_copy(x, k, 0, r->legacy);
    servers_copy(x, k, 1, r->new_pool);
    x->tried = 0;
    c->rstat = k->rstat[r - t->routes];
    c->route_name = r->name;
    c->mode_name = mode_names[r->mode];
    choose_side(x);
    forward_request(x);
    write_out(x);
    rc = try_attempt(x, &why);
    if (rc < 0) {
        proxy_abort(x, why,
                    why == ERR_UNAVAILABLE ? "no upstream available"
                                           : "upstream connection failed");
        return;
    }
    if (rc == 0)
        return; /* connecting: on_connected streams the body */
    if (c->req_done)
        client_phase(c, CP_WAIT);
    else
        client_stream(c, CP_BODY); /* parses the body bytes held meanwhile */
    proxy_flush(x);
}

int
proxy_body(struct exch *x, const char *p, size_t n)
{
    struct client *c = x->c;

    x->body_seen += n;
    if (x->route->max_body > 0 && x->body_seen > x->route->max_body) {
        proxy_abort(x, ERR_TOO_LARGE, "request body is too large");
        return -1;
    }
    if (x->mirror != NULL)
        mirror_request_body(x->mirror, p, n);
    if (x->u == NULL)
        return 0; /* the answer came already: the rest is dropped */
    if (c->ri.chunked)
        sink_chunk(&x->u->out, p, n);
    else
        sink_add(&x->u->out, p, n);
    return 0;
}

void
proxy_request_done(struct exch *x)
{
    if (x->mirror != NULL && x->has_body)
        mirror_request_done(x->mirror);
    if (x->u != NULL && x->head_sent) {
        if (x->c->ri.chunked)
            sink_add(&x->u->out, "0\r\n\r\n", 5);
        upstream_expect(x->u, x->route->timeout_ms);
    }
    if (x->head_sent)
        client_phase(x->c, CP_WAIT);
    proxy_maybe_finish(x);
}

void
proxy_flush(struct exch *x)
{
    struct uconn *u = x->u;

    if (u == NULL || !x->head_sent || x->finished)
        return;
    if (sink_flush(&u->out) != 0) {
        x->u = NULL;
        upstream_close(u);
        proxy_attempt_failed(x, ERR_UPSTREAM);
        return;
    }
    if (sink_busy(&u->out))
        client_pause(x->c); /* resumed when the upstream takes the bytes */
}

void
proxy_client_drained(struct exch *x)
{
    if (x->u != NULL)
        upstream_resume(x->u);
}

/* The answer is complete: account, pool the connection, end the exchange. */
void
proxy_maybe_finish(struct exch *x)
{
    struct client *c = x->c;
    uint64_t       us = (uv_hrtime() - x->t_attempt) / 1000;

    if (!x->resp_done || x->finished)
        return;
    x->finished = 1;
    write_done(x);
    if (!c->req_done) {
        c->close_after = 1; /* answered before the body was read: no keep-alive */
        x->u->keep = 0;
    }
    breaker_record(x->us->g->name, !gw_gateway_failure(x->status), loop_now(x->loop));
    stats_count(x->us->g->st, x->status, us);
    stats_side(c->rstat, x->side, x->status, us);
    canary_note(x, x->status >= 500);
    c->upstream_name = x->us->g->name;
    c->status = x->status;
    upstream_release(x->u);
    x->u = NULL;
    if (x->mirror != NULL)
        mirror_legacy_done(x->mirror, x->status, x->copy, 1);
    x->mirror = NULL;
    c->x = NULL;
    client_exchange_end(c);
}

void
proxy_abort(struct exch *x, int err, const char *why)
{
    struct client *c = x->c;

    if (x->finished)
        return;
    x->finished = 1;
    write_done(x);
    hold_cancel(x);
    if (x->u != NULL)
        upstream_close(x->u);
    x->u = NULL;
    if (x->mirror != NULL)
        mirror_legacy_done(x->mirror, 0, NULL, 0);
    x->mirror = NULL;
    c->x = NULL;
    if (x->us != NULL)
        c->upstream_name = x->us->g->name;
    if (err == 0 || x->resp_started || c->closing) {
        c->status = c->status ? c->status : 499; /* nginx's "client closed request" */
        stats_access(c);
        client_close(c);
        return;
    }
    c->close_after = 1;
    client_problem(c, err, why);
    client_exchange_end(c);
}
