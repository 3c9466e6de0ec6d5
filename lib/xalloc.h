/*
 * xalloc.h - heap allocation for the long-lived objects outside any arena
 * (connections, registries, caches): out of memory ends the process with
 * one line, as the arena does, instead of every caller checking for NULL.
 */
#ifndef SOUK_XALLOC_H
#define SOUK_XALLOC_H

#include <stddef.h>

void *xcalloc(size_t n, size_t size); /* zeroed; n or size 0 still gives a pointer */
char *xstrdup(const char *z);         /* NULL stays NULL */
void  xfree(void *p);

#endif
