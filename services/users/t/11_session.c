/*
 * 11_session.c - the v2 sessions' pure logic, table by table: the refresh
 * token's shape, the souk_refresh cookie both ways, what is kept of a
 * User-Agent and RFC 3339 times (lib/t/15_auth.c tests the sid claim).
 */
#include <string.h>

#include "t.h"
#include "users.h"

struct users_config users_cfg; /* main.c is not linked into unit tests */

#define SID "0123456789abcdef0123456789abcdef"
#define SEC "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234"
#define TOK SID "." SEC

static const struct {
    const char *in;
    int         ok;
    const char *why;
} tokens[] = {
    {TOK, 1, "the shape"},
    {SID "." SEC "5", 0, "one byte too long"},
    {SID "."
         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123",
     0, "one byte short"},
    {"0123456789ABCDEF0123456789abcdef." SEC, 0, "upper-case hex in the id"},
    {SID "x" SEC, 0, "no dot"},
    {SID "."
         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ+/01234",
     0, "base64 (not url) alphabet"},
    {SID "."
         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123=",
     0, "padding"},
    {"' OR 1=1 --", 0, "injection"},
    {"", 0, "empty"},
    {SID ".", 0, "no secret"},
    {"0123456789abcdef0123456789abcdeg." SEC, 0, "a non-hex id byte"},
};

static void
test_tokens(void)
{
    char   sid[SESSION_ID_LEN + 1], tok[SESSION_TOKEN_LEN + 1], tok2[SESSION_TOKEN_LEN + 1];
    char   h1[SESSION_HASH_LEN + 1], h2[SESSION_HASH_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        memset(sid, 0, sizeof(sid));
        T_EQ_INT(session_token_parse(tokens[i].in, sid), tokens[i].ok ? ERR_OK : ERR_UNAUTHORIZED,
                 "token: %s", tokens[i].why);
        if (tokens[i].ok)
            T_EQ_STR(sid, SID, "token: %s gives its session id", tokens[i].why);
    }
    T_EQ_INT(session_token_parse(NULL, sid), ERR_UNAUTHORIZED, "token: NULL");

    session_token_new(sid, tok);
    T_OK(session_id_ok(sid), "a new session id is a session id");
    T_EQ_INT(session_token_parse(tok, sid), ERR_OK, "a new token parses");
    T_OK(strncmp(tok, sid, SESSION_ID_LEN) == 0, "a new token starts with its session id");
    session_token_rotate(sid, tok2);
    T_EQ_INT(session_token_parse(tok2, sid), ERR_OK, "a rotated token parses");
    T_OK(strncmp(tok2, sid, SESSION_ID_LEN) == 0, "a rotated token keeps the session id");
    T_OK(strcmp(tok, tok2) != 0, "a rotated token is a new one");
    session_token_hash(tok, h1);
    session_token_hash(tok2, h2);
    T_EQ_INT((int)strlen(h1), SESSION_HASH_LEN, "the digest is 64 hex digits");
    T_OK(strcmp(h1, h2) != 0, "two tokens, two digests");
    session_token_hash("abc", h1);
    T_EQ_STR(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
             "the digest is SHA-256 of the whole token");

    T_OK(!session_id_ok("0123456789abcdef0123456789abcde"), "id: 31 digits");
    T_OK(!session_id_ok(SID "0"), "id: 33 digits");
    T_OK(!session_id_ok("987654321"), "id: a number");
}

static const struct {
    const char *header, *out; /* out NULL: none */
} cookies[] = {
    {"souk_refresh=" TOK, TOK},
    {"a=1; souk_refresh=" TOK "; b=2", TOK},
    {"a=1;souk_refresh=" TOK, TOK},
    {"souk_refresh=garbage; souk_refresh=" TOK, TOK},
    {"xsouk_refresh=" TOK, NULL},
    {"souk_refresh=" TOK "x", NULL},
    {"souk_refresh=", NULL},
    {"souk_cart=" SID, NULL},
    {"", NULL},
    {NULL, NULL},
};

static void
test_cookies(struct arena *a)
{
    char   out[SESSION_TOKEN_LEN + 1];
    size_t i;
    int    found;

    for (i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
        found = session_cookie_find(cookies[i].header, out);
        T_EQ_INT(found, cookies[i].out != NULL, "cookie %zu found or not", i);
        if (found && cookies[i].out != NULL)
            T_EQ_STR(out, cookies[i].out, "cookie %zu value", i);
    }
    T_EQ_STR(session_cookie(a, TOK, 60, 0),
             "souk_refresh=" TOK "; Path=/api/v2/sessions; Max-Age=60; HttpOnly; SameSite=Strict",
             "set-cookie");
    T_EQ_STR(session_cookie(a, "", 0, 1),
             "souk_refresh=; Path=/api/v2/sessions; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
             "set-cookie that clears, secure");
}

static void
test_misc(struct arena *a)
{
    char big[600], z[32];

    T_EQ_STR(session_user_agent(a, NULL), "", "ua: none");
    T_EQ_STR(session_user_agent(a, "Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)", "ua: kept");
    T_EQ_STR(session_user_agent(a, "a\tb\x01\xc3\xa4"), "a?b???", "ua: control and non-ASCII");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    T_EQ_INT((int)strlen(session_user_agent(a, big)), SESSION_UA_MAX, "ua: capped");

    session_time(0, z);
    T_EQ_STR(z, "1970-01-01T00:00:00Z", "time: the epoch");
    session_time(1767225600, z);
    T_EQ_STR(z, "2026-01-01T00:00:00Z", "time: 2026");
}

int
main(void)
{
    struct arena *a = arena_create();

    T_OK(auth_init() == ERR_OK, "libsodium");
    test_tokens();
    test_cookies(a);
    test_misc(a);
    arena_destroy(a);
    return T_DONE();
}
