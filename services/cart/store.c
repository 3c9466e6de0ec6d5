/*
 * store.c - every Redis command of the cart service (through lib/kv.h).
 * A cart is a hash: field = product id, value = the line as cart.c encodes
 * it. A set per product lists the cart keys holding it, so a product event
 * finds its carts without scanning. Writes are optimistic transactions
 * (WATCH, read, decide in cart.c, MULTI ... EXEC, retry when another writer
 * won), so two requests on one cart never lose an update and a merge cannot
 * be applied twice.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cart.h"
#include "kv.h"
#include "log.h"
#include "str.h"

#define TX_ATTEMPTS 8     /* EXEC lost to a concurrent writer this often: ERR_BUSY */
#define SCAN_COUNT  "200" /* carts per SSCAN step of a product event */

/* Read a cart and slide its TTL and its products' sets' TTLs in one round
 * trip, so a set always outlives the carts it lists. The set keys are built
 * here from the field names, which is fine on a single Redis (not Cluster).
 * KEYS[1] cart; ARGV: cart TTL, set TTL, set key prefix. */
static const char touch_read_lua[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "if #h > 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "  for i = 1, #h, 2 do\n"
    "    if h[i] ~= '" CART_FIELD_REV "' then redis.call('EXPIRE', ARGV[3] .. h[i], ARGV[2]) end\n"
    "  end\n"
    "end\n"
    "return h\n";

/* Remove a line only if it is there; then the cart gets rev ARGV[2] (set
 * before the line goes, so a cart emptied this way keeps its hash and TTL).
 * KEYS[1] cart, KEYS[2] the product's set; ARGV: product id, rev. */
static const char remove_lua[] =
    "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], '" CART_FIELD_REV "', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "redis.call('SREM', KEYS[2], KEYS[1])\n"
    "return 1\n";

/* Every handler thread and the consumer thread keep their Redis handle in
 * their service state (struct cart_worker, the work's ext). */
static struct kv *
kv_of(const struct work *w)
{
    return ((struct cart_worker *)w->ext)->kv;
}

static int
cmd(struct kv *kv, struct arena *a, int argc, const char *const *argv, struct kv_reply **out)
{
    return kv_cmd(kv, a, argc, argv, NULL, out);
}

/* A field/value array (HGETALL) as lines sorted by seq. A field or value
 * that does not decode is skipped and logged: one bad line must not make
 * the whole cart unreadable. */
static int
lines_decode(struct arena *a, const char *key, const struct kv_reply *rep, struct cart *out)
{
    size_t  i;
    int64_t id;

    out->n = 0;
    out->lines = NULL;
    out->rev = NULL;
    if (rep->type != KV_ARRAY || rep->n % 2 != 0) {
        log_error("redis: %s: unexpected reply type %d", key, (int)rep->type);
        return ERR_INTERNAL;
    }
    out->lines = arena_array(a, struct cart_line, rep->n / 2 + 1);
    for (i = 0; i + 1 < rep->n; i += 2) {
        if (rep->elem[i]->type == KV_STR && rep->elem[i + 1]->type == KV_STR &&
            strcmp(rep->elem[i]->str, CART_FIELD_REV) == 0) {
            out->rev = rep->elem[i + 1]->str;
            continue;
        }
        if (rep->elem[i]->type != KV_STR || rep->elem[i + 1]->type != KV_STR ||
            str_to_i64((struct str){rep->elem[i]->str, rep->elem[i]->len}, 1, INT64_MAX, &id) ||
            cart_line_decode(rep->elem[i + 1]->str, rep->elem[i + 1]->len, id, a,
                             &out->lines[out->n])) {
            log_warn("redis: %s: skipping a malformed line", key);
            continue;
        }
        out->n++;
    }
    cart_sort(out);
    return ERR_OK;
}

static int
touch_read(struct kv *kv, struct arena *a, const struct cart_ref *ref, struct cart *out)
{
    const char      *argv[] = {"EVAL",
                               touch_read_lua,
                               "1",
                               ref->key,
                               arena_printf(a, "%lld", (long long)ref->ttl_s),
                               arena_printf(a, "%lld", (long long)ref->index_ttl_s),
                               CART_KEY_PRODUCT};
    struct kv_reply *rep;
    int              rc;

    rc = cmd(kv, a, 7, argv, &rep);
    if (rc)
        return rc;
    return lines_decode(a, ref->key, rep, out);
}

static int
hgetall(struct kv *kv, struct arena *a, const char *key, struct cart *out)
{
    struct kv_reply *rep;
    int              rc;

    rc = cmd(kv, a, 2, (const char *const[]){"HGETALL", key}, &rep);
    if (rc)
        return rc;
    return lines_decode(a, key, rep, out);
}

/* ---- optimistic transactions ------------------------------------------------------------ */

static int
watch(struct kv *kv, struct arena *a, const char *k1, const char *k2)
{
    const char *argv[] = {"WATCH", k1, k2};

    return cmd(kv, a, k2 != NULL ? 3 : 2, argv, NULL);
}

/* Give up a transaction after rc, leaving the connection clean for the next
 * request (DISCARD after MULTI, else UNWATCH). After a transport failure
 * the connection is gone, and Redis forgot its state with it. */
static int
tx_abort(struct kv *kv, struct arena *a, int rc, int in_multi)
{
    if (rc != ERR_UNAVAILABLE)
        (void)cmd(kv, a, 1, (const char *const[]){in_multi ? "DISCARD" : "UNWATCH"}, NULL);
    return rc;
}

/* EXEC: *done is 0 when a watched key changed (nothing was applied). */
static int
exec(struct kv *kv, struct arena *a, int *done)
{
    struct kv_reply *rep;
    int              rc;

    rc = cmd(kv, a, 1, (const char *const[]){"EXEC"}, &rep);
    if (rc)
        return rc;
    *done = rep->type == KV_ARRAY;
    return ERR_OK;
}

/* Queued inside MULTI: the lines and a new revision into ref's hash, ref
 * into their products' sets. */
static int
queue_lines(struct kv *kv, struct arena *a, const struct cart_ref *ref,
            const struct cart_line *lines, size_t n)
{
    const char **argv = arena_array(a, const char *, 4 + 2 * n);
    size_t      *lens = arena_array(a, size_t, 4 + 2 * n);
    char         idx[CART_KEY_MAX];
    size_t       i;
    int          rc;

    argv[0] = "HSET";
    argv[1] = ref->key;
    lens[0] = 4;
    lens[1] = strlen(ref->key);
    for (i = 0; i < n; i++) {
        argv[2 + 2 * i] = arena_printf(a, "%lld", (long long)lines[i].product_id);
        lens[2 + 2 * i] = strlen(argv[2 + 2 * i]);
        argv[3 + 2 * i] = cart_line_encode(&lines[i], a, &lens[3 + 2 * i]);
    }
    argv[2 + 2 * n] = CART_FIELD_REV;
    lens[2 + 2 * n] = strlen(CART_FIELD_REV);
    argv[3 + 2 * n] = cart_rev_new(a);
    lens[3 + 2 * n] = CART_REV_LEN;
    rc = kv_cmd(kv, a, (int)(4 + 2 * n), argv, lens, NULL);
    for (i = 0; rc == ERR_OK && i < n; i++) {
        cart_index_key(lines[i].product_id, idx);
        rc = cmd(kv, a, 3, (const char *const[]){"SADD", idx, ref->key}, NULL);
        if (rc == ERR_OK)
            rc = cmd(kv, a, 3,
                     (const char *const[]){"EXPIRE", idx,
                                           arena_printf(a, "%lld", (long long)ref->index_ttl_s)},
                     NULL);
    }
    if (rc == ERR_OK)
        rc = cmd(kv, a, 3,
                 (const char *const[]){"EXPIRE", ref->key,
                                       arena_printf(a, "%lld", (long long)ref->ttl_s)},
                 NULL);
    return rc;
}

/* Queued inside MULTI: drop's whole hash and its entries in the products' sets. */
static int
queue_drop(struct kv *kv, struct arena *a, const struct cart_ref *drop, const struct cart *c)
{
    char   idx[CART_KEY_MAX];
    size_t i;
    int    rc;

    rc = cmd(kv, a, 2, (const char *const[]){"DEL", drop->key}, NULL);
    for (i = 0; rc == ERR_OK && i < c->n; i++) {
        cart_index_key(c->lines[i].product_id, idx);
        rc = cmd(kv, a, 3, (const char *const[]){"SREM", idx, drop->key}, NULL);
    }
    return rc;
}

/* MULTI, the writes, EXEC, after a WATCH. drop (may be NULL) is deleted in
 * the same transaction. *done is 0 when another writer came first. */
static int
commit(struct kv *kv, struct arena *a, const struct cart_ref *ref, const struct cart_line *lines,
       size_t n, const struct cart_ref *drop, const struct cart *dropped, int *done)
{
    int rc;

    *done = 0;
    rc = cmd(kv, a, 1, (const char *const[]){"MULTI"}, NULL);
    if (rc)
        return tx_abort(kv, a, rc, 0);
    rc = n > 0 ? queue_lines(kv, a, ref, lines, n) : ERR_OK;
    if (rc == ERR_OK && drop != NULL)
        rc = queue_drop(kv, a, drop, dropped);
    if (rc)
        return tx_abort(kv, a, rc, 1);
    return exec(kv, a, done);
}

/* ---- carts -------------------------------------------------------------------------------- */

int
store_cart_get(struct work *w, const struct cart_ref *ref, struct cart *out)
{
    struct kv    *kv = kv_of(w);
    struct arena *a = w->arena;
    return touch_read(kv, a, ref, out);
}

/* One line changed by cart_add (snap != NULL) or cart_set, retried while
 * other writers win. */
static int
edit(struct kv *kv, struct arena *a, const struct cart_ref *ref, const struct product_snap *snap,
     int64_t product_id, int64_t qty, struct cart *out)
{
    struct cart      cur;
    struct cart_line l;
    int              rc, attempt, done;

    for (attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = watch(kv, a, ref->key, NULL);
        if (rc)
            return rc;
        rc = hgetall(kv, a, ref->key, &cur);
        if (rc == ERR_OK)
            rc = snap != NULL ? cart_add(&cur, snap, qty, &l) : cart_set(&cur, product_id, qty, &l);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        rc = commit(kv, a, ref, &l, 1, NULL, NULL, &done);
        if (rc)
            return rc;
        if (done)
            return touch_read(kv, a, ref, out);
    }
    log_warn("redis: %s: gave up after %d concurrent writes", ref->key, TX_ATTEMPTS);
    return ERR_BUSY;
}

int
store_cart_add(struct work *w, const struct cart_ref *ref, const struct product_snap *p,
               int64_t qty, struct cart *out)
{
    struct kv    *kv = kv_of(w);
    struct arena *a = w->arena;
    return edit(kv, a, ref, p, p->id, qty, out);
}

int
store_cart_set(struct work *w, const struct cart_ref *ref, int64_t product_id, int64_t qty,
               struct cart *out)
{
    struct kv    *kv = kv_of(w);
    struct arena *a = w->arena;
    return edit(kv, a, ref, NULL, product_id, qty, out);
}

/* One script (remove_lua): HDEL, SREM and the new revision together, so a
 * concurrent re-add (HSET + SADD, one transaction) cannot lose its set
 * entry, and a line that is not there changes nothing. */
int
store_cart_remove(struct work *w, const struct cart_ref *ref, int64_t product_id, struct cart *out)
{
    struct kv       *kv = kv_of(w);
    struct arena    *a = w->arena;
    char             idx[CART_KEY_MAX];
    struct kv_reply *rep;
    int              rc;

    cart_index_key(product_id, idx);
    rc = cmd(kv, a, 7,
             (const char *const[]){"EVAL", remove_lua, "2", ref->key, idx,
                                   arena_printf(a, "%lld", (long long)product_id), cart_rev_new(a)},
             &rep);
    if (rc)
        return rc;
    if (rep->type != KV_INT) {
        log_error("redis: %s: unexpected reply to the removal", ref->key);
        return ERR_INTERNAL;
    }
    if (rep->i == 0)
        return ERR_NOT_FOUND;
    return touch_read(kv, a, ref, out);
}

int
store_cart_merge(struct work *w, const struct cart_ref *anon, const struct cart_ref *user,
                 size_t *lines)
{
    struct kv        *kv = kv_of(w);
    struct arena     *a = w->arena;
    struct cart       u, an;
    struct cart_line *out;
    size_t            n;
    int               rc, attempt, done;

    *lines = 0;
    for (attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = watch(kv, a, anon->key, user->key);
        if (rc)
            return rc;
        rc = hgetall(kv, a, anon->key, &an);
        if (rc == ERR_OK)
            rc = hgetall(kv, a, user->key, &u);
        if (rc == ERR_OK && an.n == 0)
            rc = ERR_NOT_FOUND; /* nothing (left) to merge */
        if (rc == ERR_NOT_FOUND)
            return tx_abort(kv, a, ERR_OK, 0);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        out = arena_array(a, struct cart_line, an.n);
        n = cart_merge(&u, &an, out);
        rc = commit(kv, a, user, out, n, anon, &an, &done);
        if (rc)
            return rc;
        if (done) {
            *lines = n;
            return ERR_OK;
        }
    }
    log_warn("redis: %s: merge gave up after %d concurrent writes", user->key, TX_ATTEMPTS);
    return ERR_BUSY;
}

/* ---- product events ------------------------------------------------------------------------ */

/* ev on one cart (a member of the product's set). A cart that no longer
 * holds the product (removed, or expired) leaves the set, under the same
 * WATCH so a concurrent re-add keeps its entry. *changed is 1 when written. */
static int
event_one(struct kv *kv, struct arena *a, const char *key, const struct product_event *ev,
          const char *idx, int *changed)
{
    const char      *pid = arena_printf(a, "%lld", (long long)ev->id);
    struct kv_reply *rep;
    struct cart_line l, nl;
    size_t           len;
    int              rc, attempt, done, held;

    *changed = 0;
    for (attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = watch(kv, a, key, NULL);
        if (rc == ERR_OK)
            rc = cmd(kv, a, 3, (const char *const[]){"HGET", key, pid}, &rep);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        held = rep->type == KV_STR && cart_line_decode(rep->str, rep->len, ev->id, a, &l) == ERR_OK;
        if (held && !cart_line_apply(&l, ev, &nl))
            return tx_abort(kv, a, ERR_OK, 0); /* already as new, or newer */
        rc = cmd(kv, a, 1, (const char *const[]){"MULTI"}, NULL);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        if (held)
            rc = cmd(kv, a, 6,
                     (const char *const[]){"HSET", key, pid, cart_line_encode(&nl, a, &len),
                                           CART_FIELD_REV, cart_rev_new(a)},
                     NULL);
        else
            rc = cmd(kv, a, 3, (const char *const[]){"SREM", idx, key}, NULL);
        if (rc)
            return tx_abort(kv, a, rc, 1);
        rc = exec(kv, a, &done);
        if (rc)
            return rc;
        if (done) {
            *changed = held;
            return ERR_OK;
        }
    }
    return ERR_BUSY;
}

int
store_product_event(struct work *w, const struct product_event *ev, size_t *carts)
{
    struct kv       *kv = kv_of(w);
    struct arena    *a = w->arena;
    char             idx[CART_KEY_MAX];
    const char      *cursor = "0";
    struct kv_reply *rep, *members;
    size_t           i;
    int              rc, changed;

    *carts = 0;
    cart_index_key(ev->id, idx);
    do {
        rc = cmd(kv, a, 5, (const char *const[]){"SSCAN", idx, cursor, "COUNT", SCAN_COUNT}, &rep);
        if (rc)
            return rc;
        if (rep->type != KV_ARRAY || rep->n != 2 || rep->elem[0]->type != KV_STR ||
            rep->elem[1]->type != KV_ARRAY) {
            log_error("redis: SSCAN %s: unexpected reply", idx);
            return ERR_INTERNAL;
        }
        cursor = rep->elem[0]->str;
        members = rep->elem[1];
        for (i = 0; i < members->n; i++) {
            if (members->elem[i]->type != KV_STR || members->elem[i]->len >= CART_KEY_MAX)
                continue;
            rc = event_one(kv, a, members->elem[i]->str, ev, idx, &changed);
            if (rc)
                return rc;
            *carts += (size_t)changed;
        }
    } while (strcmp(cursor, "0") != 0);
    return ERR_OK;
}

/* ---- confirmed orders ---------------------------------------------------------------------- */

/* Queued inside MULTI: the used-up lines out of ref's hash and ref out of
 * their products' sets. */
static int
queue_gone(struct kv *kv, struct arena *a, const struct cart_ref *ref, const int64_t *gone,
           size_t n)
{
    char   idx[CART_KEY_MAX];
    size_t i;
    int    rc = ERR_OK;

    for (i = 0; rc == ERR_OK && i < n; i++) {
        cart_index_key(gone[i], idx);
        rc = cmd(
            kv, a, 3,
            (const char *const[]){"HDEL", ref->key, arena_printf(a, "%lld", (long long)gone[i])},
            NULL);
        if (rc == ERR_OK)
            rc = cmd(kv, a, 3, (const char *const[]){"SREM", idx, ref->key}, NULL);
    }
    return rc;
}

/* The marker lives as long as a user's cart: the inbox dedupes for good,
 * the marker only has to outlast a redelivery. Both keys are watched, so a
 * concurrent add or a second delivery makes this round start again. */
int
store_order_confirmed(struct work *w, const struct cart_ref *ref, int64_t order_id,
                      const struct order_line *o, size_t n, size_t *lines)
{
    struct kv        *kv = kv_of(w);
    struct arena     *a = w->arena;
    const char       *mark = arena_printf(a, CART_KEY_ORDER "%lld", (long long)order_id);
    struct kv_reply  *rep;
    struct cart       cur;
    struct cart_line *keep;
    int64_t          *gone;
    size_t            n_keep, n_gone;
    int               rc, attempt, done;

    *lines = 0;
    for (attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = watch(kv, a, ref->key, mark);
        if (rc == ERR_OK)
            rc = cmd(kv, a, 2, (const char *const[]){"EXISTS", mark}, &rep);
        if (rc == ERR_OK && rep->type == KV_INT && rep->i > 0)
            return tx_abort(kv, a, ERR_OK, 0); /* applied before */
        if (rc == ERR_OK)
            rc = hgetall(kv, a, ref->key, &cur);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        keep = arena_array(a, struct cart_line, cur.n + 1);
        gone = arena_array(a, int64_t, cur.n + 1);
        cart_order_apply(&cur, o, n, keep, &n_keep, gone, &n_gone);
        rc = cmd(kv, a, 1, (const char *const[]){"MULTI"}, NULL);
        if (rc)
            return tx_abort(kv, a, rc, 0);
        /* a new revision before the lines go, so the hash (and its TTL) stays */
        if (n_keep > 0)
            rc = queue_lines(kv, a, ref, keep, n_keep);
        else if (n_gone > 0)
            rc =
                cmd(kv, a, 4,
                    (const char *const[]){"HSET", ref->key, CART_FIELD_REV, cart_rev_new(a)}, NULL);
        if (rc == ERR_OK)
            rc = queue_gone(kv, a, ref, gone, n_gone);
        if (rc == ERR_OK)
            rc = cmd(kv, a, 5,
                     (const char *const[]){"SET", mark, "1", "EX",
                                           arena_printf(a, "%lld", (long long)ref->ttl_s)},
                     NULL);
        if (rc)
            return tx_abort(kv, a, rc, 1);
        rc = exec(kv, a, &done);
        if (rc)
            return rc;
        if (done) {
            *lines = n_keep + n_gone;
            return ERR_OK;
        }
    }
    log_warn("redis: %s: order %lld gave up after %d concurrent writes", ref->key,
             (long long)order_id, TX_ATTEMPTS);
    return ERR_BUSY;
}

int
store_cart_version(struct work *w, const struct cart_ref *ref, int64_t *version, struct cart *out)
{
    struct kv       *kv = kv_of(w);
    struct arena    *a = w->arena;
    char             vkey[CART_KEY_MAX];
    struct kv_reply *rep;
    int              rc;

    snprintf(vkey, sizeof(vkey), CART_KEY_VERSION "%lld", (long long)ref->user_id);
    rc = cmd(kv, a, 1, (const char *const[]){"MULTI"}, NULL);
    if (rc)
        return rc;
    rc = cmd(kv, a, 2, (const char *const[]){"INCR", vkey}, NULL);
    if (rc == ERR_OK)
        rc = cmd(kv, a, 2, (const char *const[]){"HGETALL", ref->key}, NULL);
    if (rc)
        return tx_abort(kv, a, rc, 1);
    rc = cmd(kv, a, 1, (const char *const[]){"EXEC"}, &rep);
    if (rc)
        return rc;
    if (rep->type != KV_ARRAY || rep->n != 2 || rep->elem[0]->type != KV_INT) {
        log_error("redis: %s: unexpected EXEC reply", vkey);
        return ERR_INTERNAL;
    }
    *version = rep->elem[0]->i;
    return lines_decode(a, ref->key, rep->elem[1], out);
}
