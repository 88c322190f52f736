/*
 * mono.h - the interval clocks, read one way everywhere: rates, redraw
 * pacing, flush intervals, spin budgets, run-relative times, benchmarks.
 *
 * The origin is arbitrary (boot, usually): only differences mean anything.
 * Wall-clock dates (env.txt, event "time") are not this clock's job.
 */
#ifndef NNTOP_MONO_H
#define NNTOP_MONO_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t mono_ns(void);
/* CLOCK_MONOTONIC in seconds. */
double mono_seconds(void);
/* A cheaper, tick-grained reading (CLOCK_MONOTONIC_COARSE where there is one), in seconds. */
double mono_coarse_seconds(void);
/* CPU time this process has used (all threads), in seconds: steadier than
 * elapsed time on a shared machine, which is why the benchmarks read it too. */
double mono_cpu_seconds(void);

#endif
