/*
 * db_copy.c - bulk loading with COPY ... FROM STDIN (text format), the
 * fastest way into PostgreSQL: one statement streams any number of rows,
 * with none of the per-row round trips or parsing of INSERTs. For tools
 * (soukctl backfill), not for request paths.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "db_int.h"
#include "log.h"

int
db_copy_begin(struct db *db, const char *sql)
{
    PGresult *res;
    int       rc, lost;

    if (db->conn == NULL) {
        rc = db_connect(db);
        if (rc)
            return rc;
    }
    res = PQexec(db->conn, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        rc = db_fail(db, res, "copy", &lost);
        PQclear(res);
        if (lost)
            db_disconnect(db);
        return rc ? rc : ERR_INTERNAL;
    }
    PQclear(res);
    db->copying = 1;
    return ERR_OK;
}

int
db_copy_put(struct db *db, const char *p, size_t n)
{
    if (!db->copying || db->conn == NULL)
        return ERR_INTERNAL;
    while (n > 0) {
        int chunk = n > (1 << 30) ? (1 << 30) : (int)n;

        if (PQputCopyData(db->conn, p, chunk) != 1) {
            log_error("postgresql copy: %s", PQerrorMessage(db->conn));
            return ERR_UNAVAILABLE;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return ERR_OK;
}

int
db_copy_end(struct db *db, const char *error, int64_t *rows)
{
    PGresult *res;
    int       rc = ERR_OK, lost;

    if (!db->copying || db->conn == NULL)
        return ERR_INTERNAL;
    db->copying = 0;
    if (PQputCopyEnd(db->conn, error) != 1) {
        log_error("postgresql copy end: %s", PQerrorMessage(db->conn));
        return ERR_UNAVAILABLE;
    }
    /* One result for the COPY, then NULL; drain them all. */
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (rc == ERR_OK && error == NULL)
                rc = db_fail(db, res, "copy", &lost);
            else if (rc == ERR_OK)
                rc = ERR_INTERNAL; /* the abort the caller asked for */
        } else if (rows != NULL) {
            *rows = strtoll(PQcmdTuples(res), NULL, 10);
        }
        PQclear(res);
    }
    return rc;
}

void
db_copy_text(struct buf *b, const char *z)
{
    const char *p;

    if (z == NULL) {
        buf_append(b, "\\N", 2);
        return;
    }
    /* Text format: backslash, tab, newline and carriage return are escaped. */
    for (p = z; *p != '\0'; p++) {
        switch (*p) {
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        default:
            buf_putc(b, *p);
        }
    }
}
