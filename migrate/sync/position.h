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
 *
 * sync_touched, in the same database and transaction: the keys each applied
 * change touched, as the domain's verify names them (map.h struct
 * map_touch), so a cutover verifies only what changed since its full verify
 * began (tools/soukctl/migrate_cutover.c):
 *   seq bigserial PRIMARY KEY (one writer, souk-sync: commit order)
 *   domain text, entity text, key bigint, gtid text, at timestamptz
 * Rows older than the newest cutover's mark are deleted by that mark.
 */
#ifndef SOUK_SYNC_POSITION_H
#define SOUK_SYNC_POSITION_H

#include <stddef.h>
#include <stdint.h>

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

/* Inside the caller's transaction: the change at gtid touched keys[i] of
 * entity whats[i] (n of them). */
MUST_CHECK int position_touched(struct db *db, struct arena *a, const char *domain,
                                const char *gtid, const char *const *whats, const char *const *keys,
                                size_t n);

/* A cutover's starting mark: *seq the newest touched row of domain (0:
 * none); rows before it are deleted (a later cutover verifies everything
 * again first). */
MUST_CHECK int position_touched_mark(struct db *db, struct arena *a, const char *domain,
                                     int64_t *seq);

/* The distinct keys of entity what that domain's changes after seq touched,
 * ascending: *keys (in a) and *n. */
MUST_CHECK int position_touched_since(struct db *db, struct arena *a, const char *domain,
                                      const char *what, int64_t seq, int64_t **keys, size_t *n);

#endif
