/*
 * gradcheck.c - numerical versus analytic gradients, per tensor.
 *
 * The analytic gradients are the model's own float32 backward on a slice
 * of the batch.  The numerical ones are central differences of the data
 * loss computed by a double-precision forward written here, layer by
 * layer, with the float pass's dropout masks held fixed and batch norm on
 * batch statistics (training mode), so that the two sides compute the same
 * function.  It leaves the model exactly as it found it.  It does not
 * judge anything but gradients; no screen, no files.
 */
#include "config.h"

#include "nntop/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/xmem.h"

/*
 * Verdict thresholds on the relative error |a - n| / max(|a|, |n|, floor),
 * for float32 analytic gradients against double numerical ones.  CS231n's
 * table (for float64 on both sides) calls > 1e-2 wrong and < 1e-7 right;
 * float32 arithmetic moves "right" to about 1e-4 (a sum over a batch
 * carries ~1e-6 relative rounding, more where terms cancel), while every
 * planted bug we test lands at 1e-1 or above.  So: a tensor passes when
 * its worst non-kink entry stays at or below GC_FAIL_REL.
 */
#define GC_FAIL_REL 1e-2
/*
 * Entries whose gradients are this small next to the largest of their
 * layer (weight and bias together) are compared on an absolute scale:
 * float32 cannot resolve them relatively.  The layer, not the tensor: a
 * dense bias feeding a batch norm has a true gradient of exactly 0, so its
 * float32 gradient is all rounding noise and its own largest entry is no
 * scale to judge it by; the weight gradient of the same layer is.
 */
#define GC_FLOOR_FRAC 1e-3
#define GC_STEP 1e-6

struct dmodel {
    const struct model *m;
    int B;
    double *w;              /* (nparams) parameters in double */
    double *x;              /* (B, IN) the input in double */
    double **act;           /* per layer (B, out) output */
    double **pre;           /* per layer: the input a relu/leaky relu saw (for kinks) */
    float **mask;           /* per dropout layer: (B, out) copy of the float pass's mask */
    const struct batch *b;
};

static const double *
layer_input(const struct dmodel *d, int i)
{
    return i == 0 ? d->x : d->act[i - 1];
}

/* The data loss of the double forward. */
static double
dmodel_loss(struct dmodel *d)
{
    const struct model *m = d->m;
    int B = d->B;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        const double *x = layer_input(d, i);
        double *y = d->act[i];
        size_t n = (size_t)B * (size_t)l->out;
        switch (l->kind) {
        case LAYER_DENSE: {
            const double *w = d->w + m->tensors[l->weight].offset;
            const double *bias = d->w + m->tensors[l->bias].offset;
            for (int r = 0; r < B; r++)
                for (int o = 0; o < l->out; o++) {
                    double s = bias[o];
                    const double *wr = w + (size_t)o * l->in;
                    const double *xr = x + (size_t)r * l->in;
                    for (int k = 0; k < l->in; k++)
                        s += wr[k] * xr[k];
                    y[(size_t)r * l->out + o] = s;
                }
            break;
        }
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
        case LAYER_BATCHNORM: {
            const double *g = d->w + m->tensors[l->weight].offset;
            const double *be = d->w + m->tensors[l->bias].offset;
            for (int o = 0; o < l->out; o++) {
                double mean = 0.0, var = 0.0;
                for (int r = 0; r < B; r++)
                    mean += x[(size_t)r * l->out + o];
                mean /= B;
                for (int r = 0; r < B; r++) {
                    double c = x[(size_t)r * l->out + o] - mean;
                    var += c * c;
                }
                var /= B;
                double inv = 1.0 / sqrt(var + 1e-5);
                for (int r = 0; r < B; r++) {
                    size_t k = (size_t)r * l->out + o;
                    y[k] = g[o] * (x[k] - mean) * inv + be[o];
                }
            }
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
            double t = d->b->targets != NULL ? d->b->targets[(size_t)r * C + c]
                                             : (double)(d->b->labels[r] == c);
            double e = z[(size_t)r * C + c] - t;
            loss += e * e;
        }
    return loss / ((double)B * C);
}

/* Signs of every relu/leaky-relu input, to tell whether a nudge crossed a kink. */
static size_t
kink_signature(const struct dmodel *d, unsigned char *sig)
{
    size_t k = 0;
    for (int i = 0; i < d->m->nlayers; i++) {
        const struct layer *l = &d->m->layers[i];
        if (l->kind != LAYER_RELU && l->kind != LAYER_LEAKY_RELU)
            continue;
        size_t n = (size_t)d->B * (size_t)l->out;
        for (size_t j = 0; j < n; j++)
            sig[k++] = d->pre[i][j] > 0.0;
    }
    return k;
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float
abs_max(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/*
 * Compare analytic (n entries) with central differences of the double
 * loss with respect to target (n entries, double, perturbed in place).
 * scale is the largest analytic gradient the absolute floor is based on.
 */
static void
check_tensor(struct tm_gc_tensor *out, struct dmodel *d, double *target, const float *analytic,
             size_t n, float scale, const struct gradcheck_opts *o, struct rng *r,
             unsigned char *sig0, unsigned char *sig1, size_t nsig)
{
    size_t k = n <= (size_t)o->per_tensor ? n : (size_t)o->per_tensor;
    size_t *idx = xmalloc(k * sizeof *idx);
    if (k == n) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
    } else {
        /* a seeded sample without repeats (partial Fisher-Yates over an index map) */
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
    double floor = 1e-8 + GC_FLOOR_FRAC * scale;

    float *rels = xmalloc(k * sizeof *rels);
    int nrel = 0, kinks = 0;
    out->max_rel = 0.0f;
    out->worst_index = -1;
    for (size_t s = 0; s < k; s++) {
        size_t i = idx[s];
        double p = target[i];
        double h = GC_STEP * (fabs(p) > 1.0 ? fabs(p) : 1.0);
        target[i] = p + h;
        double fp = dmodel_loss(d);
        kink_signature(d, sig0);
        target[i] = p - h;
        double fm = dmodel_loss(d);
        kink_signature(d, sig1);
        target[i] = p;
        if (memcmp(sig0, sig1, nsig) != 0) {
            kinks++;
            continue;
        }
        double num = (fp - fm) / (2.0 * h);
        double a = analytic[i];
        double den = fmax(fmax(fabs(a), fabs(num)), floor);
        double rel = fabs(a - num) / den;
        if (!isfinite(rel))
            rel = INFINITY;
        rels[nrel++] = (float)rel;
        if (rel >= out->max_rel || out->worst_index < 0) {
            out->max_rel = (float)rel;
            out->worst_index = (long)i;
            out->worst_analytic = (float)a;
            out->worst_numeric = (float)num;
        }
    }
    qsort(rels, (size_t)nrel, sizeof *rels, cmp_float);
    out->median_rel = nrel > 0 ? rels[nrel / 2] : 0.0f;
    out->checked = (int)k;
    out->kinks = kinks;
    out->pass = out->max_rel <= GC_FAIL_REL;
    free(rels);
    free(idx);
}

void
gradcheck_run(struct tm_gradcheck *out, struct model *m, const struct batch *b,
              const struct gradcheck_opts *o)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(out, 0, sizeof *out);
    int B = b->size < o->samples ? b->size : o->samples;
    out->samples = B;

    /* Everything the float pass disturbs, to put back afterwards. */
    float *state = m->nstate > 0 ? xmalloc(m->nstate * sizeof *state) : NULL;
    if (state != NULL)
        memcpy(state, m->state, m->nstate * sizeof *state);
    struct rng saved_rng = m->rng_dropout;
    long saved_bn = m->bn_batches;
    bool saved_training = m->training;
    bool saved_dx = m->want_dx;
    float *grads = xmalloc(m->nparams * sizeof *grads);
    memcpy(grads, m->grads, m->nparams * sizeof *grads);

    /* The analytic side: the float32 backward training uses, data loss only. */
    model_set_training(m, true);
    m->want_dx = true;
    struct batch slice = *b;
    slice.size = B;
    struct loss_out lo;
    model_grad(m, &slice, &lo);

    struct dmodel d = {.m = m, .B = B, .b = &slice};
    d.w = xmalloc(m->nparams * sizeof *d.w);
    for (size_t i = 0; i < m->nparams; i++)
        d.w[i] = m->params[i];
    size_t nx = (size_t)B * (size_t)m->in;
    d.x = xmalloc(nx * sizeof *d.x);
    for (size_t i = 0; i < nx; i++)
        d.x[i] = b->x[i];
    d.act = xcalloc((size_t)m->nlayers, sizeof *d.act);
    d.pre = xcalloc((size_t)m->nlayers, sizeof *d.pre);
    d.mask = xcalloc((size_t)m->nlayers, sizeof *d.mask);
    size_t nsig = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        size_t n = (size_t)B * (size_t)l->out;
        d.act[i] = xmalloc(n * sizeof(double));
        if (l->kind == LAYER_RELU || l->kind == LAYER_LEAKY_RELU) {
            d.pre[i] = xmalloc(n * sizeof(double));
            nsig += n;
        }
        if (l->kind == LAYER_DROPOUT) {
            d.mask[i] = xmalloc(n * sizeof(float));
            memcpy(d.mask[i], l->mask, n * sizeof(float));
        }
    }
    unsigned char *sig0 = xmalloc(nsig + 1), *sig1 = xmalloc(nsig + 1);

    struct rng r;
    rng_seed_for(&r, o->seed, RNG_GRADCHECK);
    bool pass = true;
    int nt = 0;
    for (int t = 0; t < m->ntensors && nt < TM_GC_MAX_TENSORS - 1; t++, nt++) {
        const struct param_tensor *pt = &m->tensors[t];
        const struct layer *l = &m->layers[pt->layer];
        float scale = 0.0f;
        for (int k = 0; k < 2; k++) {
            int idx = k == 0 ? l->weight : l->bias;
            if (idx >= 0) {
                float a = abs_max(m->grads + m->tensors[idx].offset, m->tensors[idx].count);
                scale = a > scale ? a : scale;
            }
        }
        struct tm_gc_tensor *g = &out->t[nt];
        snprintf(g->name, sizeof g->name, "%s", pt->name);
        g->layer = pt->layer;
        check_tensor(g, &d, d.w + pt->offset, m->grads + pt->offset, pt->count, scale, o, &r,
                     sig0, sig1, nsig);
        pass = pass && g->pass;
    }
    struct tm_gc_tensor *gi = &out->t[nt++];
    snprintf(gi->name, sizeof gi->name, "input");
    gi->layer = -1;
    check_tensor(gi, &d, d.x, m->dx, nx, abs_max(m->dx, nx), o, &r, sig0, sig1, nsig);
    pass = pass && gi->pass;
    out->ntensors = nt;
    out->pass = pass;

    /* Put the model back as it was. */
    memcpy(m->grads, grads, m->nparams * sizeof *grads);
    if (state != NULL)
        memcpy(m->state, state, m->nstate * sizeof *state);
    m->rng_dropout = saved_rng;
    m->bn_batches = saved_bn;
    m->want_dx = saved_dx;
    model_set_training(m, saved_training);

    for (int i = 0; i < m->nlayers; i++) {
        free(d.act[i]);
        free(d.pre[i]);
        free(d.mask[i]);
    }
    free(d.act);
    free(d.pre);
    free(d.mask);
    free(d.w);
    free(d.x);
    free(sig0);
    free(sig1);
    free(grads);
    free(state);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (float)((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
}
