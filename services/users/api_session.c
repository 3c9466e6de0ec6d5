/*
 * api_session.c - the v2 sessions: sign in (a session in Redis with a
 * refresh token, plus a short-lived access JWT naming it in "sid"), refresh
 * (the token rotates, the lifetime slides), list, and sign out one or every
 * session. Access JWTs stay stateless: a signed-out session's tokens work
 * until their exp, which SOUK_SESSION_ACCESS_TTL_S keeps short. Sign-in
 * answers exactly as v1 login does on bad credentials (account_authenticate).
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "users.h"

/* What happens to sessions, one counter each: souk_users_session_events_total
 * {event="..."} on GET /metrics (a burst of "reused" is token theft or a
 * client refreshing twice). */
enum session_event {
    EV_CREATED,
    EV_ROTATED,
    EV_REUSED,
    EV_RACED,
    EV_REFUSED,
    EV_USER_GONE,
    EV_SIGNED_OUT,
    EV_SIGNED_OUT_ALL,
    EV_COUNT
};

#define EVENT_ROW(label)                                                                           \
    {                                                                                              \
        .name = "souk_users_session_events_total",                                                 \
        .help = "v2 session events: sign-ins, refreshes by outcome, sign-outs",                    \
        .kind = METRIC_COUNTER, .labels = "event=\"" label "\""                                    \
    }
static struct metric events[EV_COUNT] = {
    [EV_CREATED] = EVENT_ROW("created"),       [EV_ROTATED] = EVENT_ROW("rotated"),
    [EV_REUSED] = EVENT_ROW("reused"),         [EV_RACED] = EVENT_ROW("raced"),
    [EV_REFUSED] = EVENT_ROW("refused"),       [EV_USER_GONE] = EVENT_ROW("user_gone"),
    [EV_SIGNED_OUT] = EVENT_ROW("signed_out"), [EV_SIGNED_OUT_ALL] = EVENT_ROW("signed_out_all"),
};

void
session_metrics_register(void)
{
    size_t i;

    for (i = 0; i < EV_COUNT; i++)
        metrics_register(&events[i]);
}

struct refresh_input {
    const char *refresh_token;
};

/* Optional: a browser sends nothing and lets the cookie speak. The length
 * cap is generous; any other shape is a 401 like an unknown token. */
static const struct decode_field refresh_fields[] = {
    {"refresh_token", DECODE_STR, offsetof(struct refresh_input, refresh_token), 0, 1, 512, 0},
    {NULL},
};

static json_t *
time_json(int64_t t)
{
    char z[32];

    session_time(t, z);
    return json_string(z);
}

/* 201 / 200 with the session, a new access token naming it, and token (the
 * refresh token) in the body and the cookie. */
static int
session_reply(struct req *r, int status, const struct session *s, const char *token)
{
    int64_t now = (int64_t)time(NULL), max_age = s->expires - s->last_used;
    char   *access;
    int     rc;

    rc = auth_token_issue_sid(users_cfg.svc.jwt_secret, s->user_id, auth_role_parse(s->role), s->id,
                              now, users_cfg.access_ttl_s, r->arena, &access);
    if (rc)
        return req_fail(r, rc, "cannot issue token");
    req_set_header(
        r, "Set-Cookie",
        session_cookie(r->arena, token, max_age > 0 ? max_age : 1, users_cfg.cookie_secure));
    req_set_header(r, "Cache-Control", "no-store");
    return req_reply(r, status,
                     json_pack("{s:{s:s,s:o,s:o},s:s,s:s,s:I,s:s}", "session", "id", s->id,
                               "created_at", time_json(s->created), "expires_at",
                               time_json(s->expires), "access_token", access, "token_type",
                               "Bearer", "expires_in", (json_int_t)users_cfg.access_ttl_s,
                               "refresh_token", token));
}

/* POST /api/v2/sessions: sign in. */
int
session_create(struct req *r)
{
    struct session s = {0};
    struct user   *u;
    char           sid[SESSION_ID_LEN + 1], token[SESSION_TOKEN_LEN + 1];
    char           hash[SESSION_HASH_LEN + 1];
    int            rc;

    rc = account_authenticate(r, &u);
    if (rc)
        return rc;
    session_token_new(sid, token);
    session_token_hash(token, hash);
    s.id = sid;
    s.user_id = u->id;
    s.role = u->role;
    s.user_agent = session_user_agent(r->arena, req_header(r, "User-Agent"));
    rc = store_session_create(service_work(r), &s, hash, users_cfg.session_ttl_s,
                              users_cfg.session_max);
    if (rc)
        return rc;
    metrics_add(&events[EV_CREATED], 1);
    return session_reply(r, 201, &s, token);
}

/* The refresh token of r: the body's refresh_token when there is a body
 * with one, else the cookie's. *from_cookie says which. */
static int
refresh_token_of(struct req *r, const char **token, int *from_cookie)
{
    struct refresh_input in = {0};
    char                 cookie[SESSION_TOKEN_LEN + 1];
    const char          *p;
    size_t               n;
    json_t              *body;
    int                  rc;

    *from_cookie = 0;
    req_body(r, &p, &n);
    if (n > 0) {
        rc = req_json(r, &body);
        if (rc)
            return rc;
        rc = req_decode(r, body, refresh_fields, &in, NULL);
        if (rc)
            return rc;
    }
    if (in.refresh_token != NULL) {
        *token = in.refresh_token;
        return ERR_OK;
    }
    if (!session_cookie_find(req_header(r, "Cookie"), cookie))
        return req_fail(r, ERR_UNAUTHORIZED, "refresh token required");
    *token = arena_strdup(r->arena, cookie);
    *from_cookie = 1;
    return ERR_OK;
}

/* A refused refresh: 401, and a browser's cookie is cleared with it. */
static int
refresh_refused(struct req *r, int from_cookie, enum session_event ev, const char *detail)
{
    metrics_add(&events[ev], 1);
    if (from_cookie)
        req_set_header(r, "Set-Cookie", session_cookie(r->arena, "", 0, users_cfg.cookie_secure));
    return req_fail(r, ERR_UNAUTHORIZED, "%s", detail);
}

/* POST /api/v2/sessions/refresh: the token rotates, so each refresh token
 * works once. A token presented again after its rotation was either stolen
 * or copied; as nobody can tell which holder is genuine, the session ends
 * (SESSION_REUSED). SOUK_SESSION_REUSE_GRACE_S > 0 spares the session when
 * the newest rotated token comes back that soon (two tabs refreshing
 * together): refused, not punished. */
int
session_refresh(struct req *r)
{
    enum session_refresh outcome;
    struct session       s;
    struct user         *u;
    const char          *token = NULL;
    int64_t              uid;
    char sid[SESSION_ID_LEN + 1], next[SESSION_TOKEN_LEN + 1], hash[SESSION_HASH_LEN + 1],
        next_hash[SESSION_HASH_LEN + 1];
    int from_cookie, rc;

    rc = refresh_token_of(r, &token, &from_cookie);
    if (rc)
        return rc;
    if (session_token_parse(token, sid) != ERR_OK)
        return refresh_refused(r, from_cookie, EV_REFUSED, "invalid refresh token");
    /* The account is read before the token rotates: a demoted admin's next
     * token carries the new role, a deleted account's sessions end, and a
     * database failure leaves the presented token good for a retry. */
    rc = store_session_user(service_work(r), sid, &uid);
    if (rc == ERR_NOT_FOUND)
        return refresh_refused(r, from_cookie, EV_REFUSED, "invalid refresh token");
    if (rc)
        return rc;
    rc = store_user_get(service_work(r), uid, &u);
    if (rc == ERR_NOT_FOUND) {
        rc = store_session_delete_all(service_work(r), uid);
        if (rc)
            return rc;
        rlog_warn(r, "refresh for user %lld, who no longer exists: sessions ended", (long long)uid);
        return refresh_refused(r, from_cookie, EV_USER_GONE, "invalid refresh token");
    }
    if (rc)
        return rc;
    session_token_hash(token, hash);
    session_token_rotate(sid, next);
    session_token_hash(next, next_hash);
    rc = store_session_refresh(service_work(r), sid, hash, next_hash, users_cfg.session_ttl_s,
                               users_cfg.reuse_grace_s, &outcome, &s);
    if (rc)
        return rc;
    switch (outcome) {
    case SESSION_ROTATED:
        metrics_add(&events[EV_ROTATED], 1);
        s.role = u->role;
        return session_reply(r, 200, &s, next);
    case SESSION_REUSED:
        rlog_warn(r, "a rotated refresh token came back: session %s of user %lld revoked", sid,
                  (long long)s.user_id);
        return refresh_refused(r, from_cookie, EV_REUSED, "refresh token reused, session revoked");
    case SESSION_RACED:
        return refresh_refused(r, from_cookie, EV_RACED, "refresh token already used");
    default:
        return refresh_refused(r, from_cookie, EV_REFUSED, "invalid refresh token");
    }
}

/* GET /api/v2/sessions: the caller's sessions; "current" is the one the
 * access token was issued for (none for a v1 token). */
int
session_list(struct req *r)
{
    struct session *s;
    json_t         *items;
    size_t          i, n;
    int             rc;

    rc = store_session_list(service_work(r), r->user.user_id, &s, &n);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:s,s:o,s:o,s:o,s:s,s:b}", "id", s[i].id, "created_at",
                             time_json(s[i].created), "last_used_at", time_json(s[i].last_used),
                             "expires_at", time_json(s[i].expires), "user_agent", s[i].user_agent,
                             "current", strcmp(s[i].id, r->user.sid) == 0));
    return req_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* DELETE /api/v2/sessions/{id}: sign one of the caller's sessions out.
 * Someone else's session is as absent as one that never was. */
int
session_delete(struct req *r)
{
    const char *sid = req_param(r, "id");
    int         rc;

    if (sid == NULL || !session_id_ok(sid))
        return req_fail(r, ERR_NOT_FOUND, "session not found");
    rc = store_session_delete(service_work(r), r->user.user_id, sid);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "session not found");
    if (rc)
        return rc;
    metrics_add(&events[EV_SIGNED_OUT], 1);
    if (strcmp(sid, r->user.sid) == 0)
        req_set_header(r, "Set-Cookie", session_cookie(r->arena, "", 0, users_cfg.cookie_secure));
    return req_reply(r, 204, NULL);
}

/* DELETE /api/v2/sessions: sign out everywhere. */
int
session_delete_all(struct req *r)
{
    int rc;

    rc = store_session_delete_all(service_work(r), r->user.user_id);
    if (rc)
        return rc;
    metrics_add(&events[EV_SIGNED_OUT_ALL], 1);
    req_set_header(r, "Set-Cookie", session_cookie(r->arena, "", 0, users_cfg.cookie_secure));
    return req_reply(r, 204, NULL);
}

/* GET /ready: the sessions' Redis answers. */
int
ready_redis(struct req *r)
{
    return store_session_ping(service_work(r));
}
