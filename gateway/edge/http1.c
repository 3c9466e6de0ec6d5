/*
 * http1.c - HTTP/1.1 rules the gateway enforces itself (RFC 9110, 9112),
 * because a proxy that parses a message differently from its upstream is a
 * request-smuggling hole and http-parser 2.9 is lenient in places: a lint
 * over the raw head bytes, a validator of chunked framing, the collected
 * head and its checks (framing, Host, target), and hop-by-hop headers.
 * Pure functions: no I/O, no loop.
 */
#include <string.h>
#include <strings.h>

#include "gw.h"

/* tchar (RFC 9110 §5.6.2): the bytes a header name or a token may hold. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,  ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,  ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,  ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,  ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,  ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

/* A field value may hold HTAB, SP, VCHAR and obs-text, nothing else. */
static int
value_byte(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* ---- lint: the raw request head ------------------------------------------- */

enum {
    L_START,    /* before the request line (empty lines are skipped) */
    L_START_LF, /* CR seen there */
    L_REQ,      /* request line */
    L_REQ_LF,
    L_LINE, /* start of a header line, or the empty line */
    L_NAME,
    L_VALUE,
    L_VALUE_LF,
    L_END_LF,
};

void
lint_reset(struct lint *l)
{
    memset(l, 0, sizeof(*l));
}

/* method SP request-target SP HTTP-version (RFC 9112 §3): exactly two
 * single spaces, a token method, and a version of HTTP/1.0 or HTTP/1.1 (the
 * parser takes "GET  /x", "HTTP/1.2" and HTTP/0.9's "GET /x"). */
static const char *
request_line_byte(struct lint *l, unsigned char ch)
{
    if (ch == ' ') {
        if (l->spaces == 2 || l->since_space == 0)
            return "invalid request line";
        l->spaces++;
        l->since_space = 0;
        return NULL;
    }
    if (ch < 0x21)
        return "control character in request line";
    if (ch >= 0x7f)
        return "non-ascii byte in request line";
    if (l->spaces == 0 && !tchar[ch])
        return "invalid method";
    if (l->spaces == 2 && l->since_space < sizeof(l->version))
        l->version[l->since_space] = (char)ch;
    l->since_space++;
    return NULL;
}

static const char *
request_line_end(struct lint *l)
{
    if (l->spaces != 2 || l->since_space == 0)
        return "invalid request line";
    if (l->since_space != 8 ||
        (memcmp(l->version, "HTTP/1.1", 8) != 0 && memcmp(l->version, "HTTP/1.0", 8) != 0))
        return "unsupported http version";
    return NULL;
}

/* A byte of the header lines (RFC 9112 §5): a token name, the colon right
 * after it, a value of visible bytes and whitespace; no folding. */
static const char *
lint_header_byte(struct lint *l, unsigned char ch, int *err, int *done)
{
    switch (l->state) {
    case L_LINE:
        if (ch == '\r') {
            l->state = L_END_LF;
        } else if (ch == '\n') {
            *done = 1;
        } else if (ch == ' ' || ch == '\t') {
            return "obsolete line folding in request head";
        } else if (!tchar[ch]) {
            return "invalid character in header name";
        } else if (++l->lines > LIMIT_HEADER_COUNT) {
            *err = ERR_HEADERS_TOO_LARGE;
            return "too many request header fields";
        } else {
            l->state = L_NAME;
        }
        return NULL;
    case L_NAME:
        if (ch == ':')
            l->state = L_VALUE;
        else if (ch == ' ' || ch == '\t')
            return "whitespace before colon in header field";
        else if (!tchar[ch])
            return "invalid character in header name";
        return NULL;
    default: /* L_VALUE */
        if (ch == '\r')
            l->state = L_VALUE_LF;
        else if (ch == '\n')
            l->state = L_LINE;
        else if (!value_byte(ch))
            return "control character in header value";
        return NULL;
    }
}

/* One byte; returns NULL or why it is refused (err says which status). */
static const char *
lint_byte(struct lint *l, unsigned char ch, int *err, int *done)
{
    if (ch == '\0')
        return "nul byte in request head";
    switch (l->state) {
    case L_START:
        if (ch == '\r') {
            l->state = L_START_LF;
        } else if (ch != '\n') {
            l->state = L_REQ;
            return request_line_byte(l, ch);
        }
        break;
    case L_START_LF:
    case L_REQ_LF:
    case L_VALUE_LF:
    case L_END_LF:
        if (ch != '\n')
            return "bare cr in request head";
        if (l->state == L_END_LF)
            *done = 1;
        l->state = l->state == L_START_LF ? L_START : L_LINE;
        break;
    case L_REQ:
        if (++l->line_bytes > LIMIT_REQUEST_LINE) {
            *err = ERR_URI_TOO_LONG;
            return "request line is too long";
        }
        if (ch == '\r' || ch == '\n') {
            l->state = ch == '\r' ? L_REQ_LF : L_LINE;
            return request_line_end(l);
        }
        return request_line_byte(l, ch);
    default:
        return lint_header_byte(l, ch, err, done);
    }
    return NULL;
}

size_t
lint_scan(struct lint *l, const char *p, size_t n, int *done, int *err, const char **why)
{
    size_t i;

    *done = 0;
    *why = NULL;
    *err = ERR_INVALID;
    for (i = 0; i < n && !*done; i++) {
        if (l->state >= L_LINE && ++l->header_bytes > LIMIT_HEADER_BYTES) {
            *err = ERR_HEADERS_TOO_LARGE;
            *why = "request header fields are too large";
            return i;
        }
        *why = lint_byte(l, (unsigned char)p[i], err, done);
        if (*why != NULL)
            return i;
    }
    return i;
}

/* ---- chunked framing ------------------------------------------------------- */

enum {
    C_SIZE0,    /* first hex digit of a size */
    C_SIZE,     /* more digits */
    C_SIZE_WS,  /* BWS after the size: only before ';' */
    C_EXT_PRE,  /* after ';' */
    C_EXT_NAME, /* extension name */
    C_EXT_EQ,   /* after the name, BWS */
    C_EXT_VPRE, /* after '=' */
    C_EXT_TOK,  /* token value */
    C_EXT_QS,   /* quoted-string value */
    C_EXT_QP,   /* after a backslash in it */
    C_EXT_END,  /* after a value, BWS */
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TLINE, /* start of a trailer line, or the final CRLF */
    C_TNAME,
    C_TVALUE,
    C_TVALUE_LF,
    C_END_LF,
};

#define CHUNK_LINE_MAX 4096 /* size line with its extensions */

void
chunkv_reset(struct chunkv *v)
{
    memset(v, 0, sizeof(*v));
}

static int
hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

/* The size line: digits, then extensions (RFC 9112 §7.1.1). */
static const char *
chunk_size_byte(struct chunkv *v, unsigned char ch)
{
    int d = hexval(ch);

    if (++v->line > CHUNK_LINE_MAX)
        return "chunk size line is too long";
    switch (v->state) {
    case C_SIZE0:
        if (d < 0)
            return "invalid chunk size";
        v->left = (uint64_t)d;
        v->digits = 1;
        v->state = C_SIZE;
        return NULL;
    case C_SIZE:
        if (d >= 0) {
            if (++v->digits > 15)
                return "chunk size is too large";
            v->left = v->left * 16 + (uint64_t)d;
        } else if (ch == ';') {
            v->state = C_EXT_PRE;
        } else if (ch == ' ' || ch == '\t') {
            v->state = C_SIZE_WS;
        } else if (ch == '\r') {
            v->state = C_SIZE_LF;
        } else {
            return "invalid chunk size";
        }
        return NULL;
    case C_SIZE_WS:
        if (ch == ';')
            v->state = C_EXT_PRE;
        else if (ch != ' ' && ch != '\t')
            return "invalid chunk size";
        return NULL;
    default:
        break;
    }
    return NULL;
}

/* A quoted-string extension value, backslash escapes included. */
static const char *
chunk_quoted_byte(struct chunkv *v, unsigned char ch)
{
    if (v->state == C_EXT_QP) {
        if (!value_byte(ch))
            return "invalid chunk extension";
        v->state = C_EXT_QS;
    } else if (ch == '"') {
        v->state = C_EXT_END;
    } else if (ch == '\\') {
        v->state = C_EXT_QP;
    } else if (!value_byte(ch)) {
        return "invalid chunk extension";
    }
    return NULL;
}

static const char *
chunk_ext_byte(struct chunkv *v, unsigned char ch)
{
    int ws = ch == ' ' || ch == '\t';

    if (++v->line > CHUNK_LINE_MAX)
        return "chunk size line is too long";
    switch (v->state) {
    case C_EXT_PRE:
        if (tchar[ch])
            v->state = C_EXT_NAME;
        else if (!ws)
            return "invalid chunk extension";
        return NULL;
    case C_EXT_NAME:
    case C_EXT_EQ:
        if (tchar[ch] && v->state == C_EXT_NAME)
            return NULL;
        if (ws)
            v->state = C_EXT_EQ;
        else if (ch == '=')
            v->state = C_EXT_VPRE;
        else if (ch == ';')
            v->state = C_EXT_PRE;
        else if (ch == '\r')
            v->state = C_SIZE_LF;
        else
            return "invalid chunk extension";
        return NULL;
    case C_EXT_VPRE:
        if (ch == '"')
            v->state = C_EXT_QS;
        else if (tchar[ch])
            v->state = C_EXT_TOK;
        else if (!ws)
            return "invalid chunk extension";
        return NULL;
    case C_EXT_TOK:
    case C_EXT_END:
        if (tchar[ch] && v->state == C_EXT_TOK)
            return NULL;
        if (ws)
            v->state = C_EXT_END;
        else if (ch == ';')
            v->state = C_EXT_PRE;
        else if (ch == '\r')
            v->state = C_SIZE_LF;
        else
            return "invalid chunk extension";
        return NULL;
    default:
        return chunk_quoted_byte(v, ch);
    }
}

/* Trailer lines and the final CRLF: the same rules as header lines. */
static const char *
chunk_trailer_byte(struct chunkv *v, unsigned char ch, int *done)
{
    if (++v->trailer > LIMIT_HEADER_BYTES)
        return "trailer section is too large";
    switch (v->state) {
    case C_TLINE:
        if (ch == '\r')
            v->state = C_END_LF;
        else if (tchar[ch])
            v->state = C_TNAME;
        else
            return "invalid trailer field";
        return NULL;
    case C_TNAME:
        if (ch == ':')
            v->state = C_TVALUE;
        else if (!tchar[ch])
            return "invalid trailer field";
        return NULL;
    case C_TVALUE:
        if (ch == '\r')
            v->state = C_TVALUE_LF;
        else if (!value_byte(ch))
            return "invalid trailer field";
        return NULL;
    case C_TVALUE_LF:
        if (ch != '\n')
            return "bare cr in trailer section";
        v->state = C_TLINE;
        return NULL;
    default: /* C_END_LF */
        if (ch != '\n')
            return "bare cr in chunked body";
        *done = 1;
        return NULL;
    }
}

static const char *
chunk_byte(struct chunkv *v, unsigned char ch, int *done)
{
    switch (v->state) {
    case C_SIZE0:
    case C_SIZE:
    case C_SIZE_WS:
        return chunk_size_byte(v, ch);
    case C_SIZE_LF:
        if (ch != '\n')
            return "bare cr in chunk size line";
        v->line = 0;
        v->state = v->left > 0 ? C_DATA : C_TLINE;
        return NULL;
    case C_DATA_CR:
        if (ch != '\r')
            return "chunk data not followed by crlf";
        v->state = C_DATA_LF;
        return NULL;
    case C_DATA_LF:
        if (ch != '\n')
            return "chunk data not followed by crlf";
        v->state = C_SIZE0;
        return NULL;
    case C_TLINE:
    case C_TNAME:
    case C_TVALUE:
    case C_TVALUE_LF:
    case C_END_LF:
        return chunk_trailer_byte(v, ch, done);
    default:
        return chunk_ext_byte(v, ch);
    }
}

size_t
chunkv_scan(struct chunkv *v, const char *p, size_t n, int *done, const char **why)
{
    size_t i = 0, take;

    *done = 0;
    *why = NULL;
    while (i < n && !*done) {
        if (v->state == C_DATA) {
            /* Data bytes are opaque: skip them in one step. */
            take = n - i < v->left ? n - i : (size_t)v->left;
            v->left -= take;
            i += take;
            if (v->left == 0)
                v->state = C_DATA_CR;
            continue;
        }
        *why = chunk_byte(v, (unsigned char)p[i], done);
        if (*why != NULL)
            return i;
        i++;
    }
    return i;
}
