/*
 * api_accounts.c - register, login, me and the shipping address.
 * Login answers the same "invalid email or password" for an unknown email
 * and a wrong password, and spends the same Argon2id time on both, so the
 * API does not reveal which emails exist.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "monolith.h"

struct credentials {
    const char *email, *password, *name;
};

static const struct decode_field register_fields[] = {
    {"email", DECODE_STR, offsetof(struct credentials, email), 1, 3, 254, 0},
    {"password", DECODE_STR, offsetof(struct credentials, password), 1, 8, 128, 0},
    {"name", DECODE_STR, offsetof(struct credentials, name), 1, 1, 200, 0},
    {NULL},
};

static const struct decode_field login_fields[] = {
    {"email", DECODE_STR, offsetof(struct credentials, email), 1, 1, 254, 0},
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

/* Emails are compared lower-cased; a plausible shape is enough here (a
 * confirmation mail would be the real check). */
static int
email_normalise(struct req *r, const char *in, const char **out)
{
    char  *e = arena_strdup(r->arena, in);
    char  *at = strchr(e, '@');
    size_t i;

    if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return req_fail(r, ERR_INVALID, "\"email\" must be an email address");
    for (i = 0; e[i]; i++) {
        if ((unsigned char)e[i] <= ' ' || e[i] == 0x7f)
            return req_fail(r, ERR_INVALID, "\"email\" must be an email address");
        if (e[i] >= 'A' && e[i] <= 'Z')
            e[i] = (char)(e[i] + 32);
    }
    *out = e;
    return ERR_OK;
}

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
    rc = email_normalise(r, in.email, &in.email);
    if (rc)
        return rc;
    rc = auth_password_hash(in.password, (uint64_t)monolith.argon2_ops,
                            (uint64_t)monolith.argon2_mem_kib * 1024, hash);
    if (rc)
        return req_fail(r, rc, "cannot hash password");
    rc = store_user_create(r, in.email, hash, in.name, &u);
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
    if (auth_password_hash("souk-timing-equaliser", (uint64_t)monolith.argon2_ops,
                           (uint64_t)monolith.argon2_mem_kib * 1024, dummy_hash) != ERR_OK)
        dummy_hash[0] = '\0';
}

int
account_login(struct req *r)
{
    struct credentials in = {0};
    struct user       *u = NULL;
    const char        *hash = NULL;
    char              *token;
    json_t            *body;
    int                rc;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, login_fields, &in, NULL);
    if (rc)
        return rc;
    rc = email_normalise(r, in.email, &in.email);
    if (rc)
        return req_fail(r, ERR_LOGIN_FAILED, "invalid email or password");
    rc = store_user_by_email(r, in.email, &u, &hash);
    if (rc && rc != ERR_NOT_FOUND)
        return rc;
    if (rc == ERR_NOT_FOUND) {
        /* Spend the same Argon2id time as a real check; the result is moot. */
        pthread_once(&dummy_once, dummy_init);
        rc = auth_password_verify(dummy_hash, in.password);
        return req_fail(r, ERR_LOGIN_FAILED, "invalid email or password");
    }
    rc = auth_password_verify(hash, in.password);
    if (rc)
        return req_fail(r, ERR_LOGIN_FAILED, "invalid email or password");
    rc = auth_token_issue(monolith.svc.jwt_secret, u->id, auth_role_parse(u->role), time(NULL),
                          monolith.jwt_ttl, r->arena, &token);
    if (rc)
        return req_fail(r, rc, "cannot issue token");
    return req_reply(r, 200,
                     json_pack("{s:s,s:s,s:I,s:o}", "token", token, "token_type", "Bearer",
                               "expires_in", (json_int_t)monolith.jwt_ttl, "user", api_user(u)));
}

int
account_me(struct req *r)
{
    struct user *u;
    int          rc;

    rc = store_user_get(r, r->user.user_id, &u);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_user(u));
}

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
    rc = store_address_put(r, r->user.user_id, &a);
    if (rc == ERR_CONFLICT || rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc)
        return rc;
    return req_reply(r, 200, api_address(&a));
}
