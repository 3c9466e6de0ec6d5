/*
 * sync.h - forward sync of one domain: the binlog's transactions (cdc.h)
 * applied to the service's database through the domain's mapping (map.h),
 * each in one target transaction together with its position (position.h).
 * Runs on a thread of its own beside the HTTP server of main.c.
 */
#ifndef SOUK_SYNC_H
#define SOUK_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "err.h"

struct map_domain;

/* The cutover marker table the monolith's 0003 migration creates: every
 * sync captures it and records the newest token for its domain. */
#define SYNC_MARKER_TABLE "souk_migration_marker"

struct sync_config {
    const struct map_domain *domain;
    const char              *monolith_db; /* mysql:// for @@gtid_binlog_pos (lag) */
    const char              *binlog_db;   /* mysql:// with REPLICATION SLAVE, BINLOG MONITOR */
    const char              *service_db;  /* postgresql:// of the domain's service */
    const char              *start_gtid;  /* used when sync_position has no row; "" = now */
    const char              *kv_url;      /* redis:// of a domain kept in Redis (map_domain.kv) */
    uint32_t                 server_id;
    int                      heartbeat_ms;
};

struct sync {
    struct sync_config cfg;
    pthread_t          thread;
    _Atomic int        stop;    /* set by sync_stop */
    _Atomic int        ready;   /* streaming, and the last apply succeeded */
    _Atomic int        refused; /* the stream holds what cannot be captured: stopped */
};

/* Start the sync thread (ERR_INTERNAL when it cannot be created). */
MUST_CHECK int sync_start(struct sync *s);
/* Ask the thread to stop and wait for it (it wakes at least every heartbeat). */
void sync_stop(struct sync *s);
/* Register the souk_sync_* metrics (once, before serving). */
void sync_metrics_register(void);

#endif
