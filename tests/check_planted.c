/*
 * check_planted.c - the gradient check against known bugs.  In every build
 * it checks that the clean engine passes every tensor on every shipped
 * config's model; in a build configured with --enable-fault-injection it
 * also plants one bug at a time in a backward pass and asserts that the
 * check fails exactly the tensors that bug corrupts.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "nntop/cfg.h"
#include "nntop/data.h"
#include "nntop/gradcheck.h"
#include "nntop/nn.h"
#include "nntop/xmem.h"

/* Names of the tensors (and "input") a check failed, comma-separated. */
static void
failed_names(const struct tm_gradcheck *r, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < r->ntensors; i++) {
        if (r->t[i].verdict != TM_GC_FAIL)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", n > 0 ? "," : "", r->t[i].name);
    }
}

static void
table_to_stderr(const struct tm_gradcheck *r)
{
    for (int i = 0; i < r->ntensors; i++)
        fprintf(stderr,
                "  %-10s checked %4d compared %4d kinks %d zero %d tiny %d max rel %.2e "
                "err/bound %.2e %s\n",
                r->t[i].name, r->t[i].checked, r->t[i].compared, r->t[i].kinks, r->t[i].zero,
                r->t[i].tiny, (double)r->t[i].max_rel, (double)r->t[i].max_excess,
                tm_gc_verdict_name(r->t[i].verdict));
}

static const char *const shipped[] = {
    "spiral.yaml", "xor.yaml", "blobs.yaml", "csv-example.yaml", "fashion-mnist.yaml",
};

START_TEST(test_planted__clean_shipped_configs)
{
    const char *name = shipped[_i];
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/%s", top != NULL ? top : ".", name);
    struct cfg *c = xcalloc(1, sizeof *c);
    struct cfg_errs errs = {0};
    cfg_defaults(c);
    ck_assert_msg(cfg_load_file(c, path, &errs) == 0, "%s does not load", path);
    cfg_errs_fini(&errs);
    if (c->data.source == DATA_IDX && access(c->data.train_images, R_OK) != 0) {
        check_skip("%s: %s is not installed", name, c->data.train_images);
        free(c);
        return;
    }
    struct data d;
    char *cause = NULL;
    ck_assert_msg(data_load(&d, &c->data, c->seed, &cause) == 0, "%s: %s", name, cause);
    c->model.in = d.d;
    c->model.seed = c->seed;
    struct model *m = model_new(&c->model, 8, &cause);
    ck_assert_msg(m != NULL, "%s: %s", name, cause);
    float *x = xmalloc((size_t)8 * d.d * sizeof *x);
    int32_t y[8];
    long pos[8];
    int B = d.train.n < 8 ? (int)d.train.n : 8;
    for (int k = 0; k < B; k++)
        pos[k] = k;
    data_gather(&d, &d.train, pos, B, x, y);
    struct batch b = {.x = x, .labels = y, .size = B};
    struct gradcheck_opts o = {.samples = 8, .per_tensor = c->gradcheck.per_tensor, .seed = 1};
    struct tm_gradcheck r;
    gradcheck_run(&r, m, &b, &o);
    char bad[512];
    failed_names(&r, bad, sizeof bad);
    if (r.verdict != TM_GC_PASS)
        table_to_stderr(&r);
    ck_assert_msg(r.verdict == TM_GC_PASS, "%s: clean engine: %s (failed: [%s])", name,
                  tm_gc_verdict_name(r.verdict), bad);
    printf("%s: gradient check passed on %d tensors in %.2f s\n", name, r.ntensors,
           (double)r.seconds);
    free(x);
    model_free(m);
    data_fini(&d);
    free(c);
}
END_TEST

#ifdef NNTOP_FAULT_INJECTION

/*
 * The model every planted bug is tried on:
 *   0 dense 3->6 (init normal:1.5, so tanh works away from 0),
 *   1 tanh, 2 dense 6->5, 3 batchnorm, 4 relu, 5 dense 5->4.
 */
static struct model *
planted_model(void)
{
    struct model_spec s = {.in = 3, .nlayers = 6, .loss = LOSS_CROSS_ENTROPY, .seed = 7};
    s.layers[0] = (struct layer_spec){.kind = LAYER_DENSE, .units = 6, .init = INIT_NORMAL,
                                      .init_arg = 1.5f};
    s.layers[1] = (struct layer_spec){.kind = LAYER_TANH};
    s.layers[2] = (struct layer_spec){.kind = LAYER_DENSE, .units = 5};
    s.layers[3] = (struct layer_spec){.kind = LAYER_BATCHNORM};
    s.layers[4] = (struct layer_spec){.kind = LAYER_RELU};
    s.layers[5] = (struct layer_spec){.kind = LAYER_DENSE, .units = 4};
    char *cause = NULL;
    struct model *m = model_new(&s, 8, &cause);
    ck_assert_msg(m != NULL, "planted model: %s", cause);
    /* Batch norm with gamma away from 1 and beta away from 0 makes every term count. */
    int g = model_find_tensor(m, "3.weight"), be = model_find_tensor(m, "3.bias");
    for (int j = 0; j < 5; j++) {
        m->params[m->tensors[g].offset + j] = 0.5f + 0.3f * (float)j;
        m->params[m->tensors[be].offset + j] = 0.2f * (float)j - 0.3f;
    }
    return m;
}

struct planted_case {
    enum nn_fault_kind kind;
    int layer;
    const char *fails;      /* exactly these tensors must fail */
};

/*
 * A bug in a parameter gradient fails that tensor alone; a bug in a
 * layer's dX (or in the loss gradient) fails every tensor below it, and
 * the input: the deepest failing layer sits right under the broken one.
 * One exception is exact, not luck: 2.bias feeds a batch norm, whose
 * (correct) backward makes that gradient 0 whatever arrives from above,
 * so only a bug in the batch norm itself can make 2.bias fail.
 */
static const struct planted_case planted_cases[] = {
    {NN_FAULT_RELU_MASK, 4, "0.weight,0.bias,2.weight,3.weight,3.bias,input"},
    {NN_FAULT_DENSE_WEIGHT_T, 2, "2.weight"},
    {NN_FAULT_DENSE_BIAS_SUM, 5, "5.bias"},
    {NN_FAULT_BN_MEAN, 3, "0.weight,0.bias,2.weight,2.bias,input"},
    {NN_FAULT_CE_SCALE, -1, "0.weight,0.bias,2.weight,3.weight,3.bias,5.weight,5.bias,input"},
    {NN_FAULT_TANH_AT_OUTPUT, 1, "0.weight,0.bias,input"},
    /* a dX that mixes samples: wrong below the layer, its own dW and db right */
    {NN_FAULT_BATCH_MIX, 2, "0.weight,0.bias,input"},
};

/*
 * The image model the conv and pool bugs are tried on, on 2x6x6 inputs:
 *   0 conv2d 2->3 3x3 p1 (6x6), 1 tanh, 2 maxpool 2x2 (3x3),
 *   3 conv2d 3->4 2x2 (2x2), 4 tanh, 5 avgpool 2x2 s1 (1x1), 6 flatten,
 *   7 dense 4->3.
 */
static struct model *
planted_image_model(void)
{
    struct model_spec s = {.in = 72, .in_c = 2, .in_h = 6, .in_w = 6, .nlayers = 8,
                           .loss = LOSS_CROSS_ENTROPY, .seed = 11};
    s.layers[0] = (struct layer_spec){.kind = LAYER_CONV2D, .units = 3, .kernel = 3,
                                      .stride = 1, .padding = 1, .init = INIT_NORMAL,
                                      .init_arg = 0.5f};
    s.layers[1] = (struct layer_spec){.kind = LAYER_TANH};
    s.layers[2] = (struct layer_spec){.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2};
    s.layers[3] = (struct layer_spec){.kind = LAYER_CONV2D, .units = 4, .kernel = 2,
                                      .stride = 1, .init = INIT_NORMAL, .init_arg = 0.5f};
    s.layers[4] = (struct layer_spec){.kind = LAYER_TANH};
    s.layers[5] = (struct layer_spec){.kind = LAYER_AVGPOOL2D, .kernel = 2, .stride = 1};
    s.layers[6] = (struct layer_spec){.kind = LAYER_FLATTEN};
    s.layers[7] = (struct layer_spec){.kind = LAYER_DENSE, .units = 3};
    char *cause = NULL;
    struct model *m = model_new(&s, 8, &cause);
    ck_assert_msg(m != NULL, "planted image model: %s", cause);
    return m;
}

/* A conv bug in a parameter gradient fails that tensor alone; a pool bug
 * (in dX) fails every tensor below it and the input. */
static const struct planted_case planted_image_cases[] = {
    {NN_FAULT_CONV_WEIGHT_FLIP, 3, "3.weight"},
    {NN_FAULT_CONV_BIAS_FIRST, 0, "0.bias"},
    {NN_FAULT_MAXPOOL_FIRST, 2, "0.weight,0.bias,input"},
    {NN_FAULT_AVGPOOL_SCALE, 5, "0.weight,0.bias,3.weight,3.bias,input"},
};

/*
 * Gradient-check m (taking ownership) on 8 seeded normal rows of in
 * features with labels k % classes: clean it must pass, and with pc's bug
 * planted exactly the tensors pc->fails must fail.
 */
static void
expect_planted_failures(struct model *m, int in, int classes, uint64_t seed,
                        const struct planted_case *pc)
{
    enum { B = 8 };
    float *x = xcalloc((size_t)B * (size_t)in, sizeof *x);
    int32_t y[B];
    struct rng r;
    rng_seed(&r, seed);
    for (int k = 0; k < B * in; k++)
        x[k] = (float)rng_normal(&r);
    for (int k = 0; k < B; k++)
        y[k] = k % classes;
    struct batch b = {.x = x, .labels = y, .size = B};
    struct gradcheck_opts o = {.samples = B, .per_tensor = 1000, .seed = 3};
    struct tm_gradcheck res;

    gradcheck_run(&res, m, &b, &o);
    if (res.verdict != TM_GC_PASS)
        table_to_stderr(&res);
    ck_assert_msg(res.verdict == TM_GC_PASS, "the clean model must pass before a bug is planted");

    nn_fault_plant(pc->kind, pc->layer);
    gradcheck_run(&res, m, &b, &o);
    nn_fault_plant(NN_FAULT_NONE, 0);
    char bad[512];
    failed_names(&res, bad, sizeof bad);
    if (strcmp(bad, pc->fails) != 0)
        table_to_stderr(&res);
    ck_assert_msg(strcmp(bad, pc->fails) == 0, "bug %d in layer %d: expected failures [%s], got [%s]",
                  pc->kind, pc->layer, pc->fails, bad);
    model_free(m);
    free(x);
}

START_TEST(test_planted__image_bugs_fail_their_tensors)
{
    expect_planted_failures(planted_image_model(), 72, 3, 77, &planted_image_cases[_i]);
}
END_TEST

START_TEST(test_planted__each_bug_fails_its_tensors)
{
    expect_planted_failures(planted_model(), 3, 4, 99, &planted_cases[_i]);
}
END_TEST

#endif

static Suite *
planted_suite(void)
{
    Suite *s = suite_create("planted");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_planted__clean_shipped_configs, 0,
                        (int)(sizeof shipped / sizeof shipped[0]));
#ifdef NNTOP_FAULT_INJECTION
    tcase_add_loop_test(tc, test_planted__each_bug_fails_its_tensors, 0,
                        (int)(sizeof planted_cases / sizeof planted_cases[0]));
    tcase_add_loop_test(tc, test_planted__image_bugs_fail_their_tensors, 0,
                        (int)(sizeof planted_image_cases / sizeof planted_image_cases[0]));
#endif
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(planted_suite());
}
