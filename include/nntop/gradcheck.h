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

#include <stdint.h>

#include "nntop/nn.h"
#include "nntop/telemetry.h"

struct gradcheck_opts {
    int samples;            /* rows of the batch to use (>= 1) */
    int per_tensor;         /* entries sampled from a tensor larger than this */
    uint64_t seed;          /* which entries are sampled */
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

#endif
