/*
 * 13_cfg.c - configuration tables: defaults, overrides through a fake
 * environment, every error reported at once, booleans, and cfg_load's exit
 * codes (run in a child process because it exits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "t.h"

struct conf {
    const char *listen;
    int64_t     pool;
    int         debug;
};

#define C struct conf
static const struct cfg_var vars[] = {
    CFG_STR_ROW("SOUK_T_LISTEN", C, listen, "127.0.0.1:7000", "address to listen on"),
    CFG_INT_ROW("SOUK_T_POOL", C, pool, "4", 1, 64, "connections"),
    CFG_BOOL_ROW("SOUK_T_DEBUG", C, debug, "off", "verbose"),
    {NULL},
};
#undef C

/* A fake environment: NULL-terminated name/value pairs. */
static const char *
fake_get(const char *name, void *ctx)
{
    const char *const *kv = ctx;

    for (; kv[0] != NULL; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static int
parse(const char *const *env, struct conf *c, struct buf *errors)
{
    memset(c, 0, sizeof(*c));
    buf_reset(errors);
    return cfg_parse(vars, c, fake_get, (void *)env, errors);
}

static void
test_defaults_and_overrides(void)
{
    static const char *const none[] = {NULL};
    static const char *const set[] = {"SOUK_T_LISTEN", "0.0.0.0:1", "SOUK_T_POOL", "64",
                                      "SOUK_T_DEBUG",  "yes",       NULL};
    struct conf              c;
    struct buf               errors;

    buf_init(&errors, 4096);
    T_EQ_INT(parse(none, &c, &errors), ERR_OK, "defaults parse");
    T_EQ_STR(c.listen, "127.0.0.1:7000", "string default");
    T_EQ_INT(c.pool, 4, "integer default");
    T_EQ_INT(c.debug, 0, "boolean default");
    T_EQ_INT(parse(set, &c, &errors), ERR_OK, "overrides parse");
    T_EQ_STR(c.listen, "0.0.0.0:1", "string override");
    T_EQ_INT(c.pool, 64, "integer override at the top of the range");
    T_EQ_INT(c.debug, 1, "boolean override");
    T_EQ_INT(buf_len(&errors), 0, "no error lines");
    buf_free(&errors);
}

static void
test_all_errors(void)
{
    static const char *const bad[] = {"SOUK_T_POOL", "abc", "SOUK_T_DEBUG", "maybe", NULL};
    static const char *const range[] = {"SOUK_T_POOL", "65", NULL};
    struct conf              c;
    struct buf               errors;

    buf_init(&errors, 4096);
    T_EQ_INT(parse(bad, &c, &errors), ERR_INVALID, "bad values fail");
    T_EQ_STR(buf_data(&errors),
             "SOUK_T_POOL: must be an integer between 1 and 64, got \"abc\"\n"
             "SOUK_T_DEBUG: must be a boolean (1/0, true/false, yes/no, on/off), got \"maybe\"\n",
             "both errors are reported, one line each");
    T_EQ_INT(parse(range, &c, &errors), ERR_INVALID, "out of range fails");
    T_EQ_STR(buf_data(&errors), "SOUK_T_POOL: must be an integer between 1 and 64, got \"65\"\n",
             "range error line");
    buf_free(&errors);
}

static const struct {
    const char *in;
    int         rc, want;
} bool_cases[] = {
    {"1", ERR_OK, 1},      {"0", ERR_OK, 0},        {"true", ERR_OK, 1},
    {"false", ERR_OK, 0},  {"yes", ERR_OK, 1},      {"no", ERR_OK, 0},
    {"on", ERR_OK, 1},     {"off", ERR_OK, 0},      {"TRUE", ERR_OK, 1},
    {"Off", ERR_OK, 0},    {"", ERR_INVALID, 0},    {"2", ERR_INVALID, 0},
    {"y", ERR_INVALID, 0}, {" on", ERR_INVALID, 0}, {"truee", ERR_INVALID, 0},
};

static void
test_bools(void)
{
    const char *env[] = {"SOUK_T_DEBUG", NULL, NULL};
    struct conf c;
    struct buf  errors;
    size_t      i;
    int         rc;

    buf_init(&errors, 4096);
    for (i = 0; i < sizeof(bool_cases) / sizeof(bool_cases[0]); i++) {
        env[1] = bool_cases[i].in;
        c.debug = -1;
        rc = parse(env, &c, &errors);
        T_EQ_INT(rc, bool_cases[i].rc, "bool \"%s\" rc", bool_cases[i].in);
        if (rc == ERR_OK)
            T_EQ_INT(c.debug, bool_cases[i].want, "bool \"%s\" value", bool_cases[i].in);
    }
    buf_free(&errors);
}

/* Exit status of cfg_load(argv) in a child, its output discarded. */
static int
load_status(char **argv, const char *pool)
{
    struct conf c;
    pid_t       pid;
    int         status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
            _exit(99);
        if (pool != NULL)
            setenv("SOUK_T_POOL", pool, 1);
        cfg_load(vars, &c, 1 + (argv[1] != NULL), argv, "test program.");
        _exit(c.pool == 4 ? 0 : 98);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void
test_load(void)
{
    char *plain[] = {"prog", NULL};
    char *help[] = {"prog", "--help", NULL};
    char *h[] = {"prog", "-h", NULL};
    char *junk[] = {"prog", "--port=1", NULL};

    unsetenv("SOUK_T_POOL");
    T_EQ_INT(load_status(plain, NULL), 0, "cfg_load with defaults returns");
    T_EQ_INT(load_status(help, NULL), 0, "--help exits 0");
    T_EQ_INT(load_status(h, NULL), 0, "-h exits 0");
    T_EQ_INT(load_status(junk, NULL), 2, "an unknown argument exits 2");
    T_EQ_INT(load_status(plain, "0"), 2, "a bad variable exits 2");
}

int
main(void)
{
    test_defaults_and_overrides();
    test_all_errors();
    test_bools();
    test_load();
    return T_DONE();
}
