/*
 * auth.h - identity per DESIGN.md §6: JWT HS256 tokens with claims sub (user
 * id as a string), role ("customer" | "admin"), iat, exp and iss = "souk";
 * Argon2id password hashes (libsodium). Every process verifies tokens itself
 * through this module.
 */
#ifndef SOUK_AUTH_H
#define SOUK_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;

enum auth_role { AUTH_NONE = 0, AUTH_CUSTOMER, AUTH_ADMIN };

#define AUTH_SID_MAX 64 /* bytes of a session id claim */

struct auth_claims {
    int64_t        user_id; /* sub, parsed; > 0 */
    enum auth_role role;
    int64_t        iat, exp;
    char           sid[AUTH_SID_MAX + 1]; /* the "sid" claim (users' v2 sessions); "" when absent */
};

#define AUTH_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */

/* The local-development default of SOUK_JWT_SECRET, shared by every process. */
#define AUTH_DEV_SECRET "souk-dev-secret-change-me"

/* ERR_OK when secret may sign tokens for a server listening on listen
 * ("host:port"): on loopback anything goes (local development); elsewhere the
 * dev default and secrets under 32 bytes are refused (ERR_INVALID), because
 * whoever knows the secret can mint admin tokens. */
MUST_CHECK int auth_secret_check(const char *secret, const char *listen);

/* Must be called once before threads start (sodium_init). ERR_INTERNAL on failure. */
MUST_CHECK int auth_init(void);

/* Sign a token for user_id with role, valid for ttl seconds from now; the
 * token string is allocated in a. ERR_INTERNAL if signing fails. */
MUST_CHECK int auth_token_issue(const char *secret, int64_t user_id, enum auth_role role,
                                int64_t now, int64_t ttl, struct arena *a, char **token);

/* As auth_token_issue, plus a "sid" claim naming the session the token was
 * issued for (1..AUTH_SID_MAX bytes of [A-Za-z0-9_-]; NULL: no claim, exactly
 * auth_token_issue). ERR_INTERNAL as auth_token_issue, or for a bad sid. */
MUST_CHECK int auth_token_issue_sid(const char *secret, int64_t user_id, enum auth_role role,
                                    const char *sid, int64_t now, int64_t ttl, struct arena *a,
                                    char **token);

/* Verify token (signature with HS256 only, iss, exp, iat, sub, role) at time
 * now. ERR_UNAUTHORIZED with a short reason in detail for any defect: wrong
 * secret, alg other than HS256 (including "none"), expired, malformed, a
 * "sid" that is not a string of 1..AUTH_SID_MAX bytes of [A-Za-z0-9_-]. */
MUST_CHECK int auth_token_verify(const char *secret, const char *token, int64_t now,
                                 struct auth_claims *out, char *detail, size_t detail_len);

/* "customer" / "admin" and back (AUTH_NONE for anything else). */
const char    *auth_role_name(enum auth_role r);
enum auth_role auth_role_parse(const char *z);

/* Argon2id hash of password into out (NUL-terminated, encoded with its
 * parameters). opslimit/memlimit 0 mean the defaults (t=2, m=19 MiB).
 * ERR_INTERNAL on failure (out of memory). */
MUST_CHECK int auth_password_hash(const char *password, uint64_t opslimit, uint64_t memlimit,
                                  char out[AUTH_HASH_MAX]);
/* HMAC-SHA256 of n bytes at msg under key, as 64 lower-case hex digits and a
 * NUL in out. For fingerprints of secrets (a card number behind an
 * idempotency key) that must not be reversible by whoever reads the database. */
void auth_hmac_hex(const char *key, const void *msg, size_t n, char out[65]);

/* SHA-256 of n bytes at msg as 64 lower-case hex digits and a NUL: the
 * digest stored in place of a random secret (a refresh token), where the
 * secret's own entropy makes a key unnecessary. */
void auth_sha256_hex(const void *msg, size_t n, char out[65]);
/* n random bytes (from the kernel's CSPRNG, via libsodium) as base64url
 * without padding into out, which holds at least AUTH_B64URL_LEN(n) + 1
 * bytes; NUL-terminated. */
#define AUTH_B64URL_LEN(n) (((n)*4 + 2) / 3)
void auth_random_b64url(size_t n, char *out);
/* n random bytes as 2n lower-case hex digits and a NUL into out. */
void auth_random_hex(size_t n, char *out);

/* ERR_OK when password matches hash, ERR_LOGIN_FAILED otherwise. Constant time
 * with respect to the password. */
MUST_CHECK int auth_password_verify(const char *hash, const char *password);

#endif
