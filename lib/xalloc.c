/* xalloc.c - see xalloc.h. */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
checked(void *p)
{
    if (p == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    return checked(calloc(n ? n : 1, size ? size : 1));
}

char *
xstrdup(const char *z)
{
    return z != NULL ? checked(strdup(z)) : NULL;
}

void
xfree(void *p)
{
    free(p);
}
