/*
 * svc.c - the services' server reading a client's stream (see model.h):
 * lib/conn_parse.c itself, the code lib/conn.c runs on every read, with
 * this file in the place of the connection (struct conn_parse_ops): it
 * records what conn_parse hands over instead of answering it.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "conn.h"
#include "fuzz/http/model.h"
#include "http_parse.h"
#include "req.h"

struct svc {
    struct conn_parse ps; /* first: the ops get back to the svc */
    struct run       *run;
};

static void
svc_phase(struct conn_parse *ps, enum conn_phase ph)
{
    (void)ps;
    (void)ph;
}

static int
svc_fail(struct conn_parse *ps, int err, const char *detail)
{
    struct svc *s = (struct svc *)ps;

    FUZZ_CHECK(err != ERR_OK && detail != NULL && detail[0] != '\0');
    s->run->refused = 1;
    s->run->stopped = 1;
    return -1;
}

static int
svc_continue(struct conn_parse *ps)
{
    (void)ps;
    return 0;
}

static void
svc_route(struct req_state *st)
{
    (void)st; /* fuzz/router.c fuzzes routing; here every body gets the default limit */
}

/* What conn_parse made of the target: a strictly decoded path (or a refusal
 * of its escapes), and a query every name and value of which decodes. */
static void
svc_target(struct req_state *st)
{
    const struct req_kv *kv;
    size_t               n, i;

    if (st->route_rc != ERR_INVALID)
        FUZZ_CHECK(strlen(st->req.path) <= st->raw_path_len);
    n = req_query_all(&st->req, &kv);
    FUZZ_CHECK(n <= st->raw_query_len / 2 + 1);
    for (i = 0; i < n; i++)
        FUZZ_CHECK(strlen(kv[i].name) + strlen(kv[i].value) <= st->raw_query_len);
}

/* A complete request, as conn.c's conn_request would queue it. */
static int
svc_request(struct conn_parse *ps, struct req_state *st)
{
    struct svc *s = (struct svc *)ps;
    struct msg  m;
    int         i;

    memset(&m, 0, sizeof(m));
    m.method = st->req.method;
    m.http_minor = st->http_minor;
    m.target = fnv(FNV_INIT, buf_data(&ps->scratch), ps->url_len);
    m.headers = FNV_INIT;
    for (i = 0; i < st->nhdrs; i++)
        m.headers = span_hash(m.headers, st->hdrs[i].name, strlen(st->hdrs[i].name),
                              st->hdrs[i].value, strlen(st->hdrs[i].value));
    m.body = fnv(FNV_INIT, buf_data(&st->body), buf_len(&st->body));
    m.body_len = buf_len(&st->body);
    svc_target(st);
    run_msg(s->run, &m);
    if (!st->keep_alive) {
        hp_pause(ps->hp); /* conn.c: after a final request the rest is never parsed */
        s->run->stopped = 1;
    }
    arena_destroy(st->req.arena); /* st lives in it */
    return 0;
}

static const struct conn_parse_ops svc_ops = {
    svc_phase, svc_fail, svc_request, svc_continue, svc_route,
};

/* Feed the pieces as reads; like lib/conn.c, a final message (no keep-alive)
 * ends the reading. */
void
svc_run(const char *p, const size_t *cut, int ncut, struct run *out)
{
    static struct server srv = {.nstats = 1};
    static struct loop  *l;
    struct svc           s;
    size_t               used, from = 0, to;
    enum hp_status       hs;
    int                  i;

    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        FUZZ_CHECK(l != NULL);
        l->srv = &srv;
    }
    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    s.run = out;
    conn_parse_init(&s.ps, &svc_ops, NULL, l);
    for (i = 0; i <= ncut && !out->stopped; i++, from = to) {
        to = cut[i];
        if (to == from)
            continue;
        hs = hp_feed(s.ps.hp, p + from, to - from, &used);
        FUZZ_CHECK(used <= to - from);
        FUZZ_CHECK(buf_error(&s.ps.scratch) == ERR_OK); /* the limits keep it in bounds */
        if (hs == HP_ERROR || hs == HP_ABORTED) {
            out->refused = 1;
            out->stopped = 1;
            FUZZ_CHECK(hs == HP_ABORTED || strlen(hp_error(s.ps.hp)) > 0);
        } else if (hs == HP_PAUSED) {
            out->stopped = 1; /* a final message, or an upgrade: the rest is not read */
        } else {
            FUZZ_CHECK(used == to - from);
        }
    }
    conn_parse_free(&s.ps); /* a request cut short goes with it */
}
