/*
 * 11_cdc_position.c - lag in transactions between two GTID positions
 * (cdc_gtid_behind): per domain, the server's sequence minus ours.
 */
#include "migrate/cdc/cdc.h"
#include "t.h"

int
main(void)
{
    static const struct {
        const char *have, *want;
        int64_t     lag;
    } cases[] = {
        {"0-1-10", "0-1-10", 0},
        {"0-1-10", "0-1-15", 5},
        {"0-1-15", "0-1-10", 0},
        {"", "0-1-7", 7},
        {"0-1-5", "0-1-7,1-2-3", 5},
        {"0-1-5,1-2-1", "1-2-3,0-1-7", 4},
        {"0-1-5", "", 0},
        {"0-1-5", "junk", 0},
        {"0-1-18446744073709551614", "0-1-18446744073709551615", 1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_INT(cdc_gtid_behind(cases[i].have, cases[i].want), cases[i].lag, "%s behind %s",
                 cases[i].have, cases[i].want);
    return T_DONE();
}
