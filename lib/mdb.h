/*
 * mdb.h - MariaDB Connector/C behind a small API: one connection per worker
 * (not thread-safe; never share a struct mdb between threads), prepared
 * statements cached per connection by SQL text, '?' parameters, results
 * copied into the caller's arena as text, transactions and reconnect.
 * Values are text because MariaDB's text/binary protocols round-trip every
 * integer and string we use exactly; callers parse with mdb_i64.
 */
#ifndef SOUK_MDB_H
#define SOUK_MDB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

struct arena;
struct mdb;

enum mdb_arg_type { MDB_ARG_NULL, MDB_ARG_I64, MDB_ARG_STR };

struct mdb_arg {
    enum mdb_arg_type type;
    int64_t           i;
    const char       *s;
    size_t            len;
};

#define MDB_I64(x)     ((struct mdb_arg){MDB_ARG_I64, (x), NULL, 0})
#define MDB_STR(z)     mdb_arg_str(z)
#define MDB_STRN(p, n) ((struct mdb_arg){MDB_ARG_STR, 0, (p), (n)})
#define MDB_NULL       ((struct mdb_arg){MDB_ARG_NULL, 0, NULL, 0})

/* A string parameter; NULL binds SQL NULL. */
static inline struct mdb_arg
mdb_arg_str(const char *z)
{
    struct mdb_arg a = {MDB_ARG_NULL, 0, NULL, 0};

    if (z != NULL) {
        a.type = MDB_ARG_STR;
        a.s = z;
        a.len = strlen(z);
    }
    return a;
}

struct mdb_rows {
    size_t        nrows, ncols;
    const char  **cols; /* column names */
    const char ***v;    /* v[row][col]; NULL for SQL NULL */
    size_t      **len;  /* len[row][col] */
};

/* A handle for dsn "mysql://user:pass@host:port/db". Does not connect: the
 * first query does, and a lost connection is re-opened once per call.
 * Returns NULL only for a malformed dsn. Free with mdb_free. */
struct mdb *mdb_new(const char *dsn);
void        mdb_free(struct mdb *db);
/* ERR_OK when dsn parses (for startup validation), ERR_INVALID otherwise. */
MUST_CHECK int mdb_new_check(const char *dsn);
/* mysql_library_init; call once in main() before any thread starts. */
MUST_CHECK int mdb_global_init(void);

/* Run a SELECT; rows are copied into a. */
MUST_CHECK int mdb_query(struct mdb *db, struct arena *a, const char *sql,
                         const struct mdb_arg *args, size_t nargs, struct mdb_rows **out);
/* Run a statement without a result set; affected/insert_id may be NULL. */
MUST_CHECK int mdb_exec(struct mdb *db, const char *sql, const struct mdb_arg *args, size_t nargs,
                        uint64_t *affected, uint64_t *insert_id);
/* Run several ';'-separated statements without parameters (migrations, bulk loads). */
MUST_CHECK int mdb_exec_multi(struct mdb *db, const char *sql);

MUST_CHECK int mdb_begin(struct mdb *db);
/* mdb_begin with START TRANSACTION WITH CONSISTENT SNAPSHOT: every read sees
 * one point in time, and *gtid (in a) is the binlog's GTID position at that
 * point (BINLOG_GTID_POS of the snapshot's binlog file and offset), so a
 * stream from *gtid continues exactly where the snapshot ends (live
 * migration's backfill). *gtid is NULL when the server writes no binlog. */
MUST_CHECK int mdb_begin_snapshot(struct mdb *db, struct arena *a, char **gtid);
MUST_CHECK int mdb_commit(struct mdb *db);
/* Always safe to call; never fails visibly. */
void mdb_rollback(struct mdb *db);

/* ERR_OK when the server answers (used by /ready). */
MUST_CHECK int mdb_ping(struct mdb *db);

/* Errors: ERR_DUPLICATE (unique key), ERR_BUSY (deadlock or lock wait timeout:
 * retry the transaction), ERR_UNAVAILABLE (cannot connect), ERR_INTERNAL
 * (anything else; the server's message is logged, never returned).
 * Also ERR_CONFLICT for a failed CHECK constraint or foreign key (a missing
 * parent row, or a delete of a referenced one), and ERR_UNAVAILABLE when the
 * connection is lost inside a transaction (roll back and start over). */

/* mysql_library_end, the pair of mdb_global_init: call at exit, after every
 * struct mdb is freed (keeps leak checkers quiet). */
void mdb_global_end(void);

/* The parts of a dsn, for tools that create databases and users. */
struct mdb_dsn {
    const char *user, *pass; /* percent-decoded; pass is "" when absent */
    const char *host;        /* "127.0.0.1", "[::1]" is given as "::1" */
    unsigned    port;        /* 3306 when absent */
    const char *name;        /* database, "" when absent */
};

/* Parse "mysql://user[:pass]@host[:port][/db]" into strings allocated in a.
 * ERR_INVALID when malformed. */
MUST_CHECK int mdb_dsn_parse(const char *dsn, struct arena *a, struct mdb_dsn *out);

/* s as a quoted SQL string literal (escaped for the connection's charset),
 * allocated in a, for the few statements that cannot take '?' parameters
 * (CREATE USER ... IDENTIFIED BY). Connects if needed: ERR_UNAVAILABLE. */
MUST_CHECK int mdb_quote(struct mdb *db, struct arena *a, const char *s, char **out);

/* Cell helpers. mdb_i64 returns 0 for NULL or junk (columns are typed by the schema). */
static inline const char *
mdb_get(const struct mdb_rows *rs, size_t row, size_t col)
{
    return rs->v[row][col];
}
int64_t mdb_i64(const struct mdb_rows *rs, size_t row, size_t col);

#endif
