/*
 * api.c - the v1 accounts API, the same shapes and answers as the monolith's
 * (monolith/api_accounts.c): register, login, me and the shipping address.
 * Login answers the same "invalid email or password" for an unknown email
 * and a wrong password and spends the same Argon2id time on both; on top of
 * the monolith it throttles failures per account and per client address
 * (answered 429 before any Argon2id work, the same for known and unknown
 * emails).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "mq.h"
#include "users.h"

struct credentials {
    const char *email, *password, *name;
};

/* The monolith's limits, field for field. */
static const struct decode_field register_fields[] = {
    {"email", DECODE_STR, offsetof(struct credentials, email), 1, 3, USERS_EMAIL_MAX, 0},
    {"password", DECODE_STR, offsetof(struct credentials, password), 1, 8, 128, 0},
    {"name", DECODE_STR, offsetof(struct credentials, name), 1, 1, 200, 0},
    {NULL},
};

static const struct decode_field login_fields[] = {
    {"email", DECODE_STR, offsetof(struct credentials, email), 1, 1, USERS_EMAIL_MAX, 0},
    {"password", DECODE_STR, offsetof(struct credentials, password), 1, 1, 128, 0},
    {NULL},
};

static const struct decode_field address_fields[] = {
    {"line1", DECODE_STR, offsetof(struct address, line1), 1, 1, 200, 0},
    {"line2", DECODE_STR, offsetof(struct address, line2), 0, 0, 200, 1},
    {"city", DECODE_STR, offsetof(struct address, city), 1, 1, 100, 0},
    {"postal_code", DECODE_STR, offsetof(struct address, postal_code), 1, 1, 20, 0},
    {"country", DECODE_STR, offsetof(struct address, country), 1, 2, 2, 0},
    {NULL},
};

json_t *
api_address(const struct address *a)
{
    if (a == NULL || a->line1 == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "line1", a->line1, "line2", a->line2 ? a->line2 : "",
                     "city", a->city, "postal_code", a->postal_code, "country", a->country);
}

json_t *
api_user(const struct user *u)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)u->id, "email", u->email,
                     "name", u->name, "role", u->role, "created_at", u->created_at,
                     "shipping_address", api_address(u->address));
}

static uint64_t
argon2_mem(void)
{
    return (uint64_t)users_cfg.argon2_mem_kib * 1024;
}

/* POST /api/v1/accounts/register */
int
account_register(struct req *r)
{
    struct credentials in = {0};
    struct user       *u;
    char               hash[AUTH_HASH_MAX];
    json_t            *body;
    int                rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, register_fields, &in, NULL);
    if (rc)
        return rc;
    rc = users_email_normalise(r->arena, in.email, &in.email);
    if (rc)
        return req_fail(r, ERR_INVALID, "\"email\" must be an email address");
    rc = auth_password_hash(in.password, (uint64_t)users_cfg.argon2_ops, argon2_mem(), hash);
    if (rc)
        return req_fail(r, rc, "cannot hash password");
    rc = store_user_create(service_work(r), in.email, hash, in.name, &u);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, ERR_EMAIL_TAKEN, "an account with this email exists");
    if (rc)
        return rc;
    return req_reply(r, 201, api_user(u));
}

static char           dummy_hash[AUTH_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
    if (auth_password_hash("souk-timing-equaliser", (uint64_t)users_cfg.argon2_ops, argon2_mem(),
                           dummy_hash) != ERR_OK)
        dummy_hash[0] = '\0';
}

/* The two throttle keys of an attempt; account is NULL when the email is
 * not an address (no account can have it). */
struct attempt {
    const char *account, *ip;
};

static void
attempt_keys(struct req *r, const char *email, struct attempt *at)
{
    char digest[65];

    at->ip = arena_printf(r->arena, THROTTLE_KEY_IP "%s",
                          users_client_ip(r->arena, req_header(r, "X-Forwarded-For")));
    at->account = NULL;
    if (email == NULL)
        return;
    /* A digest, not the email: the table then holds no typed emails. */
    auth_hmac_hex("souk-login-throttle", email, strlen(email), digest);
    at->account = arena_printf(r->arena, THROTTLE_KEY_ACCOUNT "%s", digest);
}

/* ERR_OK when the attempt may go on; else 429 with Retry-After. Unknown and
 * known emails are counted alike, so the answer reveals nothing. */
static int
throttle_check(struct req *r, const struct attempt *at)
{
    struct throttle_state acct, addr;
    int64_t               now_ms, window_ms = users_cfg.login_window_s * 1000, wait, w;
    char                  secs[24];
    int                   rc;

    rc = store_throttle_get(service_work(r), at->account, at->ip, &acct, &addr, &now_ms);
    if (rc)
        return rc;
    wait = throttle_wait(&acct, users_cfg.login_max_failures, window_ms, now_ms);
    w = throttle_wait(&addr, users_cfg.login_ip_max_failures, window_ms, now_ms);
    if (w > wait)
        wait = w;
    if (wait == 0)
        return ERR_OK;
    snprintf(secs, sizeof(secs), "%lld", (long long)wait);
    req_set_header(r, "Retry-After", secs);
    return req_fail(r, ERR_TOO_MANY, "too many failed logins, retry in %lld s", (long long)wait);
}

/* Count the failure, then answer as the monolith does. */
static int
login_failed(struct req *r, const struct attempt *at)
{
    int rc;

    rc = store_throttle_fail(service_work(r), at->account, at->ip, users_cfg.login_window_s * 1000);
    if (rc)
        return rc;
    return req_fail(r, ERR_LOGIN_FAILED, "invalid email or password");
}

/* The account for in, or NULL, after one Argon2id verification either way. */
static int
login_check(struct req *r, const struct credentials *in, struct user **out)
{
    struct user *u = NULL;
    const char  *hash = NULL;
    int          rc;

    *out = NULL;
    rc = store_user_by_email(service_work(r), in->email, &u, &hash);
    if (rc && rc != ERR_NOT_FOUND)
        return rc;
    if (rc == ERR_NOT_FOUND) {
        /* Spend the same Argon2id time as a real check; the result is moot. */
        pthread_once(&dummy_once, dummy_init);
        rc = auth_password_verify(dummy_hash, in->password);
        (void)rc;
        return ERR_OK;
    }
    rc = auth_password_verify(hash, in->password);
    if (rc == ERR_OK)
        *out = u;
    return ERR_OK;
}

int
account_authenticate(struct req *r, struct user **out)
{
    struct credentials in = {0};
    struct attempt     at;
    struct user       *u;
    const char        *email;
    json_t            *body;
    int                rc;

    *out = NULL;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, login_fields, &in, NULL);
    if (rc)
        return rc;
    rc = users_email_normalise(r->arena, in.email, &email);
    attempt_keys(r, rc == ERR_OK ? email : NULL, &at);
    rc = throttle_check(r, &at);
    if (rc)
        return rc;
    if (at.account == NULL)
        return login_failed(r, &at);
    in.email = email;
    rc = login_check(r, &in, &u);
    if (rc)
        return rc;
    if (u == NULL)
        return login_failed(r, &at);
    /* Only the account's count: an attacker who owns one account must not be
     * able to clear the address count between guesses at others. */
    rc = store_throttle_reset(service_work(r), at.account);
    if (rc)
        rlog_warn(r, "resetting the login throttle failed: %s", err_name(rc));
    *out = u;
    return ERR_OK;
}

/* POST /api/v1/accounts/login */
int
account_login(struct req *r)
{
    struct user *u;
    char        *token;
    int          rc;

    rc = account_authenticate(r, &u);
    if (rc)
        return rc;
    rc = auth_token_issue(users_cfg.svc.jwt_secret, u->id, auth_role_parse(u->role), time(NULL),
                          users_cfg.jwt_ttl, r->arena, &token);
    if (rc)
        return req_fail(r, rc, "cannot issue token");
    return req_reply(r, 200,
                     json_pack("{s:s,s:s,s:I,s:o}", "token", token, "token_type", "Bearer",
                               "expires_in", (json_int_t)users_cfg.jwt_ttl, "user", api_user(u)));
}

/* GET /api/v1/accounts/me: the account of the token's sub, and no other. */
int
account_me(struct req *r)
{
    struct user *u;
    int          rc;

    rc = store_user_get(service_work(r), r->user.user_id, &u);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_user(u));
}

/* PUT /api/v1/accounts/me/address */
int
account_address_put(struct req *r)
{
    struct address a = {0};
    json_t        *body;
    int            rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, address_fields, &a, NULL);
    if (rc)
        return rc;
    if (a.line2 == NULL)
        a.line2 = "";
    if (a.country[0] < 'A' || a.country[0] > 'Z' || a.country[1] < 'A' || a.country[1] > 'Z')
        return req_fail(r, ERR_INVALID, "\"country\" must be an iso 3166-1 alpha-2 code");
    rc = store_address_put(service_work(r), r->user.user_id, &a);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_address(&a));
}
