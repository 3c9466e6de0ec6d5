/*
 * mq_watch.c - broker flow control. Under a memory or disk alarm RabbitMQ
 * stops reading from every connection that publishes. It says so with
 * connection.blocked (we ask for that in the client capabilities), and then
 * the relay waits for its confirms, not ready, until connection.unblocked.
 * A publish can also stall inside rabbitmq-c before any notice is read:
 * amqp_basic_publish sends on a non-blocking socket and polls it with no
 * deadline (0.11), so a send buffer that never drains holds the thread
 * forever and SO_SNDTIMEO cannot help. The watchdog thread here cuts such a
 * socket with shutdown(2), which wakes the poll with an error: the batch
 * fails, what was not acked stays in the outbox, and the thread reconnects
 * or, when stopping, exits.
 */
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "mq_int.h"
#include "clock.h"

#define WATCH_EVERY_MS 100

int
mq_conn_notice(struct mq_conn *mc, const amqp_frame_t *f)
{
    if (f->frame_type != AMQP_FRAME_METHOD)
        return 0;
    if (f->payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD) {
        const amqp_connection_blocked_t *m = f->payload.method.decoded;

        if (!atomic_exchange(&mc->blocked, 1))
            log_warn("amqp: the broker blocks publishing: %.*s", (int)m->reason.len,
                     (const char *)m->reason.bytes);
        return 1;
    }
    if (f->payload.method.id == AMQP_CONNECTION_UNBLOCKED_METHOD) {
        if (atomic_exchange(&mc->blocked, 0))
            log_info("amqp: the broker takes publishes again");
        return 1;
    }
    return 0;
}

void
mq_conn_watch(struct mq_conn *mc)
{
    if (mc->owner == NULL)
        return;
    pthread_mutex_lock(&mc->owner->watch_lock);
    mc->fd = amqp_get_sockfd(mc->c);
    pthread_mutex_unlock(&mc->owner->watch_lock);
}

void
mq_conn_unwatch(struct mq_conn *mc)
{
    if (mc->owner == NULL)
        return;
    pthread_mutex_lock(&mc->owner->watch_lock);
    mc->fd = -1; /* from here on the descriptor may be closed and reused */
    pthread_mutex_unlock(&mc->owner->watch_lock);
}

/* How long a publish may take: forever while the broker says blocked (it is
 * alive and will take it), else MQ_PUBLISH_TIMEOUT; MQ_STOP_GRACE once the
 * process stops. slack_ms lets the owner time out by itself first. */
static int
overdue(struct mq_conn *mc, int64_t slack_ms)
{
    int64_t since = atomic_load(&mc->busy_ms), age;

    if (since == 0)
        return 0;
    age = clock_mono_ms() - since;
    if (mc->owner != NULL && atomic_load(&mc->owner->stop))
        return age > MQ_STOP_GRACE + slack_ms;
    return !atomic_load(&mc->blocked) && age > MQ_PUBLISH_TIMEOUT + slack_ms;
}

int
mq_conn_overdue(struct mq_conn *mc)
{
    return overdue(mc, 0);
}

/* Cut mc's socket if its publish is overdue even for the watchdog. */
static void
cut_if_stalled(struct mq *mq, struct mq_conn *mc, int64_t *cut_since)
{
    int64_t since = atomic_load(&mc->busy_ms);

    if (!overdue(mc, 2 * WATCH_EVERY_MS) || since == *cut_since)
        return;
    pthread_mutex_lock(&mq->watch_lock);
    if (mc->fd >= 0) {
        log_warn("amqp: a publish has stalled for %lld ms: cutting the connection",
                 (long long)(clock_mono_ms() - since));
        (void)shutdown(mc->fd, SHUT_RDWR);
        *cut_since = since;
    }
    pthread_mutex_unlock(&mq->watch_lock);
}

void *
mq_watch_main(void *arg)
{
    struct mq      *mq = arg;
    struct timespec ts = {0, WATCH_EVERY_MS * 1000000L};
    int64_t         relay_cut = 0;
    int             i;

    while (!atomic_load(&mq->stopped)) {
        cut_if_stalled(mq, &mq->relay_conn, &relay_cut);
        for (i = 0; i < mq->nreaders; i++)
            cut_if_stalled(mq, &mq->readers[i].conn, &mq->readers[i].cut_since);
        nanosleep(&ts, NULL);
    }
    return NULL;
}
