/*
 * nn.h - the training engine: a sequential model of layers on one
 * contiguous parameter buffer, and its losses.
 *
 * Layers compute in float32 with matrix products through blas.h.  All
 * trainable parameters live in model->params; model->grads has the same
 * layout; per-tensor slices are described by model->tensors and named as
 * PyTorch's nn.Sequential of the same layer list names them ("0.weight"
 * with shape [out, in], "0.bias", "3.running_mean", ...).  Non-trainable
 * state (batch-norm running statistics) lives in model->state, described
 * by model->buffers.
 *
 * This module knows nothing of files or screens, and of threads only
 * that a team (below) can run the parts of one batch on several.  Bad specs are
 * refused by model_new() with a message; nothing here calls exit().
 */
#ifndef NNTOP_NN_H
#define NNTOP_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nntop/rng.h"

#define NN_MAX_LAYERS 64
#define NN_MAX_TENSORS (2 * NN_MAX_LAYERS)
#define NN_NAME_MAX 32

enum layer_kind {
    LAYER_DENSE,
    LAYER_RELU,
    LAYER_LEAKY_RELU,
    LAYER_TANH,
    LAYER_SIGMOID,
    LAYER_DROPOUT,
    LAYER_BATCHNORM,
    LAYER_CONV2D,           /* NCHW cross-correlation, weight [out, in, kh, kw] */
    LAYER_MAXPOOL2D,
    LAYER_AVGPOOL2D,        /* count_include_pad as PyTorch's default */
    LAYER_FLATTEN,          /* (C, H, W) -> (C*H*W): the rows are already flat */
    LAYER_BATCHNORM2D,      /* per-channel statistics over (B, H, W) */
    LAYER_DROPOUT2D,        /* one mask entry per (sample, channel) */
    LAYER_GLOBAL_AVGPOOL,   /* (C, H, W) -> (C, 1, 1), nn.AdaptiveAvgPool2d(1) */
    LAYER_KIND_COUNT
};

enum init_kind {
    INIT_PYTORCH,   /* nn.Linear's default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)) */
    INIT_HE,        /* Kaiming normal, fan-in: W ~ N(0, 2/in), b = 0 */
    INIT_XAVIER,    /* Glorot uniform: W ~ U(-a, a), a = sqrt(6/(in+out)), b = 0 */
    INIT_NORMAL,    /* W ~ N(0, arg^2), b = 0 */
    INIT_UNIFORM,   /* W ~ U(-arg, arg), b = 0 */
    INIT_ZEROS,     /* W = 0, b = 0 */
    INIT_KIND_COUNT
};

enum loss_kind {
    LOSS_CROSS_ENTROPY, /* softmax cross-entropy on integer labels, mean over batch */
    LOSS_MSE,           /* mean over (B, OUT) of squared error; labels become one-hot targets */
    LOSS_KIND_COUNT
};

struct layer_spec {
    enum layer_kind kind;
    int units;              /* dense: output width; conv2d: output channels */
    float arg;              /* leaky_relu: slope; dropout, dropout2d: p in [0, 1) */
    enum init_kind init;    /* dense and conv2d */
    float init_arg;         /* normal: std; uniform: a */
    int kernel;             /* conv2d, pools: square kernel side */
    int stride;             /* conv2d, pools: >= 1 (0 in a spec: conv 1, pools kernel) */
    int padding;            /* conv2d, pools: zeros (conv, avg) or -inf (max) each side */
    bool no_bias;           /* conv2d: without a bias */
};

struct model_spec {
    int in;                 /* input width (from the data) */
    int in_c, in_h, in_w;   /* image shape of the input (in = C*H*W), or 0 when flat */
    int nlayers;
    struct layer_spec layers[NN_MAX_LAYERS];
    enum loss_kind loss;
    uint64_t seed;          /* run seed: init and dropout streams derive from it */
};

/* A named slice of model->params/grads (or of model->state for buffers). */
struct param_tensor {
    char name[NN_NAME_MAX]; /* "0.weight", "0.bias", "2.running_mean", ... */
    int layer;              /* index of the owning layer */
    size_t offset;          /* in floats, into params/grads (or state) */
    size_t count;           /* product of shape */
    int rows, cols;         /* shape[0] and the product of the rest (1 for vectors) */
    int ndim;               /* 1, 2 or 4 (conv weight) */
    int shape[4];           /* PyTorch's shape: [out], [out, in], [out, in, kh, kw] */
};

struct layer {
    enum layer_kind kind;
    int in, out;            /* widths (equal for everything but dense) */
    int c, h, w;            /* input image shape (in = c h w), 0 when flat */
    int oc, oh, ow;         /* output image shape (out = oc oh ow), 0 when flat */
    int k, stride, pad;     /* conv2d, pools */
    float arg;              /* slope (leaky_relu), p (dropout) */
    int weight, bias;       /* indices into model->tensors, -1 if none */
    int run_mean, run_var;  /* indices into model->buffers, -1 if none */
    /* Caches of the last forward pass, sized for model->max_batch rows. */
    float *y;               /* (B, out) this layer's output */
    float *mask;            /* dropout: (B, out) 0 or 1/(1-p); NULL otherwise */
    float *xhat;            /* batchnorm: (B, out) normalised input */
    float *mean, *invstd;   /* batchnorm: (out), batchnorm2d: (c) batch statistics */
    int32_t *argmax;        /* maxpool2d: (B, out) input index of each maximum */
};

struct model {
    struct model_spec spec;
    int nlayers;
    struct layer layers[NN_MAX_LAYERS];
    int in, out;            /* model input and output widths */
    int max_batch;          /* rows the caches hold; grow with model_reserve */
    int batch;              /* rows of the last forward pass */

    int ntensors;
    struct param_tensor tensors[NN_MAX_TENSORS];
    size_t nparams;
    float *params;          /* (nparams) all trainable parameters */
    float *grads;           /* (nparams) d loss / d params of the last backward */

    int nbuffers;
    struct param_tensor buffers[NN_MAX_TENSORS];
    size_t nstate;
    float *state;           /* (nstate) batch-norm running statistics */
    long bn_batches;        /* PyTorch's num_batches_tracked */

    const float *x;         /* (B, in) input of the last forward, borrowed */
    float *dlogits;         /* (B, out) d loss / d output of the last loss */
    float *dx;              /* (B, in) d loss / d input, filled when want_dx */
    bool want_dx;           /* compute dx in backward (gradient check) */
    bool training;          /* dropout active, batch norm uses batch stats */
    int loss_rows;          /* rows the loss averages over; 0: the batch (team.c sets it
                             * while a part of a split batch computes its loss) */
    struct rng rng_dropout;
    /* Backward scratch, sized for max_batch rows of the widest layer. */
    float *work_a, *work_b;
    /* im2col scratch of one sample for the largest conv2d: (C kh kw, OH OW). */
    float *col;
    size_t col_len;
    /*
     * Polled before each layer of model_forward() and model_backward() (and
     * between a dense layer's weight and input gradients), NULL in training:
     * a true return abandons the pass, its outputs undefined.  The gradient
     * check sets it so that a quit needs no whole pass over 1000 rows; a
     * check between layers changes no layer's arithmetic.
     */
    bool (*stop)(void *ctx);
    void *stop_ctx;
};

/* What a loss evaluation reports. */
struct loss_out {
    double data;            /* the data loss (mean over the batch) */
    int correct;            /* samples whose argmax matches the label */
};

/* One batch of input: labels, or (MSE regression) explicit targets. */
struct batch {
    const float *x;         /* (B, in) */
    const int32_t *labels;  /* (B), or NULL when targets are given */
    const float *targets;   /* (B, out), or NULL: one-hot of labels */
    int size;               /* B >= 1 */
};

/*
 * Build a model from spec for batches of up to max_batch rows and
 * initialise its parameters from spec->seed.  On a bad spec (non-positive
 * widths, dropout p outside [0, 1), a model ending in a width the loss
 * cannot use, too many layers) returns NULL and sets *cause to a heap
 * message the caller frees.  The caller owns the model: model_free().
 */
struct model *model_new(const struct model_spec *spec, int max_batch, char **cause);
/*
 * Check spec as model_new() would, without building anything: 0, or -1
 * with *cause a heap message the caller frees ("conv2d: kernel 5 larger
 * than the 4x4 input after layer 3") and *layer the index of the layer it
 * is about (-1 when about the whole model).  Either pointer may be NULL.
 */
int model_check_spec(const struct model_spec *spec, int max_batch, int *layer, char **cause);
/*
 * What training a model of spec would hold, before any of it is
 * allocated: *nparams parameters, and *bytes for them, their gradients,
 * copies of their size (optimizer moments and the trainer's update and
 * previous parameters: copies of them), and the activations of batches
 * of max_batch and eval_batch rows.  *largest is the layer with the most
 * parameters.  -1 when the spec is bad (model_check_spec() says why).
 */
int model_spec_footprint(const struct model_spec *spec, int max_batch, int eval_batch, int copies,
                         uint64_t *nparams, uint64_t *bytes, int *largest);
/* Free a model and every buffer it owns.  NULL is allowed. */
void model_free(struct model *m);
/* Re-initialise every parameter and running statistic from seed. */
void model_init_params(struct model *m, uint64_t seed);
/* Make the caches hold batches of up to batch rows (batch >= 1). */
void model_reserve(struct model *m, int batch);
/* Training mode (dropout on, batch statistics) or eval mode. */
void model_set_training(struct model *m, bool training);

/*
 * Forward pass of B rows of x (borrowed until backward); returns (B, out),
 * or NULL when m->stop abandoned it.
 */
const float *model_forward(struct model *m, const float *x, int B);
/*
 * Loss of the last forward output against b; writes model->dlogits.
 * Returns the data loss.
 */
double model_loss(struct model *m, const struct batch *b, struct loss_out *out);
/*
 * Backward from model->dlogits: overwrites model->grads (and dx).  Returns
 * false when m->stop abandoned it (grads and dx then undefined).
 */
bool model_backward(struct model *m);
/*
 * forward + loss + backward on one batch in the current mode; the data
 * loss, or NaN when m->stop abandoned the passes (out is then untouched).
 */
double model_grad(struct model *m, const struct batch *b, struct loss_out *out);

/*
 * Splitting a batch across threads (team.c).  A team of n runs each
 * training batch on n threads (the caller's and n - 1 helpers), each with
 * single-threaded sgemm, in one of two ways.  By rows: n consecutive
 * parts of the batch, whose gradients are summed in a fixed order.  By
 * features (models of dense layers and element-wise activations only):
 * every thread computes its range of each layer's outputs, weight rows
 * and input gradients, meeting the others at a barrier between layers;
 * nothing is summed.  Either way the same seed and n give the same run.
 * Models with batch norm or dropout (flat or 2d), and n == 1, are not
 * split: the team then gives OpenBLAS n threads and calls model_grad().
 */
struct model_team;
enum team_split {
    TEAM_SPLIT_NONE,        /* one thread (or a model that cannot be split) */
    TEAM_SPLIT_ROWS,        /* parts of the batch */
    TEAM_SPLIT_FEATURES,    /* ranges of each layer's features */
    TEAM_SPLIT_AUTO,        /* model_team_set_split(): whichever is faster for the batch */
    TEAM_SPLIT_COUNT
};
/*
 * A team of n >= 1 threads for m (borrowed; it must outlive the team).
 * Sets OpenBLAS's thread count: 1 when it splits, else n.  The caller
 * owns the team: model_team_free().
 */
struct model_team *model_team_new(struct model *m, int n);
/* Stop the helper threads and free the team (not the model).  NULL is allowed. */
void model_team_free(struct model_team *t);
/* Parts a batch is split into: n, or 1 when the model cannot be split. */
int model_team_size(const struct model_team *t);
/*
 * How to split batches: TEAM_SPLIT_AUTO (the default) by features for
 * small batches and by rows for large ones, or always TEAM_SPLIT_ROWS or
 * TEAM_SPLIT_FEATURES (benchmarks, tests).  A model that cannot be split
 * by features is split by rows.
 */
void model_team_set_split(struct model_team *t, enum team_split split);
/* How a batch of B rows is split: NONE, ROWS or FEATURES. */
enum team_split model_team_split_for(const struct model_team *t, int B);
/*
 * fn(ctx, lo, hi) over [0, n) cut into consecutive ranges, one for each of
 * the team's threads (all of it on the caller's when the team has one), in
 * parallel; returns when all are done.  The trainer gathers a batch so:
 * each thread fetches the rows it is about to read, and the gather is no
 * longer a serial stretch of the step.
 */
typedef void (*team_rows_fn)(void *ctx, int lo, int hi);
void model_team_for(struct model_team *t, int n, team_rows_fn fn, void *ctx);
/* The sums a training step reads, taken while the team sums the gradients. */
struct team_sums {
    bool params;                /* in: take param_sq too */
    double grad_sq;             /* out: ||grads||^2 */
    double param_sq;            /* out: ||params||^2 when params is set, else 0 */
};
/*
 * model_grad() of b on the team's threads.  Afterwards the model's caches,
 * dlogits and grads hold the whole batch as after model_grad().  sums (may
 * be NULL) gets the squared norms, each thread summing its own range of
 * the entries: for one thread exactly optim_sum_squares() of the whole
 * buffer, for more the ranges' sums added in order (reproducible for a
 * given thread count).  Only the thread that made the team may call it,
 * never two at once.
 */
double model_team_grad(struct model_team *t, const struct batch *b, struct loss_out *out,
                       struct team_sums *sums);
struct optim;
/*
 * optim_step(o, m->params, m->grads, lr, update) with each thread updating
 * its own range of the parameters: bit-identical to optim_step().  save
 * (nparams floats, may be NULL) gets the parameters as they were before.
 * Returns whether every parameter is finite afterwards.
 */
bool model_team_optim_step(struct model_team *t, struct optim *o, double lr, float *update,
                           float *save);
/* model_forward() of B rows of x on the team's threads. */
const float *model_team_forward(struct model_team *t, const float *x, int B);

/* Index of the tensor called name, or -1. */
int model_find_tensor(const struct model *m, const char *name);
/*
 * The spec keywords of each kind, in enum order: the config's keyword
 * tables, the dumps and every message that names a kind read these.
 */
extern const char *const layer_kind_names[LAYER_KIND_COUNT];
extern const char *const init_kind_names[INIT_KIND_COUNT];
extern const char *const loss_kind_names[LOSS_KIND_COUNT];
/* The spec keyword of a layer kind ("dense", "relu", "leaky_relu", ...); "unknown" out of range. */
const char *layer_kind_name(enum layer_kind k);
/* The keyword of a loss kind ("cross_entropy", "mse"); "unknown" out of range. */
const char *loss_kind_name(enum loss_kind k);

/*
 * Softmax cross-entropy fused with log-softmax, stable for logits of any
 * magnitude.  logits (B, C); writes dlogits (B, C) = (softmax - onehot)/B
 * when dlogits is non-NULL.  Returns the mean loss; *correct counts argmax hits.
 */
double loss_cross_entropy(float *dlogits, int *correct, const float *logits,
                          const int32_t *labels, int B, int C);
/*
 * Mean squared error over all B*C entries; targets (B, C), or NULL to use
 * one-hot(labels).  Writes dlogits = 2 (y - t) / (B C) when non-NULL.
 */
double loss_mse(float *dlogits, int *correct, const float *y, const float *targets,
                const int32_t *labels, int B, int C);

#ifdef NNTOP_FAULT_INJECTION
/*
 * Planted bugs, for testing that the gradient check finds them.  Only a
 * build configured with --enable-fault-injection has these; the release
 * build carries no trace of them.
 */
enum nn_fault_kind {
    NN_FAULT_NONE,
    NN_FAULT_RELU_MASK,         /* relu backward passes dY through unmasked */
    NN_FAULT_DENSE_WEIGHT_T,    /* dense dW computed transposed (X^T dY) */
    NN_FAULT_DENSE_BIAS_SUM,    /* dense db from the first row, not the batch sum */
    NN_FAULT_BN_MEAN,           /* batch-norm dX missing the mean term */
    NN_FAULT_CE_SCALE,          /* cross-entropy dlogits missing the 1/B */
    NN_FAULT_TANH_AT_OUTPUT,    /* tanh' evaluated at the output: 1 - tanh(y)^2 */
    /* conv2d dW with the kernel flipped (convolution for correlation) */
    NN_FAULT_CONV_WEIGHT_FLIP,
    NN_FAULT_CONV_BIAS_FIRST,   /* conv2d db from the first sample, not the batch */
    NN_FAULT_MAXPOOL_FIRST,     /* max-pool dX routed to each window's first input, not its max */
    NN_FAULT_AVGPOOL_SCALE,     /* avg-pool dX missing the 1/k^2 */
    NN_FAULT_BATCH_MIX,         /* dense dX read dY (B, OUT) as if it were (OUT, B) */
    NN_FAULT_KIND_COUNT
};

/* Plant kind in layer's backward (layer is ignored for NN_FAULT_CE_SCALE);
 * NN_FAULT_NONE removes it.  Process-wide. */
void nn_fault_plant(enum nn_fault_kind kind, int layer);
#endif

#endif
