/*
 * main.c - souk-users: configuration, the route table and wiring. Handlers
 * live in api.c, SQL in store.c, outbox payloads in events.c, pure logic in
 * users.c; lib/service.c starts it all.
 */
#include "users.h"

#define CFG struct users_config
static const struct cfg_var users_vars[] = {
    SERVICE_CFG_ROWS(CFG, svc, "127.0.0.1:7101"),
    CFG_STR_ROW("SOUK_USERS_DB", CFG, svc.db, "postgresql://users:souk-dev@127.0.0.1:55432/users",
                "PostgreSQL database of accounts, addresses, login throttling and the outbox"),
    MQ_CFG_ROWS(CFG, svc.mq),
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
    {"postgresql", service_ready_db},
    {"outbox", service_ready_mq},
    {NULL},
};

struct users_config users_cfg;

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "users",
        .help = "souk-users: accounts, credentials and shipping addresses (the v1 accounts API).",
        .argc = argc,
        .argv = argv,
        .vars = users_vars,
        .config = &users_cfg,
        .svc = &users_cfg.svc,
        .stmts = users_stmts,
        .publishes = 1,
        .routes = users_routes,
        .checks = users_checks,
    });
}
