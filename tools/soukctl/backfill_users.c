/*
 * backfill_users.c - `soukctl backfill users`: the monolith's accounts and
 * their one address into the users service's database, with the same ids.
 * Password hashes are copied as they are: both sides keep libsodium's
 * Argon2id string, so every existing password keeps working on users.
 */
#include "backfill.h"

/* Milliseconds, UTC (the monolith writes UTC into DATETIME(3)). */
#define MS_TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"

/* A row users already has (same id, or an email registered there since)
 * stays as it is: users is where accounts change now. An address joins
 * its user on the users side, so one whose account was skipped is skipped
 * too; it starts at version 1 like a first write. */
/* clang-format off */
static const struct backfill_table users_tables[] = {
    {"users", "SELECT COUNT(*) FROM users",
     "SELECT id, email, password_hash, name, role, " MS_TS("created_at")
     " FROM users WHERE id > ? ORDER BY id LIMIT ?",
     "INSERT INTO users (id, email, password_hash, name, role, created_at)"
     " SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4, (r->>5)::timestamptz"
     " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING",
     NULL, 0},
    {"addresses", "SELECT COUNT(*) FROM addresses",
     "SELECT user_id, line1, line2, city, postal_code, country, " MS_TS("updated_at")
     " FROM addresses WHERE user_id > ? ORDER BY user_id LIMIT ?",
     "INSERT INTO addresses (user_id, line1, line2, city, postal_code, country, version,"
     " updated_at)"
     " SELECT u.id, r->>1, r->>2, r->>3, r->>4, r->>5, 1, (r->>6)::timestamptz"
     " FROM jsonb_array_elements($1::jsonb) AS r JOIN users u ON u.id = (r->>0)::bigint"
     " ON CONFLICT (user_id) DO NOTHING",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
/* clang-format on */

const struct backfill_target backfill_users = {
    "users", "SELECT EXISTS (SELECT 1 FROM users)", "users", users_tables,
    NULL,    (const char *const[]){"users", NULL},
};
