/*
 * schema_mdb.c - the MariaDB driver of `soukctl schema` (schema.c holds the
 * plan): the schema lock, the schema_migrations table, applying one file.
 */
#include <stdio.h>
#include <string.h>

#include "soukctl.h"

#define SCHEMA_LOCK_WAIT 60 /* seconds to wait for another soukctl on the same database */

static const char schema_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version    VARCHAR(255) NOT NULL PRIMARY KEY,"
    " checksum   CHAR(64)     NOT NULL,"
    " applied_at DATETIME(3)  NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/* Another soukctl on the same database waits here; the lock dies with the connection. */
static int
lock(struct mdb *db, struct arena *a, const char *dbname)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(db, a, "SELECT GET_LOCK(?, ?)",
                   (struct mdb_arg[]){MDB_STR(arena_printf(a, "soukctl.schema.%.40s", dbname)),
                                      MDB_I64(SCHEMA_LOCK_WAIT)},
                   2, &rs);
    if (rc == ERR_OK && mdb_i64(rs, 0, 0) != 1) {
        common_fail("another soukctl holds the schema lock on %s", dbname);
        rc = ERR_BUSY;
    }
    return rc;
}

static int
maria_open(const struct ctl *ctl, const struct ctl_target *t, struct arena *a, void **conn)
{
    const char    *dsn = common_target_dsn(ctl, t);
    struct mdb    *db;
    struct mdb_dsn d;
    int            rc;

    rc = mdb_dsn_parse(dsn, a, &d);
    db = rc ? NULL : mdb_new(dsn);
    if (db == NULL) {
        common_fail("%s is not mysql://user:pass@host:port/db", t->env);
        return ERR_INVALID;
    }
    rc = lock(db, a, d.name);
    if (rc == ERR_OK)
        rc = mdb_exec_multi(db, schema_table_sql);
    if (rc) {
        if (rc != ERR_BUSY)
            common_fail("cannot reach the %s database %s on %s:%u as %s (see the log line above)",
                        t->name, d.name, d.host, d.port, d.user);
        mdb_free(db);
        return rc;
    }
    *conn = db;
    return ERR_OK;
}

static int
maria_applied(void *conn, struct arena *a, struct schema_row **rows, size_t *n)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    rc = mdb_query(conn, a, "SELECT version, checksum, applied_at FROM schema_migrations", NULL, 0,
                   &rs);
    if (rc) {
        common_fail("cannot read schema_migrations (see the log line above)");
        return rc;
    }
    *rows = arena_array(a, struct schema_row, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++)
        (*rows)[i] = (struct schema_row){mdb_get(rs, i, 0), mdb_get(rs, i, 1), mdb_get(rs, i, 2)};
    *n = rs->nrows;
    return ERR_OK;
}

/* MariaDB commits DDL implicitly, so a file cannot be applied and recorded
 * atomically: the row is written right after the file succeeds. A file that
 * fails half-way leaves its earlier statements applied and no row; fix the
 * database by hand (or recreate it) before running again. */
static int
maria_apply(void *conn, struct arena *a, const char *dir, const char *version, const char *sql,
            const char *sum)
{
    int rc = ERR_OK;

    (void)a;
    if (sql != NULL)
        rc = mdb_exec_multi(conn, sql);
    if (rc) {
        common_fail("%s/%s failed (see the log line above); statements before the failing one "
                    "may have been applied (MariaDB DDL is not transactional)",
                    dir, version);
        return rc;
    }
    rc = mdb_exec(conn,
                  "INSERT INTO schema_migrations (version, checksum, applied_at) "
                  "VALUES (?, ?, NOW(3))",
                  (struct mdb_arg[]){MDB_STR(version), MDB_STR(sum)}, 2, NULL, NULL);
    if (rc)
        common_fail("%s was applied but could not be recorded in schema_migrations", version);
    return rc;
}

static void
maria_close(void *conn)
{
    mdb_free(conn);
}

const struct schema_driver schema_mdb = {
    .open = maria_open,
    .applied = maria_applied,
    .apply = maria_apply,
    .close = maria_close,
};
