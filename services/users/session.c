/*
 * session.c - the v2 sessions' pure logic: the refresh token's shape
 * ("<session id>.<secret>"), its digest, the souk_refresh cookie both ways,
 * what is kept of a User-Agent, and times as RFC 3339. No I/O besides the
 * CSPRNG behind new tokens; t/11_session.c tests it table by table.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "users.h"

static int
hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
b64url(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
}

int
session_id_ok(const char *z)
{
    size_t i;

    for (i = 0; i < SESSION_ID_LEN; i++)
        if (!hex_lower(z[i]))
            return 0;
    return z[SESSION_ID_LEN] == '\0';
}

void
session_token_rotate(const char *sid, char token[SESSION_TOKEN_LEN + 1])
{
    memcpy(token, sid, SESSION_ID_LEN);
    token[SESSION_ID_LEN] = '.';
    auth_random_b64url(32, token + SESSION_ID_LEN + 1);
}

void
session_token_new(char sid[SESSION_ID_LEN + 1], char token[SESSION_TOKEN_LEN + 1])
{
    auth_random_hex(SESSION_ID_LEN / 2, sid);
    session_token_rotate(sid, token);
}

/* The token's shape on n bytes at p (not necessarily NUL-terminated). */
static int
token_shape(const char *p, size_t n)
{
    size_t i;

    if (n != SESSION_TOKEN_LEN || p[SESSION_ID_LEN] != '.')
        return 0;
    for (i = 0; i < SESSION_ID_LEN; i++)
        if (!hex_lower(p[i]))
            return 0;
    for (i = SESSION_ID_LEN + 1; i < SESSION_TOKEN_LEN; i++)
        if (!b64url(p[i]))
            return 0;
    return 1;
}

int
session_token_parse(const char *token, char sid[SESSION_ID_LEN + 1])
{
    if (token == NULL || !token_shape(token, strnlen(token, SESSION_TOKEN_LEN + 1)))
        return ERR_UNAUTHORIZED;
    memcpy(sid, token, SESSION_ID_LEN);
    sid[SESSION_ID_LEN] = '\0';
    return ERR_OK;
}

void
session_token_hash(const char *token, char out[SESSION_HASH_LEN + 1])
{
    /* A plain digest, no key: the secret has 256 random bits, so nobody can
     * search for a preimage, and whoever reads Redis cannot refresh. */
    auth_sha256_hex(token, strlen(token), out);
}

int
session_cookie_find(const char *header, char out[SESSION_TOKEN_LEN + 1])
{
    static const char name[] = SESSION_COOKIE "=";
    const char       *p = header, *end;

    /* "a=1; souk_refresh=TOKEN; b=2": the first souk_refresh with the
     * token's shape wins; a malformed one is as good as none. */
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - p) > sizeof(name) - 1 && strncmp(p, name, sizeof(name) - 1) == 0 &&
            token_shape(p + sizeof(name) - 1, (size_t)(end - p) - (sizeof(name) - 1))) {
            memcpy(out, p + sizeof(name) - 1, SESSION_TOKEN_LEN);
            out[SESSION_TOKEN_LEN] = '\0';
            return 1;
        }
        p = strchr(p, ';');
    }
    return 0;
}

const char *
session_cookie(struct arena *a, const char *token, int64_t max_age, int secure)
{
    /* SameSite=Strict: no other site can make a browser send it, so the
     * cookie-only refresh needs no CSRF token; the Path keeps it off every
     * other request. */
    return arena_printf(a,
                        SESSION_COOKIE "=%s; Path=" SESSION_COOKIE_PATH
                                       "; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                        token, (long long)max_age, secure ? "; Secure" : "");
}

const char *
session_user_agent(struct arena *a, const char *ua)
{
    char  *out;
    size_t i, n;

    if (ua == NULL)
        return "";
    n = strnlen(ua, SESSION_UA_MAX);
    out = arena_strndup(a, ua, n);
    /* User agents are ASCII; anything else (control bytes, bytes that might
     * not be valid UTF-8 in the JSON answer) becomes '?'. */
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < ' ' || (unsigned char)out[i] >= 0x7f)
            out[i] = '?';
    return out;
}

void
session_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
