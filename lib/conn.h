/*
 * conn.h - the server's private half, shared by its files: the process-wide
 * server and per-thread loop (server.c), one accepted connection (conn.c:
 * transport, timers, answer order; conn_parse.c: bytes to request state),
 * and the request state behind struct req (routed and run by dispatch.c,
 * answered through req.c). Handlers never include this.
 */
#ifndef SOUK_CONN_H
#define SOUK_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "buf.h"
#include "bounds.h"
#include "evloop.h"
#include "pool.h"
#include "req.h"
#include "server.h"

#define REQ_MAX_PARAMS 8     /* {name} segments captured per route */
#define LOOP_READ_BUF  65536 /* one read buffer per loop, reused by every connection */
#define ROUTE_STATUS_N 500   /* per-route counters for statuses 100..599 */

struct conn;
struct hp;
struct metric;

/* Per-route metrics: counters by status are a plain array, rendered when non-zero. */
struct route_stat {
    char            *label;  /* "GET /api/v1/products/{id}" */
    char            *labels; /* route="GET /api/v1/products/{id}" (escaped) */
    _Atomic uint64_t by_status[ROUTE_STATUS_N];
    struct metric   *latency;
    loop_handler_fn *loop; /* the route's loop half (server_loop_route) or NULL */
};

/* One event loop thread of the server (evloop.h) and its connections. */
struct loop {
    struct evloop    ev;
    struct server   *srv;
    struct pool_job *done;  /* finished requests, newest first, under ev.lock */
    struct conn     *conns; /* every open connection of this loop */
    int              nconns;
    void            *state; /* spec->loop_init's, for loop handlers (r->loop) */
    char             rbuf[LOOP_READ_BUF];
};

struct server {
    const struct server_spec *spec;
    int64_t                   header_ms, body_ms, idle_ms, drain_ms;
    int                       nspec;  /* rows in spec->routes */
    int                       nstats; /* builtins + spec routes + 1 for unmatched */
    struct route_stat        *stats;
    struct pool              *pool;
    int                       cores;
    int                       nloops;
    struct loop             **loops;
    struct sockaddr_storage   addr;
    socklen_t                 addrlen;
    uv_loop_t                 control; /* main thread: signals and the drain timer */
    int                       control_ready;
    struct evgroup            group; /* group.draining: SIGTERM seen */
};

struct req_hdr {
    const char *name, *value;
};

struct resp_hdr {
    struct resp_hdr *next;
    const char      *name, *value;
};

/* Lives in its own arena (req.arena), from end of headers until written. */
struct req_state {
    struct req        req;  /* req.st points back here */
    struct pool_job   job;  /* the pool queue, then the loop's done list */
    struct req_state *next; /* the connection's answer queue */
    struct conn      *conn;
    struct loop      *loop;
    struct server    *srv;
    /* the request, copied into the arena */
    const char        *raw_path, *raw_query; /* views of the target, not NUL-terminated */
    size_t             raw_path_len, raw_query_len;
    struct req_hdr    *hdrs;
    int                nhdrs;
    struct buf         body;
    size_t             max_body;
    struct route_param params[REQ_MAX_PARAMS];
    int                nparams;
    int                route_rc; /* server_route_match's answer */
    char               allow[80];
    int                stat; /* index into srv->stats */
    int                is_head, http10, http_minor, keep_alive;
    uint64_t           t_start;   /* ns, first byte */
    int                early_err; /* refused before dispatch (limits, timeouts, syntax) */
    const char        *early_detail;
    /* query string, parsed on first use */
    struct req_kv *query;
    size_t         nquery;
    int            query_done;
    /* the answer (req.c) */
    int              replied, status;
    const char      *ctype;
    const char      *out;
    size_t           out_len;
    struct resp_hdr *out_hdrs, *out_tail;
    int              err;
    const char      *detail;
    struct buf       head; /* status line and headers, rendered at write time */
    int              ready;
};

/* What a connection's timer measures (conn.c). */
enum conn_phase {
    CONN_IDLE,   /* no request started: idle keep-alive (header timeout before the first) */
    CONN_HEAD,   /* first byte seen, headers incomplete: header timeout */
    CONN_BODY,   /* headers done, body incomplete: body timeout */
    CONN_BUSY,   /* between requests while answers are pending: no timer */
    CONN_LINGER, /* final answer sent after an error: wait for the client's FIN */
};

struct hdr_span {
    size_t name_off, name_len, val_off, val_len;
};

struct conn_parse;

/* What conn_parse.c asks of the connection it reads for: conn.c's
 * conn_parse_ops (conn_phase, conn_fail, conn_request, conn_continue and
 * dispatch_route), or a fuzz harness's, which so drives this very parser. */
struct conn_parse_ops {
    void (*phase)(struct conn_parse *ps, enum conn_phase ph);
    int (*fail)(struct conn_parse *ps, int err, const char *detail);
    int (*request)(struct conn_parse *ps, struct req_state *st);
    int (*cont)(struct conn_parse *ps);
    void (*route)(struct req_state *st);
};
extern const struct conn_parse_ops conn_parse_ops;

/* The request being parsed on one connection (conn_parse.c). */
struct conn_parse {
    const struct conn_parse_ops *ops;
    struct conn                 *conn;
    struct loop                 *loop;
    struct hp                   *hp;
    struct buf                   scratch; /* the target, then header names and values */
    size_t                       url_len, hdr_bytes;
    int                          nhdr, in_value;
    struct hdr_span              hdr[LIMIT_HEADER_COUNT];
    uint64_t                     t_begin; /* first byte, ns */
    struct req_state            *cur;     /* from end of headers to end of message */
};

/* conn_parse.c: a parser for connection c of loop l, answering through ops;
 * free with conn_parse_free. */
void conn_parse_init(struct conn_parse *ps, const struct conn_parse_ops *ops, struct conn *c,
                     struct loop *l);
void conn_parse_free(struct conn_parse *ps);
/* conn_parse.c: destroy the request cut short by a close, if any. */
void conn_parse_drop(struct conn_parse *ps);
/* conn_parse.c: the request being read (a new one when headers are not
 * complete yet), now owned by the caller. */
struct req_state *conn_parse_take(struct conn_parse *ps);

/* conn.c, for conn_parse.c: enter a timer phase; refuse the request being
 * read (returns -1); a complete request (returns 0, or -1 to stop parsing);
 * send "100 Continue" if no earlier answer is pending (-1 when closed). */
void conn_phase(struct conn *c, enum conn_phase ph);
int  conn_fail(struct conn *c, int err, const char *detail);
int  conn_request(struct conn *c, struct req_state *st);
int  conn_continue(struct conn *c);

/* conn.c: accept one connection on l's listener. */
void conn_accept(struct loop *l);
/* conn.c: st is answered (from_pool: it came back from a worker). */
void conn_done(struct req_state *st, int from_pool);
/* conn.c: SIGTERM: close c if it is idle, else let it finish with Connection: close. */
void conn_drain(struct conn *c);
/* conn.c: the drain timed out: close c now. */
void conn_kill(struct conn *c);
/* conn.c: the next connection in its loop's list. */
struct conn *conn_next(const struct conn *c);

/* dispatch.c: pair loop routes with their routes' stats and register their
 * metrics; ERR_INVALID (logged) when one names no route's handler. */
MUST_CHECK int dispatch_init(struct server *srv);
/* dispatch.c: route st (sets route, params, stat, max_body, route_rc). */
void dispatch_route(struct req_state *st);
/* dispatch.c: answer st inline, or queue it to the pool or leave it with a
 * route's loop half (conn_done(st, 1) answers it later); 1 when not answered. */
int dispatch_request(struct req_state *st);
/* dispatch.c: the pool's job function: auth, handler, req_finish, then
 * back to the loop through server_complete. */
void dispatch_work(struct pool_job *job, void *state, int cancelled);
/* dispatch.c: count a written answer in the metrics and the access log. */
void dispatch_account(struct req_state *st, size_t bytes);

/* server.c: hand a finished request back to its loop (any thread). */
void server_complete(struct loop *l, struct req_state *st);
/* server.c: a connection of l was freed. */
void server_conn_gone(struct loop *l);

#endif
