/*
 * mq_confirm.h - publisher-confirm bookkeeping for one AMQP channel, kept
 * apart from rabbitmq-c so it can be unit-tested (lib/t/26_mq_confirm.c).
 * The broker numbers a channel's publishes 1, 2, 3, ... and settles each
 * with basic.ack or basic.nack, possibly several at once (multiple) and, when
 * a batch goes to different queues (quorum queues, the alternate exchange),
 * out of order. The tracker records every tag in (taken, next) and hands out
 * outcomes in tag order once a prefix of tags is settled.
 */
#ifndef SOUK_MQ_CONFIRM_H
#define SOUK_MQ_CONFIRM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MQ_CONFIRM_WINDOW 512 /* unsettled or untaken tags at most (> one relay batch) */

enum mq_confirm_state { MQ_CONFIRM_PENDING, MQ_CONFIRM_ACKED, MQ_CONFIRM_NACKED };

/* Embedded by its owner; state[] is indexed by tag % MQ_CONFIRM_WINDOW.
 * Invariant: taken < next and next - taken - 1 <= MQ_CONFIRM_WINDOW. */
struct mq_confirm {
    uint64_t      taken;   /* every tag <= taken is settled and handed out */
    uint64_t      next;    /* the tag the next publish will get */
    size_t        pending; /* tags in (taken, next) still PENDING */
    unsigned char state[MQ_CONFIRM_WINDOW];
};

/* A new channel: its first publish is tag 1. */
void mq_confirm_reset(struct mq_confirm *t);
/* Record a publish and give its tag in *tag; ERR_TOO_LARGE when the window
 * is full (take outcomes first). */
MUST_CHECK int mq_confirm_publish(struct mq_confirm *t, uint64_t *tag);
/* Apply basic.ack (ack = 1) or basic.nack (ack = 0) for tag, or for every
 * tag up to tag when multiple. Tags already settled keep their outcome.
 * ERR_INVALID for a tag never published on this channel (a broker bug). */
MUST_CHECK int mq_confirm_settle(struct mq_confirm *t, uint64_t tag, int multiple, int ack);
/* Tags published and not settled yet. */
size_t mq_confirm_pending(const struct mq_confirm *t);
/* Hand out the oldest settled tag if every tag before it was handed out:
 * 1 with *tag and *acked set, 0 when the oldest tag is still pending or
 * nothing is left. */
int mq_confirm_take(struct mq_confirm *t, uint64_t *tag, int *acked);

#endif
