/*
 * position.c - the statements of sync_position (position.h).
 */
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "migrate/sync/position.h"
#include "str.h"

#define POSITION_DDL                                                                               \
    "CREATE TABLE IF NOT EXISTS sync_position ("                                                   \
    " domain text PRIMARY KEY, gtid text NOT NULL, marker text, marker_at timestamptz,"            \
    " updated_at timestamptz NOT NULL DEFAULT now());"                                             \
    " CREATE TABLE IF NOT EXISTS sync_touched (seq bigserial PRIMARY KEY, domain text NOT NULL,"   \
    " entity text NOT NULL, key bigint NOT NULL, gtid text NOT NULL,"                              \
    " at timestamptz NOT NULL DEFAULT now());"                                                     \
    " CREATE INDEX IF NOT EXISTS sync_touched_domain ON sync_touched (domain, entity, seq)"
#define POSITION_READ "SELECT gtid, marker FROM sync_position WHERE domain = $1"
#define POSITION_SAVE                                                                              \
    "INSERT INTO sync_position AS p (domain, gtid, marker, marker_at, updated_at)"                 \
    " VALUES ($1, $2, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END, now())"             \
    " ON CONFLICT (domain) DO UPDATE SET gtid = EXCLUDED.gtid, updated_at = now(),"                \
    " marker = COALESCE(EXCLUDED.marker, p.marker),"                                               \
    " marker_at = COALESCE(EXCLUDED.marker_at, p.marker_at)"
/* $3 and $4: the entities and keys as array literals, element by element. */
#define TOUCHED_PUT                                                                                \
    "INSERT INTO sync_touched (domain, entity, key, gtid)"                                         \
    " SELECT $1, t.e, t.k, $2 FROM unnest($3::text[], $4::bigint[]) AS t (e, k)"
#define TOUCHED_MARK                                                                               \
    "WITH m AS (SELECT coalesce(max(seq), 0) AS seq FROM sync_touched WHERE domain = $1),"         \
    " d AS (DELETE FROM sync_touched t USING m WHERE t.domain = $1 AND t.seq <= m.seq)"            \
    " SELECT seq FROM m"
#define TOUCHED_SINCE                                                                              \
    "SELECT DISTINCT key FROM sync_touched WHERE domain = $1 AND entity = $2 AND seq > $3::bigint" \
    " ORDER BY key"
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

/* One array literal element: entity names are plain words, keys integers,
 * but quote and escape anyway. */
static void
array_put(struct buf *b, const char *v)
{
    if (buf_len(b) > 1)
        buf_putc(b, ',');
    buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *v);
    }
    buf_putc(b, '"');
}

int
position_touched(struct db *db, struct arena *a, const char *domain, const char *gtid,
                 const char *const *whats, const char *const *keys, size_t n)
{
    struct buf *e = buf_new(a, 1u << 24), *k = buf_new(a, 1u << 24);
    size_t      i;

    if (n == 0)
        return ERR_OK;
    buf_putc(e, '{');
    buf_putc(k, '{');
    for (i = 0; i < n; i++) {
        array_put(e, whats[i]);
        array_put(k, keys[i]);
    }
    buf_putc(e, '}');
    buf_putc(k, '}');
    if (buf_error(e) || buf_error(k))
        return ERR_TOO_LARGE;
    return db_exec_sql(db, a, TOUCHED_PUT, 4,
                       (const char *const[]){domain, gtid, buf_data(e), buf_data(k)}, NULL);
}

int
position_touched_mark(struct db *db, struct arena *a, const char *domain, int64_t *seq)
{
    struct db_rows *rs;
    const char     *v;
    int             rc;

    *seq = 0;
    rc = db_exec_sql(db, a, TOUCHED_MARK, 1, (const char *const[]){domain}, &rs);
    if (rc || rs->nrows == 0)
        return rc;
    v = db_get(rs, 0, 0);
    return str_to_i64((struct str){v, db_len(rs, 0, 0)}, 0, INT64_MAX, seq) ? ERR_INTERNAL : ERR_OK;
}

int
position_touched_since(struct db *db, struct arena *a, const char *domain, const char *what,
                       int64_t seq, int64_t **keys, size_t *n)
{
    struct db_rows *rs;
    size_t          i;
    int             rc;

    *keys = NULL;
    *n = 0;
    rc = db_exec_sql(db, a, TOUCHED_SINCE, 3,
                     (const char *const[]){domain, what, arena_printf(a, "%lld", (long long)seq)},
                     &rs);
    if (rc)
        return rc;
    *keys = arena_alloc(a, (rs->nrows + 1) * sizeof(**keys));
    for (i = 0; i < rs->nrows; i++)
        if (str_to_i64((struct str){db_get(rs, i, 0), db_len(rs, i, 0)}, INT64_MIN, INT64_MAX,
                       &(*keys)[i]))
            return ERR_INTERNAL;
    *n = rs->nrows;
    return ERR_OK;
}
