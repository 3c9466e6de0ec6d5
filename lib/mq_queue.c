/*
 * mq_queue.c - retiring a consumer's queues, for soukctl (migrate rollback
 * ends a reverse sync with them): unbind the queue so nothing new reaches
 * it, count what still waits, delete it. Each operation uses a connection
 * of its own: the broker answers a queue that does not exist by closing the
 * channel (404), which here means "nothing to do", not an error.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mq_int.h"

enum queue_op { QUEUE_COUNT, QUEUE_UNBIND, QUEUE_DELETE };

/* The broker closed the channel because the queue does not exist. */
static int
absent(amqp_rpc_reply_t res)
{
    return res.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
           res.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
           ((const amqp_channel_close_t *)res.reply.decoded)->reply_code == AMQP_NOT_FOUND;
}

/* One operation on queue (key: the routing key to unbind); *n the messages
 * it holds (count) or held (delete), 0 when it does not exist. */
static int
queue_op(const char *url, enum queue_op op, const char *queue, const char *key, int64_t *n)
{
    struct mq_conn           mc = {0};
    amqp_queue_declare_ok_t *declared = NULL;
    amqp_queue_delete_ok_t  *deleted = NULL;
    amqp_rpc_reply_t         res;
    int                      rc;

    *n = 0;
    rc = mq_conn_open(&mc, url);
    if (rc)
        return rc;
    if (op == QUEUE_COUNT) /* passive: never creates it */
        declared = amqp_queue_declare(mc.c, MQ_CHANNEL, amqp_cstring_bytes(queue), 1, 0, 0, 0,
                                      amqp_empty_table);
    else if (op == QUEUE_UNBIND)
        amqp_queue_unbind(mc.c, MQ_CHANNEL, amqp_cstring_bytes(queue),
                          amqp_cstring_bytes(MQ_EXCHANGE), amqp_cstring_bytes(key),
                          amqp_empty_table);
    else
        deleted = amqp_queue_delete(mc.c, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 0);
    res = amqp_get_rpc_reply(mc.c);
    rc = absent(res) ? ERR_OK : mq_reply_ok(res, queue);
    if (rc == ERR_OK && declared != NULL)
        *n = declared->message_count;
    if (rc == ERR_OK && deleted != NULL)
        *n = deleted->message_count;
    mq_conn_close(&mc);
    return rc;
}

/* "<service>" and "<service>.retry": the queues a consumer reads from. */
static int
names(const char *service, char queue[MQ_QUEUE_NAME], char retry[MQ_QUEUE_NAME])
{
    if (strlen(service) > MQ_QUEUE_NAME - 8)
        return ERR_INVALID;
    snprintf(queue, MQ_QUEUE_NAME, "%s", service);
    snprintf(retry, MQ_QUEUE_NAME, "%s.retry", service);
    return ERR_OK;
}

int
mq_queue_unbind(const char *amqp_url, const char *service, const char *const *keys)
{
    char    queue[MQ_QUEUE_NAME], retry[MQ_QUEUE_NAME];
    int64_t n;
    size_t  i;
    int     rc = names(service, queue, retry);

    for (i = 0; rc == ERR_OK && keys[i] != NULL; i++)
        rc = queue_op(amqp_url, QUEUE_UNBIND, queue, keys[i], &n);
    return rc;
}

/* op on the retry queue, then on the queue; *n what both held. The retry
 * queue first: its messages dead-letter into the queue, so a message moving
 * meanwhile is counted twice, never missed, and a delete leaves none behind. */
static int
both(const char *amqp_url, enum queue_op op, const char *service, int64_t *n)
{
    char    queue[MQ_QUEUE_NAME], retry[MQ_QUEUE_NAME];
    int64_t k = 0;
    int     rc;

    *n = 0;
    rc = names(service, queue, retry);
    if (rc == ERR_OK)
        rc = queue_op(amqp_url, op, retry, NULL, &k);
    if (rc == ERR_OK)
        rc = queue_op(amqp_url, op, queue, NULL, n);
    *n += k;
    return rc;
}

int
mq_queue_waiting(const char *amqp_url, const char *service, int64_t *n)
{
    return both(amqp_url, QUEUE_COUNT, service, n);
}

int
mq_queue_delete(const char *amqp_url, const char *service, int64_t *n)
{
    int rc = both(amqp_url, QUEUE_DELETE, service, n);

    if (rc == ERR_OK && *n > 0)
        log_info("mq: %s deleted with %lld messages", service, (long long)*n);
    return rc;
}
