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

struct mq;

struct users_config {
    struct service_config svc;     /* SOUK_LISTEN, SOUK_USERS_DB, SOUK_AMQP_URL, ... */
    int64_t               jwt_ttl; /* seconds */
    int64_t               argon2_ops, argon2_mem_kib;
    int64_t               login_max_failures;    /* per account within the window */
    int64_t               login_ip_max_failures; /* per client address within the window */
    int64_t               login_window_s;
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
int     account_register(struct req *r);
int     account_login(struct req *r);
int     account_me(struct req *r);
int     account_address_put(struct req *r);

#endif
