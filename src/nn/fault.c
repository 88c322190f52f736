/*
 * fault.c - planted bugs in backward passes, compiled only with
 * --enable-fault-injection.  Each one is the correct kernel followed by
 * the corruption a real bug would cause, so the tests can show that the
 * gradient check catches it and names the right tensors.  Nothing here
 * runs in a release build.
 */
#include "config.h"

#include "nntop/nn.h"

#include <math.h>
#include <string.h>

#include "layers.h"
#include "nntop/blas.h"

static enum nn_fault_kind planted_kind;
static int planted_layer = -1;

void
nn_fault_plant(enum nn_fault_kind kind, int layer)
{
    planted_kind = kind;
    planted_layer = kind == NN_FAULT_NONE ? -1 : layer;
}

bool
fault_backward(struct model *m, int i, float *dx, const float *g, const float *x)
{
    if (planted_kind == NN_FAULT_NONE || planted_kind == NN_FAULT_CE_SCALE || planted_layer != i)
        return false;
    struct layer *L = &m->layers[i];
    int B = m->batch;
    size_t n = (size_t)B * (size_t)L->out;
    switch (planted_kind) {
    case NN_FAULT_RELU_MASK:
        if (L->kind != LAYER_RELU)
            return false;
        if (dx != NULL && dx != g)
            memcpy(dx, g, n * sizeof *dx);
        return true;
    case NN_FAULT_BATCH_MIX: {
        if (L->kind != LAYER_DENSE)
            return false;
        float *dw = m->grads + m->tensors[L->weight].offset;
        float *db = m->grads + m->tensors[L->bias].offset;
        const float *w = m->params + m->tensors[L->weight].offset;
        layer_dense_backward(NULL, dw, db, g, x, w, B, L->in, L->out);
        if (dx == NULL)
            return true;
        /* dX (B, IN) = dY . W with dY's buffer taken as (OUT, B) and
         * transposed: the view/transpose bug that mixes samples. */
        for (int r = 0; r < B; r++)
            for (int k = 0; k < L->in; k++) {
                float s = 0.0f;
                for (int o = 0; o < L->out; o++)
                    s += g[(size_t)o * B + r] * w[(size_t)o * L->in + k];
                dx[(size_t)r * L->in + k] = s;
            }
        return true;
    }
    case NN_FAULT_DENSE_WEIGHT_T:
    case NN_FAULT_DENSE_BIAS_SUM: {
        if (L->kind != LAYER_DENSE)
            return false;
        float *dw = m->grads + m->tensors[L->weight].offset;
        float *db = m->grads + m->tensors[L->bias].offset;
        const float *w = m->params + m->tensors[L->weight].offset;
        layer_dense_backward(dx, dw, db, g, x, w, B, L->in, L->out);
        if (planted_kind == NN_FAULT_DENSE_WEIGHT_T)
            /* dW^T (IN, OUT) = X^T . dY, stored where dW (OUT, IN) belongs */
            blas_sgemm(true, false, L->in, L->out, B, 1.0f, x, g, 0.0f, dw);
        else
            memcpy(db, g, (size_t)L->out * sizeof *db);
        return true;
    }
    case NN_FAULT_BN_MEAN: {
        if (L->kind != LAYER_BATCHNORM || !m->training)
            return false;
        float *dgamma = m->grads + m->tensors[L->weight].offset;
        float *dbeta = m->grads + m->tensors[L->bias].offset;
        const float *gamma = m->params + m->tensors[L->weight].offset;
        layer_batchnorm_backward(dx, dgamma, dbeta, g, L->xhat, L->invstd, gamma, true, B,
                                 L->out);
        /* correct dX = gamma invstd (dY - dbeta/B - xhat dgamma/B); the bug drops dbeta/B */
        if (dx != NULL)
            for (int r = 0; r < B; r++)
                for (int j = 0; j < L->out; j++)
                    dx[(size_t)r * L->out + j] += gamma[j] * L->invstd[j] * dbeta[j] / (float)B;
        return true;
    }
    case NN_FAULT_TANH_AT_OUTPUT:
        if (L->kind != LAYER_TANH)
            return false;
        for (size_t k = 0; k < n; k++) {
            float t = tanhf(L->y[k]);
            dx[k] = g[k] * (1.0f - t * t);
        }
        return true;
    case NN_FAULT_CONV_WEIGHT_FLIP:
    case NN_FAULT_CONV_BIAS_FIRST: {
        if (L->kind != LAYER_CONV2D || (planted_kind == NN_FAULT_CONV_BIAS_FIRST && L->bias < 0))
            return false;
        float *dw = m->grads + m->tensors[L->weight].offset;
        float *db = L->bias >= 0 ? m->grads + m->tensors[L->bias].offset : NULL;
        const float *w = m->params + m->tensors[L->weight].offset;
        layer_conv2d_backward(dx, dw, db, m->col, g, x, w, B, L->c, L->h, L->w, L->oc, L->k,
                              L->stride, L->pad);
        if (planted_kind == NN_FAULT_CONV_WEIGHT_FLIP) {
            /* reverse each k x k kernel in place: tap (ki, kj) <-> (k-1-ki, k-1-kj) */
            int kk = L->k * L->k;
            for (int f = 0; f < L->oc * L->c; f++)
                for (int t = 0; t < kk / 2; t++) {
                    float tmp = dw[f * kk + t];
                    dw[f * kk + t] = dw[f * kk + kk - 1 - t];
                    dw[f * kk + kk - 1 - t] = tmp;
                }
        } else {
            /* db (OC) from sample 0's dY (OC, OH OW) only */
            int P = L->oh * L->ow;
            for (int o = 0; o < L->oc; o++) {
                float acc = 0.0f;
                for (int j = 0; j < P; j++)
                    acc += g[(size_t)o * P + j];
                db[o] = acc;
            }
        }
        return true;
    }
    case NN_FAULT_MAXPOOL_FIRST: {
        if (L->kind != LAYER_MAXPOOL2D || dx == NULL)
            return false;
        /* dX of each window's first in-range input (its top-left corner) */
        memset(dx, 0, (size_t)B * L->in * sizeof *dx);
        for (int r = 0; r < B; r++)
            for (int c = 0; c < L->c; c++)
                for (int oy = 0; oy < L->oh; oy++)
                    for (int ox = 0; ox < L->ow; ox++) {
                        int iy = oy * L->stride - L->pad, ix = ox * L->stride - L->pad;
                        iy = iy < 0 ? 0 : iy;
                        ix = ix < 0 ? 0 : ix;
                        size_t o = (((size_t)r * L->c + c) * L->oh + oy) * L->ow + ox;
                        dx[(((size_t)r * L->c + c) * L->h + iy) * L->w + ix] += g[o];
                    }
        return true;
    }
    case NN_FAULT_AVGPOOL_SCALE:
        if (L->kind != LAYER_AVGPOOL2D || dx == NULL)
            return false;
        layer_avgpool2d_backward(dx, g, B, L->c, L->h, L->w, L->k, L->stride, L->pad);
        for (size_t k = 0; k < (size_t)B * L->in; k++)
            dx[k] *= (float)(L->k * L->k);
        return true;
    default:
        return false;
    }
}

void
fault_loss(struct model *m)
{
    if (planted_kind != NN_FAULT_CE_SCALE || m->spec.loss != LOSS_CROSS_ENTROPY)
        return;
    size_t n = (size_t)m->batch * (size_t)m->out;
    for (size_t k = 0; k < n; k++)
        m->dlogits[k] *= (float)m->batch;
}
