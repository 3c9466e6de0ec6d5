/*
 * 10_history.c - history.c: the merge rules in every order of the events and
 * with duplicates, the versions read-your-writes compares, what v1 lists,
 * the rendered v1 bytes (orders' v1 member order) and v2 summary, and the
 * parsers of the cursor and of Souk-Min-Order-Version.
 */
#include <string.h>

#include "history.h"
#include "t.h"

static struct hist_event
ev(enum hist_kind k, const char *at)
{
    struct hist_event e = {.kind = k, .order_id = 9, .user_id = 7, .at = at};

    if (k == HIST_CREATED) {
        e.items = "[]";
        e.ship = "null";
        e.total_minor = 1999;
        memcpy(e.currency, "EUR", 4);
        e.card_last4 = "4242";
    }
    if (k == HIST_CANCELLED)
        e.reason = "payment-declined";
    return e;
}

/* Apply the events in order to an empty row. */
static struct hist_row
apply(const struct hist_event *e, size_t n)
{
    struct hist_row r = {.id = 9};
    size_t          i;

    for (i = 0; i < n; i++)
        hist_merge(&r, &e[i]);
    return r;
}

static void
test_orders_of_events(void)
{
    struct hist_event c = ev(HIST_CREATED, "2026-12-07T10:00:00Z"),
                      ok = ev(HIST_CONFIRMED, "2026-12-07T10:00:05Z"),
                      no = ev(HIST_CANCELLED, "2026-12-07T10:00:06Z");
    struct hist_event seqs[][3] = {{c, ok, no}, {ok, c, no}, {ok, no, c}, {c, ok, ok}, {ok, c, c}};
    struct hist_row   r;
    size_t            i;

    for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        r = apply(seqs[i], 3);
        T_EQ_STR(r.status, "CONFIRMED", "order %zu: the first terminal event wins", i);
        T_EQ_STR(r.created_at, "2026-12-07T10:00:00Z", "order %zu: created's facts kept", i);
        T_EQ_STR(r.updated_at, "2026-12-07T10:00:05Z", "order %zu: updated when confirmed", i);
        T_EQ_STR(r.payment, "APPROVED", "order %zu: paid", i);
        T_EQ_INT(hist_version(&r), 2, "order %zu: version 2", i);
        T_OK(hist_v1_visible(&r), "order %zu: a v1 order", i);
    }
    r = apply(&ok, 1);
    T_EQ_INT(hist_version(&r), 1, "terminal alone: version 1");
    T_OK(!hist_v1_visible(&r), "terminal alone: not listed (no lines yet)");
    r = apply(&c, 1);
    T_EQ_STR(r.status, "PENDING", "created alone: PENDING");
    T_EQ_INT(hist_version(&r), 1, "created alone: version 1");
    T_OK(hist_merge(&r, &c) == 0, "a duplicate created changes nothing");
    r = apply((struct hist_event[]){c, no}, 2);
    T_EQ_STR(r.reason, "payment-declined", "cancelled keeps its reason");
    T_OK(!hist_v1_visible(&r), "a failed checkout is no v1 order");
    r.legacy = 1;
    T_OK(hist_v1_visible(&r), "a monolith order is a v1 order in any state");
}

static void
test_render(void)
{
    struct hist_event c = ev(HIST_CREATED, "2026-12-07T10:00:00Z"),
                      ok = ev(HIST_CONFIRMED, "2026-12-07T10:00:05Z");
    struct arena     *a = arena_create();
    struct buf       *b = buf_new(a, 4096);
    struct hist_row   r;

    hist_item(b, 42, "Tea \"Earl\"", 10, 2, 500, "EUR");
    T_EQ_STR(buf_data(b),
             "{\"product_id\":42,\"name\":\"Tea \\\"Earl\\\"\",\"quantity\":2,\"unit_price\":"
             "{\"amount\":500,\"currency\":\"EUR\"},\"line_total\":{\"amount\":1000,\"currency\":"
             "\"EUR\"}}",
             "a v1 line, escaped, with its total");
    c.items = "[]";
    r = apply((struct hist_event[]){c}, 1);
    hist_render(&r, a);
    T_EQ_STR(r.v1_json,
             "{\"id\":9,\"user_id\":7,\"status\":\"PENDING\",\"total\":{\"amount\":1999,\"currency\":"
             "\"EUR\"},\"items\":[],\"shipping_address\":null,\"payment\":null,\"created_at\":"
             "\"2026-12-07T10:00:00Z\"}",
             "v1 pending: the monolith's members in its order, no payment yet");
    hist_merge(&r, &ok);
    hist_render(&r, a);
    T_OK(strstr(r.v1_json, "\"payment\":{\"status\":\"APPROVED\",\"card_last4\":\"4242\"}") != NULL,
         "v1 confirmed: payment approved with the last four");
    T_OK(strstr(r.v2_json, "\"reason\":null") != NULL &&
             strstr(r.v2_json, "\"payment\":{\"status\":\"paid\"") != NULL &&
             strstr(r.v2_json, "\"version\":2}") != NULL,
         "v2: reason, payment summary, version");
    arena_destroy(a);
}

static void
test_parsers(void)
{
    struct arena *a = arena_create();
    int64_t       us, id, v;
    const char   *bad_cursors[] = {"", "-", "1-", "-1", "1-0", "g-1", "1--1", "A-1",
                                   "1234567890123456-1", "1-1-1", " 1-1", NULL};
    const char   *bad_versions[] = {"", ":", "1:", ":1", "0:1", "1:0", "1:3", "a:1", "1:1:1",
                                    "-1:1", "1 :1", "1234567890123456789:1", NULL};
    size_t        i;

    T_EQ_INT(hist_cursor_decode(hist_cursor_encode(a, 1733565600123456, 77), &us, &id), ERR_OK,
             "a cursor decodes");
    T_OK(us == 1733565600123456 && id == 77, "to what was encoded");
    for (i = 0; bad_cursors[i]; i++)
        T_EQ_INT(hist_cursor_decode(bad_cursors[i], &us, &id), ERR_INVALID, "cursor '%s' refused",
                 bad_cursors[i]);
    T_EQ_INT(hist_min_version_parse("1001:2", &id, &v), ERR_OK, "ID:VERSION parses");
    T_OK(id == 1001 && v == 2, "to its parts");
    for (i = 0; bad_versions[i]; i++)
        T_EQ_INT(hist_min_version_parse(bad_versions[i], &id, &v), ERR_INVALID,
                 "version '%s' refused", bad_versions[i]);
    T_EQ_INT(hist_status_check("CANCELLED"), ERR_OK, "a state");
    T_EQ_INT(hist_status_check("cancelled"), ERR_INVALID, "states are upper case");
    arena_destroy(a);
}

int
main(void)
{
    test_orders_of_events();
    test_render();
    test_parsers();
    return T_DONE();
}
