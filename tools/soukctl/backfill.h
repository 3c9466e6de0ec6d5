/*
 * backfill.h - `soukctl backfill TARGET`: the bulk copy of the migration
 * playbook (DESIGN.md §5). backfill.c holds the one copy loop (snapshot,
 * keyset pages, progress, summary); each target is data in its own file
 * (backfill_catalog.c, backfill_users.c, backfill_reviews.c): the tables it
 * copies, each one monolith query and one statement on the target's
 * PostgreSQL database that writes a page.
 */
#ifndef SOUKCTL_BACKFILL_H
#define SOUKCTL_BACKFILL_H

#include <jansson.h>

#include "db.h"
#include "soukctl.h"

/* Tables per target at most (counters live in struct backfill). */
#define BACKFILL_MAX_TABLES 8

struct backfill;
struct backfill_table;

/* Copy one page of t: the rows after key *after (at most b->batch), read from
 * the monolith, written to the target. Moves *after to the page's last key;
 * *n = 0 at the end. Returns ERR_OK or the driver's code (already logged). */
typedef int backfill_page_fn(struct backfill *b, const struct backfill_table *t, struct arena *a,
                             int64_t *after, size_t *n);

struct backfill_table {
    const char *what;      /* "products": progress and summary; NULL ends a target's list */
    const char *count_sql; /* monolith: how many rows there are to copy */
    /* Monolith: two parameters, the key to start after and the page size;
     * column 0 is the key (a positive integer, ascending). */
    const char *read_sql;
    /* Target: $1 is the page as a JSON array with one array per row, the
     * read_sql columns as strings (null for NULL), so r->>0 is the key. */
    const char       *write_sql;
    backfill_page_fn *page;  /* NULL: backfill_rows_page */
    int               whole; /* 1: everything in one page (rows refer to each other) */
};

struct backfill_target {
    const char *name;          /* "catalog": also its ctl_target (the dsn) */
    const char *nonempty_sql;  /* target: one boolean, true when --if-empty has nothing to do */
    const char *nonempty_what; /* "products": "catalog already has products" */
    const struct backfill_table *tables;     /* in copy order */
    const char                  *finish_sql; /* target, after every table (aggregates) */
    /* Tables whose ids the service allocates from a sequence on column id,
     * named alike on both sides; after the copy each sequence is moved to
     * the migration's identity scheme (backfill_ident.c). NULL-terminated. */
    const char *const *ident;
};

/* One run: the connections, the page size and the counters. */
struct backfill {
    const struct backfill_target *t;
    struct mdb                   *mono;
    struct db                    *dst;
    int64_t                       batch;
    size_t                        table; /* index of the table being copied */
    int64_t                       total; /* rows of that table */
    int64_t                       done[BACKFILL_MAX_TABLES];
    double                        t0, last_progress;
};

/* The default page: read_sql's rows as arrays of strings into write_sql. */
MUST_CHECK int backfill_rows_page(struct backfill *b, const struct backfill_table *t,
                                  struct arena *a, int64_t *after, size_t *n);
/* Run sql on the target with rows (stolen) dumped as its $1. */
MUST_CHECK int backfill_write(struct backfill *b, struct arena *a, const char *sql, json_t *rows);

/* The identity scheme (migrate/README.md "Identity"): refuses (ERR_INVALID,
 * with a message) a monolith whose MariaDB does not allocate odd ids, then
 * moves each of t->ident's sequences on b->dst to INCREMENT BY 2 and the
 * first even number above every id either side has allocated or reserved. */
MUST_CHECK int backfill_ident(struct backfill *b, struct arena *a);

extern const struct backfill_target backfill_catalog, backfill_users, backfill_reviews;

#endif
