/*
 * sync.c - the forward sync loop (sync.h). Read the position, stream from
 * it, and for each transaction: begin on the service's database, apply its
 * changes through the mapping (none when it carries skip_replication: those
 * are reverse sync's own writes coming back), record the new position and
 * the newest cutover marker, commit. Any failure rolls back and restarts the
 * stream from the committed position, so nothing is lost or applied twice.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "db.h"
#include "kv.h"
#include "log.h"
#include "mdb.h"
#include "metrics.h"
#include "migrate/cdc/cdc.h"
#include "migrate/map/map.h"
#include "migrate/sync/position.h"
#include "migrate/sync/sync.h"
#include "work.h"

#define SYNC_BUSY_TRIES 5

static struct metric m_applied = {.name = "souk_sync_applied_total",
                                  .help = "Transactions applied to the service's database.",
                                  .kind = METRIC_COUNTER};
static struct metric m_changes = {.name = "souk_sync_changes_total",
                                  .help = "Row changes applied to the service's database.",
                                  .kind = METRIC_COUNTER};
static struct metric m_skipped = {
    .name = "souk_sync_skipped_total",
    .help = "Transactions not applied because they carry skip_replication (reverse sync's).",
    .kind = METRIC_COUNTER};
static struct metric m_errors = {.name = "souk_sync_errors_total",
                                 .help = "Stream or apply failures (each restarts the stream).",
                                 .kind = METRIC_COUNTER};
static struct metric m_lag_events = {
    .name = "souk_sync_lag_events",
    .help = "Transactions the monolith has committed that are not applied yet.",
    .kind = METRIC_GAUGE};
static struct metric m_lag_seconds = {
    .name = "souk_sync_lag_seconds",
    .help = "Age of the oldest committed transaction not applied yet (0 when caught up).",
    .kind = METRIC_GAUGE};
static struct metric m_rate = {.name = "souk_sync_applied_per_second",
                               .help = "Transactions applied per second over the last seconds.",
                               .kind = METRIC_GAUGE,
                               .scale = 100};
static struct metric m_position = {
    .name = "souk_sync_position_seq",
    .help = "Sequence number of the applied position (its newest GTID's N of D-S-N).",
    .kind = METRIC_GAUGE};
static struct metric m_refused = {
    .name = "souk_sync_refused",
    .help = "1 when the stream holds a change that cannot be captured and the sync stopped.",
    .kind = METRIC_GAUGE};

void
sync_metrics_register(void)
{
    struct metric *all[] = {&m_applied,     &m_changes, &m_skipped,  &m_errors, &m_lag_events,
                            &m_lag_seconds, &m_rate,    &m_position, &m_refused};
    size_t         i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        metrics_register(all[i]);
}

/* The loop's state (the thread's own). */
struct run {
    struct sync  *s;
    struct db    *db;
    struct mdb   *mono;
    struct kv    *kv; /* a domain kept in Redis (map_domain.kv), else NULL */
    struct cdc   *cdc;
    struct arena *a;
    const char  **tables; /* the domain's tables and the marker table */
    int64_t       last_ts;
    int           dirty; /* the stream moved past transactions with nothing to apply */
    double        saved_at;
    double        lag_at, rate_at;
    int64_t       rate_n;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep ms unless asked to stop. */
static void
nap(struct sync *s, int ms)
{
    for (; ms > 0 && !s->stop; ms -= 50)
        usleep(50 * 1000);
}

static void
lag_update(struct run *r, int force)
{
    struct arena    *a;
    char            *server = NULL;
    struct mdb_rows *rs;
    int64_t          behind;
    double           t = now_s();

    if (!force && t - r->lag_at < 1.0)
        return;
    r->lag_at = t;
    a = arena_create();
    if (mdb_query(r->mono, a, "SELECT @@gtid_binlog_pos", NULL, 0, &rs) == ERR_OK && rs->nrows)
        server = (char *)mdb_get(rs, 0, 0);
    if (server != NULL && r->cdc != NULL) {
        behind = cdc_gtid_behind(cdc_position(r->cdc), server);
        metrics_set(&m_lag_events, behind);
        metrics_set(&m_lag_seconds, behind == 0 || r->last_ts == 0 ? 0 : (int64_t)t - r->last_ts);
    }
    arena_destroy(a);
    if (t - r->rate_at >= 5.0) {
        metrics_set(&m_rate, (int64_t)(100.0 * (double)r->rate_n / (t - r->rate_at)));
        r->rate_at = t;
        r->rate_n = 0;
    }
}

/* The reader at the committed position (or the start position, recorded
 * first so a crash before the first transaction does not move "now"). */
static int
stream_open(struct run *r)
{
    struct sync      *s = r->s;
    struct cdc_config c = {0};
    char             *gtid, *marker;
    int               rc;

    arena_reset(r->a);
    rc = position_init(r->db, r->a);
    if (rc == ERR_OK)
        rc = position_read(r->db, r->a, s->cfg.domain->name, &gtid, &marker);
    if (rc == ERR_OK && gtid == NULL) {
        gtid = (char *)s->cfg.start_gtid;
        if (gtid[0] == '\0')
            rc = cdc_server_position(s->cfg.monolith_db, r->a, &gtid);
        if (rc == ERR_OK)
            rc = position_start(r->db, r->a, s->cfg.domain->name, gtid);
        if (rc == ERR_OK)
            log_info("sync %s: no position yet, starting at %s", s->cfg.domain->name, gtid);
    }
    if (rc)
        return rc;
    c.dsn = s->cfg.binlog_db;
    c.tables = r->tables;
    c.gtid = gtid;
    c.server_id = s->cfg.server_id;
    c.heartbeat_ms = s->cfg.heartbeat_ms;
    r->cdc = cdc_new(&c);
    if (r->cdc == NULL) {
        log_error("sync %s: position \"%s\" or the binlog dsn is malformed", s->cfg.domain->name,
                  gtid);
        return ERR_INVALID;
    }
    rc = cdc_open(r->cdc);
    if (rc)
        log_error("sync %s: %s", s->cfg.domain->name, cdc_error(r->cdc));
    return rc;
}

static void
stream_close(struct run *r)
{
    cdc_free(r->cdc);
    r->cdc = NULL;
}

/* The keys c touches (map.h struct map_touch), both images (an update may
 * move a row to another key), appended to whats/keys (room: touch_rows). */
static void
touched_add(const struct map_domain *d, const struct cdc_change *c, const char **whats,
            const char **keys, size_t *n)
{
    const struct map_touch *t;
    const char             *k[2];
    int                     i;

    for (t = d->touch; t != NULL && t->table != NULL; t++) {
        if (strcmp(t->table, c->table) != 0)
            continue;
        k[0] = map_value(c, t->key);
        k[1] = map_before(c, t->key);
        for (i = 0; i < 2; i++) {
            if (k[i] == NULL || (i == 1 && k[0] != NULL && strcmp(k[0], k[1]) == 0))
                continue;
            whats[*n] = t->what;
            keys[(*n)++] = k[i];
        }
    }
}

/* A change touches at most two keys (its images) per map_touch row. */
static size_t
touch_rows(const struct map_domain *d)
{
    size_t n = 0;

    while (d->touch != NULL && d->touch[n].table != NULL)
        n++;
    return n;
}

/* One transaction's changes and its position, in one service transaction. */
static int
txn_apply_once(struct run *r, const struct cdc_txn *t)
{
    const struct map_domain *d = r->s->cfg.domain;
    struct map_ext           ext = {.kv = r->kv, .mono = r->mono};
    struct work              w = {.arena = r->a, .db = r->db, .ext = &ext};
    const char              *marker = NULL;
    size_t                   cap = t->n * 2 * touch_rows(d), ntouched = 0, i;
    const char             **whats = arena_alloc(r->a, (cap + 1) * sizeof(*whats));
    const char             **keys = arena_alloc(r->a, (cap + 1) * sizeof(*keys));
    int                      rc;

    rc = db_begin(r->db);
    for (i = 0; rc == ERR_OK && !t->skip_replication && i < t->n; i++) {
        const struct cdc_change *c = &t->changes[i];

        if (strcmp(c->table, SYNC_MARKER_TABLE) == 0) {
            const char *dom = map_value(c, "domain");

            if (c->op == CDC_INSERT && dom != NULL && strcmp(dom, d->name) == 0)
                marker = map_value(c, "token");
            continue;
        }
        rc = d->apply(&w, c);
        if (!rc)
            touched_add(d, c, whats, keys, &ntouched);
        if (rc)
            log_error("sync %s: applying %s %s id %s of %s failed", d->name,
                      c->op == CDC_INSERT   ? "insert into"
                      : c->op == CDC_UPDATE ? "update of"
                                            : "delete from",
                      c->table, map_value(c, "id") ? map_value(c, "id") : "?", t->gtid);
    }
    if (rc == ERR_OK)
        rc = position_touched(r->db, r->a, d->name, t->gtid, whats, keys, ntouched);
    /* A kv domain's keys named by apply itself (map_touched). Its Redis
     * writes are done by now and not in this transaction, but a key it
     * changed is only missed by the cutover's held verify if this commit is
     * missing too, and then the marker after it is not applied either. */
    if (rc == ERR_OK)
        rc = position_touched(r->db, r->a, d->name, t->gtid, ext.whats, ext.keys, ext.ntouched);
    if (rc == ERR_OK)
        rc = position_save(r->db, r->a, d->name, cdc_position(r->cdc), marker);
    if (rc == ERR_OK)
        rc = db_commit(r->db);
    if (rc) {
        db_rollback(r->db);
        return rc;
    }
    if (marker != NULL)
        log_info("sync %s: cutover marker %s applied at %s", d->name, marker, t->gtid);
    return ERR_OK;
}

/* Record the position alone (after transactions with nothing to apply). */
static int
position_flush(struct run *r)
{
    int rc = db_begin(r->db);

    if (rc == ERR_OK)
        rc = position_save(r->db, r->a, r->s->cfg.domain->name, cdc_position(r->cdc), NULL);
    if (rc == ERR_OK)
        rc = db_commit(r->db);
    if (rc) {
        db_rollback(r->db);
        return rc;
    }
    r->dirty = 0;
    r->saved_at = now_s();
    return ERR_OK;
}

static int
txn_apply(struct run *r, const struct cdc_txn *t)
{
    int rc = ERR_BUSY, tries;

    /* Most of the monolith's transactions touch no captured table: their
     * position is written at most once a second (and when the stream is
     * idle), not once each. Streaming them again after a crash is harmless. */
    r->last_ts = t->ts;
    if (t->n == 0 || t->skip_replication) {
        r->dirty = 1;
        rc = now_s() - r->saved_at >= 1.0 ? position_flush(r) : ERR_OK;
    } else {
        for (tries = 0; rc == ERR_BUSY && tries < SYNC_BUSY_TRIES; tries++)
            rc = txn_apply_once(r, t);
        if (rc == ERR_OK) {
            r->dirty = 0;
            r->saved_at = now_s();
        }
    }
    if (rc)
        return rc;
    metrics_add(&m_applied, 1);
    if (t->skip_replication)
        metrics_add(&m_skipped, 1);
    else
        metrics_add(&m_changes, (int64_t)t->n);
    r->rate_n++;
    metrics_set(&m_position, (int64_t)strtoull(strrchr(t->gtid, '-') + 1, NULL, 10));
    return ERR_OK;
}

/* One step: open when needed, then one transaction or one heartbeat. */
static void
step(struct run *r)
{
    struct sync    *s = r->s;
    struct cdc_txn *t;
    int             rc;

    if (r->cdc == NULL) {
        rc = stream_open(r);
        if (rc) {
            s->ready = 0;
            metrics_add(&m_errors, 1);
            stream_close(r);
            nap(s, 1000);
            return;
        }
        s->ready = 1;
    }
    arena_reset(r->a);
    rc = cdc_next(r->cdc, r->a, &t);
    if (rc == ERR_OK)
        rc = txn_apply(r, t);
    else if (rc == ERR_TIMEOUT && r->dirty && position_flush(r) != ERR_OK)
        rc = ERR_UNAVAILABLE;
    lag_update(r, rc == ERR_TIMEOUT);
    if (rc == ERR_OK || rc == ERR_TIMEOUT)
        return;
    s->ready = 0;
    metrics_add(&m_errors, 1);
    if (rc == ERR_INVALID && cdc_error(r->cdc)[0] != '\0') {
        /* The stream itself cannot be captured past here: stop loudly, do
         * not retry in a loop (an operator must look; /ready says so). */
        log_error("sync %s: STOPPED at %s: %s", s->cfg.domain->name, cdc_position(r->cdc),
                  cdc_error(r->cdc));
        s->refused = 1;
        metrics_set(&m_refused, 1);
    }
    stream_close(r);
    nap(s, 1000);
}

static void *
sync_main(void *arg)
{
    struct sync *s = arg;
    struct run   r = {.s = s};
    size_t       n = 0, i;

    while (s->cfg.domain->tables[n] != NULL)
        n++;
    r.tables = calloc(n + 2, sizeof(char *));
    for (i = 0; i < n; i++)
        r.tables[i] = s->cfg.domain->tables[i];
    r.tables[n] = SYNC_MARKER_TABLE;
    r.a = arena_create();
    r.db = db_new(s->cfg.service_db, NULL);
    r.mono = mdb_new(s->cfg.monolith_db);
    if (s->cfg.domain->kv)
        r.kv = kv_new(s->cfg.kv_url, 2000);
    r.rate_at = now_s();
    while (!s->stop && !s->refused)
        step(&r);
    while (!s->stop) /* refused: stay up for /health and /metrics */
        nap(s, 1000);
    stream_close(&r);
    mdb_free(r.mono);
    kv_free(r.kv);
    db_free(r.db);
    arena_destroy(r.a);
    free(r.tables);
    return NULL;
}

int
sync_start(struct sync *s)
{
    return pthread_create(&s->thread, NULL, sync_main, s) == 0 ? ERR_OK : ERR_INTERNAL;
}

void
sync_stop(struct sync *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
}
