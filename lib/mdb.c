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
#include "str.h"

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

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (p == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    return p;
}

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

/* ------------------------------------------------------- statement cache */

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void
stmt_drop(struct mdb *db, struct mdb_stmt *s)
{
    struct mdb_stmt **pp = &db->buckets[s->hash & (MDB_BUCKETS - 1)];

    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    mysql_stmt_close(s->st);
    free(s->sql);
    free(s);
    db->nstmts--;
}

/* A linear scan, but only when the cache is full, which a service with a
 * fixed statement table never reaches. */
static void
stmt_evict(struct mdb *db)
{
    struct mdb_stmt *s, *old = NULL;
    size_t           i;

    for (i = 0; i < MDB_BUCKETS; i++)
        for (s = db->buckets[i]; s != NULL; s = s->next)
            if (old == NULL || s->used < old->used)
                old = s;
    if (old != NULL)
        stmt_drop(db, old);
}

/* Close the connection first: Connector/C then only frees the statements
 * instead of sending COM_STMT_CLOSE down a socket that may be dead. */
static void
mdb_disconnect(struct mdb *db)
{
    size_t i;

    if (db->conn != NULL)
        mysql_close(db->conn);
    db->conn = NULL;
    for (i = 0; i < MDB_BUCKETS; i++)
        while (db->buckets[i] != NULL)
            stmt_drop(db, db->buckets[i]);
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

static int
conn_fail(struct mdb *db, const char *what, const char *sql)
{
    return mdb_fail(db, what, sql, mysql_errno(db->conn), mysql_error(db->conn));
}

static int
stmt_fail(struct mdb *db, MYSQL_STMT *st, const char *what, const char *sql)
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

/* ------------------------------------------------- prepare, bind, fetch */

static int
stmt_get(struct mdb *db, const char *sql, MYSQL_STMT **out)
{
    uint64_t         h = fnv1a(sql);
    struct mdb_stmt *s;
    MYSQL_STMT      *st;
    my_bool          on = 1;

    for (s = db->buckets[h & (MDB_BUCKETS - 1)]; s != NULL; s = s->next) {
        if (s->hash == h && strcmp(s->sql, sql) == 0) {
            s->used = ++db->tick;
            *out = s->st;
            return ERR_OK;
        }
    }
    st = mysql_stmt_init(db->conn);
    if (st == NULL)
        return conn_fail(db, "statement init", sql);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        int rc = stmt_fail(db, st, "prepare", sql);

        mysql_stmt_close(st);
        return rc;
    }
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    if (db->nstmts == MDB_STMT_CAP)
        stmt_evict(db);
    s = xcalloc(1, sizeof(*s));
    s->sql = strdup(sql);
    if (s->sql == NULL)
        abort();
    s->hash = h;
    s->st = st;
    s->used = ++db->tick;
    s->next = db->buckets[h & (MDB_BUCKETS - 1)];
    db->buckets[h & (MDB_BUCKETS - 1)] = s;
    db->nstmts++;
    *out = st;
    return ERR_OK;
}

/* Prepare (or find) c->sql, bind c->args and execute it. */
static int
stmt_run(struct mdb *db, struct mdb_call *c, MYSQL_STMT **out)
{
    MYSQL_BIND *b = NULL;
    MYSQL_STMT *st = NULL;
    size_t      i;
    int         rc;

    rc = stmt_get(db, c->sql, &st);
    if (rc)
        return rc;
    if (mysql_stmt_param_count(st) != c->nargs) {
        log_error("mariadb statement takes %lu parameters, got %zu: %.*s",
                  mysql_stmt_param_count(st), c->nargs, MDB_LOG_SQL, c->sql);
        return ERR_INTERNAL;
    }
    if (c->nargs > 0) {
        b = xcalloc(c->nargs, sizeof(*b));
        for (i = 0; i < c->nargs; i++) {
            const struct mdb_arg *arg = &c->args[i];

            /* Connector/C only reads input buffers, so the casts are safe. */
            b[i].buffer_type = MYSQL_TYPE_NULL;
            if (arg->type == MDB_ARG_I64) {
                b[i].buffer_type = MYSQL_TYPE_LONGLONG;
                b[i].buffer = (void *)&arg->i;
            } else if (arg->type == MDB_ARG_STR) {
                b[i].buffer_type = MYSQL_TYPE_STRING;
                b[i].buffer = (void *)arg->s;
                b[i].buffer_length = arg->len;
                b[i].length = &b[i].buffer_length;
            }
        }
        if (mysql_stmt_bind_param(st, b) != 0) {
            rc = stmt_fail(db, st, "bind", c->sql);
            goto done;
        }
    }
    if (mysql_stmt_execute(st) != 0) {
        rc = stmt_fail(db, st, "execute", c->sql);
        goto done;
    }
    *out = st;
done:
    free(b);
    return rc;
}

/* Copy one fetched row into the arena; a cell longer than its buffer is
 * fetched again at its real size. */
static int
copy_row(struct mdb *db, MYSQL_STMT *st, MYSQL_BIND *b, struct mdb_rows *rs, size_t row,
         struct arena *a)
{
    MYSQL_BIND    big;
    unsigned long n;
    size_t        j;

    rs->v[row] = arena_array(a, const char *, rs->ncols);
    rs->len[row] = arena_array(a, size_t, rs->ncols);
    for (j = 0; j < rs->ncols; j++) {
        if (*b[j].is_null)
            continue;
        n = *b[j].length;
        rs->len[row][j] = n;
        if (n < b[j].buffer_length) {
            rs->v[row][j] = arena_strndup(a, b[j].buffer, n);
            continue;
        }
        memset(&big, 0, sizeof(big));
        big.buffer_type = MYSQL_TYPE_STRING;
        big.buffer = arena_alloc(a, n + 1);
        big.buffer_length = n + 1;
        big.length = &n;
        if (mysql_stmt_fetch_column(st, &big, (unsigned)j, 0) != 0)
            return stmt_fail(db, st, "fetch column", NULL);
        rs->v[row][j] = big.buffer;
    }
    return ERR_OK;
}

/* Bind every column as text, sized from max_length (or MDB_CELL_MIN). */
static MYSQL_BIND *
bind_text(MYSQL_RES *meta, size_t ncols, struct arena *a)
{
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    MYSQL_BIND  *b = arena_array(a, MYSQL_BIND, ncols);
    size_t       j, n;

    for (j = 0; j < ncols; j++) {
        n = f[j].max_length + 1 > MDB_CELL_MIN ? f[j].max_length + 1 : MDB_CELL_MIN;
        b[j].buffer_type = MYSQL_TYPE_STRING;
        b[j].buffer = arena_alloc(a, n);
        b[j].buffer_length = n;
        b[j].length = arena_new(a, unsigned long);
        b[j].is_null = arena_new(a, my_bool);
        b[j].error = arena_new(a, my_bool);
    }
    return b;
}

static int
fetch_rows(struct mdb *db, MYSQL_STMT *st, struct mdb_call *c, struct mdb_rows *rs)
{
    MYSQL_RES   *meta;
    MYSQL_FIELD *f;
    MYSQL_BIND  *b;
    size_t       i;
    int          rc = ERR_OK, r;

    meta = mysql_stmt_result_metadata(st);
    if (meta == NULL)
        return mysql_stmt_errno(st) ? stmt_fail(db, st, "metadata", c->sql) : ERR_OK;
    if (mysql_stmt_store_result(st) != 0) {
        rc = stmt_fail(db, st, "store result", c->sql);
        goto done;
    }
    rs->ncols = mysql_num_fields(meta);
    f = mysql_fetch_fields(meta);
    rs->cols = arena_array(c->a, const char *, rs->ncols);
    for (i = 0; i < rs->ncols; i++)
        rs->cols[i] = arena_strdup(c->a, f[i].name);
    rs->nrows = (size_t)mysql_stmt_num_rows(st);
    rs->v = arena_array(c->a, const char **, rs->nrows);
    rs->len = arena_array(c->a, size_t *, rs->nrows);
    b = bind_text(meta, rs->ncols, c->a);
    if (mysql_stmt_bind_result(st, b) != 0) {
        rc = stmt_fail(db, st, "bind result", c->sql);
        goto done;
    }
    for (i = 0; i < rs->nrows; i++) {
        r = mysql_stmt_fetch(st);
        if (r != 0 && r != MYSQL_DATA_TRUNCATED) {
            rc = r == MYSQL_NO_DATA ? ERR_INTERNAL : stmt_fail(db, st, "fetch", c->sql);
            goto done;
        }
        rc = copy_row(db, st, b, rs, i, c->a);
        if (rc)
            goto done;
    }
done:
    if (db->conn != NULL)
        mysql_stmt_free_result(st);
    mysql_free_result(meta);
    return rc;
}

/* ------------------------------------------------------------ operations */

static int
op_query(struct mdb *db, struct mdb_call *c)
{
    struct mdb_rows *rs = arena_new(c->a, struct mdb_rows);
    MYSQL_STMT      *st = NULL;
    int              rc;

    rc = stmt_run(db, c, &st);
    if (rc)
        return rc;
    rc = fetch_rows(db, st, c, rs);
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

    rc = stmt_run(db, c, &st);
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
        return conn_fail(db, "statement 1 of a batch", NULL);
    for (;;) {
        res = mysql_store_result(db->conn);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(db->conn) != 0)
            return conn_fail(db, "store result", NULL);
        c->partial = 1;
        more = mysql_next_result(db->conn);
        if (more < 0)
            return ERR_OK;
        k++;
        if (more > 0) {
            snprintf(what, sizeof(what), "statement %d of a batch", k);
            return conn_fail(db, what, NULL);
        }
    }
}

static int
op_begin(struct mdb *db, struct mdb_call *c)
{
    (void)c;
    if (mysql_real_query(db->conn, "START TRANSACTION", 17) != 0)
        return conn_fail(db, "begin", NULL);
    db->in_tx = 1;
    return ERR_OK;
}

static int
op_ping(struct mdb *db, struct mdb_call *c)
{
    (void)c;
    return mysql_ping(db->conn) != 0 ? conn_fail(db, "ping", NULL) : ERR_OK;
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
        return conn_fail(db, "commit", NULL);
    return ERR_OK;
}

/* A connection whose rollback failed is in an unknown state: drop it. */
void
mdb_rollback(struct mdb *db)
{
    if (db->in_tx && db->conn != NULL && mysql_rollback(db->conn) != 0) {
        (void)conn_fail(db, "rollback", NULL);
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
