/*
 * migrate_steps.c - the playbook's plain steps (the fenced cutover and the
 * rollback are migrate_cutover.c's) and `soukctl migrate status`. Each step
 * is safe to run again: a backfill skips rows the service has, starting a
 * sync that runs is a no-op, a gateway PATCH to the mode a route has
 * changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "migrate.h"
#include "migrate/map/map.h"
#include "str.h"

/* What souk-sync reports on /metrics (migrate/sync). */
#define LAG_EVENTS  "souk_sync_lag_events"
#define LAG_SECONDS "souk_sync_lag_seconds"

/* The monolith's binlog position now: the sync starts there, before the
 * backfill's snapshot, so no write falls between the two (a change the
 * backfill copied already is applied again, idempotently: map.h). */
static int
binlog_position(struct mig *m, const char **gtid)
{
    struct mdb      *mono = mdb_new(m->ctl->cfg.monolith_db);
    struct mdb_rows *rs;
    int              rc;

    rc = mono != NULL ? mdb_query(mono, m->a, "SELECT @@gtid_binlog_pos", NULL, 0, &rs)
                      : ERR_UNAVAILABLE;
    if (!rc)
        *gtid = rs->nrows > 0 && mdb_get(rs, 0, 0) != NULL ? mdb_get(rs, 0, 0) : "";
    else
        common_fail("%s backfill: cannot read the monolith's binlog position", m->d->name);
    mdb_free(mono);
    return rc;
}

int
mig_backfill(struct mig *m, int argc, char **argv)
{
    char            *args[] = {"backfill", (char *)m->d->name, NULL};
    struct mig_state s;
    const char      *gtid;
    int              found, rc;

    (void)argc;
    (void)argv;
    rc = mig_state_get(m, m->d->name, &s, &found);
    if (!rc && (s.start_gtid == NULL || *s.start_gtid == '\0')) { /* a re-run keeps the first */
        rc = binlog_position(m, &gtid);
        if (!rc)
            rc = mig_state_set(m, "start_gtid", gtid);
        if (!rc)
            buf_printf(&m->detail, "sync will start at %s; ", gtid);
    }
    if (rc)
        return rc;
    fflush(stdout);
    return backfill_main(m->ctl, 2, args) == CTL_EXIT_OK ? ERR_OK : ERR_INTERNAL;
}

int
mig_sync(struct mig *m, int argc, char **argv)
{
    int rc;

    (void)argc;
    (void)argv;
    rc = mig_sync_run(m, 0, 1);
    return rc ? rc : mig_sync_wait_up(m, 0, 10);
}

int
mig_verify_step(struct mig *m, int argc, char **argv)
{
    static const struct option opts[] = {{"range", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    int64_t                    range = 1000;
    int                        c, ok = 0, rc;

    optind = 1;
    for (c = getopt_long(argc, argv, "", opts, NULL); c != -1;
         c = getopt_long(argc, argv, "", opts, NULL)) {
        if (c != 'r' || common_int_opt("--range", optarg, 1, 1000000000, &range))
            return ERR_INVALID;
    }
    rc = mig_verify(m, map_find(m->d->name), (int)range, &ok);
    if (rc)
        return rc;
    rc = mig_state_verified(m, ok, mig_detail(m));
    if (!rc && !ok) {
        common_fail("verify %s: the sides differ (listed above)", m->d->name);
        return ERR_CONFLICT;
    }
    return rc;
}

int
mig_shadow(struct mig *m, int argc, char **argv)
{
    struct mig_state s;
    int              found, rc;

    (void)argc;
    (void)argv;
    rc = mig_state_get(m, m->d->name, &s, &found);
    if (rc)
        return rc;
    if (s.verify_ok != 1) {
        common_fail("%s shadow: the last verify %s; run soukctl migrate %s verify", m->d->name,
                    s.verify_ok == 0 ? "found differences" : "never ran", m->d->name);
        return ERR_CONFLICT;
    }
    return mig_routes_mode(m, "shadow", -1);
}

int
mig_canary(struct mig *m, int argc, char **argv)
{
    int64_t pct;

    if (argc != 2 || common_int_opt("PERCENT", argv[1], 0, 100, &pct)) {
        common_fail("usage: soukctl migrate %s canary PERCENT (0..100)", m->d->name);
        return ERR_INVALID;
    }
    m->canary_percent = (int)pct;
    buf_printf(&m->detail, "%lld %% of reads to the service", (long long)pct);
    return mig_routes_mode(m, "canary", (int)pct);
}

int
mig_reverse(struct mig *m, int argc, char **argv)
{
    int rc;

    (void)argc;
    (void)argv;
    rc = mig_sync_run(m, 1, 1);
    return rc ? rc : mig_sync_wait_up(m, 1, 10);
}

int
mig_finish(struct mig *m, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* The reverse sync stays: the monolith's remaining features read these
     * tables until they move too. */
    return mig_sync_run(m, 0, 0);
}

/* ---- status ---------------------------------------------------------------------------- */

/* A sync's lag from its /metrics; "up" for one that has no lag to report
 * (the reverse sync: its backlog is a broker queue), "down" when it does
 * not answer. */
static const char *
lag_text(struct mig *m, const char *listen)
{
    struct httpc_resp *res;
    double             ev, s;

    if (listen == NULL)
        return "-";
    if (!mig_sync_metric(m, listen, LAG_EVENTS, &ev) &&
        !mig_sync_metric(m, listen, LAG_SECONDS, &s))
        return arena_printf(m->a, "%.0f ev %.1f s", ev, s);
    if (httpc_get(m->hc, m->a, arena_printf(m->a, "http://%s/health", listen), m->timeout_ms,
                  &res) == ERR_OK &&
        res->status == 200)
        return "up";
    return arena_printf(m->a, "down (%s)", listen);
}

int
mig_status_table(struct mig *m, const char *only, FILE *out)
{
    struct mig_state *rows;
    size_t            n, i;
    int               rc;

    rc = mig_state_all(m, &rows, &n);
    if (rc)
        return rc;
    fprintf(out, "%-8s %-10s %-17s %-9s %-20s %-16s %-16s %-28s %s\n", "DOMAIN", "STEP", "LAST RUN",
            "BY", "AT", "SYNC LAG", "REVERSE LAG", "LAST VERIFY", "HOLD");
    for (i = 0; i < n; i++) {
        if (only != NULL && strcmp(only, rows[i].domain) != 0)
            continue;
        fprintf(out, "%-8s %-10s %-17s %-9s %-20s %-16s %-16s %-28s %s\n", rows[i].domain,
                rows[i].canary_percent >= 0 && strcmp(rows[i].done_step, "canary") == 0
                    ? arena_printf(m->a, "canary %d", rows[i].canary_percent)
                    : rows[i].done_step,
                arena_printf(m->a, "%s %s", rows[i].step, rows[i].status), rows[i].updated_by,
                rows[i].updated_at, lag_text(m, rows[i].sync_listen),
                lag_text(m, rows[i].reverse_listen),
                rows[i].verify_ok < 0
                    ? "never"
                    : arena_printf(m->a, "%s %s", rows[i].verify_ok ? "agreed" : "DIFFERED",
                                   rows[i].verify_at),
                rows[i].hold_ms < 0 ? "-"
                                    : arena_printf(m->a, "%lld ms", (long long)rows[i].hold_ms));
        if (rows[i].verify_detail != NULL && *rows[i].verify_detail != '\0')
            fprintf(out, "         verify: %s\n", rows[i].verify_detail);
        mig_report(m,
                   &rows[i]); /* status refreshes the control room's copy (a restarted gateway) */
    }
    if (n == 0)
        fprintf(out, "(no migration started yet: soukctl migrate DOMAIN backfill)\n");
    return ERR_OK;
}

int
mig_status(struct mig *m, int argc, char **argv)
{
    static const struct option opts[] = {{"log", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    struct buf                 log;
    const char                *only;
    int64_t                    nlog = 10;
    int                        c, rc;

    optind = 1;
    for (c = getopt_long(argc, argv, "", opts, NULL); c != -1;
         c = getopt_long(argc, argv, "", opts, NULL)) {
        if (c != 'l' || common_int_opt("--log", optarg, 0, 10000, &nlog))
            return ERR_INVALID;
    }
    only = optind < argc ? argv[optind] : NULL;
    rc = mig_status_table(m, only, stdout);
    if (rc || nlog == 0)
        return rc;
    buf_init(&log, 1 << 20);
    rc = mig_state_log(m, only, (int)nlog, &log);
    if (!rc && buf_len(&log) > 0)
        printf("\nwho ran what when (last %lld):\n%s", (long long)nlog, buf_data(&log));
    buf_free(&log);
    return rc;
}
