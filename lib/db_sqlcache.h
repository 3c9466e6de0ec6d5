/*
 * db_sqlcache.h - private to db.c: the ad-hoc SQL of db_exec_sql prepared on
 * its first use in a session and executed by name after that, so a text the
 * backbone and the saga run thousands of times (the inbox insert, the outbox
 * insert, the relay's batch) is parsed and planned once per connection, not
 * once per call. Keyed by the whole text: SQL built at run time is as safe
 * as a constant, it only takes a slot. Bounded; past the bound a text runs
 * unnamed as before.
 */
#ifndef SOUK_DB_SQLCACHE_H
#define SOUK_DB_SQLCACHE_H

#include <libpq-fe.h>

#define SQLCACHE_SLOTS 256 /* prepared texts per connection; a power of two */

struct sqlcache;

struct sqlcache *sqlcache_new(void);
void             sqlcache_free(struct sqlcache *c);
/* Forget every entry: the session that held them is gone. */
void sqlcache_reset(struct sqlcache *c);
/* The statement name of sql in conn's session, prepared now if it is new:
 * "q<n>". NULL when it cannot be cached (no room): run it unnamed. A failed
 * prepare is returned in *fail (the caller reports it as the call's error:
 * the text would fail the same way unnamed) and nothing is cached. */
const char *sqlcache_name(struct sqlcache *c, PGconn *conn, const char *sql, int nparams,
                          PGresult **fail);
/* Drop sql's entry (its plan went stale: "cached plan must not change
 * result type" after a table changed); the next call prepares it again. */
void sqlcache_forget(struct sqlcache *c, PGconn *conn, const char *sql);

#endif
