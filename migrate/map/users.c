/*
 * users.c - the users domain: the monolith's users and addresses rows are
 * the users service's rows of the same names, column for column, with the
 * same ids (the Argon2id hashes too, so every password keeps working).
 * Forward apply upserts them and writes user.registered and
 * user.address_changed as souk-users does (reviews keeps a name replica,
 * orders an address replica); reverse sync (migrate/reverse) writes the
 * service's current rows back into the monolith.
 */
#include "migrate/map/rules.h"

/* ---- forward: monolith change -> users service ------------------------------------ */

#define PG_SEC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A row the backfill copied or a change applied before is upserted to the
 * same values; only a new account is news (user.registered, as souk-users
 * writes it: services/users/events.c). */
static const char USER_PUT[] =
    "WITH u AS (INSERT INTO users AS x (id, email, password_hash, name, role, created_at)"
    " VALUES ($1::bigint, $2, $3, $4, $5, $6::timestamptz)"
    " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, password_hash ="
    " EXCLUDED.password_hash, name = EXCLUDED.name, role = EXCLUDED.role,"
    " created_at = EXCLUDED.created_at RETURNING id, xmax = 0 AS fresh, email, name, role,"
    " created_at)"
    " SELECT 'user.registered', id, jsonb_build_object('user_id', id, 'email', email, 'name',"
    " name, 'role', role, 'created_at', " PG_SEC("created_at") ")::text FROM u WHERE fresh";

/* version + 1 on every change of the address, as souk-users counts it; an
 * upsert to the same values (a repeat) changes nothing and says nothing. */
static const char ADDRESS_PUT[] =
    "WITH a AS (INSERT INTO addresses AS x (user_id, line1, line2, city, postal_code, country,"
    " version, updated_at) VALUES ($1::bigint, $2, $3, $4, $5, $6, 1, $7::timestamptz)"
    " ON CONFLICT (user_id) DO UPDATE SET line1 = EXCLUDED.line1, line2 = EXCLUDED.line2,"
    " city = EXCLUDED.city, postal_code = EXCLUDED.postal_code, country = EXCLUDED.country,"
    " version = x.version + 1, updated_at = EXCLUDED.updated_at"
    " WHERE (x.line1, x.line2, x.city, x.postal_code, x.country) IS DISTINCT FROM"
    " (EXCLUDED.line1, EXCLUDED.line2, EXCLUDED.city, EXCLUDED.postal_code, EXCLUDED.country)"
    " RETURNING *)"
    " SELECT 'user.address_changed', user_id, jsonb_build_object('user_id', user_id, 'address',"
    " jsonb_build_object('line1', line1, 'line2', line2, 'city', city, 'postal_code',"
    " postal_code, 'country', country), 'version', version)::text FROM a";

static const struct map_rule users_rules[] = {
    {"users",
     MAP_INS | MAP_UPD,
     USER_PUT,
     {"id", "email", "password_hash", "name", "role", "created_at", NULL}},
    /* The monolith deletes no accounts; a delete is mirrored (addresses cascade). */
    {"users", MAP_DEL, "DELETE FROM users WHERE id = $1::bigint", {"id", NULL}},
    {"addresses",
     MAP_INS | MAP_UPD,
     ADDRESS_PUT,
     {"user_id", "line1", "line2", "city", "postal_code", "country", "updated_at", NULL}},
    {"addresses", MAP_DEL, "DELETE FROM addresses WHERE user_id = $1::bigint", {"user_id", NULL}},
    {NULL, 0, NULL, {NULL}},
};

static int
users_apply(struct work *w, const struct cdc_change *c)
{
    return map_rules_apply(w, users_rules, c);
}

/* ---- backfill ------------------------------------------------------------------------ */

/* A row users already has (same id, or an email registered there since)
 * stays as it is: users is where accounts change now. An address joins its
 * user on the users side, so one whose account was skipped is skipped too;
 * it starts at version 1 like a first write. */
/* clang-format off */
static const struct map_copy users_copy[] = {
    {"users", "SELECT COUNT(*) FROM users",
     "SELECT id, email, password_hash, name, role, " MAP_MY_TS("created_at")
     " FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO users (id, email, password_hash, name, role, created_at)"
     " SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4, (r->>5)::timestamptz"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING", 0},
    {"addresses", "SELECT COUNT(*) FROM addresses",
     "SELECT user_id, line1, line2, city, postal_code, country, " MAP_MY_TS("updated_at")
     " FROM addresses WHERE user_id > ? ORDER BY user_id LIMIT ?",
     "INSERT INTO addresses (user_id, line1, line2, city, postal_code, country, version,"
     " updated_at)"
     " SELECT u.id, r->>1, r->>2, r->>3, r->>4, r->>5, 1, (r->>6)::timestamptz"
     " FROM jsonb_array_elements($1::jsonb) AS r JOIN users u ON u.id = (r->>0)::bigint"
     " ON CONFLICT (user_id) DO NOTHING", 0},
    {NULL, NULL, NULL, NULL, 0},
};

/* ---- verify: the canonical rows of each side ------------------------------------------ */

static const struct map_verify users_verify[] = {
    {"users",
     "SELECT id, email, password_hash, name, role, " MAP_MY_TS("created_at")
     " FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "SELECT id, email, password_hash, name, role, " MAP_PG_TS("created_at")
     " FROM users WHERE id > $1 ORDER BY id LIMIT $2"},
    {"addresses",
     "SELECT user_id, line1, line2, city, postal_code, country, " MAP_MY_TS("updated_at")
     " FROM addresses WHERE user_id > ? ORDER BY user_id LIMIT ?",
     "SELECT user_id, line1, line2, city, postal_code, country, " MAP_PG_TS("updated_at")
     " FROM addresses WHERE user_id > $1 ORDER BY user_id LIMIT $2"},
    {NULL, NULL, NULL},
};
/* clang-format on */

static const struct map_touch users_touch[] = {
    {"users", "users", "id"},
    {"addresses", "addresses", "user_id"},
    {NULL, NULL, NULL},
};

/* ---- reverse: the service's current rows -> monolith ----------------------------------- */

/* The account and its address as the service has them now, in the
 * monolith's columns ($1 the user id); no row when the account is gone. */
static const struct map_reverse_step users_reverse_steps[] = {
    {"SELECT id, email, password_hash, name, role, " MAP_PG_MY(
         "created_at") " FROM users WHERE id = $1::bigint",
     /* The monolith's unique email: an account registered on the service
      * with an email the monolith gave another id (before cutover) would
      * fail here loudly rather than overwrite that account. */
     "INSERT INTO users (id, email, password_hash, name, role, created_at)"
     " VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE email = " MAP_SAME_ID(
         "email") ","
                  " password_hash = VALUES(password_hash), name = VALUES(name), role = "
                  "VALUES(role)",
     "DELETE FROM users WHERE id = ?", 0},
    {"SELECT user_id, line1, line2, city, postal_code, country, " MAP_PG_MY(
         "updated_at") " FROM addresses WHERE user_id = $1::bigint",
     "INSERT INTO addresses (user_id, line1, line2, city, postal_code, country, updated_at)"
     " VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE line1 = VALUES(line1),"
     " line2 = VALUES(line2), city = VALUES(city), postal_code = VALUES(postal_code),"
     " country = VALUES(country), updated_at = VALUES(updated_at)",
     "DELETE FROM addresses WHERE user_id = ?", 0},
    {NULL, NULL, NULL, 0},
};

static const struct map_reverse users_reverse = {
    (const char *const[]){"user.registered", "user.address_changed", NULL},
    users_reverse_steps,
    NULL,
};

const struct map_domain map_users = {
    .name = "users",
    .db_env = "SOUK_USERS_DB",
    .tables = (const char *const[]){"users", "addresses", NULL},
    .apply = users_apply,
    .copy = users_copy,
    .copy_finish = NULL,
    .copy_nonempty = "SELECT EXISTS (SELECT 1 FROM users)",
    .verify = users_verify,
    .touch = users_touch,
    .ident = (const char *const[]){"users", NULL},
    .reverse = &users_reverse,
};
