/*
 * db_sqlcache.c - see db_sqlcache.h. Open addressing on an FNV-1a hash of
 * the text; an entry owns a copy of its text and compares it in full.
 */
#include "db_sqlcache.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

struct slot {
    uint64_t hash;
    char    *sql; /* NULL: free */
    int      nparams;
    char     name[12];
};

struct sqlcache {
    struct slot slot[SQLCACHE_SLOTS];
    int         used, next_id;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct sqlcache *
sqlcache_new(void)
{
    return xcalloc(1, sizeof(struct sqlcache));
}

void
sqlcache_reset(struct sqlcache *c)
{
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < SQLCACHE_SLOTS; i++)
        xfree(c->slot[i].sql);
    memset(c, 0, sizeof(*c));
}

void
sqlcache_free(struct sqlcache *c)
{
    sqlcache_reset(c);
    xfree(c);
}

/* The slot of sql, or the free slot where it would go (NULL: full). */
static struct slot *
find(struct sqlcache *c, const char *sql, uint64_t h)
{
    unsigned i, at = (unsigned)h & (SQLCACHE_SLOTS - 1);

    for (i = 0; i < SQLCACHE_SLOTS; i++) {
        struct slot *s = &c->slot[(at + i) & (SQLCACHE_SLOTS - 1)];

        if (s->sql == NULL || (s->hash == h && strcmp(s->sql, sql) == 0))
            return s;
    }
    return NULL;
}

const char *
sqlcache_name(struct sqlcache *c, PGconn *conn, const char *sql, int nparams, PGresult **fail)
{
    uint64_t     h = fnv1a(sql);
    struct slot *s = find(c, sql, h);
    PGresult    *res;

    *fail = NULL;
    if (s != NULL && s->sql != NULL && s->nparams == nparams)
        return s->name;
    /* Kept at most three quarters full: probes stay short. */
    if (s == NULL || s->sql != NULL || c->used >= SQLCACHE_SLOTS * 3 / 4)
        return NULL;
    snprintf(s->name, sizeof(s->name), "q%d", c->next_id);
    res = PQprepare(conn, s->name, sql, nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *fail = res;
        return NULL;
    }
    PQclear(res);
    c->next_id++;
    c->used++;
    s->hash = h;
    s->nparams = nparams;
    s->sql = xstrdup(sql);
    return s->name;
}

void
sqlcache_forget(struct sqlcache *c, PGconn *conn, const char *sql)
{
    uint64_t     h = fnv1a(sql);
    struct slot *s = find(c, sql, h);
    char         cmd[32];

    if (s == NULL || s->sql == NULL)
        return;
    snprintf(cmd, sizeof(cmd), "DEALLOCATE %s", s->name);
    PQclear(PQexec(conn, cmd));
    /* The slot stays taken (open addressing cannot empty it without
     * breaking other probes): a tombstone that never matches. */
    s->hash = 0;
    s->sql[0] = '\0';
}
