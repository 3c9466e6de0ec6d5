/*
 * jsonfile.c - the gateway's state files (the routes file, the migration
 * record): a JSON document written so that a reader, a restart or a crash
 * finds the old file or the new one, never half of one (write a sibling
 * .tmp, fsync, rename over, fsync the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "log.h"

/* mkdir -p for the directory part of path. */
static int
make_parent_dirs(const char *path)
{
    char  dir[4096];
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

static int
write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return ERR_INTERNAL;
        p += w;
        n -= (size_t)w;
    }
    return ERR_OK;
}

/* fsync the directory so the rename itself survives a crash. */
static void
sync_parent_dir(const char *path)
{
    char        dir[4096];
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

/* Write doc to path atomically: a reader (or a crash) sees the old file or the
 * new one, never half of one. */
int
json_file_save(const json_t *doc, const char *path)
{
    char *text = NULL, tmp[4096];
    int   fd = -1, rc;

    rc = make_parent_dirs(path);
    if (rc)
        goto done;
    rc = ERR_INTERNAL;
    text = json_dumps(doc, JSON_INDENT(2));
    if (text == NULL || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        goto done;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto done;
    rc = write_all(fd, text, strlen(text));
    if (!rc)
        rc = write_all(fd, "\n", 1);
    if (!rc && fsync(fd) != 0)
        rc = ERR_INTERNAL;
    if (close(fd) != 0 && !rc)
        rc = ERR_INTERNAL;
    fd = -1;
    if (!rc && rename(tmp, path) != 0)
        rc = ERR_INTERNAL;
    if (rc)
        (void)unlink(tmp);
    else
        sync_parent_dir(path);
done:
    if (rc)
        log_error("cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}
