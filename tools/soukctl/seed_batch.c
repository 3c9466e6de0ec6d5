/*
 * seed_batch.c - bulk loading with multi-row INSERTs: rows are buffered and
 * sent s->batch at a time as one prepared statement with '?' for every
 * value (no quoting anywhere), committing every SEED_COMMIT_ROWS rows so
 * undo logs stay small. One batch per table; several may be open at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "soukctl.h"

#define SEED_COMMIT_ROWS 50000

/* "head (?,?,?),(?,?,?)..." for nrows rows of ncols: only the placeholder
 * list is generated, never a value. */
static char *
values_sql(const char *head, size_t ncols, size_t nrows)
{
    struct buf b;
    size_t     i, j;
    char      *sql;

    buf_init(&b, (size_t)64 << 20);
    buf_puts(&b, head);
    for (i = 0; i < nrows; i++) {
        buf_puts(&b, i ? ",(" : "(");
        for (j = 0; j < ncols; j++)
            buf_puts(&b, j ? ",?" : "?");
        buf_putc(&b, ')');
    }
    if (buf_error(&b) != ERR_OK)
        abort(); /* 5000 rows of a few columns is far below the bound */
    sql = buf_take(&b, NULL);
    return sql;
}

void
batch_open(struct batch *b, struct seed *s, const char *table, const char *head, size_t ncols)
{
    memset(b, 0, sizeof(*b));
    b->s = s;
    b->table = table;
    b->head = head;
    b->ncols = ncols;
    b->args = calloc(s->batch * ncols, sizeof(*b->args));
    if (b->args == NULL)
        abort();
    b->a = arena_create();
    b->full = values_sql(head, ncols, s->batch);
}

int
batch_flush(struct batch *b)
{
    struct seed *s = b->s;
    char        *sql = b->full;
    int          rc;

    if (b->nrows == 0)
        return ERR_OK;
    if (b->nrows < s->batch)
        sql = values_sql(b->head, b->ncols, b->nrows);
    rc = mdb_exec(s->db, sql, b->args, b->nrows * b->ncols, NULL, NULL);
    if (sql != b->full)
        free(sql);
    if (rc) {
        common_fail("loading %s failed (see the log line above)", b->table);
        return rc;
    }
    b->total += b->nrows;
    s->rows += b->nrows;
    s->uncommitted += b->nrows;
    b->nrows = 0;
    arena_reset(b->a);
    if (s->uncommitted < SEED_COMMIT_ROWS)
        return ERR_OK;
    s->uncommitted = 0;
    rc = mdb_commit(s->db);
    if (rc == ERR_OK)
        rc = mdb_begin(s->db);
    return rc;
}

int
batch_row(struct batch *b, const struct mdb_arg *row)
{
    struct mdb_arg *dst = &b->args[b->nrows * b->ncols];
    size_t          j;

    for (j = 0; j < b->ncols; j++) {
        dst[j] = row[j];
        if (row[j].type == MDB_ARG_STR)
            dst[j].s = arena_strndup(b->a, row[j].s, row[j].len);
    }
    b->nrows++;
    return b->nrows == b->s->batch ? batch_flush(b) : ERR_OK;
}

/* Releases the memory; call batch_flush first to keep the buffered rows. */
void
batch_close(struct batch *b)
{
    if (b->a != NULL && b->total > 0)
        fprintf(stderr, "seed: %-18s %9llu rows\n", b->table, (unsigned long long)b->total);
    free(b->args);
    free(b->full);
    arena_destroy(b->a);
    memset(b, 0, sizeof(*b));
}
