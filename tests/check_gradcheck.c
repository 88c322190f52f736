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
#include <string.h>

#include "check_run.h"
#include "nntop/nn.h"
#include "nntop/rng.h"
#include "nntop/xmem.h"

#define ALL_ENTRIES (1 << 30)
#define MAX_B 8

struct fixture {
    struct model *m;
    float x[MAX_B * 16];
    int32_t y[MAX_B];
    float targets[MAX_B * 8];
    struct batch b;
};

/* A model of spec layers (input width in) and a batch of B seeded rows. */
static void
fixture_init(struct fixture *f, int in, const struct layer_spec *layers, int n,
             enum loss_kind loss, int B, uint64_t seed)
{
    struct model_spec spec = {.in = in, .nlayers = n, .loss = loss, .seed = seed};
    memcpy(spec.layers, layers, (size_t)n * sizeof *layers);
    char *cause = NULL;
    f->m = model_new(&spec, MAX_B, &cause);
    ck_assert_msg(f->m != NULL, "model_new: %s", cause ? cause : "?");
    model_set_training(f->m, true);
    struct rng r;
    rng_seed(&r, seed * 7919 + 1);
    ck_assert(in <= 16 && B <= MAX_B && f->m->out <= 8);
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
        ck_assert_msg(g->pass, "%s %s: FAIL, max rel %.3g (worst [%ld] analytic %.6g numeric "
                      "%.6g)", what, g->name, (double)g->max_rel, g->worst_index,
                      (double)g->worst_analytic, (double)g->worst_numeric);
        /* a typical entry agrees to float32 rounding */
        ck_assert_msg(g->median_rel < 1e-4f, "%s %s: median rel %.3g", what, g->name,
                      (double)g->median_rel);
        ck_assert(g->median_rel <= g->max_rel);
    }
    ck_assert_msg(out->pass, "%s: overall FAIL", what);
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
    ck_assert(out->pass);
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
        ck_assert(out->t[t].pass);
        ck_assert(out->t[t].worst_index >= 0);
    }
    ck_assert(out->t[0].worst_index < 24 && out->t[4].worst_index < 16);
    ck_assert(out->pass);
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
    ck_assert(out->pass);
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
    ck_assert_msg(out->pass, "kinks must not fail the check");
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
           (double)out->seconds, out->pass ? "pass" : "FAIL");
    ck_assert_int_eq(entries, 200 + 100 + 300 + 3 + 16);
    ck_assert(out->pass);
    ck_assert(out->seconds >= 0.0f);
    free(out);
    model_free(f.m);
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
    suite_add_tcase(s, limits);
    return s;
}

int
main(void)
{
    return check_run(gradcheck_suite());
}
