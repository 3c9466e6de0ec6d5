/*
 * store.c - every SQL statement on payments' own table, as one table, and
 * the row -> struct mapping. (The simulated provider's ledger is the bank's,
 * not payments': its SQL is in provider_sim.c.)
 *
 * Statements run through exec(), which sends the table's text, because they
 * run on three kinds of connection: a handler's (statements prepared), the
 * message's (lib/mq's, none prepared) and the thread's autocommit one. The
 * handler connections still prepare the whole table when they connect, so a
 * schema mismatch shows in /ready.
 */
#include <string.h>

#include "payments.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define PAYMENT_COLS                                                                               \
    "id, order_id, COALESCE(user_id, 0), state, COALESCE(amount_minor, -1), currency,"             \
    " card_last4, idempotency_key, provider_ref, attempts, failure, " TS("created_at") ", " TS(    \
        "updated_at")

/* clang-format off */
#define PAYMENTS_SQL(X)                                                                            \
    /* The key is made here, once per order: a second reservation of the order */                  \
    /* (a duplicate, a redelivery) finds the row and keeps its key. The row made */                \
    /* counts the first try too (payment_tries), in the same commit. */                            \
    X(OPEN, 5,                                                                                     \
      "WITH opened AS (INSERT INTO payments (order_id, user_id, state, amount_minor, currency,"     \
      " card_last4, idempotency_key) VALUES ($1::bigint, $2::bigint, 'AUTHORIZING', $3::bigint,"   \
      " $4, $5, 'pay_' || $1 || '_' || replace(gen_random_uuid()::text, '-', ''))"                 \
      " ON CONFLICT (order_id) DO NOTHING RETURNING id),"                                          \
      " tried AS (INSERT INTO payment_tries (order_id) SELECT $1::bigint FROM opened"              \
      " ON CONFLICT (order_id) DO NOTHING)"                                                        \
      " SELECT id FROM opened")                                                                    \
    X(LOCK, 1, "SELECT " PAYMENT_COLS " FROM payments WHERE order_id = $1::bigint FOR UPDATE")     \
    X(GET, 1, "SELECT " PAYMENT_COLS " FROM payments WHERE order_id = $1::bigint")                 \
    X(CANCEL_FIRST, 1,                                                                             \
      "INSERT INTO payments (order_id, state) VALUES ($1::bigint, 'CANCELLED')"                    \
      " ON CONFLICT (order_id) DO NOTHING RETURNING id")                                           \
    /* The tries of an authorisation, counted in autocommit before each call to */                 \
    /* the provider (migrations/0002_payment_tries.sql) and forgotten by the save */                \
    /* that decides it. */                                                                         \
    X(TRIES, 1,                                                                                    \
      "SELECT COALESCE((SELECT tries FROM payment_tries WHERE order_id = $1::bigint), 0)")         \
    X(TRY, 1,                                                                                      \
      "INSERT INTO payment_tries AS t (order_id) VALUES ($1::bigint) ON CONFLICT (order_id)"       \
      " DO UPDATE SET tries = t.tries + 1, last_at = now() RETURNING tries")                       \
    X(SAVE, 5,                                                                                     \
      "WITH decided AS (DELETE FROM payment_tries WHERE order_id = $1::bigint"                     \
      " AND $2::text <> 'AUTHORIZING')"                                                            \
      " UPDATE payments SET state = $2, provider_ref = $3, attempts = $4::integer, failure = $5,"  \
      " updated_at = now() WHERE order_id = $1::bigint")
/* clang-format on */

enum payments_stmt { PAYMENTS_SQL(DB_STMT_ENUM) };

const struct db_stmt payments_stmts[] = {PAYMENTS_SQL(DB_STMT_ROW){NULL, 0, NULL}};

static int
exec(struct work *w, enum payments_stmt id, const char *const *params, struct db_rows **out)
{
    return db_exec_sql(w->db, w->arena, payments_stmts[id].sql, payments_stmts[id].nparams, params,
                       out);
}

static int
payment_map(const struct db_rows *rs, struct payment *p)
{
    memset(p, 0, sizeof(*p));
    p->id = db_i64(rs, 0, 0);
    p->order_id = db_i64(rs, 0, 1);
    p->user_id = db_i64(rs, 0, 2);
    p->amount_minor = db_i64(rs, 0, 4);
    p->currency = db_get(rs, 0, 5);
    p->card_last4 = db_get(rs, 0, 6);
    p->key = db_get(rs, 0, 7);
    p->provider_ref = db_get(rs, 0, 8);
    p->attempts = db_i64(rs, 0, 9);
    p->failure = db_get(rs, 0, 10);
    p->created_at = db_get(rs, 0, 11);
    p->updated_at = db_get(rs, 0, 12);
    return payment_state_parse(db_get(rs, 0, 3), &p->state) ? ERR_INTERNAL : ERR_OK;
}

/* One payment row by order, through LOCK or GET. */
static int
payment_read(struct work *w, enum payments_stmt id, int64_t order_id, struct payment *out)
{
    struct db_rows *rs;
    int             rc;

    rc = exec(w, id, (const char *const[]){db_i64_text(w->arena, order_id)}, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    return payment_map(rs, out);
}

int
store_payment_open(struct work *w, const struct payment_request *rq, int *created)
{
    struct arena   *a = w->arena;
    struct db_rows *rs;
    int             rc;

    rc = exec(w, SQL_OPEN,
              (const char *const[]){db_i64_text(a, rq->order_id), db_i64_text(a, rq->user_id),
                                    db_i64_text(a, rq->amount_minor), rq->currency, rq->card_last4},
              &rs);
    if (rc)
        return rc;
    *created = rs->nrows == 1;
    return ERR_OK;
}

int
store_payment_lock(struct work *w, int64_t order_id, struct payment *out)
{
    return payment_read(w, SQL_LOCK, order_id, out);
}

int
store_payment_get(struct work *w, int64_t order_id, struct payment *out)
{
    return payment_read(w, SQL_GET, order_id, out);
}

int
store_payment_cancel_first(struct work *w, int64_t order_id, int *created)
{
    struct db_rows *rs;
    int             rc;

    rc = exec(w, SQL_CANCEL_FIRST, (const char *const[]){db_i64_text(w->arena, order_id)}, &rs);
    if (rc)
        return rc;
    *created = rs->nrows == 1;
    return ERR_OK;
}

/* The one integer TRIES or TRY answers for the order. */
static int
tries_read(struct work *w, enum payments_stmt id, int64_t order_id, int64_t *tries)
{
    struct db_rows *rs;
    int             rc;

    rc = exec(w, id, (const char *const[]){db_i64_text(w->arena, order_id)}, &rs);
    if (rc)
        return rc;
    if (rs->nrows != 1)
        return ERR_INTERNAL;
    *tries = db_i64(rs, 0, 0);
    return ERR_OK;
}

int
store_payment_tries(struct work *w, int64_t order_id, int64_t *tries)
{
    return tries_read(w, SQL_TRIES, order_id, tries);
}

int
store_payment_try(struct work *w, int64_t order_id, int64_t *tries)
{
    return tries_read(w, SQL_TRY, order_id, tries);
}

int
store_payment_save(struct work *w, const struct payment *p)
{
    struct arena *a = w->arena;

    return exec(w, SQL_SAVE,
                (const char *const[]){db_i64_text(a, p->order_id), payment_state_name(p->state),
                                      p->provider_ref, db_i64_text(a, p->attempts), p->failure},
                NULL);
}
