/*
 * schema_pg.c - the PostgreSQL driver of `soukctl schema` (schema.c holds
 * the plan). DDL is transactional here, so each file and its
 * schema_migrations row commit together or not at all.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "soukctl.h"

#define SCHEMA_LOCK_WAIT 60 /* seconds to wait for another soukctl on the same database */

static const char schema_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version    text        PRIMARY KEY,"
                                       " checksum   char(64)    NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now()"
                                       ")";

/* Advisory locks live per database, so one key serves every target. The
 * lock is the session's and dies with the connection. */
static const char schema_lock_sql[] = "SELECT pg_try_advisory_lock(hashtext('soukctl.schema'))";

/* Polls rather than blocking in pg_advisory_lock, so a stuck holder gives a
 * message instead of a hang. */
static int
lock(struct db *db, struct arena *a, const char *dbname)
{
    struct db_rows *rs;
    struct timespec pause = {0, 200 * 1000 * 1000};
    double          until = common_now() + SCHEMA_LOCK_WAIT;
    int             rc;

    for (;;) {
        rc = db_exec_sql(db, a, schema_lock_sql, 0, NULL, &rs);
        if (rc)
            return rc;
        if (strcmp(db_get(rs, 0, 0), "t") == 0)
            return ERR_OK;
        if (common_now() > until)
            break;
        nanosleep(&pause, NULL);
    }
    common_fail("another soukctl holds the schema lock on %s", dbname);
    return ERR_BUSY;
}

static int
pgsql_open(const struct ctl *ctl, const struct ctl_target *t, struct arena *a, void **conn)
{
    const char    *dsn = common_target_dsn(ctl, t);
    struct db     *db = NULL;
    struct mdb_dsn d;
    int            rc;

    rc = common_dsn_parse(t->kind, dsn, a, &d);
    if (rc) {
        common_fail("%s is not postgresql://user:pass@host:port/db", t->env);
        return ERR_INVALID;
    }
    db = db_new(dsn, NULL);
    if (db == NULL)
        return ERR_INTERNAL;
    rc = lock(db, a, d.name);
    if (rc == ERR_OK)
        rc = db_exec_sql(db, a, schema_table_sql, 0, NULL, NULL);
    if (rc) {
        if (rc != ERR_BUSY)
            common_fail("cannot reach the %s database %s on %s:%u as %s (see the log line above)",
                        t->name, d.name, d.host, d.port, d.user);
        db_free(db);
        return rc;
    }
    *conn = db;
    return ERR_OK;
}

static int
pgsql_applied(void *conn, struct arena *a, struct schema_row **rows, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    /* The same text as MariaDB's DATETIME(3), in UTC. */
    rc = db_exec_sql(conn, a,
                     "SELECT version, checksum, to_char(applied_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD HH24:MI:SS.MS') FROM schema_migrations",
                     0, NULL, &rs);
    if (rc) {
        common_fail("cannot read schema_migrations (see the log line above)");
        return rc;
    }
    *rows = arena_array(a, struct schema_row, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        (*rows)[i] = (struct schema_row){db_get(rs, i, 0), db_get(rs, i, 1), db_get(rs, i, 2)};
    *n = rs->nrows;
    return ERR_OK;
}

/* The file runs as one multi-statement query inside our transaction, so it
 * must not hold BEGIN/COMMIT itself (nor CREATE INDEX CONCURRENTLY, which
 * cannot run in a transaction). */
static int
pgsql_apply(void *conn, struct arena *a, const char *dir, const char *version, const char *sql,
            const char *sum)
{
    int rc;

    rc = db_begin(conn);
    if (rc == ERR_OK && sql != NULL) {
        rc = db_exec_sql(conn, a, sql, 0, NULL, NULL);
        if (rc)
            common_fail("%s/%s failed (see the log line above)", dir, version);
    }
    if (rc == ERR_OK)
        rc = db_exec_sql(conn, a,
                         "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", 2,
                         (const char *const[]){version, sum}, NULL);
    if (rc == ERR_OK)
        rc = db_commit(conn);
    if (rc) {
        db_rollback(conn);
        common_fail("%s was rolled back: nothing of it is applied", version);
    }
    return rc;
}

static void
pgsql_close(void *conn)
{
    db_free(conn);
}

const struct schema_driver schema_pg = {
    .open = pgsql_open,
    .applied = pgsql_applied,
    .apply = pgsql_apply,
    .close = pgsql_close,
};
