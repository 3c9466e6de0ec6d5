/*
 * cdc_probe.c - souk-cdc-probe, the capture as a test sees it
 * (migrate/t/20_cdc.t): stream DSN's binlog after GTID for the tables named,
 * print every transaction that has changes as one JSON line, stop after N of
 * them or when nothing arrived for the timeout.
 *   souk-cdc-probe DSN TABLE[,TABLE...] GTID N [TIMEOUT_MS]
 * Exit 0 after N transactions, 1 on a timeout, 3 when the reader refused
 * the stream ({"error": "..."} is printed first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "arena.h"
#include "log.h"
#include "mdb.h"
#include "migrate/cdc/cdc.h"

static json_t *
image(const struct cdc_change *c, const char *const *v)
{
    json_t *o;
    size_t  i;

    if (v == NULL)
        return json_null();
    o = json_object();
    for (i = 0; i < c->ncols; i++)
        json_object_set_new(o, c->names[i],
                            v[i] != NULL ? json_stringn(v[i], strlen(v[i])) : json_null());
    return o;
}

static void
print_txn(const struct cdc_txn *t)
{
    static const char *const ops[] = {"insert", "update", "delete"};
    json_t                  *changes = json_array(), *o;
    char                    *text;
    size_t                   i;

    for (i = 0; i < t->n; i++)
        json_array_append_new(changes,
                              json_pack("{s:s, s:s, s:o, s:o}", "table", t->changes[i].table, "op",
                                        ops[t->changes[i].op], "before",
                                        image(&t->changes[i], t->changes[i].before), "after",
                                        image(&t->changes[i], t->changes[i].after)));
    o = json_pack("{s:s, s:I, s:b, s:o}", "gtid", t->gtid, "ts", (json_int_t)t->ts, "skip",
                  t->skip_replication, "changes", changes);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(o);
}

int
main(int argc, char **argv)
{
    struct cdc_config cfg = {0};
    struct cdc       *c;
    struct cdc_txn   *t;
    struct arena     *a;
    const char       *tables[32];
    char             *list, *p;
    long              want, got = 0, timeout_ms;
    size_t            n = 0;
    time_t            deadline;
    int               rc, status = 1;

    if (argc < 5) {
        fprintf(stderr, "usage: souk-cdc-probe DSN TABLE[,TABLE...] GTID N [TIMEOUT_MS]\n");
        return 2;
    }
    log_open("cdc-probe", "warn");
    if (mdb_global_init() != ERR_OK)
        return 2;
    list = strdup(argv[2]);
    for (p = list; p != NULL && n < 31; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        tables[n++] = p;
    for (p = strchr(list, ','); p != NULL; p = strchr(p + 1, ','))
        *p = '\0';
    tables[n] = NULL;
    want = strtol(argv[4], NULL, 10);
    timeout_ms = argc > 5 ? strtol(argv[5], NULL, 10) : 10000;
    cfg.dsn = argv[1];
    cfg.tables = tables;
    cfg.gtid = argv[3];
    cfg.server_id = 9000 + (uint32_t)(getpid() % 1000);
    cfg.heartbeat_ms = 200;
    c = cdc_new(&cfg);
    if (c == NULL) {
        fprintf(stderr, "souk-cdc-probe: bad dsn or gtid\n");
        return 2;
    }
    a = arena_create();
    deadline = time(NULL) + (timeout_ms + 999) / 1000;
    rc = cdc_open(c);
    while (rc == ERR_OK || rc == ERR_TIMEOUT) {
        if (got >= want || time(NULL) > deadline) {
            status = got >= want ? 0 : 1;
            break;
        }
        arena_reset(a);
        rc = cdc_next(c, a, &t);
        if (rc == ERR_OK && t->n > 0) {
            print_txn(t);
            got++;
        }
    }
    if (rc != ERR_OK && rc != ERR_TIMEOUT) {
        json_t *o = json_pack("{s:s, s:s}", "error", cdc_error(c), "position", cdc_position(c));
        char   *text = json_dumps(o, JSON_COMPACT);

        printf("%s\n", text);
        free(text);
        json_decref(o);
        status = 3;
    }
    cdc_free(c);
    arena_destroy(a);
    free(list);
    mdb_global_end();
    return status;
}
