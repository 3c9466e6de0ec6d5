/*
 * mdb_dsn.c - "mysql://user:pass@host:port/db" into its parts (mdb.h), kept
 * apart from the connection code in mdb.c. User, password and database are
 * percent-decoded, so any byte but NUL can be spelled.
 */
#include <string.h>

#include "arena.h"
#include "mdb.h"
#include "router.h"
#include "str.h"

/* Percent-decode p[0..n) into a; ERR_INVALID for a bad escape or a NUL byte
 * (router_decode's strict mode: the same rule as a request path). */
static int
pct_decode(struct arena *a, const char *p, size_t n, const char **out)
{
    char  *s = arena_alloc(a, n + 1);
    size_t len;
    int    rc;

    rc = router_decode(p, n, ROUTER_STRICT, s, &len);
    if (rc)
        return rc;
    *out = s;
    return ERR_OK;
}

/* host[:port] or [v6]:port from p[0..n). */
static int
parse_hostport(struct arena *a, const char *p, size_t n, struct mdb_dsn *d)
{
    const char *end = p + n, *colon;
    int64_t     port = 3306;
    int         rc;

    if (n > 0 && p[0] == '[') {
        colon = memchr(p, ']', n);
        if (colon == NULL)
            return ERR_INVALID;
        d->host = arena_strndup(a, p + 1, (size_t)(colon - p - 1));
        colon++;
        if (colon < end && *colon != ':')
            return ERR_INVALID;
    } else {
        colon = memchr(p, ':', n);
        d->host = arena_strndup(a, p, (size_t)((colon ? colon : end) - p));
    }
    if (colon != NULL && colon < end) {
        rc = str_to_i64((struct str){colon + 1, (size_t)(end - colon - 1)}, 1, 65535, &port);
        if (rc)
            return rc;
    }
    d->port = (unsigned)port;
    return d->host[0] ? ERR_OK : ERR_INVALID;
}

int
mdb_dsn_parse(const char *dsn, struct arena *a, struct mdb_dsn *out)
{
    const char *p, *auth_end, *at, *colon;
    int         rc;

    memset(out, 0, sizeof(*out));
    if (dsn == NULL || strncmp(dsn, "mysql://", 8) != 0)
        return ERR_INVALID;
    p = dsn + 8;
    auth_end = p + strcspn(p, "/?#");
    if (*auth_end == '?' || *auth_end == '#')
        return ERR_INVALID;
    at = NULL;
    for (colon = p; colon < auth_end; colon++)
        if (*colon == '@')
            at = colon;
    if (at == NULL || at == p)
        return ERR_INVALID;
    colon = memchr(p, ':', (size_t)(at - p));
    rc = pct_decode(a, p, (size_t)((colon ? colon : at) - p), &out->user);
    if (rc)
        return rc;
    out->pass = "";
    if (colon != NULL) {
        rc = pct_decode(a, colon + 1, (size_t)(at - colon - 1), &out->pass);
        if (rc)
            return rc;
    }
    rc = parse_hostport(a, at + 1, (size_t)(auth_end - at - 1), out);
    if (rc)
        return rc;
    p = *auth_end == '/' ? auth_end + 1 : auth_end;
    if (strcspn(p, "/?#") != strlen(p))
        return ERR_INVALID;
    rc = pct_decode(a, p, strlen(p), &out->name);
    if (rc)
        return rc;
    return out->user[0] ? ERR_OK : ERR_INVALID;
}

int
mdb_new_check(const char *dsn)
{
    struct arena  *a = arena_create();
    struct mdb_dsn d;
    int            rc;

    rc = mdb_dsn_parse(dsn, a, &d);
    arena_destroy(a);
    return rc;
}
