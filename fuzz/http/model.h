/*
 * model.h - fuzz/http_request.c's two readers of a client's byte stream:
 * svc.c, the services' server (lib/conn_parse.c over lib/http_parse.c), and
 * gw.c, the gateway's client connection (gateway/edge/client.c's framing,
 * request.c's checks, forward.c's head). Each reads the stream as the pieces
 * cut[0..ncut] end it (cut[ncut] is its length) and says what it read as a
 * struct run.
 */
#ifndef SOUK_FUZZ_HTTP_MODEL_H
#define SOUK_FUZZ_HTTP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bounds.h"
#include "fuzz/fuzz.h"

#define SCRATCH_MAX (LIMIT_REQUEST_LINE + LIMIT_HEADER_BYTES + 4 * LIMIT_HEADER_COUNT)
#define MAX_MSGS    64

/* What one front end read of one message; compared across runs. */
struct msg {
    const char *method; /* static strings of the parser */
    int         http_minor;
    uint64_t    target, headers; /* FNV of the bytes */
    uint64_t    body, body_len;
};

struct run {
    struct msg msgs[MAX_MSGS];
    int        nmsgs;
    int        refused; /* the front end answered an error and closes */
    int        stopped; /* no further bytes are read (refused, or a final message) */
};

static inline void
run_msg(struct run *r, const struct msg *m)
{
    if (r->nmsgs < MAX_MSGS)
        r->msgs[r->nmsgs] = *m;
    r->nmsgs++;
}

static inline int
msg_eq(const struct msg *a, const struct msg *b)
{
    return strcmp(a->method, b->method) == 0 && a->http_minor == b->http_minor &&
           a->target == b->target && a->headers == b->headers && a->body == b->body &&
           a->body_len == b->body_len;
}

/* One header line into a running hash. */
static inline uint64_t
span_hash(uint64_t h, const char *name, size_t name_len, const char *val, size_t val_len)
{
    h = fnv(h, name, name_len);
    h = fnv(h, "\0", 1);
    h = fnv(h, val, val_len);
    return fnv(h, "\n", 1);
}

void svc_run(const char *p, const size_t *cut, int ncut, struct run *out);
void gw_run(const char *p, const size_t *cut, int ncut, struct run *out);

#endif
