/*
 * sweep.h - a service's periodic jobs (sweepers: holds past their TTL,
 * orders past their deadline). Each job runs on a thread of its own with its
 * own PostgreSQL handle (the service's statement table prepared), every
 * every_ms and at once again while it says there is more, each round with a
 * fresh arena, like a request or a message. service_run starts them with
 * the backbone and stops them before it (service_spec.sweeps).
 */
#ifndef SOUK_SWEEP_H
#define SOUK_SWEEP_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "work.h"

struct sweep;

/* One round: w has the round's arena and the job's database handle (outside
 * any transaction; the job opens its own), trace_id NULL, ext the job's
 * ctx. Set *more to 1 to run again at once (a batch limit was hit). A code
 * other than ERR_OK is logged by the job itself; the next round comes after
 * the usual interval. */
typedef int sweep_fn(struct work *w, int *more);

struct sweep_spec {
    const char *name; /* log tag: "hold sweeper"; NULL ends a table */
    sweep_fn   *fn;
    int64_t     every_ms; /* pause between rounds */
    void       *ctx;      /* w->ext */
};

/* Start one thread per row of specs (until name NULL) on database url with
 * stmts prepared. ERR_INTERNAL if a thread cannot start (nothing is left
 * running then). *out NULL for an empty table. */
MUST_CHECK int sweep_start(struct sweep **out, const struct sweep_spec *specs, const char *url,
                           const struct db_stmt *stmts);
/* Stop after the round in hand and free everything. NULL is a no-op. */
void sweep_stop(struct sweep *s);

#endif
