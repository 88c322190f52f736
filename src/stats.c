/*
 * stats.c - telemetry statistics from the model's own buffers.  It reads
 * what the step left behind and never runs the model; it does not decide
 * what is healthy (that is the doctor's and the UI's business).
 */
#include "config.h"

#include "nntop/stats.h"

#include <math.h>
#include <string.h>

/* Stride that keeps a histogram's sample at STATS_HIST_SAMPLE entries. */
static size_t
sample_stride(size_t n)
{
    return n <= STATS_HIST_SAMPLE ? 1 : (n + STATS_HIST_SAMPLE - 1) / STATS_HIST_SAMPLE;
}

void
stats_hist(struct tm_hist *h, const float *x, size_t n, int bins)
{
    if (bins < 1)
        bins = 1;
    if (bins > TM_MAX_BINS)
        bins = TM_MAX_BINS;
    memset(h, 0, sizeof *h);
    h->nbins = (uint16_t)bins;
    size_t stride = sample_stride(n);
    h->sampled = stride > 1;

    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i += stride) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo > hi) {
        /* nothing finite to show */
        h->lo = h->hi = 0.0f;
        return;
    }
    h->lo = lo;
    h->hi = hi;
    /* A constant buffer (lo == hi) gets bins of unit width: all in bin 0. */
    double width = hi > lo ? ((double)hi - lo) / bins : 1.0;
    double inv = 1.0 / width;
    uint32_t total = 0;
    for (size_t i = 0; i < n; i += stride) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        long b = (long)(((double)v - lo) * inv);
        if (b >= bins)
            b = bins - 1;
        if (b < 0)
            b = 0;
        h->counts[b]++;
        total++;
    }
    h->total = total;
}

float
stats_dead_fraction(const float *y, int B, int n)
{
    if (B <= 0 || n <= 0)
        return 0.0f;
    /* A unit is alive once any row is non-zero; walk rows, stop early. */
    unsigned char alive[4096];
    int dead = 0;
    for (int j0 = 0; j0 < n; j0 += (int)sizeof alive) {
        int w = n - j0 < (int)sizeof alive ? n - j0 : (int)sizeof alive;
        memset(alive, 0, (size_t)w);
        for (int b = 0; b < B; b++) {
            const float *row = y + (size_t)b * n + j0;
            for (int j = 0; j < w; j++)
                alive[j] |= row[j] != 0.0f;
        }
        for (int j = 0; j < w; j++)
            dead += !alive[j];
    }
    return (float)dead / (float)n;
}

float
stats_saturated_fraction(const float *y, size_t n, float lo, float hi, float eps)
{
    if (n == 0)
        return 0.0f;
    size_t sat = 0;
    for (size_t i = 0; i < n; i++)
        sat += (y[i] - lo <= eps) | (hi - y[i] <= eps);
    return (float)((double)sat / (double)n);
}

void
stats_layer(struct tm_layer *out, const struct model *m, int i, int bins)
{
    const struct layer *l = &m->layers[i];
    size_t n = (size_t)m->batch * (size_t)l->out;
    const float *y = l->y;
    double sum = 0.0, sumsq = 0.0;
    float lo = INFINITY, hi = -INFINITY;
    uint32_t nan = 0, inf = 0;
    size_t finite = 0;
    for (size_t k = 0; k < n; k++) {
        float v = y[k];
        if (isnan(v)) {
            nan++;
            continue;
        }
        if (isinf(v)) {
            inf++;
            continue;
        }
        sum += v;
        sumsq += (double)v * v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        finite++;
    }
    out->index = i;
    out->nan_count = nan;
    out->inf_count = inf;
    if (finite > 0) {
        double mean = sum / (double)finite;
        double var = sumsq / (double)finite - mean * mean;
        out->act_mean = (float)mean;
        out->act_std = (float)sqrt(var > 0.0 ? var : 0.0);
        out->act_min = lo;
        out->act_max = hi;
    } else {
        out->act_mean = out->act_std = out->act_min = out->act_max = 0.0f;
    }
    out->dead_frac = -1.0f;
    out->sat_frac = -1.0f;
    switch (l->kind) {
    case LAYER_RELU:
        out->dead_frac = stats_dead_fraction(y, m->batch, l->out);
        break;
    case LAYER_TANH:
        /* within 1 % of the asymptotes: |y| >= 0.98 of the range ±1 */
        out->sat_frac = stats_saturated_fraction(y, n, -1.0f, 1.0f, 0.02f);
        break;
    case LAYER_SIGMOID:
        out->sat_frac = stats_saturated_fraction(y, n, 0.0f, 1.0f, 0.01f);
        break;
    default:
        break;
    }
    stats_hist(&out->act, y, n, bins);
}

void
stats_tensor(struct tm_tensor *out, const struct model *m, int t, const float *update, int bins)
{
    const struct param_tensor *pt = &m->tensors[t];
    const float *w = m->params + pt->offset;
    const float *g = m->grads + pt->offset;
    const float *u = update != NULL ? update + pt->offset : NULL;
    double ww = 0.0, gg = 0.0, uu = 0.0;
    uint32_t nan = 0, inf = 0;
    /* One pass over the three buffers: norms and non-finite counts. */
    for (size_t k = 0; k < pt->count; k++) {
        float a = w[k], b = g[k];
        nan += isnan(a) + isnan(b);
        inf += isinf(a) + isinf(b);
        ww += (double)a * a;
        gg += (double)b * b;
        if (u != NULL)
            uu += (double)u[k] * u[k];
    }
    out->index = t;
    out->layer = pt->layer;
    out->w_norm = (float)sqrt(ww);
    out->g_norm = (float)sqrt(gg);
    out->update_norm = (float)sqrt(uu);
    out->update_ratio = ww > 0.0 ? (float)(sqrt(uu) / sqrt(ww)) : 0.0f;
    out->nan_count = nan;
    out->inf_count = inf;
    stats_hist(&out->weight, w, pt->count, bins);
    stats_hist(&out->grad, g, pt->count, bins);
}
