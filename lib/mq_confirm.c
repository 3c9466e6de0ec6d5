/*
 * mq_confirm.c - publisher-confirm bookkeeping (see mq_confirm.h). Pure: no
 * broker, no clock, no allocation.
 */
#include <string.h>

#include "mq_confirm.h"

void
mq_confirm_reset(struct mq_confirm *t)
{
    t->taken = 0;
    t->next = 1;
    t->pending = 0;
    memset(t->state, MQ_CONFIRM_PENDING, sizeof(t->state));
}

int
mq_confirm_publish(struct mq_confirm *t, uint64_t *tag)
{
    if (t->next - t->taken - 1 >= MQ_CONFIRM_WINDOW)
        return ERR_TOO_LARGE;
    *tag = t->next++;
    t->state[*tag % MQ_CONFIRM_WINDOW] = MQ_CONFIRM_PENDING;
    t->pending++;
    return ERR_OK;
}

static void
settle_one(struct mq_confirm *t, uint64_t tag, int ack)
{
    unsigned char *s = &t->state[tag % MQ_CONFIRM_WINDOW];

    if (*s != MQ_CONFIRM_PENDING)
        return; /* settled once; the broker does not change its mind */
    *s = ack ? MQ_CONFIRM_ACKED : MQ_CONFIRM_NACKED;
    t->pending--;
}

int
mq_confirm_settle(struct mq_confirm *t, uint64_t tag, int multiple, int ack)
{
    uint64_t i;

    if (tag >= t->next || (!multiple && tag <= t->taken) || tag == 0)
        return ERR_INVALID;
    /* A multiple confirm covers every tag up to tag; those already handed
     * out were settled before, so start after them. */
    for (i = multiple ? t->taken + 1 : tag; i <= tag; i++)
        settle_one(t, i, ack);
    return ERR_OK;
}

size_t
mq_confirm_pending(const struct mq_confirm *t)
{
    return t->pending;
}

int
mq_confirm_take(struct mq_confirm *t, uint64_t *tag, int *acked)
{
    uint64_t       oldest = t->taken + 1;
    unsigned char *s = &t->state[oldest % MQ_CONFIRM_WINDOW];

    if (oldest >= t->next || *s == MQ_CONFIRM_PENDING)
        return 0;
    *tag = oldest;
    *acked = *s == MQ_CONFIRM_ACKED;
    *s = MQ_CONFIRM_PENDING;
    t->taken = oldest;
    return 1;
}
