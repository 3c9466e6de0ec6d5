/*
 * migrate_report.c - the control room's copy of a domain's migration record:
 * `soukctl migrate` sends it to the gateway's admin API (PUT /migration/{domain})
 * when a step starts and ends and on `status`, best effort (the step runs
 * whether or not the gateway takes it). Split out of migrate_ops.c, which
 * drives the gateway's routes and the sync processes.
 */
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "migrate.h"
#include "str.h"

#define REPORT_TEXT 4000 /* the gateway takes strings up to 4096 bytes */
#define REPORT_LOG  10

/* z as a JSON string cut at REPORT_TEXT bytes on a UTF-8 boundary; NULL when z
 * is NULL or not UTF-8. */
static json_t *
report_text(struct mig *m, const char *z)
{
    size_t n;

    if (z == NULL)
        return NULL;
    n = strlen(z);
    if (n > REPORT_TEXT) {
        n = REPORT_TEXT;
        while (n > 0 && ((unsigned char)z[n] & 0xc0) == 0x80)
            n--;
        z = arena_strndup(m->a, z, n);
    }
    return json_string(z);
}

static void
put_text(struct mig *m, json_t *o, const char *key, const char *z)
{
    json_t *v = report_text(m, z);

    if (v != NULL)
        json_object_set_new(o, key, v);
}

/* The last log lines of the domain, oldest first. */
static json_t *
report_log(struct mig *m, const char *domain)
{
    json_t     *lines = json_array(), *line;
    struct buf  b;
    const char *p, *nl;

    buf_init(&b, 1 << 16);
    if (mig_state_log(m, domain, REPORT_LOG, &b) == ERR_OK) {
        for (p = buf_data(&b); *p != '\0'; p = *nl ? nl + 1 : nl) {
            nl = strchrnul(p, '\n');
            line = nl > p ? report_text(m, arena_strndup(m->a, p, (size_t)(nl - p))) : NULL;
            if (line != NULL)
                json_array_append_new(lines, line);
        }
    }
    buf_free(&b);
    return lines;
}

void
mig_report(struct mig *m, const struct mig_state *s)
{
    json_t            *doc = json_object();
    struct httpc_resp *res = NULL;
    const char        *url = arena_printf(m->a, "http://%s/migration/%s", m->gw_admin, s->domain);
    char              *text;
    int                rc;

    put_text(m, doc, "step", s->step);
    put_text(m, doc, "status", s->status);
    put_text(m, doc, "detail", s->detail);
    put_text(m, doc, "updated_by", s->updated_by);
    put_text(m, doc, "updated_at", s->updated_at);
    put_text(m, doc, "done_step", s->done_step);
    put_text(m, doc, "verify_at", s->verify_at);
    put_text(m, doc, "verify_detail", s->verify_detail);
    if (s->verify_ok >= 0)
        json_object_set_new(doc, "verify_ok", json_boolean(s->verify_ok));
    if (s->canary_percent >= 0)
        json_object_set_new(doc, "canary_percent", json_integer(s->canary_percent));
    if (s->hold_ms >= 0)
        json_object_set_new(doc, "hold_ms", json_integer(s->hold_ms));
    json_object_set_new(doc, "log", report_log(m, s->domain));
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        return;
    arena_defer(m->a, free, text);
    /* A short deadline: a gateway that is down must not slow a step that does not need it. */
    rc = httpc_send(m->hc, m->a, "PUT", url, 1000, m->gw_auth, text, &res);
    if (rc || res->status != 200)
        fprintf(
            stderr, "soukctl migrate: the control room's copy of %s is not updated (PUT %s: %s)\n",
            s->domain, url, rc ? httpc_error(m->hc) : arena_printf(m->a, "status %d", res->status));
}

void
mig_report_domain(struct mig *m)
{
    struct mig_state s;
    int              found;

    if (mig_state_get(m, m->d->name, &s, &found) == ERR_OK && found)
        mig_report(m, &s);
}
