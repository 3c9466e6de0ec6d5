/*
 * trace.c - request ids and traceparent (trace.h). One set of rules for the
 * services and the gateway, so a request keeps its id and trace whichever
 * side sees it first.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "arena.h"
#include "trace.h"

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

void
trace_hex(char *out, size_t n)
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

char *
trace_request_id_new(struct arena *a)
{
    char *id = arena_alloc(a, TRACE_ID_LEN + 1);

    trace_hex(id, TRACE_ID_LEN);
    id[TRACE_ID_LEN] = '\0';
    return id;
}

int
trace_request_id_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || n > TRACE_REQUEST_ID_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
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

int
trace_parent_ok(const char *p, size_t n)
{
    int zero;

    if (p == NULL || n < TRACE_PARENT_LEN || (n > TRACE_PARENT_LEN && p[TRACE_PARENT_LEN] != '-'))
        return 0;
    if (!lower_hex(p, 2, &zero) || memcmp(p, "ff", 2) == 0 ||
        (memcmp(p, "00", 2) == 0 && n != TRACE_PARENT_LEN))
        return 0;
    if (p[2] != '-' || p[35] != '-' || p[52] != '-')
        return 0;
    if (!lower_hex(p + 3, 32, &zero) || zero)
        return 0;
    if (!lower_hex(p + 36, 16, &zero) || zero)
        return 0;
    return lower_hex(p + 53, 2, &zero);
}

void
trace_parent_next(const char *in, size_t n, char out[TRACE_PARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    if (trace_parent_ok(in, n)) {
        memcpy(out + 3, in + 3, 32);
        memcpy(out + 53, in + 53, 2);
    } else {
        trace_hex(out + 3, 32);
        memcpy(out + 53, "01", 2);
    }
    out[35] = '-';
    trace_hex(out + 36, 16); /* our span: the next hop's parent */
    out[52] = '-';
    out[TRACE_PARENT_LEN] = '\0';
}

int
trace_id(const char *tp, size_t n, char out[TRACE_ID_LEN + 1])
{
    if (!trace_parent_ok(tp, n))
        return 0;
    memcpy(out, tp + 3, TRACE_ID_LEN);
    out[TRACE_ID_LEN] = '\0';
    return 1;
}
