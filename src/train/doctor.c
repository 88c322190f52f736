/*
 * doctor.c - the rules table, the thresholds table, and the doctor that
 * judges telemetry records against them: a config lint on the model
 * description, the initial-loss check on step 1, and live rules on every
 * snapshot (and validation pass) that must hold on `patience`
 * consecutive judgements before they are raised and fail as many before
 * they clear.
 *
 * The statistics it keeps are running sums over steps, sampled at each
 * snapshot, so a windowed mean is the difference of two samples: a
 * snapshot costs a few dozen comparisons, and text is formatted only
 * for a finding that changes.  It never reads the model, a clock or a
 * file, and it does not apply remedies: it names them as commands.
 */
#include "config.h"

#include "nntop/doctor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/runlog.h"
#include "nntop/xmem.h"

/* ---- the rules ------------------------------------------------------- */

static const struct doctor_rule rules[DR_COUNT] = {
    [DR_INPUTS_NOT_NORMALIZED] = {
        "inputs-not-normalized", DOC_WARNING, 2, DOC_AT_START,
        "a feature mean beyond +-input_mean or a feature std above input_std_high after the "
        "configured normalisation (warning); most features with std below input_std_low (info)",
        "set data.normalize (standardize for features, unit for 0-255 pixels)",
        "UMLAUT check_input_normalization; DeepDiagnosis (same bounds); adapted to mean/std", NULL},
    [DR_MISSING_ACTIVATION] = {
        "missing-activation", DOC_WARNING, 4, DOC_AT_START,
        "two dense layers with no activation between them (dropout and batch norm are not one)",
        "add relu (or tanh) between them: two linear maps in a row are one linear map",
        "UMLAUT check_missing_activations", NULL},
    [DR_ACTIVATION_BEFORE_LOSS] = {
        "activation-before-loss", DOC_WARNING, 4, DOC_AT_START,
        "an activation after the last dense layer with cross_entropy, which expects logits",
        "remove it: cross_entropy applies softmax itself",
        "UMLAUT check_softmax_computed_before_loss, check_no_activation_last_layer", NULL},
    [DR_LOSS_OUTPUT_MISMATCH] = {
        "loss-output-mismatch", DOC_WARNING, 4, DOC_AT_START,
        "the output width differs from the number of classes (error), or mse on more than two "
        "classes of integer labels (info)",
        "make the last dense layer as wide as the classes; use cross_entropy for class labels",
        "AUTOTRAINER loss_function_issue", NULL},
    [DR_DROPOUT_HIGH] = {
        "dropout-high", DOC_WARNING, 4, DOC_AT_START,
        "a dropout probability above dropout_max",
        "use p <= 0.5; a model that needs more regularisation needs a smaller size first",
        "UMLAUT check_dropout_p_less_than_half", NULL},
    [DR_DROPOUT_BEFORE_BATCHNORM] = {
        "dropout-before-batchnorm", DOC_WARNING, 4, DOC_AT_START,
        "a dropout layer placed before a batch-norm layer",
        "move dropout after the last batch norm: its variance shift makes batch norm's "
        "statistics wrong at test time",
        "Li, Chen, Hu, Yang, arXiv 1801.05134 (CVPR 2019); Karpathy's recipe", NULL},
    [DR_LR_OUT_OF_RANGE] = {
        "lr-out-of-range", DOC_WARNING, 4, DOC_AT_START,
        "the configured lr outside [lr_min, lr_max_sgd] for sgd, or above lr_max_adam "
        "(below lr_min) for adam and adamw",
        "start from lr 0.1 for sgd, 3e-4 for adam, and adjust by the update/weight ratio",
        "UMLAUT check_learning_rate_range; Karpathy's recipe (adam 3e-4)", NULL},
    [DR_INITIAL_LOSS] = {
        "initial-loss", DOC_WARNING, 2, DOC_AT_FIRST_STEP,
        "the loss of step 1 against its expectation (ln C for balanced classes, the class-prior "
        "entropy otherwise, the mean squared target for mse): info beyond initial_loss_info, "
        "warning beyond initial_loss_warning (relative)",
        "check the last layer's initialisation (small weights, bias at the class prior) and "
        "the labels",
        "CS231n neural-networks-3; Karpathy's recipe (verify loss @ init)", NULL},
    [DR_UPDATE_RATIO_HIGH] = {
        "update-ratio-high", DOC_WARNING, 3, DOC_LIVE,
        "a dense weight's update/weight norm ratio above ratio_info_high (info) or "
        "ratio_warning_high (warning) while the smoothed loss does not fall by ratio_falling "
        "per tenth of the window; the ratio as measured, which a schedule's lower lr only "
        "lowers; not while the lr is 0 or warming up, nor once the run converged",
        "the lr is too high: lower it",
        "CS231n (ratio about 1e-3); DeepDiagnosis identifyLearnRate (1e-3 x/ 100)", "lr x0.1"},
    [DR_UPDATE_RATIO_LOW] = {
        "update-ratio-low", DOC_WARNING, 3, DOC_LIVE,
        "a dense weight's update/weight ratio at the base lr below ratio_info_low (info) or "
        "ratio_warning_low (warning): the measured ratio times base lr / lr, as a schedule "
        "that lowered the lr lowered the update with it (a measured ratio below 1e-6 counts "
        "as 1e-6 there: float32 rounding); not while the lr is 0 or warming up, nor once the "
        "run converged",
        "the lr is too low: raise it",
        "CS231n; DeepDiagnosis identifyLearnRate", "lr x10"},
    [DR_UPDATES_NOT_APPLIED] = {
        "updates-not-applied", DOC_ERROR, 3, DOC_LIVE,
        "a tensor with a non-zero gradient and a zero update while lr x |gradient| is above "
        "1e-6 |weight| (below that, float32 rounding leaves the weights as they were)",
        "the optimizer does not update this tensor: check that it is registered",
        "CS231n (updates that are never applied); DeepDiagnosis unchanged weights", NULL},
    [DR_ZERO_GRADIENT] = {
        "zero-gradient", DOC_WARNING, 3, DOC_LIVE,
        "a tensor whose gradient is exactly zero on every judged snapshot",
        "nothing reaches it: all-zero weights after it, dead units, or a detached path",
        "DeepDiagnosis numerical error in delta weights (exactly 0); AUTOTRAINER "
        "gradient_zero_radio", NULL},
    [DR_SYMMETRIC_INIT] = {
        "symmetric-init", DOC_WARNING, 3, DOC_LIVE,
        "a hidden dense layer whose weights are all equal (all zero or constant), so all its "
        "units compute the same thing",
        "initialise randomly (init: he for relu, xavier for tanh)",
        "CS231n (symmetry breaking); DeepDiagnosis identifyTensorVariance", NULL},
    [DR_VANISHING_GRADIENTS] = {
        "vanishing-gradients", DOC_WARNING, 3, DOC_LIVE,
        "first / last dense weight-gradient norm below vanishing_ratio with the first below "
        "vanishing_first, or a weight gradient's rms below vanishing_mean",
        "use relu (or leaky_relu) instead of sigmoid/tanh, add batch norm, or init: he",
        "AUTOTRAINER gradient_issue (1e-3, 1e-4); DeepDiagnosis identifyVanishingGradient "
        "(1e-7; we use the rms)", NULL},
    [DR_EXPLODING_GRADIENTS] = {
        "exploding-gradients", DOC_WARNING, 3, DOC_LIVE,
        "first / last dense weight-gradient norm above exploding_ratio, or the gradient norm "
        "of the latest snapshot interval exploding_growth times its lowest in the window and "
        "above its initial value",
        "clip the gradient norm, lower the lr, or use a smaller init",
        "AUTOTRAINER gradient_issue (70)", "clip norm 1"},
    [DR_DEAD_RELU] = {
        "dead-relu", DOC_WARNING, 3, DOC_LIVE,
        "the fraction of a relu layer's units that are zero for every sample of the batch: "
        "info from dead_info, warning from dead_warning (a relu on an image: dead-filters)",
        "lower the lr, use leaky_relu, or init: he with zero bias",
        "DeepDiagnosis identifyDead (0.7); AUTOTRAINER dying relu", NULL},
    [DR_SATURATION] = {
        "saturation", DOC_WARNING, 3, DOC_LIVE,
        "more than saturation of a tanh/sigmoid layer's outputs within 1% of the asymptotes "
        "(on an image: saturated-channels)",
        "use a smaller init (xavier), normalise the inputs, or relu",
        "DeepDiagnosis identifySaturated (50%)", NULL},
    [DR_ACTIVATION_SCALE] = {
        "activation-scale", DOC_WARNING, 3, DOC_LIVE,
        "a hidden layer's output (after its activation or batch norm) with rms at or above "
        "activation_scale",
        "normalise the inputs or use a smaller init",
        "AUTOTRAINER layer_issue (mean |a| >= 10; we use the rms)", NULL},
    [DR_DIVERGENCE] = {
        "divergence", DOC_ERROR, 3, DOC_LIVE,
        "the smoothed loss above divergence_loss, or above divergence_factor times its "
        "initial value",
        "the lr is far too high: lower it",
        "AUTOTRAINER check_large_loss (1e3)", "lr x0.1"},
    [DR_NONFINITE] = {
        "nonfinite", DOC_ERROR, 3, DOC_ON_EVENT,
        "a NaN or Inf in the loss, a gradient or an update, with the place it first appeared",
        "restore the last finite checkpoint and lower the lr (the current weights are ruined)",
        "AUTOTRAINER has_NaN; DeepDiagnosis identifyNumerical", "restore, lr x0.1"},
    [DR_PLATEAU] = {
        "plateau", DOC_WARNING, 4, DOC_LIVE,
        "the mean training loss of the window's second half within plateau (relative) of its "
        "first half's, when minibatch noise (three standard errors) is below that too; not "
        "while the lr is 0, warming up or annealed below its base in the schedule's last "
        "anneal_fraction, nor once the run converged",
        "small updates: raise the lr; normal updates on a flat loss: a bigger model, another "
        "init or adam",
        "AUTOTRAINER max_delta_acc; DeepDiagnosis loss not decreasing; Cockpit grad-norm "
        "gauge for the advice", "lr x10"},
    [DR_OSCILLATION] = {
        "oscillation", DOC_WARNING, 4, DOC_LIVE,
        "the smoothed training loss rising by more than oscillation_rise (and more than three "
        "standard errors of minibatch noise) on more than oscillation of the window's ten "
        "intervals",
        "the lr is too high for this batch size: lower it",
        "AUTOTRAINER ol_judge (on accuracy; our adaptation to the loss)", "lr x0.1"},
    [DR_OVERFITTING] = {
        "overfitting", DOC_WARNING, 4, DOC_LIVE,
        "validation loss rising for overfit_evals evaluations while the training loss falls, "
        "or a train/val accuracy gap of gap (gap_high_acc once training accuracy passes 0.9)",
        "more data, weight decay, dropout, or stop earlier",
        "UMLAUT check_overfitting; AUTOTRAINER loss_issue (0.10 / 0.07)", NULL},
    [DR_REGULARIZATION_DOMINATES] = {
        "regularization-dominates", DOC_WARNING, 4, DOC_LIVE,
        "the L2 term larger than regularization times the data loss over the window",
        "lower optim.weight_decay",
        "CS231n (regularisation sanity)", NULL},
    [DR_CLIPPING_FREQUENT] = {
        "clipping-frequent", DOC_WARNING, 4, DOC_LIVE,
        "gradients clipped on more than clipping of the window's steps",
        "the clipping threshold is too low or the lr too high",
        "nntop", NULL},
    [DR_CONVERGED] = {
        "converged", DOC_INFO, 2, DOC_LIVE,
        "smoothed training loss below converged_loss of its initial value, or 100% training "
        "accuracy over the window (held until the loss is ten times that); a converged run "
        "raises no plateau, update-ratio-low, oscillation or regularization-dominates",
        "done: tiny updates now are what convergence looks like",
        "nntop", NULL},
    [DR_OVERFIT_REACHED] = {
        "overfit-reached", DOC_INFO, 1, DOC_ON_TOOL,
        "overfit mode: 100% training accuracy on the fixed samples with the loss below 5% of "
        "its first overfit step's (value: the overfit steps it took, threshold "
        "overfit_steps)",
        "the model can fit a tiny set: now train on all data (o or :overfit off)",
        "CS231n, Karpathy's recipe (overfit one batch)", NULL},
    [DR_CANNOT_OVERFIT] = {
        "cannot-overfit", DOC_WARNING, 1, DOC_ON_TOOL,
        "overfit mode: no 100% training accuracy on the fixed samples after overfit_steps "
        "steps (value: the best training accuracy, threshold 1)",
        "a bug (labels, loss, a backward) or a model too small: check the data and the "
        "gradients (g), or give it more units",
        "CS231n, Karpathy's recipe (overfit one batch)", NULL},
    [DR_BASELINE_NOT_BEATEN] = {
        "baseline-not-beaten", DOC_WARNING, 1, DOC_ON_TOOL,
        ":baseline: the model's loss not below that of a copy trained baseline_steps steps on "
        "zeroed inputs (value: the model's loss, threshold: the baseline's)",
        "the model does no better than one that never sees its inputs: train longer, or look "
        "for a bug between the data and the model",
        "Karpathy's recipe (input-independent baseline)", NULL},
    [DR_BATCH_MIXING] = {
        "batch-mixing", DOC_ERROR, 1, DOC_ON_TOOL,
        ":depcheck: with the loss the sum of sample i's outputs (eval mode), another sample's "
        "input gradient is not exactly zero (value: the samples that mix)",
        "a reshape, view or transpose mixes samples: look at the layer code between the input "
        "and the first layer that mixes",
        "Karpathy's recipe (backprop dependency test)", NULL},
    [DR_DEAD_FILTERS] = {
        "dead-filters", DOC_WARNING, 3, DOC_LIVE,
        "the fraction of a relu-on-image layer's filters (channels) that are zero at every "
        "position for every sample of the batch: info from dead_filters_info, warning from "
        "dead_filters_warning",
        "lower the lr, add batch norm before the relu, use leaky_relu, or init: he with zero "
        "bias",
        "DeepDiagnosis identifyDead, per filter (nntop's adaptation to conv layers)", NULL},
    [DR_SATURATED_CHANNELS] = {
        "saturated-channels", DOC_WARNING, 3, DOC_LIVE,
        "at least saturated_channels of a tanh/sigmoid-on-image layer's channels with more "
        "than channel_saturation of their outputs within 1% of the asymptotes",
        "add batch norm before the activation, use a smaller init (xavier), normalise the "
        "inputs, or relu",
        "DeepDiagnosis identifySaturated (50%), per channel (nntop's adaptation to conv "
        "layers)", NULL},
};

static const struct doctor_param_info params[DP_COUNT] = {
    [DP_INPUT_MEAN] = {"input_mean", 1.0, 0, 1e30, DR_INPUTS_NOT_NORMALIZED,
                       "largest |feature mean| accepted"},
    [DP_INPUT_STD_LOW] = {"input_std_low", 0.1, 0, 1e30, DR_INPUTS_NOT_NORMALIZED,
                          "median feature std below this is reported (info)"},
    [DP_INPUT_STD_HIGH] = {"input_std_high", 10.0, 0, 1e30, DR_INPUTS_NOT_NORMALIZED,
                           "largest feature std accepted"},
    [DP_DROPOUT_MAX] = {"dropout_max", 0.5, 0, 1, DR_DROPOUT_HIGH, "largest dropout p accepted"},
    [DP_LR_MIN] = {"lr_min", 1e-7, 0, 1e30, DR_LR_OUT_OF_RANGE, "smallest lr accepted"},
    [DP_LR_MAX_SGD] = {"lr_max_sgd", 1.0, 0, 1e30, DR_LR_OUT_OF_RANGE, "largest sgd lr accepted"},
    [DP_LR_MAX_ADAM] = {"lr_max_adam", 1e-2, 0, 1e30, DR_LR_OUT_OF_RANGE,
                        "largest adam/adamw lr accepted"},
    [DP_INITIAL_LOSS_INFO] = {"initial_loss_info", 0.10, 0, 1e30, DR_INITIAL_LOSS,
                              "relative distance from the expectation reported as info"},
    [DP_INITIAL_LOSS_WARNING] = {"initial_loss_warning", 0.50, 0, 1e30, DR_INITIAL_LOSS,
                                 "relative distance reported as a warning"},
    [DP_RATIO_INFO_LOW] = {"ratio_info_low", 1e-4, 0, 1e30, DR_UPDATE_RATIO_LOW,
                           "update/weight ratio below this: info"},
    [DP_RATIO_INFO_HIGH] = {"ratio_info_high", 1e-2, 0, 1e30, DR_UPDATE_RATIO_HIGH,
                            "update/weight ratio above this: info"},
    [DP_RATIO_WARNING_LOW] = {"ratio_warning_low", 1e-5, 0, 1e30, DR_UPDATE_RATIO_LOW,
                              "update/weight ratio below this: warning"},
    [DP_RATIO_WARNING_HIGH] = {"ratio_warning_high", 1e-1, 0, 1e30, DR_UPDATE_RATIO_HIGH,
                               "update/weight ratio above this: warning"},
    [DP_ANNEAL_FRACTION] = {"anneal_fraction", 0.05, 0, 1, DR_PLATEAU,
                            "last fraction of a scheduled run, with the lr below its base, "
                            "exempt from plateau"},
    [DP_RATIO_FALLING] = {"ratio_falling", 0.01, 0, 1, DR_UPDATE_RATIO_HIGH,
                          "relative fall of the smoothed loss per tenth of the window that "
                          "exempts update-ratio-high"},
    [DP_VANISHING_RATIO] = {"vanishing_ratio", 1e-3, 0, 1e30, DR_VANISHING_GRADIENTS,
                            "first/last weight-gradient norm ratio below this"},
    [DP_VANISHING_FIRST] = {"vanishing_first", 1e-4, 0, 1e30, DR_VANISHING_GRADIENTS,
                            "... with the first layer's gradient norm below this"},
    [DP_VANISHING_MEAN] = {"vanishing_mean", 1e-7, 0, 1e30, DR_VANISHING_GRADIENTS,
                           "a weight gradient's rms below this"},
    [DP_EXPLODING_RATIO] = {"exploding_ratio", 70.0, 0, 1e30, DR_EXPLODING_GRADIENTS,
                            "first/last weight-gradient norm ratio above this"},
    [DP_EXPLODING_GROWTH] = {"exploding_growth", 10.0, 1, 1e30, DR_EXPLODING_GRADIENTS,
                             "gradient-norm growth within the window"},
    [DP_DEAD_INFO] = {"dead_info", 0.3, 0, 1, DR_DEAD_RELU, "dead fraction reported as info"},
    [DP_DEAD_WARNING] = {"dead_warning", 0.7, 0, 1, DR_DEAD_RELU,
                         "dead fraction reported as a warning"},
    [DP_SATURATION] = {"saturation", 0.5, 0, 1, DR_SATURATION, "saturated fraction"},
    [DP_ACTIVATION_SCALE] = {"activation_scale", 10.0, 0, 1e30, DR_ACTIVATION_SCALE,
                             "hidden activation rms"},
    [DP_DIVERGENCE_LOSS] = {"divergence_loss", 1e3, 0, 1e30, DR_DIVERGENCE, "loss above this"},
    [DP_DIVERGENCE_FACTOR] = {"divergence_factor", 10.0, 1, 1e30, DR_DIVERGENCE,
                              "loss above this many times its initial value"},
    [DP_PLATEAU] = {"plateau", 1e-3, 0, 1, DR_PLATEAU,
                    "relative improvement over the window below this"},
    [DP_OSCILLATION] = {"oscillation", 0.4, 0, 1, DR_OSCILLATION,
                        "fraction of the window's intervals with a rise"},
    [DP_OSCILLATION_RISE] = {"oscillation_rise", 0.1, 0, 1e30, DR_OSCILLATION,
                             "relative rise of an interval's mean loss that counts"},
    [DP_OVERFIT_EVALS] = {"overfit_evals", 3, 1, 64, DR_OVERFITTING,
                          "consecutive rising validation losses"},
    [DP_GAP] = {"gap", 0.10, 0, 1, DR_OVERFITTING, "train - val accuracy gap"},
    [DP_GAP_HIGH_ACC] = {"gap_high_acc", 0.07, 0, 1, DR_OVERFITTING,
                         "... once training accuracy passes 0.9"},
    [DP_REGULARIZATION] = {"regularization", 1.0, 0, 1e30, DR_REGULARIZATION_DOMINATES,
                           "L2 term / data loss above this"},
    [DP_CLIPPING] = {"clipping", 0.5, 0, 1, DR_CLIPPING_FREQUENT, "fraction of clipped steps"},
    [DP_CONVERGED_LOSS] = {"converged_loss", 0.01, 0, 1, DR_CONVERGED,
                           "smoothed loss / initial loss below this"},
    [DP_DEAD_FILTERS_INFO] = {"dead_filters_info", 0.25, 0, 1, DR_DEAD_FILTERS,
                              "dead filter fraction reported as info"},
    [DP_DEAD_FILTERS_WARNING] = {"dead_filters_warning", 0.5, 0, 1, DR_DEAD_FILTERS,
                                 "dead filter fraction reported as a warning"},
    [DP_CHANNEL_SATURATION] = {"channel_saturation", 0.5, 0, 1, DR_SATURATED_CHANNELS,
                               "a channel's saturated share that makes it saturated"},
    [DP_SATURATED_CHANNELS] = {"saturated_channels", 0.25, 0, 1, DR_SATURATED_CHANNELS,
                               "fraction of saturated channels reported as a warning"},
};

const struct doctor_rule *
doctor_rule_at(int i)
{
    return i >= 0 && i < DR_COUNT ? &rules[i] : NULL;
}

int
doctor_rule_find(const char *id)
{
    for (int i = 0; i < DR_COUNT; i++)
        if (strcmp(rules[i].id, id) == 0)
            return i;
    return -1;
}

const struct doctor_param_info *
doctor_param_at(int i)
{
    return i >= 0 && i < DP_COUNT ? &params[i] : NULL;
}

void
doctor_spec_defaults(struct doctor_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->enabled = true;
    spec->patience = DOCTOR_PATIENCE_DEFAULT;
    spec->window = DOCTOR_WINDOW_DEFAULT;
    spec->overfit_steps = 1000;
    spec->baseline_steps = 300;
    for (int i = 0; i < DP_COUNT; i++)
        spec->p[i] = params[i].def;
}

const char *
doctor_severity_name(int severity)
{
    static const char *const names[DOC_SEVERITY_COUNT] = {"ok", "info", "warning", "error"};
    return severity >= 0 && severity < DOC_SEVERITY_COUNT ? names[severity] : "unknown";
}

/* ---- the doctor's state ---------------------------------------------- */

/* Judged things: the run, each layer, each tensor. */
#define T_GLOBAL 0
#define T_LAYER(i) (1 + (i))
#define T_TENSOR(k) (1 + TM_MAX_LAYERS + (k))
#define NTARGETS (1 + TM_MAX_LAYERS + 2 * TM_MAX_LAYERS)
#define HIST_CAP 8192
#define EVALS_CAP 64

/* Running sums over the steps seen, sampled at each snapshot. */
struct sums {
    long step;              /* the last step counted */
    long n;                 /* finite steps counted */
    double loss, loss2, reg, acc, gnorm;   /* loss2: sum of squared losses */
    long clipped;
};

/* One live rule about one target. */
struct inst {
    int active;             /* severity raised, 0 none */
    int up, up_sev;         /* consecutive holding judgements, lowest severity among them */
    int down;               /* consecutive failing judgements while active */
    long raised_step;
    double value, threshold;
};

struct eval_pt {
    long step;
    double val_loss, val_acc, train_loss, train_acc;
};

struct doctor {
    struct doctor_spec spec;
    doctor_emit_fn emit;
    void *ctx;

    bool have_info, have_state;
    struct tm_info info;
    struct tm_state state;
    int tensor_layer[2 * TM_MAX_LAYERS];
    long tensor_count[2 * TM_MAX_LAYERS];
    int first_dense, last_dense;        /* layer indices, -1 none */

    bool have_initial;
    double initial;         /* the first finite step loss */
    double initial_gnorm;   /* its gradient norm */
    bool initial_judged;
    bool step0;             /* the last step record was the step-0 view (no update) */
    float last_lr;

    struct sums cum;
    struct sums *hist;      /* (HIST_CAP) ring of samples, oldest at hhead */
    int hn, hhead;

    struct tm_layer layers[TM_MAX_LAYERS];
    bool layer_have[TM_MAX_LAYERS];
    struct tm_tensor tensors[2 * TM_MAX_LAYERS];
    bool tensor_have[2 * TM_MAX_LAYERS];

    struct eval_pt evals[EVALS_CAP];
    int nevals;

    long now;               /* step of the judgement under way */
    struct inst inst[DR_COUNT][NTARGETS];
    long raised[DOC_SEVERITY_COUNT];
    struct tm_finding f;    /* the finding being built */
};

struct doctor *
doctor_new(const struct doctor_spec *spec, doctor_emit_fn emit, void *ctx)
{
    struct doctor *d = xcalloc(1, sizeof *d);
    d->spec = *spec;
    if (d->spec.patience < 1)
        d->spec.patience = 1;
    if (d->spec.window < 10)
        d->spec.window = 10;
    d->emit = emit;
    d->ctx = ctx;
    d->hist = xcalloc(HIST_CAP, sizeof *d->hist);
    d->first_dense = d->last_dense = -1;
    /* A sample at step 0 with nothing counted: windows reach back to the start. */
    d->hist[0] = d->cum;
    d->hn = 1;
    return d;
}

void
doctor_free(struct doctor *d)
{
    if (d == NULL)
        return;
    free(d->hist);
    free(d);
}

long
doctor_raised(const struct doctor *d, int severity)
{
    return severity >= 0 && severity < DOC_SEVERITY_COUNT ? d->raised[severity] : 0;
}

static double
par(const struct doctor *d, enum doctor_param p)
{
    return d->spec.p[p];
}

/* ---- emitting ---------------------------------------------------------- */

static void
target_of(const struct doctor *d, int target, int *layer, int *tensor)
{
    *layer = -1;
    *tensor = -1;
    if (target >= T_TENSOR(0)) {
        *tensor = target - T_TENSOR(0);
        *layer = d->tensor_layer[*tensor];
    } else if (target >= T_LAYER(0)) {
        *layer = target - T_LAYER(0);
    }
}

/* Start building a finding about rule and target (texts empty). */
static struct tm_finding *
begin(struct doctor *d, int rule, int target, int severity, int state, double value,
      double threshold)
{
    struct tm_finding *f = &d->f;
    memset(f, 0, sizeof *f);
    f->step = d->now;
    f->raised_step = d->now;
    snprintf(f->rule, sizeof f->rule, "%s", rules[rule].id);
    f->severity = severity;
    f->stage = rules[rule].stage;
    f->state = state;
    target_of(d, target, &f->layer, &f->tensor);
    if (f->tensor >= 0 && f->tensor < d->info.ntensors)
        snprintf(f->tensor_name, sizeof f->tensor_name, "%s", d->info.tensor_names[f->tensor]);
    f->value = value;
    f->threshold = threshold;
    f->remedy.kind = -1;
    if (state == TM_FINDING_RAISED && rules[rule].remedy != NULL) {
        snprintf(f->remedy_text, sizeof f->remedy_text, "%s", rules[rule].remedy);
        switch (rule) {
        case DR_UPDATE_RATIO_HIGH:
        case DR_DIVERGENCE:
        case DR_OSCILLATION:
            f->remedy.kind = TM_CMD_SCALE_LR;
            f->remedy.value = 0.1;
            break;
        case DR_UPDATE_RATIO_LOW:
        case DR_PLATEAU:
            f->remedy.kind = TM_CMD_SCALE_LR;
            f->remedy.value = 10.0;
            break;
        case DR_EXPLODING_GRADIENTS:
            f->remedy.kind = TM_CMD_SET_CLIP;
            f->remedy.clip_kind = TM_CLIP_NORM;
            f->remedy.value = 1.0;
            break;
        case DR_NONFINITE:
            f->remedy.kind = TM_CMD_RESTORE;
            f->remedy.value = 0.1;
            break;
        default:
            f->remedy_text[0] = '\0';
            break;
        }
    }
    snprintf(f->advice, sizeof f->advice, "%s", rules[rule].advice);
    return f;
}

static void set_text(struct tm_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_text(struct tm_finding *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

static void
finish(struct doctor *d)
{
    if (d->f.state == TM_FINDING_RAISED && d->f.severity >= 0 &&
        d->f.severity < DOC_SEVERITY_COUNT)
        d->raised[d->f.severity]++;
    if (d->emit != NULL)
        d->emit(d->ctx, &d->f);
}

static bool
enabled(const struct doctor *d, int rule)
{
    return (d->spec.disabled & ((uint64_t)1 << rule)) == 0;
}

/*
 * A one-off finding (lint, initial loss, an event): raised at once.
 * Returns the finding to fill, then finish(); NULL when the rule is off.
 */
static struct tm_finding *
raise_now(struct doctor *d, int rule, int target, int severity, double value, double threshold)
{
    if (!enabled(d, rule))
        return NULL;
    struct inst *in = &d->inst[rule][target];
    in->active = severity;
    in->up = in->down = 0;
    in->raised_step = d->now;
    in->value = value;
    in->threshold = threshold;
    return begin(d, rule, target, severity, TM_FINDING_RAISED, value, threshold);
}

/*
 * One judgement of a live rule about a target: level is the severity at
 * which the rule holds now (0: it does not, or is exempt).  Patience
 * applies both ways.  Returns the finding to fill when it is raised now
 * (the caller sets its text and calls finish()), else NULL; a clearing
 * is emitted here.
 */
static struct tm_finding *
judge(struct doctor *d, int rule, int target, int level, double value, double threshold)
{
    struct inst *in = &d->inst[rule][target];
    if (level > 0) {
        in->down = 0;
        if (level <= in->active) {
            in->up = 0;
            return NULL;
        }
        in->up_sev = in->up == 0 || level < in->up_sev ? level : in->up_sev;
        if (++in->up < d->spec.patience || in->up_sev <= in->active)
            return NULL;
        in->active = in->up_sev;
        in->up = 0;
        in->raised_step = d->now;
        in->value = value;
        in->threshold = threshold;
        if (!enabled(d, rule))
            return NULL;
        return begin(d, rule, target, in->active, TM_FINDING_RAISED, value, threshold);
    }
    in->up = 0;
    if (in->active == 0)
        return NULL;
    if (++in->down < d->spec.patience)
        return NULL;
    int sev = in->active;
    long raised = in->raised_step;
    in->active = 0;
    in->down = 0;
    if (!enabled(d, rule))
        return NULL;
    struct tm_finding *f = begin(d, rule, target, sev, TM_FINDING_CLEARED, value, threshold);
    f->raised_step = raised;
    set_text(f, "cleared (%s raised at step %ld)", doctor_severity_name(sev), raised);
    f->advice[0] = '\0';
    finish(d);
    return NULL;
}

/* ---- the lint: before step 0 ------------------------------------------- */

static bool
is_activation(int kind)
{
    return kind == TM_LK_RELU || kind == TM_LK_LEAKY_RELU || kind == TM_LK_TANH ||
           kind == TM_LK_SIGMOID;
}

static void
lint_inputs(struct doctor *d)
{
    const struct tm_input_stats *s = &d->info.input;
    if (!s->have)
        return;
    struct tm_finding *f;
    double bm = par(d, DP_INPUT_MEAN), hi = par(d, DP_INPUT_STD_HIGH);
    double lo = par(d, DP_INPUT_STD_LOW);
    if (fabs(s->mean) > bm || s->std_hi > hi) {
        bool by_mean = fabs(s->mean) / (bm > 0 ? bm : 1) >= s->std_hi / (hi > 0 ? hi : 1);
        f = raise_now(d, DR_INPUTS_NOT_NORMALIZED, T_GLOBAL, DOC_WARNING,
                      by_mean ? s->mean : s->std_hi, by_mean ? bm : hi);
        if (f != NULL) {
            set_text(f, "feature %d has mean %.3g (bound +-%g), feature %d std %.3g "
                        "(bound %g) over %ld rows",
                     s->mean_feature, (double)s->mean, bm, s->std_hi_feature,
                     (double)s->std_hi, hi, s->rows);
            finish(d);
        }
    } else if (s->std_median < lo) {
        f = raise_now(d, DR_INPUTS_NOT_NORMALIZED, T_GLOBAL, DOC_INFO, s->std_median, lo);
        if (f != NULL) {
            set_text(f, "median feature std %.3g (bound %g); smallest %.3g at feature %d",
                     (double)s->std_median, lo, (double)s->std_lo, s->std_lo_feature);
            finish(d);
        }
    }
}

static void
lint_model(struct doctor *d)
{
    const struct tm_info *in = &d->info;
    struct tm_finding *f;
    int n = in->nlayers;
    /* dense, (dropout | batchnorm)*, dense */
    for (int i = 0; i < n; i++) {
        if (in->layers[i].kind != TM_LK_DENSE)
            continue;
        int j = i + 1;
        while (j < n && (in->layers[j].kind == TM_LK_DROPOUT ||
                         in->layers[j].kind == TM_LK_BATCHNORM))
            j++;
        if (j < n && in->layers[j].kind == TM_LK_DENSE) {
            f = raise_now(d, DR_MISSING_ACTIVATION, T_LAYER(j), DOC_WARNING, i, j);
            if (f != NULL) {
                set_text(f, "layers %d and %d are dense with no activation between them", i, j);
                finish(d);
            }
        }
    }
    if (in->loss_kind == TM_LOSS_CROSS_ENTROPY && d->last_dense >= 0) {
        for (int j = d->last_dense + 1; j < n; j++) {
            if (!is_activation(in->layers[j].kind))
                continue;
            f = raise_now(d, DR_ACTIVATION_BEFORE_LOSS, T_LAYER(j), DOC_WARNING, j, d->last_dense);
            if (f != NULL) {
                set_text(f, "layer %d (%s) follows the last dense layer, before cross_entropy",
                         j, in->layers[j].kind_name);
                finish(d);
            }
            break;
        }
    }
    if (d->last_dense >= 0 && in->classes > 0) {
        int out = in->layers[d->last_dense].out;
        if (out != in->classes) {
            f = raise_now(d, DR_LOSS_OUTPUT_MISMATCH, T_LAYER(d->last_dense), DOC_ERROR, out,
                          in->classes);
            if (f != NULL) {
                set_text(f, "the last dense layer has %d outputs for %d classes", out,
                         in->classes);
                finish(d);
            }
        } else if (in->loss_kind == TM_LOSS_MSE && in->classes > 2) {
            f = raise_now(d, DR_LOSS_OUTPUT_MISMATCH, T_GLOBAL, DOC_INFO, in->classes, 2);
            if (f != NULL) {
                set_text(f, "mse on one-hot targets of %d classes", in->classes);
                finish(d);
            }
        }
    }
    bool dropout_seen = false;
    int dropout_at = -1;
    for (int i = 0; i < n; i++) {
        const struct tm_layer_info *l = &in->layers[i];
        if (l->kind == TM_LK_DROPOUT) {
            if (l->arg > par(d, DP_DROPOUT_MAX)) {
                f = raise_now(d, DR_DROPOUT_HIGH, T_LAYER(i), DOC_WARNING, l->arg,
                              par(d, DP_DROPOUT_MAX));
                if (f != NULL) {
                    set_text(f, "dropout p %.2g (threshold %.2g)", (double)l->arg,
                             par(d, DP_DROPOUT_MAX));
                    finish(d);
                }
            }
            if (!dropout_seen)
                dropout_at = i;
            dropout_seen = true;
        } else if (l->kind == TM_LK_BATCHNORM && dropout_seen) {
            f = raise_now(d, DR_DROPOUT_BEFORE_BATCHNORM, T_LAYER(dropout_at), DOC_WARNING,
                          dropout_at, i);
            if (f != NULL) {
                set_text(f, "dropout at layer %d comes before batch norm at layer %d",
                         dropout_at, i);
                finish(d);
            }
            dropout_seen = false;
        }
    }
    double lr = in->lr, lo = par(d, DP_LR_MIN);
    bool sgd = in->optim_kind == TM_OPTIM_SGD;
    double hi = sgd ? par(d, DP_LR_MAX_SGD) : par(d, DP_LR_MAX_ADAM);
    if (lr > 0.0 && (lr < lo || lr > hi)) {
        f = raise_now(d, DR_LR_OUT_OF_RANGE, T_GLOBAL, DOC_WARNING, lr, lr > hi ? hi : lo);
        if (f != NULL) {
            set_text(f, "%s lr %.3g is %s %.3g", in->optim_name, lr,
                     lr > hi ? "above" : "below", lr > hi ? hi : lo);
            finish(d);
        }
    }
}

static void
on_info(struct doctor *d, const struct tm_info *info)
{
    d->info = *info;
    d->have_info = true;
    if (d->info.nlayers < 0 || d->info.nlayers > TM_MAX_LAYERS)
        d->info.nlayers = d->info.nlayers < 0 ? 0 : TM_MAX_LAYERS;
    if (d->info.ntensors < 0 || d->info.ntensors > 2 * TM_MAX_LAYERS)
        d->info.ntensors = d->info.ntensors < 0 ? 0 : 2 * TM_MAX_LAYERS;
    for (int k = 0; k < 2 * TM_MAX_LAYERS; k++) {
        d->tensor_layer[k] = -1;
        d->tensor_count[k] = 0;
        d->info.tensor_names[k][TM_NAME_MAX - 1] = '\0';
    }
    d->first_dense = d->last_dense = -1;
    for (int i = 0; i < d->info.nlayers; i++) {
        const struct tm_layer_info *l = &d->info.layers[i];
        if (l->kind == TM_LK_DENSE) {
            if (d->first_dense < 0)
                d->first_dense = i;
            d->last_dense = i;
        }
        int idx[2] = {l->weight, l->bias};
        for (int k = 0; k < 2; k++) {
            if (idx[k] < 0 || idx[k] >= 2 * TM_MAX_LAYERS)
                continue;
            d->tensor_layer[idx[k]] = i;
            d->tensor_count[idx[k]] = k == 0 && l->kind == TM_LK_DENSE ? (long)l->in * l->out
                                                                        : l->out;
        }
    }
    d->now = 0;
    if (d->spec.enabled) {
        lint_inputs(d);
        lint_model(d);
    }
}

/* ---- step 1 -------------------------------------------------------------- */

static void
judge_initial(struct doctor *d, double loss)
{
    double e = d->info.expected_loss;
    if (!d->have_info || !(e > 0.0) || !isfinite(e) || !enabled(d, DR_INITIAL_LOSS))
        return;
    double rel = fabs(loss - e) / e;
    double ti = par(d, DP_INITIAL_LOSS_INFO), tw = par(d, DP_INITIAL_LOSS_WARNING);
    int sev = !isfinite(rel) || rel > tw ? DOC_WARNING : rel > ti ? DOC_INFO : DOC_OK;
    double thr = sev == DOC_WARNING ? tw : ti;
    char expect[48];
    if (d->info.loss_kind == TM_LOSS_MSE)
        snprintf(expect, sizeof expect, "the mean squared target");
    else
        snprintf(expect, sizeof expect, "ln %d = %.4f for balanced classes", d->info.classes,
                 log((double)d->info.classes));
    struct tm_finding *f;
    if (sev == DOC_OK) {
        f = begin(d, DR_INITIAL_LOSS, T_GLOBAL, DOC_OK, TM_FINDING_PASSED, rel, ti);
        set_text(f, "initial loss %.4f, expected %.4f (%s): %.0f%% off, within %.0f%%", loss, e,
                 expect, 100.0 * rel, 100.0 * ti);
        f->advice[0] = '\0';
        finish(d);
        return;
    }
    f = raise_now(d, DR_INITIAL_LOSS, T_GLOBAL, sev, rel, thr);
    set_text(f, "initial loss %.4f, expected %.4f (%s): %.0f%% off (threshold %.0f%%)", loss, e,
             expect, 100.0 * rel, 100.0 * thr);
    finish(d);
}

static void
on_step(struct doctor *d, const struct tm_step *s)
{
    d->last_lr = s->lr;
    /* A run's first record is step 1, or step 0 when it started paused
     * (the initial weights on the first batch); a resumed run has neither. */
    if (!d->initial_judged && s->step <= 1 && d->spec.enabled) {
        d->initial_judged = true;
        d->now = s->step;
        judge_initial(d, s->loss);
    }
    d->initial_judged = true;
    d->step0 = s->step == 0;
    if (s->step == 0)
        return;
    d->cum.step = s->step;
    if (!isfinite(s->loss))
        return;
    if (!d->have_initial) {
        d->have_initial = true;
        d->initial = s->loss;
        d->initial_gnorm = isfinite(s->grad_norm) ? s->grad_norm : 0.0;
    }
    d->cum.n++;
    d->cum.loss += s->loss;
    d->cum.loss2 += (double)s->loss * s->loss;
    d->cum.reg += isfinite(s->reg_loss) ? s->reg_loss : 0.0;
    d->cum.acc += s->accuracy;
    d->cum.gnorm += isfinite(s->grad_norm) ? s->grad_norm : 0.0;
    d->cum.clipped += s->clipped != 0;
}

/* ---- windows over the sampled sums -------------------------------------- */

static const struct sums *
hist_at(const struct doctor *d, int i)
{
    return &d->hist[(d->hhead + i) % HIST_CAP];
}

static void
hist_push(struct doctor *d)
{
    if (d->hn > 0 && hist_at(d, d->hn - 1)->step == d->cum.step) {
        d->hist[(d->hhead + d->hn - 1) % HIST_CAP] = d->cum;
        return;
    }
    if (d->hn == HIST_CAP) {
        d->hhead = (d->hhead + 1) % HIST_CAP;
        d->hn--;
    }
    d->hist[(d->hhead + d->hn) % HIST_CAP] = d->cum;
    d->hn++;
}

/* The newest sample at or before step (the oldest one if none is). */
static const struct sums *
hist_find(const struct doctor *d, long step)
{
    int lo = 0, hi = d->hn - 1;
    if (hist_at(d, 0)->step > step)
        return hist_at(d, 0);
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (hist_at(d, mid)->step <= step)
            lo = mid;
        else
            hi = mid - 1;
    }
    return hist_at(d, lo);
}

/* Means over the steps in (from, to]: false when no finite step is in it. */
struct means {
    long n;
    double loss, reg, acc, gnorm, clipped;
    double loss_se;         /* standard error of the mean loss (minibatch noise) */
};

static bool
window(const struct doctor *d, long from, long to, struct means *m)
{
    const struct sums *a = hist_find(d, from), *b = hist_find(d, to);
    memset(m, 0, sizeof *m);
    m->n = b->n - a->n;
    if (m->n <= 0)
        return false;
    double n = (double)m->n;
    m->loss = (b->loss - a->loss) / n;
    double var = (b->loss2 - a->loss2) / n - m->loss * m->loss;
    m->loss_se = var > 0.0 && m->n > 1 ? sqrt(var / (n - 1.0)) : 0.0;
    m->reg = (b->reg - a->reg) / n;
    m->acc = (b->acc - a->acc) / n;
    m->gnorm = (b->gnorm - a->gnorm) / n;
    m->clipped = (double)(b->clipped - a->clipped) / n;
    return true;
}

/* ---- live rules ----------------------------------------------------------- */

/*
 * Below this update/weight ratio a measured update is mostly float32
 * rounding: the update is after - before, and an entry moved by less than
 * half its ulp (2^-24 of it) has not moved at all, so a measured ratio
 * under 1e-6 may stand for anything from 0 to about 1e-6.
 */
#define F32_RESOLVED 1e-6

/* The base the schedule scales: the trainer's (rebased by a live lr change), else the config's. */
static double
base_lr(const struct doctor *d)
{
    return d->have_state ? d->state.base_lr : d->info.lr;
}

/* The lr is 0 or warming up: no update is judged. */
static bool
lr_exempt(const struct doctor *d, long t)
{
    return !(d->last_lr > 0.0f) || t <= d->info.warmup;
}

/* In the schedule's last anneal_fraction of steps with the lr below its base. */
static bool
lr_annealed(const struct doctor *d, long t)
{
    long total = d->info.total_steps;
    return total > 0 && (double)t >= (1.0 - par(d, DP_ANNEAL_FRACTION)) * (double)total &&
           d->last_lr < base_lr(d);
}

/*
 * How far below its base the lr of the judged step is: base / lr, 1 when
 * it is not below (or either is unknown).  A schedule scales the base:
 * cosine, step and exponential decay, warm-up, or a PyTorch scheduler in
 * a followed run (whose base is the lr its logger started with).  A live
 * lr change rebases the base so that the schedule gives the lr asked for
 * (set_lr), so this stays the schedule's own cut and an lr set too small
 * by hand is a base too small.  Float rounding of the step's lr (a float)
 * is not a cut.
 */
static double
lr_cut(const struct doctor *d)
{
    double lr = d->last_lr, base = base_lr(d);
    return lr > 0.0 && isfinite(base) && base > lr * (1.0 + 1e-6) ? base / lr : 1.0;
}

/*
 * The update/weight ratio the base lr would give: the measured one times
 * the cut, since the update of SGD (momentum and Nesterov included) and of
 * Adam and AdamW is proportional to the lr of its step.  Under a cut, a
 * measured ratio below float32's resolution counts as that resolution:
 * an upper bound, so that rounding is not mistaken for a too-small lr.
 */
static double
base_ratio(const struct doctor *d, double r)
{
    double cut = lr_cut(d);
    return cut > 1.0 ? (r > F32_RESOLVED ? r : F32_RESOLVED) * cut : r;
}

static struct tm_finding *
judge_layer_frac(struct doctor *d, int rule, int i, double v, double info, double warn)
{
    int level = warn >= 0 && v >= warn ? DOC_WARNING : info >= 0 && v >= info ? DOC_INFO : 0;
    return judge(d, rule, T_LAYER(i), level, v, level == DOC_INFO ? info : warn);
}

/*
 * AUTOTRAINER judges a hidden layer's output, and a Keras layer's output
 * is after its activation: so a dense or conv layer whose output the next
 * layer transforms elementwise (an activation) or normalises (a batch
 * norm) is judged there, not here.  A dense layer's pre-activations far
 * below zero (most of its ReLUs off: dead-relu's business) have a large
 * rms while the ReLU's output is small; the shipped Fashion-MNIST CNN's
 * dense 128 sits at rms 14 with its ReLU's output at 3.7, and was warned
 * of on a run that reaches 91.5 %.
 */
static bool
scale_judged_next(const struct tm_info *in, int i)
{
    if (i + 1 >= in->nlayers)
        return false;
    switch (in->layers[i + 1].kind) {
    case TM_LK_RELU:
    case TM_LK_LEAKY_RELU:
    case TM_LK_TANH:
    case TM_LK_SIGMOID:
    case TM_LK_BATCHNORM:
    case TM_LK_BATCHNORM2D:
        return true;
    default:
        return false;
    }
}

static void
judge_layers(struct doctor *d)
{
    const struct tm_info *in = &d->info;
    struct tm_finding *f;
    for (int i = 0; i < in->nlayers; i++) {
        if (!d->layer_have[i])
            continue;
        const struct tm_layer *l = &d->layers[i];
        int kind = in->layers[i].kind;
        unsigned flags = in->layers[i].flags;
        bool filters = (flags & TM_LAYER_DEAD_FILTERS) != 0;
        if (kind == TM_LK_RELU && l->dead_frac >= 0.0f) {
            /* On an image the fraction counts filters: their own rule and thresholds. */
            if (filters)
                f = judge_layer_frac(d, DR_DEAD_FILTERS, i, l->dead_frac,
                                     par(d, DP_DEAD_FILTERS_INFO), par(d, DP_DEAD_FILTERS_WARNING));
            else
                f = judge_layer_frac(d, DR_DEAD_RELU, i, l->dead_frac, par(d, DP_DEAD_INFO),
                                     par(d, DP_DEAD_WARNING));
            if (f != NULL) {
                set_text(f, "%.0f%% of %s dead (threshold %.0f%%)", 100.0 * f->value,
                         filters ? "filters" : "units", 100.0 * f->threshold);
                finish(d);
            }
        }
        if ((kind == TM_LK_TANH || kind == TM_LK_SIGMOID) && (flags & TM_LAYER_SAT_CHANNELS)
            && l->channels > 0) {
            /* Per channel: a channel pinned at an asymptote is lost even when the
             * layer's overall share looks fine. */
            double share = par(d, DP_CHANNEL_SATURATION), thr = par(d, DP_SATURATED_CHANNELS);
            int n = l->channels < TM_MAX_CHANNELS ? l->channels : TM_MAX_CHANNELS, sat = 0;
            for (int c = 0; c < n; c++)
                sat += l->chan_sat[c] / 255.0 > share;
            double frac = (double)sat / n;
            int level = frac >= thr && sat > 0 ? DOC_WARNING : 0;
            f = judge(d, DR_SATURATED_CHANNELS, T_LAYER(i), level, frac, thr);
            if (f != NULL) {
                set_text(f, "%d of %d %s channels saturated (more than %.0f%% of their outputs; "
                         "threshold %.0f%% of the channels)", sat, n, in->layers[i].kind_name,
                         100.0 * share, 100.0 * thr);
                finish(d);
            }
        } else if ((kind == TM_LK_TANH || kind == TM_LK_SIGMOID) && l->sat_frac >= 0.0f) {
            double thr = par(d, DP_SATURATION);
            int level = l->sat_frac > thr ? DOC_WARNING : 0;
            f = judge(d, DR_SATURATION, T_LAYER(i), level, l->sat_frac, thr);
            if (f != NULL) {
                set_text(f, "%.0f%% of %s outputs saturated (threshold %.0f%%)",
                         100.0 * f->value, in->layers[i].kind_name, 100.0 * thr);
                finish(d);
            }
        }
        if (i < d->last_dense && !scale_judged_next(in, i)) {
            double rms = sqrt((double)l->act_mean * l->act_mean + (double)l->act_std * l->act_std);
            double thr = par(d, DP_ACTIVATION_SCALE);
            int level = isfinite(rms) && rms >= thr ? DOC_WARNING : 0;
            f = judge(d, DR_ACTIVATION_SCALE, T_LAYER(i), level, rms, thr);
            if (f != NULL) {
                set_text(f, "activation rms %.3g (threshold %g)", rms, thr);
                finish(d);
            }
        }
    }
}

static bool
is_dense_weight(const struct doctor *d, int k)
{
    int i = d->tensor_layer[k];
    return i >= 0 && d->info.layers[i].kind == TM_LK_DENSE && d->info.layers[i].weight == k;
}

/*
 * Is the smoothed loss falling fast: its mean over the latest tenth of
 * the window at least ratio_falling below the tenth before?  A large
 * update that makes the loss fall like that is the lr doing its work
 * (the first steps of a healthy run), not an lr too high.  Unknown (no
 * two tenths yet) counts as falling: nothing to judge by.
 */
static bool
loss_falling(const struct doctor *d, long t)
{
    long W = d->spec.window, sub = W / 10 > 0 ? W / 10 : 1;
    struct means now, prev;
    if (t < 2 * sub || !window(d, t - sub, t, &now) || !window(d, t - 2 * sub, t - sub, &prev))
        return true;
    return now.loss < prev.loss * (1.0 - par(d, DP_RATIO_FALLING));
}

/*
 * Too low is about the lr chosen, not the schedule's cut of it (CS231n's
 * rule judges the lr): the ratio at the base lr.  A base too small is
 * caught at any point of a schedule, and a cosine's tail is not.
 */
static void
judge_ratio_low(struct doctor *d, int k, bool judged)
{
    const struct tm_tensor *s = &d->tensors[k];
    double il = par(d, DP_RATIO_INFO_LOW), wl = par(d, DP_RATIO_WARNING_LOW);
    double r = s->update_ratio, rb = base_ratio(d, r), cut = lr_cut(d);
    int level = 0;
    if (judged && s->g_norm > 0.0f && s->w_norm > 0.0f)
        level = rb < wl ? DOC_WARNING : rb < il ? DOC_INFO : 0;
    struct tm_finding *f = judge(d, DR_UPDATE_RATIO_LOW, T_TENSOR(k), level, rb,
                                 level == DOC_INFO ? il : wl);
    if (f == NULL)
        return;
    if (cut > 1.0)
        set_text(f, "update/weight ratio %.2g at lr %.3g%% of its base %.3g: %s%.2g at the "
                    "base lr (threshold %.0e)", r, 100.0 / cut, base_lr(d),
                 r < F32_RESOLVED ? "at most " : "", rb, f->threshold);
    else
        set_text(f, "update/weight ratio %.2g (threshold %.0e)", r, f->threshold);
    finish(d);
}

static void
judge_tensors(struct doctor *d, long t, bool converged, bool exempt)
{
    bool falling = loss_falling(d, t);
    const struct tm_info *in = &d->info;
    struct tm_finding *f;
    double ih = par(d, DP_RATIO_INFO_HIGH), wh = par(d, DP_RATIO_WARNING_HIGH);
    for (int k = 0; k < in->ntensors; k++) {
        if (!d->tensor_have[k])
            continue;
        const struct tm_tensor *s = &d->tensors[k];
        bool finite = s->nan_count == 0 && s->inf_count == 0;
        bool weight = is_dense_weight(d, k);
        double r = s->update_ratio;
        if (weight) {
            /* Too high is judged as measured: the step that overshoots is this one. */
            int level = 0;
            if (finite && !exempt && !converged && !falling)
                level = r > wh ? DOC_WARNING : r > ih ? DOC_INFO : 0;
            f = judge(d, DR_UPDATE_RATIO_HIGH, T_TENSOR(k), level, r, level == DOC_INFO ? ih : wh);
            if (f != NULL) {
                set_text(f, "update/weight ratio %.2g (threshold %.0e)", r, f->threshold);
                finish(d);
            }
            judge_ratio_low(d, k, finite && !exempt && !converged);
        }
        /* lr * |g| below float32 resolution of |w| rounds to no change at all:
         * that is arithmetic, not a missing update. */
        bool resolvable = (double)d->last_lr * s->g_norm > F32_RESOLVED * s->w_norm;
        int level = finite && s->g_norm > 0.0f && s->update_norm == 0.0f && d->last_lr > 0.0f &&
                    resolvable ? DOC_ERROR : 0;
        f = judge(d, DR_UPDATES_NOT_APPLIED, T_TENSOR(k), level, s->update_norm, 0.0);
        if (f != NULL) {
            set_text(f, "gradient norm %.3g but no update", (double)s->g_norm);
            finish(d);
        }
        level = finite && s->g_norm == 0.0f ? DOC_WARNING : 0;
        f = judge(d, DR_ZERO_GRADIENT, T_TENSOR(k), level, s->g_norm, 0.0);
        if (f != NULL) {
            set_text(f, "gradient exactly zero on %d snapshots", d->spec.patience);
            finish(d);
        }
        if (weight && d->tensor_layer[k] != d->last_dense
            && in->layers[d->tensor_layer[k]].out > 1) {
            bool flat = s->w_norm == 0.0f || s->w_min == s->w_max;
            level = finite && flat ? DOC_WARNING : 0;
            f = judge(d, DR_SYMMETRIC_INIT, T_TENSOR(k), level, s->w_max - s->w_min, 0.0);
            if (f != NULL) {
                set_text(f, "all %ld weights equal (%g): its %d units stay identical",
                         d->tensor_count[k], (double)s->w_min,
                         in->layers[d->tensor_layer[k]].out);
                finish(d);
            }
        }
    }

    /* Gradient flow: the first against the last dense weight, and each weight's rms. */
    int kf = d->first_dense >= 0 ? in->layers[d->first_dense].weight : -1;
    int kl = d->last_dense >= 0 ? in->layers[d->last_dense].weight : -1;
    bool flow = kf >= 0 && kl >= 0 && kf != kl && kf < 2 * TM_MAX_LAYERS &&
                kl < 2 * TM_MAX_LAYERS && d->tensor_have[kf] && d->tensor_have[kl];
    double gf = flow ? d->tensors[kf].g_norm : 0.0, gl = flow ? d->tensors[kl].g_norm : 0.0;
    double ratio = flow && gl > 0.0 ? gf / gl : NAN;
    for (int k = 0; k < in->ntensors; k++) {
        if (!d->tensor_have[k] || !is_dense_weight(d, k))
            continue;
        const struct tm_tensor *s = &d->tensors[k];
        double rms = d->tensor_count[k] > 0 ? s->g_norm / sqrt((double)d->tensor_count[k]) : 0;
        bool by_ratio = k == kf && isfinite(ratio) && ratio < par(d, DP_VANISHING_RATIO) &&
                        gf < par(d, DP_VANISHING_FIRST) && gf > 0.0;
        bool by_rms = s->g_norm > 0.0f && rms < par(d, DP_VANISHING_MEAN);
        int level = !converged && (by_ratio || by_rms) ? DOC_WARNING : 0;
        f = judge(d, DR_VANISHING_GRADIENTS, T_TENSOR(k), level, by_ratio ? ratio : rms,
                  by_ratio ? par(d, DP_VANISHING_RATIO) : par(d, DP_VANISHING_MEAN));
        if (f != NULL) {
            if (by_ratio)
                set_text(f, "first/last weight-gradient norm %.2g (threshold %.0e), first "
                            "%.2g (threshold %.0e)", ratio, par(d, DP_VANISHING_RATIO), gf,
                         par(d, DP_VANISHING_FIRST));
            else
                set_text(f, "weight-gradient rms %.2g (threshold %.0e)", rms,
                         par(d, DP_VANISHING_MEAN));
            finish(d);
        }
        if (k != kf)
            continue;
        double te = par(d, DP_EXPLODING_RATIO);
        level = isfinite(ratio) && ratio > te ? DOC_WARNING : 0;
        f = judge(d, DR_EXPLODING_GRADIENTS, T_TENSOR(k), level, ratio, te);
        if (f != NULL) {
            set_text(f, "first/last weight-gradient norm %.3g (threshold %g)", ratio, te);
            finish(d);
        }
    }
}

/*
 * Divergence: the smoothed loss (now, when have_now) above the limit or
 * above a multiple of the initial loss.
 */
static void
judge_divergence(struct doctor *d, bool have_now, const struct means *pnow)
{
    struct tm_finding *f;
    struct means now = *pnow;
    double thr_abs = par(d, DP_DIVERGENCE_LOSS), fac = par(d, DP_DIVERGENCE_FACTOR);
    int level = 0;
    double thr = thr_abs;
    if (have_now) {
        if (now.loss > thr_abs)
            level = DOC_ERROR;
        else if (d->have_initial && d->initial > 0.0 && now.loss > fac * d->initial) {
            level = DOC_ERROR;
            thr = fac * d->initial;
        }
    }
    f = judge(d, DR_DIVERGENCE, T_GLOBAL, level, have_now ? now.loss : 0.0, thr);
    if (f != NULL) {
        set_text(f, "smoothed loss %.4g (threshold %.4g; initial %.4g)", f->value, thr,
                 d->initial);
        finish(d);
    }
}

/* Converged, judged here so that the caller can exempt other rules. */
static void
judge_converged(struct doctor *d, bool converged, bool have_now, const struct means *pnow,
                bool have_win, const struct means *pwin)
{
    struct tm_finding *f;
    long W = d->spec.window;
    struct means now = *pnow, win = *pwin;
    f = judge(d, DR_CONVERGED, T_GLOBAL, converged ? DOC_INFO : 0, have_now ? now.loss : 0.0,
              par(d, DP_CONVERGED_LOSS) * d->initial);
    if (f != NULL) {
        if (have_win && win.acc >= 0.99995)
            set_text(f, "training accuracy 100%% over the last %ld steps", W);
        else
            set_text(f, "smoothed loss %.3g, below %g of the initial %.3g", f->value,
                     par(d, DP_CONVERGED_LOSS), d->initial);
        finish(d);
    }
}

/*
 * Plateau: the window's second half against its first.  now and then are
 * the latest and the previous window's means, which the message shows
 * when the halves cannot be measured.
 */
static void
judge_plateau(struct doctor *d, long t, bool converged, bool exempt, struct means now,
              struct means then)
{
    struct tm_finding *f;
    long W = d->spec.window;
    /* Means over W/2 steps each, so minibatch noise averages out; flat
     * both ways, as a loss that rises is oscillation's or divergence's
     * business. */
    int level = 0;
    double impr = 0.0;
    struct means early, late;
    if (t >= W && hist_at(d, 0)->step <= t - W && window(d, t - W, t - W / 2, &early) &&
        window(d, t - W / 2, t, &late) && early.loss > 0.0) {
        then = early;
        now = late;
        impr = (early.loss - late.loss) / early.loss;
        /* Flat only as far as the halves are measured: with minibatch
         * noise larger than the threshold, a small difference is chance. */
        double noise = 3.0 * sqrt(early.loss_se * early.loss_se + late.loss_se * late.loss_se);
        if (fabs(impr) < par(d, DP_PLATEAU) && noise < par(d, DP_PLATEAU) * early.loss &&
            !converged && !exempt)
            level = DOC_WARNING;
    }
    f = judge(d, DR_PLATEAU, T_GLOBAL, level, impr, par(d, DP_PLATEAU));
    if (f != NULL) {
        /* Tiny as update-ratio-low judges it: at the base lr. */
        double maxr = 0.0;
        for (int k = 0; k < d->info.ntensors; k++) {
            double r = d->tensor_have[k] && is_dense_weight(d, k)
                           ? base_ratio(d, d->tensors[k].update_ratio) : 0.0;
            maxr = r > maxr ? r : maxr;
        }
        set_text(f, "smoothed loss %.4g -> %.4g over %ld steps: %.2g%% better (threshold %.2g%%)",
                 then.loss, now.loss, W, 100.0 * impr, 100.0 * par(d, DP_PLATEAU));
        if (maxr < par(d, DP_RATIO_INFO_LOW))
            snprintf(f->advice, sizeof f->advice,
                     "updates are tiny (largest update/weight %.1e at the base lr): the lr is "
                     "too low, raise it", maxr);
        else
            snprintf(f->advice, sizeof f->advice,
                     "updates are not small (update/weight %.1e at the base lr) yet the loss is "
                     "flat: a plateau; try a bigger model, another init or adam", maxr);
        finish(d);
    }
}

/* Oscillation: how often the loss rose between the window's ten intervals. */
static void
judge_oscillation(struct doctor *d, long t, bool converged)
{
    struct tm_finding *f;
    long W = d->spec.window, sub = W / 10 > 0 ? W / 10 : 1;
    int level = 0;
    double frac = 0.0;
    if (t >= W && hist_at(d, 0)->step <= t - W) {
        int rises = 0, n = 0;
        struct means prev;
        bool have_prev = false;
        for (int i = 0; i < 10; i++) {
            struct means m;
            long a = t - W + i * sub, b = i == 9 ? t : t - W + (i + 1) * sub;
            if (!window(d, a, b, &m)) {
                have_prev = false;
                continue;
            }
            if (have_prev) {
                n++;
                /* A rise counts when it is larger than minibatch noise
                 * explains: three standard errors of the difference. */
                double noise = 3.0 * sqrt(m.loss_se * m.loss_se + prev.loss_se * prev.loss_se);
                rises += m.loss > prev.loss * (1.0 + par(d, DP_OSCILLATION_RISE)) &&
                         m.loss - prev.loss > noise;
            }
            prev = m;
            have_prev = true;
        }
        frac = n > 0 ? (double)rises / n : 0.0;
        if (n >= 5 && frac > par(d, DP_OSCILLATION) && !converged)
            level = DOC_WARNING;
    }
    f = judge(d, DR_OSCILLATION, T_GLOBAL, level, frac, par(d, DP_OSCILLATION));
    if (f != NULL) {
        set_text(f, "loss rose by more than %.0f%% on %.0f%% of the last %ld steps' intervals "
                    "(threshold %.0f%%)", 100.0 * par(d, DP_OSCILLATION_RISE), 100.0 * frac, W,
                 100.0 * par(d, DP_OSCILLATION));
        finish(d);
    }
}

/* Exploding gradients, from the trend of the gradient norm over the window. */
static void
judge_gnorm_growth(struct doctor *d, long t, bool converged)
{
    struct tm_finding *f;
    long W = d->spec.window;
    /* exploding: the gradient norm of the latest snapshot interval against
     * the smallest interval mean in the window, and above where it began
     * (a converged run's gradients are noise around zero: not judged). */
    int level = 0;
    double growth = 0.0, lowest = INFINITY, latest = 0.0;
    if (d->hn >= 3 && !converged) {
        for (int i = d->hn - 1; i >= 1; i--) {
            const struct sums *b = hist_at(d, i), *a = hist_at(d, i - 1);
            if (b->step <= t - W)
                break;
            if (b->n <= a->n)
                continue;
            double m = (b->gnorm - a->gnorm) / (double)(b->n - a->n);
            if (i == d->hn - 1)
                latest = m;
            else if (m < lowest)
                lowest = m;
        }
        if (lowest > 0.0 && isfinite(lowest) && d->initial_gnorm > 0.0) {
            growth = latest / lowest;
            if (growth >= par(d, DP_EXPLODING_GROWTH) && latest > d->initial_gnorm)
                level = DOC_WARNING;
        }
    }
    f = judge(d, DR_EXPLODING_GRADIENTS, T_GLOBAL, level, growth, par(d, DP_EXPLODING_GROWTH));
    if (f != NULL) {
        set_text(f, "gradient norm %.3g, %.3gx its low of %.3g within %ld steps (threshold %gx)",
                 latest, growth, lowest, W, par(d, DP_EXPLODING_GROWTH));
        finish(d);
    }
}

/* Regularisation that dominates the loss, and frequent clipping, over the window. */
static void
judge_window_shares(struct doctor *d, long t, bool converged)
{
    struct tm_finding *f;
    long W = d->spec.window;
    /* Over the window, or what there is of it. */
    struct means all;
    bool have_all = window(d, t - W, t, &all) && all.n >= W / 5;
    int level = have_all && !converged && all.reg > 0.0 &&
                    all.reg > par(d, DP_REGULARIZATION) * all.loss
                ? DOC_WARNING : 0;
    f = judge(d, DR_REGULARIZATION_DOMINATES, T_GLOBAL, level,
              have_all && all.loss > 0 ? all.reg / all.loss : 0.0, par(d, DP_REGULARIZATION));
    if (f != NULL) {
        set_text(f, "L2 term %.4g vs data loss %.4g (ratio %.3g, threshold %g)", all.reg,
                 all.loss, f->value, par(d, DP_REGULARIZATION));
        finish(d);
    }
    level = have_all && all.clipped > par(d, DP_CLIPPING) ? DOC_WARNING : 0;
    f = judge(d, DR_CLIPPING_FREQUENT, T_GLOBAL, level, have_all ? all.clipped : 0.0,
              par(d, DP_CLIPPING));
    if (f != NULL) {
        set_text(f, "gradients clipped on %.0f%% of the last %ld steps (threshold %.0f%%)",
                 100.0 * f->value, all.n, 100.0 * par(d, DP_CLIPPING));
        finish(d);
    }
}

/* The rules on the run as a whole, judged from the loss history at step t. */
static void
judge_loss(struct doctor *d, long t, bool converged, bool exempt)
{
    /* A converged run is judged on nothing but divergence: its loss is
     * noise around a floor near zero (see is_converged). */
    long W = d->spec.window, sub = W / 10 > 0 ? W / 10 : 1;
    struct means now, then, win;
    bool have_now = window(d, t - sub, t, &now);
    (void)window(d, t - W - sub, t - W, &then);
    bool have_win = window(d, t - W, t, &win) && t >= W;

    judge_divergence(d, have_now, &now);
    judge_converged(d, converged, have_now, &now, have_win, &win);
    judge_plateau(d, t, converged, exempt, now, then);
    judge_oscillation(d, t, converged);
    judge_gnorm_growth(d, t, converged);
    judge_window_shares(d, t, converged);
}

/*
 * Converged: the loss is a tiny fraction of where it began, or every
 * sample is right.  Once raised it holds until the loss is ten times the
 * threshold again: a converged loss is noise around a floor near zero,
 * and relative to that floor the noise is large.
 */
static bool
is_converged(const struct doctor *d, long t)
{
    long W = d->spec.window, sub = W / 10 > 0 ? W / 10 : 1;
    struct means now, win;
    double thr = par(d, DP_CONVERGED_LOSS) * (d->inst[DR_CONVERGED][T_GLOBAL].active ? 10.0 : 1.0);
    if (d->have_initial && d->initial > 0.0 && window(d, t - sub, t, &now) &&
        now.loss < thr * d->initial)
        return true;
    return t >= W && window(d, t - W, t, &win) && win.n >= W / 2 && win.acc >= 0.99995;
}

static void
on_snapshot(struct doctor *d, const struct tm_snapshot *sn)
{
    hist_push(d);
    /* The step-0 view's snapshot has no update to judge. */
    if (!d->spec.enabled || !d->have_info || d->step0)
        goto out;
    long t = d->cum.step;
    d->now = sn->step > t ? sn->step : t;
    bool converged = is_converged(d, t);
    bool exempt = lr_exempt(d, t);
    judge_loss(d, t, converged, exempt || lr_annealed(d, t));
    judge_layers(d);
    judge_tensors(d, t, converged, exempt);
    /* A non-finite report clears once snapshots are finite again. */
    judge(d, DR_NONFINITE, T_GLOBAL, 0, 0.0, 0.0);
out:
    memset(d->layer_have, 0, sizeof d->layer_have);
    memset(d->tensor_have, 0, sizeof d->tensor_have);
}

static void
on_eval(struct doctor *d, const struct tm_eval *e)
{
    if (e->split != TM_SPLIT_VAL || !d->spec.enabled || !d->have_info)
        return;
    long W = d->spec.window, sub = W / 10 > 0 ? W / 10 : 1;
    long t = d->cum.step;
    struct means now;
    if (!window(d, t - sub, t, &now) || !isfinite(e->loss))
        return;
    if (d->nevals == EVALS_CAP) {
        memmove(d->evals, d->evals + 1, (EVALS_CAP - 1) * sizeof d->evals[0]);
        d->nevals--;
    }
    struct eval_pt *p = &d->evals[d->nevals++];
    p->step = e->step;
    p->val_loss = e->loss;
    p->val_acc = e->accuracy;
    p->train_loss = now.loss;
    p->train_acc = now.acc;
    d->now = e->step;

    int k = (int)par(d, DP_OVERFIT_EVALS);
    bool rising = d->nevals > k;
    for (int i = d->nevals - k; rising && i < d->nevals; i++)
        rising = d->evals[i].val_loss > d->evals[i - 1].val_loss &&
                 d->evals[i].train_loss <= d->evals[i - 1].train_loss;
    double gap = p->train_acc - p->val_acc;
    double gthr = p->train_acc > 0.9 ? par(d, DP_GAP_HIGH_ACC) : par(d, DP_GAP);
    bool gapped = d->info.loss_kind == TM_LOSS_CROSS_ENTROPY && gap >= gthr;
    int level = !d->state.overfit && (rising || gapped) ? DOC_WARNING : 0;
    struct tm_finding *f = judge(d, DR_OVERFITTING, T_GLOBAL, level, rising ? p->val_loss : gap,
                                 rising ? d->evals[d->nevals - 1 - k].val_loss : gthr);
    if (f != NULL) {
        if (rising)
            set_text(f, "validation loss rose %d evaluations in a row to %.4g while the "
                        "training loss fell to %.4g", k, p->val_loss, p->train_loss);
        else
            set_text(f, "train accuracy %.1f%% vs validation %.1f%%: gap %.3g (threshold %.2g)",
                     100.0 * p->train_acc, 100.0 * p->val_acc, gap, gthr);
        finish(d);
    }
}

static void
on_event(struct doctor *d, const struct tm_event *ev)
{
    if (ev->kind != TM_EV_NONFINITE || !d->spec.enabled)
        return;
    d->now = ev->step;
    struct tm_finding *f = raise_now(d, DR_NONFINITE, T_GLOBAL, DOC_ERROR, 1.0, 0.0);
    if (f == NULL)
        return;
    char text[TM_TEXT_MAX];
    snprintf(text, sizeof text, "%s", ev->text);
    text[TM_TEXT_MAX - 1] = '\0';
    set_text(f, "%s", text);
    finish(d);
}

void
doctor_feed(struct doctor *d, const struct tm_record *r)
{
    switch (r->type) {
    case TM_INFO:
        on_info(d, &r->u.info);
        break;
    case TM_STATE:
        d->state = r->u.state;
        d->have_state = true;
        break;
    case TM_STEP:
        on_step(d, &r->u.step);
        break;
    case TM_LAYER:
        if (r->u.layer.index >= 0 && r->u.layer.index < TM_MAX_LAYERS) {
            d->layers[r->u.layer.index] = r->u.layer;
            d->layer_have[r->u.layer.index] = true;
        }
        break;
    case TM_TENSOR:
        if (r->u.tensor.index >= 0 && r->u.tensor.index < 2 * TM_MAX_LAYERS) {
            d->tensors[r->u.tensor.index] = r->u.tensor;
            d->tensor_have[r->u.tensor.index] = true;
        }
        break;
    case TM_SNAPSHOT:
        on_snapshot(d, &r->u.snapshot);
        break;
    case TM_EVAL:
        on_eval(d, &r->u.eval);
        break;
    case TM_EVENT:
        on_event(d, &r->u.event);
        break;
    default:
        break;
    }
}

/* ---- text ------------------------------------------------------------------ */

static const char *
where_of(char *buf, size_t len, const struct tm_finding *f)
{
    if (f->tensor >= 0 && f->tensor_name[0] != '\0')
        snprintf(buf, len, " tensor %s", f->tensor_name);
    else if (f->layer >= 0)
        snprintf(buf, len, " layer %d", f->layer);
    else
        buf[0] = '\0';
    return buf;
}

const char *
doctor_format_line(char *buf, size_t len, const struct tm_finding *f, bool utf8)
{
    static const char *const words[DOC_SEVERITY_COUNT] = {"OK", "INFO", "WARN", "ERROR"};
    int s = f->severity >= 0 && f->severity < DOC_SEVERITY_COUNT ? f->severity : DOC_INFO;
    char where[64];
    where_of(where, sizeof where, f);
    const char *sev = f->state == TM_FINDING_CLEARED ? "CLEARED" : words[s];
    int n = snprintf(buf, len, "%s step %ld %s%s: %s", sev, f->step, f->rule, where, f->text);
    if (n >= 0 && (size_t)n < len && f->state == TM_FINDING_RAISED && f->advice[0] != '\0')
        n += snprintf(buf + n, len - (size_t)n, " %s %s", utf8 ? "\xe2\x80\x94" : "--",
                      f->advice);
    if (n >= 0 && (size_t)n < len && f->state == TM_FINDING_RAISED && f->remedy_text[0] != '\0')
        snprintf(buf + n, len - (size_t)n, " [remedy: %s]", f->remedy_text);
    return buf;
}

/* Six significant digits: the measured values are float32 statistics. */
static const char *
json_num6(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        return runlog_json_num(buf, len, v);
    snprintf(buf, len, "%.6g", v);
    return buf;
}

const char *
doctor_format_json(char *buf, size_t len, const struct tm_finding *f)
{
    static const char *const states[TM_FINDING_STATE_COUNT] = {"raised", "cleared", "passed"};
    char rule[2 * TM_NAME_MAX + 8], tensor[2 * TM_NAME_MAX + 8];
    char advice[2 * TM_TEXT_MAX + 8], text[2 * TM_TEXT_MAX + 8], remedy[2 * TM_NAME_MAX + 8];
    char v[32], th[32], where[128] = "";
    runlog_json_str(rule, sizeof rule, f->rule);
    runlog_json_str(advice, sizeof advice, f->advice);
    runlog_json_str(text, sizeof text, f->text);
    if (f->layer >= 0) {
        int n = snprintf(where, sizeof where, "\"layer\":%d,", f->layer);
        if (f->tensor >= 0 && n > 0 && (size_t)n < sizeof where) {
            runlog_json_str(tensor, sizeof tensor, f->tensor_name);
            snprintf(where + n, sizeof where - (size_t)n, "\"tensor\":%s,", tensor);
        }
    }
    int st = f->state >= 0 && f->state < TM_FINDING_STATE_COUNT ? f->state : 0;
    int n = snprintf(buf, len,
                     "\"rule\":%s,\"severity\":\"%s\",\"stage\":%d,%s\"value\":%s,"
                     "\"threshold\":%s,\"advice\":%s,\"state\":\"%s\",\"raised_step\":%ld,"
                     "\"text\":%s",
                     rule, doctor_severity_name(f->severity), f->stage, where,
                     json_num6(v, sizeof v, f->value), json_num6(th, sizeof th, f->threshold),
                     advice, states[st], f->raised_step, text);
    if (n >= 0 && (size_t)n < len && f->remedy_text[0] != '\0') {
        runlog_json_str(remedy, sizeof remedy, f->remedy_text);
        snprintf(buf + n, len - (size_t)n, ",\"remedy\":%s", remedy);
    }
    return buf;
}

/* ---- tally ----------------------------------------------------------------- */

void
doctor_tally_init(struct doctor_tally *t)
{
    memset(t, 0, sizeof *t);
    t->max_severity = -1;
}

void
doctor_tally_add(struct doctor_tally *t, const struct tm_finding *f)
{
    if (f->state != TM_FINDING_RAISED || f->severity < DOC_INFO
        || f->severity >= DOC_SEVERITY_COUNT)
        return;
    char id[TM_NAME_MAX];
    snprintf(id, sizeof id, "%s", f->rule);
    int r = doctor_rule_find(id);
    t->n[r < 0 ? DR_COUNT : r][f->severity]++;
    if (f->severity > t->max_severity)
        t->max_severity = f->severity;
}

void
doctor_tally_print(const struct doctor_tally *t, FILE *out)
{
    long tot[DOC_SEVERITY_COUNT] = {0};
    for (int r = 0; r <= DR_COUNT; r++)
        for (int s = DOC_INFO; s < DOC_SEVERITY_COUNT; s++)
            tot[s] += t->n[r][s];
    if (tot[DOC_INFO] + tot[DOC_WARNING] + tot[DOC_ERROR] == 0) {
        fprintf(out, "doctor: no findings\n");
        return;
    }
    static const char *const plural[DOC_SEVERITY_COUNT] = {"ok", "info", "warnings", "errors"};
    fprintf(out, "doctor:");
    const char *sep = " ";
    for (int s = DOC_ERROR; s >= DOC_INFO; s--) {
        if (tot[s] == 0)
            continue;
        fprintf(out, "%s%ld %s", sep, tot[s], tot[s] == 1 ? doctor_severity_name(s) : plural[s]);
        sep = ", ";
    }
    fprintf(out, " (");
    sep = "";
    for (int r = 0; r <= DR_COUNT; r++) {
        for (int s = DOC_ERROR; s >= DOC_INFO; s--) {
            if (t->n[r][s] == 0)
                continue;
            fprintf(out, "%s%s %ld %s", sep, r < DR_COUNT ? rules[r].id : "other", t->n[r][s],
                    t->n[r][s] == 1 ? doctor_severity_name(s) : plural[s]);
            sep = ", ";
        }
    }
    fprintf(out, ")\n");
}
