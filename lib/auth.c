/*
 * auth.c - JWT HS256 tokens and Argon2id passwords (libsodium).
 * libjwt signs. It does not verify: 1.10 takes the algorithm from the
 * token's own header (historically accepting "none"), compares MACs with
 * strcmp (a timing oracle) and costs ~21 us per token through OpenSSL 3.
 * Verification here pins HS256 from a header we parse ourselves, checks the
 * MAC in constant time with libsodium, then the claims: ~5 us per token.
 */
#include <assert.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth.h"
#include "str.h"

#define AUTH_TOKEN_MAX   4096 /* bytes; a longer Authorization value is not ours */
#define AUTH_IAT_SKEW    300  /* seconds a peer's clock may run ahead */
#define AUTH_ISSUER      "souk"
#define AUTH_MAC_LEN     crypto_auth_hmacsha256_BYTES
#define AUTH_OPS_DEFAULT 2
#define AUTH_MEM_DEFAULT (19u << 20) /* 19 MiB, the OWASP Argon2id baseline */

_Static_assert(crypto_pwhash_STRBYTES <= AUTH_HASH_MAX, "AUTH_HASH_MAX too small");

static const char *const role_names[] = {
    [AUTH_NONE] = "none",
    [AUTH_CUSTOMER] = "customer",
    [AUTH_ADMIN] = "admin",
};

int
auth_init(void)
{
    return sodium_init() < 0 ? ERR_INTERNAL : ERR_OK;
}

const char *
auth_role_name(enum auth_role r)
{
    return r == AUTH_CUSTOMER || r == AUTH_ADMIN ? role_names[r] : role_names[AUTH_NONE];
}

enum auth_role
auth_role_parse(const char *z)
{
    if (z != NULL && strcmp(z, role_names[AUTH_CUSTOMER]) == 0)
        return AUTH_CUSTOMER;
    if (z != NULL && strcmp(z, role_names[AUTH_ADMIN]) == 0)
        return AUTH_ADMIN;
    return AUTH_NONE;
}

/* A sid claim: 1..AUTH_SID_MAX bytes of base64url's alphabet, so it can sit
 * in a key, a path or a log line as it is. */
static int
sid_ok(const char *z, size_t n)
{
    size_t i;

    if (n == 0 || n > AUTH_SID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'z') ||
              (z[i] >= 'A' && z[i] <= 'Z') || z[i] == '-' || z[i] == '_'))
            return 0;
    return 1;
}

int
auth_token_issue(const char *secret, int64_t user_id, enum auth_role role, int64_t now, int64_t ttl,
                 struct arena *a, char **token)
{
    return auth_token_issue_sid(secret, user_id, role, NULL, now, ttl, a, token);
}

int
auth_token_issue_sid(const char *secret, int64_t user_id, enum auth_role role, const char *sid,
                     int64_t now, int64_t ttl, struct arena *a, char **token)
{
    jwt_t *jwt = NULL;
    char  *s = NULL;
    char   sub[24];
    size_t klen;
    int    rc = ERR_INTERNAL;

    *token = NULL;
    klen = secret != NULL ? strlen(secret) : 0;
    if (klen == 0 || klen > INT32_MAX || user_id <= 0 ||
        (role != AUTH_CUSTOMER && role != AUTH_ADMIN) || ttl <= 0 || now > INT64_MAX - ttl ||
        (sid != NULL && !sid_ok(sid, strlen(sid))))
        goto done;
    snprintf(sub, sizeof(sub), "%lld", (long long)user_id);
    if (jwt_new(&jwt) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)klen) != 0 ||
        jwt_add_grant(jwt, "sub", sub) != 0 ||
        jwt_add_grant(jwt, "role", auth_role_name(role)) != 0 ||
        jwt_add_grant(jwt, "iss", AUTH_ISSUER) != 0 || jwt_add_grant_int(jwt, "iat", now) != 0 ||
        jwt_add_grant_int(jwt, "exp", now + ttl) != 0 ||
        (sid != NULL && jwt_add_grant(jwt, "sid", sid) != 0))
        goto done;
    s = jwt_encode_str(jwt);
    if (s == NULL)
        goto done;
    *token = arena_strdup(a, s);
    rc = ERR_OK;
done:
    free(s);
    jwt_free(jwt);
    return rc;
}

/* The three dot-separated segments of a compact JWS. */
struct segments {
    struct str head, body, sig;
    size_t     signed_len; /* bytes of "head.body", the MAC input */
};

static int
split_token(const char *token, struct segments *sg)
{
    const char *dot1, *dot2;
    size_t      n;

    n = strnlen(token, AUTH_TOKEN_MAX + 1);
    if (n == 0 || n > AUTH_TOKEN_MAX)
        return ERR_UNAUTHORIZED;
    dot1 = memchr(token, '.', n);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)) != NULL)
        return ERR_UNAUTHORIZED;
    sg->head = (struct str){token, (size_t)(dot1 - token)};
    sg->body = (struct str){dot1 + 1, (size_t)(dot2 - dot1 - 1)};
    sg->sig = (struct str){dot2 + 1, n - (size_t)(dot2 + 1 - token)};
    sg->signed_len = (size_t)(dot2 - token);
    /* An empty signature is left to check_mac so "alg":"none" is named as such. */
    if (sg->head.len == 0 || sg->body.len == 0)
        return ERR_UNAUTHORIZED;
    return ERR_OK;
}

/* Strict base64url without padding (libsodium rejects non-canonical tails). */
static int
b64url_decode(struct str s, unsigned char *out, size_t max, size_t *len)
{
    int r;

    r = sodium_base642bin(out, max, s.p, s.len, NULL, len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return r == 0 ? ERR_OK : ERR_UNAUTHORIZED;
}

/* A JSON object from a base64url segment; NULL when it is not one. Duplicate
 * keys are refused so no two parsers can read different claims. */
static json_t *
b64url_json(struct str s)
{
    unsigned char bin[AUTH_TOKEN_MAX];
    size_t        len;
    json_t       *j;

    if (b64url_decode(s, bin, sizeof(bin), &len) != ERR_OK)
        return NULL;
    j = json_loadb((const char *)bin, len, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int
check_header(json_t *head, const char **why)
{
    json_t *alg = json_object_get(head, "alg");
    json_t *typ = json_object_get(head, "typ");

    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) {
        *why = "unsupported token algorithm";
        return ERR_UNAUTHORIZED;
    }
    /* RFC 7515 §4.1.11: extensions we do not understand must be refused. */
    if ((typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0)) ||
        json_object_get(head, "crit") != NULL) {
        *why = "unsupported token header";
        return ERR_UNAUTHORIZED;
    }
    return ERR_OK;
}

static int
check_mac(const char *secret, const char *token, const struct segments *sg, const char **why)
{
    unsigned char                want[AUTH_MAC_LEN], got[128];
    size_t                       len;
    crypto_auth_hmacsha256_state st;
    int                          rc = ERR_OK;

    if (b64url_decode(sg->sig, got, sizeof(got), &len) != ERR_OK) {
        *why = "malformed token";
        return ERR_UNAUTHORIZED;
    }
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, sg->signed_len);
    crypto_auth_hmacsha256_final(&st, want);
    if (len != AUTH_MAC_LEN || sodium_memcmp(want, got, AUTH_MAC_LEN) != 0) {
        *why = "invalid token signature";
        rc = ERR_UNAUTHORIZED;
    }
    sodium_memzero(&st, sizeof(st));
    return rc;
}

/* sub must be a canonical positive decimal: "7", not "07", "+7" or "7.0". */
static int
parse_sub(json_t *sub, int64_t *id)
{
    const char *z;

    if (!json_is_string(sub))
        return ERR_UNAUTHORIZED;
    z = json_string_value(sub);
    if (z[0] == '0' || str_z_to_i64(z, 1, INT64_MAX, id) != ERR_OK)
        return ERR_UNAUTHORIZED;
    return ERR_OK;
}

static int
check_claims(json_t *c, int64_t now, struct auth_claims *out, const char **why)
{
    json_t *iss = json_object_get(c, "iss");
    json_t *iat = json_object_get(c, "iat");
    json_t *exp = json_object_get(c, "exp");
    json_t *role = json_object_get(c, "role");
    json_t *sid = json_object_get(c, "sid");

    if (!json_is_string(iss) || strcmp(json_string_value(iss), AUTH_ISSUER) != 0)
        *why = "invalid token issuer";
    else if (parse_sub(json_object_get(c, "sub"), &out->user_id) != ERR_OK)
        *why = "invalid token subject";
    else if (!json_is_string(role) || auth_role_parse(json_string_value(role)) == AUTH_NONE)
        *why = "invalid token role";
    else if (!json_is_integer(iat) || !json_is_integer(exp))
        *why = "invalid token times";
    else if (json_integer_value(exp) <= now)
        *why = "token expired";
    else if (json_integer_value(iat) > now + AUTH_IAT_SKEW)
        *why = "token issued in the future";
    else if (sid != NULL &&
             (!json_is_string(sid) || !sid_ok(json_string_value(sid), json_string_length(sid))))
        *why = "invalid token session";
    else
        *why = NULL;
    if (*why != NULL)
        return ERR_UNAUTHORIZED;
    out->role = auth_role_parse(json_string_value(role));
    out->iat = json_integer_value(iat);
    out->exp = json_integer_value(exp);
    if (sid != NULL)
        memcpy(out->sid, json_string_value(sid), json_string_length(sid) + 1);
    return ERR_OK;
}

int
auth_token_verify(const char *secret, const char *token, int64_t now, struct auth_claims *out,
                  char *detail, size_t detail_len)
{
    struct segments    sg;
    struct auth_claims c = {0};
    json_t            *head = NULL, *claims = NULL;
    const char        *why = "malformed token";
    int                rc;

    memset(out, 0, sizeof(*out));
    if (secret == NULL || secret[0] == '\0' || strlen(secret) > INT32_MAX) {
        why = "token verification is not configured";
        rc = ERR_INTERNAL;
        goto done;
    }
    rc = token != NULL ? split_token(token, &sg) : ERR_UNAUTHORIZED;
    if (rc)
        goto done;
    head = b64url_json(sg.head);
    rc = head != NULL ? check_header(head, &why) : ERR_UNAUTHORIZED;
    if (rc)
        goto done;
    /* The MAC is checked before the claims are parsed: the payload parser
     * only ever sees bytes signed with our secret. */
    rc = check_mac(secret, token, &sg, &why);
    if (rc)
        goto done;
    claims = b64url_json(sg.body);
    rc = claims != NULL ? ERR_OK : ERR_UNAUTHORIZED;
    if (rc)
        goto done;
    rc = check_claims(claims, now, &c, &why);
    if (rc)
        goto done;
    *out = c;
done:
    if (rc && detail != NULL && detail_len > 0)
        snprintf(detail, detail_len, "%s", why);
    json_decref(claims);
    json_decref(head);
    return rc;
}

int
auth_password_hash(const char *password, uint64_t opslimit, uint64_t memlimit,
                   char out[AUTH_HASH_MAX])
{
    int r;

    out[0] = '\0';
    if (password == NULL)
        return ERR_INTERNAL;
    r = crypto_pwhash_str_alg(
        out, password, strlen(password), opslimit ? opslimit : AUTH_OPS_DEFAULT,
        memlimit ? (size_t)memlimit : AUTH_MEM_DEFAULT, crypto_pwhash_ALG_ARGON2ID13);
    return r == 0 ? ERR_OK : ERR_INTERNAL;
}

int
auth_password_verify(const char *hash, const char *password)
{
    if (hash == NULL || password == NULL)
        return ERR_LOGIN_FAILED;
    /* The stored string carries its own salt and cost; a hash that is not
     * a well-formed Argon2 string simply does not match. */
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return ERR_LOGIN_FAILED;
    return ERR_OK;
}

void
auth_hmac_hex(const char *key, const void *msg, size_t n, char out[65])
{
    unsigned char                mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, msg, n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

void
auth_sha256_hex(const void *msg, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, msg, n);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

void
auth_random_b64url(size_t n, char *out)
{
    unsigned char b[256];

    assert(n <= sizeof(b));
    randombytes_buf(b, n);
    sodium_bin2base64(out, AUTH_B64URL_LEN(n) + 1, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void
auth_random_hex(size_t n, char *out)
{
    unsigned char b[256];

    assert(n <= sizeof(b));
    randombytes_buf(b, n);
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

int
auth_secret_check(const char *secret, const char *listen)
{
    static const char *const loopback[] = {"127.", "localhost:", "[::1]:"};
    size_t                   i;

    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        if (strncmp(listen, loopback[i], strlen(loopback[i])) == 0)
            return ERR_OK;
    if (strcmp(secret, AUTH_DEV_SECRET) == 0 || strlen(secret) < 32)
        return ERR_INVALID;
    return ERR_OK;
}
