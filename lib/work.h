/*
 * work.h - the context that store, events and cache code runs in, the same
 * for a request handler and an event consumer: the arena everything lives
 * in, the thread's database handle, the trace id that events caused here
 * carry, and the thread's own service state. A request exposes one
 * (service_work in service.h, or r->work filled by the process), a consumed
 * message embeds one (struct mq_msg in mq.h), so code below the edges takes a
 * struct work * and never needs to know which of the two called it.
 */
#ifndef SOUK_WORK_H
#define SOUK_WORK_H

struct arena;
struct db;

struct work {
    struct arena *arena;  /* request or message lifetime */
    struct db    *db;     /* the thread's handle; inside the message's transaction for a
                             consumer; NULL where the process has none */
    const char *trace_id; /* what events caused here carry; NULL or "": none */
    void       *ext;      /* the thread's service state (service_spec.thread_new) or NULL */
};

#endif
