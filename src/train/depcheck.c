/*
 * depcheck.c - the batch-dependency test: does a sample's loss reach any
 * other sample's input?
 *
 * In eval mode (dropout off, batch norm on its running statistics) the
 * samples of a batch are independent, so with the loss set to the sum of
 * sample i's outputs only sample i may get a non-zero input gradient.  A
 * reshape or transpose that mixes rows breaks exactly that.  Batch norm
 * in training mode mixes samples by design (its batch statistics); that
 * is said, not tested.  The model is left as it was.  No screen, no
 * files.
 */
#include "config.h"

#include "nntop/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

void
depcheck_run(struct depcheck_result *out, struct model *m, const float *x, int B)
{
    memset(out, 0, sizeof *out);
    out->first_i = out->first_j = -1;
    out->samples = B;
    for (int i = 0; i < m->nlayers; i++)
        out->batchnorm = out->batchnorm || m->layers[i].kind == LAYER_BATCHNORM;

    float *grads = xmalloc(m->nparams * sizeof *grads);
    memcpy(grads, m->grads, m->nparams * sizeof *grads);
    bool saved_training = m->training, saved_dx = m->want_dx;
    model_set_training(m, false);
    m->want_dx = true;

    size_t C = (size_t)m->out, IN = (size_t)m->in;
    for (int i = 0; i < B; i++) {
        model_forward(m, x, B);
        /* loss = sum of sample i's outputs: dL/dy is 1 on row i, 0 elsewhere */
        memset(m->dlogits, 0, (size_t)B * C * sizeof *m->dlogits);
        for (size_t c = 0; c < C; c++)
            m->dlogits[(size_t)i * C + c] = 1.0f;
        model_backward(m);
        bool mixed = false;
        for (int j = 0; j < B; j++) {
            if (j == i)
                continue;
            const float *dxj = m->dx + (size_t)j * IN;
            for (size_t k = 0; k < IN; k++) {
                float v = fabsf(dxj[k]);
                if (v == 0.0f)
                    continue;
                if (!mixed && out->first_i < 0) {
                    out->first_i = i;
                    out->first_j = j;
                }
                mixed = true;
                out->leak = v > out->leak ? v : out->leak;
            }
        }
        out->mixed += mixed;
    }

    memcpy(m->grads, grads, m->nparams * sizeof *grads);
    m->want_dx = saved_dx;
    model_set_training(m, saved_training);
    free(grads);
}
