/*
 * api.c - payments' HTTP view: GET /api/v2/payments/{order_id}, the order's
 * payment as payments records it and, asked of the provider by the payment's
 * idempotency key, what the provider did. Admins see every order's, a
 * customer only their own (another's is 404, as if it did not exist).
 */
#include <string.h>

#include "payments.h"

static const char *const outcome_names[] = {
    [PROVIDER_UNKNOWN] = "none",
    [PROVIDER_APPROVED] = "approved",
    [PROVIDER_DECLINED] = "declined",
};

static json_t *
str_or_null(const char *z)
{
    return z != NULL && z[0] != '\0' ? json_string(z) : json_null();
}

/* The provider's operations on the key, oldest first. */
static json_t *
operations_encode(const struct provider_record *rec)
{
    const struct {
        const char *op, *at;
    } ops[] = {
        {"authorize", rec->authorized_at},
        {"capture", rec->captured_at},
        {"void", rec->voided_at},
        {"refund", rec->refunded_at},
    };
    json_t *a = json_array();
    size_t  i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (ops[i].at != NULL && ops[i].at[0] != '\0')
            json_array_append_new(a, json_pack("{s:s,s:s}", "op", ops[i].op, "at", ops[i].at));
    return a;
}

static json_t *
provider_encode(const struct payment *p, const struct provider_record *rec)
{
    if (p->key == NULL)
        return json_null(); /* cancelled before any reservation: never sent */
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", payments_provider->name, "idempotency_key",
                     p->key, "outcome", outcome_names[rec->outcome], "ref", str_or_null(rec->ref),
                     "operations", operations_encode(rec));
}

static json_t *
payment_encode(const struct payment *p, const struct provider_record *rec)
{
    json_t *amount =
        p->amount_minor >= 0 && p->currency != NULL
            ? json_pack("{s:I,s:s}", "amount", (json_int_t)p->amount_minor, "currency", p->currency)
            : json_null();

    return json_pack("{s:I,s:I,s:o,s:s,s:o,s:o,s:I,s:o,s:o,s:s,s:s,s:o}", "order_id",
                     (json_int_t)p->order_id, "payment_id", (json_int_t)p->id, "user_id",
                     p->user_id > 0 ? json_integer(p->user_id) : json_null(), "state",
                     payment_state_name(p->state), "amount", amount, "card_last4",
                     str_or_null(p->card_last4), "attempts", (json_int_t)p->attempts, "failure",
                     str_or_null(p->failure), "provider_ref", str_or_null(p->provider_ref),
                     "created_at", p->created_at, "updated_at", p->updated_at, "provider",
                     provider_encode(p, rec));
}

/* GET /api/v2/payments/{order_id} (ROUTE_USER). */
int
payment_get(struct req *r)
{
    struct work                  *w = service_work(r);
    const struct payments_thread *t = w->ext;
    struct provider_record        rec = {.outcome = PROVIDER_UNKNOWN, .ref = ""};
    struct payment                p;
    int64_t                       order_id;
    int                           rc;

    rc = req_param_id(r, "order_id", "payment", &order_id);
    if (rc)
        return rc;
    rc = store_payment_get(w, order_id, &p);
    if (rc == ERR_OK && r->user.role != AUTH_ADMIN && p.user_id != r->user.user_id)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "payment not found");
    if (rc)
        return rc;
    if (p.key != NULL) {
        rc = payments_provider->lookup(t->provider, r->arena, p.key, &rec);
        if (rc)
            return req_fail(r, ERR_UNAVAILABLE, "the payment provider did not answer");
    }
    return req_reply(r, 200, payment_encode(&p, &rec));
}
