/*
 * clock.h - the clocks souk reads, in milliseconds: one definition, so every
 * deadline, TTL and age in the tree counts the same way.
 */
#ifndef SOUK_CLOCK_H
#define SOUK_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: for durations, deadlines and cache ages (never steps
 * when the wall clock is set). */
int64_t clock_mono_ms(void);
/* CLOCK_REALTIME: for times shown to people or compared across processes. */
int64_t clock_wall_ms(void);

#endif
