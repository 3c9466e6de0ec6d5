/*
 * problem.h - the one renderer of application/problem+json bodies (RFC 9457),
 * from the ERR_MAP table: the services' answers (req.c) and the gateway's
 * own (gateway answer.c) both come out of problem_render, so a client sees
 * one shape whichever process refused it.
 */
#ifndef SOUK_PROBLEM_H
#define SOUK_PROBLEM_H

#include <stddef.h>

struct buf;

/* Append the body of failure err to b, members in a fixed order: type
 * (ERR_TYPE_BASE + slug), title, status, detail, instance (when instance is
 * not NULL: instance_len bytes, any bytes), request_id (when not NULL), then
 * extra (already rendered members such as "\"retry_after\":3", or NULL).
 * detail is shown as given: callers decide what a 500 may say. */
void problem_render(struct buf *b, int err, const char *detail, const char *instance,
                    size_t instance_len, const char *request_id, const char *extra);

#endif
