/*
 * 12_breaker_ratelimit_canary.c - the per-request policies: the breaker's
 * state machine over a timeline, token buckets (burst, refill, Retry-After,
 * bounded size), and the canary's split, stickiness and one-shot rollback.
 */
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "metrics.h"
#include "t.h"

/* ------------------------------------------------------------ breaker */

enum op { ALLOW, OK, FAIL };

static const struct {
    enum op               op;
    uint64_t              at;
    int                   allowed; /* ALLOW: expected answer */
    enum gw_breaker_state after;
} timeline[] = {
    {ALLOW, 0, 1, GW_BREAKER_CLOSED},
    {FAIL, 1, 0, GW_BREAKER_CLOSED},
    {FAIL, 2, 0, GW_BREAKER_CLOSED},
    {FAIL, 3, 0, GW_BREAKER_CLOSED},
    {FAIL, 4, 0, GW_BREAKER_CLOSED},
    {OK, 5, 0, GW_BREAKER_CLOSED}, /* a success breaks the run */
    {FAIL, 6, 0, GW_BREAKER_CLOSED},
    {FAIL, 7, 0, GW_BREAKER_CLOSED},
    {FAIL, 8, 0, GW_BREAKER_CLOSED},
    {FAIL, 9, 0, GW_BREAKER_CLOSED},
    {FAIL, 10, 0, GW_BREAKER_OPEN}, /* fifth in a row */
    {ALLOW, 11, 0, GW_BREAKER_OPEN},
    {OK, 12, 0, GW_BREAKER_OPEN}, /* late answer from before the trip: ignored */
    {ALLOW, 5009, 0, GW_BREAKER_OPEN},
    {ALLOW, 5010, 1, GW_BREAKER_HALF_OPEN}, /* 5 s cooldown over: the probe */
    {ALLOW, 5011, 0, GW_BREAKER_HALF_OPEN}, /* one probe at a time */
    {FAIL, 5020, 0, GW_BREAKER_OPEN},       /* probe failed: 10 s */
    {ALLOW, 15019, 0, GW_BREAKER_OPEN},
    {ALLOW, 15020, 1, GW_BREAKER_HALF_OPEN},
    {FAIL, 15020, 0, GW_BREAKER_OPEN}, /* 20 s */
    {ALLOW, 35019, 0, GW_BREAKER_OPEN},
    {ALLOW, 35020, 1, GW_BREAKER_HALF_OPEN},
    {FAIL, 35020, 0, GW_BREAKER_OPEN}, /* 40 s */
    {ALLOW, 75020, 1, GW_BREAKER_HALF_OPEN},
    {FAIL, 75020, 0, GW_BREAKER_OPEN}, /* 80 s, capped at 60 s */
    {ALLOW, 135019, 0, GW_BREAKER_OPEN},
    {ALLOW, 135020, 1, GW_BREAKER_HALF_OPEN},
    {ALLOW, 165019, 0, GW_BREAKER_HALF_OPEN}, /* probe out 29.999 s */
    {ALLOW, 165020, 1, GW_BREAKER_HALF_OPEN}, /* never answered: another probe */
    {OK, 165021, 0, GW_BREAKER_CLOSED},
    {ALLOW, 165022, 1, GW_BREAKER_CLOSED},
    {FAIL, 165030, 0, GW_BREAKER_CLOSED},
    {FAIL, 165031, 0, GW_BREAKER_CLOSED},
    {FAIL, 165032, 0, GW_BREAKER_CLOSED},
    {FAIL, 165033, 0, GW_BREAKER_CLOSED},
    {FAIL, 165034, 0, GW_BREAKER_OPEN},
    {ALLOW, 170033, 0, GW_BREAKER_OPEN},
    {ALLOW, 170034, 1, GW_BREAKER_HALF_OPEN}, /* closing reset the cooldown to 5 s */
};

static const char *const state_names[] = {"closed", "open", "half_open"};

static void
test_breaker(void)
{
    json_t    *j;
    struct buf m;
    size_t     i;
    int        allowed;

    for (i = 0; i < sizeof(timeline) / sizeof(timeline[0]); i++) {
        if (timeline[i].op == ALLOW) {
            allowed = breaker_allow("10.0.0.1:80", timeline[i].at);
            T_EQ_INT(allowed, timeline[i].allowed, "step %zu: allow at %llu", i,
                     (unsigned long long)timeline[i].at);
        } else {
            breaker_record("10.0.0.1:80", timeline[i].op == OK, timeline[i].at);
        }
        T_EQ_STR(state_names[breaker_state("10.0.0.1:80")], state_names[timeline[i].after],
                 "step %zu: state", i);
    }
    j = breaker_json("10.0.0.1:80");
    T_EQ_STR(json_string_value(json_object_get(j, "state")), "half_open", "json: state");
    T_EQ_INT(json_integer_value(json_object_get(j, "trips")), 6, "json: trips");
    T_EQ_INT(json_integer_value(json_object_get(j, "cooldown_ms")), 5000, "json: cooldown");
    json_decref(j);
    j = breaker_json("never.used:1");
    T_EQ_STR(json_string_value(json_object_get(j, "state")), "closed", "json: unknown server");
    json_decref(j);
    T_EQ_INT(breaker_state("never.used:1"), GW_BREAKER_CLOSED, "unknown server is closed");

    /* A failure ratio trips without five in a row: 10 of 20 alternate. */
    for (i = 0; i < 20; i++) {
        breaker_record("10.0.0.2:80", i % 2 == 1, 1000 + i);
        T_EQ_INT(breaker_state("10.0.0.2:80"), i == 19 ? GW_BREAKER_OPEN : GW_BREAKER_CLOSED,
                 "ratio: answer %zu", i);
    }
    /* The ratio window is 10 s: old failures do not count. */
    for (i = 0; i < 19; i++)
        breaker_record("10.0.0.3:80", i % 2 == 1, 0);
    breaker_record("10.0.0.3:80", 0, 10000);
    T_EQ_INT(breaker_state("10.0.0.3:80"), GW_BREAKER_CLOSED, "ratio window slides");

    buf_init(&m, 1 << 20);
    metrics_render(&m);
    T_OK(strstr(buf_data(&m), "souk_gateway_breaker_state{server=\"10.0.0.2:80\"} 1\n") != NULL,
         "breaker gauge in /metrics");
    buf_free(&m);
    breaker_reset();
    T_EQ_INT(breaker_state("10.0.0.2:80"), GW_BREAKER_CLOSED, "reset closes");
}

/* ------------------------------------------------------------ ratelimit */

static const struct {
    const char *route, *key;
    double      rate;
    int         burst;
    uint64_t    at;
    int         allowed, retry_after;
} takes[] = {
    {"r", "1.2.3.4", 2, 3, 1000, 1, 0},
    {"r", "1.2.3.4", 2, 3, 1000, 1, 0},
    {"r", "1.2.3.4", 2, 3, 1000, 1, 0},
    {"r", "1.2.3.4", 2, 3, 1000, 0, 1},  /* burst spent; a token in 0.5 s */
    {"r", "5.6.7.8", 2, 3, 1000, 1, 0},  /* another client: its own bucket */
    {"r2", "1.2.3.4", 2, 3, 1000, 1, 0}, /* another route: its own bucket */
    {"r", "1.2.3.4", 2, 3, 1499, 0, 1},
    {"r", "1.2.3.4", 2, 3, 1500, 1, 0}, /* refilled one */
    {"r", "1.2.3.4", 2, 3, 1500, 0, 1},
    {"r", "1.2.3.4", 2, 3, 60000, 1, 0}, /* long idle: full burst, not more */
    {"r", "1.2.3.4", 2, 3, 60000, 1, 0},
    {"r", "1.2.3.4", 2, 3, 60000, 1, 0},
    {"r", "1.2.3.4", 2, 3, 60000, 0, 1},
    {"r", "1.2.3.4", 2, 3, 59000, 0, 1}, /* a clock behind never refills */
    {"slow", "u1", 0.1, 1, 0, 1, 0},
    {"slow", "u1", 0.1, 1, 0, 0, 10}, /* one token per 10 s */
    {"slow", "u1", 0.1, 1, 2500, 0, 8},
    {"slow", "u1", 0.1, 1, 10000, 1, 0},
    {"half", "u1", 0.5, 1, 0, 1, 0},
    {"half", "u1", 0.5, 1, 0, 0, 2},
    {"fast", "u1", 1000, 1, 0, 1, 0},
    {"fast", "u1", 1000, 1, 0, 0, 1}, /* 1 ms away, still at least 1 s */
    {"shrink", "k", 10, 10, 0, 1, 0},
    {"shrink", "k", 10, 1, 0, 1, 0}, /* reload lowered the burst: capped to 1 */
    {"shrink", "k", 10, 1, 0, 0, 1},
    {"off", "k", 0, 0, 0, 1, 0},
    {"off", "k", 0, 0, 0, 1, 0},
};

static void
test_ratelimit(void)
{
    char   key[32];
    size_t i;
    int    retry, ok;

    for (i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
        ok = ratelimit_take(takes[i].route, takes[i].key, takes[i].rate, takes[i].burst,
                            takes[i].at, &retry);
        T_EQ_INT(ok, takes[i].allowed, "take %zu (%s %s at %llu)", i, takes[i].route, takes[i].key,
                 (unsigned long long)takes[i].at);
        T_EQ_INT(retry, takes[i].retry_after, "take %zu: retry_after", i);
    }

    ratelimit_reset();
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "old-%zu", i);
        (void)ratelimit_take("r", key, 1, 5, 0, &retry);
    }
    T_EQ_INT(ratelimit_size(), 1000, "1000 active buckets");
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "new-%zu", i);
        (void)ratelimit_take("r", key, 1, 5, 10000, &retry);
    }
    T_EQ_INT(ratelimit_size(), 1000, "refilled (idle) buckets were evicted by new ones");
    ratelimit_reset();
    for (i = 0; i < 70000; i++) {
        snprintf(key, sizeof(key), "flood-%zu", i);
        (void)ratelimit_take("r", key, 1, 5, 0, &retry);
    }
    T_EQ_INT(ratelimit_size(), 65536, "a flood of keys is bounded");
    ok = ratelimit_take("r", "flood-69999", 1, 5, 0, &retry);
    T_OK(ok, "the newest bucket survived the flood");
    ratelimit_reset();
    T_EQ_INT(ratelimit_size(), 0, "reset empties the map");
}

/* ------------------------------------------------------------ canary */

static void
test_canary_split(void)
{
    static const int percents[] = {0, 1, 10, 50, 90, 100};
    char             key[32];
    size_t           p;
    int              i, n, sticky = 1, monotonic = 1;

    for (p = 0; p < sizeof(percents) / sizeof(percents[0]); p++) {
        for (n = 0, i = 0; i < 10000; i++) {
            snprintf(key, sizeof(key), "user-%d", i);
            n += canary_pick(key, percents[p]);
            sticky &= canary_pick(key, percents[p]) == canary_pick(key, percents[p]);
            if (canary_pick(key, percents[p]))
                monotonic &= canary_pick(key, percents[p] + 5);
        }
        printf("# canary %d%%: %d of 10000\n", percents[p], n);
        T_OK(n >= percents[p] * 100 - 300 && n <= percents[p] * 100 + 300,
             "canary %d%%: %d of 10000 within 3%%", percents[p], n);
    }
    T_OK(sticky, "a key always gets the same answer");
    T_OK(monotonic, "raising the percent never moves a key back to legacy");
    T_EQ_INT(canary_pick("user-1", 0), 0, "0%%: never");
    T_EQ_INT(canary_pick("user-1", 100), 1, "100%%: always");
    T_EQ_INT(canary_pick(NULL, 50) + canary_pick("", 50), 0, "no key: legacy");
}

static void
test_canary_rollback(void)
{
    struct gw_route r = {.name = "catalog",
                         .rollback_error_rate = 0.5,
                         .rollback_window_ms = 10000,
                         .rollback_min_requests = 20};
    struct gw_route off = {.name = "off", .rollback_window_ms = 10000, .rollback_min_requests = 1};
    int             i, fired = 0;

    for (i = 0; i < 19; i++)
        fired += canary_record(&r, 1, 1000);
    T_EQ_INT(fired, 0, "below min_requests: no rollback");
    T_EQ_INT(canary_record(&r, 1, 1000), 1, "20th failure: rollback");
    for (fired = 0, i = 0; i < 19; i++)
        fired += canary_record(&r, 1, 1001);
    T_EQ_INT(fired, 0, "fires once: the window starts over");

    canary_reset();
    for (i = 0; i < 10; i++)
        (void)canary_record(&r, 1, 2000);
    for (fired = 0, i = 0; i < 10; i++)
        fired += canary_record(&r, 0, 2000);
    T_EQ_INT(fired, 0, "exactly the threshold (10 of 20) is not above it");
    T_EQ_INT(canary_record(&r, 1, 2000), 1, "11 of 21 is above it");

    canary_reset();
    for (i = 0; i < 15; i++)
        (void)canary_record(&r, 1, 0);
    for (fired = 0, i = 0; i < 10; i++)
        fired += canary_record(&r, 1, 11000);
    T_EQ_INT(fired, 0, "failures older than the window do not count");
    for (fired = 0, i = 0; i < 10; i++)
        fired += canary_record(&r, 1, 12000);
    T_EQ_INT(fired, 1, "20 recent failures do");

    for (fired = 0, i = 0; i < 100; i++)
        fired += canary_record(&off, 1, 0);
    T_EQ_INT(fired, 0, "no rollback configured: never fires");
    canary_reset();
}

int
main(void)
{
    test_breaker();
    test_ratelimit();
    test_canary_split();
    test_canary_rollback();
    return T_DONE();
}
