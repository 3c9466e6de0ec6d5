/*
 * migrate_ops.c - what the playbook's steps drive outside soukctl: the
 * gateway's admin API (PATCH /routes: modes, canary share, the hold), the
 * domain's sync processes (started under scripts/supervise.sh, as `make run`
 * starts every process, so a crash is restarted and `make stop` stops them),
 * and their /metrics.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "migrate.h"
#include "migrate/map/map.h"
#include "migrate/reverse/reverse.h"
#include "mq.h"
#include "str.h"

#define STOP_WAIT_MS 15000

/* The two sync processes of a domain: souk-sync's own arguments. */
static const struct sync_kind {
    const char *what;       /* supervise.sh's NAME is "<what>-<domain>" */
    const char *column;     /* its address in migration_state */
    const char *listen_env; /* SOUK_SYNC_<DOMAIN>_LISTEN / SOUK_REVERSE_<DOMAIN>_LISTEN */
    const char *args[3];    /* before "--domain DOMAIN" */
} sync_kinds[2] = {
    {"sync", "sync_listen", "SOUK_SYNC_%s_LISTEN", {NULL}},
    {"reverse",
     "reverse_listen",
     "SOUK_REVERSE_%s_LISTEN",
     {"--reverse", NULL}}, /* migrate/reverse */
};

/* ---- the gateway ------------------------------------------------------------------ */

int
mig_gateway_patch(struct mig *m, json_t *changes, int64_t *held_ms)
{
    json_t            *body = json_pack("{s:o}", "routes", changes), *j, *v;
    char              *text = json_dumps(body, JSON_COMPACT);
    struct httpc_resp *res;
    const char        *url = arena_printf(m->a, "http://%s/routes", m->gw_admin), *key;
    int                rc;

    json_decref(body);
    if (text == NULL)
        return ERR_INTERNAL;
    arena_defer(m->a, free, text);
    rc = httpc_send(m->hc, m->a, "PATCH", url, m->timeout_ms, m->gw_auth, text, &res);
    if (rc) {
        common_fail("gateway admin %s: %s", url, httpc_error(m->hc));
        return rc;
    }
    if (res->status != 200) {
        common_fail("gateway admin PATCH /routes %s: %d %.*s", text, res->status, (int)res->len,
                    res->body);
        return ERR_UPSTREAM;
    }
    if (held_ms == NULL)
        return ERR_OK;
    *held_ms = -1;
    j = json_loads(res->body, 0, NULL);
    json_object_foreach(json_object_get(j, "held_ms"), key, v)
    {
        if (json_integer_value(v) > *held_ms)
            *held_ms = json_integer_value(v);
    }
    json_decref(j);
    return ERR_OK;
}

/* The writes of the domain's routes in flight at the gateway, or -1. */
static int64_t
writes_in_flight(struct mig *m)
{
    const char        *url = arena_printf(m->a, "http://%s/holds", m->gw_admin);
    struct httpc_resp *res = NULL;
    json_t            *j, *routes;
    int64_t            n = 0;
    int                i;

    if (httpc_send(m->hc, m->a, "GET", url, m->timeout_ms, m->gw_auth, NULL, &res) != ERR_OK ||
        res->status != 200) {
        common_fail("gateway admin GET %s: %s", url,
                    res != NULL ? "not 200 (a gateway without /holds?)" : httpc_error(m->hc));
        return -1;
    }
    j = json_loadb(res->body, res->len, 0, NULL);
    routes = json_object_get(j, "routes");
    for (i = 0; m->d->routes[i] != NULL && n >= 0; i++) {
        json_t *w = json_object_get(json_object_get(routes, m->d->routes[i]), "writes_in_flight");

        n = json_is_integer(w) ? n + json_integer_value(w) : -1;
    }
    json_decref(j);
    if (n < 0)
        common_fail("gateway admin GET %s: no writes_in_flight for every route of %s", url,
                    m->d->name);
    return n;
}

int
mig_gateway_drained(struct mig *m, double timeout_s)
{
    double  t0 = common_now();
    int64_t n;

    while ((n = writes_in_flight(m)) > 0) {
        if (common_now() - t0 > timeout_s) {
            common_fail("%s: %lld writes sent before the hold are still in flight after %.0f s",
                        m->d->name, (long long)n, timeout_s);
            return ERR_TIMEOUT;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    if (n < 0)
        return ERR_UPSTREAM;
    return ERR_OK;
}

int
mig_routes_mode(struct mig *m, const char *mode, int percent)
{
    json_t *changes = json_object(), *ch;
    int     i;

    for (i = 0; m->d->routes[i] != NULL; i++) {
        ch = json_pack("{s:s}", "mode", mode);
        if (percent >= 0)
            json_object_set_new(ch, "canary_percent", json_integer(percent));
        json_object_set_new(changes, m->d->routes[i], ch);
    }
    return mig_gateway_patch(m, changes, NULL);
}

/* ---- the sync processes ------------------------------------------------------------- */

/* A small file of /proc (whose size stat reports as 0) into a, NUL-terminated; NULL if
 * it cannot be read. *n excludes the NUL. */
static char *
proc_read(struct mig *m, const char *path, size_t *n)
{
    char   *p = arena_alloc(m->a, 4097);
    int     fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t k;

    *n = 0;
    if (fd < 0)
        return NULL;
    while (*n < 4096) {
        k = read(fd, p + *n, 4096 - *n);
        if (k <= 0)
            break;
        *n += (size_t)k;
    }
    close(fd);
    p[*n] = '\0';
    return p;
}

const char *
mig_sync_listen(struct mig *m, int reverse)
{
    const struct sync_kind *k = &sync_kinds[reverse];
    char                    env[64], *p;
    const char             *v;

    snprintf(env, sizeof(env), k->listen_env, m->d->name);
    for (p = env; *p != '\0'; p++)
        *p = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
    v = getenv(env);
    if (v != NULL && *v != '\0')
        return v;
    return reverse ? m->d->reverse_listen : m->d->sync_listen;
}

/* The supervisor's pid of what-domain when it runs, else 0. A pid file
 * left by a dead one, or a pid reused by another program, is not it. */
static pid_t
supervisor(struct mig *m, const struct sync_kind *k)
{
    const char *path = arena_printf(m->a, "%s/run/super-%s-%s.pid", m->var, k->what, m->d->name);
    char       *text, *cmd;
    size_t      n;
    int64_t     pid;

    if (access(path, F_OK) != 0 || common_read_file(path, m->a, &text, &n) != ERR_OK)
        return 0;
    text[strcspn(text, "\n")] = '\0';
    if (str_to_i64((struct str){text, strlen(text)}, 1, INT32_MAX, &pid) != ERR_OK)
        return 0;
    cmd = proc_read(m, arena_printf(m->a, "/proc/%lld/cmdline", (long long)pid), &n);
    if (cmd == NULL || memmem(cmd, n, "supervise.sh", 12) == NULL)
        return 0;
    return (pid_t)pid;
}

int
mig_sync_running(struct mig *m, int reverse)
{
    return supervisor(m, &sync_kinds[reverse != 0]) != 0;
}

/* This binary's directory, where souk-sync is built too. */
static const char *
bin_dir(struct mig *m)
{
    char    path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    char   *slash;

    if (n <= 0)
        return ".";
    path[n] = '\0';
    slash = strrchr(path, '/');
    if (slash != NULL)
        *slash = '\0';
    return arena_strdup(m->a, path);
}

static int
start(struct mig *m, const struct sync_kind *k, const char *listen, const char *gtid)
{
    const char *name = arena_printf(m->a, "%s-%s", k->what, m->d->name);
    const char *script = arena_printf(m->a, "%s/scripts/supervise.sh", m->ctl->root);
    const char *sync = arena_printf(m->a, "%s/souk-sync", bin_dir(m));
    const char *log = arena_printf(m->a, "%s/log/supervise.log", m->var);
    const char *argv[12];
    int         n = 0, i, fd;
    pid_t       pid;

    argv[n++] = script;
    argv[n++] = name;
    argv[n++] = "env";
    argv[n++] = arena_printf(m->a, "SOUK_LISTEN=%s", listen);
    if (gtid != NULL) /* used while the service's sync_position has no row */
        argv[n++] = arena_printf(m->a, "SOUK_SYNC_START_GTID=%s", gtid);
    argv[n++] = sync;
    for (i = 0; k->args[i] != NULL; i++)
        argv[n++] = k->args[i];
    argv[n++] = "--domain";
    argv[n++] = m->d->name;
    argv[n] = NULL;
    mkdir(arena_printf(m->a, "%s/log", m->var), 0755);
    pid = fork();
    if (pid < 0)
        return ERR_INTERNAL;
    if (pid == 0) { /* a session of its own, like make run's: it outlives soukctl */
        setsid();
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            dup2(fd, 0);
        if (fork() == 0) {
            setenv("SOUK_VAR_DIR", m->var, 1);
            execv(script, (char *const *)argv);
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return ERR_OK;
}

/* Running: signalable and not a zombie (an exited supervisor whose parent,
 * init in a container, has not reaped it yet). */
static int
alive(struct mig *m, pid_t pid)
{
    char  *stat, *paren;
    size_t n;

    if (kill(pid, 0) != 0 && errno != EPERM)
        return 0;
    stat = proc_read(m, arena_printf(m->a, "/proc/%d/stat", (int)pid), &n);
    if (stat == NULL)
        return 0;
    paren = strrchr(stat, ')');
    return paren == NULL || paren[1] == '\0' || paren[2] != 'Z';
}

int
mig_sync_run(struct mig *m, int reverse, int on)
{
    const struct sync_kind *k = &sync_kinds[reverse];
    const char             *listen = mig_sync_listen(m, reverse);
    pid_t                   pid = supervisor(m, k);
    double                  t0 = common_now();
    struct mig_state        s;
    int                     found, rc;

    if (on) {
        rc = mig_state_get(m, m->d->name, &s, &found);
        if (!rc && !pid)
            rc = start(m, k, listen,
                       !reverse && s.start_gtid != NULL && *s.start_gtid ? s.start_gtid : NULL);
        if (!rc)
            rc = mig_state_set(m, k->column, listen);
        buf_printf(&m->detail, "%s %s on %s; ", k->what, pid ? "already running" : "started",
                   listen);
        return rc;
    }
    if (pid == 0) {
        buf_printf(&m->detail, "%s was not running; ", k->what);
        return ERR_OK;
    }
    kill(pid, SIGTERM); /* supervise.sh stops its child, waits, exits */
    while (alive(m, pid) && common_now() - t0 < STOP_WAIT_MS / 1000.0)
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    if (alive(m, pid)) {
        common_fail("%s-%s (supervisor pid %d) did not stop in %d s", k->what, m->d->name, (int)pid,
                    STOP_WAIT_MS / 1000);
        return ERR_TIMEOUT;
    }
    buf_printf(&m->detail, "%s stopped; ", k->what);
    return mig_state_set(m, k->column, NULL); /* status: "-", not "down" */
}

void
mig_reverse_rebind(struct mig *m)
{
    if (mig_sync_running(m, 1) &&
        (mig_sync_run(m, 1, 0) != ERR_OK || mig_sync_run(m, 1, 1) != ERR_OK))
        common_fail("%s: the reverse sync could not be restarted; its queue %s has no "
                    "bindings until it is (soukctl migrate %s reverse)",
                    m->d->name, arena_printf(m->a, REVERSE_QUEUE_FMT, m->d->name), m->d->name);
}

int
mig_reverse_fence(struct mig *m)
{
    const struct map_domain *map = map_find(m->d->name);
    int                      rc;

    if (map == NULL || map->reverse == NULL)
        return ERR_OK;
    rc = mq_queue_unbind(m->ctl->cfg.amqp_url, arena_printf(m->a, REVERSE_QUEUE_FMT, m->d->name),
                         map->reverse->events);
    if (rc)
        common_fail("%s: the broker (SOUK_AMQP_URL) did not unbind the reverse queue", m->d->name);
    return rc;
}

/* The reverse queue's events published before the unbind are written back
 * (they are the service's writes before the rollback's fence); only then is
 * the queue deleted. Left bound, it would keep every event the service
 * publishes after the rollback for the next cutover, whose reverse sync
 * would write them over what the monolith took meanwhile. Empty means two
 * readings in a row: the message the reverse sync holds is in neither
 * queue, and goes to the retry queue if its handling fails. */
int
mig_reverse_end(struct mig *m, int drain, double timeout_s)
{
    const struct map_domain *map = map_find(m->d->name);
    const char              *url = m->ctl->cfg.amqp_url;
    const char              *queue = arena_printf(m->a, REVERSE_QUEUE_FMT, m->d->name);
    double                   t0 = common_now();
    int64_t                  n = 0;
    int                      running = mig_sync_running(m, 1), empty = 0, rc;

    if (map == NULL || map->reverse == NULL)
        return mig_sync_run(m, 1, 0);
    drain = drain && running;
    rc = mig_reverse_fence(m);
    if (rc) {
        mig_reverse_rebind(m);
        return rc;
    }
    while (drain && empty < 2) {
        rc = mq_queue_waiting(url, queue, &n);
        if (rc || common_now() - t0 > timeout_s)
            break;
        empty = n == 0 ? empty + 1 : 0;
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
    if (rc || (drain && empty < 2)) {
        if (rc)
            common_fail("%s: the broker (SOUK_AMQP_URL) did not answer about %s", m->d->name,
                        queue);
        else
            common_fail("%s: %lld events still wait in %s after %.0f s; the reverse sync keeps "
                        "running (its log: %s/log/reverse-%s.log)",
                        m->d->name, (long long)n, queue, timeout_s, m->var, m->d->name);
        mig_reverse_rebind(m);
        return rc ? rc : ERR_TIMEOUT;
    }
    rc = mig_sync_run(m, 1, 0);
    if (!rc)
        rc = mq_queue_delete(url, queue, &n);
    if (!rc)
        buf_printf(&m->detail, "queue %s deleted (%lld events in it%s); ", queue, (long long)n,
                   n > 0 && drain ? ", left when the reverse sync stopped: verify" : "");
    return rc;
}

/* The reverse sync is up when /ready says it consumes: its queue is declared
 * and bound only then, and a service event published before that is routed
 * nowhere (a cutover flipped on /health alone, and the reverse sync
 * sometimes never saw the service's first writes). */
int
mig_sync_wait_up(struct mig *m, int reverse, double timeout_s)
{
    const char *listen = mig_sync_listen(m, reverse);
    const char *url = arena_printf(m->a, "http://%s/%s", listen, reverse ? "ready" : "health");
    struct httpc_resp *res;
    double             t0 = common_now();

    while (httpc_get(m->hc, m->a, url, 1000, &res) != ERR_OK || res->status != 200) {
        if (common_now() - t0 > timeout_s) {
            common_fail("%s: the %s sync on %s is not up after %.0f s (its log: %s/log/%s-%s.log)",
                        m->d->name, sync_kinds[reverse].what, listen, timeout_s, m->var,
                        sync_kinds[reverse].what, m->d->name);
            return ERR_UNAVAILABLE;
        }
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
    return ERR_OK;
}

int
mig_sync_metric(struct mig *m, const char *listen, const char *name, double *out)
{
    struct httpc_resp *res;
    const char        *p, *end, *line;
    size_t             n = strlen(name);
    char              *num_end;
    int                rc;

    rc = httpc_get(m->hc, m->a, arena_printf(m->a, "http://%s/metrics", listen), m->timeout_ms,
                   &res);
    if (rc || res->status != 200)
        return ERR_UNAVAILABLE;
    for (p = res->body, end = res->body + res->len; p < end; p = line + 1) {
        line = memchr(p, '\n', (size_t)(end - p));
        if (line == NULL)
            line = end;
        if ((size_t)(line - p) > n && memcmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            p = memchr(p, ' ', (size_t)(line - p));
            if (p == NULL)
                continue;
            *out = strtod(p + 1, &num_end);
            if (num_end != p + 1)
                return ERR_OK;
        }
    }
    return ERR_UNAVAILABLE;
}

/* ---- the cutover marker ------------------------------------------------------------ */

/* The monolith's marker table and souk-sync's record of the newest marker
 * it applied (migrate/README.md). */
static const char marker_insert[] = "INSERT INTO souk_migration_marker (domain, token, created_at)"
                                    " VALUES (?, ?, UTC_TIMESTAMP(3))";
static const char marker_applied[] =
    "SELECT 1 FROM sync_position WHERE domain = $1 AND marker = $2";

static const char *
uuid(struct arena *a)
{
    unsigned char b[16];

    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return arena_printf(a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                        b[12], b[13], b[14], b[15]);
}

int
mig_marker_through(struct mig *m, double timeout_s, int cutover)
{
    const struct ctl_target *t = common_target(m->d->name);
    const char              *token = uuid(m->a);
    struct mdb              *mono = mdb_new(m->ctl->cfg.monolith_db);
    struct db               *svc = t != NULL ? db_new(common_target_dsn(m->ctl, t), NULL) : NULL;
    struct db_rows          *rs;
    double                   t0;
    int                      rc;

    rc = mono == NULL || svc == NULL ? ERR_UNAVAILABLE : ERR_OK;
    if (!rc)
        rc = mdb_exec(mono, marker_insert,
                      (const struct mdb_arg[]){MDB_STR(m->d->name), MDB_STR(token)}, 2, NULL, NULL);
    if (rc) {
        if (cutover)
            common_fail("%s cutover: cannot write the marker into the monolith: %s", m->d->name,
                        err_title(rc));
        goto done;
    }
    if (cutover)
        rc = mig_state_set(m, "marker_token", token);
    for (t0 = common_now(); !rc; nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL)) {
        rc = db_exec_sql(svc, m->a, marker_applied, 2, (const char *const[]){m->d->name, token},
                         &rs);
        if (!rc && rs->nrows > 0)
            break;
        rc = ERR_OK; /* the service's database may blink: only the deadline ends the wait */
        if (common_now() - t0 > timeout_s) {
            if (cutover)
                common_fail("%s cutover: souk-sync did not apply the marker in %.0f s (is it "
                            "running? soukctl migrate status)",
                            m->d->name, timeout_s);
            rc = ERR_TIMEOUT;
        }
    }
    if (!rc && cutover)
        buf_printf(&m->detail, "marker %s applied after %.0f ms; ", token,
                   (common_now() - t0) * 1000);
done:
    mdb_free(mono);
    db_free(svc);
    return rc;
}
