/*
 * jsonfile.c - the gateway's state files (the routes file, the migration
 * record): one JSON document each, read with bounds (a regular file only, a
 * size cap, duplicate keys refused: an operator's hand edit or a stray FIFO
 * must not wedge or fool the start) and written so that a reader, a restart
 * or a crash finds the old file or the new one, never half of one (write a
 * sibling .tmp, fsync, rename over, fsync the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "log.h"

int
state_make_dirs(const char *path)
{
    char  dir[PATH_MAX];
    char *p;
    int   n = snprintf(dir, sizeof(dir), "%s", path);

    if (n < 0 || (size_t)n >= sizeof(dir))
        return ERR_INVALID;
    for (p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return ERR_INTERNAL;
        *p = '/';
    }
    return ERR_OK;
}

int
state_sibling_path(const char *path, const char *name, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    int         dirlen = slash != NULL ? (int)(slash - path + 1) : 0;
    int         n = snprintf(out, size, "%.*s%s", dirlen, path, name);

    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            out[0] = '\0';
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* Read fd (a regular file) to its end into text, at most max bytes. */
static int
read_bounded(int fd, struct buf *text, size_t max, const char **why)
{
    char    chunk[65536];
    ssize_t n = 1;

    while (n > 0) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            n = 1;
        else if (n > 0)
            buf_append(text, chunk, (size_t)n);
    }
    if (n < 0) {
        *why = strerror(errno);
        return ERR_INTERNAL;
    }
    if (buf_error(text) || buf_len(text) > max) { /* it grew after fstat */
        *why = "larger than the limit";
        return ERR_INVALID;
    }
    return ERR_OK;
}

int
json_file_load(const char *path, size_t max, json_t **out, struct buf *errors)
{
    struct stat  st;
    struct buf   text;
    json_error_t jerr;
    const char  *why = NULL;
    int          fd, rc;

    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL; /* before buf_printf touches errno */
        buf_printf(errors, "%s: %s\n", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        buf_printf(errors, "%s: %s\n", path, strerror(errno));
        close(fd);
        return ERR_INTERNAL;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        buf_printf(errors, "%s: %s\n", path,
                   !S_ISREG(st.st_mode) ? "not a regular file" : "larger than the limit");
        close(fd);
        return ERR_INVALID;
    }
    buf_init(&text, max + 1);
    rc = read_bounded(fd, &text, max, &why);
    close(fd);
    if (rc) {
        buf_printf(errors, "%s: %s\n", path, why);
    } else {
        *out = json_loadb(buf_data(&text), buf_len(&text), JSON_REJECT_DUPLICATES, &jerr);
        if (*out == NULL) {
            buf_printf(errors, "%s: line %d column %d: %s\n", path, jerr.line, jerr.column,
                       jerr.text);
            rc = ERR_INVALID;
        }
    }
    buf_free(&text);
    return rc;
}

static int
write_all(int fd, const char *p, size_t n, const char **why)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *why = w < 0 ? strerror(errno) : "write wrote nothing";
            return ERR_INTERNAL;
        }
        p += w;
        n -= (size_t)w;
    }
    return ERR_OK;
}

/* fsync the directory so the rename itself survives a crash. */
static void
sync_parent_dir(const char *path)
{
    char        dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int         fd;

    snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int)(slash - path) : 1,
             slash != NULL ? path : ".");
    fd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The .tmp is made afresh (a stale one, or a link planted there, is removed
 * first; O_EXCL|O_NOFOLLOW never writes through a link) so it has mode. */
static int
write_tmp(const char *tmp, const char *text, mode_t mode, const char **why)
{
    int fd, rc;

    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        *why = strerror(errno);
        return ERR_INTERNAL;
    }
    rc = write_all(fd, text, strlen(text), why);
    if (!rc)
        rc = write_all(fd, "\n", 1, why);
    if (!rc && fsync(fd) != 0) {
        *why = strerror(errno);
        rc = ERR_INTERNAL;
    }
    if (close(fd) != 0 && !rc) {
        *why = strerror(errno);
        rc = ERR_INTERNAL;
    }
    return rc;
}

int
json_file_save(const json_t *doc, const char *path, mode_t mode)
{
    char        tmp[PATH_MAX];
    char       *text = NULL;
    const char *why = "cannot create its directory";
    int         rc;

    rc = state_make_dirs(path);
    if (rc)
        goto done;
    rc = ERR_INTERNAL;
    why = "the path is too long";
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        goto done;
    why = "the document cannot be encoded";
    text = json_dumps(doc, JSON_INDENT(2));
    if (text == NULL)
        goto done;
    rc = write_tmp(tmp, text, mode, &why);
    if (!rc && rename(tmp, path) != 0) {
        why = strerror(errno);
        rc = ERR_INTERNAL;
    }
    if (rc)
        (void)unlink(tmp);
    else
        sync_parent_dir(path);
done:
    if (rc)
        log_error("cannot write %s: %s", path, why);
    free(text);
    return rc;
}
