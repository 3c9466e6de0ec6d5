/*
 * events.c - payments' part of the order saga (contracts/events.md).
 * In: inventory.reserved → authorise the order's amount → payment.succeeded
 * or payment.failed; order.confirmed → capture → payment.captured;
 * order.cancelled → void the authorisation or refund the capture →
 * payment.refunded (also when the cancellation comes first: the order is
 * then recorded as CANCELLED and never authorised).
 *
 * Never twice: the order's idempotency key is committed on the thread's own
 * autocommit connection before the provider is called; every handler then
 * locks the order's row inside its message's transaction, so one handler at
 * a time decides about an order, and a payment found AUTHORIZING (a handler
 * died between the provider's answer and its commit) is settled by asking
 * the provider what the key got, not by charging again. The provider itself
 * performs each operation once per key.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "card.h"
#include "log.h"
#include "metrics.h"
#include "payments.h"

static int on_reserved(struct mq_msg *m);
static int on_confirmed(struct mq_msg *m);
static int on_cancelled(struct mq_msg *m);

const struct mq_consumer payments_consumers[] = {
    {EVENT_INVENTORY_RESERVED, on_reserved},
    {EVENT_ORDER_CONFIRMED, on_confirmed},
    {EVENT_ORDER_CANCELLED, on_cancelled},
    {EVENT__COUNT, NULL},
};

/* ---- metrics ---- */

/* clang-format off */
static struct metric unanswered = {.name = "souk_payments_provider_unanswered_total",
    .help = "Provider calls that got no answer (an authorisation is retried with back-off).",
    .kind = METRIC_COUNTER};
static struct metric provider_time = {.name = "souk_payments_provider_seconds",
    .help = "Time of each call to the provider, its latency included.",
    .kind = METRIC_HISTOGRAM};
/* clang-format on */
static struct metric *entered[PAYMENT_CANCELLED + 1]; /* souk_payments_transitions_total{state} */

void
events_setup(void)
{
    static const char *const labels[] = {
#define X(name, text) [PAYMENT_##name] = "state=\"" text "\"",
        PAYMENT_STATES(X)
#undef X
    };
    int s;

    metrics_register(&unanswered);
    metrics_register(&provider_time);
    for (s = PAYMENT_AUTHORIZING; s <= PAYMENT_CANCELLED; s++)
        entered[s] = metrics_labeled("souk_payments_transitions_total",
                                     "Payments that entered a state.", METRIC_COUNTER, labels[s]);
}

/* Count a state entered (after setup: unit tests run without). */
static void
count_state(enum payment_state s)
{
    if ((size_t)s < sizeof(entered) / sizeof(entered[0]) && entered[s] != NULL)
        metrics_add(entered[s], 1);
}

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One provider call's time and, if it got no answer, the count. */
static int
timed(int64_t since_us, int rc)
{
    metrics_observe(&provider_time, (uint64_t)(now_us() - since_us));
    if (rc == ERR_UNAVAILABLE)
        metrics_add(&unanswered, 1);
    return rc;
}

/* ---- what payments says ---- */

static json_t *
money(const struct payment *p)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)p->amount_minor, "currency", p->currency);
}

static json_t *
succeeded_encode(const struct payment *p)
{
    return json_pack("{s:I,s:I,s:o,s:s,s:s}", "order_id", (json_int_t)p->order_id, "payment_id",
                     (json_int_t)p->id, "amount", money(p), "provider_ref", p->provider_ref,
                     "card_last4", p->card_last4);
}

static json_t *
failed_encode(const struct payment *p)
{
    return json_pack("{s:I,s:s,s:I}", "order_id", (json_int_t)p->order_id, "reason", p->failure,
                     "attempts", (json_int_t)p->attempts);
}

static json_t *
captured_encode(const struct payment *p)
{
    return json_pack("{s:I,s:I,s:o}", "order_id", (json_int_t)p->order_id, "payment_id",
                     (json_int_t)p->id, "amount", money(p));
}

static json_t *
refunded_encode(const struct payment *p, const char *kind)
{
    return json_pack("{s:I,s:I,s:o,s:s}", "order_id", (json_int_t)p->order_id, "payment_id",
                     (json_int_t)p->id, "amount", money(p), "kind", kind);
}

static json_t *
voided_encode(const struct payment *p)
{
    return refunded_encode(p, "void");
}

static json_t *
refund_encode(const struct payment *p)
{
    return refunded_encode(p, "refund");
}

static const struct {
    enum event_type type;
    json_t *(*encode)(const struct payment *p);
} emits[] = {
    [PAY_EMIT_SUCCEEDED] = {EVENT_PAYMENT_SUCCEEDED, succeeded_encode},
    [PAY_EMIT_FAILED] = {EVENT_PAYMENT_FAILED, failed_encode},
    [PAY_EMIT_CAPTURED] = {EVENT_PAYMENT_CAPTURED, captured_encode},
    [PAY_EMIT_VOIDED] = {EVENT_PAYMENT_REFUNDED, voided_encode},
    [PAY_EMIT_REFUNDED] = {EVENT_PAYMENT_REFUNDED, refund_encode},
};

/* ---- helpers ---- */

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Tests only (SOUK_PAYMENTS_FAULT=crash-after-provider): die as kill -9
 * would, after the provider answered and before payments commits. */
static void
fault_after_provider(int64_t order_id)
{
    if (strcmp(payments_cfg.fault, "crash-after-provider") != 0)
        return;
    log_warn("payments: order %lld: SOUK_PAYMENTS_FAULT=crash-after-provider: killing myself",
             (long long)order_id);
    raise(SIGKILL);
}

/* The thread's autocommit connection, in the message's arena. */
static struct work
side_work(struct mq_msg *m)
{
    const struct payments_thread *t = m->work.ext;

    return (struct work){m->work.arena, t->db, m->work.trace_id, m->work.ext};
}

static int
order_id_of(struct mq_msg *m, int64_t *order_id)
{
    int rc;

    rc = mq_msg_positive(m, m->ev->payload, "order_id", order_id);
    if (rc)
        return rc;
    if (*order_id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id differs from aggregate_id");
    return ERR_OK;
}

/* Take p through the transition for in: the provider's operation, if any
 * (a provider that cannot be reached fails the message, which lib/mq keeps
 * retrying: money held for the order must go back), then the new state and
 * the event, in the message's transaction. changed: p's state was resolved
 * by asking the provider and is saved even when in does not apply. */
static int
advance(struct mq_msg *m, struct payment *p, enum payment_input in, int changed)
{
    static const enum provider_op ops[] = {
        [PAY_DO_CAPTURE] = PROVIDER_CAPTURE,
        [PAY_DO_VOID] = PROVIDER_VOID,
        [PAY_DO_REFUND] = PROVIDER_REFUND,
    };
    const struct payments_thread *t = m->work.ext;
    const struct payment_step    *st = payment_step(p->state, in);
    int64_t                       t0;
    int                           rc;

    if (st == NULL) {
        log_info("payments: order %lld is %s: %s ignored", (long long)p->order_id,
                 payment_state_name(p->state), event_key(m->ev->type));
        return changed ? store_payment_save(&m->work, p) : ERR_OK;
    }
    if (st->action == PAY_DO_CAPTURE || st->action == PAY_DO_VOID || st->action == PAY_DO_REFUND) {
        t0 = now_us();
        rc = timed(t0,
                   payments_provider->operate(t->provider, m->work.arena, p->key, ops[st->action]));
        if (rc) {
            log_warn("payments: order %lld: the provider refused or did not answer (%s)",
                     (long long)p->order_id, err_name(rc));
            return rc;
        }
        fault_after_provider(p->order_id);
    }
    p->state = st->to;
    rc = store_payment_save(&m->work, p);
    if (rc)
        return rc;
    /* Counted before the commit: a rollback after this over-counts, which
     * a counter of work done may. */
    count_state(p->state);
    if (st->emit == PAY_EMIT_NONE)
        return ERR_OK;
    log_info("payments: order %lld %s", (long long)p->order_id, payment_state_name(p->state));
    return mq_outbox_put(&m->work, emits[st->emit].type, p->order_id, emits[st->emit].encode(p));
}

/* ---- inventory.reserved: authorise ---- */

/* {"order_id","user_id","lines","amount":{"amount","currency"},
 *  "card":{"token","last4"},"hold_until"}; only what a charge needs is read. */
static int
reserved_decode(struct mq_msg *m, struct payment_request *rq)
{
    json_int_t          order_id, user_id, minor;
    json_error_t        jerr;
    enum card_behaviour b;
    char                last4[5];
    int                 rc;

    if (json_unpack_ex(m->ev->payload, &jerr, 0, "{s:I,s:I,s:{s:I,s:s},s:{s:s,s:s}}", "order_id",
                       &order_id, "user_id", &user_id, "amount", "amount", &minor, "currency",
                       &rq->currency, "card", "token", &rq->card_token, "last4",
                       &rq->card_last4) != 0)
        return mq_msg_bad(m, arena_printf(m->work.arena, "payload: %s", jerr.text));
    rq->order_id = order_id;
    rq->user_id = user_id;
    rq->amount_minor = minor;
    if (order_id < 1 || order_id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id must be the aggregate_id");
    if (user_id < 1)
        return mq_msg_bad(m, "payload.user_id must be a positive integer");
    if (minor < 0)
        return mq_msg_bad(m, "payload.amount.amount must not be negative");
    if (strlen(rq->currency) != 3 || strspn(rq->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        return mq_msg_bad(m, "payload.amount.currency must be an ISO 4217 code");
    rc = card_token_parse(rq->card_token, &b, last4);
    if (rc || strcmp(last4, rq->card_last4) != 0)
        return mq_msg_bad(m, "payload.card is not a token of the provider with its last4");
    return ERR_OK;
}

/* Authorise p (AUTHORIZING, locked): up to SOUK_PAYMENTS_RETRY_LIMIT tries
 * with back-off while the provider does not answer, then the outcome. Each
 * try is counted (committed) before its call, so the limit and p->attempts
 * include the tries of handlings that died before deciding: a restart goes
 * on where they stopped. ask: this handling did not make p's row, an earlier
 * one may have reached the provider, which is first asked what the key got. */
static int
authorize(struct mq_msg *m, struct payment *p, const struct payment_request *rq, int ask)
{
    struct payments_thread      *t = m->work.ext;
    struct work                  side = side_work(m);
    const struct provider_charge c = {p->key, p->order_id, p->amount_minor, p->currency,
                                      rq->card_token};
    const int64_t                limit = payments_cfg.retry_limit;
    struct provider_record       rec;
    enum payment_input           in;
    int64_t                      n, wait;
    int                          rc, first;

    /* A row this handling made counted its first try as it was made
     * (store_payment_open: one commit fewer per payment); a crash before
     * that call counts one try that was not made. */
    n = ask ? 0 : 1;
    rc = ERR_UNAVAILABLE; /* no answer yet */
    if (ask) {
        rc = store_payment_tries(&side, p->order_id, &n);
        if (rc)
            return rc;
        rc = timed(now_us(), payments_provider->lookup(t->provider, m->work.arena, p->key, &rec));
        /* With tries left, an unanswered lookup is followed by an authorisation,
         * which answers what the key got just the same. With none left, the
         * payment cannot be decided: lib/mq holds the message and handles it
         * again. */
        if (rc != ERR_OK && (rc != ERR_UNAVAILABLE || n >= limit))
            return rc;
        if (rc == ERR_OK && rec.outcome == PROVIDER_UNKNOWN)
            rc = ERR_UNAVAILABLE; /* never authorised: try (or, at the limit, fail) */
    }
    for (first = !ask; rc == ERR_UNAVAILABLE && (first || n < limit); first = 0) {
        if (!first) {
            rc = store_payment_try(&side, p->order_id, &n);
            if (rc)
                return rc;
        }
        rc = timed(now_us(), payments_provider->authorize(t->provider, m->work.arena, &c, &rec));
        if (rc != ERR_UNAVAILABLE || n >= limit)
            break;
        wait = payment_backoff_ms(n, payments_cfg.retry_base_ms, payments_cfg.retry_max_ms);
        log_warn("payments: order %lld: the provider did not answer (try %lld of %lld); "
                 "retrying in %lld ms",
                 (long long)p->order_id, (long long)n, (long long)limit, (long long)wait);
        sleep_ms(wait);
    }
    if (rc == ERR_INVALID)
        return mq_msg_bad(m, "payload.card.token is not a token the provider knows");
    if (rc && rc != ERR_UNAVAILABLE)
        return rc;
    if (rc == ERR_OK)
        fault_after_provider(p->order_id);
    /* An answer took one try at least (a payment older than payment_tries
     * has none counted). */
    p->attempts = n > 0 ? n : 1;
    if (rc == ERR_UNAVAILABLE) {
        in = PAY_IN_UNAVAILABLE;
        p->failure = "unavailable";
    } else if (rec.outcome == PROVIDER_APPROVED) {
        in = PAY_IN_APPROVED;
        p->provider_ref = rec.ref;
    } else {
        in = PAY_IN_DECLINED;
        p->failure = "declined";
    }
    return advance(m, p, in, 0);
}

static int
on_reserved(struct mq_msg *m)
{
    struct payment_request rq;
    struct payment         p;
    struct work            side = side_work(m);
    int                    rc, created;

    rc = reserved_decode(m, &rq);
    if (rc)
        return rc;
    /* Committed now, whatever becomes of this message: the key exists
     * before the provider can hear of it. */
    rc = store_payment_open(&side, &rq, &created);
    if (rc)
        return rc;
    if (created)
        count_state(PAYMENT_AUTHORIZING);
    rc = store_payment_lock(&m->work, rq.order_id, &p);
    if (rc)
        return rc;
    if (payment_step(p.state, PAY_IN_RESERVED) == NULL)
        return advance(m, &p, PAY_IN_RESERVED, 0); /* logs and ignores */
    /* A row this handling did not make may have reached the provider. */
    return authorize(m, &p, &rq, !created);
}

/* ---- order.confirmed: capture ---- */

static int
on_confirmed(struct mq_msg *m)
{
    struct payment p;
    int64_t        order_id;
    int            rc;

    rc = order_id_of(m, &order_id);
    if (rc)
        return rc;
    rc = store_payment_lock(&m->work, order_id, &p);
    if (rc == ERR_NOT_FOUND) {
        log_warn("payments: order %lld confirmed without a payment here; ignored",
                 (long long)order_id);
        return ERR_OK;
    }
    if (rc)
        return rc;
    return advance(m, &p, PAY_IN_CONFIRMED, 0);
}

/* ---- order.cancelled: give the money back ---- */

static int
on_cancelled(struct mq_msg *m)
{
    struct payments_thread *t = m->work.ext;
    struct provider_record  rec;
    struct payment          p;
    int64_t                 order_id, t0;
    int                     rc, created;

    rc = order_id_of(m, &order_id);
    if (rc)
        return rc;
    rc = store_payment_cancel_first(&m->work, order_id, &created);
    if (rc)
        return rc;
    if (created) {
        log_info("payments: order %lld cancelled before its reservation: it will not be charged",
                 (long long)order_id);
        count_state(PAYMENT_CANCELLED);
        return ERR_OK;
    }
    rc = store_payment_lock(&m->work, order_id, &p);
    if (rc)
        return rc;
    if (p.state != PAYMENT_AUTHORIZING)
        return advance(m, &p, PAY_IN_CANCELLED, 0);
    /* A handler died between the provider's answer and its commit (a live
     * one would hold the lock): what did the key get? */
    t0 = now_us();
    rc = timed(t0, payments_provider->lookup(t->provider, m->work.arena, p.key, &rec));
    if (rc)
        return rc;
    p.state = payment_resolve(rec.outcome);
    if (p.state == PAYMENT_AUTHORIZED)
        p.provider_ref = rec.ref;
    if (p.state == PAYMENT_DECLINED)
        p.failure = "declined";
    return advance(m, &p, PAY_IN_CANCELLED, 1);
}

/* ---- each thread's connections ---- */

void *
payments_thread_new(void)
{
    struct payments_thread *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->db = db_new(payments_cfg.svc.db, payments_stmts);
    t->provider = payments_provider->open(payments_cfg.svc.db, payments_cfg.latency_ms);
    if (t->db == NULL || t->provider == NULL) {
        payments_thread_free(t);
        return NULL;
    }
    return t;
}

void
payments_thread_free(void *state)
{
    struct payments_thread *t = state;

    if (t == NULL)
        return;
    db_free(t->db);
    if (t->provider != NULL)
        payments_provider->close(t->provider);
    free(t);
}
