/*
 * layers.h - the forward and backward kernels of each layer kind, private
 * to src/nn/.  They work on raw buffers with explicit shapes so that
 * model.c only wires buffers together; they never allocate.
 *
 * Element-wise backward kernels accept dx == dy (in place), except batch
 * norm's; otherwise the buffers of one call must not overlap.
 */
#ifndef NNTOP_NN_LAYERS_H
#define NNTOP_NN_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nntop/rng.h"

/* Batch-norm constants, as torch.nn.BatchNorm1d's defaults. */
#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

/* y (B, OUT) = x (B, IN) . W^T (W is (OUT, IN)) + b (OUT). */
void layer_dense_forward(float *y, const float *x, const float *w, const float *b,
                         int B, int in, int out);
/*
 * The dense forward followed by ReLU (slope 0) or LeakyReLU (slope):
 * y (B, OUT) = x . W^T + b, then a (B, OUT) = act(y) in one pass over y
 * while it is still in cache.
 */
void layer_dense_act_forward(float *y, float *a, const float *x, const float *w,
                             const float *b, float slope, int B, int in, int out);
/*
 * dW (OUT, IN) = dY^T . X, db (OUT) = column sums of dY, and, when dx is
 * non-NULL, dX (B, IN) = dY . W.
 */
void layer_dense_backward(float *dx, float *dw, float *db, const float *dy,
                          const float *x, const float *w, int B, int in, int out);
/*
 * The dense kernels on a range of features, for threads that share one
 * layer (team.c): each computes its entries with the same products as the
 * whole-layer kernel, so the split gives the whole layer's bits as far as
 * OpenBLAS rounds a block of a product as it rounds the product.
 *
 * Columns [c0, c1) of the forward: y[:, c0:c1] = x . W[c0:c1, :]^T + b[c0:c1].
 */
void layer_dense_forward_cols(float *y, const float *x, const float *w, const float *b,
                              int B, int in, int out, int c0, int c1);
/* Rows [c0, c1) of dW (OUT, IN) and entries [c0, c1) of db, from dY[:, c0:c1]. */
void layer_dense_backward_w_cols(float *dw, float *db, const float *dy, const float *x,
                                 int B, int in, int out, int c0, int c1);
/* Columns [c0, c1) of dX (B, IN) = dY . W[:, c0:c1], reading all of dY. */
void layer_dense_backward_x_cols(float *dx, const float *dy, const float *w, int B, int in,
                                 int out, int c0, int c1);
/* dX (B, IN) = dY . W alone: the input half of layer_dense_backward(). */
void layer_dense_backward_input(float *dx, const float *dy, const float *w, int B, int in,
                                int out);

/* y = max(x, 0) over n entries. */
void layer_relu_forward(float *y, const float *x, size_t n);
/* dx = dy where y > 0, else 0 (y is the forward output). */
void layer_relu_backward(float *dx, const float *dy, const float *y, size_t n);

/* y = x for x > 0, else slope x. */
void layer_leaky_relu_forward(float *y, const float *x, float slope, size_t n);
/* dx = dy for x > 0, else slope dy (x is the forward input). */
void layer_leaky_relu_backward(float *dx, const float *dy, const float *x, float slope,
                               size_t n);

void layer_tanh_forward(float *y, const float *x, size_t n);
/* dx = dy (1 - y^2). */
void layer_tanh_backward(float *dx, const float *dy, const float *y, size_t n);

void layer_sigmoid_forward(float *y, const float *x, size_t n);
/* dx = dy y (1 - y). */
void layer_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n);

/*
 * Inverted dropout.  Training: mask (n) = 0 with probability p, else
 * 1/(1-p), drawn from r in row-major order; y = x mask.  Eval: y = x and
 * the mask is left alone.
 */
void layer_dropout_forward(float *y, float *mask, const float *x, float p, bool training,
                           struct rng *r, size_t n);
/* dx = dy mask in training, dx = dy in eval. */
void layer_dropout_backward(float *dx, const float *dy, const float *mask, bool training,
                            size_t n);

/*
 * Batch norm over the features of x (B, N).  Training: batch mean and
 * biased variance normalise; the running statistics move by BN_MOMENTUM
 * toward the batch mean and the unbiased variance (left alone when B == 1,
 * where the unbiased variance does not exist; returns whether they moved).
 * Eval: the running statistics normalise.  Caches xhat (B, N), mean (N)
 * and invstd (N) for the backward.
 */
bool layer_batchnorm_forward(float *y, float *xhat, float *mean, float *invstd,
                             float *run_mean, float *run_var, const float *x,
                             const float *gamma, const float *beta, bool training,
                             int B, int n);
/*
 * dgamma (N) = sum dY xhat, dbeta (N) = sum dY and, when dx is non-NULL,
 * dX (B, N): through the batch statistics in training, through the fixed
 * running statistics in eval.
 */
void layer_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *xhat, const float *invstd, const float *gamma,
                              bool training, int B, int n);

/*
 * Image layers work on rows of one sample each, channels first: a row of
 * x (B, C H W) is the sample's (C, H, W) image, as PyTorch's NCHW tensors
 * lay it out.  k is a square kernel side, s the stride, p the padding on
 * each side; OH = (H + 2p - k) / s + 1 and likewise OW.
 */

/*
 * Floats of scratch a conv2d of that shape needs (its col): one sample's
 * im2col (C k k, OH OW), then, with padding, the sample zero-padded
 * (C, H + 2p, W + 2p), then gemm_sgemm()'s workspace for its products,
 * then the weights packed once per forward or backward call for all the
 * batch's samples (gemm_pack_a()).
 */
size_t layer_conv2d_scratch(int C, int H, int W, int OC, int k, int s, int p);
/*
 * y (B, OC OH OW) = conv(x (B, C H W), w (OC, C, k, k)) + b (OC) (b may
 * be NULL).  col is scratch of layer_conv2d_scratch() floats.
 */
void layer_conv2d_forward(float *y, float *col, const float *x, const float *w,
                          const float *b, int B, int C, int H, int W, int OC, int k,
                          int s, int p);
/*
 * dW (OC, C k k) = sum over samples of dY_n . col_n^T, db (OC) = sums of
 * dY over samples and positions (skipped when db is NULL) and, when dx is
 * non-NULL, dX (B, C H W) = col2im(W^T . dY_n).  col as in the forward.
 */
void layer_conv2d_backward(float *dx, float *dw, float *db, float *col, const float *dy,
                           const float *x, const float *w, int B, int C, int H, int W,
                           int OC, int k, int s, int p);

/* Max over each window (padding never wins: -inf); argmax (B, C OH OW)
 * records the winning input index within the sample, the first on ties. */
void layer_maxpool2d_forward(float *y, int32_t *argmax, const float *x, int B, int C,
                             int H, int W, int k, int s, int p);
/* dX (B, C H W) = dY scattered back to each window's argmax. */
void layer_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax, int B,
                              int C, int H, int W, int OH, int OW);

/* Mean over each window, dividing by k^2 (PyTorch's count_include_pad). */
void layer_avgpool2d_forward(float *y, const float *x, int B, int C, int H, int W, int k,
                             int s, int p);
/* dX (B, C H W) = dY / k^2 spread over each window's inputs. */
void layer_avgpool2d_backward(float *dx, const float *dy, int B, int C, int H, int W, int k,
                              int s, int p);

/* y (B, C) = mean of x (B, C, HW) over HW positions. */
void layer_global_avgpool_forward(float *y, const float *x, int B, int C, int HW);
/* dX (B, C, HW) = dY / HW. */
void layer_global_avgpool_backward(float *dx, const float *dy, int B, int C, int HW);

/*
 * Batch norm per channel of x (B, C, HW) over its B HW values, as
 * torch.nn.BatchNorm2d: the same contract as layer_batchnorm_forward with
 * mean and invstd (C).
 */
bool layer_batchnorm2d_forward(float *y, float *xhat, float *mean, float *invstd,
                               float *run_mean, float *run_var, const float *x,
                               const float *gamma, const float *beta, bool training,
                               int B, int C, int HW);
/* dgamma, dbeta (C) and dX (B, C, HW), as layer_batchnorm_backward. */
void layer_batchnorm2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *xhat, const float *invstd, const float *gamma,
                                bool training, int B, int C, int HW);

/*
 * Channel dropout: in training mask (B, C) = 0 with probability p, else
 * 1/(1-p), drawn from r in row-major order, and y = x times its channel's
 * mask entry; in eval y = x.
 */
void layer_dropout2d_forward(float *y, float *mask, const float *x, float p, bool training,
                             struct rng *r, int B, int C, int HW);
/* dx = dy times the channel's mask entry in training, dy in eval (dx may be dy). */
void layer_dropout2d_backward(float *dx, const float *dy, const float *mask, bool training,
                              int B, int C, int HW);

/*
 * The losses over B rows of a larger batch of norm rows: dlogits and the
 * returned loss are divided by norm, not B, so the parts of a batch split
 * across threads add up to the whole batch's mean (norm == B is
 * loss_cross_entropy / loss_mse).
 */
double loss_cross_entropy_rows(float *dlogits, int *correct, const float *logits,
                               const int32_t *labels, int B, int C, int norm);
double loss_mse_rows(float *dlogits, int *correct, const float *y, const float *targets,
                     const int32_t *labels, int B, int C, int norm);

#ifdef NNTOP_FAULT_INJECTION
struct model;
/* Run layer i's backward with its planted bug, if one is planted there;
 * false (nothing done) otherwise.  See fault.c. */
bool fault_backward(struct model *m, int i, float *dx, const float *g, const float *x);
/* Corrupt the loss gradient when that bug is planted. */
void fault_loss(struct model *m);
#endif

#endif
