/*
 * main.c - soukctl: configuration, then dispatch to one subcommand from the
 * table below. Each subcommand lives in its own file and parses its own
 * arguments; `soukctl <command> --help` prints its usage.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "soukctl.h"

static const struct ctl_cmd {
    const char *name;
    ctl_cmd_fn *run;
    const char *help;
} ctl_cmds[] = {
    {"db", db_main, "create a target's database and user (db create monolith)"},
    {"schema", schema_main, "apply or show migrations (schema up|status monolith)"},
    {"seed", seed_main, "load deterministic demo data into the monolith"},
    {"backfill", backfill_main,
     "copy the monolith's data into a service (backfill catalog|users|reviews|orders)"},
    {"dlq", dlq_main, "inspect, replay or drop a service's dead letters (dlq list search)"},
    {"history", history_main, "rebuild souk-history by replaying orders' events (history rebuild)"},
    {"search", search_main, "rebuild the search index from the catalog (search rebuild)"},
    {"status", status_main, "every process of the local shop: up/down, ready, version, routes"},
    {"logs", logs_main, "the local shop's logs, filtered (logs -f --level warn gateway)"},
    {"check", check_main, "prove the order saga kept money and stock (check orders --wait 60)"},
    {"migrate", migrate_main, "live migration playbook (migrate reviews verify, migrate status)"},
    {NULL, NULL, NULL},
};

static void
usage(FILE *f)
{
    const struct ctl_cmd *c;

    fputs("usage: soukctl <command> [options]   (soukctl <command> --help for more)\n\n"
          "commands:\n",
          f);
    for (c = ctl_cmds; c->name != NULL; c++)
        fprintf(f, "  %-8s %s\n", c->name, c->help);
    fputc('\n', f);
    common_config_help(f);
}

int
main(int argc, char **argv)
{
    const struct ctl_cmd *c;
    struct ctl            ctl;
    int                   rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    for (c = ctl_cmds; c->name != NULL; c++)
        if (strcmp(c->name, argv[1]) == 0)
            break;
    if (c->name == NULL) {
        common_fail("unknown command \"%s\"", argv[1]);
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    rc = common_config(&ctl, argv[0]);
    if (rc)
        return CTL_EXIT_USAGE;
    log_open("soukctl", ctl.cfg.log_level);
    rc = mdb_global_init();
    if (rc)
        return CTL_EXIT_FAIL;
    rc = c->run(&ctl, argc - 1, argv + 1);
    mdb_global_end();
    return rc;
}
