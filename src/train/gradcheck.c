/*
 * gradcheck.c - numerical versus analytic gradients, per tensor, with a
 * rounding bound per entry.
 *
 * The analytic gradients are the model's own float32 backward on a slice
 * of the batch.  The numerical ones are central differences of the data
 * loss computed by a double-precision forward written here, layer by
 * layer, with the float pass's dropout masks held fixed and batch norm on
 * batch statistics (training mode), so that the two sides compute the same
 * function.
 *
 * What makes the verdict honest is the bound: a running error analysis
 * (Wilkinson's, first order) carried through a double forward and
 * backward.  Next to every value it propagates a magnitude M, the sum of
 * the absolute sizes of everything rounded on the way to it, so that the
 * float32 value is off by about u M (u = 2^-24) and the double one by
 * about 2^-53 M.  An entry whose gradient is the small difference of large
 * terms (a bias feeding a batch norm, a converged softmax) gets a large
 * bound; a vanishing gradient gets a tiny one, and the numerical side's
 * own rounding (that of the loss over the step h) decides whether it can
 * be resolved at all.  The magnitudes come from the true function, not
 * from the backward under test, so a planted bug cannot widen its own
 * bound.
 *
 * It leaves the model exactly as it found it.  It does not judge anything
 * but gradients; no screen, no files.
 */
#include "config.h"

#include "nntop/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/mono.h"
#include "nntop/xmem.h"

/* Unit roundoff of float32 and of double. */
#define U32 5.9604644775390625e-8
#define U64 1.1102230246251565e-16
/*
 * Safety factors on the first-order bounds: M already sums the absolute
 * size of every term (the worst case without the length factor of a sum);
 * GC_K covers accumulation lengths and the second-order terms the analysis
 * drops, GC_KD the same for the double loss over two evaluations.  On the
 * clean engine the largest |a - n| / (u M) seen in the test models is
 * below 1 (check_gradcheck prints it).
 */
#define GC_K 16.0
#define GC_KD 16.0
/*
 * An entry is compared (can pass) when its bound is at most GC_RESOLVE of
 * its gradient; or, when the true gradient is zero within the numerical
 * side's precision (a bias feeding a batch norm: its terms cancel
 * exactly), when the bound is at most GC_CANCEL of the magnitude of the
 * terms that cancel, so that a wrong term would stand out.
 */
#define GC_RESOLVE 0.1
#define GC_CANCEL 1e-3
/* A tensor passes when this many entries (or all it has) were compared. */
#define GC_MIN_COMPARED 3
#define GC_STEP 1e-6
/* The wider step of a second opinion, in units of the first. */
#define GC_WIDE 1000.0

struct dmodel {
    const struct model *m;
    int B;
    double *w;              /* (nparams) parameters in double */
    double *x;              /* (B, IN) the input in double */
    double **act;           /* per layer (B, out) output */
    double **pre;           /* per layer: the input a relu/leaky relu saw, or the window
                             * position each max-pool output took (for kinks) */
    float **mask;           /* per dropout layer: (B, out) copy of the float pass's mask;
                             * per dropout2d layer (B, C) */
    const struct batch *b;
    /* The error analysis, at the unperturbed point. */
    double **mag;           /* per layer (B, out): magnitude M of the output */
    double **bn_xhat;       /* per batch-norm layer (B, out) */
    double **bn_mxhat;      /* per batch-norm layer (B, out): M of xhat */
    double **bn_inv;        /* per batch-norm layer (out): invstd */
    double **bn_invrel;     /* per batch-norm layer (out): relative M of invstd */
    double loss_mag;        /* M of the loss */
    double *gmag;           /* (nparams) M of each parameter gradient */
    double *xmag;           /* (B, IN) M of each input gradient */
    /* What the float side may get wrong by taking the other branch at a
     * ReLU input within rounding of 0: an absolute amount, not a multiple
     * of u.  Entries it explains are kinks, not failures. */
    double *gflip;          /* (nparams) */
    double *xflip;          /* (B, IN) */
    const atomic_bool *cancel;  /* opts->cancel: the long loops stop when it is set */
    bool (*poll)(void *ctx, long done, long total);     /* opts->poll, or NULL */
    void *poll_ctx;
};

const char *
tm_gc_verdict_name(int verdict)
{
    static const char *const names[TM_GC_VERDICT_COUNT] = {"PASS", "FAIL", "INCONCLUSIVE"};
    return verdict >= 0 && verdict < TM_GC_VERDICT_COUNT ? names[verdict] : "?";
}

const char *
tm_gc_reason_text(int reason)
{
    static const char *const text[TM_GC_REASON_COUNT] = {
        "",
        "entries sit on ReLU kinks",
        "gradients exactly zero (zero or symmetric init, dead units)",
        "gradients below float32 resolution (vanishing, or converged?)",
        "too few comparable entries (kinks, zeros, tiny gradients)",
    };
    return reason >= 0 && reason < TM_GC_REASON_COUNT ? text[reason] : "?";
}

/* A quit is waiting: stop (what was computed is thrown away). */
static bool
stopped(const struct dmodel *d)
{
    if (d->poll != NULL && d->poll(d->poll_ctx, -1, 0))
        return true;
    return d->cancel != NULL && atomic_load_explicit(d->cancel, memory_order_relaxed);
}

/* The float pass's model.stop: the same check, between its layers. */
struct float_pass {
    struct dmodel flags;    /* only cancel and poll are set */
    bool hit;               /* a check said stop: the pass was abandoned */
};

static bool
float_pass_stopped(void *ctx)
{
    struct float_pass *f = ctx;
    f->hit = f->hit || stopped(&f->flags);
    return f->hit;
}

static const double *
layer_input(const struct dmodel *d, int i)
{
    return i == 0 ? d->x : d->act[i - 1];
}

static void
dense_forward(const struct dmodel *d, double *y, const double *x, const double *w,
              const double *bias, int B, int in, int out)
{
    /* One row of a wide layer is well under a millisecond: a quit is seen
     * within 50 ms even over 1000 rows of Fashion-MNIST. */
    for (int r = 0; r < B && !stopped(d); r++)
        for (int o = 0; o < out; o++) {
            double s = bias[o];
            const double *wr = w + (size_t)o * in;
            const double *xr = x + (size_t)r * in;
            for (int k = 0; k < in; k++)
                s += wr[k] * xr[k];
            y[(size_t)r * out + o] = s;
        }
}

/* Index of sample r, feature (channel) o, position j of a (B, N, HW) buffer. */
static inline size_t
bn_at(int r, int o, int j, int N, int HW)
{
    return ((size_t)r * N + o) * (size_t)HW + (size_t)j;
}

/* Batch norm on batch statistics over (B, N, HW) (HW = 1: batchnorm, else
 * batchnorm2d's per-channel statistics); optionally keeps xhat and invstd. */
static void
bn_forward(double *y, double *xhat, double *inv, const double *x, const double *g,
           const double *be, int B, int n, int HW)
{
    double cnt = (double)B * HW;
    for (int o = 0; o < n; o++) {
        double mean = 0.0, var = 0.0;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++)
                mean += x[bn_at(r, o, j, n, HW)];
        mean /= cnt;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                double c = x[bn_at(r, o, j, n, HW)] - mean;
                var += c * c;
            }
        var /= cnt;
        double is = 1.0 / sqrt(var + 1e-5);
        if (inv != NULL)
            inv[o] = is;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, n, HW);
                double xh = (x[k] - mean) * is;
                if (xhat != NULL)
                    xhat[k] = xh;
                y[k] = g[o] * xh + be[o];
            }
    }
}

/* The (channel, feature) count and positions of a batch-norm layer. */
static void
bn_dims(const struct layer *l, int *N, int *HW)
{
    bool two = l->kind == LAYER_BATCHNORM2D;
    *N = two ? l->c : l->out;
    *HW = two ? l->h * l->w : 1;
}

/*
 * Visit every (output, input, weight) triple of a conv2d over B samples:
 * the loops of the definition, shared by the value, its magnitude and the
 * backward.  yi, xi and wi index the output, input and weight.
 */
#define CONV_FOR_EACH(l, B, BODY)                                                        \
    for (int n_ = 0; n_ < (B); n_++)                                                      \
        for (int o_ = 0; o_ < (l)->oc; o_++)                                              \
            for (int oy_ = 0; oy_ < (l)->oh; oy_++)                                       \
                for (int ox_ = 0; ox_ < (l)->ow; ox_++) {                                 \
                    size_t yi = (((size_t)n_ * (l)->oc + o_) * (l)->oh + oy_) * (l)->ow + ox_; \
                    int o = o_;                                                           \
                    (void)o;                                                              \
                    for (int c_ = 0; c_ < (l)->c; c_++)                                   \
                        for (int ki_ = 0; ki_ < (l)->k; ki_++) {                          \
                            int iy_ = oy_ * (l)->stride - (l)->pad + ki_;                 \
                            if (iy_ < 0 || iy_ >= (l)->h)                                 \
                                continue;                                                 \
                            for (int kj_ = 0; kj_ < (l)->k; kj_++) {                      \
                                int ix_ = ox_ * (l)->stride - (l)->pad + kj_;             \
                                if (ix_ < 0 || ix_ >= (l)->w)                             \
                                    continue;                                             \
                                size_t wi = ((size_t)(o_ * (l)->c + c_) * (l)->k + ki_)   \
                                            * (l)->k + kj_;                               \
                                size_t xi = (((size_t)n_ * (l)->c + c_) * (l)->h + iy_)   \
                                            * (l)->w + ix_;                               \
                                BODY                                                      \
                            }                                                             \
                        }                                                                 \
                }

/* conv2d in double, written as the definition (no im2col). */
static void
dconv2d(double *y, const double *x, const double *w, const double *bias, const struct layer *l,
        int B)
{
    size_t n = (size_t)B * (size_t)l->out, P = (size_t)l->oh * l->ow;
    for (size_t k = 0; k < n; k++)
        y[k] = bias != NULL ? bias[(k / P) % (size_t)l->oc] : 0.0;
    CONV_FOR_EACH(l, B, { y[yi] += w[wi] * x[xi]; })
}

/*
 * Max or average pooling in double.  For max pooling, pos (B, out) gets
 * the window position (ki k + kj) of each maximum (the first on ties, as
 * the float side): the kink signature, and the route of the backward.
 */
static void
dpool2d(double *y, double *pos, const double *x, const struct layer *l, int B)
{
    int H = l->h, W = l->w, k = l->k, OH = l->oh, OW = l->ow;
    bool max = l->kind == LAYER_MAXPOOL2D;
    for (size_t plane = 0; plane < (size_t)B * l->c; plane++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double acc = max ? -INFINITY : 0.0;
                int at = -1;
                for (int ki = 0; ki < k; ki++) {
                    int iy = oy * l->stride - l->pad + ki;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kj = 0; kj < k; kj++) {
                        int ix = ox * l->stride - l->pad + kj;
                        if (ix < 0 || ix >= W)
                            continue;
                        double v = x[(plane * H + iy) * W + ix];
                        if (!max) {
                            acc += v;
                        } else if (at < 0 || v > acc) {
                            acc = v;
                            at = ki * k + kj;
                        }
                    }
                }
                size_t o = (plane * OH + oy) * OW + ox;
                y[o] = max ? acc : acc / (k * k);
                if (max)
                    pos[o] = at;
            }
}

/* The input index (within the batch) a max-pool output o took its value from. */
static size_t
maxpool_source(const struct layer *l, const double *pos, size_t o)
{
    size_t OW = (size_t)l->ow, OH = (size_t)l->oh;
    size_t plane = o / (OH * OW), oy = o / OW % OH, ox = o % OW;
    int at = (int)pos[o];
    int iy = (int)oy * l->stride - l->pad + at / l->k;
    int ix = (int)ox * l->stride - l->pad + at % l->k;
    return (plane * (size_t)l->h + (size_t)iy) * (size_t)l->w + (size_t)ix;
}

/* The target of row r, class c: the explicit one or one-hot of the label. */
static double
target_of(const struct dmodel *d, int r, int c)
{
    int C = d->m->out;
    return d->b->targets != NULL ? d->b->targets[(size_t)r * C + c]
                                 : (double)(d->b->labels[r] == c);
}

/* The data loss of the double forward. */
static double
dmodel_loss(struct dmodel *d)
{
    const struct model *m = d->m;
    int B = d->B;
    for (int i = 0; i < m->nlayers; i++) {
        if (stopped(d))
            return NAN;
        const struct layer *l = &m->layers[i];
        const double *x = layer_input(d, i);
        double *y = d->act[i];
        size_t n = (size_t)B * (size_t)l->out;
        switch (l->kind) {
        case LAYER_DENSE:
            dense_forward(d, y, x, d->w + m->tensors[l->weight].offset,
                          d->w + m->tensors[l->bias].offset, B, l->in, l->out);
            break;
        case LAYER_RELU:
        case LAYER_LEAKY_RELU: {
            double slope = l->kind == LAYER_RELU ? 0.0 : l->arg;
            memcpy(d->pre[i], x, n * sizeof *x);
            for (size_t k = 0; k < n; k++)
                y[k] = x[k] > 0.0 ? x[k] : slope * x[k];
            break;
        }
        case LAYER_TANH:
            for (size_t k = 0; k < n; k++)
                y[k] = tanh(x[k]);
            break;
        case LAYER_SIGMOID:
            for (size_t k = 0; k < n; k++)
                y[k] = 1.0 / (1.0 + exp(-x[k]));
            break;
        case LAYER_DROPOUT:
            for (size_t k = 0; k < n; k++)
                y[k] = x[k] * (double)d->mask[i][k];
            break;
        case LAYER_BATCHNORM:
        case LAYER_BATCHNORM2D: {
            int N, HW;
            bn_dims(l, &N, &HW);
            bn_forward(y, NULL, NULL, x, d->w + m->tensors[l->weight].offset,
                       d->w + m->tensors[l->bias].offset, B, N, HW);
            break;
        }
        case LAYER_CONV2D:
            dconv2d(y, x, d->w + m->tensors[l->weight].offset,
                    l->bias >= 0 ? d->w + m->tensors[l->bias].offset : NULL, l, B);
            break;
        case LAYER_MAXPOOL2D:
        case LAYER_AVGPOOL2D:
            dpool2d(y, d->pre[i], x, l, B);
            break;
        case LAYER_GLOBAL_AVGPOOL: {
            int hw = l->h * l->w;
            for (size_t plane = 0; plane < (size_t)B * l->c; plane++) {
                double acc = 0.0;
                for (int j = 0; j < hw; j++)
                    acc += x[plane * hw + j];
                y[plane] = acc / hw;
            }
            break;
        }
        case LAYER_FLATTEN:
            memcpy(y, x, n * sizeof *y);
            break;
        case LAYER_DROPOUT2D: {
            int hw = l->h * l->w;
            for (size_t k = 0; k < n; k++)
                y[k] = x[k] * (double)d->mask[i][k / hw];
            break;
        }
        default:
            break;
        }
    }
    const double *z = d->act[m->nlayers - 1];
    int C = m->out;
    double loss = 0.0;
    if (m->spec.loss == LOSS_CROSS_ENTROPY) {
        for (int r = 0; r < B; r++) {
            const double *zr = z + (size_t)r * C;
            double mx = zr[0];
            for (int c = 1; c < C; c++)
                mx = zr[c] > mx ? zr[c] : mx;
            double s = 0.0;
            for (int c = 0; c < C; c++)
                s += exp(zr[c] - mx);
            loss += log(s) + mx - zr[d->b->labels[r]];
        }
        return loss / B;
    }
    for (int r = 0; r < B; r++)
        for (int c = 0; c < C; c++) {
            double e = z[(size_t)r * C + c] - target_of(d, r, c);
            loss += e * e;
        }
    return loss / ((double)B * C);
}

/* ---- the error analysis ------------------------------------------------ */

/* ---- the forward magnitudes, by layer kind ---- */

/* M of a dense layer's output: |b| + sum |w| (|x| + M_x). */
static void
fwd_dense(struct dmodel *d, int i, const double *x, const double *mx, double *my)
{
    const struct model *m = d->m;
    const struct layer *l = &m->layers[i];
    int B = d->B;
    const double *w = d->w + m->tensors[l->weight].offset;
    const double *bias = d->w + m->tensors[l->bias].offset;
    for (int r = 0; r < B && !stopped(d); r++)
        for (int o = 0; o < l->out; o++) {
            double s = fabs(bias[o]);
            const double *wr = w + (size_t)o * l->in;
            for (int k = 0; k < l->in; k++) {
                size_t xi = (size_t)r * l->in + k;
                s += fabs(wr[k]) * (fabs(x[xi]) + (mx != NULL ? mx[xi] : 0.0));
            }
            my[(size_t)r * l->out + o] = s;
        }
}

/*
 * M of a batch norm's output, through its mean, centred values,
 * variance, invstd and xhat; keeps M of xhat and invstd's relative
 * error for the backward pass.
 */
static void
fwd_batchnorm(struct dmodel *d, int i, const double *x, const double *mx, double *my)
{
    const struct model *m = d->m;
    const struct layer *l = &m->layers[i];
    int B = d->B;
    size_t n = (size_t)B * (size_t)l->out;
    const double *g = d->w + m->tensors[l->weight].offset;
    const double *be = d->w + m->tensors[l->bias].offset;
    int N, HW;
    bn_dims(l, &N, &HW);
    double cnt = (double)B * HW;
    double *tmp = xmalloc(n * sizeof *tmp);
    bn_forward(tmp, d->bn_xhat[i], d->bn_inv[i], x, g, be, B, N, HW);
    free(tmp);
    for (int o = 0; o < N; o++) {
        /* mean, centred values, variance, invstd, xhat, y */
        double mmean = 0.0, mean = 0.0;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, N, HW);
                mmean += fabs(x[k]) + (mx != NULL ? mx[k] : 0.0);
                mean += x[k];
            }
        mmean /= cnt;
        mean /= cnt;
        double var = 0.0, mvar = 0.0;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, N, HW);
                double c = x[k] - mean;
                double mc = (mx != NULL ? mx[k] : 0.0) + mmean + fabs(c);
                var += c * c;
                mvar += 2.0 * fabs(c) * mc + c * c;
            }
        var /= cnt;
        mvar /= cnt;
        double inv = d->bn_inv[i][o];
        double invrel = 0.5 * mvar / (var + 1e-5) + 2.0;
        d->bn_invrel[i][o] = invrel;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, N, HW);
                double c = x[k] - mean;
                double mc = (mx != NULL ? mx[k] : 0.0) + mmean + fabs(c);
                double xh = d->bn_xhat[i][k];
                double mxh = mc * inv + fabs(xh) * invrel;
                d->bn_mxhat[i][k] = mxh;
                my[k] = fabs(g[o]) * mxh + fabs(g[o] * xh) + fabs(be[o]);
            }
    }
}

/* M of a convolution's output: as a dense layer, tap by tap. */
static void
fwd_conv2d(struct dmodel *d, int i, const double *x, const double *mx, double *my)
{
    const struct model *m = d->m;
    const struct layer *l = &m->layers[i];
    int B = d->B;
    size_t n = (size_t)B * (size_t)l->out;
    const double *w = d->w + m->tensors[l->weight].offset;
    const double *bias = l->bias >= 0 ? d->w + m->tensors[l->bias].offset : NULL;
    size_t P = (size_t)l->oh * l->ow;
    for (size_t k = 0; k < n; k++)
        my[k] = bias != NULL ? fabs(bias[(k / P) % (size_t)l->oc]) : 0.0;
    CONV_FOR_EACH(l, B, { my[yi] += fabs(w[wi]) * (fabs(x[xi]) + (mx ? mx[xi] : 0.0)); })
}

/* M of an average pool's output: the mean of its window's, plus its own rounding. */
static void
fwd_avgpool2d(struct dmodel *d, int i, const double *x, const double *mx, double *my)
{
    const struct model *m = d->m;
    const struct layer *l = &m->layers[i];
    int B = d->B;
    const double *y = d->act[i];
    int H = l->h, W = l->w, kk = l->k;
    for (size_t plane = 0; plane < (size_t)B * l->c; plane++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                double acc = 0.0;
                for (int ki = 0; ki < kk; ki++) {
                    int iy = oy * l->stride - l->pad + ki;
                    for (int kj = 0; kj < kk && iy >= 0 && iy < H; kj++) {
                        int ix = ox * l->stride - l->pad + kj;
                        if (ix < 0 || ix >= W)
                            continue;
                        size_t xi = (plane * H + iy) * W + ix;
                        acc += fabs(x[xi]) + (mx != NULL ? mx[xi] : 0.0);
                    }
                }
                size_t o = (plane * l->oh + oy) * l->ow + ox;
                my[o] = acc / (kk * kk) + fabs(y[o]);
            }
}

/*
 * Magnitudes of the forward pass (d->act must hold the unperturbed
 * forward).  For each layer, M of the output from M of the input (mx,
 * NULL for the exact input) plus the size of what the layer itself rounds.
 */
static void
forward_magnitudes(struct dmodel *d)
{
    const struct model *m = d->m;
    int B = d->B;
    for (int i = 0; i < m->nlayers && !stopped(d); i++) {
        const struct layer *l = &m->layers[i];
        const double *x = layer_input(d, i);
        const double *mx = i == 0 ? NULL : d->mag[i - 1];
        const double *y = d->act[i];
        double *my = d->mag[i];
        size_t n = (size_t)B * (size_t)l->out;
        switch (l->kind) {
        case LAYER_DENSE:
            fwd_dense(d, i, x, mx, my);
            break;
        case LAYER_RELU:
        case LAYER_LEAKY_RELU: {
            double slope = l->kind == LAYER_RELU ? 0.0 : l->arg;
            for (size_t k = 0; k < n; k++) {
                double mk = mx != NULL ? mx[k] : 0.0;
                /* Within rounding of 0 the float side may take either branch. */
                bool near = fabs(x[k]) < GC_K * U32 * mk;
                my[k] = (x[k] > 0.0 || near ? mk : fabs(slope) * mk) + fabs(y[k]);
            }
            break;
        }
        case LAYER_TANH:
            for (size_t k = 0; k < n; k++)
                my[k] = (1.0 - y[k] * y[k]) * (mx != NULL ? mx[k] : 0.0) + fabs(y[k]);
            break;
        case LAYER_SIGMOID:
            for (size_t k = 0; k < n; k++)
                my[k] = y[k] * (1.0 - y[k]) * (mx != NULL ? mx[k] : 0.0) + y[k];
            break;
        case LAYER_DROPOUT:
            for (size_t k = 0; k < n; k++)
                my[k] = (double)d->mask[i][k] * (mx != NULL ? mx[k] : 0.0) + fabs(y[k]);
            break;
        case LAYER_BATCHNORM:
        case LAYER_BATCHNORM2D:
            fwd_batchnorm(d, i, x, mx, my);
            break;
        case LAYER_CONV2D:
            /* As a dense layer: |b| + sum |w| (|x| + M_x) over the taps. */
            fwd_conv2d(d, i, x, mx, my);
            break;
        case LAYER_MAXPOOL2D:
            /* A max rounds nothing: the output is the input it took. */
            for (size_t k = 0; k < n; k++)
                my[k] = mx != NULL ? mx[maxpool_source(l, d->pre[i], k)] : 0.0;
            break;
        case LAYER_AVGPOOL2D:
            fwd_avgpool2d(d, i, x, mx, my);
            break;
        case LAYER_GLOBAL_AVGPOOL: {
            int hw = l->h * l->w;
            for (size_t plane = 0; plane < (size_t)B * l->c; plane++) {
                double acc = 0.0;
                for (int j = 0; j < hw; j++)
                    acc += fabs(x[plane * hw + j]) + (mx != NULL ? mx[plane * hw + j] : 0.0);
                my[plane] = acc / hw + fabs(y[plane]);
            }
            break;
        }
        case LAYER_FLATTEN:
            for (size_t k = 0; k < n; k++)
                my[k] = mx != NULL ? mx[k] : 0.0;
            break;
        case LAYER_DROPOUT2D: {
            int hw = l->h * l->w;
            for (size_t k = 0; k < n; k++)
                my[k] = (double)d->mask[i][k / hw] * (mx != NULL ? mx[k] : 0.0) + fabs(y[k]);
            break;
        }
        default:
            break;
        }
    }
}

/*
 * The loss gradient (B, C) and its magnitude, and the loss's magnitude:
 * what the rounding of the logits (M of the last layer) and of the
 * softmax or the squared error does to them.
 */
static void
loss_magnitudes(struct dmodel *d, double *g, double *mg)
{
    const struct model *m = d->m;
    int B = d->B, C = m->out;
    const double *z = d->act[m->nlayers - 1];
    const double *mz = d->mag[m->nlayers - 1];
    double ml = 0.0;
    if (m->spec.loss == LOSS_CROSS_ENTROPY) {
        for (int r = 0; r < B; r++) {
            const double *zr = z + (size_t)r * C;
            const double *mzr = mz + (size_t)r * C;
            int label = d->b->labels[r];
            double mx = zr[0];
            for (int c = 1; c < C; c++)
                mx = zr[c] > mx ? zr[c] : mx;
            double s = 0.0;
            for (int c = 0; c < C; c++)
                s += exp(zr[c] - mx);
            double pm = 0.0;        /* sum_c p_c M_c */
            for (int c = 0; c < C; c++)
                pm += exp(zr[c] - mx) / s * mzr[c];
            ml += fabs(log(s)) + fabs(mx) + fabs(zr[label]) + pm + mzr[label];
            for (int c = 0; c < C; c++) {
                double p = exp(zr[c] - mx) / s, t = c == label;
                g[(size_t)r * C + c] = (p - t) / B;
                /* dp_c = p_c (dz_c - sum p dz): the rounding of the logits */
                mg[(size_t)r * C + c] = (p + t + p * (mzr[c] + pm)) / B;
            }
        }
        d->loss_mag = ml / B;
        return;
    }
    double scale = 2.0 / ((double)B * C);
    for (int r = 0; r < B; r++)
        for (int c = 0; c < C; c++) {
            size_t k = (size_t)r * C + c;
            double t = target_of(d, r, c);
            double e = z[k] - t;
            g[k] = scale * e;
            mg[k] = scale * (fabs(z[k]) + fabs(t) + mz[k]);
            ml += e * e + 2.0 * fabs(e) * (fabs(z[k]) + fabs(t) + mz[k]);
        }
    d->loss_mag = ml / ((double)B * C);
}

/* ---- the backward magnitudes, by layer kind ---- */

/*
 * One layer's backward in the magnitude analysis: the gradient at its
 * output, its magnitude and its flip bound, in; the same at its input, out.
 */
struct grad_io {
    const double *g, *mg, *fg;  /* (B, OUT) */
    double *gx, *mgx, *fgx;     /* (B, IN) */
    /* What every kind reads of layer i, set once by grad_io_at. */
    const struct layer *l;
    int B;
    const double *x, *mx;       /* (B, IN) its input, the input's magnitude (NULL at layer 0) */
    size_t nin, nout;           /* B * IN, B * OUT */
};

/* io's view of layer i of d (the fields after fgx). */
static void
grad_io_at(struct grad_io *io, const struct dmodel *d, int i)
{
    io->l = &d->m->layers[i];
    io->B = d->B;
    io->x = layer_input(d, i);
    io->mx = i == 0 ? NULL : d->mag[i - 1];
    io->nin = (size_t)d->B * (size_t)io->l->in;
    io->nout = (size_t)d->B * (size_t)io->l->out;
}

/*
 * Tensor t of d's model: its values (returned), and where its gradient's
 * magnitude and flip bound go.
 */
static const double *
param_at(const struct dmodel *d, int t, double **mag, double **flip)
{
    size_t off = d->m->tensors[t].offset;
    *mag = d->gmag + off;
    *flip = d->gflip + off;
    return d->w + off;
}

/* Through a dense layer: into its weight and bias and its input. */
static void
bwd_dense(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    int B = io->B;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    const double *x = io->x, *mx = io->mx;
    double *mw, *fw, *mb, *fb;
    const double *w = param_at(d, l->weight, &mw, &fw);
    param_at(d, l->bias, &mb, &fb);
    for (int o = 0; o < l->out && !stopped(d); o++) {
        double sb = 0.0, sfb = 0.0;
        for (int r = 0; r < B; r++) {
            sb += mg[(size_t)r * l->out + o];
            sfb += fg[(size_t)r * l->out + o];
        }
        mb[o] = sb;
        fb[o] = sfb;
        /* Each entry sums over the rows in order, a row at a time along
         * the input: the rows' strides are not walked entry by entry. */
        double *mwo = mw + (size_t)o * l->in, *fwo = fw + (size_t)o * l->in;
        memset(mwo, 0, (size_t)l->in * sizeof *mwo);
        memset(fwo, 0, (size_t)l->in * sizeof *fwo);
        for (int r = 0; r < B; r++) {
            size_t yi = (size_t)r * l->out + o;
            const double *xr = x + (size_t)r * l->in;
            const double *mxr = mx != NULL ? mx + (size_t)r * l->in : NULL;
            double gm = mg[yi], ga = fabs(g[yi]), gf = fg[yi];
            for (int k = 0; k < l->in; k++) {
                mwo[k] += gm * fabs(xr[k]) + ga * (mxr != NULL ? mxr[k] : 0.0);
                fwo[k] += gf * fabs(xr[k]);
            }
        }
    }
    for (int r = 0; r < B && !stopped(d); r++)
        for (int k = 0; k < l->in; k++) {
            double s = 0.0, sm = 0.0, sf = 0.0;
            for (int o = 0; o < l->out; o++) {
                size_t yi = (size_t)r * l->out + o;
                double wk = w[(size_t)o * l->in + k];
                s += g[yi] * wk;
                sm += mg[yi] * fabs(wk);
                sf += fg[yi] * fabs(wk);
            }
            gx[(size_t)r * l->in + k] = s;
            mgx[(size_t)r * l->in + k] = sm;
            fgx[(size_t)r * l->in + k] = sf;
        }
}

/*
 * Through a batch norm: into gamma and beta and its input, with the
 * error of xhat and invstd the forward pass kept.
 */
static void
bwd_batchnorm(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    int B = io->B;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    int N, HW;
    bn_dims(l, &N, &HW);
    double cnt = (double)B * HW;
    double *mgam, *fgam, *mbeta, *fbeta;
    const double *gam = param_at(d, l->weight, &mgam, &fgam);
    param_at(d, l->bias, &mbeta, &fbeta);
    const double *xh = d->bn_xhat[i], *mxh = d->bn_mxhat[i];
    for (int o = 0; o < N; o++) {
        double sg = 0.0, sgx = 0.0, smg = 0.0, smgx = 0.0, sf = 0.0, sfx = 0.0;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, N, HW);
                sg += g[k];
                sgx += g[k] * xh[k];
                smg += mg[k];
                smgx += mg[k] * fabs(xh[k]) + fabs(g[k]) * mxh[k];
                sf += fg[k];
                sfx += fg[k] * fabs(xh[k]);
            }
        mgam[o] = smgx;
        mbeta[o] = smg;
        fgam[o] = sfx;
        fbeta[o] = sf;
        double inv = d->bn_inv[i][o], invrel = d->bn_invrel[i][o];
        double a = fabs(gam[o]) * inv;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < HW; j++) {
                size_t k = bn_at(r, o, j, N, HW);
                double v = gam[o] * inv * (g[k] - sg / cnt - xh[k] * sgx / cnt);
                gx[k] = v;
                mgx[k] = a * (mg[k] + smg / cnt + fabs(xh[k]) * smgx / cnt
                              + mxh[k] * fabs(sgx) / cnt)
                         + fabs(v) * invrel;
                fgx[k] = a * (fg[k] + sf / cnt + fabs(xh[k]) * sfx / cnt);
            }
    }
}

/* Through a convolution: the dense layer's analysis, tap by tap. */
static void
bwd_conv2d(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    int B = io->B;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    const double *x = io->x, *mx = io->mx;
    size_t nin = io->nin, nout = io->nout;
    double *mw, *fw;
    const double *w = param_at(d, l->weight, &mw, &fw);
    size_t nw = d->m->tensors[l->weight].count, P = (size_t)l->oh * l->ow;
    memset(mw, 0, nw * sizeof *mw);
    memset(fw, 0, nw * sizeof *fw);
    if (l->bias >= 0) {
        double *mb, *fb;
        param_at(d, l->bias, &mb, &fb);
        memset(mb, 0, (size_t)l->oc * sizeof *mb);
        memset(fb, 0, (size_t)l->oc * sizeof *fb);
        for (size_t k = 0; k < nout; k++) {
            mb[(k / P) % (size_t)l->oc] += mg[k];
            fb[(k / P) % (size_t)l->oc] += fg[k];
        }
    }
    memset(gx, 0, nin * sizeof *gx);
    memset(mgx, 0, nin * sizeof *mgx);
    memset(fgx, 0, nin * sizeof *fgx);
    CONV_FOR_EACH(l, B, {
        double aw = fabs(w[wi]);
        gx[xi] += g[yi] * w[wi];
        mgx[xi] += mg[yi] * aw;
        fgx[xi] += fg[yi] * aw;
        mw[wi] += mg[yi] * fabs(x[xi]) + fabs(g[yi]) * (mx != NULL ? mx[xi] : 0.0);
        fw[wi] += fg[yi] * fabs(x[xi]);
    })
}

/* Through an average pool: each output spreads over its window. */
static void
bwd_avgpool2d(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    size_t nin = io->nin;
    int B = io->B, H = l->h, W = l->w, kk = l->k;
    double inv = 1.0 / (kk * kk);
    memset(gx, 0, nin * sizeof *gx);
    memset(mgx, 0, nin * sizeof *mgx);
    memset(fgx, 0, nin * sizeof *fgx);
    for (size_t plane = 0; plane < (size_t)B * l->c; plane++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                size_t o = (plane * l->oh + oy) * l->ow + ox;
                for (int ki = 0; ki < kk; ki++) {
                    int iy = oy * l->stride - l->pad + ki;
                    for (int kj = 0; kj < kk && iy >= 0 && iy < H; kj++) {
                        int ix = ox * l->stride - l->pad + kj;
                        if (ix < 0 || ix >= W)
                            continue;
                        size_t xi = (plane * H + iy) * W + ix;
                        gx[xi] += g[o] * inv;
                        mgx[xi] += (mg[o] + fabs(g[o])) * inv;
                        fgx[xi] += fg[o] * inv;
                    }
                }
            }
}

/* Through a ReLU or leaky ReLU, with the flip where x is within rounding of 0. */
static void
bwd_relu(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    const double *x = io->x, *mx = io->mx;
    size_t nin = io->nin;
    double slope = l->kind == LAYER_RELU ? 0.0 : l->arg;
    for (size_t k = 0; k < nin; k++) {
        double mk = mx != NULL ? mx[k] : 0.0;
        double s = x[k] > 0.0 ? 1.0 : slope;
        gx[k] = g[k] * s;
        mgx[k] = mg[k] * fabs(s);
        fgx[k] = fg[k] * fabs(s);
        /* Within rounding of 0 the float side may take the other
         * branch: then it passes (1 - slope) g more or less. */
        if (fabs(x[k]) < GC_K * U32 * mk)
            fgx[k] += (fabs(g[k]) + GC_K * U32 * mg[k] + fg[k]) * fabs(1.0 - slope);
    }
}

/* Through a tanh or sigmoid, whose derivative rounds with y and moves with x. */
static void
bwd_squash(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    const double *mx = io->mx, *y = d->act[i];
    size_t nin = io->nin;
    if (l->kind == LAYER_TANH) {
        for (size_t k = 0; k < nin; k++) {
            double dd = 1.0 - y[k] * y[k], mk = mx != NULL ? mx[k] : 0.0;
            gx[k] = g[k] * dd;
            fgx[k] = fg[k] * dd;
            /* 1 - y^2 rounds on the scale of y^2, and moves with x */
            mgx[k] = mg[k] * dd + fabs(g[k]) * (2.0 * y[k] * y[k] + 2.0 * fabs(y[k]) * dd * mk);
        }
        return;
    }
    for (size_t k = 0; k < nin; k++) {
        double dd = y[k] * (1.0 - y[k]), mk = mx != NULL ? mx[k] : 0.0;
        gx[k] = g[k] * dd;
        fgx[k] = fg[k] * dd;
        mgx[k] = mg[k] * dd + fabs(g[k]) * (y[k] + fabs(1.0 - 2.0 * y[k]) * dd * mk);
    }
}

/* Through a max pool: each output's gradient goes to the input it took. */
static void
bwd_maxpool2d(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    size_t nin = io->nin, nout = io->nout;
    memset(gx, 0, nin * sizeof *gx);
    memset(mgx, 0, nin * sizeof *mgx);
    memset(fgx, 0, nin * sizeof *fgx);
    for (size_t k = 0; k < nout; k++) {
        size_t src = maxpool_source(l, d->pre[i], k);
        gx[src] += io->g[k];
        mgx[src] += io->mg[k];
        fgx[src] += io->fg[k];
    }
}

/* Through layer i: io's output side in, its input side out (io set by grad_io_at). */
static void
bwd_layer(struct dmodel *d, int i, const struct grad_io *io)
{
    const struct layer *l = io->l;
    const double *g = io->g, *mg = io->mg, *fg = io->fg;
    double *gx = io->gx, *mgx = io->mgx, *fgx = io->fgx;
    size_t nin = io->nin, nout = io->nout;
    switch (l->kind) {
    case LAYER_DENSE:
        bwd_dense(d, i, io);
        break;
    case LAYER_RELU:
    case LAYER_LEAKY_RELU:
        bwd_relu(d, i, io);
        break;
    case LAYER_TANH:
    case LAYER_SIGMOID:
        bwd_squash(d, i, io);
        break;
    case LAYER_DROPOUT:
        for (size_t k = 0; k < nin; k++) {
            double mk = (double)d->mask[i][k];
            gx[k] = g[k] * mk;
            mgx[k] = (mg[k] + fabs(g[k])) * mk;
            fgx[k] = fg[k] * mk;
        }
        break;
    case LAYER_BATCHNORM:
    case LAYER_BATCHNORM2D:
        bwd_batchnorm(d, i, io);
        break;
    case LAYER_CONV2D:
        bwd_conv2d(d, i, io);
        break;
    case LAYER_MAXPOOL2D:
        bwd_maxpool2d(d, i, io);
        break;
    case LAYER_AVGPOOL2D:
        bwd_avgpool2d(d, i, io);
        break;
    case LAYER_GLOBAL_AVGPOOL: {
        int hw = l->h * l->w;
        for (size_t k = 0; k < nin; k++) {
            gx[k] = g[k / hw] / hw;
            mgx[k] = (mg[k / hw] + fabs(g[k / hw])) / hw;
            fgx[k] = fg[k / hw] / hw;
        }
        break;
    }
    case LAYER_DROPOUT2D: {
        int hw = l->h * l->w;
        for (size_t k = 0; k < nin; k++) {
            double mk = (double)d->mask[i][k / hw];
            gx[k] = g[k] * mk;
            mgx[k] = (mg[k] + fabs(g[k])) * mk;
            fgx[k] = fg[k] * mk;
        }
        break;
    }
    default:
        memcpy(gx, g, nout * sizeof *gx);
        memcpy(mgx, mg, nout * sizeof *mgx);
        memcpy(fgx, fg, nout * sizeof *fgx);
        break;
    }
}

static void
swap_buffers(double **a, double **b)
{
    double *t = *a;
    *a = *b;
    *b = t;
}

/*
 * Backward of the double model, carrying beside each gradient value g its
 * magnitude mg, into d->gmag (parameters) and d->xmag (input).  The values
 * themselves are needed only where a layer's rounding depends on them.
 */
static void
backward_magnitudes(struct dmodel *d)
{
    const struct model *m = d->m;
    int B = d->B;
    int widest = m->in;
    for (int i = 0; i < m->nlayers; i++)
        widest = m->layers[i].out > widest ? m->layers[i].out : widest;
    size_t cap = (size_t)B * (size_t)widest;
    double *g = xcalloc(cap, sizeof *g), *mg = xcalloc(cap, sizeof *mg);
    double *gx = xcalloc(cap, sizeof *gx), *mgx = xcalloc(cap, sizeof *mgx);
    double *fg = xcalloc(cap, sizeof *fg), *fgx = xcalloc(cap, sizeof *fgx);
    loss_magnitudes(d, g, mg);

    for (int i = m->nlayers - 1; i >= 0 && !stopped(d); i--) {
        struct grad_io io = {.g = g, .mg = mg, .fg = fg, .gx = gx, .mgx = mgx, .fgx = fgx};
        grad_io_at(&io, d, i);
        bwd_layer(d, i, &io);
        swap_buffers(&g, &gx);
        swap_buffers(&mg, &mgx);
        swap_buffers(&fg, &fgx);
    }
    /* Handed over, not copied: a copy into pages never touched faults
     * each of them in, some 50 ms for a Fashion-MNIST input of 1000 rows
     * with no cancellation check in it (the buffers hold B x widest). */
    swap_buffers(&d->xmag, &mg);
    swap_buffers(&d->xflip, &fg);
    free(g);
    free(mg);
    free(gx);
    free(mgx);
    free(fg);
    free(fgx);
}

/* ---- comparing ---------------------------------------------------------- */

/* Whether a layer's function has kinks a nudge may cross. */
static bool
has_kinks(const struct layer *l)
{
    return l->kind == LAYER_RELU || l->kind == LAYER_LEAKY_RELU || l->kind == LAYER_MAXPOOL2D;
}

/* Signs of every relu/leaky-relu input and the window position of every
 * max-pool output, to tell whether a nudge crossed a kink. */
static size_t
kink_signature(const struct dmodel *d, unsigned char *sig)
{
    size_t k = 0;
    for (int i = 0; i < d->m->nlayers; i++) {
        const struct layer *l = &d->m->layers[i];
        if (!has_kinks(l))
            continue;
        size_t n = (size_t)d->B * (size_t)l->out;
        bool pool = l->kind == LAYER_MAXPOOL2D;
        for (size_t j = 0; j < n; j++)
            sig[k++] = pool ? (unsigned char)d->pre[i][j] : d->pre[i][j] > 0.0;
    }
    return k;
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Scratch shared by the tensors of one check. */
struct gc_scratch {
    struct rng r;
    unsigned char *sig0, *sig1;
    size_t nsig;
    bool cancelled;         /* opts->cancel was seen: stop */
    long done, total;       /* entries begun, and to check in all (for opts->poll) */
};

/* Before each entry: the quit flag, and how far the check is. */
static bool
entry_stop(const struct gradcheck_opts *o, struct gc_scratch *s)
{
    if (o->poll != NULL && o->poll(o->poll_ctx, s->done, s->total))
        return true;
    return o->cancel != NULL && atomic_load_explicit(o->cancel, memory_order_relaxed);
}

/*
 * The central difference of the double loss in target[i] with step h;
 * false when the nudge crossed a kink.
 */
static bool
central_difference(double *num, struct dmodel *d, double *target, size_t i, double h,
                   struct gc_scratch *s)
{
    double p = target[i];
    target[i] = p + h;
    double fp = dmodel_loss(d);
    kink_signature(d, s->sig0);
    target[i] = p - h;
    double fm = dmodel_loss(d);
    kink_signature(d, s->sig1);
    target[i] = p;
    *num = (fp - fm) / (2.0 * h);
    return memcmp(s->sig0, s->sig1, s->nsig) == 0;
}

/*
 * A second opinion on an entry the first difference could not settle
 * (too small to resolve, or a disagreement): steps GC_WIDE and GC_WIDE/2
 * times h, combined by Richardson extrapolation.  The wider steps shrink
 * the double loss's rounding over 2h a thousandfold; their disagreement
 * estimates the truncation error they bring (and, scaled by (h/h2)^2,
 * that of the first difference).  Keeps whichever estimate has the
 * smaller error; keeps the first when a wide nudge crosses a kink.
 */
static void
refine(double *num, double *err, struct dmodel *d, double *target, size_t i, double h,
       struct gc_scratch *s)
{
    double h1 = GC_WIDE * h, h2 = h1 / 2.0, n1, n2;
    if (!central_difference(&n1, d, target, i, h1, s)
        || !central_difference(&n2, d, target, i, h2, s))
        return;
    double t2 = fabs(n1 - n2) / 3.0;
    double wide = (4.0 * n2 - n1) / 3.0;
    double wide_err = GC_KD * U64 * d->loss_mag * (4.0 / h2 + 1.0 / h1) / 3.0 + 2.0 * t2;
    double first_err = *err + 2.0 * t2 * (h / h2) * (h / h2);
    if (wide_err < first_err) {
        *num = wide;
        *err = wide_err;
    } else {
        *err = first_err;
    }
}

/* k distinct seeded indices of n (all of them, in order, when k == n). */
static void
sample_indices(size_t *idx, size_t k, size_t n, struct rng *r)
{
    if (k == n) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        return;
    }
    /* partial Fisher-Yates over an index map */
    size_t *all = xmalloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)rng_below(r, n - i);
        size_t tmp = all[i];
        all[i] = all[j];
        all[j] = tmp;
        idx[i] = all[i];
    }
    free(all);
}

/* The verdict of one tensor from its counts. */
static void
tensor_verdict(struct tm_gc_tensor *out)
{
    /* Entries with no arithmetic behind them (exact zeros) neither help nor hurt. */
    int avail = out->checked - out->zero;
    int need = avail < GC_MIN_COMPARED ? avail : GC_MIN_COMPARED;
    out->reason = TM_GC_REASON_NONE;
    if (out->failed > 0) {
        out->verdict = TM_GC_FAIL;
    } else if (out->compared >= need && out->compared > 0) {
        out->verdict = TM_GC_PASS;
    } else {
        out->verdict = TM_GC_INCONCLUSIVE;
        int kinds = (out->kinks > 0) + (out->zero > 0) + (out->tiny > 0);
        out->reason = kinds > 1            ? TM_GC_REASON_MIXED
                      : out->kinks > 0     ? TM_GC_REASON_KINKS
                      : out->zero > 0      ? TM_GC_REASON_ZERO
                                           : TM_GC_REASON_TINY;
    }
}

/*
 * Compare analytic (n entries) with central differences of the double
 * loss with respect to target (n entries, double, perturbed in place);
 * mag holds each entry's magnitude from the error analysis.
 */
static void
check_tensor(struct tm_gc_tensor *out, struct dmodel *d, double *target, const float *analytic,
             const double *mag, const double *flip, size_t n, const struct gradcheck_opts *o,
             struct gc_scratch *s)
{
    size_t k = n <= (size_t)o->per_tensor ? n : (size_t)o->per_tensor;
    size_t *idx = xmalloc(k * sizeof *idx);
    sample_indices(idx, k, n, &s->r);
    float *rels = xmalloc(k * sizeof *rels);
    int nrel = 0;
    out->checked = (int)k;
    out->worst_index = -1;
    for (size_t e = 0; e < k; e++) {
        /* A quit must not wait for the rest: one entry is a few forward
         * passes, well under 50 ms for any model that trains. */
        if (entry_stop(o, s)) {
            s->cancelled = true;
            out->checked = (int)e;
            break;
        }
        s->done++;
        size_t i = idx[e];
        double h = GC_STEP * (fabs(target[i]) > 1.0 ? fabs(target[i]) : 1.0);
        double num;
        if (!central_difference(&num, d, target, i, h, s)) {
            out->kinks++;
            continue;
        }
        double a = analytic[i];
        /* the double loss's rounding over 2h, then the float32 side's */
        double nerr = GC_KD * U64 * d->loss_mag / h;
        double fbound = GC_K * U32 * mag[i];
        double diff = fabs(a - num), bound = fbound + nerr;
        if ((diff > bound || bound > GC_RESOLVE * fmax(fabs(a), fabs(num))) && isfinite(a)) {
            refine(&num, &nerr, d, target, i, h, s);
            diff = fabs(a - num);
            bound = fbound + nerr;
        }
        if (diff > bound && diff <= bound + flip[i]) {
            /* explained by a ReLU branch the float side may take otherwise */
            out->kinks++;
            continue;
        }
        bound += flip[i];
        double big = fmax(fabs(a), fabs(num));
        double rel = big > 0.0 ? diff / big : 0.0;
        double excess = bound > 0.0 ? diff / bound : (diff > 0.0 ? INFINITY : 0.0);
        if (!isfinite(a) || !isfinite(num)) {
            rel = INFINITY;
            excess = INFINITY;
        }
        rels[nrel++] = (float)rel;
        if (excess > 1.0)
            out->failed++;
        else if (a == 0.0 && mag[i] == 0.0 && diff == 0.0)
            out->zero++;
        else if (bound <= GC_RESOLVE * big || (fabs(num) <= nerr && bound <= GC_CANCEL * mag[i]))
            out->compared++;
        else
            out->tiny++;
        out->max_rel = (float)fmax(out->max_rel, rel);
        if (out->worst_index < 0 || excess > out->max_excess) {
            out->max_excess = (float)excess;
            out->worst_index = (long)i;
            out->worst_analytic = (float)a;
            out->worst_numeric = (float)num;
            out->worst_bound = (float)bound;
        }
    }
    qsort(rels, (size_t)nrel, sizeof *rels, cmp_float);
    out->median_rel = nrel > 0 ? rels[nrel / 2] : 0.0f;
    tensor_verdict(out);
    free(rels);
    free(idx);
}

/* ---- the check ------------------------------------------------------------ */

static void
dmodel_init(struct dmodel *d, const struct model *m, const struct batch *slice)
{
    int B = slice->size;
    *d = (struct dmodel){.m = m, .B = B, .b = slice};
    d->w = xmalloc(m->nparams * sizeof *d->w);
    for (size_t i = 0; i < m->nparams; i++)
        d->w[i] = m->params[i];
    size_t nx = (size_t)B * (size_t)m->in;
    d->x = xmalloc(nx * sizeof *d->x);
    for (size_t i = 0; i < nx; i++)
        d->x[i] = slice->x[i];
    size_t nl = (size_t)m->nlayers;
    d->act = xcalloc(nl, sizeof *d->act);
    d->pre = xcalloc(nl, sizeof *d->pre);
    d->mask = xcalloc(nl, sizeof *d->mask);
    d->mag = xcalloc(nl, sizeof *d->mag);
    d->bn_xhat = xcalloc(nl, sizeof *d->bn_xhat);
    d->bn_mxhat = xcalloc(nl, sizeof *d->bn_mxhat);
    d->bn_inv = xcalloc(nl, sizeof *d->bn_inv);
    d->bn_invrel = xcalloc(nl, sizeof *d->bn_invrel);
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        size_t n = (size_t)B * (size_t)l->out;
        d->act[i] = xmalloc(n * sizeof(double));
        d->mag[i] = xmalloc(n * sizeof(double));
        if (has_kinks(l))
            d->pre[i] = xmalloc(n * sizeof(double));
        if (l->kind == LAYER_DROPOUT || l->kind == LAYER_DROPOUT2D) {
            /* dropout2d's mask is one entry per (sample, channel) */
            size_t nm = l->kind == LAYER_DROPOUT ? n : (size_t)B * (size_t)l->c;
            d->mask[i] = xmalloc(nm * sizeof(float));
            memcpy(d->mask[i], l->mask, nm * sizeof(float));
        }
        if (l->kind == LAYER_BATCHNORM || l->kind == LAYER_BATCHNORM2D) {
            int N, HW;
            bn_dims(l, &N, &HW);
            d->bn_xhat[i] = xmalloc(n * sizeof(double));
            d->bn_mxhat[i] = xmalloc(n * sizeof(double));
            d->bn_inv[i] = xmalloc((size_t)N * sizeof(double));
            d->bn_invrel[i] = xmalloc((size_t)N * sizeof(double));
        }
    }
    d->gmag = xcalloc(m->nparams, sizeof *d->gmag);
    d->xmag = xcalloc(nx, sizeof *d->xmag);
    d->gflip = xcalloc(m->nparams, sizeof *d->gflip);
    d->xflip = xcalloc(nx, sizeof *d->xflip);
}

static void
dmodel_fini(struct dmodel *d)
{
    for (int i = 0; i < d->m->nlayers; i++) {
        free(d->act[i]);
        free(d->pre[i]);
        free(d->mask[i]);
        free(d->mag[i]);
        free(d->bn_xhat[i]);
        free(d->bn_mxhat[i]);
        free(d->bn_inv[i]);
        free(d->bn_invrel[i]);
    }
    free(d->act);
    free(d->pre);
    free(d->mask);
    free(d->mag);
    free(d->bn_xhat);
    free(d->bn_mxhat);
    free(d->bn_inv);
    free(d->bn_invrel);
    free(d->w);
    free(d->x);
    free(d->gmag);
    free(d->xmag);
    free(d->gflip);
    free(d->xflip);
}

/* The overall verdict: any FAIL fails, all PASS passes; else inconclusive. */
static void
overall_verdict(struct tm_gradcheck *out)
{
    int failed = 0, inconclusive = 0, reason = TM_GC_REASON_NONE;
    for (int i = 0; i < out->ntensors; i++) {
        const struct tm_gc_tensor *t = &out->t[i];
        failed += t->verdict == TM_GC_FAIL;
        if (t->verdict == TM_GC_INCONCLUSIVE) {
            reason = inconclusive == 0 || reason == t->reason ? t->reason : TM_GC_REASON_MIXED;
            inconclusive++;
        }
    }
    out->verdict = failed > 0 ? TM_GC_FAIL : inconclusive > 0 ? TM_GC_INCONCLUSIVE : TM_GC_PASS;
    out->reason = out->verdict == TM_GC_INCONCLUSIVE ? (uint8_t)reason : TM_GC_REASON_NONE;
}

/* The entries a check of B samples looks at in all, for opts->poll's progress. */
static long
entries_total(const struct model *m, int B, const struct gradcheck_opts *o)
{
    long total = 0;
    for (int t = 0; t < m->ntensors && t < TM_GC_MAX_TENSORS - 1; t++)
        total += (long)(m->tensors[t].count < (size_t)o->per_tensor ? m->tensors[t].count
                                                                     : (size_t)o->per_tensor);
    size_t nx = (size_t)B * (size_t)m->in;
    total += (long)(nx < (size_t)o->per_tensor ? nx : (size_t)o->per_tensor);
    return total;
}

/* Everything of the model the float pass disturbs, to put back afterwards. */
struct model_saved {
    float *state;               /* m->state (nstate), or NULL */
    float *grads;               /* m->grads (nparams) */
    struct rng rng_dropout;
    long bn_batches;
    bool training, want_dx;
};

static void
model_save(struct model_saved *sv, const struct model *m)
{
    sv->state = m->nstate > 0 ? xmalloc(m->nstate * sizeof *sv->state) : NULL;
    if (sv->state != NULL)
        memcpy(sv->state, m->state, m->nstate * sizeof *sv->state);
    sv->grads = xmalloc(m->nparams * sizeof *sv->grads);
    memcpy(sv->grads, m->grads, m->nparams * sizeof *sv->grads);
    sv->rng_dropout = m->rng_dropout;
    sv->bn_batches = m->bn_batches;
    sv->training = m->training;
    sv->want_dx = m->want_dx;
}

/* Put the model back as model_save() found it, and free what it kept. */
static void
model_restore(struct model_saved *sv, struct model *m)
{
    memcpy(m->grads, sv->grads, m->nparams * sizeof *sv->grads);
    if (sv->state != NULL)
        memcpy(m->state, sv->state, m->nstate * sizeof *sv->state);
    m->rng_dropout = sv->rng_dropout;
    m->bn_batches = sv->bn_batches;
    m->want_dx = sv->want_dx;
    model_set_training(m, sv->training);
    free(sv->grads);
    free(sv->state);
}

/* Check every parameter tensor, then the input, into out (until cancelled). */
static void
check_all(struct tm_gradcheck *out, struct dmodel *d, int B, const struct gradcheck_opts *o,
          struct gc_scratch *s)
{
    const struct model *m = d->m;
    int nt = 0;
    for (int t = 0; t < m->ntensors && nt < TM_GC_MAX_TENSORS - 1 && !s->cancelled; t++, nt++) {
        const struct param_tensor *pt = &m->tensors[t];
        struct tm_gc_tensor *g = &out->t[nt];
        snprintf(g->name, sizeof g->name, "%s", pt->name);
        g->layer = pt->layer;
        check_tensor(g, d, d->w + pt->offset, m->grads + pt->offset, d->gmag + pt->offset,
                     d->gflip + pt->offset, pt->count, o, s);
    }
    if (!s->cancelled) {
        struct tm_gc_tensor *gi = &out->t[nt++];
        snprintf(gi->name, sizeof gi->name, "input");
        gi->layer = -1;
        check_tensor(gi, d, d->x, m->dx, d->xmag, d->xflip, (size_t)B * (size_t)m->in, o, s);
    }
    out->ntensors = nt;
}

void
gradcheck_run(struct tm_gradcheck *out, struct model *m, const struct batch *b,
              const struct gradcheck_opts *o)
{
    double t0 = mono_seconds();
    memset(out, 0, sizeof *out);
    int B = b->size < o->samples ? b->size : o->samples;
    out->samples = B;
    long total = entries_total(m, B, o);
    if (o->poll != NULL)
        o->poll(o->poll_ctx, 0, total);
    struct model_saved saved;
    model_save(&saved, m);

    /* The analytic side: the float32 backward training uses, data loss
     * only.  Over 1000 rows of a wide model one pass is some 80 ms, so a
     * quit is polled between its layers (model.stop): the rows stay one
     * batch, so batch norm's statistics and the dropout masks are those of
     * the whole slice, and no layer's arithmetic changes. */
    model_set_training(m, true);
    m->want_dx = true;
    struct batch slice = *b;
    slice.size = B;
    struct loss_out lo;
    struct float_pass fp = {.flags = {.cancel = o->cancel, .poll = o->poll,
                                      .poll_ctx = o->poll_ctx}};
    m->stop = float_pass_stopped;
    m->stop_ctx = &fp;
    model_grad(m, &slice, &lo);
    m->stop = NULL;
    m->stop_ctx = NULL;
    /* The double model's set-up (some ms of page faults) is not work a
     * quit must wait for. */
    if (fp.hit || stopped(&fp.flags)) {
        out->cancelled = 1;
        out->verdict = TM_GC_INCONCLUSIVE;
        model_restore(&saved, m);
        out->seconds = (float)(mono_seconds() - t0);
        return;
    }

    /* The double model, its forward at the unperturbed point, and the bounds. */
    struct dmodel d;
    dmodel_init(&d, m, &slice);
    d.cancel = o->cancel;
    d.poll = o->poll;
    d.poll_ctx = o->poll_ctx;
    dmodel_loss(&d);
    forward_magnitudes(&d);
    backward_magnitudes(&d);

    struct gc_scratch s = {0};
    for (int i = 0; i < m->nlayers; i++)
        if (has_kinks(&m->layers[i]))
            s.nsig += (size_t)B * (size_t)m->layers[i].out;
    s.sig0 = xmalloc(s.nsig + 1);
    s.sig1 = xmalloc(s.nsig + 1);
    rng_seed_for(&s.r, o->seed, RNG_GRADCHECK);
    s.total = total;
    s.cancelled = stopped(&d);
    check_all(out, &d, B, o, &s);
    overall_verdict(out);
    if (s.cancelled) {
        out->cancelled = 1;
        out->verdict = TM_GC_INCONCLUSIVE;
        out->reason = TM_GC_REASON_NONE;
    }

    model_restore(&saved, m);
    dmodel_fini(&d);
    free(s.sig0);
    free(s.sig1);
    out->seconds = (float)(mono_seconds() - t0);
}
