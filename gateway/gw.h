/*
 * gw.h - the data plane's private half (main, loop, client, request, answer,
 * http1, headers, sink, proxy, respond, forward, upstream, mirror, auth,
 * ids, admin, stats, health, canary_rollback). The control plane (routes,
 * breaker, rate limits, canary, shadow, events) is reached only through
 * gateway.h.
 *
 * Threads: one libuv loop per core serves the public listener (SO_REUSEPORT
 * sockets); the main thread's control loop serves the admin listener, the
 * signals, the health checks and the canary rollbacks. A client connection,
 * its exchange and the upstream connections it uses all live on one loop,
 * so nothing here is locked; process-wide state is atomics or is reached
 * through a per-loop cache rebuilt once per route-table version.
 */
#ifndef SOUK_GW_H
#define SOUK_GW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "auth.h"
#include "bounds.h"
#include "buf.h"
#include "evloop.h"
#include "gateway.h"
#include "http_parse.h"
#include "metrics.h"
#include "str.h"

#define GW_READ_BUF        65536 /* one read buffer per loop, shared by its connections */
#define GW_SINK_IOV        64    /* views gathered before a flush */
#define GW_RESP_HEAD_BYTES 65536 /* status line and headers of one upstream response */
#define GW_ADMIN_BODY_MAX  (1 << 20)
#define GW_UP_IDLE_MS      30000 /* a pooled upstream connection is closed after this */
#define GW_LINGER_MS       2000  /* after an error answer: drop what the client still sends */
#define GW_DRAIN_MS        10000 /* SIGTERM: in-flight requests get this long */
#define GW_SWEEP_MS        50    /* timeouts fire up to this late */

/* What a breaker counts against a server besides transport failures: "the
 * server could not answer" (Envoy's gateway failures), not an application's
 * 500, which the canary error rate judges instead. */
static inline int
gw_gateway_failure(int status)
{
    return status == 502 || status == 503 || status == 504;
}

struct client;
struct exch;
struct uconn;
struct mirror;

#include "http1.h" /* http1.c, headers.c */

/* ------------------------------------------------------------------ sink.c */

typedef void sink_fn(void *ctx, int status);

/* Writes to one stream without copying in the common case: views gathered
 * with sink_add are offered to uv_try_write at sink_flush; only what the
 * kernel does not take is copied and queued. Views must stay valid until
 * the next sink_flush only. */
struct sink {
    uv_stream_t *stream;
    uv_buf_t     iov[GW_SINK_IOV];
    char         frame[GW_SINK_IOV][20]; /* chunk-size lines */
    int          niov, nframe;
    size_t       batch;   /* bytes gathered */
    size_t       queued;  /* bytes in uv_write requests not yet done */
    sink_fn     *drained; /* queued fell to zero, or a write failed (status < 0) */
    void        *ctx;
    int          failed;
    /* Views of the batch that outlive it (sink_add_pinned): a queued write
     * points at them, holding a reference, instead of copying them. */
    unsigned char pinned[GW_SINK_IOV];
    void         *pin;
    void (*pin_hold)(void *pin), (*pin_drop)(void *pin);
};

void sink_init(struct sink *s, uv_stream_t *stream, sink_fn *drained, void *ctx);
void sink_add(struct sink *s, const void *p, size_t n);
/* A view owned by pin, which hold/drop keep alive: what the kernel does not
 * take at once is queued from p itself (with a hold) rather than copied. One
 * pin per batch. */
void sink_add_pinned(struct sink *s, const void *p, size_t n, void *pin, void (*hold)(void *),
                     void (*drop)(void *));
/* n body bytes as one chunk of a chunked body (n > 0). */
void sink_chunk(struct sink *s, const void *p, size_t n);
/* Write what was gathered; -1 when the stream failed. */
int sink_flush(struct sink *s);
static inline int
sink_busy(const struct sink *s)
{
    return s->queued > 0;
}

/* ------------------------------------------------------------------ stats.c */

/* One side of a route (0 legacy, 1 new, shadow copies included): attempts,
 * failed ones (5xx or no answer) and their latency in GW_LAT_BUCKETS
 * buckets (bounds: admin/series.c), for the control room's GET /stats. */
#define GW_LAT_BUCKETS 16
struct gw_side_stat {
    _Atomic uint64_t requests, errors;
    _Atomic uint64_t lat[GW_LAT_BUCKETS];
};

/* Upper bounds of the buckets in microseconds (stats.c); the last bucket is the rest. */
extern const uint64_t stats_lat_bounds[GW_LAT_BUCKETS - 1];

struct stat_series; /* admin/series.c: per-second history, control loop only */

/* Counters of one route (by name) or one upstream server (by address);
 * process lifetime, so they survive route-table swaps. */
struct gw_stat {
    struct gw_stat  *next;
    char            *name;
    char            *labels; /* route="x" or upstream="127.0.0.1:7000" */
    int              is_route;
    _Atomic uint64_t by_class[6]; /* [1] = 1xx ... [5] = 5xx, [0] = no answer */
    struct metric   *latency;
    _Atomic uint64_t canary_new, canary_legacy, rate_limited, retries, fallbacks;
    _Atomic uint64_t connect_errors, timeouts;
    _Atomic int      shadow_inflight;
    /* hold.c: writes held now (every loop), released or refused, and the
     * route's holds (start in CLOCK_MONOTONIC ms, 0 = not held) */
    _Atomic int      held_now;
    _Atomic uint64_t hold_released, hold_refused, holds, hold_ms_total, hold_ms_last;
    _Atomic uint64_t hold_since;
    /* Writes sent upstream and not answered yet (every loop): a cutover's
     * fence is complete once the hold is on and this is 0 (GET /holds). */
    _Atomic int         writes_out;
    struct gw_side_stat side[2];
    struct stat_series *series;
};

struct gw_stat *stats_route(const char *name);
struct gw_stat *stats_upstream(const char *address);
void            stats_count(struct gw_stat *s, int status, uint64_t us);
/* One attempt on a route's side (0 legacy, 1 new); status 0: no answer. */
void stats_side(struct gw_stat *s, int side, int status, uint64_t us);
/* admin/series.c: a one-second tick on the control loop keeps each route's
 * recent history; stats_json answers GET /stats with it. */
int     series_start(uv_loop_t *loop);
void    series_tick(void); /* one second's tick (the timer's; unit tests call it) */
void    series_stop(void);
json_t *stats_json(int window_s);
/* admin/syncwatch.c: each domain's souk-sync /metrics, read by a thread of
 * its own (SOUK_GATEWAY_SYNC), for GET /sync. */
int     syncwatch_config(const char *spec, const char **why);
int     syncwatch_start(void);
void    syncwatch_stop(void);
json_t *syncwatch_json(void);
/* admin/migration.c: the migration record soukctl migrate reports (control
 * loop only). migration_put takes doc's reference. migration_start loads the
 * record kept in migration.json beside the routes file; a put is written
 * shortly after (migration_timer_init: on that loop; migration_flush: now).
 * migration_filter: the domains of a record file a put would take, each
 * other one as a line of problems (pure; the caller owns the result). */
void    migration_start(const char *routes_path);
void    migration_timer_init(uv_loop_t *loop);
void    migration_flush(void);
json_t *migration_filter(const json_t *doc, struct buf *problems);
int     migration_put(const char *domain, json_t *doc, struct buf *errors);
json_t *migration_json(void);
void    migration_free(void);
/* Walk the route stats under the stats lock. */
void stats_each_route(void (*fn)(struct gw_stat *s, void *ctx), void *ctx);
void stats_render(struct buf *b);
void stats_free_all(void);

/* ------------------------------------------------------------------ upstream.c */

/* One upstream server, process-wide, by address. */
struct gw_server {
    struct gw_server       *next;
    char                   *name; /* "127.0.0.1:7000" */
    struct sockaddr_storage addr;
    socklen_t               addrlen;
    int                     resolved;
    _Atomic int             healthy; /* active checks; 1 until one fails */
    _Atomic int             active;  /* requests in flight, every loop */
    _Atomic int             idle;    /* pooled connections, every loop */
    struct gw_stat         *st;
};

/* One server as seen by one loop: its pooled keep-alive connections. */
struct userver {
    struct userver   *next;
    struct gw_server *g;
    struct uconn     *idle; /* most recently used first */
    int               nidle, max_idle;
};

/* What an upstream connection reports to its owner (an exchange or a mirror). */
struct uconn_ops {
    void (*connected)(void *owner);
    /* The connection failed before the response was complete: err is
     * ERR_UPSTREAM or ERR_TIMEOUT; got_head says if a response head came. */
    void (*failed)(void *owner, int err, int got_head);
    /* Response head parsed (u->rh); return 1 when it has no body (HEAD),
     * 0 to go on, -1 to stop (the owner gave the connection up). */
    int (*head)(void *owner, int status, const struct hp_head *h);
    void (*body)(void *owner, const char *p, size_t n);
    void (*done)(void *owner);
    /* After each read was parsed: flush what was gathered. */
    void (*read_end)(void *owner);
    /* The request sink drained. */
    void (*drained)(void *owner);
};

struct uconn {
    uv_tcp_t                tcp;
    uv_connect_t            creq;
    struct gw_loop         *loop;
    struct userver         *us;
    struct uconn           *next;          /* the idle list */
    struct uconn           *lprev, *lnext; /* every connection of the loop */
    uint64_t                deadline;      /* loop ms; 0 = none (loop_sweep) */
    struct hp              *hp;
    struct hhead            rh; /* the response head being parsed */
    struct sink             out;
    const struct uconn_ops *ops;
    void                   *owner;
    int64_t                 timeout_ms;
    int                     handles, served;
    unsigned connected : 1, closing : 1, pooled : 1, keep : 1, got_head : 1, resp_done : 1,
        paused : 1, timing : 1;
};

struct gw_server *upstream_server(const char *name);
void              upstream_servers_sync(const struct gw_table *t);
void              upstream_servers_free(void);
/* /metrics gauges of every server. */
void upstream_render(struct buf *b);
/* The loop's view of a server. */
struct userver *upstream_userver(struct gw_loop *l, struct gw_server *g);
/* A pooled connection for owner, or a new one being connected (ERR_UPSTREAM
 * when the socket cannot even be started). *reused says which. */
MUST_CHECK int upstream_get(struct gw_loop *l, struct userver *us, const struct uconn_ops *ops,
                            void *owner, int64_t connect_ms, struct uconn **out, int *reused);
/* Arm the response timeout (inactivity, reset by every read). */
void upstream_expect(struct uconn *u, int64_t timeout_ms);
/* The owner is done: pool the connection if it can carry another request. */
void upstream_release(struct uconn *u);
void upstream_close(struct uconn *u);
void upstream_pause(struct uconn *u);
void upstream_resume(struct uconn *u);
void upstream_close_idle(struct gw_loop *l);
/* The drain timed out: close every connection, telling their owners. */
void upstream_abort_all(struct gw_loop *l);
/* Its deadline passed: connect or response timeout (the owner hears
 * ERR_TIMEOUT), or an idle pooled connection is closed. */
void upstream_timeout(struct uconn *u);

/* ------------------------------------------------------------------ loop.c */

enum gw_kind { GW_DATA, GW_ADMIN };

/* Per loop, per table version: the table's pools and routes resolved. */
struct lcache {
    uint64_t         version;
    int              npools, nroutes;
    struct userver **srv; /* [pool * GW_MAX_SERVERS + i] */
    unsigned        *rr;  /* round-robin position per pool */
    struct gw_stat **rstat;
};

/* A data loop (one thread and SO_REUSEPORT listener per core) or the
 * control loop (the admin listener, on the main thread): lib/evloop.c's
 * loop, with the gateway's connections and per-loop caches. */
struct gw_loop {
    struct evloop    ev; /* ev.index -1: the control loop */
    enum gw_kind     kind;
    int              draining; /* loop_drain ran: answers close their connections */
    uv_timer_t       sweep;    /* every GW_SWEEP_MS: deadlines of clients and uconns */
    struct client   *clients;
    struct uconn    *uconns;
    struct exch     *held, *held_tail; /* hold.c: writes waiting for a hold to end, FIFO */
    int              nclients, nuconns, nmirrors;
    struct userver  *servers;
    struct lcache    cache;
    struct gw_table *table; /* loop_table's current one, one reference */
    int              max_clients;
    void (*on_exit)(struct gw_loop *l);     /* the control loop: nothing left open */
    void (*thread_done)(struct gw_loop *l); /* a data loop's thread ends */
    char rbuf[GW_READ_BUF];
};

/* Set up l on listening socket fd (evloop_init); start a data loop's thread
 * with evloop_start(&l->ev), post commands with evloop_command. */
MUST_CHECK int loop_init(struct gw_loop *l, int index, enum gw_kind kind, int fd);
void           loop_check_exit(struct gw_loop *l);
/* After evloop_join: close what is left, free the caches. */
void loop_free(struct gw_loop *l);
/* The current route table, one reference for the caller (no lock). */
struct gw_table *loop_table(struct gw_loop *l);
/* The loop's cache for t (rebuilt when the version changed). */
struct lcache *loop_cache(struct gw_loop *l, const struct gw_table *t);
/* SIGTERM: stop accepting, let every connection finish (evloop_drain). */
void loop_drain(struct gw_loop *l);
/* The drain timed out: close every connection. */
void     loop_force(struct gw_loop *l);
uint64_t loop_now(struct gw_loop *l);

/* ------------------------------------------------------------------ client.c */

enum cphase {
    CP_IDLE,    /* between requests */
    CP_HEAD,    /* reading a request head */
    CP_CONNECT, /* head done, waiting for an upstream */
    CP_BODY,    /* streaming the request body */
    CP_WAIT,    /* request read, answer under way */
    CP_LINGER,  /* final answer sent after an error */
};

struct client {
    uv_tcp_t        tcp;
    uv_shutdown_t   shutdown;
    uint64_t        deadline; /* loop ms; 0 = none (loop_sweep) */
    struct gw_loop *loop;
    struct client  *prev, *next;
    struct hp      *hp;
    struct lint     lint;
    struct chunkv   chv;
    struct hhead    head;
    struct reqinfo  ri;
    struct hp_head  hph;
    struct sink     out;
    struct buf      uhead; /* the request head for the upstream */
    struct buf      ohead; /* the answer head for the client */
    struct buf      abody; /* admin request bodies */
    struct arena   *a;     /* the exchange's arena, reset after each */
    struct exch    *x;     /* the exchange with an upstream, if any */
    enum cphase     phase;
    uint64_t        left; /* Content-Length bytes still to read */
    uint64_t        t_begin;
    char           *pending; /* read but not parsed yet */
    size_t          pending_len;
    char            ip[48];
    int             handles, served;
    /* the exchange, for the access log and the metrics */
    const char     *rid;
    const char     *route_name, *mode_name, *upstream_name;
    struct gw_stat *rstat;
    const void     *aroute; /* admin.c: the admin resource asked for */
    const char     *aarg;
    int             status, retry_after;
    uint64_t        bytes;
    unsigned        reading : 1, closing : 1, close_after : 1, eof : 1, answered : 1, stalled : 1,
        req_done : 1, head_done : 1, in_process : 1,
        quiet : 1; /* a probe (/health, /ready, /metrics): access line at debug level */
};

void client_accept(struct gw_loop *l, uv_stream_t *server);
/* What one read's bytes of a message did to the framing (client_*_scan). */
struct client_scan {
    size_t         lint; /* bytes the framing passed: the lint's (head) or the body's */
    size_t         used; /* of those, bytes the parser took */
    int            done; /* the framing saw the head (or the message) end */
    int            fed;  /* the parser ran (not when the lint refused the bytes) */
    enum hp_status hs;
};
/* The framing of one message, without I/O (so fuzz/http/gw.c drives it too):
 * head bytes are linted and the parser sees exactly what the lint passed;
 * body bytes are cut at the message's end (chunkv or Content-Length) before
 * the parser sees them. Returns the bytes used, or -1: *why (and *err for a
 * head) says why the message is refused, NULL when a callback stopped the
 * parser or closed the connection. info (may be NULL) gets the details. */
ssize_t client_head_scan(struct client *c, const char *p, size_t n, int *err, const char **why,
                         struct client_scan *info);
ssize_t client_body_scan(struct client *c, const char *p, size_t n, const char **why,
                         struct client_scan *info);
/* request.c: the parser events of a client connection (ctx: the client). */
extern const struct hp_events client_request_events;
void                          client_phase(struct client *c, enum cphase ph);
/* The exchange is over: its answer is fully handed to the sink. */
void client_exchange_end(struct client *c);
/* The upstream is ready for the body: parse what was held back. */
void client_stream(struct client *c, enum cphase ph);
/* The answer waits on the client taking what was written (or no longer):
 * arm or clear its own deadline, the idle timeout (a stalled reader). */
void client_write_wait(struct client *c);
void client_pause(struct client *c);
void client_resume(struct client *c);
void client_close(struct client *c);
void client_drain(struct client *c);
/* Its deadline passed: 408 for a slow head or body, else close. */
void client_timeout(struct client *c);

/* answer.c: a local answer (a problem, /metrics, an admin reply); the bytes
 * are written or copied before it returns. extra: header lines with CRLF. */
void client_answer(struct client *c, int status, const char *ctype, const char *body, size_t n,
                   const char *extra);
/* The same for a body that pin keeps alive (sink_add_pinned): a slow
 * client's unsent rest is not copied. */
void client_answer_pinned(struct client *c, int status, const char *ctype, const char *body,
                          size_t n, const char *extra, void *pin, void (*hold)(void *),
                          void (*drop)(void *));
/* answer.c: err as problem+json (the one place problems are rendered). */
void client_problem(struct client *c, int err, const char *detail);
/* The same with extra members (rendered JSON, e.g. "errors":[...]) or NULL. */
void client_problem_ext(struct client *c, int err, const char *detail, const char *members);
/* The same with one more header line (CRLF-ended, e.g. "Allow: GET, HEAD\r\n") or NULL. */
void client_problem_hdr(struct client *c, int err, const char *detail, const char *members,
                        const char *hdr);
/* answer.c: the phase after answering from the head: read (and drop) a
 * small body to keep the connection, or wait for the close. */
enum cphase client_answered_phase(struct client *c);
/* answer.c: a protocol error: answer err, end the exchange, close. -1. */
int  client_fail(struct client *c, int err, const char *why);
void client_set_ip(struct client *c, const struct sockaddr_storage *ss);
int  client_loopback(const struct sockaddr_storage *ss);
/* answer.c: GET /health and /ready on a data listener (/metrics is refused:
 * admin listener only): 1 when answered. */
int local_endpoint(struct client *c);
/* static.c: a static route's answer from the in-memory site (GET, HEAD;
 * 405 for the rest), then the phase after it. */
enum cphase static_begin(struct client *c, struct gw_table *t, const struct gw_route *r);
/* static.c: the console on the admin listener: 1 when answered (GET or HEAD
 * of a path that is not the admin API's). */
int static_admin(struct client *c);

/* ------------------------------------------------------------------ proxy.c */

/* One request forwarded upstream: its route, edge decisions and attempts.
 * Lives in the client's arena; the table reference is dropped with it. */
struct exch {
    struct client         *c;
    struct gw_loop        *loop;
    struct gw_table       *t;
    const struct gw_route *route;
    struct userver        *srv[2][GW_MAX_SERVERS]; /* [0] legacy pool, [1] new pool */
    int                    nsrv[2];
    unsigned               start[2]; /* round-robin position taken at the start */
    int                    side;     /* pool of the current attempt: 0 legacy, 1 new */
    int                    cur;      /* server of the current attempt */
    unsigned               tried;    /* servers of this side tried */
    int                    retries_left;
    struct uconn          *u;
    struct userver        *us;
    struct auth_claims     user;
    const char            *traceparent;
    char                   trace_id[33];
    const char            *set_cookie;
    struct mirror         *mirror;
    struct buf            *copy; /* the legacy body, for the mirror */
    uint64_t               body_seen, t_attempt;
    int                    status;
    struct exch           *hnext;         /* the loop's held list */
    uint64_t               hold_deadline; /* loop ms */
    unsigned replayable : 1, has_body : 1, head_sent : 1, resp_started : 1, resp_done : 1,
        chunk_out : 1, no_body : 1, finished : 1, canary : 1, held : 1;
    struct gw_stat *wstat; /* a write sent upstream: its route's writes_out counts it */
};

/* Request head parsed and checked on a data listener: route, edge policy,
 * pick an upstream. Returns the phase the client enters. */
enum cphase proxy_begin(struct client *c);
/* The route's edge policy (body size, auth, rate limits), for proxied and
 * static routes alike; c->rstat must be the route's. 0 to go on, else
 * answered. */
int  edge_refused(struct client *c, const struct gw_route *r, struct auth_claims *user);
int  proxy_body(struct exch *x, const char *p, size_t n);
void proxy_request_done(struct exch *x);
/* Write what the client's bytes gathered for the upstream. */
void proxy_flush(struct exch *x);
void proxy_client_drained(struct exch *x);
/* The client failed (err 0: went away; else answer err if still possible). */
void proxy_abort(struct exch *x, int err, const char *why);

/* A held write's hold ended on table t (one reference, taken over) where
 * its route is r: send it to the side r's mode says, as if it just came. */
void proxy_release(struct exch *x, struct gw_table *t, const struct gw_route *r);

/* ------------------------------------------------------------------ hold.c */

/* A write on a held route: queue x on its loop (CP_CONNECT: the client's
 * bytes wait unread) or, past the route's hold_max, answer 503 with
 * Retry-After. Returns the client's phase. */
enum cphase hold_begin(struct exch *x);
/* GET /holds: each route's hold, writes held and writes in flight. */
json_t *hold_json(void);
/* From the loop's sweep: release the held writes whose route is no longer
 * held (in the order they came), refuse those whose time is up. */
void hold_sweep(struct gw_loop *l);
/* x leaves the queue without an answer (its client went away). */
void hold_cancel(struct exch *x);

/* respond.c: the uconn callbacks of an exchange. */
extern const struct uconn_ops proxy_uconn_ops;
/* proxy.c, for respond.c */
void proxy_attempt_failed(struct exch *x, int err);
/* A 5xx from new in mode new with fallback: retried on legacy (1), or not. */
int  proxy_fallback(struct exch *x, int status);
void proxy_maybe_finish(struct exch *x);
/* forward.c: the request head for the upstream into c->uhead; the answer
 * head for the client into c->ohead. */
void forward_request(struct exch *x);
void forward_response(struct exch *x, int status, const struct hp_head *h, int close);

/* ------------------------------------------------------------------ auth.c */

/* Edge authentication of the request in c: *user filled for a valid token.
 * ERR_UNAUTHORIZED / ERR_FORBIDDEN with *why per the route's policy. */
MUST_CHECK int gwauth_check(struct client *c, enum gw_auth policy, struct auth_claims *user,
                            const char **why);
/* 1 when the admin bearer token is present and right (constant time). */
int gwauth_admin(struct client *c);
/* The canary key: the user id, else the souk_canary cookie; *fresh when a
 * new cookie value was made (the answer must set it). */
const char *gwauth_canary_key(struct client *c, struct arena *a, const struct auth_claims *user,
                              int *fresh);

/* ------------------------------------------------------------------ ids.c */

/* The request id: the client's when valid, else a new one (in a). */
const char *ids_request_id(struct client *c, struct arena *a);
/* traceparent for the upstream: continue a valid one with a new span, else
 * start a trace. trace_id gets the 32 hex digits. */
const char *ids_traceparent(struct client *c, struct arena *a, char trace_id[33]);
/* n random lower-case hex digits, NUL-terminated, in a. */
char *ids_random(struct arena *a, size_t n);

/* ------------------------------------------------------------------ mirror.c */

/* Start a shadow copy of x's request to the route's new pool; NULL when the
 * bounds say no (counted as a drop). */
struct mirror *mirror_start(struct exch *x);
/* A piece of the client's request body / all of it is in. */
void mirror_request_body(struct mirror *m, const char *p, size_t n);
void mirror_request_done(struct mirror *m);
/* Where the legacy body is copied (bounded by the route's shadow max_body). */
struct buf *mirror_body_buf(struct mirror *m);
/* The legacy response head (for the compared headers). */
void mirror_legacy_head(struct mirror *m, const struct hhead *h);
/* The legacy answer is complete (ok) or will never be: the mirror compares
 * once both sides are in. */
void mirror_legacy_done(struct mirror *m, int status, struct buf *body, int ok);

/* ------------------------------------------------------------------ admin.c */

/* The admin listener: head parsed (auth, route; returns the phase), a body
 * piece (buffered up to GW_ADMIN_BODY_MAX), the whole request read. */
enum cphase admin_begin(struct client *c);
int         admin_body(struct client *c, const char *p, size_t n);
void        admin_run(struct client *c);

/* ------------------------------------------------------------------ canary_rollback.c */

/* Queue a canary rollback of route for the control loop (any thread). */
void           canary_rollback_request(const char *route);
MUST_CHECK int canary_rollback_init(uv_loop_t *control);
/* Before the control loop closes its handles: no more sends. */
void canary_rollback_free(void);

/* ------------------------------------------------------------------ health.c */

/* Probe every server of a pool with a health path, from the control loop. */
void health_start(uv_loop_t *control);
/* The table changed: probe its servers. */
void health_sync(void);
void health_stop(void);
/* 1 when no probe holds a handle any more. */
int health_idle(void);

/* stats.c: the whole /metrics text; the access line and counters of the
 * exchange that just ended on c. */
void metrics_text(struct buf *b);
void stats_access(struct client *c);

#endif
