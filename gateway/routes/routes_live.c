/*
 * routes_live.c - the route table at work: per-request matching (no locks,
 * no allocation), the current table and its atomic swap, persistence to the
 * routes file (state/jsonfile.c), reload and PATCH (the diff is routes_diff.c's). In-flight
 * requests keep the table they acquired; a replaced table is freed by its last routes_unref.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "log.h"
#include "str.h"

#define FILE_MAX    (16 << 20) /* a routes file larger than this is a mistake */
#define ROUTES_MODE 0644       /* the operator's table: nothing secret in it */

/* swap_lock covers reading `current` together with taking a reference, so a
 * concurrent swap cannot free the table in between; it is held for a few
 * instructions. install_lock serialises writers (persist + swap, or
 * read-modify-write for PATCH) without making readers wait for fsync. */
static pthread_mutex_t  swap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t  install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_table *current;
static _Atomic uint64_t live_version; /* current->version, readable without a lock */
static _Atomic int      unwritten;    /* the table in memory is newer than the routes file */

/* ------------------------------------------------------------ matching */

/* The next request byte, percent-decoded. An escaped '/' comes back as 256 so
 * that it never equals a literal '/' or ends a segment: lib/router.c treats
 * "a%2Fb" as one segment and the upstream must see the path as we did. */
static int
next_byte(const char **pp, const char *end)
{
    const char *p = *pp;
    int         c = str_pct_byte(p, end);

    if (c >= 0) {
        *pp = p + 3;
        return c == '/' ? 256 : c;
    }
    *pp = p + 1;
    return (unsigned char)*p;
}

/* "/a/b" matches "/a/b" and "/a/b/..." but not "/a/bc". */
static int
prefix_match(const struct gw_route *r, const char *p, const char *end)
{
    const char *lit = r->path, *lit_end = r->path + r->path_len;

    while (lit < lit_end) {
        if (p == end || next_byte(&p, end) != (unsigned char)*lit)
            return 0;
        lit++;
    }
    return p == end || *p == '/' || lit_end[-1] == '/';
}

/* Segment by segment; "{x}" takes exactly one non-empty segment. */
static int
template_match(const char *t, const char *p, const char *end)
{
    const char *seg;

    while (*t == '/') {
        if (p == end || *p != '/')
            return 0;
        t++;
        p++;
        if (*t == '{') {
            seg = p;
            while (p < end && *p != '/')
                p++;
            if (p == seg)
                return 0;
            t = strchr(t, '}') + 1;
            continue;
        }
        while (*t != '\0' && *t != '/') {
            if (p == end || *p == '/' || next_byte(&p, end) != (unsigned char)*t)
                return 0;
            t++;
        }
    }
    return p == end;
}

/* "/api" and "/api/...": never a page. */
static int
api_path(const char *p, size_t n)
{
    return n >= 4 && memcmp(p, "/api", 4) == 0 && (n == 4 || p[4] == '/');
}

const struct gw_route *
routes_match(const struct gw_table *t, const char *method, const char *path, size_t path_len)
{
    const struct gw_route *r;
    unsigned               bit = routes_method_bit(method);
    int                    i;

    for (i = 0; i < t->nroutes; i++) {
        r = &t->routes[i];
        /* A static route owns its paths for every method (the others are
         * its 405), except the API's, which stay with the proxied routes. */
        if (r->static_app != NULL ? api_path(path, path_len)
                                  : r->methods != 0 && (r->methods & bit) == 0)
            continue;
        if (r->is_template ? template_match(r->path, path, path + path_len)
                           : prefix_match(r, path, path + path_len))
            return r;
    }
    return NULL;
}

/* ------------------------------------------------------------ the current table */

struct gw_table *
routes_acquire(void)
{
    struct gw_table *t;

    pthread_mutex_lock(&swap_lock);
    t = current;
    if (t != NULL)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&swap_lock);
    return t;
}

uint64_t
routes_version(void)
{
    return atomic_load(&live_version);
}

/* Persisting after the swap: a failure leaves the new table in place and
 * says so (event, /ready) until a later write succeeds. */
static void
persist_after(const struct gw_table *t, const char *path)
{
    int rc;

    rc = json_file_save(t->doc, path, ROUTES_MODE);
    if (!rc) {
        atomic_store(&unwritten, 0);
        return;
    }
    atomic_store(&unwritten, 1);
    gwevents_add("persist_failed",
                 "routes version %llu is in memory but %s could not be written: a restart "
                 "would lose it",
                 (unsigned long long)t->version, path);
}

/* Caller holds install_lock. Consumes the reference on t in every case.
 * memory_first: swap, then persist (a failed write does not undo it);
 * otherwise a failed write installs nothing. */
static int
install_locked(struct gw_table *t, const char *path, const char *event, const char *what,
               int memory_first, json_t *ended)
{
    struct gw_table *old;
    int rc = path != NULL && !memory_first ? json_file_save(t->doc, path, ROUTES_MODE) : ERR_OK;

    if (rc) {
        routes_unref(t);
        return rc;
    }
    if (path != NULL && !memory_first)
        atomic_store(&unwritten, 0);
    pthread_mutex_lock(&swap_lock);
    old = current;
    t->version = (old != NULL ? old->version : 0) + 1;
    current = t;
    atomic_store(&live_version, t->version);
    pthread_mutex_unlock(&swap_lock);
    hold_note(old, t, ended);
    gwevents_add(event, "routes version %llu installed: %s (%d routes, %d upstreams)",
                 (unsigned long long)t->version, what, t->nroutes, t->npools);
    routes_unref(old);
    if (path != NULL && memory_first)
        persist_after(t, path); /* t is current: only an install (we hold the lock) replaces it */
    return ERR_OK;
}

int
routes_persisted(void)
{
    return !atomic_load(&unwritten);
}

int
routes_install(struct gw_table *t, const char *path)
{
    int rc;

    pthread_mutex_lock(&install_lock);
    rc = install_locked(t, path, "reload", path != NULL ? path : "not persisted", 0, NULL);
    pthread_mutex_unlock(&install_lock);
    return rc;
}

void
routes_shutdown(void)
{
    struct gw_table *old;

    pthread_mutex_lock(&swap_lock);
    old = current;
    current = NULL;
    atomic_store(&live_version, 0);
    pthread_mutex_unlock(&swap_lock);
    routes_unref(old);
}

int
routes_read_file(const char *path, struct gw_table **out, struct buf *errors)
{
    json_t *doc;
    int     rc;

    *out = NULL;
    rc = json_file_load(path, FILE_MAX, &doc, errors);
    if (rc)
        return rc;
    rc = routes_build(doc, out, errors);
    json_decref(doc);
    return rc;
}

int
routes_load_file(const char *path, struct buf *errors)
{
    struct gw_table *t;
    int              rc;

    rc = routes_read_file(path, &t, errors);
    if (rc) {
        log_error("routes not loaded from %s, the current table stays", path);
        return rc;
    }
    pthread_mutex_lock(&install_lock);
    /* Not persisted: rewriting the operator's own file would reformat it.
     * Memory and file now agree. */
    rc = install_locked(t, NULL, "reload", path, 0, NULL);
    if (rc == ERR_OK)
        atomic_store(&unwritten, 0);
    pthread_mutex_unlock(&install_lock);
    return rc;
}

/* ------------------------------------------------------------ admin operations */

json_t *
routes_to_json(const struct gw_table *t)
{
    return json_deep_copy(t->doc);
}

json_t *
routes_doc_route(json_t *doc, const char *name)
{
    json_t *r;
    size_t  i;

    json_array_foreach(json_object_get(doc, "routes"), i, r)
    {
        if (json_is_string(json_object_get(r, "name")) &&
            strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

int
routes_with_mode(const struct gw_table *cur, const char *name, const char *mode, int percent,
                 struct gw_table **out, struct buf *errors)
{
    json_t *doc = json_deep_copy(cur->doc), *r;
    int     rc;

    *out = NULL;
    r = routes_doc_route(doc, name);
    if (r == NULL) {
        buf_printf(errors, "%s: no such route\n", name);
        json_decref(doc);
        return ERR_NOT_FOUND;
    }
    /* mode NULL keeps the mode (a percent-only change). */
    if (mode != NULL && json_object_set_new(r, "mode", json_string(mode)) != 0) {
        buf_printf(errors, "%s.mode: must be legacy, shadow, canary or new\n", name);
        json_decref(doc);
        return ERR_INVALID;
    }
    if (percent >= 0)
        json_object_set_new(r, "canary_percent", json_integer(percent));
    rc = routes_build(doc, out, errors);
    json_decref(doc);
    return rc;
}

static const struct gw_route *
find_route(const struct gw_table *t, const char *name)
{
    int i;

    for (i = 0; i < t->nroutes; i++)
        if (strcmp(t->routes[i].name, name) == 0)
            return &t->routes[i];
    return NULL;
}

static int
set_mode(const char *name, const char *mode, int percent, const char *path, struct buf *errors,
         int memory_first)
{
    struct gw_table       *cur, *next = NULL;
    const struct gw_route *r;
    char                   what[160];
    int                    rc;

    pthread_mutex_lock(&install_lock);
    cur = routes_acquire();
    rc = cur != NULL ? routes_with_mode(cur, name, mode, percent, &next, errors) : ERR_UNAVAILABLE;
    routes_unref(cur);
    if (!rc) {
        r = find_route(next, name);
        snprintf(what, sizeof(what), "route %s mode %s canary_percent %d", name,
                 routes_mode_name(r->mode), r->canary_percent);
        rc = install_locked(next, path, "route_patch", what, memory_first, NULL);
    }
    pthread_mutex_unlock(&install_lock);
    return rc;
}

int
routes_set_mode(const char *name, const char *mode, int percent, const char *path,
                struct buf *errors)
{
    return set_mode(name, mode, percent, path, errors, 0);
}

int
routes_force_mode(const char *name, const char *mode, const char *path, struct buf *errors)
{
    return set_mode(name, mode, -1, path, errors, 1);
}

/* One route's members from a PATCH; what gets a summary. */
static int
patch_route(json_t *doc, const char *name, json_t *ch, struct buf *errors, struct buf *what)
{
    json_t *r = routes_doc_route(doc, name), *pct = json_object_get(ch, "canary_percent");
    json_t *mode = json_object_get(ch, "mode"), *hold = json_object_get(ch, "hold");

    if (r == NULL) {
        buf_printf(errors, "%s: no such route\n", name);
        return ERR_NOT_FOUND;
    }
    if (mode != NULL)
        json_object_set(r, "mode", mode);
    if (pct != NULL)
        json_object_set(r, "canary_percent", pct);
    if (json_is_false(hold))
        json_object_del(r, "hold"); /* the default: the file stays as it was */
    else if (hold != NULL)
        json_object_set(r, "hold", hold);
    buf_printf(what, "%sroute %s", buf_len(what) > 0 ? "; " : "", name);
    if (json_is_string(mode))
        buf_printf(what, " mode %s", json_string_value(mode));
    if (json_is_integer(pct))
        buf_printf(what, " canary_percent %lld", (long long)json_integer_value(pct));
    if (json_is_boolean(hold))
        buf_printf(what, " hold %s", json_is_true(hold) ? "on" : "off");
    return ERR_OK;
}

int
routes_patch_many(json_t *changes, const char *path, struct buf *errors, json_t *ended)
{
    struct gw_table *cur, *next = NULL;
    json_t          *doc = NULL, *ch;
    struct buf       what;
    const char      *name;
    int              rc = ERR_OK;

    buf_init(&what, 4096);
    pthread_mutex_lock(&install_lock);
    cur = routes_acquire();
    if (cur == NULL) {
        rc = ERR_UNAVAILABLE;
        goto done;
    }
    doc = json_deep_copy(cur->doc);
    json_object_foreach(changes, name, ch)
    {
        rc = patch_route(doc, name, ch, errors, &what);
        if (rc)
            goto done;
    }
    rc = routes_build(doc, &next, errors);
    if (!rc)
        rc = install_locked(next, path, "route_patch", buf_len(&what) > 0 ? buf_data(&what) : "", 0,
                            ended);
done:
    pthread_mutex_unlock(&install_lock);
    routes_unref(cur);
    json_decref(doc);
    buf_free(&what);
    return rc;
}
