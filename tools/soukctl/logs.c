/*
 * logs.c - `soukctl logs [-f] [--level L] [--trace ID] [PROCESS...]`: runs
 * scripts/logs.pl of the tree soukctl was built in, the one reader of
 * var/log/<process>.log (also `make logs` and make run's console), so there
 * is a single implementation of the format and the filters.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "soukctl.h"

int
logs_main(struct ctl *ctl, int argc, char **argv)
{
    struct arena *a = arena_create();
    char         *path = arena_printf(a, "%s/scripts/logs.pl", ctl->root);

    (void)argc;
    argv[0] = path; /* the rest, options and processes, as given */
    execv(path, argv);
    common_fail("logs: cannot run %s: %s", path, strerror(errno));
    arena_destroy(a);
    return CTL_EXIT_FAIL;
}
