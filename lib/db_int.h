/*
 * db_int.h - private to lib/db*.c: the handle behind db.h and the calls the
 * other db files share with db.c (connect, disconnect, error mapping).
 */
#ifndef SOUK_DB_INT_H
#define SOUK_DB_INT_H

#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"

struct sqlcache;

struct db {
    char                 *url;
    const struct db_stmt *stmts;
    int                   nstmts;
    PGconn               *conn;
    int                   in_tx;    /* between db_begin and db_commit/db_rollback */
    uint64_t              session;  /* connections made so far (db_session) */
    struct sqlcache      *cache;    /* db_exec_sql's texts prepared in this session */
    int64_t               affected; /* of the last call */
    int                   copying;  /* between db_copy_begin and db_copy_end */
};

/* Open db->conn and prepare the statement table: ERR_OK or ERR_UNAVAILABLE. */
int  db_connect(struct db *db);
void db_disconnect(struct db *db);
/* Map a failed result (res may be NULL) to an ERR_ code, logging it with
 * what was running; *lost when the connection must be re-opened. */
int db_fail(struct db *db, const PGresult *res, const char *what, int *lost);

#endif
