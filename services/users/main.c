/*
 * main.c - souk-users: configuration, the route table and wiring. Handlers
 * live in api.c, SQL in store.c, outbox payloads in events.c, pure logic in
 * users.c.
 */
#include <stdlib.h>

#include "auth.h"
#include "cfg.h"
#include "log.h"
#include "mq.h"
#include "server.h"
#include "users.h"

#define CFG struct users_config
static const struct cfg_var users_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7101", "address to listen on"),
    CFG_STR_ROW("SOUK_USERS_DB", CFG, db, "postgresql://users:souk-dev@127.0.0.1:55432/users",
                "PostgreSQL database of accounts, addresses, login throttling and the outbox"),
    MQ_CFG_ROWS(CFG, mq),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, AUTH_DEV_SECRET,
                "HS256 secret shared with the monolith and the gateway"),
    CFG_INT_ROW("SOUK_JWT_TTL", CFG, jwt_ttl, "3600", 60, 86400 * 30, "token lifetime, seconds"),
    CFG_INT_ROW("SOUK_ARGON2_OPS", CFG, argon2_ops, "2", 1, 10, "Argon2id time cost"),
    CFG_INT_ROW("SOUK_ARGON2_MEM_KIB", CFG, argon2_mem_kib, "19456", 8, 1048576,
                "Argon2id memory cost, KiB"),
    CFG_INT_ROW("SOUK_USERS_LOGIN_MAX_FAILURES", CFG, login_max_failures, "5", 1, 1000000,
                "failed logins per account within the window before 429"),
    CFG_INT_ROW("SOUK_USERS_LOGIN_IP_MAX_FAILURES", CFG, login_ip_max_failures, "20", 1, 1000000,
                "failed logins per client address within the window before 429"),
    CFG_INT_ROW("SOUK_USERS_LOGIN_WINDOW_S", CFG, login_window_s, "900", 1, 86400 * 7,
                "login-throttle window, seconds (opens at the first failure)"),
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

#define BODY_SMALL 16384 /* a few fields, as the monolith */

static const struct route users_routes[] = {
    {"POST", "/api/v1/accounts/register", account_register, 0, BODY_SMALL},
    {"POST", "/api/v1/accounts/login", account_login, 0, BODY_SMALL},
    {"GET", "/api/v1/accounts/me", account_me, ROUTE_USER, 0},
    {"PUT", "/api/v1/accounts/me/address", account_address_put, ROUTE_USER, BODY_SMALL},
    {NULL},
};

static const struct server_check users_checks[] = {
    {"postgresql", ready_db},
    {"outbox", ready_mq},
    {NULL},
};

struct users_config users_cfg;
struct mq          *users_mq;

/* Each worker owns one PostgreSQL connection with the statement table
 * prepared; it connects on first use, so a database that is down at boot
 * only shows in /ready. */
static void *
worker_init(int index, void *arg)
{
    (void)index;
    (void)arg;
    return db_new(users_cfg.db, users_stmts);
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

    cfg_load(users_vars, &users_cfg, argc, argv,
             "souk-users: accounts, credentials and shipping addresses (the v1 accounts API).");
    log_open("users", users_cfg.log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    if (auth_secret_check(users_cfg.jwt_secret, users_cfg.listen) != ERR_OK) {
        log_error("SOUK_JWT_SECRET must be set to 32 or more random bytes when listening "
                  "beyond loopback (the dev default lets anyone mint admin tokens)");
        return 2;
    }
    rc = mq_start(&users_mq, &(struct mq_spec){
                                 .service = "users",
                                 .db_url = users_cfg.db,
                                 .publishes = 1,
                                 .cfg = users_cfg.mq,
                             });
    if (rc) {
        log_error("cannot start the outbox relay (is SOUK_AMQP_URL an amqp:// URL?)");
        return 2;
    }
    log_info("users up: listen=%s", users_cfg.listen);
    rc = server_run(&(struct server_spec){
        .name = "users",
        .listen = users_cfg.listen,
        .routes = users_routes,
        .checks = users_checks,
        .jwt_secret = users_cfg.jwt_secret,
        .loops = (int)users_cfg.loops,
        .workers = (int)users_cfg.workers,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .header_timeout_ms = users_cfg.header_timeout_ms,
        .body_timeout_ms = users_cfg.body_timeout_ms,
        .idle_timeout_ms = users_cfg.idle_timeout_ms,
    });
    mq_stop(users_mq);
    log_info("users down");
    return rc == ERR_OK ? 0 : 1;
}
