/*
 * check_team.c - a batch split across threads (model_team_*), by rows and
 * by features, against the same batch on one thread: the same
 * activations, dlogits, gradients and loss up to rounding;
 * bit-identical runs for the same seed, thread count and split; the models that
 * must not be split (batch norm, dropout) left to model_grad() exactly; odd
 * and tiny batches.  It does not time anything.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/blas.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/rng.h"
#include "nntop/xmem.h"

/* The split a dense model gets where it could be split by features: a
 * build with planted bugs keeps every model to the row split (team.c). */
#ifdef NNTOP_FAULT_INJECTION
#define SPLIT_FEATURES_HERE TEAM_SPLIT_ROWS
#else
#define SPLIT_FEATURES_HERE TEAM_SPLIT_FEATURES
#endif

enum { IN = 13, CLASSES = 5, ROWS = 67 };

/* dense 31, <act>, dense 17, <act2>, dense CLASSES; extra is appended after the first act. */
static struct model *
make_model(enum loss_kind loss, enum layer_kind act, enum layer_kind extra, uint64_t seed)
{
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = IN;
    s.loss = loss;
    s.seed = seed;
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_DENSE, .units = 31};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = act, .arg = 0.1f};
    if (extra != LAYER_KIND_COUNT)
        s.layers[s.nlayers++] = (struct layer_spec){.kind = extra, .arg = 0.25f};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_DENSE, .units = 17};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_TANH};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_DENSE, .units = CLASSES};
    char *cause = NULL;
    struct model *m = model_new(&s, ROWS, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause ? cause : "?");
    return m;
}

struct data {
    float x[ROWS * IN];
    int32_t labels[ROWS];
    float targets[ROWS * CLASSES];
};

static void
make_data(struct data *d, uint64_t seed)
{
    struct rng r;
    rng_seed_for(&r, seed, RNG_DATA);
    for (int i = 0; i < ROWS * IN; i++)
        d->x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    for (int i = 0; i < ROWS; i++)
        d->labels[i] = (int32_t)rng_below(&r, CLASSES);
    for (int i = 0; i < ROWS * CLASSES; i++)
        d->targets[i] = (float)rng_normal(&r);
}

/* Largest |a - b| / (1 + |b|) over n entries. */
static double
max_rel(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

/* One batch of B rows through a team of n split so and through model_grad on a twin. */
static void
compare_split_as(enum loss_kind loss, enum layer_kind act, int n, int B, enum team_split split_as)
{
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 3);
    struct model *one = make_model(loss, act, LAYER_KIND_COUNT, 9);
    struct model *split = make_model(loss, act, LAYER_KIND_COUNT, 9);
    struct model_team *t = model_team_new(split, n);
    ck_assert_int_eq(model_team_size(t), n);
    ck_assert_int_eq(blas_get_threads(), 1);
    model_team_set_split(t, split_as);
    ck_assert_int_eq(model_team_split_for(t, B),
                     split_as == TEAM_SPLIT_FEATURES ? SPLIT_FEATURES_HERE : split_as);
    struct batch b = {.x = d->x, .labels = d->labels,
                      .targets = loss == LOSS_MSE ? d->targets : NULL, .size = B};
    struct loss_out lo1, lo2;
    double l1 = model_grad(one, &b, &lo1);
    struct team_sums sums = {.params = true};
    double l2 = model_team_grad(t, &b, &lo2, &sums);
    ck_assert_msg(fabs(l1 - l2) <= 1e-6 * (1.0 + fabs(l1)), "n %d B %d: loss %.17g vs %.17g",
                  n, B, l2, l1);
    ck_assert_double_eq(lo2.data, l2);
    ck_assert_int_eq(lo1.correct, lo2.correct);
    ck_assert_int_eq(split->batch, B);
    ck_assert_ptr_eq(split->x, d->x);
    /* Every row of every cache and of dlogits is filled as on one thread
     * (OpenBLAS may round a product of fewer rows differently, by an ulp). */
    for (int i = 0; i < one->nlayers; i++) {
        size_t cnt = (size_t)B * (size_t)one->layers[i].out;
        double e = max_rel(split->layers[i].y, one->layers[i].y, cnt);
        ck_assert_msg(e < 1e-5, "n %d B %d: layer %d output differs by %g", n, B, i, e);
    }
    double e = max_rel(split->dlogits, one->dlogits, (size_t)B * CLASSES);
    ck_assert_msg(e < 1e-5, "n %d B %d: dlogits differ by %g", n, B, e);
    double gd = max_rel(split->grads, one->grads, one->nparams);
    ck_assert_msg(gd < 1e-5, "n %d B %d: gradients differ by %g", n, B, gd);
    /* The norms taken on the team's threads are those of the gradients it left. */
    double g = optim_sum_squares(split->grads, split->nparams);
    double p = optim_sum_squares(split->params, split->nparams);
    ck_assert_msg(fabs(sums.grad_sq - g) <= 1e-12 * g, "n %d B %d: grad_sq %.17g vs %.17g", n,
                  B, sums.grad_sq, g);
    ck_assert_msg(fabs(sums.param_sq - p) <= 1e-12 * p, "n %d B %d: param_sq %.17g vs %.17g",
                  n, B, sums.param_sq, p);
    /* The forward alone gives the same outputs. */
    const float *y = model_team_forward(t, d->x, B);
    e = max_rel(y, one->layers[one->nlayers - 1].y, (size_t)B * CLASSES);
    ck_assert_msg(e < 1e-5, "n %d B %d: model_team_forward output differs by %g", n, B, e);
    model_team_free(t);
    model_free(split);
    model_free(one);
    free(d);
}

static void
compare_split(enum loss_kind loss, enum layer_kind act, int n, int B)
{
    compare_split_as(loss, act, n, B, TEAM_SPLIT_ROWS);
    compare_split_as(loss, act, n, B, TEAM_SPLIT_FEATURES);
}

START_TEST(test_team__matches_one_thread)
{
    static const int batches[] = {ROWS, 64, 33, 3, 2};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        compare_split(LOSS_CROSS_ENTROPY, LAYER_RELU, 2, batches[i]);
        compare_split(LOSS_MSE, LAYER_LEAKY_RELU, 2, batches[i]);
    }
    compare_split(LOSS_CROSS_ENTROPY, LAYER_SIGMOID, 3, ROWS);
    compare_split(LOSS_CROSS_ENTROPY, LAYER_TANH, 3, 33);
    compare_split(LOSS_MSE, LAYER_LEAKY_RELU, 3, 2);
    compare_split(LOSS_CROSS_ENTROPY, LAYER_RELU, 4, 5);
}
END_TEST

/* Train S steps of Adam with a team of n split so; return the final parameters (heap). */
static float *
train(int n, enum team_split split, int S, size_t *count)
{
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 5);
    struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 21);
    struct model_team *t = model_team_new(m, n);
    model_team_set_split(t, split);
    struct optim_spec os = {.kind = OPTIM_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                            .eps = 1e-8};
    struct optim *o = optim_new(&os, m->nparams);
    for (int s = 0; s < S; s++) {
        int B = 16 + s % 40;   /* sizes that cut evenly and unevenly */
        struct batch b = {.x = d->x + (s % 7) * IN, .labels = d->labels + s % 7, .size = B};
        model_team_grad(t, &b, NULL, NULL);
        optim_step(o, m->params, m->grads, os.lr, NULL);
    }
    float *p = xmalloc(m->nparams * sizeof *p);
    memcpy(p, m->params, m->nparams * sizeof *p);
    *count = m->nparams;
    optim_free(o);
    model_team_free(t);
    model_free(m);
    free(d);
    return p;
}

START_TEST(test_team__conv)
{
    /* An image model: conv (its own im2col scratch per part), max pool
     * (argmax cached per row), avg pool, flatten, dense. */
    enum { C = 2, H = 6, W = 6, IMG = C * H * W, CB = 9 };
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = IMG;
    s.in_c = C;
    s.in_h = H;
    s.in_w = W;
    s.loss = LOSS_CROSS_ENTROPY;
    s.seed = 3;
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_CONV2D, .units = 4, .kernel = 3,
                                                .stride = 1, .padding = 1};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_RELU};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_AVGPOOL2D, .kernel = 3, .stride = 1,
                                                .padding = 1};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_FLATTEN};
    s.layers[s.nlayers++] = (struct layer_spec){.kind = LAYER_DENSE, .units = CLASSES};
    char *cause = NULL;
    struct model *one = model_new(&s, CB, &cause);
    ck_assert_msg(one != NULL, "model_new: %s", cause ? cause : "?");
    struct model *two = model_new(&s, CB, NULL);
    struct model_team *t = model_team_new(two, 2);
    ck_assert_int_eq(model_team_size(t), 2);
    model_team_set_split(t, TEAM_SPLIT_FEATURES);
    ck_assert_int_eq(model_team_split_for(t, CB), TEAM_SPLIT_ROWS);
    struct rng r;
    rng_seed(&r, 4);
    float x[CB * IMG];
    int32_t y[CB];
    for (int i = 0; i < CB * IMG; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < CB; i++)
        y[i] = i % CLASSES;
    struct batch b = {.x = x, .labels = y, .size = CB};
    double l1 = model_grad(one, &b, NULL), l2 = model_team_grad(t, &b, NULL, NULL);
    ck_assert_msg(fabs(l1 - l2) < 1e-6, "conv: loss %g vs %g", l2, l1);
    for (int i = 0; i < one->nlayers; i++) {
        double e = max_rel(two->layers[i].y, one->layers[i].y,
                           (size_t)CB * (size_t)one->layers[i].out);
        ck_assert_msg(e < 1e-5, "conv: layer %d output differs by %g", i, e);
    }
    double e = max_rel(two->grads, one->grads, one->nparams);
    ck_assert_msg(e < 1e-5, "conv: gradients differ by %g", e);
    model_team_free(t);
    model_free(two);
    model_free(one);
}
END_TEST

START_TEST(test_team__reproducible)
{
    static const enum team_split splits[] = {TEAM_SPLIT_ROWS, TEAM_SPLIT_FEATURES,
                                             TEAM_SPLIT_AUTO};
    size_t n0;
    float *one = train(1, TEAM_SPLIT_AUTO, 60, &n0);
    for (int n = 2; n <= 3; n++)
        for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
            size_t n1, n2;
            float *a = train(n, splits[k], 60, &n1);
            float *b = train(n, splits[k], 60, &n2);
            ck_assert(n1 == n0 && n2 == n0);
            ck_assert_msg(memcmp(a, b, n1 * sizeof *a) == 0,
                          "two runs of the same seed on %d threads (split %d) differ", n,
                          (int)splits[k]);
            /* Not bit-identical to one thread (OpenBLAS rounds a product of
             * fewer rows or columns differently, and the row split sums its
             * parts), but close. */
            double d = max_rel(a, one, n1);
            ck_assert_msg(d < 1e-3, "%d threads (split %d) drift %g from 1 thread", n,
                          (int)splits[k], d);
            free(a);
            free(b);
        }
    free(one);
}
END_TEST

START_TEST(test_team__split_choice)
{
    /* Auto splits a small batch by features and a large one by rows; a
     * model with a conv layer, or one thread, cannot be split by features. */
    struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 1);
    struct model_team *t = model_team_new(m, 2);
    ck_assert_int_eq(model_team_split_for(t, 32), SPLIT_FEATURES_HERE);
    ck_assert_int_eq(model_team_split_for(t, 64), SPLIT_FEATURES_HERE);
    ck_assert_int_eq(model_team_split_for(t, 65), TEAM_SPLIT_ROWS);
    ck_assert_int_eq(model_team_split_for(t, 512), TEAM_SPLIT_ROWS);
    ck_assert_int_eq(model_team_split_for(t, 1), TEAM_SPLIT_NONE);
    model_team_set_split(t, TEAM_SPLIT_ROWS);
    ck_assert_int_eq(model_team_split_for(t, 32), TEAM_SPLIT_ROWS);
    model_team_set_split(t, TEAM_SPLIT_FEATURES);
    ck_assert_int_eq(model_team_split_for(t, 512), SPLIT_FEATURES_HERE);
    model_team_free(t);
    t = model_team_new(m, 1);
    ck_assert_int_eq(model_team_split_for(t, 32), TEAM_SPLIT_NONE);
    model_team_free(t);
    model_free(m);
}
END_TEST

START_TEST(test_team__optim_ranges)
{
    /* The optimizer split by ranges of the parameters is optim_step bit for bit. */
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 6);
    static const enum optim_kind kinds[] = {OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW};
    for (size_t k = 0; k < 3; k++) {
        struct model *one = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 2);
        struct model *two = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 2);
        struct model_team *t = model_team_new(two, 3);
        struct optim_spec os = {.kind = kinds[k], .lr = 0.05, .momentum = 0.9, .beta1 = 0.9,
                                .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
        struct optim *o1 = optim_new(&os, one->nparams), *o2 = optim_new(&os, two->nparams);
        float *u1 = xalloc_aligned(one->nparams * sizeof(float));
        float *u2 = xalloc_aligned(two->nparams * sizeof(float));
        struct batch b = {.x = d->x, .labels = d->labels, .size = ROWS};
        for (int s = 0; s < 4; s++) {
            model_grad(one, &b, NULL);
            /* the same gradients on both sides, so only the update is compared */
            memcpy(two->grads, one->grads, one->nparams * sizeof(float));
            optim_step(o1, one->params, one->grads, 0.05, u1);
            model_team_optim_step(t, o2, 0.05, u2, NULL);
            ck_assert_msg(memcmp(one->params, two->params, one->nparams * sizeof(float)) == 0,
                          "optimizer %zu step %d: split update differs", k, s);
            ck_assert(memcmp(u1, u2, one->nparams * sizeof(float)) == 0);
        }
        free(u1);
        free(u2);
        optim_free(o1);
        optim_free(o2);
        model_team_free(t);
        model_free(two);
        model_free(one);
    }
    free(d);
}
END_TEST

START_TEST(test_team__sums_and_save)
{
    /* The squared norms taken while summing match one pass over the whole
     * buffer (exactly for one thread); the update saves the parameters it
     * overwrites and says whether they stayed finite. */
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 5);
    for (int n = 1; n <= 3; n++) {
        struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 7);
        struct model_team *t = model_team_new(m, n);
        struct batch b = {.x = d->x, .labels = d->labels, .size = ROWS};
        struct team_sums sums = {.params = true};
        model_team_grad(t, &b, NULL, &sums);
        double g = optim_sum_squares(m->grads, m->nparams);
        double p = optim_sum_squares(m->params, m->nparams);
        ck_assert_msg(fabs(sums.grad_sq - g) <= 1e-12 * g, "n %d: grad_sq %.17g, one pass %.17g",
                      n, sums.grad_sq, g);
        ck_assert_msg(fabs(sums.param_sq - p) <= 1e-12 * p, "n %d: param_sq %.17g vs %.17g", n,
                      sums.param_sq, p);
        if (n == 1)
            ck_assert(sums.grad_sq == g && sums.param_sq == p);
        sums.params = false;
        model_team_grad(t, &b, NULL, &sums);
        ck_assert(sums.param_sq == 0.0);

        struct optim_spec os = {.kind = OPTIM_SGD, .lr = 0.1};
        struct optim *o = optim_new(&os, m->nparams);
        float *before = xmalloc(m->nparams * sizeof(float));
        float *save = xalloc_aligned(m->nparams * sizeof(float));
        memcpy(before, m->params, m->nparams * sizeof(float));
        ck_assert(model_team_optim_step(t, o, 0.1, NULL, save));
        ck_assert(memcmp(save, before, m->nparams * sizeof(float)) == 0);
        ck_assert(memcmp(m->params, before, m->nparams * sizeof(float)) != 0);
        /* a NaN gradient in the last entry (the last member's share) */
        m->grads[m->nparams - 1] = NAN;
        ck_assert_msg(!model_team_optim_step(t, o, 0.1, NULL, NULL), "n %d: NaN not seen", n);
        free(save);
        free(before);
        optim_free(o);
        model_team_free(t);
        model_free(m);
    }
    free(d);
}
END_TEST

START_TEST(test_team__not_split)
{
    /* Batch norm and dropout couple the rows of a batch: the team of 2
     * runs them whole, with OpenBLAS's 2 threads, bit for bit model_grad. */
    static const enum layer_kind coupled[] = {LAYER_BATCHNORM, LAYER_DROPOUT};
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 8);
    for (size_t k = 0; k < 2; k++) {
        struct model *one = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, coupled[k], 4);
        struct model *two = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, coupled[k], 4);
        struct model_team *t = model_team_new(two, 2);
        ck_assert_int_eq(model_team_size(t), 1);
        ck_assert_int_eq(blas_get_threads(), 2);
        struct batch b = {.x = d->x, .labels = d->labels, .size = ROWS};
        for (int s = 0; s < 3; s++) {
            double l1 = model_grad(one, &b, NULL);
            double l2 = model_team_grad(t, &b, NULL, NULL);
            ck_assert(l1 == l2);
            ck_assert(memcmp(one->grads, two->grads, one->nparams * sizeof(float)) == 0);
        }
        model_team_free(t);
        model_free(two);
        model_free(one);
    }
    free(d);
}
END_TEST

START_TEST(test_team__one_row_and_growth)
{
    /* One row cannot be split; a batch larger than the model was built for
     * grows the caches, and the parts follow. */
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 2);
    struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 1);
    model_free(m);
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = IN;
    s.loss = LOSS_CROSS_ENTROPY;
    s.seed = 1;
    s.nlayers = 1;
    s.layers[0] = (struct layer_spec){.kind = LAYER_DENSE, .units = CLASSES};
    m = model_new(&s, 4, NULL);
    struct model *ref = model_new(&s, 4, NULL);
    struct model_team *t = model_team_new(m, 2);
    struct batch b1 = {.x = d->x, .labels = d->labels, .size = 1};
    ck_assert(model_team_grad(t, &b1, NULL, NULL) == model_grad(ref, &b1, NULL));
    ck_assert(memcmp(m->grads, ref->grads, m->nparams * sizeof(float)) == 0);
    struct batch big = {.x = d->x, .labels = d->labels, .size = ROWS};
    double l2 = model_team_grad(t, &big, NULL, NULL), l1 = model_grad(ref, &big, NULL);
    ck_assert_msg(fabs(l1 - l2) < 1e-6, "grown batch: loss %g vs %g", l2, l1);
    ck_assert_msg(max_rel(m->grads, ref->grads, m->nparams) < 1e-5, "grown batch: grads differ");
    model_team_free(t);
    model_free(ref);
    model_free(m);
    free(d);
}
END_TEST

/* What for_mark() records: how often each index ran, and on which threads. */
struct for_seen {
    _Atomic int count[128];
    pthread_t who[128];
};

static void
for_mark(void *ctx, int lo, int hi)
{
    struct for_seen *s = ctx;
    ck_assert(lo < hi);
    for (int j = lo; j < hi; j++) {
        atomic_fetch_add(&s->count[j], 1);
        s->who[j] = pthread_self();
    }
}

START_TEST(test_team__for)
{
    /* model_team_for() runs every index once, the ranges on the team's
     * threads (the caller's first); one thread, or a model that cannot
     * be split, runs it all on the caller's. */
    struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 1);
    struct model *bn = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_BATCHNORM, 1);
    static const int sizes[] = {1, 2, 3, 5, 100, 128};
    for (int n = 1; n <= 4; n++) {
        struct model_team *t = model_team_new(n == 4 ? bn : m, n == 4 ? 2 : n);
        int threads = n == 4 ? 1 : n;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            struct for_seen *s = xcalloc(1, sizeof *s);
            model_team_for(t, sizes[k], for_mark, s);
            int distinct = 0;
            for (int j = 0; j < sizes[k]; j++) {
                ck_assert_msg(atomic_load(&s->count[j]) == 1, "%d threads, %d: index %d ran %d "
                              "times", threads, sizes[k], j, atomic_load(&s->count[j]));
                distinct += j == 0 || !pthread_equal(s->who[j], s->who[j - 1]);
            }
            ck_assert_msg(pthread_equal(s->who[0], pthread_self()), "%d threads, %d: index 0 not "
                          "on the caller", threads, sizes[k]);
            int want = sizes[k] < threads ? sizes[k] : threads;
            ck_assert_msg(distinct == want, "%d threads, %d: %d ranges, expected %d", threads,
                          sizes[k], distinct, want);
            for (int j = sizes[k]; j < 128; j++)
                ck_assert_int_eq(atomic_load(&s->count[j]), 0);
            free(s);
        }
        model_team_for(t, 0, for_mark, NULL);  /* nothing to run: fn is never called */
        model_team_free(t);
    }
    model_free(bn);
    model_free(m);
}
END_TEST

START_TEST(test_team__buffers_returned)
{
    /* Each team keeps an OpenBLAS buffer per thread, once it multiplies,
     * and returns them when freed: OpenBLAS's pool has 2 x MAX_THREADS of
     * them (128 in Debian's build), and 0.3.21 only warns when they run
     * out, so the count is the test. */
    struct data *d = xmalloc(sizeof *d);
    make_data(d, 3);
    struct model *m = make_model(LOSS_CROSS_ENTROPY, LAYER_RELU, LAYER_KIND_COUNT, 5);
    struct batch b = {.x = d->x, .labels = d->labels, .size = ROWS};
    unsigned long calls = blas_kept_calls();
    int held = blas_kept_buffers();
    for (int k = 0; k < 300; k++) {
        struct model_team *t = model_team_new(m, 2);
        model_team_set_split(t, k % 2 ? TEAM_SPLIT_ROWS : TEAM_SPLIT_FEATURES);
        model_team_grad(t, &b, NULL, NULL);
        ck_assert_msg(blas_kept_buffers() == held + 2, "team %d: %d kept buffers, expected %d",
                      k, blas_kept_buffers(), held + 2);
        model_team_free(t);
        ck_assert_msg(blas_kept_buffers() == held, "team %d freed: %d kept buffers, expected "
                      "%d", k, blas_kept_buffers(), held);
    }
    /* The caller's products in the teams were served by its kept buffer. */
    ck_assert_msg(blas_kept_calls() - calls >= 300 * 3, "kept buffer served %lu products",
                  blas_kept_calls() - calls);
    model_free(m);
    free(d);
}
END_TEST

Suite *team_suite(void);

Suite *
team_suite(void)
{
    Suite *s = suite_create("team");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_team__matches_one_thread);
    tcase_add_test(core, test_team__reproducible);
    tcase_add_test(core, test_team__split_choice);
    tcase_add_test(core, test_team__conv);
    tcase_add_test(core, test_team__not_split);
    tcase_add_test(core, test_team__optim_ranges);
    tcase_add_test(core, test_team__sums_and_save);
    tcase_add_test(core, test_team__for);
    tcase_set_timeout(core, 60);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_team__one_row_and_growth);
    tcase_add_test(limits, test_team__buffers_returned);
    suite_add_tcase(s, limits);
    return s;
}

int
main(void)
{
    return check_run(team_suite());
}
