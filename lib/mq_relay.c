/*
 * mq_relay.c - the outbox relay: a thread of each publishing service that
 * reads unsent outbox rows in seq (= commit) order, publishes them to
 * souk.events with publisher confirms, and marks them sent. A broker or
 * database outage only delays it: rows stay unsent and are published, in
 * order, once both answer again. A crash between publish and mark means the
 * batch is published twice; consumers drop the copies through their inbox.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "mq_int.h"

#define RELAY_BATCH   200
#define RELAY_IDLE_MS 50   /* poll interval when the outbox is empty */
#define STATS_EVERY   1.0  /* s between backlog gauge refreshes */
#define PRUNE_EVERY   60.0 /* s between deletes of old sent rows */

/* Only one relay per database publishes (several replicas of a service may
 * run): the holder of this session advisory lock. The EXISTS test keeps the
 * lock count at one instead of stacking a new hold per loop. */
static const char leader_sql[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
    "AND classid = 1936684395 AND objid = 1 AND objsubid = 2 AND granted "
    "AND pid = pg_backend_pid()) THEN true ELSE pg_try_advisory_lock(1936684395, 1) END";
static const char batch_sql[] = "SELECT seq, id, type, envelope FROM outbox "
                                "WHERE sent_at IS NULL ORDER BY seq LIMIT 200";
static const char mark_sql[] = "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])";
static const char stats_sql[] =
    "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::bigint, 0) "
    "FROM outbox WHERE sent_at IS NULL";
static const char prune_sql[] =
    "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)";

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* Publish one batch; *n is how many rows were published and marked. */
static int
publish_batch(struct mq *mq, struct db *db, struct mq_conn *mc, struct arena *a, size_t *n)
{
    struct db_rows *rs;
    struct buf     *seqs;
    size_t          i;
    int             rc;

    *n = 0;
    rc = db_exec_sql(db, a, batch_sql, 0, NULL, &rs);
    if (rc || rs->nrows == 0)
        return rc;
    if (mc->c == NULL) {
        rc = mq_conn_open(mc, mq->spec.cfg.amqp_url);
        if (rc)
            return rc;
    }
    seqs = buf_new(a, (size_t)RELAY_BATCH * 24);
    buf_putc(seqs, '{');
    for (i = 0; i < rs->nrows; i++) {
        struct mq_pub p = {.exchange = MQ_EXCHANGE,
                           .routing_key = db_get(rs, i, 2),
                           .message_id = db_get(rs, i, 1),
                           .type = db_get(rs, i, 2),
                           .body = db_get(rs, i, 3),
                           .len = db_len(rs, i, 3)};

        rc = mq_conn_publish(mc, &p, 0);
        if (rc)
            goto done;
        buf_printf(seqs, "%s%s", i ? "," : "", db_get(rs, i, 0));
    }
    buf_append(seqs, "}", 2); /* with the NUL: the text array literal is a C string */
    rc = mq_conn_confirm_all(mc);
    if (rc)
        goto done;
    rc = buf_error(seqs);
    if (rc)
        goto done;
    rc = db_exec_sql(db, a, mark_sql, 1, (const char *const[]){buf_data(seqs)}, NULL);
    if (rc == ERR_OK) {
        *n = rs->nrows;
        metrics_add(&mq_published, (int64_t)rs->nrows);
    }
done:
    if (rc && mc->c != NULL) {
        metrics_add(&mq_publish_failures, 1);
        mq_conn_close(mc); /* a half-confirmed batch is republished on a new channel */
    }
    return rc;
}

/* The relay thread's own bookkeeping. */
struct relay {
    double last_stats, last_prune;
    int    busy;
};

static void
refresh_stats(struct mq *mq, struct db *db, struct arena *a, struct relay *st)
{
    struct db_rows *rs;
    double          t = now_s();

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
    rc = is_leader(db, a, &leader);
    if (rc)
        return rc;
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
    atomic_store(&mq->relay_ok, 1);
    if (!leader || mq->spec.cfg.outbox_paused)
        return ERR_OK;
    rc = publish_batch(mq, db, mc, a, &n);
    st->busy = n == RELAY_BATCH;
    return rc;
}

void *
mq_relay_main(void *arg)
{
    struct mq     *mq = arg;
    struct db     *db = db_new(mq->spec.db_url, NULL);
    struct mq_conn mc = {0};
    struct relay   st = {0, 0, 0};
    int            backoff = 100, rc, down = 0;

    while (!atomic_load(&mq->stop)) {
        struct arena *a = arena_create();

        rc = db == NULL ? ERR_INTERNAL : relay_step(mq, db, &mc, a, &st);
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
            mq_sleep(mq, RELAY_IDLE_MS);
    }
    mq_conn_close(&mc);
    db_free(db);
    return NULL;
}
