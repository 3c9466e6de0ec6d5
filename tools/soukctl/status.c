/*
 * status.c - `soukctl status`: every process of the local shop in one table,
 * found the way `make run` starts them: addresses from the same SOUK_*
 * variables and defaults (scripts/run-local.sh, scripts/start-local.sh),
 * pids from $SOUK_VAR_DIR/run. A souk process is asked GET /health, /ready
 * and /metrics, the gateway's admin API gives each route's mode; a server
 * (MariaDB, ...) only has to accept a TCP connection. The live migration
 * (docs/migration.md): a row per souk-sync process the playbook runs, and
 * the migrate database's table as `soukctl migrate status` prints it (the
 * same code, migrate_steps.c). Read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "httpc.h"
#include "migrate.h"
#include "net.h"
#include "soukctl.h"
#include "str.h"

static const char status_usage[] =
    "usage: soukctl status [--var DIR] [--timeout MS] [PROCESS...]\n"
    "\n"
    "One line per process of the local shop (default: all of them): address, pid,\n"
    "up or down, what GET /ready reports (each dependency check, the outbox\n"
    "backlog), the version from /metrics; then the gateway's routes with their\n"
    "mode, from its admin API; then the live migration: a line per souk-sync\n"
    "process running under supervise.sh (sync-DOMAIN, reverse-DOMAIN) and each\n"
    "domain's migration step and sync lag, as soukctl migrate status shows them\n"
    "(SOUK_MIGRATE_DB, default the migrate database on SOUK_PG_PORT). Exits 0\n"
    "when every process listed is up and ready, 1 when one is not (or, for\n"
    "status migrate, when the migrate database does not answer), 2 on a bad\n"
    "command line.\n"
    "\n"
    "  PROCESS       mariadb postgres redis rabbitmq monolith users catalog search\n"
    "                reviews cart orders inventory payments history reporting gateway, and\n"
    "                migrate (the souk-sync processes and the migration steps)\n"
    "  --var DIR     where make run keeps run/*.pid (default $SOUK_VAR_DIR, else\n"
    "                <repo>/var)\n"
    "  --timeout MS  per HTTP request and connect (default 2000)\n"
    "\n"
    "Addresses, as make run takes them: SOUK_MARIADB_PORT (53306), SOUK_PG_PORT\n"
    "(55432), SOUK_REDIS_PORT (56379), SOUK_RABBIT_PORT (55672),\n"
    "SOUK_<NAME>_LISTEN for monolith (127.0.0.1:7000), users (:7101), catalog\n"
    "(:7102), search (:7103), reviews (:7104), cart (:7105), orders (:7106),\n"
    "inventory (:7107), payments (:7108), history (:7109), reporting (:7110) and gateway (:8080);\n"
    "SOUK_GATEWAY_ADMIN_LISTEN (127.0.0.1:8081) with SOUK_GATEWAY_ADMIN_TOKEN\n"
    "(souk-admin-dev).\n";

enum proc_kind {
    PROC_SERVER,  /* up = accepts TCP; pid in run/NAME.pid */
    PROC_APP,     /* a souk process: /health, /ready, /metrics; pid in run/app-NAME.pid */
    PROC_GATEWAY, /* an app, plus its route table from the admin API */
};

struct proc {
    const char    *name;
    enum proc_kind kind;
    const char    *env; /* SOUK_PG_PORT (a port) or SOUK_MONOLITH_LISTEN (host:port) */
    const char    *def;
};

static const struct proc procs[] = {
    {"mariadb", PROC_SERVER, "SOUK_MARIADB_PORT", "53306"},
    {"postgres", PROC_SERVER, "SOUK_PG_PORT", "55432"},
    {"redis", PROC_SERVER, "SOUK_REDIS_PORT", "56379"},
    {"rabbitmq", PROC_SERVER, "SOUK_RABBIT_PORT", "55672"},
    {"monolith", PROC_APP, "SOUK_MONOLITH_LISTEN", "127.0.0.1:7000"},
    {"users", PROC_APP, "SOUK_USERS_LISTEN", "127.0.0.1:7101"},
    {"catalog", PROC_APP, "SOUK_CATALOG_LISTEN", "127.0.0.1:7102"},
    {"search", PROC_APP, "SOUK_SEARCH_LISTEN", "127.0.0.1:7103"},
    {"reviews", PROC_APP, "SOUK_REVIEWS_LISTEN", "127.0.0.1:7104"},
    {"cart", PROC_APP, "SOUK_CART_LISTEN", "127.0.0.1:7105"},
    {"orders", PROC_APP, "SOUK_ORDERS_LISTEN", "127.0.0.1:7106"},
    {"inventory", PROC_APP, "SOUK_INVENTORY_LISTEN", "127.0.0.1:7107"},
    {"payments", PROC_APP, "SOUK_PAYMENTS_LISTEN", "127.0.0.1:7108"},
    {"history", PROC_APP, "SOUK_HISTORY_LISTEN", "127.0.0.1:7109"},
    {"reporting", PROC_APP, "SOUK_REPORTING_LISTEN", "127.0.0.1:7110"},
    {"gateway", PROC_GATEWAY, "SOUK_GATEWAY_LISTEN", "127.0.0.1:8080"},
    {NULL, PROC_SERVER, NULL, NULL},
};

/* One line of the table. */
struct row {
    const struct proc *p;
    const char        *addr;    /* host:port */
    const char        *pid;     /* of a live process, or "-" */
    const char        *ready;   /* "ready", "not ready" or "-" */
    const char        *version; /* or "-" */
    struct buf         detail;  /* what /ready and /metrics say, or why it is down */
    int                up;
};

struct status {
    struct ctl   *ctl;
    struct arena *a;
    struct httpc *hc;
    const char   *var;
    int           timeout_ms;
    int           migrate; /* the souk-sync lines and the migration table */
};

#define NPROCS (sizeof(procs) / sizeof(procs[0]) - 1)

static const char *
or_dash(const char *z)
{
    return z != NULL ? z : "-";
}

static const char *
env_or(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : def;
}

/* The pid in file path when that process runs, else NULL. A stale file's pid
 * may have been reused, so this only says "something runs with that pid";
 * up/down comes from the process answering on its address. */
static const char *
live_pid(struct status *st, const char *path)
{
    char   *text;
    size_t  len;
    int64_t pid;

    if (access(path, F_OK) != 0 || /* absent: not started, not an error to report */
        common_read_file(path, st->a, &text, &len) != ERR_OK)
        return NULL;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    if (str_to_i64((struct str){text, len}, 1, INT32_MAX, &pid) != ERR_OK ||
        (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return NULL;
    return arena_printf(st->a, "%lld", (long long)pid);
}

/* 1 when addr accepts a TCP connection within the timeout. */
static int
tcp_answers(const char *addr, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t               len;
    struct pollfd           pfd;
    int                     fd, err = 0, ok = 0;
    socklen_t               elen = sizeof(err);

    if (net_parse_hostport(addr, 0, &ss, &len) != ERR_OK)
        return 0;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        ok = poll(&pfd, 1, timeout_ms) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
    }
    close(fd);
    return ok;
}

/* GET http://addr/path: the response, or NULL with why in *why. */
static struct httpc_resp *
get(struct status *st, const char *addr, const char *path, const char *auth, const char **why)
{
    struct httpc_resp *res = NULL;
    const char        *url = arena_printf(st->a, "http://%s%s", addr, path);
    int                rc;

    rc = auth != NULL ? httpc_get_auth(st->hc, st->a, url, st->timeout_ms, auth, &res)
                      : httpc_get(st->hc, st->a, url, st->timeout_ms, &res);
    if (rc != ERR_OK) {
        *why = arena_printf(st->a, "%s", httpc_error(st->hc));
        return NULL;
    }
    return res;
}

/* The value of the first sample line "name..." in Prometheus text, e.g.
 * metric(text, "souk_build_info{version=\"") gives what follows the prefix. */
static const char *
metric_after(struct status *st, const char *text, const char *prefix, const char *stop)
{
    const char *p = text;
    size_t      n = strlen(prefix);

    for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
        if (strncmp(p, prefix, n) == 0)
            return arena_strndup(st->a, p + n, strcspn(p + n, stop));
    }
    return NULL;
}

/* /ready's checks ({"checks":{"postgresql":"ok"}}) or, when not ready, the
 * problem's detail ("failing checks: postgresql"). */
static void
ready_detail(struct row *r, const struct httpc_resp *res)
{
    json_t     *j = json_loadb(res->body, res->len, 0, NULL), *v;
    const char *k;

    if (res->status == 200) {
        json_object_foreach(json_object_get(j, "checks"), k, v)
        {
            buf_printf(&r->detail, "%s%s=%s", buf_len(&r->detail) ? " " : "", k,
                       json_is_string(v) ? json_string_value(v) : "?");
        }
    } else if (json_is_string(json_object_get(j, "detail"))) {
        buf_printf(&r->detail, "%s%s", buf_len(&r->detail) ? " " : "",
                   json_string_value(json_object_get(j, "detail")));
    } else {
        buf_printf(&r->detail, "%s/ready answered %d", buf_len(&r->detail) ? " " : "", res->status);
    }
    json_decref(j);
}

static void
probe_app(struct status *st, struct row *r)
{
    struct httpc_resp *res;
    const char        *why = NULL, *v;

    res = get(st, r->addr, "/health", NULL, &why);
    if (res == NULL || res->status != 200) {
        buf_printf(&r->detail, "/health: %s",
                   res != NULL ? arena_printf(st->a, "status %d", res->status) : why);
        return;
    }
    r->up = 1;
    res = get(st, r->addr, "/ready", NULL, &why);
    if (res != NULL) {
        r->ready = res->status == 200 ? "ready" : "not ready";
        ready_detail(r, res);
    } else {
        r->ready = "not ready";
        buf_printf(&r->detail, "/ready: %s", why);
    }
    /* The gateway serves its metrics on the admin listener only. */
    res = get(st,
              r->p->kind == PROC_GATEWAY ? env_or("SOUK_GATEWAY_ADMIN_LISTEN", "127.0.0.1:8081")
                                         : r->addr,
              "/metrics", NULL, &why);
    if (res == NULL || res->status != 200)
        return;
    v = metric_after(st, res->body, "souk_build_info{version=\"", "\"");
    if (v != NULL)
        r->version = v;
    v = metric_after(st, res->body, "souk_outbox_backlog ", "\n");
    if (v != NULL)
        buf_printf(&r->detail, "%sbacklog=%s", buf_len(&r->detail) ? " " : "", v);
}

static void
probe(struct status *st, struct row *r)
{
    const struct proc *p = r->p;
    const char        *v = p->env != NULL ? env_or(p->env, p->def) : p->def, *pidfile, *sup;

    r->addr = p->kind == PROC_SERVER ? arena_printf(st->a, "127.0.0.1:%s", v) : v;
    r->ready = r->version = r->pid = "-";
    pidfile = arena_printf(st->a, "%s/run/%s%s.pid", st->var, p->kind == PROC_SERVER ? "" : "app-",
                           p->name);
    v = live_pid(st, pidfile);
    if (v != NULL)
        r->pid = v;
    if (p->kind == PROC_SERVER) {
        r->up = tcp_answers(r->addr, st->timeout_ms);
        if (!r->up)
            buf_puts(&r->detail, "no connection");
    } else {
        probe_app(st, r);
    }
    if (r->up)
        return;
    /* Why it is down, as far as the pid files tell. */
    sup = p->kind == PROC_SERVER
              ? NULL
              : live_pid(st, arena_printf(st->a, "%s/run/super-%s.pid", st->var, p->name));
    if (sup != NULL)
        buf_printf(&r->detail, "; its supervisor (pid %s) restarts it", sup);
    else if (v == NULL)
        buf_puts(&r->detail, "; not running");
}

/* The gateway's routes as "  name  mode  legacy -> new" lines. */
static void
print_routes(struct status *st, FILE *out)
{
    const char        *admin = env_or("SOUK_GATEWAY_ADMIN_LISTEN", "127.0.0.1:8081");
    const char        *token = env_or("SOUK_GATEWAY_ADMIN_TOKEN", "souk-admin-dev");
    const char        *why = NULL, *mode;
    struct httpc_resp *res;
    json_t            *doc, *rt;
    size_t             i;
    char               m[32];

    res = get(st, admin, "/routes", arena_printf(st->a, "Bearer %s", token), &why);
    if (res == NULL || res->status != 200) {
        fprintf(out, "\ngateway routes: the admin API on %s did not answer: %s\n", admin,
                res != NULL ? arena_printf(st->a, "status %d", res->status) : why);
        return;
    }
    doc = json_loadb(res->body, res->len, 0, NULL);
    fprintf(out, "\ngateway routes (admin API %s):\n", admin);
    fprintf(out, "  %-16s %-12s %s\n", "ROUTE", "MODE", "LEGACY -> NEW");
    json_array_foreach(json_object_get(doc, "routes"), i, rt)
    {
        mode = json_string_value(json_object_get(rt, "mode"));
        mode = mode != NULL ? mode : "legacy"; /* the file's default */
        if (strcmp(mode, "canary") == 0)
            snprintf(m, sizeof(m), "canary %lld%%",
                     (long long)json_integer_value(json_object_get(rt, "canary_percent")));
        else
            snprintf(m, sizeof(m), "%s", mode);
        fprintf(out, "  %-16s %-12s %s -> %s\n",
                or_dash(json_string_value(json_object_get(rt, "name"))), m,
                or_dash(json_string_value(json_object_get(rt, "legacy"))),
                or_dash(json_string_value(json_object_get(rt, "new"))));
    }
    json_decref(doc);
}

/* Probe p and print its line; 1 when it is down or not ready (*up: it
 * answers). */
static int
show(struct status *st, const struct proc *p, int *up)
{
    struct row r;
    int        bad;

    memset(&r, 0, sizeof(r));
    r.p = p;
    buf_init(&r.detail, 4096);
    probe(st, &r);
    printf("%-9s %-21s %-8s %-5s %-10s %-16s %s\n", p->name, r.addr, r.pid, r.up ? "up" : "DOWN",
           r.ready, r.version, buf_len(&r.detail) ? buf_data(&r.detail) : "");
    fflush(stdout); /* a line as soon as known: a slow process does not hide the others */
    bad = !r.up || (p->kind != PROC_SERVER && strcmp(r.ready, "ready") != 0);
    *up = r.up;
    buf_free(&r.detail);
    return bad;
}

/* The souk-sync processes the playbook runs under supervise.sh (its
 * run/super-sync-DOMAIN.pid, run/super-reverse-DOMAIN.pid), each probed like
 * any souk process at the address the playbook gives it. 1 when one is not
 * up and ready. */
static int
show_syncs(struct status *st, struct mig *m)
{
    static const char *const kinds[] = {"sync", "reverse"};
    struct proc             *p;
    const char              *name;
    int                      bad = 0, up, k;

    for (m->d = mig_domains; m->d->name != NULL; m->d++) {
        for (k = 0; k < 2; k++) {
            name = arena_printf(st->a, "%s-%s", kinds[k], m->d->name);
            if (live_pid(st, arena_printf(st->a, "%s/run/super-%s.pid", st->var, name)) == NULL)
                continue; /* not started (or stopped) by the playbook */
            p = arena_alloc(st->a, sizeof(*p));
            *p = (struct proc){name, PROC_APP, NULL, arena_strdup(st->a, mig_sync_listen(m, k))};
            bad |= show(st, p, &up);
        }
    }
    m->d = NULL;
    return bad;
}

static const struct proc *
find_proc(const char *name)
{
    const struct proc *p;

    for (p = procs; p->name != NULL; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static int
parse_args(struct status *st, int argc, char **argv, const struct proc **want, int *nwant)
{
    int64_t v;
    int     i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--var") == 0 && i + 1 < argc) {
            st->var = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (common_int_opt("--timeout", argv[++i], 1, 60000, &v) != ERR_OK)
                return CTL_EXIT_USAGE;
            st->timeout_ms = (int)v;
        } else if (strcmp(argv[i], "migrate") == 0) {
            st->migrate = 1;
        } else if (argv[i][0] != '-' && find_proc(argv[i]) != NULL && *nwant < (int)NPROCS) {
            want[(*nwant)++] = find_proc(argv[i]);
        } else {
            common_fail("status: unknown %s \"%s\"", argv[i][0] == '-' ? "option" : "process",
                        argv[i]);
            fputs(status_usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    return CTL_EXIT_OK;
}

int
status_main(struct ctl *ctl, int argc, char **argv)
{
    const struct proc *want[NPROCS];
    struct status      st = {ctl, NULL, NULL, NULL, 2000, 0};
    struct mig         m;
    int                nwant = 0, i, rc, bad = 0, gateway = 0, up, only_migrate, asked;

    if (common_wants_help(argc, argv)) {
        fputs(status_usage, stdout);
        return CTL_EXIT_OK;
    }
    st.var = env_or("SOUK_VAR_DIR", NULL);
    rc = parse_args(&st, argc, argv, want, &nwant);
    if (rc != CTL_EXIT_OK)
        return rc;
    asked = st.migrate;
    only_migrate = asked && nwant == 0;
    st.migrate |= nwant == 0; /* everything: the migration too */
    for (i = 0; nwant == 0 && !only_migrate && procs[i].name != NULL; i++)
        want[i] = &procs[i];
    nwant = nwant == 0 ? i : nwant;
    st.a = arena_create();
    st.hc = httpc_new(8 << 20); /* /metrics of a busy gateway runs to a few hundred KiB */
    if (st.var == NULL)
        st.var = arena_printf(st.a, "%s/var", ctl->root);
    printf("%-9s %-21s %-8s %-5s %-10s %-16s %s\n", "PROCESS", "ADDRESS", "PID", "STATE", "READY",
           "VERSION", "DETAILS");
    for (i = 0; i < nwant; i++) {
        bad |= show(&st, want[i], &up);
        gateway |= want[i]->kind == PROC_GATEWAY && up;
    }
    /* The migrate database where make run makes it (SOUK_PG_PORT), as the
     * other addresses here. */
    if (env_or("SOUK_MIGRATE_DB", NULL) == NULL)
        ctl->cfg.migrate_db =
            arena_printf(st.a, "postgresql://migrate:souk-dev@127.0.0.1:%s/migrate",
                         env_or("SOUK_PG_PORT", "55432"));
    if (st.migrate && mig_open(&m, ctl) != ERR_OK) {
        common_fail("status: SOUK_MIGRATE_DB is not a postgresql:// dsn");
        mig_close(&m);
        bad = 1;
        st.migrate = 0;
    }
    if (st.migrate)
        bad |= show_syncs(&st, &m);
    if (gateway)
        print_routes(&st, stdout);
    if (st.migrate) {
        printf("\nmigrations (soukctl migrate status):\n");
        fflush(stdout);
        /* It says why on stderr; only `status migrate` fails for it (the
         * migration is not one of the shop's processes). */
        if (mig_status_table(&m, NULL, stdout) != ERR_OK && asked)
            bad = 1;
        mig_close(&m);
    }
    httpc_free(st.hc);
    arena_destroy(st.a);
    return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
