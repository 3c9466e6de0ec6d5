/*
 * mq.c - the event backbone's shared half: one broker connection helper
 * (connect, topology, publish with confirms, headers) used by the relay
 * (mq_relay.c), the consumer (mq_consume.c) and soukctl dlq (mq_dlq.c), plus
 * mq_start/mq_stop/mq_ready and the outbox insert. The only files of the tree
 * that include rabbitmq-c are mq*.c.
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

int
mq_reply_ok(amqp_rpc_reply_t reply, const char *what)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return ERR_OK;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        log_warn("amqp: %s: %s", what, amqp_error_string2(reply.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = reply.reply.decoded;

            log_warn("amqp: %s: connection closed by broker: %d %.*s", what, m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = reply.reply.decoded;

            log_warn("amqp: %s: channel closed by broker: %d %.*s", what, m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            log_warn("amqp: %s: broker error (method 0x%08x)", what, reply.reply.id);
        }
        break;
    default:
        log_warn("amqp: %s: no reply", what);
        break;
    }
    return ERR_UNAVAILABLE;
}

int
mq_url_check(const char *url)
{
    struct amqp_connection_info ci;
    char                       *copy;
    int                         rc;

    if (url == NULL || strncmp(url, "amqp://", 7) != 0)
        return ERR_INVALID;
    copy = strdup(url);
    if (copy == NULL)
        return ERR_INTERNAL;
    rc = amqp_parse_url(copy, &ci) == AMQP_STATUS_OK ? ERR_OK : ERR_INVALID;
    free(copy);
    return rc;
}

void
mq_conn_close(struct mq_conn *mc)
{
    if (mc->c == NULL)
        return;
    mq_conn_unwatch(mc);
    /* A polite close when the broker still listens; a dead socket just
     * fails. Not after a failed publish or while blocked: the broker may not
     * read the close, and sending it could block like the publish did. */
    if (atomic_load(&mc->busy_ms) == 0 && !atomic_load(&mc->blocked))
        (void)amqp_connection_close(mc->c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(mc->c);
    mc->c = NULL;
    atomic_store(&mc->busy_ms, 0);
    atomic_store(&mc->blocked, 0);
}

static amqp_table_entry_t
entry_str(const char *key, const char *value)
{
    amqp_table_entry_t e;

    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

static int
declare_queue(struct mq_conn *mc, const char *name, amqp_table_entry_t *args, int nargs)
{
    amqp_table_t t = {nargs, args};

    amqp_queue_declare(mc->c, MQ_CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0, t);
    return mq_reply_ok(amqp_get_rpc_reply(mc->c), name);
}

/* The exchange every service publishes to. Messages no queue is bound for go
 * to souk.unrouted instead of vanishing, so "no consumer yet" never means a
 * silently dropped event. Every declarer passes identical arguments. */
static int
declare_topology(struct mq_conn *mc)
{
    amqp_table_entry_t ae = entry_str("alternate-exchange", MQ_UNROUTED);
    amqp_table_entry_t qt = entry_str("x-queue-type", "quorum");
    int                rc;

    amqp_exchange_declare(mc->c, MQ_CHANNEL, amqp_cstring_bytes(MQ_UNROUTED),
                          amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
    rc = mq_reply_ok(amqp_get_rpc_reply(mc->c), "declare exchange " MQ_UNROUTED);
    if (rc)
        return rc;
    rc = declare_queue(mc, MQ_UNROUTED, &qt, 1);
    if (rc)
        return rc;
    amqp_queue_bind(mc->c, MQ_CHANNEL, amqp_cstring_bytes(MQ_UNROUTED),
                    amqp_cstring_bytes(MQ_UNROUTED), amqp_cstring_bytes(""), amqp_empty_table);
    rc = mq_reply_ok(amqp_get_rpc_reply(mc->c), "bind " MQ_UNROUTED);
    if (rc)
        return rc;
    amqp_exchange_declare(mc->c, MQ_CHANNEL, amqp_cstring_bytes(MQ_EXCHANGE),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, (amqp_table_t){1, &ae});
    return mq_reply_ok(amqp_get_rpc_reply(mc->c), "declare exchange " MQ_EXCHANGE);
}

static int
login(struct mq_conn *mc, const struct amqp_connection_info *ci)
{
    struct timeval rpc = {MQ_RPC_TIMEOUT / 1000, 0};
    /* Ask to be told about resource alarms (connection.blocked, mq_watch.c);
     * rabbitmq-c merges this into its own capabilities. */
    amqp_table_entry_t cap = {amqp_cstring_bytes("connection.blocked"),
                              {.kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1}};
    amqp_table_entry_t caps = {amqp_cstring_bytes("capabilities"),
                               {.kind = AMQP_FIELD_KIND_TABLE, .value.table = {1, &cap}}};
    amqp_table_t       props = {1, &caps};
    amqp_socket_t     *s;
    int                st;

    mc->c = amqp_new_connection();
    if (mc->c == NULL)
        return ERR_INTERNAL;
    s = amqp_tcp_socket_new(mc->c);
    if (s == NULL)
        return ERR_INTERNAL;
    st = amqp_socket_open_noblock(s, ci->host, ci->port, &rpc);
    if (st != AMQP_STATUS_OK) {
        log_debug("amqp: connect %s:%d: %s", ci->host, ci->port, amqp_error_string2(st));
        return ERR_UNAVAILABLE;
    }
    (void)amqp_set_rpc_timeout(mc->c, &rpc);
    if (mq_reply_ok(amqp_login_with_properties(mc->c, ci->vhost, 0, 131072, MQ_HEARTBEAT, &props,
                                               AMQP_SASL_METHOD_PLAIN, ci->user, ci->password),
                    "login"))
        return ERR_UNAVAILABLE;
    amqp_channel_open(mc->c, MQ_CHANNEL);
    if (mq_reply_ok(amqp_get_rpc_reply(mc->c), "open channel"))
        return ERR_UNAVAILABLE;
    amqp_confirm_select(mc->c, MQ_CHANNEL);
    if (mq_reply_ok(amqp_get_rpc_reply(mc->c), "confirm.select"))
        return ERR_UNAVAILABLE;
    mq_confirm_reset(&mc->confirms); /* the broker numbers a channel's publishes from 1 */
    return ERR_OK;
}

int
mq_conn_open(struct mq_conn *mc, const char *url)
{
    struct amqp_connection_info ci;
    char                       *copy = strdup(url);
    int                         rc;

    mc->c = NULL;
    if (copy == NULL)
        return ERR_INTERNAL;
    if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
        rc = ERR_INVALID;
        goto done;
    }
    atomic_store(&mc->busy_ms, 0);
    atomic_store(&mc->blocked, 0);
    rc = login(mc, &ci);
    if (rc == ERR_OK) {
        mq_conn_watch(mc);
        rc = declare_topology(mc);
    }
done:
    if (rc)
        mq_conn_close(mc);
    free(copy);
    return rc;
}

int
mq_conn_declare_service(struct mq_conn *mc, const char *service, const char *const *keys,
                        size_t nkeys)
{
    char               retry[MQ_QUEUE_NAME], dlq[MQ_QUEUE_NAME];
    amqp_table_entry_t quorum = entry_str("x-queue-type", "quorum");
    amqp_table_entry_t back[2];
    size_t             i;
    int                rc;

    snprintf(retry, sizeof(retry), "%s.retry", service);
    snprintf(dlq, sizeof(dlq), "%s.dlq", service);
    /* Retries wait in a classic queue (per-message TTL) and dead-letter back
     * through the default exchange to the service's queue. */
    back[0] = entry_str("x-dead-letter-exchange", "");
    back[1] = entry_str("x-dead-letter-routing-key", service);
    rc = declare_queue(mc, service, &quorum, 1);
    if (rc == ERR_OK)
        rc = declare_queue(mc, retry, back, 2);
    if (rc == ERR_OK)
        rc = declare_queue(mc, dlq, &quorum, 1);
    for (i = 0; rc == ERR_OK && i < nkeys; i++) {
        amqp_queue_bind(mc->c, MQ_CHANNEL, amqp_cstring_bytes(service),
                        amqp_cstring_bytes(MQ_EXCHANGE), amqp_cstring_bytes(keys[i]),
                        amqp_empty_table);
        rc = mq_reply_ok(amqp_get_rpc_reply(mc->c), "queue.bind");
    }
    return rc;
}

/* Publisher confirms come out of order when a batch's messages went to
 * different queues (each quorum queue confirms when its own log commits),
 * and one ack or nack may cover every tag up to its own (multiple), so every
 * tag is tracked (mq_confirm.c). Anything else unexpected (a close, a
 * timeout) fails the wait; the caller republishes what was not acked on a
 * new channel: at-least-once, deduplicated by the consumers' inbox. */
int
mq_conn_confirm_all(struct mq_conn *mc)
{
    amqp_frame_t f;
    int          st;

    while (mq_confirm_pending(&mc->confirms) > 0) {
        struct timeval tv = {0, 200 * 1000}; /* wake up to check the deadline and stop */

        st = amqp_simple_wait_frame_noblock(mc->c, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT && !mq_conn_overdue(mc))
            continue;
        if (st != AMQP_STATUS_OK) {
            log_warn("amqp: waiting for publisher confirms: %s",
                     st == AMQP_STATUS_TIMEOUT ? "gave up" : amqp_error_string2(st));
            return ERR_UNAVAILABLE;
        }
        if (f.frame_type != AMQP_FRAME_METHOD || mq_conn_notice(mc, &f))
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *m = f.payload.method.decoded;

            st = mq_confirm_settle(&mc->confirms, m->delivery_tag, m->multiple, 1);
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            const amqp_basic_nack_t *m = f.payload.method.decoded;

            log_warn("amqp: the broker refused a message (nack)");
            st = mq_confirm_settle(&mc->confirms, m->delivery_tag, m->multiple, 0);
        } else {
            log_warn("amqp: unexpected method 0x%08x while waiting for confirms",
                     f.payload.method.id);
            return ERR_UNAVAILABLE;
        }
        if (st != ERR_OK) {
            log_warn("amqp: a confirm for a tag never published");
            return ERR_UNAVAILABLE;
        }
    }
    atomic_store(&mc->busy_ms, 0);
    return ERR_OK;
}

/* Wait for the confirm of a single publish (the only one in flight) and
 * take it: a nack is a failure. */
static int
confirm_taken(struct mq_conn *mc)
{
    uint64_t tag;
    int      acked, rc, all = 1;

    rc = mq_conn_confirm_all(mc);
    while (mq_confirm_take(&mc->confirms, &tag, &acked))
        all &= acked;
    return rc ? rc : all ? ERR_OK : ERR_UNAVAILABLE;
}

int
mq_conn_publish(struct mq_conn *mc, const struct mq_pub *p, int wait)
{
    amqp_basic_properties_t props;
    uint64_t                tag;
    int                     st;

    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2; /* persistent */
    props.message_id = amqp_cstring_bytes(p->message_id);
    props.type = amqp_cstring_bytes(p->type);
    if (p->headers != NULL) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = *p->headers;
    }
    if (p->expiration_ms != NULL) {
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = amqp_cstring_bytes(p->expiration_ms);
    }
    if (atomic_load(&mc->busy_ms) == 0)
        atomic_store(&mc->busy_ms, mq_now_ms()); /* the watchdog's clock starts */
    if (mq_confirm_publish(&mc->confirms, &tag) != ERR_OK) {
        log_warn("amqp: publish %s: too many unconfirmed publishes", p->routing_key);
        return ERR_UNAVAILABLE;
    }
    st = amqp_basic_publish(mc->c, MQ_CHANNEL, amqp_cstring_bytes(p->exchange),
                            amqp_cstring_bytes(p->routing_key), 0, 0, &props,
                            (amqp_bytes_t){p->len, (void *)p->body});
    if (st != AMQP_STATUS_OK) {
        log_warn("amqp: publish %s: %s", p->routing_key, amqp_error_string2(st));
        return ERR_UNAVAILABLE;
    }
    return wait ? confirm_taken(mc) : ERR_OK;
}

int
mq_conn_pump(struct mq_conn *mc)
{
    struct timeval tv = {0, 0};
    amqp_frame_t   f;
    int            st;

    st = amqp_simple_wait_frame_noblock(mc->c, &f, &tv);
    if (st == AMQP_STATUS_OK)
        (void)mq_conn_notice(mc, &f);
    if (st == AMQP_STATUS_OK || st == AMQP_STATUS_TIMEOUT)
        return ERR_OK;
    log_warn("amqp: connection lost: %s", amqp_error_string2(st));
    return ERR_UNAVAILABLE;
}

static const amqp_field_value_t *
header(const amqp_table_t *h, const char *key)
{
    size_t n = strlen(key);
    int    i;

    for (i = 0; h != NULL && i < h->num_entries; i++)
        if (h->entries[i].key.len == n && memcmp(h->entries[i].key.bytes, key, n) == 0)
            return &h->entries[i].value;
    return NULL;
}

int64_t
mq_header_int(const amqp_table_t *h, const char *key, int64_t def)
{
    const amqp_field_value_t *v = header(h, key);

    if (v == NULL)
        return def;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I32:
        return v->value.i32;
    case AMQP_FIELD_KIND_I64:
        return v->value.i64;
    case AMQP_FIELD_KIND_U32:
        return v->value.u32;
    default:
        return def;
    }
}

const char *
mq_header_str(const amqp_table_t *h, const char *key, struct arena *a)
{
    const amqp_field_value_t *v = header(h, key);

    if (v == NULL || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return "";
    return arena_strndup(a, v->value.bytes.bytes, v->value.bytes.len);
}

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
