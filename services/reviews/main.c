/*
 * main.c - souk-reviews: configuration, the route table and wiring.
 * Handlers are in api.c, pure logic in review.c, SQL in store.c, the
 * replicas' consumers and review.created in events.c (relayed by lib/mq.c);
 * lib/service.c starts it all.
 */
#include "reviews.h"

#define CFG struct reviews_config
static const struct cfg_var reviews_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7104"),
    CFG_STR_ROW("SOUK_REVIEWS_DB", CFG, svc.db,
                "postgresql://reviews:souk-dev@127.0.0.1:55432/reviews",
                "PostgreSQL database of reviews (reviews, ratings, replicas, outbox, inbox)"),
    MQ_CFG_ROWS(CFG, svc.mq),
    {NULL},
};
#undef CFG

#define BODY_SMALL 16384 /* as the monolith's review route */

static const struct route reviews_routes[] = {
    {"GET", "/api/v1/products/{id}/reviews", review_list, 0, 0},
    {"POST", "/api/v1/products/{id}/reviews", review_create, ROUTE_USER, BODY_SMALL},
    {NULL},
};

static const struct server_check reviews_checks[] = {
    {"postgresql", service_ready_db},
    {"rabbitmq", service_ready_mq},
    {NULL},
};

struct reviews_config reviews_cfg;

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "reviews",
        .help = "souk-reviews: product reviews as JSONB documents in PostgreSQL with a "
                "per-product rating aggregate, product and user replicas fed by events, "
                "review.created through a transactional outbox; the v1 reviews API.",
        .argc = argc,
        .argv = argv,
        .vars = reviews_vars,
        .config = &reviews_cfg,
        .svc = &reviews_cfg.svc,
        .stmts = reviews_stmts,
        .publishes = 1,
        .consumers = reviews_consumers,
        .routes = reviews_routes,
        .checks = reviews_checks,
    });
}
