/*
 * mdb_stmt.c - prepared statements of one MariaDB connection: a cache keyed
 * by SQL text with least-recently-used eviction, parameter binding, and
 * fetching every result column as text into the caller's arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "arena.h"
#include "log.h"
#include "mdb.h"
#include "mdb_int.h"
#include "str.h"

/* ------------------------------------------------------- statement cache */

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void
mdb_stmt_drop(struct mdb *db, struct mdb_stmt *s)
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
        mdb_stmt_drop(db, old);
}

/* Close the connection first: Connector/C then only frees the statements
 * instead of sending COM_STMT_CLOSE down a socket that may be dead. */
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
        return mdb_conn_fail(db, "statement init", sql);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        int rc = mdb_stmt_fail(db, st, "prepare", sql);

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
int
mdb_stmt_run(struct mdb *db, struct mdb_call *c, MYSQL_STMT **out)
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
            rc = mdb_stmt_fail(db, st, "bind", c->sql);
            goto done;
        }
    }
    if (mysql_stmt_execute(st) != 0) {
        rc = mdb_stmt_fail(db, st, "execute", c->sql);
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
            return mdb_stmt_fail(db, st, "fetch column", NULL);
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

int
mdb_fetch_rows(struct mdb *db, MYSQL_STMT *st, struct mdb_call *c, struct mdb_rows *rs)
{
    MYSQL_RES   *meta;
    MYSQL_FIELD *f;
    MYSQL_BIND  *b;
    size_t       i;
    int          rc = ERR_OK, r;

    meta = mysql_stmt_result_metadata(st);
    if (meta == NULL)
        return mysql_stmt_errno(st) ? mdb_stmt_fail(db, st, "metadata", c->sql) : ERR_OK;
    if (mysql_stmt_store_result(st) != 0) {
        rc = mdb_stmt_fail(db, st, "store result", c->sql);
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
        rc = mdb_stmt_fail(db, st, "bind result", c->sql);
        goto done;
    }
    for (i = 0; i < rs->nrows; i++) {
        r = mysql_stmt_fetch(st);
        if (r != 0 && r != MYSQL_DATA_TRUNCATED) {
            rc = r == MYSQL_NO_DATA ? ERR_INTERNAL : mdb_stmt_fail(db, st, "fetch", c->sql);
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
