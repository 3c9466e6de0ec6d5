/*
 * cdc.h - change capture from the monolith's MariaDB binlog (issue #14). A
 * struct cdc is one replication connection (COM_BINLOG_DUMP from a GTID) that
 * hands out whole transactions of row changes to the tables it captures,
 * every value already in the canonical text of migrate/README.md. The
 * connector's replication API stays inside migrate/cdc/cdc.c; the decoding of
 * TABLE_MAP metadata and row images is ours (cdc_decode.h), because the
 * connector's is wrong for CHAR, ENUM and signed integers.
 */
#ifndef SOUK_CDC_H
#define SOUK_CDC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;
struct cdc;

enum cdc_op { CDC_INSERT, CDC_UPDATE, CDC_DELETE };

/* One row change. Values are canonical text (migrate/README.md); a NULL
 * pointer is SQL NULL. names[i] belongs to before[i] and after[i]. */
struct cdc_change {
    const char        *table; /* "reviews" (the dsn's database is implied) */
    enum cdc_op        op;
    size_t             ncols;
    const char *const *names;
    const char *const *before; /* NULL for CDC_INSERT */
    const char *const *after;  /* NULL for CDC_DELETE */
};

#define CDC_GTID_MAX 64 /* "4294967295-4294967295-18446744073709551615" fits */

/* One committed transaction (GTID ... XID/COMMIT) with its changes to the
 * captured tables, in binlog order. A transaction that touched no captured
 * table is still handed out (n = 0), so the position always moves. */
struct cdc_txn {
    char               gtid[CDC_GTID_MAX]; /* "D-S-N" */
    int64_t            ts;                 /* commit time, unix seconds (the event header's) */
    int                skip_replication;   /* written with SET SESSION skip_replication=1 */
    size_t             n;
    struct cdc_change *changes;
};

struct cdc_config {
    const char        *dsn;    /* mysql://user:pass@host:port/db: needs REPLICATION SLAVE */
    const char *const *tables; /* tables of dsn's database to capture, NULL-terminated */
    const char        *gtid;   /* start after this GTID position ("D-S-N[,...]"); "": the
                                  binlog's beginning; NULL: the server's current
                                  @@gtid_binlog_pos */
    uint32_t server_id;        /* this replica's id, unique among the server's replicas */
    int      heartbeat_ms;     /* idle wake-up for cdc_next (lag, shutdown); 0 = 1000 */
};

/* A reader for c (copied; the strings must outlive it). Does not connect.
 * NULL only for a malformed dsn. Free with cdc_free. */
struct cdc *cdc_new(const struct cdc_config *c);
void        cdc_free(struct cdc *c);

/* Connect and start the binlog dump at the configured GTID (or, after a
 * cdc_next, after the last transaction it returned). ERR_UNAVAILABLE when
 * the server cannot be reached, ERR_INVALID when it is not set up for
 * capture (binlog_format, binlog_row_image, binlog_row_metadata, privileges;
 * cdc_error says which). */
MUST_CHECK int cdc_open(struct cdc *c);

/* The next transaction, allocated in a. Blocks until one commits or the
 * heartbeat passes: then ERR_TIMEOUT (nothing arrived; call again).
 * ERR_UNAVAILABLE: the connection is lost (cdc_open again to resume after
 * the last returned transaction). ERR_INVALID: the stream holds something
 * that cannot be captured safely — DML on a captured table as a statement
 * (binlog_format=STATEMENT in some session), a MINIMAL row image, a column
 * type we do not decode; cdc_error says what, and the reader stops there. */
MUST_CHECK int cdc_next(struct cdc *c, struct arena *a, struct cdc_txn **out);

/* The last error's description (never NULL, "" when none). */
const char *cdc_error(const struct cdc *c);

/* GTID of the last transaction cdc_next returned, or the start position
 * ("" when starting from the current position and none arrived yet). */
const char *cdc_position(const struct cdc *c);

/* The server's @@gtid_binlog_pos now, in a (for lag and for "start from
 * now"). ERR_UNAVAILABLE when it cannot be reached. */
MUST_CHECK int cdc_server_position(const char *dsn, struct arena *a, char **out);

/* Transactions of pos's domain between have and want ("D-S-N" positions of
 * one domain, as cdc_position and cdc_server_position give): the lag in
 * events. 0 when have is at or past want, or they differ in domain. */
int64_t cdc_gtid_behind(const char *have, const char *want);

#endif
