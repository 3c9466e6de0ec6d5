/*
 * catalog.c - price snapshots: GET /api/v1/products/{id} on souk-catalog
 * through lib/httpc (the worker's client, keep-alive), behind a small
 * per-process cache of a few seconds so a burst of adds of one product costs
 * one call. The consumer evicts a product when an event says it changed.
 * Parsing the catalog's answer is the only JSON here.
 */
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cart.h"
#include "httpc.h"
#include "log.h"
#include "clock.h"

#define CACHE_SLOTS 1024 /* direct-mapped by product id */

struct slot {
    int64_t      id; /* 0 = empty */
    int64_t      expires_ms;
    struct money price;
    char         name[CART_NAME_MAX + 1];
};

static struct slot     cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot *
slot_of(int64_t id)
{
    return &cache[(uint64_t)id % CACHE_SLOTS];
}

static int
cache_get(struct arena *a, int64_t id, struct product_snap *out)
{
    struct slot *s = slot_of(id);
    int          hit;

    pthread_mutex_lock(&cache_lock);
    hit = s->id == id && s->expires_ms > clock_mono_ms();
    if (hit) {
        out->id = id;
        out->price = s->price;
        out->name = arena_strdup(a, s->name);
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void
cache_put(const struct product_snap *p)
{
    struct slot *s = slot_of(p->id);

    if (cart_cfg.price_cache_ms <= 0)
        return;
    pthread_mutex_lock(&cache_lock);
    s->id = p->id;
    s->expires_ms = clock_mono_ms() + cart_cfg.price_cache_ms;
    s->price = p->price;
    snprintf(s->name, sizeof(s->name), "%s", p->name);
    pthread_mutex_unlock(&cache_lock);
}

void
catalog_cache_evict(int64_t id)
{
    struct slot *s = slot_of(id);

    pthread_mutex_lock(&cache_lock);
    if (s->id == id)
        s->id = 0;
    pthread_mutex_unlock(&cache_lock);
}

static void
json_release(void *p)
{
    json_decref(p);
}

/* {"id", "name", "price": {"amount", "currency"}, ...}: the v1 product page;
 * the other members are not needed. */
static int
snap_decode(struct req *r, const struct httpc_resp *res, int64_t id, struct product_snap *out)
{
    json_t      *root;
    json_error_t jerr;
    json_int_t   got, amount;
    const char  *name, *currency;

    root = json_loadb(res->body, res->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rlog_warn(r, "catalog product %lld: invalid JSON: %s", (long long)id, jerr.text);
        return ERR_UNAVAILABLE;
    }
    arena_defer(r->arena, json_release, root);
    if (json_unpack_ex(root, &jerr, 0, "{s:I, s:s, s:{s:I, s:s}}", "id", &got, "name", &name,
                       "price", "amount", &amount, "currency", &currency) != 0 ||
        got != id || amount < 0 || amount > CART_PRICE_MAX || !cart_currency_valid(currency) ||
        strlen(name) > CART_NAME_MAX ||
        strlen(name) != json_string_length(json_object_get(root, "name"))) {
        rlog_warn(r, "catalog product %lld: unexpected document", (long long)id);
        return ERR_UNAVAILABLE;
    }
    out->id = id;
    out->price.minor = amount;
    memcpy(out->price.currency, currency, 4);
    out->name = arena_strdup(r->arena, name);
    return ERR_OK;
}

int
catalog_product(struct req *r, int64_t id, struct product_snap *out)
{
    struct cart_worker *w = service_ext(r);
    struct httpc_resp  *res;
    const char         *base = cart_cfg.catalog_url;
    size_t              n = strlen(base);
    int                 rc;

    if (cache_get(r->arena, id, out))
        return ERR_OK;
    while (n > 0 && base[n - 1] == '/')
        n--;
    rc = httpc_request(
        w->hc, r->arena,
        &(struct httpc_req){
            arena_printf(r->arena, "%.*s/api/v1/products/%lld", (int)n, base, (long long)id),
            (int)cart_cfg.catalog_timeout_ms,
            r->request_id,
            req_header(r, "traceparent"),
        },
        &res);
    if (rc) {
        rlog_warn(r, "price snapshot of product %lld failed while calling the catalog: %s",
                  (long long)id, httpc_error(w->hc));
        return ERR_UNAVAILABLE;
    }
    if (res->status == 404)
        return ERR_NOT_FOUND;
    if (res->status != 200) {
        rlog_warn(r, "price snapshot of product %lld: the catalog answered %d", (long long)id,
                  res->status);
        return ERR_UNAVAILABLE;
    }
    rc = snap_decode(r, res, id, out);
    if (rc)
        return rc;
    cache_put(out);
    return ERR_OK;
}
