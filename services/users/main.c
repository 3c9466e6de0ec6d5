/*
 * main.c - souk-users: configuration, the route table and wiring. Handlers
 * live in api.c (v1 accounts) and api_session.c (v2 sessions), SQL in
 * store.c, Redis in store_session.c, outbox payloads in events.c, pure logic
 * in users.c and session.c; lib/service.c starts it all.
 */
#include <stdlib.h>

#include "kv.h"
#include "log.h"
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
    CFG_STR_ROW("SOUK_REDIS_URL", CFG, redis_url, "redis://127.0.0.1:56379/0",
                "Redis holding the v2 sessions (keys under users:)"),
    CFG_INT_ROW("SOUK_SESSION_TTL_S", CFG, session_ttl_s, "2592000", 1, 366 * 86400,
                "a session ends this long after its last refresh"),
    CFG_INT_ROW("SOUK_SESSION_ACCESS_TTL_S", CFG, access_ttl_s, "900", 1, 86400,
                "lifetime of a v2 access token (a signed-out session's tokens live this long)"),
    CFG_INT_ROW("SOUK_SESSION_MAX_PER_USER", CFG, session_max, "50", 1, 10000,
                "sessions per user; signing in beyond it ends the one closest to expiry"),
    CFG_INT_ROW("SOUK_SESSION_REUSE_GRACE_S", CFG, reuse_grace_s, "0", 0, 60,
                "a just-rotated refresh token coming back this soon is refused without "
                "ending the session (0: every reuse ends it)"),
    CFG_BOOL_ROW("SOUK_COOKIE_SECURE", CFG, cookie_secure, "0",
                 "mark the souk_refresh cookie Secure (when served over TLS)"),
    {NULL},
};
#undef CFG

#define BODY_SMALL 16384 /* a few fields, as the monolith */

static const struct route users_routes[] = {
    {"POST", "/api/v1/accounts/register", account_register, 0, BODY_SMALL},
    {"POST", "/api/v1/accounts/login", account_login, 0, BODY_SMALL},
    {"GET", "/api/v1/accounts/me", account_me, ROUTE_USER, 0},
    {"PUT", "/api/v1/accounts/me/address", account_address_put, ROUTE_USER, BODY_SMALL},
    {"POST", "/api/v2/sessions", session_create, 0, BODY_SMALL},
    {"GET", "/api/v2/sessions", session_list, ROUTE_USER, 0},
    {"DELETE", "/api/v2/sessions", session_delete_all, ROUTE_USER, 0},
    {"POST", "/api/v2/sessions/refresh", session_refresh, 0, BODY_SMALL},
    {"DELETE", "/api/v2/sessions/{id}", session_delete, ROUTE_USER, 0},
    {NULL},
};

static const struct server_check users_checks[] = {
    {"postgresql", service_ready_db},
    {"outbox", service_ready_mq},
    {"redis", ready_redis},
    {NULL},
};

#define REDIS_TIMEOUT 1000 /* ms, every Redis command */

static int
setup(void)
{
    if (kv_url_check(users_cfg.redis_url) != ERR_OK) {
        log_error("SOUK_REDIS_URL is not a redis://host:port/db URL");
        return ERR_INVALID;
    }
    session_metrics_register();
    return ERR_OK;
}

/* A Redis connection per handler thread, opened on first use. */
static void *
users_worker_new(void)
{
    struct users_worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->kv = kv_new(users_cfg.redis_url, REDIS_TIMEOUT); /* the url was checked by setup */
    if (w->kv == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

static void
users_worker_free(void *state)
{
    struct users_worker *w = state;

    if (w == NULL)
        return;
    kv_free(w->kv);
    free(w);
}

struct users_config users_cfg;

int
main(int argc, char **argv)
{
    return service_run(&(struct service_spec){
        .name = "users",
        .help = "souk-users: accounts, credentials and shipping addresses (the v1 accounts API), "
                "and sign-in sessions in Redis (the v2 sessions API).",
        .argc = argc,
        .argv = argv,
        .vars = users_vars,
        .config = &users_cfg,
        .svc = &users_cfg.svc,
        .stmts = users_stmts,
        .publishes = 1,
        .routes = users_routes,
        .checks = users_checks,
        .setup = setup,
        .thread_new = users_worker_new,
        .thread_free = users_worker_free,
    });
}
