/*
 * rules.h - a domain's forward apply as a table (map.h): each row says which
 * captured changes it takes (table and operations), the one statement it runs
 * on the service's database, and which columns of the change are its
 * parameters. A statement may answer rows (event key, aggregate id, payload
 * JSON text): each becomes an outbox event, written in the same transaction
 * as the change, exactly as the service itself writes its events, so
 * consumers (caches, search, replicas) follow a synced change as they follow
 * the service's own. Every mapping but reviews' is such a table.
 */
#ifndef SOUK_MAP_RULES_H
#define SOUK_MAP_RULES_H

#include "migrate/map/map.h"

#define MAP_INS        (1u << CDC_INSERT)
#define MAP_UPD        (1u << CDC_UPDATE)
#define MAP_DEL        (1u << CDC_DELETE)
#define MAP_PARAMS_MAX 16

struct map_rule {
    const char *table; /* NULL ends the table */
    unsigned    ops;   /* MAP_INS | MAP_UPD | MAP_DEL */
    const char *sql;   /* on the service's database; $1.. are params */
    /* Column names, NULL-terminated: "col" is the newest image's value, "-col"
     * the before image's (NULL for an insert). */
    const char *params[MAP_PARAMS_MAX + 1];
};

/* Run every rule of rules that takes c, in order, on w->db (inside the sync's
 * transaction), and put the events they answer into the service's outbox.
 * ERR_OK, or what db_exec_sql / mq_outbox_put return (ERR_INTERNAL for a
 * payload that does not parse or an unknown event key: a mapping bug). */
MUST_CHECK int map_rules_apply(struct work *w, const struct map_rule *rules,
                               const struct cdc_change *c);

/* Canonical text (migrate/README.md) of a timestamptz column in SQL. */
#define MAP_PG_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* ... and of a DATETIME(3) column in MariaDB (which stores UTC). */
#define MAP_MY_TS(col) "CONCAT(LEFT(DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"

/* A reverse put's first ON DUPLICATE KEY assignment, for a NOT NULL column
 * under a unique key of its own (email, sku, slug): MariaDB runs the update
 * for a clash on any unique key, so a row of another id holding the same
 * email would be overwritten; this sets the column NULL then, which strict
 * mode refuses: the event fails loudly (retried, then parked) instead. */
#define MAP_SAME_ID(col) "IF(id = VALUES(id), VALUES(" col "), NULL)"

/* A timestamptz as a MariaDB DATETIME(3) literal (UTC), for reverse puts. */
#define MAP_PG_MY(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')"

#endif
