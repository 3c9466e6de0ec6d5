/*
 * breaker.c - one circuit breaker per upstream server address, shared by
 * every loop thread (a mutex over a small chained hash map). Closed opens
 * after BREAKER_FAILS consecutive failures or a failure ratio over a window;
 * open fails fast for a cooldown that doubles on each failed probe; half-open
 * lets one probe through, whose answer closes or re-opens it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "metrics.h"

#define BREAKER_FAILS           5   /* consecutive failures that open */
#define BREAKER_RATIO           0.5 /* ... or this failure ratio in a window */
#define BREAKER_RATIO_MIN       20  /* ... once the window has this many answers */
#define BREAKER_WINDOW_MS       10000
#define BREAKER_COOLDOWN_MS     5000  /* first open period */
#define BREAKER_COOLDOWN_MAX_MS 60000 /* doubling stops here */
#define BREAKER_PROBE_STALE_MS  30000 /* a probe never answered: let another through */
#define BREAKER_BUCKETS         64

static const char *const state_names[] = {"closed", "open", "half_open"};

struct breaker {
    char                 *server;
    enum gw_breaker_state state;
    int                   consecutive; /* failures in a row while closed */
    uint64_t              window_start;
    int                   window_requests, window_failures;
    uint64_t              opened_at, cooldown_ms;
    int                   failed_probes; /* since last closed: sets the cooldown */
    int                   probing;       /* half-open: the probe is out */
    uint64_t              probe_at;
    uint64_t              trips; /* lifetime, for GET /upstreams */
    struct metric        *gauge; /* souk_gateway_breaker_state{server=} 0/1/2 */
    struct breaker       *next;
};

enum breaker_event { EV_TRIP, EV_COOLDOWN_OVER, EV_PROBE_OK, EV_PROBE_FAILED };

/* The state machine: every move it can make, and nothing else. */
static const struct {
    enum gw_breaker_state from;
    enum breaker_event    ev;
    enum gw_breaker_state to;
} transitions[] = {
    {GW_BREAKER_CLOSED, EV_TRIP, GW_BREAKER_OPEN},
    {GW_BREAKER_OPEN, EV_COOLDOWN_OVER, GW_BREAKER_HALF_OPEN},
    {GW_BREAKER_HALF_OPEN, EV_PROBE_OK, GW_BREAKER_CLOSED},
    {GW_BREAKER_HALF_OPEN, EV_PROBE_FAILED, GW_BREAKER_OPEN},
};

static pthread_mutex_t breakers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct breaker *buckets[BREAKER_BUCKETS];

static void
enter_closed(struct breaker *b, uint64_t now_ms)
{
    b->consecutive = 0;
    b->failed_probes = 0;
    b->window_start = now_ms;
    b->window_requests = b->window_failures = 0;
}

static void
enter_open(struct breaker *b, uint64_t now_ms)
{
    int shift = b->failed_probes < 4 ? b->failed_probes : 4;

    b->opened_at = now_ms;
    b->cooldown_ms = (uint64_t)BREAKER_COOLDOWN_MS << shift;
    if (b->cooldown_ms > BREAKER_COOLDOWN_MAX_MS)
        b->cooldown_ms = BREAKER_COOLDOWN_MAX_MS;
    b->trips++;
}

static void
enter_half_open(struct breaker *b, uint64_t now_ms)
{
    b->probing = 1;
    b->probe_at = now_ms;
}

static void (*const on_enter[])(struct breaker *b, uint64_t now_ms) = {
    [GW_BREAKER_CLOSED] = enter_closed,
    [GW_BREAKER_OPEN] = enter_open,
    [GW_BREAKER_HALF_OPEN] = enter_half_open,
};

static void
fire(struct breaker *b, enum breaker_event ev, uint64_t now_ms)
{
    size_t i;

    for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
        if (transitions[i].from == b->state && transitions[i].ev == ev) {
            if (ev == EV_PROBE_FAILED)
                b->failed_probes++;
            b->state = transitions[i].to;
            on_enter[b->state](b, now_ms);
            metrics_set(b->gauge, b->state);
            return;
        }
    }
}

static uint64_t
fnv1a(const char *z)
{
    uint64_t h = 14695981039346656037ull;

    while (*z != '\0')
        h = (h ^ (unsigned char)*z++) * 1099511628211ull;
    return h;
}

/* Caller holds breakers_lock. */
static struct breaker *
find(const char *server, int create)
{
    struct breaker **head = &buckets[fnv1a(server) % BREAKER_BUCKETS], *b;
    char             labels[320], *p;

    for (b = *head; b != NULL; b = b->next)
        if (strcmp(b->server, server) == 0)
            return b;
    if (!create)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL || (b->server = strdup(server)) == NULL)
        abort(); /* process-lifetime memory, same policy as the arena */
    /* The label value is the address; anything odd in it becomes '_'. */
    snprintf(labels, sizeof(labels), "server=\"%.256s\"", server);
    for (p = labels + 8; p[1] != '\0'; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < ' ')
            *p = '_';
    b->gauge = metrics_labeled("souk_gateway_breaker_state",
                               "Circuit breaker per upstream server: 0 closed, 1 open, 2 half-open",
                               METRIC_GAUGE, labels);
    b->next = *head;
    *head = b;
    return b;
}

int
breaker_allow(const char *server, uint64_t now_ms)
{
    struct breaker *b;
    int             ok = 1;

    pthread_mutex_lock(&breakers_lock);
    b = find(server, 1);
    if (b->state == GW_BREAKER_OPEN) {
        ok = now_ms >= b->opened_at + b->cooldown_ms;
        if (ok)
            fire(b, EV_COOLDOWN_OVER, now_ms); /* this request is the probe */
    } else if (b->state == GW_BREAKER_HALF_OPEN) {
        /* One probe at a time; a probe whose answer never came is replaced. */
        ok = !b->probing || now_ms >= b->probe_at + BREAKER_PROBE_STALE_MS;
        if (ok)
            enter_half_open(b, now_ms);
    }
    pthread_mutex_unlock(&breakers_lock);
    return ok;
}

/* Closed: count the answer; trip on a run of failures or a bad ratio. */
static void
count(struct breaker *b, int ok, uint64_t now_ms)
{
    if (now_ms >= b->window_start + BREAKER_WINDOW_MS) {
        b->window_start = now_ms;
        b->window_requests = b->window_failures = 0;
    }
    b->window_requests++;
    b->window_failures += !ok;
    b->consecutive = ok ? 0 : b->consecutive + 1;
    if (b->consecutive >= BREAKER_FAILS ||
        (b->window_requests >= BREAKER_RATIO_MIN &&
         b->window_failures >= BREAKER_RATIO * b->window_requests))
        fire(b, EV_TRIP, now_ms);
}

void
breaker_record(const char *server, int ok, uint64_t now_ms)
{
    struct breaker *b;

    pthread_mutex_lock(&breakers_lock);
    b = find(server, 1);
    /* Open: a late answer to a request sent before the trip; it changes
     * nothing. Half-open: the probe's answer (or a late one; we cannot tell,
     * and either is evidence about the server now). */
    if (b->state == GW_BREAKER_CLOSED)
        count(b, ok, now_ms);
    else if (b->state == GW_BREAKER_HALF_OPEN)
        fire(b, ok ? EV_PROBE_OK : EV_PROBE_FAILED, now_ms);
    pthread_mutex_unlock(&breakers_lock);
}

enum gw_breaker_state
breaker_state(const char *server)
{
    struct breaker       *b;
    enum gw_breaker_state s;

    pthread_mutex_lock(&breakers_lock);
    b = find(server, 0);
    s = b != NULL ? b->state : GW_BREAKER_CLOSED;
    pthread_mutex_unlock(&breakers_lock);
    return s;
}

json_t *
breaker_json(const char *server)
{
    struct breaker zero = {.state = GW_BREAKER_CLOSED}, *b;
    json_t        *j;

    pthread_mutex_lock(&breakers_lock);
    b = find(server, 0);
    if (b == NULL)
        b = &zero;
    j = json_pack("{s:s, s:i, s:I, s:I, s:I, s:{s:i, s:i}}", "state", state_names[b->state],
                  "consecutive_failures", b->consecutive, "trips", (json_int_t)b->trips,
                  "cooldown_ms", (json_int_t)b->cooldown_ms, "opened_at_ms",
                  (json_int_t)b->opened_at, "window", "requests", b->window_requests, "failures",
                  b->window_failures);
    pthread_mutex_unlock(&breakers_lock);
    return j;
}

void
breaker_reset(void)
{
    struct breaker *b;
    size_t          i;

    /* Entries stay (their gauges are registered for the process lifetime). */
    pthread_mutex_lock(&breakers_lock);
    for (i = 0; i < BREAKER_BUCKETS; i++) {
        for (b = buckets[i]; b != NULL; b = b->next) {
            b->state = GW_BREAKER_CLOSED;
            enter_closed(b, 0);
            b->probing = 0;
            b->trips = b->cooldown_ms = b->opened_at = 0;
            metrics_set(b->gauge, GW_BREAKER_CLOSED);
        }
    }
    pthread_mutex_unlock(&breakers_lock);
}
