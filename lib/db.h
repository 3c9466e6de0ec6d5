/*
 * db.h - PostgreSQL (libpq) behind a small API, the services' twin of mdb.h.
 * One connection per worker thread (a struct db is never shared between
 * threads). A service hands db_new its statement table; every statement is
 * prepared as soon as the connection opens, so a schema/query mismatch fails
 * the connect (and shows in /ready) instead of the first request.
 * Values travel as text; rows stay in the PGresult, which dies with the arena.
 */
#ifndef SOUK_DB_H
#define SOUK_DB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;
struct db;

/* One prepared statement: a row of a service's SQL table (store.c). The
 * statement's index in the table is the id passed to db_exec. */
struct db_stmt {
    const char *name; /* "ORDER_GET"; NULL ends the table */
    int         nparams;
    const char *sql; /* "$1"-style parameters */
};

/* A service writes its statements once, as an X-macro list of
 * X(NAME, nparams, sql), and expands it twice:
 *   enum { USERS_SQL(DB_STMT_ENUM) };                   SQL_NAME: the id for db_exec
 *   const struct db_stmt users_stmts[] = {USERS_SQL(DB_STMT_ROW){NULL, 0, NULL}};
 */
#define DB_STMT_ENUM(name, n, sql) SQL_##name,
#define DB_STMT_ROW(name, n, sql)  {#name, n, sql},

/* Rows of one result, owned by the arena passed to the call. */
struct db_rows {
    size_t nrows, ncols;
    void  *res; /* PGresult; read through db_get / db_len / db_i64 */
};

/* A handle for url ("postgresql://user:pass@host:port/db" or a libpq
 * conninfo string) with stmts prepared on every (re)connect; stmts may be NULL
 * and must outlive the handle. Does not connect: the first call does, and a
 * connection found broken outside a transaction is re-opened once per call.
 * Returns NULL only on out-of-memory. Free with db_free. */
struct db *db_new(const char *url, const struct db_stmt *stmts);
void       db_free(struct db *db);

/* Run prepared statement id (an index into the table) with n text params
 * (NULL = SQL NULL). out may be NULL for statements whose rows are not read;
 * otherwise *out is allocated in a and the PGresult is released with a. */
MUST_CHECK int db_exec(struct db *db, struct arena *a, int id, const char *const *params,
                       struct db_rows **out);
/* db_exec for a statement that answers one row (a read by key, an UPDATE
 * ... RETURNING): ERR_NOT_FOUND when it returned none. */
MUST_CHECK int db_exec_row(struct db *db, struct arena *a, int id, const char *const *params,
                           struct db_rows **out);
/* The same for SQL text that is not in the table (migrations, tools, lib's
 * own outbox/inbox statements). sql may hold several statements when
 * nparams is 0. */
MUST_CHECK int db_exec_sql(struct db *db, struct arena *a, const char *sql, int nparams,
                           const char *const *params, struct db_rows **out);

/* Transactions. db_begin fails with ERR_UNAVAILABLE when the server cannot
 * be reached; db_rollback is always safe and never fails visibly. */
MUST_CHECK int db_begin(struct db *db);
MUST_CHECK int db_commit(struct db *db);
void           db_rollback(struct db *db);

/* ERR_OK when the server answers and every statement is prepared (/ready). */
MUST_CHECK int db_ping(struct db *db);
/* Wait up to ms for a notification (NOTIFY) on a channel this connection
 * LISTENs to (LISTEN is plain SQL: db_exec_sql; a reconnect forgets it, so
 * a caller that waits repeatedly says LISTEN again each time it runs SQL).
 * 1: one or more came (all are consumed, including ones that arrived with
 * earlier results); 0: none within ms; -1: no usable connection (the caller
 * sleeps instead; its next call reconnects). Not inside a transaction. */
int db_wait_notify(struct db *db, int ms);
/* Which server session the connection is: a number that changes with every
 * reconnect (0 while there is none). What a session holds (a session
 * advisory lock, a LISTEN, a SET) is still held while it stays the same. */
uint64_t db_session(const struct db *db);
/* Rows changed by the last db_exec/db_exec_sql call (INSERT/UPDATE/DELETE). */
int64_t db_affected(const struct db *db);


/* Errors: ERR_DUPLICATE (unique violation), ERR_CONFLICT (foreign key or
 * check constraint), ERR_BUSY (serialization failure or deadlock: retry the
 * transaction), ERR_UNAVAILABLE (cannot connect, connection lost), ERR_INVALID
 * (the server rejected a value: bad input text for a type, out of range),
 * ERR_INTERNAL (anything else). The server's message is logged, never
 * returned to a client. */

/* Cell helpers: db_get is NULL for SQL NULL. db_i64 is 0 for NULL or junk
 * (columns are typed by the schema). */
const char *db_get(const struct db_rows *rs, size_t row, size_t col);
size_t      db_len(const struct db_rows *rs, size_t row, size_t col);
int64_t     db_i64(const struct db_rows *rs, size_t row, size_t col);

/* Bulk load (tools, not request paths): db_copy_begin runs sql, a
 * "COPY table (cols) FROM STDIN" in text format, inside or outside a
 * transaction; db_copy_put sends rows (tab-separated fields, each row ended
 * by a newline; db_copy_text escapes one field, NULL as \N); db_copy_end
 * finishes it (error non-NULL: abort it with that message) and gives the
 * rows copied. Between begin and end nothing else may run on db. Errors as
 * db_exec_sql's; a bad row fails db_copy_end. */
struct buf;
MUST_CHECK int db_copy_begin(struct db *db, const char *sql);
MUST_CHECK int db_copy_put(struct db *db, const char *p, size_t n);
MUST_CHECK int db_copy_end(struct db *db, const char *error, int64_t *rows);
void           db_copy_text(struct buf *b, const char *z);

/* n as decimal text in a (for parameters). */
const char *db_i64_text(struct arena *a, int64_t n);

#endif
