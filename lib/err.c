/*
 * err.c - lookups generated from ERR_MAP; nothing here is written by hand
 * per code.
 */
#include "err.h"

static const struct {
    int         status;
    const char *type;
    const char *title;
    const char *name;
} err_rows[] = {
#define X(name, status, type, title) {status, type, title, #name},
    ERR_MAP(X)
#undef X
};

static int
valid(int e)
{
    return e >= 0 && e < ERR__COUNT;
}

int
err_status(int e)
{
    return valid(e) ? err_rows[e].status : 500;
}

const char *
err_type(int e)
{
    return valid(e) ? err_rows[e].type : "internal";
}

const char *
err_title(int e)
{
    return valid(e) ? err_rows[e].title : "Internal error";
}

const char *
err_name(int e)
{
    return valid(e) ? err_rows[e].name : "UNKNOWN";
}
