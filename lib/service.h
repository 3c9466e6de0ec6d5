/*
 * service.h - what every souk service's main() has in common: the settings
 * of an HTTP process (SERVICE_CFG_ROWS), a per-thread PostgreSQL handle for
 * handlers, the /ready checks, and service_run, which starts config → log →
 * auth → the event backbone → the HTTP server and stops them in reverse. A
 * service's main.c is then its config table, its route table and one call.
 */
#ifndef SOUK_SERVICE_H
#define SOUK_SERVICE_H

#include <stdint.h>

#include "auth.h"
#include "cfg.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "server.h"
#include "sweep.h"

struct req;

/* Embed one in the service's config struct. SERVICE_CFG_ROWS fills the HTTP
 * process's settings; db and mq come from the service's own rows (its
 * SOUK_<SVC>_DB and MQ_CFG_ROWS(st, f.mq)) because their names and defaults
 * differ. The monolith uses only the rows and db (a MariaDB DSN). */
struct service_config {
    const char      *listen;
    const char      *db; /* the service's own database */
    struct mq_config mq;
    const char      *jwt_secret;
    const char      *log_level;
    int64_t          workers, loops;
    int64_t          header_timeout_ms, body_timeout_ms, idle_timeout_ms;
};

#define SERVICE_CFG_ROWS(st, f, listen_default)                                                    \
    CFG_STR_ROW("SOUK_LISTEN", st, f.listen, listen_default, "address to listen on"),              \
        CFG_STR_ROW("SOUK_JWT_SECRET", st, f.jwt_secret, AUTH_DEV_SECRET,                          \
                    "HS256 secret shared by users, the monolith, the services and the gateway"),   \
        CFG_INT_ROW("SOUK_WORKERS", st, f.workers, "0", 0, 256,                                    \
                    "handler threads (0 = 4 per core)"),                                           \
        CFG_INT_ROW("SOUK_LOOPS", st, f.loops, "0", 0, 64, "I/O loops (0 = one per core)"),        \
        CFG_STR_ROW("SOUK_LOG_LEVEL", st, f.log_level, "info", "debug | info | warn | error"),     \
        CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", st, f.header_timeout_ms, "10000", 100, 600000,  \
                    "time allowed to send request headers"),                                       \
        CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", st, f.body_timeout_ms, "30000", 100, 600000,      \
                    "time allowed to send a request body"),                                        \
        CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", st, f.idle_timeout_ms, "60000", 100, 3600000,     \
                    "keep-alive idle time before closing")

struct service_spec {
    const char                *name; /* "catalog": log tag, queue name, metrics */
    const char                *help; /* the --help paragraph */
    int                        argc;
    char                     **argv;
    const struct cfg_var      *vars;      /* SERVICE_CFG_ROWS, the db row, MQ_CFG_ROWS, its own */
    void                      *config;    /* the struct vars fill ... */
    struct service_config     *svc;       /* ... and the struct service_config inside it */
    const struct db_stmt      *stmts;     /* prepared on every handler connection; may be NULL */
    int                        publishes; /* 1: run the outbox relay */
    const struct mq_consumer  *consumers; /* NULL: consume nothing */
    const struct route        *routes;
    const struct server_check *checks; /* GET /ready; service_ready_* below */
    /* Optional: runs once the common settings are checked and before
     * anything starts; checks the service's own settings, registers its
     * metrics. ERR_INVALID exits 2 (setup logs why), any other code 1. */
    int (*setup)(void);
    /* Optional: state of the service's own that every handler thread
     * (service_ext) and every consumer thread (m->work.ext, made on that
     * thread) owns, e.g. a Redis handle; NULL only on out-of-memory. */
    void *(*thread_new)(void);
    void (*thread_free)(void *state);
    /* Optional: the config field (in config, read once it is loaded) that
     * says how many consumer threads to run (mq_spec.consumer_threads);
     * NULL: one. */
    const int64_t *consumer_threads;
    /* Optional: routes whose requests a loop handler sees first (server.h,
     * server_loop_route), and the state each I/O loop holds for them (r->loop,
     * e.g. a kv_async); loop_new runs before the loop does, loop_free on it. */
    const struct server_loop_route *loop_routes;
    void *(*loop_new)(struct uv_loop_s *loop);
    void (*loop_free)(void *state);
    /* Optional: periodic jobs (sweep.h), each on a thread of its own with a
     * database handle with stmts prepared; started after the backbone,
     * stopped before it. NULL or a table ended by a NULL name. */
    const struct sweep_spec *sweeps;
};

/* Load the config (exits 2 on bad settings, 0 after --help), open the log,
 * check the JWT secret, run setup, start the backbone and serve until
 * SIGTERM, then stop it all. Returns the process's exit status: 0 after a
 * clean drain, 2 for bad settings, 1 for anything else. */
int service_run(const struct service_spec *spec);

/* A handler's PostgreSQL handle (spec.stmts prepared; it connects on first
 * use, so a handler that never queries costs nothing) and the state
 * spec.thread_new made for its thread (NULL without one). */
struct db *service_db(const struct req *r);
void      *service_ext(const struct req *r);
/* r's work context (work.h) with the handler thread's database handle and
 * state: what a handler passes to store, events and cache code that
 * consumers call too. Lives as long as r. */
struct work *service_work(struct req *r);

/* The spec service_run was given (NULL before it runs). */
const struct service_spec *service_running(void);
/* service_dlq.c, admin routes a consuming service lists in its table as
 * GET /api/v2/admin/dlq/<name> and POST /api/v2/admin/dlq/<name>/replay:
 * its dead letters (lib/mq_dlq.c), listed and sent back to its queue. */
#define SERVICE_DLQ_BODY 4096 /* the replay route's max_body: one id */
int service_dlq_list(struct req *r);
int service_dlq_replay(struct req *r);
/* /ready checks: the handler thread's database answers (with every
 * statement prepared); the backbone's threads are connected. */
MUST_CHECK int service_ready_db(struct req *r);
MUST_CHECK int service_ready_mq(struct req *r);

/* For a process that runs server_run itself (the monolith): ERR_INVALID,
 * logged, when c's JWT secret is not fit for its listen address; and the
 * server_spec fields that come from c (the rest stay as they were). */
MUST_CHECK int service_secret_check(const struct service_config *c);
void           service_server_spec(const struct service_config *c, struct server_spec *spec);

#endif
