/*
 * mdb.c - MariaDB Connector/C behind mdb.h: a lazy connection, prepared
 * statements cached per connection by SQL text (LRU), every result column
 * fetched as text into the caller's arena, and one reconnect-and-retry when
 * the connection was lost outside a transaction.
 * One struct mdb per thread; nothing here locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "arena.h"
#include "log.h"
#include "mdb.h"
#include "mdb_int.h"
#include "str.h"

typedef int mdb_op_fn(struct mdb *db, struct mdb_call *c);

typedef void mdb_log_fn(const char *fmt, ...);

/* Server and client error codes that are not ERR_INTERNAL. lost marks the
 * connection as dead; log keeps expected outcomes out of the error log. */
static const struct mdb_errmap {
    unsigned    code;
    int         err;
    int         lost;
    mdb_log_fn *log;
} mdb_errmap[] = {
    {ER_DUP_ENTRY, ERR_DUPLICATE, 0, log_info},
    {ER_DUP_ENTRY_WITH_KEY_NAME, ERR_DUPLICATE, 0, log_info},
    {ER_LOCK_DEADLOCK, ERR_BUSY, 0, log_warn},
    {ER_LOCK_WAIT_TIMEOUT, ERR_BUSY, 0, log_warn},
    {1461 /* ER_MAX_PREPARED_STMT_COUNT_REACHED */, ERR_BUSY, 0, log_warn},
    {ER_CONSTRAINT_FAILED, ERR_CONFLICT, 0, log_warn},
    {ER_NO_REFERENCED_ROW_2, ERR_CONFLICT, 0, log_warn},
    {ER_ROW_IS_REFERENCED_2, ERR_CONFLICT, 0, log_warn},
    {CR_SERVER_GONE_ERROR, ERR_UNAVAILABLE, 1, log_warn},
    {CR_SERVER_LOST, ERR_UNAVAILABLE, 1, log_warn},
    {CR_SERVER_LOST_EXTENDED, ERR_UNAVAILABLE, 1, log_warn},
    {ER_CONNECTION_KILLED, ERR_UNAVAILABLE, 1, log_warn},
    {ER_SERVER_SHUTDOWN, ERR_UNAVAILABLE, 1, log_warn},
};

struct mdb *
mdb_new(const char *dsn)
{
    struct mdb *db = xcalloc(1, sizeof(*db));
    int         rc;

    db->a = arena_create();
    rc = mdb_dsn_parse(dsn, db->a, &db->dsn);
    if (rc) {
        arena_destroy(db->a);
        free(db);
        return NULL;
    }
    return db;
}

static void
mdb_disconnect(struct mdb *db)
{
    size_t i;

    if (db->conn != NULL)
        mysql_close(db->conn);
    db->conn = NULL;
    for (i = 0; i < MDB_BUCKETS; i++)
        while (db->buckets[i] != NULL)
            mdb_stmt_drop(db, db->buckets[i]);
}

void
mdb_free(struct mdb *db)
{
    if (db == NULL)
        return;
    mdb_disconnect(db);
    arena_destroy(db->a);
    free(db);
}

/* ------------------------------------------------------------- errors */

/* Log what failed with the server's text, map the code, and drop the
 * connection when it is gone. what names the step; sql may be NULL. */
static int
mdb_fail(struct mdb *db, const char *what, const char *sql, unsigned code, const char *msg)
{
    const struct mdb_errmap *m = NULL;
    size_t                   i;

    for (i = 0; i < sizeof(mdb_errmap) / sizeof(mdb_errmap[0]); i++)
        if (mdb_errmap[i].code == code)
            m = &mdb_errmap[i];
    /* The server quotes the duplicate value (an email, an idempotency key):
     * personal data stays out of the logs. */
    if (m != NULL && m->err == ERR_DUPLICATE)
        msg = "duplicate key (value withheld)";
    (m ? m->log : log_error)("mariadb %s failed: %s (%u)%s%.*s%s", what, msg, code,
                             sql ? " while running \"" : "", MDB_LOG_SQL, sql ? sql : "",
                             sql ? "\"" : "");
    if (m != NULL && m->lost) {
        db->lost = 1;
        mdb_disconnect(db);
    }
    return m ? m->err : ERR_INTERNAL;
}

int
mdb_conn_fail(struct mdb *db, const char *what, const char *sql)
{
    return mdb_fail(db, what, sql, mysql_errno(db->conn), mysql_error(db->conn));
}

int
mdb_stmt_fail(struct mdb *db, MYSQL_STMT *st, const char *what, const char *sql)
{
    return mdb_fail(db, what, sql, mysql_stmt_errno(st), mysql_stmt_error(st));
}

/* ------------------------------------------------------------ connect */

static int
mdb_connect(struct mdb *db)
{
    unsigned int ct = MDB_CONNECT_TIMEOUT, io = MDB_IO_TIMEOUT, proto = MYSQL_PROTOCOL_TCP;
    my_bool      off = 0;
    MYSQL       *m;

    m = mysql_init(NULL);
    if (m == NULL) {
        log_error("mariadb init failed: out of memory");
        return ERR_UNAVAILABLE;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto); /* "localhost" too: the dsn names a port */
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);  /* we reconnect, and drop the cache then */
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, MDB_INIT_SQL);
    /* Multi statements only ever reach mysql_real_query from mdb_exec_multi,
     * whose SQL is a file or a constant; values always go through '?'. No
     * CLIENT_FOUND_ROWS: "affected" counts rows changed, not rows matched. */
    if (mysql_real_connect(m, db->dsn.host, db->dsn.user, db->dsn.pass,
                           db->dsn.name[0] ? db->dsn.name : NULL, db->dsn.port, NULL,
                           CLIENT_MULTI_STATEMENTS) == NULL) {
        log_error("mariadb connect to %s:%u as %s failed: %s (%u)", db->dsn.host, db->dsn.port,
                  db->dsn.user, mysql_error(m), mysql_errno(m));
        mysql_close(m);
        return ERR_UNAVAILABLE;
    }
    db->conn = m;
    return ERR_OK;
}

/* Run op, connecting first if needed. A connection lost outside a
 * transaction is re-opened and op retried once. That can repeat a statement
 * whose commit reached the server just before the connection died; the
 * window is one reply long, and the alternative fails every first query
 * after the server closed an idle connection. Inside a transaction the
 * server has already rolled back, so the caller must start over. */
static int
mdb_run(struct mdb *db, mdb_op_fn *op, struct mdb_call *c)
{
    int attempt, rc = ERR_OK;

    for (attempt = 0; attempt < 2; attempt++) {
        if (db->conn == NULL && db->in_tx) {
            log_warn("mariadb connection lost inside a transaction");
            return ERR_UNAVAILABLE;
        }
        if (db->conn == NULL) {
            rc = mdb_connect(db);
            if (rc)
                return rc;
        }
        db->lost = 0;
        rc = op(db, c);
        if (rc == ERR_OK || !db->lost || db->in_tx || c->partial)
            return rc;
        log_warn("mariadb connection lost, reconnecting once");
    }
    return rc;
}

/* ------------------------------------------------------------ operations */

static int
op_query(struct mdb *db, struct mdb_call *c)
{
    struct mdb_rows *rs = arena_new(c->a, struct mdb_rows);
    MYSQL_STMT      *st = NULL;
    int              rc;

    rc = mdb_stmt_run(db, c, &st);
    if (rc)
        return rc;
    rc = mdb_fetch_rows(db, st, c, rs);
    if (rc)
        return rc;
    *c->rows = rs;
    return ERR_OK;
}

static int
op_exec(struct mdb *db, struct mdb_call *c)
{
    MYSQL_STMT *st = NULL;
    int         rc;

    rc = mdb_stmt_run(db, c, &st);
    if (rc)
        return rc;
    if (c->affected != NULL)
        *c->affected = (uint64_t)mysql_stmt_affected_rows(st);
    if (c->insert_id != NULL)
        *c->insert_id = (uint64_t)mysql_stmt_insert_id(st);
    /* A statement with a result set (INSERT ... RETURNING) must be drained. */
    mysql_stmt_free_result(st);
    return ERR_OK;
}

/* Every result of every statement is consumed, or the connection stays out
 * of sync; an error in statement k stops the rest (the server does too).
 * The SQL is not logged: it may be a whole file, or hold a quoted password. */
static int
op_multi(struct mdb *db, struct mdb_call *c)
{
    MYSQL_RES *res;
    char       what[48];
    int        more, k = 1;

    if (mysql_real_query(db->conn, c->sql, strlen(c->sql)) != 0)
        return mdb_conn_fail(db, "statement 1 of a batch", NULL);
    for (;;) {
        res = mysql_store_result(db->conn);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(db->conn) != 0)
            return mdb_conn_fail(db, "store result", NULL);
        c->partial = 1;
        more = mysql_next_result(db->conn);
        if (more < 0)
            return ERR_OK;
        k++;
        if (more > 0) {
            snprintf(what, sizeof(what), "statement %d of a batch", k);
            return mdb_conn_fail(db, what, NULL);
        }
    }
}

static int
op_begin(struct mdb *db, struct mdb_call *c)
{
    (void)c;
    if (mysql_real_query(db->conn, "START TRANSACTION", 17) != 0)
        return mdb_conn_fail(db, "begin", NULL);
    db->in_tx = 1;
    return ERR_OK;
}

static int
op_begin_snapshot(struct mdb *db, struct mdb_call *c)
{
    static const char sql[] = "START TRANSACTION WITH CONSISTENT SNAPSHOT";

    (void)c;
    if (mysql_real_query(db->conn, sql, sizeof(sql) - 1) != 0)
        return mdb_conn_fail(db, "begin", NULL);
    db->in_tx = 1;
    return ERR_OK;
}

static int
op_ping(struct mdb *db, struct mdb_call *c)
{
    (void)c;
    return mysql_ping(db->conn) != 0 ? mdb_conn_fail(db, "ping", NULL) : ERR_OK;
}

int
mdb_query(struct mdb *db, struct arena *a, const char *sql, const struct mdb_arg *args,
          size_t nargs, struct mdb_rows **out)
{
    struct mdb_call c = {.sql = sql, .args = args, .nargs = nargs, .a = a, .rows = out};

    return mdb_run(db, op_query, &c);
}

int
mdb_exec(struct mdb *db, const char *sql, const struct mdb_arg *args, size_t nargs,
         uint64_t *affected, uint64_t *insert_id)
{
    struct mdb_call c = {
        .sql = sql, .args = args, .nargs = nargs, .affected = affected, .insert_id = insert_id};

    return mdb_run(db, op_exec, &c);
}

int
mdb_exec_multi(struct mdb *db, const char *sql)
{
    struct mdb_call c = {.sql = sql};

    return mdb_run(db, op_multi, &c);
}

/* Escaping depends on the connection's charset, so connect (or check) first. */
int
mdb_quote(struct mdb *db, struct arena *a, const char *s, char **out)
{
    size_t n = strlen(s), m;
    char  *q;
    int    rc;

    rc = mdb_ping(db);
    if (rc)
        return rc;
    q = arena_alloc(a, 2 * n + 3);
    q[0] = '\'';
    m = mysql_real_escape_string(db->conn, q + 1, s, (unsigned long)n);
    q[m + 1] = '\'';
    *out = q;
    return ERR_OK;
}

int
mdb_ping(struct mdb *db)
{
    struct mdb_call c = {0};

    return mdb_run(db, op_ping, &c);
}

/* ---------------------------------------------------------- transactions */

int
mdb_begin(struct mdb *db)
{
    struct mdb_call c = {0};

    if (db->in_tx) {
        log_error("mariadb begin inside a transaction");
        return ERR_INTERNAL;
    }
    return mdb_run(db, op_begin, &c);
}

int
mdb_begin_snapshot(struct mdb *db, struct arena *a, char **gtid)
{
    struct mdb_call  c = {0};
    struct mdb_rows *rs;
    int              rc;

    *gtid = NULL;
    if (db->in_tx) {
        log_error("mariadb begin inside a transaction");
        return ERR_INTERNAL;
    }
    rc = mdb_run(db, op_begin_snapshot, &c);
    if (rc)
        return rc;
    /* The session's Binlog_snapshot_* status is the binlog offset the snapshot
     * is consistent with (what mariadb-dump --single-transaction uses). */
    rc = mdb_query(db, a,
                   "SELECT BINLOG_GTID_POS(MAX(CASE WHEN VARIABLE_NAME = 'BINLOG_SNAPSHOT_FILE'"
                   " THEN VARIABLE_VALUE END), MAX(CASE WHEN VARIABLE_NAME ="
                   " 'BINLOG_SNAPSHOT_POSITION' THEN VARIABLE_VALUE END))"
                   " FROM information_schema.SESSION_STATUS"
                   " WHERE VARIABLE_NAME IN ('BINLOG_SNAPSHOT_FILE', 'BINLOG_SNAPSHOT_POSITION')",
                   NULL, 0, &rs);
    if (rc) {
        mdb_rollback(db);
        return rc;
    }
    if (rs->nrows == 1 && mdb_get(rs, 0, 0) != NULL)
        *gtid = arena_strdup(a, mdb_get(rs, 0, 0));
    return ERR_OK;
}

int
mdb_commit(struct mdb *db)
{
    if (!db->in_tx) {
        log_error("mariadb commit outside a transaction");
        return ERR_INTERNAL;
    }
    db->in_tx = 0;
    if (db->conn == NULL)
        return ERR_UNAVAILABLE; /* lost earlier; the server rolled back */
    if (mysql_commit(db->conn) != 0)
        return mdb_conn_fail(db, "commit", NULL);
    return ERR_OK;
}

/* A connection whose rollback failed is in an unknown state: drop it. */
void
mdb_rollback(struct mdb *db)
{
    if (db->in_tx && db->conn != NULL && mysql_rollback(db->conn) != 0) {
        (void)mdb_conn_fail(db, "rollback", NULL);
        mdb_disconnect(db);
    }
    db->in_tx = 0;
}

/* ------------------------------------------------------------- helpers */

int
mdb_global_init(void)
{
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_error("mariadb client library init failed");
        return ERR_INTERNAL;
    }
    return ERR_OK;
}

void
mdb_global_end(void)
{
    mysql_library_end();
}

int64_t
mdb_i64(const struct mdb_rows *rs, size_t row, size_t col)
{
    int64_t v = 0;

    if (str_z_to_i64(rs->v[row][col], INT64_MIN, INT64_MAX, &v) != ERR_OK)
        return 0;
    return v;
}
