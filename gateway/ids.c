/*
 * ids.c - the request id (X-Request-Id: honoured when it is a sane token,
 * else made here) and W3C trace context (traceparent: continued with a new
 * span id when valid, else a new trace is started), both sent upstream.
 */
#include <string.h>
#include <sys/random.h>

#include "arena.h"
#include "gw.h"

#define TP_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

static _Thread_local uint64_t rnd_state;

/* splitmix64 seeded once per thread: ids must be unique, not secret. */
static uint64_t
rnd_next(void)
{
    uint64_t z;

    if (rnd_state == 0) {
        if (getrandom(&rnd_state, sizeof(rnd_state), 0) != (ssize_t)sizeof(rnd_state))
            rnd_state = uv_hrtime() ^ (uint64_t)(uintptr_t)&z;
        rnd_state |= 1;
    }
    z = (rnd_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* n random lower-case hex digits at out (no NUL). */
static void
hex_random(char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t          r = 0;
    size_t            i;

    for (i = 0; i < n; i++) {
        if (i % 16 == 0)
            r = rnd_next();
        out[i] = digits[r & 15];
        r >>= 4;
    }
}

/* 1..128 characters of [A-Za-z0-9._-]: safe in logs and headers alike. */
static int
request_id_ok(struct str v)
{
    size_t i;

    if (v.len == 0 || v.len > GW_ID_MAX)
        return 0;
    for (i = 0; i < v.len; i++) {
        char ch = v.p[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

const char *
ids_request_id(struct client *c, struct arena *a)
{
    struct str v;
    char      *id;

    if (c->ri.request_id >= 0) {
        v = headers_trim(hhead_val(&c->head, c->ri.request_id));
        if (request_id_ok(v))
            return arena_strndup(a, v.p, v.len);
    }
    id = arena_alloc(a, 33);
    hex_random(id, 32);
    return id;
}

static int
lower_hex(const char *p, size_t n, int *all_zero)
{
    size_t i;

    *all_zero = 1;
    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
        if (p[i] != '0')
            *all_zero = 0;
    }
    return 1;
}

/* W3C Trace Context §3.2: version, trace-id, parent-id, flags. A later
 * version may append fields after a '-'. */
static int
traceparent_ok(struct str v)
{
    int zero;

    if (v.len < TP_LEN || (v.len > TP_LEN && v.p[TP_LEN] != '-'))
        return 0;
    if (!lower_hex(v.p, 2, &zero) || memcmp(v.p, "ff", 2) == 0 ||
        (memcmp(v.p, "00", 2) == 0 && v.len != TP_LEN))
        return 0;
    if (v.p[2] != '-' || v.p[35] != '-' || v.p[52] != '-')
        return 0;
    if (!lower_hex(v.p + 3, 32, &zero) || zero)
        return 0;
    if (!lower_hex(v.p + 36, 16, &zero) || zero)
        return 0;
    return lower_hex(v.p + 53, 2, &zero);
}

const char *
ids_traceparent(struct client *c, struct arena *a, char trace_id[33])
{
    char      *tp = arena_alloc(a, TP_LEN + 1);
    struct str v = {"", 0};

    if (c->ri.traceparent >= 0)
        v = headers_trim(hhead_val(&c->head, c->ri.traceparent));
    memcpy(tp, "00-", 3);
    if (traceparent_ok(v)) {
        memcpy(tp + 3, v.p + 3, 32);
        memcpy(tp + 53, v.p + 53, 2);
    } else {
        hex_random(tp + 3, 32);
        memcpy(tp + 53, "01", 2);
    }
    tp[35] = '-';
    hex_random(tp + 36, 16); /* our span: the upstream's parent */
    tp[52] = '-';
    memcpy(trace_id, tp + 3, 32);
    trace_id[32] = '\0';
    return tp;
}

char *
ids_random(struct arena *a, size_t n)
{
    char *s = arena_alloc(a, n + 1);

    hex_random(s, n);
    return s;
}
