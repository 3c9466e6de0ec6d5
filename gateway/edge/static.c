/*
 * static.c - files answered by the gateway itself from the in-memory site
 * (static_load.c): a route with "static": "<app>" on the data listener (the
 * storefront), and the console at "/" on the admin listener. Types by
 * extension, strong ETags and 304, immutable caching for hashed names and
 * revalidation for the rest, the .gz variant for clients that take gzip,
 * and the single-page fallback: a path without an extension that names no
 * file is a client-side route, answered with the app's index.html.
 */
#include <string.h>

#include "arena.h"
#include "gw.h"

#define INDEX "index.html"

/* What every page may load: its own origin only (plus data: images). */
#define SECURITY_HEADERS                                                                           \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; "       \
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'\r\n"                              \
    "Referrer-Policy: same-origin\r\n"

static const char *
header(struct client *c, const char *name, size_t *n)
{
    int        i = hhead_find(&c->head, name);
    struct str v;

    if (i < 0)
        return NULL;
    v = hhead_val(&c->head, i);
    *n = v.len;
    return v.p;
}

static void
site_hold(void *s)
{
    static_retain(s);
}

static void
site_drop(void *s)
{
    static_release(s);
}

/* s: the snapshot f is in; a slow client's unsent rest is written from it
 * (with a reference) rather than copied. */
static void
send_file(struct client *c, struct static_site *s, const struct static_file *f)
{
    const char *ae, *inm, *etag;
    size_t      ae_len = 0, inm_len = 0;
    int         gz;
    char       *extra;

    ae = header(c, "accept-encoding", &ae_len);
    inm = header(c, "if-none-match", &inm_len);
    gz = f->gz != NULL && ae != NULL && static_accepts_gzip(ae, ae_len);
    etag = gz ? f->gz_etag : f->etag;
    extra = arena_printf(c->a, "ETag: %s\r\nCache-Control: %s\r\n%s%s" SECURITY_HEADERS, etag,
                         f->hashed ? "public, max-age=31536000, immutable" : "no-cache",
                         f->gz != NULL ? "Vary: Accept-Encoding\r\n" : "",
                         gz ? "Content-Encoding: gzip\r\n" : "");
    if (inm != NULL && static_etag_match(inm, inm_len, etag)) {
        client_answer(c, 304, NULL, "", 0, extra);
        return;
    }
    client_answer_pinned(c, 200, f->type, gz ? f->gz : f->data, gz ? f->gz_len : f->len, extra, s,
                         site_hold, site_drop);
}

/* 1 when the last segment has no '.': a client-side route, not a file. */
static int
spa_route(const char *path)
{
    const char *last = strrchr(path, '/');

    return strchr(last != NULL ? last + 1 : path, '.') == NULL;
}

/* rel: the raw path inside the app (after the mount point and its '/'). */
static void
serve(struct client *c, const char *app_name, const char *rel, size_t n)
{
    struct static_site       *s;
    const struct static_app  *app;
    const struct static_file *f;
    char                     *path;
    size_t                    len;
    int                       spa;

    if (static_clean(c->a, rel, n, &path) != ERR_OK) {
        client_problem(c, ERR_INVALID,
                       "path has an escaped separator, a control byte or a dot segment");
        return;
    }
    spa = spa_route(path); /* before a directory's index is named: "orders/" is a route too */
    len = strlen(path);
    if (len == 0 || path[len - 1] == '/')
        path = arena_printf(c->a, "%s" INDEX, path);
    s = static_acquire(); /* a queued write takes its own reference */
    f = static_find(s, app_name, path, &app);
    if (f == NULL && app != NULL && spa)
        f = static_find(s, app_name, INDEX, &app);
    if (app == NULL)
        client_problem(c, ERR_NOT_FOUND, "these pages are not built (make web)");
    else if (f == NULL)
        client_problem(c, ERR_NOT_FOUND, "no such file");
    else
        send_file(c, s, f);
    static_release(s);
}

static int
get_or_head(const struct client *c)
{
    return strcmp(c->hph.method, "GET") == 0 || strcmp(c->hph.method, "HEAD") == 0;
}

static size_t
path_len(struct str t)
{
    size_t n = strcspn(t.p, "?");

    return n < t.len ? n : t.len;
}

enum cphase
static_begin(struct client *c, struct gw_table *t, const struct gw_route *r)
{
    struct lcache     *k = loop_cache(c->loop, t);
    struct str         target = hhead_target(&c->head);
    size_t             n = path_len(target), skip = r->path_len;
    struct auth_claims user;

    c->rstat = k->rstat[r - t->routes];
    c->route_name = r->name;
    c->mode_name = "static";
    /* The route's rate limits (and auth) as for a proxied route: answering
     * a file is cheap, but not free, and a page route may be a private one. */
    if (edge_refused(c, r, &user))
        return client_answered_phase(c);
    if (!(r->methods & routes_method_bit(c->hph.method))) {
        client_problem_hdr(c, ERR_METHOD, "pages are only read here", NULL, "Allow: GET, HEAD\r\n");
        return client_answered_phase(c);
    }
    /* The route matched on decoded bytes; an escaped mount point is not ours. */
    if (n < skip || memcmp(target.p, r->path, skip) != 0) {
        client_problem(c, ERR_NOT_FOUND, "no such file");
        return client_answered_phase(c);
    }
    if (skip < n && target.p[skip] == '/')
        skip++;
    serve(c, r->static_app, target.p + skip, n - skip);
    return client_answered_phase(c);
}

int
static_admin(struct client *c)
{
    struct str t = hhead_target(&c->head);
    size_t     n = path_len(t);

    if (!get_or_head(c) || n == 0 || t.p[0] != '/' ||
        (n >= 4 && memcmp(t.p, "/api", 4) == 0 && (n == 4 || t.p[4] == '/')))
        return 0;
    c->route_name = "console";
    serve(c, "console", t.p + 1, n - 1);
    return 1;
}
