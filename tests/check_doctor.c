/*
 * check_doctor.c - the doctor's rules on crafted telemetry: a simulated
 * run (a model description, step records, snapshots, evaluations) that
 * is healthy until a test makes one thing wrong.  For each live rule:
 * it is not raised before `patience` judgements, is raised on the
 * patience-th with the right severity, target, value and threshold, is
 * not cleared before patience healthy judgements and is cleared on the
 * patience-th.  The lint and the initial-loss check are judged once;
 * the healthy run raises nothing at all.
 *
 * No trainer, no files: the doctor reads records only.  CK_FORK=no runs
 * the tests in one process, for gdb.
 */
#include "config.h"

#include "nntop/doctor.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/xmem.h"

#define MAXF 512
#define EVERY 10            /* steps between snapshots */
#define WINDOW 100          /* doctor.window in these tests */

struct sim {
    struct doctor_spec spec;
    struct doctor *d;
    struct tm_finding f[MAXF];
    int nf;
    struct tm_info info;
    long step;
    /* what the next steps and snapshot report */
    double loss0;           /* loss at step 1 */
    double decay;           /* loss = floor + (loss0 - floor) * exp(-step / decay) */
    double floor;
    double loss_override;   /* > 0: every step reports this loss */
    double osc;             /* > 0: alternate intervals of loss x (1 +- osc) */
    double noise;           /* > 0: each step's loss x (1 +- noise), signs pseudo-random */
    float acc, lr, gnorm, reg;
    bool clipped;
    struct tm_layer layers[TM_MAX_LAYERS];
    struct tm_tensor tensors[2 * TM_MAX_LAYERS];
};

static void
collect(void *ctx, const struct tm_finding *f)
{
    struct sim *s = ctx;
    ck_assert_int_lt(s->nf, MAXF);
    s->f[s->nf++] = *f;
}

/* dense 4->8, relu, dense 8->3 under cross_entropy, sgd lr 0.1: healthy. */
static void
sim_info_default(struct tm_info *in)
{
    memset(in, 0, sizeof *in);
    snprintf(in->name, sizeof in->name, "sim");
    in->nlayers = 3;
    in->layers[0] = (struct tm_layer_info){.kind = TM_LK_DENSE, .kind_name = "dense", .in = 4, .out = 8, .weight = 0,
                                           .bias = 1};
    in->layers[1] = (struct tm_layer_info){.kind = TM_LK_RELU, .kind_name = "relu", .in = 8, .out = 8, .weight = -1,
                                           .bias = -1};
    in->layers[2] = (struct tm_layer_info){.kind = TM_LK_DENSE, .kind_name = "dense", .in = 8, .out = 3, .weight = 2,
                                           .bias = 3};
    in->ntensors = 4;
    snprintf(in->tensor_names[0], TM_NAME_MAX, "0.weight");
    snprintf(in->tensor_names[1], TM_NAME_MAX, "0.bias");
    snprintf(in->tensor_names[2], TM_NAME_MAX, "2.weight");
    snprintf(in->tensor_names[3], TM_NAME_MAX, "2.bias");
    in->loss_kind = TM_LOSS_CROSS_ENTROPY;
    in->classes = 3;
    in->in_width = 4;
    in->expected_loss = log(3.0);
    in->optim_kind = TM_OPTIM_SGD;
    snprintf(in->optim_name, sizeof in->optim_name, "sgd");
    in->lr = 0.1;
    in->train_n = 1000;
    in->input = (struct tm_input_stats){.have = 1, .features = 4, .rows = 1000,
                                        .mean_feature = 2, .mean = 0.05f, .std_lo_feature = 1,
                                        .std_lo = 0.9f, .std_hi_feature = 3, .std_hi = 1.1f,
                                        .std_median = 1.0f};
}

static struct sim *
sim_new(void)
{
    struct sim *s = xcalloc(1, sizeof *s);
    doctor_spec_defaults(&s->spec);
    s->spec.window = WINDOW;
    sim_info_default(&s->info);
    s->loss0 = log(3.0);
    s->decay = 3000.0;
    s->floor = 0.2;
    s->acc = 0.7f;
    s->lr = 0.1f;
    s->gnorm = 0.5f;
    for (int i = 0; i < 3; i++) {
        struct tm_layer *l = &s->layers[i];
        l->index = i;
        l->act_mean = 0.3f;
        l->act_std = 0.6f;
        l->dead_frac = s->info.layers[i].kind == TM_LK_RELU ? 0.1f : -1.0f;
        l->sat_frac = -1.0f;
    }
    for (int k = 0; k < 4; k++) {
        struct tm_tensor *t = &s->tensors[k];
        t->index = k;
        t->layer = k < 2 ? 0 : 2;
        t->w_norm = 2.0f;
        t->g_norm = 0.2f;
        t->update_norm = 2e-3f;
        t->update_ratio = 1e-3f;
        t->w_min = -1.0f;
        t->w_max = 1.0f;
    }
    return s;
}

static void
sim_start(struct sim *s)
{
    s->d = doctor_new(&s->spec, collect, s);
    struct tm_record *r = xcalloc(1, sizeof *r);
    r->type = TM_INFO;
    r->u.info = s->info;
    doctor_feed(s->d, r);
    free(r);
}

static void
sim_free(struct sim *s)
{
    doctor_free(s->d);
    free(s);
}

static double
sim_loss(const struct sim *s, long step)
{
    double l = s->loss_override > 0.0
                   ? s->loss_override
                   : s->floor + (s->loss0 - s->floor) * exp(-(double)(step - 1) / s->decay);
    if (s->osc > 0.0)
        l *= (step / EVERY) % 2 == 0 ? 1.0 + s->osc : 1.0 - s->osc;
    if (s->noise > 0.0) {
        /* minibatch noise: a fixed hash of the step picks the sign */
        uint64_t h = (uint64_t)step * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 29;
        l *= h & 1 ? 1.0 + s->noise : 1.0 - s->noise;
    }
    return l;
}

/* EVERY steps, then a snapshot of the current layer/tensor stats. */
static void
sim_interval(struct sim *s)
{
    struct tm_record r;
    for (int i = 0; i < EVERY; i++) {
        memset(&r, 0, sizeof r);
        r.type = TM_STEP;
        r.u.step.step = ++s->step;
        r.u.step.loss = (float)sim_loss(s, s->step);
        r.u.step.accuracy = s->acc;
        r.u.step.lr = s->lr;
        r.u.step.grad_norm = s->gnorm;
        r.u.step.reg_loss = s->reg;
        r.u.step.clipped = s->clipped;
        doctor_feed(s->d, &r);
    }
    struct tm_record *big = xcalloc(1, sizeof *big);
    for (int i = 0; i < s->info.nlayers; i++) {
        big->type = TM_LAYER;
        big->u.layer = s->layers[i];
        big->u.layer.step = s->step;
        doctor_feed(s->d, big);
    }
    for (int k = 0; k < s->info.ntensors; k++) {
        big->type = TM_TENSOR;
        big->u.tensor = s->tensors[k];
        big->u.tensor.step = s->step;
        doctor_feed(s->d, big);
    }
    big->type = TM_SNAPSHOT;
    big->u.snapshot.step = s->step;
    big->u.snapshot.nlayers = s->info.nlayers;
    big->u.snapshot.ntensors = s->info.ntensors;
    doctor_feed(s->d, big);
    free(big);
}

static void
sim_run(struct sim *s, int intervals)
{
    for (int i = 0; i < intervals; i++)
        sim_interval(s);
}

static void
sim_eval(struct sim *s, float loss, float acc)
{
    struct tm_record r;
    memset(&r, 0, sizeof r);
    r.type = TM_EVAL;
    r.u.eval.step = s->step;
    r.u.eval.split = TM_SPLIT_VAL;
    r.u.eval.loss = loss;
    r.u.eval.accuracy = acc;
    r.u.eval.n = 100;
    doctor_feed(s->d, &r);
}

/* Findings about rule in state; *last gets the newest. */
static int
count(const struct sim *s, const char *rule, int state, const struct tm_finding **last)
{
    int n = 0;
    for (int i = 0; i < s->nf; i++)
        if (strcmp(s->f[i].rule, rule) == 0 && s->f[i].state == state) {
            n++;
            if (last != NULL)
                *last = &s->f[i];
        }
    return n;
}

/* No raised finding at warning or above, listing any there is. */
static void
assert_no_warnings(const struct sim *s)
{
    for (int i = 0; i < s->nf; i++) {
        char line[1024];
        ck_assert_msg(s->f[i].state != TM_FINDING_RAISED || s->f[i].severity < DOC_WARNING,
                      "unexpected: %s", doctor_format_line(line, sizeof line, &s->f[i], false));
    }
}

static void
assert_nothing_raised(const struct sim *s)
{
    for (int i = 0; i < s->nf; i++) {
        char line[1024];
        ck_assert_msg(s->f[i].state != TM_FINDING_RAISED, "unexpected: %s",
                      doctor_format_line(line, sizeof line, &s->f[i], false));
    }
}

/*
 * The patience cycle: with the run healthy for `warm` intervals, make it
 * bad (bad(s, true)); the rule must not be raised on patience-1
 * snapshots, be raised on the patience-th with severity sev about
 * layer/tensor, then (bad(s, false)) not clear for patience-1 snapshots
 * and clear on the patience-th.
 */
static const struct tm_finding *
cycle(struct sim *s, const char *rule, int warm, void (*bad)(struct sim *, bool), int sev,
      int layer, int tensor)
{
    int p = s->spec.patience;
    sim_run(s, warm);
    ck_assert_msg(count(s, rule, TM_FINDING_RAISED, NULL) == 0, "%s raised while healthy", rule);
    bad(s, true);
    sim_run(s, p - 1);
    ck_assert_msg(count(s, rule, TM_FINDING_RAISED, NULL) == 0,
                  "%s raised before %d snapshots", rule, p);
    long at = s->step + EVERY;
    sim_interval(s);
    const struct tm_finding *f = NULL;
    ck_assert_msg(count(s, rule, TM_FINDING_RAISED, &f) == 1, "%s not raised after %d", rule, p);
    ck_assert_int_eq(f->step, at);
    ck_assert_msg(f->severity == sev, "%s severity %d, expected %d", rule, f->severity, sev);
    ck_assert_int_eq(f->layer, layer);
    ck_assert_int_eq(f->tensor, tensor);
    ck_assert(f->text[0] != '\0');
    ck_assert(f->advice[0] != '\0');
    static struct tm_finding raised;
    raised = *f;
    bad(s, false);
    sim_run(s, p - 1);
    ck_assert_msg(count(s, rule, TM_FINDING_CLEARED, NULL) == 0, "%s cleared too soon", rule);
    sim_interval(s);
    const struct tm_finding *c = NULL;
    ck_assert_msg(count(s, rule, TM_FINDING_CLEARED, &c) == 1, "%s not cleared", rule);
    ck_assert_int_eq(c->raised_step, at);
    ck_assert_int_eq(c->step, at + p * EVERY);
    return &raised;
}

/* ---- the healthy run --------------------------------------------------- */

START_TEST(test_doctor__healthy_raises_nothing)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 100);
    for (int i = 0; i < 10; i++) {
        sim_run(s, 5);
        sim_eval(s, (float)sim_loss(s, s->step) + 0.02f, s->acc - 0.02f);
    }
    assert_nothing_raised(s);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "initial-loss", TM_FINDING_PASSED, &f), 1);
    ck_assert_int_eq(f->step, 1);
    ck_assert_int_eq(f->severity, DOC_OK);
    ck_assert_int_eq(doctor_raised(s->d, DOC_WARNING), 0);
    sim_free(s);
}
END_TEST

/* ---- the lint ------------------------------------------------------------ */

static struct sim *
lint(void (*edit)(struct tm_info *))
{
    struct sim *s = sim_new();
    edit(&s->info);
    sim_start(s);
    return s;
}

static const struct tm_finding *
only(const struct sim *s, const char *rule)
{
    const struct tm_finding *f = NULL;
    ck_assert_msg(count(s, rule, TM_FINDING_RAISED, &f) == 1, "%s not raised once", rule);
    for (int i = 0; i < s->nf; i++)
        ck_assert_msg(strcmp(s->f[i].rule, rule) == 0, "also raised: %s", s->f[i].rule);
    ck_assert_int_eq(f->step, 0);
    return f;
}

static void
edit_no_activation(struct tm_info *in)
{
    in->layers[1] = (struct tm_layer_info){.kind = TM_LK_DROPOUT, .kind_name = "dropout", .in = 8, .out = 8, .arg = 0.2f,
                                           .weight = -1, .bias = -1};
}

START_TEST(test_doctor__lint_missing_activation)
{
    struct sim *s = lint(edit_no_activation);
    const struct tm_finding *f = only(s, "missing-activation");
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert_int_eq(f->layer, 2);
    ck_assert_int_eq(f->stage, 4);
    ck_assert_str_eq(f->text, "layers 0 and 2 are dense with no activation between them");
    sim_free(s);
}
END_TEST

static void
edit_softmax_like(struct tm_info *in)
{
    in->nlayers = 4;
    in->layers[3] = (struct tm_layer_info){.kind = TM_LK_SIGMOID, .kind_name = "sigmoid", .in = 3, .out = 3,
                                           .weight = -1, .bias = -1};
}

START_TEST(test_doctor__lint_activation_before_loss)
{
    struct sim *s = lint(edit_softmax_like);
    const struct tm_finding *f = only(s, "activation-before-loss");
    ck_assert_int_eq(f->layer, 3);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    sim_free(s);
}
END_TEST

static void
edit_wrong_width(struct tm_info *in)
{
    in->classes = 4;
    in->expected_loss = log(4.0);
}

static void
edit_mse_many(struct tm_info *in)
{
    in->loss_kind = TM_LOSS_MSE;
}

START_TEST(test_doctor__lint_loss_output_mismatch)
{
    struct sim *s = lint(edit_wrong_width);
    const struct tm_finding *f = only(s, "loss-output-mismatch");
    ck_assert_int_eq(f->severity, DOC_ERROR);
    ck_assert_int_eq(f->layer, 2);
    ck_assert_str_eq(f->text, "the last dense layer has 3 outputs for 4 classes");
    sim_free(s);
    s = lint(edit_mse_many);
    f = only(s, "loss-output-mismatch");
    ck_assert_int_eq(f->severity, DOC_INFO);
    sim_free(s);
}
END_TEST

static void
edit_dropout_bn(struct tm_info *in)
{
    /* dense, dropout 0.6, batchnorm, relu, dense */
    in->nlayers = 5;
    in->layers[4] = in->layers[2];
    in->layers[1] = (struct tm_layer_info){.kind = TM_LK_DROPOUT, .kind_name = "dropout", .in = 8, .out = 8, .arg = 0.6f,
                                           .weight = -1, .bias = -1};
    in->layers[2] = (struct tm_layer_info){.kind = TM_LK_BATCHNORM, .kind_name = "batchnorm", .in = 8, .out = 8,
                                           .weight = 2, .bias = 3};
    in->layers[3] = (struct tm_layer_info){.kind = TM_LK_RELU, .kind_name = "relu", .in = 8, .out = 8, .weight = -1,
                                           .bias = -1};
    in->layers[4].weight = 4;
    in->layers[4].bias = 5;
    in->ntensors = 6;
    snprintf(in->tensor_names[2], TM_NAME_MAX, "2.weight");
    snprintf(in->tensor_names[3], TM_NAME_MAX, "2.bias");
    snprintf(in->tensor_names[4], TM_NAME_MAX, "4.weight");
    snprintf(in->tensor_names[5], TM_NAME_MAX, "4.bias");
}

START_TEST(test_doctor__lint_dropout)
{
    struct sim *s = lint(edit_dropout_bn);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "dropout-high", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->layer, 1);
    ck_assert(fabs(f->value - 0.6) < 1e-6 && f->threshold == 0.5);
    ck_assert_int_eq(count(s, "dropout-before-batchnorm", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->layer, 1);
    ck_assert_str_eq(f->text, "dropout at layer 1 comes before batch norm at layer 2");
    ck_assert_int_eq(s->nf, 2);
    sim_free(s);
}
END_TEST

static void
edit_adam_high(struct tm_info *in)
{
    in->optim_kind = TM_OPTIM_ADAM;
    snprintf(in->optim_name, sizeof in->optim_name, "adam");
    in->lr = 0.05;
}

static void
edit_sgd_high(struct tm_info *in)
{
    in->lr = 3.0;
}

static void
edit_sgd_one(struct tm_info *in)
{
    in->lr = 1.0;
}

START_TEST(test_doctor__lint_lr)
{
    struct sim *s = lint(edit_adam_high);
    const struct tm_finding *f = only(s, "lr-out-of-range");
    ck_assert_str_eq(f->text, "adam lr 0.05 is above 0.01");
    ck_assert(f->threshold == 1e-2);
    sim_free(s);
    s = lint(edit_sgd_high);
    f = only(s, "lr-out-of-range");
    ck_assert(f->value == 3.0 && f->threshold == 1.0);
    sim_free(s);
    s = lint(edit_sgd_one);     /* the demo's lr 1.0 is in range */
    ck_assert_int_eq(s->nf, 0);
    sim_free(s);
}
END_TEST

static void
edit_raw_pixels(struct tm_info *in)
{
    in->input.mean = 72.9f;
    in->input.mean_feature = 400;
    in->input.std_hi = 110.0f;
    in->input.std_hi_feature = 390;
    in->input.std_median = 80.0f;
}

static void
edit_tiny_inputs(struct tm_info *in)
{
    in->input.std_median = 0.01f;
    in->input.std_lo = 0.001f;
}

START_TEST(test_doctor__lint_inputs)
{
    struct sim *s = lint(edit_raw_pixels);
    const struct tm_finding *f = only(s, "inputs-not-normalized");
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert_int_eq(f->stage, 2);
    ck_assert(strstr(f->text, "feature 400 has mean 72.9") != NULL);
    sim_free(s);
    s = lint(edit_tiny_inputs);
    f = only(s, "inputs-not-normalized");
    ck_assert_int_eq(f->severity, DOC_INFO);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__disable_and_off)
{
    struct sim *s = sim_new();
    edit_raw_pixels(&s->info);
    s->spec.disabled = (uint64_t)1 << doctor_rule_find("inputs-not-normalized");
    sim_start(s);
    ck_assert_int_eq(s->nf, 0);
    sim_free(s);

    s = sim_new();
    edit_raw_pixels(&s->info);
    s->spec.enabled = false;
    s->loss0 = 5.0;
    sim_start(s);
    sim_run(s, 20);
    ck_assert_int_eq(s->nf, 0);
    sim_free(s);
}
END_TEST

/* ---- step 1 ---------------------------------------------------------------- */

static int
initial(double factor, int *state)
{
    struct sim *s = sim_new();
    s->loss0 = log(3.0) * factor;
    sim_start(s);
    sim_interval(s);
    ck_assert_int_ge(s->nf, 1);
    const struct tm_finding *f = &s->f[0];
    ck_assert_str_eq(f->rule, "initial-loss");
    ck_assert_int_eq(f->step, 1);
    int sev = f->severity;
    *state = f->state;
    sim_free(s);
    return sev;
}

START_TEST(test_doctor__initial_loss)
{
    int state;
    ck_assert_int_eq(initial(1.05, &state), DOC_OK);
    ck_assert_int_eq(state, TM_FINDING_PASSED);
    /* The healthy Adam run 11% above ln C: info, not a warning. */
    ck_assert_int_eq(initial(1.11, &state), DOC_INFO);
    ck_assert_int_eq(state, TM_FINDING_RAISED);
    ck_assert_int_eq(initial(0.85, &state), DOC_INFO);
    ck_assert_int_eq(initial(1.6, &state), DOC_WARNING);
    ck_assert_int_eq(initial(0.3, &state), DOC_WARNING);
}
END_TEST

/* ---- live rules ---------------------------------------------------------- */

static void
bad_ratio_high(struct sim *s, bool bad)
{
    s->tensors[0].update_ratio = bad ? 0.3f : 1e-3f;
}

static void
bad_ratio_high_info(struct sim *s, bool bad)
{
    s->tensors[2].update_ratio = bad ? 0.03f : 1e-3f;
}

START_TEST(test_doctor__update_ratio_high)
{
    struct sim *s = sim_new();
    sim_start(s);
    const struct tm_finding *f = cycle(s, "update-ratio-high", 3, bad_ratio_high, DOC_WARNING, 0, 0);
    ck_assert_str_eq(f->tensor_name, "0.weight");
    ck_assert(f->threshold == 0.1);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SCALE_LR);
    ck_assert(f->remedy.value == 0.1);
    ck_assert_str_eq(f->remedy_text, "lr x0.1");
    sim_free(s);
    s = sim_new();
    sim_start(s);
    f = cycle(s, "update-ratio-high", 3, bad_ratio_high_info, DOC_INFO, 2, 2);
    ck_assert(f->threshold == 1e-2);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__update_ratio_high_exemptions)
{
    /* The first steps of a healthy run: large updates, the loss falling fast. */
    struct sim *s = sim_new();
    s->decay = 40.0;
    s->floor = 0.3;
    sim_start(s);
    bad_ratio_high(s, true);
    sim_run(s, 8);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 0);
    /* ... and once the fall slows down, the same ratio is raised. */
    sim_run(s, 30);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 1);
    sim_free(s);

    /* lr 0: no update is too large */
    s = sim_new();
    sim_start(s);
    sim_run(s, 3);
    bad_ratio_high(s, true);
    s->lr = 0.0f;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);

    /* converged: loss below 1 % of the initial (Adam's steps stay lr-sized) */
    s = sim_new();
    sim_start(s);
    s->floor = 1e-3;
    s->decay = 30.0;
    sim_run(s, 40);
    bad_ratio_high(s, true);
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 0);
    ck_assert_int_eq(count(s, "converged", TM_FINDING_RAISED, NULL), 1);
    assert_no_warnings(s);
    sim_free(s);
}
END_TEST

static void
bad_ratio_low(struct sim *s, bool bad)
{
    s->tensors[0].update_ratio = bad ? 1e-6f : 1e-3f;
}

START_TEST(test_doctor__update_ratio_low)
{
    struct sim *s = sim_new();
    sim_start(s);
    const struct tm_finding *f = cycle(s, "update-ratio-low", 3, bad_ratio_low, DOC_WARNING, 0, 0);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SCALE_LR);
    ck_assert(f->remedy.value == 10.0);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__update_ratio_low_exemptions)
{
    /* lr 0 */
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 3);
    bad_ratio_low(s, true);
    s->lr = 0.0f;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);

    /* converged: loss below 1 % of the initial */
    s = sim_new();
    sim_start(s);
    s->floor = 1e-3;
    s->decay = 30.0;
    sim_run(s, 40);
    bad_ratio_low(s, true);
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, NULL), 0);
    ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, NULL), 0);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "converged", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_INFO);
    assert_no_warnings(s);
    sim_free(s);
}
END_TEST

/* A state record, as the trainer publishes at a start or a live lr change. */
static void
sim_state(struct sim *s, double base_lr)
{
    struct tm_record *r = xcalloc(1, sizeof *r);
    r->type = TM_STATE;
    r->u.state.state = TM_RUNNING;
    r->u.state.step = s->step;
    r->u.state.lr = s->lr;
    r->u.state.base_lr = base_lr;
    doctor_feed(s->d, r);
    free(r);
}

/* A cosine run of 4000 steps from lr 0.1; the next snapshots at lr, with ratio r. */
static struct sim *
sim_cosine(void)
{
    struct sim *s = sim_new();
    s->info.sched_kind = TM_SCHED_COSINE;
    s->info.total_steps = 4000;
    sim_start(s);
    sim_state(s, 0.1);
    return s;
}

static void
sim_at(struct sim *s, float lr, float ratio, int intervals)
{
    s->lr = lr;
    s->tensors[0].update_ratio = ratio;
    s->tensors[0].update_norm = ratio * s->tensors[0].w_norm;
    sim_run(s, intervals);
}

/* A cosine run judged at lr with ratio r after step 60: the one update-ratio-low raised. */
static struct sim *
cosine_low_raised(float lr, float ratio, const struct tm_finding **f)
{
    struct sim *s = sim_cosine();
    sim_run(s, 3);
    sim_at(s, lr, ratio, 3);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, f), 1);
    return s;
}

START_TEST(test_doctor__update_ratio_low_schedule)
{
    /* Fashion-MNIST's cosine at step 5990 of 6330: the lr at 0.72 % of its
     * base and 4.weight's ratio 7.3e-6, 1e-3 at the base lr.  Judged mid-run
     * (step 400 of 4000, far from the last 5 %): no finding at all. */
    struct sim *s = sim_cosine();
    sim_run(s, 3);
    sim_at(s, 0.1f * 0.0072f, 7.3e-6f, 10);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, NULL), 0);
    /* ... nor when the step's update is below float32's resolution (here
     * none at all, the lr at 1e-7 of its base, a step decay's tail) */
    sim_at(s, 0.1f * 1e-7f, 0.0f, 10);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, NULL), 0);
    assert_nothing_raised(s);
    sim_free(s);

    /* A base lr too small is a too-small lr anywhere in the schedule: at
     * half the base, a ratio of 3e-6 is 6e-6 at the base lr. */
    const struct tm_finding *f = NULL;
    s = cosine_low_raised(0.05f, 3e-6f, &f);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert_int_eq(f->step, 60);
    ck_assert_msg(fabs(f->value - 6e-6) < 1e-9, "judged %g, expected 6e-6", f->value);
    ck_assert(f->threshold == 1e-5);
    ck_assert_msg(strstr(f->text, "update/weight ratio 3e-06 at lr 50% of its base 0.1: "
                                  "6e-06 at the base lr (threshold 1e-05)") != NULL,
                  "text: %s", f->text);
    sim_free(s);

    /* ... with the measured ratio below float32's resolution: 1e-6 at most,
     * 2e-6 at the base lr */
    s = cosine_low_raised(0.05f, 1e-8f, &f);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert(strstr(f->text, ": at most 2e-06 at the base lr") != NULL);
    sim_free(s);

    /* ... and at 5 % of the base, a ratio of 3e-6 is 6e-5 at the base lr:
     * info (the old rule warned of the raw 3e-6) */
    s = cosine_low_raised(0.005f, 3e-6f, &f);
    ck_assert_int_eq(f->severity, DOC_INFO);
    assert_no_warnings(s);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__update_ratio_low_live_lr)
{
    /* The lr set to 1e-5 by hand mid-cosine (the schedule's lr 0.05 there):
     * the trainer rebases the base to 2e-5, so the ratio of 2e-6 the new lr
     * gives is 4e-6 at the base lr: the lr chosen is too small. */
    struct sim *s = sim_cosine();
    sim_run(s, 3);
    sim_at(s, 0.05f, 1e-3f, 3);
    sim_state(s, 2e-5);
    sim_at(s, 1e-5f, 2e-6f, 3);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert(strstr(f->text, "of its base 2e-05") != NULL);
    sim_free(s);

    /* Raised by hand late in the cosine (lr 1e-3 where the schedule gave
     * 1e-5 from 0.1): the base rebased to 10, and the small ratio the lr
     * decaying from there gives later is the schedule's cut, not a too-small
     * lr. */
    s = sim_cosine();
    sim_run(s, 3);
    sim_state(s, 10.0);
    sim_at(s, 1e-3f, 1e-3f, 3);
    sim_at(s, 1e-5f, 1e-5f, 10);
    ck_assert_int_eq(count(s, "update-ratio-low", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__update_ratio_high_schedule)
{
    /* Too high is judged as measured, not at the base lr: a healthy 2e-3
     * at 1 % of the base (0.2 at the base lr) is not too high ... */
    struct sim *s = sim_cosine();
    s->loss_override = 0.5;         /* flat: not exempt as falling */
    sim_run(s, 3);
    sim_at(s, 0.001f, 2e-3f, 10);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 0);
    /* ... and 0.3 at 10 % of it is, scheduled or not */
    sim_at(s, 0.01f, 0.3f, 3);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert_msg(fabs(f->value - 0.3) < 1e-6, "judged %g", f->value);
    sim_free(s);

    /* ... also in the schedule's last 5 % (from step 3800 of 4000): an lr
     * annealed below its base exempts plateau there, not this */
    s = sim_cosine();
    s->loss_override = 0.5;
    sim_run(s, 380);
    sim_at(s, 0.001f, 0.3f, 3);
    ck_assert_int_eq(count(s, "update-ratio-high", TM_FINDING_RAISED, NULL), 1);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__plateau_annealed)
{
    /* The loss falls until the schedule's last 5 % (step 3800 of 4000),
     * then is flat with the lr below its base: that is the annealing, no
     * plateau.  With doctor.anneal_fraction 0 the same is one. */
    for (int frac0 = 0; frac0 < 2; frac0++) {
        struct sim *s = sim_new();
        if (frac0)
            s->spec.p[DP_ANNEAL_FRACTION] = 0.0;
        s->info.sched_kind = TM_SCHED_COSINE;
        s->info.total_steps = 4000;
        sim_start(s);
        sim_state(s, 0.1);
        sim_run(s, 380);
        ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, NULL), 0);
        s->loss_override = sim_loss(s, s->step);
        s->lr = 0.001f;
        sim_run(s, 19);
        ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, NULL), frac0);
        sim_free(s);
    }
}
END_TEST

static void
bad_not_applied(struct sim *s, bool bad)
{
    s->tensors[1].update_norm = bad ? 0.0f : 2e-3f;
}

START_TEST(test_doctor__updates_not_applied)
{
    struct sim *s = sim_new();
    sim_start(s);
    cycle(s, "updates-not-applied", 3, bad_not_applied, DOC_ERROR, 0, 1);
    sim_free(s);
}
END_TEST

static void
bad_zero_grad(struct sim *s, bool bad)
{
    s->tensors[2].g_norm = bad ? 0.0f : 0.2f;
}

START_TEST(test_doctor__zero_gradient)
{
    struct sim *s = sim_new();
    sim_start(s);
    cycle(s, "zero-gradient", 3, bad_zero_grad, DOC_WARNING, 2, 2);
    /* Nothing else is said about a zero gradient (not "vanishing"). */
    ck_assert_int_eq(count(s, "vanishing-gradients", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

static void
bad_symmetric(struct sim *s, bool bad)
{
    s->tensors[0].w_min = bad ? 0.0f : -1.0f;
    s->tensors[0].w_max = bad ? 0.0f : 1.0f;
    s->tensors[0].w_norm = bad ? 0.0f : 2.0f;
    s->tensors[0].update_ratio = bad ? 0.0f : 1e-3f;
}

START_TEST(test_doctor__symmetric_init)
{
    struct sim *s = sim_new();
    sim_start(s);
    cycle(s, "symmetric-init", 0, bad_symmetric, DOC_WARNING, 0, 0);
    sim_free(s);
    /* The last dense layer may start at zero: nothing to break there. */
    s = sim_new();
    sim_start(s);
    s->tensors[2].w_norm = 0.0f;
    s->tensors[2].w_min = s->tensors[2].w_max = 0.0f;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "symmetric-init", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

static void
bad_vanishing(struct sim *s, bool bad)
{
    s->tensors[0].g_norm = bad ? 1e-5f : 0.2f;
}

static void
bad_vanishing_rms(struct sim *s, bool bad)
{
    s->tensors[2].g_norm = bad ? 1e-7f : 0.2f;
}

START_TEST(test_doctor__vanishing_gradients)
{
    struct sim *s = sim_new();
    sim_start(s);
    const struct tm_finding *f = cycle(s, "vanishing-gradients", 3, bad_vanishing, DOC_WARNING, 0, 0);
    ck_assert(fabs(f->value - 5e-5) < 1e-9);
    ck_assert(f->threshold == 1e-3);
    sim_free(s);
    s = sim_new();
    sim_start(s);
    /* rms = 1e-7 / sqrt(24) */
    f = cycle(s, "vanishing-gradients", 3, bad_vanishing_rms, DOC_WARNING, 2, 2);
    ck_assert(f->threshold == 1e-7);
    sim_free(s);
}
END_TEST

static void
bad_exploding(struct sim *s, bool bad)
{
    s->tensors[2].g_norm = bad ? 1e-3f : 0.2f;
}

static void
bad_growth(struct sim *s, bool bad)
{
    s->gnorm = bad ? 20.0f : 0.5f;
}

START_TEST(test_doctor__exploding_gradients)
{
    struct sim *s = sim_new();
    sim_start(s);
    const struct tm_finding *f = cycle(s, "exploding-gradients", 3, bad_exploding, DOC_WARNING, 0, 0);
    ck_assert(fabs(f->value - 200.0) < 1e-3);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SET_CLIP);
    ck_assert_int_eq(f->remedy.clip_kind, CLIP_NORM);
    ck_assert(f->remedy.value == 1.0);
    sim_free(s);
    /* Growth within the window: global.  It clears once the window's
     * start is the grown norm too, so "healthy" is the grown norm. */
    s = sim_new();
    sim_start(s);
    sim_run(s, 12);
    bad_growth(s, true);
    sim_run(s, 2);
    ck_assert_int_eq(count(s, "exploding-gradients", TM_FINDING_RAISED, NULL), 0);
    sim_interval(s);
    ck_assert_int_eq(count(s, "exploding-gradients", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->layer, -1);
    ck_assert(f->value >= 10.0);
    sim_run(s, 12);
    ck_assert_int_eq(count(s, "exploding-gradients", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
}
END_TEST

static void
bad_dead(struct sim *s, bool bad)
{
    s->layers[1].dead_frac = bad ? 0.83f : 0.1f;
}

static void
bad_dead_info(struct sim *s, bool bad)
{
    s->layers[1].dead_frac = bad ? 0.4f : 0.1f;
}

START_TEST(test_doctor__dead_relu)
{
    struct sim *s = sim_new();
    sim_start(s);
    const struct tm_finding *f = cycle(s, "dead-relu", 3, bad_dead, DOC_WARNING, 1, -1);
    char line[1024];
    doctor_format_line(line, sizeof line, f, true);
    ck_assert_str_eq(line, "WARN step 60 dead-relu layer 1: 83% of units dead (threshold 70%) "
                           "\xe2\x80\x94 lower the lr, use leaky_relu, or init: he with zero bias");
    char json[2048];
    doctor_format_json(json, sizeof json, f);
    ck_assert_msg(strncmp(json, "\"rule\":\"dead-relu\",\"severity\":\"warning\",\"stage\":3,"
                                "\"layer\":1,\"value\":0.83",
                          strlen("\"rule\":\"dead-relu\",\"severity\":\"warning\",\"stage\":3,"
                                 "\"layer\":1,\"value\":0.83")) == 0, "%s", json);
    ck_assert(strstr(json, "\"threshold\":0.7,\"advice\":\"lower the lr") != NULL);
    ck_assert(strstr(json, "\"state\":\"raised\"") != NULL);
    sim_free(s);
    s = sim_new();
    sim_start(s);
    cycle(s, "dead-relu", 3, bad_dead_info, DOC_INFO, 1, -1);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__dead_relu_escalates)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 2);
    bad_dead_info(s, true);
    sim_run(s, 3);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_INFO);
    bad_dead(s, true);
    sim_run(s, 2);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, NULL), 1);
    sim_interval(s);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, &f), 2);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    sim_free(s);
}
END_TEST

static void
edit_tanh(struct tm_info *in)
{
    in->layers[1].kind = TM_LK_TANH;
    snprintf(in->layers[1].kind_name, sizeof in->layers[1].kind_name, "tanh");
}

static void
bad_saturated(struct sim *s, bool bad)
{
    s->layers[1].sat_frac = bad ? 0.8f : 0.05f;
}

START_TEST(test_doctor__saturation)
{
    struct sim *s = sim_new();
    edit_tanh(&s->info);
    s->layers[1].dead_frac = -1.0f;
    s->layers[1].sat_frac = 0.05f;
    sim_start(s);
    cycle(s, "saturation", 3, bad_saturated, DOC_WARNING, 1, -1);
    sim_free(s);
}
END_TEST

static void
bad_scale(struct sim *s, bool bad)
{
    s->layers[1].act_mean = bad ? 40.0f : 0.3f;
}

START_TEST(test_doctor__activation_scale)
{
    struct sim *s = sim_new();
    sim_start(s);
    cycle(s, "activation-scale", 3, bad_scale, DOC_WARNING, 1, -1);
    sim_free(s);
    /* The output layer's scale is the logits': not judged. */
    s = sim_new();
    sim_start(s);
    s->layers[2].act_mean = 40.0f;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "activation-scale", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
    /* A dense layer's pre-activations far below zero (the ReLU after it
     * mostly off) are judged at the ReLU's output, which is small: the
     * shipped CNN's dense 128 (rms 14, its ReLU's 3.7). */
    s = sim_new();
    sim_start(s);
    s->layers[0].act_mean = -13.0f;
    s->layers[0].act_std = 5.0f;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "activation-scale", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

static void
bad_diverge(struct sim *s, bool bad)
{
    s->loss_override = bad ? 50.0 : 0.0;
}

START_TEST(test_doctor__divergence)
{
    struct sim *s = sim_new();
    sim_start(s);
    /* The smoothed loss (over window/10 = 10 steps) is one interval's. */
    const struct tm_finding *f = cycle(s, "divergence", 3, bad_diverge, DOC_ERROR, -1, -1);
    ck_assert(fabs(f->threshold - 10.0 * log(3.0)) < 1e-4);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SCALE_LR);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__nonfinite)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 3);
    struct tm_record r;
    memset(&r, 0, sizeof r);
    r.type = TM_EVENT;
    r.u.event.step = 31;
    r.u.event.kind = TM_EV_NONFINITE;
    r.u.event.severity = 3;
    snprintf(r.u.event.text, sizeof r.u.event.text,
             "step 31: first non-finite value in layer 1 (dense) forward, output");
    doctor_feed(s->d, &r);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "nonfinite", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_ERROR);
    ck_assert_int_eq(f->step, 31);
    ck_assert(strstr(f->text, "layer 1 (dense) forward") != NULL);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_RESTORE);
    /* Finite snapshots afterwards clear it, after patience of them. */
    sim_run(s, 2);
    ck_assert_int_eq(count(s, "nonfinite", TM_FINDING_CLEARED, NULL), 0);
    sim_interval(s);
    ck_assert_int_eq(count(s, "nonfinite", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__plateau)
{
    struct sim *s = sim_new();
    sim_start(s);
    s->decay = 50.0;            /* falls fast, then flat at 0.2 (not converged) */
    s->floor = 0.2;
    sim_run(s, 30);
    ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, NULL), 0);
    s->decay = 1e9;
    s->loss_override = 0.2;
    sim_run(s, 15);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->severity, DOC_WARNING);
    ck_assert_int_eq(f->stage, 4);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SCALE_LR);
    ck_assert(f->remedy.value == 10.0);
    /* the ratio of 1e-3 is not small: the advice says plateau, not lr */
    ck_assert(strstr(f->advice, "plateau") != NULL);
    /* falling again clears it */
    s->loss_override = 0.0;
    s->floor = 0.01;
    s->loss0 = 5.0;
    s->decay = 100.0;
    sim_run(s, 10);
    ck_assert_int_eq(count(s, "plateau", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
    /* a flat loss under minibatch noise far above the threshold: the halves
     * cannot be told apart to 0.1 %, so no plateau is claimed by chance */
    s = sim_new();
    sim_start(s);
    s->loss_override = 0.2;
    s->noise = 0.01;
    sim_run(s, 300);
    ck_assert_int_eq(count(s, "plateau", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

static void
bad_osc(struct sim *s, bool bad)
{
    s->osc = bad ? 0.3 : 0.0;
}

START_TEST(test_doctor__oscillation)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 12);
    bad_osc(s, true);
    sim_run(s, 30);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "oscillation", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->remedy.kind, TM_CMD_SCALE_LR);
    ck_assert(f->remedy.value == 0.1);
    bad_osc(s, false);
    sim_run(s, 30);
    ck_assert_int_eq(count(s, "oscillation", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
    /* noise below oscillation_rise is not oscillation */
    s = sim_new();
    sim_start(s);
    s->osc = 0.04;
    sim_run(s, 50);
    ck_assert_int_eq(count(s, "oscillation", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
    /* minibatch noise: interval means differ by more than oscillation_rise,
     * but not by more than the noise explains */
    s = sim_new();
    sim_start(s);
    s->noise = 0.5;
    sim_run(s, 200);
    ck_assert_int_eq(count(s, "oscillation", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__overfitting)
{
    struct sim *s = sim_new();
    sim_start(s);
    s->acc = 0.8f;
    /* Val loss rising while the training loss falls: three rises need
     * four evaluations, and the condition must hold on 3 (patience):
     * raised on the sixth. */
    float vl = 0.9f;
    for (int i = 0; i < 5; i++) {
        sim_run(s, 2);
        sim_eval(s, vl, 0.78f);
        vl += 0.05f;
    }
    ck_assert_int_eq(count(s, "overfitting", TM_FINDING_RAISED, NULL), 0);
    sim_run(s, 2);
    sim_eval(s, vl, 0.78f);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "overfitting", TM_FINDING_RAISED, &f), 1);
    ck_assert_int_eq(f->stage, 4);
    ck_assert(strstr(f->text, "validation loss rose 3 evaluations") != NULL);
    /* Falling again clears it after patience evaluations. */
    for (int i = 0; i < 3; i++) {
        vl -= 0.1f;
        sim_run(s, 2);
        sim_eval(s, vl, 0.78f);
    }
    ck_assert_int_eq(count(s, "overfitting", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);

    /* The accuracy gap: 0.97 train vs 0.85 val (above 0.9: threshold 0.07). */
    s = sim_new();
    sim_start(s);
    s->acc = 0.97f;
    for (int i = 0; i < 2; i++) {
        sim_run(s, 2);
        sim_eval(s, 0.5f, 0.85f);
    }
    ck_assert_int_eq(count(s, "overfitting", TM_FINDING_RAISED, NULL), 0);
    sim_run(s, 2);
    sim_eval(s, 0.5f, 0.85f);
    ck_assert_int_eq(count(s, "overfitting", TM_FINDING_RAISED, &f), 1);
    ck_assert(fabs(f->threshold - 0.07) < 1e-9);
    sim_free(s);
}
END_TEST

static void
bad_reg(struct sim *s, bool bad)
{
    s->reg = bad ? 3.0f : 0.0f;
}

START_TEST(test_doctor__regularization_dominates)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 12);
    bad_reg(s, true);
    sim_run(s, 12);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "regularization-dominates", TM_FINDING_RAISED, &f), 1);
    ck_assert(f->value > 1.0);
    bad_reg(s, false);
    sim_run(s, 15);
    ck_assert_int_eq(count(s, "regularization-dominates", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
}
END_TEST

static void
bad_clip(struct sim *s, bool bad)
{
    s->clipped = bad;
}

START_TEST(test_doctor__clipping_frequent)
{
    struct sim *s = sim_new();
    sim_start(s);
    sim_run(s, 12);
    bad_clip(s, true);
    /* more than half of the last 100 steps: from the 6th interval on */
    sim_run(s, 5 + 2);
    ck_assert_int_eq(count(s, "clipping-frequent", TM_FINDING_RAISED, NULL), 0);
    sim_interval(s);
    ck_assert_int_eq(count(s, "clipping-frequent", TM_FINDING_RAISED, NULL), 1);
    bad_clip(s, false);
    sim_run(s, 15);
    ck_assert_int_eq(count(s, "clipping-frequent", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__converged_by_accuracy)
{
    struct sim *s = sim_new();
    sim_start(s);
    s->acc = 1.0f;
    sim_run(s, 12);
    const struct tm_finding *f = NULL;
    ck_assert_int_eq(count(s, "converged", TM_FINDING_RAISED, &f), 1);
    ck_assert(strstr(f->text, "training accuracy 100%") != NULL);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__patience_setting)
{
    struct sim *s = sim_new();
    s->spec.patience = 1;
    sim_start(s);
    sim_run(s, 2);
    bad_dead(s, true);
    sim_interval(s);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, NULL), 1);
    bad_dead(s, false);
    sim_interval(s);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_CLEARED, NULL), 1);
    sim_free(s);
}
END_TEST

START_TEST(test_doctor__deterministic)
{
    /* The same records give the same findings, byte for byte. */
    struct sim *a = sim_new(), *b = sim_new();
    a->osc = b->osc = 0.3;
    sim_start(a);
    sim_start(b);
    sim_run(a, 40);
    sim_run(b, 40);
    ck_assert_int_gt(a->nf, 1);
    ck_assert_int_eq(a->nf, b->nf);
    ck_assert(memcmp(a->f, b->f, (size_t)a->nf * sizeof a->f[0]) == 0);
    sim_free(a);
    sim_free(b);
}
END_TEST

/* ---- tables and text ------------------------------------------------------ */

START_TEST(test_doctor__tables)
{
    for (int i = 0; i < DR_COUNT; i++) {
        const struct doctor_rule *r = doctor_rule_at(i);
        ck_assert_msg(r != NULL && r->id != NULL, "rule %d has no id", i);
        ck_assert_int_eq(doctor_rule_find(r->id), i);
        ck_assert(r->stage >= 1 && r->stage <= 5);
        ck_assert(r->checks != NULL && r->advice != NULL && r->source != NULL);
    }
    ck_assert_int_eq(doctor_rule_find("no-such-rule"), -1);
    ck_assert_ptr_null(doctor_rule_at(DR_COUNT));
    struct doctor_spec sp;
    doctor_spec_defaults(&sp);
    ck_assert(sp.enabled && sp.patience == 3 && sp.window == 500 && sp.disabled == 0);
    for (int i = 0; i < DP_COUNT; i++) {
        const struct doctor_param_info *p = doctor_param_at(i);
        ck_assert_msg(p != NULL && p->name != NULL, "param %d has no name", i);
        ck_assert(sp.p[i] == p->def && p->def >= p->lo && p->def <= p->hi);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(p->name, doctor_param_at(j)->name);
    }
    ck_assert(sp.p[DP_DEAD_WARNING] == 0.7 && sp.p[DP_EXPLODING_RATIO] == 70.0);
}
END_TEST

START_TEST(test_doctor__tally)
{
    struct doctor_tally t;
    doctor_tally_init(&t);
    struct tm_finding f = {0};
    snprintf(f.rule, sizeof f.rule, "dead-relu");
    f.severity = DOC_WARNING;
    doctor_tally_add(&t, &f);
    doctor_tally_add(&t, &f);
    f.state = TM_FINDING_CLEARED;
    doctor_tally_add(&t, &f);
    f.state = TM_FINDING_RAISED;
    snprintf(f.rule, sizeof f.rule, "converged");
    f.severity = DOC_INFO;
    doctor_tally_add(&t, &f);
    ck_assert_int_eq(t.max_severity, DOC_WARNING);
    char buf[512] = "";
    FILE *fp = fmemopen(buf, sizeof buf, "w");
    doctor_tally_print(&t, fp);
    fclose(fp);
    ck_assert_str_eq(buf, "doctor: 2 warnings, 1 info (dead-relu 2 warnings, converged 1 info)\n");
    doctor_tally_init(&t);
    fp = fmemopen(buf, sizeof buf, "w");
    doctor_tally_print(&t, fp);
    fclose(fp);
    ck_assert_str_eq(buf, "doctor: no findings\n");
}
END_TEST

/* roff spelling of a text: '-' is written '\-'. */
static void
roff_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 3 < len; s++) {
        if (*s == '-')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* A relu on an image: its fraction counts filters, judged by dead-filters, never dead-relu. */
static void
bad_dead_filters(struct sim *s, bool bad)
{
    s->layers[1].dead_frac = bad ? 0.625f : 0.1f;
}

static void
bad_dead_filters_info(struct sim *s, bool bad)
{
    s->layers[1].dead_frac = bad ? 0.3f : 0.1f;
}

START_TEST(test_doctor__dead_filters)
{
    struct sim *s = sim_new();
    s->info.layers[1].flags |= TM_LAYER_HAS_DEAD | TM_LAYER_DEAD_FILTERS;
    sim_start(s);
    const struct tm_finding *f = cycle(s, "dead-filters", 3, bad_dead_filters, DOC_WARNING, 1, -1);
    ck_assert_str_eq(f->text, "62% of filters dead (threshold 50%)");
    ck_assert_msg(f->threshold == 0.5, "threshold %g", f->threshold);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
    s = sim_new();
    s->info.layers[1].flags |= TM_LAYER_HAS_DEAD | TM_LAYER_DEAD_FILTERS;
    sim_start(s);
    cycle(s, "dead-filters", 3, bad_dead_filters_info, DOC_INFO, 1, -1);
    ck_assert_int_eq(count(s, "dead-relu", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
    /* The thresholds are doctor.dead_filters_*: at 0.7 the same 62% is info only. */
    s = sim_new();
    s->info.layers[1].flags |= TM_LAYER_HAS_DEAD | TM_LAYER_DEAD_FILTERS;
    s->spec.p[DP_DEAD_FILTERS_WARNING] = 0.7;
    sim_start(s);
    cycle(s, "dead-filters", 3, bad_dead_filters, DOC_INFO, 1, -1);
    sim_free(s);
}
END_TEST

/* 8 channels of a tanh on an image; bad: 3 of them (37.5%) mostly saturated. */
static void
bad_channels(struct sim *s, bool bad)
{
    struct tm_layer *l = &s->layers[1];
    l->channels = 8;
    l->sat_frac = 0.2f;     /* the layer as a whole looks fine either way */
    for (int c = 0; c < 8; c++)
        l->chan_sat[c] = (uint8_t)(bad && c < 3 ? 230 : c == 7 ? 130 : 20);
}

START_TEST(test_doctor__saturated_channels)
{
    struct sim *s = sim_new();
    edit_tanh(&s->info);
    s->info.layers[1].flags |= TM_LAYER_HAS_SAT | TM_LAYER_SAT_CHANNELS;
    s->layers[1].dead_frac = -1.0f;
    bad_channels(s, false);
    sim_start(s);
    const struct tm_finding *f =
        cycle(s, "saturated-channels", 3, bad_channels, DOC_WARNING, 1, -1);
    /* Channel 7 at 130/255 = 51% counts too. */
    ck_assert_str_eq(f->text, "4 of 8 tanh channels saturated (more than 50% of their outputs; "
                              "threshold 25% of the channels)");
    ck_assert_msg(fabs(f->value - 0.5) < 1e-9, "value %g", f->value);
    ck_assert_int_eq(count(s, "saturation", TM_FINDING_RAISED, NULL), 0);
    sim_free(s);
    /* doctor.channel_saturation 0.6: channel 7 no longer counts, 3 of 8 still do. */
    s = sim_new();
    edit_tanh(&s->info);
    s->info.layers[1].flags |= TM_LAYER_HAS_SAT | TM_LAYER_SAT_CHANNELS;
    s->layers[1].dead_frac = -1.0f;
    s->spec.p[DP_CHANNEL_SATURATION] = 0.6;
    bad_channels(s, false);
    sim_start(s);
    f = cycle(s, "saturated-channels", 3, bad_channels, DOC_WARNING, 1, -1);
    ck_assert_msg(fabs(f->value - 0.375) < 1e-9, "value %g", f->value);
    sim_free(s);
}
END_TEST

/*
 * The man page documents every rule (DOCTOR RULES) and every threshold key
 * with its default (CONFIGURATION, doctor), as the tables hold them, so a
 * rule or key added to the tables cannot go undocumented.
 */
START_TEST(test_doctor__man_documents_tables)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/man/nntop.1.in", top != NULL ? top : ".");
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    char *man = xcalloc(1, 1 << 21);
    size_t got = fread(man, 1, (1 << 21) - 1, fp);
    fclose(fp);
    man[got] = '\0';
    char esc[256], want[512];
    for (int i = 0; i < DR_COUNT; i++) {
        roff_escape(esc, sizeof esc, doctor_rule_at(i)->id);
        snprintf(want, sizeof want, "\n.B %s\n", esc);
        ck_assert_msg(strstr(man, want) != NULL, "%s: rule %s is not documented", path,
                      doctor_rule_at(i)->id);
    }
    for (int i = 0; i < DP_COUNT; i++) {
        const struct doctor_param_info *p = doctor_param_at(i);
        snprintf(want, sizeof want, ".BR doctor.%s \" (default %g)\"\n", p->name, p->def);
        ck_assert_msg(strstr(man, want) != NULL, "%s: doctor.%s (default %g) is not documented",
                      path, p->name, p->def);
    }
    free(man);
}
END_TEST

Suite *
doctor_suite(void);

Suite *
doctor_suite(void)
{
    Suite *s = suite_create("doctor");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_doctor__healthy_raises_nothing);
    tcase_add_test(core, test_doctor__dead_filters);
    tcase_add_test(core, test_doctor__saturated_channels);
    tcase_add_test(core, test_doctor__lint_missing_activation);
    tcase_add_test(core, test_doctor__lint_activation_before_loss);
    tcase_add_test(core, test_doctor__lint_loss_output_mismatch);
    tcase_add_test(core, test_doctor__lint_dropout);
    tcase_add_test(core, test_doctor__lint_lr);
    tcase_add_test(core, test_doctor__lint_inputs);
    tcase_add_test(core, test_doctor__initial_loss);
    tcase_add_test(core, test_doctor__update_ratio_high);
    tcase_add_test(core, test_doctor__update_ratio_high_exemptions);
    tcase_add_test(core, test_doctor__update_ratio_low);
    tcase_add_test(core, test_doctor__update_ratio_low_exemptions);
    tcase_add_test(core, test_doctor__update_ratio_low_schedule);
    tcase_add_test(core, test_doctor__update_ratio_low_live_lr);
    tcase_add_test(core, test_doctor__update_ratio_high_schedule);
    tcase_add_test(core, test_doctor__plateau_annealed);
    tcase_add_test(core, test_doctor__updates_not_applied);
    tcase_add_test(core, test_doctor__zero_gradient);
    tcase_add_test(core, test_doctor__symmetric_init);
    tcase_add_test(core, test_doctor__vanishing_gradients);
    tcase_add_test(core, test_doctor__exploding_gradients);
    tcase_add_test(core, test_doctor__dead_relu);
    tcase_add_test(core, test_doctor__saturation);
    tcase_add_test(core, test_doctor__activation_scale);
    tcase_add_test(core, test_doctor__divergence);
    tcase_add_test(core, test_doctor__nonfinite);
    tcase_add_test(core, test_doctor__plateau);
    tcase_add_test(core, test_doctor__oscillation);
    tcase_add_test(core, test_doctor__overfitting);
    tcase_add_test(core, test_doctor__regularization_dominates);
    tcase_add_test(core, test_doctor__clipping_frequent);
    tcase_add_test(core, test_doctor__converged_by_accuracy);
    tcase_add_test(core, test_doctor__tables);
    tcase_add_test(core, test_doctor__tally);
    tcase_add_test(core, test_doctor__man_documents_tables);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_doctor__dead_relu_escalates);
    tcase_add_test(limits, test_doctor__patience_setting);
    tcase_add_test(limits, test_doctor__deterministic);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_doctor__disable_and_off);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(doctor_suite());
}
