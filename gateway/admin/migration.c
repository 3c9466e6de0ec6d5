/*
 * migration.c - the migration record as soukctl migrate reports it (PUT
 * /migration/{domain}) and the control room reads it (GET /migration): each
 * domain's step and status, who ran it and when, the last verify with its
 * detail (the differing ids), and the last lines of its log (a cutover's
 * "writes held 62 ms"). The record of truth stays in PostgreSQL `migrate`,
 * which only soukctl reaches; this is a copy soukctl sends after each step
 * and on `soukctl migrate status`. The record is kept in migration.json
 * beside the routes file (mode 0600: who ran what and the differing ids are
 * for the admin token's holders only), written atomically as the routes file
 * and loaded at start, so the control room still shows every domain after a
 * restart instead of waiting for the next step. A put marks it dirty and one
 * write follows RECORD_DELAY_MS later (`soukctl migrate status` sends 16 puts
 * in a row: one fsync, not 16, on the control loop); the drain and the exit
 * write what is still dirty. Control loop only: no lock.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

#define REPORT_DOMAINS  16
#define REPORT_TEXT     4096      /* bytes of one string */
#define REPORT_LOG      50        /* log lines */
#define RECEIVED_AT     31        /* bytes of received_at (log_timestamp's) */
#define RECORD_MAX      (4 << 20) /* a record file larger than this was not written by us */
#define RECORD_MODE     0600
#define RECORD_DELAY_MS 200 /* puts within this are written once */

/* What jcheck fills; only its verdict is used: the document is kept as sent. */
struct report {
    char   *step, *status, *detail, *updated_by, *updated_at, *done_step;
    char   *verify_at, *verify_detail;
    int     verify_ok;
    int64_t canary_percent, hold_ms;
    char   *log[REPORT_LOG];
    int     nlog;
};

static const char *
text_problem(const char *z)
{
    return strlen(z) > REPORT_TEXT ? "must be at most 4096 bytes" : NULL;
}

#define S(name, req)                                                                               \
    {                                                                                              \
#name, JCHECK_STR, offsetof(struct report, name), 0, 0, 0, NULL, text_problem, NULL, req   \
    }
static const struct jcheck_field report_fields[] = {
    S(step, 1),
    S(status, 1),
    S(detail, 0),
    S(updated_by, 0),
    S(updated_at, 0),
    S(done_step, 0),
    S(verify_at, 0),
    S(verify_detail, 0),
    {"verify_ok", JCHECK_BOOL, offsetof(struct report, verify_ok), 0, 0, 0, NULL, NULL, NULL, 0},
    {"canary_percent", JCHECK_I64, offsetof(struct report, canary_percent), 0, 0, 100, NULL, NULL,
     NULL, 0},
    {"hold_ms", JCHECK_I64, offsetof(struct report, hold_ms), 0, 0, 86400000, NULL, NULL, NULL, 0},
    {"log", JCHECK_STRS, offsetof(struct report, log), offsetof(struct report, nlog), 0, REPORT_LOG,
     NULL, text_problem, NULL, 0},
    {NULL, JCHECK_STR, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
#undef S

static json_t    *reports;               /* {domain: document + received_at} */
static char       record_path[PATH_MAX]; /* "" before start, or kept in memory only */
static int        dirty;                 /* reports is newer than record_path */
static uv_timer_t write_timer;
static int        timer_ready;

/* A domain name as routes use them: 1-64 of A-Z a-z 0-9 _ . - */
static int
domain_ok(const char *z)
{
    size_t n = strlen(z);

    return n > 0 && n <= 64 &&
           strspn(z, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") == n;
}

/* The problems of doc as domain's report, in errors: ERR_OK or ERR_INVALID. */
static int
report_check(const char *domain, json_t *doc, struct buf *errors)
{
    struct report r;
    struct jcheck c = {errors, 0, arena_create(), NULL};

    memset(&r, 0, sizeof(r));
    if (!domain_ok(domain))
        jcheck_bad(&c, "domain", "must be 1-64 of A-Z a-z 0-9 _ . -");
    jcheck_object(&c, doc, "report", report_fields, &r);
    arena_destroy(c.a);
    return c.nerr > 0 ? ERR_INVALID : ERR_OK;
}

/* Write the record now; a failure leaves it in memory (an event says so). */
static void
record_write(void)
{
    int rc;

    dirty = 0;
    rc = json_file_save(reports, record_path, RECORD_MODE);
    if (!rc)
        log_info("migration record %s written: %zu domains", record_path,
                 json_object_size(reports));
    else
        gwevents_add("persist_failed",
                     "the migration record is in memory but %s could not be written: a restart "
                     "would show the domains' previous records",
                     record_path);
}

static void
on_write_timer(uv_timer_t *t)
{
    (void)t;
    if (dirty)
        record_write();
}

/* One write RECORD_DELAY_MS after the first unwritten put (not pushed back
 * by later ones); at once when there is no timer (before start, at exit). */
static void
record_dirty(void)
{
    if (record_path[0] == '\0')
        return;
    dirty = 1;
    if (timer_ready && uv_is_active((uv_handle_t *)&write_timer))
        return;
    if (!timer_ready || uv_timer_start(&write_timer, on_write_timer, RECORD_DELAY_MS, 0) != 0)
        record_write();
}

void
migration_timer_init(uv_loop_t *loop)
{
    if (uv_timer_init(loop, &write_timer) != 0)
        return; /* every put writes at once */
    uv_unref((uv_handle_t *)&write_timer);
    timer_ready = 1;
}

void
migration_flush(void)
{
    if (timer_ready)
        uv_timer_stop(&write_timer);
    if (dirty)
        record_write();
}

/* Keep doc (reference taken) as domain's report: ERR_OK, or ERR_INVALID with
 * every problem in errors, ERR_CONFLICT when REPORT_DOMAINS are kept already. */
int
migration_put(const char *domain, json_t *doc, struct buf *errors)
{
    char at[32];
    int  rc;

    rc = report_check(domain, doc, errors);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    if (reports == NULL)
        reports = json_object();
    if (json_object_get(reports, domain) == NULL && json_object_size(reports) >= REPORT_DOMAINS) {
        json_decref(doc);
        return ERR_CONFLICT;
    }
    log_timestamp(at);
    json_object_set_new(doc, "received_at", json_string(at));
    json_object_set_new(reports, domain, doc);
    record_dirty();
    return ERR_OK;
}

/* One domain of the file as a put would take it (received_at kept): the
 * reason it is left out, or NULL with it set in into. */
static const char *
load_domain(json_t *into, const char *domain, json_t *v, struct buf *errors)
{
    json_t *at;
    int     rc;

    if (!json_is_object(v))
        return "not an object";
    if (json_object_size(into) >= REPORT_DOMAINS)
        return "more than 16 domains";
    at = json_object_get(v, "received_at");
    if (!json_is_string(at))
        return "no received_at";
    if (json_string_length(at) > RECEIVED_AT)
        return "received_at longer than 31 bytes";
    v = json_deep_copy(v);
    json_object_del(v, "received_at");
    buf_reset(errors);
    rc = report_check(domain, v, errors);
    if (rc) {
        json_decref(v);
        return buf_data(errors);
    }
    json_object_set(v, "received_at", at);
    json_object_set_new(into, domain, v);
    return NULL;
}

/* "domain D left out: why" as one line (the checks' lines joined by "; "). */
static void
problem_line(struct buf *problems, const char *domain, const char *why)
{
    size_t n;

    buf_printf(problems, "domain %.64s left out: ", domain);
    while (*why != '\0') {
        n = strcspn(why, "\n");
        buf_append(problems, why, n);
        why += n;
        why += strspn(why, "\n");
        if (*why != '\0')
            buf_append(problems, "; ", 2);
    }
    buf_append(problems, "\n", 1);
}

json_t *
migration_filter(const json_t *doc, struct buf *problems)
{
    json_t     *into = json_object(), *v;
    const char *domain, *why;
    struct buf  errors;

    if (!json_is_object(doc)) {
        buf_printf(problems, "not an object: nothing loaded\n");
        return into;
    }
    buf_init(&errors, 4096);
    json_object_foreach((json_t *)doc, domain, v)
    {
        why = load_domain(into, domain, v, &errors);
        if (why != NULL)
            problem_line(problems, domain, why);
    }
    buf_free(&errors);
    return into;
}

/* Each line of problems (each ends in a newline), logged as the record's. */
static void
log_lines(const char *problems)
{
    const char *nl;

    while ((nl = strchr(problems, '\n')) != NULL) {
        log_error("migration record %s: %.*s", record_path, (int)(nl - problems), problems);
        problems = nl + 1;
    }
}

/* The record's path: migration.json beside the routes file, unless that is
 * the routes file itself (then memory only). */
static int
record_path_set(const char *routes_path)
{
    struct stat a, b;

    if (state_sibling_path(routes_path, "migration.json", record_path, sizeof(record_path))) {
        log_error("the migration record's path beside %s is too long: kept in memory only",
                  routes_path);
        return ERR_INVALID;
    }
    if (strcmp(record_path, routes_path) == 0 ||
        (stat(record_path, &a) == 0 && stat(routes_path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino)) {
        log_error("the routes file %s is where the migration record would be: the record is kept "
                  "in memory only",
                  routes_path);
        record_path[0] = '\0';
        return ERR_CONFLICT;
    }
    return ERR_OK;
}

void
migration_start(const char *routes_path)
{
    json_t    *doc;
    struct buf problems;
    int        rc;

    if (record_path_set(routes_path))
        return;
    buf_init(&problems, 65536);
    rc = json_file_load(record_path, RECORD_MAX, &doc, &problems);
    if (rc) {
        if (rc != ERR_NOT_FOUND) /* one line, path first */
            log_error("migration record %s not loaded: %.*s", record_path,
                      (int)strcspn(buf_data(&problems), "\n"), buf_data(&problems));
        buf_free(&problems);
        return;
    }
    json_decref(reports);
    reports = migration_filter(doc, &problems);
    json_decref(doc);
    log_lines(buf_data(&problems));
    buf_free(&problems);
    log_info("migration record %s: %zu domains", record_path, json_object_size(reports));
}

json_t *
migration_json(void)
{
    if (reports == NULL)
        return json_pack("{s:{}}", "domains");
    return json_pack("{s:O}", "domains", reports);
}

void
migration_free(void)
{
    json_decref(reports);
    reports = NULL;
}
