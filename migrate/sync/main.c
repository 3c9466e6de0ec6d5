/*
 * main.c - souk-sync: forward sync of one migrating domain from the
 * monolith's binlog into its service's database (migrate/README.md).
 *   souk-sync --domain reviews
 * Settings are SOUK_* variables (--help); GET /health, /ready (streaming and
 * applying) and /metrics (souk_sync_*: lag, applied/s, position).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cfg.h"
#include "kv.h"
#include "log.h"
#include "mdb.h"
#include "metrics.h"
#include "migrate/map/map.h"
#include "migrate/reverse/reverse.h"
#include "migrate/sync/sync.h"
#include "req.h"
#include "server.h"

struct sync_settings {
    const char *listen, *log_level, *monolith_db, *binlog_db, *service_db, *start_gtid, *kv_url;
    int64_t     server_id, heartbeat_ms;
};

static struct sync sync_state;

static const char sync_help[] =
    "souk-sync --domain DOMAIN: forward sync of one migrating domain. Streams the monolith's\n"
    "binlog (row events, from the GTID in the service database's sync_position table) and\n"
    "applies each transaction through the domain's mapping, with its position, in one\n"
    "transaction of the service's database. Domains: reviews, catalog, users, cart. "
    "SOUK_SYNC_DOMAIN may name the\n"
    "domain instead of --domain. The binlog account needs REPLICATION SLAVE and BINLOG\n"
    "MONITOR (soukctl db create monolith grants them).";

static int
ready_sync(struct req *r)
{
    if (sync_state.refused)
        return req_fail(r, ERR_UNAVAILABLE, "stopped at a change that cannot be captured");
    return sync_state.ready ? ERR_OK : req_fail(r, ERR_UNAVAILABLE, "not streaming");
}

static const struct route        sync_routes[] = {{NULL, NULL, NULL, 0, 0}};
static const struct server_check sync_checks[] = {{"sync", ready_sync}, {NULL, NULL}};

/* --domain NAME (or --domain=NAME) taken out of argv; NULL when absent. */
static const char *
domain_arg(int *argc, char **argv)
{
    const char *name = NULL;
    int         i, k = 1;

    for (i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--domain") == 0 && i + 1 < *argc)
            name = argv[++i];
        else if (strncmp(argv[i], "--domain=", 9) == 0)
            name = argv[i] + 9;
        else
            argv[k++] = argv[i];
    }
    *argc = k;
    return name != NULL ? name : getenv("SOUK_SYNC_DOMAIN");
}

int
main(int argc, char **argv)
{
    struct sync_settings     st;
    const struct map_domain *d;
    const char              *name = domain_arg(&argc, argv);
    struct arena            *a;
    size_t                   i;
    int                      rc, idx = 0, help = 0;

    for (i = 1; i < (size_t)argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    d = map_find(name != NULL ? name : "reviews");
    if (d == NULL || (name == NULL && !help)) {
        if (name == NULL)
            fprintf(stderr, "souk-sync: --domain DOMAIN is required (domains:");
        else
            fprintf(stderr, "souk-sync: --domain %s is not a domain (domains:", name);
        for (i = 0; map_domains[i] != NULL; i++)
            fprintf(stderr, " %s", map_domains[i]->name);
        fprintf(stderr, "); see --help\n");
        return 2;
    }
    while (map_domains[idx] != d)
        idx++;
    if (reverse_wanted(&argc, argv)) /* souk-sync --domain X --reverse: migrate/reverse */
        return reverse_main(d, argc, argv);
    a = arena_create(); /* after the dispatch: reverse_main has its own */
#define ST struct sync_settings
    const struct cfg_var vars[] = {
        CFG_STR_ROW("SOUK_LISTEN", ST, listen, arena_printf(a, "127.0.0.1:%d", 7120 + idx),
                    "address for /health, /ready, /metrics"),
        CFG_STR_ROW("SOUK_LOG_LEVEL", ST, log_level, "info", "debug | info | warn | error"),
        CFG_STR_ROW("SOUK_MONOLITH_DB", ST, monolith_db,
                    "mysql://souk_monolith:souk-dev@127.0.0.1:53306/souk_monolith",
                    "MariaDB DSN of the monolith (its database names the captured tables)"),
        CFG_STR_ROW("SOUK_SYNC_BINLOG_DB", ST, binlog_db, "",
                    "MariaDB DSN for the binlog stream (REPLICATION SLAVE, BINLOG MONITOR); "
                    "empty: SOUK_MONOLITH_DB"),
        CFG_STR_ROW(
            d->db_env, ST, service_db,
            arena_printf(a, "postgresql://%s:souk-dev@127.0.0.1:55432/%s", d->name, d->name),
            "PostgreSQL DSN of the domain's service (holds sync_position)"),
        CFG_STR_ROW("SOUK_SYNC_START_GTID", ST, start_gtid, "",
                    "where to start when sync_position has no row (the backfill writes one); "
                    "empty: the monolith's current position"),
        CFG_STR_ROW("SOUK_REDIS_URL", ST, kv_url, "redis://127.0.0.1:56379/0",
                    "Redis of a domain the service keeps there (cart); unused by the others"),
        CFG_INT_ROW("SOUK_SYNC_SERVER_ID", ST, server_id, arena_printf(a, "%d", 4000 + idx), 2,
                    4294967295LL, "replica server id, unique among the monolith's replicas"),
        CFG_INT_ROW("SOUK_SYNC_HEARTBEAT_MS", ST, heartbeat_ms, "500", 50, 60000,
                    "idle wake-up of the stream (lag metrics, shutdown)"),
        {NULL, 0, 0, NULL, 0, 0, NULL},
    };
#undef ST

    memset(&st, 0, sizeof(st));
    cfg_load(vars, &st, argc, argv, sync_help);
    log_open("sync", st.log_level);
    if (mdb_global_init() != ERR_OK || mdb_new_check(st.monolith_db) != ERR_OK ||
        (st.binlog_db[0] && mdb_new_check(st.binlog_db) != ERR_OK)) {
        log_error("sync: SOUK_MONOLITH_DB or SOUK_SYNC_BINLOG_DB is not a mysql:// dsn");
        arena_destroy(a);
        return 2;
    }
    if (d->kv && kv_url_check(st.kv_url) != ERR_OK) {
        log_error("sync: SOUK_REDIS_URL is not a redis:// url");
        return 2;
    }
    sync_metrics_register();
    sync_state.cfg = (struct sync_config){
        .domain = d,
        .monolith_db = st.monolith_db,
        .binlog_db = st.binlog_db[0] ? st.binlog_db : st.monolith_db,
        .service_db = st.service_db,
        .start_gtid = st.start_gtid,
        .kv_url = st.kv_url,
        .server_id = (uint32_t)st.server_id,
        .heartbeat_ms = (int)st.heartbeat_ms,
    };
    if (sync_start(&sync_state) != ERR_OK) {
        log_error("sync: cannot start the sync thread");
        arena_destroy(a);
        mdb_global_end();
        return 1;
    }
    log_info("sync up: domain=%s listen=%s", d->name, st.listen);
    rc = server_run(&(struct server_spec){
        .name = "sync",
        .listen = st.listen,
        .routes = sync_routes,
        .checks = sync_checks,
        .workers = 1,
        .loops = 1,
    });
    sync_stop(&sync_state);
    log_info("sync down: domain=%s", d->name);
    arena_destroy(a);
    mdb_global_end();
    return rc == ERR_OK ? 0 : 1;
}
