/*
 * syncwatch.c - the migration's sync processes as the control room sees them
 * (GET /sync). SOUK_GATEWAY_SYNC names each domain's souk-sync
 * ("reviews=127.0.0.1:7301,users=127.0.0.1:7302"); a thread of its own reads
 * their /metrics every SYNC_EVERY_MS with lib/httpc's blocking client (never
 * a loop's time) and keeps the souk_sync_* values and SYNC_POINTS of history
 * for the lag chart. The gateway only reads what souk-sync already publishes:
 * the migration's record (steps, verify) stays soukctl's, in PostgreSQL.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "gw.h"
#include "httpc.h"
#include "log.h"

#define SYNC_MAX       16
#define SYNC_POINTS    120 /* at SYNC_EVERY_MS: four minutes */
#define SYNC_EVERY_MS  2000
#define SYNC_TIMEOUT   1000
#define SYNC_ERROR_MAX 256

/* The souk_sync_* gauges and counters kept (migrate/sync/sync.c names them). */
enum sync_value { SV_LAG_S, SV_LAG_EVENTS, SV_RATE, SV_APPLIED, SV_ERRORS, SV_REFUSED, SV_N };
static const char *const value_metric[SV_N] = {
    "souk_sync_lag_seconds",   "souk_sync_lag_events",   "souk_sync_applied_per_second",
    "souk_sync_applied_total", "souk_sync_errors_total", "souk_sync_refused",
};
static const char *const value_key[SV_N] = {
    "lag_seconds", "lag_events", "applied_per_second", "applied_total", "errors_total", "refused",
};

struct sync_watch {
    char   domain[64], address[128];
    int    up, seen; /* answered the last read; ever read */
    char   error[SYNC_ERROR_MAX];
    double v[SV_N];
    int    has[SV_N];
    time_t at[SYNC_POINTS];
    double lag[SYNC_POINTS], rate[SYNC_POINTS]; /* < 0: no answer that time */
    int    npoints, next;
};

static pthread_mutex_t   watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t    watch_wake = PTHREAD_COND_INITIALIZER;
static struct sync_watch watches[SYNC_MAX];
static int               nwatches, watch_stop, watch_running;
static pthread_t         watch_thread;

/* "domain=host:port,..." into watches; ERR_INVALID with why. */
int
syncwatch_config(const char *spec, const char **why)
{
    const char *p = spec, *end, *eq;

    for (nwatches = 0; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
        end = strchrnul(p, ',');
        eq = memchr(p, '=', (size_t)(end - p));
        if (nwatches == SYNC_MAX) {
            *why = "SOUK_GATEWAY_SYNC names more than 16 sync processes";
            return ERR_INVALID;
        }
        if (eq == NULL || eq == p || eq + 1 == end ||
            (size_t)(eq - p) >= sizeof(watches[0].domain) ||
            (size_t)(end - eq - 1) >= sizeof(watches[0].address) ||
            memchr(eq, ':', (size_t)(end - eq)) == NULL) {
            *why = "SOUK_GATEWAY_SYNC must be domain=host:port[,domain=host:port...]";
            return ERR_INVALID;
        }
        memset(&watches[nwatches], 0, sizeof(watches[0]));
        memcpy(watches[nwatches].domain, p, (size_t)(eq - p));
        memcpy(watches[nwatches].address, eq + 1, (size_t)(end - eq - 1));
        nwatches++;
    }
    return ERR_OK;
}

/* The value of a metric without labels in Prometheus text, or 0 (absent). */
static int
metric_value(const char *text, const char *name, double *v)
{
    size_t      n = strlen(name);
    const char *p;

    for (p = text; (p = strstr(p, name)) != NULL; p += n) {
        if ((p != text && p[-1] != '\n') || p[n] != ' ')
            continue; /* a longer name, a comment, or labels */
        *v = strtod(p + n + 1, NULL);
        return 1;
    }
    return 0;
}

/* Read one sync's /metrics (no lock held: it may take SYNC_TIMEOUT). */
static void
read_one(struct httpc *hc, const char *address, struct sync_watch *got)
{
    struct arena      *a = arena_create();
    struct httpc_resp *r = NULL;
    char               url[192];
    int                rc, i;

    snprintf(url, sizeof(url), "http://%s/metrics", address);
    rc = httpc_get(hc, a, url, SYNC_TIMEOUT, &r);
    if (rc != ERR_OK)
        snprintf(got->error, sizeof(got->error), "GET %s: %s", url, err_name(rc));
    else if (r->status != 200)
        snprintf(got->error, sizeof(got->error), "GET %s: status %d", url, r->status);
    else
        got->up = 1;
    for (i = 0; got->up && i < SV_N; i++)
        got->has[i] = metric_value(r->body, value_metric[i], &got->v[i]);
    arena_destroy(a);
}

static void
record(struct sync_watch *w, const struct sync_watch *got, time_t now)
{
    w->up = got->up;
    snprintf(w->error, sizeof(w->error), "%s", got->error);
    if (got->up) {
        w->seen = 1;
        memcpy(w->v, got->v, sizeof(w->v));
        memcpy(w->has, got->has, sizeof(w->has));
    }
    w->at[w->next] = now;
    w->lag[w->next] = got->up && got->has[SV_LAG_S] ? got->v[SV_LAG_S] : -1;
    w->rate[w->next] = got->up && got->has[SV_RATE] ? got->v[SV_RATE] : -1;
    w->next = (w->next + 1) % SYNC_POINTS;
    if (w->npoints < SYNC_POINTS)
        w->npoints++;
}

static void *
watch_main(void *arg)
{
    struct httpc     *hc = httpc_new(1 << 20);
    struct sync_watch got;
    struct timespec   until;
    int               i, stop = 0;

    (void)arg;
    while (!stop) {
        for (i = 0; i < nwatches; i++) { /* nwatches and addresses are fixed once started */
            memset(&got, 0, sizeof(got));
            read_one(hc, watches[i].address, &got);
            pthread_mutex_lock(&watch_lock);
            record(&watches[i], &got, time(NULL));
            pthread_mutex_unlock(&watch_lock);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SYNC_EVERY_MS / 1000;
        pthread_mutex_lock(&watch_lock);
        while (!watch_stop && pthread_cond_timedwait(&watch_wake, &watch_lock, &until) == 0)
            ;
        stop = watch_stop;
        pthread_mutex_unlock(&watch_lock);
    }
    httpc_free(hc);
    return NULL;
}

int
syncwatch_start(void)
{
    if (nwatches == 0)
        return ERR_OK;
    if (pthread_create(&watch_thread, NULL, watch_main, NULL) != 0)
        return ERR_INTERNAL;
    watch_running = 1;
    return ERR_OK;
}

void
syncwatch_stop(void)
{
    if (!watch_running)
        return;
    pthread_mutex_lock(&watch_lock);
    watch_stop = 1;
    pthread_cond_signal(&watch_wake);
    pthread_mutex_unlock(&watch_lock);
    pthread_join(watch_thread, NULL);
    watch_running = 0;
}

static json_t *
point(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *
watch_json(const struct sync_watch *w)
{
    json_t *at = json_array(), *lag = json_array(), *rate = json_array();
    json_t *o = json_pack("{s:s, s:b, s:o}", "address", w->address, "up", w->up, "error",
                          w->error[0] != '\0' ? json_string(w->error) : json_null());
    int     i, k;

    for (i = 0; i < SV_N; i++)
        json_object_set_new(o, value_key[i],
                            w->seen && w->has[i] ? json_real(w->v[i]) : json_null());
    for (i = w->npoints; i > 0; i--) { /* oldest first */
        k = (w->next - i + SYNC_POINTS) % SYNC_POINTS;
        json_array_append_new(at, json_integer((json_int_t)w->at[k]));
        json_array_append_new(lag, point(w->lag[k]));
        json_array_append_new(rate, point(w->rate[k]));
    }
    json_object_set_new(
        o, "series",
        json_pack("{s:o, s:o, s:o}", "at", at, "lag_seconds", lag, "applied_per_second", rate));
    return o;
}

json_t *
syncwatch_json(void)
{
    json_t *d = json_object();
    int     i;

    pthread_mutex_lock(&watch_lock);
    for (i = 0; i < nwatches; i++)
        json_object_set_new(d, watches[i].domain, watch_json(&watches[i]));
    pthread_mutex_unlock(&watch_lock);
    return json_pack("{s:i, s:o}", "every_ms", SYNC_EVERY_MS, "domains", d);
}
