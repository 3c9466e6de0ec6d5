/*
 * cdc_decode.h - the binlog's bytes to our structures, without I/O: the
 * TABLE_MAP event's column types, metadata and optional metadata
 * (binlog_row_metadata=FULL: names, signedness, ENUM labels, charsets,
 * primary key), and the ROWS events' images in canonical text. Pure, so
 * migrate/t/10_cdc_decode.c feeds it hand-made event bytes.
 */
#ifndef SOUK_CDC_DECODE_H
#define SOUK_CDC_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "migrate/cdc/cdc.h"

struct arena;

/* Binlog column types (MariaDB sql/field.h, enum_field_types) we name. */
enum cdc_type {
    CDC_T_TINY = 1,
    CDC_T_SHORT = 2,
    CDC_T_LONG = 3,
    CDC_T_FLOAT = 4,
    CDC_T_DOUBLE = 5,
    CDC_T_LONGLONG = 8,
    CDC_T_INT24 = 9,
    CDC_T_DATE = 10,
    CDC_T_VARCHAR = 15,
    CDC_T_BIT = 16,
    CDC_T_TIMESTAMP2 = 17,
    CDC_T_DATETIME2 = 18,
    CDC_T_TIME2 = 19,
    CDC_T_JSON = 245,
    CDC_T_NEWDECIMAL = 246,
    CDC_T_ENUM = 247,
    CDC_T_SET = 248,
    CDC_T_TINY_BLOB = 249,
    CDC_T_MEDIUM_BLOB = 250,
    CDC_T_LONG_BLOB = 251,
    CDC_T_BLOB = 252,
    CDC_T_VAR_STRING = 253,
    CDC_T_STRING = 254,
    CDC_T_GEOMETRY = 255,
};

/* Binlog event types we act on (MariaDB sql/log_event.h). */
enum {
    CDC_EV_QUERY = 2,
    CDC_EV_ROTATE = 4,
    CDC_EV_FORMAT_DESCRIPTION = 15,
    CDC_EV_XID = 16,
    CDC_EV_TABLE_MAP = 19,
    CDC_EV_WRITE_ROWS_V1 = 23,
    CDC_EV_UPDATE_ROWS_V1 = 24,
    CDC_EV_DELETE_ROWS_V1 = 25,
    CDC_EV_HEARTBEAT = 27,
    CDC_EV_WRITE_ROWS = 30,
    CDC_EV_UPDATE_ROWS = 31,
    CDC_EV_DELETE_ROWS = 32,
    CDC_EV_GTID = 162,
    CDC_EV_WRITE_ROWS_COMPRESSED_V1 = 166,
    CDC_EV_DELETE_ROWS_COMPRESSED = 171,
};

#define CDC_ERR_MAX            256
#define CDC_SKIP_REPLICATION_F 0x8000 /* LOG_EVENT_SKIP_REPLICATION_F in the event header */
#define CDC_GTID_STANDALONE    0x01   /* FL_STANDALONE: a group without COMMIT (DDL) */

struct cdc_column {
    const char *name;
    uint8_t     type;         /* enum cdc_type; CHAR/ENUM/SET resolved from STRING's metadata */
    uint16_t    meta;         /* max bytes (CHAR, VARCHAR), length bytes (BLOB), pack length
                                 (ENUM), fractional digits (DATETIME2, TIMESTAMP2, TIME2) */
    int          is_unsigned; /* numeric columns: from the SIGNEDNESS metadata */
    int          nullable;
    int          pk;      /* part of the primary key */
    uint32_t     charset; /* collation id of character columns, 0 when not one */
    size_t       nlabels; /* ENUM: labels[0] is value 1 */
    const char **labels;
};

struct cdc_table {
    uint64_t           id;
    const char        *db, *name;
    size_t             ncols;
    struct cdc_column *cols;
    const char       **names; /* cols[i].name, as the array struct cdc_change wants */
};

/* The body of a TABLE_MAP event (after the 19-byte header, without the
 * checksum) into *out, allocated in a. ERR_INVALID with err filled when the
 * bytes are malformed or the metadata lacks the column names
 * (binlog_row_metadata is not FULL). */
MUST_CHECK int cdc_table_map_parse(const uint8_t *p, size_t len, struct arena *a,
                                   struct cdc_table **out, char *err);

/* The table id a ROWS event body refers to (6 bytes after the header). */
uint64_t cdc_rows_table_id(const uint8_t *p, size_t len);

/* The rows of a ROWS event body of type ev (WRITE/UPDATE/DELETE, v1 or v2)
 * for table t, appended to the n changes at *changes (grown in a).
 * ERR_INVALID with err filled for malformed bytes, an image that is not
 * FULL, or a column type we do not decode. */
MUST_CHECK int cdc_rows_parse(const struct cdc_table *t, int ev, const uint8_t *p, size_t len,
                              struct arena *a, struct cdc_change **changes, size_t *n, size_t *cap,
                              char *err);

/* One value of column col at p (at most len bytes) as canonical text in a;
 * *used = bytes consumed. ERR_INVALID with err filled otherwise. */
MUST_CHECK int cdc_value_decode(const struct cdc_column *col, const uint8_t *p, size_t len,
                                struct arena *a, const char **out, size_t *used, char *err);

#endif
