/*
 * mqprobe.c - souk-mqprobe: a tiny publisher + consumer over lib/mq.c for
 * lib/t/24_backbone.t. It emits numbered events through the outbox (one
 * transaction each, like a service's write) and consumes them into an
 * effects table that has no unique key, so an event applied twice shows up
 * as two rows. Not a product; the SQL lives here because there is no
 * service around it. Tables: see lib/t/24_backbone.t.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mq.h"
#include "req.h"
#include "server.h"

struct probe_config {
    const char      *listen, *db, *service, *log_level;
    struct mq_config mq;
    int              consume;
    int64_t          abort_on, abort_after_commit_on, consumers, sleep_ms;
};

#define CFG struct probe_config
static const struct cfg_var probe_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7998", "address to listen on"),
    CFG_STR_ROW("SOUK_PROBE_DB", CFG, db, "postgresql://souk_admin:souk-dev@127.0.0.1:55432/probe",
                "PostgreSQL database with outbox, inbox, effects and poison"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_PROBE_SERVICE", CFG, service, "probe", "queue name"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_BOOL_ROW("SOUK_PROBE_CONSUME", CFG, consume, "1", "run the consumer"),
    CFG_INT_ROW("SOUK_PROBE_ABORT_ON", CFG, abort_on, "0", 0, INT64_MAX,
                "abort() the process when handling this number (0: never)"),
    CFG_INT_ROW("SOUK_PROBE_ABORT_AFTER_COMMIT_ON", CFG, abort_after_commit_on, "0", 0, INT64_MAX,
                "abort() in the after-commit hook of this number: applied, never acked (0: never)"),
    CFG_INT_ROW("SOUK_PROBE_CONSUMERS", CFG, consumers, "1", 1, 64,
                "consumer threads (mq_spec.consumer_threads)"),
    CFG_INT_ROW("SOUK_PROBE_SLEEP_MS", CFG, sleep_ms, "0", 0, 10000,
                "each handler sleeps this long (a slow dependency)"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};
#undef CFG

static struct probe_config probe;
static struct mq          *probe_mq;

struct emit_input {
    int64_t n, start, fail_attempts, mixed, pad;
};

static const struct decode_field emit_fields[] = {
    {"n", DECODE_I64, offsetof(struct emit_input, n), 1, 1, 100000, 0},
    {"start", DECODE_I64, offsetof(struct emit_input, start), 0, 0, INT64_MAX / 2, 0},
    {"fail_attempts", DECODE_I64, offsetof(struct emit_input, fail_attempts), 0, 0, 100, 0},
    {"mixed", DECODE_I64, offsetof(struct emit_input, mixed), 0, 0, 1, 0},
    {"pad", DECODE_I64, offsetof(struct emit_input, pad), 0, 0, 1000000, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* POST /emit {"n", "start", "fail_attempts", "mixed"}: n events, one
 * transaction each. mixed: odd numbers go out as product.created, which no
 * queue is bound for (they land in souk.unrouted), so one relay batch is
 * confirmed by two queues, out of order. pad: that many bytes of padding in
 * each payload (large messages fill socket buffers). */
static int
emit(struct req *r)
{
    struct emit_input in = {0};
    struct db        *db = r->worker;
    char             *padding;
    json_t           *body;
    int64_t           i;
    int               rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, emit_fields, &in, NULL);
    if (rc)
        return rc;
    padding = arena_alloc(r->arena, (size_t)in.pad + 1);
    memset(padding, 'x', (size_t)in.pad);
    for (i = in.start; i < in.start + in.n; i++) {
        json_t *p = json_pack("{s:I,s:I,s:s%}", "n", (json_int_t)i, "fail_attempts",
                              (json_int_t)in.fail_attempts, "pad", padding, (size_t)in.pad);

        rc = db_begin(db);
        if (rc == ERR_OK)
            rc = db_exec_sql(db, r->arena, "INSERT INTO emitted (n) VALUES ($1::bigint)", 1,
                             (const char *const[]){db_i64_text(r->arena, i)}, NULL);
        if (rc == ERR_OK)
            rc = mq_outbox_put(&(struct work){r->arena, db, r->request_id, NULL},
                               in.mixed && i % 2 ? EVENT_PRODUCT_CREATED : EVENT_PRODUCT_UPDATED, i,
                               json_incref(p));
        json_decref(p);
        if (rc == ERR_OK)
            rc = db_commit(db);
        if (rc) {
            db_rollback(db);
            return rc;
        }
    }
    return req_reply(r, 201, json_pack("{s:I}", "emitted", (json_int_t)in.n));
}

/* after_commit calls: all, and those that found no transaction with writes
 * open on the consumer's connection (i.e. after the commit). */
static atomic_llong hooks_run, hooks_outside_tx;
/* Consumer threads that made their state (ctx_new), handlers running now and
 * the most that ever ran at once, and handlers whose m->work.ext was not
 * their thread's own state. */
static atomic_llong threads_made, running, running_max, foreign_ctx;

struct probe_thread {
    pthread_t self;
};

static void *
probe_thread_new(void)
{
    struct probe_thread *t = calloc(1, sizeof(*t));

    if (t != NULL) {
        t->self = pthread_self();
        atomic_fetch_add(&threads_made, 1);
    }
    return t;
}

static void
probe_thread_free(void *state)
{
    free(state);
}

/* Count this handler as running for sleep_ms (the slow dependency). */
static void
slow_part(struct mq_msg *m)
{
    const struct probe_thread *t = m->work.ext;
    struct timespec            ts = {probe.sleep_ms / 1000, (probe.sleep_ms % 1000) * 1000000L};
    long long                  now, max;

    if (t == NULL || !pthread_equal(t->self, pthread_self()))
        atomic_fetch_add(&foreign_ctx, 1);
    now = atomic_fetch_add(&running, 1) + 1;
    max = atomic_load(&running_max);
    while (now > max && !atomic_compare_exchange_weak(&running_max, &max, now))
        ;
    if (probe.sleep_ms > 0)
        nanosleep(&ts, NULL);
    atomic_fetch_sub(&running, 1);
}

static void
after_commit(struct mq_msg *m, void *arg)
{
    struct db_rows *rs;
    int             rc;

    json_int_t n = 0;

    atomic_fetch_add(&hooks_run, 1);
    if (arg != m->ev)
        return;
    if (probe.abort_after_commit_on != 0 && json_unpack(m->ev->payload, "{s:I}", "n", &n) == 0 &&
        n == probe.abort_after_commit_on)
        abort(); /* committed, not acked: the redelivery finds it in the inbox */
    rc = db_exec_sql(m->work.db, m->work.arena, "SELECT txid_current_if_assigned() IS NULL", 0,
                     NULL, &rs);
    if (rc == ERR_OK && rs->nrows == 1 && db_get(rs, 0, 0)[0] == 't')
        atomic_fetch_add(&hooks_outside_tx, 1);
}

/* The consumer: fail while asked to, or while the number is poisoned. The
 * after-commit hook is set first, so failed attempts show it is not run. */
static int
on_event(struct mq_msg *m)
{
    struct db_rows *rs;
    json_int_t      n = 0, fail = 0;
    int             rc;

    m->after_commit = after_commit;
    m->after_commit_arg = (void *)m->ev;
    if (json_unpack(m->ev->payload, "{s:I,s:I}", "n", &n, "fail_attempts", &fail) != 0) {
        m->error = "payload is not a probe payload";
        return ERR_INVALID;
    }
    if (probe.abort_on != 0 && n == probe.abort_on)
        abort(); /* a handler that crashes the process, inside its transaction */
    slow_part(m);
    if (fail >= m->attempt) {
        m->error = arena_printf(m->work.arena, "asked to fail until attempt %lld", (long long)fail);
        return ERR_CONFLICT;
    }
    rc = db_exec_sql(m->work.db, m->work.arena, "SELECT 1 FROM poison WHERE n = $1::bigint", 1,
                     (const char *const[]){db_i64_text(m->work.arena, n)}, &rs);
    if (rc)
        return rc;
    if (rs->nrows > 0) {
        m->error = arena_printf(m->work.arena, "number %lld is poisoned", (long long)n);
        return ERR_CONFLICT;
    }
    return db_exec_sql(m->work.db, m->work.arena,
                       "INSERT INTO effects (event_id, n) VALUES ($1, $2)", 2,
                       (const char *const[]){m->ev->id, db_i64_text(m->work.arena, n)}, NULL);
}

static const struct mq_consumer probe_consumers[] = {
    {EVENT_PRODUCT_UPDATED, on_event},
    {EVENT__COUNT, NULL},
};

/* GET /effects: rows, distinct events, distinct numbers. */
static int
effects(struct req *r)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(r->worker, r->arena,
                     "SELECT count(*), count(DISTINCT event_id), count(DISTINCT n) FROM effects", 0,
                     NULL, &rs);
    if (rc)
        return rc;
    return req_reply(r, 200,
                     json_pack("{s:I,s:I,s:I}", "rows", (json_int_t)db_i64(rs, 0, 0), "events",
                               (json_int_t)db_i64(rs, 0, 1), "numbers",
                               (json_int_t)db_i64(rs, 0, 2)));
}

/* GET /hooks: after-commit hooks run, and how many of them after the commit;
 * consumer threads, the most handlers that ran at once, handlers that saw
 * another thread's state. */
static int
hooks(struct req *r)
{
    return req_reply(r, 200,
                     json_pack("{s:I,s:I,s:I,s:I,s:I}", "after_commit",
                               (json_int_t)atomic_load(&hooks_run), "outside_tx",
                               (json_int_t)atomic_load(&hooks_outside_tx), "threads",
                               (json_int_t)atomic_load(&threads_made), "max_parallel",
                               (json_int_t)atomic_load(&running_max), "foreign_ctx",
                               (json_int_t)atomic_load(&foreign_ctx)));
}

static int
ready_db(struct req *r)
{
    return db_ping(r->worker);
}

static int
ready_mq(struct req *r)
{
    (void)r;
    return mq_ready(probe_mq);
}

static const struct route probe_routes[] = {
    {"POST", "/emit", emit, 0, 0},
    {"GET", "/effects", effects, 0, 0},
    {"GET", "/hooks", hooks, 0, 0},
    {NULL, NULL, NULL, 0, 0},
};

static const struct server_check probe_checks[] = {
    {"postgres", ready_db},
    {"rabbitmq", ready_mq},
    {NULL, NULL},
};

static void *
worker_init(int index, void *arg)
{
    (void)index;
    (void)arg;
    return db_new(probe.db, NULL);
}

static void
worker_fini(void *state)
{
    db_free(state);
}

int
main(int argc, char **argv)
{
    int rc;

    cfg_load(probe_vars, &probe, argc, argv, "souk-mqprobe: exercises lib/mq for the tests.");
    log_open("mqprobe", probe.log_level);
    rc = mq_start(&probe_mq, &(struct mq_spec){
                                 .service = probe.service,
                                 .db_url = probe.db,
                                 .publishes = 1,
                                 .consumers = probe.consume ? probe_consumers : NULL,
                                 .cfg = probe.mq,
                                 .consumer_threads = (int)probe.consumers,
                                 .ctx_new = probe_thread_new,
                                 .ctx_free = probe_thread_free,
                             });
    if (rc) {
        log_error("cannot start the backbone: %s", err_name(rc));
        return 2;
    }
    rc = server_run(&(struct server_spec){
        .name = "mqprobe",
        .listen = probe.listen,
        .routes = probe_routes,
        .checks = probe_checks,
        .jwt_secret = AUTH_DEV_SECRET,
        .loops = 1,
        .workers = 2,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
    });
    mq_stop(probe_mq);
    return rc == ERR_OK ? 0 : 1;
}
