/*
 * check_gradcheck.c - tests of the numerical gradient check on a clean
 * build: every layer kind and both losses pass with every entry checked,
 * the model is left exactly as it was, sampled mode checks per_tensor
 * entries of large tensors, and ReLU kinks are found and counted.  It
 * also prints how long a full check of the demo's 2-100-3 model takes.
 *
 * Not here: checks that a wrong backward FAILS (they need the planted
 * faults of a fault-injection build).  CK_FORK=no runs the tests in one
 * process, for gdb.
 */
#include "config.h"

#include "nntop/gradcheck.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "check_run.h"
#include "nntop/nn.h"
#include "nntop/rng.h"
#include "nntop/xmem.h"

#define ALL_ENTRIES (1 << 30)
#define MAX_B 8

struct fixture {
    struct model *m;
    float x[MAX_B * 128];
    int32_t y[MAX_B];
    float targets[MAX_B * 8];
    struct batch b;
};

/* A model of spec layers (input width in, image shape c x h x w or 0s)
 * and a batch of B seeded rows. */
static void
fixture_init_shaped(struct fixture *f, int in, int c, int h, int w,
                    const struct layer_spec *layers, int n, enum loss_kind loss, int B,
                    uint64_t seed)
{
    struct model_spec spec = {.in = in, .in_c = c, .in_h = h, .in_w = w, .nlayers = n,
                              .loss = loss, .seed = seed};
    memcpy(spec.layers, layers, (size_t)n * sizeof *layers);
    char *cause = NULL;
    f->m = model_new(&spec, MAX_B, &cause);
    ck_assert_msg(f->m != NULL, "model_new: %s", cause ? cause : "?");
    model_set_training(f->m, true);
    struct rng r;
    rng_seed(&r, seed * 7919 + 1);
    ck_assert(in <= 128 && B <= MAX_B && f->m->out <= 8);
    for (int i = 0; i < B * in; i++)
        f->x[i] = (float)rng_normal(&r);
    for (int i = 0; i < B; i++)
        f->y[i] = (int32_t)rng_below(&r, (uint64_t)f->m->out);
    for (int i = 0; i < B * f->m->out; i++)
        f->targets[i] = (float)(rng_uniform(&r) * 2.0 - 1.0);
    f->b = (struct batch){.x = f->x, .labels = f->y, .size = B};
}

/* Check every entry of every tensor and assert a pass. */
static void
check_all(struct fixture *f, const char *what, struct tm_gradcheck *out)
{
    struct gradcheck_opts o = {.samples = f->b.size, .per_tensor = ALL_ENTRIES, .seed = 3};
    gradcheck_run(out, f->m, &f->b, &o);
    const struct model *m = f->m;
    ck_assert_msg(out->ntensors == m->ntensors + 1, "%s: %d result rows for %d tensors + input",
                  what, out->ntensors, m->ntensors);
    ck_assert_int_eq(out->samples, f->b.size);
    for (int t = 0; t < out->ntensors; t++) {
        const struct tm_gc_tensor *g = &out->t[t];
        size_t count = t < m->ntensors ? m->tensors[t].count : (size_t)f->b.size * (size_t)m->in;
        ck_assert_str_eq(g->name, t < m->ntensors ? m->tensors[t].name : "input");
        ck_assert_msg(g->checked == (int)count, "%s %s: %d entries checked of %zu", what,
                      g->name, g->checked, count);
        ck_assert_msg(g->verdict == TM_GC_PASS, "%s %s: not PASS, max rel %.3g (worst [%ld] analytic %.6g numeric "
                      "%.6g)", what, g->name, (double)g->max_rel, g->worst_index,
                      (double)g->worst_analytic, (double)g->worst_numeric);
        /* a typical entry agrees to float32 rounding, unless the true
         * gradient is 0 (a bias feeding a batch norm): then both sides are
         * rounding noise, within the bound */
        ck_assert_msg(g->median_rel < 1e-4f || fabsf(g->worst_numeric) <= g->worst_bound,
                      "%s %s: median rel %.3g", what, g->name, (double)g->median_rel);
        /* the bound is shown, and it explains the disagreement */
        ck_assert_msg(g->worst_bound > 0.0f && g->max_excess <= 1.0f,
                      "%s %s: bound %.3g, err/bound %.3g", what, g->name,
                      (double)g->worst_bound, (double)g->max_excess);
        ck_assert_int_eq(g->failed, 0);
        ck_assert(g->compared > 0);
        ck_assert(g->median_rel <= g->max_rel);
    }
    ck_assert_msg(out->verdict == TM_GC_PASS, "%s: overall %s", what,
                  tm_gc_verdict_name(out->verdict));
}

/* A model of spec layers on flat rows of width in. */
static void
fixture_init(struct fixture *f, int in, const struct layer_spec *layers, int n,
             enum loss_kind loss, int B, uint64_t seed)
{
    fixture_init_shaped(f, in, 0, 0, 0, layers, n, loss, B, seed);
}

#define DENSE(n) {.kind = LAYER_DENSE, .units = (n)}
#define ACT(k) {.kind = (k)}

START_TEST(test_gradcheck__every_layer_kind)
{
    static const struct {
        const char *name;
        int n;
        struct layer_spec layers[5];
        enum loss_kind loss;
    } cases[] = {
        {"dense", 1, {DENSE(3)}, LOSS_CROSS_ENTROPY},
        {"relu", 3, {DENSE(6), ACT(LAYER_RELU), DENSE(3)}, LOSS_CROSS_ENTROPY},
        {"leaky_relu", 3, {DENSE(6), {.kind = LAYER_LEAKY_RELU, .arg = 0.1f}, DENSE(3)},
         LOSS_CROSS_ENTROPY},
        {"tanh", 3, {DENSE(6), ACT(LAYER_TANH), DENSE(3)}, LOSS_CROSS_ENTROPY},
        {"sigmoid", 3, {DENSE(6), ACT(LAYER_SIGMOID), DENSE(3)}, LOSS_CROSS_ENTROPY},
        {"dropout", 4, {DENSE(6), ACT(LAYER_TANH), {.kind = LAYER_DROPOUT, .arg = 0.3f},
                        DENSE(3)}, LOSS_CROSS_ENTROPY},
        /* The dense bias feeding the batch norm has a true gradient of 0:
         * its float32 one is rounding noise that must not fail the check. */
        {"batchnorm", 4, {DENSE(5), ACT(LAYER_BATCHNORM), ACT(LAYER_RELU), DENSE(3)},
         LOSS_CROSS_ENTROPY},
        {"mse", 3, {DENSE(6), ACT(LAYER_TANH), DENSE(3)}, LOSS_MSE},
        {"cross_entropy", 3, {DENSE(6), ACT(LAYER_SIGMOID), DENSE(4)}, LOSS_CROSS_ENTROPY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct fixture f;
        fixture_init(&f, 4, cases[c].layers, cases[c].n, cases[c].loss, 6, 100 + c);
        struct tm_gradcheck *out = xcalloc(1, sizeof *out);
        check_all(&f, cases[c].name, out);
        int kinks = 0;
        for (int t = 0; t < out->ntensors; t++)
            kinks += out->t[t].kinks;
        printf("gradcheck %-13s pass, %d entries, %d kinks\n", cases[c].name,
               (int)f.m->nparams + 6 * 4, kinks);
        free(out);
        model_free(f.m);
    }
}
END_TEST

#define CONV(o, k, s, p) {.kind = LAYER_CONV2D, .units = (o), .kernel = (k), .stride = (s), \
                          .padding = (p)}
#define POOL(kd, k, s, p) {.kind = (kd), .kernel = (k), .stride = (s), .padding = (p)}

START_TEST(test_gradcheck__image_layers)
{
    /* Every image layer on a 2x6x6 input, every entry of every tensor and
     * of the input checked. */
    static const struct {
        const char *name;
        int n;
        struct layer_spec layers[6];
    } cases[] = {
        {"conv2d k3 p1", 4, {CONV(3, 3, 1, 1), ACT(LAYER_TANH), ACT(LAYER_FLATTEN), DENSE(3)}},
        {"conv2d s2 nobias", 4, {{.kind = LAYER_CONV2D, .units = 4, .kernel = 3, .stride = 2,
                                  .no_bias = true},
                                 ACT(LAYER_SIGMOID), ACT(LAYER_FLATTEN), DENSE(3)}},
        {"conv2d 1x1", 4, {CONV(3, 1, 1, 0), ACT(LAYER_TANH), ACT(LAYER_FLATTEN), DENSE(3)}},
        {"maxpool2d 2x2", 5, {CONV(3, 3, 1, 1), ACT(LAYER_TANH), POOL(LAYER_MAXPOOL2D, 2, 0, 0),
                              ACT(LAYER_FLATTEN), DENSE(3)}},
        {"maxpool2d 3 s1 p1", 4, {POOL(LAYER_MAXPOOL2D, 3, 1, 1), CONV(2, 3, 2, 0),
                                  ACT(LAYER_FLATTEN), DENSE(3)}},
        {"avgpool2d 2 s2 p1", 5, {CONV(3, 3, 1, 1), ACT(LAYER_TANH),
                                  POOL(LAYER_AVGPOOL2D, 2, 2, 1), ACT(LAYER_FLATTEN), DENSE(3)}},
        {"global_avgpool", 5, {CONV(4, 3, 1, 1), ACT(LAYER_TANH), ACT(LAYER_GLOBAL_AVGPOOL),
                               ACT(LAYER_FLATTEN), DENSE(3)}},
        {"batchnorm2d", 5, {CONV(3, 3, 1, 1), ACT(LAYER_BATCHNORM2D), ACT(LAYER_TANH),
                            ACT(LAYER_FLATTEN), DENSE(3)}},
        {"dropout2d", 5, {CONV(4, 3, 1, 1), ACT(LAYER_TANH), {.kind = LAYER_DROPOUT2D, .arg = 0.5f},
                          ACT(LAYER_FLATTEN), DENSE(3)}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct fixture f;
        fixture_init_shaped(&f, 72, 2, 6, 6, cases[c].layers, cases[c].n, LOSS_CROSS_ENTROPY, 4,
                            200 + c);
        struct tm_gradcheck *out = xcalloc(1, sizeof *out);
        check_all(&f, cases[c].name, out);
        int kinks = 0;
        for (int t = 0; t < out->ntensors; t++)
            kinks += out->t[t].kinks;
        printf("gradcheck %-18s pass, %zu parameters, %d kinks\n", cases[c].name,
               f.m->nparams, kinks);
        free(out);
        model_free(f.m);
    }
}
END_TEST

START_TEST(test_gradcheck__dropout_masks)
{
    /* With p = 0.3 some units are dropped: their gradients are exactly 0 on
     * both sides, which must count as agreement. */
    struct layer_spec l[] = {DENSE(8), ACT(LAYER_RELU), {.kind = LAYER_DROPOUT, .arg = 0.3f},
                             DENSE(3)};
    struct fixture f;
    fixture_init(&f, 3, l, 4, LOSS_CROSS_ENTROPY, 8, 42);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    check_all(&f, "dropout 0.3", out);
    free(out);
    model_free(f.m);
}
END_TEST

START_TEST(test_gradcheck__mse_targets)
{
    struct layer_spec l[] = {DENSE(5), ACT(LAYER_SIGMOID), DENSE(2)};
    struct fixture f;
    fixture_init(&f, 3, l, 3, LOSS_MSE, 5, 7);
    f.b.labels = NULL;
    f.b.targets = f.targets;
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    check_all(&f, "mse with targets", out);
    free(out);
    model_free(f.m);
}
END_TEST

START_TEST(test_gradcheck__model_untouched)
{
    struct layer_spec l[] = {DENSE(5), ACT(LAYER_BATCHNORM), ACT(LAYER_RELU),
                             {.kind = LAYER_DROPOUT, .arg = 0.3f}, DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 5, LOSS_CROSS_ENTROPY, 6, 11);
    struct model *m = f.m;
    /* Some history: a step's running statistics, a dropout stream moved on,
     * gradients from another batch, eval mode. */
    model_grad(m, &f.b, NULL);
    for (size_t i = 0; i < m->nparams; i++)
        m->grads[i] = (float)i * 0.5f;
    model_set_training(m, false);
    float *params = xmalloc(m->nparams * sizeof(float));
    float *grads = xmalloc(m->nparams * sizeof(float));
    float *state = xmalloc(m->nstate * sizeof(float));
    memcpy(params, m->params, m->nparams * sizeof(float));
    memcpy(grads, m->grads, m->nparams * sizeof(float));
    memcpy(state, m->state, m->nstate * sizeof(float));
    struct rng rng = m->rng_dropout;
    long bn = m->bn_batches;
    ck_assert_int_eq(bn, 1);

    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 6, .per_tensor = ALL_ENTRIES, .seed = 1};
    gradcheck_run(out, m, &f.b, &o);
    ck_assert(out->verdict == TM_GC_PASS);
    ck_assert_msg(memcmp(params, m->params, m->nparams * sizeof(float)) == 0, "params changed");
    ck_assert_msg(memcmp(grads, m->grads, m->nparams * sizeof(float)) == 0, "grads changed");
    ck_assert_msg(memcmp(state, m->state, m->nstate * sizeof(float)) == 0,
                  "batch-norm running statistics changed");
    ck_assert_msg(memcmp(&rng, &m->rng_dropout, sizeof rng) == 0, "dropout stream moved");
    ck_assert_int_eq(m->bn_batches, bn);
    ck_assert_msg(!m->training, "training mode not restored");
    ck_assert_msg(!m->want_dx, "want_dx not restored");

    /* So training goes on exactly as without the check. */
    model_set_training(m, true);
    struct fixture g;
    fixture_init(&g, 4, l, 5, LOSS_CROSS_ENTROPY, 6, 11);
    model_grad(g.m, &g.b, NULL);
    model_grad(m, &f.b, NULL);
    model_grad(g.m, &g.b, NULL);
    ck_assert(memcmp(m->grads, g.m->grads, m->nparams * sizeof(float)) == 0);
    ck_assert(memcmp(m->state, g.m->state, m->nstate * sizeof(float)) == 0);
    free(out);
    free(params);
    free(grads);
    free(state);
    model_free(g.m);
    model_free(m);
}
END_TEST

START_TEST(test_gradcheck__sampled)
{
    /* 4 -> dense 6 -> dense 3: 24, 6, 18, 3 entries and an input of 16. */
    struct layer_spec l[] = {DENSE(6), ACT(LAYER_TANH), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 3, LOSS_CROSS_ENTROPY, 4, 5);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 4, .per_tensor = 5, .seed = 9};
    gradcheck_run(out, f.m, &f.b, &o);
    static const int want[] = {5, 5, 5, 3, 5};
    ck_assert_int_eq(out->ntensors, 5);
    for (int t = 0; t < 5; t++) {
        ck_assert_msg(out->t[t].checked == want[t], "%s: %d checked, expected %d",
                      out->t[t].name, out->t[t].checked, want[t]);
        ck_assert(out->t[t].verdict == TM_GC_PASS);
        ck_assert(out->t[t].worst_index >= 0);
    }
    ck_assert(out->t[0].worst_index < 24 && out->t[4].worst_index < 16);
    ck_assert(out->verdict == TM_GC_PASS);
    /* The same seed samples the same entries. */
    struct tm_gradcheck *again = xcalloc(1, sizeof *again);
    gradcheck_run(again, f.m, &f.b, &o);
    for (int t = 0; t < 5; t++) {
        ck_assert_int_eq(again->t[t].worst_index, out->t[t].worst_index);
        ck_assert(again->t[t].max_rel == out->t[t].max_rel);
    }
    /* Fewer rows than asked for: the batch's. */
    o.samples = 100;
    gradcheck_run(again, f.m, &f.b, &o);
    ck_assert_int_eq(again->samples, 4);
    free(again);
    free(out);
    model_free(f.m);
}
END_TEST

static void *
set_flag(void *arg)
{
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

START_TEST(test_gradcheck__cancel)
{
    /* A quit sets the flag from another thread; the check reads it in its
     * loops (each row of a dense layer's double passes, each entry), so a
     * check cancelled before it starts compares no tensor at all, whatever
     * it was asked for, and leaves the model as it was. */
    struct layer_spec l[] = {DENSE(6), ACT(LAYER_TANH), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 3, LOSS_CROSS_ENTROPY, 4, 5);
    float *before = xmalloc(f.m->nparams * sizeof *before);
    memcpy(before, f.m->params, f.m->nparams * sizeof *before);
    atomic_bool cancel;
    atomic_init(&cancel, false);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, set_flag, &cancel), 0);
    pthread_join(th, NULL);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 4, .per_tensor = ALL_ENTRIES, .seed = 9,
                               .cancel = &cancel};
    gradcheck_run(out, f.m, &f.b, &o);
    ck_assert_int_eq(out->cancelled, 1);
    ck_assert_int_eq(out->verdict, TM_GC_INCONCLUSIVE);
    ck_assert_int_eq(out->ntensors, 0);
    ck_assert(memcmp(before, f.m->params, f.m->nparams * sizeof *before) == 0);
    /* Not cancelled: the same check runs to the end. */
    atomic_store(&cancel, false);
    gradcheck_run(out, f.m, &f.b, &o);
    ck_assert_int_eq(out->cancelled, 0);
    ck_assert_int_eq(out->ntensors, 5);
    ck_assert_int_eq(out->t[0].checked, 24);
    ck_assert(out->verdict == TM_GC_PASS);
    free(out);
    free(before);
    model_free(f.m);
}
END_TEST

/* gradcheck_opts.poll for the test below. */
struct float_stop {
    const struct model *m;
    int stop_at;            /* say stop at this cancellation check (done == -1); 0: never */
    int checks;             /* cancellation checks seen */
    int in_float;           /* of them, inside the float pass (model.stop set) */
    int after;              /* polls of any kind after the one that said stop */
    bool stop_in_float;     /* the stopping check came from inside the float pass */
};

static bool
poll_float_stop(void *ctx, long done, long total)
{
    (void)total;
    struct float_stop *f = ctx;
    if (f->stop_at > 0 && f->checks >= f->stop_at) {
        f->after++;
        return true;
    }
    if (done >= 0)
        return false;
    f->checks++;
    f->in_float += f->m->stop != NULL;
    if (f->checks == f->stop_at) {
        f->stop_in_float = f->m->stop != NULL;
        return true;
    }
    return false;
}

START_TEST(test_gradcheck__cancel_float_pass)
{
    /* The analytic float pass is one batch (batch norm's statistics, the
     * dropout masks), and over 1000 wide rows it is the longest stretch of
     * the check: it polls before each of its layers.  A stop at any of
     * those checks ends the check there: cancelled, no tensor compared, not
     * one poll more, the model as it was; and the verdict of an uncancelled
     * check is unchanged by the polls, bit for bit. */
    struct layer_spec l[] = {DENSE(5), ACT(LAYER_BATCHNORM), ACT(LAYER_RELU),
                             {.kind = LAYER_DROPOUT, .arg = 0.3f}, DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 5, LOSS_CROSS_ENTROPY, 6, 13);
    struct model *m = f.m;
    struct gradcheck_opts o = {.samples = 6, .per_tensor = ALL_ENTRIES, .seed = 9};
    struct tm_gradcheck *plain = xcalloc(1, sizeof *plain);
    gradcheck_run(plain, m, &f.b, &o);
    ck_assert(plain->verdict == TM_GC_PASS);

    struct float_stop fs = {.m = m};
    o.poll = poll_float_stop;
    o.poll_ctx = &fs;
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    gradcheck_run(out, m, &f.b, &o);
    ck_assert_int_eq(out->cancelled, 0);
    ck_assert(memcmp(out->t, plain->t, sizeof out->t) == 0);
    ck_assert_int_eq(out->verdict, plain->verdict);
    /* a check before each of the 5 layers forward and back, at least */
    int nfloat = fs.in_float;
    ck_assert_msg(nfloat >= 2 * m->nlayers, "%d checks in the float pass", nfloat);

    float *params = xmalloc(m->nparams * sizeof *params);
    float *grads = xmalloc(m->nparams * sizeof *grads);
    float *state = xmalloc(m->nstate * sizeof *state);
    memcpy(params, m->params, m->nparams * sizeof *params);
    memcpy(grads, m->grads, m->nparams * sizeof *grads);
    memcpy(state, m->state, m->nstate * sizeof *state);
    struct rng drop = m->rng_dropout;
    long bn = m->bn_batches;
    for (int k = 1; k <= nfloat; k++) {
        fs = (struct float_stop){.m = m, .stop_at = k};
        gradcheck_run(out, m, &f.b, &o);
        ck_assert_msg(fs.stop_in_float, "check %d: not in the float pass", k);
        ck_assert_msg(out->cancelled == 1, "check %d: not cancelled", k);
        ck_assert_int_eq(out->ntensors, 0);
        ck_assert_int_eq(out->verdict, TM_GC_INCONCLUSIVE);
        ck_assert_msg(fs.after == 0, "check %d: polled %d times after the stop", k, fs.after);
        ck_assert(m->stop == NULL);
        ck_assert(memcmp(params, m->params, m->nparams * sizeof *params) == 0);
        ck_assert(memcmp(grads, m->grads, m->nparams * sizeof *grads) == 0);
        ck_assert(memcmp(state, m->state, m->nstate * sizeof *state) == 0);
        ck_assert(memcmp(&drop, &m->rng_dropout, sizeof drop) == 0);
        ck_assert_int_eq(m->bn_batches, bn);
    }
    /* and afterwards the same check still gives the same result */
    fs = (struct float_stop){.m = m};
    gradcheck_run(out, m, &f.b, &o);
    ck_assert(memcmp(out->t, plain->t, sizeof out->t) == 0);
    free(params);
    free(grads);
    free(state);
    free(out);
    free(plain);
    model_free(m);
}
END_TEST

START_TEST(test_gradcheck__kinks_input)
{
    /* A ReLU on the input: each input entry exactly at 0 is a kink. */
    struct layer_spec l[] = {ACT(LAYER_RELU), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 2, LOSS_CROSS_ENTROPY, 4, 21);
    for (int i = 0; i < 16; i++)
        if (fabsf(f.x[i]) < 0.1f)
            f.x[i] = 0.5f;
    f.x[1] = 0.0f;
    f.x[6] = 0.0f;
    f.x[15] = -0.0f;
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 4, .per_tensor = ALL_ENTRIES, .seed = 1};
    gradcheck_run(out, f.m, &f.b, &o);
    ck_assert_int_eq(out->ntensors, 3);
    ck_assert_str_eq(out->t[2].name, "input");
    ck_assert_msg(out->t[2].kinks == 3, "%d kinks at the input, expected 3", out->t[2].kinks);
    ck_assert_int_eq(out->t[2].checked, 16);
    ck_assert_int_eq(out->t[0].kinks, 0);
    ck_assert_int_eq(out->t[1].kinks, 0);
    ck_assert(out->verdict == TM_GC_PASS);
    free(out);
    model_free(f.m);
}
END_TEST

START_TEST(test_gradcheck__kinks_hidden)
{
    /* Hidden unit 0 has zero weights and bias: its pre-activation is
     * exactly 0 in every row, so nudging any of its 4 weights or its bias
     * crosses the kink (the analytic side says 0, a one-sided difference
     * would not). */
    struct layer_spec l[] = {DENSE(5), ACT(LAYER_RELU), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 3, LOSS_CROSS_ENTROPY, 4, 33);
    struct model *m = f.m;
    memset(m->params + m->tensors[0].offset, 0, 4 * sizeof(float));    /* row 0 */
    m->params[m->tensors[1].offset] = 0.0f;
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 4, .per_tensor = ALL_ENTRIES, .seed = 1};
    gradcheck_run(out, m, &f.b, &o);
    ck_assert_msg(out->t[0].kinks == 4, "0.weight: %d kinks, expected 4", out->t[0].kinks);
    ck_assert_msg(out->t[1].kinks == 1, "0.bias: %d kinks, expected 1", out->t[1].kinks);
    ck_assert_int_eq(out->t[2].kinks, 0);
    ck_assert_int_eq(out->t[3].kinks, 0);
    ck_assert_int_eq(out->t[4].kinks, 0);
    ck_assert_msg(out->verdict == TM_GC_PASS, "kinks must not fail the check");
    free(out);
    model_free(m);
}
END_TEST

START_TEST(test_gradcheck__demo_timing)
{
    /* The demo's 2-100-3 model, every entry, 8 samples: the figure only. */
    struct layer_spec l[] = {DENSE(100), ACT(LAYER_RELU), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 2, l, 3, LOSS_CROSS_ENTROPY, 8, 1);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 8, .per_tensor = ALL_ENTRIES, .seed = 1};
    gradcheck_run(out, f.m, &f.b, &o);
    int entries = 0;
    for (int t = 0; t < out->ntensors; t++)
        entries += out->t[t].checked;
    printf("gradcheck timing: 2-100-3, %d entries, 8 samples: %.3f s (%s)\n", entries,
           (double)out->seconds, out->verdict == TM_GC_PASS ? "pass" : "FAIL");
    ck_assert_int_eq(entries, 200 + 100 + 300 + 3 + 16);
    ck_assert(out->verdict == TM_GC_PASS);
    ck_assert(out->seconds >= 0.0f);
    free(out);
    model_free(f.m);
}
END_TEST

/* The per-tensor table on stdout, for the log. */
static void
print_table(const char *what, const struct tm_gradcheck *r)
{
    printf("%s: %s%s%s\n", what, tm_gc_verdict_name(r->verdict),
           r->verdict == TM_GC_INCONCLUSIVE ? ": " : "", tm_gc_reason_text(r->reason));
    for (int i = 0; i < r->ntensors; i++) {
        const struct tm_gc_tensor *t = &r->t[i];
        printf("  %-9s checked %3d compared %3d kinks %3d zero %3d tiny %3d failed %d "
               "bound %.2e err/bound %.2e %s\n",
               t->name, t->checked, t->compared, t->kinks, t->zero, t->tiny, t->failed,
               (double)t->worst_bound, (double)t->max_excess, tm_gc_verdict_name(t->verdict));
    }
}

/* Tensors that failed: none may, on the clean engine. */
static void
assert_no_fail(const char *what, const struct tm_gradcheck *r)
{
    for (int i = 0; i < r->ntensors; i++)
        ck_assert_msg(r->t[i].verdict != TM_GC_FAIL && r->t[i].failed == 0,
                      "%s: %s FAILs (err/bound %.3g, analytic %.6g numeric %.6g bound %.3g)",
                      what, r->t[i].name, (double)r->t[i].max_excess,
                      (double)r->t[i].worst_analytic, (double)r->t[i].worst_numeric,
                      (double)r->t[i].worst_bound);
    ck_assert(r->verdict != TM_GC_FAIL);
}

START_TEST(test_gradcheck__deep_sigmoid)
{
    /* Ten sigmoid layers: the first layers' gradients vanish (about 1e-10
     * here) and are the small sums of many mixed-sign terms, below what
     * float32 can resolve.  The old check called this FAIL (analytic
     * -1.05e-8 vs numeric -1.07e-8); it must say INCONCLUSIVE, name the
     * reason, and still pass the last layers, whose gradients are large. */
    struct layer_spec l[21];
    for (int k = 0; k < 10; k++) {
        l[2 * k] = (struct layer_spec)DENSE(16);
        l[2 * k + 1] = (struct layer_spec)ACT(LAYER_SIGMOID);
    }
    l[20] = (struct layer_spec)DENSE(3);
    struct fixture f;
    fixture_init(&f, 4, l, 21, LOSS_CROSS_ENTROPY, 8, 5);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    struct gradcheck_opts o = {.samples = 8, .per_tensor = 20, .seed = 1};
    gradcheck_run(out, f.m, &f.b, &o);
    print_table("deep sigmoid", out);
    assert_no_fail("deep sigmoid", out);
    ck_assert_int_eq(out->verdict, TM_GC_INCONCLUSIVE);
    ck_assert_int_eq(out->reason, TM_GC_REASON_TINY);
    ck_assert_str_eq(out->t[4].name, "4.weight");
    ck_assert_int_eq(out->t[4].verdict, TM_GC_INCONCLUSIVE);
    ck_assert_int_eq(out->t[4].reason, TM_GC_REASON_TINY);
    ck_assert(out->t[4].tiny > 0);
    ck_assert_str_eq(out->t[20].name, "20.weight");
    ck_assert_int_eq(out->t[20].verdict, TM_GC_PASS);
    ck_assert_int_eq(out->t[21].verdict, TM_GC_PASS);
    free(out);
    model_free(f.m);
}
END_TEST

START_TEST(test_gradcheck__zero_init)
{
    /* All-zero initialisation: the hidden gradients are exactly 0 on both
     * sides (tanh) or every nudge crosses a ReLU kink.  The old check
     * skipped them all and said PASS; nothing was compared, so neither PASS
     * nor FAIL.  The output bias is the one tensor with a real gradient. */
    static const enum layer_kind acts[] = {LAYER_TANH, LAYER_RELU};
    static const int reasons[] = {TM_GC_REASON_ZERO, TM_GC_REASON_KINKS};
    for (int c = 0; c < 2; c++) {
        struct layer_spec l[] = {{.kind = LAYER_DENSE, .units = 8, .init = INIT_ZEROS},
                                 ACT(acts[c]),
                                 {.kind = LAYER_DENSE, .units = 3, .init = INIT_ZEROS}};
        struct fixture f;
        fixture_init(&f, 4, l, 3, LOSS_CROSS_ENTROPY, 8, 9);
        struct tm_gradcheck *out = xcalloc(1, sizeof *out);
        struct gradcheck_opts o = {.samples = 8, .per_tensor = ALL_ENTRIES, .seed = 1};
        gradcheck_run(out, f.m, &f.b, &o);
        const char *what = c == 0 ? "zero init, tanh" : "zero init, relu";
        print_table(what, out);
        assert_no_fail(what, out);
        ck_assert_int_eq(out->verdict, TM_GC_INCONCLUSIVE);
        ck_assert_str_eq(out->t[0].name, "0.weight");
        ck_assert_int_eq(out->t[0].verdict, TM_GC_INCONCLUSIVE);
        ck_assert_msg(out->t[0].reason == reasons[c], "%s: 0.weight reason %d (%s)", what,
                      out->t[0].reason, tm_gc_reason_text(out->t[0].reason));
        ck_assert_int_eq(out->t[0].compared, 0);
        /* 2.weight multiplies hidden outputs that are exactly 0 */
        ck_assert_int_eq(out->t[2].verdict, TM_GC_INCONCLUSIVE);
        ck_assert_int_eq(out->t[2].reason, TM_GC_REASON_ZERO);
        ck_assert_str_eq(out->t[3].name, "2.bias");
        ck_assert_int_eq(out->t[3].verdict, TM_GC_PASS);
        free(out);
        model_free(f.m);
    }
}
END_TEST

START_TEST(test_gradcheck__converged)
{
    /* Train to a loss near 0: softmax outputs within rounding of the
     * labels, so dlogits = p - onehot is the small difference of numbers
     * near 1 and the gradients are far below what float32 resolves next
     * to them.  The old check called the input FAIL here. */
    struct layer_spec l[] = {DENSE(16), ACT(LAYER_RELU), DENSE(3)};
    struct fixture f;
    fixture_init(&f, 4, l, 3, LOSS_CROSS_ENTROPY, 8, 2);
    struct model *m = f.m;
    struct loss_out lo = {0};
    double loss = 0.0;
    for (int step = 0; step < 20000; step++) {
        loss = model_grad(m, &f.b, &lo);
        for (size_t i = 0; i < m->nparams; i++)
            m->params[i] -= 0.5f * m->grads[i];
    }
    ck_assert_msg(loss < 1e-4 && lo.correct == 8, "not converged: loss %.3g, %d of 8", loss,
                  lo.correct);
    struct tm_gradcheck *out = xcalloc(1, sizeof *out);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct gradcheck_opts o = {.samples = 8, .per_tensor = 20, .seed = seed};
        gradcheck_run(out, m, &f.b, &o);
        if (seed == 1)
            print_table("converged", out);
        assert_no_fail("converged", out);
    }
    ck_assert_msg(out->verdict == TM_GC_INCONCLUSIVE || out->verdict == TM_GC_PASS, "%s",
                  tm_gc_verdict_name(out->verdict));
    free(out);
    model_free(m);
}
END_TEST

Suite *
gradcheck_suite(void);

Suite *
gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 60);
    tcase_add_test(core, test_gradcheck__every_layer_kind);
    tcase_add_test(core, test_gradcheck__cancel);
    tcase_add_test(core, test_gradcheck__cancel_float_pass);
    tcase_add_test(core, test_gradcheck__image_layers);
    tcase_add_test(core, test_gradcheck__dropout_masks);
    tcase_add_test(core, test_gradcheck__mse_targets);
    tcase_add_test(core, test_gradcheck__model_untouched);
    tcase_add_test(core, test_gradcheck__sampled);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, test_gradcheck__kinks_input);
    tcase_add_test(limits, test_gradcheck__kinks_hidden);
    tcase_add_test(limits, test_gradcheck__demo_timing);
    tcase_add_test(limits, test_gradcheck__deep_sigmoid);
    tcase_add_test(limits, test_gradcheck__zero_init);
    tcase_add_test(limits, test_gradcheck__converged);
    suite_add_tcase(s, limits);
    return s;
}

int
main(void)
{
    return check_run(gradcheck_suite());
}
