/*
 * loop.c - the loop half of GET /api/v1/orders (lib/README.md, "Loop
 * handlers"): a page the cache holds (cache.c) is answered on the I/O loop,
 * on its next turn, without the two thread hops to a worker and back; a
 * miss, a read with Souk-Min-Order-Version or a query the loop does not
 * take as it is goes to orders_list_v1 on a worker, which also answers the
 * 400s.
 */
#include <stdlib.h>
#include <uv.h>

#include "bounds.h"
#include "history.h"
#include "str.h"

#define WAITING_MAX 64

/* Per loop: the requests that wait for the next turn. */
struct hloop {
    uv_timer_t  timer;
    struct req *waiting[WAITING_MAX];
    int         n;
};

/* ?name= as an integer in [min, max] (def when absent); 0 when present and not one. */
static int
query_int(struct req *r, const char *name, int64_t def, int64_t max, int64_t *out)
{
    const char *z = req_query(r, name);

    *out = def;
    return z == NULL || str_z_to_i64(z, 1, max, out) == ERR_OK;
}

static void
turn(uv_timer_t *t)
{
    struct hloop *hl = t->data;
    int           i, n = hl->n;

    hl->n = 0;
    for (i = 0; i < n; i++) {
        struct req *r = hl->waiting[i];
        const char *p;
        size_t      len;
        int64_t     page, limit;

        if (query_int(r, "page", 1, LIMIT_PAGE_INDEX, &page) &&
            query_int(r, "limit", 20, LIMIT_PAGE_SIZE, &limit) &&
            cache_get(r->arena, r->user.user_id, page, limit, &p, &len))
            server_loop_answer(r, req_reply_bytes(r, 200, "application/json", p, len));
        else
            server_loop_pass(r);
    }
}

int
orders_list_v1_loop(struct req *r)
{
    struct hloop *hl = r->loop;

    /* hl is NULL without a cache, or when loop_new could not allocate it */
    if (hl == NULL || history_cfg.cache_ttl_ms == 0 || hl->n == WAITING_MAX ||
        req_header(r, "Souk-Min-Order-Version") != NULL)
        return SERVER_LOOP_PASS;
    hl->waiting[hl->n++] = r;
    if (!uv_is_active((uv_handle_t *)&hl->timer))
        uv_timer_start(&hl->timer, turn, 0, 0);
    return SERVER_LOOP_PENDING;
}

void *
loop_new(struct uv_loop_s *loop)
{
    struct hloop *hl;

    if (history_cfg.cache_ttl_ms == 0)
        return NULL; /* no cache: every request to a worker */
    hl = calloc(1, sizeof(*hl));
    if (hl == NULL)
        return NULL;
    uv_timer_init(loop, &hl->timer); /* not started: the loop does not run yet */
    hl->timer.data = hl;
    return hl;
}

static void
closed(uv_handle_t *h)
{
    free(h->data);
}

/* The close callback runs: lib/server.c frees the state either on the
 * running loop (which turns once more) or before evloop_free, whose
 * net_uv_close_all runs the loop until every closing handle is done. */
void
loop_free(void *state)
{
    struct hloop *hl = state;

    if (hl == NULL)
        return;
    uv_close((uv_handle_t *)&hl->timer, closed);
}
