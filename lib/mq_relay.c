/*
 * mq_relay.c - the outbox relay: a thread of each publishing service that
 * reads unsent outbox rows in seq (= commit) order, publishes them to
 * souk.events with publisher confirms, and marks them sent. A broker or
 * database outage only delays it: rows stay unsent and are published, in
 * order, once both answer again. A crash between publish and mark means the
 * batch is published twice; consumers drop the copies through their inbox.
 * It does not wait for its poll interval when there is work: mq_outbox_put
 * NOTIFYs OUTBOX_CHANNEL, which PostgreSQL delivers when the writing
 * transaction commits (never for a rollback, from any thread or replica), and
 * the relay LISTENs and sleeps on its connection's socket. The poll interval
 * stays as the fallback (a reconnect forgets the LISTEN until the next pass).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "mq_int.h"

#define RELAY_BATCH      200
#define RELAY_TEXT_(n)   #n
#define RELAY_TEXT(n)    RELAY_TEXT_(n)
#define RELAY_BATCH_TEXT RELAY_TEXT(RELAY_BATCH) /* the same, as the batch query's parameter */
#define RELAY_IDLE_MS    50   /* poll interval when no NOTIFY came (SOUK_OUTBOX_POLL_MS) */
#define STATS_EVERY      1.0  /* s between backlog gauge refreshes */
#define PRUNE_EVERY      60.0 /* s between deletes of old sent rows */

/* Only one relay per database publishes (several replicas of a service may
 * run): the holder of this session advisory lock. The EXISTS test keeps the
 * lock count at one instead of stacking a new hold per loop. LISTEN first:
 * a no-op when already listening, and renewed after a reconnect. */
static const char leader_sql[] =
    "LISTEN " OUTBOX_CHANNEL
    "; SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
    "AND classid = 1936684395 AND objid = 1 AND objsubid = 2 AND granted "
    "AND pid = pg_backend_pid()) THEN true ELSE pg_try_advisory_lock(1936684395, 1) END";
static const char batch_sql[] = "SELECT seq, id, type, envelope FROM outbox "
                                "WHERE sent_at IS NULL ORDER BY seq LIMIT $1::integer";
static const char mark_sql[] = "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])";
static const char stats_sql[] =
    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::bigint, 0) "
    "FROM outbox WHERE sent_at IS NULL";
static const char prune_sql[] =
    "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)";

static int
is_leader(struct db *db, struct arena *a, int *leader)
{
    struct db_rows *rs;
    const char     *v;
    int             rc;

    rc = db_exec_sql(db, a, leader_sql, 0, NULL, &rs);
    if (rc)
        return rc;
    v = rs->nrows == 1 ? db_get(rs, 0, 0) : NULL;
    *leader = v != NULL && v[0] == 't';
    return ERR_OK;
}

/* Mark the rows whose publishes the broker settled: acked ones as sent;
 * nacked ones stay unsent and go out again with the next batch. Row i of
 * the batch had tag first + i. *n is how many rows were marked. */
static int
mark_confirmed(struct mq_conn *mc, struct db *db, struct arena *a, struct db_rows *rs,
               uint64_t first, size_t published, size_t *n)
{
    struct buf *seqs = buf_new(a, (size_t)RELAY_BATCH * 24);
    uint64_t    tag;
    size_t      nacked = 0;
    int         acked, rc;

    buf_putc(seqs, '{');
    while (mq_confirm_take(&mc->confirms, &tag, &acked)) {
        if (tag - first >= published)
            continue; /* not this batch's: cannot happen, tags are consecutive */
        if (!acked) {
            nacked++;
            continue;
        }
        buf_printf(seqs, "%s%s", *n ? "," : "", db_get(rs, (size_t)(tag - first), 0));
        (*n)++;
    }
    buf_append(seqs, "}", 2); /* with the NUL: the text array literal is a C string */
    if (nacked > 0)
        log_warn("outbox relay: the broker refused %zu event(s); they go out again", nacked);
    if (*n == 0)
        return nacked ? ERR_UNAVAILABLE : ERR_OK;
    rc = buf_error(seqs);
    if (rc == ERR_OK)
        rc = db_exec_sql(db, a, mark_sql, 1, (const char *const[]){buf_data(seqs)}, NULL);
    if (rc == ERR_OK)
        metrics_add(&mq_published, (int64_t)*n);
    else
        *n = 0;
    return rc ? rc : nacked ? ERR_UNAVAILABLE : ERR_OK;
}

/* Publish one batch; *n is how many rows were confirmed and marked. Only
 * rows the broker did not ack (a nack, a lost connection, a timeout) are
 * published again, by a later batch. The batch is read in the session that
 * holds the leader's lock (a reconnect in between loses it: nothing is
 * published then, and the next pass asks again). */
static int
publish_batch(struct mq *mq, struct db *db, struct mq_conn *mc, struct arena *a, uint64_t session,
              size_t *n)
{
    struct db_rows *rs;
    uint64_t        first;
    size_t          i, published = 0;
    int             rc, mrc;

    *n = 0;
    /* The NOTIFYs that came so far are for commits this read sees: taken
     * now, they do not wake the relay again for rows it already sent (an
     * empty pass per commit otherwise). Later ones stay for relay_idle. */
    (void)db_wait_notify(db, 0);
    rc = db_exec_sql(db, a, batch_sql, 1, (const char *const[]){RELAY_BATCH_TEXT}, &rs);
    if (rc || rs->nrows == 0 || db_session(db) != session)
        return rc;
    if (mc->c == NULL) {
        rc = mq_conn_open(mc, mq->spec.cfg.amqp_url);
        if (rc)
            return rc;
    }
    first = mc->confirms.next;
    for (i = 0; rc == ERR_OK && i < rs->nrows; i++) {
        struct mq_pub p = {.exchange = MQ_EXCHANGE,
                           .routing_key = db_get(rs, i, 2),
                           .message_id = db_get(rs, i, 1),
                           .type = db_get(rs, i, 2),
                           .body = db_get(rs, i, 3),
                           .len = db_len(rs, i, 3)};

        rc = mq_conn_publish(mc, &p, 0);
        if (rc == ERR_OK)
            published++;
    }
    metrics_add(&mq_publishes, (int64_t)published);
    if (rc == ERR_OK)
        rc = mq_conn_confirm_all(mc);
    /* What was acked before a failure stays acked: mark it either way. */
    mrc = mark_confirmed(mc, db, a, rs, first, published, n);
    if (rc && mc->c != NULL)
        mq_conn_close(mc); /* the rest is republished on a new channel */
    if (rc || mrc)
        metrics_add(&mq_publish_failures, 1);
    return rc ? rc : mrc;
}

/* The relay thread's own bookkeeping. */
struct relay {
    uint64_t leader; /* the db session that holds the leader's lock (0: none) */
    double   last_stats, last_prune;
    int      busy;
    int      failing; /* the last batch failed: not ready until one goes through */
};

static void
refresh_stats(struct mq *mq, struct db *db, struct arena *a, struct relay *st)
{
    struct db_rows *rs;
    double          t = mq_now_s();

    if (t - st->last_stats >= STATS_EVERY) {
        st->last_stats = t;
        if (db_exec_sql(db, a, stats_sql, 0, NULL, &rs) == ERR_OK && rs->nrows == 1) {
            metrics_set(&mq_backlog, db_i64(rs, 0, 0));
            metrics_set(&mq_oldest_age, db_i64(rs, 0, 1));
        }
    }
    if (t - st->last_prune >= PRUNE_EVERY) {
        st->last_prune = t;
        if (db_exec_sql(db, a, prune_sql, 1,
                        (const char *const[]){db_i64_text(a, mq->spec.outbox_retention_s)},
                        NULL) != ERR_OK)
            log_warn("outbox: pruning sent rows failed (will retry)");
    }
}

/* One pass: be ready (database and broker reachable), refresh the gauges,
 * publish what is waiting. *busy is 1 when a full batch went out (loop again
 * at once). The gauges are kept fresh while the broker is down: that is when
 * the backlog matters. */
static int
relay_step(struct mq *mq, struct db *db, struct mq_conn *mc, struct arena *a, struct relay *st)
{
    size_t n = 0;
    int    leader, rc;

    st->busy = 0;
    /* The lock is the session's: asked again only in a new session (or
     * while another relay leads), not on every pass. */
    leader = st->leader != 0 && db_session(db) == st->leader;
    if (!leader) {
        rc = is_leader(db, a, &leader);
        if (rc)
            return rc;
        st->leader = leader ? db_session(db) : 0;
    }
    refresh_stats(mq, db, a, st);
    if (mc->c == NULL) {
        rc = mq_conn_open(mc, mq->spec.cfg.amqp_url);
        if (rc)
            return rc;
    } else {
        rc = mq_conn_pump(mc); /* heartbeats, and notice a closed connection */
        if (rc) {
            mq_conn_close(mc);
            return rc;
        }
    }
    /* A fresh connection is not enough after a failed batch: under a
     * resource alarm the broker accepts connections and then stalls every
     * publish, so only a batch that goes through makes the relay ready. */
    if (!st->failing)
        atomic_store(&mq->relay_ok, 1);
    if (!leader || mq->spec.cfg.outbox_paused) {
        atomic_store(&mq->relay_ok, 1);
        return ERR_OK;
    }
    rc = publish_batch(mq, db, mc, a, st->leader, &n);
    st->busy = n == RELAY_BATCH;
    st->failing = rc != ERR_OK;
    if (rc == ERR_OK)
        atomic_store(&mq->relay_ok, 1);
    return rc;
}

/* Wait up to ms for a commit's NOTIFY, in slices so that mq_stop is seen
 * within 100 ms; without a connection to wait on, just sleep. */
static void
relay_idle(struct mq *mq, struct db *db, int ms)
{
    while (ms > 0 && !atomic_load(&mq->stop)) {
        int slice = ms < 100 ? ms : 100, got = db_wait_notify(db, slice);

        if (got > 0)
            return;
        if (got < 0) {
            mq_sleep(mq, ms);
            return;
        }
        ms -= slice;
    }
}

void *
mq_relay_main(void *arg)
{
    struct mq      *mq = arg;
    struct db      *db = db_new(mq->spec.db_url, NULL);
    struct mq_conn *mc = &mq->relay_conn;
    struct relay    st = {0, 0, 0, 0, 0};
    int             backoff = 100, rc, down = 0;
    int idle = mq->spec.cfg.outbox_poll_ms > 0 ? (int)mq->spec.cfg.outbox_poll_ms : RELAY_IDLE_MS;

    while (!atomic_load(&mq->stop)) {
        struct arena *a = arena_create();

        rc = db == NULL ? ERR_INTERNAL : relay_step(mq, db, mc, a, &st);
        arena_destroy(a);
        if (rc) {
            atomic_store(&mq->relay_ok, 0);
            if (!down)
                log_warn("outbox relay: %s; retrying with backoff", err_name(rc));
            down = 1;
            mq_sleep(mq, backoff);
            backoff = backoff * 2 > MQ_BACKOFF_MAX ? MQ_BACKOFF_MAX : backoff * 2;
            continue;
        }
        if (down)
            log_info("outbox relay: connected again");
        down = 0;
        backoff = 100;
        if (!st.busy)
            relay_idle(mq, db, idle); /* a commit with outbox rows wakes it */
    }
    mq_conn_close(mc);
    db_free(db);
    return NULL;
}
