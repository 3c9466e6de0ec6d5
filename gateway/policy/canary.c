/*
 * canary.c - which requests a canary route sends to the new pool, and when
 * to give up on it. The pick is a keyed hash of the user (or an anonymous
 * client's cookie), so a given client stays on one side while the percent
 * stays put and moves only one way as it grows. Rollback watches the new
 * pool's answers per route in a sliding window of time slots.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

#define CANARY_SLOTS 60 /* window slots: one per second up to a minute, wider beyond */

/* Fixed, so a user keeps their side across restarts and across gateways.
 * Changing it reshuffles every canary population. */
static const unsigned char pick_key[crypto_shorthash_KEYBYTES] = "souk-canary-v1..";

struct window {
    char    *route;
    int64_t  window_ms;
    uint64_t slot_ms;
    int      nslots;
    struct {
        uint64_t epoch; /* now_ms / slot_ms when the slot was last used */
        int      requests, errors;
    } slot[CANARY_SLOTS];
    struct window *next;
};

static pthread_mutex_t windows_lock = PTHREAD_MUTEX_INITIALIZER;
static struct window  *windows; /* one per route name; routes are few */

int
canary_pick(const char *key, int percent)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t      h = 0;
    int           i;

    if (percent <= 0 || key == NULL || key[0] == '\0')
        return 0;
    if (percent >= 100)
        return 1;
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), pick_key);
    /* Little-endian on every host, so every gateway puts a user on the same side. */
    for (i = crypto_shorthash_BYTES - 1; i >= 0; i--)
        h = h << 8 | out[i];
    return h % 100 < (uint64_t)percent;
}

/* Slots of at least a second, at most CANARY_SLOTS of them. */
static void
shape(struct window *w, int64_t window_ms)
{
    int64_t n = (window_ms + 999) / 1000;

    memset(w->slot, 0, sizeof(w->slot));
    w->window_ms = window_ms;
    w->nslots = n < CANARY_SLOTS ? (int)n : CANARY_SLOTS;
    w->slot_ms = (uint64_t)((window_ms + w->nslots - 1) / w->nslots);
}

/* Caller holds windows_lock. */
static struct window *
find(const struct gw_route *r)
{
    struct window *w;

    for (w = windows; w != NULL; w = w->next)
        if (strcmp(w->route, r->name) == 0)
            break;
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL || (w->route = strdup(r->name)) == NULL)
            abort();
        w->next = windows;
        windows = w;
    }
    /* A reload may change the window: start it over in the new shape. */
    if (w->window_ms != r->rollback_window_ms)
        shape(w, r->rollback_window_ms);
    return w;
}

int
canary_record(const struct gw_route *r, int failed, uint64_t now_ms)
{
    struct window *w;
    uint64_t       epoch;
    int            i, requests = 0, errors = 0, fire;

    if (r->rollback_error_rate <= 0 || r->rollback_window_ms <= 0)
        return 0;
    pthread_mutex_lock(&windows_lock);
    w = find(r);
    epoch = now_ms / w->slot_ms;
    i = (int)(epoch % (uint64_t)w->nslots);
    if (w->slot[i].epoch != epoch) {
        w->slot[i].epoch = epoch;
        w->slot[i].requests = w->slot[i].errors = 0;
    }
    w->slot[i].requests++;
    w->slot[i].errors += failed != 0;
    for (i = 0; i < w->nslots; i++) {
        if (w->slot[i].epoch + (uint64_t)w->nslots > epoch) {
            requests += w->slot[i].requests;
            errors += w->slot[i].errors;
        }
    }
    fire = requests >= r->rollback_min_requests &&
           (double)errors > r->rollback_error_rate * (double)requests;
    /* Fire once: the caller rolls back, and answers still in flight must
     * not trigger a second rollback from the same evidence. */
    if (fire)
        shape(w, w->window_ms);
    pthread_mutex_unlock(&windows_lock);
    return fire;
}

void
canary_reset(void)
{
    struct window *w;

    pthread_mutex_lock(&windows_lock);
    while (windows != NULL) {
        w = windows;
        windows = w->next;
        free(w->route);
        free(w);
    }
    pthread_mutex_unlock(&windows_lock);
}
