/*
 * decode.h - strict decoding of JSON objects into C structs, driven by a
 * field table. Unknown members, wrong types, out-of-range numbers, over-long
 * strings and missing required members are all rejected with a short detail.
 * Duplicate keys are rejected by the parser (req_json) before this runs.
 */
#ifndef SOUK_DECODE_H
#define SOUK_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;

enum decode_type {
    DECODE_STR,    /* char * (arena copy, valid UTF-8 guaranteed by jansson) */
    DECODE_I64,    /* int64_t; JSON integers only (1.0 and "1" are rejected) */
    DECODE_BOOL,   /* int */
    DECODE_OBJECT, /* json_t * borrowed from the document */
    DECODE_ARRAY,  /* json_t * borrowed */
};

struct decode_field {
    const char      *name; /* NULL ends the table */
    enum decode_type type;
    size_t           offset;
    int              required;
    int64_t          min, max; /* I64: value range; STR: length range in bytes */
    int              nullable; /* a JSON null is accepted and leaves the field untouched */
};

#define DECODE_PRESENT_MAX 32

/* Decode obj into out. present (may be NULL) gets bit i set when field i was
 * given. On failure returns ERR_INVALID and writes a detail such as
 * "quantity must be an integer between 1 and 99" or "unknown field \"foo\"". */
MUST_CHECK int decode_object(json_t *obj, const struct decode_field *fields, void *out,
                             uint32_t *present, struct arena *a, char *detail, size_t detail_len);

#endif
