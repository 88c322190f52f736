/*
 * check_stats.c - tests of the telemetry statistics: histograms (bins,
 * range, sampling of large buffers, constant and non-finite buffers),
 * dead and saturated fractions on crafted activations, and stats_layer /
 * stats_tensor on a tiny model with hand-set parameters, each against
 * values the test computes directly (two-pass, in double).
 *
 * It does not judge what is healthy (the doctor does).  CK_FORK=no runs
 * the tests in one process, for gdb.
 */
#include "config.h"

#include "nntop/stats.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/xmem.h"

static uint32_t
sum_counts(const struct tm_hist *h)
{
    uint32_t s = 0;
    for (int b = 0; b < h->nbins; b++)
        s += h->counts[b];
    return s;
}

/* ---- histograms ------------------------------------------------------------ */

START_TEST(test_stats__hist_bins_range)
{
    /* 0, 1, ..., 100 in 10 bins of width 10: ten a bin, the maximum in the last. */
    float x[101];
    for (int i = 0; i <= 100; i++)
        x[i] = (float)i;
    struct tm_hist *h = xcalloc(1, sizeof *h);
    memset(h, 0xab, sizeof *h);     /* everything must be overwritten */
    stats_hist(h, x, 101, 10);
    ck_assert_int_eq(h->nbins, 10);
    ck_assert(h->lo == 0.0f && h->hi == 100.0f);
    ck_assert_uint_eq(h->total, 101);
    ck_assert_uint_eq(h->under, 0);
    ck_assert_uint_eq(h->over, 0);
    ck_assert_uint_eq(h->sampled, 0);
    for (int b = 0; b < 9; b++)
        ck_assert_msg(h->counts[b] == 10, "bin %d: %u, expected 10", b, h->counts[b]);
    ck_assert_msg(h->counts[9] == 11, "last bin: %u, expected 11", h->counts[9]);
    for (int b = 10; b < TM_MAX_BINS; b++)
        ck_assert_uint_eq(h->counts[b], 0);

    /* Negative values and a single bin. */
    float y[] = {-3.0f, -1.0f, 2.0f, 5.0f};
    stats_hist(h, y, 4, 1);
    ck_assert(h->lo == -3.0f && h->hi == 5.0f);
    ck_assert_uint_eq(h->counts[0], 4);
    /* 4 bins of width 2 over [-3, 5]: -3 -> 0, -1 -> 1, 2 -> 2 (2.5), 5 -> 3 */
    stats_hist(h, y, 4, 4);
    static const uint32_t want[] = {1, 1, 1, 1};
    for (int b = 0; b < 4; b++)
        ck_assert_uint_eq(h->counts[b], want[b]);
    free(h);
}
END_TEST

START_TEST(test_stats__hist_against_direct)
{
    /* A skewed buffer, small enough to be binned whole; each value's bin
     * computed here independently. */
    enum { N = STATS_HIST_SAMPLE - 96, BINS = 37 };
    float *x = xmalloc(N * sizeof *x);
    uint64_t s = 12345;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(u * u * 7.0 - 2.0);
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    struct tm_hist *h = xcalloc(1, sizeof *h);
    stats_hist(h, x, N, BINS);
    ck_assert(h->lo == (float)lo && h->hi == (float)hi);
    uint32_t want[BINS] = {0};
    for (int i = 0; i < N; i++) {
        int b = (int)floor((x[i] - lo) / ((hi - lo) / BINS));
        want[b < BINS ? b : BINS - 1]++;
    }
    int moved = 0;
    for (int b = 0; b < BINS; b++)
        moved += abs((int)h->counts[b] - (int)want[b]);
    /* Only a value on a bin edge may land one bin over (rounding). */
    ck_assert_msg(moved <= 2, "%d values in other bins than computed directly", moved);
    ck_assert_uint_eq(sum_counts(h), N);
    ck_assert_uint_eq(h->total, N);
    free(h);
    free(x);
}
END_TEST

START_TEST(test_stats__hist_constant)
{
    float x[50];
    for (int i = 0; i < 50; i++)
        x[i] = 3.5f;
    struct tm_hist *h = xcalloc(1, sizeof *h);
    stats_hist(h, x, 50, 20);
    ck_assert(h->lo == 3.5f && h->hi == 3.5f);
    ck_assert_uint_eq(h->counts[0], 50);
    ck_assert_uint_eq(sum_counts(h), 50);
    ck_assert_uint_eq(h->total, 50);
    free(h);
}
END_TEST

START_TEST(test_stats__hist_nonfinite_skipped)
{
    float x[] = {NAN, 1.0f, INFINITY, 2.0f, -INFINITY, 3.0f, NAN, 5.0f};
    struct tm_hist *h = xcalloc(1, sizeof *h);
    stats_hist(h, x, 8, 4);
    ck_assert(h->lo == 1.0f && h->hi == 5.0f);
    ck_assert_uint_eq(h->total, 4);
    ck_assert_uint_eq(sum_counts(h), 4);
    ck_assert_uint_eq(h->under, 0);
    ck_assert_uint_eq(h->over, 0);
    /* width 1: 1 -> 0, 2 -> 1, 3 -> 2, 5 -> 3 */
    for (int b = 0; b < 4; b++)
        ck_assert_uint_eq(h->counts[b], 1);

    /* Nothing finite: an empty histogram over [0, 0]. */
    float y[] = {NAN, INFINITY, NAN};
    stats_hist(h, y, 3, 8);
    ck_assert_uint_eq(h->total, 0);
    ck_assert_uint_eq(sum_counts(h), 0);
    ck_assert(h->lo == 0.0f && h->hi == 0.0f);
    ck_assert_int_eq(h->nbins, 8);
    stats_hist(h, NULL, 0, 8);
    ck_assert_uint_eq(h->total, 0);
    free(h);
}
END_TEST

START_TEST(test_stats__hist_sampled)
{
    size_t n = (size_t)STATS_HIST_SAMPLE;
    float *x = xmalloc((10 * n + 3) * sizeof *x);
    for (size_t i = 0; i < 10 * n + 3; i++)
        x[i] = (float)i;
    struct tm_hist *h = xcalloc(1, sizeof *h);

    stats_hist(h, x, n, 16);                    /* exactly the limit: all of it */
    ck_assert_uint_eq(h->sampled, 0);
    ck_assert_uint_eq(h->total, n);
    ck_assert(h->hi == (float)(n - 1));

    stats_hist(h, x, n + 1, 16);                /* one over: every second entry */
    ck_assert_uint_eq(h->sampled, 1);
    ck_assert_uint_eq(h->total, n / 2 + 1);
    ck_assert(h->lo == 0.0f && h->hi == (float)n);
    ck_assert_msg(h->total <= STATS_HIST_SAMPLE, "sample of %u", h->total);

    stats_hist(h, x, 10 * n + 3, 16);           /* stride 11 */
    ck_assert_uint_eq(h->sampled, 1);
    ck_assert_uint_eq(h->total, (10 * n + 3 + 10) / 11);
    ck_assert_msg(h->total <= STATS_HIST_SAMPLE, "sample of %u", h->total);
    ck_assert_uint_eq(sum_counts(h), h->total);
    /* The same buffer gives the same sample. */
    struct tm_hist *h2 = xcalloc(1, sizeof *h2);
    stats_hist(h2, x, 10 * n + 3, 16);
    ck_assert(memcmp(h, h2, sizeof *h) == 0);
    free(h2);
    free(h);
    free(x);
}
END_TEST

START_TEST(test_stats__hist_bins_limits)
{
    float x[] = {0.0f, 1.0f, 2.0f};
    struct tm_hist *h = xcalloc(1, sizeof *h);
    stats_hist(h, x, 3, 1);
    ck_assert_int_eq(h->nbins, 1);
    ck_assert_uint_eq(h->counts[0], 3);
    /* 0 bins: no histogram this snapshot (the cap on their rate). */
    stats_hist(h, x, 3, 0);
    ck_assert_int_eq(h->nbins, 0);
    ck_assert_uint_eq(h->total, 0);
    ck_assert_uint_eq(h->counts[0], 0);
    stats_hist(h, x, 3, 100000);
    ck_assert_int_eq(h->nbins, TM_MAX_BINS);
    ck_assert_uint_eq(h->counts[0], 1);
    ck_assert_uint_eq(h->counts[TM_MAX_BINS - 1], 1);
    ck_assert_uint_eq(sum_counts(h), 3);
    free(h);
}
END_TEST

/* ---- dead and saturated fractions ------------------------------------------ */

START_TEST(test_stats__dead_fraction)
{
    /* 4 rows x 5 units: units 0 and 3 are zero in every row; unit 2 is
     * zero but in one row; -0.0 counts as zero, NaN as alive. */
    float y[4 * 5] = {
        0, 1, 0, 0, 2,
        0, 1, 0, -0.0f, 0,
        0, 0, 7, 0, 0,
        -0.0f, 1, 0, 0, NAN,
    };
    ck_assert(stats_dead_fraction(y, 4, 5) == 2.0f / 5.0f);
    ck_assert(stats_dead_fraction(y, 1, 5) == 3.0f / 5.0f);   /* first row alone */
    ck_assert(stats_dead_fraction(y, 0, 5) == 0.0f);
    ck_assert(stats_dead_fraction(y, 4, 0) == 0.0f);

    /* More units than one pass of the scan holds (4096): dead ones on both sides. */
    int n = 5000, B = 3;
    float *z = xcalloc((size_t)n * B, sizeof *z);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < n; j++)
            z[(size_t)b * n + j] = (j == 4095 || j == 4096 || j == 4999 || j == 7) ? 0.0f
                                   : (j + b) % 3 == 0 ? 0.0f : 1.0f;
    float want = 4.0f / (float)n;
    ck_assert_msg(stats_dead_fraction(z, B, n) == want, "dead %g, expected %g",
                  (double)stats_dead_fraction(z, B, n), (double)want);
    free(z);
}
END_TEST

START_TEST(test_stats__saturated_fraction)
{
    /* tanh's asymptotes +-1 within 0.02; sigmoid's 0, 1 within 0.01. */
    float t[] = {-1.0f, -0.99f, -0.97f, 0.0f, 0.5f, 0.975f, 0.985f, 1.0f};
    ck_assert(stats_saturated_fraction(t, 8, -1.0f, 1.0f, 0.02f) == 4.0f / 8.0f);
    float s[] = {0.0f, 0.005f, 0.02f, 0.5f, 0.98f, 0.995f};
    ck_assert(stats_saturated_fraction(s, 6, 0.0f, 1.0f, 0.01f) == 3.0f / 6.0f);
    ck_assert(stats_saturated_fraction(s, 0, 0.0f, 1.0f, 0.01f) == 0.0f);
}
END_TEST

/* ---- stats_layer, stats_tensor on a tiny model --------------------------------- */

/* in 3 -> dense 4 -> relu -> dense 2 -> tanh, hand-set, batch of 3. */
static struct model *
tiny_model(void)
{
    struct model_spec spec = {
        .in = 3,
        .nlayers = 4,
        .layers = {{.kind = LAYER_DENSE, .units = 4}, {.kind = LAYER_RELU},
                   {.kind = LAYER_DENSE, .units = 2}, {.kind = LAYER_TANH}},
        .loss = LOSS_CROSS_ENTROPY,
        .seed = 1,
    };
    char *cause = NULL;
    struct model *m = model_new(&spec, 4, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause ? cause : "?");
    ck_assert_int_eq(m->nparams, 4 * 3 + 4 + 2 * 4 + 2);
    /*
     * Unit 1 of the hidden layer has weights -1 on inputs that are all
     * positive: dead.  Unit 3 has a bias of -10: dead too.  The second
     * dense layer's unit 0 gets weights of 5: tanh saturates there.
     */
    static const float w1[4 * 3] = {1, 0, 0, -1, -1, -1, 0, 1, 0.5f, 0.1f, 0.1f, 0.1f};
    static const float b1[4] = {0, 0, -0.1f, -10};
    static const float w2[2 * 4] = {5, 5, 5, 5, 0.01f, -0.02f, 0.03f, 0};
    static const float b2[2] = {0.5f, 0};
    memcpy(m->params + m->tensors[0].offset, w1, sizeof w1);
    memcpy(m->params + m->tensors[1].offset, b1, sizeof b1);
    memcpy(m->params + m->tensors[2].offset, w2, sizeof w2);
    memcpy(m->params + m->tensors[3].offset, b2, sizeof b2);
    return m;
}

static const float tiny_x[3 * 3] = {1, 2, 3, 0.5f, 0.1f, 0.2f, 2, 1, 0.5f};

/* mean, std (population), min, max of the finite entries, two-pass. */
static void
moments(const float *y, size_t n, double *mean, double *sd, float *lo, float *hi, int *nonfinite)
{
    double s = 0;
    size_t k = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    *nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            (*nonfinite)++;
            continue;
        }
        s += y[i];
        k++;
        *lo = fminf(*lo, y[i]);
        *hi = fmaxf(*hi, y[i]);
    }
    *mean = s / (double)k;
    double v = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(y[i]))
            v += (y[i] - *mean) * (y[i] - *mean);
    *sd = sqrt(v / (double)k);
}

static bool
near(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-7;
}

START_TEST(test_stats__layer)
{
    struct model *m = tiny_model();
    model_forward(m, tiny_x, 3);
    struct tm_layer *l = xcalloc(1, sizeof *l);
    for (int i = 0; i < 4; i++) {
        stats_layer(l, m, i, 16);
        const float *y = m->layers[i].y;
        size_t n = 3 * (size_t)m->layers[i].out;
        double mean, sd;
        float lo, hi;
        int bad;
        moments(y, n, &mean, &sd, &lo, &hi, &bad);
        ck_assert_int_eq(l->index, i);
        ck_assert_msg(near(l->act_mean, mean, 1e-6), "layer %d: mean %g, expected %g", i,
                      (double)l->act_mean, mean);
        ck_assert_msg(near(l->act_std, sd, 1e-5), "layer %d: std %g, expected %g", i,
                      (double)l->act_std, sd);
        ck_assert(l->act_min == lo && l->act_max == hi);
        ck_assert_uint_eq(l->nan_count + l->inf_count, 0);
        ck_assert_uint_eq(l->act.total, n);
        ck_assert(l->act.lo == lo && l->act.hi == hi);
    }
    /* relu: units 1 and 3 dead (unit 2: 0.5*3-0.1 > 0 for row 0). */
    stats_layer(l, m, 1, 16);
    ck_assert_msg(l->dead_frac == 0.5f, "relu dead fraction %g, expected 0.5",
                  (double)l->dead_frac);
    ck_assert(l->sat_frac == -1.0f);
    /* tanh: output unit 0 is 5 x (sum of live hidden units) + 0.5 > 2.3 in every row
     * (tanh > 0.98); unit 1 stays near 0. */
    stats_layer(l, m, 3, 16);
    ck_assert(l->dead_frac == -1.0f);
    const float *t = m->layers[3].y;
    int sat = 0;
    for (int k = 0; k < 6; k++)
        sat += fabsf(t[k]) >= 0.98f;
    ck_assert_int_eq(sat, 3);
    ck_assert_msg(l->sat_frac == 0.5f, "tanh saturated fraction %g, expected 0.5",
                  (double)l->sat_frac);
    /* dense layers have neither */
    stats_layer(l, m, 0, 16);
    ck_assert(l->dead_frac == -1.0f && l->sat_frac == -1.0f);

    /* Crafted non-finite activations: counted, and left out of everything else. */
    float *y = m->layers[2].y;
    y[0] = NAN;
    y[3] = INFINITY;
    y[4] = -INFINITY;
    stats_layer(l, m, 2, 8);
    ck_assert_uint_eq(l->nan_count, 1);
    ck_assert_uint_eq(l->inf_count, 2);
    double mean, sd;
    float lo, hi;
    int bad;
    moments(y, 6, &mean, &sd, &lo, &hi, &bad);
    ck_assert_int_eq(bad, 3);
    ck_assert(near(l->act_mean, mean, 1e-6) && near(l->act_std, sd, 1e-5));
    ck_assert(l->act_min == lo && l->act_max == hi);
    ck_assert_uint_eq(l->act.total, 3);
    /* All non-finite: zeros, not NaN. */
    for (int k = 0; k < 6; k++)
        y[k] = NAN;
    stats_layer(l, m, 2, 8);
    ck_assert_uint_eq(l->nan_count, 6);
    ck_assert(l->act_mean == 0.0f && l->act_std == 0.0f && l->act.total == 0);
    free(l);
    model_free(m);
}
END_TEST

START_TEST(test_stats__sigmoid_saturation)
{
    struct model_spec spec = {
        .in = 2, .nlayers = 2,
        .layers = {{.kind = LAYER_DENSE, .units = 4}, {.kind = LAYER_SIGMOID}},
        .loss = LOSS_MSE, .seed = 3,
    };
    struct model *m = model_new(&spec, 2, NULL);
    ck_assert_ptr_nonnull(m);
    /* pre-activations: 10, -10 (saturated), 0, 2 (not) */
    static const float w[8] = {10, 0, -10, 0, 0, 0, 2, 0};
    memcpy(m->params + m->tensors[0].offset, w, sizeof w);
    memset(m->params + m->tensors[1].offset, 0, 4 * sizeof(float));
    static const float x[4] = {1, 7, 1, -3};
    model_forward(m, x, 2);
    struct tm_layer *l = xcalloc(1, sizeof *l);
    stats_layer(l, m, 1, 16);
    ck_assert_msg(l->sat_frac == 0.5f, "sigmoid saturated fraction %g, expected 0.5",
                  (double)l->sat_frac);
    ck_assert(l->dead_frac == -1.0f);
    free(l);
    model_free(m);
}
END_TEST

START_TEST(test_stats__tensor)
{
    struct model *m = tiny_model();
    float *update = xcalloc(m->nparams, sizeof *update);
    for (size_t i = 0; i < m->nparams; i++) {
        m->grads[i] = (float)((int)(i % 7) - 3) * 0.25f;
        update[i] = (float)((int)(i % 5) - 2) * 1e-3f;
    }
    struct tm_tensor *s = xcalloc(1, sizeof *s);
    for (int t = 0; t < m->ntensors; t++) {
        const struct param_tensor *pt = &m->tensors[t];
        double ww = 0, gg = 0, uu = 0;
        for (size_t k = 0; k < pt->count; k++) {
            ww += (double)m->params[pt->offset + k] * m->params[pt->offset + k];
            gg += (double)m->grads[pt->offset + k] * m->grads[pt->offset + k];
            uu += (double)update[pt->offset + k] * update[pt->offset + k];
        }
        stats_tensor(s, m, t, update, 10);
        ck_assert_int_eq(s->index, t);
        ck_assert_int_eq(s->layer, pt->layer);
        ck_assert_msg(near(s->w_norm, sqrt(ww), 1e-6), "%s: |w| %g, expected %g", pt->name,
                      (double)s->w_norm, sqrt(ww));
        ck_assert(near(s->g_norm, sqrt(gg), 1e-6));
        ck_assert(near(s->update_norm, sqrt(uu), 1e-6));
        ck_assert_msg(near(s->update_ratio, sqrt(uu) / sqrt(ww), 1e-6), "%s: ratio %g",
                      pt->name, (double)s->update_ratio);
        ck_assert_uint_eq(s->nan_count + s->inf_count, 0);
        ck_assert_uint_eq(s->weight.total, pt->count);
        ck_assert_uint_eq(s->grad.total, pt->count);
        stats_tensor(s, m, t, NULL, 10);
        ck_assert(s->update_norm == 0.0f && s->update_ratio == 0.0f);
    }
    /* The first dense weight: its range as set. */
    stats_tensor(s, m, 0, update, 10);
    ck_assert(s->weight.lo == -1.0f && s->weight.hi == 1.0f);

    /* Non-finite weight and gradient entries are counted, both. */
    m->params[m->tensors[2].offset + 1] = NAN;
    m->grads[m->tensors[2].offset + 3] = INFINITY;
    m->grads[m->tensors[2].offset + 4] = NAN;
    stats_tensor(s, m, 2, update, 10);
    ck_assert_uint_eq(s->nan_count, 2);
    ck_assert_uint_eq(s->inf_count, 1);
    ck_assert_uint_eq(s->weight.total, 7);
    ck_assert_uint_eq(s->grad.total, 6);

    /* An all-zero tensor: ratio 0, not NaN. */
    memset(m->params + m->tensors[3].offset, 0, 2 * sizeof(float));
    stats_tensor(s, m, 3, update, 10);
    ck_assert(s->w_norm == 0.0f && s->update_ratio == 0.0f);
    free(s);
    free(update);
    model_free(m);
}
END_TEST

/* The one producer of layer labels and flags: every layer kind, both spellings. */
START_TEST(test_stats__describe_model)
{
    struct model_spec spec = {
        .in = 5,
        .nlayers = 7,
        .layers = {{.kind = LAYER_DENSE, .units = 4}, {.kind = LAYER_RELU},
                   {.kind = LAYER_BATCHNORM}, {.kind = LAYER_LEAKY_RELU, .arg = 0.01f},
                   {.kind = LAYER_DROPOUT, .arg = 0.5f}, {.kind = LAYER_TANH},
                   {.kind = LAYER_DENSE, .units = 3}},
        .loss = LOSS_CROSS_ENTROPY,
        .seed = 1,
    };
    char *cause = NULL;
    struct model *m = model_new(&spec, 2, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause ? cause : "?");
    struct tm_info *info = calloc(1, sizeof *info);
    stats_describe_model(info, m);
    static const struct {
        const char *utf8, *ascii;
        unsigned flags;
    } want[7] = {
        {"dense 5\xe2\x86\x92" "4", "dense 5->4", TM_LAYER_HAS_PARAMS},
        {"relu", "relu", TM_LAYER_HAS_DEAD},
        {"batchnorm 4", "batchnorm 4", TM_LAYER_HAS_PARAMS},
        {"leaky_relu 0.01", "leaky_relu 0.01", 0},
        {"dropout 0.5", "dropout 0.5", 0},
        {"tanh", "tanh", TM_LAYER_HAS_SAT},
        {"dense 4\xe2\x86\x92" "3", "dense 4->3", TM_LAYER_HAS_PARAMS},
    };
    ck_assert_int_eq(info->nlayers, 7);
    for (int i = 0; i < 7; i++) {
        const struct tm_layer_info *li = &info->layers[i];
        ck_assert_str_eq(li->label, want[i].utf8);
        ck_assert_str_eq(li->label_ascii, want[i].ascii);
        ck_assert_msg(li->flags == want[i].flags, "layer %d (%s): flags %#x, want %#x", i,
                      li->label_ascii, li->flags, want[i].flags);
        ck_assert_int_eq(li->weight, m->layers[i].weight);
        ck_assert_int_eq(li->bias, m->layers[i].bias);
    }
    ck_assert_int_eq(info->ntensors, m->ntensors);
    ck_assert_str_eq(info->tensor_names[0], "0.weight");
    ck_assert_str_eq(info->tensor_names[info->layers[6].weight], "6.weight");
    free(info);
    model_free(m);
}
END_TEST

/* Image layers: labels, flags, and a ReLU on an image counting dead filters. */
START_TEST(test_stats__describe_image_model)
{
    struct model_spec spec = {
        .in = 2 * 6 * 6, .in_c = 2, .in_h = 6, .in_w = 6,
        .nlayers = 9,
        .layers = {{.kind = LAYER_CONV2D, .units = 3, .kernel = 3, .stride = 1, .padding = 1},
                   {.kind = LAYER_RELU},
                   {.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2},
                   {.kind = LAYER_BATCHNORM2D},
                   {.kind = LAYER_AVGPOOL2D, .kernel = 3, .stride = 1, .padding = 1},
                   {.kind = LAYER_DROPOUT2D, .arg = 0.25f},
                   {.kind = LAYER_GLOBAL_AVGPOOL},
                   {.kind = LAYER_FLATTEN},
                   {.kind = LAYER_DENSE, .units = 2}},
        .loss = LOSS_CROSS_ENTROPY,
        .seed = 1,
    };
    struct model *m = model_new(&spec, 4, NULL);
    ck_assert(m != NULL);
    struct tm_info *info = calloc(1, sizeof *info);
    stats_describe_model(info, m);
    static const struct {
        const char *utf8, *ascii;
        unsigned flags;
    } want[9] = {
        {"conv 2\xe2\x86\x92" "3 3x3 s1 p1", "conv 2->3 3x3 s1 p1", TM_LAYER_HAS_PARAMS},
        {"relu", "relu", TM_LAYER_HAS_DEAD | TM_LAYER_DEAD_FILTERS},
        {"maxpool 2x2", "maxpool 2x2", 0},
        {"batchnorm2d 3", "batchnorm2d 3", TM_LAYER_HAS_PARAMS},
        {"avgpool 3x3 s1 p1", "avgpool 3x3 s1 p1", 0},
        {"dropout2d 0.25", "dropout2d 0.25", 0},
        {"global avgpool", "global avgpool", 0},
        {"flatten", "flatten", 0},
        {"dense 3\xe2\x86\x92" "2", "dense 3->2", TM_LAYER_HAS_PARAMS},
    };
    for (int i = 0; i < 9; i++) {
        const struct tm_layer_info *li = &info->layers[i];
        ck_assert_str_eq(li->label, want[i].utf8);
        ck_assert_str_eq(li->label_ascii, want[i].ascii);
        ck_assert_msg(li->flags == want[i].flags, "layer %d (%s): flags %#x, want %#x", i,
                      li->label_ascii, li->flags, want[i].flags);
    }

    /* Filter 1 is dead: its weights and bias are such that the relu
     * zeroes it everywhere; filters 0 and 2 are not. */
    float *w = m->params + m->tensors[0].offset, *b = m->params + m->tensors[1].offset;
    for (int k = 0; k < 18; k++)
        w[18 + k] = 0.0f;
    b[1] = -1.0f;
    b[0] = b[2] = 5.0f;
    float x[4 * 72];
    for (int k = 0; k < 4 * 72; k++)
        x[k] = (float)((k * 13) % 7) / 7.0f;
    model_forward(m, x, 4);
    struct tm_layer *tl = calloc(1, sizeof *tl);
    stats_layer(tl, m, 1, 16);
    ck_assert_msg(fabsf(tl->dead_frac - 1.0f / 3.0f) < 1e-6f, "dead filters %g, want 1/3",
                  (double)tl->dead_frac);
    /* Unit-wise the same layer has 36 of 108 units dead: the same third. */
    ck_assert_float_eq_tol(stats_dead_fraction(m->layers[1].y, 4, 108), 1.0f / 3.0f, 1e-6f);
    b[1] = 5.0f;
    model_forward(m, x, 4);
    stats_layer(tl, m, 1, 16);
    ck_assert_float_eq(tl->dead_frac, 0.0f);
    /* One live entry anywhere in the batch keeps a filter alive. */
    float y[2 * 3 * 4] = {0};
    y[1 * 12 + 2 * 4 + 3] = 0.5f;      /* sample 1, channel 2 */
    ck_assert_float_eq_tol(stats_dead_filter_fraction(y, 2, 3, 4), 2.0f / 3.0f, 1e-6f);
    free(tl);
    free(info);
    model_free(m);
}
END_TEST

/* A tanh on an image: each channel's saturated share, and the flag that says it is there. */
START_TEST(test_stats__saturated_channels)
{
    struct model_spec spec = {
        .in = 1 * 4 * 4, .in_c = 1, .in_h = 4, .in_w = 4,
        .nlayers = 4,
        .layers = {{.kind = LAYER_CONV2D, .units = 3, .kernel = 1, .stride = 1},
                   {.kind = LAYER_TANH},
                   {.kind = LAYER_FLATTEN},
                   {.kind = LAYER_DENSE, .units = 2}},
        .loss = LOSS_CROSS_ENTROPY,
        .seed = 1,
    };
    struct model *m = model_new(&spec, 2, NULL);
    ck_assert(m != NULL);
    struct tm_info *info = calloc(1, sizeof *info);
    stats_describe_model(info, m);
    ck_assert_msg(info->layers[1].flags == (TM_LAYER_HAS_SAT | TM_LAYER_SAT_CHANNELS),
                  "tanh on an image: flags %#x", info->layers[1].flags);
    /* 1x1 filters: channel 0 = tanh(100 x) saturates where x > 0 (12 of
     * the 32 values), channel 1 = tanh(-100) everywhere, channel 2 =
     * tanh(0) nowhere. */
    float *w = m->params + m->tensors[0].offset, *b = m->params + m->tensors[1].offset;
    w[0] = 100.0f;
    w[1] = 0.0f;
    w[2] = 0.0f;
    b[0] = 0.0f;
    b[1] = -100.0f;
    b[2] = 0.0f;
    float x[2 * 16];
    for (int k = 0; k < 32; k++)
        x[k] = k % 8 < 3 ? 1.0f : 0.0f;
    model_forward(m, x, 2);
    struct tm_layer *tl = calloc(1, sizeof *tl);
    stats_layer(tl, m, 1, 16);
    ck_assert_int_eq(tl->channels, 3);
    ck_assert_int_eq(tl->chan_sat[0], (int)lround(12.0 / 32.0 * 255.0));
    ck_assert_int_eq(tl->chan_sat[1], 255);
    ck_assert_int_eq(tl->chan_sat[2], 0);
    ck_assert_float_eq_tol(tl->sat_frac, (12.0f + 32.0f) / 96.0f, 1e-6f);
    /* The flat tanh of a dense model has no channels. */
    stats_layer(tl, m, 3, 16);
    ck_assert_int_eq(tl->channels, 0);
    free(tl);
    free(info);
    model_free(m);
}
END_TEST

/* Telemetry's clip kinds map onto the engine's and back, and spell themselves. */
START_TEST(test_stats__clip_kinds)
{
    for (int k = 0; k < CLIP_KIND_COUNT; k++) {
        int c = stats_clip_to_tm((enum clip_kind)k);
        ck_assert_str_eq(tm_clip_name(c), clip_kind_name((enum clip_kind)k));
        ck_assert_int_eq(tm_clip_parse(tm_clip_name(c)), c);
        enum clip_kind back;
        ck_assert_int_eq(stats_clip_from_tm(c, &back), 0);
        ck_assert_int_eq(back, k);
    }
    enum clip_kind back;
    ck_assert_int_eq(stats_clip_from_tm(TM_CLIP_COUNT, &back), -1);
    ck_assert_int_eq(stats_clip_from_tm(-1, &back), -1);
    ck_assert_str_eq(tm_clip_name(TM_CLIP_COUNT), "?");
    ck_assert_int_eq(tm_clip_parse("off"), -1);
}
END_TEST

Suite *
stats_suite(void);

Suite *
stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_stats__hist_bins_range);
    tcase_add_test(core, test_stats__hist_against_direct);
    tcase_add_test(core, test_stats__hist_constant);
    tcase_add_test(core, test_stats__dead_fraction);
    tcase_add_test(core, test_stats__saturated_fraction);
    tcase_add_test(core, test_stats__layer);
    tcase_add_test(core, test_stats__sigmoid_saturation);
    tcase_add_test(core, test_stats__tensor);
    tcase_add_test(core, test_stats__describe_model);
    tcase_add_test(core, test_stats__describe_image_model);
    tcase_add_test(core, test_stats__saturated_channels);
    tcase_add_test(core, test_stats__clip_kinds);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_stats__hist_sampled);
    tcase_add_test(limits, test_stats__hist_bins_limits);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_stats__hist_nonfinite_skipped);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(stats_suite());
}
