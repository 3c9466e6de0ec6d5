/*
 * migration.c - the migration record as soukctl migrate reports it (PUT
 * /migration/{domain}) and the control room reads it (GET /migration): each
 * domain's step and status, who ran it and when, the last verify with its
 * detail (the differing ids), and the last lines of its log (a cutover's
 * "writes held 62 ms"). The record of truth stays in PostgreSQL `migrate`,
 * which only soukctl reaches; this is a copy soukctl sends after each step
 * and on `soukctl migrate status`. Each put rewrites migration.json beside
 * the routes file (atomically, as the routes file), and the gateway loads it
 * at start, so the control room still shows every domain after a restart
 * instead of waiting for the next step. Control loop only: no lock.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "gw.h"
#include "log.h"

#define REPORT_DOMAINS 16
#define REPORT_TEXT    4096 /* bytes of one string */
#define REPORT_LOG     50   /* log lines */

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

static json_t *reports;    /* {domain: document + received_at} */
static char    path[4096]; /* migration.json beside the routes file; "" before start */

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

/* Keep doc (reference taken) as domain's report: ERR_OK, or ERR_INVALID with
 * every problem in errors, ERR_CONFLICT when REPORT_DOMAINS are kept already.
 * A record that cannot be written stays in memory (an event says so). */
int
migration_put(const char *domain, json_t *doc, struct buf *errors)
{
    char at[32];

    if (report_check(domain, doc, errors) != ERR_OK) {
        json_decref(doc);
        return ERR_INVALID;
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
    if (path[0] != '\0' && json_file_save(reports, path) != ERR_OK)
        gwevents_add("persist_failed",
                     "the migration record of %s is in memory but %s could not be written: a "
                     "restart would show the domain's previous record",
                     domain, path);
    return ERR_OK;
}

/* Each domain of the file as a put would take it (received_at kept); a
 * domain that no longer passes the checks is left out and logged. */
void
migration_start(const char *routes_path)
{
    const char  *slash = strrchr(routes_path, '/');
    json_t      *doc, *v, *at;
    json_error_t jerr;
    const char  *domain;
    struct buf   errors;

    if (snprintf(path, sizeof(path), "%.*smigration.json",
                 slash != NULL ? (int)(slash - routes_path + 1) : 0,
                 routes_path) >= (int)sizeof(path)) {
        log_error("the migration record's path beside %s is too long: kept in memory only",
                  routes_path);
        path[0] = '\0';
        return;
    }
    doc = json_load_file(path, 0, &jerr);
    if (doc == NULL) {
        if (access(path, F_OK) == 0)
            log_error("migration record %s not loaded: %s (line %d)", path, jerr.text, jerr.line);
        return;
    }
    if (reports == NULL)
        reports = json_object();
    buf_init(&errors, 4096);
    json_object_foreach(doc, domain, v)
    {
        if (!json_is_object(v) || json_object_size(reports) >= REPORT_DOMAINS)
            continue;
        at = json_incref(json_object_get(v, "received_at"));
        json_object_del(v, "received_at");
        buf_reset(&errors);
        if (report_check(domain, v, &errors) != ERR_OK || !json_is_string(at)) {
            log_error("migration record %s: domain %s left out: %s", path, domain,
                      at != NULL && json_is_string(at) ? buf_data(&errors) : "no received_at");
        } else {
            json_object_set(v, "received_at", at);
            json_object_set(reports, domain, v);
        }
        json_decref(at);
    }
    buf_free(&errors);
    json_decref(doc);
    log_info("migration record %s: %zu domains", path, json_object_size(reports));
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
