/*
 * 34_db_copy.c - db_copy_text, the field escaping of COPY's text format:
 * backslash, tab, newline and carriage return escaped, NULL as \N, every
 * other byte (UTF-8 included) as it is. The COPY itself runs against a
 * real PostgreSQL in services/reporting/t/40_backfill.t.
 */
#include <string.h>

#include "buf.h"
#include "db.h"
#include "t.h"

int
main(void)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"plain", "plain"},
        {"", ""},
        {NULL, "\\N"},
        {"a\tb", "a\\tb"},
        {"line\nnext", "line\\nnext"},
        {"cr\r", "cr\\r"},
        {"back\\slash", "back\\\\slash"},
        {"\\N", "\\\\N"},
        {"Zo\xc3\xab", "Zo\xc3\xab"},
    };
    struct buf b;
    size_t     i;

    buf_init(&b, 1024);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        buf_reset(&b);
        db_copy_text(&b, rows[i].in);
        T_EQ_STR(buf_data(&b), rows[i].out, "field %zu (%s)", i, rows[i].in ? rows[i].in : "NULL");
    }
    buf_free(&b);
    return T_DONE();
}
