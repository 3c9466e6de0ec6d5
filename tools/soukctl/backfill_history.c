/*
 * backfill_history.c - the end of `soukctl backfill orders`: souk-history's
 * read model filled in bulk from the orders just copied (orders' database,
 * SOUK_ORDERS_DB), each order rendered once with history's own renderer
 * (services/history/history.c, linked into soukctl) and streamed with COPY
 * into history's order_rows (SOUK_HISTORY_DB), so the rows are what the
 * live consumer would have written and the load runs at COPY speed. It runs
 * until the monolith's (legacy) orders are in; rows the live consumer
 * applied first are kept (staging table, ON CONFLICT DO NOTHING), so the
 * two never block each other. Progress on stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backfill.h"
#include "buf.h"
#include "log.h"
#include "services/history/history.h"

#define PAGE 5000
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char count_sql[] = "SELECT count(*) FROM orders";
static const char orders_sql[] =
    "SELECT id, user_id, status, total_minor, currency, ship_line1, ship_line2, ship_city,"
    " ship_postal_code, ship_country, card_last4, payment_status, " TS("created_at") ","
    " created_at::text, EXISTS (SELECT 1 FROM order_log l WHERE l.order_id = o.id"
    "   AND l.backfilled),"
    " " TS("updated_at") ", COALESCE(reason, 'cancelled')"
    " FROM orders o WHERE id > $1::bigint ORDER BY id LIMIT " "5000";
/* v1 shows the name the product replica knows today, as orders' v1 does. */
static const char lines_sql[] =
    "SELECT i.order_id, i.product_id, COALESCE(p.name, i.name), i.quantity, i.unit_price_minor,"
    " i.currency FROM order_items i LEFT JOIN products_replica p ON p.id = i.product_id"
    " WHERE i.order_id > $1::bigint AND i.order_id <= $2::bigint ORDER BY i.order_id,"
    " i.product_id";
/* Done once the monolith's orders are in: the live consumer may have
 * applied the new service's first orders before the backfill ran, and those
 * rows must not stop it. */
static const char empty_sql[] = "SELECT NOT EXISTS (SELECT 1 FROM order_rows WHERE legacy)";
/* COPY into a staging table, then into order_rows in the same transaction:
 * an order the live consumer already applied keeps its row (it is at least
 * as new) instead of failing the key and with it the whole load. */
#define COLS                                                                                       \
    "id, user_id, status, reason, created, terminal, legacy, v1, items, ship, total_minor,"       \
    " currency, card_last4, payment, created_txt, updated_txt, created_at, v1_json, v2_json"
static const char stage_sql[] =
    "CREATE TEMP TABLE order_rows_in (LIKE order_rows INCLUDING DEFAULTS) ON COMMIT DROP";
static const char copy_sql[] = "COPY order_rows_in (" COLS ") FROM STDIN";
/* In "my orders" order, so one customer's rows share a few adjacent heap pages:
 * a page of 20 orders then reads ~5 table pages instead of ~20 scattered over
 * the whole table (orders arrive by id, interleaving every customer). The sort
 * gets memory of its own: 1 M rows spill in a few large runs, not many small. */
static const char sort_mem_sql[] = "SET LOCAL work_mem = '256MB'";
static const char merge_sql[] = "INSERT INTO order_rows (" COLS ") SELECT " COLS
                                " FROM order_rows_in ORDER BY user_id, created_at DESC, id DESC"
                                " ON CONFLICT (id) DO NOTHING";

/* One COPY text field (lib/db_copy.c escapes it) and its separator. */
static void
field(struct buf *b, const char *z, int last)
{
    db_copy_text(b, z);
    buf_putc(b, last ? '\n' : '\t');
}

static const char *
address(struct arena *a, const struct db_rows *rs, size_t i)
{
    static const char *const names[] = {"line1", "line2", "city", "postal_code", "country"};
    struct buf             *b = buf_new(a, 1 << 16);
    size_t                  k;

    buf_putc(b, '{');
    for (k = 0; k < 5; k++) {
        const char *z = db_get(rs, i, 5 + k);

        buf_printf(b, "%s\"%s\":", k ? "," : "", names[k]);
        buf_json_str(b, z ? z : "", z ? strlen(z) : 0);
    }
    buf_putc(b, '}');
    return arena_strndup(a, buf_data(b), buf_len(b));
}

/* The terminal event each final status stands for. */
static const struct {
    const char    *status;
    enum hist_kind kind;
} moves[] = {
    {"CONFIRMED", HIST_CONFIRMED},
    {"REJECTED", HIST_REJECTED},
    {"CANCELLED", HIST_CANCELLED},
};

/* Row i of orders_sql into r, by the merge the consumer and a replay use
 * (services/history/history.c): its order.created, then its terminal event
 * if it has one, as orders' log holds them. Legacy is what that log marks
 * "backfilled" (the monolith's orders, as backfill_orders logs them): those
 * keep the monolith's payment; an order of the new service's gets what its
 * events say, so a rebuild agrees with it. */
static void
row(struct hist_row *r, const struct db_rows *os, size_t i, const char *items, const char *ship)
{
    struct hist_event e = {.kind = HIST_CREATED, .order_id = r->id, .user_id = r->user_id};
    const char       *status = db_get(os, i, 2);
    size_t            k;

    e.at = db_get(os, i, 12);
    e.items = items;
    e.ship = ship;
    e.total_minor = db_i64(os, i, 3);
    snprintf(e.currency, sizeof(e.currency), "%s", db_get(os, i, 4));
    e.card_last4 = db_get(os, i, 10);
    e.legacy = strcmp(db_get(os, i, 14), "t") == 0;
    e.payment = e.legacy ? db_get(os, i, 11) : NULL;
    hist_merge(r, &e);
    for (k = 0; k < sizeof(moves) / sizeof(moves[0]); k++)
        if (strcmp(status, moves[k].status) == 0) {
            e = (struct hist_event){.kind = moves[k].kind, .order_id = r->id,
                                    .user_id = r->user_id, .at = db_get(os, i, 15),
                                    .reason = db_get(os, i, 16)};
            hist_merge(r, &e);
        }
}

/* The page's orders as COPY rows into out; *last the last id. */
static int
page(struct db *src, struct arena *a, int64_t after, struct buf *out, int64_t *n, int64_t *last)
{
    struct db_rows *os, *ls;
    size_t          i, l = 0;
    int             rc;

    *n = 0;
    rc = db_exec_sql(src, a, orders_sql, 1, (const char *const[]){db_i64_text(a, after)}, &os);
    if (rc || os->nrows == 0)
        return rc;
    *n = (int64_t)os->nrows;
    *last = db_i64(os, os->nrows - 1, 0);
    rc = db_exec_sql(src, a, lines_sql, 2,
                     (const char *const[]){db_i64_text(a, after), db_i64_text(a, *last)}, &ls);
    if (rc)
        return rc;
    for (i = 0; i < os->nrows; i++) {
        struct hist_row r = {0};
        struct buf     *items = buf_new(a, 1 << 22);
        int64_t         id = db_i64(os, i, 0);
        int             first = 1;

        buf_putc(items, '[');
        for (; l < ls->nrows && db_i64(ls, l, 0) == id; l++, first = 0) {
            if (!first)
                buf_putc(items, ',');
            hist_item(items, db_i64(ls, l, 1), db_get(ls, l, 2), db_len(ls, l, 2), db_i64(ls, l, 3),
                      db_i64(ls, l, 4), db_get(ls, l, 5));
        }
        buf_putc(items, ']');
        r.id = id;
        r.user_id = db_i64(os, i, 1);
        row(&r, os, i, arena_strndup(a, buf_data(items), buf_len(items)), address(a, os, i));
        hist_render(&r, a);
        buf_printf(out, "%lld\t%lld\t", (long long)r.id, (long long)r.user_id);
        field(out, r.status, 0);
        field(out, r.reason, 0);
        buf_printf(out, "t\t%s\t%s\t%s\t", r.terminal ? "t" : "f", r.legacy ? "t" : "f",
                   hist_v1_visible(&r) ? "t" : "f");
        field(out, r.items, 0);
        field(out, r.ship, 0);
        buf_printf(out, "%lld\t", (long long)r.total_minor);
        field(out, r.currency, 0);
        field(out, r.card_last4, 0);
        field(out, r.payment, 0);
        field(out, r.created_at, 0);
        field(out, r.updated_at, 0);
        field(out, db_get(os, i, 13), 0);
        field(out, r.v1_json, 0);
        field(out, r.v2_json, 1);
    }
    return buf_error(out);
}

/* Two pages in flight: a reader thread reads and renders the next page from
 * orders while the main thread streams the last one into history's COPY, so
 * the reads overlap the server's ingest instead of waiting for it. */
struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct db      *src;
    struct buf      out[2];
    int64_t         n[2]; /* rows in out[k]; -1: empty slot */
    int             done, stop, rc;
};

static void *
reader(void *arg)
{
    struct pipeline *p = arg;
    struct arena    *a = arena_create();
    int64_t          after = 0, n = 1;
    int              k = 0, rc = ERR_OK;

    while (rc == ERR_OK && n > 0) {
        pthread_mutex_lock(&p->mu);
        while (p->n[k] >= 0 && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (p->stop)
            break;
        arena_reset(a);
        buf_reset(&p->out[k]);
        rc = page(p->src, a, after, &p->out[k], &n, &after);
        pthread_mutex_lock(&p->mu);
        p->n[k] = rc == ERR_OK ? n : 0;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        k ^= 1;
    }
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    p->rc = rc;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    arena_destroy(a);
    return NULL;
}

static int
copy_all(struct db *src, struct db *dst, struct arena *a, int64_t total, int64_t *done)
{
    struct pipeline p = {.src = src, .n = {-1, -1}};
    pthread_t       th;
    double          t0 = common_now();
    int64_t         n;
    int             k = 0, rc;

    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    buf_init(&p.out[0], (size_t)1 << 30);
    buf_init(&p.out[1], (size_t)1 << 30);
    rc = db_begin(dst);
    if (rc)
        goto out_tx;
    rc = db_exec_sql(dst, a, stage_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_copy_begin(dst, copy_sql);
    if (rc) {
        db_rollback(dst);
        goto out_tx;
    }
    if (rc == ERR_OK && pthread_create(&th, NULL, reader, &p) != 0)
        rc = ERR_INTERNAL;
    if (rc)
        goto out;
    for (;;) {
        pthread_mutex_lock(&p.mu);
        while (p.n[k] < 0 && !p.done)
            pthread_cond_wait(&p.cv, &p.mu);
        n = p.n[k];
        pthread_mutex_unlock(&p.mu);
        if (n <= 0) /* the end, or the reader failed */
            break;
        rc = db_copy_put(dst, buf_data(&p.out[k]), buf_len(&p.out[k]));
        if (rc)
            break;
        *done += n;
        fprintf(stderr, "backfill history: %lld of %lld orders, %.0f rows/s\n", (long long)*done,
                (long long)total, *done / (common_now() - t0 + 1e-9));
        pthread_mutex_lock(&p.mu);
        p.n[k] = -1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        k ^= 1;
    }
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(th, NULL);
    if (rc == ERR_OK)
        rc = p.rc;
out:
    if (rc == ERR_OK)
        rc = db_copy_end(dst, NULL, NULL);
    else if (db_copy_end(dst, "backfill history failed", NULL) != ERR_INTERNAL)
        log_warn("backfill history: the aborted COPY did not end cleanly");
    if (rc == ERR_OK)
        rc = db_exec_sql(dst, a, sort_mem_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(dst, a, merge_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_commit(dst);
    else
        db_rollback(dst);
out_tx:
    buf_free(&p.out[0]);
    buf_free(&p.out[1]);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

int
backfill_history(struct ctl *ctl, struct db *orders, struct arena *a)
{
    struct db      *dst;
    struct db_rows *rs;
    int64_t         total = 0, done = 0;
    double          t0 = common_now();
    int             rc;

    if (ctl->cfg.history_db[0] == '\0') {
        printf("SOUK_HISTORY_DB is empty: history not filled\n");
        return ERR_OK;
    }
    dst = db_new(ctl->cfg.history_db, NULL);
    if (dst == NULL)
        return ERR_INTERNAL;
    /* orders is filled and its event log too, so history can still be
     * filled later (`soukctl history rebuild`): a history that does not
     * answer is a warning, not a failed backfill of orders */
    rc = db_exec_sql(dst, a, empty_sql, 0, NULL, &rs);
    if (rc == ERR_UNAVAILABLE) {
        fprintf(stderr, "backfill: history's database (SOUK_HISTORY_DB) does not answer; history "
                        "not filled (soukctl history rebuild fills it from orders' log)\n");
        db_free(dst);
        return ERR_OK;
    }
    if (rc) {
        common_fail("history's database (SOUK_HISTORY_DB) cannot be read; history not filled");
        db_free(dst);
        return rc;
    }
    if (strcmp(db_get(rs, 0, 0), "t") != 0) {
        printf("history already has orders from the monolith; nothing to do\n");
        db_free(dst);
        return ERR_OK;
    }
    rc = db_exec_sql(orders, a, count_sql, 0, NULL, &rs);
    if (rc == ERR_OK) {
        total = db_i64(rs, 0, 0);
        rc = copy_all(orders, dst, a, total, &done);
    }
    if (rc == ERR_OK)
        printf("backfilled history: %lld orders in %.1f s\n", (long long)done, common_now() - t0);
    else
        common_fail("backfill history failed (nothing was kept); it is safe to run again");
    db_free(dst);
    return rc;
}
