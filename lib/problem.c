/*
 * problem.c - problem+json bodies (problem.h). Every string goes through
 * buf_json_str: a detail or an instance may carry request bytes.
 */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "problem.h"

void
problem_render(struct buf *b, int err, const char *detail, const char *instance,
               size_t instance_len, const char *request_id, const char *extra)
{
    buf_printf(b, "{\"type\":\"%s%s\",\"title\":", ERR_TYPE_BASE, err_type(err));
    buf_json_str(b, err_title(err), strlen(err_title(err)));
    buf_printf(b, ",\"status\":%d,\"detail\":", err_status(err));
    buf_json_str(b, detail, strlen(detail));
    if (instance != NULL) {
        buf_puts(b, ",\"instance\":");
        buf_json_str(b, instance, instance_len);
    }
    if (request_id != NULL) {
        buf_puts(b, ",\"request_id\":");
        buf_json_str(b, request_id, strlen(request_id));
    }
    if (extra != NULL) {
        buf_putc(b, ',');
        buf_puts(b, extra);
    }
    buf_putc(b, '}');
}
