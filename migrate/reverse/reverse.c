/*
 * reverse.c - souk-sync --reverse: one domain's service events written back
 * into the monolith (reverse.h). The consumer thread of lib/mq runs
 * reverse_event for each event; its inbox lives in a database of its own
 * (SOUK_REVERSE_DB, the backbone's tables), not the service's, whose inbox
 * records the service's own consumers' event ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "mdb.h"
#include "metrics.h"
#include "migrate/map/map.h"
#include "migrate/reverse/reverse.h"
#include "mq.h"
#include "req.h"
#include "server.h"

#define REVERSE_EVENTS_MAX 16
#define REVERSE_COLS_MAX   32

struct reverse_settings {
    const char      *listen, *log_level, *monolith_db, *service_db, *inbox_db;
    struct mq_config mq;
};

/* Consumer-thread state (mq_spec.ctx): the domain and its two connections. */
struct reverse {
    const struct map_domain *d;
    struct db               *svc;
    struct mdb              *mono;
};

static struct mq *reverse_mq;

static const char reverse_help[] =
    "souk-sync --domain DOMAIN --reverse: reverse sync of one migrated domain. Consumes the\n"
    "service's events (queue reverse-DOMAIN) and writes the current rows of each aggregate\n"
    "they name back into the monolith, in sessions with skip_replication=1 so the forward\n"
    "sync ignores them. The monolith account needs BINLOG ADMIN (or SUPER) for\n"
    "skip_replication. Domains with reverse sync: reviews, catalog, users, cart.";

/* How many '?' sql takes (the aggregate id goes to each). */
static size_t
marks(const char *sql)
{
    size_t n = 0;

    for (; *sql; sql++)
        n += *sql == '?';
    return n;
}

/* One step: the service's rows of aggregate id into the monolith. */
static int
step_run(struct reverse *rv, struct arena *a, const struct map_reverse_step *s, int64_t id)
{
    const char     *idt = db_i64_text(a, id);
    struct mdb_arg  args[REVERSE_COLS_MAX];
    struct db_rows *rs;
    size_t          i, c, n;
    int             rc;

    rc = db_exec_sql(rv->svc, a, s->svc_sql, 1, (const char *const[]){idt}, &rs);
    if (rc)
        return rc;
    n = s->mono_gone != NULL ? marks(s->mono_gone) : 0;
    if (rs->ncols > REVERSE_COLS_MAX || n > REVERSE_COLS_MAX) {
        log_error("reverse %s: a step has more than %d columns", rv->d->name, REVERSE_COLS_MAX);
        return ERR_INTERNAL; /* a mapping bug: map_reverse_step's statements */
    }
    if (s->mono_gone != NULL && (s->replace || rs->nrows == 0)) {
        for (i = 0; i < n; i++)
            args[i] = MDB_I64(id);
        rc = mdb_exec(rv->mono, s->mono_gone, args, n, NULL, NULL);
        if (rc)
            return rc;
    }
    for (i = 0; i < rs->nrows; i++) {
        for (c = 0; c < rs->ncols; c++)
            args[c] = MDB_STR(db_get(rs, i, c));
        rc = mdb_exec(rv->mono, s->mono_put, args, rs->ncols, NULL, NULL);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* The session flag, set before the transaction (MariaDB refuses it inside
 * one) and checked inside it: a reconnect in between would open a session
 * without it, whose writes the forward capture would take for the
 * monolith's own. */
static int
session_flagged(struct reverse *rv, struct arena *a)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_exec(rv->mono, "SET SESSION skip_replication = 1", NULL, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = mdb_begin(rv->mono);
    if (rc == ERR_OK)
        rc = mdb_query(rv->mono, a, "SELECT @@session.skip_replication", NULL, 0, &rs);
    if (rc == ERR_OK && mdb_i64(rs, 0, 0) != 1)
        rc = ERR_UNAVAILABLE; /* reconnected in between: try again */
    return rc;
}

/* Every step of the domain for the event's aggregate, in one monolith
 * transaction flagged skip_replication. */
static int
reverse_event(struct mq_msg *m)
{
    struct reverse                *rv = m->work.ext;
    const struct map_reverse_step *s;
    int64_t                        id = m->ev->aggregate_id;
    int                            rc;

    if (id < 1)
        return mq_msg_bad(m, "aggregate_id must be a positive integer");
    rc = session_flagged(rv, m->work.arena);
    if (rc == ERR_OK && rv->d->reverse->apply != NULL)
        rc = rv->d->reverse->apply(rv->mono, m->work.arena, m->ev);
    for (s = rv->d->reverse->steps; rc == ERR_OK && s != NULL && s->svc_sql != NULL; s++)
        rc = step_run(rv, m->work.arena, s, id);
    if (rc == ERR_OK)
        rc = mdb_commit(rv->mono);
    if (rc) {
        mdb_rollback(rv->mono);
        log_error("reverse %s: %s %s (aggregate %lld) not written back (%s); retried", rv->d->name,
                  event_key(m->ev->type), m->ev->id, (long long)id, err_name(rc));
        return rc;
    }
    log_debug("reverse %s: %s %s: aggregate %lld written back", rv->d->name, event_key(m->ev->type),
              m->ev->id, (long long)id);
    return ERR_OK;
}

static int
ready_mq(struct req *r)
{
    return mq_ready(reverse_mq) == ERR_OK ? ERR_OK : req_fail(r, ERR_UNAVAILABLE, "not consuming");
}

static const struct route        reverse_routes[] = {{NULL, NULL, NULL, 0, 0}};
static const struct server_check reverse_checks[] = {{"mq", ready_mq}, {NULL, NULL}};

/* The consumer table: one row per event key of the domain. */
static int
consumers_build(const struct map_domain *d, struct mq_consumer *out)
{
    size_t i;

    for (i = 0; d->reverse->events[i] != NULL && i < REVERSE_EVENTS_MAX; i++) {
        if (event_type_by_key(d->reverse->events[i], &out[i].type) != ERR_OK) {
            log_error("reverse %s: unknown event %s", d->name, d->reverse->events[i]);
            return ERR_INVALID;
        }
        out[i].fn = reverse_event;
    }
    out[i] = (struct mq_consumer){EVENT__COUNT, NULL};
    return ERR_OK;
}

static int
reverse_serve(const struct map_domain *d, const struct reverse_settings *st, struct reverse *rv)
{
    struct mq_consumer consumers[REVERSE_EVENTS_MAX + 1];
    struct arena      *a = arena_create();
    int                rc;

    rc = consumers_build(d, consumers);
    if (rc == ERR_OK)
        rc = mq_start(&reverse_mq, &(struct mq_spec){
                                       .service = arena_printf(a, REVERSE_QUEUE_FMT, d->name),
                                       .db_url = st->inbox_db,
                                       .consumers = consumers,
                                       .ctx = rv,
                                       .cfg = st->mq,
                                   });
    if (rc == ERR_OK) {
        log_info("reverse up: domain=%s listen=%s", d->name, st->listen);
        rc = server_run(&(struct server_spec){
            .name = "sync",
            .listen = st->listen,
            .routes = reverse_routes,
            .checks = reverse_checks,
            .workers = 1,
            .loops = 1,
        });
        mq_stop(reverse_mq);
        log_info("reverse down: domain=%s", d->name);
    }
    arena_destroy(a);
    return rc;
}

int
reverse_wanted(int *argc, char **argv)
{
    int i, k = 1, yes = 0;

    for (i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--reverse") == 0)
            yes = 1;
        else
            argv[k++] = argv[i];
    }
    *argc = k;
    return yes ||
           (getenv("SOUK_SYNC_REVERSE") != NULL && strcmp(getenv("SOUK_SYNC_REVERSE"), "1") == 0);
}

int
reverse_main(const struct map_domain *d, int argc, char **argv)
{
    struct reverse_settings st;
    struct reverse          rv = {.d = d};
    struct arena           *a = arena_create();
    int                     rc;

#define ST struct reverse_settings
    const struct cfg_var vars[] = {
        CFG_STR_ROW("SOUK_LISTEN", ST, listen, "127.0.0.1:7130",
                    "address for /health, /ready, /metrics"),
        CFG_STR_ROW("SOUK_LOG_LEVEL", ST, log_level, "info", "debug | info | warn | error"),
        CFG_STR_ROW("SOUK_MONOLITH_DB", ST, monolith_db,
                    "mysql://souk_monolith:souk-dev@127.0.0.1:53306/souk_monolith",
                    "MariaDB DSN of the monolith written to (BINLOG ADMIN or SUPER)"),
        CFG_STR_ROW(
            d->db_env, ST, service_db,
            arena_printf(a, "postgresql://%s:souk-dev@127.0.0.1:55432/%s", d->name, d->name),
            "PostgreSQL DSN of the domain's service (read)"),
        CFG_STR_ROW("SOUK_REVERSE_DB", ST, inbox_db,
                    "postgresql://migrate:souk-dev@127.0.0.1:55432/migrate",
                    "PostgreSQL DSN with the backbone's inbox table (not the service's)"),
        MQ_CFG_ROWS(ST, mq),
        {NULL, 0, 0, NULL, 0, 0, NULL},
    };
#undef ST

    memset(&st, 0, sizeof(st));
    cfg_load(vars, &st, argc, argv, reverse_help);
    log_open("sync", st.log_level);
    if (d->reverse == NULL) {
        log_error("reverse: domain %s has no reverse sync", d->name);
        arena_destroy(a);
        return 2;
    }
    rc = mdb_global_init();
    rv.svc = db_new(st.service_db, NULL);
    rv.mono = mdb_new(st.monolith_db);
    if (rc != ERR_OK || rv.svc == NULL || rv.mono == NULL) {
        log_error("reverse: SOUK_MONOLITH_DB or %s is not a valid dsn", d->db_env);
        rc = ERR_INVALID;
    } else {
        rc = reverse_serve(d, &st, &rv);
    }
    db_free(rv.svc);
    mdb_free(rv.mono);
    arena_destroy(a);
    mdb_global_end();
    return rc == ERR_OK ? 0 : 1;
}
