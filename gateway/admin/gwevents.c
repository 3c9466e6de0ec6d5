/*
 * gwevents.c - the gateway's own event log for GET /events: reloads, route
 * patches, canary rollbacks. A mutex-protected ring of the last
 * GWEVENTS_MAX events; each is also written to the process log.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "log.h"

#define GWEVENTS_MAX 200
#define DETAIL_MAX   512

struct gw_event {
    uint64_t seq; /* 1, 2, ...: lets a poller ask "anything after 17?" */
    char     at[32];
    char     type[32];
    char     detail[DETAIL_MAX];
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_event ring[GWEVENTS_MAX];
static uint64_t        nadded; /* ring[(nadded - 1) % GWEVENTS_MAX] is the newest */

/* Cut z at n - 1 bytes without splitting a UTF-8 sequence. */
static void
cut_utf8(char *z, size_t n)
{
    size_t len = strlen(z);

    if (len < n - 1)
        return;
    len = n - 1;
    while (len > 0 && ((unsigned char)z[len] & 0xc0) == 0x80)
        len--;
    z[len] = '\0';
}

void
gwevents_add(const char *type, const char *fmt, ...)
{
    struct gw_event e;
    va_list         ap;

    log_timestamp(e.at);
    snprintf(e.type, sizeof(e.type), "%s", type);
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    cut_utf8(e.detail, sizeof(e.detail));
    pthread_mutex_lock(&events_lock);
    e.seq = ++nadded;
    ring[(e.seq - 1) % GWEVENTS_MAX] = e;
    pthread_mutex_unlock(&events_lock);
    log_info("gateway event %s: %s", e.type, e.detail);
}

/* json_string rejects invalid UTF-8, and a detail may quote anything. */
static json_t *
text(const char *z)
{
    json_t *s = json_string(z);

    return s != NULL ? s : json_string("(not UTF-8)");
}

json_t *
gwevents_json(void)
{
    json_t                *list = json_array();
    const struct gw_event *e;
    uint64_t               seq, oldest;

    pthread_mutex_lock(&events_lock);
    oldest = nadded > GWEVENTS_MAX ? nadded - GWEVENTS_MAX + 1 : 1;
    for (seq = nadded; seq >= oldest && seq > 0; seq--) {
        e = &ring[(seq - 1) % GWEVENTS_MAX];
        json_array_append_new(list,
                              json_pack("{s:I, s:s, s:o, s:o}", "seq", (json_int_t)e->seq, "at",
                                        e->at, "type", text(e->type), "detail", text(e->detail)));
    }
    pthread_mutex_unlock(&events_lock);
    return json_pack("{s:o}", "events", list);
}

void
gwevents_reset(void)
{
    pthread_mutex_lock(&events_lock);
    nadded = 0;
    pthread_mutex_unlock(&events_lock);
}
