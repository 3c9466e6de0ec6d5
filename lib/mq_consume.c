/*
 * mq_consume.c - a service's consumer threads (mq_spec.consumer_threads),
 * each taking one message at a time (prefetch 1) from the service's quorum
 * queue. Each message gets an arena and a transaction holding its inbox row;
 * the ack goes out only after the commit, so a crash at any point means a
 * redelivery that the inbox turns into a no-op. A failing handler is
 * re-published to <svc>.retry with a growing delay, and after max_attempts
 * parked in <svc>.dlq, in both cases confirmed by the broker before the
 * original is acked: nothing is lost.
 * A delivery the consumer never settled because it died (the quorum queue's
 * x-delivery-count) counts as a failed attempt, so a message that crashes
 * the process is parked too instead of crash-looping the service.
 * A database that is down is nobody's message's fault, so it does not count
 * as an attempt: the message waits in hand until the database is back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "mq_int.h"

#define CONSUME_POLL_MS 250
#define MAX_KEYS        64
#define PRUNE_EVERY     60.0 /* s between inbox prunes */
#define PRUNE_BATCH     1000 /* rows per DELETE: short locks, short pauses */
#define PRUNE_BATCHES   20   /* DELETEs per prune at most; the rest waits a minute */
#define TEXT_(x)        #x
#define TEXT(x)         TEXT_(x)

enum outcome { DONE, RETRY, PARK, LEAVE };

static const char inbox_sql[] =
    "INSERT INTO inbox (event_id, type) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING";
static const char applied_sql[] = "SELECT 1 FROM inbox WHERE event_id = $1::uuid";
static const char starts_sql[] =
    "INSERT INTO inbox_starts AS s (event_id) VALUES ($1::uuid) ON CONFLICT (event_id)"
    " DO UPDATE SET starts = s.starts + 1, last_at = now() RETURNING starts";
static const char starts_prune_sql[] =
    "DELETE FROM inbox_starts WHERE last_at < now() - make_interval(secs => $1)";
static const char prune_sql[] =
    "DELETE FROM inbox WHERE event_id IN (SELECT event_id FROM inbox "
    "WHERE processed_at < now() - make_interval(secs => $1) LIMIT " TEXT(PRUNE_BATCH) ")";

static int
subscribe(struct mq *mq, struct mq_conn *mc)
{
    const char *keys[MAX_KEYS];
    size_t      n = 0;
    int         rc;

    for (; n < MAX_KEYS && mq->spec.consumers[n].fn != NULL; n++)
        keys[n] = event_key(mq->spec.consumers[n].type);
    rc = mq_conn_open(mc, mq->spec.cfg.amqp_url);
    if (rc)
        return rc;
    rc = mq_conn_declare_service(mc, mq->queue, keys, n);
    if (rc)
        return rc;
    amqp_basic_qos(mc->c, MQ_CHANNEL, 0, 1, 0);
    rc = mq_reply_ok(amqp_get_rpc_reply(mc->c), "basic.qos");
    if (rc)
        return rc;
    amqp_basic_consume(mc->c, MQ_CHANNEL, amqp_cstring_bytes(mq->queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return mq_reply_ok(amqp_get_rpc_reply(mc->c), "basic.consume");
}

static mq_handler_fn *
handler_for(const struct mq *mq, enum event_type t)
{
    const struct mq_consumer *c;

    for (c = mq->spec.consumers; c->fn != NULL; c++)
        if (c->type == t)
            return c->fn;
    return NULL;
}

/* The log context of a message being handled (log_context): every line the
 * consumer thread writes while handling it names the event and the trace
 * it belongs to, so a request's trace id leads to every consumer's lines. */
static void
msg_log_context(struct buf *b, void *arg)
{
    const struct event *ev = arg;

    buf_puts(b, "\"event_id\":");
    buf_json_str(b, ev->id, strlen(ev->id));
    buf_puts(b, ",\"event_type\":");
    buf_json_str(b, event_key(ev->type), strlen(event_key(ev->type)));
    buf_puts(b, ",\"trace_id\":");
    buf_json_str(b, ev->trace_id, strlen(ev->trace_id));
}

/* Inbox row, handler, commit: one transaction. *dup is 1 when the inbox
 * already had the event (nothing else ran). */
static int
apply(struct mq_reader *rd, struct db *db, struct mq_msg *m, mq_handler_fn *fn, int *dup)
{
    int rc;

    *dup = 0;
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec_sql(db, m->work.arena, inbox_sql, 2,
                     (const char *const[]){m->ev->id, event_key(m->ev->type)}, NULL);
    if (rc)
        goto done;
    if (db_affected(db) == 0) {
        *dup = 1;
        goto done; /* rolled back below: nothing to keep */
    }
    m->work.ext = rd->ctx;
    rc = fn(m);
    if (rc)
        goto done;
    rc = db_commit(db);
    if (rc == ERR_OK && m->after_commit != NULL)
        m->after_commit(m, m->after_commit_arg);
    return rc;
done:
    db_rollback(db);
    return rc;
}

/* Decide what becomes of one delivery. *why explains a failure. */
static enum outcome
process(struct mq_reader *rd, struct db *db, const amqp_envelope_t *env, struct arena *a,
        int attempt, const char **why)
{
    struct mq            *mq = rd->mq;
    struct mq_conn       *mc = &rd->conn;
    const amqp_message_t *msg = &env->message;
    struct event          ev;
    struct mq_msg         m = {.work = {.arena = a, .db = db}, .ev = &ev, .attempt = attempt};
    mq_handler_fn        *fn;
    char                  reason[160];
    int                   rc, dup, backoff = 100;

    if (event_decode(msg->body.bytes, msg->body.len, a, &ev, reason, sizeof(reason))) {
        *why = arena_printf(a, "undecodable envelope: %s", reason);
        return PARK; /* no retry can fix the bytes */
    }
    m.work.trace_id = ev.trace_id;
    /* A copy in the arena: handle() logs the outcome after this frame is gone. */
    log_context(msg_log_context, memcpy(arena_new(a, struct event), &ev, sizeof(ev)));
    fn = handler_for(mq, ev.type);
    if (fn == NULL) {
        log_warn("consumer: no handler for %s (event %s); acked", event_key(ev.type), ev.id);
        return DONE;
    }
    for (;;) {
        m.error = NULL;
        m.after_commit = NULL;
        m.after_commit_arg = NULL;
        rc = apply(rd, db, &m, fn, &dup);
        if (rc != ERR_UNAVAILABLE)
            break;
        atomic_store(&rd->ok, 0);
        if (atomic_load(&mq->stop))
            return LEAVE; /* unacked: the broker hands it to the next consumer */
        mq_sleep(mq, backoff);
        backoff = backoff * 2 > MQ_BACKOFF_MAX ? MQ_BACKOFF_MAX : backoff * 2;
        if (mq_conn_pump(mc))
            return LEAVE;
    }
    atomic_store(&rd->ok, 1);
    if (rc == ERR_OK) {
        metrics_add(dup ? &mq_duplicates : &mq_consumed, 1);
        log_info("consumer: %s %s %s", dup ? "skipped duplicate" : "handled", event_key(ev.type),
                 ev.id);
        return DONE;
    }
    *why = m.error != NULL ? m.error : arena_printf(a, "handler failed: %s", err_name(rc));
    log_warn("consumer: %s %s attempt %d failed: %s", event_key(ev.type), ev.id, attempt, *why);
    return attempt >= mq->spec.cfg.max_attempts ? PARK : RETRY;
}

/* A message past max_attempts only by deliveries nobody settled: was it
 * applied before? The process may have died after the commit and before
 * the ack (in an after_commit hook, say); such a copy is a duplicate to
 * ack, not a message to park (a replay after the inbox horizon would apply
 * it twice). DONE if the inbox has it, else PARK; a database that is down
 * is waited for, as process() does, LEAVE on stop. */
static enum outcome
applied_before(struct mq_reader *rd, struct db *db, const amqp_envelope_t *env, struct arena *a)
{
    struct mq                     *mq = rd->mq;
    struct mq_conn                *mc = &rd->conn;
    const amqp_basic_properties_t *pr = &env->message.properties;
    struct db_rows                *rs;
    const char                    *id;
    int                            rc, backoff = 100;

    if (!(pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG))
        return PARK;
    id = arena_strndup(a, pr->message_id.bytes, pr->message_id.len);
    while ((rc = db_exec_sql(db, a, applied_sql, 1, (const char *const[]){id}, &rs)) ==
           ERR_UNAVAILABLE) {
        atomic_store(&rd->ok, 0);
        if (atomic_load(&mq->stop) || mq_conn_pump(mc))
            return LEAVE;
        mq_sleep(mq, backoff);
        backoff = backoff * 2 > MQ_BACKOFF_MAX ? MQ_BACKOFF_MAX : backoff * 2;
    }
    atomic_store(&rd->ok, 1);
    if (rc == ERR_OK && rs->nrows > 0) {
        metrics_add(&mq_duplicates, 1);
        log_info("consumer: skipped duplicate %s (applied before a crash)", id);
        return DONE;
    }
    return PARK; /* not applied, or an id that is no uuid: the handler's fault either way */
}

/* The handler runs on a redelivered message (the broker counted `returns`
 * unsettled deliveries): record the start, in autocommit before the
 * handler's transaction, and answer how many deliveries died with a handler
 * started on them: the first one (not recorded, assumed) and the recorded
 * starts before this one. Returns that reached no handler (a connection
 * lost, a consumer stopping with the message buffered) count for the
 * broker, not here. Without an id or a database, the broker's count. */
static int
handler_deaths(struct db *db, const amqp_envelope_t *env, struct arena *a, int returns)
{
    const amqp_basic_properties_t *pr = &env->message.properties;
    struct db_rows                *rs;
    const char                    *id;

    if (!(pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG))
        return returns;
    id = arena_strndup(a, pr->message_id.bytes, pr->message_id.len);
    if (db_exec_sql(db, a, starts_sql, 1, (const char *const[]){id}, &rs) != ERR_OK ||
        rs->nrows != 1)
        return returns;
    return (int)db_i64(rs, 0, 0);
}

/* Re-publish the message to <svc>.retry (after a delay) or <svc>.dlq, and
 * wait for the broker's confirm; the caller acks the original only then. */
static int
forward(struct mq *mq, struct mq_conn *mc, const amqp_envelope_t *env, struct arena *a,
        enum outcome o, int attempt, const char *why)
{
    const amqp_basic_properties_t *pr = &env->message.properties;
    amqp_table_entry_t             h[3];
    amqp_table_t                   headers = {0, h};
    char                           died[32];
    int64_t                        delay = mq->spec.cfg.retry_delay_ms;
    struct mq_pub                  p = {.exchange = "", .headers = &headers};
    int                            i;

    for (i = 1; i < attempt && delay < 3600000; i++)
        delay *= 2;
    h[headers.num_entries].key = amqp_cstring_bytes(MQ_H_ATTEMPT);
    h[headers.num_entries].value.kind = AMQP_FIELD_KIND_I32;
    h[headers.num_entries++].value.value.i32 = attempt;
    h[headers.num_entries].key = amqp_cstring_bytes(MQ_H_ERROR);
    h[headers.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
    h[headers.num_entries++].value.value.bytes = amqp_cstring_bytes(why);
    p.message_id = pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG
                       ? arena_strndup(a, pr->message_id.bytes, pr->message_id.len)
                       : "";
    p.type =
        pr->_flags & AMQP_BASIC_TYPE_FLAG ? arena_strndup(a, pr->type.bytes, pr->type.len) : "";
    p.body = env->message.body.bytes;
    p.len = env->message.body.len;
    if (o == RETRY) {
        p.routing_key = mq->retry;
        p.expiration_ms = arena_printf(a, "%lld", (long long)delay);
    } else {
        log_timestamp(died);
        h[headers.num_entries].key = amqp_cstring_bytes(MQ_H_DIED_AT);
        h[headers.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
        h[headers.num_entries++].value.value.bytes = amqp_cstring_bytes(died);
        p.routing_key = mq->dlq;
    }
    return mq_conn_publish(mc, &p, 1);
}

/* Handle one delivery and settle it with the broker. Non-zero means the
 * connection is no longer usable (the message will be redelivered). */
static int
handle(struct mq_reader *rd, struct db *db, const amqp_envelope_t *env)
{
    struct mq          *mq = rd->mq;
    struct mq_conn     *mc = &rd->conn;
    const amqp_table_t *h = env->message.properties._flags & AMQP_BASIC_HEADERS_FLAG
                                ? &env->message.properties.headers
                                : NULL;
    struct arena       *a = arena_create();
    const char         *why = "";
    int                 attempt, died, rc = ERR_OK;
    enum outcome        o;

    /* Attempts so far: the failures that went through <svc>.retry, plus the
     * deliveries of this copy that were never settled. The quorum queue
     * counts those itself (x-delivery-count): the consumer died, or lost its
     * connection, with the message in hand. A message that kills the process
     * every time is thus parked like one whose handler fails every time. */
    died = (int)mq_header_int(h, MQ_H_DELIVERIES, 0);
    if (died > 0)
        died = handler_deaths(db, env, a, died);
    attempt = 1 + (int)mq_header_int(h, MQ_H_ATTEMPT, 0) + died;
    if (died > 0 && attempt > mq->spec.cfg.max_attempts) {
        attempt--; /* the attempts made; this delivery runs no handler */
        why = arena_printf(a,
                           "handled %d time(s) without being settled: the consumer died "
                           "handling it",
                           died);
        o = applied_before(rd, db, env, a);
    } else {
        o = process(rd, db, env, a, attempt, &why);
    }
    if (o == LEAVE) {
        rc = ERR_UNAVAILABLE;
        goto done;
    }
    if (o != DONE) {
        rc = forward(mq, mc, env, a, o, attempt, why);
        if (rc)
            goto done;
        metrics_add(o == RETRY ? &mq_retried : &mq_dead_lettered, 1);
        if (o == PARK)
            log_error("consumer: parked a message in %s after %d attempt(s): %s", mq->dlq, attempt,
                      why);
    }
    if (amqp_basic_ack(mc->c, MQ_CHANNEL, env->delivery_tag, 0) != AMQP_STATUS_OK)
        rc = ERR_UNAVAILABLE;
done:
    log_context(NULL, NULL);
    arena_destroy(a);
    return rc;
}

/* A frame other than a delivery arrived (consume_message said so): read it;
 * a close of the channel or connection means reconnecting. */
static int
other_frame(struct mq_conn *mc)
{
    struct timeval tv = {0, 0};
    amqp_frame_t   f;

    if (amqp_simple_wait_frame_noblock(mc->c, &f, &tv) != AMQP_STATUS_OK)
        return ERR_UNAVAILABLE;
    if (mq_conn_notice(mc, &f))
        return ERR_OK;
    if (f.frame_type == AMQP_FRAME_METHOD &&
        (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        log_warn("consumer: the broker closed the %s",
                 f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ? "channel" : "connection");
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

/* Wait for one delivery and handle it. */
static int
consume_one(struct mq_reader *rd, struct db *db)
{
    struct mq_conn  *mc = &rd->conn;
    struct timeval   tv = {0, CONSUME_POLL_MS * 1000};
    amqp_envelope_t  env;
    amqp_rpc_reply_t res;
    int              rc;

    amqp_maybe_release_buffers(mc->c);
    res = amqp_consume_message(mc->c, &env, &tv, 0);
    if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        res.library_error == AMQP_STATUS_TIMEOUT)
        return ERR_OK;
    if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        res.library_error == AMQP_STATUS_UNEXPECTED_STATE)
        return other_frame(mc);
    if (res.reply_type != AMQP_RESPONSE_NORMAL)
        return mq_reply_ok(res, "consume");
    rc = handle(rd, db, &env);
    amqp_destroy_envelope(&env);
    return rc;
}

/* Forget inbox rows past the retention horizon, a few small batches at a
 * time between messages, so the table stays the size of the horizon. A
 * failure is only logged: the next prune catches up. */
static void
prune_inbox(struct mq *mq, struct db *db, double *last)
{
    struct arena *a;
    int           i, rc = ERR_OK;
    int64_t       gone = 0;

    if (mq_now_s() - *last < PRUNE_EVERY)
        return;
    *last = mq_now_s();
    a = arena_create();
    for (i = 0; i < PRUNE_BATCHES && !atomic_load(&mq->stop); i++) {
        rc = db_exec_sql(db, a, prune_sql, 1,
                         (const char *const[]){db_i64_text(a, mq->spec.cfg.inbox_retain_s)}, NULL);
        if (rc)
            break;
        gone += db_affected(db);
        if (db_affected(db) < PRUNE_BATCH)
            break;
    }
    if (rc == ERR_OK)
        rc = db_exec_sql(db, a, starts_prune_sql, 1,
                         (const char *const[]){db_i64_text(a, mq->spec.cfg.inbox_retain_s)}, NULL);
    arena_destroy(a);
    if (rc)
        log_warn("consumer %s: pruning the inbox failed (will retry)", mq->queue);
    else if (gone > 0)
        log_info("consumer %s: pruned %lld inbox row(s) older than %lld s", mq->queue,
                 (long long)gone, (long long)mq->spec.cfg.inbox_retain_s);
}

int
mq_msg_bad(struct mq_msg *m, const char *why)
{
    log_error("%s: %s %s: %s", log_svc(), event_key(m->ev->type), m->ev->id, why);
    m->error = why;
    return ERR_INVALID;
}

int
mq_msg_positive(struct mq_msg *m, json_t *obj, const char *name, int64_t *out)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return mq_msg_bad(
            m, arena_printf(m->work.arena, "payload.%s must be a positive integer", name));
    *out = json_integer_value(v);
    return ERR_OK;
}

int
mq_msg_product(struct mq_msg *m, int64_t *version, json_t **doc)
{
    int64_t id;
    int     rc;

    *doc = NULL;
    rc = mq_msg_positive(m, m->ev->payload, "version", version);
    if (rc)
        return rc;
    if (m->ev->type == EVENT_PRODUCT_DELETED) {
        rc = mq_msg_positive(m, m->ev->payload, "product_id", &id);
        if (rc == ERR_OK && id != m->ev->aggregate_id)
            return mq_msg_bad(m, "payload.product_id differs from aggregate_id");
        return rc;
    }
    *doc = json_object_get(m->ev->payload, "product");
    if (!json_is_object(*doc))
        return mq_msg_bad(m, "payload.product must be an object");
    rc = mq_msg_positive(m, *doc, "id", &id);
    if (rc == ERR_OK && id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.product.id differs from aggregate_id");
    return rc;
}

int
mq_msg_product_exists(struct mq_msg *m, const char *svc, mq_product_apply_fn *put)
{
    json_t *doc;
    int64_t version;
    int     rc, applied;

    rc = mq_msg_product(m, &version, &doc);
    if (rc == ERR_OK)
        rc = put(&m->work, m->ev->aggregate_id, version, doc == NULL, &applied);
    if (rc == ERR_OK)
        log_debug("%s: %s product %lld v%lld %s", svc, event_key(m->ev->type),
                  (long long)m->ev->aggregate_id, (long long)version,
                  applied ? "applied" : "stale");
    return rc;
}

void *
mq_consume_main(void *arg)
{
    struct mq_reader *rd = arg;
    struct mq        *mq = rd->mq;
    struct db        *db = db_new(mq->spec.db_url, NULL);
    struct mq_conn   *mc = &rd->conn;
    double            last_prune = -PRUNE_EVERY; /* the first idle moment prunes */
    int               backoff = 100, rc, down = 0;

    rd->ctx = mq->spec.ctx;
    if (mq->spec.ctx_new != NULL) {
        rd->ctx = mq->spec.ctx_new();
        if (rd->ctx == NULL) {
            log_error("out of memory while starting consumer %d", rd->index);
            abort();
        }
    }
    while (db != NULL && !atomic_load(&mq->stop)) {
        if (mc->c == NULL) {
            rc = db_ping(db);
            if (rc == ERR_OK)
                rc = subscribe(mq, mc);
            if (rc) {
                mq_conn_close(mc);
                atomic_store(&rd->ok, 0);
                if (!down)
                    log_warn("consumer %s#%d: %s; retrying with backoff", mq->queue, rd->index,
                             err_name(rc));
                down = 1;
                mq_sleep(mq, backoff);
                backoff = backoff * 2 > MQ_BACKOFF_MAX ? MQ_BACKOFF_MAX : backoff * 2;
                continue;
            }
            if (down)
                log_info("consumer %s#%d: subscribed again", mq->queue, rd->index);
            down = 0;
            backoff = 100;
            atomic_store(&rd->ok, 1);
        }
        rc = consume_one(rd, db);
        if (rc) {
            /* A delivery in hand goes back to the queue (and counts as one
             * its consumer died with): said, so a parked message can be
             * traced to the reconnects that sent it round. */
            log_warn("consumer %s#%d: the broker connection is no longer usable (%s); reconnecting",
                     mq->queue, rd->index, err_name(rc));
            mq_conn_close(mc);
            atomic_store(&rd->ok, 0);
            continue;
        }
        if (rd->index == 0) /* one pruner is enough; the others would only contend */
            prune_inbox(mq, db, &last_prune);
    }
    mq_conn_close(mc);
    db_free(db);
    if (mq->spec.ctx_new != NULL && mq->spec.ctx_free != NULL)
        mq->spec.ctx_free(rd->ctx);
    return NULL;
}
