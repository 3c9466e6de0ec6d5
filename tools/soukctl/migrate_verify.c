/*
 * migrate_verify.c - `soukctl migrate DOMAIN verify`: do the monolith and
 * the service hold the same data? For each entity of the domain's mapping
 * (map.h: struct map_verify) both sides answer their canonical rows
 * (migrate/README.md: one text per value for MariaDB and PostgreSQL) in key
 * order, a page at a time. Each row is hashed (64 bits over its canonical
 * columns); per range of keys (1000 by default) each side has a count, a
 * sum and an XOR of its row hashes, which do not depend on row order; a
 * range whose three numbers differ holds a difference, and the merge of the
 * two key-ordered streams names it: a key missing on the service, one only
 * on the service, or one whose row differs. Rows change while verify runs
 * (the sync lags by a little): every differing key is read again on both
 * sides, a few times, and only those that still differ are reported. While
 * the forward sync runs, each re-read is fenced, not timed: a marker goes
 * into the monolith first and the re-read waits until the sync applied it,
 * so a key still differing then is not the sync's lag (a fixed 1 s of
 * re-reading refused cutovers under a write load when the sync lagged).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backfill.h"
#include "buf.h"
#include "kv.h"
#include "migrate.h"
#include "migrate/map/map.h"
#include "migrate/sync/position.h"
#include "str.h"
#include "work.h"

#define VERIFY_PAGE     5000  /* rows per query on each side */
#define VERIFY_MAX_DIFF 10000 /* differing keys kept for the re-check */
#define VERIFY_PRINT    50    /* of those, printed one per line */
#define RECHECK_ROUNDS  5
#define RECHECK_PAUSE   200 /* ms between rounds when no sync runs to fence with */
#define RECHECK_FENCE_S 30  /* at most this long for the sync to apply a round's marker */

enum diff_kind { DIFF_MISSING, DIFF_EXTRA, DIFF_CHANGED };
static const char *const diff_names[] = {"missing on the service", "only on the service",
                                         "differs"};

/* One side's stream of (key, row hash), a page at a time. */
struct side {
    int                      mono; /* 1: the monolith (mdb), 0: the service (db) */
    const struct map_verify *v;
    struct arena            *a; /* the current page */
    int64_t                 *keys;
    uint64_t                *hash;
    size_t                   n, i;
    int64_t                  after;
    int                      done;
    uint64_t                 rows;
};

struct range {
    uint64_t count[2], sum[2], xor[2];
};

struct verify {
    struct mig              *m;
    struct mdb              *mono;
    struct db               *svc;
    struct kv               *kv; /* a domain kept in Redis (map_domain.kv) */
    const struct map_domain *map;
    int64_t                  range_size;
    int64_t                  cur; /* the range being summed */
    int                      open;
    struct range             r;
    uint64_t                 ranges, ranges_bad;
    int64_t                 *diff_key;
    enum diff_kind          *diff_kind;
    size_t                   ndiff;
};

/* FNV-1a over the canonical columns, a separator after each (a NULL is its
 * own byte, so NULL and "" differ), then a finaliser that spreads the bits
 * for the sum. */
static uint64_t
row_hash(const char *const *cols, const size_t *lens, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t   c, i;

    for (c = 0; c < n; c++) {
        for (i = 0; cols[c] != NULL && i < lens[c]; i++)
            h = (h ^ (unsigned char)cols[c][i]) * 0x100000001b3ULL;
        h = (h ^ (cols[c] == NULL ? 0x1eu : 0x1fu)) * 0x100000001b3ULL;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

/* What a kv domain's verify_kv or verify_kv_key answered (rc; n keys and
 * their canonical texts) as the side's page of keys and hashes. */
static int
kv_page(struct side *s, int rc, int64_t *keys, const char **rows, size_t n)
{
    size_t i, len;

    if (rc) {
        common_fail("verify %s: reading the %s failed: %s", s->v->what,
                    s->mono ? "monolith" : "service", err_title(rc));
        return rc;
    }
    s->keys = keys;
    s->n = n;
    s->hash = arena_alloc(s->a, (n + 1) * sizeof(*s->hash));
    for (i = 0; i < n; i++) {
        len = rows[i] != NULL ? strlen(rows[i]) : 0;
        s->hash[i] = row_hash(&rows[i], &len, 1);
    }
    s->i = 0;
    return ERR_OK;
}

/* The same from a kv domain's verify_kv: one canonical text per key. */
static int
fetch_kv(struct verify *vf, struct side *s, int64_t after, int64_t limit)
{
    struct map_ext ext = {.kv = vf->kv, .mono = vf->mono};
    struct work    w = {.arena = s->a, .db = vf->svc, .ext = &ext};
    const char   **rows = NULL;
    int64_t       *keys = NULL;
    size_t         n = 0;

    int rc;

    arena_reset(s->a);
    rc = vf->map->verify_kv(&w, s->mono, after, limit, &keys, &rows, &n);
    return kv_page(s, rc, keys, rows, n);
}

/* Up to limit rows of one side after key `after`: keys and hashes in s->a. */
static int
fetch(struct verify *vf, struct side *s, int64_t after, int64_t limit)
{
    struct mdb_rows *mr = NULL;
    struct db_rows  *pr = NULL;
    const char      *cols[64];
    size_t           lens[64], i, c, ncols;
    int              rc;

    if (s->v->mono_sql == NULL)
        return fetch_kv(vf, s, after, limit);
    arena_reset(s->a);
    if (s->mono)
        rc = mdb_query(vf->mono, s->a, s->v->mono_sql,
                       (const struct mdb_arg[]){MDB_I64(after), MDB_I64(limit)}, 2, &mr);
    else
        rc = db_exec_sql(vf->svc, s->a, s->v->svc_sql, 2,
                         (const char *const[]){db_i64_text(s->a, after), db_i64_text(s->a, limit)},
                         &pr);
    if (rc) {
        common_fail("verify %s: reading the %s failed: %s", s->v->what,
                    s->mono ? "monolith" : "service", err_title(rc));
        return rc;
    }
    s->n = s->mono ? mr->nrows : pr->nrows;
    ncols = s->mono ? mr->ncols : pr->ncols;
    if (ncols < 1 || ncols > 64) {
        common_fail("verify %s: the mapping's query answers %zu columns", s->v->what, ncols);
        return ERR_INTERNAL;
    }
    s->keys = arena_alloc(s->a, (s->n + 1) * sizeof(*s->keys));
    s->hash = arena_alloc(s->a, (s->n + 1) * sizeof(*s->hash));
    for (i = 0; i < s->n; i++) {
        for (c = 0; c < ncols; c++) {
            cols[c] = s->mono ? mdb_get(mr, i, c) : db_get(pr, i, c);
            lens[c] = s->mono ? mr->len[i][c] : db_len(pr, i, c);
        }
        if (cols[0] == NULL ||
            str_to_i64((struct str){cols[0], lens[0]}, INT64_MIN, INT64_MAX, &s->keys[i])) {
            common_fail("verify %s: a key is not an integer", s->v->what);
            return ERR_INTERNAL;
        }
        s->hash[i] = row_hash(cols + 1, lens + 1, ncols - 1);
    }
    s->i = 0;
    return ERR_OK;
}

/* The side's next key (*key), fetching a page when the current one is used
 * up; 0 at the end. */
static int
peek(struct verify *vf, struct side *s, int64_t *key, int *rc)
{
    *rc = ERR_OK;
    if (s->i == s->n && !s->done) {
        *rc = fetch(vf, s, s->after, VERIFY_PAGE);
        if (*rc)
            return 0;
        s->done = s->n < VERIFY_PAGE;
        if (s->n > 0)
            s->after = s->keys[s->n - 1];
    }
    if (s->i == s->n)
        return 0;
    *key = s->keys[s->i];
    return 1;
}

static void
range_close(struct verify *vf)
{
    struct range *r = &vf->r;

    if (!vf->open)
        return;
    vf->ranges++;
    if (r->count[0] != r->count[1] || r->sum[0] != r->sum[1] || r->xor [0] != r->xor [1]) {
        vf->ranges_bad++;
        if (!vf->m->quiet)
            printf("  %s: keys %lld..%lld: %llu rows on the monolith, %llu on the service\n",
                   "range", (long long)(vf->cur * vf->range_size),
                   (long long)((vf->cur + 1) * vf->range_size - 1), (unsigned long long)r->count[0],
                   (unsigned long long)r->count[1]);
    }
    memset(r, 0, sizeof(*r));
    vf->open = 0;
}

static void
range_add(struct verify *vf, int side, int64_t key, uint64_t h)
{
    int64_t range = key >= 0 ? key / vf->range_size : -1 - (-1 - key) / vf->range_size;

    if (vf->open && range != vf->cur)
        range_close(vf);
    vf->cur = range;
    vf->open = 1;
    vf->r.count[side]++;
    vf->r.sum[side] += h;
    vf->r.xor [side] ^= h;
}

static void
note_diff(struct verify *vf, int64_t key, enum diff_kind k)
{
    if (vf->ndiff == VERIFY_MAX_DIFF)
        return;
    vf->diff_key[vf->ndiff] = key;
    vf->diff_kind[vf->ndiff++] = k;
}

/* The merge of both key-ordered streams. */
static int
compare(struct verify *vf, struct side *mono, struct side *svc)
{
    int64_t km = 0, ks = 0;
    int     hm, hs, rc;

    for (;;) {
        hm = peek(vf, mono, &km, &rc);
        if (rc)
            return rc;
        hs = peek(vf, svc, &ks, &rc);
        if (rc)
            return rc;
        if (!hm && !hs)
            break;
        if (hm && (!hs || km <= ks)) {
            range_add(vf, 0, km, mono->hash[mono->i]);
            mono->rows++;
        }
        if (hs && (!hm || ks <= km)) {
            range_add(vf, 1, ks, svc->hash[svc->i]);
            svc->rows++;
        }
        if (hm && hs && km == ks && mono->hash[mono->i] != svc->hash[svc->i])
            note_diff(vf, km, DIFF_CHANGED);
        else if (hm && (!hs || km < ks))
            note_diff(vf, km, DIFF_MISSING);
        else if (hs && (!hm || ks < km))
            note_diff(vf, ks, DIFF_EXTRA);
        if (hm && (!hs || km <= ks))
            mono->i++;
        if (hs && (!hm || ks <= km))
            svc->i++;
    }
    range_close(vf);
    return ERR_OK;
}

/* One side's row of key alone (s->n 0 or 1): the mapping's one-key read
 * when it has one (verify_kv_key), else a page of one after key - 1. */
static int
fetch_key(struct verify *vf, struct side *s, int64_t key)
{
    struct map_ext ext = {.kv = vf->kv, .mono = vf->mono};
    struct work    w = {.arena = s->a, .db = vf->svc, .ext = &ext};
    const char    *row = NULL;
    int64_t       *keys;
    int            rc;

    if (s->v->mono_sql != NULL || vf->map->verify_kv_key == NULL)
        return fetch(vf, s, key - 1, 1);
    arena_reset(s->a);
    rc = vf->map->verify_kv_key(&w, s->mono, key, &row);
    keys = arena_alloc(s->a, sizeof(*keys));
    keys[0] = key;
    return kv_page(s, rc, keys, &row, row != NULL);
}

/* Read key again on both sides: what differs now (-1: they agree). */
static int
recheck_one(struct verify *vf, struct side *mono, struct side *svc, int64_t key, int *kind)
{
    int hm, hs, rc;

    rc = fetch_key(vf, mono, key);
    if (!rc)
        rc = fetch_key(vf, svc, key);
    if (rc)
        return rc;
    hm = mono->n == 1 && mono->keys[0] == key;
    hs = svc->n == 1 && svc->keys[0] == key;
    *kind = hm && hs ? (mono->hash[0] != svc->hash[0] ? DIFF_CHANGED : -1)
            : hm     ? DIFF_MISSING
            : hs     ? DIFF_EXTRA
                     : -1;
    return ERR_OK;
}

static int
recheck(struct verify *vf, struct side *mono, struct side *svc)
{
    size_t i, kept;
    int    round, kind, rc, fence = mig_sync_running(vf->m, 0);

    for (round = 0; round < RECHECK_ROUNDS && vf->ndiff > 0; round++) {
        /* a fence that fails (the sync stopped or is stuck) leaves pauses */
        if (fence && mig_marker_through(vf->m, RECHECK_FENCE_S, 0) != ERR_OK)
            fence = 0;
        if (!fence)
            nanosleep(&(struct timespec){0, RECHECK_PAUSE * 1000000L}, NULL);
        for (i = kept = 0; i < vf->ndiff; i++) {
            rc = recheck_one(vf, mono, svc, vf->diff_key[i], &kind);
            if (rc)
                return rc;
            if (kind < 0)
                continue;
            vf->diff_key[kept] = vf->diff_key[i];
            vf->diff_kind[kept++] = (enum diff_kind)kind;
        }
        vf->ndiff = kept;
    }
    return ERR_OK;
}

static int
verify_entity(struct verify *vf, const struct map_verify *v, int *ok)
{
    struct side mono = {1, v, arena_create(), NULL, NULL, 0, 0, INT64_MIN, 0, 0};
    struct side svc = {0, v, arena_create(), NULL, NULL, 0, 0, INT64_MIN, 0, 0};
    uint64_t    ranges_bad;
    size_t      i;
    int         rc;

    vf->ranges = vf->ranges_bad = 0;
    vf->ndiff = 0;
    vf->open = 0;
    memset(&vf->r, 0, sizeof(vf->r));
    rc = compare(vf, &mono, &svc);
    ranges_bad = vf->ranges_bad;
    if (!rc)
        rc = recheck(vf, &mono, &svc);
    if (!rc && !vf->m->quiet) {
        printf("verify %s %s: %llu rows on the monolith, %llu on the service; %llu ranges of "
               "%lld keys, %llu differed; %zu keys still differ after re-reading\n",
               vf->m->d->name, v->what, (unsigned long long)mono.rows, (unsigned long long)svc.rows,
               (unsigned long long)vf->ranges, (long long)vf->range_size,
               (unsigned long long)ranges_bad, vf->ndiff);
        for (i = 0; i < vf->ndiff && i < VERIFY_PRINT; i++)
            printf("  %s id %lld: %s\n", v->what, (long long)vf->diff_key[i],
                   diff_names[vf->diff_kind[i]]);
        if (vf->ndiff > VERIFY_PRINT)
            printf("  ... and %zu more\n", vf->ndiff - VERIFY_PRINT);
        buf_printf(&vf->m->detail, "%s: %llu/%llu rows, %zu differ; ", v->what,
                   (unsigned long long)mono.rows, (unsigned long long)svc.rows, vf->ndiff);
    }
    if (!rc && vf->ndiff > 0)
        *ok = 0;
    arena_destroy(mono.a);
    arena_destroy(svc.a);
    return rc;
}

/* Both connections for map's domain; the caller closes with verify_close. */
static int
verify_open(struct verify *vf, struct mig *m, const struct map_domain *map, int range)
{
    const struct ctl_target *t = common_target(m->d->name);

    memset(vf, 0, sizeof(*vf));
    if (t == NULL || map == NULL || map->verify == NULL) {
        common_fail("verify %s: the domain has no mapping to compare with", m->d->name);
        return ERR_NOT_FOUND;
    }
    vf->m = m;
    vf->range_size = range;
    vf->diff_key = arena_alloc(m->a, VERIFY_MAX_DIFF * sizeof(*vf->diff_key));
    vf->diff_kind = arena_alloc(m->a, VERIFY_MAX_DIFF * sizeof(*vf->diff_kind));
    vf->mono = mdb_new(m->ctl->cfg.monolith_db);
    vf->svc = db_new(common_target_dsn(m->ctl, t), NULL);
    vf->map = map;
    if (map->kv)
        vf->kv = kv_new(backfill_kv_url(), 5000);
    if (vf->mono == NULL || vf->svc == NULL || (map->kv && vf->kv == NULL)) {
        common_fail("verify %s: cannot connect (SOUK_MONOLITH_DB, %s)", m->d->name, t->env);
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

static void
verify_close(struct verify *vf)
{
    mdb_free(vf->mono);
    db_free(vf->svc);
    kv_free(vf->kv);
}

int
mig_verify(struct mig *m, const struct map_domain *map, int range, int *ok)
{
    struct verify            vf;
    const struct map_verify *v;
    int                      rc, agree = 1;

    rc = verify_open(&vf, m, map, range);
    for (v = rc ? NULL : map->verify; v != NULL && v->what != NULL && !rc; v++)
        rc = verify_entity(&vf, v, &agree);
    *ok = agree;
    verify_close(&vf);
    return rc;
}

int
mig_verify_mark(struct mig *m, int64_t *since)
{
    const struct ctl_target *t = common_target(m->d->name);
    struct db               *svc = t != NULL ? db_new(common_target_dsn(m->ctl, t), NULL) : NULL;
    int                      rc = svc == NULL ? ERR_UNAVAILABLE : ERR_OK;

    if (!rc)
        rc = position_touched_mark(svc, m->a, m->d->name, since);
    if (rc)
        common_fail("%s: cannot read the changed keys (sync_touched) on the service: %s",
                    m->d->name, err_title(rc));
    db_free(svc);
    return rc;
}

/* The keys of one entity that souk-sync touched after since, read on both
 * sides one by one (each a key range of one: the mapping's own queries). */
static int
verify_keys(struct verify *vf, const struct map_verify *v, int64_t since, int *ok)
{
    struct side mono = {1, v, arena_create(), NULL, NULL, 0, 0, INT64_MIN, 0, 0};
    struct side svc = {0, v, arena_create(), NULL, NULL, 0, 0, INT64_MIN, 0, 0};
    int64_t    *keys;
    size_t      n, i;
    int         kind, rc;

    vf->ndiff = 0;
    rc = position_touched_since(vf->svc, vf->m->a, vf->m->d->name, v->what, since, &keys, &n);
    if (rc)
        common_fail("verify %s: reading the changed keys failed: %s", v->what, err_title(rc));
    for (i = 0; !rc && i < n; i++) {
        rc = recheck_one(vf, &mono, &svc, keys[i], &kind);
        if (!rc && kind >= 0)
            note_diff(vf, keys[i], (enum diff_kind)kind);
    }
    if (!rc)
        rc = recheck(vf, &mono, &svc);
    if (!rc && !vf->m->quiet) {
        printf("verify %s %s: %zu keys changed since the full verify began; %zu differ\n",
               vf->m->d->name, v->what, n, vf->ndiff);
        for (i = 0; i < vf->ndiff && i < VERIFY_PRINT; i++)
            printf("  %s id %lld: %s\n", v->what, (long long)vf->diff_key[i],
                   diff_names[vf->diff_kind[i]]);
        buf_printf(&vf->m->detail, "%s: %zu changed, %zu differ; ", v->what, n, vf->ndiff);
    }
    if (!rc && vf->ndiff > 0)
        *ok = 0;
    arena_destroy(mono.a);
    arena_destroy(svc.a);
    return rc;
}

int
mig_verify_changed(struct mig *m, const struct map_domain *map, int64_t since, int *ok)
{
    struct verify            vf;
    const struct map_verify *v;
    int                      rc, agree = 1;

    rc = verify_open(&vf, m, map, 1);
    for (v = rc ? NULL : map->verify; v != NULL && v->what != NULL && !rc; v++)
        rc = verify_keys(&vf, v, since, &agree);
    *ok = agree;
    verify_close(&vf);
    return rc;
}
