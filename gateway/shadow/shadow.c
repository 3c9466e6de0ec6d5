/*
 * shadow.c - comparing a legacy answer with the new service's answer to the
 * same mirrored request, and keeping score per route. Bodies are compared
 * as JSON with object key order ignored, 1 == 1.0, and the route's ignore
 * pointers (RFC 6901, plus "*" for any key or index) removed from both
 * sides; bodies that are not JSON are compared byte for byte. Counters and
 * the last SHADOW_SAMPLES mismatches are kept per route name, so they
 * survive route table swaps.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "metrics.h"

#define SHADOW_SAMPLES  20
#define SAMPLE_BODY_MAX (64 << 10) /* bytes of each body kept in a sample */
#define SAMPLE_LINE_MAX 1024       /* bytes of the request line kept */
#define WHERE_MAX       512
#define POINTER_DEPTH   16 /* tokens per ignore pointer (routes.c enforces it) */

/* ------------------------------------------------------------ comparison */

/* An ignore pointer split into its raw (still ~-escaped) tokens. */
struct pointer {
    const char *tok[POINTER_DEPTH];
    size_t      len[POINTER_DEPTH];
    int         n;
};

struct compare {
    struct pointer ptr[GW_MAX_IGNORE];
    int            nptr;
    char           path[WHERE_MAX]; /* the pointer to the value being compared */
    size_t         pathlen;
    char          *where;
    size_t         where_len;
};

static void
split_pointer(const char *z, struct pointer *p)
{
    const char *end;

    p->n = 0;
    while (*z == '/' && p->n < POINTER_DEPTH) {
        z++;
        end = strchrnul(z, '/');
        p->tok[p->n] = z;
        p->len[p->n++] = (size_t)(end - z);
        z = end;
    }
    if (*z != '\0')
        p->n = 0; /* deeper than we match: never ignores anything */
}

/* Escaped token == key, decoding ~1 as '/' and ~0 as '~' (RFC 6901 §4). */
static int
token_eq(const char *tok, size_t len, const char *key, size_t klen)
{
    const char *end = tok + len;
    size_t      i = 0;
    char        c;

    while (tok < end) {
        c = *tok++;
        if (c == '~' && tok < end)
            c = *tok++ == '1' ? '/' : '~';
        if (i == klen || key[i++] != c)
            return 0;
    }
    return i == klen;
}

/* Patterns in alive still matching after one more token (key); *ignored when
 * one of them ends exactly here. */
static uint32_t
advance(const struct compare *c, uint32_t alive, int depth, const char *key, size_t klen,
        int *ignored)
{
    const struct pointer *p;
    uint32_t              next = 0;
    int                   i;

    *ignored = 0;
    for (i = 0; alive != 0 && i < c->nptr; i++) {
        p = &c->ptr[i];
        if (!(alive & (1u << i)) || depth >= p->n)
            continue;
        if (!(p->len[depth] == 1 && p->tok[depth][0] == '*') &&
            !token_eq(p->tok[depth], p->len[depth], key, klen))
            continue;
        if (depth + 1 == p->n)
            *ignored = 1;
        else
            next |= 1u << i;
    }
    return next;
}

/* Append "/" + key, escaped, to the current path; returns the old length.
 * A path too long for the buffer is cut: it still says roughly where. */
static size_t
push(struct compare *c, const char *key, size_t klen)
{
    size_t old = c->pathlen, i;

    for (i = 0; i <= klen && c->pathlen + 3 < sizeof(c->path); i++) {
        if (i == 0) {
            c->path[c->pathlen++] = '/';
        } else if (key[i - 1] == '~' || key[i - 1] == '/') {
            c->path[c->pathlen++] = '~';
            c->path[c->pathlen++] = key[i - 1] == '~' ? '0' : '1';
        } else {
            c->path[c->pathlen++] = key[i - 1];
        }
    }
    c->path[c->pathlen] = '\0';
    return old;
}

static void
pop(struct compare *c, size_t mark)
{
    c->pathlen = mark;
    c->path[mark] = '\0';
}

static int
differ(struct compare *c)
{
    if (c->where != NULL && c->where_len > 0)
        snprintf(c->where, c->where_len, "%s", c->path);
    return 0;
}

static int
numbers_equal(json_t *a, json_t *b)
{
    json_t *i, *r;
    double  d;

    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    i = json_is_integer(a) ? a : b;
    r = json_is_integer(a) ? b : a;
    d = json_real_value(r);
    /* Exact: 2^53 + 1 and 2^53 as a double must not compare equal. */
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
           (json_int_t)d == json_integer_value(i) && (double)(json_int_t)d == d;
}

static int equal(struct compare *c, json_t *a, json_t *b, int depth, uint32_t alive);

static int
objects_equal(struct compare *c, json_t *a, json_t *b, int depth, uint32_t alive)
{
    const char *key;
    json_t     *va, *vb;
    uint32_t    next;
    size_t      mark;
    int         ignored;

    json_object_foreach(a, key, va)
    {
        next = advance(c, alive, depth, key, strlen(key), &ignored);
        if (ignored)
            continue;
        vb = json_object_get(b, key);
        mark = push(c, key, strlen(key));
        if (vb == NULL)
            return differ(c);
        if (!equal(c, va, vb, depth + 1, next))
            return 0;
        pop(c, mark);
    }
    json_object_foreach(b, key, vb)
    {
        (void)advance(c, alive, depth, key, strlen(key), &ignored);
        if (!ignored && json_object_get(a, key) == NULL) {
            push(c, key, strlen(key));
            return differ(c);
        }
    }
    return 1;
}

/* The first index >= i of array a that no pointer ignores (n when none);
 * *next gets the patterns still alive below it. */
static size_t
skip_ignored(const struct compare *c, uint32_t alive, int depth, size_t i, size_t n, uint32_t *next)
{
    char idx[24];
    int  len, ignored;

    *next = 0;
    if (alive == 0)
        return i; /* the common case: no pointer reaches this deep */
    for (; i < n; i++) {
        len = snprintf(idx, sizeof(idx), "%zu", i);
        *next = advance(c, alive, depth, idx, (size_t)len, &ignored);
        if (!ignored)
            break;
    }
    return i;
}

/* Ignored elements are removed from both sides, then the rest compared in order. */
static int
arrays_equal(struct compare *c, json_t *a, json_t *b, int depth, uint32_t alive)
{
    size_t   i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b), mark;
    uint32_t next = 0, unused;
    int      n;
    char     idx[24];

    for (;;) {
        i = skip_ignored(c, alive, depth, i, na, &next);
        j = skip_ignored(c, alive, depth, j, nb, &unused);
        if (i == na || j == nb)
            break;
        n = snprintf(idx, sizeof(idx), "%zu", i);
        mark = push(c, idx, (size_t)n);
        if (!equal(c, json_array_get(a, i), json_array_get(b, j), depth + 1, next))
            return 0;
        pop(c, mark);
        i++;
        j++;
    }
    if (i == na && j == nb)
        return 1;
    n = snprintf(idx, sizeof(idx), "%zu", i < na ? i : j);
    push(c, idx, (size_t)n);
    return differ(c);
}

static int
equal(struct compare *c, json_t *a, json_t *b, int depth, uint32_t alive)
{
    if (json_is_number(a) && json_is_number(b))
        return numbers_equal(a, b) ? 1 : differ(c);
    if (json_typeof(a) != json_typeof(b))
        return differ(c);
    if (json_is_object(a))
        return objects_equal(c, a, b, depth, alive);
    if (json_is_array(a))
        return arrays_equal(c, a, b, depth, alive);
    return json_equal(a, b) ? 1 : differ(c);
}

int
shadow_equal(json_t *a, json_t *b, char *const *ignore, int nignore, char *where, size_t where_len)
{
    struct compare *c = calloc(1, sizeof(*c));
    int             i, eq;

    if (c == NULL)
        abort();
    c->nptr = nignore < GW_MAX_IGNORE ? nignore : GW_MAX_IGNORE;
    for (i = 0; i < c->nptr; i++)
        split_pointer(ignore[i], &c->ptr[i]);
    c->where = where;
    c->where_len = where_len;
    if (where != NULL && where_len > 0)
        where[0] = '\0';
    eq = equal(c, a, b, 0, c->nptr < 32 ? (1u << c->nptr) - 1 : 0xffffffffu);
    free(c);
    return eq;
}

/* ------------------------------------------------------------ score keeping */

struct sample {
    char  at[32];
    char *request_line;
    char  where[WHERE_MAX];
    int   legacy_status, new_status;
    char *legacy_body, *new_body; /* valid UTF-8, at most SAMPLE_BODY_MAX bytes */
    int   legacy_cut, new_cut;    /* the body was longer */
};

struct stats {
    char          *route;
    uint64_t       matches, mismatches, dropped;
    struct sample *samples[SHADOW_SAMPLES]; /* ring; next is the oldest */
    int            next;
    struct metric *counter[3]; /* match, mismatch, dropped */
    struct stats  *link;
};

enum outcome { OUT_MATCH, OUT_MISMATCH, OUT_DROPPED };
static const char *const outcome_names[] = {"match", "mismatch", "dropped"};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats   *all_stats; /* one per shadowed route; routes are few */

static char *
xstrndup(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Length of the valid UTF-8 sequence at p (jansson's rules), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    size_t   len = p[0] < 0x80   ? 1
                   : p[0] < 0xc2 ? 0
                   : p[0] < 0xe0 ? 2
                   : p[0] < 0xf0 ? 3
                   : p[0] < 0xf5 ? 4
                                 : 0;
    uint32_t cp = len == 2 ? p[0] & 0x1f : len == 3 ? p[0] & 0x0f : p[0] & 0x07;
    size_t   k;

    if (len <= 1 || len > n)
        return len <= n ? len : 0;
    for (k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A printable copy for GET /shadow: at most max bytes, invalid UTF-8 → '?'. */
static char *
clean_copy(const char *body, size_t n, size_t max, int *cut)
{
    char  *s;
    size_t i, k;

    *cut = n > max;
    n = n > max ? max : n;
    s = xstrndup(body, n);
    for (i = 0; i < n; i += k) {
        k = utf8_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            s[i] = '?';
            k = 1;
        }
    }
    return s;
}

static void
sample_free(struct sample *x)
{
    if (x == NULL)
        return;
    free(x->request_line);
    free(x->legacy_body);
    free(x->new_body);
    free(x);
}

/* Caller holds stats_lock. Route names are validated label-safe by routes.c;
 * shadow_drop takes any string, so odd bytes are replaced in the label. */
static struct stats *
find(const char *route)
{
    struct stats *s;
    char          labels[200], name[65];
    size_t        i;

    for (s = all_stats; s != NULL; s = s->link)
        if (strcmp(s->route, route) == 0)
            return s;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->route = xstrndup(route, strlen(route));
    for (i = 0; i < sizeof(name) - 1 && route[i] != '\0'; i++)
        name[i] =
            route[i] == '"' || route[i] == '\\' || (unsigned char)route[i] < ' ' ? '_' : route[i];
    name[i] = '\0';
    for (i = 0; i < 3; i++) {
        snprintf(labels, sizeof(labels), "route=\"%s\",result=\"%s\"", name, outcome_names[i]);
        s->counter[i] = metrics_labeled("souk_gateway_shadow_total",
                                        "Shadowed requests by route and comparison result",
                                        METRIC_COUNTER, labels);
    }
    s->link = all_stats;
    all_stats = s;
    return s;
}

/* Count one outcome; a mismatch sample (built by the caller, outside the
 * lock) takes the place of the oldest. */
static void
record(const char *route, enum outcome o, struct sample *x)
{
    struct stats  *s;
    struct sample *old = NULL;

    pthread_mutex_lock(&stats_lock);
    s = find(route);
    s->matches += o == OUT_MATCH;
    s->mismatches += o == OUT_MISMATCH;
    s->dropped += o == OUT_DROPPED;
    metrics_add(s->counter[o], 1);
    if (x != NULL) {
        old = s->samples[s->next];
        s->samples[s->next] = x;
        s->next = (s->next + 1) % SHADOW_SAMPLES;
    }
    pthread_mutex_unlock(&stats_lock);
    sample_free(old);
}

void
shadow_drop(const char *route)
{
    record(route, OUT_DROPPED, NULL);
}

static struct sample *
sample_new(const struct shadow_answer *legacy, const struct shadow_answer *shadow,
           const char *request_line, const char *where)
{
    struct sample *x = calloc(1, sizeof(*x));
    int            cut;

    if (x == NULL)
        abort();
    log_timestamp(x->at);
    request_line = request_line != NULL ? request_line : "";
    x->request_line = clean_copy(request_line, strlen(request_line), SAMPLE_LINE_MAX, &cut);
    snprintf(x->where, sizeof(x->where), "%s", where);
    x->legacy_status = legacy->status;
    x->new_status = shadow->status;
    x->legacy_body = clean_copy(legacy->body, legacy->len, SAMPLE_BODY_MAX, &x->legacy_cut);
    x->new_body = clean_copy(shadow->body, shadow->len, SAMPLE_BODY_MAX, &x->new_cut);
    return x;
}

static int
same_text(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* Bodies as JSON when both parse, else as bytes. */
static int
bodies_equal(const struct gw_route *r, const struct shadow_answer *a, const struct shadow_answer *b,
             char *where, size_t where_len)
{
    json_t *ja = a->len > 0 ? json_loadb(a->body, a->len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *jb = b->len > 0 ? json_loadb(b->body, b->len, JSON_DECODE_ANY, NULL) : NULL;
    int     eq;

    if (ja != NULL && jb != NULL) {
        eq = shadow_equal(ja, jb, r->shadow_ignore, r->nshadow_ignore, where, where_len);
    } else {
        eq = ja == NULL && jb == NULL && a->len == b->len &&
             (a->len == 0 || memcmp(a->body, b->body, a->len) == 0);
        if (!eq)
            snprintf(where, where_len, "body");
    }
    json_decref(ja);
    json_decref(jb);
    return eq;
}

void
shadow_compare_answers(const struct gw_route *r, const struct shadow_answer *legacy,
                       const struct shadow_answer *shadow, const char *request_line)
{
    char where[WHERE_MAX] = "";
    int  i, eq = legacy->status == shadow->status;

    if (!eq)
        snprintf(where, sizeof(where), "status");
    for (i = 0; eq && legacy->headers != NULL && shadow->headers != NULL && i < r->nshadow_headers;
         i++) {
        eq = same_text(legacy->headers[i], shadow->headers[i]);
        if (!eq)
            snprintf(where, sizeof(where), "header %s", r->shadow_headers[i]);
    }
    if (eq)
        eq = bodies_equal(r, legacy, shadow, where, sizeof(where));
    record(r->name, eq ? OUT_MATCH : OUT_MISMATCH,
           eq ? NULL : sample_new(legacy, shadow, request_line, where));
}

void
shadow_compare(const struct gw_route *r, int legacy_status, const char *legacy_body,
               size_t legacy_len, int new_status, const char *new_body, size_t new_len,
               const char *request_line)
{
    struct shadow_answer a = {legacy_status, legacy_body, legacy_len, NULL};
    struct shadow_answer b = {new_status, new_body, new_len, NULL};

    shadow_compare_answers(r, &a, &b, request_line);
}

static json_t *
text(const char *z)
{
    json_t *s = json_string(z);

    return s != NULL ? s : json_string("(not UTF-8)");
}

static json_t *
sample_json(const struct sample *x)
{
    return json_pack("{s:s, s:o, s:o, s:{s:i, s:o, s:b}, s:{s:i, s:o, s:b}}", "at", x->at,
                     "request", text(x->request_line), "where", text(x->where), "legacy", "status",
                     x->legacy_status, "body", text(x->legacy_body), "truncated", x->legacy_cut,
                     "new", "status", x->new_status, "body", text(x->new_body), "truncated",
                     x->new_cut);
}

json_t *
shadow_json(void)
{
    json_t             *routes = json_object(), *samples;
    const struct stats *s;
    int                 i, k;

    pthread_mutex_lock(&stats_lock);
    for (s = all_stats; s != NULL; s = s->link) {
        samples = json_array();
        for (i = 1; i <= SHADOW_SAMPLES; i++) { /* newest first */
            k = (s->next - i + SHADOW_SAMPLES) % SHADOW_SAMPLES;
            if (s->samples[k] != NULL)
                json_array_append_new(samples, sample_json(s->samples[k]));
        }
        json_object_set_new(routes, s->route,
                            json_pack("{s:I, s:I, s:I, s:o}", "matches", (json_int_t)s->matches,
                                      "mismatches", (json_int_t)s->mismatches, "dropped",
                                      (json_int_t)s->dropped, "samples", samples));
    }
    pthread_mutex_unlock(&stats_lock);
    return json_pack("{s:o}", "routes", routes);
}

void
shadow_reset(void)
{
    struct stats *s;
    int           i;

    /* Entries stay: their counters are registered for the process lifetime. */
    pthread_mutex_lock(&stats_lock);
    for (s = all_stats; s != NULL; s = s->link) {
        s->matches = s->mismatches = s->dropped = 0;
        for (i = 0; i < SHADOW_SAMPLES; i++) {
            sample_free(s->samples[i]);
            s->samples[i] = NULL;
        }
        s->next = 0;
    }
    pthread_mutex_unlock(&stats_lock);
}
