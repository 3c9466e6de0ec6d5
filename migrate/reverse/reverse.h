/*
 * reverse.h - reverse sync (migrate/README.md "Reverse sync"): from cutover
 * on, the service's events are written back into the monolith's tables, so
 * the monolith's remaining features (its checkout, still legacy, reads
 * accounts, addresses and prices) and a rollback see current data. Runs as
 *   souk-sync --domain DOMAIN --reverse
 * a lib/mq consumer with a queue of its own (reverse-<domain>) bound to the
 * domain's events (map_reverse.events). For each event it copies the named
 * aggregate's current rows from the service's database into the monolith
 * (map_reverse_step), in one monolith transaction whose session has
 * skip_replication=1: souk-sync's forward capture sees the flag and skips
 * those transactions, so nothing echoes back. Copying the current state makes
 * a handler idempotent and order-proof without versions: a duplicate, a retry
 * or a late event writes the same newest rows.
 */
#ifndef SOUK_REVERSE_H
#define SOUK_REVERSE_H

#include "err.h"

struct map_domain;

/* The reverse sync's queue (and lib/mq's service name): "reverse-<domain>".
 * soukctl migrate DOMAIN rollback deletes it (mq_queue_delete). */
#define REVERSE_QUEUE_FMT "reverse-%s"

/* 1 when argv holds --reverse (taken out of it) or SOUK_SYNC_REVERSE=1. */
int reverse_wanted(int *argc, char **argv);

/* The process: settings from SOUK_* (--help), serve /health, /ready (the
 * consumer is subscribed) and /metrics until SIGTERM. argv without --domain
 * and --reverse. Returns the exit status. */
int reverse_main(const struct map_domain *d, int argc, char **argv);

#endif
