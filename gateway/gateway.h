/*
 * gateway.h - souk-gateway's structs and cross-file prototypes.
 *
 * Data plane (main.c, proxy.c, upstream.c): libuv loops that parse client
 * requests, pick a route and an upstream, and stream bytes both ways without
 * ever blocking a loop. Control plane (routes.c, admin.c): the route table
 * as immutable, reference-counted data swapped by one pointer. Policies
 * plugged in by route fields: auth.c, ratelimit.c, breaker.c, canary.c,
 * shadow.c; gwevents.c keeps the event log shown by GET /events.
 *
 * Runtime state that must survive a route-table swap (breakers, canary
 * windows, shadow counters and samples, rate-limit buckets) is keyed by route
 * or upstream NAME and owned by its module, never by the table.
 */
#ifndef SOUK_GATEWAY_H
#define SOUK_GATEWAY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

struct gateway_config {
    const char *listen;       /* SOUK_GATEWAY_LISTEN 127.0.0.1:8080 */
    const char *admin_listen; /* SOUK_GATEWAY_ADMIN_LISTEN 127.0.0.1:8081 */
    const char *admin_token;  /* SOUK_GATEWAY_ADMIN_TOKEN */
    const char *routes_path;  /* SOUK_GATEWAY_ROUTES var/gateway/routes.json */
    const char *jwt_secret;   /* SOUK_JWT_SECRET */
    const char *web_dir;      /* SOUK_GATEWAY_WEB_DIR build/web */
    const char *log_level;
    int         access_log; /* SOUK_GATEWAY_ACCESS_LOG 1 */
    int64_t     loops;
    int64_t     header_timeout_ms, idle_timeout_ms, body_timeout_ms;
    int64_t     max_conns;
    const char *sync; /* SOUK_GATEWAY_SYNC: domain=host:port,... (GET /sync) */
};

extern struct gateway_config gateway; /* read-only after main() */

/* ------------------------------------------------------------------ routes.c */

enum gw_mode { GW_MODE_LEGACY, GW_MODE_SHADOW, GW_MODE_CANARY, GW_MODE_NEW };
enum gw_auth { GW_AUTH_PUBLIC, GW_AUTH_USER, GW_AUTH_ADMIN };
enum gw_balance { GW_BALANCE_ROUND_ROBIN, GW_BALANCE_LEAST_CONN };

#define GW_METHOD_BIT(m) (1u << (m)) /* m: index in routes_method_names */
#define GW_MAX_SERVERS   16
#define GW_MAX_IGNORE    32

struct gw_pool_def {
    char           *name;                    /* "monolith" */
    char           *servers[GW_MAX_SERVERS]; /* "127.0.0.1:7000" */
    int             nservers;
    enum gw_balance balance;
    char           *health_path; /* NULL = no active checks */
    int64_t         health_interval_ms;
    int             max_idle; /* keep-alive connections kept per server */
};

struct gw_route {
    char        *name;    /* unique, "products" */
    unsigned     methods; /* GW_METHOD_BIT set; 0 = every method */
    char        *path;    /* "/api/v1/products" prefix, or a template with {x} */
    size_t       path_len;
    int          is_template;
    int          legacy;   /* index into table->pools, -1 = none */
    int          new_pool; /* index into table->pools, -1 = none */
    enum gw_mode mode;
    int          canary_percent; /* 0..100 */
    enum gw_auth auth;
    size_t       max_body; /* bytes; 0 = unlimited streaming */
    int64_t      connect_timeout_ms, timeout_ms;
    int          retries;                  /* extra attempts, GET/HEAD/OPTIONS only */
    int          fallback;                 /* mode new: failed GET/HEAD/OPTIONS go to legacy */
    double       rl_ip_rate, rl_user_rate; /* tokens per second; 0 = off */
    int          rl_ip_burst, rl_user_burst;
    /* shadow */
    unsigned shadow_methods; /* default GET|HEAD */
    size_t   shadow_max_body;
    int      shadow_max_inflight;
    char    *shadow_ignore[GW_MAX_IGNORE]; /* JSON pointers, "/items/0/created_at" */
    int      nshadow_ignore;
    char    *shadow_headers[8]; /* response headers compared, lower-case */
    int      nshadow_headers;
    /* canary auto-rollback */
    double  rollback_error_rate; /* 0 = never */
    int64_t rollback_window_ms;
    int     rollback_min_requests;
    /* hold (policy/hold.c): a migration's fence on the route's writes */
    int     hold;     /* writes (not GET/HEAD) wait for the hold to end */
    int64_t hold_ms;  /* a held write waits at most this long, then 503 */
    int     hold_max; /* held writes at once, every loop; more are refused 503 */
    /* static (edge/static.c): files of this app answered by the gateway */
    char *static_app; /* "storefront": SOUK_GATEWAY_WEB_DIR/storefront/; NULL = proxied */
};

struct gw_table {
    _Atomic int         refs;
    uint64_t            version; /* increases on every swap */
    struct gw_route    *routes;  /* sorted most specific first */
    int                 nroutes;
    struct gw_pool_def *pools;
    int                 npools;
    json_t             *doc; /* the canonical JSON this table was built from */
};

extern const char *const routes_method_names[]; /* "GET", "HEAD", ...; NULL-terminated */

/* Build a table from a JSON document. Every problem is appended to errors as
 * one line ("routes[2].mode: must be legacy, shadow, canary or new");
 * ERR_INVALID if there is any. The table has one reference. */
MUST_CHECK int routes_parse(const char *json, size_t len, struct gw_table **out,
                            struct buf *errors);
/* The most specific route for method+path (path without query), or NULL. */
const struct gw_route *routes_match(const struct gw_table *t, const char *method, const char *path,
                                    size_t path_len);
/* The current table with a reference taken; release with routes_unref. */
struct gw_table *routes_acquire(void);
void             routes_unref(struct gw_table *t);
/* Install t (takes over the caller's reference) and persist it to path
 * (write to a temp file, fsync, rename). The previous table is released when
 * its last in-flight request finishes. */
MUST_CHECK int routes_install(struct gw_table *t, const char *path);
/* Read path and install it; on any error the current table stays. */
MUST_CHECK int routes_load_file(const char *path, struct buf *errors);
/* A JSON summary of what installing t would change against the current table. */
json_t *routes_diff(const struct gw_table *cur, const struct gw_table *next);

/* Added by routes.c / routes_live.c (declarations only; see README.routes.md). */
/* routes_parse for an already-parsed document (takes its own reference). */
MUST_CHECK int routes_build(json_t *doc, struct gw_table **out, struct buf *errors);
/* Read and parse path without installing. ERR_NOT_FOUND when it does not
 * exist, ERR_INTERNAL when it cannot be read, ERR_INVALID with errors. */
MUST_CHECK int routes_read_file(const char *path, struct gw_table **out, struct buf *errors);
/* The member of doc's "routes" array named name (borrowed), or NULL. */
json_t *routes_doc_route(json_t *doc, const char *name);
/* The document of t (a deep copy; the caller owns it): GET /routes. */
json_t *routes_to_json(const struct gw_table *t);
/* A new table from cur's document with route name's mode set (and its
 * canary_percent when percent >= 0). ERR_NOT_FOUND for an unknown name,
 * ERR_INVALID with errors if the result does not validate (canary needs new). */
MUST_CHECK int routes_with_mode(const struct gw_table *cur, const char *name, const char *mode,
                                int percent, struct gw_table **out, struct buf *errors);
/* routes_with_mode on the current table, then install and persist to path
 * (NULL: no file), atomically with respect to other installs; logs a
 * "route_patch" event; a write failure installs nothing. PATCH /routes/{name}.
 * Blocks on fsync: call it off the event loops. */
MUST_CHECK int routes_set_mode(const char *name, const char *mode, int percent, const char *path,
                               struct buf *errors);
/* The same for a safety action (canary rollback): installed in memory first,
 * then persisted; a write failure does not undo it but records a
 * "persist_failed" event and makes routes_persisted() 0 (GET /ready) until a
 * later write, or a load of the file, succeeds. */
MUST_CHECK int routes_force_mode(const char *name, const char *mode, const char *path,
                                 struct buf *errors);
/* Several routes changed in one install (PATCH /routes, PATCH /routes/{name}):
 * changes is {"name": {"mode": m, "canary_percent": p, "hold": b}, ...}, each
 * member optional. Validated as one table, persisted to path, installed
 * atomically (a cutover flips its routes and ends their hold at once); a
 * "route_patch" event. ended (may be NULL) gets {"name": held_ms} for each
 * route whose hold this install ended. ERR_NOT_FOUND for an unknown name,
 * ERR_INVALID with errors. Blocks on fsync: off the event loops. */
MUST_CHECK int routes_patch_many(json_t *changes, const char *path, struct buf *errors,
                                 json_t *ended);
/* 0 while the table in memory is newer than the routes file. */
int routes_persisted(void);
/* GW_METHOD_BIT of method, or 0 for a method not in routes_method_names. */
unsigned routes_method_bit(const char *method);
/* "legacy", "shadow", "canary" or "new". */
const char *routes_mode_name(enum gw_mode m);
/* Release the current table (exit path, so ASan sees no leak). */
void routes_shutdown(void);
/* The current table's version, read without a lock (0 before the first
 * install): a loop may keep one acquired table and re-acquire only when this
 * changes, instead of taking the acquire mutex per request. */
uint64_t routes_version(void);

/* ------------------------------------------------------------ static_load.c */

/* The pages the gateway serves itself (route member "static", and the
 * console on the admin listener): every app directory under the web
 * directory, read into memory whole, so a data loop never touches the disk.
 * A snapshot is immutable and reference-counted, swapped like the table. */
struct static_file {
    char       *path; /* relative to the app, "main-3QXG7J2M.js", no leading '/' */
    const char *type; /* Content-Type */
    char       *data; /* the bytes, and their gzip sibling (NULL: none) */
    size_t      len, gz_len;
    char       *gz;
    char        etag[24], gz_etag[28]; /* quoted strong validators */
    int         hashed;                /* name-HASH.ext: immutable */
};

struct static_app {
    char               *name;
    struct static_file *files; /* sorted by path */
    int                 nfiles;
};

struct static_site {
    _Atomic int        refs;
    struct static_app *apps;
    int                napps;
    size_t             bytes;
};

/* Read every app under dir into a new snapshot and install it; the old one
 * goes with its last reader. A missing dir installs an empty site (404s);
 * ERR_TOO_LARGE past the bounds (the current site stays). Blocks on the
 * disk: the control loop only (start-up, SIGHUP, PUT /routes). Logged:
 * callers go on either way. */
int static_reload(const char *dir);
/* The current site with a reference taken (NULL before the first load). */
struct static_site *static_acquire(void);
/* One more reference to s (a queued write still pointing into its files). */
void static_retain(struct static_site *s);
void static_release(struct static_site *s);
/* Forget the site (exit path). */
void static_shutdown(void);
/* The file of app at path, or NULL; the app itself via *app (NULL: not built). */
const struct static_file *static_find(const struct static_site *s, const char *app,
                                      const char *path, const struct static_app **out);

/* ------------------------------------------------------------ static.c (pure rules) */

struct arena;

/* Content-Type of a file name by its extension (table); octet-stream if unknown. */
const char *static_type(const char *name);
/* 1 when the last segment of path is name-HASH.ext (8+ letters and digits): immutable. */
int static_hashed(const char *path);
/* The decoded path relative to the app (arena), from the raw request path after
 * the route's prefix: "" for the root. ERR_INVALID for a NUL, a bad escape, an
 * encoded '/' or '\\', control bytes, or a "." / ".." / empty segment. */
MUST_CHECK int static_clean(struct arena *a, const char *p, size_t n, char **out);
/* 1 when an If-None-Match value (a list, or "*") names etag (weak comparison). */
int static_etag_match(const char *inm, size_t n, const char *etag);
/* 1 when an Accept-Encoding value accepts gzip (q=0 refuses). */
int static_accepts_gzip(const char *ae, size_t n);

/* ------------------------------------------------------------ jcheck.c */

/* Strict, table-driven checking of a JSON object into a C struct, reporting
 * every problem as one line "path: problem" (routes.c's document). */
#define JCHECK_PATH_LEN 256 /* routes[12].rate_limit.user.burst */

struct arena;

struct jcheck {
    struct buf   *errors; /* problems, one per line; may be NULL */
    int           nerr;
    struct arena *a;   /* JCHECK_STR copies */
    void         *ctx; /* for JCHECK_FN checkers */
};

enum jcheck_type {
    JCHECK_INT,  /* JSON integer in [min, max] -> int */
    JCHECK_I64,  /* -> int64_t */
    JCHECK_SIZE, /* -> size_t */
    JCHECK_NUM,  /* JSON number in [min, max] -> double */
    JCHECK_BOOL, /* -> int */
    JCHECK_ENUM, /* a string in aux's NULL-terminated names -> its index, as int */
    JCHECK_STR,  /* a string that problem accepts -> arena copy (char *) */
    JCHECK_STRS, /* array of at most max such strings -> char *[] at off, int count at cnt */
    JCHECK_OBJ,  /* an object checked against aux's sub-table, into the same base */
    JCHECK_FN,   /* fn checks and stores it */
};

typedef const char *jcheck_problem_fn(const char *z); /* NULL when z is acceptable */
typedef void        jcheck_fn(struct jcheck *c, json_t *v, const char *path, void *dst);

struct jcheck_field {
    const char        *name; /* NULL ends a table */
    enum jcheck_type   type;
    size_t             off, cnt; /* offsets in base */
    double             min, max;
    const void        *aux;
    jcheck_problem_fn *problem;
    jcheck_fn         *fn;
    int                required;
};

/* Record one problem at path. */
void jcheck_bad(struct jcheck *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* parent.key into out (JCHECK_PATH_LEN bytes), a long key cut at a UTF-8 boundary. */
void jcheck_path(char *out, const char *parent, const char *key);
/* parent[i] into out (JCHECK_PATH_LEN bytes). */
void jcheck_index(char *out, const char *parent, size_t i);
/* Index of z in NULL-terminated names, or -1. */
int jcheck_enum_index(const char *const *names, const char *z);
/* Check obj against fields into base: unknown members, wrong types, ranges,
 * missing required members are each one problem. */
void jcheck_object(struct jcheck *c, json_t *obj, const char *path,
                   const struct jcheck_field *fields, void *base);

/* ------------------------------------------------------------ breaker.c */

enum gw_breaker_state { GW_BREAKER_CLOSED, GW_BREAKER_OPEN, GW_BREAKER_HALF_OPEN };

/* One breaker per upstream server address; thread-safe. */
int  breaker_allow(const char *server, uint64_t now_ms); /* 1 = send, 0 = fail fast */
void breaker_record(const char *server, int ok, uint64_t now_ms);
enum gw_breaker_state breaker_state(const char *server);
json_t               *breaker_json(const char *server);
/* Added by breaker.c: every breaker back to closed with no history (tests). */
void breaker_reset(void);

/* ------------------------------------------------------------ ratelimit.c */

/* Take one token from the bucket (route, key); 1 = allowed, 0 = limited with
 * *retry_after_s set. Thread-safe; idle buckets are evicted. */
int ratelimit_take(const char *route, const char *key, double rate, int burst, uint64_t now_ms,
                   int *retry_after_s);
/* Added by ratelimit.c: buckets held now (tests, metrics); forget them all. */
size_t ratelimit_size(void);
void   ratelimit_reset(void);

/* ------------------------------------------------------------ canary.c */

/* Deterministic sticky choice: 1 = send to new. key is the user id, or the
 * canary cookie of an anonymous client. */
int canary_pick(const char *key, int percent);
/* Record an answer from the new pool of route; returns 1 when the error rate
 * over the window crossed the route's threshold (the caller rolls back). */
int canary_record(const struct gw_route *r, int failed, uint64_t now_ms);
/* Added by canary.c: forget every window (tests). */
void canary_reset(void);

/* ------------------------------------------------------------ shadow.c */

/* Compare a legacy and a shadow answer as normalised JSON (key order
 * ignored, ignore pointers removed), plus status and selected headers.
 * Records the outcome (and a sample on mismatch) under the route's name. */
void    shadow_compare(const struct gw_route *r, int legacy_status, const char *legacy_body,
                       size_t legacy_len, int new_status, const char *new_body, size_t new_len,
                       const char *request_line);
void    shadow_drop(const char *route); /* a mirror not sent (bounds) */
json_t *shadow_json(void);              /* GET /shadow */
/* 1 when a and b are equal after normalisation (pure; unit-tested). */
int shadow_equal(json_t *a, json_t *b, char *const *ignore, int nignore, char *where,
                 size_t where_len);
/* Added by shadow.c. One side of a comparison; headers (NULL: not compared)
 * holds the values of the route's shadow_headers[i], NULL where absent. */
struct shadow_answer {
    int                status;
    const char        *body;
    size_t             len;
    const char *const *headers;
};
/* shadow_compare with the selected headers compared too (after status). A
 * mismatch sample's "where" is a JSON pointer into the body, or "status",
 * "header <name>", or "body" (non-JSON bytes differ). Parses both bodies:
 * for large ones, call it off the event loop. */
void shadow_compare_answers(const struct gw_route *r, const struct shadow_answer *legacy,
                            const struct shadow_answer *shadow, const char *request_line);
/* Zero every route's counters and drop the samples (tests). */
void shadow_reset(void);

/* ------------------------------------------------------------ hold.c */

/* Control side of the hold: next replaces old (NULL at start-up); note
 * which routes start and end a hold (time, a "hold_end" event with the
 * duration, counters for /metrics); ended (may be NULL) gets {"name": ms}.
 * Called under the install lock. */
void hold_note(const struct gw_table *old, const struct gw_table *next, json_t *ended);
/* The holds' series for /metrics. */
void hold_render(struct buf *b);

/* ------------------------------------------------------------ gwevents.c */

void    gwevents_add(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
json_t *gwevents_json(void); /* GET /events: newest first, bounded ring */
/* Added by gwevents.c: forget every event (tests). */
void gwevents_reset(void);

/* ---- state files (state/jsonfile.c): the routes file and the migration
 * record (admin/migration.c): the files the gateway keeps for itself. */
/* Read path as one JSON document: a regular file (a FIFO is refused, never
 * waited on) of at most max bytes, duplicate keys refused. ERR_NOT_FOUND when
 * it does not exist, ERR_INTERNAL when it cannot be read, ERR_INVALID
 * otherwise; the reason is one line of errors, prefixed by path. */
MUST_CHECK int json_file_load(const char *path, size_t max, json_t **out, struct buf *errors);
/* Write doc to path atomically with mode (a fresh sibling .tmp, fsync, rename,
 * fsync the directory); logged with the reason on failure. */
MUST_CHECK int json_file_save(const json_t *doc, const char *path, mode_t mode);
/* mkdir -p of path's directory (0755). */
MUST_CHECK int state_make_dirs(const char *path);
/* out = name in path's directory ("a/routes.json" -> "a/migration.json",
 * "routes.json" -> "migration.json"); ERR_INVALID ("" in out) if it does not
 * fit in size. */
MUST_CHECK int state_sibling_path(const char *path, const char *name, char *out, size_t size);

#endif
