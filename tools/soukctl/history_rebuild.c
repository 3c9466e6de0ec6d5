/*
 * history_rebuild.c - `soukctl history rebuild`: souk-history's read model
 * built afresh by replaying orders' retained order events, then swapped in
 * while history keeps serving. It talks to two HTTP APIs only, never to a
 * database: orders' admin feed (GET /api/v2/admin/order-events, its
 * order_log) and history's rebuild endpoints (services/history/rebuild.c),
 * whose apply is the consumer's own, so the merge rules exist once. Pages
 * are forwarded as the feed answered them.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "httpc.h"
#include "soukctl.h"

static const char history_usage[] =
    "usage: soukctl history rebuild [--batch N]\n"
    "\n"
    "Rebuilds souk-history (SOUK_HISTORY_URL) from the order events souk-orders\n"
    "keeps (SOUK_ORDERS_URL, GET /api/v2/admin/order-events), N per page (default\n"
    "1000): history starts a fresh table and, until the swap, applies every event\n"
    "it consumes to both; each page of the feed is replayed into the fresh table,\n"
    "with progress on stderr; at the head of the feed the fresh table is renamed\n"
    "over the live one in one transaction (refused, and replayed on, while it holds\n"
    "fewer orders). Reads never fail or show less. A rebuild that fails is aborted\n"
    "(history drops the fresh table). Needs no database access; the admin token is\n"
    "signed with SOUK_JWT_SECRET.\n";

#define TIMEOUT_MS 60000
#define SWAP_TRIES 5
#define TOKEN_TTL  3600 /* s: an admin token's life */
#define TOKEN_AGE  300  /* s: signed afresh when older, so a long rebuild never sends a dead one */

struct hrb {
    struct ctl   *ctl;
    struct httpc *hc;
    struct arena *a;
    const char   *auth;
    int64_t       batch, after, head, events;
    double        t0;
    int           began; /* history said 201: a failure aborts it */
    int64_t       signed_at; /* s, wall clock: when auth was signed */
    char          auth_buf[4096]; /* outlives the page arena's resets */
};

/* h->auth, signed afresh when it is older than TOKEN_AGE. */
static int
sign(struct hrb *h)
{
    int64_t now = (int64_t)time(NULL);
    char   *token;

    if (h->auth != NULL && now - h->signed_at < TOKEN_AGE)
        return ERR_OK;
    if (auth_token_issue(h->ctl->cfg.jwt_secret, 1, AUTH_ADMIN, now, TOKEN_TTL, h->a, &token) !=
            ERR_OK ||
        (size_t)snprintf(h->auth_buf, sizeof(h->auth_buf), "Bearer %s", token) >=
            sizeof(h->auth_buf)) {
        common_fail("cannot sign an admin token");
        return ERR_INTERNAL;
    }
    h->auth = h->auth_buf;
    h->signed_at = now;
    return ERR_OK;
}

/* A request to history; the status in *status, ERR_UNAVAILABLE (said) when
 * it could not be asked. */
static int
request(struct hrb *h, const char *method, const char *path, const char *body, int *status,
     const char **answer)
{
    struct httpc_resp *res;
    const char        *url = arena_printf(h->a, "%s%s", h->ctl->cfg.history_url, path);
    int                rc = sign(h);

    if (rc)
        return rc;
    rc = httpc_send(h->hc, h->a, method, url, TIMEOUT_MS, h->auth, body, &res);
    if (rc) {
        common_fail("%s %s: %s", method, url, httpc_error(h->hc));
        return rc;
    }
    *status = res->status;
    *answer = res->body;
    return ERR_OK;
}

static int
post(struct hrb *h, const char *path, const char *body, int *status, const char **answer)
{
    return request(h, "POST", path, body, status, answer);
}

/* One page of the feed after h->after, replayed; *n events. */
static int
page(struct hrb *h, int64_t *n)
{
    struct httpc_resp *res;
    const char        *url, *answer;
    json_t            *j;
    int                rc, status;

    url = arena_printf(h->a, "%s/api/v2/admin/order-events?after=%lld&limit=%lld",
                       h->ctl->cfg.orders_url, (long long)h->after, (long long)h->batch);
    rc = sign(h);
    if (rc)
        return rc;
    rc = httpc_get_auth(h->hc, h->a, url, TIMEOUT_MS, h->auth, &res);
    if (rc || res->status != 200) {
        common_fail("GET %s: %s", url, rc ? httpc_error(h->hc) : res->body);
        return rc ? rc : ERR_UPSTREAM;
    }
    /* an answer that is not a feed page is an error: read as "no events
     * after 0" it would send the rebuild to a swap and back to seq 0 */
    j = json_loadb(res->body, res->len, 0, NULL);
    if (!json_is_array(json_object_get(j, "events")) ||
        !json_is_integer(json_object_get(j, "head")) ||
        !json_is_integer(json_object_get(j, "next_after"))) {
        json_decref(j);
        common_fail("GET %s: not a page of the feed (events, head, next_after)", url);
        return ERR_UPSTREAM;
    }
    *n = (int64_t)json_array_size(json_object_get(j, "events"));
    h->head = json_integer_value(json_object_get(j, "head"));
    h->after = json_integer_value(json_object_get(j, "next_after"));
    json_decref(j);
    if (*n == 0)
        return ERR_OK;
    rc = post(h, "/api/v2/admin/history/replay", res->body, &status, &answer);
    if (rc == ERR_OK && status != 200) {
        common_fail("history refused a page of the feed: %d %s", status, answer);
        rc = ERR_UPSTREAM;
    }
    h->events += *n;
    return rc;
}

/* Pages until the feed is empty after h->after, with progress. */
static int
replay(struct hrb *h)
{
    int64_t n;
    int     rc;

    do {
        arena_reset(h->a);
        rc = page(h, &n);
        if (rc)
            return rc;
        fprintf(stderr, "history rebuild: seq %lld of %lld, %lld events, %.0f events/s\n",
                (long long)h->after, (long long)h->head, (long long)h->events,
                h->events / (common_now() - h->t0 + 1e-9));
    } while (n > 0);
    return ERR_OK;
}

static int
rebuild_run(struct hrb *h)
{
    const char *answer;
    int         rc, status, tries;

    rc = post(h, "/api/v2/admin/history/rebuild", NULL, &status, &answer);
    if (rc == ERR_OK && status != 201) {
        common_fail("history did not start a rebuild: %d %s", status, answer);
        return ERR_UPSTREAM;
    }
    h->began = rc == ERR_OK;
    for (tries = 0; rc == ERR_OK && tries < SWAP_TRIES; tries++) {
        rc = replay(h);
        if (rc)
            break;
        arena_reset(h->a);
        rc = post(h, "/api/v2/admin/history/swap", NULL, &status, &answer);
        if (rc == ERR_OK && status == 200) {
            fprintf(stderr, "history rebuild: swapped in after %lld events in %.1f s: %s\n",
                    (long long)h->events, common_now() - h->t0, answer);
            return ERR_OK;
        }
        if (rc == ERR_OK && status != 409) {
            common_fail("history refused the swap: %d %s", status, answer);
            return ERR_UPSTREAM;
        }
        fprintf(stderr, "history rebuild: not yet: %s\n", answer ? answer : "");
    }
    if (rc == ERR_OK)
        common_fail("the rebuilt table never caught up with the live one");
    return rc ? rc : ERR_CONFLICT;
}

/* A failed rebuild is aborted, so history stops applying every event to a
 * build table nobody will swap in (DELETE .../rebuild drops it). */
static int
rebuild(struct hrb *h)
{
    const char *answer;
    int         rc = rebuild_run(h), status;

    if (rc == ERR_OK || h->began == 0)
        return rc;
    arena_reset(h->a);
    if (request(h, "DELETE", "/api/v2/admin/history/rebuild", NULL, &status, &answer) == ERR_OK &&
        status == 200)
        fprintf(stderr, "history rebuild: aborted; history serves its live table as before\n");
    else
        common_fail("the failed rebuild could not be aborted: run it again, or DELETE "
                    "/api/v2/admin/history/rebuild");
    return rc;
}

int
history_main(struct ctl *ctl, int argc, char **argv)
{
    struct hrb h = {.ctl = ctl, .batch = 1000};
    int        i, rc;

    if (common_wants_help(argc, argv)) {
        fputs(history_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "rebuild") != 0) {
        fputs(history_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (common_int_opt("--batch", argv[++i], 1, 5000, &h.batch))
                return CTL_EXIT_USAGE;
        } else {
            common_fail("unknown option \"%s\"", argv[i]);
            fputs(history_usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    h.a = arena_create();
    h.hc = httpc_new((size_t)256 << 20);
    rc = auth_init();
    if (rc)
        common_fail("cannot sign an admin token");
    else
        rc = sign(&h); /* says why it failed */
    if (rc == ERR_OK) {
        h.t0 = common_now();
        rc = rebuild(&h);
    }
    httpc_free(h.hc);
    arena_destroy(h.a);
    return rc == ERR_OK ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
