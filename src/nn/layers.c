/*
 * layers.c - forward and backward kernels of every layer kind on raw
 * float32 buffers.  Matrix products go through blas_sgemm(); everything
 * else is a plain loop, written so that gcc -O2 vectorises it or at least
 * keeps it free of branches (see LAYER_BLOCK).  Each backward is its own
 * function so a planted-bug hook can wrap one.  This file does not
 * allocate, know about tensors' names, or pick buffers: model.c does.
 */
#include "config.h"

#include "layers.h"

#include <math.h>
#include <string.h>

#include "nntop/blas.h"

void
layer_dense_forward(float *y, const float *x, const float *w, const float *b,
                    int B, int in, int out)
{
    /* Broadcasting the bias first lets sgemm accumulate with beta = 1,
     * which skips OpenBLAS's own pass over C. */
    for (int r = 0; r < B; r++)
        memcpy(y + (size_t)r * out, b, (size_t)out * sizeof *y);
    /* Y (B, OUT) += X (B, IN) . W^T (IN, OUT) */
    blas_sgemm(false, true, B, out, in, 1.0f, x, w, 1.0f, y);
}

/*
 * Element-wise loops are split in two: a main loop over a count rounded
 * down to a multiple of LAYER_BLOCK, then a scalar tail.  gcc -O2's "very
 * cheap" vectoriser only takes loops whose trip count is known to be a
 * multiple of the vector width, which the rounding (n & ~15) tells it.
 * The loop bodies are selects of values loaded unconditionally, with no
 * arithmetic under a condition: under -ftrapping-math gcc will not
 * if-convert a multiply it would have to speculate, and a branchy ReLU
 * mispredicts on half its inputs.
 */
#define LAYER_BLOCK 16

static inline size_t
block_count(size_t n)
{
    return n & ~(size_t)(LAYER_BLOCK - 1);
}

/* a = y > 0 ? y : slope y, as pos + slope neg (exact: one term is 0). */
static inline float
leaky(float y, float slope)
{
    float pos = y > 0.0f ? y : 0.0f;
    float neg = y > 0.0f ? 0.0f : y;
    return pos + slope * neg;
}

/* d = x > 0 ? g : slope g, likewise. */
static inline float
leaky_grad(float x, float g, float slope)
{
    float pos = x > 0.0f ? g : 0.0f;
    float neg = x > 0.0f ? 0.0f : g;
    return pos + slope * neg;
}

static void
relu_rows(float *restrict a, const float *restrict y, size_t n)
{
    size_t nv = block_count(n), i;
    for (i = 0; i < nv; i++)
        a[i] = y[i] > 0.0f ? y[i] : 0.0f;
    for (; i < n; i++)
        a[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

static void
leaky_rows(float *restrict a, const float *restrict y, float slope, size_t n)
{
    size_t nv = block_count(n), i;
    for (i = 0; i < nv; i++)
        a[i] = leaky(y[i], slope);
    for (; i < n; i++)
        a[i] = leaky(y[i], slope);
}

void
layer_dense_act_forward(float *y, float *a, const float *x, const float *w,
                        const float *b, float slope, int B, int in, int out)
{
    layer_dense_forward(y, x, w, b, B, in, out);
    if (slope == 0.0f)
        relu_rows(a, y, (size_t)B * out);
    else
        leaky_rows(a, y, slope, (size_t)B * out);
}

/* sum (N) = column sums of x (B, N), rows ld floats apart. */
static void
column_sums(float *restrict sum, const float *restrict x, int B, int n, size_t ld)
{
    size_t nv = block_count((size_t)n);
    memcpy(sum, x, (size_t)n * sizeof *sum);
    for (int r = 1; r < B; r++) {
        const float *restrict row = x + (size_t)r * ld;
        size_t j;
        for (j = 0; j < nv; j++)
            sum[j] += row[j];
        for (; j < (size_t)n; j++)
            sum[j] += row[j];
    }
}

void
layer_dense_backward(float *dx, float *dw, float *db, const float *dy,
                     const float *x, const float *w, int B, int in, int out)
{
    /* dW (OUT, IN) = dY^T (OUT, B) . X (B, IN) */
    blas_sgemm(true, false, out, in, B, 1.0f, dy, x, 0.0f, dw);

    /* db (OUT) = sum over rows of dY (B, OUT), one pass. */
    column_sums(db, dy, B, out, (size_t)out);

    if (dx != NULL)
        layer_dense_backward_input(dx, dy, w, B, in, out);
}

void
layer_dense_backward_input(float *dx, const float *dy, const float *w, int B, int in, int out)
{
    /* dX (B, IN) = dY (B, OUT) . W (OUT, IN) */
    blas_sgemm(false, false, B, in, out, 1.0f, dy, w, 0.0f, dx);
}

void
layer_dense_forward_cols(float *y, const float *x, const float *w, const float *b,
                         int B, int in, int out, int c0, int c1)
{
    size_t w_cols = (size_t)(c1 - c0);
    for (int r = 0; r < B; r++)
        memcpy(y + (size_t)r * out + c0, b + c0, w_cols * sizeof *y);
    /* Y[:, c0:c1] (B, c1-c0) += X (B, IN) . W[c0:c1, :]^T (IN, c1-c0) */
    blas_sgemm_ld(false, true, B, c1 - c0, in, 1.0f, x, in, w + (size_t)c0 * in, in, 1.0f,
                  y + c0, out);
}

void
layer_dense_backward_w_cols(float *dw, float *db, const float *dy, const float *x,
                            int B, int in, int out, int c0, int c1)
{
    /* dW[c0:c1, :] (c1-c0, IN) = dY[:, c0:c1]^T (c1-c0, B) . X (B, IN) */
    blas_sgemm_ld(true, false, c1 - c0, in, B, 1.0f, dy + c0, out, x, in, 0.0f,
                  dw + (size_t)c0 * in, in);
    column_sums(db + c0, dy + c0, B, c1 - c0, (size_t)out);
}

void
layer_dense_backward_x_cols(float *dx, const float *dy, const float *w, int B, int in,
                            int out, int c0, int c1)
{
    /* dX[:, c0:c1] (B, c1-c0) = dY (B, OUT) . W[:, c0:c1] (OUT, c1-c0) */
    blas_sgemm_ld(false, false, B, c1 - c0, out, 1.0f, dy, out, w + c0, in, 0.0f, dx + c0, in);
}

void
layer_relu_forward(float *restrict y, const float *restrict x, size_t n)
{
    relu_rows(y, x, n);
}

/*
 * dx may equal dy (in place), so these two are not restrict, and gcc
 * cannot prove a vector form of the plain loop safe.  So each block of
 * LAYER_BLOCK entries of dy is read into a local array first, selected
 * there and written back: safe in place, and a fixed trip count gcc turns
 * into vector code.  The select loads its value on both paths, so it is a
 * compare and mask, not a branch that mispredicts on half the units.
 */
void
layer_relu_backward(float *dx, const float *dy, const float *restrict y, size_t n)
{
    size_t nv = block_count(n), i;
    for (i = 0; i < nv; i += LAYER_BLOCK) {
        float g[LAYER_BLOCK];
        memcpy(g, dy + i, sizeof g);
        for (size_t j = 0; j < LAYER_BLOCK; j++)
            g[j] = y[i + j] > 0.0f ? g[j] : 0.0f;
        memcpy(dx + i, g, sizeof g);
    }
    for (; i < n; i++) {
        float g = dy[i];
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

void
layer_leaky_relu_forward(float *restrict y, const float *restrict x, float slope, size_t n)
{
    leaky_rows(y, x, slope, n);
}

void
layer_leaky_relu_backward(float *dx, const float *dy, const float *restrict x, float slope,
                          size_t n)
{
    size_t nv = block_count(n), i;
    for (i = 0; i < nv; i += LAYER_BLOCK) {
        float g[LAYER_BLOCK];
        memcpy(g, dy + i, sizeof g);
        for (size_t j = 0; j < LAYER_BLOCK; j++)
            g[j] = leaky_grad(x[i + j], g[j], slope);
        memcpy(dx + i, g, sizeof g);
    }
    for (; i < n; i++)
        dx[i] = leaky_grad(x[i], dy[i], slope);
}

void
layer_tanh_forward(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void
layer_tanh_backward(float *dx, const float *dy, const float *restrict y, size_t n)
{
    /* Reads dy[i] before writing dx[i]: safe in place. */
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void
layer_sigmoid_forward(float *restrict y, const float *restrict x, size_t n)
{
    /* expf(-x) overflows to inf for x < -88, giving the right limit 0. */
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void
layer_sigmoid_backward(float *dx, const float *dy, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void
layer_dropout_forward(float *restrict y, float *restrict mask, const float *restrict x,
                      float p, bool training, struct rng *r, size_t n)
{
    if (!training) {
        memcpy(y, x, n * sizeof *y);
        return;
    }
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        mask[i] = rng_uniform(r) < (double)p ? 0.0f : keep;
    size_t nv = block_count(n), i;
    for (i = 0; i < nv; i++)
        y[i] = x[i] * mask[i];
    for (; i < n; i++)
        y[i] = x[i] * mask[i];
}

void
layer_dropout_backward(float *dx, const float *dy, const float *restrict mask,
                       bool training, size_t n)
{
    if (!training) {
        if (dx != dy)
            memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * mask[i];
}

/*
 * Batch norm works row by row over feature columns [j0, j1).  Each helper
 * is called twice, for [0, nv) and [nv, n): inlined with a first range of
 * known multiple-of-16 length, that copy vectorises; the second is the
 * scalar tail.
 */
static inline void
bn_add_row(float *restrict acc, const float *restrict row, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++)
        acc[j] += row[j];
}

static inline void
bn_add_sq_dev_row(float *restrict acc, const float *restrict row,
                  const float *restrict mean, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++) {
        float d = row[j] - mean[j];
        acc[j] += d * d;
    }
}

static inline void
bn_norm_row(float *restrict yr, float *restrict hr, const float *restrict xr,
            const float *restrict mean, const float *restrict invstd,
            const float *restrict gamma, const float *restrict beta, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++) {
        float h = (xr[j] - mean[j]) * invstd[j];
        hr[j] = h;
        yr[j] = gamma[j] * h + beta[j];
    }
}

static inline void
bn_grad_sums_row(float *restrict dgamma, float *restrict dbeta, const float *restrict gr,
                 const float *restrict hr, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++) {
        dbeta[j] += gr[j];
        dgamma[j] += gr[j] * hr[j];
    }
}

/* Training: dx = gamma invstd (dy - dbeta/B - xhat dgamma/B). */
static inline void
bn_dx_batch_row(float *restrict xr, const float *restrict gr, const float *restrict hr,
                const float *restrict gamma, const float *restrict invstd,
                const float *restrict dgamma, const float *restrict dbeta, float inv_b,
                size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++)
        xr[j] = gamma[j] * invstd[j] * (gr[j] - inv_b * dbeta[j] - inv_b * hr[j] * dgamma[j]);
}

/* Eval: dx = gamma invstd dy. */
static inline void
bn_dx_fixed_row(float *restrict xr, const float *restrict gr, const float *restrict gamma,
                const float *restrict invstd, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++)
        xr[j] = gamma[j] * invstd[j] * gr[j];
}

bool
layer_batchnorm_forward(float *restrict y, float *restrict xhat, float *restrict mean,
                        float *restrict invstd, float *restrict run_mean,
                        float *restrict run_var, const float *restrict x,
                        const float *restrict gamma, const float *restrict beta,
                        bool training, int B, int n)
{
    size_t nn = (size_t)n, nv = block_count(nn);
    bool moved = false;
    if (training) {
        /* Two passes (mean, then squared deviations) rather than E[x^2] -
         * E[x]^2, which cancels badly for features far from zero.  invstd
         * holds the sum of squares until the end. */
        memset(mean, 0, nn * sizeof *mean);
        memset(invstd, 0, nn * sizeof *invstd);
        for (int r = 0; r < B; r++) {
            const float *row = x + (size_t)r * nn;
            bn_add_row(mean, row, 0, nv);
            bn_add_row(mean, row, nv, nn);
        }
        for (size_t j = 0; j < nn; j++)
            mean[j] /= (float)B;
        for (int r = 0; r < B; r++) {
            const float *row = x + (size_t)r * nn;
            bn_add_sq_dev_row(invstd, row, mean, 0, nv);
            bn_add_sq_dev_row(invstd, row, mean, nv, nn);
        }
        moved = B > 1;
        for (size_t j = 0; j < nn; j++) {
            float var = invstd[j] / (float)B;      /* biased: normalises */
            if (moved) {
                float unbiased = invstd[j] / (float)(B - 1);
                run_mean[j] = (1.0f - BN_MOMENTUM) * run_mean[j] + BN_MOMENTUM * mean[j];
                run_var[j] = (1.0f - BN_MOMENTUM) * run_var[j] + BN_MOMENTUM * unbiased;
            }
            invstd[j] = 1.0f / sqrtf(var + BN_EPS);
        }
    } else {
        for (size_t j = 0; j < nn; j++) {
            mean[j] = run_mean[j];
            invstd[j] = 1.0f / sqrtf(run_var[j] + BN_EPS);
        }
    }
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * nn;
        bn_norm_row(y + o, xhat + o, x + o, mean, invstd, gamma, beta, 0, nv);
        bn_norm_row(y + o, xhat + o, x + o, mean, invstd, gamma, beta, nv, nn);
    }
    return moved;
}

void
layer_batchnorm_backward(float *restrict dx, float *restrict dgamma, float *restrict dbeta,
                         const float *restrict dy, const float *restrict xhat,
                         const float *restrict invstd, const float *restrict gamma,
                         bool training, int B, int n)
{
    size_t nn = (size_t)n, nv = block_count(nn);
    memset(dgamma, 0, nn * sizeof *dgamma);
    memset(dbeta, 0, nn * sizeof *dbeta);
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * nn;
        bn_grad_sums_row(dgamma, dbeta, dy + o, xhat + o, 0, nv);
        bn_grad_sums_row(dgamma, dbeta, dy + o, xhat + o, nv, nn);
    }
    if (dx == NULL)
        return;
    /*
     * With dxhat = dY gamma, the batch statistics (training) give
     *   dX = invstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
     *      = gamma invstd (dY - dbeta / B - xhat dgamma / B);
     * the fixed running statistics (eval) give dX = gamma invstd dY.
     */
    float inv_b = 1.0f / (float)B;
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * nn;
        if (training) {
            bn_dx_batch_row(dx + o, dy + o, xhat + o, gamma, invstd, dgamma, dbeta, inv_b,
                            0, nv);
            bn_dx_batch_row(dx + o, dy + o, xhat + o, gamma, invstd, dgamma, dbeta, inv_b,
                            nv, nn);
        } else {
            bn_dx_fixed_row(dx + o, dy + o, gamma, invstd, 0, nv);
            bn_dx_fixed_row(dx + o, dy + o, gamma, invstd, nv, nn);
        }
    }
}
