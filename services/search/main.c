/*
 * main.c - souk-search: configuration, the route table and wiring. Handlers
 * live in api.c, SQL in store.c, consumers in events.c, pure logic in search.c.
 */
#include <stdlib.h>

#include "auth.h"
#include "cfg.h"
#include "log.h"
#include "search.h"
#include "server.h"

#define CFG struct search_config
static const struct cfg_var search_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7103", "address to listen on"),
    CFG_STR_ROW("SOUK_SEARCH_DB", CFG, db, "postgresql://search:souk-dev@127.0.0.1:55432/search",
                "PostgreSQL database of the search projection"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, AUTH_DEV_SECRET,
                "HS256 secret shared with users and the gateway"),
    CFG_INT_ROW("SOUK_WORKERS", CFG, workers, "0", 0, 256, "handler threads (0 = 4 per core)"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, loops, "0", 0, 64, "I/O loops (0 = one per core)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", CFG, header_timeout_ms, "10000", 100, 600000,
                "time allowed to send request headers"),
    CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", CFG, body_timeout_ms, "30000", 100, 600000,
                "time allowed to send a request body"),
    CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", CFG, idle_timeout_ms, "60000", 100, 3600000,
                "keep-alive idle time before closing"),
    {NULL},
};
#undef CFG

static const struct route search_routes[] = {
    {"GET", "/api/v1/search", search_v1, 0, 0},
    {"GET", "/api/v2/search", search_v2, 0, 0},
    {"GET", "/api/v2/search/suggest", search_suggest, 0, 0},
    {NULL},
};

struct search_config search_cfg;
static struct mq    *search_mq; /* the consumer */

static int
ready_db(struct req *r)
{
    return store_ping(r);
}

static int
ready_mq(struct req *r)
{
    (void)r;
    return mq_ready(search_mq);
}

static const struct server_check search_checks[] = {
    {"postgresql", ready_db},
    {"rabbitmq", ready_mq},
    {NULL},
};

/* Each worker owns one PostgreSQL connection with the statement table
 * prepared; it connects on first use, so a database that is down at boot
 * only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    (void)index;
    (void)arg;
    return db_new(search_cfg.db, search_stmts);
}

static void
worker_fini(void *state)
{
    db_free(state);
}

int
main(int argc, char **argv)
{
    int rc;

    cfg_load(search_vars, &search_cfg, argc, argv,
             "souk-search: full-text product search over a projection of the catalog's events.");
    log_open("search", search_cfg.log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    if (auth_secret_check(search_cfg.jwt_secret, search_cfg.listen) != ERR_OK) {
        log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
                  "beyond loopback");
        return 2;
    }
    rc = mq_start(&search_mq, &(struct mq_spec){
                                  .service = "search",
                                  .cfg = search_cfg.mq,
                                  .db_url = search_cfg.db,
                                  .publishes = 0,
                                  .consumers = search_consumers,
                              });
    if (rc) {
        log_error("cannot start the event consumer (is SOUK_AMQP_URL an amqp:// URL?)");
        return 2;
    }
    log_info("search up: listen=%s", search_cfg.listen);
    rc = server_run(&(struct server_spec){
        .name = "search",
        .listen = search_cfg.listen,
        .routes = search_routes,
        .checks = search_checks,
        .jwt_secret = search_cfg.jwt_secret,
        .loops = (int)search_cfg.loops,
        .workers = (int)search_cfg.workers,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .header_timeout_ms = search_cfg.header_timeout_ms,
        .body_timeout_ms = search_cfg.body_timeout_ms,
        .idle_timeout_ms = search_cfg.idle_timeout_ms,
    });
    mq_stop(search_mq);
    log_info("search down");
    return rc == ERR_OK ? 0 : 1;
}
