/*
 * rng.h - small seeded random streams (xoshiro256**, seeded by splitmix64).
 *
 * nntop keeps one stream per purpose (init, shuffling, dropout, data
 * generation, gradient-check sampling) so that changing how often one is
 * drawn from never perturbs the others.  Streams are plain values: copy
 * one to fork it.
 */
#ifndef NNTOP_RNG_H
#define NNTOP_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Purposes, mixed into the run seed so each gets an independent stream. */
enum rng_purpose {
    RNG_INIT,
    RNG_SHUFFLE,
    RNG_DROPOUT,
    RNG_DATA,
    RNG_SPLIT,
    RNG_GRADCHECK,
    RNG_PURPOSE_COUNT
};

/* Seed a stream from a 64-bit seed. */
void rng_seed(struct rng *r, uint64_t seed);
/* Seed the stream for one purpose of a run with the given seed. */
void rng_seed_for(struct rng *r, uint64_t run_seed, enum rng_purpose purpose);
/* Next 64 random bits. */
uint64_t rng_u64(struct rng *r);
/* Uniform double in [0, 1). */
double rng_uniform(struct rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value: one call, two uniforms). */
double rng_normal(struct rng *r);

#endif
