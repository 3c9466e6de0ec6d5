/*
 * mq.h - the event backbone (rabbitmq-c 0.11 and the service's own
 * PostgreSQL database): the transactional outbox and its relay, and
 * consumers with an inbox, delayed retries and a dead-letter queue.
 *
 * Publishing: a handler never talks to the broker. mq_outbox_put writes the
 * event into the service's outbox table inside the handler's transaction;
 * the relay thread publishes rows in commit order with publisher confirms to
 * the topic exchange souk.events and marks them sent.
 *
 * Consuming: each service has one durable quorum queue (named after the
 * service) bound by its consumers' routing keys. A consumer thread gives each
 * message an arena and a transaction, records the event id in the inbox (a
 * duplicate is acked and skipped), runs the handler, commits, runs the
 * handler's after_commit hook if it set one (struct mq_msg), then acks. A
 * failing handler is retried after a delay (queue <svc>.retry), up to
 * max_attempts, then parked in <svc>.dlq for `soukctl dlq`; a delivery that
 * killed the process counts as an attempt too. Inbox rows older than
 * inbox_retain_s are pruned by the consumer thread.
 *
 * Tables (lib/migrations, applied by `soukctl schema up` to every service
 * database that publishes or consumes; see contracts/events.md):
 *   outbox (seq bigserial, id uuid, type text, aggregate_id bigint,
 *           envelope text, created_at timestamptz, sent_at timestamptz)
 *   inbox  (event_id uuid primary key, type text, processed_at timestamptz)
 */
#ifndef SOUK_MQ_H
#define SOUK_MQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "err.h"
#include "event.h"
#include "work.h"

struct arena;
struct db;
struct mq;

#define MQ_EXCHANGE "souk.events"

/* One message being handled: work.arena holds everything, work.db is inside
 * the transaction that also holds the inbox row, work.trace_id is the
 * envelope's (so events the handler writes carry it on), and work.ext is
 * mq_spec.ctx. Handlers pass &m->work to the same store, events and cache
 * code request handlers call (work.h).
 *
 * after_commit: a handler may set it to run something once its transaction
 * has committed (before the ack), e.g. writing the new state through to a
 * cache that must not show it before the database does. It is called with
 * after_commit_arg only after a successful commit, never for a rollback, a
 * failed commit or a duplicate, and at most once per attempt (mq clears it
 * before each attempt). The arena is still alive; m->work.db is outside any
 * transaction then. It cannot fail the message: the effect is committed.
 * A crash between the commit and the hook skips it (the redelivery is a
 * duplicate), so use it for what a TTL or the next write repairs. */
struct mq_msg {
    struct work         work;
    const struct event *ev;
    int                 attempt; /* 1 on first delivery */
    const char         *error;   /* a failing handler may say why (kept with a dead letter) */
    void (*after_commit)(struct mq_msg *m, void *arg);
    void *after_commit_arg;
};

/* ERR_OK commits; any other code rolls back and schedules a retry (the
 * handler logs why). */
typedef int mq_handler_fn(struct mq_msg *m);

struct mq_consumer {
    enum event_type type;
    mq_handler_fn  *fn; /* NULL ends the table */
};

/* The backbone's settings, the same four variables in every service: embed a
 * struct mq_config in the service's config struct and put MQ_CFG_ROWS in its
 * cfg table, and pass it as mq_spec.cfg. */
struct mq_config {
    const char *amqp_url;
    int         outbox_paused; /* CFG_BOOL */
    int64_t     max_attempts, retry_delay_ms;
    int64_t     inbox_retain_s; /* inbox rows kept this long (raised to the retry window) */
    int64_t     outbox_poll_ms; /* the relay's poll when no NOTIFY wakes it; 0 = 50 */
};

#define MQ_CFG_ROWS(st, f)                                                                         \
    CFG_STR_ROW("SOUK_AMQP_URL", st, f.amqp_url, "amqp://souk:souk-dev@127.0.0.1:55672/%2f",       \
                "RabbitMQ, the event backbone"),                                                   \
        CFG_BOOL_ROW("SOUK_OUTBOX_PAUSED", st, f.outbox_paused, "0",                               \
                     "tests: commit events without publishing them"),                              \
        CFG_INT_ROW("SOUK_MQ_MAX_ATTEMPTS", st, f.max_attempts, "5", 1, 100,                       \
                    "handler attempts before an event is dead-lettered"),                          \
        CFG_INT_ROW("SOUK_MQ_RETRY_DELAY_MS", st, f.retry_delay_ms, "1000", 1, 3600000,            \
                    "first retry delay, doubled per attempt"),                                     \
        CFG_INT_ROW("SOUK_MQ_INBOX_RETAIN_S", st, f.inbox_retain_s, "604800", 3600, 315360000,     \
                    "inbox rows (duplicate detection) kept this long"),                            \
        CFG_INT_ROW("SOUK_OUTBOX_POLL_MS", st, f.outbox_poll_ms, "50", 1, 60000,                   \
                    "relay poll when no commit NOTIFYs it (rows written outside mq_outbox_put)")

struct mq_spec {
    const char               *service;   /* queue name and log tag: "search" */
    const char               *db_url;    /* the service's database (outbox, inbox) */
    int                       publishes; /* 1: run the outbox relay */
    const struct mq_consumer *consumers; /* NULL: consume nothing */
    void                     *ctx;       /* passed to handlers (m->work.ext), unless ctx_new */
    struct mq_config          cfg;       /* broker URL, paused relay, attempts, retry delay */
    int64_t                   outbox_retention_s; /* sent rows kept this long; 0 = 7 days */
    /* Consumer threads on the service's one queue (0 = 1, at most 64). Each
     * has its own database and broker connection and takes one message at a
     * time, so n threads handle up to n messages at once (a handler that
     * waits on a slow dependency no longer caps the service at one message
     * per wait). Messages of one queue are then handled in parallel and may
     * commit out of delivery order; the inbox and the services' state
     * machines make that harmless, as for redeliveries. */
    int consumer_threads;
    /* Optional: state of each consumer thread's own (m->work.ext), made by
     * ctx_new on that thread when it starts (NULL only on out-of-memory,
     * which aborts) and freed by ctx_free there when it ends; ctx is then
     * unused. For per-thread connections a handler keeps outside the
     * message's transaction. */
    void *(*ctx_new)(void);
    void (*ctx_free)(void *ctx);
};

/* Start the relay and consumer threads (each with its own database and
 * broker connections). A broker or database that is down is not an error:
 * the threads retry with backoff and mq_ready reports it. ERR_INVALID for a
 * malformed amqp_url or consumer_threads out of range; ERR_INTERNAL if a
 * thread cannot start. */
MUST_CHECK int mq_start(struct mq **out, const struct mq_spec *spec);
/* Stop after the message in hand is settled; free everything. NULL is a no-op. */
void mq_stop(struct mq *mq);
/* ERR_OK when every thread is connected (the relay to broker and database,
 * every consumer thread subscribed); ERR_UNAVAILABLE otherwise. For GET /ready. */
MUST_CHECK int mq_ready(struct mq *mq);

/* Insert payload (an object; the reference is stolen and w's arena releases
 * it, so a json_pack result can be passed as it is: NULL gives ERR_INTERNAL)
 * as an event of type about aggregate_id into the outbox, inside the
 * transaction open on w->db, with w->trace_id as the envelope's trace_id.
 * The relay (polling every 50 ms) publishes it once that transaction has
 * committed. Returns what db_exec_sql returns. */
MUST_CHECK int mq_outbox_put(struct work *w, enum event_type type, int64_t aggregate_id,
                             json_t *payload);

/* A handler's answer to a malformed payload: logs "<svc>: <type> <id>: why",
 * keeps why as the reason a dead letter carries (m->error) and returns
 * ERR_INVALID, so mq retries the message and then parks it. */
MUST_CHECK int mq_msg_bad(struct mq_msg *m, const char *why);
/* Member name of obj as an integer >= 1 in *out; else mq_msg_bad with
 * "payload.<name> must be a positive integer". */
MUST_CHECK int mq_msg_positive(struct mq_msg *m, json_t *obj, const char *name, int64_t *out);
/* The part of a product.* payload every replica checks (contracts/events.md):
 * the document version in *version, and for product.created, .updated and
 * .price_changed the DOC in *doc (an object whose id is aggregate_id); for
 * product.deleted (whose product_id must be aggregate_id) *doc = NULL, a
 * tombstone. ERR_OK, or mq_msg_bad with what is wrong. */
MUST_CHECK int mq_msg_product(struct mq_msg *m, int64_t *version, json_t **doc);
/* A product.* event for a replica that keeps only whether a product exists
 * and its version (reviews, inventory): checks it as mq_msg_product does,
 * then put(w, id, version, deleted, &applied) (the service's store.c
 * upsert, version-guarded; a delete leaves a tombstone), and logs whether it
 * applied or was stale, under svc's name. */
typedef int    mq_product_apply_fn(struct work *w, int64_t id, int64_t version, int deleted,
                                   int *applied);
MUST_CHECK int mq_msg_product_exists(struct mq_msg *m, const char *svc, mq_product_apply_fn *put);

/* ERR_OK when url is a well-formed amqp:// URL. */
MUST_CHECK int mq_url_check(const char *url);

/* ---- dead letters (soukctl dlq) ---- */

struct mq_dead {
    const char *event_id, *type, *error, *died_at;
    int         attempts;
    const char *body; /* the envelope as published */
    size_t      len;
};

/* Every message parked in service's DLQ, oldest first, in a (the queue is
 * left as it was). ERR_UNAVAILABLE when the broker cannot be reached. */
MUST_CHECK int mq_dlq_list(const char *amqp_url, const char *service, struct arena *a,
                           struct mq_dead **out, size_t *n);
/* Send the parked message with event_id (NULL: all of them) back to the
 * service's queue with a fresh attempt count, or drop it (drop = 1). *n is
 * how many were moved; ERR_NOT_FOUND when event_id is not parked. */
MUST_CHECK int mq_dlq_settle(const char *amqp_url, const char *service, const char *event_id,
                             int drop, size_t *n);

/* ---- a consumer's queues, retired (soukctl migrate rollback) ---- */

/* Unbind service's queue from the exchange's routing keys (NULL-terminated):
 * events published from then on no longer reach it. A queue or binding that
 * does not exist is nothing to do. ERR_UNAVAILABLE: the broker failed. */
MUST_CHECK int mq_queue_unbind(const char *amqp_url, const char *service, const char *const *keys);
/* The messages waiting in service's queue and its retry queue, into *n:
 * ready ones, not the one a consumer holds (prefetch 1). An absent queue
 * counts 0. ERR_UNAVAILABLE: the broker failed. */
MUST_CHECK int mq_queue_waiting(const char *amqp_url, const char *service, int64_t *n);
/* Delete service's queue and its retry queue with whatever they still hold
 * (*n: how many messages); <service>.dlq stays, for soukctl dlq. A consumer
 * started later declares a fresh queue. An absent queue is nothing to do. */
MUST_CHECK int mq_queue_delete(const char *amqp_url, const char *service, int64_t *n);

#endif
