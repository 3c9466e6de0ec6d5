/*
 * store_accounts.c - SQL for users and their shipping address.
 */
#include "mdb.h"
#include "monolith.h"

#define DB(r)   ((struct mdb *)(r)->worker)
#define TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

static const char SQL_USER_INSERT[] =
    "INSERT INTO users (email, password_hash, name, role) VALUES (?, ?, ?, 'customer')";
static const char SQL_USER_BY_ID[] = "SELECT u.id, u.email, u.name, u.role, " TS(
    "u.created_at") ", u.password_hash,"
                    " a.line1, a.line2, a.city, a.postal_code, a.country"
                    " FROM users u LEFT JOIN addresses a ON a.user_id = u.id WHERE u.id = ?";
static const char SQL_USER_BY_EMAIL[] = "SELECT u.id, u.email, u.name, u.role, " TS(
    "u.created_at") ", u.password_hash,"
                    " a.line1, a.line2, a.city, a.postal_code, a.country"
                    " FROM users u LEFT JOIN addresses a ON a.user_id = u.id WHERE u.email = ?";
static const char SQL_ADDRESS_PUT[] =
    "INSERT INTO addresses (user_id, line1, line2, city, postal_code, country)"
    " VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE line1 = VALUES(line1),"
    " line2 = VALUES(line2), city = VALUES(city), postal_code = VALUES(postal_code),"
    " country = VALUES(country), updated_at = CURRENT_TIMESTAMP(3)";

static void
user_map(struct req *r, const struct mdb_rows *rs, struct user *u, const char **hash)
{
    u->id = mdb_i64(rs, 0, 0);
    u->email = mdb_get(rs, 0, 1);
    u->name = mdb_get(rs, 0, 2);
    u->role = mdb_get(rs, 0, 3);
    u->created_at = mdb_get(rs, 0, 4);
    if (hash)
        *hash = mdb_get(rs, 0, 5);
    u->address = NULL;
    if (mdb_get(rs, 0, 6) != NULL) {
        u->address = arena_new(r->arena, struct address);
        u->address->line1 = mdb_get(rs, 0, 6);
        u->address->line2 = mdb_get(rs, 0, 7);
        u->address->city = mdb_get(rs, 0, 8);
        u->address->postal_code = mdb_get(rs, 0, 9);
        u->address->country = mdb_get(rs, 0, 10);
    }
}

static int
user_query(struct req *r, const char *sql, struct mdb_arg arg, struct user **out, const char **hash)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(DB(r), r->arena, sql, &arg, 1, &rs);
    if (rc)
        return rc;
    if (rs->nrows == 0)
        return ERR_NOT_FOUND;
    *out = arena_new(r->arena, struct user);
    user_map(r, rs, *out, hash);
    return ERR_OK;
}

int
store_user_create(struct req *r, const char *email, const char *hash, const char *name,
                  struct user **out)
{
    struct mdb_arg args[] = {MDB_STR(email), MDB_STR(hash), MDB_STR(name)};
    uint64_t       id;
    int            rc;

    rc = mdb_exec(DB(r), SQL_USER_INSERT, args, 3, NULL, &id);
    if (rc)
        return rc;
    return user_query(r, SQL_USER_BY_ID, MDB_I64((int64_t)id), out, NULL);
}

int
store_user_by_email(struct req *r, const char *email, struct user **out, const char **hash)
{
    return user_query(r, SQL_USER_BY_EMAIL, MDB_STR(email), out, hash);
}

int
store_user_get(struct req *r, int64_t id, struct user **out)
{
    return user_query(r, SQL_USER_BY_ID, MDB_I64(id), out, NULL);
}

int
store_address_put(struct req *r, int64_t user_id, const struct address *a)
{
    struct mdb_arg args[] = {MDB_I64(user_id), MDB_STR(a->line1),       MDB_STR(a->line2),
                             MDB_STR(a->city), MDB_STR(a->postal_code), MDB_STR(a->country)};

    return mdb_exec(DB(r), SQL_ADDRESS_PUT, args, 6, NULL, NULL);
}

int
store_ping(struct req *r)
{
    return mdb_ping(DB(r));
}
