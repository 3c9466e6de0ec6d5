/*
 * history.h - souk-history, the query side of orders (CQRS): one flat row per
 * order kept from order.* events, holding its v1 and v2 JSON as rendered
 * bytes, so "my orders" is one index range scan whose rows are returned as
 * stored. history.c is pure (merge rules, rendering), store.c the only SQL,
 * events.c the consumer and the apply both it and a rebuild's replay use,
 * api.c the reads, rebuild.c the rebuild's admin endpoints, wait.c the
 * read-your-writes wait.
 */
#ifndef SOUK_HISTORY_H
#define SOUK_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct history_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_HISTORY_DB, SOUK_AMQP_URL, ... */
    int64_t               ryw_wait_ms; /* SOUK_HISTORY_RYW_WAIT_MS */
    int64_t               ryw_waiters; /* SOUK_HISTORY_RYW_WAITERS: 0 = a quarter of the workers */
    int64_t               consumers;   /* SOUK_HISTORY_CONSUMERS */
    int64_t               cache_ttl_ms; /* SOUK_HISTORY_CACHE_TTL_MS: 0 = no page cache */
    int64_t               cache_mb;     /* SOUK_HISTORY_CACHE_MB */
};

extern struct history_config history_cfg; /* read-only after main() */

/* What one order event says (events.c decodes, history.c merges). */
enum hist_kind { HIST_CREATED, HIST_CONFIRMED, HIST_REJECTED, HIST_CANCELLED, HIST__COUNT };

struct hist_event {
    enum hist_kind kind;
    int64_t        order_id, user_id;
    const char    *at;     /* created_at for created, else the move's "at" */
    const char    *reason; /* cancelled: payment-declined | payment-unavailable | deadline */
    /* created only: pre-rendered JSON fragments and the facts v1 shows */
    const char *items;    /* the v1 items array */
    const char *ship;     /* the v1 address object */
    int64_t     total_minor;
    char        currency[4];
    const char *card_last4;
    int         legacy;  /* a monolith order (soukctl backfill orders): v1 in any state */
    const char *payment; /* legacy only: the monolith's payment status */
};

/* One order's row: the facts the events brought, and the rendered JSON. */
struct hist_row {
    int64_t     id, user_id;
    const char *status;  /* PENDING, CONFIRMED, REJECTED, CANCELLED; NULL: not known yet */
    const char *reason;  /* NULL unless failed */
    int         created; /* order.created applied (the row has its lines) */
    int         terminal;
    int         legacy; /* backfilled from the monolith: a v1 order in any state */
    const char *items, *ship;
    int64_t     total_minor;
    char        currency[4];
    const char *card_last4;
    const char *payment; /* paid | declined | unavailable; NULL: none */
    const char *created_at, *updated_at;
    const char *v1_json, *v2_json; /* rendered by hist_render */
};

/* history.c: pure logic */
/* Merge e into r (a row, possibly empty: only id set). Returns 1 when r
 * changed. A terminal state never moves back; order.created fills the facts
 * whenever it comes; duplicates change nothing. */
int hist_merge(struct hist_row *r, const struct hist_event *e);
/* The version read-your-writes compares: 1 per event kind applied that a
 * checkout answer names (created, then the terminal move). */
int hist_version(const struct hist_row *r);
/* Listed by v1: created, and either a monolith order or not failed by the saga. */
int hist_v1_visible(const struct hist_row *r);
/* Render r's v1 and v2 JSON into a (r->v1_json, r->v2_json). */
void hist_render(struct hist_row *r, struct arena *a);
/* v1 line/address fragments, shared by events.c and soukctl's backfill. */
void hist_item(struct buf *b, int64_t product_id, const char *name, size_t name_len,
               int64_t quantity, int64_t unit_minor, const char *currency);
void hist_money(struct buf *b, int64_t minor, const char *currency);
/* status for ?status=: ERR_OK when it names a state. */
MUST_CHECK int hist_status_check(const char *z);
/* The v2 list cursor: (created_at in microseconds since the epoch, id), as
 * opaque text and back (ERR_INVALID for anything hist_cursor_encode did not make). */
const char    *hist_cursor_encode(struct arena *a, int64_t us, int64_t id);
MUST_CHECK int hist_cursor_decode(const char *z, int64_t *us, int64_t *id);
/* "ID:VERSION" (Souk-Min-Order-Version). */
MUST_CHECK int hist_min_version_parse(const char *z, int64_t *id, int64_t *version);

/* store.c */
extern const struct db_stmt history_stmts[];
enum hist_table { HIST_LIVE, HIST_BUILD };
/* 1 while a rebuild runs (the apply writes both tables); takes a share lock
 * on the state row so a swap waits for this transaction. */
MUST_CHECK int store_building(struct work *w, int *building);
/* Lock (creating it empty if needed) order id's row in table t and read it. */
MUST_CHECK int store_row_lock(struct work *w, enum hist_table t, int64_t id, struct hist_row *r);
MUST_CHECK int store_row_save(struct work *w, enum hist_table t, const struct hist_row *r);
/* Pages, in the arena, with the rows' stored bytes. */
struct hist_page {
    const char **json; /* rows, or pieces of rows already joined by commas */
    size_t      *len;
    size_t       n;
    int64_t      total;              /* v1: the user's v1 orders */
    int64_t      last_us, last_id;   /* v2: the last row's key */
};
MUST_CHECK int store_v1_page(struct work *w, int64_t user_id, int64_t page, int64_t limit,
                             struct hist_page *p);
MUST_CHECK int store_v2_page(struct work *w, int64_t user_id, const char *status, int after,
                             int64_t after_us, int64_t after_id, int64_t limit,
                             struct hist_page *p);
/* One row's v1 (v2 = 0) or v2 JSON and its owner; ERR_NOT_FOUND when history
 * has no order.created for it (v1: or it is not a v1 order). */
MUST_CHECK int store_one(struct work *w, int64_t id, int v2, const char **json, size_t *len,
                         int64_t *user_id);
/* The row's version and owner (0, 0 when there is none). */
MUST_CHECK int store_version(struct work *w, int64_t id, int64_t *version, int64_t *user_id);
/* Rebuild: a fresh empty build table, marked building; the swap; the abort
 * (not building, no build table; done when nothing runs too). */
MUST_CHECK int store_rebuild_begin(struct work *w);
MUST_CHECK int store_rebuild_abort(struct work *w);
MUST_CHECK int store_rebuild_swap(struct work *w, int64_t *live, int64_t *built);
MUST_CHECK int store_rebuild_state(struct work *w, int *building, int64_t *live, int64_t *built);

/* events.c */
extern const struct mq_consumer history_consumers[];
/* Decode an order.* envelope's payload into e (in a); ERR_INVALID with *why. */
MUST_CHECK int events_decode(struct arena *a, enum event_type type, int64_t aggregate_id,
                             json_t *payload, struct hist_event *e, const char **why);
/* Apply e to table t inside the transaction open on w->db. */
MUST_CHECK int events_apply(struct work *w, enum hist_table t, const struct hist_event *e);

/* api.c */
int orders_list_v1(struct req *r);
int order_get_v1(struct req *r);
int orders_list_v2(struct req *r);

/* rebuild.c: the admin side of `soukctl history rebuild` */
int rebuild_begin(struct req *r);
int rebuild_replay(struct req *r);
int rebuild_swap(struct req *r);
int rebuild_abort(struct req *r);
int rebuild_status(struct req *r);

/* cache.c: v1 list pages as answered, per process, invalidated by applies */
struct cache_mark {
    uint64_t gen, epoch;
};
/* 1 and the page's bytes (copied into a) on a live hit, else 0. */
int cache_get(struct arena *a, int64_t user, int64_t page, int64_t limit, const char **p,
              size_t *n);
/* Taken before reading PostgreSQL; cache_put stores only if no apply for
 * the user (and no swap) came in between. */
struct cache_mark cache_mark(int64_t user);
void cache_put(struct cache_mark m, int64_t user, int64_t page, int64_t limit, const char *p,
               size_t n);
/* After an apply of the user's event committed / after a swap. */
void cache_forget(int64_t user);
void cache_forget_all(void);

/* loop.c: cached pages answered on the I/O loop */
struct uv_loop_s;
int   orders_list_v1_loop(struct req *r);
void *loop_new(struct uv_loop_s *loop);
void  loop_free(void *state);

/* wait.c: reads that wait for a version */
void     wait_wake(void);
uint64_t wait_generation(void);
/* Sleep until the generation moves past gen or deadline_ms (CLOCK_MONOTONIC);
 * 0 when the deadline passed. */
int     wait_sleep(uint64_t gen, int64_t deadline_ms);
/* The read-your-writes gate of every read: honours Souk-Min-Order-Version
 * (400 when malformed), sets Souk-Stale: true when still behind. */
MUST_CHECK int wait_min_version(struct req *r);

#endif
