/*
 * event.c - EVENT_MAP lookups and the envelope (event.h): v4 UUIDs from
 * getrandom(2), compact JSON in a fixed key order, and a strict decoder that
 * says in a few lower-case words why an envelope was refused.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arena.h"
#include "event.h"
#include "log.h"

static const struct event_row {
    const char *key;
    int         version;
} event_rows[] = {
#define X(name, key, version) {key, version},
    EVENT_MAP(X)
#undef X
};

/* The envelope's members in the order event_encode writes them. */
static const struct event_field {
    const char *name;
    json_type   type;
    const char *what; /* for "\"x\" must be ..." */
} event_fields[] = {
    {"id", JSON_STRING, "a string"},
    {"type", JSON_STRING, "a string"},
    {"version", JSON_INTEGER, "an integer"},
    {"occurred_at", JSON_STRING, "a string"},
    {"aggregate_id", JSON_INTEGER, "an integer"},
    {"trace_id", JSON_STRING, "a string"},
    {"payload", JSON_OBJECT, "an object"},
};

#define EVENT_NFIELDS (sizeof(event_fields) / sizeof(event_fields[0]))

const char *
event_key(enum event_type t)
{
    assert((unsigned)t < EVENT__COUNT);
    return event_rows[t].key;
}

int
event_version(enum event_type t)
{
    assert((unsigned)t < EVENT__COUNT);
    return event_rows[t].version;
}

int
event_type_by_key(const char *key, enum event_type *out)
{
    int i;

    for (i = 0; key != NULL && i < EVENT__COUNT; i++) {
        if (strcmp(event_rows[i].key, key) == 0) {
            *out = (enum event_type)i;
            return ERR_OK;
        }
    }
    return ERR_NOT_FOUND;
}

/* ------------------------------------------------------------- uuids */

void
event_uuid(char out[EVENT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     b[16];
    ssize_t           n;
    size_t            got = 0;
    int               i, o = 0;

    while (got < sizeof(b)) {
        n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* Without randomness ids would collide; nothing sane is left. */
            log_error("getrandom failed: %s", strerror(errno));
            abort();
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

int
event_uuid_valid(const char *z)
{
    int i;

    if (z == NULL)
        return 0;
    for (i = 0; i < EVENT_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (z[i] != '-')
                return 0;
        } else if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'f') ||
                     (z[i] >= 'A' && z[i] <= 'F'))) {
            return 0;
        }
    }
    return z[EVENT_ID_LEN] == '\0';
}

/* ------------------------------------------------------------- envelope */

/* The exact arena_cleanup_fn type: calling json_decref through a cast is UB. */
static void
json_release(void *p)
{
    json_decref(p);
}

void
event_init(struct event *e, struct arena *a, enum event_type type, int64_t aggregate_id,
           const char *trace_id, json_t *payload)
{
    char ts[32];

    assert((unsigned)type < EVENT__COUNT && json_is_object(payload));
    memset(e, 0, sizeof(*e));
    event_uuid(e->id);
    e->type = type;
    e->version = event_version(type);
    log_timestamp(ts);
    e->occurred_at = arena_strdup(a, ts);
    e->aggregate_id = aggregate_id;
    e->trace_id = arena_strdup(a, trace_id != NULL ? trace_id : "");
    /* The envelope holds its own reference, dropped with the arena, so the
     * caller may keep or drop its own (mq_outbox_put drops it with the arena). */
    e->payload = json_incref(payload);
    arena_defer(a, json_release, payload);
}

int
event_encode(const struct event *e, struct arena *a, char **out, size_t *len)
{
    json_t      *root;
    json_error_t jerr;
    char        *s;

    *out = NULL;
    *len = 0;
    if ((unsigned)e->type >= EVENT__COUNT || !json_is_object(e->payload))
        return ERR_INTERNAL;
    root = json_pack_ex(&jerr, 0, "{s:s, s:s, s:i, s:s, s:I, s:s, s:O}", "id", e->id, "type",
                        event_key(e->type), "version", e->version, "occurred_at",
                        e->occurred_at != NULL ? e->occurred_at : "", "aggregate_id",
                        (json_int_t)e->aggregate_id, "trace_id",
                        e->trace_id != NULL ? e->trace_id : "", "payload", e->payload);
    if (root == NULL) {
        log_error("event encode failed: %s", jerr.text);
        return ERR_INTERNAL;
    }
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (s == NULL) {
        log_error("event encode failed: cannot serialise the envelope");
        return ERR_INTERNAL;
    }
    arena_defer(a, free, s);
    *out = s;
    *len = strlen(s);
    return ERR_OK;
}

/* ------------------------------------------------------------- decode */

static int refuse(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return ERR_INVALID;
}

/* Every member present with its type, and nothing else. */
static int
check_fields(json_t *root, char *why, size_t why_len)
{
    const char *k;
    json_t     *v;
    size_t      i;

    for (i = 0; i < EVENT_NFIELDS; i++) {
        v = json_object_get(root, event_fields[i].name);
        if (v == NULL)
            return refuse(why, why_len, "\"%s\" is required", event_fields[i].name);
        if (json_typeof(v) != event_fields[i].type)
            return refuse(why, why_len, "\"%s\" must be %s", event_fields[i].name,
                          event_fields[i].what);
    }
    json_object_foreach(root, k, v)
    {
        for (i = 0; i < EVENT_NFIELDS && strcmp(k, event_fields[i].name) != 0; i++)
            ;
        if (i == EVENT_NFIELDS)
            return refuse(why, why_len, "unknown field \"%.40s\"", k);
    }
    return ERR_OK;
}

/* Values whose types check_fields has vouched for. */
static int
check_values(struct event *out, const char *id, const char *type, json_int_t version, char *why,
             size_t why_len)
{
    size_t i;

    if (!event_uuid_valid(id))
        return refuse(why, why_len, "\"id\" must be a uuid");
    for (i = 0; i <= EVENT_ID_LEN; i++)
        out->id[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
    if (event_type_by_key(type, &out->type))
        return refuse(why, why_len, "unknown event type \"%.60s\"", type);
    if (version < 1)
        return refuse(why, why_len, "\"version\" must be at least 1");
    if (version > event_version(out->type))
        return refuse(why, why_len, "version %lld of %s is newer than this build knows",
                      (long long)version, event_key(out->type));
    out->version = (int)version;
    return ERR_OK;
}

int
event_decode(const char *p, size_t n, struct arena *a, struct event *out, char *why, size_t why_len)
{
    json_t      *root, *payload;
    json_error_t jerr;
    const char  *id, *type, *occurred_at, *trace_id;
    json_int_t   version, aggregate_id;
    int          rc;

    memset(out, 0, sizeof(*out));
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return refuse(why, why_len, "malformed json: %s", jerr.text);
    arena_defer(a, json_release, root);
    if (!json_is_object(root))
        return refuse(why, why_len, "envelope must be an object");
    rc = check_fields(root, why, why_len);
    if (rc)
        return rc;
    if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s, s:s, s:I, s:s, s:I, s:s, s:o}", "id", &id,
                       "type", &type, "version", &version, "occurred_at", &occurred_at,
                       "aggregate_id", &aggregate_id, "trace_id", &trace_id, "payload",
                       &payload) != 0)
        return refuse(why, why_len, "bad envelope: %s", jerr.text);
    rc = check_values(out, id, type, version, why, why_len);
    if (rc)
        return rc;
    out->occurred_at = occurred_at;
    out->aggregate_id = (int64_t)aggregate_id;
    out->trace_id = trace_id;
    out->payload = payload;
    return ERR_OK;
}
