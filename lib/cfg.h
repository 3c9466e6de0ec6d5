/*
 * cfg.h - configuration from SOUK_* environment variables, described by a
 * table (pgbouncer style). Every variable has a working local default.
 * All errors are collected and reported at once; --help prints the table.
 */
#ifndef SOUK_CFG_H
#define SOUK_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf;

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_var {
    const char   *env; /* "SOUK_MONOLITH_DB"; NULL ends the table */
    enum cfg_type type;
    size_t        offset;   /* of a const char * / int64_t / int field in the config struct */
    const char   *def;      /* default as text, parsed like the environment value */
    int64_t       min, max; /* CFG_INT range */
    const char   *help;
};

#define CFG_STR_ROW(env, st, field, def, help)                                                     \
    {                                                                                              \
        env, CFG_STR, offsetof(st, field), def, 0, 0, help                                         \
    }
#define CFG_INT_ROW(env, st, field, def, min, max, help)                                           \
    {                                                                                              \
        env, CFG_INT, offsetof(st, field), def, min, max, help                                     \
    }
#define CFG_BOOL_ROW(env, st, field, def, help)                                                    \
    {                                                                                              \
        env, CFG_BOOL, offsetof(st, field), def, 0, 0, help                                        \
    }

typedef const char *cfg_get_fn(const char *name, void *ctx);

/* Fill out from vars, reading values through get (NULL = unset → default).
 * Strings point into the getter's storage or the default (process lifetime).
 * Each problem is appended as one line to errors; returns ERR_INVALID if any. */
MUST_CHECK int cfg_parse(const struct cfg_var *vars, void *out, cfg_get_fn *get, void *ctx,
                         struct buf *errors);

/* cfg_parse from the environment. With --help (or -h) in argv print usage and
 * the table and exit 0; on errors print them all and exit 2. prog_help is a
 * one-paragraph description printed first. */
void cfg_load(const struct cfg_var *vars, void *out, int argc, char **argv, const char *prog_help);

#endif
