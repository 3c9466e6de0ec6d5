/*
 * mqbounce.c - souk-mqbounce, for lib/t/33_returns_not_starts.t: makes the
 * broker count deliveries that no handler saw. It publishes one envelope to
 * souk.events (with confirms), then N times connects, consumes QUEUE with
 * prefetch 1, takes one delivery and closes the connection without settling
 * it: the quorum queue returns the message and adds one to its
 * x-delivery-count, as it does when a consumer loses its connection or stops
 * with a message in its buffer.
 *
 *   souk-mqbounce AMQP_URL QUEUE TYPE MESSAGE_ID ENVELOPE_FILE N
 *
 * Prints "bounced N" and exits 0, or says what failed and exits 1.
 */
#include <amqp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mq_int.h"
#include "str.h"

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long  n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        goto done;
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
done:
    if (f != NULL)
        fclose(f);
    return buf;
}

/* Connect, consume queue, take one delivery, close without settling it. */
static int
bounce_once(const char *url, const char *queue)
{
    struct mq_conn   mc = {.fd = -1};
    amqp_envelope_t  env;
    amqp_rpc_reply_t res;
    struct timeval   tv = {10, 0};

    if (mq_conn_open(&mc, url) != ERR_OK)
        return -1;
    amqp_basic_qos(mc.c, MQ_CHANNEL, 0, 1, 0);
    amqp_basic_consume(mc.c, MQ_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    if (mq_reply_ok(amqp_get_rpc_reply(mc.c), "basic.consume") != ERR_OK) {
        mq_conn_close(&mc);
        return -1;
    }
    res = amqp_consume_message(mc.c, &env, &tv, 0);
    if (res.reply_type != AMQP_RESPONSE_NORMAL) {
        mq_conn_close(&mc);
        return -1;
    }
    amqp_destroy_envelope(&env);
    mq_conn_close(&mc); /* unsettled: the broker takes it back */
    return 0;
}

int
main(int argc, char **argv)
{
    struct mq_conn mc = {.fd = -1};
    size_t         len = 0;
    char          *body;
    int64_t        n = 0, i;

    if (argc != 7 || str_z_to_i64(argv[6], 0, 100, &n) != ERR_OK) {
        fputs("usage: souk-mqbounce AMQP_URL QUEUE TYPE MESSAGE_ID ENVELOPE_FILE N\n", stderr);
        return 2;
    }
    body = slurp(argv[5], &len);
    if (body == NULL) {
        fprintf(stderr, "souk-mqbounce: cannot read %s\n", argv[5]);
        return 1;
    }
    if (mq_conn_open(&mc, argv[1]) != ERR_OK ||
        mq_conn_publish(&mc,
                        &(struct mq_pub){.exchange = MQ_EXCHANGE,
                                         .routing_key = argv[3],
                                         .message_id = argv[4],
                                         .type = argv[3],
                                         .body = body,
                                         .len = len},
                        1) != ERR_OK) {
        fputs("souk-mqbounce: publish failed\n", stderr);
        return 1;
    }
    mq_conn_close(&mc);
    free(body);
    for (i = 0; i < n; i++)
        if (bounce_once(argv[1], argv[2]) != 0) {
            fprintf(stderr, "souk-mqbounce: bounce %lld failed\n", (long long)i + 1);
            return 1;
        }
    printf("bounced %lld\n", (long long)n);
    return 0;
}
