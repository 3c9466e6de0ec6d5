/*
 * dbkv_probe.c - souk-dbkv-probe: drives lib/db.c and lib/kv.c against real
 * servers for lib/t/22_db_kv.t and prints "label ERR_NAME [value]" per
 * operation, so the test asserts the error mapping, reconnects and binary
 * safety from outside. Not a product. Usage: souk-dbkv-probe SUBCOMMAND
 * (env SOUK_TEST_DB = a PostgreSQL url, SOUK_TEST_REDIS = a redis:// url,
 * SOUK_TEST_KEY = a key prefix unique to the test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "kv.h"
#include "log.h"

enum { S_PARENT_ADD, S_CHILD_ADD, S_PARENT_GET, S_BACKEND };

static const struct db_stmt probe_sql[] = {
    {"PARENT_ADD", 2, "INSERT INTO probe_parent (id, name) VALUES ($1::bigint, $2)"},
    {"CHILD_ADD", 3, "INSERT INTO probe_child (id, parent_id, n) VALUES ($1, $2, $3)"},
    {"PARENT_GET", 1, "SELECT id, name, NULL::text FROM probe_parent WHERE id = $1"},
    {"BACKEND", 0, "SELECT pg_backend_pid()"},
    {NULL, 0, NULL},
};

/* A table whose second statement names a table that does not exist. */
static const struct db_stmt broken_sql[] = {
    {"OK", 0, "SELECT 1"},
    {"MISSING_TABLE", 1, "SELECT id FROM probe_no_such_table WHERE id = $1"},
    {NULL, 0, NULL},
};

static const char schema[] = "DROP TABLE IF EXISTS probe_child, probe_parent;"
                             "CREATE TABLE probe_parent (id bigint PRIMARY KEY, name text);"
                             "CREATE TABLE probe_child (id bigint PRIMARY KEY,"
                             " parent_id bigint NOT NULL REFERENCES probe_parent (id),"
                             " n integer NOT NULL CHECK (n > 0));";

static void
say(const char *label, int rc)
{
    printf("%s %s\n", label, err_name(rc));
    fflush(stdout);
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || *v == '\0') {
        fprintf(stderr, "souk-dbkv-probe: %s is not set\n", name);
        exit(2);
    }
    return v;
}

/* The schema comes first, on a handle without statements: the probe's own
 * table would not prepare before its tables exist. */
static void
pg_schema(const char *url, struct arena *a)
{
    struct db *db = db_new(url, NULL);

    say("schema", db_exec_sql(db, a, schema, 0, NULL, NULL));
    db_free(db);
}

static void
pg_errors(struct db *db, struct arena *a)
{
    struct db_rows *rs = NULL;
    int             rc;

    say("insert", db_exec(db, a, S_PARENT_ADD, (const char *[]){"1", "one"}, NULL));
    printf("affected %lld\n", (long long)db_affected(db));
    say("duplicate", db_exec(db, a, S_PARENT_ADD, (const char *[]){"1", "again"}, NULL));
    say("bad_integer", db_exec(db, a, S_PARENT_ADD, (const char *[]){"x1", "bad"}, NULL));
    say("out_of_range",
        db_exec(db, a, S_PARENT_ADD, (const char *[]){"99999999999999999999", "big"}, NULL));
    say("foreign_key", db_exec(db, a, S_CHILD_ADD, (const char *[]){"1", "404", "1"}, NULL));
    say("check", db_exec(db, a, S_CHILD_ADD, (const char *[]){"2", "1", "0"}, NULL));
    say("not_null", db_exec(db, a, S_CHILD_ADD, (const char *[]){"3", NULL, "1"}, NULL));
    say("syntax", db_exec_sql(db, a, "SELEC 1", 0, NULL, NULL));
    rc = db_exec(db, a, S_PARENT_GET, (const char *[]){"1"}, &rs);
    say("select", rc);
    if (rc == ERR_OK)
        printf("row %zu %zu %lld %s %s %zu\n", rs->nrows, rs->ncols, (long long)db_i64(rs, 0, 0),
               db_get(rs, 0, 1), db_get(rs, 0, 2) == NULL ? "null" : "notnull", db_len(rs, 0, 1));
    rc = db_exec_sql(db, a, "SELECT $1::int + 1", 1, (const char *[]){"41"}, &rs);
    say("params", rc);
    if (rc == ERR_OK)
        printf("sum %lld\n", (long long)db_i64(rs, 0, 0));
    say("i64_text",
        strcmp(db_i64_text(a, INT64_MIN), "-9223372036854775808") == 0 ? ERR_OK : ERR_INTERNAL);
}

/* db_exec_sql's texts run prepared (db_sqlcache.c): prepared once per
 * session, a bad text fails as it would unnamed, and a text whose table
 * changed shape fails once and is prepared again. */
static void
pg_sqlcache(struct db *db, struct arena *a)
{
    static const char count_sql[] = "SELECT count(*) FROM pg_prepared_statements "
                                    "WHERE statement = 'SELECT $1::int + 1'";
    static const char star_sql[] = "SELECT * FROM probe_shape WHERE a = $1::int";
    struct db_rows   *rs = NULL;
    int               rc, i;

    for (i = 0; i < 3; i++)
        rc = db_exec_sql(db, a, "SELECT $1::int + 1", 1, (const char *[]){"1"}, &rs);
    say("cache_again", rc);
    rc = db_exec_sql(db, a, count_sql, 0, NULL, &rs);
    printf("cache_prepared %lld\n", rc == ERR_OK ? (long long)db_i64(rs, 0, 0) : -1LL);
    say("cache_syntax", db_exec_sql(db, a, "SELEC $1::int", 1, (const char *[]){"1"}, NULL));
    say("cache_shape", db_exec_sql(db, a,
                                   "CREATE TABLE probe_shape (a int); "
                                   "INSERT INTO probe_shape VALUES (7)",
                                   0, NULL, NULL));
    say("cache_star", db_exec_sql(db, a, star_sql, 1, (const char *[]){"7"}, &rs));
    say("cache_alter",
        db_exec_sql(db, a, "ALTER TABLE probe_shape ADD COLUMN b int DEFAULT 8", 0, NULL, NULL));
    say("cache_stale", db_exec_sql(db, a, star_sql, 1, (const char *[]){"7"}, &rs));
    rc = db_exec_sql(db, a, star_sql, 1, (const char *[]){"7"}, &rs);
    say("cache_fresh", rc);
    printf("cache_cols %zu\n", rc == ERR_OK ? rs->ncols : 0);
}

/* A failed statement aborts the transaction: commit must not report OK. */
static void
pg_tx(struct db *db, struct arena *a)
{
    struct db_rows *rs = NULL;

    say("tx_begin", db_begin(db));
    say("tx_insert", db_exec(db, a, S_PARENT_ADD, (const char *[]){"10", "ten"}, NULL));
    db_rollback(db);
    say("tx_rolled_back", db_exec(db, a, S_PARENT_GET, (const char *[]){"10"}, &rs));
    printf("tx_rows %zu\n", rs != NULL ? rs->nrows : 99);
    say("tx_begin2", db_begin(db));
    say("tx_dup", db_exec(db, a, S_PARENT_ADD, (const char *[]){"1", "dup"}, NULL));
    say("tx_commit_failed", db_commit(db));
    say("tx_begin3", db_begin(db));
    say("tx_insert3", db_exec(db, a, S_PARENT_ADD, (const char *[]){"11", "eleven"}, NULL));
    say("tx_commit", db_commit(db));
}

static void
pg_badstmt(const char *url, struct arena *a)
{
    struct db *db = db_new(url, broken_sql);

    say("exec", db_exec(db, a, 0, NULL, NULL));
    say("ping", db_ping(db));
    db_free(db);
}

/* Terminate db's backend from a second connection. */
static int
kill_backend(struct db *db, struct db *admin, struct arena *a)
{
    struct db_rows *rs = NULL;
    int             rc;

    rc = db_exec(db, a, S_BACKEND, NULL, &rs);
    if (rc)
        return rc;
    return db_exec_sql(admin, a, "SELECT pg_terminate_backend($1::int)", 1,
                       (const char *[]){db_get(rs, 0, 0)}, NULL);
}

static void
pg_reconnect(struct db *db, const char *url, struct arena *a)
{
    struct db *admin = db_new(url, NULL);

    say("ping", db_ping(db));
    say("kill", kill_backend(db, admin, a));
    say("after_kill", db_exec(db, a, S_BACKEND, NULL, NULL));
    say("kill_tx_begin", db_begin(db));
    say("kill_in_tx", kill_backend(db, admin, a));
    say("in_tx_lost", db_exec(db, a, S_BACKEND, NULL, NULL));
    say("in_tx_still_lost", db_exec(db, a, S_BACKEND, NULL, NULL));
    db_rollback(db);
    say("begin_again", db_begin(db));
    say("exec_again", db_exec(db, a, S_BACKEND, NULL, NULL));
    say("commit_again", db_commit(db));
    say("ping_again", db_ping(db));
    db_free(admin);
}

static void
kv_round_trip(struct kv *kv, struct arena *a, const char *prefix)
{
    static const char bin[] = {'a', '\0', 'b', '\xff', '\n', '\0'};
    const char       *key = arena_printf(a, "%s:bin", prefix);
    const char       *v;
    size_t            n;

    say("ping", kv_ping(kv));
    say("set", kv_set(kv, key, bin, sizeof(bin), 60));
    say("get", kv_get(kv, a, key, &v, &n));
    printf("same %d\n", v != NULL && n == sizeof(bin) && memcmp(v, bin, n) == 0);
    say("del", kv_del(kv, key));
    say("get_absent", kv_get(kv, a, key, &v, &n));
    printf("absent %d\n", v == NULL);
    say("del_absent", kv_del(kv, key));
}

static void
kv_commands(struct kv *kv, struct arena *a, const char *prefix)
{
    const char      *key = arena_printf(a, "%s:list", prefix);
    struct kv_reply *rep = NULL;

    say("rpush", kv_cmd(kv, a, 4, (const char *[]){"RPUSH", key, "x", "yz"}, NULL, &rep));
    printf("rpush_n %lld\n", rep != NULL ? (long long)rep->i : -1);
    say("lrange", kv_cmd(kv, a, 4, (const char *[]){"LRANGE", key, "0", "-1"}, NULL, &rep));
    if (rep != NULL && rep->type == KV_ARRAY && rep->n == 2)
        printf("lrange_v %s %s\n", rep->elem[0]->str, rep->elem[1]->str);
    say("wrongtype", kv_cmd(kv, a, 2, (const char *[]){"GET", key}, NULL, NULL));
    say("cleanup", kv_del(kv, key));
}

static void
kv_urls(void)
{
    static const char *const urls[] = {
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "redis://h:1/15",
        "redis://h:0",
        "redis://:6379",
        "http://h:1",
        "redis://h:x",
        "redis://u@h:1",
        "redis://h:1/x",
        "redis://h:70000",
    };
    size_t i;

    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
        say(urls[i], kv_url_check(urls[i]));
}

static int
run(const char *cmd, struct arena *a)
{
    struct db *db;
    struct kv *kv;

    if (strcmp(cmd, "pg-errors") == 0 || strcmp(cmd, "pg-reconnect") == 0) {
        db = db_new(env("SOUK_TEST_DB"), probe_sql);
        if (cmd[3] == 'e') {
            pg_schema(env("SOUK_TEST_DB"), a);
            pg_errors(db, a);
            pg_tx(db, a);
            pg_sqlcache(db, a);
        } else {
            pg_reconnect(db, env("SOUK_TEST_DB"), a);
        }
        db_free(db);
    } else if (strcmp(cmd, "pg-badstmt") == 0) {
        pg_badstmt(env("SOUK_TEST_DB"), a);
    } else if (strcmp(cmd, "kv") == 0) {
        kv = kv_new(env("SOUK_TEST_REDIS"), 2000);
        kv_round_trip(kv, a, env("SOUK_TEST_KEY"));
        kv_commands(kv, a, env("SOUK_TEST_KEY"));
        kv_free(kv);
    } else if (strcmp(cmd, "kv-down") == 0) {
        kv = kv_new(env("SOUK_TEST_REDIS"), 500);
        say("ping", kv_ping(kv));
        say("ping_again", kv_ping(kv));
        say("set", kv_set(kv, "k", "v", 1, 0));
        kv_free(kv);
    } else if (strcmp(cmd, "kv-url") == 0) {
        kv_urls();
    } else {
        fprintf(stderr, "usage: souk-dbkv-probe pg-errors|pg-reconnect|pg-badstmt|kv|kv-down|"
                        "kv-url\n");
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct arena *a;
    int           rc;

    if (argc != 2) {
        fprintf(stderr, "usage: souk-dbkv-probe SUBCOMMAND\n");
        return 2;
    }
    log_open("dbkv-probe", getenv("SOUK_LOG_LEVEL"));
    a = arena_create();
    rc = run(argv[1], a);
    arena_destroy(a);
    return rc;
}
