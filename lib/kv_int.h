/*
 * kv_int.h - what kv.c (the blocking client) and kv_async.c (the loop
 * client) share: the parsed redis:// URL. Private to lib/.
 */
#ifndef SOUK_KV_INT_H
#define SOUK_KV_INT_H

#define KV_HOST_MAX        256
#define KV_DEFAULT_TIMEOUT 1000 /* ms, when kv_new or kv_async_new is given <= 0 */

struct kv_url {
    char host[KV_HOST_MAX];
    int  port;
    int  dbn; /* SELECTed on connect when not 0 */
};

/* "redis://host[:port][/db]" into u; ERR_INVALID if it is not one. */
int kv_url_parse(const char *url, struct kv_url *u);

#endif
