/*
 * synth.c - the synthetic data sets: CS231n's spiral, noisy xor and
 * gaussian blobs, generated from the RNG_DATA stream of the run seed so a
 * seed names one data set.  Rows come out class by class (spiral, blobs)
 * as the reference generators produce them; splitting and shuffling are
 * data.c's business, not this file's.
 */
#include "config.h"

#include "data-int.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/rng.h"
#include "nntop/xmem.h"

/* Refuse sizes whose (n, d) float array would not fit a size_t. */
static int
synth_alloc(struct dataset *ds, const char *what, long n, int d, struct data_budget *b,
            char **cause)
{
    size_t cells;
    if (n <= 0 || d <= 0 || __builtin_mul_overflow((size_t)n, (size_t)d, &cells)
        || cells > SIZE_MAX / sizeof(float)) {
        data_set_cause(cause, "%s: %ld points of %d features is not a size nntop can hold",
                       what, n, d);
        return -1;
    }
    if (data_budget_take(b, (uint64_t)cells * sizeof(float) + (uint64_t)n * sizeof(int32_t),
                         what, "the generated points", cause) < 0)
        return -1;
    ds->n = n;
    ds->d = d;
    ds->floats = xmalloc(cells * sizeof(float));
    ds->labels = xmalloc((size_t)n * sizeof(int32_t));
    return 0;
}

/*
 * CS231n: for class k, r = linspace(0, 1, N), t = linspace(4k, 4(k+1), N)
 * + N(0, noise^2), x = (r sin t, r cos t).
 */
static int
synth_spiral(struct dataset *ds, const struct data_spec *spec, struct rng *r,
             struct data_budget *b, char **cause)
{
    if (spec->classes < 1 || spec->points < 1) {
        data_set_cause(cause, "spiral: needs classes >= 1 and points >= 1 (got %d and %ld)",
                       spec->classes, spec->points);
        return -1;
    }
    if (spec->points > LONG_MAX / spec->classes) {
        data_set_cause(cause, "spiral: %d classes of %ld points is too many", spec->classes,
                       spec->points);
        return -1;
    }
    long N = spec->points;
    if (synth_alloc(ds, "spiral", N * spec->classes, 2, b, cause) < 0)
        return -1;
    /* numpy's linspace(a, b, 1) is [a]: a lone point sits at the centre. */
    double step = N > 1 ? 1.0 / (double)(N - 1) : 0.0;
    long row = 0;
    for (int k = 0; k < spec->classes; k++) {
        for (long i = 0; i < N; i++, row++) {
            double rad = (double)i * step;
            double t = 4.0 * k + 4.0 * (double)i * step + rng_normal(r) * spec->noise;
            ds->floats[2 * row] = (float)(rad * sin(t));
            ds->floats[2 * row + 1] = (float)(rad * cos(t));
            ds->labels[row] = k;
        }
    }
    return 0;
}

/* Uniform in [-1, 1]^2, label (x > 0) xor (y > 0) of the clean point, then noise. */
static int
synth_xor(struct dataset *ds, const struct data_spec *spec, struct rng *r,
             struct data_budget *b, char **cause)
{
    if (spec->points < 1) {
        data_set_cause(cause, "xor: needs points >= 1 (got %ld)", spec->points);
        return -1;
    }
    if (synth_alloc(ds, "xor", spec->points, 2, b, cause) < 0)
        return -1;
    for (long i = 0; i < spec->points; i++) {
        double x = 2.0 * rng_uniform(r) - 1.0;
        double y = 2.0 * rng_uniform(r) - 1.0;
        ds->labels[i] = (x > 0.0) != (y > 0.0);
        x += rng_normal(r) * spec->noise;
        y += rng_normal(r) * spec->noise;
        ds->floats[2 * i] = (float)x;
        ds->floats[2 * i + 1] = (float)y;
    }
    return 0;
}

/*
 * Centres uniform in [-10, 10]^features, then per class a gaussian cloud
 * of std spread.  points is the total; like scikit-learn's make_blobs the
 * first points % classes classes get one extra.
 */
static int
synth_blobs(struct dataset *ds, const struct data_spec *spec, struct rng *r,
             struct data_budget *b, char **cause)
{
    if (spec->classes < 1 || spec->points < 1 || spec->features < 1) {
        data_set_cause(cause,
                       "blobs: needs classes, points and features >= 1 (got %d, %ld, %d)",
                       spec->classes, spec->points, spec->features);
        return -1;
    }
    if (!(spec->spread >= 0.0)) {
        data_set_cause(cause, "blobs: spread must be >= 0 (got %g)", spec->spread);
        return -1;
    }
    int C = spec->classes, F = spec->features;
    if (synth_alloc(ds, "blobs", spec->points, F, b, cause) < 0)
        return -1;
    double *centre = xmalloc((size_t)C * (size_t)F * sizeof *centre);   /* (C, F) */
    for (size_t i = 0; i < (size_t)C * (size_t)F; i++)
        centre[i] = 20.0 * rng_uniform(r) - 10.0;
    long row = 0;
    for (int k = 0; k < C; k++) {
        long nk = spec->points / C + (k < spec->points % C ? 1 : 0);
        for (long i = 0; i < nk; i++, row++) {
            for (int j = 0; j < F; j++)
                ds->floats[(size_t)row * F + j]
                    = (float)(centre[(size_t)k * F + j] + rng_normal(r) * spec->spread);
            ds->labels[row] = k;
        }
    }
    free(centre);
    return 0;
}

int
data_synth_generate(struct dataset *ds, int *classes, const struct data_spec *spec,
                    uint64_t seed, struct data_budget *b, char **cause)
{
    struct rng r;
    rng_seed_for(&r, seed, RNG_DATA);
    memset(ds, 0, sizeof *ds);
    if (!(spec->noise >= 0.0) && spec->source != DATA_BLOBS) {
        data_set_cause(cause, "%s: noise must be >= 0 (got %g)", data_source_name(spec->source),
                       spec->noise);
        return -1;
    }
    int rc;
    switch (spec->source) {
    case DATA_SPIRAL:
        rc = synth_spiral(ds, spec, &r, b, cause);
        *classes = spec->classes;
        break;
    case DATA_XOR:
        rc = synth_xor(ds, spec, &r, b, cause);
        *classes = 2;
        break;
    case DATA_BLOBS:
        rc = synth_blobs(ds, spec, &r, b, cause);
        *classes = spec->classes;
        break;
    default:
        data_set_cause(cause, "data: source %d is not a generator", (int)spec->source);
        return -1;
    }
    if (rc < 0)
        data_store_fini(ds);
    return rc;
}
