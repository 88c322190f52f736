/*
 * stats.c - telemetry statistics from the model's own buffers.  It reads
 * what the step left behind and never runs the model; it does not decide
 * what is healthy (that is the doctor's and the UI's business).
 */
#include "config.h"

#include "nntop/stats.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nntop/optim.h"

/*
 * The loops below work in blocks of LANES floats with per-lane partial
 * results: a loop of fixed trip count is one gcc vectorises at -O2 (its
 * cheap cost model refuses loops that need a scalar epilogue).  Float
 * lanes hold at most FLUSH_BLOCKS terms each before they are added into
 * doubles, so sums stay accurate to a few parts in a million.
 */
#define LANES 16
#define FLUSH_BLOCKS 64

/*
 * The block loops are built once per vector width (target_clones, as
 * optim.c does and under the same conditions): the baseline x86-64 build
 * has 4-float SSE registers, AVX2 has 8 and AVX-512 16, and a snapshot is
 * these loops over every parameter, gradient and update.  The lanes are
 * explicit and nothing is contracted (-std=c11), so every copy computes
 * the same bits.
 */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones) && defined(__clang__)
/* clang refuses noinline beside target_clones (and never inlines a clone). */
#define STATS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#elif __has_attribute(target_clones)
#define STATS_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#endif
#endif
#ifndef STATS_CLONES
#define STATS_CLONES __attribute__((noinline))
#endif

/* Stride that keeps a histogram's sample at STATS_HIST_SAMPLE entries. */
static size_t
sample_stride(size_t n)
{
    return n <= STATS_HIST_SAMPLE ? 1 : (n + STATS_HIST_SAMPLE - 1) / STATS_HIST_SAMPLE;
}

/* Count the sample of x (every stride-th entry) into h over [lo, hi]. */
static void
hist_fill(struct tm_hist *h, const float *x, size_t n, size_t stride, int bins, float lo,
          float hi)
{
    h->lo = lo;
    h->hi = hi;
    /* A constant buffer (lo == hi) gets bins of unit width: all in bin 0. */
    float inv = hi > lo ? (float)((double)bins / ((double)hi - lo)) : 1.0f;
    uint32_t total = 0;
    for (size_t i = 0; i < n; i += stride) {
        float v = x[i];
        if (!(fabsf(v) <= FLT_MAX))
            continue;
        int b = (int)((v - lo) * inv);
        b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
        h->counts[b]++;
        total++;
    }
    h->total = total;
}

static int
clamp_bins(int bins)
{
    return bins < 1 ? 1 : bins > TM_MAX_BINS ? TM_MAX_BINS : bins;
}

void
stats_hist(struct tm_hist *h, const float *x, size_t n, int bins)
{
    if (bins <= 0) {
        /* Histograms skipped this snapshot: an empty one says so. */
        memset(h, 0, sizeof *h);
        return;
    }
    bins = clamp_bins(bins);
    memset(h, 0, sizeof *h);
    h->nbins = (uint16_t)bins;
    size_t stride = sample_stride(n);
    h->sampled = stride > 1;

    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i += stride) {
        float v = x[i];
        if (!(fabsf(v) <= FLT_MAX))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo > hi) {
        /* nothing finite to show */
        h->lo = h->hi = 0.0f;
        return;
    }
    hist_fill(h, x, n, stride, bins, lo, hi);
}

/* What one pass over a buffer learns: moments and range of its finite
 * entries, and how many are NaN or infinite. */
struct moments {
    double sum, sumsq;
    float lo, hi;
    size_t finite;
    uint32_t nan, inf;
};

static void
moments_flush(struct moments *mo, float *restrict s, float *restrict q)
{
    for (int j = 0; j < LANES; j++) {
        mo->sum += s[j];
        mo->sumsq += q[j];
        s[j] = q[j] = 0.0f;
    }
}

/*
 * nblocks blocks of LANES entries into the per-lane partial results.  Not
 * inlined: inside moments()'s loop nest gcc will not vectorise it.
 */
static void STATS_CLONES
moments_blocks(const float *restrict x, size_t nblocks, float *restrict s, float *restrict q,
               float *restrict lo, float *restrict hi, uint32_t *restrict bad)
{
    for (size_t b = 0; b < nblocks; b++, x += LANES) {
        for (int j = 0; j < LANES; j++) {
            float v = x[j];
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            /* all exponent bits set: NaN or infinity (a test gcc vectorises) */
            uint32_t nf = (bits & 0x7f800000u) == 0x7f800000u;
            float f = nf ? 0.0f : v;
            s[j] += f;
            q[j] += f * f;
            bad[j] += nf;
            float vl = nf ? INFINITY : v, vh = nf ? -INFINITY : v;
            lo[j] = vl < lo[j] ? vl : lo[j];
            hi[j] = vh > hi[j] ? vh : hi[j];
        }
    }
}

/* NaN and infinity counts, split; only run when some entry is not finite. */
static void
count_nonfinite(const float *x, size_t n, uint32_t *nan, uint32_t *inf)
{
    for (size_t k = 0; k < n; k++) {
        *nan += isnan(x[k]) != 0;
        *inf += isinf(x[k]) != 0;
    }
}

/* One vectorised pass over x (n): sum, sum of squares, range, non-finite counts. */
static void
moments(struct moments *mo, const float *restrict x, size_t n)
{
    float s[LANES] = {0}, q[LANES] = {0}, lo[LANES], hi[LANES];
    uint32_t bad[LANES] = {0};
    for (int j = 0; j < LANES; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
    }
    memset(mo, 0, sizeof *mo);
    size_t k = 0;
    while (n - k >= LANES) {
        size_t nb = (n - k) / LANES;
        nb = nb < FLUSH_BLOCKS ? nb : FLUSH_BLOCKS;
        moments_blocks(x + k, nb, s, q, lo, hi, bad);
        moments_flush(mo, s, q);
        k += nb * LANES;
    }
    size_t nbad = 0;
    mo->lo = INFINITY;
    mo->hi = -INFINITY;
    for (int j = 0; j < LANES; j++) {
        nbad += bad[j];
        mo->lo = lo[j] < mo->lo ? lo[j] : mo->lo;
        mo->hi = hi[j] > mo->hi ? hi[j] : mo->hi;
    }
    for (; k < n; k++) {
        float v = x[k];
        if (!(fabsf(v) <= FLT_MAX)) {
            nbad++;
            continue;
        }
        mo->sum += v;
        mo->sumsq += (double)v * v;
        mo->lo = v < mo->lo ? v : mo->lo;
        mo->hi = v > mo->hi ? v : mo->hi;
    }
    mo->finite = n - nbad;
    if (nbad > 0)
        count_nonfinite(x, n, &mo->nan, &mo->inf);
}

/*
 * The norm pass: nblocks blocks of LANES entries into per-lane sums of
 * squares of the finite entries and counts of the others.  Half the work
 * of moments_blocks, for buffers whose range nobody reads.
 */
static void STATS_CLONES
sumsq_blocks(const float *restrict x, size_t nblocks, float *restrict q, uint32_t *restrict bad)
{
    for (size_t b = 0; b < nblocks; b++, x += LANES) {
        for (int j = 0; j < LANES; j++) {
            float v = x[j];
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            uint32_t nf = (bits & 0x7f800000u) == 0x7f800000u;
            float f = nf ? 0.0f : v;
            q[j] += f * f;
            bad[j] += nf;
        }
    }
}

/* Sum of squares of x's finite entries and its NaN/Inf counts (in mo;
 * its sum and range are left 0). */
static void
norms(struct moments *mo, const float *restrict x, size_t n)
{
    float q[LANES] = {0};
    uint32_t bad[LANES] = {0};
    memset(mo, 0, sizeof *mo);
    size_t k = 0;
    while (n - k >= LANES) {
        size_t nb = (n - k) / LANES;
        nb = nb < FLUSH_BLOCKS ? nb : FLUSH_BLOCKS;
        sumsq_blocks(x + k, nb, q, bad);
        for (int j = 0; j < LANES; j++) {
            mo->sumsq += q[j];
            q[j] = 0.0f;
        }
        k += nb * LANES;
    }
    size_t nbad = 0;
    for (int j = 0; j < LANES; j++)
        nbad += bad[j];
    for (; k < n; k++) {
        float v = x[k];
        if (!(fabsf(v) <= FLT_MAX)) {
            nbad++;
            continue;
        }
        mo->sumsq += (double)v * v;
    }
    mo->finite = n - nbad;
    if (nbad > 0)
        count_nonfinite(x, n, &mo->nan, &mo->inf);
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

/* A ReLU on an image measures dead filters (channels), not single units. */
static bool
dead_by_channel(const struct layer *l)
{
    return l->c > 0 && l->h > 0;
}

float
stats_dead_filter_fraction(const float *y, int B, int C, int HW)
{
    if (B <= 0 || C <= 0 || HW <= 0)
        return 0.0f;
    int dead = 0;
    for (int c = 0; c < C; c++) {
        bool alive = false;
        for (int b = 0; b < B && !alive; b++) {
            const float *plane = y + ((size_t)b * C + c) * HW;
            for (int j = 0; j < HW; j++)
                alive |= plane[j] != 0.0f;
        }
        dead += !alive;
    }
    return (float)dead / (float)C;
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

/* The saturated share of each of the first n channels of (B, C, HW) outputs, x 255, into out. */
static void
saturated_by_channel(uint8_t *out, int n, const float *y, int B, int C, int HW, float lo,
                     float hi, float eps)
{
    for (int c = 0; c < n && c < C; c++) {
        size_t sat = 0;
        for (int b = 0; b < B; b++) {
            const float *plane = y + ((size_t)b * C + c) * HW;
            for (int j = 0; j < HW; j++)
                sat += (plane[j] - lo <= eps) | (hi - plane[j] <= eps);
        }
        double share = B > 0 && HW > 0 ? (double)sat / ((double)B * HW) : 0.0;
        out[c] = (uint8_t)lround(share * 255.0);
    }
}

void
stats_layer(struct tm_layer *out, const struct model *m, int i, int bins)
{
    const struct layer *l = &m->layers[i];
    size_t n = (size_t)m->batch * (size_t)l->out;
    const float *y = l->y;
    struct moments mo;
    moments(&mo, y, n);
    out->index = i;
    out->nan_count = mo.nan;
    out->inf_count = mo.inf;
    if (mo.finite > 0) {
        double mean = mo.sum / (double)mo.finite;
        double var = mo.sumsq / (double)mo.finite - mean * mean;
        out->act_mean = (float)mean;
        out->act_std = (float)sqrt(var > 0.0 ? var : 0.0);
        out->act_min = mo.lo;
        out->act_max = mo.hi;
    } else {
        out->act_mean = out->act_std = out->act_min = out->act_max = 0.0f;
    }
    out->dead_frac = -1.0f;
    out->sat_frac = -1.0f;
    out->channels = 0;
    if ((l->kind == LAYER_TANH || l->kind == LAYER_SIGMOID) && dead_by_channel(l)) {
        bool tanh_ = l->kind == LAYER_TANH;
        out->channels = l->c < TM_MAX_CHANNELS ? l->c : TM_MAX_CHANNELS;
        saturated_by_channel(out->chan_sat, out->channels, y, m->batch, l->c, l->h * l->w,
                             tanh_ ? -1.0f : 0.0f, 1.0f, tanh_ ? 0.02f : 0.01f);
    }
    switch (l->kind) {
    case LAYER_RELU:
        if (dead_by_channel(l))
            out->dead_frac = stats_dead_filter_fraction(y, m->batch, l->c, l->h * l->w);
        else
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
    /* The histogram spans the whole batch's range, found above. */
    struct tm_hist *h = &out->act;
    memset(h, 0, sizeof *h);
    if (bins <= 0)
        return;
    h->nbins = (uint16_t)clamp_bins(bins);
    size_t stride = sample_stride(n);
    h->sampled = stride > 1;
    if (mo.finite > 0)
        hist_fill(h, y, n, stride, h->nbins, mo.lo, mo.hi);
}

void
stats_tensor(struct tm_tensor *out, const struct model *m, int t, const float *update, int bins)
{
    const struct param_tensor *pt = &m->tensors[t];
    const float *w = m->params + pt->offset;
    const float *g = m->grads + pt->offset;
    const float *u = update != NULL ? update + pt->offset : NULL;
    /* Three vectorised passes: norms of all entries and non-finite counts. */
    struct moments mw, mg, mu = {0};
    moments(&mw, w, pt->count);     /* with the range: w_min, w_max */
    norms(&mg, g, pt->count);
    if (u != NULL)
        norms(&mu, u, pt->count);
    double ww = mw.sumsq, gg = mg.sumsq, uu = mu.sumsq;
    uint32_t nan = mw.nan + mg.nan, inf = mw.inf + mg.inf;
    out->index = t;
    out->layer = pt->layer;
    out->w_norm = (float)sqrt(ww);
    out->w_min = mw.finite > 0 ? mw.lo : 0.0f;
    out->w_max = mw.finite > 0 ? mw.hi : 0.0f;
    out->g_norm = (float)sqrt(gg);
    out->update_norm = (float)sqrt(uu);
    out->update_ratio = ww > 0.0 ? (float)(sqrt(uu) / sqrt(ww)) : 0.0f;
    out->nan_count = nan;
    out->inf_count = inf;
    stats_hist(&out->weight, w, pt->count, bins);
    stats_hist(&out->grad, g, pt->count, bins);
}

_Static_assert(TM_MAX_LAYERS >= NN_MAX_LAYERS, "tm_info holds every layer");

/* "dense 784→256", "relu", "dropout 0.5", "batchnorm 256"; arrow is "→" or "->". */
static void
layer_label(char *buf, size_t len, const struct layer *l, const char *arrow)
{
    const char *name = layer_kind_name(l->kind);
    switch (l->kind) {
    case LAYER_DENSE:
        snprintf(buf, len, "%s %d%s%d", name, l->in, arrow, l->out);
        break;
    case LAYER_LEAKY_RELU:
    case LAYER_DROPOUT:
        snprintf(buf, len, "%s %g", name, (double)l->arg);
        break;
    case LAYER_BATCHNORM:
        snprintf(buf, len, "%s %d", name, l->out);
        break;
    case LAYER_BATCHNORM2D:
        snprintf(buf, len, "%s %d", name, l->c);
        break;
    case LAYER_DROPOUT2D:
        snprintf(buf, len, "%s %g", name, (double)l->arg);
        break;
    case LAYER_CONV2D:
        /* "conv 1→32 5x5 s1 p2": every number PyTorch's Conv2d takes. */
        snprintf(buf, len, "conv %d%s%d %dx%d s%d p%d%s", l->c, arrow, l->oc, l->k, l->k,
                 l->stride, l->pad, l->bias < 0 ? " nobias" : "");
        break;
    case LAYER_MAXPOOL2D:
    case LAYER_AVGPOOL2D: {
        /* "maxpool 2x2"; the stride and padding only when not the usual. */
        char extra[32] = "";
        int at = 0;
        if (l->stride != l->k)
            at = snprintf(extra, sizeof extra, " s%d", l->stride);
        if (l->pad > 0)
            snprintf(extra + at, sizeof extra - (size_t)at, " p%d", l->pad);
        snprintf(buf, len, "%s %dx%d%s", l->kind == LAYER_MAXPOOL2D ? "maxpool" : "avgpool",
                 l->k, l->k, extra);
        break;
    }
    case LAYER_GLOBAL_AVGPOOL:
        snprintf(buf, len, "global avgpool");
        break;
    default:
        snprintf(buf, len, "%s", name);
        break;
    }
}


/* The engine's kinds in telemetry's names (telemetry.h): one row per kind. */
static const int tm_layer_kinds[LAYER_KIND_COUNT] = {
    [LAYER_DENSE] = TM_LK_DENSE,
    [LAYER_RELU] = TM_LK_RELU,
    [LAYER_LEAKY_RELU] = TM_LK_LEAKY_RELU,
    [LAYER_TANH] = TM_LK_TANH,
    [LAYER_SIGMOID] = TM_LK_SIGMOID,
    [LAYER_DROPOUT] = TM_LK_DROPOUT,
    [LAYER_BATCHNORM] = TM_LK_BATCHNORM,
    [LAYER_CONV2D] = TM_LK_CONV2D,
    [LAYER_MAXPOOL2D] = TM_LK_MAXPOOL2D,
    [LAYER_AVGPOOL2D] = TM_LK_AVGPOOL2D,
    [LAYER_FLATTEN] = TM_LK_FLATTEN,
    [LAYER_BATCHNORM2D] = TM_LK_BATCHNORM2D,
    [LAYER_DROPOUT2D] = TM_LK_DROPOUT2D,
    [LAYER_GLOBAL_AVGPOOL] = TM_LK_GLOBAL_AVGPOOL,
};
_Static_assert((int)LAYER_KIND_COUNT == (int)TM_LK_COUNT,
               "a telemetry layer kind for every engine kind");
static const int tm_losses[LOSS_KIND_COUNT] = {
    [LOSS_CROSS_ENTROPY] = TM_LOSS_CROSS_ENTROPY,
    [LOSS_MSE] = TM_LOSS_MSE,
};
_Static_assert((int)LOSS_KIND_COUNT == (int)TM_LOSS_COUNT,
               "a telemetry loss for every engine loss");
static const int tm_optims[OPTIM_KIND_COUNT] = {
    [OPTIM_SGD] = TM_OPTIM_SGD,
    [OPTIM_ADAM] = TM_OPTIM_ADAM,
    [OPTIM_ADAMW] = TM_OPTIM_ADAMW,
};
_Static_assert((int)OPTIM_KIND_COUNT == (int)TM_OPTIM_COUNT,
               "a telemetry optimizer for every engine one");
static const int tm_scheds[SCHED_KIND_COUNT] = {
    [SCHED_CONSTANT] = TM_SCHED_CONSTANT,
    [SCHED_STEP] = TM_SCHED_STEP,
    [SCHED_EXP] = TM_SCHED_EXP,
    [SCHED_COSINE] = TM_SCHED_COSINE,
};
_Static_assert((int)SCHED_KIND_COUNT == (int)TM_SCHED_COUNT,
               "a telemetry schedule for every engine one");

void
stats_describe_optim(struct tm_info *info, enum optim_kind optim, enum sched_kind sched)
{
    assert((unsigned)optim < OPTIM_KIND_COUNT && (unsigned)sched < SCHED_KIND_COUNT);
    info->optim_kind = tm_optims[optim];
    snprintf(info->optim_name, sizeof info->optim_name, "%s", optim_kind_name(optim));
    info->sched_kind = tm_scheds[sched];
}

void
stats_describe_model(struct tm_info *info, const struct model *m)
{
    info->nlayers = m->nlayers;
    for (int i = 0; i < m->nlayers && i < TM_MAX_LAYERS; i++) {
        const struct layer *l = &m->layers[i];
        struct tm_layer_info *li = &info->layers[i];
        *li = (struct tm_layer_info){
            .in = l->in, .out = l->out, .weight = l->weight, .bias = l->bias,
            .kind = tm_layer_kinds[l->kind], .arg = l->arg,
        };
        snprintf(li->kind_name, sizeof li->kind_name, "%s", layer_kind_name(l->kind));
        layer_label(li->label, sizeof li->label, l, "\u2192");
        layer_label(li->label_ascii, sizeof li->label_ascii, l, "->");
        /* The same tests stats_layer() measures by. */
        if (l->kind == LAYER_RELU)
            li->flags |= TM_LAYER_HAS_DEAD;
        if (l->kind == LAYER_RELU && dead_by_channel(l))
            li->flags |= TM_LAYER_DEAD_FILTERS;
        if (l->kind == LAYER_TANH || l->kind == LAYER_SIGMOID)
            li->flags |= TM_LAYER_HAS_SAT;
        if ((l->kind == LAYER_TANH || l->kind == LAYER_SIGMOID) && dead_by_channel(l))
            li->flags |= TM_LAYER_SAT_CHANNELS;
        if (l->weight >= 0)
            li->flags |= TM_LAYER_HAS_PARAMS;
    }
    info->ntensors = m->ntensors;
    for (int k = 0; k < m->ntensors && k < 2 * TM_MAX_LAYERS; k++)
        snprintf(info->tensor_names[k], TM_NAME_MAX, "%s", m->tensors[k].name);
    info->loss_kind = tm_losses[m->spec.loss];
}

int
stats_clip_to_tm(enum clip_kind k)
{
    switch (k) {
    case CLIP_NORM: return TM_CLIP_NORM;
    case CLIP_VALUE: return TM_CLIP_VALUE;
    default: return TM_CLIP_NONE;
    }
}

int
stats_clip_from_tm(int clip, enum clip_kind *out)
{
    switch (clip) {
    case TM_CLIP_NONE: *out = CLIP_NONE; return 0;
    case TM_CLIP_NORM: *out = CLIP_NORM; return 0;
    case TM_CLIP_VALUE: *out = CLIP_VALUE; return 0;
    default: return -1;
    }
}
