/*
 * migrate.h - `soukctl migrate DOMAIN STEP`: the live-migration playbook
 * (docs/migration.md, DESIGN.md §9). migrate.c holds the step table (which
 * step may follow which) and the dispatch; migrate_state.c the state table
 * (the only SQL on the `migrate` database); migrate_steps.c what each step
 * does; migrate_cutover.c the fenced cutover and the rollback; migrate_ops.c
 * the outside world the steps drive (the gateway's admin API, the sync
 * processes under scripts/supervise.sh, their /metrics); migrate_verify.c
 * the comparison of both sides through the domain's mapping (migrate/map).
 */
#ifndef SOUKCTL_MIGRATE_H
#define SOUKCTL_MIGRATE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "db.h"
#include "httpc.h"
#include "soukctl.h"

struct map_domain;

#define MIG_MAX_ROUTES 4

/* The playbook's view of a domain (its table mapping is migrate/map's). */
struct mig_domain {
    const char *name;                   /* "reviews": also its soukctl target and map */
    const char *routes[MIG_MAX_ROUTES]; /* the gateway routes it moves (and holds), NULL-ended */
    const char *sync_listen;            /* default address of its souk-sync's /metrics */
    const char *reverse_listen;         /* ... and of its reverse sync's */
};

/* The steps, in playbook order; a bit each in struct mig_step.from. */
enum mig_stepno {
    MIG_NONE,
    MIG_BACKFILL,
    MIG_SYNC,
    MIG_VERIFY,
    MIG_SHADOW,
    MIG_CANARY,
    MIG_CUTOVER,
    MIG_REVERSE,
    MIG_FINISH,
    MIG_ROLLBACK,
    MIG_NSTEPS,
};

/* One run of `soukctl migrate DOMAIN STEP`. */
struct mig {
    struct ctl              *ctl;
    struct arena            *a;
    const struct mig_domain *d;
    struct db               *state; /* the migrate database */
    struct httpc            *hc;
    const char              *who;      /* $USER, or "unknown" */
    const char              *gw_admin; /* SOUK_GATEWAY_ADMIN_LISTEN */
    const char              *gw_auth;  /* "Bearer " SOUK_GATEWAY_ADMIN_TOKEN */
    const char              *var;      /* SOUK_VAR_DIR: supervise.sh's run/ and log/ */
    int                      timeout_ms;
    int                      canary_percent; /* canary N */
    struct buf               detail;         /* what the step did, for the log row */
    int64_t                  hold_ms;        /* cutover: -1 = none */
    enum mig_stepno          prev;           /* the domain's step before this run */
    int                      quiet;          /* verify prints nothing (a wait loop) */
};

/* The state row of one domain, as read (strings in the arena). */
struct mig_state {
    const char *domain, *step, *status, *detail, *updated_by, *updated_at;
    const char *sync_listen, *reverse_listen, *verify_at, *verify_detail, *marker_token;
    const char *start_gtid;     /* where souk-sync starts: the binlog just before the backfill */
    const char *done_step;      /* the last step that finished: where the playbook stands */
    int         verify_ok;      /* -1 never verified */
    int         canary_percent; /* -1 none */
    int64_t     hold_ms;        /* -1 none */
};

typedef int mig_step_fn(struct mig *m, int argc, char **argv);

/* migrate.c */
/* What the step did so far, without the trailing "; " (in m->a). */
const char                    *mig_detail(struct mig *m);
extern const struct mig_domain mig_domains[];
const char                    *mig_step_name(enum mig_stepno s);
enum mig_stepno                mig_step_of(const char *name);

/* migrate_state.c: every call prints its own failure. */
MUST_CHECK int mig_state_get(struct mig *m, const char *domain, struct mig_state *out, int *found);
MUST_CHECK int mig_state_all(struct mig *m, struct mig_state **out, size_t *n);
/* Record step's outcome ("started", "done", "failed") in the log, and in the
 * domain's row unless keep_step (a verify run later in the playbook). */
MUST_CHECK int mig_state_record(struct mig *m, const char *step, const char *outcome,
                                const char *detail, int64_t duration_ms, int keep_step);
MUST_CHECK int mig_state_set(struct mig *m, const char *column, const char *value);
MUST_CHECK int mig_state_verified(struct mig *m, int ok, const char *detail);
/* The last n log rows of domain (NULL: every domain), oldest first, as lines. */
MUST_CHECK int mig_state_log(struct mig *m, const char *domain, int n, struct buf *out);

/* migrate_ops.c: the domain's record, with its last log lines, sent to the
 * gateway's admin API (PUT /migration/{domain}) for the control room. Best
 * effort: a failure is one line on stderr, never the step's. */
void mig_report(struct mig *m, const struct mig_state *s);
void mig_report_domain(struct mig *m); /* m->d's */

/* migrate_ops.c */
/* PATCH /routes on the gateway with changes ({"reviews": {...}}), stolen;
 * *held_ms (may be NULL) gets the longest hold the change ended, or -1. */
MUST_CHECK int mig_gateway_patch(struct mig *m, json_t *changes, int64_t *held_ms);
/* Once the domain's routes are held: wait until the gateway has no write of
 * theirs in flight (GET /holds), so none sent before the hold lands after
 * it. ERR_TIMEOUT after timeout_s. */
MUST_CHECK int mig_gateway_drained(struct mig *m, double timeout_s);
/* Every route of the domain to mode (percent >= 0: canary_percent), hold
 * unchanged. */
MUST_CHECK int mig_routes_mode(struct mig *m, const char *mode, int percent);
/* Start (1) or stop (0) the domain's forward (reverse 0) or reverse sync
 * under scripts/supervise.sh; starting one that runs is a no-op. */
MUST_CHECK int mig_sync_run(struct mig *m, int reverse, int start);
/* Unbind the domain's reverse queue: nothing the service publishes from now
 * on reaches it (rollback, while the writes are still held). */
MUST_CHECK int mig_reverse_fence(struct mig *m);
/* After a failure past the fence: a running reverse sync is restarted, and
 * its consumer declares its queue's bindings again, so the domain is as it
 * was (a later cutover would otherwise find it running, unbound). */
void mig_reverse_rebind(struct mig *m);
/* End the domain's reverse sync for good (rollback; a cutover that gave up):
 * unbind its queue (mig_reverse_fence); with drain, while the reverse sync
 * runs, let it write back what the queue still holds (at most timeout_s,
 * else ERR_TIMEOUT); stop it; delete the queue, so the next cutover's
 * reverse sync starts from a fresh one. A failure before the stop leaves a
 * running reverse sync running and bound again. */
MUST_CHECK int mig_reverse_end(struct mig *m, int drain, double timeout_s);
/* Write a marker row into the monolith and wait (at most timeout_s, else
 * ERR_TIMEOUT) until souk-sync applied it: then the service has every change
 * the monolith committed before this call. For the cutover (cutover 1) the
 * token is recorded in the state row, a failure is said, the wait goes into
 * m->detail; verify's re-check (0) fences quietly. */
MUST_CHECK int mig_marker_through(struct mig *m, double timeout_s, int cutover);
/* 1 when the domain's forward (reverse 0) or reverse sync runs under its supervisor. */
int mig_sync_running(struct mig *m, int reverse);
/* The address a sync listens on (state row, else SOUK_SYNC_<DOMAIN>_LISTEN, else default). */
const char *mig_sync_listen(struct mig *m, int reverse);
/* Wait until a sync answers GET /health, the reverse sync GET /ready (it
 * consumes: its queue is bound), at most timeout_s seconds. */
MUST_CHECK int mig_sync_wait_up(struct mig *m, int reverse, double timeout_s);
/* A sync's /metrics value called name (first sample), or ERR_UNAVAILABLE. */
MUST_CHECK int mig_sync_metric(struct mig *m, const char *listen, const char *name, double *out);

/* migrate_verify.c: compare both sides; *ok when they agree; the differing
 * ids go to stdout and a summary to m->detail. */
MUST_CHECK int mig_verify(struct mig *m, const struct map_domain *map, int range, int *ok);
/* Where "changed since" starts: *since marks souk-sync's record of touched
 * keys (migrate/sync/position.h) before a full verify begins. */
MUST_CHECK int mig_verify_mark(struct mig *m, int64_t *since);
/* mig_verify over only the keys souk-sync touched after since. */
MUST_CHECK int mig_verify_changed(struct mig *m, const struct map_domain *map, int64_t since,
                                  int *ok);

/* The steps: migrate_steps.c, migrate_cutover.c. */
mig_step_fn mig_backfill, mig_sync, mig_verify_step, mig_shadow, mig_canary, mig_reverse,
    mig_finish, mig_cutover, mig_rollback;
/* soukctl migrate status [DOMAIN] [--log N] (migrate_steps.c) */
int mig_status(struct mig *m, int argc, char **argv);
/* Its table: every domain's (only's, when not NULL) step, last run, syncs'
 * lag, last verify, hold; to out (soukctl status shows it too). */
MUST_CHECK int mig_status_table(struct mig *m, const char *only, FILE *out);

/* migrate.c: one run's context (the migrate database, the gateway's admin
 * API, the sync processes' var dir), from the environment; mig_close frees. */
MUST_CHECK int mig_open(struct mig *m, struct ctl *ctl);
void           mig_close(struct mig *m);

#endif
