/*
 * 28_trace.c - request ids and traceparent (lib/trace.c), the rules both the
 * services and the gateway apply: a table of valid and invalid inputs, and
 * what is sent on for each.
 */
#include <string.h>

#include "arena.h"
#include "trace.h"
#include "t.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static const struct {
    const char *tp;
    int         ok;
    const char *why;
} parents[] = {
    {"00-" TID "-" PID "-01", 1, "the spec's example"},
    {"00-" TID "-" PID "-00", 1, "not sampled"},
    {"01-" TID "-" PID "-01", 1, "a later version"},
    {"01-" TID "-" PID "-01-extra", 1, "a later version with a field more"},
    {"00-" TID "-" PID "-01-extra", 0, "version 00 with a field more"},
    {"01-" TID "-" PID "-01extra", 0, "a later version, no '-' before more"},
    {"ff-" TID "-" PID "-01", 0, "version ff"},
    {"0g-" TID "-" PID "-01", 0, "version not hex"},
    {"00-" TID "-" PID "-0", 0, "short flags"},
    {"00-" TID "-" PID, 0, "no flags"},
    {"", 0, "empty"},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", 0, "upper-case trace id"},
    {"00-00000000000000000000000000000000-" PID "-01", 0, "all-zero trace id"},
    {"00-" TID "-0000000000000000-01", 0, "all-zero parent id"},
    {"00-" TID "-00f067aa0ba902bz-01", 0, "parent id not hex"},
    {"00_" TID "-" PID "-01", 0, "wrong separator"},
    {"00-" TID "x" PID "-01", 0, "wrong separator after the trace id"},
    {"00-" TID "-" PID "x01", 0, "wrong separator before the flags"},
    {"00-" TID "-" PID "-0x", 0, "flags not hex"},
};

static const struct {
    const char *id;
    int         ok;
} rids[] = {
    {"abc", 1},         {"A-Z.a_z-09", 1}, {"", 0}, {"a b", 0}, {"a\"b", 0}, {"a\r\nX-Evil: 1", 0},
    {"caf\xc3\xa9", 0}, {"a/b", 0},
};

static int
lower_hex_only(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

static void
test_parents(void)
{
    char   out[TRACE_PARENT_LEN + 1], id[TRACE_ID_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
        const char *tp = parents[i].tp;

        T_EQ_INT(trace_parent_ok(tp, strlen(tp)), parents[i].ok, "traceparent: %s", parents[i].why);
        snprintf(id, sizeof(id), "untouched");
        T_EQ_INT(trace_id(tp, strlen(tp), id), parents[i].ok, "trace_id: %s", parents[i].why);
        T_EQ_STR(id, parents[i].ok ? TID : "untouched", "trace_id value: %s", parents[i].why);
        trace_parent_next(tp, strlen(tp), out);
        T_OK(strlen(out) == TRACE_PARENT_LEN && trace_parent_ok(out, strlen(out)) &&
                 memcmp(out, "00-", 3) == 0,
             "sent on: valid version 00: %s", parents[i].why);
        if (parents[i].ok) {
            T_OK(memcmp(out + 3, TID, 32) == 0 && memcmp(out + 53, tp + 53, 2) == 0,
                 "sent on: same trace and flags: %s", parents[i].why);
            T_OK(memcmp(out + 36, PID, 16) != 0, "sent on: a new parent id: %s", parents[i].why);
        } else {
            T_OK(memcmp(out + 3, TID, 32) != 0 && memcmp(out + 53, "01", 2) == 0,
                 "sent on: a new sampled trace: %s", parents[i].why);
        }
    }
    trace_parent_next(NULL, 0, out);
    T_OK(trace_parent_ok(out, strlen(out)), "no traceparent: a new one");
}

static void
test_request_ids(void)
{
    struct arena *a = arena_create();
    char          longest[TRACE_REQUEST_ID_MAX + 2];
    const char   *x, *y;
    size_t        i;

    for (i = 0; i < sizeof(rids) / sizeof(rids[0]); i++)
        T_EQ_INT(trace_request_id_ok(rids[i].id, strlen(rids[i].id)), rids[i].ok,
                 "request id row %zu", i);
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    T_EQ_INT(trace_request_id_ok(longest, TRACE_REQUEST_ID_MAX), 1, "128 characters");
    T_EQ_INT(trace_request_id_ok(longest, TRACE_REQUEST_ID_MAX + 1), 0, "129 characters");
    T_EQ_INT(trace_request_id_ok("ab\0c", 4), 0, "a NUL inside");
    x = trace_request_id_new(a);
    y = trace_request_id_new(a);
    T_OK(strlen(x) == 32 && lower_hex_only(x, 32), "a new id is 32 hex digits");
    T_OK(trace_request_id_ok(x, strlen(x)), "a new id is one a client could send");
    T_OK(strcmp(x, y) != 0, "two new ids differ");
    arena_destroy(a);
}

int
main(void)
{
    test_parents();
    test_request_ids();
    return T_DONE();
}
