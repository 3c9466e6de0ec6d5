/*
 * dlq.c - `soukctl dlq list|show|replay|drop SERVICE ...`: the dead letters
 * a service's consumer parked after its retries (lib/mq.h). Listing leaves
 * the queue as it was; replay sends a message back to the service's queue
 * with a fresh attempt count once the cause is fixed; drop discards it.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "mq.h"
#include "soukctl.h"

static const char dlq_usage[] =
    "usage: soukctl dlq list SERVICE\n"
    "       soukctl dlq show SERVICE EVENT_ID\n"
    "       soukctl dlq replay SERVICE (EVENT_ID | --all)\n"
    "       soukctl dlq drop SERVICE (EVENT_ID | --all)\n"
    "\n"
    "list    one line per parked message: event id, type, attempts, when it was\n"
    "        parked and the last error (tab-separated)\n"
    "show    the same fields and the envelope as published\n"
    "replay  re-publish to SERVICE's queue (attempts start again); acked from the\n"
    "        DLQ only after the broker confirmed the copy\n"
    "drop    discard for good\n"
    "\n"
    "SERVICE is the consuming service (its queues are SERVICE, SERVICE.retry and\n"
    "SERVICE.dlq). The broker is SOUK_AMQP_URL.\n";

static int
service_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int
broker_fail(int rc, const char *service)
{
    if (rc == ERR_NOT_FOUND)
        common_fail("no dead letter with that event id in %s.dlq", service);
    else
        common_fail("cannot reach the broker at SOUK_AMQP_URL (%s)", err_name(rc));
    return CTL_EXIT_FAIL;
}

static void
print_one(const struct mq_dead *d, int full)
{
    printf("%s\t%s\t%d\t%s\t%s\n", d->event_id, d->type, d->attempts, d->died_at, d->error);
    if (full)
        printf("%.*s\n", (int)d->len, d->body);
}

static int
dlq_show(struct ctl *ctl, const char *service, const char *event_id)
{
    struct arena   *a = arena_create();
    struct mq_dead *d;
    size_t          n, i, shown = 0;
    int             rc;

    rc = mq_dlq_list(ctl->cfg.amqp_url, service, a, &d, &n);
    if (rc) {
        arena_destroy(a);
        return broker_fail(rc, service);
    }
    for (i = 0; i < n; i++) {
        if (event_id != NULL && strcmp(d[i].event_id, event_id) != 0)
            continue;
        print_one(&d[i], event_id != NULL);
        shown++;
    }
    if (event_id == NULL)
        fprintf(stderr, "%zu dead letter(s) in %s.dlq\n", n, service);
    arena_destroy(a);
    if (event_id != NULL && shown == 0)
        return broker_fail(ERR_NOT_FOUND, service);
    return CTL_EXIT_OK;
}

static int
dlq_settle(struct ctl *ctl, const char *service, const char *which, int drop)
{
    const char *event_id = strcmp(which, "--all") == 0 ? NULL : which;
    size_t      n;
    int         rc;

    if (event_id != NULL && !event_uuid_valid(event_id)) {
        common_fail("EVENT_ID must be a UUID (or --all)");
        return CTL_EXIT_USAGE;
    }
    rc = mq_dlq_settle(ctl->cfg.amqp_url, service, event_id, drop, &n);
    if (rc)
        return broker_fail(rc, service);
    printf("%s %zu message(s)\n", drop ? "dropped" : "replayed", n);
    return CTL_EXIT_OK;
}

int
dlq_main(struct ctl *ctl, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";

    if (common_wants_help(argc, argv)) {
        fputs(dlq_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (argc < 3 || !service_ok(argv[2])) {
        fputs(dlq_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(verb, "list") == 0 && argc == 3)
        return dlq_show(ctl, argv[2], NULL);
    if (strcmp(verb, "show") == 0 && argc == 4)
        return dlq_show(ctl, argv[2], argv[3]);
    if ((strcmp(verb, "replay") == 0 || strcmp(verb, "drop") == 0) && argc == 4)
        return dlq_settle(ctl, argv[2], argv[3], verb[0] == 'd');
    fputs(dlq_usage, stderr);
    return CTL_EXIT_USAGE;
}
