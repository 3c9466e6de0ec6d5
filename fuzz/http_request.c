/*
 * http_request.c - libFuzzer target: the bytes a client sends, read by both
 * HTTP/1.1 front ends of the tree, whole and in pieces.
 *
 *  svc: the services' server (fuzz/http/svc.c): lib/conn_parse.c itself
 *       (bounded copies of the target and header lines, the request arena,
 *       the decoded target and query) over lib/http_parse.c, with the harness
 *       in the connection's place through struct conn_parse_ops.
 *  gw:  the gateway (fuzz/http/gw.c): gateway/edge/client.c's own framing
 *       (client_head_scan: lint_scan over the raw head, the parser fed
 *       exactly the bytes the lint passed; client_body_scan: the body cut by
 *       chunkv_scan or Content-Length), one message at a time, with
 *       request.c's checks (headers_check_request, ids.c); and for each
 *       accepted head, forward_request's head for the upstream.
 *
 * Input: 7 control bytes, then the stream. Byte 0 picks 1..3 split points;
 * bytes 1-6 place them (16 bits each, modulo the stream length), so reads
 * that end anywhere are exercised.
 *
 * Invariants (a broken one aborts, and libFuzzer keeps the input):
 *  1. Each front end reads the same messages, in order, and reaches the same
 *     verdict (refused or not), whether the stream comes whole or in pieces.
 *  2. gw: the parser never ends a head or a message before the gateway's own
 *     framing does (lint, chunkv, Content-Length). Otherwise bytes would be
 *     dropped or read as the start of the next request: a desync.
 *  3. Every message the gateway accepts reads the same (method, target,
 *     header lines, body) to the services' parser, when that gets as far.
 *  4. The head the gateway sends upstream passes the gateway's own checks
 *     again and states the same method, target and framing; it carries no
 *     hop-by-hop line and no client-sent X-User-*; it is never truncated.
 *  5. A Content-Length message has exactly that many body bytes (but CONNECT:
 *     http-parser ends it at the head and the connection closes after it).
 *  6. gw: once headers_check_request accepted a head (and request.c began
 *     the exchange with the upstream), the parser does not refuse it after
 *     all. One known exception is tolerated: see known_f1.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz/http/model.h"

#define CTRL_BYTES 7

static void
same_runs(const struct run *a, const struct run *b)
{
    int i;

    FUZZ_CHECK(a->nmsgs == b->nmsgs);
    FUZZ_CHECK(a->refused == b->refused);
    for (i = 0; i < a->nmsgs && i < MAX_MSGS; i++)
        FUZZ_CHECK(msg_eq(&a->msgs[i], &b->msgs[i]));
}

static int
cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + CTRL_BYTES;
    size_t      n, whole[1], cut[4];
    int         i, ncut;
    struct run *r = calloc(4, sizeof(*r)); /* svc whole, svc split, gw whole, gw split */

    FUZZ_CHECK(r != NULL);
    if (size < CTRL_BYTES) {
        free(r);
        return 0;
    }
    n = size - CTRL_BYTES;
    ncut = 1 + data[0] % 3;
    for (i = 0; i < ncut; i++)
        cut[i] = n > 0 ? ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (n + 1) : 0;
    qsort(cut, (size_t)ncut, sizeof(cut[0]), cmp_size);
    cut[ncut] = n; /* piece i is cut[i-1]..cut[i] */
    whole[0] = n;

    svc_run(p, whole, 0, &r[0]);
    svc_run(p, cut, ncut, &r[1]);
    gw_run(p, whole, 0, &r[2]);
    gw_run(p, cut, ncut, &r[3]);

    same_runs(&r[0], &r[1]); /* 1 */
    same_runs(&r[2], &r[3]);
    for (i = 0; i < r[2].nmsgs && i < r[0].nmsgs && i < MAX_MSGS; i++)
        FUZZ_CHECK(msg_eq(&r[2].msgs[i], &r[0].msgs[i])); /* 3 */
    free(r);
    return 0;
}
