/*
 * service_dlq.c - a service's dead letters over its own HTTP API, for the
 * control room (web/console): GET /api/v2/admin/dlq/<service> lists what its
 * consumers parked after their retries, POST .../replay sends one message
 * (or all) back to its queue with a fresh attempt count. Admin routes: the
 * service checks the admin's JWT as for any route, and reaches only its own
 * queues. The broker work is lib/mq_dlq.c's (soukctl dlq uses the same), on
 * the handler's thread: it blocks that thread only.
 */
#include <string.h>

#include "arena.h"
#include "decode.h"
#include "mq.h"
#include "req.h"
#include "service.h"

#define DLQ_LIST_MAX 200 /* messages answered; the count says how many there are */

static json_t *
text_or_null(const char *z)
{
    json_t *s = z != NULL ? json_string(z) : NULL;

    return s != NULL ? s : json_null();
}

/* The envelope as JSON when it is, else as text (NULL when neither). A
 * parked order.created carries payload.card.token, which payments needs and
 * nobody's browser should see (orders' order_log drops it for the same
 * reason): the list leaves it out and keeps last4. Replay moves the message
 * as the broker holds it, token and all. */
static json_t *
envelope(const struct mq_dead *d)
{
    json_t *j = json_loadb(d->body, d->len, 0, NULL), *card;

    if (j == NULL)
        return json_stringn(d->body, d->len);
    card = json_object_get(json_object_get(j, "payload"), "card");
    if (json_is_object(card))
        json_object_del(card, "token");
    return j;
}

int
service_dlq_list(struct req *r)
{
    const struct service_spec *spec = service_running();
    struct mq_dead            *dead;
    json_t                    *items = json_array(), *env;
    size_t                     n, i;
    int                        rc;

    rc = mq_dlq_list(spec->svc->mq.amqp_url, spec->name, r->arena, &dead, &n);
    if (rc) {
        json_decref(items);
        return req_fail(r, rc == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL,
                        "the broker cannot list the dead letters");
    }
    for (i = 0; i < n && i < DLQ_LIST_MAX; i++) {
        env = envelope(&dead[i]);
        json_array_append_new(
            items,
            json_pack("{s:o, s:o, s:i, s:o, s:o, s:o}", "event_id", text_or_null(dead[i].event_id),
                      "type", text_or_null(dead[i].type), "attempts", dead[i].attempts, "died_at",
                      text_or_null(dead[i].died_at), "error", text_or_null(dead[i].error),
                      "envelope", env != NULL ? env : json_null()));
    }
    return req_reply(r, 200,
                     json_pack("{s:s, s:I, s:o}", "service", spec->name, "count", (json_int_t)n,
                               "items", items));
}

struct replay_in {
    char *event_id;
    int   all;
};

static const struct decode_field replay_fields[] = {
    {"event_id", DECODE_STR, offsetof(struct replay_in, event_id), 0, 1, 64, 0},
    {"all", DECODE_BOOL, offsetof(struct replay_in, all), 0, 0, 0, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* POST .../replay {"event_id": "..."} or {"all": true}. */
int
service_dlq_replay(struct req *r)
{
    const struct service_spec *spec = service_running();
    struct replay_in           in = {NULL, 0};
    json_t                    *body;
    size_t                     n = 0;
    int                        rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, replay_fields, &in, NULL);
    if (rc)
        return rc;
    if ((in.event_id != NULL) == (in.all != 0))
        return req_fail(r, ERR_INVALID, "give either event_id or \"all\": true");
    rc = mq_dlq_settle(spec->svc->mq.amqp_url, spec->name, in.event_id, 0, &n);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "no such dead letter");
    if (rc)
        return req_fail(r, rc == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL,
                        "the broker cannot replay the dead letters");
    return req_reply(r, 200,
                     json_pack("{s:s, s:I}", "service", spec->name, "replayed", (json_int_t)n));
}
