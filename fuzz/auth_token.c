/*
 * auth_token.c - libFuzzer target: lib/auth.c's auth_token_verify.
 *
 * 1. The input, as a string, is a bearer token. It was not signed with the
 *    secret (no seed is), so it must never be accepted, whatever its shape:
 *    ERR_UNAUTHORIZED, zeroed claims and a reason, every time.
 * 2. The input is also taken as "header\nclaims" (or, with no newline, the
 *    claims under {"alg":"HS256","typ":"JWT"}), encoded and signed with the
 *    secret, so the header and claim checks behind the MAC are reached. An
 *    accepted token must satisfy DESIGN.md §6 read independently here:
 *    alg HS256, typ absent or JWT, no crit; iss "souk"; sub a canonical
 *    positive decimal string equal to the user id; role customer or admin;
 *    integer iat and exp with exp > now and iat <= now + 300. The same token
 *    under another secret, or with its signature changed, is refused.
 */
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "arena.h"
#include "auth.h"
#include "fuzz.h"

#define SECRET "fuzz-secret-that-no-seed-is-signed-with-0123"
#define NOW    1700000000LL

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    FUZZ_CHECK(auth_init() == ERR_OK);
    return 0;
}

static void
refused(const char *secret, const char *token, size_t detail_len)
{
    struct auth_claims c;
    char               detail[128];
    int                rc;

    memset(&c, 0x5a, sizeof(c));
    memset(detail, 0, sizeof(detail));
    rc = auth_token_verify(secret, token, NOW, &c, detail_len > 0 ? detail : NULL, detail_len);
    FUZZ_CHECK(rc == ERR_UNAUTHORIZED);
    FUZZ_CHECK(c.user_id == 0 && c.role == AUTH_NONE && c.iat == 0 && c.exp == 0);
    if (detail_len > 1)
        FUZZ_CHECK(detail[0] != '\0' && strnlen(detail, detail_len) < detail_len);
}

static char *
b64url(const unsigned char *p, size_t n)
{
    size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char  *s = malloc(len);

    FUZZ_CHECK(s != NULL);
    return sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* b64(header).b64(claims).b64(HMAC-SHA256 under SECRET) */
static char *
sign(const unsigned char *h, size_t hn, const unsigned char *c, size_t cn)
{
    unsigned char                mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char                        *bh = b64url(h, hn), *bc = b64url(c, cn), *bs, *tok;
    size_t                       n1 = strlen(bh), n2 = strlen(bc);

    tok = malloc(n1 + n2 + 2 +
                 sodium_base64_encoded_len(sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING));
    FUZZ_CHECK(tok != NULL);
    memcpy(tok, bh, n1);
    tok[n1] = '.';
    memcpy(tok + n1 + 1, bc, n2);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, n1 + 1 + n2);
    crypto_auth_hmacsha256_final(&st, mac);
    bs = b64url(mac, sizeof(mac));
    tok[n1 + 1 + n2] = '.';
    memcpy(tok + n1 + 2 + n2, bs, strlen(bs) + 1);
    free(bh);
    free(bc);
    free(bs);
    return tok;
}

static json_t *
object_of(const unsigned char *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);

    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The accepted token, checked against the rules as written. */
static void
check_accepted(const unsigned char *h, size_t hn, const unsigned char *c, size_t cn,
               const struct auth_claims *got)
{
    json_t     *head = object_of(h, hn), *cl = object_of(c, cn), *typ, *sub, *iat, *exp, *sid;
    const char *z, *role;
    char        id[24];

    FUZZ_CHECK(head != NULL && cl != NULL);
    FUZZ_CHECK(json_is_string(json_object_get(head, "alg")) &&
               strcmp(json_string_value(json_object_get(head, "alg")), "HS256") == 0);
    typ = json_object_get(head, "typ");
    FUZZ_CHECK(typ == NULL || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0));
    FUZZ_CHECK(json_object_get(head, "crit") == NULL);
    FUZZ_CHECK(json_is_string(json_object_get(cl, "iss")) &&
               strcmp(json_string_value(json_object_get(cl, "iss")), "souk") == 0);
    sub = json_object_get(cl, "sub");
    FUZZ_CHECK(json_is_string(sub));
    z = json_string_value(sub);
    FUZZ_CHECK(got->user_id > 0);
    snprintf(id, sizeof(id), "%lld", (long long)got->user_id);
    FUZZ_CHECK(strcmp(z, id) == 0 && json_string_length(sub) == strlen(id)); /* canonical */
    FUZZ_CHECK(json_is_string(json_object_get(cl, "role")));
    role = json_string_value(json_object_get(cl, "role"));
    FUZZ_CHECK((strcmp(role, "customer") == 0 && got->role == AUTH_CUSTOMER) ||
               (strcmp(role, "admin") == 0 && got->role == AUTH_ADMIN));
    FUZZ_CHECK(strlen(role) == json_string_length(json_object_get(cl, "role")));
    iat = json_object_get(cl, "iat");
    exp = json_object_get(cl, "exp");
    FUZZ_CHECK(json_is_integer(iat) && json_is_integer(exp));
    FUZZ_CHECK(got->iat == json_integer_value(iat) && got->exp == json_integer_value(exp));
    FUZZ_CHECK(got->exp > NOW && got->iat <= NOW + 300);
    sid = json_object_get(cl, "sid"); /* optional; when there, exactly what came back */
    FUZZ_CHECK(sid == NULL ? got->sid[0] == '\0'
                           : json_is_string(sid) && json_string_length(sid) == strlen(got->sid) &&
                                 strcmp(json_string_value(sid), got->sid) == 0 &&
                                 strspn(got->sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                                  "TUVWXYZ0123456789-_") == strlen(got->sid));
    json_decref(head);
    json_decref(cl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  default_head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const uint8_t     *nl = memchr(data, '\n', size);
    const uint8_t     *h = (const uint8_t *)default_head, *c = data;
    size_t             hn = strlen(default_head), cn = size;
    struct auth_claims got;
    char               detail[128], *tok = malloc(size + 1), *sig;
    int                rc;

    /* 1: the raw bytes as a token (up to the first NUL, as a C string). */
    FUZZ_CHECK(tok != NULL);
    memcpy(tok, data, size);
    tok[size] = '\0';
    refused(SECRET, tok, sizeof(detail));
    refused(SECRET, tok, 1);
    refused(SECRET, tok, 0);
    free(tok);

    /* 2: signed with the secret. */
    if (nl != NULL) {
        h = data;
        hn = (size_t)(nl - data);
        c = nl + 1;
        cn = size - hn - 1;
    }
    tok = sign(h, hn, c, cn);
    memset(&got, 0, sizeof(got));
    detail[0] = '\0';
    rc = auth_token_verify(SECRET, tok, NOW, &got, detail, sizeof(detail));
    if (rc == ERR_OK) {
        check_accepted(h, hn, c, cn, &got);
        refused(SECRET "x", tok, sizeof(detail)); /* another secret */
        sig = strrchr(tok, '.') + 1;              /* another signature: its first byte changed */
        sig[0] = sig[0] == 'A' ? 'B' : 'A';
        refused(SECRET, tok, sizeof(detail));
    } else {
        FUZZ_CHECK(rc == ERR_UNAUTHORIZED && detail[0] != '\0');
        FUZZ_CHECK(got.user_id == 0 && got.role == AUTH_NONE);
    }
    free(tok);
    return 0;
}
