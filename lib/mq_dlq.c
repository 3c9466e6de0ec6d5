/*
 * mq_dlq.c - the operator's view of a service's dead-letter queue, for
 * `soukctl dlq`. Messages are fetched with basic.get and left unacked; what
 * is not replayed or dropped goes back to the queue when the connection
 * closes, so listing never loses anything. A replay re-publishes the
 * original envelope to the service's queue with a fresh attempt count and is
 * confirmed by the broker before the dead letter is acked.
 */
#include <string.h>

#include "arena.h"
#include "log.h"
#include "mq_int.h"

#define DLQ_MAX 100000 /* messages examined per call */

struct dlq_walk {
    struct mq_conn mc;
    const char    *service;
    char           dlq[MQ_QUEUE_NAME];
};

static int
walk_open(struct dlq_walk *w, const char *amqp_url, const char *service)
{
    int rc;

    if (strlen(service) > MQ_QUEUE_NAME - 8)
        return ERR_INVALID;
    w->service = service;
    memcpy(w->dlq, service, strlen(service));
    memcpy(w->dlq + strlen(service), ".dlq", 5);
    rc = mq_conn_open(&w->mc, amqp_url);
    if (rc == ERR_OK)
        rc = mq_conn_declare_service(&w->mc, service, NULL, 0);
    return rc;
}

/* The next message (unacked), or *got = 0 when the queue is empty. */
static int
next(struct dlq_walk *w, amqp_message_t *msg, uint64_t *tag, int *got)
{
    amqp_rpc_reply_t res;

    *got = 0;
    res = amqp_basic_get(w->mc.c, MQ_CHANNEL, amqp_cstring_bytes(w->dlq), 0);
    if (mq_reply_ok(res, "basic.get"))
        return ERR_UNAVAILABLE;
    if (res.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
        return ERR_OK;
    *tag = ((amqp_basic_get_ok_t *)res.reply.decoded)->delivery_tag;
    res = amqp_read_message(w->mc.c, MQ_CHANNEL, msg, 0);
    if (mq_reply_ok(res, "read message"))
        return ERR_UNAVAILABLE;
    *got = 1;
    return ERR_OK;
}

static void
to_dead(const amqp_message_t *msg, struct arena *a, struct mq_dead *d)
{
    const amqp_basic_properties_t *pr = &msg->properties;
    const amqp_table_t            *h = pr->_flags & AMQP_BASIC_HEADERS_FLAG ? &pr->headers : NULL;

    d->event_id = pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG
                      ? arena_strndup(a, pr->message_id.bytes, pr->message_id.len)
                      : "";
    d->type =
        pr->_flags & AMQP_BASIC_TYPE_FLAG ? arena_strndup(a, pr->type.bytes, pr->type.len) : "";
    d->error = mq_header_str(h, MQ_H_ERROR, a);
    d->died_at = mq_header_str(h, MQ_H_DIED_AT, a);
    d->attempts = (int)mq_header_int(h, MQ_H_ATTEMPT, 0);
    d->body = arena_strndup(a, msg->body.bytes, msg->body.len);
    d->len = msg->body.len;
}

int
mq_dlq_list(const char *amqp_url, const char *service, struct arena *a, struct mq_dead **out,
            size_t *n)
{
    struct dlq_walk w = {0};
    size_t          cap = 16;
    amqp_message_t  msg;
    uint64_t        tag;
    int             got, rc;

    *n = 0;
    *out = arena_array(a, struct mq_dead, cap);
    rc = walk_open(&w, amqp_url, service);
    while (rc == ERR_OK && *n < DLQ_MAX) {
        rc = next(&w, &msg, &tag, &got);
        if (rc || !got)
            break;
        if (*n == cap) {
            struct mq_dead *grown = arena_array(a, struct mq_dead, cap * 2);

            memcpy(grown, *out, cap * sizeof(**out));
            *out = grown;
            cap *= 2;
        }
        to_dead(&msg, a, &(*out)[(*n)++]);
        amqp_destroy_message(&msg);
    }
    mq_conn_close(&w.mc); /* everything fetched goes back, unacked */
    return rc;
}

/* Replay: the envelope goes to the service's queue as if new (attempt 0). */
static int
replay(struct dlq_walk *w, const amqp_message_t *msg, const struct mq_dead *d)
{
    amqp_table_entry_t h;
    amqp_table_t       headers = {1, &h};
    struct mq_pub      p = {.exchange = "",
                            .routing_key = w->service,
                            .message_id = d->event_id,
                            .type = d->type,
                            .headers = &headers,
                            .body = msg->body.bytes,
                            .len = msg->body.len};

    h.key = amqp_cstring_bytes(MQ_H_ATTEMPT);
    h.value.kind = AMQP_FIELD_KIND_I32;
    h.value.value.i32 = 0;
    return mq_conn_publish(&w->mc, &p, 1);
}

int
mq_dlq_settle(const char *amqp_url, const char *service, const char *event_id, int drop, size_t *n)
{
    struct arena   *a = arena_create();
    struct dlq_walk w = {0};
    struct mq_dead  d;
    amqp_message_t  msg;
    uint64_t        tag;
    size_t          seen = 0;
    int             got, rc;

    *n = 0;
    rc = walk_open(&w, amqp_url, service);
    while (rc == ERR_OK && seen++ < DLQ_MAX) {
        rc = next(&w, &msg, &tag, &got);
        if (rc || !got)
            break;
        to_dead(&msg, a, &d);
        if (event_id == NULL || strcmp(d.event_id, event_id) == 0) {
            if (!drop)
                rc = replay(&w, &msg, &d);
            if (rc == ERR_OK && amqp_basic_ack(w.mc.c, MQ_CHANNEL, tag, 0) != AMQP_STATUS_OK)
                rc = ERR_UNAVAILABLE;
            if (rc == ERR_OK)
                (*n)++;
        }
        amqp_destroy_message(&msg);
    }
    mq_conn_close(&w.mc);
    arena_destroy(a);
    if (rc == ERR_OK && event_id != NULL && *n == 0)
        rc = ERR_NOT_FOUND;
    return rc;
}
