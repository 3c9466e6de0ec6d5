/*
 * map.h - the table mapping of each migrating domain, in one place: how the
 * monolith's rows become the service's rows (forward sync, backfill), and the
 * canonical rows of each side (verify). One file per domain (reviews.c,
 * catalog.c, ...), one registry (map.c). Forward sync (migrate/sync) calls
 * apply inside the service database's transaction that also moves the stream
 * position; soukctl backfill runs copy; verify compares the rows of verify.
 */
#ifndef SOUK_MAP_H
#define SOUK_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "migrate/cdc/cdc.h"

struct work;
struct event;
struct arena;
struct kv;
struct mdb;

/* What w->ext is, for apply and copy_kv, in a domain whose service keeps its
 * data in Redis (map_domain.kv): the sync's or the backfill's Redis handle
 * (SOUK_REDIS_URL) and a monolith connection to read what a row refers to
 * (in the backfill: inside its snapshot). w->db stays the service's
 * PostgreSQL (sync_position). */
struct map_ext {
    struct kv  *kv;
    struct mdb *mono;
    /* The verify keys apply changed that no map_touch row can name (a cart
     * item names its cart, whose user only the monolith knows): apply adds
     * them with map_touched, souk-sync records them in sync_touched in the
     * transaction that moves the position, as it does map_touch's. */
    const char **whats, **keys;
    size_t       ntouched, cap;
};

/* Record, in w->ext (a struct map_ext), that apply changed the verify
 * entity what's key (what: a struct map_verify's what, a string that lives
 * as long as the process); the list is in w->arena. */
void map_touched(struct work *w, const char *what, int64_t key);

/* One bulk-copy step of the backfill (the shape of soukctl's backfill_table
 * without its page function): read_sql pages the monolith by key, write_sql
 * writes one page on the service's database. */
struct map_copy {
    const char *what;      /* "reviews": progress and summary; NULL ends the list */
    const char *count_sql; /* monolith: how many rows there are to copy */
    /* Monolith: two '?' parameters, the key to start after and the page size;
     * column 0 is the key (a positive integer, ascending). */
    const char *read_sql;
    /* Service: $1 is the page as a JSON array with one array per row, the
     * read_sql columns as strings (null for NULL), so r->>0 is the key. */
    const char *write_sql;
    int         whole; /* 1: everything in one page (rows refer to each other) */
};

/* The canonical rows (migrate/README.md) of one mapped entity on each side,
 * for verify: both statements take the key to start after and a page size
 * ('?' ? on the monolith, $1 $2 on the service), answer the key in column 0,
 * then the same columns in the same canonical text, ordered by key. */
struct map_verify {
    const char *what; /* "reviews"; NULL ends the list */
    const char *mono_sql;
    const char *svc_sql;
};

/* Which verify entity's key a captured change of a monolith table touches:
 * souk-sync records (what, key) of every change it applies in sync_touched,
 * in the same transaction (migrate/sync/position.h), so a cutover verifies
 * while writes are held only the keys changed since its full verify began.
 * A table may touch several entities (one row each); a table with no row
 * touches nothing verify compares. */
struct map_touch {
    const char *table; /* monolith table; NULL ends the list */
    const char *what;  /* a struct map_verify's what */
    const char *key;   /* the change's column holding that entity's key */
};

/* Reverse sync (migrate/reverse): an event of the service names an aggregate
 * (the envelope's aggregate_id); each step copies that aggregate's current
 * rows from the service into the monolith, so a repeat, a duplicate or a
 * late event writes the same newest state (idempotent without versions). */
struct map_reverse_step {
    /* Service: $1 the aggregate id; its rows now, each in the columns and
     * order of mono_put's '?' parameters. */
    const char *svc_sql;
    const char *mono_put; /* monolith: one row, an upsert (ON DUPLICATE KEY UPDATE) */
    /* Monolith, every '?' the aggregate id: with replace = 0 run when svc_sql
     * answers no row (the thing is gone), with replace = 1 always, before the
     * puts (a set of rows, such as EAV attributes, is replaced whole). NULL:
     * nothing. */
    const char *mono_gone;
    int         replace;
};

struct map_reverse {
    const char *const             *events; /* routing keys consumed, NULL-terminated */
    const struct map_reverse_step *steps;  /* in order (parents first); NULL svc_sql ends */
    /* Instead of steps, for a service whose state is not in its database
     * (cart, in Redis): the event carries the aggregate's whole state and a
     * version; write it into the monolith (mono, inside the transaction
     * flagged skip_replication), ignoring a version not newer than the one
     * written last. */
    int (*apply)(struct mdb *mono, struct arena *a, const struct event *ev);
};

struct map_domain {
    const char        *name;   /* "reviews" (souk-sync --domain, soukctl migrate DOMAIN) */
    const char        *db_env; /* "SOUK_REVIEWS_DB": the service's database */
    const char *const *tables; /* the monolith tables it captures, NULL-terminated */
    /* Apply one captured change to the service's database (w->db, inside the
     * transaction that also records the position; w->arena for the change).
     * Idempotent: applying a change twice, or one the backfill already
     * copied, leaves the same rows. ERR_OK, or a code from db.h (the
     * transaction is rolled back and retried or the sync stops). */
    int (*apply)(struct work *w, const struct cdc_change *c);
    const struct map_copy *copy;          /* backfill steps, in order */
    const char            *copy_finish;   /* service, after the copy (aggregates; not sequences) */
    const char            *copy_nonempty; /* service: one boolean, true when it has data */
    /* What copy_nonempty finds ("stock"), for "inventory already has stock";
     * NULL when that is the main copy step's what (backfill.c main_what). */
    const char              *copy_holds;
    const struct map_verify *verify;
    /* Every captured table's touched keys (struct map_touch; a kv domain's
     * apply may add keys no row can name, map_touched), or NULL: then the
     * cutover verifies the whole domain while writes are held. */
    const struct map_touch *touch;
    /* Service tables whose column id a sequence allocates, named alike on
     * both sides: the backfill moves them to the identity scheme
     * (migrate/map/README.md "Identity"). NULL-terminated, or NULL. */
    const char *const        *ident;
    const struct map_reverse *reverse; /* NULL: no reverse sync (yet) */
    /* 1: the service keeps the domain's data in Redis (cart): apply and
     * copy_kv get a struct map_ext in w->ext. Redis is not in the service's
     * transaction: apply is written Redis first, then sync_position commits,
     * so a crash between them applies the change again (idempotent). */
    int kv;
    /* Backfill of a kv domain (instead of copy): everything, read through
     * ext->mono inside the backfill's snapshot; *n lines written. */
    int (*copy_kv)(struct work *w, int64_t *n);
    /* Verify of a kv domain (its verify entries have no SQL): the canonical
     * rows of one side (mono = 1: the monolith) after key `after`, at most
     * limit, in key order: keys[i] and one canonical text rows[i] each (in
     * w->arena). */
    int (*verify_kv)(struct work *w, int mono, int64_t after, int64_t limit, int64_t **keys,
                     const char ***rows, size_t *n);
    /* Optional, for a kv domain whose verify_kv finds keys by a scan: one
     * key's canonical row on one side (*row NULL: that side has none), so a
     * verify of a few keys (the cutover's, under its hold) reads only them. */
    int (*verify_kv_key)(struct work *w, int mono, int64_t key, const char **row);
};

/* The domain called name, or NULL. */
const struct map_domain *map_find(const char *name);
/* Every domain, NULL-terminated (map.c). */
extern const struct map_domain *const map_domains[];

/* Column col of c's newest image (after, or before for a delete): its
 * canonical text, NULL for SQL NULL or when c has no such column. */
const char *map_value(const struct cdc_change *c, const char *col);
/* The same from the before image (NULL for an insert). */
const char *map_before(const struct cdc_change *c, const char *col);

#endif
