/*
 * position.c - the statements of sync_position (position.h).
 */
#include "arena.h"
#include "db.h"
#include "migrate/sync/position.h"

#define POSITION_DDL                                                                               \
    "CREATE TABLE IF NOT EXISTS sync_position ("                                                   \
    " domain text PRIMARY KEY, gtid text NOT NULL, marker text, marker_at timestamptz,"            \
    " updated_at timestamptz NOT NULL DEFAULT now())"
#define POSITION_READ "SELECT gtid, marker FROM sync_position WHERE domain = $1"
#define POSITION_SAVE                                                                              \
    "INSERT INTO sync_position AS p (domain, gtid, marker, marker_at, updated_at)"                 \
    " VALUES ($1, $2, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END, now())"             \
    " ON CONFLICT (domain) DO UPDATE SET gtid = EXCLUDED.gtid, updated_at = now(),"                \
    " marker = COALESCE(EXCLUDED.marker, p.marker),"                                               \
    " marker_at = COALESCE(EXCLUDED.marker_at, p.marker_at)"
#define POSITION_START                                                                             \
    "INSERT INTO sync_position (domain, gtid) VALUES ($1, $2) ON CONFLICT (domain) DO NOTHING"

int
position_init(struct db *db, struct arena *a)
{
    return db_exec_sql(db, a, POSITION_DDL, 0, NULL, NULL);
}

int
position_read(struct db *db, struct arena *a, const char *domain, char **gtid, char **marker)
{
    struct db_rows *rs;
    int             rc;

    *gtid = *marker = NULL;
    rc = db_exec_sql(db, a, POSITION_READ, 1, (const char *const[]){domain}, &rs);
    if (rc || rs->nrows == 0)
        return rc;
    *gtid = arena_strdup(a, db_get(rs, 0, 0));
    if (db_get(rs, 0, 1) != NULL)
        *marker = arena_strdup(a, db_get(rs, 0, 1));
    return ERR_OK;
}

int
position_save(struct db *db, struct arena *a, const char *domain, const char *gtid,
              const char *marker)
{
    return db_exec_sql(db, a, POSITION_SAVE, 3, (const char *const[]){domain, gtid, marker}, NULL);
}

int
position_start(struct db *db, struct arena *a, const char *domain, const char *gtid)
{
    return db_exec_sql(db, a, POSITION_START, 2, (const char *const[]){domain, gtid}, NULL);
}
