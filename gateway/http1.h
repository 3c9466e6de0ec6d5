/*
 * http1.h - the HTTP/1.1 request head as the gateway reads it (edge/http1.c,
 * edge/headers.c): the strict checks the parser library does not make, the
 * chunked-body decoder, and the head's spans into the client's read buffer.
 * Private to the data plane; gw.h includes it.
 */
#ifndef SOUK_GW_HTTP1_H
#define SOUK_GW_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"
#include "str.h"

#define GW_RESP_HEADERS 128 /* header lines of one head (an upstream response's, the most) */

/* Syntax the parser library is lenient about, checked on the raw bytes of a
 * request head before the parser sees them (RFC 9112 §2-5). */
struct lint {
    int    state;
    size_t line_bytes, header_bytes;
    int    lines;
    int    spaces;      /* in the request line */
    size_t since_space; /* bytes since the last space */
    char   version[8];  /* the first bytes after the second space */
};

/* The framing of a chunked body on the raw bytes (RFC 9112 §7.1), so that a
 * size line, an extension or a missing CRLF the parser would let through is
 * refused, and so the end of the message is known before the parser runs. */
struct chunkv {
    int      state;
    uint64_t left; /* data bytes left in the current chunk */
    int      digits;
    size_t   line, trailer;
};

/* The header names the gateway acts on, recognised once per line. */
enum hname {
    H_OTHER,
    H_CONTENT_LENGTH,
    H_TRANSFER_ENCODING, /* hop-by-hop too */
    H_HOST,
    H_AUTHORIZATION,
    H_EXPECT,
    H_COOKIE,
    H_X_REQUEST_ID,
    H_TRACEPARENT,
    H_X_FORWARDED_FOR,
    H_X_FORWARDED_PROTO,
    H_VIA,
    H_X_USER, /* any X-User-* */
    H_CONNECTION,
    H_KEEP_ALIVE, /* this one and the rest are hop-by-hop */
    H_PROXY_CONNECTION,
    H_TE,
    H_TRAILER,
    H_UPGRADE,
};

struct hspan {
    uint32_t name_off, name_len, val_off, val_len;
    int      id; /* enum hname, set by hhead_classify */
};

/* A head as the parser delivers it: the target (requests) and the header
 * lines, copied back to back into text; spans index into it. */
struct hhead {
    struct buf   text;
    size_t       url_len;
    struct hspan f[GW_RESP_HEADERS];
    int          n, max, in_value, overflow;
};

/* What the request head says about framing and the headers the proxy reads. */
struct reqinfo {
    int        chunked, has_length;
    uint64_t   length;
    int        host, authorization, cookie, request_id, traceparent, xff, via; /* index or -1 */
    int        expect_continue, conn_close;
    struct str conn_tokens[8]; /* names listed in Connection (hop-by-hop) */
    int        nconn_tokens;
};

void lint_reset(struct lint *l);
/* Scan head bytes; returns how many of p belong to the head (all of them
 * until it ends). *done when the head ended; *err and *why on a violation
 * (ERR_INVALID, ERR_URI_TOO_LONG or ERR_HEADERS_TOO_LARGE). */
size_t lint_scan(struct lint *l, const char *p, size_t n, int *done, int *err, const char **why);
void   chunkv_reset(struct chunkv *v);
/* Scan chunked body bytes; returns how many belong to this message, *done
 * when it ended, *why on a framing error. */
size_t chunkv_scan(struct chunkv *v, const char *p, size_t n, int *done, const char **why);

void       hhead_init(struct hhead *h, int max_fields, size_t max_bytes);
void       hhead_reset(struct hhead *h);
void       hhead_free(struct hhead *h);
int        hhead_url(struct hhead *h, const char *p, size_t n);
int        hhead_field(struct hhead *h, const char *p, size_t n);
int        hhead_value(struct hhead *h, const char *p, size_t n);
struct str hhead_name(const struct hhead *h, int i);
struct str hhead_val(const struct hhead *h, int i);
struct str hhead_target(const struct hhead *h);
int        hhead_find(const struct hhead *h, const char *name);
/* Set every line's enum hname. */
void       hhead_classify(struct hhead *h);
enum hname headers_name(struct str name);
/* Check what the parser accepted but a proxy must not (duplicate or
 * conflicting framing, Host rules, target form); fills ri. NULL or why. */
const char *headers_check_request(struct hhead *h, const struct hp_head *hp, struct reqinfo *ri);
/* 1 when line i of h is hop-by-hop (RFC 9110 §7.6.1), given the
 * Connection tokens of the same message. */
int headers_hop_by_hop(const struct hhead *h, int i, const struct str *tokens, int ntokens);
/* Collect the names listed in the Connection headers of h. */
int        headers_conn_tokens(const struct hhead *h, struct str *out, int max, int *close);
struct str headers_trim(struct str s);

#endif
