/*
 * t.h - a tiny TAP harness for C unit tests (redis testhelp.h, libuv task.h).
 * Each check prints "ok N - name" or "not ok N - name" with both values on
 * failure; `return T_DONE();` prints the plan and "N passed, N failed".
 * Names are printf formats so table-driven loops can say which row failed.
 */
#ifndef SOUK_T_H
#define SOUK_T_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int t_run, t_failed;

static inline int __attribute__((format(printf, 4, 5)))
t_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    t_run++;
    if (!ok)
        t_failed++;
    printf("%s %d - ", ok ? "ok" : "not ok", t_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok)
        printf("#   at %s:%d\n", file, line);
    fflush(stdout); /* keep the output if a later check crashes */
    return ok;
}

#define T_OK(expr, ...) t_check(!!(expr), __FILE__, __LINE__, __VA_ARGS__)

#define T_EQ_INT(a, b, ...)                                                                        \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (!t_check(t_a_ == t_b_, __FILE__, __LINE__, __VA_ARGS__))                               \
            printf("#   got %lld expected %lld\n", t_a_, t_b_);                                    \
    } while (0)

#define T_EQ_STR(a, b, ...)                                                                        \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        int         t_ok_ = t_a_ && t_b_ ? strcmp(t_a_, t_b_) == 0 : t_a_ == t_b_;                 \
        if (!t_check(t_ok_, __FILE__, __LINE__, __VA_ARGS__))                                      \
            printf("#   got \"%s\" expected \"%s\"\n", t_a_ ? t_a_ : "(null)",                     \
                   t_b_ ? t_b_ : "(null)");                                                        \
    } while (0)

/* 1 if fn() aborts (SIGABRT) in a child process and its stderr holds want;
 * for checks that a programmer error stops the program. The child's stderr
 * is captured (the first 4 KiB), so an expected abort prints nothing. */
static inline int
t_aborts(void (*fn)(void), const char *want)
{
    char    err[4096];
    size_t  n = 0;
    ssize_t got;
    int     fd[2], status;
    pid_t   pid;

    fflush(stdout);
    if (pipe(fd) != 0)
        return 0;
    pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn();
        _exit(0); /* fn returned: the misuse went through */
    }
    close(fd[1]);
    while (pid > 0) { /* to EOF, so a long report cannot block the child */
        got = read(fd[0], err + n, sizeof(err) - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n == sizeof(err) - 1)
            n = sizeof(err) - 2; /* keep the start, overwrite one byte at the end */
    }
    err[n] = '\0';
    close(fd[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || strstr(err, want) == NULL) {
        printf("#   child status 0x%x, stderr: %s\n", status, err);
        return 0;
    }
    return 1;
}
#define T_ABORTS(fn, want, ...) t_check(t_aborts((fn), (want)), __FILE__, __LINE__, __VA_ARGS__)

/* Print the plan and the summary; the value is the exit status. */
static inline int
t_done(void)
{
    printf("1..%d\n%d passed, %d failed\n", t_run, t_run - t_failed, t_failed);
    fflush(stdout);
    return t_failed ? 1 : 0;
}
#define T_DONE() t_done()

#endif
