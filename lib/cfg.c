/*
 * cfg.c - SOUK_* configuration from a table (see cfg.h). Defaults are text
 * parsed by the same code as the environment, so a bad default fails the
 * same way a bad variable does. Startup output here is plain text for a
 * human at a terminal: the JSON logger is not open yet.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "str.h"

#define CFG_ERRORS_MAX 65536

static const char *const bool_true[] = {"1", "true", "yes", "on", NULL};
static const char *const bool_false[] = {"0", "false", "no", "off", NULL};

static int
word_in(const char *z, const char *const *words)
{
    for (; *words != NULL; words++)
        if (str_eqi(str_from(z), *words))
            return 1;
    return 0;
}

static void
put_error(struct buf *errors, const struct cfg_var *v, const char *what, const char *value)
{
    buf_printf(errors, "%s: must be %s, got ", v->env, what);
    buf_json_str(errors, value, strlen(value));
    buf_putc(errors, '\n');
}

/* Parse value into the field of out described by v; one error line on failure. */
static int
parse_one(const struct cfg_var *v, const char *value, void *out, struct buf *errors)
{
    char   *field = (char *)out + v->offset;
    char    what[96];
    int64_t i;
    int     rc;

    switch (v->type) {
    case CFG_STR:
        *(const char **)field = value;
        return ERR_OK;
    case CFG_INT:
        rc = str_z_to_i64(value, v->min, v->max, &i);
        if (rc) {
            snprintf(what, sizeof(what), "an integer between %lld and %lld", (long long)v->min,
                     (long long)v->max);
            put_error(errors, v, what, value);
            return ERR_INVALID;
        }
        *(int64_t *)field = i;
        return ERR_OK;
    case CFG_BOOL:
        if (word_in(value, bool_true)) {
            *(int *)field = 1;
        } else if (word_in(value, bool_false)) {
            *(int *)field = 0;
        } else {
            put_error(errors, v, "a boolean (1/0, true/false, yes/no, on/off)", value);
            return ERR_INVALID;
        }
        return ERR_OK;
    }
    assert(!"unknown cfg_type");
    return ERR_INTERNAL;
}

int
cfg_parse(const struct cfg_var *vars, void *out, cfg_get_fn *get, void *ctx, struct buf *errors)
{
    const struct cfg_var *v;
    const char           *value;
    int                   rc = ERR_OK;

    for (v = vars; v->env != NULL; v++) {
        value = get(v->env, ctx);
        if (value == NULL)
            value = v->def != NULL ? v->def : "";
        if (parse_one(v, value, out, errors) != ERR_OK)
            rc = ERR_INVALID; /* keep going: every problem is reported at once */
    }
    return rc;
}

static const char *
env_get(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void
print_help(const struct cfg_var *vars, const char *prog, const char *prog_help)
{
    const struct cfg_var *v;
    int                   wenv = 8, wdef = 7, n;

    for (v = vars; v->env != NULL; v++) {
        n = (int)strlen(v->env);
        wenv = n > wenv ? n : wenv;
        n = (int)strlen(v->def != NULL ? v->def : "");
        wdef = n > wdef ? n : wdef;
    }
    if (prog_help != NULL)
        printf("%s\n\n", prog_help);
    printf("usage: %s [--help]\n\nConfiguration comes from the environment:\n\n", prog);
    printf("  %-*s  %-*s  %s\n", wenv, "VARIABLE", wdef, "DEFAULT", "DESCRIPTION");
    for (v = vars; v->env != NULL; v++)
        printf("  %-*s  %-*s  %s\n", wenv, v->env, wdef, v->def != NULL ? v->def : "",
               v->help != NULL ? v->help : "");
    fflush(stdout);
}

static void
print_errors(const char *prog, const char *lines)
{
    size_t n;

    fprintf(stderr, "%s: invalid configuration:\n", prog);
    while (*lines != '\0') {
        n = strcspn(lines, "\n");
        fprintf(stderr, "  %.*s\n", (int)n, lines);
        lines += n + (lines[n] == '\n');
    }
}

void
cfg_load(const struct cfg_var *vars, void *out, int argc, char **argv, const char *prog_help)
{
    const char *prog = argc > 0 && argv[0] != NULL ? argv[0] : "souk";
    const char *slash = strrchr(prog, '/');
    struct buf  errors;
    int         i, rc;

    prog = slash != NULL ? slash + 1 : prog;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(vars, prog, prog_help);
            exit(0);
        }
    }
    buf_init(&errors, CFG_ERRORS_MAX);
    for (i = 1; i < argc; i++) {
        buf_puts(&errors, "unknown argument ");
        buf_json_str(&errors, argv[i], strlen(argv[i]));
        buf_puts(&errors, " (settings are SOUK_* environment variables, see --help)\n");
    }
    rc = cfg_parse(vars, out, env_get, NULL, &errors);
    if (rc || buf_len(&errors) > 0) {
        print_errors(prog, buf_data(&errors));
        if (buf_error(&errors))
            fprintf(stderr, "(more errors not shown)\n");
        buf_free(&errors);
        exit(2);
    }
    buf_free(&errors);
}
