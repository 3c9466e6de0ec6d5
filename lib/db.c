/*
 * db.c - libpq behind db.h: one lazy connection per struct db (one per
 * thread), the service's statement table prepared on every connect, text
 * parameters and results, SQLSTATE -> ERR_ mapping, and one reconnect-and-
 * retry when the connection was lost outside a transaction.
 * Nothing here locks: a struct db is never shared between threads.
 */
#include <assert.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "arena.h"
#include "db.h"
#include "db_int.h"
#include "log.h"
#include "db_sqlcache.h"
#include "str.h"
#include "xalloc.h"

#define DB_CONNECT_TIMEOUT "10" /* seconds, unless the url sets connect_timeout: an ASan run on a
                                 * saturated 2-core machine saw PostgreSQL take over 5 s to accept */
#define DB_LOG_SQL         80  /* bytes of ad-hoc SQL quoted in a log line */

/* One call: a table statement (sql NULL) or ad-hoc SQL. */
struct db_call {
    int                id;
    const char        *sql;
    int                nparams;
    const char *const *params;
    struct arena      *a;
    struct db_rows   **out;
};

typedef void db_log_fn(const char *fmt, ...);

/* SQLSTATE (a full code or a two-character class) -> error. The first
 * matching row wins. log keeps expected outcomes out of the error log. */
static const struct db_errmap {
    const char *state;
    int         err;
    db_log_fn  *log;
} db_errmap[] = {
    {"23505", ERR_DUPLICATE, log_info},   {"23503", ERR_CONFLICT, log_warn},
    {"23514", ERR_CONFLICT, log_warn},    {"23502", ERR_CONFLICT, log_warn},
    {"40001", ERR_BUSY, log_warn},        {"40P01", ERR_BUSY, log_warn},
    {"55P03", ERR_BUSY, log_warn},        {"22", ERR_INVALID, log_warn},
    {"08", ERR_UNAVAILABLE, log_warn},    {"57P01", ERR_UNAVAILABLE, log_warn},
    {"57P02", ERR_UNAVAILABLE, log_warn}, {"57P03", ERR_UNAVAILABLE, log_warn},
    {"53300", ERR_UNAVAILABLE, log_warn},
};

struct db *
db_new(const char *url, const struct db_stmt *stmts)
{
    struct db *db = xcalloc(1, sizeof(*db));

    db->url = xstrdup(url != NULL ? url : "");
    db->cache = sqlcache_new();
    db->stmts = stmts;
    while (stmts != NULL && stmts[db->nstmts].name != NULL)
        db->nstmts++;
    return db;
}

void
db_disconnect(struct db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    sqlcache_reset(db->cache);
}

void
db_free(struct db *db)
{
    if (db == NULL)
        return;
    db_disconnect(db);
    sqlcache_free(db->cache);
    xfree(db->url);
    xfree(db);
}

/* The exact arena_cleanup_fn type: calling PQclear through a cast is UB. */
static void
res_release(void *p)
{
    PQclear(p);
}

/* ------------------------------------------------------------- errors */

/* libpq messages end in a newline and may span lines; keep the first. */
static int
msg_len(const char *msg)
{
    return (int)strcspn(msg, "\n");
}

static const struct db_errmap *
errmap_find(const char *state)
{
    size_t i;

    if (state == NULL)
        return NULL;
    for (i = 0; i < sizeof(db_errmap) / sizeof(db_errmap[0]); i++)
        if (strncmp(state, db_errmap[i].state, strlen(db_errmap[i].state)) == 0)
            return &db_errmap[i];
    return NULL;
}

/* 1 when the connection is gone: libpq says so, or the server said it is
 * closing it (admin shutdown, pg_terminate_backend) or class 08. */
static int
conn_lost(const struct db *db, const struct db_errmap *m)
{
    return db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK ||
           (m != NULL && m->err == ERR_UNAVAILABLE);
}

/* Map a failed result (res may be NULL), log it with what was running, and
 * set *lost when the connection must be re-opened. Only the primary message
 * is logged: the DETAIL of a unique violation quotes the value (an email). */
int
db_fail(struct db *db, const PGresult *res, const char *what, int *lost)
{
    const struct db_errmap *m;
    const char             *state = NULL, *msg = NULL;

    if (res != NULL) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    }
    if (msg == NULL)
        msg = db->conn != NULL ? PQerrorMessage(db->conn) : "no connection";
    m = errmap_find(state);
    *lost = conn_lost(db, m);
    if (*lost && m == NULL)
        m = errmap_find("08");
    (m != NULL ? m->log : log_error)("postgresql %s failed: %.*s (SQLSTATE %s)", what, msg_len(msg),
                                     msg, state != NULL ? state : "none");
    return m != NULL ? m->err : ERR_INTERNAL;
}

/* ------------------------------------------------------------ connect */

/* Server notices ("table ... does not exist, skipping") go to the log
 * instead of libpq's default, a bare line on stderr. */
static void
notice_log(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    (void)arg;
    (sev != NULL && strcmp(sev, "WARNING") == 0 ? log_warn : log_info)(
        "postgresql %s: %s", sev != NULL ? sev : "notice", msg != NULL ? msg : "");
}

/* Prepare every statement of the table as "s<index>". A statement that does
 * not prepare (a missing table, a typo) fails the connect, so /ready shows a
 * schema mismatch at once instead of at the first request. */
static int
db_prepare_all(struct db *db)
{
    const struct db_stmt *st;
    PGresult             *res;
    char                  name[16], what[160];
    int                   i, rc = ERR_OK, lost;

    for (i = 0; db->stmts != NULL && db->stmts[i].name != NULL; i++) {
        st = &db->stmts[i];
        snprintf(name, sizeof(name), "s%d", i);
        res = PQprepare(db->conn, name, st->sql, st->nparams, NULL);
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(what, sizeof(what), "prepare of statement %s", st->name);
            rc = db_fail(db, res, what, &lost);
            if (rc != ERR_UNAVAILABLE)
                rc = ERR_INTERNAL;
        }
        PQclear(res);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* Settings placed before dbname are defaults: the url, expanded in place of
 * dbname, overrides them (libpq keeps the last value of a repeated key). */
int
db_connect(struct db *db)
{
    const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
    const char *vals[] = {DB_CONNECT_TIMEOUT, log_svc(), "UTF8", db->url, NULL};
    int         rc;

    db->conn = PQconnectdbParams(keys, vals, 1);
    if (db->conn == NULL) {
        log_error("postgresql connect failed: out of memory");
        return ERR_UNAVAILABLE;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        log_error("postgresql connect to %s:%s/%s failed: %.*s", PQhost(db->conn), PQport(db->conn),
                  PQdb(db->conn), msg_len(PQerrorMessage(db->conn)), PQerrorMessage(db->conn));
        db_disconnect(db);
        return ERR_UNAVAILABLE;
    }
    PQsetNoticeReceiver(db->conn, notice_log, NULL);
    rc = db_prepare_all(db);
    if (rc)
        db_disconnect(db);
    else
        db->session++;
    return rc;
}

/* ------------------------------------------------------------ calls */

/* Ad-hoc SQL with parameters runs prepared (db_sqlcache.h); without, it may
 * be several statements, which only the simple protocol takes. */
static PGresult *
call_send(struct db *db, const struct db_call *c)
{
    const char *cached;
    PGresult   *fail;
    char        name[16];

    if (c->sql == NULL) {
        snprintf(name, sizeof(name), "s%d", c->id);
        return PQexecPrepared(db->conn, name, c->nparams, c->params, NULL, NULL, 0);
    }
    if (c->nparams == 0)
        return PQexec(db->conn, c->sql);
    cached = sqlcache_name(db->cache, db->conn, c->sql, c->nparams, &fail);
    if (fail != NULL)
        return fail;
    if (cached != NULL)
        return PQexecPrepared(db->conn, cached, c->nparams, c->params, NULL, NULL, 0);
    return PQexecParams(db->conn, c->sql, c->nparams, NULL, c->params, NULL, NULL, 0);
}

/* A prepared text whose tables changed under it so that its result would
 * change shape: PostgreSQL refuses it until it is prepared again. */
static int
stale_plan(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    return state != NULL && strcmp(state, "0A000") == 0 && msg != NULL &&
           strstr(msg, "cached plan") != NULL;
}

static void
call_what(const struct db_call *c, const struct db *db, char *what, size_t n)
{
    if (c->sql == NULL)
        snprintf(what, n, "statement %s", db->stmts[c->id].name);
    else
        snprintf(what, n, "query \"%.*s\"", DB_LOG_SQL, c->sql);
}

/* Keep res in the arena as *c->out, or clear it now when nobody reads it. */
static void
call_result(struct db *db, const struct db_call *c, PGresult *res)
{
    struct db_rows *rs;
    int64_t         n = 0;

    if (str_z_to_i64(PQcmdTuples(res), 0, INT64_MAX, &n))
        n = 0;
    db->affected = n;
    if (c->out == NULL) {
        PQclear(res);
        return;
    }
    arena_defer(c->a, res_release, res);
    rs = arena_new(c->a, struct db_rows);
    rs->nrows = (size_t)PQntuples(res);
    rs->ncols = (size_t)PQnfields(res);
    rs->res = res;
    *c->out = rs;
}

/* Run c, connecting first if needed. A connection lost outside a transaction
 * is re-opened and c retried once: that can repeat a statement whose commit
 * reached the server just before the connection died, but the window is one
 * reply long, and the alternative fails the first query after every server
 * restart or idle-connection kill. Inside a transaction the server has
 * already rolled back, so the caller must start over (db_rollback, then a
 * fresh db_begin reconnects). */
static int
db_run(struct db *db, const struct db_call *c)
{
    PGresult      *res;
    ExecStatusType st;
    char           what[160];
    int            attempt, rc = ERR_UNAVAILABLE, lost;

    db->affected = 0;
    for (attempt = 0; attempt < 2; attempt++) {
        if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK)
            db_disconnect(db);
        if (db->conn == NULL && db->in_tx) {
            log_warn("postgresql connection lost inside a transaction");
            return ERR_UNAVAILABLE;
        }
        if (db->conn == NULL) {
            rc = db_connect(db);
            if (rc)
                return rc;
        }
        res = call_send(db, c);
        st = PQresultStatus(res);
        if (res != NULL &&
            (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)) {
            call_result(db, c, res);
            return ERR_OK;
        }
        call_what(c, db, what, sizeof(what));
        rc = db_fail(db, res, what, &lost);
        if (c->sql != NULL && res != NULL && stale_plan(res))
            sqlcache_forget(db->cache, db->conn, c->sql); /* this call fails; the next prepares */
        PQclear(res);
        if (!lost)
            return rc;
        db_disconnect(db);
        rc = ERR_UNAVAILABLE;
        if (db->in_tx)
            return rc;
        if (attempt == 0)
            log_warn("postgresql connection lost, reconnecting once");
    }
    return rc;
}

int
db_exec(struct db *db, struct arena *a, int id, const char *const *params, struct db_rows **out)
{
    struct db_call c = {id, NULL, 0, params, a, out};

    assert(id >= 0 && id < db->nstmts);
    assert(out == NULL || a != NULL);
    c.nparams = db->stmts[id].nparams;
    return db_run(db, &c);
}

int
db_exec_row(struct db *db, struct arena *a, int id, const char *const *params, struct db_rows **out)
{
    int rc;

    rc = db_exec(db, a, id, params, out);
    if (rc)
        return rc;
    return (*out)->nrows == 0 ? ERR_NOT_FOUND : ERR_OK;
}

int
db_exec_sql(struct db *db, struct arena *a, const char *sql, int nparams, const char *const *params,
            struct db_rows **out)
{
    struct db_call c = {-1, sql, nparams, params, a, out};

    assert(sql != NULL && nparams >= 0);
    assert(out == NULL || a != NULL);
    return db_run(db, &c);
}

/* ------------------------------------------------------------ transactions */

int
db_begin(struct db *db)
{
    struct db_call c = {-1, "BEGIN", 0, NULL, NULL, NULL};
    int            rc;

    if (db->in_tx) {
        /* A caller skipped db_rollback after a failure; never nest. */
        log_warn("postgresql begin inside a transaction, rolling back first");
        db_rollback(db);
    }
    rc = db_run(db, &c);
    if (rc)
        return rc;
    db->in_tx = 1;
    return ERR_OK;
}

int
db_commit(struct db *db)
{
    PGresult *res;
    char      what[] = "commit";
    int       rc, lost;

    if (!db->in_tx || db->conn == NULL) {
        db->in_tx = 0;
        log_warn("postgresql commit without a usable transaction");
        return ERR_UNAVAILABLE;
    }
    db->in_tx = 0;
    res = PQexec(db->conn, "COMMIT");
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = db_fail(db, res, what, &lost);
        if (lost)
            db_disconnect(db);
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        /* COMMIT of a transaction that already failed succeeds as ROLLBACK. */
        log_error("postgresql commit rolled back: an earlier statement failed");
        rc = ERR_INTERNAL;
    } else {
        rc = ERR_OK;
    }
    PQclear(res);
    return rc;
}

void
db_rollback(struct db *db)
{
    PGresult *res;

    db->in_tx = 0;
    if (db->conn == NULL)
        return;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_disconnect(db);
        return;
    }
    res = PQexec(db->conn, "ROLLBACK");
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warn("postgresql rollback failed: %.*s", msg_len(PQerrorMessage(db->conn)),
                 PQerrorMessage(db->conn));
        db_disconnect(db);
    }
    PQclear(res);
}

/* ------------------------------------------------------------ misc */

int
db_ping(struct db *db)
{
    struct db_call c = {-1, "SELECT 1", 0, NULL, NULL, NULL};

    return db_run(db, &c);
}

/* Take every notification libpq has queued; 1 when there was one. */
static int
notifies_drain(struct db *db)
{
    PGnotify *n;
    int       got = 0;

    while ((n = PQnotifies(db->conn)) != NULL) {
        PQfreemem(n);
        got = 1;
    }
    return got;
}

int
db_wait_notify(struct db *db, int ms)
{
    struct pollfd pfd;

    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK || db->in_tx)
        return -1;
    /* Ones that came with the results of earlier calls wait in libpq. */
    if (notifies_drain(db))
        return 1;
    pfd.fd = PQsocket(db->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0)
        return -1;
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    if (!PQconsumeInput(db->conn))
        return -1; /* lost: the next call reconnects */
    return notifies_drain(db);
}

uint64_t
db_session(const struct db *db)
{
    return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK ? db->session : 0;
}

int64_t
db_affected(const struct db *db)
{
    return db->affected;
}

const char *
db_get(const struct db_rows *rs, size_t row, size_t col)
{
    if (rs == NULL || row >= rs->nrows || col >= rs->ncols)
        return NULL;
    if (PQgetisnull(rs->res, (int)row, (int)col))
        return NULL;
    return PQgetvalue(rs->res, (int)row, (int)col);
}

size_t
db_len(const struct db_rows *rs, size_t row, size_t col)
{
    if (rs == NULL || row >= rs->nrows || col >= rs->ncols)
        return 0;
    return (size_t)PQgetlength(rs->res, (int)row, (int)col);
}

int64_t
db_i64(const struct db_rows *rs, size_t row, size_t col)
{
    int64_t n;

    if (str_z_to_i64(db_get(rs, row, col), INT64_MIN, INT64_MAX, &n))
        return 0;
    return n;
}

const char *
db_i64_text(struct arena *a, int64_t n)
{
    return arena_printf(a, "%" PRId64, n);
}
