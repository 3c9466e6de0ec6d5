/*
 * mq_conn.c - one broker connection as every part of the backbone uses it:
 * open (login, channel, publisher confirms, the topology), declare a
 * service's queues, publish with confirms, pump heartbeats, and read message
 * headers. The relay (mq_relay.c), the consumers (mq_consume.c) and soukctl
 * dlq (mq_dlq.c) all go through it.
 */
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "mq_int.h"
#include "clock.h"
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
        atomic_store(&mc->busy_ms, clock_mono_ms()); /* the watchdog's clock starts */
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
