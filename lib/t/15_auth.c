/*
 * 15_auth.c - tokens and passwords. Hostile tokens are built by hand (our
 * own base64url and HMAC) so each one differs from a good token in exactly
 * one way: algorithm, signature, shape or one claim.
 */
#include <jwt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth.h"
#include "t.h"

#define SECRET "test-secret"
#define NOW    1700000000LL

static char *
b64url(struct arena *a, const char *p, size_t n)
{
    size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char  *s = arena_alloc(a, len);

    return sodium_bin2base64(s, len, (const unsigned char *)p, n,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload signed with HS256 under secret (NULL: no signature). */
static char *
craft(struct arena *a, const char *secret, const char *header, const char *payload)
{
    unsigned char                mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char                        *signing;

    signing = arena_printf(a, "%s.%s", b64url(a, header, strlen(header)),
                           b64url(a, payload, strlen(payload)));
    if (secret == NULL)
        return arena_printf(a, "%s.", signing);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    return arena_printf(a, "%s.%s", signing, b64url(a, (const char *)mac, sizeof(mac)));
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS(sub, role, iat, exp, iss)                                                           \
    "{\"sub\":" sub ",\"role\":" role ",\"iat\":" iat ",\"exp\":" exp ",\"iss\":" iss "}"
#define GOOD CLAIMS("\"42\"", "\"customer\"", "1700000000", "1700003600", "\"souk\"")
/* GOOD plus a sid claim. */
#define WITH_SID(sid)                                                                              \
    "{\"sub\":\"42\",\"role\":\"customer\",\"iat\":1700000000,\"exp\":1700003600,"                 \
    "\"iss\":\"souk\",\"sid\":" sid "}"

static const struct {
    const char *name, *header, *payload, *secret;
    const char *detail; /* NULL = accepted */
} crafted[] = {
    {"hand-made good token", HS256, GOOD, SECRET, NULL},
    {"header without typ", "{\"alg\":\"HS256\"}", GOOD, SECRET, NULL},
    {"admin role", HS256, CLAIMS("\"1\"", "\"admin\"", "1700000000", "1700000001", "\"souk\""),
     SECRET, NULL},
    {"alg none unsigned", "{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD, NULL,
     "unsupported token algorithm"},
    {"alg none with a MAC", "{\"alg\":\"none\"}", GOOD, SECRET, "unsupported token algorithm"},
    {"alg hs256 lower case", "{\"alg\":\"hs256\"}", GOOD, SECRET, "unsupported token algorithm"},
    {"alg missing", "{\"typ\":\"JWT\"}", GOOD, SECRET, "unsupported token algorithm"},
    {"alg RS256", "{\"alg\":\"RS256\"}", GOOD, SECRET, "unsupported token algorithm"},
    {"alg not a string", "{\"alg\":256}", GOOD, SECRET, "unsupported token algorithm"},
    {"duplicate alg", "{\"alg\":\"HS256\",\"alg\":\"none\"}", GOOD, SECRET, "malformed token"},
    {"typ not JWT", "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", GOOD, SECRET,
     "unsupported token header"},
    {"crit header", "{\"alg\":\"HS256\",\"crit\":[\"x\"]}", GOOD, SECRET,
     "unsupported token header"},
    {"wrong secret", HS256, GOOD, "other-secret", "invalid token signature"},
    {"unsigned HS256", HS256, GOOD, NULL, "invalid token signature"},
    {"header not JSON", "{alg:HS256}", GOOD, SECRET, "malformed token"},
    {"header an array", "[\"HS256\"]", GOOD, SECRET, "malformed token"},
    {"payload not JSON", HS256, "not json", SECRET, "malformed token"},
    {"payload a string", HS256, "\"souk\"", SECRET, "malformed token"},
    {"expired", HS256, CLAIMS("\"42\"", "\"customer\"", "1699990000", "1699999999", "\"souk\""),
     SECRET, "token expired"},
    {"expires now", HS256, CLAIMS("\"42\"", "\"customer\"", "1699990000", "1700000000", "\"souk\""),
     SECRET, "token expired"},
    {"iat within skew", HS256,
     CLAIMS("\"42\"", "\"customer\"", "1700000300", "1700003600", "\"souk\""), SECRET, NULL},
    {"iat in the future", HS256,
     CLAIMS("\"42\"", "\"customer\"", "1700000301", "1700003600", "\"souk\""), SECRET,
     "token issued in the future"},
    {"exp a string", HS256,
     CLAIMS("\"42\"", "\"customer\"", "1700000000", "\"1700003600\"", "\"souk\""), SECRET,
     "invalid token times"},
    {"exp a real", HS256,
     CLAIMS("\"42\"", "\"customer\"", "1700000000", "1700003600.5", "\"souk\""), SECRET,
     "invalid token times"},
    {"exp missing", HS256,
     "{\"sub\":\"42\",\"role\":\"customer\",\"iat\":1700000000,\"iss\":\"souk\"}", SECRET,
     "invalid token times"},
    {"sub non-numeric", HS256,
     CLAIMS("\"bob\"", "\"customer\"", "1700000000", "1700003600", "\"souk\""), SECRET,
     "invalid token subject"},
    {"sub a number", HS256, CLAIMS("42", "\"customer\"", "1700000000", "1700003600", "\"souk\""),
     SECRET, "invalid token subject"},
    {"sub zero", HS256, CLAIMS("\"0\"", "\"customer\"", "1700000000", "1700003600", "\"souk\""),
     SECRET, "invalid token subject"},
    {"sub negative", HS256,
     CLAIMS("\"-4\"", "\"customer\"", "1700000000", "1700003600", "\"souk\""), SECRET,
     "invalid token subject"},
    {"sub leading zero", HS256,
     CLAIMS("\"042\"", "\"customer\"", "1700000000", "1700003600", "\"souk\""), SECRET,
     "invalid token subject"},
    {"sub overflows", HS256,
     CLAIMS("\"9223372036854775808\"", "\"customer\"", "1700000000", "1700003600", "\"souk\""),
     SECRET, "invalid token subject"},
    {"role bogus", HS256, CLAIMS("\"42\"", "\"root\"", "1700000000", "1700003600", "\"souk\""),
     SECRET, "invalid token role"},
    {"role missing", HS256,
     "{\"sub\":\"42\",\"iat\":1700000000,\"exp\":1700003600,\"iss\":\"souk\"}", SECRET,
     "invalid token role"},
    {"iss wrong", HS256, CLAIMS("\"42\"", "\"customer\"", "1700000000", "1700003600", "\"evil\""),
     SECRET, "invalid token issuer"},
    {"iss missing", HS256,
     "{\"sub\":\"42\",\"role\":\"customer\",\"iat\":1700000000,\"exp\":1700003600}", SECRET,
     "invalid token issuer"},
    {"sid", HS256, WITH_SID("\"0123456789abcdef0123456789abcdef\""), SECRET, NULL},
    {"sid base64url", HS256, WITH_SID("\"aZ09-_\""), SECRET, NULL},
    {"sid a number", HS256, WITH_SID("42"), SECRET, "invalid token session"},
    {"sid empty", HS256, WITH_SID("\"\""), SECRET, "invalid token session"},
    {"sid with a space", HS256, WITH_SID("\"a b\""), SECRET, "invalid token session"},
    {"sid with a colon", HS256, WITH_SID("\"users:sess:x\""), SECRET, "invalid token session"},
    /* jansson refuses a NUL inside a string: the payload does not parse at all. */
    {"sid with a NUL", HS256, WITH_SID("\"ab\\u0000cd\""), SECRET, "malformed token"},
    {"sid over 64 bytes", HS256,
     WITH_SID("\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\""), SECRET,
     "invalid token session"},
    {"sid null", HS256, WITH_SID("null"), SECRET, "invalid token session"},
};

static void
test_crafted(struct arena *a)
{
    struct auth_claims c;
    char               detail[64];
    const char        *tok;
    size_t             i;
    int                rc;

    for (i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
        tok = craft(a, crafted[i].secret, crafted[i].header, crafted[i].payload);
        detail[0] = '\0';
        rc = auth_token_verify(SECRET, tok, NOW, &c, detail, sizeof(detail));
        T_EQ_INT(rc, crafted[i].detail ? ERR_UNAUTHORIZED : ERR_OK, "%s: rc", crafted[i].name);
        T_EQ_STR(detail, crafted[i].detail ? crafted[i].detail : "", "%s: detail", crafted[i].name);
    }
}

static void
test_malformed(struct arena *a)
{
    const char *good = craft(a, SECRET, HS256, GOOD);
    char       *long_tok = arena_alloc(a, 5000);
    const char *bad[] = {
        "",
        "abc",
        "abc.def",
        ".",
        "..",
        arena_printf(a, "%s.extra", good),
        arena_printf(a, "!!!%s", good),
        arena_printf(a, "%s=", good),
        arena_printf(a, "%s%%", good),
        arena_printf(a, ".%s", strchr(good, '.') + 1),
    };
    struct auth_claims c;
    char               detail[64];
    size_t             i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        detail[0] = '\0';
        T_EQ_INT(auth_token_verify(SECRET, bad[i], NOW, &c, detail, sizeof(detail)),
                 ERR_UNAUTHORIZED, "malformed token %zu is refused", i);
        T_EQ_STR(detail, "malformed token", "malformed token %zu detail", i);
    }
    T_EQ_INT(auth_token_verify(SECRET, NULL, NOW, &c, detail, sizeof(detail)), ERR_UNAUTHORIZED,
             "a NULL token is refused");
    memset(long_tok, 'a', 4999);
    memcpy(long_tok, good, strlen(good));
    T_EQ_INT(auth_token_verify(SECRET, long_tok, NOW, &c, detail, sizeof(detail)), ERR_UNAUTHORIZED,
             "a token over 4096 bytes is refused");
    T_EQ_STR(detail, "malformed token", "over-long token detail");
    T_EQ_INT(auth_token_verify("", good, NOW, &c, detail, sizeof(detail)), ERR_INTERNAL,
             "an empty secret is a server error, never a pass");
}

static void
test_roundtrip(struct arena *a)
{
    struct auth_claims c;
    char              *tok = NULL, detail[64] = "";
    jwt_t             *jwt = NULL;

    T_EQ_INT(auth_token_issue(SECRET, 42, AUTH_ADMIN, NOW, 3600, a, &tok), ERR_OK, "issue");
    T_EQ_INT(auth_token_verify(SECRET, tok, NOW + 10, &c, detail, sizeof(detail)), ERR_OK,
             "verify what we issued");
    T_EQ_INT(c.user_id, 42, "sub round-trips");
    T_EQ_INT(c.role, AUTH_ADMIN, "role round-trips");
    T_EQ_INT(c.iat, NOW, "iat");
    T_EQ_INT(c.exp, NOW + 3600, "exp = iat + ttl");
    T_EQ_INT(auth_token_verify(SECRET, tok, NOW + 3600, &c, detail, sizeof(detail)),
             ERR_UNAUTHORIZED, "expired at exp");
    T_EQ_STR(detail, "token expired", "expired detail");
    T_EQ_INT(c.user_id, 0, "claims are cleared on failure");
    T_EQ_INT(auth_token_verify("wrong", tok, NOW, &c, detail, sizeof(detail)), ERR_UNAUTHORIZED,
             "wrong secret");
    T_EQ_STR(detail, "invalid token signature", "wrong secret detail");

    T_OK(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, strlen(SECRET)) == 0,
         "libjwt reads our token");
    T_EQ_STR(jwt_get_header(jwt, "alg"), "HS256", "header alg");
    T_EQ_STR(jwt_get_header(jwt, "typ"), "JWT", "header typ");
    T_EQ_STR(jwt_get_grant(jwt, "sub"), "42", "sub is a string");
    T_EQ_STR(jwt_get_grant(jwt, "iss"), "souk", "iss");
    jwt_free(jwt);

    T_EQ_INT(auth_token_issue(SECRET, 0, AUTH_CUSTOMER, NOW, 60, a, &tok), ERR_INTERNAL,
             "user id 0 is not issued");
    T_EQ_INT(auth_token_issue(SECRET, 1, AUTH_NONE, NOW, 60, a, &tok), ERR_INTERNAL,
             "role none is not issued");
    T_EQ_INT(auth_token_issue("", 1, AUTH_CUSTOMER, NOW, 60, a, &tok), ERR_INTERNAL,
             "an empty secret does not sign");
    T_EQ_STR(c.sid, "", "a token without sid has none");

    T_EQ_INT(auth_token_issue_sid(SECRET, 7, AUTH_CUSTOMER, "s-1_A", NOW, 60, a, &tok), ERR_OK,
             "issue with a sid");
    T_EQ_INT(auth_token_verify(SECRET, tok, NOW, &c, detail, sizeof(detail)), ERR_OK,
             "verify with a sid");
    T_EQ_STR(c.sid, "s-1_A", "sid round-trips");
    T_EQ_INT(auth_token_issue_sid(SECRET, 7, AUTH_CUSTOMER, "a b", NOW, 60, a, &tok), ERR_INTERNAL,
             "a sid with a space is not issued");
    T_EQ_INT(auth_token_issue_sid(SECRET, 7, AUTH_CUSTOMER, "", NOW, 60, a, &tok), ERR_INTERNAL,
             "an empty sid is not issued");
}

static void
test_digests(void)
{
    char out[65], r1[AUTH_B64URL_LEN(32) + 1], r2[AUTH_B64URL_LEN(32) + 1], hex[33];

    auth_sha256_hex("abc", 3, out);
    T_EQ_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
             "sha256 of abc (FIPS 180-2)");
    auth_sha256_hex("", 0, out);
    T_EQ_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "sha256 of nothing");
    auth_random_b64url(32, r1);
    auth_random_b64url(32, r2);
    T_EQ_INT((int)strlen(r1), 43, "32 random bytes are 43 base64url characters");
    T_OK(strspn(r1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43,
         "... of the url-safe alphabet");
    T_OK(strcmp(r1, r2) != 0, "two draws differ");
    auth_random_hex(16, hex);
    T_EQ_INT((int)strspn(hex, "0123456789abcdef"), 32, "16 random bytes are 32 hex digits");
}

/* Tokens signed by libjwt itself: HS256 is ours, a correctly signed HS512
 * must still be refused. */
static const struct {
    jwt_alg_t   alg;
    int         rc;
    const char *detail;
} libjwt_cases[] = {
    {JWT_ALG_HS256, ERR_OK, ""},
    {JWT_ALG_HS384, ERR_UNAUTHORIZED, "unsupported token algorithm"},
    {JWT_ALG_HS512, ERR_UNAUTHORIZED, "unsupported token algorithm"},
};

static void
test_libjwt_tokens(void)
{
    struct auth_claims c;
    jwt_t             *jwt;
    char              *s, detail[64];
    size_t             i;
    int                rc;

    for (i = 0; i < sizeof(libjwt_cases) / sizeof(libjwt_cases[0]); i++) {
        jwt = NULL;
        rc = jwt_new(&jwt);
        rc |= jwt_set_alg(jwt, libjwt_cases[i].alg, (const unsigned char *)SECRET, strlen(SECRET));
        rc |= jwt_add_grants_json(jwt, GOOD);
        s = jwt_encode_str(jwt);
        T_OK(rc == 0 && s != NULL, "libjwt signs %s", jwt_alg_str(libjwt_cases[i].alg));
        detail[0] = '\0';
        T_EQ_INT(auth_token_verify(SECRET, s, NOW, &c, detail, sizeof(detail)), libjwt_cases[i].rc,
                 "libjwt %s token rc", jwt_alg_str(libjwt_cases[i].alg));
        T_EQ_STR(detail, libjwt_cases[i].detail, "libjwt %s token detail",
                 jwt_alg_str(libjwt_cases[i].alg));
        free(s);
        jwt_free(jwt);
    }
}

static void
test_roles(void)
{
    T_EQ_STR(auth_role_name(AUTH_CUSTOMER), "customer", "customer name");
    T_EQ_STR(auth_role_name(AUTH_ADMIN), "admin", "admin name");
    T_EQ_INT(auth_role_parse("admin"), AUTH_ADMIN, "parse admin");
    T_EQ_INT(auth_role_parse("customer"), AUTH_CUSTOMER, "parse customer");
    T_EQ_INT(auth_role_parse("Admin"), AUTH_NONE, "roles are case-sensitive");
    T_EQ_INT(auth_role_parse(NULL), AUTH_NONE, "parse NULL");
}

static void
test_passwords(void)
{
    char hash[AUTH_HASH_MAX], fast[AUTH_HASH_MAX];

    T_EQ_INT(auth_password_hash("correct horse", 0, 0, hash), ERR_OK, "hash with defaults");
    T_OK(strncmp(hash, "$argon2id$", 10) == 0, "hash is argon2id: %s", hash);
    T_OK(strstr(hash, "$m=19456,t=2,") != NULL, "defaults are m=19 MiB, t=2");
    T_EQ_INT(auth_password_verify(hash, "correct horse"), ERR_OK, "right password");
    T_EQ_INT(auth_password_verify(hash, "correct horsE"), ERR_LOGIN_FAILED, "wrong password");
    T_EQ_INT(auth_password_verify(hash, ""), ERR_LOGIN_FAILED, "empty password");
    T_EQ_INT(auth_password_hash("correct horse", 1, 8192, fast), ERR_OK, "hash with small costs");
    T_OK(strcmp(hash, fast) != 0, "salts differ");
    T_EQ_INT(auth_password_verify(fast, "correct horse"), ERR_OK, "cost travels in the hash");
    T_EQ_INT(auth_password_verify("not a hash", "x"), ERR_LOGIN_FAILED, "junk hash");
    T_EQ_INT(auth_password_verify("", "x"), ERR_LOGIN_FAILED, "empty hash");
    T_EQ_INT(auth_password_verify(NULL, "x"), ERR_LOGIN_FAILED, "NULL hash");
}

int
main(void)
{
    struct arena *a = arena_create();

    if (auth_init() != ERR_OK)
        return 1;
    test_crafted(a);
    test_malformed(a);
    test_roundtrip(a);
    test_libjwt_tokens();
    test_roles();
    test_passwords();
    test_digests();
    arena_destroy(a);
    {
        static const struct {
            const char *secret, *listen;
            int         rc;
        } cases[] = {
            {AUTH_DEV_SECRET, "127.0.0.1:7000", ERR_OK},
            {"short", "localhost:7000", ERR_OK},
            {AUTH_DEV_SECRET, "0.0.0.0:7000", ERR_INVALID},
            {"short", "10.0.0.5:7000", ERR_INVALID},
            {"0123456789abcdef0123456789abcdef", "0.0.0.0:7000", ERR_OK},
        };
        size_t i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            T_EQ_INT(auth_secret_check(cases[i].secret, cases[i].listen), cases[i].rc,
                     "secret check %zu (%s)", i, cases[i].listen);
    }
    return T_DONE();
}
