/*
 * 10_users.c - the users service's pure logic, table by table: email
 * normalisation (the monolith's rule), the client address taken from
 * X-Forwarded-For, and the login throttle's window arithmetic.
 */
#include "t.h"
#include "users.h"

struct users_config users_cfg; /* main.c is not linked into unit tests */

static const struct {
    const char *in, *out; /* out NULL: refused */
} emails[] = {
    {"Alice@Example.TEST", "alice@example.test"},
    {"a@b.c", "a@b.c"},
    {"o'brien@example.test", "o'brien@example.test"},
    {"x@y.z' OR '1'='1", NULL}, /* spaces */
    {"first.last+tag@sub.example.org", "first.last+tag@sub.example.org"},
    {"\xc3\x84gir@Example.de", "\xc3\x84gir@example.de"}, /* only ASCII is folded */
    {"not-an-email", NULL},
    {"a@b", NULL},
    {"@b.c", NULL},
    {"a@", NULL},
    {"a@.", "a@."}, /* shape only: the monolith accepts it too */
    {"a b@c.de", NULL},
    {"a@b@c.de", NULL},
    {"a\t@b.cd", NULL},
    {"a@b.cd\x7f", NULL},
    {"' OR 1=1 --", NULL},
    {"", NULL},
};

static void
test_emails(struct arena *a)
{
    const char *out;
    size_t      i;
    int         rc;

    for (i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
        out = NULL;
        rc = users_email_normalise(a, emails[i].in, &out);
        if (emails[i].out == NULL) {
            T_EQ_INT(rc, ERR_INVALID, "email %zu \"%s\" is refused", i, emails[i].in);
        } else {
            T_EQ_INT(rc, ERR_OK, "email %zu \"%s\" is accepted", i, emails[i].in);
            T_EQ_STR(out, emails[i].out, "email %zu normalised", i);
        }
    }
}

static const struct {
    const char *xff, *ip;
} ips[] = {
    {NULL, USERS_IP_NONE},
    {"", USERS_IP_NONE},
    {"10.0.0.1", "10.0.0.1"},
    {"9.9.9.9, 10.0.0.1", "10.0.0.1"}, /* the client's claim comes first */
    {"9.9.9.9,10.0.0.2  ", "10.0.0.2"},
    {"1.2.3.4, 2001:DB8::1", "2001:db8::1"},
    {"::1", "::1"},
    {"10.0.0.1, ", USERS_IP_NONE},
    {"unknown", USERS_IP_NONE},
    {"10.0.0.1, evil'; DROP TABLE users; --", USERS_IP_NONE},
    {"1.2", USERS_IP_NONE},
    {"12345", USERS_IP_NONE},
    {"1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6", USERS_IP_NONE},
    {"[::1]", USERS_IP_NONE},
};

static void
test_ips(struct arena *a)
{
    size_t i;

    for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
        T_EQ_STR(users_client_ip(a, ips[i].xff), ips[i].ip, "client address %zu from \"%s\"", i,
                 ips[i].xff ? ips[i].xff : "(none)");
}

#define W  900000LL /* a 15-minute window, ms */
#define T0 1700000000000LL

static const struct {
    const char *why;
    int64_t     failures, start, now, max, wait; /* wait: expected seconds, 0 = allowed */
} waits[] = {
    {"no row", 0, 0, T0, 5, 0},
    {"under the limit", 4, T0, T0 + 1000, 5, 0},
    {"at the limit, window just opened", 5, T0, T0, 5, 900},
    {"at the limit, 1 ms in", 5, T0, T0 + 1, 5, 900},
    {"at the limit, rounds up", 5, T0, T0 + 1001, 5, 899},
    {"over the limit", 9, T0, T0 + 600000, 5, 300},
    {"last millisecond of the window", 5, T0, T0 + W - 1, 5, 1},
    {"window ended exactly", 5, T0, T0 + W, 5, 0},
    {"window ended long ago", 50, T0, T0 + 10 * W, 5, 0},
    {"clock went back: capped at a window", 5, T0, T0 - 60000, 5, 900},
    {"limit 1", 1, T0, T0 + 500, 1, 900},
    {"address limit 20, 19 failures", 19, T0, T0 + 500, 20, 0},
    {"address limit 20, 20 failures", 20, T0, T0 + 500, 20, 900},
};

static void
test_waits(void)
{
    struct throttle_state s;
    size_t                i;

    for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        s.failures = waits[i].failures;
        s.window_start_ms = waits[i].start;
        T_EQ_INT(throttle_wait(&s, waits[i].max, W, waits[i].now), waits[i].wait, "wait: %s",
                 waits[i].why);
    }
}

static const struct {
    const char *why;
    int64_t     failures, start, now, window;
    int         expired;
} ends[] = {
    {"no failures is a fresh window", 0, T0, T0, W, 1},
    {"inside", 3, T0, T0 + W - 1, W, 0},
    {"boundary belongs to the next window", 3, T0, T0 + W, W, 1},
    {"after", 3, T0, T0 + W + 1, W, 1},
    {"a 1 s window", 3, T0, T0 + 999, 1000, 0},
    {"a 1 s window, ended", 3, T0, T0 + 1000, 1000, 1},
    {"start near the end of time does not overflow", 3, INT64_MAX - 10, T0, W, 1},
};

static void
test_expired(void)
{
    struct throttle_state s;
    size_t                i;

    for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        s.failures = ends[i].failures;
        s.window_start_ms = ends[i].start;
        T_EQ_INT(throttle_expired(&s, ends[i].window, ends[i].now), ends[i].expired, "expired: %s",
                 ends[i].why);
    }
}

int
main(void)
{
    struct arena *a = arena_create();

    test_emails(a);
    test_ips(a);
    test_waits();
    test_expired();
    arena_destroy(a);
    return T_DONE();
}
