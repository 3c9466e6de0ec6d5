/*
 * main.c - souk-gateway: configuration, the route table at start (installed
 * from the repository's default when the file is missing), one SO_REUSEPORT
 * listener and loop thread per core, and the main thread's control loop:
 * admin API, signals (SIGHUP reloads the routes file, SIGTERM drains),
 * health checks and canary rollbacks.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "gw.h"
#include "log.h"
#include "net.h"
#include "version.h"

#define ERRORS_MAX 65536

struct main_config {
    struct gateway_config g;
    const char           *default_routes;
    int64_t               drain_ms;
};

#define CFG struct main_config
static const struct cfg_var gateway_vars[] = {
    CFG_STR_ROW("SOUK_GATEWAY_LISTEN", CFG, g.listen, "127.0.0.1:8080",
                "public listener (SOUK_LISTEN when unset)"),
    CFG_STR_ROW("SOUK_GATEWAY_ADMIN_LISTEN", CFG, g.admin_listen, "127.0.0.1:8081",
                "admin API listener, loopback only"),
    CFG_STR_ROW("SOUK_GATEWAY_ADMIN_TOKEN", CFG, g.admin_token, "souk-admin-dev",
                "bearer token of the admin API"),
    CFG_STR_ROW("SOUK_GATEWAY_ROUTES", CFG, g.routes_path, "var/gateway/routes.json",
                "route table file (created from the default when missing)"),
    CFG_STR_ROW("SOUK_GATEWAY_DEFAULT_ROUTES", CFG, default_routes, "",
                "default table (empty: ../../gateway/routes.default.json from the binary)"),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, g.jwt_secret, "souk-dev-secret-change-me",
                "HS256 secret shared with the monolith and users"),
    CFG_STR_ROW("SOUK_GATEWAY_WEB_DIR", CFG, g.web_dir, "build/web",
                "pages served by the gateway: <dir>/<app>/ (static routes; console on admin)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, g.log_level, "info", "debug | info | warn | error"),
    CFG_STR_ROW("SOUK_GATEWAY_SYNC", CFG, g.sync, "",
                "the migration's souk-sync per domain, for GET /sync: reviews=127.0.0.1:7301,..."),
    CFG_BOOL_ROW("SOUK_GATEWAY_ACCESS_LOG", CFG, g.access_log, "1", "one JSON line per request"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, g.loops, "0", 0, 256, "event loops (0 = one per core)"),
    CFG_INT_ROW("SOUK_GATEWAY_HEADER_TIMEOUT_MS", CFG, g.header_timeout_ms, "10000", 50, 600000,
                "first byte to end of headers (then 408)"),
    CFG_INT_ROW("SOUK_GATEWAY_BODY_TIMEOUT_MS", CFG, g.body_timeout_ms, "30000", 50, 600000,
                "silence allowed inside a request body"),
    CFG_INT_ROW("SOUK_GATEWAY_IDLE_TIMEOUT_MS", CFG, g.idle_timeout_ms, "60000", 50, 3600000,
                "keep-alive between requests, and a stalled reader"),
    CFG_INT_ROW("SOUK_GATEWAY_MAX_CONNS", CFG, g.max_conns, "20000", 1, 10000000,
                "client connections per process"),
    CFG_INT_ROW("SOUK_GATEWAY_DRAIN_TIMEOUT_MS", CFG, drain_ms, "10000", 50, 600000,
                "SIGTERM: in-flight requests get this long"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};
#undef CFG

static const char gateway_help[] =
    "souk-gateway: the strangler-fig API gateway. Routes each request by a live\n"
    "route table to the monolith or a new service (legacy, shadow, canary, new),\n"
    "with edge auth, rate limits, retries, circuit breakers and an admin API.\n"
    "SIGHUP reloads the routes file and the pages; SIGTERM drains and exits.\n"
    "The SOUK_HTTP_*_TIMEOUT_MS names of the services are read when the\n"
    "SOUK_GATEWAY_* ones are unset.";

/* The control loop and what hangs off it. */
static struct main_config cfg;
static struct gw_loop     control;
static struct gw_loop    *loops;
static int                nloops;
static struct evgroup     group; /* SIGTERM/SIGINT: drain the data loops */
static uv_signal_t        sig_hup;
static uv_timer_t         drain_poll;
static int                stopping;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(LOG_ERROR, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

/* The services' names for the same settings, when ours are unset. */
static void
env_aliases(void)
{
    static const char *const alias[][2] = {
        {"SOUK_GATEWAY_LISTEN", "SOUK_LISTEN"},
        {"SOUK_GATEWAY_HEADER_TIMEOUT_MS", "SOUK_HTTP_HEADER_TIMEOUT_MS"},
        {"SOUK_GATEWAY_BODY_TIMEOUT_MS", "SOUK_HTTP_BODY_TIMEOUT_MS"},
        {"SOUK_GATEWAY_IDLE_TIMEOUT_MS", "SOUK_HTTP_IDLE_TIMEOUT_MS"},
        {"SOUK_GATEWAY_DRAIN_TIMEOUT_MS", "SOUK_HTTP_DRAIN_TIMEOUT_MS"},
    };
    size_t i;

    for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (getenv(alias[i][0]) == NULL && getenv(alias[i][1]) != NULL)
            setenv(alias[i][0], getenv(alias[i][1]), 0);
}

static int
copy_file(const char *from, const char *to)
{
    char   chunk[65536];
    FILE  *in = fopen(from, "rb"), *out = NULL;
    size_t n;
    int    rc = -1;

    if (in == NULL || state_make_dirs(to) != ERR_OK)
        goto done;
    out = fopen(to, "wbx"); /* never over a file that appeared meanwhile */
    if (out == NULL)
        goto done;
    for (;;) {
        n = fread(chunk, 1, sizeof(chunk), in);
        if (n == 0)
            break;
        if (fwrite(chunk, 1, n, out) != n)
            goto done;
    }
    rc = ferror(in) ? -1 : 0;
done:
    if (in != NULL)
        fclose(in);
    if (out != NULL && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* A missing routes file starts as the repository's default table. */
static void
routes_file_ensure(void)
{
    char        exe[PATH_MAX], def[PATH_MAX + 64];
    const char *from = cfg.default_routes;
    ssize_t     n;

    if (access(gateway.routes_path, F_OK) == 0)
        return;
    if (from[0] == '\0') {
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
            die("cannot find the binary's path for the default routes: %s", strerror(errno));
        exe[n] = '\0';
        snprintf(def, sizeof(def), "%s/../../gateway/routes.default.json", dirname(exe));
        from = def;
    }
    if (copy_file(from, gateway.routes_path) != 0 && access(gateway.routes_path, F_OK) != 0)
        die("cannot install the default routes %s as %s: %s", from, gateway.routes_path,
            strerror(errno));
    log_info("installed the default routes %s as %s", from, gateway.routes_path);
}

static void
print_lines(const char *lines)
{
    size_t n;

    while (*lines != '\0') {
        n = strcspn(lines, "\n");
        if (n > 0)
            fprintf(stderr, "  %.*s\n", (int)n, lines);
        lines += n + (lines[n] == '\n');
    }
}

static void
routes_start(void)
{
    struct buf       errors;
    struct gw_table *t;

    routes_file_ensure();
    buf_init(&errors, ERRORS_MAX);
    if (routes_load_file(gateway.routes_path, &errors) != ERR_OK) {
        /* Plain text, one reason a line: a human at a terminal reads this. */
        fprintf(stderr, "souk-gateway: invalid routes file %s:\n", gateway.routes_path);
        print_lines(buf_data(&errors));
        exit(2);
    }
    buf_free(&errors);
    t = routes_acquire();
    upstream_servers_sync(t);
    routes_unref(t);
}

/* ---- signals and the drain ---------------------------------------------------------- */

/* Every loop is done and the control loop holds nothing but its own
 * handles: close them so uv_run returns. */
static void
maybe_stop(struct gw_loop *l)
{
    (void)l;
    if (!atomic_load(&group.draining) || stopping || evgroup_exited(&group) < nloops ||
        control.nclients > 0 || control.nuconns > 0 || !health_idle())
        return;
    stopping = 1;
    canary_rollback_free();
    net_uv_close_handles(&control.ev.uv); /* still running: uv_run returns once they close */
}

static void
on_exited(struct evgroup *g)
{
    (void)g;
    maybe_stop(&control);
}

/* A data loop's thread ends (any thread). */
static void
loop_exited(struct gw_loop *l)
{
    (void)l;
    evgroup_loop_done(&group);
}

static void
on_force(struct evgroup *g)
{
    (void)g;
    loop_force(&control); /* the admin clients go too */
}

static void
on_drain_poll(uv_timer_t *t)
{
    maybe_stop(t->data);
}

static void
reload(void)
{
    struct buf       errors;
    struct gw_table *t;

    buf_init(&errors, ERRORS_MAX);
    static_reload(gateway.web_dir); /* logged; the pages served stay on a failure */
    if (routes_load_file(gateway.routes_path, &errors) != ERR_OK) {
        log_error("SIGHUP: routes file %s not loaded: %s", gateway.routes_path, buf_data(&errors));
        gwevents_add("reload_failed", "SIGHUP: %s is invalid, the current table stays: %.512s",
                     gateway.routes_path, buf_data(&errors));
    } else {
        t = routes_acquire();
        upstream_servers_sync(t);
        routes_unref(t);
        health_sync();
        log_info("SIGHUP: routes reloaded from %s (version %llu)", gateway.routes_path,
                 (unsigned long long)routes_version());
    }
    buf_free(&errors);
}

static void
on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    reload();
}

/* The data loops were told to drain (evloop.c); the control loop's own part. */
static void
on_drain(struct evgroup *g)
{
    (void)g;
    health_stop();
    migration_flush(); /* a put during the drain is written at exit */
    loop_drain(&control);
    uv_timer_start(&drain_poll, on_drain_poll, 20, 20); /* health probes end on their own */
    maybe_stop(&control);
}

/* ---- startup ------------------------------------------------------------------------------- */

/* fds[0..n-1]: one SO_REUSEPORT socket per loop (evloop_listeners). */
static void
data_sockets(int *fds, int n)
{
    struct sockaddr_storage addr;
    socklen_t               len;

    if (net_parse_hostport(gateway.listen, 1, &addr, &len) != ERR_OK)
        die("SOUK_GATEWAY_LISTEN: invalid address \"%s\" (want host:port)", gateway.listen);
    if (evloop_listeners(&addr, &len, n, fds) != ERR_OK)
        die("cannot listen on %s: %s", gateway.listen, strerror(errno));
}

static int
admin_socket(void)
{
    struct sockaddr_storage addr;
    socklen_t               len;
    int                     fd, rc;

    if (net_parse_hostport(gateway.admin_listen, 1, &addr, &len) != ERR_OK)
        die("SOUK_GATEWAY_ADMIN_LISTEN: invalid address \"%s\"", gateway.admin_listen);
    if (!client_loopback(&addr))
        die("SOUK_GATEWAY_ADMIN_LISTEN: %s is not a loopback address", gateway.admin_listen);
    rc = net_listen_fd(&addr, len, 0, &fd);
    if (rc)
        die("cannot listen on %s: %s", gateway.admin_listen, strerror(errno));
    return fd;
}

static void
control_start(int admin_fd)
{
    if (loop_init(&control, -1, GW_ADMIN, admin_fd) != ERR_OK ||
        canary_rollback_init(&control.ev.uv) != ERR_OK)
        die("cannot start the control loop");
    control.on_exit = maybe_stop;
    uv_signal_init(&control.ev.uv, &sig_hup);
    uv_timer_init(&control.ev.uv, &drain_poll);
    drain_poll.data = &control;
    group.drain_ms = cfg.drain_ms;
    group.on_drain = on_drain;
    group.on_force = on_force;
    group.on_exited = on_exited;
    if (evgroup_init(&group, &control.ev.uv) != ERR_OK ||
        uv_signal_start(&sig_hup, on_sighup, SIGHUP) != 0)
        die("cannot install signal handlers");
    health_start(&control.ev.uv);
    if (series_start(&control.ev.uv) != ERR_OK)
        die("cannot start the stats tick");
    migration_timer_init(&control.ev.uv);
}

static void
loops_start(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int *fds, i;

    nloops = gateway.loops > 0 ? (int)gateway.loops : cores > 0 ? (int)cores : 1;
    loops = calloc((size_t)nloops, sizeof(*loops));
    fds = calloc((size_t)nloops, sizeof(*fds));
    group.loops = calloc((size_t)nloops, sizeof(*group.loops));
    if (loops == NULL || fds == NULL || group.loops == NULL)
        die("out of memory");
    data_sockets(fds, nloops);
    for (i = 0; i < nloops; i++) {
        if (loop_init(&loops[i], i, GW_DATA, fds[i]) != ERR_OK)
            die("cannot start loop %d", i);
        loops[i].thread_done = loop_exited;
        loops[i].max_clients = (int)(gateway.max_conns / nloops) + 1;
        group.loops[i] = &loops[i].ev;
    }
    group.n = nloops;
    free(fds);
    for (i = 0; i < nloops; i++)
        if (evloop_start(&loops[i].ev) != ERR_OK)
            die("cannot start loop thread %d", i);
}

/* The debug-friendly exit: everything freed, so ASan and valgrind stay quiet. */
static void
shutdown_all(void)
{
    int i;

    migration_flush(); /* a put after the drain began; before its loop is freed */
    for (i = 0; i < nloops; i++) {
        evloop_join(&loops[i].ev);
        loop_free(&loops[i]);
    }
    loop_free(&control);
    evgroup_free(&group);
    free(loops);
    free(group.loops);
    routes_shutdown();
    static_shutdown();
    breaker_reset();
    ratelimit_reset();
    canary_reset();
    shadow_reset();
    gwevents_reset();
    upstream_servers_free();
    stats_free_all();
    migration_free();
}

int
main(int argc, char **argv)
{
    const char *why = NULL;

    env_aliases();
    cfg_load(gateway_vars, &cfg, argc, argv, gateway_help);
    gateway = cfg.g;
    log_open("gateway", gateway.log_level);
    signal(SIGPIPE, SIG_IGN);
    if (auth_init() != ERR_OK)
        die("cannot initialise libsodium");
    /* The edge trusts any token this secret signs: on a public listener the
     * dev default would let anyone mint an admin token. */
    if (auth_secret_check(gateway.jwt_secret, gateway.listen) != ERR_OK)
        die("SOUK_JWT_SECRET must be set to 32 or more random bytes when SOUK_GATEWAY_LISTEN "
            "(%s) is not a loopback address (the dev default lets anyone mint admin tokens)",
            gateway.listen);
    version_metric_register();
    if (syncwatch_config(gateway.sync, &why) != ERR_OK)
        die("%s", why);
    routes_start();
    migration_start(gateway.routes_path);
    static_reload(gateway.web_dir); /* logged; a shop without pages still routes its API */
    control_start(admin_socket());
    loops_start();
    log_info("gateway up: listen=%s admin=%s loops=%d routes=%s version=%llu", gateway.listen,
             gateway.admin_listen, nloops, gateway.routes_path,
             (unsigned long long)routes_version());
    if (syncwatch_start() != ERR_OK)
        die("cannot start the sync watcher");
    uv_run(&control.ev.uv, UV_RUN_DEFAULT);
    syncwatch_stop();
    shutdown_all();
    log_info("gateway stopped");
    return 0;
}
