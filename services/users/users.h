/*
 * users.h - the users service's structs and cross-file prototypes.
 * api.c decodes and encodes JSON, users.c is pure logic (email
 * normalisation, client address, login-throttle window arithmetic),
 * store.c holds every SQL statement, events.c the events written to the
 * outbox (user.registered, user.address_changed).
 */
#ifndef SOUK_USERS_H
#define SOUK_USERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "event.h"
#include "req.h"
#include "service.h"

struct kv;
struct mq;

struct users_config {
    struct service_config svc;     /* SOUK_LISTEN, SOUK_USERS_DB, SOUK_AMQP_URL, ... */
    int64_t               jwt_ttl; /* seconds */
    int64_t               argon2_ops, argon2_mem_kib;
    int64_t               login_max_failures;    /* per account within the window */
    int64_t               login_ip_max_failures; /* per client address within the window */
    int64_t               login_window_s;
    const char           *redis_url;     /* redis://host:port/db: the v2 sessions */
    int64_t               session_ttl_s; /* a session's sliding lifetime */
    int64_t               access_ttl_s;  /* a v2 access token's lifetime */
    int64_t               session_max;   /* sessions per user; the nearest to expiry go first */
    int64_t               reuse_grace_s; /* see session_refresh in api_session.c */
    int                   cookie_secure; /* add "Secure" to the refresh cookie */
};

/* What every handler thread owns (service_ext): a Redis connection for the
 * sessions, opened on first use. */
struct users_worker {
    struct kv *kv;
};

extern struct users_config users_cfg; /* read-only after main() */

#define USERS_EMAIL_MAX 254      /* bytes, as the monolith's column */
#define USERS_IP_MAX    45       /* bytes of an IPv6 literal in text form */
#define USERS_IP_NONE   "direct" /* the address key when no usable X-Forwarded-For came */

/* Throttle keys: "a:" + a digest of the normalised email (the table holds no
 * typed emails), "ip:" + the client address. */
#define THROTTLE_KEY_ACCOUNT "a:"
#define THROTTLE_KEY_IP      "ip:"

struct address {
    const char *line1, *line2, *city, *postal_code, *country;
};

struct user {
    int64_t         id;
    const char     *email, *name, *role, *created_at;
    struct address *address; /* NULL when none */
};

/* One throttle row as the database holds it: failures counted since
 * window_start (a fixed window that opens at the first failure). No row is
 * failures = 0. Times are the database's clock, so replicas agree. */
struct throttle_state {
    int64_t failures;
    int64_t window_start_ms; /* Unix ms */
};

/* ---- v2 sessions (session.c, store_session.c, api_session.c) ---- */

#define SESSION_ID_LEN     32 /* 128 random bits as lower-case hex */
#define SESSION_SECRET_LEN 43 /* 256 random bits as base64url without padding */
/* A refresh token is "<session id>.<secret>": the id says which session to
 * look at, the secret proves the holder was given it. */
#define SESSION_TOKEN_LEN   (SESSION_ID_LEN + 1 + SESSION_SECRET_LEN)
#define SESSION_HASH_LEN    64  /* SHA-256 hex of a token: all Redis ever holds */
#define SESSION_UA_MAX      256 /* bytes of User-Agent kept with a session */
#define SESSION_COOKIE      "souk_refresh"
#define SESSION_COOKIE_PATH "/api/v2/sessions"

/* One session as Redis holds it; times are Unix seconds of Redis' clock. */
struct session {
    const char *id;
    int64_t     user_id;
    const char *role;       /* the account's: at sign-in, then PostgreSQL's at refresh */
    const char *user_agent; /* "" when none was sent */
    int64_t     created, last_used, expires;
};

/* What a refresh came to (store_session_refresh). */
enum session_refresh {
    SESSION_ROTATED, /* the token was current: a new one replaces it */
    SESSION_UNKNOWN, /* no such session (never, expired or revoked), or not its token */
    SESSION_REUSED,  /* a token rotated before: the session is revoked now */
    SESSION_RACED,   /* the token rotated within the grace period: refused, session kept */
};

/* session.c: pure logic (plus the CSPRNG for new tokens) */
/* A new session id and its first refresh token (NUL-terminated). */
void session_token_new(char sid[SESSION_ID_LEN + 1], char token[SESSION_TOKEN_LEN + 1]);
/* A fresh token for the session sid (a rotation). */
void session_token_rotate(const char *sid, char token[SESSION_TOKEN_LEN + 1]);
/* ERR_OK and the session id in sid when token has the refresh-token shape;
 * ERR_UNAUTHORIZED otherwise (the caller's answer for any bad token). */
MUST_CHECK int session_token_parse(const char *token, char sid[SESSION_ID_LEN + 1]);
/* 1 when z is a session id (SESSION_ID_LEN lower-case hex digits). */
int session_id_ok(const char *z);
/* The digest Redis keeps in place of token. */
void session_token_hash(const char *token, char out[SESSION_HASH_LEN + 1]);
/* The souk_refresh value of a Cookie header (may be NULL) into out: 1 when
 * one with the token's shape is there, else 0. */
int session_cookie_find(const char *header, char out[SESSION_TOKEN_LEN + 1]);
/* The Set-Cookie value carrying token for max_age seconds (token "" and
 * max_age 0 clear it), in a. */
const char *session_cookie(struct arena *a, const char *token, int64_t max_age, int secure);
/* A User-Agent as kept: at most SESSION_UA_MAX bytes, bytes outside
 * printable ASCII as '?',
 * "" for NULL; in a. */
const char *session_user_agent(struct arena *a, const char *ua);
/* Unix seconds as RFC 3339 UTC ("2026-01-31T12:00:00Z") into out. */
void session_time(int64_t t, char out[32]);

/* store_session.c: every Redis command of the sessions. Errors are kv.h's
 * (ERR_UNAVAILABLE when Redis cannot be reached). */
/* Store a new session for user_id under token_hash with a ttl_s lifetime,
 * index it under the user, and drop the user's oldest sessions beyond max.
 * Fills created and expires of s (whose id, user_id, role, user_agent are
 * set). */
MUST_CHECK int store_session_create(struct work *w, struct session *s, const char *token_hash,
                                    int64_t ttl_s, int64_t max);
/* Atomically: when hash is the session's current token, make new_hash the
 * current one, slide the TTL to ttl_s and say SESSION_ROTATED with *s filled;
 * otherwise one of the other outcomes (SESSION_REUSED has deleted the
 * session; s->user_id is set for the log). */
MUST_CHECK int store_session_refresh(struct work *w, const char *sid, const char *hash,
                                     const char *new_hash, int64_t ttl_s, int64_t grace_s,
                                     enum session_refresh *out, struct session *s);
/* The user of session sid; ERR_NOT_FOUND when there is no such session. */
MUST_CHECK int store_session_user(struct work *w, const char *sid, int64_t *user_id);
/* The user's live sessions, most recently used first (the index is pruned
 * of ended ones on the way). */
MUST_CHECK int store_session_list(struct work *w, int64_t user_id, struct session **out, size_t *n);
/* Delete the user's session sid; ERR_NOT_FOUND when the user has none such. */
MUST_CHECK int store_session_delete(struct work *w, int64_t user_id, const char *sid);
/* Delete every session of the user. */
MUST_CHECK int store_session_delete_all(struct work *w, int64_t user_id);
/* Redis answers (for /ready). */
MUST_CHECK int store_session_ping(struct work *w);

/* users.c: pure logic */
/* The email lower-cased (ASCII, as the monolith) into a, or ERR_INVALID when
 * it is not plausibly an address: one '@' with text on both sides, a '.'
 * after it, no control bytes, spaces or DEL. */
MUST_CHECK int users_email_normalise(struct arena *a, const char *in, const char **out);
/* The client address for per-address throttling from X-Forwarded-For (may
 * be NULL): its last entry, the one the gateway appended (earlier entries
 * are whatever the client sent), lower-cased; USERS_IP_NONE when the header
 * is absent or that entry is not an IP literal. In a. */
const char *users_client_ip(struct arena *a, const char *xff);
/* 1 when the window of s has ended at now_ms (start + window <= now): the
 * next failure opens a new window. The store's upsert uses the same rule. */
int throttle_expired(const struct throttle_state *s, int64_t window_ms, int64_t now_ms);
/* 0 when another attempt is allowed; otherwise the seconds (>= 1, rounded
 * up) until the window ends, for Retry-After. Blocked means max_failures or
 * more failures inside a window that has not ended. */
int64_t throttle_wait(const struct throttle_state *s, int64_t max_failures, int64_t window_ms,
                      int64_t now_ms);

/* store.c: every SQL statement. Errors are db.h's. */
extern const struct db_stmt users_stmts[];
/* Insert the user and write user.registered, one transaction.
 * ERR_DUPLICATE when the email (case-insensitively) is taken. */
MUST_CHECK int store_user_create(struct work *w, const char *email, const char *hash,
                                 const char *name, struct user **out);
/* ERR_NOT_FOUND when no account has this (normalised) email. */
MUST_CHECK int store_user_by_email(struct work *w, const char *email, struct user **out,
                                   const char **hash);
MUST_CHECK int store_user_get(struct work *w, int64_t id, struct user **out);
/* Create or replace the address and write user.address_changed, one
 * transaction. ERR_NOT_FOUND when user_id names no account. */
MUST_CHECK int store_address_put(struct work *w, int64_t user_id, const struct address *a);
/* Both throttle rows (key NULL: none) and the database's clock. */
MUST_CHECK int store_throttle_get(struct work *w, const char *account, const char *ip,
                                  struct throttle_state *acct, struct throttle_state *addr,
                                  int64_t *now_ms);
/* Count one failure against each non-NULL key (a new window when the old one
 * ended); now and then sweep rows whose window ended long ago. */
MUST_CHECK int store_throttle_fail(struct work *w, const char *account, const char *ip,
                                   int64_t window_ms);
/* Forget the account's failures (a successful login). */
MUST_CHECK int store_throttle_reset(struct work *w, const char *account);

/* events.c: payloads into the outbox, inside the transaction open on w->db. */
MUST_CHECK int events_user_registered(struct work *w, const struct user *u);
MUST_CHECK int events_address_changed(struct work *w, int64_t user_id, const struct address *a,
                                      int64_t version);

/* api.c */
json_t *api_address(const struct address *a);
json_t *api_user(const struct user *u);
/* The v1 login's checks on r's body (decode, throttle, one Argon2id
 * verification, the same answers for every failure), shared by v1 login and
 * v2 session creation: ERR_OK with the account, or a failure already
 * recorded with req_fail. */
MUST_CHECK int account_authenticate(struct req *r, struct user **out);
int            account_register(struct req *r);
int            account_login(struct req *r);
int            account_me(struct req *r);
int            account_address_put(struct req *r);

/* api_session.c: the v2 sessions */
/* The sessions' counters on GET /metrics; once, before serving. */
void session_metrics_register(void);
int  session_create(struct req *r);
int  session_refresh(struct req *r);
int  session_list(struct req *r);
int  session_delete(struct req *r);
int  session_delete_all(struct req *r);
int  ready_redis(struct req *r);

#endif
