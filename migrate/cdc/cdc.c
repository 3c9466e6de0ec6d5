/*
 * cdc.c - the binlog reader of cdc.h over MariaDB Connector/C's replication
 * API (the only file that includes mariadb_rpl.h). The connector brings the
 * events in; their bytes (raw_data) are decoded by cdc_decode.c. Transactions
 * are assembled here: GTID ... XID (or COMMIT), the changes to the captured
 * tables in between, skip_replication from the events' header flags.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mariadb_rpl.h>

#include "arena.h"
#include "log.h"
#include "mdb.h"
#include "migrate/cdc/cdc.h"
#include "migrate/cdc/cdc_decode.h"

#define CDC_HEADER      19 /* timestamp 4, type 1, server id 4, length 4, next 4, flags 2 */
#define CDC_MAX_DOMAINS 16
#define CDC_MAX_TABLES  64 /* TABLE_MAPs of one transaction */

struct cdc_domain_pos {
    uint32_t domain, server;
    uint64_t seq;
};

struct cdc {
    struct cdc_config  cfg;
    struct arena      *proc; /* the dsn's parts and the table list: process lifetime */
    struct mdb_dsn     dsn;
    MYSQL             *conn;
    MARIADB_RPL       *rpl;
    MARIADB_RPL_EVENT *ev;
    /* Position: the newest GTID per domain, as @slave_connect_state wants it. */
    struct cdc_domain_pos pos[CDC_MAX_DOMAINS];
    size_t                npos;
    int                   from_now; /* cfg.gtid was NULL: start at @@gtid_binlog_pos */
    char                  pos_text[CDC_MAX_DOMAINS * CDC_GTID_MAX];
    char                  err[CDC_ERR_MAX];
    /* The transaction being assembled (its memory is the caller's arena). */
    struct cdc_txn   *txn;
    size_t            cap;
    int               standalone;
    struct cdc_table *tables[CDC_MAX_TABLES];
    uint64_t          ignored[CDC_MAX_TABLES];
    size_t            ntables, nignored;
};

/* ---- positions ------------------------------------------------------------------------------ */

/* "D-S-N[,D-S-N...]" into pos; 0 on a malformed list. */
static size_t
pos_parse(const char *s, struct cdc_domain_pos *pos, size_t max)
{
    size_t             n = 0;
    unsigned long      d, sv;
    unsigned long long q;
    char              *end;

    while (s != NULL && *s != '\0' && n < max) {
        while (*s == ' ' || *s == ',' || *s == '\n')
            s++;
        if (*s == '\0')
            break;
        d = strtoul(s, &end, 10);
        if (*end != '-')
            return 0;
        sv = strtoul(end + 1, &end, 10);
        if (*end != '-')
            return 0;
        q = strtoull(end + 1, &end, 10);
        if (*end != '\0' && *end != ',')
            return 0;
        pos[n++] = (struct cdc_domain_pos){(uint32_t)d, (uint32_t)sv, q};
        s = end;
    }
    return n;
}

static void
pos_render(struct cdc *c)
{
    size_t i, off = 0;

    c->pos_text[0] = '\0';
    for (i = 0; i < c->npos; i++)
        off += (size_t)snprintf(c->pos_text + off, sizeof(c->pos_text) - off, "%s%u-%u-%llu",
                                i ? "," : "", c->pos[i].domain, c->pos[i].server,
                                (unsigned long long)c->pos[i].seq);
}

static void
pos_advance(struct cdc *c, uint32_t domain, uint32_t server, uint64_t seq)
{
    size_t i;

    for (i = 0; i < c->npos && c->pos[i].domain != domain; i++)
        ;
    if (i == c->npos) {
        if (c->npos == CDC_MAX_DOMAINS)
            return;
        c->npos++;
    }
    c->pos[i] = (struct cdc_domain_pos){domain, server, seq};
    pos_render(c);
}

int64_t
cdc_gtid_behind(const char *have, const char *want)
{
    struct cdc_domain_pos h[CDC_MAX_DOMAINS], w[CDC_MAX_DOMAINS];
    size_t                nh = pos_parse(have, h, CDC_MAX_DOMAINS);
    size_t                nw = pos_parse(want, w, CDC_MAX_DOMAINS), i, k;
    int64_t               lag = 0;

    for (i = 0; i < nw; i++) {
        uint64_t seq = 0;

        for (k = 0; k < nh; k++)
            if (h[k].domain == w[i].domain)
                seq = h[k].seq;
        if (w[i].seq > seq)
            lag += (int64_t)(w[i].seq - seq);
    }
    return lag;
}

const char *
cdc_position(const struct cdc *c)
{
    return c->pos_text;
}

const char *
cdc_error(const struct cdc *c)
{
    return c->err;
}

/* ---- connection ----------------------------------------------------------------------------- */

struct cdc *
cdc_new(const struct cdc_config *cfg)
{
    struct cdc *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->cfg = *cfg;
    if (c->cfg.heartbeat_ms <= 0)
        c->cfg.heartbeat_ms = 1000;
    c->proc = arena_create();
    if (mdb_dsn_parse(cfg->dsn, c->proc, &c->dsn) != ERR_OK) {
        cdc_free(c);
        return NULL;
    }
    c->from_now = cfg->gtid == NULL;
    if (cfg->gtid != NULL && cfg->gtid[0] != '\0') {
        c->npos = pos_parse(cfg->gtid, c->pos, CDC_MAX_DOMAINS);
        if (c->npos == 0) {
            cdc_free(c);
            return NULL;
        }
        pos_render(c);
    }
    return c;
}

static void
cdc_close(struct cdc *c)
{
    if (c->ev != NULL)
        mariadb_free_rpl_event(c->ev);
    if (c->rpl != NULL)
        mariadb_rpl_close(c->rpl);
    if (c->conn != NULL)
        mysql_close(c->conn);
    c->ev = NULL;
    c->rpl = NULL;
    c->conn = NULL;
}

void
cdc_free(struct cdc *c)
{
    if (c == NULL)
        return;
    cdc_close(c);
    arena_destroy(c->proc);
    free(c);
}

static int
fail_conn(struct cdc *c, int rc, const char *what)
{
    snprintf(c->err, sizeof(c->err), "%s: %s (%u)", what,
             c->conn != NULL ? mysql_error(c->conn) : "out of memory",
             c->conn != NULL ? mysql_errno(c->conn) : 0);
    cdc_close(c);
    return rc;
}

/* One-row, one-column query into buf. */
static int
query_value(struct cdc *c, const char *sql, char *buf, size_t len)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;

    if (mysql_query(c->conn, sql) != 0 || (res = mysql_store_result(c->conn)) == NULL)
        return ERR_UNAVAILABLE;
    row = mysql_fetch_row(res);
    snprintf(buf, len, "%s", row != NULL && row[0] != NULL ? row[0] : "");
    mysql_free_result(res);
    return ERR_OK;
}

/* The server must log full row images with every column's name. */
static int
check_server(struct cdc *c)
{
    static const struct {
        const char *sql, *want;
    } need[] = {
        {"SELECT @@log_bin", "1"},
        {"SELECT @@binlog_format", "ROW"},
        {"SELECT @@binlog_row_image", "FULL"},
        {"SELECT @@binlog_row_metadata", "FULL"},
    };
    char   v[64];
    size_t i;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (query_value(c, need[i].sql, v, sizeof(v)))
            return fail_conn(c, ERR_UNAVAILABLE, "reading the server's settings");
        if (strcmp(v, need[i].want) != 0) {
            snprintf(c->err, sizeof(c->err),
                     "the server is not set up for capture: %s is %s, "
                     "want %s",
                     need[i].sql + 7, v, need[i].want);
            cdc_close(c);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

static int
connect_server(struct cdc *c)
{
    unsigned int ct = 5, rd = (unsigned)(c->cfg.heartbeat_ms / 1000) + 30,
                 proto = MYSQL_PROTOCOL_TCP;

    c->conn = mysql_init(NULL);
    if (c->conn == NULL)
        return fail_conn(c, ERR_UNAVAILABLE, "mysql_init");
    mysql_options(c->conn, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    /* Heartbeats arrive every heartbeat_ms; silence much longer is a dead link. */
    mysql_options(c->conn, MYSQL_OPT_READ_TIMEOUT, &rd);
    mysql_options(c->conn, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(c->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(c->conn, c->dsn.host, c->dsn.user, c->dsn.pass, NULL, c->dsn.port, NULL,
                           0) == NULL)
        return fail_conn(c, ERR_UNAVAILABLE, "connecting for the binlog");
    return ERR_OK;
}

int
cdc_open(struct cdc *c)
{
    char v[CDC_MAX_DOMAINS * CDC_GTID_MAX], sql[sizeof(v) + 256];
    int  rc;

    cdc_close(c);
    c->err[0] = '\0';
    rc = connect_server(c);
    if (rc == ERR_OK)
        rc = check_server(c);
    if (rc)
        return rc;
    if (c->from_now) {
        if (query_value(c, "SELECT @@gtid_binlog_pos", v, sizeof(v)))
            return fail_conn(c, ERR_UNAVAILABLE, "reading @@gtid_binlog_pos");
        c->from_now = 0;
        c->npos = pos_parse(v, c->pos, CDC_MAX_DOMAINS);
        pos_render(c);
    }
    /* The GTID handshake of a MariaDB replica (the connector leaves it to us):
     * capability 4 (GTID aware), where to start, checksums as the server
     * writes them, and a heartbeat so an idle stream still wakes us up. */
    snprintf(sql, sizeof(sql),
             "SET @mariadb_slave_capability=4, @slave_connect_state='%s',"
             " @slave_gtid_strict_mode=1,"
             " @master_binlog_checksum=@@global.binlog_checksum,"
             " @master_heartbeat_period=%lld",
             c->pos_text, (long long)c->cfg.heartbeat_ms * 1000000LL);
    if (mysql_query(c->conn, sql) != 0)
        return fail_conn(c, ERR_UNAVAILABLE, "starting the replica session");
    c->rpl = mariadb_rpl_init(c->conn);
    if (c->rpl == NULL)
        return fail_conn(c, ERR_UNAVAILABLE, "mariadb_rpl_init");
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_START, (unsigned long)4);
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_SERVER_ID, (unsigned int)c->cfg.server_id);
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FLAGS, (unsigned int)0);
    if (mariadb_rpl_open(c->rpl) != 0)
        return fail_conn(c, ERR_UNAVAILABLE, "COM_BINLOG_DUMP");
    c->txn = NULL;
    log_info("cdc: streaming %s:%u/%s after %s", c->dsn.host, c->dsn.port, c->dsn.name,
             c->pos_text[0] ? c->pos_text : "(the beginning)");
    return ERR_OK;
}

int
cdc_server_position(const char *dsn, struct arena *a, char **out)
{
    struct mdb      *db = mdb_new(dsn);
    struct mdb_rows *rs;
    int              rc;

    if (db == NULL)
        return ERR_INVALID;
    rc = mdb_query(db, a, "SELECT @@gtid_binlog_pos", NULL, 0, &rs);
    if (rc == ERR_OK)
        *out = arena_strdup(a, rs->nrows && mdb_get(rs, 0, 0) ? mdb_get(rs, 0, 0) : "");
    mdb_free(db);
    return rc;
}

/* ---- events --------------------------------------------------------------------------------- */

static int
captured(const struct cdc *c, const char *db, const char *table)
{
    size_t i;

    if (strcmp(db, c->dsn.name) != 0)
        return 0;
    for (i = 0; c->cfg.tables[i] != NULL; i++)
        if (strcmp(c->cfg.tables[i], table) == 0)
            return 1;
    return 0;
}

/* Does s mention word as a whole identifier (any case)? */
static int
mentions(const char *s, const char *word)
{
    size_t      n = strlen(word);
    const char *p;

    for (p = strcasestr(s, word); p != NULL; p = strcasestr(p + 1, word)) {
        int before = p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '$');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '$';

        if (!before && !after)
            return 1;
    }
    return 0;
}

/* The statement's first keyword, past blanks and comments, in kw. */
static void
first_word(const char *s, char *kw, size_t len)
{
    size_t i = 0;

    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (s[0] == '/' && s[1] == '*' && strstr(s, "*/") != NULL)
            s = strstr(s, "*/") + 2;
        else if (s[0] == '#' || (s[0] == '-' && s[1] == '-'))
            s += strcspn(s, "\n");
        else
            break;
    }
    while (i + 1 < len && isalpha((unsigned char)s[i])) {
        kw[i] = (char)toupper((unsigned char)s[i]);
        i++;
    }
    kw[i] = '\0';
}

/* A QUERY event: BEGIN/COMMIT/ROLLBACK frame a transaction; DML on a
 * captured table means some session logs statements, which we cannot turn
 * into rows: refuse it (the reader stops there). DDL passes. */
static int
on_query(struct cdc *c, struct arena *a, const uint8_t *p, size_t len, int *end)
{
    static const char *const dml[] = {"INSERT", "UPDATE",   "DELETE", "REPLACE",
                                      "LOAD",   "TRUNCATE", NULL};
    size_t                   dblen, stlen, off, i;
    char                     kw[16], *db, *st;

    *end = 0;
    if (len < 13)
        goto bad;
    dblen = p[8];
    stlen = (size_t)p[11] | (size_t)p[12] << 8;
    off = 13 + stlen;
    if (off + dblen + 1 > len)
        goto bad;
    db = arena_strndup(a, (const char *)p + off, dblen);
    st = arena_strndup(a, (const char *)p + off + dblen + 1, len - off - dblen - 1);
    first_word(st, kw, sizeof(kw));
    if (strcmp(kw, "BEGIN") == 0 || strcmp(kw, "XA") == 0)
        return ERR_OK;
    if (strcmp(kw, "COMMIT") == 0 || strcmp(kw, "ROLLBACK") == 0) {
        *end = kw[0] == 'C' ? 1 : -1;
        return ERR_OK;
    }
    for (i = 0; dml[i] != NULL; i++)
        if (strcmp(kw, dml[i]) == 0)
            break;
    if (dml[i] != NULL && (strcmp(db, c->dsn.name) == 0 || mentions(st, c->dsn.name))) {
        for (i = 0; c->cfg.tables[i] != NULL; i++) {
            if (mentions(st, c->cfg.tables[i])) {
                snprintf(c->err, sizeof(c->err),
                         "transaction %s: DML on captured table %s arrived as a statement "
                         "(binlog_format=STATEMENT in some session?): %.80s",
                         c->txn != NULL ? c->txn->gtid : "?", c->cfg.tables[i], st);
                return ERR_INVALID;
            }
        }
    }
    if (c->standalone) /* DDL: its own group; a table's shape may have changed */
        *end = 1;
    return ERR_OK;
bad:
    snprintf(c->err, sizeof(c->err), "malformed QUERY event");
    return ERR_INVALID;
}

static int
on_gtid(struct cdc *c, struct arena *a, const uint8_t *hdr, const uint8_t *p, size_t len)
{
    uint64_t seq;
    uint32_t domain, server = (uint32_t)hdr[5] | (uint32_t)hdr[6] << 8 | (uint32_t)hdr[7] << 16 |
                              (uint32_t)hdr[8] << 24;
    size_t i;

    if (len < 13) {
        snprintf(c->err, sizeof(c->err), "malformed GTID event");
        return ERR_INVALID;
    }
    for (seq = 0, i = 0; i < 8; i++)
        seq |= (uint64_t)p[i] << (8 * i);
    domain = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    c->txn = arena_new(a, struct cdc_txn);
    memset(c->txn, 0, sizeof(*c->txn));
    snprintf(c->txn->gtid, sizeof(c->txn->gtid), "%u-%u-%llu", domain, server,
             (unsigned long long)seq);
    c->txn->ts = (int64_t)((uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
                           (uint32_t)hdr[3] << 24);
    c->cap = 0;
    c->standalone = p[12] & CDC_GTID_STANDALONE;
    c->ntables = c->nignored = 0;
    return ERR_OK;
}

static int
on_table_map(struct cdc *c, struct arena *a, const uint8_t *p, size_t len)
{
    struct cdc_table *t;
    size_t            dblen, tlen;
    int               rc;

    /* Name the table before decoding: only captured tables are decoded, so a
     * column type we do not know elsewhere in the server never stops us. */
    if (len < 10 || 10 + (dblen = p[8]) + 2 > len ||
        10 + dblen + 2 + (tlen = p[9 + dblen + 1]) > len)
        return ERR_OK;
    if (!captured(c, arena_strndup(a, (const char *)p + 9, dblen),
                  arena_strndup(a, (const char *)p + 11 + dblen, tlen))) {
        if (c->nignored < CDC_MAX_TABLES)
            c->ignored[c->nignored++] = cdc_rows_table_id(p, len);
        return ERR_OK;
    }
    rc = cdc_table_map_parse(p, len, a, &t, c->err);
    if (rc)
        return rc;
    if (c->ntables == CDC_MAX_TABLES) {
        snprintf(c->err, sizeof(c->err), "more than %d captured tables in one transaction",
                 CDC_MAX_TABLES);
        return ERR_INVALID;
    }
    c->tables[c->ntables++] = t;
    return ERR_OK;
}

static int
on_rows(struct cdc *c, struct arena *a, int type, const uint8_t *p, size_t len)
{
    uint64_t id = cdc_rows_table_id(p, len);
    size_t   i;

    for (i = 0; i < c->ntables; i++)
        if (c->tables[i]->id == id)
            return cdc_rows_parse(c->tables[i], type, p, len, a, &c->txn->changes, &c->txn->n,
                                  &c->cap, c->err);
    for (i = 0; i < c->nignored; i++)
        if (c->ignored[i] == id)
            return ERR_OK;
    if (type >= CDC_EV_WRITE_ROWS_COMPRESSED_V1 && type <= CDC_EV_DELETE_ROWS_COMPRESSED)
        snprintf(c->err, sizeof(c->err),
                 "compressed row events are not decoded "
                 "(log_bin_compress must be OFF)");
    else
        snprintf(c->err, sizeof(c->err), "rows event for table id %llu without its TABLE_MAP",
                 (unsigned long long)id);
    return ERR_INVALID;
}

/* One event; *done = 1 when it ended the transaction (or an idle heartbeat). */
static int
on_event(struct cdc *c, struct arena *a, int *done)
{
    const uint8_t *hdr = c->ev->raw_data + c->ev->raw_data_ofs, *p = hdr + CDC_HEADER;
    size_t         total = c->ev->raw_data_size - c->ev->raw_data_ofs, len;
    int            type, end = 0, rc = ERR_OK;

    *done = 0;
    if (total < CDC_HEADER)
        return ERR_OK;
    type = hdr[4];
    len = c->rpl->use_checksum && type != CDC_EV_FORMAT_DESCRIPTION ? 4 : 0; /* the CRC32 */
    if (total < CDC_HEADER + len)
        return ERR_OK;
    len = total - CDC_HEADER - len;
    if (type == CDC_EV_GTID)
        return on_gtid(c, a, hdr, p, len);
    if (type == CDC_EV_HEARTBEAT) {
        *done = c->txn == NULL ? -1 : 0;
        return ERR_OK;
    }
    if (c->txn == NULL) /* rotate, format description, GTID list, checkpoint */
        return ERR_OK;
    if ((hdr[17] | hdr[18] << 8) & CDC_SKIP_REPLICATION_F)
        c->txn->skip_replication = 1;
    if (type == CDC_EV_TABLE_MAP)
        rc = on_table_map(c, a, p, len);
    else if ((type >= CDC_EV_WRITE_ROWS_V1 && type <= CDC_EV_DELETE_ROWS_V1) ||
             (type >= CDC_EV_WRITE_ROWS && type <= CDC_EV_DELETE_ROWS) ||
             (type >= CDC_EV_WRITE_ROWS_COMPRESSED_V1 && type <= CDC_EV_DELETE_ROWS_COMPRESSED))
        rc = on_rows(c, a, type, p, len);
    else if (type == CDC_EV_QUERY)
        rc = on_query(c, a, p, len, &end);
    else if (type == CDC_EV_XID)
        end = 1;
    if (rc == ERR_OK && end < 0) /* rolled back (non-transactional tables only): nothing */
        c->txn = NULL;
    *done = end > 0;
    return rc;
}

int
cdc_next(struct cdc *c, struct arena *a, struct cdc_txn **out)
{
    struct cdc_domain_pos g;
    int                   rc, done;

    if (c->rpl == NULL)
        return ERR_UNAVAILABLE;
    c->txn = NULL; /* a transaction cut by a lost connection starts over */
    for (;;) {
        c->ev = mariadb_rpl_fetch(c->rpl, c->ev);
        if (c->ev == NULL) {
            rc = mysql_errno(c->conn) == 1236 ? ERR_INVALID : ERR_UNAVAILABLE;
            return fail_conn(c, rc, "reading the binlog");
        }
        rc = on_event(c, a, &done);
        if (rc) {
            log_error("cdc: %s", c->err);
            return rc;
        }
        if (done < 0)
            return ERR_TIMEOUT;
        if (done && c->txn != NULL)
            break;
    }
    if (pos_parse(c->txn->gtid, &g, 1) == 1)
        pos_advance(c, g.domain, g.server, g.seq);
    *out = c->txn;
    c->txn = NULL;
    return ERR_OK;
}
