/*
 * store_session.c - every Redis command of the v2 sessions (through
 * lib/kv.h). Each operation is one Lua script, so it runs atomically: two
 * refreshes of one token cannot both see it current, and a sign-out cannot
 * interleave with a rotation. Times come from Redis' clock (TIME), so every
 * replica of users agrees on them.
 *
 * Keys (a "users:" prefix keeps them apart from the cart's in one Redis):
 *   users:sess:<sid>       hash: uid, role, ua, h (SHA-256 of the current
 *                          refresh token), gen, created, used, rotated, prev
 *                          (the digests of the last PREV_KEEP rotated tokens,
 *                          newest first); TTL = the session's sliding lifetime
 *   users:sessions:<uid>   sorted set of the user's sids, score = expiry
 *                          (Unix ms, so the cap evicts in order even for
 *                          sign-ins within one second); its TTL outlives
 *                          every member's
 * A session deleted on its own (token reuse) leaves its sid in the index
 * until the next list or sign-in prunes it; nothing reads the index
 * without checking the session is still there.
 */
#include <stdio.h>
#include <string.h>

#include "kv.h"
#include "log.h"
#include "str.h"
#include "users.h"

#define KEY_SESS     "users:sess:"
#define KEY_SESSIONS "users:sessions:"
#define PREV_KEEP    "16" /* rotated digests kept to recognise a reused token */

/* ARGV: sid uid role ua hash ttl max sess-prefix. */
static const char create_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1])\n"
    "local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[6])\n"
    "redis.call('HSET', KEYS[1], 'uid', ARGV[2], 'role', ARGV[3], 'ua', ARGV[4], 'h', ARGV[5],\n"
    "  'gen', 1, 'created', now, 'used', now, 'rotated', 0, 'prev', '')\n"
    "redis.call('EXPIRE', KEYS[1], ttl)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)\n"
    "redis.call('ZADD', KEYS[2], now_ms + ttl * 1000, ARGV[1])\n"
    "local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7])\n"
    "if over > 0 then\n"
    "  local old = redis.call('ZPOPMIN', KEYS[2], over)\n"
    "  for i = 1, #old, 2 do redis.call('DEL', ARGV[8] .. old[i]) end\n"
    "end\n"
    "if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "return {now, now, now + ttl}\n";

/* ARGV: hash new-hash ttl grace sid index-prefix keep. Digests are compared
 * with ==: they are digests of 256-bit secrets, so their timing tells an
 * attacker nothing he could steer. A reused token is one of the last kept
 * digests; within grace of the rotation the newest is refused but not
 * punished (two tabs refreshing at once). */
static const char refresh_lua[] =
    "local s = redis.call('HMGET', KEYS[1], 'uid', 'h', 'prev', 'rotated', 'gen', 'created', "
    "'ua', 'role')\n"
    "if not s[1] then return {'unknown'} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1])\n"
    "local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[3])\n"
    "local idx = ARGV[6] .. s[1]\n"
    "if s[2] == ARGV[1] then\n"
    "  local prev = string.sub(ARGV[1] .. s[3], 1, 64 * tonumber(ARGV[7]))\n"
    "  redis.call('HSET', KEYS[1], 'h', ARGV[2], 'prev', prev, 'rotated', now, 'used', now,\n"
    "    'gen', tonumber(s[5]) + 1)\n"
    "  redis.call('EXPIRE', KEYS[1], ttl)\n"
    "  redis.call('ZADD', idx, now_ms + ttl * 1000, ARGV[5])\n"
    "  if redis.call('TTL', idx) < ttl then redis.call('EXPIRE', idx, ttl) end\n"
    "  return {'rotated', s[1], s[6], now, now + ttl, s[7], s[8]}\n"
    "end\n"
    "for i = 1, #s[3], 64 do\n"
    "  if string.sub(s[3], i, i + 63) == ARGV[1] then\n"
    "    if i == 1 and now - tonumber(s[4]) < tonumber(ARGV[4]) then return {'raced', s[1]} end\n"
    "    redis.call('DEL', KEYS[1])\n"
    "    redis.call('ZREM', idx, ARGV[5])\n"
    "    return {'reused', s[1]}\n"
    "  end\n"
    "end\n"
    "return {'unknown'}\n";

/* ARGV: sess-prefix uid. Most recently used first (highest expiry). */
static const char list_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1])\n"
    "local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do\n"
    "  local k = ARGV[1] .. id\n"
    "  local s = redis.call('HMGET', k, 'uid', 'created', 'used', 'ua')\n"
    "  local pt = redis.call('PTTL', k)\n"
    "  if s[1] == ARGV[2] and pt > 0 then\n"
    "    out[#out + 1] = {id, s[2], s[3], now + math.ceil(pt / 1000), s[4]}\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: uid sid. 0 when the session is not the user's (or gone). */
static const char delete_lua[] =
    "if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"
    "return 1\n";

/* ARGV: sess-prefix uid. */
static const char delete_all_lua[] =
    "local n = 0\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local k = ARGV[1] .. id\n"
    "  if redis.call('HGET', k, 'uid') == ARGV[2] then n = n + redis.call('DEL', k) end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return n\n";

static struct kv *
kv_of(const struct work *w)
{
    return ((struct users_worker *)w->ext)->kv;
}

static const char *
i64(struct arena *a, int64_t v)
{
    return arena_printf(a, "%lld", (long long)v);
}

/* A reply element that should be an integer (or its decimal text, as HMGET
 * gives it back). */
static int
reply_i64(const struct kv_reply *rep, int64_t *out)
{
    if (rep->type == KV_INT) {
        *out = rep->i;
        return ERR_OK;
    }
    if (rep->type == KV_STR && str_z_to_i64(rep->str, INT64_MIN, INT64_MAX, out) == ERR_OK)
        return ERR_OK;
    log_error("sessions: unexpected reply type %d from redis", (int)rep->type);
    return ERR_INTERNAL;
}

/* created, last_used and expires of s from three reply elements in a row
 * (every script answers them in that order). */
static int
reply_times(struct kv_reply *const *e, struct session *s)
{
    int rc;

    rc = reply_i64(e[0], &s->created);
    if (rc == ERR_OK)
        rc = reply_i64(e[1], &s->last_used);
    if (rc == ERR_OK)
        rc = reply_i64(e[2], &s->expires);
    return rc;
}

static int
array_of(const struct kv_reply *rep, size_t min)
{
    if (rep->type == KV_ARRAY && rep->n >= min)
        return ERR_OK;
    log_error("sessions: unexpected reply shape from redis (type %d)", (int)rep->type);
    return ERR_INTERNAL;
}

int
store_session_create(struct work *w, struct session *s, const char *token_hash, int64_t ttl_s,
                     int64_t max)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep;
    const char      *keys[2], *args[8];
    int              rc;

    keys[0] = arena_printf(a, KEY_SESS "%s", s->id);
    keys[1] = arena_printf(a, KEY_SESSIONS "%lld", (long long)s->user_id);
    args[0] = s->id;
    args[1] = i64(a, s->user_id);
    args[2] = s->role;
    args[3] = s->user_agent;
    args[4] = token_hash;
    args[5] = i64(a, ttl_s);
    args[6] = i64(a, max);
    args[7] = KEY_SESS;
    rc = kv_eval(kv_of(w), a, create_lua, 2, keys, 8, args, &rep);
    if (rc)
        return rc;
    rc = array_of(rep, 3);
    if (rc)
        return rc;
    return reply_times(rep->elem, s);
}

/* The outcome names the script answers with, in enum session_refresh order. */
static const char *const outcomes[] = {
    [SESSION_ROTATED] = "rotated",
    [SESSION_UNKNOWN] = "unknown",
    [SESSION_REUSED] = "reused",
    [SESSION_RACED] = "raced",
};

int
store_session_refresh(struct work *w, const char *sid, const char *hash, const char *new_hash,
                      int64_t ttl_s, int64_t grace_s, enum session_refresh *out, struct session *s)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep, **e;
    const char      *keys[1], *args[7];
    size_t           i;
    int              rc;

    memset(s, 0, sizeof(*s));
    s->id = sid;
    keys[0] = arena_printf(a, KEY_SESS "%s", sid);
    args[0] = hash;
    args[1] = new_hash;
    args[2] = i64(a, ttl_s);
    args[3] = i64(a, grace_s);
    args[4] = sid;
    args[5] = KEY_SESSIONS;
    args[6] = PREV_KEEP;
    rc = kv_eval(kv_of(w), a, refresh_lua, 1, keys, 7, args, &rep);
    if (rc)
        return rc;
    rc = array_of(rep, 1);
    if (rc)
        return rc;
    e = rep->elem;
    for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        if (e[0]->type == KV_STR && strcmp(e[0]->str, outcomes[i]) == 0)
            break;
    if (i == sizeof(outcomes) / sizeof(outcomes[0])) {
        log_error("sessions: unexpected refresh outcome from redis");
        return ERR_INTERNAL;
    }
    *out = (enum session_refresh)i;
    if (*out != SESSION_UNKNOWN && rep->n >= 2) {
        rc = reply_i64(e[1], &s->user_id);
        if (rc)
            return rc;
    }
    if (*out != SESSION_ROTATED)
        return ERR_OK;
    rc = array_of(rep, 7);
    if (rc)
        return rc;
    s->user_agent = e[5]->type == KV_STR ? e[5]->str : "";
    s->role = e[6]->type == KV_STR ? e[6]->str : "";
    return reply_times(e + 2, s);
}

/* The user a session belongs to, read before a refresh so the account can
 * be checked in PostgreSQL before the token rotates (a database failure
 * then leaves the client's token good for a retry). */
int
store_session_user(struct work *w, const char *sid, int64_t *user_id)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep;
    int              rc;

    rc = kv_cmd(kv_of(w), a, 3,
                (const char *const[]){"HGET", arena_printf(a, KEY_SESS "%s", sid), "uid"}, NULL,
                &rep);
    if (rc)
        return rc;
    if (rep->type == KV_NIL)
        return ERR_NOT_FOUND;
    return reply_i64(rep, user_id);
}

int
store_session_list(struct work *w, int64_t user_id, struct session **out, size_t *n)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep, **e;
    struct session  *s;
    const char      *keys[1], *args[2];
    size_t           i;
    int              rc;

    keys[0] = arena_printf(a, KEY_SESSIONS "%lld", (long long)user_id);
    args[0] = KEY_SESS;
    args[1] = i64(a, user_id);
    rc = kv_eval(kv_of(w), a, list_lua, 1, keys, 2, args, &rep);
    if (rc)
        return rc;
    rc = array_of(rep, 0);
    if (rc)
        return rc;
    s = arena_array(a, struct session, rep->n ? rep->n : 1);
    for (i = 0; i < rep->n; i++) {
        rc = array_of(rep->elem[i], 5);
        if (rc)
            return rc;
        e = rep->elem[i]->elem;
        s[i].id = e[0]->type == KV_STR ? e[0]->str : "";
        s[i].user_id = user_id;
        s[i].user_agent = e[4]->type == KV_STR ? e[4]->str : "";
        rc = reply_times(e + 1, &s[i]);
        if (rc)
            return rc;
    }
    *out = s;
    *n = rep->n;
    return ERR_OK;
}

int
store_session_delete(struct work *w, int64_t user_id, const char *sid)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep;
    const char      *keys[2], *args[2];
    int              rc;

    keys[0] = arena_printf(a, KEY_SESS "%s", sid);
    keys[1] = arena_printf(a, KEY_SESSIONS "%lld", (long long)user_id);
    args[0] = i64(a, user_id);
    args[1] = sid;
    rc = kv_eval(kv_of(w), a, delete_lua, 2, keys, 2, args, &rep);
    if (rc)
        return rc;
    if (rep->type != KV_INT) {
        log_error("sessions: unexpected reply type %d from redis", (int)rep->type);
        return ERR_INTERNAL;
    }
    return rep->i == 1 ? ERR_OK : ERR_NOT_FOUND;
}

int
store_session_delete_all(struct work *w, int64_t user_id)
{
    struct arena    *a = w->arena;
    struct kv_reply *rep;
    const char      *keys[1], *args[2];

    keys[0] = arena_printf(a, KEY_SESSIONS "%lld", (long long)user_id);
    args[0] = KEY_SESS;
    args[1] = i64(a, user_id);
    return kv_eval(kv_of(w), a, delete_all_lua, 1, keys, 2, args, &rep);
}

int
store_session_ping(struct work *w)
{
    return kv_ping(kv_of(w));
}
