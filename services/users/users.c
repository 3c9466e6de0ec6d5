/*
 * users.c - the users service's pure logic: email normalisation (the
 * monolith's rule, so both sides agree on who is who), the client address
 * used to throttle logins, and the throttle's window arithmetic. No I/O;
 * t/10_users.c tests it table by table.
 */
#include <string.h>

#include "users.h"

int
users_email_normalise(struct arena *a, const char *in, const char **out)
{
    char  *e = arena_strdup(a, in);
    char  *at = strchr(e, '@');
    size_t i;

    /* A plausible shape is enough here (a confirmation mail would be the
     * real check); the rule is the monolith's, byte for byte. */
    if (at == e || at == NULL || at[1] == '\0' || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return ERR_INVALID;
    for (i = 0; e[i]; i++) {
        if ((unsigned char)e[i] <= ' ' || e[i] == 0x7f)
            return ERR_INVALID;
        if (e[i] >= 'A' && e[i] <= 'Z')
            e[i] = (char)(e[i] + 32);
    }
    *out = e;
    return ERR_OK;
}

static int
ip_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
           c == ':';
}

const char *
users_client_ip(struct arena *a, const char *xff)
{
    const char *p, *end, *comma;
    char       *out;
    size_t      i, n;

    if (xff == NULL)
        return USERS_IP_NONE;
    /* The gateway appends the address it saw to what the client sent, so only
     * the last entry is ours; the first is the client's to choose. */
    comma = strrchr(xff, ',');
    p = comma != NULL ? comma + 1 : xff;
    end = p + strlen(p);
    while (*p == ' ' || *p == '\t')
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    n = (size_t)(end - p);
    if (n == 0 || n > USERS_IP_MAX)
        return USERS_IP_NONE;
    out = arena_strndup(a, p, n);
    for (i = 0; i < n; i++) {
        if (!ip_char(out[i]))
            return USERS_IP_NONE;
        if (out[i] >= 'A' && out[i] <= 'F')
            out[i] = (char)(out[i] + 32);
    }
    /* A literal has at least two dots (IPv4) or two colons (IPv6). */
    if (strchr(out, '.') == strrchr(out, '.') && strchr(out, ':') == strrchr(out, ':'))
        return USERS_IP_NONE;
    return out;
}

int
throttle_expired(const struct throttle_state *s, int64_t window_ms, int64_t now_ms)
{
    return s->failures <= 0 || s->window_start_ms > INT64_MAX - window_ms ||
           s->window_start_ms + window_ms <= now_ms;
}

int64_t
throttle_wait(const struct throttle_state *s, int64_t max_failures, int64_t window_ms,
              int64_t now_ms)
{
    int64_t left;

    if (throttle_expired(s, window_ms, now_ms) || s->failures < max_failures)
        return 0;
    left = s->window_start_ms + window_ms - now_ms;
    /* A clock that went back must not lock anyone out for longer than a window. */
    if (left > window_ms)
        left = window_ms;
    return (left + 999) / 1000;
}
