/*
 * rules.c - the table-driven forward apply every mapping but reviews' uses
 * (rules.h): bind the change's columns, run the statement, publish what it
 * answers through the service's outbox.
 */
#include <jansson.h>
#include <string.h>

#include "db.h"
#include "event.h"
#include "log.h"
#include "migrate/map/rules.h"
#include "mq.h"
#include "work.h"

static const char *
param(const struct cdc_change *c, const char *name)
{
    return name[0] == '-' ? map_before(c, name + 1) : map_value(c, name);
}

/* Each answered row (key, aggregate id, payload text) into the outbox. */
static int
publish(struct work *w, const struct db_rows *rs)
{
    enum event_type type;
    json_error_t    jerr;
    json_t         *payload;
    size_t          i;
    int             rc;

    for (i = 0; rs != NULL && rs->ncols >= 3 && i < rs->nrows; i++) {
        if (event_type_by_key(db_get(rs, i, 0), &type) != ERR_OK) {
            log_error("map: a rule answered the unknown event %s", db_get(rs, i, 0));
            return ERR_INTERNAL;
        }
        payload = json_loadb(db_get(rs, i, 2), db_len(rs, i, 2), 0, &jerr);
        if (!json_is_object(payload)) {
            json_decref(payload);
            log_error("map: %s payload does not parse: %s", db_get(rs, i, 0), jerr.text);
            return ERR_INTERNAL;
        }
        rc = mq_outbox_put(w, type, db_i64(rs, i, 1), payload);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static int
rule_run(struct work *w, const struct map_rule *r, const struct cdc_change *c)
{
    const char     *v[MAP_PARAMS_MAX];
    struct db_rows *rs = NULL;
    int             n, rc;

    for (n = 0; r->params[n] != NULL; n++)
        v[n] = param(c, r->params[n]);
    rc = db_exec_sql(w->db, w->arena, r->sql, n, v, &rs);
    if (rc)
        return rc;
    return publish(w, rs);
}

int
map_rules_apply(struct work *w, const struct map_rule *rules, const struct cdc_change *c)
{
    const struct map_rule *r;
    int                    rc;

    for (r = rules; r->table != NULL; r++) {
        if (strcmp(r->table, c->table) != 0 || !(r->ops & (1u << c->op)))
            continue;
        rc = rule_run(w, r, c);
        if (rc)
            return rc;
    }
    return ERR_OK;
}
