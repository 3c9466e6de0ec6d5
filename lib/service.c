/*
 * service.c - one start and stop sequence for every service (service.h):
 * config, log, auth, the service's setup, the event backbone, the HTTP
 * server with a worker per handler thread, then a clean stop. One service
 * runs per process, so the running spec and backbone are file statics.
 */
#include <stdlib.h>

#include "auth.h"
#include "log.h"
#include "req.h"
#include "service.h"

/* What r->worker points at: a handler thread's own connections. */
struct service_worker {
    struct db *db;
    void      *ext; /* spec->thread_new's state */
};

static const struct service_spec *running;
static struct mq                 *service_mq;
static struct sweep              *service_sweep;

/* Every handler thread owns its handles; they connect on first use, so a
 * dependency that is down at boot only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    struct service_worker *w = calloc(1, sizeof(*w));

    (void)index;
    (void)arg;
    if (w != NULL) {
        w->db = db_new(running->svc->db, running->stmts);
        if (running->thread_new != NULL)
            w->ext = running->thread_new();
    }
    if (w == NULL || w->db == NULL || (running->thread_new != NULL && w->ext == NULL)) {
        log_error("out of memory while starting a worker");
        abort();
    }
    return w;
}

static void *
loop_init(int index, struct uv_loop_s *loop, void *arg)
{
    (void)index;
    (void)arg;
    return running->loop_new != NULL ? running->loop_new(loop) : NULL;
}

static void
loop_fini(void *state)
{
    if (running->loop_free != NULL)
        running->loop_free(state);
}

static void
worker_fini(void *state)
{
    struct service_worker *w = state;

    if (w == NULL)
        return;
    db_free(w->db);
    if (running->thread_free != NULL)
        running->thread_free(w->ext);
    free(w);
}

struct db *
service_db(const struct req *r)
{
    return ((struct service_worker *)r->worker)->db;
}

void *
service_ext(const struct req *r)
{
    return ((struct service_worker *)r->worker)->ext;
}

struct work *
service_work(struct req *r)
{
    r->work.db = service_db(r);
    r->work.ext = service_ext(r);
    (void)req_trace_id(r);
    return &r->work;
}

int
service_ready_db(struct req *r)
{
    return db_ping(service_db(r));
}

int
service_ready_mq(struct req *r)
{
    (void)r;
    return mq_ready(service_mq);
}

int
service_secret_check(const struct service_config *c)
{
    if (auth_secret_check(c->jwt_secret, c->listen) == ERR_OK)
        return ERR_OK;
    log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
              "beyond loopback (the dev default lets anyone mint admin tokens)");
    return ERR_INVALID;
}

void
service_server_spec(const struct service_config *c, struct server_spec *spec)
{
    spec->listen = c->listen;
    spec->jwt_secret = c->jwt_secret;
    spec->loops = (int)c->loops;
    spec->workers = (int)c->workers;
    spec->header_timeout_ms = c->header_timeout_ms;
    spec->body_timeout_ms = c->body_timeout_ms;
    spec->idle_timeout_ms = c->idle_timeout_ms;
}

static int
exit_status(int rc)
{
    return rc == ERR_OK ? 0 : rc == ERR_INVALID ? 2 : 1;
}

/* Serve until SIGTERM with the backbone running (each consumer thread
 * makes its own state with spec->thread_new); stop both. */
static int
serve(const struct service_spec *spec)
{
    struct server_spec srv = {
        .name = spec->name,
        .routes = spec->routes,
        .checks = spec->checks,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .loop_routes = spec->loop_routes,
        .loop_init = loop_init,
        .loop_fini = loop_fini,
    };
    int rc;

    rc = mq_start(
        &service_mq,
        &(struct mq_spec){
            .service = spec->name,
            .db_url = spec->svc->db,
            .publishes = spec->publishes,
            .consumers = spec->consumers,
            .cfg = spec->svc->mq,
            .consumer_threads = spec->consumer_threads != NULL ? (int)*spec->consumer_threads : 1,
            .ctx_new = spec->thread_new,
            .ctx_free = spec->thread_free,
        });
    if (rc) {
        log_error("cannot start the event backbone (is SOUK_AMQP_URL an amqp:// URL?)");
        return exit_status(rc);
    }
    rc = sweep_start(&service_sweep, spec->sweeps, spec->svc->db, spec->stmts);
    if (rc) {
        mq_stop(service_mq);
        return exit_status(rc);
    }
    log_info("%s up: listen=%s", spec->name, spec->svc->listen);
    service_server_spec(spec->svc, &srv);
    rc = server_run(&srv);
    sweep_stop(service_sweep);
    service_sweep = NULL;
    mq_stop(service_mq);
    service_mq = NULL;
    log_info("%s down", spec->name);
    return rc == ERR_OK ? 0 : 1;
}

const struct service_spec *
service_running(void)
{
    return running;
}

int
service_run(const struct service_spec *spec)
{
    int rc;

    running = spec;
    cfg_load(spec->vars, spec->config, spec->argc, spec->argv, spec->help);
    log_open(spec->name, spec->svc->log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    rc = service_secret_check(spec->svc);
    if (rc == ERR_OK && spec->setup != NULL)
        rc = spec->setup();
    if (rc)
        return exit_status(rc);
    return serve(spec);
}
