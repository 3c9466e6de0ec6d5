/*
 * 10_payments.c - payments.c: the state machine's table (every pair of
 * state and input: what applies, where it goes, what the provider is asked,
 * what is emitted), the resolution of an AUTHORIZING payment from the
 * provider's answer, state names, and the retry schedule's bounds.
 */
#include "payments.h"
#include "t.h"

/* main.c is not linked into unit tests. */
struct payments_config           payments_cfg;
const struct provider_ops *const payments_provider = &provider_sim;

#define A(x) PAY_DO_##x
#define E(x) PAY_EMIT_##x
#define S(x) PAYMENT_##x

static const struct {
    enum payment_state  from;
    enum payment_input  in;
    int                 applies;
    enum payment_state  to;
    enum payment_action action;
    enum payment_emit   emit;
} rows[] = {
    {S(AUTHORIZING), PAY_IN_RESERVED, 1, S(AUTHORIZING), A(AUTHORIZE), E(NONE)},
    {S(AUTHORIZING), PAY_IN_APPROVED, 1, S(AUTHORIZED), A(NOTHING), E(SUCCEEDED)},
    {S(AUTHORIZING), PAY_IN_DECLINED, 1, S(DECLINED), A(NOTHING), E(FAILED)},
    {S(AUTHORIZING), PAY_IN_UNAVAILABLE, 1, S(FAILED), A(NOTHING), E(FAILED)},
    {S(AUTHORIZED), PAY_IN_CONFIRMED, 1, S(CAPTURED), A(CAPTURE), E(CAPTURED)},
    {S(AUTHORIZED), PAY_IN_CANCELLED, 1, S(VOIDED), A(VOID), E(VOIDED)},
    {S(CAPTURED), PAY_IN_CANCELLED, 1, S(REFUNDED), A(REFUND), E(REFUNDED)},
    {S(NONE), PAY_IN_CANCELLED, 1, S(CANCELLED), A(NOTHING), E(NONE)},
    /* duplicates, late and reordered events: nothing */
    {S(AUTHORIZED), PAY_IN_RESERVED, 0, 0, 0, 0},
    {S(DECLINED), PAY_IN_RESERVED, 0, 0, 0, 0},
    {S(FAILED), PAY_IN_RESERVED, 0, 0, 0, 0},
    {S(CAPTURED), PAY_IN_RESERVED, 0, 0, 0, 0},
    {S(CANCELLED), PAY_IN_RESERVED, 0, 0, 0, 0}, /* cancelled first: never authorised */
    {S(VOIDED), PAY_IN_RESERVED, 0, 0, 0, 0},
    {S(CAPTURED), PAY_IN_CONFIRMED, 0, 0, 0, 0},
    {S(DECLINED), PAY_IN_CONFIRMED, 0, 0, 0, 0},
    {S(FAILED), PAY_IN_CONFIRMED, 0, 0, 0, 0},
    {S(VOIDED), PAY_IN_CONFIRMED, 0, 0, 0, 0}, /* no capture after a void */
    {S(AUTHORIZING), PAY_IN_CONFIRMED, 0, 0, 0, 0},
    {S(CANCELLED), PAY_IN_CONFIRMED, 0, 0, 0, 0},
    {S(DECLINED), PAY_IN_CANCELLED, 0, 0, 0, 0},
    {S(FAILED), PAY_IN_CANCELLED, 0, 0, 0, 0},
    {S(VOIDED), PAY_IN_CANCELLED, 0, 0, 0, 0},
    {S(REFUNDED), PAY_IN_CANCELLED, 0, 0, 0, 0},
    {S(CANCELLED), PAY_IN_CANCELLED, 0, 0, 0, 0},
    {S(AUTHORIZED), PAY_IN_APPROVED, 0, 0, 0, 0},
    {S(FAILED), PAY_IN_APPROVED, 0, 0, 0, 0},
};

static void
test_table(void)
{
    const struct payment_step *st;
    enum payment_state         s;
    enum payment_input         in;
    size_t                     i;
    int                        listed, applies = 0;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        st = payment_step(rows[i].from, rows[i].in);
        T_EQ_INT(st != NULL, rows[i].applies, "row %zu: %s + input %d applies", i,
                 payment_state_name(rows[i].from), (int)rows[i].in);
        if (st == NULL || !rows[i].applies)
            continue;
        T_EQ_STR(payment_state_name(st->to), payment_state_name(rows[i].to), "row %zu: to", i);
        T_EQ_INT(st->action, rows[i].action, "row %zu: provider action", i);
        T_EQ_INT(st->emit, rows[i].emit, "row %zu: event", i);
    }
    /* Every applying pair is one of the rows above: nothing else moves. */
    for (s = PAYMENT_NONE; s <= PAYMENT_CANCELLED; s++)
        for (in = PAY_IN_RESERVED; in <= PAY_IN_CANCELLED; in++) {
            if (payment_step(s, in) == NULL)
                continue;
            applies++;
            for (i = 0, listed = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                listed |= rows[i].applies && rows[i].from == s && rows[i].in == in;
            T_OK(listed, "%s + input %d is a tested transition", payment_state_name(s), (int)in);
        }
    T_EQ_INT(applies, 8, "eight transitions in all");
    /* No terminal state gives money back twice or takes it after it went back. */
    for (in = PAY_IN_RESERVED; in <= PAY_IN_CANCELLED; in++) {
        T_OK(payment_step(PAYMENT_REFUNDED, in) == NULL, "REFUNDED is terminal (input %d)", in);
        T_OK(payment_step(PAYMENT_VOIDED, in) == NULL, "VOIDED is terminal (input %d)", in);
        T_OK(payment_step(PAYMENT_CANCELLED, in) == NULL, "CANCELLED is terminal (input %d)", in);
    }
}

static void
test_resolve_and_names(void)
{
    enum payment_state s;

    T_EQ_INT(payment_resolve(PROVIDER_APPROVED), PAYMENT_AUTHORIZED, "approved key: authorised");
    T_EQ_INT(payment_resolve(PROVIDER_DECLINED), PAYMENT_DECLINED, "declined key: declined");
    T_EQ_INT(payment_resolve(PROVIDER_UNKNOWN), PAYMENT_NONE, "unknown key: nothing happened");
    for (s = PAYMENT_AUTHORIZING; s <= PAYMENT_CANCELLED; s++) {
        enum payment_state back = PAYMENT_NONE;

        T_EQ_INT(payment_state_parse(payment_state_name(s), &back), ERR_OK, "%s parses",
                 payment_state_name(s));
        T_EQ_INT(back, s, "%s round-trips", payment_state_name(s));
    }
    T_EQ_INT(payment_state_parse("NONE", &s), ERR_INVALID, "NONE is never stored");
    T_EQ_INT(payment_state_parse("authorized", &s), ERR_INVALID, "names are upper case");
    T_EQ_INT(payment_state_parse(NULL, &s), ERR_INVALID, "NULL");
}

static void
test_backoff(void)
{
    static const struct {
        int64_t n, base, max, want;
    } waits[] = {
        {1, 250, 2000, 250},  {2, 250, 2000, 500},   {3, 250, 2000, 1000}, {4, 250, 2000, 2000},
        {5, 250, 2000, 2000}, {60, 250, 2000, 2000}, {1, 10, 5, 5},        {3, 1, 10000, 4},
    };
    size_t i;

    for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
        T_EQ_INT(payment_backoff_ms(waits[i].n, waits[i].base, waits[i].max), waits[i].want,
                 "wait after try %lld (base %lld, max %lld)", (long long)waits[i].n,
                 (long long)waits[i].base, (long long)waits[i].max);
    /* The defaults: 5 tries, 250 ms doubling to 2 s: 250+500+1000+2000. */
    T_EQ_INT(payment_retry_total_ms(5, 250, 2000, 0), 3750, "default schedule: 3.75 s of waits");
    T_OK(payment_retry_total_ms(5, 250, 2000, 50) <= 10000,
         "default schedule with the benchmark's 50 ms latency stays within 10 s");
    T_EQ_INT(payment_retry_total_ms(1, 250, 2000, 50), 50, "one try: no wait");
    /* The largest settings allowed never overflow: 20 tries of 10 s. */
    T_EQ_INT(payment_retry_total_ms(20, 10000, 10000, 10000), 20 * 10000 + 19 * 10000,
             "largest settings");
}

int
main(void)
{
    test_table();
    test_resolve_and_names();
    test_backoff();
    return T_DONE();
}
