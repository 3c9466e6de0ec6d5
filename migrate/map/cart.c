/*
 * cart.c - the cart's mapping: the monolith's carts + cart_items rows <->
 * the cart service's Redis hashes (lib/cartline.h: souk:cart:u:<user id>,
 * one line per product). The monolith numbers carts (carts.id), the service
 * keys them by user: a cart id is only ever turned into its carts.user_id
 * (read from the monolith, unique and never changed), so a line lands in
 * exactly the cart of the user who owns it on both sides. A line's name and
 * price are what v1 shows: the product's row in the monolith at apply time
 * (v1 prices the cart at today's prices), version 0 (a snapshot), so the
 * catalog's next product event moves it on as it does for the service's
 * own lines. One function makes a line (line_put), used by forward apply
 * and the backfill; verify renders both sides as v1 would show them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "cartline.h"
#include "db.h"
#include "event.h"
#include "kv.h"
#include "mdb.h"
#include "str.h"
#include "migrate/map/map.h"
#include "work.h"

#define EXT(w) ((struct map_ext *)(w)->ext)

/* A canonical integer (map.h), 0 for NULL or junk (the schema types it). */
static int64_t
num(const char *z)
{
    int64_t v = 0;

    if (z == NULL || str_to_i64((struct str){z, strlen(z)}, INT64_MIN, INT64_MAX, &v) != ERR_OK)
        return 0;
    return v;
}

/* The canonical DATETIME(3) (YYYY-MM-DDTHH:MM:SS.mmmZ) as milliseconds since
 * the epoch: the line's seq, so lines keep the monolith's order (added_at,
 * then product id: by_seq's tie-break too); the service's next line takes
 * the largest seq + 1. 0 for anything else. */
static int64_t
added_ms(const char *z)
{
    static const struct {
        size_t  off, len;
        int64_t min, max;
    } f[] = {{0, 4, 1970, 9999}, {5, 2, 1, 12},  {8, 2, 1, 31},  {11, 2, 0, 23},
             {14, 2, 0, 59},     {17, 2, 0, 60}, {20, 3, 0, 999}};
    int64_t   v[7];
    struct tm tm = {0};
    size_t    i;

    if (z == NULL || strlen(z) != 24)
        return 0;
    for (i = 0; i < 7; i++)
        if (str_to_i64((struct str){z + f[i].off, f[i].len}, f[i].min, f[i].max, &v[i]) != ERR_OK)
            return 0;
    tm.tm_year = (int)v[0] - 1900;
    tm.tm_mon = (int)v[1] - 1;
    tm.tm_mday = (int)v[2];
    tm.tm_hour = (int)v[3];
    tm.tm_min = (int)v[4];
    tm.tm_sec = (int)v[5];
    return (int64_t)timegm(&tm) * 1000 + v[6];
}

static int64_t
ttl_user(void)
{
    int64_t v = num(getenv("SOUK_CART_TTL_USER_S"));

    return v > 0 ? v : CART_TTL_USER_S_DEFAULT;
}

/* The user owning monolith cart id (0 when the cart is gone: its delete
 * follows in the stream and drops the whole hash). */
static int
cart_user(struct work *w, const char *cart_id, int64_t *user)
{
    struct mdb_rows *rs;
    int              rc;

    *user = 0;
    rc = mdb_query(EXT(w)->mono, w->arena, "SELECT user_id FROM carts WHERE id = ?",
                   (struct mdb_arg[]){MDB_STR(cart_id)}, 1, &rs);
    if (rc == ERR_OK && rs->nrows == 1)
        *user = mdb_i64(rs, 0, 0);
    return rc;
}

static int
kv_run(struct work *w, int argc, const char *const *argv)
{
    return kv_cmd(EXT(w)->kv, w->arena, argc, argv, NULL, NULL);
}

/* Put user's line of product pid with quantity qty (added at seq). A line
 * the cart has already keeps its seq and what product events made of it
 * (price, name, version, unavailable): only the quantity is the monolith's.
 * A new line takes name and price from the monolith's products row (absent:
 * the product was deleted and InnoDB's cascade took the item, nothing to
 * put). Idempotent: the same change twice writes the same line. */
static int
line_put(struct work *w, int64_t user, int64_t pid, int64_t qty, int64_t seq)
{
    char             key[CART_KEY_MAX], idx[CART_KEY_MAX], f[24], ttl[24];
    struct kv_reply *rep;
    struct mdb_rows *rs;
    struct cart_line l;
    const char      *v;
    size_t           len;
    int              rc;

    cart_user_key(user, key);
    cart_index_key(pid, idx);
    snprintf(f, sizeof(f), "%lld", (long long)pid);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_user());
    rc = kv_cmd(EXT(w)->kv, w->arena, 3, (const char *const[]){"HGET", key, f}, NULL, &rep);
    if (rc)
        return rc;
    if (rep->type == KV_STR && cart_line_decode(rep->str, rep->len, pid, w->arena, &l) == ERR_OK) {
        l.quantity = qty;
    } else {
        rc = mdb_query(EXT(w)->mono, w->arena,
                       "SELECT name, price_minor, currency FROM products WHERE id = ?",
                       (struct mdb_arg[]){MDB_I64(pid)}, 1, &rs);
        if (rc || rs->nrows == 0)
            return rc;
        memset(&l, 0, sizeof(l));
        l.product_id = pid;
        l.quantity = qty;
        l.seq = seq;
        l.name = mdb_get(rs, 0, 0);
        l.unit.minor = l.added.minor = mdb_i64(rs, 0, 1);
        snprintf(l.unit.currency, sizeof(l.unit.currency), "%s", mdb_get(rs, 0, 2));
        memcpy(l.added.currency, l.unit.currency, sizeof(l.added.currency));
    }
    v = cart_line_encode(&l, w->arena, &len);
    rc = kv_run(w, 1, (const char *const[]){"MULTI"});
    if (rc == ERR_OK)
        rc = kv_cmd(EXT(w)->kv, w->arena, 4, (const char *const[]){"HSET", key, f, v},
                    (const size_t[]){4, strlen(key), strlen(f), len}, NULL);
    if (rc == ERR_OK)
        rc = kv_run(w, 4,
                    (const char *const[]){"HSET", key, CART_FIELD_REV, cart_rev_new(w->arena)});
    if (rc == ERR_OK)
        rc = kv_run(w, 3, (const char *const[]){"SADD", idx, key});
    if (rc == ERR_OK)
        rc = kv_run(w, 3, (const char *const[]){"EXPIRE", key, ttl});
    if (rc == ERR_OK)
        rc = kv_run(w, 3, (const char *const[]){"EXPIRE", idx, ttl});
    if (rc == ERR_OK)
        return kv_run(w, 1, (const char *const[]){"EXEC"});
    (void)kv_run(w, 1, (const char *const[]){"DISCARD"});
    return rc;
}

static int
cart_apply(struct work *w, const struct cdc_change *c)
{
    char    key[CART_KEY_MAX];
    int64_t user;
    int     rc;

    if (strcmp(c->table, "carts") == 0) {
        /* An empty cart has no hash; a deleted one (its user deleted: the
         * items went by cascade, which the binlog does not show) goes whole. */
        if (c->op != CDC_DELETE || map_before(c, "user_id") == NULL)
            return ERR_OK;
        cart_user_key(num(map_before(c, "user_id")), key);
        return kv_run(w, 2, (const char *const[]){"DEL", key});
    }
    rc = cart_user(w, map_value(c, "cart_id"), &user);
    if (rc || user == 0)
        return rc;
    map_touched(w, "carts", user); /* the verify key of an item: its cart's user */
    if (c->op == CDC_DELETE) {
        cart_user_key(user, key);
        /* a new revision first: a checkout of the cart as it was is then not
         * mistaken for one of the cart as it is (orders' cart_version) */
        rc = kv_run(w, 4,
                    (const char *const[]){"HSET", key, CART_FIELD_REV, cart_rev_new(w->arena)});
        return rc ? rc
                  : kv_run(w, 3, (const char *const[]){"HDEL", key, map_before(c, "product_id")});
    }
    return line_put(w, user, num(map_value(c, "product_id")), num(map_value(c, "quantity")),
                    added_ms(map_value(c, "added_at")));
}

#define MONO_ADDED "CONCAT(LEFT(DATE_FORMAT(ci.added_at, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"

/* Every line of every cart, in the backfill's snapshot, through line_put. */
static int
cart_copy(struct work *w, int64_t *n)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    *n = 0;
    rc = mdb_query(EXT(w)->mono, w->arena,
                   "SELECT c.user_id, ci.product_id, ci.quantity, " MONO_ADDED
                   " FROM carts c JOIN cart_items ci ON ci.cart_id = c.id"
                   " ORDER BY c.user_id, ci.product_id",
                   NULL, 0, &rs);
    for (i = 0; rc == ERR_OK && i < rs->nrows; i++, ++*n)
        rc = line_put(w, mdb_i64(rs, i, 0), mdb_i64(rs, i, 1), mdb_i64(rs, i, 2),
                      added_ms(mdb_get(rs, i, 3)));
    return rc;
}

/* ---- verify: each user's cart as v1 shows it ------------------------------------------ */

/* One user's cart: a text line per cart line, in display order. */
static const char *
line_text(struct arena *a, const char *prev, int64_t pid, int64_t qty, int64_t price,
          const char *cur, const char *name)
{
    return arena_printf(a, "%s%lld %lld %lld %s %s\n", prev != NULL ? prev : "", (long long)pid,
                        (long long)qty, (long long)price, cur, name);
}

static int
verify_mono(struct work *w, int64_t after, int64_t limit, int64_t *keys, const char **rows,
            size_t *n)
{
    struct mdb_rows *rs;
    size_t           i;
    int              rc;

    *n = 0;
    rc = mdb_query(
        EXT(w)->mono, w->arena,
        "SELECT c.user_id, ci.product_id, ci.quantity, p.price_minor, p.currency, p.name"
        " FROM (SELECT DISTINCT c2.user_id FROM carts c2 JOIN cart_items i2 ON i2.cart_id = c2.id"
        "  WHERE c2.user_id > ? ORDER BY c2.user_id LIMIT ?) k"
        " JOIN carts c ON c.user_id = k.user_id JOIN cart_items ci ON ci.cart_id = c.id"
        " JOIN products p ON p.id = ci.product_id"
        " ORDER BY c.user_id, ci.added_at, ci.product_id",
        (struct mdb_arg[]){MDB_I64(after), MDB_I64(limit)}, 2, &rs);
    for (i = 0; rc == ERR_OK && i < rs->nrows; i++) {
        int64_t user = mdb_i64(rs, i, 0);

        if (*n == 0 || keys[*n - 1] != user) {
            keys[*n] = user;
            rows[(*n)++] = NULL;
        }
        rows[*n - 1] = line_text(w->arena, rows[*n - 1], mdb_i64(rs, i, 1), mdb_i64(rs, i, 2),
                                 mdb_i64(rs, i, 3), mdb_get(rs, i, 4), mdb_get(rs, i, 5));
    }
    return rc;
}

static int
by_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return a < b ? -1 : a > b;
}

static int
by_seq(const void *x, const void *y)
{
    const struct cart_line *a = x, *b = y;

    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return by_i64(&a->product_id, &b->product_id);
}

/* Every user with a cart hash after `after` (SCAN: the service has no
 * index of its users' carts), sorted, at most limit. */
static int
svc_users(struct work *w, int64_t after, int64_t limit, int64_t **out, size_t *n)
{
    struct kv_reply *rep;
    const char      *cursor = "0";
    size_t           cap = 1024, i;
    int64_t         *u = arena_alloc(w->arena, cap * sizeof(*u));
    int              rc;

    *n = 0;
    do {
        rc = kv_cmd(
            EXT(w)->kv, w->arena, 6,
            (const char *const[]){"SCAN", cursor, "MATCH", CART_KEY_USER "*", "COUNT", "1000"},
            NULL, &rep);
        if (rc || rep->type != KV_ARRAY || rep->n != 2)
            return rc ? rc : ERR_INTERNAL;
        cursor = arena_strndup(w->arena, rep->elem[0]->str, rep->elem[0]->len);
        for (i = 0; i < rep->elem[1]->n; i++) {
            int64_t id = num(rep->elem[1]->elem[i]->str + strlen(CART_KEY_USER));

            if (id <= after)
                continue;
            if (*n == cap) {
                int64_t *bigger = arena_alloc(w->arena, 2 * cap * sizeof(*u));

                memcpy(bigger, u, cap * sizeof(*u));
                u = bigger;
                cap *= 2;
            }
            u[(*n)++] = id;
        }
    } while (strcmp(cursor, "0") != 0);
    qsort(u, *n, sizeof(*u), by_i64);
    if (*n > (size_t)limit)
        *n = (size_t)limit;
    *out = u;
    return ERR_OK;
}

/* The service's carts after key after, at most limit, as verify_mono reads
 * the monolith's: a cart with no line (a hash left with only its revision,
 * CART_FIELD_REV, once its last line went) is no cart, as on the monolith,
 * where only carts with items are listed. */
static int
svc_row(struct work *w, int64_t user, const char **row)
{
    struct kv_reply  *rep;
    struct cart_line *l;
    char              key[CART_KEY_MAX];
    size_t            j, k;
    int               rc;

    *row = NULL;
    cart_user_key(user, key);
    rc = kv_cmd(EXT(w)->kv, w->arena, 2, (const char *const[]){"HGETALL", key}, NULL, &rep);
    if (rc || rep->type != KV_ARRAY)
        return rc ? rc : ERR_INTERNAL;
    l = arena_alloc(w->arena, (rep->n / 2 + 1) * sizeof(*l));
    for (j = k = 0; j + 1 < rep->n; j += 2)
        if (cart_line_decode(rep->elem[j + 1]->str, rep->elem[j + 1]->len, num(rep->elem[j]->str),
                             w->arena, &l[k]) == ERR_OK)
            k++;
    qsort(l, k, sizeof(*l), by_seq);
    for (j = 0; j < k; j++)
        *row = line_text(w->arena, *row, l[j].product_id, l[j].quantity, l[j].unit.minor,
                         l[j].unit.currency, l[j].unavailable ? "(unavailable)" : l[j].name);
    return ERR_OK;
}

static int
verify_svc(struct work *w, int64_t after, int64_t limit, int64_t **keys, const char ***rows,
           size_t *n)
{
    int64_t    *users;
    size_t      nusers, i;
    const char *row;
    int         rc;

    *n = 0;
    rc = svc_users(w, after, INT64_MAX, &users, &nusers);
    *keys = arena_alloc(w->arena, (nusers + 1) * sizeof(**keys));
    *rows = arena_alloc(w->arena, (nusers + 1) * sizeof(**rows));
    for (i = 0; rc == ERR_OK && i < nusers && *n < (size_t)limit; i++) {
        rc = svc_row(w, users[i], &row);
        if (rc || row == NULL)
            continue;
        (*keys)[*n] = users[i];
        (*rows)[(*n)++] = row;
    }
    return rc;
}

static int
cart_verify_rows(struct work *w, int mono, int64_t after, int64_t limit, int64_t **keys,
                 const char ***rows, size_t *n)
{
    if (!mono)
        return verify_svc(w, after, limit, keys, rows, n);
    *keys = arena_alloc(w->arena, ((size_t)limit + 1) * sizeof(**keys));
    *rows = arena_alloc(w->arena, ((size_t)limit + 1) * sizeof(**rows));
    return verify_mono(w, after, limit, *keys, *rows, n);
}

/* One user's cart: the service's hash itself, no SCAN. */
static int
cart_verify_key(struct work *w, int mono, int64_t user, const char **row)
{
    int64_t     key;
    const char *text;
    size_t      n;
    int         rc;

    *row = NULL;
    if (!mono)
        return svc_row(w, user, row);
    rc = verify_mono(w, user - 1, 1, &key, &text, &n);
    if (rc == ERR_OK && n == 1 && key == user)
        *row = text;
    return rc;
}

/* ---- reverse: cart.changed into carts + cart_items ------------------------------------ */

/* The user's cart in the monolith becomes the event's items: lines not in
 * it go, quantities are set, new lines are added after the ones it has (a
 * millisecond apart, so v1 lists them in the service's order). A product
 * the monolith does not have (any more) is left out rather than failing the
 * foreign key: v1 would not show it either. The version row is written in
 * the same transaction, so a repeat or an older event writes nothing. */
static int
cart_reverse(struct mdb *mono, struct arena *a, const struct event *ev)
{
    json_t          *items = json_object_get(ev->payload, "items"), *it;
    json_int_t       user = json_integer_value(json_object_get(ev->payload, "user_id"));
    json_int_t       version = json_integer_value(json_object_get(ev->payload, "version"));
    struct mdb_rows *rs;
    struct mdb_arg  *keep;
    char            *sql;
    int64_t          cart;
    size_t           i, n = json_array_size(items);
    int              rc;

    if (user < 1 || user != ev->aggregate_id || version < 1 || !json_is_array(items) ||
        n > MAX_CART_LINES)
        return ERR_INVALID;
    rc = mdb_query(mono, a, "SELECT version FROM souk_cart_version WHERE user_id = ? FOR UPDATE",
                   (struct mdb_arg[]){MDB_I64(user)}, 1, &rs);
    if (rc || (rs->nrows == 1 && mdb_i64(rs, 0, 0) >= version))
        return rc; /* written already, or an older state */
    rc = mdb_exec(mono,
                  "INSERT INTO souk_cart_version (user_id, version) VALUES (?, ?)"
                  " ON DUPLICATE KEY UPDATE version = VALUES(version)",
                  (struct mdb_arg[]){MDB_I64(user), MDB_I64(version)}, 2, NULL, NULL);
    if (rc == ERR_OK)
        rc = mdb_exec(mono,
                      "INSERT INTO carts (user_id) VALUES (?)"
                      " ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(3)",
                      (struct mdb_arg[]){MDB_I64(user)}, 1, NULL, NULL);
    if (rc == ERR_OK)
        rc = mdb_query(mono, a, "SELECT id FROM carts WHERE user_id = ?",
                       (struct mdb_arg[]){MDB_I64(user)}, 1, &rs);
    if (rc || rs->nrows != 1)
        return rc ? rc : ERR_INTERNAL;
    cart = mdb_i64(rs, 0, 0);
    keep = arena_array(a, struct mdb_arg, n + 1);
    keep[0] = MDB_I64(cart);
    sql = arena_printf(a, "DELETE FROM cart_items WHERE cart_id = ?%s",
                       n ? " AND product_id NOT IN (" : "");
    for (i = 0; i < n; i++) {
        it = json_array_get(items, i);
        keep[i + 1] = MDB_I64(json_integer_value(json_object_get(it, "product_id")));
        if (keep[i + 1].i < 1)
            return ERR_INVALID;
        sql = arena_printf(a, "%s%s?", sql, i ? ", " : "");
    }
    rc = mdb_exec(mono, n ? arena_printf(a, "%s)", sql) : sql, keep, n + 1, NULL, NULL);
    for (i = 0; rc == ERR_OK && i < n; i++) {
        json_int_t q = json_integer_value(json_object_get(json_array_get(items, i), "quantity"));

        if (q < 1 || q > MAX_QTY)
            return ERR_INVALID;
        rc = mdb_exec(
            mono,
            "INSERT INTO cart_items (cart_id, product_id, quantity, added_at)"
            " SELECT ?, id, ?, DATE_ADD(CURRENT_TIMESTAMP(3), INTERVAL ? MICROSECOND)"
            " FROM products WHERE id = ?"
            " ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)",
            (struct mdb_arg[]){MDB_I64(cart), MDB_I64(q), MDB_I64((int64_t)i * 1000), keep[i + 1]},
            4, NULL, NULL);
    }
    return rc;
}

static const struct map_reverse cart_reverse_map = {
    .events = (const char *const[]){"cart.changed", NULL},
    .steps = NULL,
    .apply = cart_reverse,
};

const struct map_domain map_cart = {
    .name = "cart",
    .db_env = "SOUK_CART_DB",
    .tables = (const char *const[]){"carts", "cart_items", NULL},
    .apply = cart_apply,
    .verify = (const struct map_verify[]){{"carts", NULL, NULL}, {NULL, NULL, NULL}},
    /* carts by their user; cart_items name only their cart: cart_apply adds
     * its user (map_touched) */
    .touch = (const struct map_touch[]){{"carts", "carts", "user_id"}, {NULL, NULL, NULL}},
    .kv = 1,
    .copy_kv = cart_copy,
    .verify_kv = cart_verify_rows,
    .verify_kv_key = cart_verify_key,
    .reverse = &cart_reverse_map,
};
