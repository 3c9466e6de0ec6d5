/*
 * migrate_cutover.c - the two steps that move a domain's traffic with its
 * writes fenced (DESIGN.md §9): cutover, from the monolith to the service,
 * and rollback, back. Never timed, always fenced:
 *
 *   cutover: hold the domain's routes at the gateway (writes wait there,
 *   reads flow) -> write a marker row into the monolith, after the fence ->
 *   wait until souk-sync has applied it (every write the monolith took
 *   before the fence is then in the service: lag 0 by construction) ->
 *   verify what changed -> one gateway install flips the routes to new and
 *   ends the hold, so the held writes go to the service (the reverse sync
 *   started before the fence).
 *
 *   The hold is short because the whole domain is verified before it: the
 *   cutover marks souk-sync's record of touched keys (sync_touched), runs
 *   the full verify with writes flowing, and under the hold verifies only
 *   the keys the sync touched since the mark. A key that differed and was
 *   not touched since was in the full verify; one touched since is read
 *   again after the marker. A domain without a touch table (map.h) is
 *   verified whole under the hold.
 *
 *   rollback after cutover: hold -> wait until the reverse sync has nothing
 *   left (every write the service took is in the monolith) -> unbind the
 *   reverse sync's queue (mig_reverse_fence), still held -> one install
 *   flips back to legacy and ends the hold -> let the reverse sync write
 *   back what the queue holds, stop it and delete the queue
 *   (mig_reverse_end), make sure the forward sync runs. Before cutover the
 *   routes just go back to legacy (the monolith never stopped taking the
 *   writes).
 *
 * Any failure while the writes are held ends the hold with the routes as
 * they were, so a failed cutover costs the held writes a wait, never a loss.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "migrate.h"
#include "migrate/map/map.h"

#define REVERSE_WAIT_S 30

/* Every route of the domain: {"hold": hold} plus mode when not NULL. */
static int
routes_patch(struct mig *m, const char *mode, int hold, int64_t *held_ms)
{
    json_t *changes = json_object(), *ch;
    int     i;

    for (i = 0; m->d->routes[i] != NULL; i++) {
        ch = json_pack("{s:b}", "hold", hold);
        if (mode != NULL)
            json_object_set_new(ch, "mode", json_string(mode));
        json_object_set_new(changes, m->d->routes[i], ch);
    }
    return mig_gateway_patch(m, changes, held_ms);
}

/* The whole domain compared with the writes flowing, after the mark of
 * souk-sync's touched keys (*since), so every key the sync changes while it
 * runs is compared again under the hold. */
static int
full_verify(struct mig *m, const struct map_domain *map, int64_t *since)
{
    double t0 = common_now();
    int    ok = 0, rc = ERR_OK;

    if (map != NULL && map->touch != NULL)
        rc = mig_verify_mark(m, since);
    if (!rc)
        rc = mig_verify(m, map, 1000, &ok);
    if (!rc && !ok) {
        common_fail("%s cutover: the sides differ (listed above); nothing held, routes unchanged",
                    m->d->name);
        rc = ERR_CONFLICT;
    }
    if (!rc)
        buf_printf(&m->detail, "full verify %.0f ms before the hold; ", (common_now() - t0) * 1000);
    return rc;
}

int
mig_cutover(struct mig *m, int argc, char **argv)
{
    static const struct option opts[] = {{"marker-timeout", required_argument, NULL, 't'},
                                         {"without-reverse", no_argument, NULL, 'w'},
                                         {"before-hold", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    const char                *before_hold = NULL;
    const struct map_domain   *map = map_find(m->d->name);
    int64_t                    timeout_s = 30, held_ms = -1, since = 0;
    double                     t0, tv;
    int                        c, ok = 0, without_reverse = 0, rc;

    optind = 1;
    for (c = getopt_long(argc, argv, "", opts, NULL); c != -1;
         c = getopt_long(argc, argv, "", opts, NULL)) {
        if (c == 'w')
            without_reverse = 1;
        else if (c == 'b')
            before_hold = optarg;
        else if (c != 't' || common_int_opt("--marker-timeout", optarg, 1, 3600, &timeout_s))
            return ERR_INVALID;
    }
    rc = mig_sync_wait_up(m, 0, 2); /* no marker gets through without it */
    if (!rc)
        rc = full_verify(m, map, &since);
    /* An operator's last word before the hold (announce it, look once
     * more); a failure cancels the cutover with nothing held. */
    fflush(stdout);
    if (!rc && before_hold != NULL && system(before_hold) != 0) {
        common_fail("%s cutover: --before-hold failed; nothing held, routes unchanged", m->d->name);
        rc = ERR_CONFLICT;
    }
    /* The reverse sync before the fence: it takes the service's events, which
     * start with the flip, and the writes need not wait while it starts. */
    if (!rc && !without_reverse)
        rc = mig_sync_run(m, 1, 1);
    if (!rc && !without_reverse)
        rc = mig_sync_wait_up(m, 1, 10);
    if (without_reverse)
        buf_printf(&m->detail, "no reverse sync (--without-reverse); ");
    if (rc)
        return rc;
    t0 = common_now();
    rc = routes_patch(m, NULL, 1, NULL); /* the fence (a failure ends below, as any) */
    /* A write sent to the monolith before the hold could commit after the
     * marker: the marker goes in once none is in flight. */
    if (!rc)
        rc = mig_gateway_drained(m, (double)timeout_s);
    if (!rc)
        rc = mig_marker_through(m, (double)timeout_s, 1);
    tv = common_now();
    if (!rc && map != NULL && map->touch != NULL)
        rc = mig_verify_changed(m, map, since, &ok);
    else if (!rc)
        rc = mig_verify(m, map, 1000, &ok);
    if (!rc)
        buf_printf(&m->detail, "held verify %.0f ms; ", (common_now() - tv) * 1000);
    if (!rc && !ok) {
        common_fail("%s cutover: the sides differ (listed above); routes unchanged", m->d->name);
        rc = ERR_CONFLICT;
    }
    if (rc) { /* the writes waited for nothing: let them go where they were going */
        if (routes_patch(m, NULL, 0, &held_ms) == ERR_OK) /* else the hold_ms bound ends it */
            buf_printf(&m->detail, "aborted, writes held %lld ms; ", (long long)held_ms);
        /* the routes never flipped: the service took no write to give back */
        if (!without_reverse && mig_reverse_end(m, 0, REVERSE_WAIT_S) != ERR_OK)
            buf_printf(&m->detail, "the reverse sync could not be ended; ");
        return rc;
    }
    rc = routes_patch(m, "new", 0, &held_ms);
    if (rc)
        return rc;
    m->hold_ms = held_ms;
    buf_printf(&m->detail, "routes on new; writes held %lld ms (%.0f ms in all)",
               (long long)held_ms, (common_now() - t0) * 1000);
    return mig_state_set(m, "hold_ms", db_i64_text(m->a, held_ms));
}

/* The reverse sync has written everything the service took into the
 * monolith: both sides agree (verify, quietly, again and again: the
 * reverse sync's backlog is the broker's queue and the service's outbox,
 * so the data itself is the one measure that covers both). */
static int
sides_agree(struct mig *m, double timeout_s)
{
    double t0 = common_now();
    int    ok = 0, rc;

    m->quiet = 1;
    for (;;) {
        buf_reset(&m->detail);
        rc = mig_verify(m, map_find(m->d->name), 1000, &ok);
        if (rc || ok || common_now() - t0 > timeout_s)
            break;
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
    m->quiet = 0;
    buf_reset(&m->detail);
    if (!rc && !ok) {
        common_fail("%s rollback: the monolith does not have every write of the service after "
                    "%.0f s (soukctl migrate %s verify lists them); routes unchanged",
                    m->d->name, timeout_s, m->d->name);
        rc = ERR_TIMEOUT;
    }
    return rc;
}

int
mig_rollback(struct mig *m, int argc, char **argv)
{
    int64_t held_ms = -1;
    int     flipped = m->prev >= MIG_CUTOVER && m->prev <= MIG_FINISH, fenced = 0, rc;

    (void)argc;
    (void)argv;
    if (!flipped) {
        rc = routes_patch(m, "legacy", 0, NULL);
        buf_printf(&m->detail, "routes on legacy; ");
    } else {
        rc = mig_sync_wait_up(m, 1, 2);
        if (rc)
            common_fail("%s rollback: without the reverse sync the service's writes since the "
                        "cutover would be lost; routes unchanged (soukctl migrate %s reverse)",
                        m->d->name, m->d->name);
        if (!rc)
            rc = routes_patch(m, NULL, 1, NULL);
        if (!rc) /* a service write sent before the hold ends before we compare */
            rc = mig_gateway_drained(m, REVERSE_WAIT_S);
        if (!rc)
            rc = sides_agree(m, REVERSE_WAIT_S);
        /* The monolith has every write the service took: from here on the
         * service's own events (a cart emptied by order.confirmed) must not
         * reach a monolith that is live again. */
        if (!rc)
            fenced = (rc = mig_reverse_fence(m)) == ERR_OK;
        if (!rc)
            rc = routes_patch(m, "legacy", 0, &held_ms);
        if (rc) {
            if (fenced)
                mig_reverse_rebind(m);
            if (routes_patch(m, NULL, 0, NULL) != ERR_OK)
                common_fail("%s rollback: the hold could not be ended; hold_ms ends it",
                            m->d->name);
            return rc;
        }
        rc = mig_state_set(m, "hold_ms", db_i64_text(m->a, held_ms));
        /* Checked once more on the live monolith: the fence came after the
         * sides agreed, so nothing the service took can still be on its way. */
        if (!rc)
            rc = sides_agree(m, REVERSE_WAIT_S);
        if (!rc)
            buf_printf(&m->detail, "routes on legacy; writes held %lld ms; ", (long long)held_ms);
    }
    /* Its queue goes too, once what it holds is written back: nothing the
     * service publishes from now on waits for the next cutover. */
    if (!rc)
        rc = mig_reverse_end(m, 1, REVERSE_WAIT_S);
    if (!rc && m->prev >= MIG_SYNC && m->prev != MIG_ROLLBACK)
        rc = mig_sync_run(m, 0, 1);
    return rc;
}
