/*
 * gradcheck.h - numerical versus analytic gradients, per tensor.
 *
 * The analytic side is the float32 backward that training uses; the
 * numerical side is a central difference of the data loss evaluated in
 * double precision.  Dropout masks are held fixed and regularisation is
 * off, so what is checked is exactly the gradient of the data loss.
 */
#ifndef NNTOP_GRADCHECK_H
#define NNTOP_GRADCHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nntop/nn.h"
#include "nntop/telemetry.h"

struct gradcheck_opts {
    int samples;            /* rows of the batch to use (>= 1) */
    int per_tensor;         /* entries sampled from a tensor larger than this */
    uint64_t seed;          /* which entries are sampled */
    /* Read before each entry's central difference (a few forward passes):
     * once it is true the check stops, out->cancelled set.  NULL: never. */
    const atomic_bool *cancel;
    /* Called at each of those reads and in the double passes' loops (NULL:
     * never), with the entries begun so far and the number the check takes
     * in all; done is -1 in the passes (no progress to report there).  A
     * true return stops the check as the cancel flag does. */
    bool (*poll)(void *ctx, long done, long total);
    void *poll_ctx;
};

/*
 * Check m's gradients on the first opts->samples rows of b.  The model's
 * parameters, running statistics and dropout stream are left exactly as
 * they were.  Fills out (one row per parameter tensor, then "input").
 * With batch norm use 4 rows or more: over 2 or 3 its batch statistics
 * leave the float32 gradients of the layer before it mostly rounding
 * noise, and the check can fail on them.
 */
void gradcheck_run(struct tm_gradcheck *out, struct model *m, const struct batch *b,
                   const struct gradcheck_opts *opts);

/* What the batch-dependency test found. */
struct depcheck_result {
    int samples;            /* rows tested (each in turn as sample i) */
    int mixed;              /* rows i whose outputs reached another row's input */
    int first_i, first_j;   /* the first such pair, or -1 */
    float leak;             /* the largest |dX| on a row j != i */
    bool batchnorm;         /* the model has batch norm: training mode mixes by design */
};

/*
 * The batch-dependency test on the B rows of x (borrowed): in eval mode,
 * for each row i, the loss is the sum of row i's outputs and every other
 * row's input gradient must be exactly 0.  Leaves the model's parameters,
 * gradients and mode as they were.
 */
void depcheck_run(struct depcheck_result *out, struct model *m, const float *x, int B);

#endif
