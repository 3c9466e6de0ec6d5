/*
 * history.c - the pure part of history: how order events merge into one row
 * (any order, any number of times) and how a row is rendered as the v1 and
 * v2 JSON it serves. The v1 members and their order are those of orders'
 * and the monolith's v1 Order (services/orders/api.c), so shadow mode
 * compares equal; the JSON is built with buf, not jansson, because
 * soukctl's backfill renders a million rows with the same code.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

/* What each event kind does to a row (tables over branches). */
static const struct {
    const char *status; /* NULL: order.created (no move) */
    const char *payment; /* the v1 payment status it sets; NULL: none */
} kinds[HIST__COUNT] = {
    [HIST_CREATED] = {NULL, NULL},
    [HIST_CONFIRMED] = {"CONFIRMED", "APPROVED"},
    [HIST_REJECTED] = {"REJECTED", NULL},
    [HIST_CANCELLED] = {"CANCELLED", NULL},
};

int
hist_merge(struct hist_row *r, const struct hist_event *e)
{
    int changed = 0;

    if (r->user_id == 0 && e->user_id > 0) {
        r->user_id = e->user_id;
        changed = 1;
    }
    if (e->kind == HIST_CREATED) {
        if (r->created)
            return changed; /* a duplicate */
        r->created = 1;
        r->items = e->items;
        r->ship = e->ship;
        r->total_minor = e->total_minor;
        memcpy(r->currency, e->currency, sizeof(r->currency));
        r->card_last4 = e->card_last4;
        r->created_at = e->at;
        if (e->legacy) {
            r->legacy = 1;
            r->payment = e->payment;
        }
        if (r->status == NULL) { /* a terminal event that came first keeps its state */
            r->status = "PENDING";
            r->updated_at = e->at;
        }
        return 1;
    }
    if (r->terminal)
        return changed; /* nothing leaves a terminal state */
    r->terminal = 1;
    r->status = kinds[e->kind].status;
    if (!r->legacy) { /* a monolith order keeps what the monolith said */
        r->payment = kinds[e->kind].payment;
        r->reason = e->kind == HIST_REJECTED ? "out-of-stock" : e->reason;
    }
    r->updated_at = e->at;
    return 1;
}

int
hist_version(const struct hist_row *r)
{
    return (r->created ? 1 : 0) + (r->terminal ? 1 : 0);
}

int
hist_v1_visible(const struct hist_row *r)
{
    if (!r->created)
        return 0;
    if (r->legacy)
        return 1;
    return strcmp(r->status, "PENDING") == 0 || strcmp(r->status, "CONFIRMED") == 0;
}

void
hist_money(struct buf *b, int64_t minor, const char *currency)
{
    buf_printf(b, "{\"amount\":%" PRId64 ",\"currency\":", minor);
    buf_json_str(b, currency, strlen(currency));
    buf_putc(b, '}');
}

void
hist_item(struct buf *b, int64_t product_id, const char *name, size_t name_len, int64_t quantity,
          int64_t unit_minor, const char *currency)
{
    buf_printf(b, "{\"product_id\":%" PRId64 ",\"name\":", product_id);
    buf_json_str(b, name, name_len);
    buf_printf(b, ",\"quantity\":%" PRId64 ",\"unit_price\":", quantity);
    hist_money(b, unit_minor, currency);
    buf_puts(b, ",\"line_total\":");
    hist_money(b, unit_minor * quantity, currency);
    buf_putc(b, '}');
}

static void
str_or_null(struct buf *b, const char *z)
{
    if (z == NULL)
        buf_puts(b, "null");
    else
        buf_json_str(b, z, strlen(z));
}

/* The head both versions share: id, user_id, status. */
static void
head(struct buf *b, const struct hist_row *r)
{
    buf_printf(b, "{\"id\":%" PRId64 ",\"user_id\":%" PRId64 ",\"status\":", r->id, r->user_id);
    str_or_null(b, r->status);
}

/* v2's payment summary: derived from the order's own events. */
static const char *
payment_summary(const struct hist_row *r)
{
    if (r->payment != NULL) /* v1's status: APPROVED, or the monolith's DECLINED, REFUNDED */
        return strcmp(r->payment, "APPROVED") == 0   ? "paid"
               : strcmp(r->payment, "REFUNDED") == 0 ? "refunded"
                                                     : "declined";
    if (r->reason != NULL && strcmp(r->reason, "payment-declined") == 0)
        return "declined";
    if (r->reason != NULL && strcmp(r->reason, "payment-unavailable") == 0)
        return "unavailable";
    return r->terminal ? "none" : "pending";
}

void
hist_render(struct hist_row *r, struct arena *a)
{
    struct buf *b = buf_new(a, 1 << 24);
    size_t      n;

    head(b, r);
    buf_puts(b, ",\"total\":");
    hist_money(b, r->total_minor, r->currency);
    buf_printf(b, ",\"items\":%s,\"shipping_address\":%s,\"payment\":", r->items ? r->items : "[]",
               r->ship ? r->ship : "null");
    if (r->payment != NULL) {
        buf_puts(b, "{\"status\":");
        str_or_null(b, r->payment);
        buf_puts(b, ",\"card_last4\":");
        buf_json_str(b, r->card_last4 ? r->card_last4 : "", r->card_last4 ? strlen(r->card_last4) : 0);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"created_at\":");
    str_or_null(b, r->created_at);
    buf_putc(b, '}');
    n = buf_len(b);
    r->v1_json = arena_strndup(a, buf_data(b), n);

    buf_reset(b);
    head(b, r);
    buf_puts(b, ",\"reason\":");
    str_or_null(b, r->reason);
    buf_puts(b, ",\"total\":");
    hist_money(b, r->total_minor, r->currency);
    buf_printf(b, ",\"items\":%s,\"shipping_address\":%s,\"payment\":{\"status\":\"%s\",\"card_last4\":",
               r->items ? r->items : "[]", r->ship ? r->ship : "null", payment_summary(r));
    str_or_null(b, r->card_last4);
    buf_puts(b, "},\"created_at\":");
    str_or_null(b, r->created_at);
    buf_puts(b, ",\"updated_at\":");
    str_or_null(b, r->updated_at);
    buf_printf(b, ",\"version\":%d}", hist_version(r));
    r->v2_json = arena_strndup(a, buf_data(b), buf_len(b));
}

static const char *const states[] = {"PENDING", "CONFIRMED", "REJECTED", "CANCELLED", NULL};

int
hist_status_check(const char *z)
{
    size_t i;

    for (i = 0; states[i] != NULL; i++)
        if (strcmp(z, states[i]) == 0)
            return ERR_OK;
    return ERR_INVALID;
}

/* Strict unsigned hex of 1..16 digits (no sign, no 0x, no spaces). */
static int
hex_part(const char *p, size_t n, int64_t *out)
{
    uint64_t v = 0;
    size_t   i;

    if (n == 0 || n > 15)
        return ERR_INVALID;
    for (i = 0; i < n; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (d < 0)
            return ERR_INVALID;
        v = v * 16 + (uint64_t)d;
    }
    *out = (int64_t)v;
    return ERR_OK;
}

const char *
hist_cursor_encode(struct arena *a, int64_t us, int64_t id)
{
    return arena_printf(a, "%" PRIx64 "-%" PRIx64, (uint64_t)us, (uint64_t)id);
}

int
hist_cursor_decode(const char *z, int64_t *us, int64_t *id)
{
    const char *dash = strchr(z, '-');

    if (dash == NULL || hex_part(z, (size_t)(dash - z), us) != ERR_OK ||
        hex_part(dash + 1, strlen(dash + 1), id) != ERR_OK || *id < 1)
        return ERR_INVALID;
    return ERR_OK;
}

/* A decimal in [1, max] of at most 18 digits. */
static int
dec_part(const char *p, size_t n, int64_t max, int64_t *out)
{
    int64_t v = 0;
    size_t  i;

    if (n == 0 || n > 18)
        return ERR_INVALID;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return ERR_INVALID;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > max)
        return ERR_INVALID;
    *out = v;
    return ERR_OK;
}

int
hist_min_version_parse(const char *z, int64_t *id, int64_t *version)
{
    const char *colon = strchr(z, ':');

    if (colon == NULL || dec_part(z, (size_t)(colon - z), INT64_MAX, id) != ERR_OK ||
        dec_part(colon + 1, strlen(colon + 1), 2, version) != ERR_OK)
        return ERR_INVALID;
    return ERR_OK;
}
