/*
 * store.c - every SQL statement of the users service, as one table, and the
 * row -> struct mapping. Writes that other services must hear about (a new
 * account, a changed address) put their event in the outbox inside the same
 * transaction (events.c builds the payloads).
 */
#include <stdatomic.h>

#include "log.h"
#include "users.h"

/* clang-format off */
/* Times as the monolith renders them: RFC 3339 UTC, whole seconds. */
#define TS(col)   "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define MS(expr)  "(extract(epoch FROM " expr ") * 1000)::bigint"
#define USER_COLS "u.id, u.email, u.name, u.role, " TS("u.created_at") ", u.password_hash,"        \
                  " a.line1, a.line2, a.city, a.postal_code, a.country"
#define USER_FROM " FROM users u LEFT JOIN addresses a ON a.user_id = u.id"
/* The window of a throttle row ended: the same rule as throttle_expired. */
#define T_EXPIRED "t.window_start + $3::bigint * interval '1 millisecond' <= now()"

#define USERS_SQL(X)                                                                               \
    X(USER_INSERT, 3,                                                                              \
      "INSERT INTO users (email, password_hash, name) VALUES ($1, $2, $3)"                         \
      " RETURNING id, email, name, role, " TS("created_at"))                                       \
    X(USER_BY_ID, 1, "SELECT " USER_COLS USER_FROM " WHERE u.id = $1::bigint")                     \
    /* lower() on both sides: the unique index is on lower(email). */                              \
    X(USER_BY_EMAIL, 1, "SELECT " USER_COLS USER_FROM " WHERE lower(u.email) = lower($1)")         \
    /* No row when the user does not exist (no foreign-key error to log). */                       \
    X(ADDRESS_PUT, 6,                                                                              \
      "INSERT INTO addresses AS x (user_id, line1, line2, city, postal_code, country)"             \
      " SELECT u.id, $2::text, $3::text, $4::text, $5::text, $6::text FROM users u"                \
      " WHERE u.id = $1::bigint"                                                                   \
      " ON CONFLICT (user_id) DO UPDATE SET line1 = EXCLUDED.line1, line2 = EXCLUDED.line2,"       \
      " city = EXCLUDED.city, postal_code = EXCLUDED.postal_code, country = EXCLUDED.country,"     \
      " version = x.version + 1, updated_at = now() RETURNING version")                            \
    X(THROTTLE_GET, 2,                                                                             \
      "SELECT " MS("now()") ", coalesce(a.failures, 0), coalesce(" MS("a.window_start") ", 0),"    \
      " coalesce(i.failures, 0), coalesce(" MS("i.window_start") ", 0)"                            \
      " FROM (SELECT 1) one LEFT JOIN login_throttle a ON a.key = $1"                              \
      " LEFT JOIN login_throttle i ON i.key = $2")                                                 \
    /* SET sees the old row on both lines, so both test the old window. */                         \
    X(THROTTLE_FAIL, 3,                                                                            \
      "INSERT INTO login_throttle AS t (key, failures, window_start)"                              \
      " SELECT k, 1, now() FROM (VALUES ($1::text), ($2::text)) v (k) WHERE k IS NOT NULL"         \
      " ON CONFLICT (key) DO UPDATE SET"                                                           \
      " failures = CASE WHEN " T_EXPIRED " THEN 1 ELSE least(t.failures + 1, 1000000000) END,"     \
      " window_start = CASE WHEN " T_EXPIRED " THEN now() ELSE t.window_start END")                \
    X(THROTTLE_RESET, 1, "DELETE FROM login_throttle WHERE key = $1")                              \
    X(THROTTLE_SWEEP, 1,                                                                           \
      "DELETE FROM login_throttle"                                                                 \
      " WHERE window_start < now() - $1::bigint * interval '1 millisecond'")
/* clang-format on */

enum users_stmt { USERS_SQL(DB_STMT_ENUM) };

const struct db_stmt users_stmts[] = {USERS_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* Every this many recorded failures (per process) expired rows are swept. */
#define SWEEP_EVERY 256

static atomic_uint_fast64_t fails_recorded;

static void
user_map(struct arena *a, const struct db_rows *rs, struct user *u, const char **hash)
{
    u->id = db_i64(rs, 0, 0);
    u->email = db_get(rs, 0, 1);
    u->name = db_get(rs, 0, 2);
    u->role = db_get(rs, 0, 3);
    u->created_at = db_get(rs, 0, 4);
    if (hash != NULL)
        *hash = db_get(rs, 0, 5);
    u->address = NULL;
    if (db_get(rs, 0, 6) != NULL) {
        u->address = arena_new(a, struct address);
        u->address->line1 = db_get(rs, 0, 6);
        u->address->line2 = db_get(rs, 0, 7);
        u->address->city = db_get(rs, 0, 8);
        u->address->postal_code = db_get(rs, 0, 9);
        u->address->country = db_get(rs, 0, 10);
    }
}

static int
user_query(struct work *w, int stmt, const char *arg, struct user **out, const char **hash)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_row(w->db, w->arena, stmt, (const char *const[]){arg}, &rs);
    if (rc)
        return rc;
    *out = arena_new(w->arena, struct user);
    user_map(w->arena, rs, *out, hash);
    return ERR_OK;
}

int
store_user_create(struct work *w, const char *email, const char *hash, const char *name,
                  struct user **out)
{
    struct db      *db = w->db;
    struct db_rows *rs;
    struct user    *u;
    int             rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec(db, w->arena, SQL_USER_INSERT, (const char *const[]){email, hash, name}, &rs);
    if (rc)
        goto done;
    u = arena_new(w->arena, struct user);
    u->id = db_i64(rs, 0, 0);
    u->email = db_get(rs, 0, 1);
    u->name = db_get(rs, 0, 2);
    u->role = db_get(rs, 0, 3);
    u->created_at = db_get(rs, 0, 4);
    u->address = NULL;
    rc = events_user_registered(w, u);
    if (rc)
        goto done;
    rc = db_commit(db);
    if (rc == ERR_OK)
        *out = u;
done:
    if (rc)
        db_rollback(db);
    return rc;
}

int
store_user_by_email(struct work *w, const char *email, struct user **out, const char **hash)
{
    return user_query(w, SQL_USER_BY_EMAIL, email, out, hash);
}

int
store_user_get(struct work *w, int64_t id, struct user **out)
{
    return user_query(w, SQL_USER_BY_ID, db_i64_text(w->arena, id), out, NULL);
}

int
store_address_put(struct work *w, int64_t user_id, const struct address *a)
{
    struct db      *db = w->db;
    struct db_rows *rs;
    int             rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = db_exec_row(db, w->arena, SQL_ADDRESS_PUT,
                     (const char *const[]){db_i64_text(w->arena, user_id), a->line1, a->line2,
                                           a->city, a->postal_code, a->country},
                     &rs);
    if (rc)
        goto done;
    rc = events_address_changed(w, user_id, a, db_i64(rs, 0, 0));
    if (rc)
        goto done;
    rc = db_commit(db);
done:
    if (rc)
        db_rollback(db);
    return rc;
}

int
store_throttle_get(struct work *w, const char *account, const char *ip, struct throttle_state *acct,
                   struct throttle_state *addr, int64_t *now_ms)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_THROTTLE_GET, (const char *const[]){account, ip}, &rs);
    if (rc)
        return rc;
    if (rs->nrows != 1)
        return ERR_INTERNAL;
    *now_ms = db_i64(rs, 0, 0);
    acct->failures = db_i64(rs, 0, 1);
    acct->window_start_ms = db_i64(rs, 0, 2);
    addr->failures = db_i64(rs, 0, 3);
    addr->window_start_ms = db_i64(rs, 0, 4);
    return ERR_OK;
}

int
store_throttle_fail(struct work *w, const char *account, const char *ip, int64_t window_ms)
{
    const char *win = db_i64_text(w->arena, window_ms);
    int         rc;

    rc = db_exec(w->db, w->arena, SQL_THROTTLE_FAIL, (const char *const[]){account, ip, win}, NULL);
    if (rc)
        return rc;
    /* Rows of ended windows are harmless (the next failure restarts them) but
     * would pile up, one per email or address ever tried; a sweep now and
     * then keeps the table small without a timer. */
    if (atomic_fetch_add(&fails_recorded, 1) % SWEEP_EVERY == SWEEP_EVERY - 1) {
        rc = db_exec(w->db, w->arena, SQL_THROTTLE_SWEEP, (const char *const[]){win}, NULL);
        if (rc) /* the handler thread's log context adds the request's ids */
            log_warn("sweeping ended login-throttle windows failed: %s", err_name(rc));
    }
    return ERR_OK;
}

int
store_throttle_reset(struct work *w, const char *account)
{
    return db_exec(w->db, w->arena, SQL_THROTTLE_RESET, (const char *const[]){account}, NULL);
}
