/*
 * migrate_state.c - soukctl migrate's state table (the `migrate` target,
 * tools/soukctl/migrations): the only file with SQL on that database. One
 * row per domain says where its playbook stands; the log says who ran which
 * step when, and how it ended.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "migrate.h"

#define STATE_COLS                                                                                 \
    "domain, step, status, detail, updated_by,"                                                    \
    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                   \
    " sync_listen, reverse_listen,"                                                                \
    " to_char(verify_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), verify_ok,"         \
    " verify_detail, marker_token, canary_percent, hold_ms, start_gtid, done_step"

/* The columns mig_state_set may write (never pasted from input). */
static const char *const settable[] = {"sync_listen", "reverse_listen", "marker_token",
                                       "hold_ms",     "canary_percent", "start_gtid",
                                       NULL};

static void
row_to_state(const struct db_rows *rs, size_t i, struct mig_state *s)
{
    s->domain = db_get(rs, i, 0);
    s->step = db_get(rs, i, 1);
    s->status = db_get(rs, i, 2);
    s->detail = db_get(rs, i, 3);
    s->updated_by = db_get(rs, i, 4);
    s->updated_at = db_get(rs, i, 5);
    s->sync_listen = db_get(rs, i, 6);
    s->reverse_listen = db_get(rs, i, 7);
    s->verify_at = db_get(rs, i, 8);
    s->verify_ok = db_get(rs, i, 9) == NULL ? -1 : db_get(rs, i, 9)[0] == 't';
    s->verify_detail = db_get(rs, i, 10);
    s->marker_token = db_get(rs, i, 11);
    s->canary_percent = db_get(rs, i, 12) == NULL ? -1 : (int)db_i64(rs, i, 12);
    s->hold_ms = db_get(rs, i, 13) == NULL ? -1 : db_i64(rs, i, 13);
    s->start_gtid = db_get(rs, i, 14);
    s->done_step = db_get(rs, i, 15);
}

static int
failed(int rc, const char *what)
{
    if (rc)
        common_fail("the migration state (SOUK_MIGRATE_DB) cannot be %s: %s (soukctl db create "
                    "migrate && soukctl schema up migrate?)",
                    what, err_title(rc));
    return rc;
}

int
mig_state_get(struct mig *m, const char *domain, struct mig_state *out, int *found)
{
    struct db_rows *rs;
    int             rc;

    memset(out, 0, sizeof(*out));
    out->verify_ok = out->canary_percent = -1;
    out->hold_ms = -1;
    rc = db_exec_sql(m->state, m->a, "SELECT " STATE_COLS " FROM migration_state WHERE domain = $1",
                     1, (const char *const[]){domain}, &rs);
    if (rc)
        return failed(rc, "read");
    *found = rs->nrows > 0;
    if (*found)
        row_to_state(rs, 0, out);
    return ERR_OK;
}

int
mig_state_all(struct mig *m, struct mig_state **out, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec_sql(m->state, m->a, "SELECT " STATE_COLS " FROM migration_state ORDER BY domain",
                     0, NULL, &rs);
    if (rc)
        return failed(rc, "read");
    *n = rs->nrows;
    *out = arena_alloc(m->a, (rs->nrows + 1) * sizeof(**out));
    for (i = 0; i < rs->nrows; i++)
        row_to_state(rs, i, &(*out)[i]);
    return ERR_OK;
}

int
mig_state_record(struct mig *m, const char *step, const char *outcome, const char *detail,
                 int64_t duration_ms, int keep_step)
{
    const char *status = strcmp(outcome, "started") == 0 ? "running" : outcome;
    const char *dur = duration_ms >= 0 ? db_i64_text(m->a, duration_ms) : NULL;
    const char *pct = m->canary_percent >= 0 ? db_i64_text(m->a, m->canary_percent) : NULL;
    int         rc;

    rc =
        db_exec_sql(m->state, m->a,
                    "INSERT INTO migration_log (domain, step, outcome, detail, who, duration_ms)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    6, (const char *const[]){m->d->name, step, outcome, detail, m->who, dur}, NULL);
    if (!rc && !keep_step)
        rc = db_exec_sql(
            m->state, m->a,
            "INSERT INTO migration_state (domain, step, status, detail, updated_by, canary_percent,"
            " done_step) VALUES ($1, $2, $3, $4, $5, $6::integer,"
            " CASE WHEN $3 = 'done' THEN $2 ELSE 'none' END)"
            " ON CONFLICT (domain) DO UPDATE SET step = $2, status = $3, detail = $4,"
            " updated_by = $5, updated_at = now(),"
            " canary_percent = COALESCE($6::integer, migration_state.canary_percent),"
            " done_step = CASE WHEN $3 = 'done' THEN $2 ELSE migration_state.done_step END",
            6, (const char *const[]){m->d->name, step, status, detail, m->who, pct}, NULL);
    return failed(rc, "written");
}

int
mig_state_set(struct mig *m, const char *column, const char *value)
{
    const char *sql;
    int         i, rc;

    for (i = 0; settable[i] != NULL && strcmp(settable[i], column) != 0; i++)
        ;
    if (settable[i] == NULL)
        return ERR_INVALID; /* a programmer's error: the list above is the contract */
    sql = arena_printf(m->a,
                       "INSERT INTO migration_state (domain, step, status, updated_by, %s)"
                       " VALUES ($1, 'none', 'done', $2, $3) ON CONFLICT (domain) DO UPDATE"
                       " SET %s = $3",
                       column, column);
    rc =
        db_exec_sql(m->state, m->a, sql, 3, (const char *const[]){m->d->name, m->who, value}, NULL);
    return failed(rc, "written");
}

int
mig_state_verified(struct mig *m, int ok, const char *detail)
{
    int rc;

    rc = db_exec_sql(m->state, m->a,
                     "INSERT INTO migration_state (domain, step, status, updated_by, verify_at,"
                     " verify_ok, verify_detail) VALUES ($1, 'none', 'done', $2, now(), $3, $4)"
                     " ON CONFLICT (domain) DO UPDATE SET verify_at = now(), verify_ok = $3,"
                     " verify_detail = $4",
                     4, (const char *const[]){m->d->name, m->who, ok ? "true" : "false", detail},
                     NULL);
    return failed(rc, "written");
}

int
mig_state_log(struct mig *m, const char *domain, int n, struct buf *out)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec_sql(
        m->state, m->a,
        "SELECT * FROM (SELECT id, to_char(at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " who, domain, step, outcome, COALESCE(duration_ms::text, '-'), detail FROM migration_log"
        " WHERE $1::text IS NULL OR domain = $1 ORDER BY id DESC LIMIT $2) AS l ORDER BY id",
        2, (const char *const[]){domain, db_i64_text(m->a, n)}, &rs);
    if (rc)
        return failed(rc, "read");
    for (i = 0; i < rs->nrows; i++)
        buf_printf(out, "%s  %-8s %-8s %-9s %-7s %6s ms  %s\n", db_get(rs, i, 1), db_get(rs, i, 2),
                   db_get(rs, i, 3), db_get(rs, i, 4), db_get(rs, i, 5), db_get(rs, i, 6),
                   db_get(rs, i, 7));
    return ERR_OK;
}
