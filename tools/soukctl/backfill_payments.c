/*
 * backfill_payments.c - `soukctl backfill payments`: the monolith's payments
 * into the payments service's database with the same ids, and into the
 * simulated provider's ledger the charges the monolith made there.
 *
 * The monolith charges at checkout, authorisation and capture in one, so an
 * APPROVED payment is CAPTURED here, a REFUNDED one REFUNDED, a DECLINED one
 * DECLINED. Each gets the idempotency key "monolith_<payment id>". The
 * monolith's provider was the same simulated bank (lib/card.h), so its
 * ledger (provider.charges, what audit_provider shows) gets the matching row:
 * one authorisation and one capture per approved charge, plus the refund,
 * which is what the saga's checker expects of a CONFIRMED order.
 */
#include "backfill.h"

/* Seconds, UTC. */
#define TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* Columns: 0 id, 1 order_id, 2 user_id, 3 amount_minor, 4 currency, 5 status,
 * 6 provider_ref, 7 card_last4, 8 created_at. */
#define PAYMENTS_READ                                                                              \
    "SELECT p.id, p.order_id, o.user_id, p.amount_minor, p.currency, p.status, p.provider_ref,"    \
    " p.card_last4, " TS("p.created_at") " FROM payments p JOIN orders o ON o.id = p.order_id"     \
                                         " WHERE p.id > ? ORDER BY p.id LIMIT ?"

/* A payment payments already has (same id or same order) stays. */
/* clang-format off */
static const struct backfill_table payments_tables[] = {
    {"payments", "SELECT COUNT(*) FROM payments", PAYMENTS_READ,
     "INSERT INTO payments (id, order_id, user_id, state, amount_minor, currency, card_last4,"
     " idempotency_key, provider_ref, attempts, failure, created_at, updated_at)"
     " SELECT (r->>0)::bigint, (r->>1)::bigint, (r->>2)::bigint,"
     " CASE r->>5 WHEN 'APPROVED' THEN 'CAPTURED' WHEN 'REFUNDED' THEN 'REFUNDED'"
     "  ELSE 'DECLINED' END,"
     " (r->>3)::bigint, r->>4, r->>7, 'monolith_' || (r->>0), NULLIF(r->>6, ''), 1,"
     " CASE WHEN r->>5 = 'DECLINED' THEN 'declined' END,"
     " (r->>8)::timestamptz, (r->>8)::timestamptz"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     NULL, 0},
    {"provider charges", "SELECT COUNT(*) FROM payments", PAYMENTS_READ,
     "INSERT INTO provider.charges (idempotency_key, order_id, amount_minor, currency, outcome,"
     " ref, authorized, captured, refunded, created_at, authorized_at, captured_at, refunded_at)"
     " SELECT 'monolith_' || (r->>0), (r->>1)::bigint, (r->>3)::bigint, r->>4,"
     " CASE WHEN r->>5 = 'DECLINED' THEN 'declined' ELSE 'approved' END,"
     " CASE WHEN r->>5 = 'DECLINED' THEN '' ELSE r->>6 END,"
     " CASE WHEN r->>5 = 'DECLINED' THEN 0 ELSE 1 END,"
     " CASE WHEN r->>5 = 'DECLINED' THEN 0 ELSE 1 END,"
     " CASE WHEN r->>5 = 'REFUNDED' THEN 1 ELSE 0 END,"
     " (r->>8)::timestamptz,"
     " CASE WHEN r->>5 <> 'DECLINED' THEN (r->>8)::timestamptz END,"
     " CASE WHEN r->>5 <> 'DECLINED' THEN (r->>8)::timestamptz END,"
     " CASE WHEN r->>5 = 'REFUNDED' THEN (r->>8)::timestamptz END"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

const struct backfill_target backfill_payments = {
    "payments",
    "SELECT EXISTS (SELECT 1 FROM payments)",
    "payments",
    payments_tables,
    "SELECT setval(pg_get_serial_sequence('payments', 'id'), max(id)) FROM payments"
    " HAVING max(id) IS NOT NULL",
    NULL,
};
