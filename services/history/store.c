/*
 * store.c - every SQL statement of history. Reads are statements of the
 * table (prepared on connect); the apply's statements exist once per table
 * (order_rows, and order_rows_build while a rebuild fills it) and go through
 * db_exec_sql, because the build table does not exist when a connection
 * opens. A swap renames the build table over the live one in one
 * transaction; prepared reads re-plan against the new table by name.
 */
#include <string.h>

#include "history.h"

#define US_OF(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* clang-format off */
#define HISTORY_SQL(X)                                                                             \
    X(BUILDING, 0, "SELECT building FROM rebuild_state FOR SHARE")                                  \
    /* The user's v1 count (an index-only scan of order_rows_v1) on every row, and */          \
    /* the page's stored rows newest first (one row with a NULL v1_json for an empty page). */  \
    /* Rows, joined by api.c, not string_agg(... ORDER BY ...): PostgreSQL 15 sorts an */        \
    /* ordered aggregate's input again even when it comes sorted, and that tuplesort per */     \
    /* request cost more than the sort of 20 rows here (pgbench at 1 M orders: ~30 % more */     \
    /* pages per second). */                                                                       \
    X(V1_PAGE, 3,                                                                                  \
      "SELECT c.n, p.v1_json FROM (SELECT count(*) n FROM order_rows"                              \
      " WHERE user_id = $1::bigint AND v1) c LEFT JOIN LATERAL (SELECT v1_json, created_at, id"    \
      " FROM order_rows WHERE user_id = $1::bigint AND v1 ORDER BY created_at DESC, id DESC"       \
      " LIMIT $2::bigint OFFSET $3::bigint) p ON true ORDER BY p.created_at DESC, p.id DESC")     \
    X(V2_PAGE, 5,                                                                                  \
      "SELECT v2_json, " US_OF("created_at") ", id FROM order_rows"                                 \
      " WHERE user_id = $1::bigint AND created AND ($2::text IS NULL OR status = $2)"              \
      "   AND ($3::bigint IS NULL OR (created_at, id) < (to_timestamp($3::bigint / 1000000.0), $4::bigint))" \
      " ORDER BY created_at DESC, id DESC LIMIT $5::bigint")                                       \
    X(ONE, 1, "SELECT v1_json, v2_json, user_id, v1, created FROM order_rows WHERE id = $1::bigint") \
    X(VERSION, 1, "SELECT version, user_id FROM order_rows WHERE id = $1::bigint")
/* clang-format on */

enum history_stmt { HISTORY_SQL(DB_STMT_ENUM) SQL__COUNT };

const struct db_stmt history_stmts[] = {HISTORY_SQL(DB_STMT_ROW){NULL, 0, NULL}};

#define ROW_COLS                                                                                   \
    "user_id, status, reason, created, terminal, legacy, items, ship, total_minor, currency,"       \
    " card_last4, payment, created_txt, updated_txt"

/* The apply's statements, per table. */
static const struct {
    const char *touch, *lock, *save;
} apply_sql[] = {
#define APPLY_ROW(T)                                                                               \
    {"INSERT INTO " T " (id) VALUES ($1::bigint) ON CONFLICT (id) DO NOTHING",                     \
     "SELECT " ROW_COLS " FROM " T " WHERE id = $1::bigint FOR UPDATE",                           \
     "UPDATE " T " SET user_id = $2::bigint, status = $3, reason = $4, created = $5::boolean,"     \
     " terminal = $6::boolean, items = $7, ship = $8, total_minor = $9::bigint, currency = $10,"   \
     " card_last4 = $11, payment = $12, created_txt = $13::text, updated_txt = $14,"                    \
     " created_at = $13::timestamptz, v1 = $15::boolean, v1_json = $16, v2_json = $17,"           \
     " legacy = $18::boolean"                                                                     \
     " WHERE id = $1::bigint"}
    [HIST_LIVE] = APPLY_ROW("order_rows"),
    [HIST_BUILD] = APPLY_ROW("order_rows_build"),
#undef APPLY_ROW
};

int
store_building(struct work *w, int *building)
{
    struct db_rows *rs;
    int             rc;

    /* by text: a consumer thread's connection has no statement table */
    rc = db_exec_sql(w->db, w->arena, history_stmts[SQL_BUILDING].sql, 0, NULL, &rs);
    if (rc == ERR_OK && rs->nrows != 1)
        rc = ERR_INTERNAL;
    if (rc)
        return rc;
    *building = strcmp(db_get(rs, 0, 0), "t") == 0;
    return ERR_OK;
}

static const char *
dup(struct arena *a, const struct db_rows *rs, size_t col)
{
    const char *z = db_get(rs, 0, col);

    return z ? arena_strndup(a, z, db_len(rs, 0, col)) : NULL;
}

int
store_row_lock(struct work *w, enum hist_table t, int64_t id, struct hist_row *r)
{
    const char     *idt = db_i64_text(w->arena, id);
    struct db_rows *rs;
    const char     *cur;
    int             rc;

    rc = db_exec_sql(w->db, w->arena, apply_sql[t].touch, 1, (const char *const[]){idt}, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, apply_sql[t].lock, 1, (const char *const[]){idt}, &rs);
    if (rc)
        return rc;
    if (rs->nrows != 1)
        return ERR_INTERNAL;
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->user_id = db_i64(rs, 0, 0);
    r->status = dup(w->arena, rs, 1);
    r->reason = dup(w->arena, rs, 2);
    r->created = strcmp(db_get(rs, 0, 3), "t") == 0;
    r->terminal = strcmp(db_get(rs, 0, 4), "t") == 0;
    r->legacy = strcmp(db_get(rs, 0, 5), "t") == 0;
    r->items = dup(w->arena, rs, 6);
    r->ship = dup(w->arena, rs, 7);
    r->total_minor = db_i64(rs, 0, 8);
    cur = db_get(rs, 0, 9);
    strncpy(r->currency, cur ? cur : "", sizeof(r->currency) - 1);
    r->card_last4 = dup(w->arena, rs, 10);
    r->payment = dup(w->arena, rs, 11);
    r->created_at = dup(w->arena, rs, 12);
    r->updated_at = dup(w->arena, rs, 13);
    return ERR_OK;
}

static const char *
yes(int b)
{
    return b ? "true" : "false";
}

int
store_row_save(struct work *w, enum hist_table t, const struct hist_row *r)
{
    const char *p[18] = {
        db_i64_text(w->arena, r->id),
        db_i64_text(w->arena, r->user_id),
        r->status,
        r->reason,
        yes(r->created),
        yes(r->terminal),
        r->items,
        r->ship,
        db_i64_text(w->arena, r->total_minor),
        r->currency,
        r->card_last4,
        r->payment,
        r->created_at,
        r->updated_at,
        yes(hist_v1_visible(r)),
        r->v1_json,
        r->v2_json,
        yes(r->legacy),
    };

    return db_exec_sql(w->db, w->arena, apply_sql[t].save, 18, p, NULL);
}

/* The page's stored JSON from column col of every row. */
static void
page_fill(struct work *w, struct db_rows *rs, struct hist_page *p, size_t col)
{
    size_t i;

    p->n = rs->nrows;
    p->json = arena_alloc(w->arena, (p->n + 1) * sizeof(*p->json));
    p->len = arena_alloc(w->arena, (p->n + 1) * sizeof(*p->len));
    for (i = 0; i < p->n; i++) {
        p->json[i] = db_get(rs, i, col);
        p->len[i] = db_len(rs, i, col);
    }
}

int
store_v1_page(struct work *w, int64_t user_id, int64_t page, int64_t limit, struct hist_page *p)
{
    const char     *uid = db_i64_text(w->arena, user_id);
    struct db_rows *rs;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_V1_PAGE,
                 (const char *const[]){uid, db_i64_text(w->arena, limit),
                                       db_i64_text(w->arena, (page - 1) * limit)},
                 &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0) /* the count's row is always there */
        return ERR_INTERNAL;
    p->total = db_i64(rs, 0, 0);
    page_fill(w, rs, p, 1);
    if (p->n == 1 && db_get(rs, 0, 1) == NULL)
        p->n = 0; /* an empty page: the count's row alone */
    return ERR_OK;
}

int
store_v2_page(struct work *w, int64_t user_id, const char *status, int after, int64_t after_us,
              int64_t after_id, int64_t limit, struct hist_page *p)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_V2_PAGE,
                 (const char *const[]){db_i64_text(w->arena, user_id), status,
                                       after ? db_i64_text(w->arena, after_us) : NULL,
                                       after ? db_i64_text(w->arena, after_id) : NULL,
                                       db_i64_text(w->arena, limit)},
                 &rs);
    if (rc)
        return rc;
    page_fill(w, rs, p, 0);
    if (p->n > 0) {
        p->last_us = db_i64(rs, p->n - 1, 1);
        p->last_id = db_i64(rs, p->n - 1, 2);
    }
    return ERR_OK;
}

int
store_one(struct work *w, int64_t id, int v2, const char **json, size_t *len, int64_t *user_id)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, SQL_ONE, (const char *const[]){db_i64_text(w->arena, id)},
                     &rs);
    if (rc)
        return rc;
    if (strcmp(db_get(rs, 0, v2 ? 4 : 3), "t") != 0)
        return ERR_NOT_FOUND;
    *json = db_get(rs, 0, v2 ? 1 : 0);
    *len = db_len(rs, 0, v2 ? 1 : 0);
    *user_id = db_i64(rs, 0, 2);
    return ERR_OK;
}

int
store_version(struct work *w, int64_t id, int64_t *version, int64_t *user_id)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, SQL_VERSION,
                     (const char *const[]){db_i64_text(w->arena, id)}, &rs);
    *version = rc == ERR_OK ? db_i64(rs, 0, 0) : 0;
    *user_id = rc == ERR_OK ? db_i64(rs, 0, 1) : 0;
    return rc == ERR_NOT_FOUND ? ERR_OK : rc;
}

/* ---- rebuild ---- */

static const char begin_sql[] =
    "DROP TABLE IF EXISTS order_rows_build;"
    " CREATE TABLE order_rows_build (LIKE order_rows INCLUDING ALL);"
    " UPDATE rebuild_state SET building = true, began_at = now()";

/* The state row first: the swap then waits for every apply that saw
 * building (they hold a share lock on it), and applies after it see false. */
static const char swap_lock_sql[] =
    "UPDATE rebuild_state SET building = false WHERE building RETURNING true";
static const char swap_sql[] =
    "ALTER TABLE order_rows RENAME TO order_rows_old;"
    " ALTER TABLE order_rows_build RENAME TO order_rows;"
    " DROP TABLE order_rows_old";
/* A failed rebuild: the consumer stops writing the build table (the state
 * row first, as the swap), which then goes. */
static const char abort_sql[] =
    "UPDATE rebuild_state SET building = false;"
    " DROP TABLE IF EXISTS order_rows_build";
static const char built_sql[] = "SELECT count(*) FROM order_rows_build WHERE created";
static const char live_count_sql[] = "SELECT count(*) FROM order_rows WHERE created";
static const char state_sql[] =
    "SELECT building, (SELECT count(*) FROM order_rows WHERE created) FROM rebuild_state";

/* The statements of sql in one transaction. */
static int
in_one_tx(struct work *w, const char *sql)
{
    int rc = db_begin(w->db);

    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        return db_commit(w->db);
    db_rollback(w->db);
    return rc;
}

int
store_rebuild_begin(struct work *w)
{
    return in_one_tx(w, begin_sql);
}

int
store_rebuild_abort(struct work *w)
{
    return in_one_tx(w, abort_sql);
}

/* ERR_CONFLICT (nothing changed) when the build table holds fewer orders
 * than the live one: swapping it in would show less. ERR_NOT_FOUND when no
 * rebuild runs. */
int
store_rebuild_swap(struct work *w, int64_t *live, int64_t *built)
{
    struct db_rows *rs;
    int             rc = db_begin(w->db);

    if (rc)
        return rc;
    rc = db_exec_sql(w->db, w->arena, swap_lock_sql, 0, NULL, &rs);
    if (rc == ERR_OK && rs->nrows == 0)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, "LOCK TABLE order_rows, order_rows_build"
                                          " IN ACCESS EXCLUSIVE MODE", 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, built_sql, 0, NULL, &rs);
    if (rc == ERR_OK)
        *built = db_i64(rs, 0, 0);
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, live_count_sql, 0, NULL, &rs);
    if (rc == ERR_OK) {
        *live = db_i64(rs, 0, 0);
        if (*built < *live)
            rc = ERR_CONFLICT;
    }
    if (rc == ERR_OK)
        rc = db_exec_sql(w->db, w->arena, swap_sql, 0, NULL, NULL);
    if (rc == ERR_OK)
        return db_commit(w->db);
    db_rollback(w->db);
    return rc;
}

int
store_rebuild_state(struct work *w, int *building, int64_t *live, int64_t *built)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(w->db, w->arena, state_sql, 0, NULL, &rs);
    if (rc)
        return rc;
    *building = strcmp(db_get(rs, 0, 0), "t") == 0;
    *live = db_i64(rs, 0, 1);
    *built = 0;
    if (*building) {
        rc = db_exec_sql(w->db, w->arena, built_sql, 0, NULL, &rs);
        if (rc == ERR_OK)
            *built = db_i64(rs, 0, 0);
    }
    return rc;
}
