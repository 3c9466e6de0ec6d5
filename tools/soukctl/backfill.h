/*
 * backfill.h - `soukctl backfill DOMAIN`: the bulk copy of the migration
 * playbook (DESIGN.md §5). backfill.c holds the one copy loop (snapshot,
 * keyset pages, progress, summary); what each domain copies is its table
 * mapping's (migrate/map/<domain>.c, struct map_copy): the same file holds
 * its forward sync, verify rows and reverse sync, so the transformation
 * exists once. backfill_ident.c moves the service's sequences to the
 * migration's identity scheme.
 */
#ifndef SOUKCTL_BACKFILL_H
#define SOUKCTL_BACKFILL_H

#include <jansson.h>

#include "db.h"
#include "migrate/map/map.h"
#include "soukctl.h"

/* Tables per domain at most (counters live in struct backfill). */
#define BACKFILL_MAX_TABLES 8

/* One run: the connections, the page size and the counters. */
struct backfill {
    const struct map_domain *d;
    struct mdb              *mono;
    struct db               *dst;
    int64_t                  batch;
    size_t                   table; /* index of the step being copied */
    int64_t                  total; /* rows of that step */
    int64_t                  done[BACKFILL_MAX_TABLES];
    double                   t0, last_progress;
};

/* The identity scheme (migrate/map/README.md "Identity"). backfill_ident_check
 * refuses (ERR_INVALID, with a message) a monolith whose MariaDB does not
 * allocate odd ids; backfill_ident moves each of the domain's ident
 * sequences on b->dst to INCREMENT BY 2 and the first even number above
 * every id either side has allocated or reserved. */
MUST_CHECK int backfill_ident_check(struct backfill *b, struct arena *a);
MUST_CHECK int backfill_ident(struct backfill *b, struct arena *a);
/* The Redis of a domain kept there (map_domain.kv): SOUK_REDIS_URL or the dev default. */
const char *backfill_kv_url(void);

/* The services backfilled without a live-migration mapping (copy steps only):
 * backfill_orders.c, backfill_inventory.c, backfill_payments.c. */
extern const struct map_domain backfill_orders, backfill_inventory, backfill_payments;
/* backfill_history.c: after orders, history's read model from orders' rows
 * (COPY; left alone when history has rows). */
MUST_CHECK int backfill_history(struct ctl *ctl, struct db *orders, struct arena *a);

/* The read models kept from order events, filled after `backfill orders`:
 * backfill_reporting.c (a CTL_EXIT_* code; nothing to do without
 * SOUK_REPORTING_DB, or with if_empty when reporting has facts). */
int backfill_reporting(struct ctl *ctl, int if_empty);

#endif
