/*
 * main.c - souk-reviews: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in review.c, SQL in store.c, the
 * replicas' consumers and review.created in events.c (relayed by lib/mq.c).
 */
#include <stdlib.h>

#include "auth.h"
#include "cfg.h"
#include "log.h"
#include "reviews.h"
#include "server.h"

#define CFG struct reviews_config
static const struct cfg_var reviews_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7104", "address to listen on"),
    CFG_STR_ROW("SOUK_REVIEWS_DB", CFG, db, "postgresql://reviews:souk-dev@127.0.0.1:55432/reviews",
                "PostgreSQL database of reviews (reviews, ratings, replicas, outbox, inbox)"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, AUTH_DEV_SECRET,
                "HS256 secret shared with users, the monolith and the gateway"),
    CFG_INT_ROW("SOUK_WORKERS", CFG, workers, "0", 0, 256, "handler threads (0 = 4 per core)"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, loops, "0", 0, 64, "I/O loops (0 = one per core)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", CFG, header_timeout_ms, "10000", 100, 600000,
                "time allowed to send request headers"),
    CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", CFG, body_timeout_ms, "30000", 100, 600000,
                "time allowed to send a request body"),
    CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", CFG, idle_timeout_ms, "60000", 100, 3600000,
                "keep-alive idle time before closing"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};
#undef CFG

#define BODY_SMALL 16384 /* as the monolith's review route */

static const struct route reviews_routes[] = {
    {"GET", "/api/v1/products/{id}/reviews", review_list, 0, 0},
    {"POST", "/api/v1/products/{id}/reviews", review_create, ROUTE_USER, BODY_SMALL},
    {NULL, NULL, NULL, 0, 0},
};

static const struct server_check reviews_checks[] = {
    {"postgresql", ready_db},
    {"rabbitmq", ready_mq},
    {NULL, NULL},
};

struct reviews_config reviews_cfg;

/* Each worker owns one PostgreSQL connection with the statement table
 * prepared; it connects on first use, so a database that is down at boot
 * only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    (void)index;
    (void)arg;
    return db_new(reviews_cfg.db, reviews_stmts);
}

static void
worker_fini(void *state)
{
    db_free(state);
}

static int
backbone_start(void)
{
    return mq_start(&reviews_mq, &(struct mq_spec){
                                     .service = "reviews",
                                     .db_url = reviews_cfg.db,
                                     .publishes = 1,
                                     .consumers = reviews_consumers,
                                     .cfg = reviews_cfg.mq,
                                 });
}

int
main(int argc, char **argv)
{
    int rc;

    cfg_load(reviews_vars, &reviews_cfg, argc, argv,
             "souk-reviews: product reviews as JSONB documents in PostgreSQL with a per-product "
             "rating aggregate, product and user replicas fed by events, review.created "
             "through a transactional outbox; the v1 reviews API.");
    log_open("reviews", reviews_cfg.log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    if (auth_secret_check(reviews_cfg.jwt_secret, reviews_cfg.listen) != ERR_OK) {
        log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
                  "beyond loopback");
        return 2;
    }
    rc = backbone_start();
    if (rc) {
        log_error("cannot start the event backbone (is SOUK_AMQP_URL an amqp:// URL?)");
        return rc == ERR_INVALID ? 2 : 1;
    }
    log_info("reviews up: listen=%s", reviews_cfg.listen);
    rc = server_run(&(struct server_spec){
        .name = "reviews",
        .listen = reviews_cfg.listen,
        .routes = reviews_routes,
        .checks = reviews_checks,
        .jwt_secret = reviews_cfg.jwt_secret,
        .loops = (int)reviews_cfg.loops,
        .workers = (int)reviews_cfg.workers,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .header_timeout_ms = reviews_cfg.header_timeout_ms,
        .body_timeout_ms = reviews_cfg.body_timeout_ms,
        .idle_timeout_ms = reviews_cfg.idle_timeout_ms,
    });
    mq_stop(reviews_mq);
    log_info("reviews down");
    return rc == ERR_OK ? 0 : 1;
}
