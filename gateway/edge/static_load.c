/*
 * static_load.c - the pages the gateway serves itself, read from
 * SOUK_GATEWAY_WEB_DIR into memory: one app per directory
 * (<dir>/storefront/, <dir>/console/), every regular file under it with its
 * type, validator and .gz sibling. Loading reads the disk, so it runs on the
 * control loop (start-up, SIGHUP, PUT /routes) and never on a data loop; the
 * loops only look files up in the immutable snapshot they acquired. The
 * snapshot owns one arena; a swap frees the old one with its last reader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "gateway.h"
#include "log.h"

/* Pages are small: these bound a wrong SOUK_GATEWAY_WEB_DIR (a home directory). */
#define STATIC_APPS_MAX  16
#define STATIC_FILES_MAX 4096       /* per app */
#define STATIC_FILE_MAX  (16 << 20) /* one file */
#define STATIC_SITE_MAX  (256 << 20)
#define STATIC_DEPTH_MAX 8
#define STATIC_PATH_MAX  1024

struct site_box {
    struct static_site s;
    struct arena      *a;
};

/* What one load collects before the files are sorted into the snapshot. */
struct loading {
    struct arena       *a;
    struct static_file *files;
    int                 nfiles, cap;
    size_t              bytes;
    int                 rc;
};

static const char FOLDED[] = "";

static pthread_mutex_t     site_lock = PTHREAD_MUTEX_INITIALIZER;
static struct static_site *current;

/* ------------------------------------------------------------ reading */

static uint64_t
fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t   i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* The whole file at path (fd relative to nothing: paths are built here). */
static int
read_whole(struct loading *l, const char *path, size_t size, char **out)
{
    char   *p = arena_alloc(l->a, size + 1);
    size_t  got = 0;
    ssize_t n;
    int     fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return ERR_INTERNAL;
    while (got < size) {
        n = read(fd, p + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size)
        return ERR_INTERNAL; /* changed under us: the next reload sees it whole */
    p[size] = '\0';
    *out = p;
    return ERR_OK;
}

static void
add_file(struct loading *l, const char *full, const char *rel, size_t size)
{
    struct static_file *f;
    char               *data;

    if (l->nfiles == STATIC_FILES_MAX || size > STATIC_FILE_MAX ||
        l->bytes + size > STATIC_SITE_MAX) {
        log_error("static: %s: past the bounds (%d files, %d MiB per file, %d MiB in all)", full,
                  STATIC_FILES_MAX, STATIC_FILE_MAX >> 20, STATIC_SITE_MAX >> 20);
        l->rc = ERR_TOO_LARGE;
        return;
    }
    if (read_whole(l, full, size, &data) != ERR_OK) {
        log_warn("static: %s: cannot read: %s", full, strerror(errno));
        return;
    }
    if (l->nfiles == l->cap) {
        struct static_file *more = arena_array(l->a, struct static_file, (size_t)l->cap * 2 + 16);

        if (l->nfiles > 0)
            memcpy(more, l->files, sizeof(*more) * (size_t)l->nfiles);
        l->files = more;
        l->cap = l->cap * 2 + 16;
    }
    f = &l->files[l->nfiles++];
    *f = (struct static_file){.path = arena_strdup(l->a, rel), .data = data, .len = size};
    l->bytes += size;
}

/* Every regular file under dir (symbolic links are not followed: nothing
 * outside the web directory is ever read); dot files are skipped. */
static void
walk(struct loading *l, const char *dir, const char *rel, int depth)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    struct stat    st;
    char           full[STATIC_PATH_MAX], sub[STATIC_PATH_MAX];

    if (d == NULL)
        return;
    while (l->rc == ERR_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) >= (int)sizeof(full) ||
            snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
                (int)sizeof(sub) ||
            lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < STATIC_DEPTH_MAX)
            walk(l, full, sub, depth + 1);
        else if (S_ISREG(st.st_mode))
            add_file(l, full, sub, (size_t)st.st_size);
    }
    closedir(d);
}

static int
file_cmp(const void *x, const void *y)
{
    return strcmp(((const struct static_file *)x)->path, ((const struct static_file *)y)->path);
}

static struct static_file *
find_in(struct static_file *files, int n, const char *path)
{
    struct static_file key = {.path = (char *)path};

    return n > 0 ? bsearch(&key, files, (size_t)n, sizeof(key), file_cmp) : NULL;
}

/* The collected files as an app: "x.gz" beside "x" becomes x's gzip
 * variant (not a file of its own); types, validators, immutability. */
static void
app_finish(struct loading *l, struct static_app *app)
{
    struct static_file *f, *base;
    char                name[STATIC_PATH_MAX];
    int                 i, n = 0;
    size_t              len;
    uint64_t            h;

    qsort(l->files, (size_t)l->nfiles, sizeof(*l->files), file_cmp);
    for (i = 0; i < l->nfiles; i++) {
        f = &l->files[i];
        len = strlen(f->path);
        if (len > 3 && strcmp(f->path + len - 3, ".gz") == 0 && len - 3 < sizeof(name)) {
            memcpy(name, f->path, len - 3);
            name[len - 3] = '\0';
            base = find_in(l->files, l->nfiles, name);
            if (base != NULL) {
                base->gz = f->data;
                base->gz_len = f->len;
                f->type = FOLDED; /* its base's variant, not a file of its own */
            }
        }
    }
    app->files = arena_array(l->a, struct static_file, (size_t)l->nfiles + 1);
    for (i = 0; i < l->nfiles; i++) {
        f = &l->files[i];
        if (f->type == FOLDED)
            continue;
        f->type = static_type(f->path);
        f->hashed = static_hashed(f->path);
        h = fnv1a(f->data, f->len);
        snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)h);
        snprintf(f->gz_etag, sizeof(f->gz_etag), "\"%016llx-gz\"", (unsigned long long)h);
        app->files[n++] = *f;
    }
    app->nfiles = n;
}

static int
app_name_ok(const char *z)
{
    size_t n = strlen(z);

    return n > 0 && n <= 64 &&
           strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int
load(const char *dir, struct site_box **out)
{
    struct arena      *a = arena_create();
    struct site_box   *box = arena_new(a, struct site_box);
    struct loading     l = {.a = a};
    DIR               *d = opendir(dir);
    struct dirent     *e;
    struct stat        st;
    char               full[STATIC_PATH_MAX];
    struct static_app *app;

    box->a = a;
    box->s.apps = arena_array(a, struct static_app, STATIC_APPS_MAX);
    if (d == NULL)
        log_warn("static: %s: %s (no pages served)", dir, strerror(errno));
    while (d != NULL && l.rc == ERR_OK && (e = readdir(d)) != NULL) {
        if (!app_name_ok(e->d_name) ||
            snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) >= (int)sizeof(full) ||
            lstat(full, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (box->s.napps == STATIC_APPS_MAX) {
            l.rc = ERR_TOO_LARGE;
            break;
        }
        l.files = NULL;
        l.nfiles = l.cap = 0;
        walk(&l, full, "", 0);
        app = &box->s.apps[box->s.napps++];
        app->name = arena_strdup(a, e->d_name);
        app_finish(&l, app);
    }
    if (d != NULL)
        closedir(d);
    if (l.rc != ERR_OK) {
        arena_destroy(a);
        return l.rc;
    }
    box->s.bytes = l.bytes;
    atomic_init(&box->s.refs, 1);
    *out = box;
    return ERR_OK;
}

/* ------------------------------------------------------------ the current site */

int
static_reload(const char *dir)
{
    struct site_box    *box;
    struct static_site *old;
    int                 rc, i, n = 0;

    rc = load(dir, &box);
    if (rc) {
        log_error("static: %s not loaded (the pages served stay as they were)", dir);
        return rc;
    }
    for (i = 0; i < box->s.napps; i++)
        n += box->s.apps[i].nfiles;
    pthread_mutex_lock(&site_lock);
    old = current;
    current = &box->s;
    pthread_mutex_unlock(&site_lock);
    static_release(old);
    log_info("static: %d apps, %d files, %zu bytes from %s", box->s.napps, n, box->s.bytes, dir);
    return ERR_OK;
}

struct static_site *
static_acquire(void)
{
    struct static_site *s;

    pthread_mutex_lock(&site_lock);
    s = current;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&site_lock);
    return s;
}

void
static_retain(struct static_site *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void
static_release(struct static_site *s)
{
    struct site_box *box = (struct site_box *)(void *)s;

    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    arena_destroy(box->a);
}

void
static_shutdown(void)
{
    struct static_site *s;

    pthread_mutex_lock(&site_lock);
    s = current;
    current = NULL;
    pthread_mutex_unlock(&site_lock);
    static_release(s);
}

const struct static_file *
static_find(const struct static_site *s, const char *app, const char *path,
            const struct static_app **out)
{
    int i;

    *out = NULL;
    for (i = 0; s != NULL && i < s->napps; i++)
        if (strcmp(s->apps[i].name, app) == 0) {
            *out = &s->apps[i];
            return find_in(s->apps[i].files, s->apps[i].nfiles, path);
        }
    return NULL;
}
