/*
 * 26_mq_confirm.c - the publisher-confirm tracker fed the sequences a broker
 * produces: in order, out of order (a batch spread over several queues),
 * multiple acks and nacks, a nack among acks, duplicates and tags it never
 * issued, and a window that wraps around.
 */
#include <stdio.h>
#include <string.h>

#include "mq_confirm.h"
#include "t.h"

/* One confirm from the broker: tag, multiple, ack (1) or nack (0). */
struct frame {
    uint64_t tag;
    int      multiple, ack;
};

static const struct {
    const char  *name;
    int          published;
    struct frame confirms[8];
    int          nconfirms;
    const char  *taken; /* outcomes handed out in order: '+' ack, '-' nack */
    size_t       pending;
} cases[] = {
    {"in order", 3, {{1, 0, 1}, {2, 0, 1}, {3, 0, 1}}, 3, "+++", 0},
    {"reversed", 3, {{3, 0, 1}, {2, 0, 1}, {1, 0, 1}}, 3, "+++", 0},
    {"a gap holds back the later ones", 4, {{2, 0, 1}, {4, 0, 1}}, 2, "", 2},
    {"the gap filled", 4, {{2, 0, 1}, {4, 0, 1}, {1, 0, 1}}, 3, "++", 1},
    {"interleaved queues",
     5,
     {{2, 0, 1}, {1, 0, 1}, {5, 0, 1}, {3, 0, 1}, {4, 0, 1}},
     5,
     "+++++",
     0},
    {"one multiple ack", 4, {{4, 1, 1}}, 1, "++++", 0},
    {"multiple after single", 5, {{3, 0, 1}, {5, 1, 1}}, 2, "+++++", 0},
    {"multiple covers a prefix only", 5, {{3, 1, 1}}, 1, "+++", 2},
    {"single nack", 3, {{1, 0, 1}, {2, 0, 0}, {3, 0, 1}}, 3, "+-+", 0},
    {"multiple nack", 3, {{2, 1, 0}, {3, 0, 1}}, 2, "--+", 0},
    {"multiple ack keeps an earlier nack", 4, {{2, 0, 0}, {4, 1, 1}}, 2, "+-++", 0},
    {"out-of-order nack", 3, {{3, 0, 0}, {1, 0, 1}, {2, 0, 1}}, 3, "++-", 0},
    {"a duplicate ack is harmless", 2, {{1, 0, 1}, {1, 0, 1}, {2, 0, 1}}, 3, "++", 0},
    {"nothing confirmed", 3, {{0, 0, 0}}, 0, "", 3},
};

/* Publish, confirm, take everything takeable; the outcomes as a string. */
static void
run_case(size_t k)
{
    struct mq_confirm t;
    char              got[32] = "";
    uint64_t          tag, want = 1;
    int               i, acked, n = 0, bad = 0;

    mq_confirm_reset(&t);
    for (i = 0; i < cases[k].published; i++)
        bad |= mq_confirm_publish(&t, &tag) != ERR_OK || tag != (uint64_t)i + 1;
    for (i = 0; i < cases[k].nconfirms; i++)
        bad |= mq_confirm_settle(&t, cases[k].confirms[i].tag, cases[k].confirms[i].multiple,
                                 cases[k].confirms[i].ack) != ERR_OK;
    while (n < 31 && mq_confirm_take(&t, &tag, &acked)) {
        bad |= tag != want++;
        got[n++] = acked ? '+' : '-';
    }
    got[n] = '\0';
    T_OK(!bad, "%s: tags 1.. issued and handed out in order", cases[k].name);
    T_EQ_STR(got, cases[k].taken, "%s: outcomes", cases[k].name);
    T_EQ_INT(mq_confirm_pending(&t), cases[k].pending, "%s: still pending", cases[k].name);
}

/* Tags the broker never issued, or already handed out, are refused. */
static void
refusals(void)
{
    struct mq_confirm t;
    uint64_t          tag;
    int               acked;

    mq_confirm_reset(&t);
    T_EQ_INT(mq_confirm_settle(&t, 1, 0, 1), ERR_INVALID, "ack before any publish");
    T_OK(mq_confirm_publish(&t, &tag) == ERR_OK && tag == 1, "first tag is 1");
    T_EQ_INT(mq_confirm_settle(&t, 0, 1, 1), ERR_INVALID, "tag 0");
    T_EQ_INT(mq_confirm_settle(&t, 2, 0, 1), ERR_INVALID, "a tag from the future");
    T_EQ_INT(mq_confirm_settle(&t, 1, 0, 1), ERR_OK, "ack 1");
    T_OK(mq_confirm_take(&t, &tag, &acked) && tag == 1 && acked, "take 1");
    T_EQ_INT(mq_confirm_settle(&t, 1, 0, 1), ERR_INVALID, "a single ack of a tag handed out");
    T_OK(!mq_confirm_take(&t, &tag, &acked), "nothing left to take");
}

/* The window is a ring: many batches on one channel, each confirmed in
 * reverse, and a full window refuses one more publish. */
static void
wraparound(void)
{
    struct mq_confirm t;
    uint64_t          tag, first, want = 1;
    int               b, i, acked, bad = 0;

    mq_confirm_reset(&t);
    for (b = 0; b < 5; b++) {
        first = t.next;
        for (i = 0; i < 200; i++)
            bad |= mq_confirm_publish(&t, &tag) != ERR_OK;
        for (i = 199; i >= 0; i--)
            bad |= mq_confirm_settle(&t, first + (uint64_t)i, 0, i % 7 != 3) != ERR_OK;
        for (i = 0; i < 200; i++)
            bad |= !mq_confirm_take(&t, &tag, &acked) || tag != want++ || acked != (i % 7 != 3);
    }
    T_OK(!bad, "five batches of 200 across the ring, reversed, with nacks");
    for (i = 0; i < MQ_CONFIRM_WINDOW; i++)
        bad |= mq_confirm_publish(&t, &tag) != ERR_OK;
    T_OK(!bad, "a full window of publishes");
    T_EQ_INT(mq_confirm_publish(&t, &tag), ERR_TOO_LARGE, "one more is refused");
    T_EQ_INT(mq_confirm_pending(&t), MQ_CONFIRM_WINDOW, "all pending");
}

int
main(void)
{
    size_t k;

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        run_case(k);
    refusals();
    wraparound();
    return T_DONE();
}
