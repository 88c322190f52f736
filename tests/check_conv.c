/*
 * check_conv.c - nntop's image layers against PyTorch's own numbers
 * (tests/data/conv_ref.txt, written by tests/gen_conv_ref.py; the format
 * is described there): for small CNNs with conv2d (padding, stride, with
 * and without bias, 1x1), max and average pooling, batchnorm2d, global
 * average pooling and flatten, the same weights and batch give the same
 * logits, loss, parameter gradients and input gradient, and 20 Adam steps
 * on that batch give the same parameters and batch-norm statistics.
 *
 * Not here: the numerical gradient check of each layer (check_gradcheck)
 * and shape errors (check_nn).  CK_FORK=no runs the tests in one process.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/nn.h"
#include "nntop/optim.h"

#define REF_FILE "conv_ref.txt"
#define REF_MAGIC "nntop-conv-ref 1"

/*
 * Relative tolerance, against the largest magnitude of the compared
 * vector: float32 sums in a different order (im2col + sgemm against
 * PyTorch's kernels) differ by ~1e-7 relative per value; entries near 0
 * keep the absolute error of their larger neighbours.
 */
#define TOL_REL 1e-5


/* The next line must be "tag N v1 .. vN"; returns the heap vector, *n = N. */
static float *
reader_vector(struct check_lines *r, const char *tag, size_t *n)
{
    ck_assert_msg(check_lines_next(r), "%s: expected '%s', got end of file", REF_FILE, tag);
    size_t tlen = strlen(tag);
    ck_assert_msg(strncmp(r->line, tag, tlen) == 0 && r->line[tlen] == ' ',
                  "%s:%ld: expected a '%s' line, got '%.40s'", REF_FILE, r->lineno, tag,
                  r->line);
    char *p = r->line + tlen, *end;
    long count = strtol(p, &end, 10);
    ck_assert_msg(end != p && count >= 0, "%s:%ld: '%s' has no count", REF_FILE, r->lineno,
                  tag);
    p = end;
    float *v = calloc((size_t)count + 1, sizeof *v);
    for (long i = 0; i < count; i++) {
        v[i] = strtof(p, &end);
        ck_assert_msg(end != p, "%s:%ld: '%s' has %ld of %ld numbers", REF_FILE, r->lineno,
                      tag, i, count);
        p = end;
    }
    while (*p == ' ')
        p++;
    ck_assert_msg(*p == '\0', "%s:%ld: '%s' has more than %ld numbers", REF_FILE, r->lineno,
                  tag, count);
    *n = (size_t)count;
    return v;
}

/* One "layer ..." line into l. */
static void
parse_layer_line(struct layer_spec *l, const char *line, long lineno)
{
    char kind[32];
    int a = 0, b = 0, c = 0, d = 0, bias = 1;
    int got = sscanf(line, "layer %31s %d %d %d %d %d", kind, &a, &b, &c, &d, &bias);
    ck_assert_msg(got >= 1, "%s:%ld: bad layer line '%s'", REF_FILE, lineno, line);
    memset(l, 0, sizeof *l);
    int k;
    for (k = 0; k < LAYER_KIND_COUNT; k++)
        if (strcmp(kind, layer_kind_name((enum layer_kind)k)) == 0)
            break;
    ck_assert_msg(k < LAYER_KIND_COUNT, "%s:%ld: unknown layer '%s'", REF_FILE, lineno, kind);
    l->kind = (enum layer_kind)k;
    if (l->kind == LAYER_CONV2D) {
        l->units = a;
        l->kernel = b;
        l->stride = c;
        l->padding = d;
        l->no_bias = bias == 0;
    } else if (l->kind == LAYER_MAXPOOL2D || l->kind == LAYER_AVGPOOL2D) {
        l->kernel = a;
        l->stride = b;
        l->padding = c;
    } else if (l->kind == LAYER_DENSE) {
        l->units = a;
    }
}

/* Largest magnitude of v (n entries). */
static double
abs_max(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/*
 * Compare got with want (n entries) within TOL_REL of want's largest
 * magnitude, or of floor when that is larger.
 */
static void
expect_close(const char *model, const char *what, const float *got, const float *want,
             size_t n, double floor)
{
    double scale = floor, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (e > worst) {
            worst = e;
            at = i;
        }
    }
    double rel = scale > 0.0 ? worst / scale : worst;
    printf("conv parity %-28s %-6s maxdiff %.3g (rel %.3g)\n", model, what, worst, rel);
    ck_assert_msg(rel <= TOL_REL, "%s %s: [%zu] got %.9g, torch %.9g: %.3g relative to %.3g",
                  model, what, at, (double)got[at], (double)want[at], rel, scale);
}

/* Read one model record and run it against nntop. */
static void
run_case(struct check_lines *r)
{
    char name[64];
    int C, H, W, B, nl, steps;
    float lr;
    ck_assert_msg(sscanf(r->line, "model %63s %d %d %d %d %d %f %d", name, &C, &H, &W, &B, &nl,
                         &lr, &steps) == 8,
                  "%s:%ld: bad model line", REF_FILE, r->lineno);
    struct model_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.in = C * H * W;
    spec.in_c = C;
    spec.in_h = H;
    spec.in_w = W;
    spec.nlayers = nl;
    spec.loss = LOSS_CROSS_ENTROPY;
    spec.seed = 1;
    for (int i = 0; i < nl; i++) {
        ck_assert(check_lines_next(r));
        parse_layer_line(&spec.layers[i], r->line, r->lineno);
    }
    size_t np, nx, nlab, nlog, nloss, ng, ndx, nafter, nstate;
    float *params = reader_vector(r, "params", &np);
    float *x = reader_vector(r, "input", &nx);
    float *labf = reader_vector(r, "labels", &nlab);
    float *logits = reader_vector(r, "logits", &nlog);
    ck_assert(check_lines_next(r) && strncmp(r->line, "loss ", 5) == 0);
    float loss_ref = strtof(r->line + 5, NULL);
    (void)nloss;
    float *grads = reader_vector(r, "grads", &ng);
    float *dx = reader_vector(r, "dx", &ndx);
    float *after = reader_vector(r, "after", &nafter);
    float *state = reader_vector(r, "state", &nstate);

    char *cause = NULL;
    struct model *m = model_new(&spec, B, &cause);
    ck_assert_msg(m != NULL, "%s: model_new: %s", name, cause);
    ck_assert_msg(m->nparams == np, "%s: %zu parameters, torch has %zu", name, m->nparams, np);
    ck_assert_msg(m->nstate == nstate, "%s: %zu state values, torch has %zu", name, m->nstate,
                  nstate);
    ck_assert(nx == (size_t)B * spec.in && nlab == (size_t)B && ng == np && nafter == np
              && ndx == nx && nlog == (size_t)B * 3);
    int32_t labels[64];
    for (int i = 0; i < B; i++)
        labels[i] = (int32_t)labf[i];
    memcpy(m->params, params, np * sizeof *params);
    struct batch b = {.x = x, .labels = labels, .size = B};

    model_set_training(m, true);
    m->want_dx = true;
    const float *y = model_forward(m, x, B);
    expect_close(name, "logits", y, logits, nlog, 0.0);
    double loss = model_loss(m, &b, NULL);
    ck_assert_msg(fabs(loss - loss_ref) <= TOL_REL * fabs(loss_ref), "%s: loss %.9g, torch %.9g",
                  name, loss, (double)loss_ref);
    model_backward(m);
    expect_close(name, "grads", m->grads, grads, np, 0.0);
    expect_close(name, "dx", m->dx, dx, ndx, 0.0);
    /* Per tensor too, so a small tensor is not hidden by a large one.  A
     * conv bias feeding a batch norm has a true gradient of 0 and torch's
     * is rounding noise: as in the gradient check, a tensor is judged on
     * the scale of its layer (weight and bias together). */
    for (int t = 0; t < m->ntensors; t++) {
        const struct param_tensor *pt = &m->tensors[t];
        const struct layer *L = &m->layers[pt->layer];
        double lscale = 0.0;
        for (int k = 0; k < 2; k++) {
            int idx = k == 0 ? L->weight : L->bias;
            if (idx >= 0)
                lscale = fmax(lscale, abs_max(grads + m->tensors[idx].offset,
                                              m->tensors[idx].count));
        }
        char what[48];
        snprintf(what, sizeof what, "d%s", pt->name);
        expect_close(name, what, m->grads + pt->offset, grads + pt->offset, pt->count, lscale);
    }

    /* 20 Adam steps from the same start, running statistics reset too. */
    model_init_params(m, 1);
    memcpy(m->params, params, np * sizeof *params);
    m->want_dx = false;
    struct optim_spec os = {.kind = OPTIM_ADAM, .lr = lr, .beta1 = 0.9, .beta2 = 0.999,
                            .eps = 1e-8};
    struct optim *o = optim_new(&os, np);
    for (int s = 0; s < steps; s++) {
        model_grad(m, &b, NULL);
        optim_step(o, m->params, m->grads, lr, NULL);
    }
    expect_close(name, "after", m->params, after, np, 0.0);
    if (nstate > 0)
        expect_close(name, "state", m->state, state, nstate, 0.0);
    optim_free(o);
    model_free(m);
    free(params);
    free(x);
    free(labf);
    free(logits);
    free(grads);
    free(dx);
    free(after);
    free(state);
}

START_TEST(test_conv__torch_parity)
{
    const char *path = check_data_path(REF_FILE);
    struct check_lines r = {.f = fopen(path, "r")};
    ck_assert_msg(r.f != NULL, "cannot open %s (set top_srcdir?)", path);
    ck_assert_msg(check_lines_next(&r) && strcmp(r.line, REF_MAGIC) == 0,
                  "%s: first line should be '%s'", path, REF_MAGIC);
    int cases = 0;
    while (check_lines_next(&r)) {
        ck_assert_msg(strncmp(r.line, "model ", 6) == 0, "%s:%ld: expected a model line",
                      REF_FILE, r.lineno);
        run_case(&r);
        cases++;
    }
    ck_assert_int_eq(cases, 4);
    free(r.line);
    fclose(r.f);
}
END_TEST

Suite *
conv_suite(void);

Suite *
conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 60);
    tcase_add_test(core, test_conv__torch_parity);
    suite_add_tcase(s, core);
    return s;
}

int
main(void)
{
    return check_run(conv_suite());
}
