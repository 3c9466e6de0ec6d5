/*
 * position.h - sync_position, the forward sync's place in the monolith's
 * binlog, kept in the service's own database so it commits in the same
 * transaction as the changes it covers (a crash loses or repeats nothing).
 * One row per domain:
 *   domain     text PRIMARY KEY  ("reviews")
 *   gtid       text NOT NULL     (@@gtid_binlog_pos form: "D-S-N[,D-S-N]"; "" = the beginning)
 *   marker     text NULL         (token of the newest cutover marker applied)
 *   marker_at  timestamptz NULL  (when that marker was applied)
 *   updated_at timestamptz NOT NULL
 * The backfill writes the first row (the GTID of its snapshot); souk-sync
 * moves it with every transaction it applies.
 */
#ifndef SOUK_SYNC_POSITION_H
#define SOUK_SYNC_POSITION_H

#include "err.h"

struct arena;
struct db;

/* Create sync_position when it does not exist (idempotent DDL). */
MUST_CHECK int position_init(struct db *db, struct arena *a);

/* domain's row: *gtid and *marker in a (NULL when absent: no row, or no
 * marker applied yet). */
MUST_CHECK int position_read(struct db *db, struct arena *a, const char *domain, char **gtid,
                             char **marker);

/* Inside the caller's transaction: domain is at gtid; marker, when not
 * NULL, is the newest cutover marker applied. */
MUST_CHECK int position_save(struct db *db, struct arena *a, const char *domain, const char *gtid,
                             const char *marker);

/* The starting point of a stream that has none yet (the backfill's snapshot):
 * a no-op when domain already has a row, so a running sync keeps its place. */
MUST_CHECK int position_start(struct db *db, struct arena *a, const char *domain, const char *gtid);

#endif
