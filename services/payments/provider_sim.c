/*
 * provider_sim.c - the simulated card provider (provider.h): a "bank" whose
 * ledger is the table provider.charges in the payments database, one row per
 * idempotency key. It is written on the provider's own connection, each
 * statement in autocommit, because it models an external system: what it
 * did stays done when payments' transaction rolls back or its process dies.
 * That is why its SQL lives here and not in store.c (payments' own tables):
 * payments never reads this schema except through these calls and the audit
 * view audit_provider.
 *
 * Behaviour comes from the card token (lib/card.h): ok → approved, decline
 * → declined (recorded: the key answers "declined" from then on), down → no
 * answer (ERR_UNAVAILABLE, nothing recorded). Every operation first sleeps
 * the configured latency, as a network round trip to a real provider would.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "card.h"
#include "db.h"
#include "provider.h"

struct provider {
    struct db *db; /* autocommit: no transaction is ever opened on it */
    int64_t    latency_ms;
};

#define TS(col)                                                                                    \
    "COALESCE(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

/* A key is authorised once: a second INSERT with the key does nothing, and
 * the row then answers what the first one got. */
static const char authorize_sql[] =
    "INSERT INTO provider.charges (idempotency_key, order_id, amount_minor, currency, outcome,"
    " ref, authorized, authorized_at)"
    " VALUES ($1, $2::bigint, $3::bigint, $4, $5,"
    "  CASE WHEN $5 = 'approved' THEN 'sim_ch_' || replace(gen_random_uuid()::text, '-', '')"
    "  ELSE '' END,"
    "  CASE WHEN $5 = 'approved' THEN 1 ELSE 0 END,"
    "  CASE WHEN $5 = 'approved' THEN now() END)"
    " ON CONFLICT (idempotency_key) DO NOTHING";
static const char lookup_sql[] =
    "SELECT outcome, ref, amount_minor, currency, " TS("authorized_at") ", " TS(
        "captured_at") ", " TS("voided_at") ", " TS("refunded_at") " FROM provider.charges WHERE "
                                                                   "idempotency_key = $1";

/* Each operation happens at most once per key: the UPDATE's guard is the
 * state it applies to, and done_sql tells a repeat (ERR_OK) from an
 * operation that does not apply (ERR_CONFLICT). */
static const struct {
    const char *update_sql, *done_sql;
} op_sql[] = {
    [PROVIDER_CAPTURE] =
        {"UPDATE provider.charges SET captured = captured + 1, captured_at = now()"
         " WHERE idempotency_key = $1 AND outcome = 'approved' AND captured = 0 AND voided = 0",
         "SELECT 1 FROM provider.charges WHERE idempotency_key = $1 AND captured > 0"},
    [PROVIDER_VOID] =
        {"UPDATE provider.charges SET voided = voided + 1, voided_at = now()"
         " WHERE idempotency_key = $1 AND outcome = 'approved' AND captured = 0 AND voided = 0",
         "SELECT 1 FROM provider.charges WHERE idempotency_key = $1 AND voided > 0"},
    [PROVIDER_REFUND] =
        {"UPDATE provider.charges SET refunded = refunded + 1, refunded_at = now()"
         " WHERE idempotency_key = $1 AND captured > 0 AND refunded = 0",
         "SELECT 1 FROM provider.charges WHERE idempotency_key = $1 AND refunded > 0"},
};

static struct provider *
sim_open(const char *url, int64_t latency_ms)
{
    struct provider *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->db = db_new(url, NULL);
    if (p->db == NULL) {
        free(p);
        return NULL;
    }
    p->latency_ms = latency_ms;
    return p;
}

static void
sim_close(struct provider *p)
{
    if (p == NULL)
        return;
    db_free(p->db);
    free(p);
}

/* The round trip to the bank. */
static void
wait_latency(const struct provider *p)
{
    struct timespec ts = {p->latency_ms / 1000, (p->latency_ms % 1000) * 1000000L};

    if (p->latency_ms > 0)
        nanosleep(&ts, NULL);
}

/* Any failure to reach the ledger is the bank not answering. */
static int
unreachable(int rc)
{
    return rc == ERR_OK ? ERR_OK : ERR_UNAVAILABLE;
}

static int
read_record(struct provider *p, struct arena *a, const char *key, struct provider_record *out)
{
    struct db_rows *rs;
    const char     *outcome;
    int             rc;

    memset(out, 0, sizeof(*out));
    out->ref = out->currency = "";
    out->authorized_at = out->captured_at = out->voided_at = out->refunded_at = "";
    rc = db_exec_sql(p->db, a, lookup_sql, 1, (const char *const[]){key}, &rs);
    if (rc)
        return unreachable(rc);
    if (rs->nrows == 0)
        return ERR_OK; /* PROVIDER_UNKNOWN */
    outcome = db_get(rs, 0, 0);
    out->outcome = strcmp(outcome, "approved") == 0 ? PROVIDER_APPROVED : PROVIDER_DECLINED;
    out->ref = db_get(rs, 0, 1);
    out->amount_minor = db_i64(rs, 0, 2);
    out->currency = db_get(rs, 0, 3);
    out->authorized_at = db_get(rs, 0, 4);
    out->captured_at = db_get(rs, 0, 5);
    out->voided_at = db_get(rs, 0, 6);
    out->refunded_at = db_get(rs, 0, 7);
    return ERR_OK;
}

static int
sim_authorize(struct provider *p, struct arena *a, const struct provider_charge *c,
              struct provider_record *out)
{
    enum card_behaviour b;
    int                 rc;

    wait_latency(p);
    rc = card_token_parse(c->card_token, &b, NULL);
    if (rc)
        return ERR_INVALID;
    if (b == CARD_UNAVAILABLE)
        return ERR_UNAVAILABLE; /* no answer: nothing recorded */
    rc = db_exec_sql(p->db, a, authorize_sql, 5,
                     (const char *const[]){c->key, db_i64_text(a, c->order_id),
                                           db_i64_text(a, c->amount_minor), c->currency,
                                           b == CARD_APPROVE ? "approved" : "declined"},
                     NULL);
    if (rc)
        return unreachable(rc);
    return read_record(p, a, c->key, out);
}

static int
sim_lookup(struct provider *p, struct arena *a, const char *key, struct provider_record *out)
{
    wait_latency(p);
    return read_record(p, a, key, out);
}

static int
sim_operate(struct provider *p, struct arena *a, const char *key, enum provider_op op)
{
    struct db_rows *rs;
    int             rc;

    wait_latency(p);
    rc = db_exec_sql(p->db, a, op_sql[op].update_sql, 1, (const char *const[]){key}, NULL);
    if (rc)
        return unreachable(rc);
    if (db_affected(p->db) == 1)
        return ERR_OK;
    rc = db_exec_sql(p->db, a, op_sql[op].done_sql, 1, (const char *const[]){key}, &rs);
    if (rc)
        return unreachable(rc);
    return rs->nrows == 1 ? ERR_OK : ERR_CONFLICT;
}

const struct provider_ops provider_sim = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .authorize = sim_authorize,
    .lookup = sim_lookup,
    .operate = sim_operate,
};
