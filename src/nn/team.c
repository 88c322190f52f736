/*
 * team.c - one training batch split across threads.  Every layer this
 * engine has computes each row (sample) of a batch on its own, except
 * batch norm (statistics over the batch) and dropout (one random stream
 * drawn in row order), flat or 2d, so a batch of B rows is cut into n consecutive parts and each
 * thread runs the ordinary forward, loss and backward of model.c on its
 * part with single-threaded sgemm.  OpenBLAS splits the small products of
 * a step poorly between two threads; whole parts of a batch split well.
 *
 * The parts are models that share the real model's parameters and write
 * their rows into its caches (they are views at a row offset), so after a
 * step the model holds the whole batch's activations and dlogits exactly
 * as after model_grad().  Each part after the first has its own gradient
 * buffer and backward scratch; the gradients are summed part by part in a
 * fixed order, so a run is reproducible for a given thread count (and
 * differs from the 1-thread run only in the rounding of that sum).
 *
 * A new layer kind joins the split by being row-independent in training
 * and having only per-row caches that part_bind() points at its rows
 * (y, maxpool's argmax) or scratch each part owns (conv's im2col).
 * The optimizer's update, entry by entry, is split by ranges of the
 * parameters (bit-identical to one thread): in a model split by features
 * each thread's are the weight rows and biases whose gradients it
 * computes.  A cache line one core writes that the other has read costs
 * the writer a coherence round trip, on this VM's cores up to 13 ns a
 * line (bench/README.md): kept to its own rows, a thread's gradients,
 * moments and weights stay in its core's cache from the backward to the
 * update.
 *
 * A small batch cut into rows gives each thread products of a few rows,
 * whose weight gradients (K = rows) run far below sgemm's speed, and a
 * gradient buffer to sum.  A model of dense layers and element-wise
 * activations is split by features instead: thread i computes its range
 * of every layer's outputs (forward), of its weight rows and bias (dW =
 * dY^T X over the whole batch) and of its input gradient's columns (dX =
 * dY W), with a barrier where a layer needs the others' columns (before
 * each dense layer's forward and dX, and around the loss, which thread 0
 * computes).  Every entry comes from the same product over the same K as
 * on one thread, and nothing is summed.
 *
 * This file does not split the evaluation's loss or clipping, and it does
 * not choose the thread count.
 */
#include "config.h"

#include "nntop/nn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "nntop/blas.h"
#include "nntop/optim.h"
#include "nntop/pool.h"
#include "nntop/xmem.h"

#define TEAM_MAX 16
/*
 * TEAM_SPLIT_AUTO splits batches of up to this many rows by features.
 * Measured with bench/mlp-bench --pairs on 2 shared cores (bench/README.md):
 * the feature split beats the row split at batch 32, ties at 128 on a
 * quiet machine and loses a little there under load (five barriers a
 * step against two joins), and loses at 512.
 */
#define TEAM_FEATURE_ROWS 64

enum team_phase {
    PHASE_GRAD, PHASE_FORWARD, PHASE_SUM, PHASE_OPTIM, PHASE_FEATURE_GRAD, PHASE_FEATURE_FORWARD,
    PHASE_FOR, PHASE_KEEP
};

/* A range [lo, hi) of the parameters. */
struct range {
    size_t lo, hi;
};

struct model_team {
    struct model *m;                /* borrowed: part 0 is the model itself */
    int n;                          /* parts a batch is split into (1: no split) */
    enum team_split split;          /* model_team_set_split() */
    bool by_feature;                /* the model can be split by features */
    struct pool *pool;              /* n members; NULL when n == 1 */
    struct model *part[TEAM_MAX];   /* parts 1..n-1: views with own grads and scratch */
    int part_rows;                  /* rows the parts' scratch holds */
    struct range *own[TEAM_MAX];    /* member i's parameters: what it sums and updates */
    int nown[TEAM_MAX];
    /* The job in progress. */
    enum team_phase phase;
    const struct batch *b;
    const float *x;
    int parts;                      /* parts in use this job (<= n, <= B) */
    int row0[TEAM_MAX], rows[TEAM_MAX];
    struct optim *optim;            /* PHASE_OPTIM: the step to apply */
    double lr;
    float *update;
    float *save;                    /* PHASE_OPTIM: the parameters before, or NULL */
    bool want_param_sq;             /* PHASE_SUM: take param_sq too */
    double loss[TEAM_MAX];
    int correct[TEAM_MAX];
    double grad_sq[TEAM_MAX];       /* PHASE_SUM: each member's share of ||grads||^2 */
    double param_sq[TEAM_MAX];      /* ... and of ||params||^2 */
    bool finite[TEAM_MAX];          /* PHASE_OPTIM: each member's share stayed finite */
    bool keep;                      /* PHASE_KEEP: blas_keep_buffer()'s argument */
    team_rows_fn for_fn;            /* PHASE_FOR: model_team_for()'s job */
    void *for_ctx;
    int for_n;
};

/* Whether every layer computes each row on its own in training. */
static bool
splits_by_row(const struct model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        switch (m->layers[i].kind) {
        case LAYER_DENSE:
        case LAYER_RELU:
        case LAYER_LEAKY_RELU:
        case LAYER_TANH:
        case LAYER_SIGMOID:
        case LAYER_CONV2D:          /* im2col scratch: each part has its own */
        case LAYER_MAXPOOL2D:       /* argmax: per-row cache, bound below */
        case LAYER_AVGPOOL2D:
        case LAYER_FLATTEN:
        case LAYER_GLOBAL_AVGPOOL:
            break;
        case LAYER_DROPOUT:
        case LAYER_DROPOUT2D:
        case LAYER_BATCHNORM:
        case LAYER_BATCHNORM2D:
        case LAYER_KIND_COUNT:
            return false;
        }
    }
    return true;
}

/* Whether the model is dense layers and element-wise activations only. */
static bool
splits_by_feature(const struct model *m)
{
#ifdef NNTOP_FAULT_INJECTION
    /* Planted bugs wrap model_backward()'s kernels: keep to the row split. */
    (void)m;
    return false;
#else
    for (int i = 0; i < m->nlayers; i++) {
        enum layer_kind k = m->layers[i].kind;
        if (k != LAYER_DENSE && k != LAYER_RELU && k != LAYER_LEAKY_RELU && k != LAYER_TANH
            && k != LAYER_SIGMOID)
            return false;
    }
    return true;
#endif
}

static int
widest_of(const struct model *m)
{
    int w = m->in;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].out > w)
            w = m->layers[i].out;
    return w;
}

/* (Re)size the parts' own scratch for parts of up to rows rows. */
static void
parts_reserve(struct model_team *t, int rows)
{
    if (rows <= t->part_rows)
        return;
    size_t n = (size_t)rows * (size_t)widest_of(t->m) * sizeof(float);
    for (int k = 1; k < t->n; k++) {
        free(t->part[k]->work_a);
        free(t->part[k]->work_b);
        t->part[k]->work_a = xalloc_aligned(n);
        t->part[k]->work_b = xalloc_aligned(n);
    }
    t->part_rows = rows;
}

/* Point part k at rows [row0, row0 + rows) of the model's caches. */
static void
part_bind(struct model_team *t, int k, int row0, int rows)
{
    struct model *m = t->m, *p = t->part[k];
    size_t r = (size_t)row0;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *L = &m->layers[i];
        p->layers[i].y = L->y + r * (size_t)L->out;
        if (L->argmax != NULL)
            p->layers[i].argmax = L->argmax + r * (size_t)L->out;
    }
    p->dlogits = m->dlogits + r * (size_t)m->out;
    p->params = m->params;
    p->training = m->training;
    p->max_batch = rows;    /* never grows: the caches are the model's */
}

static void own_ranges(struct model_team *t);
static void team_job(void *arg, int i);

/* blas_keep_buffer(on) on every member's thread. */
static void
keep_buffers(struct model_team *t, bool on)
{
    t->keep = on;
    t->phase = PHASE_KEEP;
    pool_run(t->pool, team_job, t);
}

struct model_team *
model_team_new(struct model *m, int n)
{
    assert(n >= 1);
    struct model_team *t = xcalloc(1, sizeof *t);
    t->m = m;
    t->n = 1;
    t->split = TEAM_SPLIT_AUTO;
    if (n > TEAM_MAX)
        n = TEAM_MAX;
    if (n > 1 && splits_by_row(m))
        t->pool = pool_new(n);
    if (t->pool == NULL) {
        /* No split: OpenBLAS's own threads are all the parallelism there is. */
        blas_set_threads(n);
        return t;
    }
    t->n = n;
    t->by_feature = splits_by_feature(m);
    for (int k = 1; k < n; k++) {
        struct model *p = xmalloc(sizeof *p);
        *p = *m;
        p->grads = xalloc_aligned(m->nparams * sizeof(float));
        p->work_a = p->work_b = NULL;
        p->dx = NULL;
        p->want_dx = false;
        p->state = NULL;
        /* Convolutions unfold one sample at a time into their own scratch. */
        p->col = m->col_len > 0 ? xalloc_aligned(m->col_len * sizeof(float)) : NULL;
        for (int i = 0; i < p->nlayers; i++) {
            p->layers[i].mask = p->layers[i].xhat = NULL;
            p->layers[i].mean = p->layers[i].invstd = NULL;
        }
        t->part[k] = p;
    }
    parts_reserve(t, (m->max_batch + n - 1) / n);
    own_ranges(t);
    /* Each part multiplies on its own thread, packing into a buffer that
     * stays in its core's cache. */
    blas_set_threads(1);
    keep_buffers(t, true);
    return t;
}

void
model_team_free(struct model_team *t)
{
    if (t == NULL)
        return;
    if (t->pool != NULL)
        keep_buffers(t, false);
    pool_free(t->pool);
    for (int i = 0; i < t->n; i++)
        free(t->own[i]);
    for (int k = 1; k < t->n; k++) {
        free(t->part[k]->grads);
        free(t->part[k]->col);
        free(t->part[k]->work_a);
        free(t->part[k]->work_b);
        free(t->part[k]);
    }
    free(t);
}

int
model_team_size(const struct model_team *t)
{
    return t->n;
}

void
model_team_set_split(struct model_team *t, enum team_split split)
{
    assert(split == TEAM_SPLIT_AUTO || split == TEAM_SPLIT_ROWS || split == TEAM_SPLIT_FEATURES);
    t->split = split;
}

enum team_split
model_team_split_for(const struct model_team *t, int B)
{
    if (t->n == 1 || B < 2)
        return TEAM_SPLIT_NONE;
    if (!t->by_feature || t->split == TEAM_SPLIT_ROWS)
        return TEAM_SPLIT_ROWS;
    if (t->split == TEAM_SPLIT_FEATURES || B <= TEAM_FEATURE_ROWS)
        return TEAM_SPLIT_FEATURES;
    return TEAM_SPLIT_ROWS;
}

/* Member i's share [*lo, *hi) of the parameters, on 16-float boundaries
 * so that each thread keeps to its own cache lines. */
static void
share_of(const struct model_team *t, int i, size_t *lo, size_t *hi)
{
    size_t total = t->m->nparams;
    size_t per = ((total + (size_t)t->n - 1) / (size_t)t->n + 15) & ~(size_t)15;
    *lo = per * (size_t)i < total ? per * (size_t)i : total;
    *hi = *lo + per < total ? *lo + per : total;
}

/*
 * Member i's range [*lo, *hi) of width features, on 16-float boundaries so
 * that in rows of a multiple of 16 floats each member writes its own cache
 * lines.  A narrow layer (10 classes) falls to member 0 whole.
 */
static void
cols_of(const struct model_team *t, int i, int width, int *lo, int *hi)
{
    int per = ((width + t->n - 1) / t->n + 15) & ~15;
    *lo = per * i < width ? per * i : width;
    *hi = *lo + per < width ? *lo + per : width;
}

/*
 * What member i sums, takes the norms of and updates.  In a model split by
 * features: the weight rows and bias entries of the features cols_of()
 * gives it, whose gradients it computes, so that they stay in its core's
 * cache from the backward to the update.  Otherwise share_of().
 */
static void
own_ranges(struct model_team *t)
{
    const struct model *m = t->m;
    for (int i = 0; i < t->n; i++) {
        struct range *r = xcalloc((size_t)(2 * m->nlayers + 1), sizeof *r);
        int k = 0;
        for (int li = 0; t->by_feature && li < m->nlayers; li++) {
            const struct layer *L = &m->layers[li];
            int c0, c1;
            if (L->kind != LAYER_DENSE)
                continue;
            cols_of(t, i, L->out, &c0, &c1);
            if (c0 == c1)
                continue;
            size_t w = m->tensors[L->weight].offset, b = m->tensors[L->bias].offset;
            r[k++] = (struct range){w + (size_t)c0 * (size_t)L->in, w + (size_t)c1 * (size_t)L->in};
            r[k++] = (struct range){b + (size_t)c0, b + (size_t)c1};
        }
        if (!t->by_feature) {
            share_of(t, i, &r[0].lo, &r[0].hi);
            k = r[0].lo < r[0].hi;
        }
        t->own[i] = r;
        t->nown[i] = k;
    }
}

static const float *
tensor_of(const float *buf, const struct model *m, int tensor)
{
    return buf + m->tensors[tensor].offset;
}

/* Columns [c0, c1) of element-wise layer L's forward, from in (B, OUT). */
static void
act_forward_cols(struct layer *L, const float *in, int B, int c0, int c1)
{
    size_t n = (size_t)(c1 - c0);
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * (size_t)L->out + (size_t)c0;
        switch (L->kind) {
        case LAYER_RELU:
            layer_relu_forward(L->y + o, in + o, n);
            break;
        case LAYER_LEAKY_RELU:
            layer_leaky_relu_forward(L->y + o, in + o, L->arg, n);
            break;
        case LAYER_TANH:
            layer_tanh_forward(L->y + o, in + o, n);
            break;
        case LAYER_SIGMOID:
            layer_sigmoid_forward(L->y + o, in + o, n);
            break;
        default:
            assert(!"not an element-wise layer");
        }
    }
}

/* Columns [c0, c1) of element-wise layer L's backward: dx from g (may be dx). */
static void
act_backward_cols(const struct layer *L, float *dx, const float *g, const float *x, int B,
                  int c0, int c1)
{
    size_t n = (size_t)(c1 - c0);
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * (size_t)L->out + (size_t)c0;
        switch (L->kind) {
        case LAYER_RELU:
            layer_relu_backward(dx + o, g + o, L->y + o, n);
            break;
        case LAYER_LEAKY_RELU:
            layer_leaky_relu_backward(dx + o, g + o, x + o, L->arg, n);
            break;
        case LAYER_TANH:
            layer_tanh_backward(dx + o, g + o, L->y + o, n);
            break;
        case LAYER_SIGMOID:
            layer_sigmoid_backward(dx + o, g + o, L->y + o, n);
            break;
        default:
            assert(!"not an element-wise layer");
        }
    }
}

/* Member i's features of model_forward() of t->x: a barrier before each
 * dense layer after the first reads the others' columns. */
static void
feature_forward(struct model_team *t, int i)
{
    struct model *m = t->m;
    int B = m->batch, c0, c1;
    const float *in = t->x;
    for (int li = 0; li < m->nlayers; li++) {
        struct layer *L = &m->layers[li];
        cols_of(t, i, L->out, &c0, &c1);
        if (L->kind == LAYER_DENSE) {
            if (li > 0)
                pool_barrier(t->pool);
            if (c0 < c1)
                layer_dense_forward_cols(L->y, in, tensor_of(m->params, m, L->weight),
                                         tensor_of(m->params, m, L->bias), B, L->in, L->out,
                                         c0, c1);
        } else if (c0 < c1) {
            act_forward_cols(L, in, B, c0, c1);
        }
        in = L->y;
    }
}

/*
 * Member i's part of model_backward() (without dx): the buffers are those
 * model_backward() picks.  A dense layer's dW rows read only the columns
 * of dY this member wrote; its dX reads all of dY, after a barrier.
 */
static void
feature_backward(struct model_team *t, int i)
{
    struct model *m = t->m;
    int B = m->batch, c0, c1;
    int stop = 0;
    while (m->layers[stop].weight < 0)
        stop++;
    const float *g = m->dlogits;
    for (int li = m->nlayers - 1; li >= stop; li--) {
        const struct layer *L = &m->layers[li];
        const float *x = li == 0 ? m->x : m->layers[li - 1].y;
        bool dense = L->kind == LAYER_DENSE;
        float *dx;
        if (li == stop)
            dx = NULL;
        else if (!dense && g != m->dlogits)
            dx = (float *)g;
        else
            dx = g == m->work_a ? m->work_b : m->work_a;
        if (dense) {
            cols_of(t, i, L->out, &c0, &c1);
            if (c0 < c1)
                layer_dense_backward_w_cols(m->grads + m->tensors[L->weight].offset,
                                            m->grads + m->tensors[L->bias].offset, g, x, B,
                                            L->in, L->out, c0, c1);
            if (dx != NULL) {
                pool_barrier(t->pool);
                cols_of(t, i, L->in, &c0, &c1);
                if (c0 < c1)
                    layer_dense_backward_x_cols(dx, g, tensor_of(m->params, m, L->weight), B,
                                                L->in, L->out, c0, c1);
            }
        } else {
            cols_of(t, i, L->out, &c0, &c1);
            if (c0 < c1)
                act_backward_cols(L, dx, g, x, B, c0, c1);
        }
        g = dx;
    }
}

static void sum_share(struct model_team *t, int i);

/* The whole step split by features: forward, thread 0's loss, backward,
 * then each member's share of the squared norms. */
static void
feature_grad(struct model_team *t, int i)
{
    feature_forward(t, i);
    pool_barrier(t->pool);
    if (i == 0) {
        struct loss_out lo = {0};
        t->loss[0] = model_loss(t->m, t->b, &lo);
        t->correct[0] = lo.correct;
    }
    pool_barrier(t->pool);
    feature_backward(t, i);
    pool_barrier(t->pool);
    sum_share(t, i);
}

/* grads = part 0's + part 1's + ..., over member i's share of the entries,
 * then that share's squared norms, while it is in this core's cache. */
static void
sum_share(struct model_team *t, int i)
{
    float *g = t->m->grads;
    t->grad_sq[i] = t->param_sq[i] = 0.0;
    for (int r = 0; r < t->nown[i]; r++) {
        size_t lo = t->own[i][r].lo, hi = t->own[i][r].hi;
        for (int k = 1; k < t->parts; k++) {
            const float *gk = t->part[k]->grads;
            for (size_t j = lo; j < hi; j++)
                g[j] += gk[j];
        }
        t->grad_sq[i] += optim_sum_squares(g + lo, hi - lo);
        if (t->want_param_sq)
            t->param_sq[i] += optim_sum_squares(t->m->params + lo, hi - lo);
    }
}

/* Member i's share of the update: save, step, check. */
static void
optim_share(struct model_team *t, int i)
{
    float *p = t->m->params;
    bool finite = true;
    for (int r = 0; r < t->nown[i]; r++) {
        size_t lo = t->own[i][r].lo, hi = t->own[i][r].hi;
        if (t->save != NULL)
            memcpy(t->save + lo, p + lo, (hi - lo) * sizeof *p);
        optim_step_range(t->optim, p, t->m->grads, t->lr, t->update, lo, hi);
        finite &= optim_all_finite(p + lo, hi - lo);
    }
    t->finite[i] = finite;
}

static void
team_job(void *arg, int i)
{
    struct model_team *t = arg;
    if (t->phase == PHASE_KEEP) {
        blas_keep_buffer(t->keep);
        return;
    }
    if (t->phase == PHASE_FOR) {
        /* team_cut()'s cut: with the row split, each thread gathers its part's rows. */
        int per = t->for_n / t->n, extra = t->for_n % t->n;
        int lo = i * per + (i < extra ? i : extra), hi = lo + per + (i < extra);
        if (lo < hi)
            t->for_fn(t->for_ctx, lo, hi);
        return;
    }
    if (t->phase == PHASE_SUM) {
        sum_share(t, i);
        return;
    }
    if (t->phase == PHASE_OPTIM) {
        optim_share(t, i);
        return;
    }
    if (t->phase == PHASE_FEATURE_GRAD) {
        feature_grad(t, i);
        return;
    }
    if (t->phase == PHASE_FEATURE_FORWARD) {
        feature_forward(t, i);
        return;
    }
    if (i >= t->parts)
        return;
    struct model *p = i == 0 ? t->m : t->part[i];
    int r0 = t->row0[i], rows = t->rows[i];
    const float *x = t->x + (size_t)r0 * (size_t)t->m->in;
    model_forward(p, x, rows);
    if (t->phase == PHASE_FORWARD)
        return;
    const struct batch *b = t->b;
    struct batch sub = {
        .x = x,
        .labels = b->labels != NULL ? b->labels + r0 : NULL,
        .targets = b->targets != NULL ? b->targets + (size_t)r0 * (size_t)t->m->out : NULL,
        .size = rows,
    };
    struct loss_out lo = {0};
    t->loss[i] = model_loss(p, &sub, &lo);
    t->correct[i] = lo.correct;
    model_backward(p);
}

/* Cut B rows into the parts (the first ones one row longer) and bind them. */
static void
team_cut(struct model_team *t, const float *x, int B)
{
    model_reserve(t->m, B);
    parts_reserve(t, (B + t->n - 1) / t->n);
    t->x = x;
    t->parts = B < t->n ? B : t->n;
    int row = 0;
    for (int k = 0; k < t->parts; k++) {
        t->row0[k] = row;
        t->rows[k] = B / t->parts + (k < B % t->parts);
        if (k > 0)
            part_bind(t, k, row, t->rows[k]);
        row += t->rows[k];
    }
}

/* Leave the model as one forward (and backward) of all B rows leaves it. */
static void
team_settle(struct model_team *t, const float *x, int B)
{
    t->m->x = x;
    t->m->batch = B;
    t->m->loss_rows = 0;
}

double
model_team_grad(struct model_team *t, const struct batch *b, struct loss_out *out,
                struct team_sums *sums)
{
    struct model *m = t->m;
    if (t->n == 1 || b->size < 2 || m->want_dx) {
        double loss = model_grad(m, b, out);
        if (sums != NULL) {
            sums->grad_sq = optim_sum_squares(m->grads, m->nparams);
            sums->param_sq = sums->params ? optim_sum_squares(m->params, m->nparams) : 0.0;
        }
        return loss;
    }
    t->want_param_sq = sums != NULL && sums->params;
    t->b = b;
    if (model_team_split_for(t, b->size) == TEAM_SPLIT_FEATURES) {
        model_reserve(m, b->size);
        team_settle(t, b->x, b->size);
        t->x = b->x;
        t->parts = 1;           /* nothing to sum: sum_share() takes the norms only */
        t->phase = PHASE_FEATURE_GRAD;
        pool_run(t->pool, team_job, t);
    } else {
        team_cut(t, b->x, b->size);
        t->phase = PHASE_GRAD;
        m->loss_rows = b->size;
        for (int k = 1; k < t->parts; k++)
            t->part[k]->loss_rows = b->size;
        pool_run(t->pool, team_job, t);
        t->phase = PHASE_SUM;
        pool_run(t->pool, team_job, t);
        team_settle(t, b->x, b->size);
    }

    double loss = 0.0;
    int correct = 0;
    for (int k = 0; k < t->parts; k++) {
        loss += t->loss[k];
        correct += t->correct[k];
    }
    if (out != NULL) {
        out->data = loss;
        out->correct = correct;
    }
    if (sums != NULL) {
        sums->grad_sq = sums->param_sq = 0.0;
        for (int i = 0; i < t->n; i++) {
            sums->grad_sq += t->grad_sq[i];
            sums->param_sq += t->param_sq[i];
        }
    }
    return loss;
}

bool
model_team_optim_step(struct model_team *t, struct optim *o, double lr, float *update,
                      float *save)
{
    struct model *m = t->m;
    if (t->n == 1) {
        if (save != NULL)
            memcpy(save, m->params, m->nparams * sizeof *save);
        optim_step(o, m->params, m->grads, lr, update);
        return optim_all_finite(m->params, m->nparams);
    }
    optim_begin_step(o);
    t->optim = o;
    t->lr = lr;
    t->update = update;
    t->save = save;
    t->phase = PHASE_OPTIM;
    pool_run(t->pool, team_job, t);
    bool finite = true;
    for (int i = 0; i < t->n; i++)
        finite &= t->finite[i];
    return finite;
}

const float *
model_team_forward(struct model_team *t, const float *x, int B)
{
    struct model *m = t->m;
    if (t->n == 1 || B < 2)
        return model_forward(m, x, B);
    if (model_team_split_for(t, B) == TEAM_SPLIT_FEATURES) {
        model_reserve(m, B);
        team_settle(t, x, B);
        t->x = x;
        t->phase = PHASE_FEATURE_FORWARD;
        pool_run(t->pool, team_job, t);
        return m->layers[m->nlayers - 1].y;
    }
    team_cut(t, x, B);
    t->phase = PHASE_FORWARD;
    pool_run(t->pool, team_job, t);
    team_settle(t, x, B);
    return m->layers[m->nlayers - 1].y;
}

void
model_team_for(struct model_team *t, int n, team_rows_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (t->n == 1 || n < 2) {
        fn(ctx, 0, n);
        return;
    }
    t->for_fn = fn;
    t->for_ctx = ctx;
    t->for_n = n;
    t->phase = PHASE_FOR;
    pool_run(t->pool, team_job, t);
}
