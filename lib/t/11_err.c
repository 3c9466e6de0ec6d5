/*
 * 11_err.c - the ERR_MAP table: every row has a real HTTP status, a unique
 * lower-case-kebab slug and a title, and the lookups agree with the table.
 */
#include <string.h>

#include "err.h"
#include "t.h"

static const struct {
    int         code, status;
    const char *type, *title, *name;
} rows[] = {
#define X(name, status, type, title) {ERR_##name, status, type, title, #name},
    ERR_MAP(X)
#undef X
};

#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

/* [a-z0-9]+(-[a-z0-9]+)* */
static int
kebab(const char *z)
{
    const char *p;

    if (*z == '\0' || *z == '-')
        return 0;
    for (p = z; *p != '\0'; p++) {
        if (*p == '-' && (p[1] == '-' || p[1] == '\0'))
            return 0;
        if (*p != '-' && !(*p >= 'a' && *p <= 'z') && !(*p >= '0' && *p <= '9'))
            return 0;
    }
    return 1;
}

int
main(void)
{
    int i, j, dup;

    T_EQ_INT(ERR_OK, 0, "ERR_OK is zero");
    T_EQ_INT(NROWS, ERR__COUNT, "ERR__COUNT counts the rows");
    for (i = 0; i < NROWS; i++) {
        if (rows[i].code == ERR_OK) {
            T_EQ_INT(rows[i].status, 0, "OK has no HTTP status");
        } else {
            T_OK(rows[i].status >= 100 && rows[i].status <= 599, "%s: status %d is HTTP",
                 rows[i].name, rows[i].status);
            T_OK(rows[i].status >= 400, "%s: an error status", rows[i].name);
        }
        T_OK(kebab(rows[i].type), "%s: slug \"%s\" is lower-case-kebab", rows[i].name,
             rows[i].type);
        T_OK(rows[i].title[0] != '\0', "%s: has a title", rows[i].name);
        for (dup = 0, j = 0; j < i; j++)
            dup |= strcmp(rows[i].type, rows[j].type) == 0;
        T_OK(!dup, "%s: slug is unique", rows[i].name);
        T_EQ_INT(err_status(rows[i].code), rows[i].status, "%s: err_status", rows[i].name);
        T_EQ_STR(err_type(rows[i].code), rows[i].type, "%s: err_type", rows[i].name);
        T_EQ_STR(err_title(rows[i].code), rows[i].title, "%s: err_title", rows[i].name);
        T_EQ_STR(err_name(rows[i].code), rows[i].name, "%s: err_name", rows[i].name);
    }
    T_EQ_INT(err_status(-1), 500, "an unknown code is a 500");
    T_EQ_INT(err_status(ERR__COUNT), 500, "ERR__COUNT is not a code");
    T_EQ_STR(err_type(9999), "internal", "an unknown code has the internal slug");
    T_EQ_STR(err_name(9999), "UNKNOWN", "an unknown code is named UNKNOWN");
    return T_DONE();
}
