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
static const char outbox_put_sql[] = "WITH l AS (SELECT pg_advisory_xact_lock(" OUTBOX_LOCK ")) "
                                     "INSERT INTO outbox (id, type, aggregate_id, envelope) "
                                     "SELECT $1::uuid, $2, $3::bigint, $4 FROM l";

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
    /* A polite close when the broker still listens; a dead socket just fails. */
    (void)amqp_connection_close(mc->c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(mc->c);
    mc->c = NULL;
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
    amqp_socket_t *s;
    int            st;

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
    if (mq_reply_ok(amqp_login(mc->c, ci->vhost, 0, 131072, MQ_HEARTBEAT, AMQP_SASL_METHOD_PLAIN,
                               ci->user, ci->password),
                    "login"))
        return ERR_UNAVAILABLE;
    amqp_channel_open(mc->c, MQ_CHANNEL);
    if (mq_reply_ok(amqp_get_rpc_reply(mc->c), "open channel"))
        return ERR_UNAVAILABLE;
    amqp_confirm_select(mc->c, MQ_CHANNEL);
    if (mq_reply_ok(amqp_get_rpc_reply(mc->c), "confirm.select"))
        return ERR_UNAVAILABLE;
    mc->next_tag = 1; /* the broker numbers a channel's publishes from 1 */
    mc->acked = 0;
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
    rc = login(mc, &ci);
    if (rc == ERR_OK)
        rc = declare_topology(mc);
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

int
mq_conn_publish(struct mq_conn *mc, const struct mq_pub *p, int wait)
{
    amqp_basic_properties_t props;
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
    st = amqp_basic_publish(mc->c, MQ_CHANNEL, amqp_cstring_bytes(p->exchange),
                            amqp_cstring_bytes(p->routing_key), 0, 0, &props,
                            (amqp_bytes_t){p->len, (void *)p->body});
    if (st != AMQP_STATUS_OK) {
        log_warn("amqp: publish %s: %s", p->routing_key, amqp_error_string2(st));
        return ERR_UNAVAILABLE;
    }
    mc->next_tag++;
    return wait ? mq_conn_confirm_all(mc) : ERR_OK;
}

/* Broker acks come in order on one channel of one node, possibly several
 * at once (multiple = 1), so a running high-water mark is enough; anything
 * unexpected (a nack, a close, a timeout) fails the batch and the caller
 * republishes it on a new connection: at-least-once, deduplicated by the
 * consumers' inbox. */
int
mq_conn_confirm_all(struct mq_conn *mc)
{
    struct timeval tv = {MQ_RPC_TIMEOUT / 1000, 0};
    amqp_frame_t   f;
    int            st;

    while (mc->acked < mc->next_tag - 1) {
        st = amqp_simple_wait_frame_noblock(mc->c, &f, &tv);
        if (st != AMQP_STATUS_OK) {
            log_warn("amqp: waiting for publisher confirms: %s", amqp_error_string2(st));
            return ERR_UNAVAILABLE;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *ack = f.payload.method.decoded;

            if ((ack->multiple || ack->delivery_tag == mc->acked + 1) &&
                ack->delivery_tag > mc->acked)
                mc->acked = ack->delivery_tag;
            continue;
        }
        if (f.payload.method.id == AMQP_BASIC_NACK_METHOD)
            log_warn("amqp: the broker refused a message (nack)");
        else
            log_warn("amqp: unexpected method 0x%08x while waiting for confirms",
                     f.payload.method.id);
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

int
mq_conn_pump(struct mq_conn *mc)
{
    struct timeval tv = {0, 0};
    amqp_frame_t   f;
    int            st;

    st = amqp_simple_wait_frame_noblock(mc->c, &f, &tv);
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
    struct metric *all[] = {&mq_published, &mq_publish_failures, &mq_backlog, &mq_oldest_age,
                            &mq_consumed,  &mq_duplicates,       &mq_retried, &mq_dead_lettered};
    size_t         i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        metrics_register(all[i]);
}

int
mq_start(struct mq **out, const struct mq_spec *spec)
{
    struct mq *mq;

    *out = NULL;
    if (mq_url_check(spec->cfg.amqp_url) || spec->service == NULL ||
        strlen(spec->service) > MQ_QUEUE_NAME - 8)
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
    snprintf(mq->queue, sizeof(mq->queue), "%s", spec->service);
    snprintf(mq->retry, sizeof(mq->retry), "%s.retry", spec->service);
    snprintf(mq->dlq, sizeof(mq->dlq), "%s.dlq", spec->service);
    register_metrics();
    mq->has_relay = spec->publishes;
    mq->has_consumer = spec->consumers != NULL && spec->consumers[0].fn != NULL;
    if (mq->has_relay && pthread_create(&mq->relay, NULL, mq_relay_main, mq) != 0)
        mq->has_relay = 0;
    if (mq->has_consumer && pthread_create(&mq->consumer, NULL, mq_consume_main, mq) != 0)
        mq->has_consumer = 0;
    if (mq->has_relay != spec->publishes || (spec->consumers && !mq->has_consumer)) {
        mq_stop(mq);
        return ERR_INTERNAL;
    }
    *out = mq;
    return ERR_OK;
}

void
mq_stop(struct mq *mq)
{
    if (mq == NULL)
        return;
    atomic_store(&mq->stop, 1);
    if (mq->has_relay)
        pthread_join(mq->relay, NULL);
    if (mq->has_consumer)
        pthread_join(mq->consumer, NULL);
    free((char *)mq->spec.service);
    free((char *)mq->spec.cfg.amqp_url);
    free((char *)mq->spec.db_url);
    free(mq);
}

int
mq_ready(struct mq *mq)
{
    if (mq == NULL)
        return ERR_UNAVAILABLE;
    if (mq->has_relay && !atomic_load(&mq->relay_ok))
        return ERR_UNAVAILABLE;
    if (mq->has_consumer && !atomic_load(&mq->consumer_ok))
        return ERR_UNAVAILABLE;
    return ERR_OK;
}
