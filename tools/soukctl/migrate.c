/*
 * migrate.c - `soukctl migrate DOMAIN STEP` and `soukctl migrate status`:
 * the playbook that moves a domain from the monolith to its service on a
 * live shop (docs/migration.md). The steps are a table: which step may
 * follow which (a step may always be run again: each is resumable), what it
 * does (migrate_steps.c, migrate_cutover.c) and its usage. Every run is
 * recorded in the state table (migrate_state.c): started, then done or
 * failed, with who ran it and for how long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "migrate.h"
#include "migrate/map/map.h"

#define BIT(s)     (1u << (s))
#define AFTER_SYNC (BIT(MIG_SYNC) | BIT(MIG_VERIFY) | BIT(MIG_SHADOW) | BIT(MIG_CANARY))
#define AFTER_FLIP (BIT(MIG_CUTOVER) | BIT(MIG_REVERSE) | BIT(MIG_FINISH))
#define ANY_STEP   0xffffffffu

static const char migrate_usage[] =
    "usage: soukctl migrate DOMAIN STEP [options]    (soukctl migrate DOMAIN STEP --help)\n"
    "       soukctl migrate status [DOMAIN] [--log N]\n"
    "\n"
    "Moves a domain from the monolith to its service while the shop runs\n"
    "(docs/migration.md). DOMAIN: reviews, catalog, users, cart. STEP, in order:\n"
    "\n";

const struct mig_domain mig_domains[] = {
    {"reviews", {"reviews", NULL}, "127.0.0.1:7121", "127.0.0.1:7131"},
    {"catalog", {"products", "categories", NULL}, "127.0.0.1:7122", "127.0.0.1:7132"},
    {"users", {"accounts", NULL}, "127.0.0.1:7123", "127.0.0.1:7133"},
    {"cart", {"cart", NULL}, "127.0.0.1:7124", "127.0.0.1:7134"},
    {NULL, {NULL}, NULL, NULL},
};

/* The state machine: a step runs when the domain's last step is in `from`
 * and finished (or is this very step: resume, repeat). keep: a verify run
 * later in the playbook records its result without moving the step back. */
static const struct mig_step {
    enum mig_stepno no;
    const char     *name;
    unsigned        from;
    mig_step_fn    *run;
    const char     *help;
} mig_steps[] = {
    {MIG_BACKFILL, "backfill", BIT(MIG_NONE) | BIT(MIG_ROLLBACK), mig_backfill,
     "copy the monolith's rows into the service (soukctl backfill DOMAIN)"},
    {MIG_SYNC, "sync", BIT(MIG_BACKFILL) | BIT(MIG_ROLLBACK), mig_sync,
     "start souk-sync --domain DOMAIN (change capture) under scripts/supervise.sh"},
    {MIG_VERIFY, "verify", AFTER_SYNC | AFTER_FLIP | BIT(MIG_ROLLBACK), mig_verify_step,
     "compare both sides: counts, checksums per key range, differing ids [--range N]"},
    {MIG_SHADOW, "shadow", BIT(MIG_VERIFY) | BIT(MIG_CANARY) | BIT(MIG_ROLLBACK), mig_shadow,
     "gateway: the domain's routes to shadow (needs a verify that agreed)"},
    {MIG_CANARY, "canary", BIT(MIG_SHADOW) | BIT(MIG_CANARY), mig_canary,
     "gateway: canary N, N % of the reads to the service"},
    {MIG_CUTOVER, "cutover", BIT(MIG_CANARY), mig_cutover,
     "fenced switch: verify all, hold writes, marker, sync to it, verify what changed, flip"},
    {MIG_REVERSE, "reverse", BIT(MIG_CUTOVER), mig_reverse,
     "(re)start the reverse sync (the service's writes into the monolith)"},
    {MIG_FINISH, "finish", BIT(MIG_CUTOVER) | BIT(MIG_REVERSE), mig_finish,
     "stop the forward sync: the service owns the domain"},
    {MIG_ROLLBACK, "rollback", ANY_STEP, mig_rollback,
     "from any step: routes back to legacy losing no write, reverse off, sync on"},
    {MIG_NONE, NULL, 0, NULL, NULL},
};

const char *
mig_step_name(enum mig_stepno s)
{
    const struct mig_step *st;

    for (st = mig_steps; st->name != NULL; st++)
        if (st->no == s)
            return st->name;
    return "none";
}

enum mig_stepno
mig_step_of(const char *name)
{
    const struct mig_step *st;

    for (st = mig_steps; name != NULL && st->name != NULL; st++)
        if (strcmp(st->name, name) == 0)
            return st->no;
    return MIG_NONE;
}

static void
usage(FILE *f)
{
    const struct mig_step *st;

    fputs(migrate_usage, f);
    for (st = mig_steps; st->name != NULL; st++)
        fprintf(f, "  %-9s %s\n", st->name, st->help);
    fputs("\nThe state (each domain's step, last verify, hold times, who ran what when)\n"
          "lives in SOUK_MIGRATE_DB (soukctl db create migrate && soukctl schema up\n"
          "migrate). The gateway: SOUK_GATEWAY_ADMIN_LISTEN (127.0.0.1:8081),\n"
          "SOUK_GATEWAY_ADMIN_TOKEN (souk-admin-dev). The sync processes run under\n"
          "scripts/supervise.sh with their pid files and logs in SOUK_VAR_DIR\n"
          "(<repo>/var, as make run); SOUK_SYNC_<DOMAIN>_LISTEN and\n"
          "SOUK_REVERSE_<DOMAIN>_LISTEN (127.0.0.1:7121.. and :7131..) for their /metrics.\n",
          f);
}

static const char *
env_or(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? v : def;
}

int
mig_open(struct mig *m, struct ctl *ctl)
{
    memset(m, 0, sizeof(*m));
    m->ctl = ctl;
    m->a = arena_create();
    m->who = env_or("USER", env_or("LOGNAME", "unknown"));
    m->gw_admin = env_or("SOUK_GATEWAY_ADMIN_LISTEN", "127.0.0.1:8081");
    m->gw_auth =
        arena_printf(m->a, "Bearer %s", env_or("SOUK_GATEWAY_ADMIN_TOKEN", "souk-admin-dev"));
    m->var = env_or("SOUK_VAR_DIR", arena_printf(m->a, "%s/var", ctl->root));
    m->timeout_ms = 5000;
    m->canary_percent = -1;
    m->hold_ms = -1;
    buf_init(&m->detail, 1 << 16);
    m->hc = httpc_new(8 << 20);
    m->state = db_new(ctl->cfg.migrate_db, NULL);
    return m->state != NULL ? ERR_OK : ERR_INTERNAL;
}

void
mig_close(struct mig *m)
{
    db_free(m->state);
    httpc_free(m->hc);
    buf_free(&m->detail);
    arena_destroy(m->a);
}

const char *
mig_detail(struct mig *m)
{
    size_t n = buf_len(&m->detail);

    while (n > 0 && (buf_data(&m->detail)[n - 1] == ';' || buf_data(&m->detail)[n - 1] == ' '))
        n--; /* each piece ends "; " */
    return n > 0 ? arena_strndup(m->a, buf_data(&m->detail), n) : "";
}

/* May st run now (the domain's last finished step is in its from set, or is
 * st itself: a repeat, or a resume after a failure)? Prints why not. */
static int
allowed(struct mig *m, const struct mig_step *st)
{
    struct mig_state s;
    enum mig_stepno  cur;
    int              found, rc;

    rc = mig_state_get(m, m->d->name, &s, &found);
    if (rc)
        return rc;
    cur = found ? mig_step_of(s.done_step) : MIG_NONE;
    m->prev = cur;
    if (cur == st->no || (st->from & BIT(cur)))
        return ERR_OK;
    common_fail("%s %s: the domain is at %s (last run: %s %s); %s follows %s", m->d->name, st->name,
                found ? s.done_step : "none", found ? s.step : "-",
                found ? s.status : "never started", st->name, "another step (see --help)");
    return ERR_CONFLICT;
}

static int
run_step(struct mig *m, const struct mig_step *st, int argc, char **argv)
{
    struct mig_state s;
    double           t0 = common_now();
    const char      *detail;
    int              keep = 0, found, rc, frc;

    if (st->no == MIG_VERIFY) { /* later in the playbook: only the result is recorded */
        rc = mig_state_get(m, m->d->name, &s, &found);
        if (rc)
            return rc;
        keep = found && mig_step_of(s.done_step) > MIG_VERIFY &&
               mig_step_of(s.done_step) != MIG_ROLLBACK;
    }
    rc = mig_state_record(m, st->name, "started", "", -1, keep);
    if (rc)
        return rc;
    mig_report_domain(m); /* the control room sees the step running */
    rc = st->run(m, argc, argv);
    detail = mig_detail(m);
    frc = mig_state_record(m, st->name, rc ? "failed" : "done", detail,
                           (int64_t)((common_now() - t0) * 1000), keep);
    if (!frc)
        mig_report_domain(m);
    if (!rc)
        printf("%s %s: done in %.1f s%s%s\n", m->d->name, st->name, common_now() - t0,
               *detail != '\0' ? ": " : "", detail);
    return rc ? rc : frc;
}

int
migrate_main(struct ctl *ctl, int argc, char **argv)
{
    const struct mig_domain *d = NULL;
    const struct mig_step   *st = NULL;
    struct mig               m;
    int                      rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "status") == 0 && common_wants_help(argc - 1, argv + 1)) {
        fputs("usage: soukctl migrate status [DOMAIN] [--log N]\n\n"
              "Every domain's step, its last run (who, when, how it ended), each sync's lag\n"
              "(from its /metrics), the last verify and the last cutover's hold time; then\n"
              "the last N runs of the log (default 10, 0: none).\n",
              stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "status") != 0) {
        for (d = mig_domains; d->name != NULL && strcmp(d->name, argv[1]) != 0; d++)
            ;
        if (d->name == NULL || argc < 3) {
            common_fail(d->name == NULL ? "unknown domain \"%s\"" : "%s: which step?", argv[1]);
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
        for (st = mig_steps; st->name != NULL && strcmp(st->name, argv[2]) != 0; st++)
            ;
        if (st->name == NULL) {
            common_fail("unknown step \"%s\"", argv[2]);
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
        if (common_wants_help(argc - 2, argv + 2)) {
            printf("usage: soukctl migrate %s %s%s\n\n%s\n", d->name, st->name,
                   st->no == MIG_CANARY   ? " PERCENT"
                   : st->no == MIG_VERIFY ? " [--range N]"
                   : st->no == MIG_CUTOVER
                       ? " [--marker-timeout S] [--without-reverse] [--before-hold CMD]"
                       : "",
                   st->help);
            return CTL_EXIT_OK;
        }
    }
    if (mig_open(&m, ctl) != ERR_OK) {
        common_fail("out of memory");
        return CTL_EXIT_FAIL;
    }
    if (strcmp(argv[1], "status") == 0) {
        rc = mig_status(&m, argc - 1, argv + 1);
    } else {
        m.d = d;
        rc = allowed(&m, st);
        if (!rc)
            rc = run_step(&m, st, argc - 2, argv + 2);
    }
    mig_close(&m);
    return rc == ERR_INVALID ? CTL_EXIT_USAGE : rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
