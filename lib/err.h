/*
 * err.h - the one error vocabulary of souk.
 * Every fallible function returns ERR_OK (0) or one of these codes; each row
 * maps a code to its HTTP status and the stable problem "type" slug that
 * clients see (https://souk.dev/problems/<slug>). Add a row, never a branch.
 */
#ifndef SOUK_ERR_H
#define SOUK_ERR_H

#define MUST_CHECK __attribute__((warn_unused_result))

/* clang-format off */
#define ERR_MAP(X)                                                                         \
    X(OK,                 0,   "ok",                    "OK")                              \
    X(INVALID,            400, "invalid-request",       "Invalid request")                 \
    X(BAD_JSON,           400, "malformed-json",        "Malformed JSON")                  \
    X(UNAUTHORIZED,       401, "unauthorized",          "Unauthorized")                    \
    X(FORBIDDEN,          403, "forbidden",             "Forbidden")                       \
    X(NOT_FOUND,          404, "not-found",             "Not found")                       \
    X(METHOD,             405, "method-not-allowed",    "Method not allowed")              \
    X(REQ_TIMEOUT,        408, "request-timeout",       "Request timeout")                 \
    X(CONFLICT,           409, "conflict",              "Conflict")                        \
    X(DUPLICATE,          409, "duplicate",             "Already exists")                  \
    X(TOO_LARGE,          413, "payload-too-large",     "Payload too large")               \
    X(URI_TOO_LONG,       414, "uri-too-long",          "URI too long")                    \
    X(MEDIA_TYPE,         415, "unsupported-media-type", "Unsupported media type")         \
    X(UNPROCESSABLE,      422, "unprocessable",         "Unprocessable request")           \
    X(TOO_MANY,           429, "too-many-requests",     "Too many requests")               \
    X(HEADERS_TOO_LARGE,  431, "headers-too-large",     "Request header fields too large") \
    X(INTERNAL,           500, "internal",              "Internal error")                  \
    X(UPSTREAM,           502, "bad-gateway",           "Bad gateway")                     \
    X(UNAVAILABLE,        503, "unavailable",           "Service unavailable")             \
    X(BUSY,               503, "busy",                  "Busy, retry")                     \
    X(TIMEOUT,            504, "upstream-timeout",      "Upstream timeout")                \
    /* accounts */                                                                         \
    X(EMAIL_TAKEN,        409, "email-taken",           "Email already registered")        \
    X(LOGIN_FAILED,       401, "login-failed",          "Invalid email or password")       \
    /* cart and orders */                                                                  \
    X(CART_EMPTY,         409, "cart-empty",            "Cart is empty")                   \
    X(IDEMPOTENCY_REUSED, 422, "idempotency-key-reused", "Idempotency key reused")         \
    X(ORDER_STATE,        409, "order-state",           "Order state conflict")            \
    /* inventory */                                                                        \
    X(OUT_OF_STOCK,       409, "out-of-stock",          "Out of stock")                    \
    /* payments */                                                                         \
    X(PAYMENT_DECLINED,   402, "payment-declined",      "Payment declined")                \
    X(PAYMENT_UNAVAILABLE, 503, "payment-unavailable",  "Payment provider unavailable")    \
    /* reviews */                                                                          \
    X(ALREADY_REVIEWED,   409, "already-reviewed",      "Already reviewed")

/* clang-format on */

enum err {
#define X(name, status, type, title) ERR_##name,
    ERR_MAP(X)
#undef X
        ERR__COUNT
};

#define ERR_TYPE_BASE "https://souk.dev/problems/"

/* HTTP status of code e (500 for an unknown code). */
int err_status(int e);
/* Stable problem-type slug of e, e.g. "out-of-stock". */
const char *err_type(int e);
/* Human title of e. */
const char *err_title(int e);
/* Symbolic name of e, e.g. "OUT_OF_STOCK" (for logs). */
const char *err_name(int e);

#endif
