/*
 * mdb_int.h - the private half of lib/mdb, shared by mdb.c (connection,
 * errors, operations, transactions) and mdb_stmt.c (the per-connection
 * statement cache, binding and fetching rows). Callers include mdb.h only.
 */
#ifndef SOUK_MDB_INT_H
#define SOUK_MDB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "mdb.h"
#include "xalloc.h"

/* Cached statements per connection; the least recently used is closed. Kept
 * small because the monolith's dynamic list queries have many shapes and
 * MariaDB caps prepared statements server-wide (max_prepared_stmt_count). */
#define MDB_STMT_CAP        64
#define MDB_BUCKETS         512 /* power of two, twice the cap */
#define MDB_CONNECT_TIMEOUT 3   /* seconds */
#define MDB_IO_TIMEOUT      30  /* seconds, read and write */
#define MDB_CELL_MIN        64  /* result buffer floor: numbers and dates as text */
#define MDB_LOG_SQL         160 /* characters of SQL quoted in a log line */

/* Explicit rather than inherited from the server's configuration: MariaDB
 * 10.11's defaults plus STRICT_ALL_TABLES, UTC for DATETIME arithmetic. */
#define MDB_INIT_SQL                                                                               \
    "SET autocommit = 1, time_zone = '+00:00', innodb_lock_wait_timeout = 10,"                     \
    " sql_mode = 'STRICT_TRANS_TABLES,"                                                            \
    "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,"                            \
    "NO_ENGINE_SUBSTITUTION'"

struct mdb_stmt {
    char            *sql;
    uint64_t         hash;
    MYSQL_STMT      *st;
    uint64_t         used; /* db->tick when last run: the smallest is evicted */
    struct mdb_stmt *next; /* bucket chain */
};

struct mdb {
    struct arena    *a; /* the parsed dsn */
    struct mdb_dsn   dsn;
    MYSQL           *conn; /* NULL while disconnected */
    int              in_tx;
    int              lost; /* the last error dropped the connection */
    size_t           nstmts;
    uint64_t         tick;
    struct mdb_stmt *buckets[MDB_BUCKETS];
};

/* One call through mdb_run: the inputs of every operation and their outputs. */
struct mdb_call {
    const char           *sql;
    const struct mdb_arg *args;
    size_t                nargs;
    struct arena         *a;
    struct mdb_rows     **rows;
    uint64_t             *affected, *insert_id;
    int                   partial; /* some statements of a batch already ran: no retry */
};

/* mdb.c: failures logged and mapped to ERR_*. */
int mdb_conn_fail(struct mdb *db, const char *what, const char *sql);
int mdb_stmt_fail(struct mdb *db, MYSQL_STMT *st, const char *what, const char *sql);

/* mdb_stmt.c: close and forget one cached statement. */
void mdb_stmt_drop(struct mdb *db, struct mdb_stmt *s);
/* mdb_stmt.c: prepare (or find) c->sql, bind c->args and execute it. */
int mdb_stmt_run(struct mdb *db, struct mdb_call *c, MYSQL_STMT **out);
/* mdb_stmt.c: every row of st's result as text into c->a. */
int mdb_fetch_rows(struct mdb *db, MYSQL_STMT *st, struct mdb_call *c, struct mdb_rows *rs);

#endif
