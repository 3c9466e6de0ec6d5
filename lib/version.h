/*
 * version.h - which souk a binary is: `git describe --always --dirty` of the
 * tree it was built from (the Makefile passes it to version.c; "dev" when
 * built outside a checkout), shown by `soukctl status` through /metrics.
 */
#ifndef SOUK_VERSION_H
#define SOUK_VERSION_H

extern const char souk_version[];

/* Register souk_build_info{version="..."} 1 with metrics.h, before serving;
 * later calls do nothing. */
void version_metric_register(void);

#endif
