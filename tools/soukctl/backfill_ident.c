/*
 * backfill_ident.c - who allocates ids once a domain is being migrated
 * (migrate/map/README.md "Identity"). The monolith's MariaDB allocates odd ids
 * only (auto_increment_increment=2, auto_increment_offset=1: start-local.sh
 * sets them for `make run` and the tests); a backfilled service allocates
 * even ids only (its sequences INCREMENT BY 2), starting above every id the
 * monolith had allocated or reserved when it was backfilled. Copied ids stay
 * what they are on both sides. So whichever side creates a thing, before,
 * during or after cutover, and through a rollback, no id ever names two.
 */
#include <stdio.h>

#include "backfill.h"

/* The monolith's largest allocated or reserved id of a table: the rows' max
 * and the auto-increment counter (which also counts rolled-back inserts). */
#define MONO_FLOOR                                                                                 \
    "SELECT GREATEST(COALESCE((SELECT MAX(id) FROM %s), 0), COALESCE((SELECT AUTO_INCREMENT - 1"   \
    " FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '%s'), 0))"

/* The service's sequence: step 2, next value the first even number above the
 * monolith's floor ($1), the service's rows and the sequence's own position
 * (a repeat never moves it back). */
#define SEQ_STEP                                                                                   \
    "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %%s INCREMENT BY 2',"                              \
    " pg_get_serial_sequence('%s', 'id')); END $$"
#define SEQ_MOVE                                                                                   \
    "SELECT setval(s.seq, m.n + 1 + (m.n + 1) %% 2, false)"                                        \
    " FROM (SELECT pg_get_serial_sequence('%s', 'id')::regclass AS seq) s,"                        \
    " LATERAL (SELECT greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM %s),"                 \
    " coalesce(pg_sequence_last_value(s.seq), 0)) AS n) m"

static int
mono_odd(struct backfill *b, struct arena *a)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(b->mono, a,
                   "SELECT @@GLOBAL.auto_increment_increment, @@GLOBAL.auto_increment_offset", NULL,
                   0, &rs);
    if (rc)
        return rc;
    if (mdb_i64(rs, 0, 0) == 2 && mdb_i64(rs, 0, 1) == 1)
        return ERR_OK;
    common_fail("the monolith's MariaDB allocates ids with auto_increment_increment=%s and "
                "auto_increment_offset=%s; a migrated service may only allocate ids once it runs "
                "with 2 and 1 (odd ids; migrate/README.md \"Identity\")",
                mdb_get(rs, 0, 0), mdb_get(rs, 0, 1));
    return ERR_INVALID;
}

static int
seq_move(struct backfill *b, struct arena *a, const char *table)
{
    struct mdb_rows *rs;
    const char      *floor;
    int              rc;

    rc = mdb_query(b->mono, a, arena_printf(a, MONO_FLOOR, table, table), NULL, 0, &rs);
    if (rc)
        return rc;
    floor = mdb_get(rs, 0, 0);
    rc = db_exec_sql(b->dst, a, arena_printf(a, SEQ_STEP, table), 0, NULL, NULL);
    if (rc == ERR_OK)
        rc = db_exec_sql(b->dst, a, arena_printf(a, SEQ_MOVE, table, table), 1,
                         (const char *const[]){floor}, NULL);
    return rc;
}

int
backfill_ident_check(struct backfill *b, struct arena *a)
{
    return b->d->ident != NULL ? mono_odd(b, a) : ERR_OK;
}

int
backfill_ident(struct backfill *b, struct arena *a)
{
    const char *const *t;
    int                rc = ERR_OK;

    for (t = b->d->ident; t != NULL && rc == ERR_OK && *t != NULL; t++)
        rc = seq_move(b, a, *t);
    return rc;
}
