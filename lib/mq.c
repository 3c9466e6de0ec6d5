/*
 * mq.c - the event backbone's shared half: mq_start/mq_stop/mq_ready, the
 * metrics, and the outbox insert. The broker connection every part uses is
 * mq_conn.c; the relay is mq_relay.c, the consumers mq_consume.c, soukctl
 * dlq mq_dlq.c. The only files of the tree that include rabbitmq-c are mq*.c.
 */
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "db.h"
#include "log.h"
#include "mq_int.h"

/* clang-format off */
struct metric mq_published = {.name = "souk_events_published_total",
    .help = "Outbox events published and confirmed by the broker.", .kind = METRIC_COUNTER};
struct metric mq_publishes = {.name = "souk_outbox_publishes_total",
    .help = "basic.publish calls by the relay: a row published again after a failure counts again.", .kind = METRIC_COUNTER};
struct metric mq_publish_failures = {.name = "souk_events_publish_failures_total",
    .help = "Relay batches that failed (broker down, nack) and will be retried.", .kind = METRIC_COUNTER};
struct metric mq_backlog = {.name = "souk_outbox_backlog",
    .help = "Outbox rows not yet published.", .kind = METRIC_GAUGE};
struct metric mq_oldest_age = {.name = "souk_outbox_oldest_age_seconds",
    .help = "Age of the oldest unpublished outbox row.", .kind = METRIC_GAUGE};
struct metric mq_consumed = {.name = "souk_events_consumed_total",
    .help = "Events handled and committed.", .kind = METRIC_COUNTER};
struct metric mq_duplicates = {.name = "souk_events_duplicates_total",
    .help = "Events skipped because the inbox had already recorded them.", .kind = METRIC_COUNTER};
struct metric mq_retried = {.name = "souk_events_retried_total",
    .help = "Events whose handler failed and that were scheduled for a delayed retry.", .kind = METRIC_COUNTER};
struct metric mq_dead_lettered = {.name = "souk_events_dead_lettered_total",
    .help = "Events parked in the dead-letter queue.", .kind = METRIC_COUNTER};
/* clang-format on */

/* The outbox insert takes a transaction-scoped advisory lock first, so rows
 * get their seq in commit order: the relay publishes by seq, and a row can
 * never become visible below one already published. The lock is held only
 * from the insert to the commit of a short write transaction. */
#define OUTBOX_LOCK "7599321707"
/* The NOTIFY wakes the relay when this transaction commits (mq_relay.c);
 * several in one transaction are folded into one. */
static const char outbox_put_sql[] = "WITH l AS (SELECT pg_advisory_xact_lock(" OUTBOX_LOCK ")), "
                                     "n AS (SELECT pg_notify('" OUTBOX_CHANNEL "', '')) "
                                     "INSERT INTO outbox (id, type, aggregate_id, envelope) "
                                     "SELECT $1::uuid, $2, $3::bigint, $4 FROM l, n";

double
mq_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The longest a failing event can wait in <svc>.retry between its first and
 * its last attempt (forward() in mq_consume.c doubles the delay per attempt,
 * stopping once it passes an hour). */
static int64_t
retry_window_s(const struct mq_config *c)
{
    int64_t delay = c->retry_delay_ms, total = 0;
    int64_t i;

    for (i = 1; i < c->max_attempts; i++) {
        total += delay;
        if (delay < 3600000)
            delay *= 2;
    }
    return total / 1000 + 1;
}

void
mq_sleep(struct mq *mq, int ms)
{
    struct timespec ts = {0, 20 * 1000000L};

    for (; ms > 0 && !atomic_load(&mq->stop); ms -= 20)
        nanosleep(&ts, NULL);
}

static void
json_release(void *p)
{
    json_decref(p);
}

int
mq_outbox_put(struct work *w, enum event_type type, int64_t aggregate_id, json_t *payload)
{
    struct event e;
    const char  *trace = w->trace_id != NULL && w->trace_id[0] != '\0' ? w->trace_id : NULL;
    char        *text;
    size_t       len;
    int          rc;

    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(w->arena, json_release, payload);
    event_init(&e, w->arena, type, aggregate_id, trace, payload);
    rc = event_encode(&e, w->arena, &text, &len);
    if (rc)
        return rc;
    return db_exec_sql(
        w->db, w->arena, outbox_put_sql, 4,
        (const char *const[]){e.id, event_key(type), db_i64_text(w->arena, aggregate_id), text},
        NULL);
}

static void
register_metrics(void)
{
    struct metric *all[] = {&mq_published,  &mq_publishes,  &mq_publish_failures,
                            &mq_backlog,    &mq_oldest_age, &mq_consumed,
                            &mq_duplicates, &mq_retried,    &mq_dead_lettered};
    size_t         i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        metrics_register(all[i]);
}

int
mq_start(struct mq **out, const struct mq_spec *spec)
{
    struct mq *mq;
    int        i, started;

    *out = NULL;
    if (mq_url_check(spec->cfg.amqp_url) || spec->service == NULL ||
        strlen(spec->service) > MQ_QUEUE_NAME - 8 || spec->consumer_threads < 0 ||
        spec->consumer_threads > MQ_MAX_CONSUMERS)
        return ERR_INVALID;
    mq = calloc(1, sizeof(*mq));
    if (mq == NULL)
        return ERR_INTERNAL;
    mq->spec = *spec;
    mq->spec.service = strdup(spec->service);
    mq->spec.cfg.amqp_url = strdup(spec->cfg.amqp_url);
    mq->spec.db_url = strdup(spec->db_url);
    if (mq->spec.cfg.max_attempts <= 0)
        mq->spec.cfg.max_attempts = 5;
    if (mq->spec.cfg.retry_delay_ms <= 0)
        mq->spec.cfg.retry_delay_ms = 1000;
    if (mq->spec.outbox_retention_s <= 0)
        mq->spec.outbox_retention_s = 7 * 86400;
    if (mq->spec.cfg.inbox_retain_s <= 0)
        mq->spec.cfg.inbox_retain_s = 7 * 86400;
    /* A copy of an applied event can arrive up to a retry window later (the
     * first copy failed and waited in <svc>.retry): keep its inbox row at
     * least twice that long. */
    if (mq->spec.cfg.inbox_retain_s < 2 * retry_window_s(&mq->spec.cfg)) {
        mq->spec.cfg.inbox_retain_s = 2 * retry_window_s(&mq->spec.cfg);
        log_warn("mq: SOUK_MQ_INBOX_RETAIN_S raised to %lld s, twice the retry window",
                 (long long)mq->spec.cfg.inbox_retain_s);
    }
    snprintf(mq->queue, sizeof(mq->queue), "%s", spec->service);
    snprintf(mq->retry, sizeof(mq->retry), "%s.retry", spec->service);
    snprintf(mq->dlq, sizeof(mq->dlq), "%s.dlq", spec->service);
    register_metrics();
    pthread_mutex_init(&mq->watch_lock, NULL);
    mq->relay_conn.owner = mq;
    mq->relay_conn.fd = -1;
    if (spec->consumers != NULL && spec->consumers[0].fn != NULL) {
        mq->nreaders = spec->consumer_threads > 0 ? spec->consumer_threads : 1;
        mq->readers = calloc((size_t)mq->nreaders, sizeof(*mq->readers));
        if (mq->readers == NULL)
            mq->nreaders = 0;
        for (i = 0; i < mq->nreaders; i++) {
            mq->readers[i].mq = mq;
            mq->readers[i].index = i;
            mq->readers[i].conn.owner = mq;
            mq->readers[i].conn.fd = -1;
        }
    }
    mq->has_watchdog = pthread_create(&mq->watchdog, NULL, mq_watch_main, mq) == 0;
    mq->has_relay = spec->publishes;
    if (mq->has_relay && pthread_create(&mq->relay, NULL, mq_relay_main, mq) != 0)
        mq->has_relay = 0;
    for (i = 0, started = 0; i < mq->nreaders; i++) {
        mq->readers[i].started =
            pthread_create(&mq->readers[i].thread, NULL, mq_consume_main, &mq->readers[i]) == 0;
        started += mq->readers[i].started;
    }
    if (!mq->has_watchdog || mq->has_relay != spec->publishes ||
        (spec->consumers != NULL && spec->consumers[0].fn != NULL &&
         (mq->nreaders == 0 || started != mq->nreaders))) {
        mq_stop(mq);
        return ERR_INTERNAL;
    }
    *out = mq;
    return ERR_OK;
}

void
mq_stop(struct mq *mq)
{
    int i;

    if (mq == NULL)
        return;
    atomic_store(&mq->stop, 1);
    if (mq->has_relay)
        pthread_join(mq->relay, NULL);
    for (i = 0; i < mq->nreaders; i++)
        if (mq->readers[i].started)
            pthread_join(mq->readers[i].thread, NULL);
    atomic_store(&mq->stopped, 1);
    if (mq->has_watchdog)
        pthread_join(mq->watchdog, NULL);
    pthread_mutex_destroy(&mq->watch_lock);
    free(mq->readers);
    free((char *)mq->spec.service);
    free((char *)mq->spec.cfg.amqp_url);
    free((char *)mq->spec.db_url);
    free(mq);
}

int
mq_ready(struct mq *mq)
{
    int i;

    if (mq == NULL)
        return ERR_UNAVAILABLE;
    if (mq->has_relay && !atomic_load(&mq->relay_ok))
        return ERR_UNAVAILABLE;
    for (i = 0; i < mq->nreaders; i++)
        if (!atomic_load(&mq->readers[i].ok) || atomic_load(&mq->readers[i].conn.blocked))
            return ERR_UNAVAILABLE;
    /* A resource alarm: events are committed but cannot be published. */
    if (atomic_load(&mq->relay_conn.blocked))
        return ERR_UNAVAILABLE;
    return ERR_OK;
}
