/*
 * auth.c - edge authentication (DESIGN.md §6): the bearer JWT is verified
 * here (lib/auth) per the route's policy, so a bad token is refused before
 * it costs an upstream anything, and the claims become X-User-Id /
 * X-User-Role upstream (forward.c strips any client-sent X-User-*). Also
 * the admin API's bearer token and the canary stickiness key.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "gw.h"

#define TOKEN_MAX      4096
#define CANARY_COOKIE  "souk_canary"
#define CANARY_VAL_MAX 64

/* The bearer token of the request in out (NUL-terminated): 1, or 0 when
 * Authorization is absent, -1 when it is not a usable bearer token. */
static int
bearer(struct client *c, char *out, size_t max)
{
    struct str v;

    if (c->ri.authorization < 0)
        return 0;
    v = headers_trim(hhead_val(&c->head, c->ri.authorization));
    if (v.len < 7 || strncasecmp(v.p, "Bearer ", 7) != 0)
        return -1;
    v.p += 7;
    v.len -= 7;
    v = headers_trim(v);
    if (v.len == 0 || v.len >= max)
        return -1;
    memcpy(out, v.p, v.len);
    out[v.len] = '\0';
    return 1;
}

int
gwauth_check(struct client *c, enum gw_auth policy, struct auth_claims *user, const char **why)
{
    static _Thread_local char detail[128];
    char                      token[TOKEN_MAX];
    int                       rc, has;

    memset(user, 0, sizeof(*user));
    has = bearer(c, token, sizeof(token));
    if (has == 0 || (has < 0 && policy == GW_AUTH_PUBLIC)) {
        /* A public route passes other schemes (Basic) to the upstream. */
        if (policy == GW_AUTH_PUBLIC)
            return ERR_OK;
        *why = "missing bearer token";
        return ERR_UNAUTHORIZED;
    }
    if (has < 0) {
        *why = "authorization must be a bearer token";
        return ERR_UNAUTHORIZED;
    }
    detail[0] = '\0';
    rc = auth_token_verify(gateway.jwt_secret, token, (int64_t)time(NULL), user, detail,
                           sizeof(detail));
    if (rc) {
        memset(user, 0, sizeof(*user));
        /* A public route serves anonymous callers, so a stale or bad token
         * only means "no identity" there (as the contract and the monolith
         * have it): nothing is forwarded as X-User-*, and the upstream, which
         * verifies the token itself, decides for its own protected methods. */
        if (policy == GW_AUTH_PUBLIC)
            return ERR_OK;
        *why = detail[0] != '\0' ? detail : "invalid token";
        return ERR_UNAUTHORIZED;
    }
    if (policy == GW_AUTH_ADMIN && user->role != AUTH_ADMIN) {
        *why = "admin role required";
        return ERR_FORBIDDEN;
    }
    return ERR_OK;
}

int
gwauth_admin(struct client *c)
{
    char          token[TOKEN_MAX];
    const char   *want = gateway.admin_token;
    size_t        n, m = strlen(want), i;
    unsigned char diff;

    if (bearer(c, token, sizeof(token)) != 1 || m == 0)
        return 0;
    n = strlen(token);
    /* Every byte is compared whatever differs, so timing tells nothing. */
    diff = (unsigned char)(n != m);
    for (i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ want[i % m]);
    return diff == 0;
}

static int
cookie_value_ok(struct str v)
{
    size_t i;

    if (v.len == 0 || v.len > CANARY_VAL_MAX)
        return 0;
    for (i = 0; i < v.len; i++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", v.p[i]) ==
                NULL ||
            v.p[i] == '\0')
            return 0;
    return 1;
}

/* souk_canary in any Cookie header ("a=1; souk_canary=x; b=2"). */
static struct str
canary_cookie(struct client *c)
{
    const struct hhead *h = &c->head;
    struct str          v, pair;
    const char         *semi;
    int                 i;

    for (i = 0; i < h->n; i++) {
        if (h->f[i].id != H_COOKIE)
            continue;
        for (v = hhead_val(h, i); v.len > 0;) {
            semi = memchr(v.p, ';', v.len);
            pair = headers_trim((struct str){v.p, semi ? (size_t)(semi - v.p) : v.len});
            if (pair.len > sizeof(CANARY_COOKIE) &&
                memcmp(pair.p, CANARY_COOKIE "=", sizeof(CANARY_COOKIE)) == 0)
                return (struct str){pair.p + sizeof(CANARY_COOKIE),
                                    pair.len - sizeof(CANARY_COOKIE)};
            if (semi == NULL)
                break;
            v.len -= (size_t)(semi - v.p) + 1;
            v.p = semi + 1;
        }
    }
    return (struct str){"", 0};
}

const char *
gwauth_canary_key(struct client *c, struct arena *a, const struct auth_claims *user, int *fresh)
{
    struct str v;

    *fresh = 0;
    if (user->user_id > 0)
        return arena_printf(a, "user:%lld", (long long)user->user_id);
    v = canary_cookie(c);
    if (cookie_value_ok(v))
        return arena_strndup(a, v.p, v.len);
    *fresh = 1;
    return ids_random(a, 24);
}
