/*
 * testd.c - souk-testd: a tiny service that exercises lib/ (server, req,
 * auth, decode, limits) through the real HTTP interface, for lib/t/20_http.t.
 * It is not a product and has no business logic.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "arena.h"
#include "auth.h"
#include "cfg.h"
#include "decode.h"
#include "log.h"
#include "req.h"
#include "server.h"

struct testd_config {
    const char *listen;
    const char *jwt_secret;
    const char *log_level;
    int64_t     header_timeout_ms, body_timeout_ms, idle_timeout_ms, drain_timeout_ms;
    int64_t     loops, workers, loop_halves;
};

#define CFG struct testd_config
static const struct cfg_var testd_vars[] = {
    CFG_STR_ROW("SOUK_LISTEN", CFG, listen, "127.0.0.1:7999", "address to listen on"),
    CFG_STR_ROW("SOUK_JWT_SECRET", CFG, jwt_secret, "souk-dev-secret", "HS256 token secret"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", CFG, log_level, "info", "debug | info | warn | error"),
    CFG_INT_ROW("SOUK_HTTP_HEADER_TIMEOUT_MS", CFG, header_timeout_ms, "10000", 50, 600000,
                "first byte to end of headers"),
    CFG_INT_ROW("SOUK_HTTP_BODY_TIMEOUT_MS", CFG, body_timeout_ms, "30000", 50, 600000,
                "end of headers to end of body"),
    CFG_INT_ROW("SOUK_HTTP_IDLE_TIMEOUT_MS", CFG, idle_timeout_ms, "60000", 50, 3600000,
                "keep-alive between requests"),
    CFG_INT_ROW("SOUK_HTTP_DRAIN_TIMEOUT_MS", CFG, drain_timeout_ms, "10000", 50, 600000,
                "SIGTERM: wait this long for in-flight requests"),
    CFG_INT_ROW("SOUK_LOOPS", CFG, loops, "2", 0, 64, "I/O loops (0 = one per core)"),
    CFG_INT_ROW("SOUK_WORKERS", CFG, workers, "8", 0, 256, "handler threads (0 = 4 per core)"),
    CFG_INT_ROW("SOUK_TESTD_LOOP_HALVES", CFG, loop_halves, "1", 0, 1,
                "1: GET /memo/{key} starts on the I/O loop (server_loop_route)"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};
#undef CFG

/* The decoded body of POST /echo. */
struct echo_input {
    char   *name;
    int64_t qty;
};

static const struct decode_field echo_fields[] = {
    {"name", DECODE_STR, offsetof(struct echo_input, name), 1, 1, 50, 0},
    {"qty", DECODE_I64, offsetof(struct echo_input, qty), 0, 1, 99, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* GET /echo: the query string back as a JSON object. */
static int
echo_get(struct req *r)
{
    const struct req_kv *kv;
    size_t               i, n = req_query_all(r, &kv);
    json_t              *o = json_object();

    for (i = 0; i < n; i++)
        json_object_set_new(o, kv[i].name, json_string(kv[i].value));
    return req_reply(r, 200, o);
}

/* POST /echo: decode {name, qty} strictly and answer 201 with the values. */
static int
echo_post(struct req *r)
{
    struct echo_input in = {NULL, 1};
    json_t           *body;
    int               rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, echo_fields, &in, NULL);
    if (rc)
        return rc;
    return req_reply(r, 201, json_pack("{s:s, s:I}", "name", in.name, "qty", (json_int_t)in.qty));
}

/* POST /raw (max_body 1024): how many bytes arrived. */
static int
raw_post(struct req *r)
{
    const char *p;
    size_t      n;

    req_body(r, &p, &n);
    return req_reply(r, 200, json_pack("{s:I}", "bytes", (json_int_t)n));
}

/* GET /sleep?ms=N: hold a worker for N ms (at most 5000). */
static int
sleep_get(struct req *r)
{
    struct timespec ts;
    int64_t         ms;
    int             rc;

    rc = req_query_i64(r, "ms", 0, 0, 5000, &ms);
    if (rc)
        return rc;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
    return req_reply(r, 200, json_pack("{s:I}", "slept_ms", (json_int_t)ms));
}

/* GET /items/{id} */
static int
item_get(struct req *r)
{
    int64_t id;
    int     rc;

    rc = req_param_id(r, "id", "item", &id);
    if (rc)
        return rc;
    return req_reply(r, 200, json_pack("{s:I}", "id", (json_int_t)id));
}

/* GET /me (a token is required): who the token says the caller is. */
static int
me_get(struct req *r)
{
    const char *sub = arena_printf(r->arena, "%lld", (long long)r->user.user_id);

    return req_reply(r, 200,
                     json_pack("{s:s, s:s}", "sub", sub, "role", auth_role_name(r->user.role)));
}

/* GET /admin (admin role required) */
static int
admin_get(struct req *r)
{
    return req_reply(r, 200, json_pack("{s:b}", "admin", 1));
}

/* GET /boom: an internal failure whose detail must reach the log only. */
static int
boom_get(struct req *r)
{
    return req_fail(r, ERR_INTERNAL, "boom: simulated driver failure at db.c:42 (secret=xyz)");
}

/* ---- a loop handler (server.h): GET /memo/{key}, GET /memo-user/{key} ---- */

/* The worker's answer: what the loop passed on (or everything when loop
 * halves are off). */
static int
memo_get(struct req *r)
{
    return req_reply(r, 200,
                     json_pack("{s:s,s:s,s:b}", "key", req_param(r, "key"), "from", "worker",
                               "passed", r->passed));
}

/* Per loop: requests waiting for the next turn, answered by a zero timer,
 * as a real loop half answers from a completion (kv_async_get). */
struct memo_loop {
    uv_timer_t  timer;
    struct req *waiting[64];
    int         n;
};

static void
memo_turn(uv_timer_t *t)
{
    struct memo_loop *ml = t->data;
    int               i, n = ml->n;

    ml->n = 0;
    for (i = 0; i < n; i++) {
        struct req *r = ml->waiting[i];
        const char *key = req_param(r, "key");

        if (strncmp(key, "hit", 3) == 0)
            server_loop_answer(r, req_reply(r, 200,
                                            json_pack("{s:s,s:s,s:b}", "key", key, "from", "loop",
                                                      "passed", r->passed)));
        else if (strncmp(key, "gone", 4) == 0)
            server_loop_answer(r, req_fail(r, ERR_NOT_FOUND, "no memo %s", key));
        else
            server_loop_pass(r);
    }
}

/* "now-*" passes at once, anything else waits for the next turn. */
static int
memo_loop(struct req *r)
{
    struct memo_loop *ml = r->loop;

    if (strncmp(req_param(r, "key"), "now", 3) == 0 || ml->n == 64)
        return SERVER_LOOP_PASS;
    ml->waiting[ml->n++] = r;
    if (!uv_is_active((uv_handle_t *)&ml->timer))
        uv_timer_start(&ml->timer, memo_turn, 0, 0);
    return SERVER_LOOP_PENDING;
}

static int testd_loop_halves;

static void *
memo_loop_init(int index, struct uv_loop_s *loop, void *arg)
{
    struct memo_loop *ml;

    (void)index;
    (void)arg;
    if (!testd_loop_halves)
        return NULL;
    ml = calloc(1, sizeof(*ml));
    if (ml == NULL)
        return NULL;
    uv_timer_init(loop, &ml->timer); /* not started: the loop does not run yet */
    ml->timer.data = ml;
    return ml;
}

static void
memo_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
memo_loop_fini(void *state)
{
    struct memo_loop *ml = state;

    uv_close((uv_handle_t *)&ml->timer, memo_closed);
}

static const struct server_loop_route testd_loop_routes[] = {
    {memo_get, memo_loop},
    {NULL, NULL},
};

static int
self_check(struct req *r)
{
    (void)r;
    return ERR_OK;
}

static const struct route testd_routes[] = {
    {"GET", "/echo", echo_get, 0, 0},
    {"POST", "/echo", echo_post, 0, 0},
    {"POST", "/raw", raw_post, 0, 1024},
    {"GET", "/sleep", sleep_get, 0, 0},
    {"GET", "/items/{id}", item_get, 0, 0},
    {"GET", "/me", me_get, ROUTE_USER, 0},
    {"GET", "/admin", admin_get, ROUTE_ADMIN, 0},
    {"GET", "/boom", boom_get, 0, 0},
    {"GET", "/memo/{key}", memo_get, 0, 0},
    {"GET", "/memo-user/{key}", memo_get, ROUTE_USER, 0},
    {NULL, NULL, NULL, 0, 0},
};

static const struct server_check testd_checks[] = {
    {"self", self_check},
    {NULL, NULL},
};

static struct testd_config testd;

int
main(int argc, char **argv)
{
    int rc;

    cfg_load(testd_vars, &testd, argc, argv,
             "souk-testd: a test service for lib/ (server, req, auth, decode, limits).");
    log_open("testd", testd.log_level);
    if (auth_init() != ERR_OK) {
        log_error("cannot initialise libsodium");
        return 1;
    }
    testd_loop_halves = (int)testd.loop_halves;
    rc = server_run(&(struct server_spec){
        .name = "testd",
        .listen = testd.listen,
        .routes = testd_routes,
        .checks = testd_checks,
        .jwt_secret = testd.jwt_secret,
        .loops = (int)testd.loops,
        .workers = (int)testd.workers,
        .header_timeout_ms = testd.header_timeout_ms,
        .body_timeout_ms = testd.body_timeout_ms,
        .idle_timeout_ms = testd.idle_timeout_ms,
        .drain_timeout_ms = testd.drain_timeout_ms,
        .loop_routes = testd_loop_routes,
        .loop_init = memo_loop_init,
        .loop_fini = memo_loop_fini,
    });
    return rc == ERR_OK ? 0 : 1;
}
