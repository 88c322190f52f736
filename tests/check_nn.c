/*
 * check_nn.c - the engine against independent references: every layer's
 * backward and both losses against central differences of a double-
 * precision re-implementation of the forward pass written here; batch-norm
 * running statistics against PyTorch's update rule; tensor names, shapes
 * and offsets; initialiser statistics; spec errors; and an end-to-end
 * training of the spiral problem.  It does not test the optimizers
 * (check_optim) or time anything (bench/mlp-bench).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/gemm.h"
#include "nntop/nn.h"
#include "nntop/rng.h"

/* ---- building specs ---------------------------------------------------- */

/*
 * Parse "dense 7, relu, leaky_relu 0.1, dropout 0.3, batchnorm, tanh,
 * sigmoid" into a spec.  Dense layers take "dense UNITS [INIT [ARG]]".
 */
static struct model_spec
spec_parse(int in, enum loss_kind loss, uint64_t seed, const char *text)
{
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.loss = loss;
    s.seed = seed;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        struct layer_spec *l = &s.layers[s.nlayers++];
        char kind[32] = "", init[32] = "";
        double a = 0.0, b = 0.0;
        int n = sscanf(tok, " %31s %lf %31s %lf", kind, &a, init, &b);
        if (strcmp(kind, "dense") == 0) {
            l->kind = LAYER_DENSE;
            l->units = (int)a;
            l->init = INIT_PYTORCH;
            if (n >= 3) {
                static const char *const names[] = {"pytorch", "he", "xavier", "normal",
                                                    "uniform", "zeros"};
                for (int k = 0; k < INIT_KIND_COUNT; k++)
                    if (strcmp(init, names[k]) == 0)
                        l->init = (enum init_kind)k;
                l->init_arg = (float)b;
            }
        } else {
            int k;
            for (k = 0; k < LAYER_KIND_COUNT; k++)
                if (strcmp(kind, layer_kind_name((enum layer_kind)k)) == 0)
                    break;
            ck_assert_msg(k < LAYER_KIND_COUNT, "test spec: unknown layer \"%s\"", kind);
            l->kind = (enum layer_kind)k;
            l->arg = (float)a;
        }
    }
    return s;
}

static struct model *
model_parse(int in, enum loss_kind loss, uint64_t seed, const char *text, int max_batch)
{
    struct model_spec s = spec_parse(in, loss, seed, text);
    char *cause = NULL;
    struct model *m = model_new(&s, max_batch, &cause);
    ck_assert_msg(m != NULL, "model_new(\"%s\") expected a model, got error \"%s\"", text,
                  cause ? cause : "(none)");
    return m;
}

/* ---- the double-precision reference forward ---------------------------- */

/*
 * Loss of the model's function at params p (nparams) and input x (B, in),
 * in double, using the model's structure, its running statistics (eval) and
 * the dropout masks of its last forward (training).  *kink receives the
 * smallest |input| of any ReLU/LeakyReLU, where the function is not smooth.
 */
static double
ref_loss(const struct model *m, const double *p, const double *x, int B,
         const int32_t *labels, const double *targets, double *kink)
{
    int widest = m->in;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].out > widest)
            widest = m->layers[i].out;
    double *a = calloc((size_t)B * widest, sizeof *a);
    double *z = calloc((size_t)B * widest, sizeof *z);
    memcpy(a, x, (size_t)B * m->in * sizeof *a);
    double min_kink = INFINITY;

    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *L = &m->layers[i];
        int in = L->in, out = L->out;
        size_t n = (size_t)B * out;
        switch (L->kind) {
        case LAYER_DENSE: {
            const double *w = p + m->tensors[L->weight].offset;
            const double *b = p + m->tensors[L->bias].offset;
            for (int r = 0; r < B; r++)
                for (int o = 0; o < out; o++) {
                    double s = b[o];
                    for (int k = 0; k < in; k++)
                        s += a[(size_t)r * in + k] * w[(size_t)o * in + k];
                    z[(size_t)r * out + o] = s;
                }
            break;
        }
        case LAYER_RELU:
        case LAYER_LEAKY_RELU: {
            double slope = L->kind == LAYER_RELU ? 0.0 : (double)L->arg;
            for (size_t k = 0; k < n; k++) {
                min_kink = fmin(min_kink, fabs(a[k]));
                z[k] = a[k] > 0.0 ? a[k] : slope * a[k];
            }
            break;
        }
        case LAYER_TANH:
            for (size_t k = 0; k < n; k++)
                z[k] = tanh(a[k]);
            break;
        case LAYER_SIGMOID:
            for (size_t k = 0; k < n; k++)
                z[k] = 1.0 / (1.0 + exp(-a[k]));
            break;
        case LAYER_DROPOUT:
            for (size_t k = 0; k < n; k++)
                z[k] = m->training ? a[k] * (double)L->mask[k] : a[k];
            break;
        case LAYER_BATCHNORM: {
            const double *g = p + m->tensors[L->weight].offset;
            const double *b = p + m->tensors[L->bias].offset;
            const float *rm = m->state + m->buffers[L->run_mean].offset;
            const float *rv = m->state + m->buffers[L->run_var].offset;
            for (int j = 0; j < out; j++) {
                double mean, var;
                if (m->training) {
                    mean = 0.0;
                    for (int r = 0; r < B; r++)
                        mean += a[(size_t)r * out + j];
                    mean /= B;
                    var = 0.0;
                    for (int r = 0; r < B; r++) {
                        double d = a[(size_t)r * out + j] - mean;
                        var += d * d;
                    }
                    var /= B;
                } else {
                    mean = rm[j];
                    var = rv[j];
                }
                for (int r = 0; r < B; r++) {
                    double h = (a[(size_t)r * out + j] - mean) / sqrt(var + 1e-5);
                    z[(size_t)r * out + j] = g[j] * h + b[j];
                }
            }
            break;
        }
        default:
            /* Image layers have their reference in gradcheck.c and the
             * PyTorch fixtures; this one covers the dense family. */
            ck_abort_msg("ref_loss: no reference for %s", layer_kind_name(L->kind));
            break;
        }
        double *t = a;
        a = z;
        z = t;
    }

    int C = m->out;
    double loss = 0.0;
    for (int r = 0; r < B; r++) {
        const double *row = a + (size_t)r * C;
        if (m->spec.loss == LOSS_CROSS_ENTROPY) {
            double mx = row[0];
            for (int j = 1; j < C; j++)
                mx = fmax(mx, row[j]);
            double s = 0.0;
            for (int j = 0; j < C; j++)
                s += exp(row[j] - mx);
            loss += mx + log(s) - row[labels[r]];
        } else {
            for (int j = 0; j < C; j++) {
                double t = targets != NULL ? targets[(size_t)r * C + j]
                                           : (j == labels[r] ? 1.0 : 0.0);
                loss += (row[j] - t) * (row[j] - t);
            }
        }
    }
    loss /= m->spec.loss == LOSS_CROSS_ENTROPY ? B : (double)B * C;
    free(a);
    free(z);
    if (kink != NULL)
        *kink = min_kink;
    return loss;
}

/* ---- gradient check ---------------------------------------------------- */

#define GC_H 1e-5           /* central-difference step, in double */
#define GC_RTOL 1e-3        /* relative tolerance of analytic vs numerical */
#define GC_ATOL 1e-5        /* absolute floor, times the largest gradient seen */
#define GC_KINK 1e-3        /* refuse points this close to a ReLU kink */

struct gc_case {
    const char *layers;
    int in, B;
    enum loss_kind loss;
    bool training;
    bool targets;           /* MSE: explicit targets instead of labels */
    int warmup;             /* training forwards before the check (running stats) */
};

/* Compare analytic (float) with numerical (double) gradients of one slice. */
static void
gc_compare(const char *what, const char *name, const float *analytic, const double *numeric,
           size_t n, double scale)
{
    for (size_t k = 0; k < n; k++) {
        double a = analytic[k], g = numeric[k];
        double tol = GC_RTOL * fabs(g) + GC_ATOL * scale + 1e-12;
        ck_assert_msg(fabs(a - g) <= tol,
                      "%s: d loss / d %s[%zu] numerical %.9g, analytic %.9g (diff %.3g > tol %.3g)",
                      what, name, k, g, a, fabs(a - g), tol);
    }
}

/* Gradient check of one model on one batch; returns the number of values checked. */
static size_t
gc_run(const struct gc_case *c, uint64_t seed)
{
    char what[256];
    snprintf(what, sizeof what, "[%s] in %d B %d %s %s", c->layers, c->in, c->B,
             c->loss == LOSS_CROSS_ENTROPY ? "xent" : "mse", c->training ? "train" : "eval");
    struct model *m = model_parse(c->in, c->loss, seed, c->layers, c->B);
    int B = c->B, in = c->in, C = m->out;
    struct rng r;
    rng_seed(&r, seed * 7919 + 1);

    float *x = malloc((size_t)B * in * sizeof *x);
    int32_t *labels = malloc((size_t)B * sizeof *labels);
    float *targets = malloc((size_t)B * C * sizeof *targets);
    double *xd = malloc((size_t)B * in * sizeof *xd);
    double *td = malloc((size_t)B * C * sizeof *td);
    double *pd = malloc(m->nparams * sizeof *pd);
    double *num = malloc((m->nparams > (size_t)B * in ? m->nparams : (size_t)B * in)
                         * sizeof *num);

    /* Batch norm's scale and shift away from (1, 0), so that a backward
     * forgetting either cannot pass. */
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *L = &m->layers[i];
        if (L->kind != LAYER_BATCHNORM)
            continue;
        float *g = m->params + m->tensors[L->weight].offset;
        float *beta = m->params + m->tensors[L->bias].offset;
        for (int j = 0; j < L->out; j++) {
            g[j] = (float)(0.5 + rng_uniform(&r));
            beta[j] = (float)(0.5 * rng_normal(&r));
        }
    }

    /* Running statistics worth using in eval: a few training batches first. */
    for (int w = 0; w < c->warmup; w++) {
        for (int k = 0; k < B * in; k++)
            x[k] = (float)(0.5 + 1.5 * rng_normal(&r));
        model_set_training(m, true);
        model_forward(m, x, B);
    }
    model_set_training(m, c->training);
    m->want_dx = true;

    struct batch b = {.x = x, .labels = labels, .size = B};
    double kink = 0.0, lf = 0.0;
    for (int attempt = 0; attempt < 100 && kink < GC_KINK; attempt++) {
        for (int k = 0; k < B * in; k++) {
            x[k] = (float)rng_normal(&r);
            xd[k] = x[k];
        }
        for (int k = 0; k < B; k++)
            labels[k] = (int32_t)rng_below(&r, (uint64_t)C);
        for (int k = 0; k < B * C; k++) {
            targets[k] = (float)rng_normal(&r);
            td[k] = targets[k];
        }
        if (c->targets) {
            b.targets = targets;
            b.labels = NULL;
        }
        /* Each attempt redraws dropout masks too: the forward draws them. */
        struct loss_out lo;
        lf = model_grad(m, &b, &lo);
        for (size_t k = 0; k < m->nparams; k++)
            pd[k] = m->params[k];
        ref_loss(m, pd, xd, B, b.labels, c->targets ? td : NULL, &kink);
    }
    ck_assert_msg(kink >= GC_KINK, "%s: could not draw a point away from ReLU kinks", what);

    const int32_t *lab = b.labels;
    const double *tg = c->targets ? td : NULL;
    double l0 = ref_loss(m, pd, xd, B, lab, tg, NULL);
    ck_assert_msg(fabs(l0 - lf) <= 1e-5 * (1.0 + fabs(l0)),
                  "%s: float loss %.9g, double reference %.9g", what, lf, l0);

    /* Numerical gradient of every parameter. */
    double scale = 0.0;
    for (size_t k = 0; k < m->nparams; k++) {
        double keep = pd[k];
        pd[k] = keep + GC_H;
        double lp = ref_loss(m, pd, xd, B, lab, tg, NULL);
        pd[k] = keep - GC_H;
        double lm = ref_loss(m, pd, xd, B, lab, tg, NULL);
        pd[k] = keep;
        num[k] = (lp - lm) / (2.0 * GC_H);
        scale = fmax(scale, fabs(num[k]));
    }
    for (int t = 0; t < m->ntensors; t++) {
        const struct param_tensor *pt = &m->tensors[t];
        gc_compare(what, pt->name, m->grads + pt->offset, num + pt->offset, pt->count, scale);
    }
    size_t checked = m->nparams;

    /* Numerical gradient of every input. */
    double xscale = 0.0;
    for (int k = 0; k < B * in; k++) {
        double keep = xd[k];
        xd[k] = keep + GC_H;
        double lp = ref_loss(m, pd, xd, B, lab, tg, NULL);
        xd[k] = keep - GC_H;
        double lm = ref_loss(m, pd, xd, B, lab, tg, NULL);
        xd[k] = keep;
        num[k] = (lp - lm) / (2.0 * GC_H);
        xscale = fmax(xscale, fabs(num[k]));
    }
    gc_compare(what, "x", m->dx, num, (size_t)B * in, fmax(xscale, scale));
    checked += (size_t)B * in;

    /* Without want_dx the parameter gradients are the same, bit for bit. */
    float *g1 = malloc(m->nparams * sizeof *g1);
    memcpy(g1, m->grads, m->nparams * sizeof *g1);
    m->want_dx = false;
    model_backward(m);
    ck_assert_msg(memcmp(g1, m->grads, m->nparams * sizeof *g1) == 0,
                  "%s: gradients differ between want_dx on and off", what);

    free(g1);
    free(x);
    free(labels);
    free(targets);
    free(xd);
    free(td);
    free(pd);
    free(num);
    model_free(m);
    return checked;
}

static const struct gc_case gc_cases[] = {
    /* Each kind behind a dense layer, batch 1 and odd shapes. */
    {"dense 2", 3, 1, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 3", 7, 5, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 4", 13, 7, LOSS_MSE, true, false, 0},
    {"dense 5, relu, dense 3", 3, 1, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 7, relu, dense 3", 7, 5, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 13, relu, dense 4", 13, 7, LOSS_MSE, true, false, 0},
    {"dense 7, leaky_relu 0.1, dense 3", 5, 7, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 7, leaky_relu -0.3, dense 3", 3, 1, LOSS_MSE, true, false, 0},
    {"dense 7, tanh, dense 3", 7, 5, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 5, tanh, dense 2", 3, 1, LOSS_MSE, true, true, 0},
    {"dense 7, sigmoid, dense 3", 13, 7, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 5, sigmoid, dense 4", 3, 1, LOSS_MSE, true, false, 0},
    {"dense 7, dropout 0.3, dense 3", 7, 5, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 13, dropout 0.5, dense 3", 3, 7, LOSS_MSE, true, true, 0},
    {"dense 7, dropout 0.3, dense 3", 7, 5, LOSS_CROSS_ENTROPY, false, false, 0},
    {"dense 7, batchnorm, dense 3", 7, 5, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 5, batchnorm, dense 3", 3, 2, LOSS_MSE, true, false, 0},
    {"dense 13, batchnorm, dense 4", 5, 7, LOSS_MSE, true, true, 0},
    {"dense 7, batchnorm, dense 3", 7, 5, LOSS_CROSS_ENTROPY, false, false, 3},
    {"dense 7, batchnorm, dense 3", 3, 1, LOSS_MSE, false, false, 3},
    {"dense 7, batchnorm, dense 3", 3, 1, LOSS_MSE, true, false, 0},
    /* Activations first: dx flows through layers without parameters. */
    {"tanh, dense 3", 5, 3, LOSS_CROSS_ENTROPY, true, false, 0},
    {"batchnorm, dense 3", 5, 7, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dropout 0.2, sigmoid, dense 3", 5, 3, LOSS_MSE, true, false, 0},
    /* Everything stacked, ending in an activation. */
    {"dense 13, batchnorm, relu, dropout 0.25, dense 7, tanh, dense 5, sigmoid, "
     "dense 7, leaky_relu 0.05, dense 3", 7, 7, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 7, relu, dense 5, relu, dense 4, sigmoid", 5, 5, LOSS_MSE, true, true, 0},
    {"dense 9, leaky_relu 0.2, batchnorm, dense 3, tanh", 4, 6, LOSS_MSE, false, false, 2},
    /* Each element-wise kind last, where it reads dlogits and cannot work in place. */
    {"dense 5, leaky_relu 0.3", 3, 4, LOSS_MSE, true, false, 0},
    {"dense 6, relu", 5, 3, LOSS_CROSS_ENTROPY, true, false, 0},
    {"dense 4, dropout 0.5", 3, 5, LOSS_MSE, true, true, 0},
    {"dense 4, batchnorm", 3, 5, LOSS_MSE, true, false, 0},
    {"dense 4, batchnorm", 3, 5, LOSS_MSE, false, false, 2},
    {"dense 3, sigmoid", 3, 2, LOSS_CROSS_ENTROPY, true, false, 0},
};

START_TEST(test_nn__gradcheck_layers)
{
    size_t total = 0;
    for (size_t i = 0; i < sizeof gc_cases / sizeof gc_cases[0]; i++)
        total += gc_run(&gc_cases[i], 100 + i);
    ck_assert_msg(total > 2000, "expected thousands of gradient entries checked, got %zu",
                  total);
}
END_TEST

START_TEST(test_nn__gradcheck_random_shapes)
{
    /* Random widths and batches over the layer kinds, seeded. */
    static const char *const acts[] = {"relu", "leaky_relu 0.1", "tanh", "sigmoid",
                                       "batchnorm", "dropout 0.4"};
    struct rng r;
    rng_seed(&r, 2024);
    for (int t = 0; t < 12; t++) {
        char layers[128];
        int h = 1 + (int)rng_below(&r, 12);
        int C = 2 + (int)rng_below(&r, 4);
        snprintf(layers, sizeof layers, "dense %d, %s, dense %d", h, acts[t % 6], C);
        struct gc_case c = {layers, 1 + (int)rng_below(&r, 9), 1 + (int)rng_below(&r, 8),
                            t % 2 ? LOSS_MSE : LOSS_CROSS_ENTROPY, true, false, 0};
        gc_run(&c, 500 + (uint64_t)t);
    }
}
END_TEST

/* d loss / d logits of the losses alone against central differences. */
START_TEST(test_nn__gradcheck_losses)
{
    enum { B = 5, C = 7 };
    struct rng r;
    rng_seed(&r, 31);
    float logits[B * C], targets[B * C], g[B * C];
    int32_t labels[B];
    for (int k = 0; k < B * C; k++) {
        logits[k] = (float)(3.0 * rng_normal(&r));
        targets[k] = (float)rng_normal(&r);
    }
    for (int k = 0; k < B; k++)
        labels[k] = (int32_t)rng_below(&r, C);

    for (int which = 0; which < 3; which++) {
        int correct = -1;
        if (which == 0)
            loss_cross_entropy(g, &correct, logits, labels, B, C);
        else
            loss_mse(g, &correct, logits, which == 1 ? NULL : targets,
                     which == 1 ? labels : NULL, B, C);
        for (int k = 0; k < B * C; k++) {
            /* Reference loss in double around logit k. */
            double l[2];
            for (int s = 0; s < 2; s++) {
                double total = 0.0;
                for (int row = 0; row < B; row++) {
                    double v[C];
                    for (int j = 0; j < C; j++)
                        v[j] = logits[row * C + j]
                             + (row * C + j == k ? (s ? -GC_H : GC_H) : 0.0);
                    if (which == 0) {
                        double mx = v[0], sum = 0.0;
                        for (int j = 1; j < C; j++)
                            mx = fmax(mx, v[j]);
                        for (int j = 0; j < C; j++)
                            sum += exp(v[j] - mx);
                        total += mx + log(sum) - v[labels[row]];
                    } else {
                        for (int j = 0; j < C; j++) {
                            double t = which == 1 ? (j == labels[row]) : targets[row * C + j];
                            total += (v[j] - t) * (v[j] - t);
                        }
                    }
                }
                l[s] = total / (which == 0 ? B : B * C);
            }
            double num = (l[0] - l[1]) / (2 * GC_H);
            ck_assert_msg(fabs(num - g[k]) <= 1e-4 * fabs(num) + 1e-7,
                          "loss %d: dlogits[%d] numerical %.9g, analytic %.9g", which, k, num,
                          (double)g[k]);
        }
        if (which == 2)
            ck_assert_msg(correct == 0, "MSE on targets without labels: expected 0 correct, got %d",
                          correct);
    }
}
END_TEST

START_TEST(test_nn__cross_entropy_stable)
{
    enum { B = 3, C = 3 };
    const float logits[B * C] = {
        1e4f, -1e4f, 0.0f,      /* label 1: loss 2e4, softmax (1, 0, 0) */
        -1e4f, -1e4f, -1e4f,    /* label 2: uniform, loss ln 3 */
        1e4f, 1e4f, -1e4f,      /* label 0: softmax (1/2, 1/2, 0), loss ln 2 */
    };
    const int32_t labels[B] = {1, 2, 0};
    float g[B * C];
    int correct = -1;
    double loss = loss_cross_entropy(g, &correct, logits, labels, B, C);
    double want = (2e4 + log(3.0) + log(2.0)) / B;
    ck_assert_msg(isfinite(loss) && fabs(loss - want) <= 1e-9 * want,
                  "expected loss %.12g, got %.12g", want, loss);
    const double soft[B * C] = {1, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0.5, 0.5, 0};
    for (int k = 0; k < B * C; k++) {
        double onehot = k % C == labels[k / C];
        double expect = (soft[k] - onehot) / B;
        ck_assert_msg(isfinite(g[k]) && fabs(g[k] - expect) <= 1e-7,
                      "dlogits[%d] expected %.9g, got %.9g", k, expect, (double)g[k]);
    }
    /* argmax takes the first maximum: rows 0 and 2 predict class 0, row 1 class 0. */
    ck_assert_msg(correct == 1, "expected 1 correct, got %d", correct);
    /* NULL dlogits: the same loss, no gradient written. */
    double again = loss_cross_entropy(NULL, NULL, logits, labels, B, C);
    ck_assert_msg(again == loss, "expected the same loss %.12g without dlogits, got %.12g",
                  loss, again);
}
END_TEST

/* ---- batch norm running statistics -------------------------------------- */

START_TEST(test_nn__batchnorm_running_stats)
{
    enum { B = 6, IN = 4, H = 5, STEPS = 4 };
    struct model *m = model_parse(IN, LOSS_MSE, 9, "dense 5, batchnorm", B);
    const struct layer *bn = &m->layers[1];
    float *rm = m->state + m->buffers[bn->run_mean].offset;
    float *rv = m->state + m->buffers[bn->run_var].offset;
    double want_m[H], want_v[H];
    for (int j = 0; j < H; j++) {
        ck_assert_msg(rm[j] == 0.0f && rv[j] == 1.0f,
                      "fresh running stats expected (0, 1), got (%g, %g)", (double)rm[j],
                      (double)rv[j]);
        want_m[j] = 0.0;
        want_v[j] = 1.0;
    }
    struct rng r;
    rng_seed(&r, 5);
    float x[B * IN];
    for (int s = 0; s < STEPS; s++) {
        for (int k = 0; k < B * IN; k++)
            x[k] = (float)(2.0 + 3.0 * rng_normal(&r));
        model_forward(m, x, B);
        const float *z = m->layers[0].y;    /* (B, H) what batch norm saw */
        for (int j = 0; j < H; j++) {
            double mean = 0.0, ss = 0.0;
            for (int row = 0; row < B; row++)
                mean += z[row * H + j];
            mean /= B;
            for (int row = 0; row < B; row++)
                ss += (z[row * H + j] - mean) * (z[row * H + j] - mean);
            /* torch: running = (1 - momentum) running + momentum batch, unbiased var */
            want_m[j] = 0.9 * want_m[j] + 0.1 * mean;
            want_v[j] = 0.9 * want_v[j] + 0.1 * ss / (B - 1);
        }
    }
    for (int j = 0; j < H; j++) {
        ck_assert_msg(fabs(rm[j] - want_m[j]) <= 1e-5 * (1 + fabs(want_m[j])),
                      "running_mean[%d] expected %.8g, got %.8g", j, want_m[j], (double)rm[j]);
        ck_assert_msg(fabs(rv[j] - want_v[j]) <= 1e-5 * (1 + fabs(want_v[j])),
                      "running_var[%d] expected %.8g, got %.8g", j, want_v[j], (double)rv[j]);
    }
    ck_assert_msg(m->bn_batches == STEPS, "bn_batches expected %d, got %ld", STEPS,
                  m->bn_batches);

    /* Eval: normalise with the running statistics, leave them alone. */
    float *g = m->params + m->tensors[bn->weight].offset;
    float *beta = m->params + m->tensors[bn->bias].offset;
    for (int j = 0; j < H; j++) {
        g[j] = 0.5f + 0.25f * (float)j;
        beta[j] = -0.1f * (float)j;
    }
    model_set_training(m, false);
    const float *y = model_forward(m, x, B);
    const float *z = m->layers[0].y;
    for (int k = 0; k < B * H; k++) {
        int j = k % H;
        double want = g[j] * (z[k] - want_m[j]) / sqrt(want_v[j] + 1e-5) + beta[j];
        ck_assert_msg(fabs(y[k] - want) <= 1e-5 * (1 + fabs(want)),
                      "eval output[%d] expected %.8g, got %.8g", k, want, (double)y[k]);
    }
    ck_assert_msg(fabs(rm[0] - want_m[0]) <= 1e-5 * (1 + fabs(want_m[0]))
                  && m->bn_batches == STEPS,
                  "eval changed the running stats (mean %g, batches %ld)", (double)rm[0],
                  m->bn_batches);

    /* Training with a batch of 1: no unbiased variance, stats stay put. */
    model_set_training(m, true);
    float keep = rv[0];
    model_forward(m, x, 1);
    ck_assert_msg(rv[0] == keep && m->bn_batches == STEPS,
                  "B = 1 expected running_var %g and %d batches, got %g and %ld",
                  (double)keep, STEPS, (double)rv[0], m->bn_batches);
    model_free(m);
}
END_TEST

/* ---- dropout masks ------------------------------------------------------ */

START_TEST(test_nn__dropout_stream)
{
    enum { B = 64, IN = 8, H = 100 };
    const float p = 0.3f;
    struct model *m = model_parse(IN, LOSS_CROSS_ENTROPY, 77, "dense 100, dropout 0.3, dense 3", B);
    struct model *m2 = model_parse(IN, LOSS_CROSS_ENTROPY, 77, "dense 100, dropout 0.3, dense 3", B);
    float x[B * IN];
    struct rng r;
    rng_seed(&r, 1);
    for (int k = 0; k < B * IN; k++)
        x[k] = (float)rng_normal(&r);

    /* The masks come from the run's dropout stream, in row-major order. */
    struct rng want;
    rng_seed_for(&want, 77, RNG_DROPOUT);
    int zeros = 0;
    for (int step = 0; step < 2; step++) {
        model_forward(m, x, B);
        model_forward(m2, x, B);
        const float *mask = m->layers[1].mask;
        for (int k = 0; k < B * H; k++) {
            float expect = rng_uniform(&want) < (double)p ? 0.0f : 1.0f / (1.0f - p);
            ck_assert_msg(mask[k] == expect, "step %d mask[%d] expected %g, got %g", step, k,
                          (double)expect, (double)mask[k]);
            ck_assert_msg(m->layers[1].y[k] == m->layers[0].y[k] * mask[k],
                          "dropout output[%d] is not input times mask", k);
            zeros += mask[k] == 0.0f;
        }
        ck_assert_msg(memcmp(mask, m2->layers[1].mask, sizeof(float) * B * H) == 0,
                      "same seed, step %d: masks differ", step);
    }
    double frac = zeros / (2.0 * B * H);
    ck_assert_msg(fabs(frac - p) < 0.02, "dropped fraction expected about %g, got %g",
                  (double)p, frac);

    /* Eval: identity. */
    model_set_training(m, false);
    model_forward(m, x, B);
    ck_assert_msg(memcmp(m->layers[0].y, m->layers[1].y, sizeof(float) * B * H) == 0,
                  "eval dropout is not the identity");
    model_free(m);
    model_free(m2);
}
END_TEST

/* ---- names, shapes, offsets --------------------------------------------- */

START_TEST(test_nn__naming)
{
    struct model *m = model_parse(5, LOSS_CROSS_ENTROPY, 1, "dense 4, relu, batchnorm, dense 3", 2);
    static const struct {
        const char *name;
        int rows, cols, ndim;
    } want[] = {
        {"0.weight", 4, 5, 2}, {"0.bias", 4, 1, 1}, {"2.weight", 4, 1, 1},
        {"2.bias", 4, 1, 1},   {"3.weight", 3, 4, 2}, {"3.bias", 3, 1, 1},
    };
    ck_assert_msg(m->ntensors == 6, "expected 6 tensors, got %d", m->ntensors);
    size_t off = 0;
    for (int t = 0; t < 6; t++) {
        const struct param_tensor *pt = &m->tensors[t];
        ck_assert_msg(strcmp(pt->name, want[t].name) == 0, "tensor %d expected %s, got %s", t,
                      want[t].name, pt->name);
        ck_assert_msg(pt->rows == want[t].rows && pt->cols == want[t].cols
                      && pt->ndim == want[t].ndim,
                      "%s expected shape %dx%d (ndim %d), got %dx%d (ndim %d)", pt->name,
                      want[t].rows, want[t].cols, want[t].ndim, pt->rows, pt->cols, pt->ndim);
        ck_assert_msg(pt->offset == off, "%s expected offset %zu, got %zu", pt->name, off,
                      pt->offset);
        ck_assert_msg(pt->count == (size_t)pt->rows * pt->cols, "%s count %zu", pt->name,
                      pt->count);
        ck_assert_int_eq(model_find_tensor(m, want[t].name), t);
        off += pt->count;
    }
    ck_assert_msg(m->nparams == off && off == 47, "expected 47 params, got %zu", m->nparams);
    ck_assert_msg(m->nbuffers == 2, "expected 2 buffers, got %d", m->nbuffers);
    ck_assert_str_eq(m->buffers[0].name, "2.running_mean");
    ck_assert_str_eq(m->buffers[1].name, "2.running_var");
    ck_assert_msg(m->buffers[0].offset == 0 && m->buffers[1].offset == 4 && m->nstate == 8,
                  "buffer offsets expected 0, 4 (8 floats), got %zu, %zu (%zu)",
                  m->buffers[0].offset, m->buffers[1].offset, m->nstate);
    ck_assert_int_eq(model_find_tensor(m, "1.weight"), -1);
    ck_assert_int_eq(model_find_tensor(m, "2.running_mean"), -1);
    ck_assert_msg(m->in == 5 && m->out == 3, "widths expected 5 -> 3, got %d -> %d", m->in,
                  m->out);
    ck_assert_msg(m->layers[1].weight == -1 && m->layers[2].run_var == 1
                  && m->layers[3].weight == 4,
                  "layer tensor indices wrong: %d %d %d", m->layers[1].weight,
                  m->layers[2].run_var, m->layers[3].weight);

    model_free(m);

    static const char *const kinds[LAYER_KIND_COUNT] = {
        "dense", "relu", "leaky_relu", "tanh", "sigmoid", "dropout", "batchnorm", "conv2d",
        "maxpool2d", "avgpool2d", "flatten", "batchnorm2d", "dropout2d", "global_avgpool"};
    for (int k = 0; k < LAYER_KIND_COUNT; k++)
        ck_assert_str_eq(layer_kind_name((enum layer_kind)k), kinds[k]);
}
END_TEST

/* ---- initialisation ----------------------------------------------------- */

static void
moments(const float *v, size_t n, double *mean, double *var)
{
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *var = ss / n;
}

START_TEST(test_nn__init_statistics)
{
    enum { IN = 500, OUT = 400 };
    static const struct {
        const char *layer;
        double wvar;            /* expected weight variance */
        double bbound;          /* pytorch: bias bound; others: bias is 0 */
    } cases[] = {
        {"dense 400 pytorch", 1.0 / (3.0 * IN), 0.0},
        {"dense 400 he", 2.0 / IN, 0.0},
        {"dense 400 xavier", 2.0 / (IN + OUT), 0.0},
        {"dense 400 normal 0.05", 0.05 * 0.05, 0.0},
        {"dense 400 uniform 0.2", 0.2 * 0.2 / 3.0, 0.0},
        {"dense 400 zeros", 0.0, 0.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct model *m = model_parse(IN, LOSS_MSE, 42, cases[c].layer, 1);
        const float *w = m->params + m->tensors[0].offset;
        const float *b = m->params + m->tensors[1].offset;
        size_t n = (size_t)IN * OUT;
        double mean, var;
        moments(w, n, &mean, &var);
        if (cases[c].wvar == 0.0) {
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(w[i] == 0.0f, "%s: W[%zu] expected 0, got %g", cases[c].layer,
                              i, (double)w[i]);
        } else {
            ck_assert_msg(fabs(var / cases[c].wvar - 1.0) < 0.03,
                          "%s: weight variance expected %.6g (within 3%%), got %.6g",
                          cases[c].layer, cases[c].wvar, var);
            ck_assert_msg(fabs(mean) < 5.0 * sqrt(cases[c].wvar / n),
                          "%s: weight mean expected about 0, got %.6g", cases[c].layer, mean);
        }
        double bound = 1.0 / sqrt((double)IN);
        int nonzero = 0;
        for (int i = 0; i < OUT; i++) {
            if (c == 0) {
                ck_assert_msg(fabs(b[i]) <= bound, "pytorch bias[%d] = %g outside +-%g", i,
                              (double)b[i], bound);
                nonzero += b[i] != 0.0f;
            } else {
                ck_assert_msg(b[i] == 0.0f, "%s: bias[%d] expected 0, got %g", cases[c].layer,
                              i, (double)b[i]);
            }
        }
        if (c == 0) {
            ck_assert_msg(nonzero == OUT, "pytorch bias: expected all non-zero, %d were",
                          nonzero);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(fabs(w[i]) <= bound, "pytorch W[%zu] = %g outside +-%g", i,
                              (double)w[i], bound);
            double bm, bv;
            moments(b, OUT, &bm, &bv);
            ck_assert_msg(fabs(bv / (bound * bound / 3.0) - 1.0) < 0.2,
                          "pytorch bias variance expected about %g, got %g",
                          bound * bound / 3.0, bv);
        }
        model_free(m);
    }
}
END_TEST

START_TEST(test_nn__init_deterministic)
{
    const char *layers = "dense 30, batchnorm, relu, dense 20 he, dense 3 xavier";
    struct model *a = model_parse(11, LOSS_CROSS_ENTROPY, 1234, layers, 4);
    struct model *b = model_parse(11, LOSS_CROSS_ENTROPY, 1234, layers, 4);
    struct model *c = model_parse(11, LOSS_CROSS_ENTROPY, 1235, layers, 4);
    size_t bytes = a->nparams * sizeof(float);
    ck_assert_msg(memcmp(a->params, b->params, bytes) == 0, "same seed: params differ");
    ck_assert_msg(memcmp(a->params, c->params, bytes) != 0, "seeds 1234 and 1235: same params");

    /* Train-mode forwards move the state; re-initialising restores all. */
    float x[4 * 11];
    for (int k = 0; k < 4 * 11; k++)
        x[k] = (float)k / 7.0f;
    model_forward(a, x, 4);
    for (size_t k = 0; k < a->nparams; k++)
        a->params[k] += 1.0f;
    ck_assert_msg(a->bn_batches == 1, "expected 1 tracked batch, got %ld", a->bn_batches);
    model_init_params(a, 1234);
    ck_assert_msg(memcmp(a->params, b->params, bytes) == 0, "re-init: params differ");
    ck_assert_msg(memcmp(a->state, b->state, a->nstate * sizeof(float)) == 0,
                  "re-init: running stats differ");
    ck_assert_msg(a->bn_batches == 0, "re-init: expected 0 tracked batches, got %ld",
                  a->bn_batches);

    /* The first layer drew pytorch weights then bias; check one by hand. */
    struct rng r;
    rng_seed_for(&r, 1234, RNG_INIT);
    float w0 = (float)((2.0 * rng_uniform(&r) - 1.0) / sqrt(11.0));
    ck_assert_msg(a->params[0] == w0, "0.weight[0] expected %.9g from the init stream, got %.9g",
                  (double)w0, (double)a->params[0]);
    model_free(a);
    model_free(b);
    model_free(c);
}
END_TEST


/* ---- errors ------------------------------------------------------------- */

static void
expect_error(const struct model_spec *s, int max_batch, const char *want)
{
    char *cause = NULL;
    struct model *m = model_new(s, max_batch, &cause);
    ck_assert_msg(m == NULL, "expected an error \"%s\", got a model", want);
    ck_assert_msg(cause != NULL && strcmp(cause, want) == 0, "expected \"%s\", got \"%s\"",
                  want, cause ? cause : "(null)");
    free(cause);
    /* A NULL cause is allowed and changes nothing. */
    ck_assert_msg(model_new(s, max_batch, NULL) == NULL, "expected NULL again for \"%s\"",
                  want);
}

/* ---- image layers ------------------------------------------------------ */

#define IMG_CONV(o, k, s, p) {.kind = LAYER_CONV2D, .units = (o), .kernel = (k), \
                              .stride = (s), .padding = (p)}
#define IMG_POOL(kd, k, s, p) {.kind = (kd), .kernel = (k), .stride = (s), .padding = (p)}
#define IMG_ONLY(kd) {.kind = (kd)}

/* A spec on a c x h x w input from n layers. */
static struct model_spec
image_spec(int c, int h, int w, const struct layer_spec *l, int n)
{
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = c * h * w;
    s.in_c = c;
    s.in_h = h;
    s.in_w = w;
    s.nlayers = n;
    s.loss = LOSS_CROSS_ENTROPY;
    s.seed = 5;
    memcpy(s.layers, l, (size_t)n * sizeof *l);
    return s;
}

START_TEST(test_nn__image_shapes)
{
    /* The fashion CNN: shapes, PyTorch tensor shapes and labels. */
    struct layer_spec l[] = {
        IMG_CONV(32, 5, 1, 2), IMG_ONLY(LAYER_RELU), IMG_POOL(LAYER_MAXPOOL2D, 2, 0, 0),
        IMG_CONV(64, 5, 1, 2), IMG_ONLY(LAYER_BATCHNORM2D), IMG_ONLY(LAYER_RELU),
        IMG_POOL(LAYER_AVGPOOL2D, 3, 2, 1), IMG_ONLY(LAYER_FLATTEN), {.kind = LAYER_DENSE,
        .units = 10}};
    struct model_spec s = image_spec(1, 28, 28, l, 9);
    char *cause = NULL;
    struct model *m = model_new(&s, 4, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause);
    ck_assert_int_eq(m->layers[0].out, 32 * 28 * 28);
    ck_assert_int_eq(m->layers[2].out, 32 * 14 * 14);
    ck_assert_int_eq(m->layers[3].out, 64 * 14 * 14);
    /* (14 + 2 - 3) / 2 + 1 = 7 */
    ck_assert_int_eq(m->layers[6].oh, 7);
    ck_assert_int_eq(m->layers[7].out, 64 * 7 * 7);
    ck_assert_int_eq(m->out, 10);
    int w0 = model_find_tensor(m, "0.weight");
    ck_assert_int_ge(w0, 0);
    const struct param_tensor *t = &m->tensors[w0];
    ck_assert_int_eq(t->ndim, 4);
    ck_assert(t->shape[0] == 32 && t->shape[1] == 1 && t->shape[2] == 5 && t->shape[3] == 5);
    ck_assert_int_eq(t->rows, 32);
    ck_assert_int_eq(t->cols, 25);
    ck_assert_int_ge(model_find_tensor(m, "4.weight"), 0);
    ck_assert_int_eq(m->tensors[model_find_tensor(m, "4.weight")].count, 64);
    ck_assert_int_eq(m->nbuffers, 2);
    ck_assert_str_eq(m->buffers[0].name, "4.running_mean");
    ck_assert_int_eq(m->tensors[model_find_tensor(m, "8.weight")].cols, 64 * 7 * 7);
    /* Init: the PyTorch default bound 1/sqrt(C k k), weights then bias. */
    float a = 1.0f / 5.0f;
    for (size_t k = 0; k < t->count; k++)
        ck_assert(fabsf(m->params[t->offset + k]) <= a);
    struct rng r;
    rng_seed_for(&r, 5, RNG_INIT);
    float first = (float)((2.0 * rng_uniform(&r) - 1.0) * (1.0 / 5.0));
    ck_assert(m->params[t->offset] == first);

    /* A forward through it all is finite and the loss near ln 10. */
    float x[4 * 784];
    int32_t y[4] = {1, 2, 3, 4};
    for (int k = 0; k < 4 * 784; k++)
        x[k] = (float)((k * 37) % 255) / 255.0f;
    struct batch b = {.x = x, .labels = y, .size = 4};
    double loss = model_grad(m, &b, NULL);
    ck_assert_msg(isfinite(loss) && loss > 1.0 && loss < 4.0, "loss %g", loss);
    model_free(m);

    /* A conv without bias has only its weight. */
    struct layer_spec nb[] = {{.kind = LAYER_CONV2D, .units = 3, .kernel = 3, .no_bias = true},
                              IMG_ONLY(LAYER_GLOBAL_AVGPOOL), IMG_ONLY(LAYER_FLATTEN),
                              {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(2, 5, 5, nb, 4);
    m = model_new(&s, 2, NULL);
    ck_assert(m != NULL);
    ck_assert_int_eq(m->ntensors, 3);
    ck_assert_int_eq(model_find_tensor(m, "0.bias"), -1);
    ck_assert_int_eq(m->layers[1].out, 3);
    model_free(m);
}
END_TEST

START_TEST(test_nn__conv_by_hand)
{
    /* One 3x3 image, one 2x2 kernel of 1, 2, 3, 4, bias 0.5, stride 1,
     * padding 1: a 4x4 output whose corners see one input each. */
    struct layer_spec l[] = {IMG_CONV(1, 2, 1, 1), IMG_ONLY(LAYER_FLATTEN),
                             {.kind = LAYER_DENSE, .units = 2}};
    struct model_spec s = image_spec(1, 3, 3, l, 3);
    struct model *m = model_new(&s, 1, NULL);
    ck_assert(m != NULL);
    float *w = m->params + m->tensors[0].offset;
    for (int k = 0; k < 4; k++)
        w[k] = (float)(k + 1);
    m->params[m->tensors[1].offset] = 0.5f;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    model_forward(m, x, 1);
    const float *y = m->layers[0].y;
    /* y[0][0] = w[1][1] x[0][0]; y[0][1] = w[1][0] x00 + w[1][1] x01; ... */
    ck_assert_float_eq(y[0], 4 * 1 + 0.5f);
    ck_assert_float_eq(y[1], 3 * 1 + 4 * 2 + 0.5f);
    ck_assert_float_eq(y[3], 3 * 3 + 0.5f);
    ck_assert_float_eq(y[5], 1 * 1 + 2 * 2 + 3 * 4 + 4 * 5 + 0.5f);
    ck_assert_float_eq(y[15], 1 * 9 + 0.5f);

    /* Max pool 2x2 on the same image with padding 1: a 2x2 output. */
    struct layer_spec p[] = {IMG_POOL(LAYER_MAXPOOL2D, 2, 2, 1), IMG_CONV(1, 1, 1, 0),
                             IMG_ONLY(LAYER_FLATTEN), {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(1, 3, 3, p, 4);
    struct model *q = model_new(&s, 1, NULL);
    ck_assert(q != NULL);
    model_forward(q, x, 1);
    ck_assert_float_eq(q->layers[0].y[0], 1);
    ck_assert_float_eq(q->layers[0].y[1], 3);
    ck_assert_float_eq(q->layers[0].y[2], 7);
    ck_assert_float_eq(q->layers[0].y[3], 9);
    ck_assert_int_eq(q->layers[0].argmax[3], 8);
    model_free(q);
    model_free(m);
}
END_TEST

/* Max pool of 1 image of c channels (h, w) with window k, stride k, no
 * padding: the windows all inside, as PyTorch picks: the first maximum of
 * a window wins, and the first NaN over any number. */
static struct model *
pool_model(int c, int h, int w, int k, const float *x)
{
    struct layer_spec p[] = {IMG_POOL(LAYER_MAXPOOL2D, k, k, 0), IMG_ONLY(LAYER_FLATTEN),
                             {.kind = LAYER_DENSE, .units = 2}};
    struct model_spec s = image_spec(c, h, w, p, 3);
    struct model *m = model_new(&s, 1, NULL);
    ck_assert(m != NULL);
    model_forward(m, x, 1);
    return m;
}

START_TEST(test_nn__maxpool_ties_nan)
{
    const float nan = NAN;
    /* 2 channels of 2x4, windows 2x2: a tie, a NaN after the maximum;
     * channel 1 is 1 - channel 0. */
    float x[16] = {1, 1, 2, nan,
                   0, 1, 5, nan};
    for (int i = 0; i < 8; i++)
        x[8 + i] = 1 - x[i];
    struct model *m = pool_model(2, 2, 4, 2, x);
    const float *y = m->layers[0].y;
    const int32_t *a = m->layers[0].argmax;
    /* Channel 0: [1 1; 0 1] -> 1 at 0; [2 nan; 5 nan] -> nan at 3. */
    ck_assert_float_eq(y[0], 1);
    ck_assert_int_eq(a[0], 0);
    ck_assert(isnan(y[1]));
    ck_assert_int_eq(a[1], 3);
    /* Channel 1: [0 0; 1 0] -> 1 at 8 + 4; [-1 nan; -4 nan] -> nan at 8 + 3. */
    ck_assert_float_eq(y[2], 1);
    ck_assert_int_eq(a[2], 12);
    ck_assert(isnan(y[3]));
    ck_assert_int_eq(a[3], 11);
    model_free(m);
    /* Rows 3 and 4 as an image of their own: [3 3; 3 3] -> 3 at 0 (all
     * equal); [nan 7; 9 nan] -> the first NaN, at 2. */
    float z[8] = {3, 3, nan, 7, 3, 3, 9, nan};
    m = pool_model(1, 2, 4, 2, z);
    ck_assert_float_eq(m->layers[0].y[0], 3);
    ck_assert_int_eq(m->layers[0].argmax[0], 0);
    ck_assert(isnan(m->layers[0].y[1]));
    ck_assert_int_eq(m->layers[0].argmax[1], 2);
    model_free(m);

    /* A 3x3 window over a 3x6 image: the maximum in the last row, and a NaN
     * in the middle of the second window before a larger value. */
    float v[18] = {0, 1, 2, 9, 9, 9,
                   3, 4, 5, 9, nan, 99,
                   6, 8, 8, 9, 9, 9};
    m = pool_model(1, 3, 6, 3, v);
    ck_assert_float_eq(m->layers[0].y[0], 8);
    ck_assert_int_eq(m->layers[0].argmax[0], 13);
    ck_assert(isnan(m->layers[0].y[1]));
    ck_assert_int_eq(m->layers[0].argmax[1], 10);
    model_free(m);
}
END_TEST

/* The rule as the general loop states it, one window at a time: the
 * first maximum wins, the first NaN over anything (k = s, no padding). */
static void
maxpool_oracle(float *y, int32_t *a, const float *x, int B, int C, int H, int W, int k)
{
    int OH = H / k, OW = W / k;
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    const float *xc = x + ((size_t)n * C + c) * H * W;
                    float best = 0;
                    int32_t at = -1;
                    for (int t = 0; t < k * k; t++) {
                        int32_t i = (oy * k + t / k) * W + ox * k + t % k;
                        if (at >= 0 && isnan(best))
                            break;
                        if (at < 0 || xc[i] > best || isnan(xc[i])) {
                            best = xc[i];
                            at = i;
                        }
                    }
                    size_t o = (((size_t)n * C + c) * OH + oy) * OW + ox;
                    y[o] = best;
                    a[o] = (int32_t)(c * H * W) + at;
                }
}

/* Max pool 2x2 (and 3x3) on every conv path this CPU has (AVX-512 takes
 * its own vector loop for 2x2 stride 2) against the oracle, bit for bit,
 * on widths that leave every tail of a 16-wide group, odd sides with a
 * column and row no window covers, values drawn from {-1, 0, 1, 2} (ties
 * in most windows), signed zeros and NaNs. */
START_TEST(test_nn__maxpool_paths)
{
    static const int sides[][2] = {{2, 2}, {3, 5}, {4, 14}, {5, 15}, {6, 28}, {2, 31},
                                   {4, 33}, {3, 34}, {8, 47}, {2, 64}, {7, 66}};
    enum gemm_kernel saved = gemm_kernel_get();
    struct rng r;
    rng_seed(&r, 15);
    for (int path = 0; path < GEMM_KERNEL_COUNT; path++) {
        if (!gemm_kernel_available((enum gemm_kernel)path))
            continue;
        gemm_kernel_set((enum gemm_kernel)path);
        for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++)
            for (int k = 2; k <= 3; k++) {
                int B = 3, C = 2, H = sides[i][0], W = sides[i][1];
                if (H < k || W < k)
                    continue;
                size_t nx = (size_t)B * C * H * W, ny = (size_t)B * C * (H / k) * (W / k);
                float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
                int32_t *a = malloc(ny * sizeof *a);
                for (size_t j = 0; j < nx; j++) {
                    double u = rng_uniform(&r);
                    x[j] = u < 0.06 ? NAN : u < 0.1 ? -0.0f : (float)rng_below(&r, 4) - 1.0f;
                }
                maxpool_oracle(y, a, x, B, C, H, W, k);
                struct layer_spec p[] = {IMG_POOL(LAYER_MAXPOOL2D, k, k, 0),
                                         IMG_ONLY(LAYER_FLATTEN),
                                         {.kind = LAYER_DENSE, .units = 2}};
                struct model_spec s = image_spec(C, H, W, p, 3);
                struct model *m = model_new(&s, B, NULL);
                ck_assert(m != NULL);
                model_forward(m, x, B);
                for (size_t j = 0; j < ny; j++) {
                    ck_assert_msg(memcmp(&m->layers[0].y[j], &y[j], sizeof *y) == 0
                                      && m->layers[0].argmax[j] == a[j],
                                  "%s path, %dx%d k %d, output %zu: %g at %d, expected %g "
                                  "at %d", gemm_kernel_name((enum gemm_kernel)path), H, W,
                                  k, j, (double)m->layers[0].y[j], m->layers[0].argmax[j],
                                  (double)y[j], a[j]);
                }
                model_free(m);
                free(a);
                free(y);
                free(x);
            }
    }
    gemm_kernel_set(saved);
}
END_TEST

/* A conv with one output channel whose kernel is 1 at one tap (c0, ki,
 * kj) and 0 elsewhere, no bias, copies the (zero-padded) input under that
 * tap: y[oy][ox] = x[c0][oy s + ki - p][ox s + kj - p], exactly on every
 * path (sums of one value and zeros).  So every tap, padding 0 to 2,
 * strides 1 and 2 and output widths leaving every tail of a 16-wide
 * group (AVX-512's im2col copies rows 16 floats at a time) check im2col. */
START_TEST(test_nn__conv_taps_paths)
{
    static const int sides[][2] = {{3, 3}, {5, 14}, {4, 16}, {3, 17}, {6, 28}, {2, 33}};
    enum gemm_kernel saved = gemm_kernel_get();
    int C = 2, B = 2, k = 3;
    for (int path = 0; path < GEMM_KERNEL_COUNT; path++) {
        if (!gemm_kernel_available((enum gemm_kernel)path))
            continue;
        gemm_kernel_set((enum gemm_kernel)path);
        for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++)
            for (int conf = 0; conf < 6; conf++) {
                int H = sides[i][0], W = sides[i][1], st = 1 + conf / 3, pd = conf % 3;
                if (H + 2 * pd < k || W + 2 * pd < k)
                    continue;
                struct layer_spec l[] = {{.kind = LAYER_CONV2D, .units = 1, .kernel = k,
                                          .stride = st, .padding = pd, .no_bias = true},
                                         IMG_ONLY(LAYER_FLATTEN),
                                         {.kind = LAYER_DENSE, .units = 2}};
                struct model_spec s = image_spec(C, H, W, l, 3);
                struct model *m = model_new(&s, B, NULL);
                ck_assert(m != NULL);
                size_t nx = (size_t)B * C * H * W;
                float *x = malloc(nx * sizeof *x);
                for (size_t j = 0; j < nx; j++)
                    x[j] = (float)(j + 1);
                int OH = (H + 2 * pd - k) / st + 1, OW = (W + 2 * pd - k) / st + 1;
                float *w = m->params + m->tensors[0].offset;
                for (int tap = 0; tap < C * k * k; tap++) {
                    memset(w, 0, (size_t)C * k * k * sizeof *w);
                    w[tap] = 1.0f;
                    model_forward(m, x, B);
                    int c0 = tap / (k * k), ki = tap / k % k, kj = tap % k;
                    size_t bad = SIZE_MAX;
                    float want = 0;
                    for (size_t o = 0; o < (size_t)B * OH * OW && bad == SIZE_MAX; o++) {
                        int n = (int)(o / ((size_t)OH * OW));
                        int oy = (int)(o / OW % OH), ox = (int)(o % OW);
                        int iy = oy * st + ki - pd, ix = ox * st + kj - pd;
                        want = iy < 0 || iy >= H || ix < 0 || ix >= W ? 0.0f
                               : x[(((size_t)n * C + c0) * H + iy) * W + ix];
                        if (m->layers[0].y[o] != want)
                            bad = o;
                    }
                    ck_assert_msg(bad == SIZE_MAX, "%s path, %dx%d s %d p %d tap %d: "
                                  "output %zu is %g, expected %g",
                                  gemm_kernel_name((enum gemm_kernel)path), H, W, st, pd, tap,
                                  bad, (double)m->layers[0].y[bad], (double)want);
                }
                model_free(m);
                free(x);
            }
    }
    gemm_kernel_set(saved);
}
END_TEST

START_TEST(test_nn__image_errors)
{
    struct model_spec s;
    struct layer_spec big[] = {IMG_CONV(4, 3, 1, 0), IMG_POOL(LAYER_MAXPOOL2D, 2, 0, 0),
                               IMG_ONLY(LAYER_RELU), IMG_CONV(8, 5, 1, 0),
                               IMG_ONLY(LAYER_FLATTEN), {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(1, 10, 10, big, 6);
    expect_error(&s, 8, "layer 3 (conv2d): kernel 5 larger than the 4x4 input after layer 2");
    int at = -2;
    char *cause = NULL;
    ck_assert_int_eq(model_check_spec(&s, 8, &at, &cause), -1);
    ck_assert_int_eq(at, 3);
    ck_assert_str_eq(cause, "conv2d: kernel 5 larger than the 4x4 input after layer 2");
    free(cause);
    s.layers[3].padding = 1;
    s.layers[3].kernel = 7;
    expect_error(&s, 8, "layer 3 (conv2d): kernel 7 larger than the 4x4 input after layer 2 "
                        "padded by 1");
    s.layers[3].padding = 0;
    s.layers[3].kernel = 4;
    ck_assert_int_eq(model_check_spec(&s, 8, &at, NULL), 0);
    ck_assert_int_eq(at, -1);

    struct layer_spec first[] = {IMG_CONV(4, 30, 1, 0), IMG_ONLY(LAYER_FLATTEN),
                                 {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(1, 28, 28, first, 3);
    expect_error(&s, 8, "layer 0 (conv2d): kernel 30 larger than the 28x28 model input");

    struct layer_spec noflat[] = {IMG_CONV(4, 3, 1, 1), IMG_ONLY(LAYER_RELU),
                                  {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(2, 5, 5, noflat, 3);
    expect_error(&s, 8, "layer 2 (dense): needs a flatten before it, for the 4x5x5 input after "
                        "layer 1");
    s.layers[2] = (struct layer_spec){.kind = LAYER_BATCHNORM};
    expect_error(&s, 8, "layer 2 (batchnorm): needs a flatten before it, for the 4x5x5 input "
                        "after layer 1");

    struct layer_spec ends[] = {IMG_CONV(4, 3, 1, 1), IMG_ONLY(LAYER_RELU)};
    s = image_spec(2, 5, 5, ends, 2);
    expect_error(&s, 8, "layer 1 (relu): the model ends in a 4x5x5 image: end it with flatten "
                        "and a dense layer");

    struct layer_spec flat[] = {{.kind = LAYER_DENSE, .units = 8}, IMG_CONV(4, 3, 1, 1)};
    s = image_spec(2, 5, 5, flat, 2);
    expect_error(&s, 8, "layer 1 (conv2d): needs an image, but layer 0 gives 8 flat features");
    s = spec_parse(6, LOSS_CROSS_ENTROPY, 1, "dense 3");
    s.layers[0] = (struct layer_spec)IMG_POOL(LAYER_MAXPOOL2D, 2, 0, 0);
    s.layers[1] = (struct layer_spec){.kind = LAYER_DENSE, .units = 2};
    s.nlayers = 2;
    expect_error(&s, 8, "layer 0 (maxpool2d): needs image input (data.shape: [C, H, W], or IDX "
                        "images), but the input is 6 flat features");

    struct layer_spec pool[] = {IMG_POOL(LAYER_AVGPOOL2D, 2, 0, 2), IMG_ONLY(LAYER_FLATTEN),
                                {.kind = LAYER_DENSE, .units = 2}};
    s = image_spec(1, 6, 6, pool, 3);
    expect_error(&s, 8, "layer 0 (avgpool2d): padding 2 is more than half the kernel 2");
    s.layers[0] = (struct layer_spec)IMG_POOL(LAYER_AVGPOOL2D, 0, 0, 0);
    expect_error(&s, 8, "layer 0 (avgpool2d): kernel must be >= 1, got 0");
    s.layers[0] = (struct layer_spec)IMG_POOL(LAYER_AVGPOOL2D, 2, -1, 0);
    expect_error(&s, 8, "layer 0 (avgpool2d): stride must be >= 1, got -1");
    s.layers[0] = (struct layer_spec)IMG_CONV(0, 2, 1, 0);
    expect_error(&s, 8, "layer 0 (conv2d): out channels must be >= 1, got 0");
    s.layers[0] = (struct layer_spec)IMG_CONV(2, 2, 1, -1);
    expect_error(&s, 8, "layer 0 (conv2d): padding must be >= 0, got -1");
    s.layers[0] = (struct layer_spec){.kind = LAYER_DROPOUT2D, .arg = 1.0f};
    expect_error(&s, 8, "layer 0 (dropout2d): p must be in [0, 1), got 1");

    s = image_spec(1, 6, 6, pool, 3);
    s.in_h = 5;
    expect_error(&s, 8, "input shape 1x5x6 does not make the input width 36");
}
END_TEST


START_TEST(test_nn__errors)
{
    struct model_spec s;
    s = spec_parse(0, LOSS_CROSS_ENTROPY, 1, "dense 3");
    expect_error(&s, 8, "input width must be >= 1, got 0");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3");
    expect_error(&s, 0, "max batch must be >= 1, got 0");
    s.nlayers = 0;
    expect_error(&s, 8, "the model must have 1 to 64 layers, got 0");
    s.nlayers = NN_MAX_LAYERS + 1;
    expect_error(&s, 8, "the model must have 1 to 64 layers, got 65");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3, relu, tanh, dense 0");
    expect_error(&s, 8, "layer 3 (dense): units must be >= 1, got 0");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense -4, dense 3");
    expect_error(&s, 8, "layer 0 (dense): units must be >= 1, got -4");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3, dropout 1, dense 3");
    expect_error(&s, 8, "layer 1 (dropout): p must be in [0, 1), got 1");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3, dropout -0.25, dense 3");
    expect_error(&s, 8, "layer 1 (dropout): p must be in [0, 1), got -0.25");
    s.layers[1].arg = NAN;
    expect_error(&s, 8, "layer 1 (dropout): p must be in [0, 1), got nan");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3, leaky_relu 0.1, dense 3");
    s.layers[1].arg = INFINITY;
    expect_error(&s, 8, "layer 1 (leaky_relu): slope must be finite, got inf");
    s.layers[1].arg = NAN;
    expect_error(&s, 8, "layer 1 (leaky_relu): slope must be finite, got nan");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "relu, batchnorm, dropout 0.5");
    expect_error(&s, 8, "the model needs at least one dense or conv2d layer");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 5, relu, dense 1");
    expect_error(&s, 8, "cross-entropy needs an output width >= 2, got 1");
    s = spec_parse(1, LOSS_CROSS_ENTROPY, 1, "relu, dense 1, sigmoid");
    expect_error(&s, 8, "cross-entropy needs an output width >= 2, got 1");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3");
    s.layers[0].kind = LAYER_KIND_COUNT;
    expect_error(&s, 8, "layer 0: unknown kind 14");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3");
    s.loss = LOSS_KIND_COUNT;
    expect_error(&s, 8, "unknown loss kind 2");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3 normal 0");
    expect_error(&s, 8, "layer 0 (dense): init normal needs a std > 0, got 0");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3 uniform -1");
    expect_error(&s, 8, "layer 0 (dense): init uniform needs a bound > 0, got -1");
    s = spec_parse(2, LOSS_CROSS_ENTROPY, 1, "dense 3");
    s.layers[0].init = INIT_KIND_COUNT;
    expect_error(&s, 8, "layer 0 (dense): unknown init kind 6");
    s = spec_parse(100000, LOSS_CROSS_ENTROPY, 1, "dense 100000");
    expect_error(&s, 8, "layer 0 (dense): 100000 x 100000 weights are more than 2147483647");
    s = spec_parse(100000, LOSS_CROSS_ENTROPY, 1, "dense 10");
    expect_error(&s, 100000, "max batch 100000 x width 100000 is more than 2147483647 values");

    /* MSE accepts a single output. */
    s = spec_parse(2, LOSS_MSE, 1, "dense 1");
    struct model *m = model_new(&s, 1, NULL);
    ck_assert_msg(m != NULL, "MSE with 1 output expected a model");
    model_free(m);
    model_free(NULL);
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

START_TEST(test_nn__reserve_grows)
{
    struct model *m = model_parse(3, LOSS_CROSS_ENTROPY, 3, "dense 6, relu, dense 2", 1);
    ck_assert_int_eq(m->max_batch, 1);
    float x[40 * 3];
    int32_t labels[40];
    for (int k = 0; k < 40 * 3; k++)
        x[k] = (float)sin(k);
    for (int k = 0; k < 40; k++)
        labels[k] = k % 2;
    struct batch b = {.x = x, .labels = labels, .size = 40};
    struct loss_out lo;
    double big = model_grad(m, &b, &lo);
    ck_assert_msg(m->max_batch >= 40, "forward of 40 rows expected the caches to grow, got %d",
                  m->max_batch);
    /* Row r of a batch gives the same output alone. */
    const float *y40 = m->layers[2].y;
    float row5[2] = {y40[10], y40[11]};
    const float *y1 = model_forward(m, x + 5 * 3, 1);
    ck_assert_msg(fabs(y1[0] - row5[0]) < 1e-6 && fabs(y1[1] - row5[1]) < 1e-6,
                  "row 5 alone expected (%g, %g), got (%g, %g)", (double)row5[0],
                  (double)row5[1], (double)y1[0], (double)y1[1]);
    model_reserve(m, 10);
    ck_assert_msg(m->max_batch >= 40, "reserve must not shrink, got %d", m->max_batch);
    ck_assert_msg(isfinite(big) && lo.data == big, "loss_out.data %g vs returned %g", lo.data,
                  big);
    model_free(m);
}
END_TEST

START_TEST(test_nn__saturating_inputs)
{
    /* Huge pre-activations: sigmoid/tanh saturate without NaN, CE stays finite. */
    struct model *m = model_parse(2, LOSS_CROSS_ENTROPY, 8,
                                  "dense 4 uniform 50, sigmoid, dense 4 uniform 50, tanh, "
                                  "dense 3 uniform 1000", 3);
    float x[6] = {100, -100, -80, 90, 1e3f, -1e3f};
    int32_t labels[3] = {0, 1, 2};
    struct batch b = {.x = x, .labels = labels, .size = 3};
    double loss = model_grad(m, &b, NULL);
    ck_assert_msg(isfinite(loss), "expected a finite loss, got %g", loss);
    for (size_t k = 0; k < m->nparams; k++)
        ck_assert_msg(isfinite(m->grads[k]), "grad[%zu] = %g is not finite", k,
                      (double)m->grads[k]);
    model_free(m);
}
END_TEST

/* ---- end to end: the spiral --------------------------------------------- */

/* CS231n's spiral: K arms of N points, radius 0..1, angle 4k..4(k+1) + noise. */
static void
spiral_make(float *x, int32_t *y, int K, int N, double noise, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++) {
            double rad = (double)i / (N - 1);
            double t = 4.0 * k + 4.0 * i / (N - 1) + noise * rng_normal(&r);
            int row = k * N + i;
            x[2 * row] = (float)(rad * sin(t));
            x[2 * row + 1] = (float)(rad * cos(t));
            y[row] = k;
        }
}

/* model.stop for the test below: true at call stop_at, counting calls. */
struct stop_count {
    int calls, stop_at;
};

static bool
stop_at_call(void *ctx)
{
    struct stop_count *c = ctx;
    return ++c->calls == c->stop_at;
}

START_TEST(test_nn__stop_between_layers)
{
    /* model.stop is polled before every layer of the forward and the
     * backward (and between a dense layer's two halves); the first true
     * return ends the pass at once: no further layer, no further poll.
     * A hook that never stops changes nothing, bit for bit. */
    enum { B = 6 };
    const char *layers = "dense 7, relu, dense 5, batchnorm, tanh, dense 3";
    struct model *m = model_parse(4, LOSS_CROSS_ENTROPY, 3, layers, B);
    struct model *ref = model_parse(4, LOSS_CROSS_ENTROPY, 3, layers, B);
    float x[B * 4];
    int32_t y[B];
    for (int i = 0; i < B * 4; i++)
        x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    for (int i = 0; i < B; i++)
        y[i] = i % 3;
    struct batch b = {.x = x, .labels = y, .size = B};
    struct loss_out lo, lr;
    double want = model_grad(ref, &b, &lr);

    struct stop_count c = {0, 0};
    m->stop = stop_at_call;
    m->stop_ctx = &c;
    ck_assert(model_grad(m, &b, &lo) == want);
    ck_assert(memcmp(m->grads, ref->grads, m->nparams * sizeof(float)) == 0);
    ck_assert_int_eq(lo.correct, lr.correct);
    /* 6 layers, dense+relu fused forward (5 polls); 6 backward polls and
     * one more inside each of the 3 dense layers but the first (no dx). */
    int polls = c.calls;
    ck_assert_int_eq(polls, 5 + 6 + 2);
    for (int k = 1; k <= polls; k++) {
        c = (struct stop_count){0, k};
        double loss = model_grad(m, &b, NULL);
        ck_assert_msg(isnan(loss), "stopped at poll %d: loss %g", k, loss);
        ck_assert_msg(c.calls == k, "stopped at poll %d, polled %d times", k, c.calls);
    }
    /* The forward alone says it was abandoned. */
    c = (struct stop_count){0, 1};
    ck_assert(model_forward(m, x, B) == NULL);
    m->stop = NULL;
    ck_assert(model_forward(m, x, B) != NULL);
    model_free(ref);
    model_free(m);
}
END_TEST

START_TEST(test_nn__spiral_trains)
{
    enum { K = 3, N = 100, STEPS = 3000 };
    float x[K * N * 2];
    int32_t y[K * N];
    spiral_make(x, y, K, N, 0.2, 7);
    struct model *m = model_parse(2, LOSS_CROSS_ENTROPY, 11, "dense 100, relu, dense 3", K * N);
    struct batch b = {.x = x, .labels = y, .size = K * N};
    const double lr = 1.0, l2 = 1e-3;
    struct loss_out lo;
    double first = model_grad(m, &b, &lo);
    ck_assert_msg(fabs(first - log(3.0)) < 0.1, "initial loss expected about ln 3, got %g",
                  first);
    for (int s = 0; s < STEPS; s++) {
        model_grad(m, &b, &lo);
        /* plain gradient descent with a small L2 term on the weights */
        for (int t = 0; t < m->ntensors; t++) {
            const struct param_tensor *pt = &m->tensors[t];
            float *p = m->params + pt->offset, *g = m->grads + pt->offset;
            double decay = pt->ndim == 2 ? l2 : 0.0;
            for (size_t k = 0; k < pt->count; k++)
                p[k] -= (float)(lr * (g[k] + decay * p[k]));
        }
    }
    model_forward(m, x, K * N);
    model_loss(m, &b, &lo);
    ck_assert_msg(lo.correct >= 291, "training accuracy expected >= 97%% (291/300), got %d/300 "
                  "(loss %g)", lo.correct, lo.data);
    model_free(m);
}
END_TEST

Suite *nn_suite(void);

Suite *
nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_nn__gradcheck_layers);
    tcase_add_test(core, test_nn__gradcheck_random_shapes);
    tcase_add_test(core, test_nn__gradcheck_losses);
    tcase_add_test(core, test_nn__batchnorm_running_stats);
    tcase_add_test(core, test_nn__dropout_stream);
    tcase_add_test(core, test_nn__stop_between_layers);
    tcase_add_test(core, test_nn__naming);
    tcase_add_test(core, test_nn__image_shapes);
    tcase_add_test(core, test_nn__conv_by_hand);
    tcase_add_test(core, test_nn__maxpool_ties_nan);
    tcase_add_test(core, test_nn__maxpool_paths);
    tcase_add_test(core, test_nn__conv_taps_paths);
    tcase_add_test(core, test_nn__init_statistics);
    tcase_add_test(core, test_nn__init_deterministic);
    tcase_add_test(core, test_nn__spiral_trains);
    tcase_set_timeout(core, 60);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_nn__cross_entropy_stable);
    tcase_add_test(limits, test_nn__reserve_grows);
    tcase_add_test(limits, test_nn__saturating_inputs);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_nn__errors);
    tcase_add_test(errors, test_nn__image_errors);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(nn_suite());
}
