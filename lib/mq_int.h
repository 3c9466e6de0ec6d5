/*
 * mq_int.h - private to mq*.c: the broker connection helper every mq thread
 * uses (one connection, one channel in confirm mode), the topology, and the
 * process state behind struct mq. Nothing outside lib/mq*.c includes this or
 * rabbitmq-c.
 */
#ifndef SOUK_MQ_INT_H
#define SOUK_MQ_INT_H

#include <amqp.h>
#include <pthread.h>
#include <stdatomic.h>

#include "metrics.h"
#include "mq.h"
#include "mq_confirm.h"

#define MQ_CHANNEL       1
#define MQ_UNROUTED      "souk.unrouted" /* alternate exchange and its queue */
#define MQ_RPC_TIMEOUT   5000            /* ms: any broker round trip */
#define MQ_HEARTBEAT     30              /* s */
#define MQ_BACKOFF_MAX   5000            /* ms between reconnect attempts */
#define MQ_H_ATTEMPT     "x-souk-attempt"
#define MQ_H_ERROR       "x-souk-error"
#define MQ_H_DIED_AT     "x-souk-died-at"
#define MQ_H_DELIVERIES  "x-delivery-count" /* set by quorum queues on a redelivery */
#define MQ_QUEUE_NAME    200                /* bytes for "<service>.retry" and friends */
#define MQ_MAX_CONSUMERS 64                 /* consumer threads per process at most */
/* NOTIFY channel: an outbox row was committed (mq_outbox_put -> the relay) */
#define OUTBOX_CHANNEL "souk_outbox"
/* ms: a publish and its confirm may take this long, unless the broker said
 * connection.blocked (then: until it unblocks); after mq_stop, MQ_STOP_GRACE. */
#define MQ_PUBLISH_TIMEOUT 10000
#define MQ_STOP_GRACE      1000

/* One broker connection with channel MQ_CHANNEL open in confirm mode. The
 * atomics are read by other threads: mq_ready and the watchdog (mq_watch.c),
 * which cuts a publish that stalls. */
struct mq_conn {
    amqp_connection_state_t c;        /* NULL when closed */
    struct mq_confirm       confirms; /* the channel's publishes and their confirms */
    _Atomic int64_t busy_ms; /* clock_mono_ms() when the publish in progress began; 0: none */
    _Atomic int     blocked; /* the broker sent connection.blocked (a resource alarm) */
    struct mq      *owner;   /* NULL outside a service (soukctl): not watched */
    int             fd;      /* the socket while open, -1 else; under owner->watch_lock */
};

/* Open a connection to url and declare the shared topology (the topic
 * exchange souk.events with its alternate exchange souk.unrouted and that
 * queue). ERR_UNAVAILABLE (logged once per outage by the caller's backoff). */
MUST_CHECK int mq_conn_open(struct mq_conn *mc, const char *url);
void           mq_conn_close(struct mq_conn *mc);
/* Declare service's queues: <svc> (quorum) bound to keys, <svc>.retry
 * (dead-letters back to <svc>), <svc>.dlq. nkeys may be 0. */
MUST_CHECK int mq_conn_declare_service(struct mq_conn *mc, const char *service,
                                       const char *const *keys, size_t nkeys);
/* Publish body; with wait, also wait for the broker's confirm and take it.
 * exchange "" is the default exchange (routing key = queue name). headers
 * may be NULL. ERR_UNAVAILABLE on a lost connection, a timeout or a nack
 * (the caller reconnects and retries). Without wait, the publish gets the
 * tag mc->confirms.next had before the call, so a batch's tags are
 * consecutive; its confirms are awaited with mq_conn_confirm_all. */
struct mq_pub {
    const char         *exchange, *routing_key, *message_id, *type;
    const char         *expiration_ms; /* NULL: none */
    const amqp_table_t *headers;
    const void         *body;
    size_t              len;
};
MUST_CHECK int mq_conn_publish(struct mq_conn *mc, const struct mq_pub *p, int wait);
/* Wait until every publish so far is settled (acked or nacked); the
 * outcomes are then handed out in tag order by mq_confirm_take. A nack is
 * not an error here. ERR_UNAVAILABLE on a lost connection or a timeout. */
MUST_CHECK int mq_conn_confirm_all(struct mq_conn *mc);
/* Let rabbitmq-c answer heartbeats while a thread is otherwise idle. */
MUST_CHECK int mq_conn_pump(struct mq_conn *mc);
/* A frame on channel 0 other than a close: connection.blocked/unblocked
 * set mc->blocked. 1 when f was one of those, 0 otherwise. */
int mq_conn_notice(struct mq_conn *mc, const amqp_frame_t *f);
/* mc's socket may be cut by the watchdog from now on / no longer. */
void mq_conn_watch(struct mq_conn *mc);
void mq_conn_unwatch(struct mq_conn *mc);
/* 1 when the thread using mc should give up a publish in progress: the
 * process is stopping (after MQ_STOP_GRACE), or, unless the broker said
 * blocked, the publish is older than MQ_PUBLISH_TIMEOUT. */
int mq_conn_overdue(struct mq_conn *mc);
/* ERR_OK when reply is normal, else logs what and returns ERR_UNAVAILABLE. */
MUST_CHECK int mq_reply_ok(amqp_rpc_reply_t reply, const char *what);

/* An integer / string header of a message; def when absent. */
int64_t     mq_header_int(const amqp_table_t *h, const char *key, int64_t def);
const char *mq_header_str(const amqp_table_t *h, const char *key, struct arena *a);

/* One consumer thread (mq_spec.consumer_threads of them): its own broker
 * connection on the service's queue, its own database connection (made by
 * the thread) and its own handler state (ctx). */
struct mq_reader {
    struct mq     *mq;
    int            index; /* 0 also prunes the inbox */
    pthread_t      thread;
    int            started;   /* the thread was created (join it) */
    _Atomic int    ok;        /* subscribed and its database answers */
    struct mq_conn conn;      /* used by this thread only */
    void          *ctx;       /* mq_spec.ctx, or what ctx_new made for this thread */
    int64_t        cut_since; /* the watchdog's: the publish it cut last */
};

struct mq {
    struct mq_spec    spec; /* strings owned (strdup) */
    pthread_t         relay, watchdog;
    int               has_relay, has_watchdog;
    _Atomic int       stop, stopped; /* stopped: relay and consumers have ended */
    _Atomic int       relay_ok;
    struct mq_conn    relay_conn; /* used by the relay thread only */
    struct mq_reader *readers;    /* nreaders consumer threads; NULL when consuming nothing */
    int               nreaders;
    pthread_mutex_t   watch_lock; /* the conns' fd vs the watchdog's shutdown(2) */
    char              queue[MQ_QUEUE_NAME], retry[MQ_QUEUE_NAME], dlq[MQ_QUEUE_NAME];
};

/* Thread bodies (mq_relay.c, mq_consume.c: arg is a struct mq_reader,
 * mq_watch.c). */
void *mq_relay_main(void *arg);
void *mq_consume_main(void *arg);
void *mq_watch_main(void *arg);
/* Sleep up to ms, waking early when stop is set. */
void mq_sleep(struct mq *mq, int ms);
/* Seconds / milliseconds on the monotonic clock. */
double mq_now_s(void);

/* The process-wide backbone metrics (mq.c). */
extern struct metric mq_published, mq_publishes, mq_backlog, mq_oldest_age, mq_consumed,
    mq_duplicates, mq_retried, mq_dead_lettered, mq_publish_failures;

#endif
