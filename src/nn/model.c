/*
 * model.c - a sequential model: validating a spec, laying out the single
 * parameter buffer with PyTorch nn.Sequential names, initialisation,
 * per-layer caches, and the forward/loss/backward walk over the layers.
 * The arithmetic lives in layers.c and loss.c; this file only chooses
 * buffers.  Nothing here allocates once the caches are big enough.
 */
#include "config.h"

#include "nntop/nn.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "nntop/xmem.h"

static const char *const kind_names[LAYER_KIND_COUNT] = {
    [LAYER_DENSE] = "dense",
    [LAYER_RELU] = "relu",
    [LAYER_LEAKY_RELU] = "leaky_relu",
    [LAYER_TANH] = "tanh",
    [LAYER_SIGMOID] = "sigmoid",
    [LAYER_DROPOUT] = "dropout",
    [LAYER_BATCHNORM] = "batchnorm",
};

static const char *const init_names[INIT_KIND_COUNT] = {
    [INIT_PYTORCH] = "pytorch",
    [INIT_HE] = "he",
    [INIT_XAVIER] = "xavier",
    [INIT_NORMAL] = "normal",
    [INIT_UNIFORM] = "uniform",
    [INIT_ZEROS] = "zeros",
};

const char *
layer_kind_name(enum layer_kind k)
{
    if ((int)k < 0 || k >= LAYER_KIND_COUNT)
        return "unknown";
    return kind_names[k];
}

/* Check spec; NULL when it is good, else a heap message. */
static char *
spec_check(const struct model_spec *spec, int max_batch)
{
    if (spec->in < 1)
        return xasprintf("input width must be >= 1, got %d", spec->in);
    if (spec->nlayers < 1 || spec->nlayers > NN_MAX_LAYERS)
        return xasprintf("the model must have 1 to %d layers, got %d", NN_MAX_LAYERS,
                         spec->nlayers);
    if (max_batch < 1)
        return xasprintf("max batch must be >= 1, got %d", max_batch);
    if ((int)spec->loss < 0 || spec->loss >= LOSS_KIND_COUNT)
        return xasprintf("unknown loss kind %d", (int)spec->loss);

    int width = spec->in, widest = spec->in, ndense = 0;
    for (int i = 0; i < spec->nlayers; i++) {
        const struct layer_spec *ls = &spec->layers[i];
        if ((int)ls->kind < 0 || ls->kind >= LAYER_KIND_COUNT)
            return xasprintf("layer %d: unknown kind %d", i, (int)ls->kind);
        const char *name = kind_names[ls->kind];
        switch (ls->kind) {
        case LAYER_DENSE:
            if (ls->units < 1)
                return xasprintf("layer %d (%s): units must be >= 1, got %d", i, name,
                                 ls->units);
            /* BLAS takes int sizes, and so do the weight's shape fields. */
            if ((long long)ls->units * width > INT_MAX)
                return xasprintf("layer %d (%s): %d x %d weights are more than %d", i,
                                 name, ls->units, width, INT_MAX);
            if ((int)ls->init < 0 || ls->init >= INIT_KIND_COUNT)
                return xasprintf("layer %d (%s): unknown init kind %d", i, name,
                                 (int)ls->init);
            if ((ls->init == INIT_NORMAL || ls->init == INIT_UNIFORM)
                && !(isfinite(ls->init_arg) && ls->init_arg > 0.0f))
                return xasprintf("layer %d (%s): init %s needs %s > 0, got %g", i, name,
                                 init_names[ls->init],
                                 ls->init == INIT_NORMAL ? "a std" : "a bound",
                                 (double)ls->init_arg);
            width = ls->units;
            ndense++;
            break;
        case LAYER_LEAKY_RELU:
            if (!isfinite(ls->arg))
                return xasprintf("layer %d (%s): slope must be finite, got %g", i, name,
                                 (double)ls->arg);
            break;
        case LAYER_DROPOUT:
            if (!(ls->arg >= 0.0f && ls->arg < 1.0f))
                return xasprintf("layer %d (%s): p must be in [0, 1), got %g", i, name,
                                 (double)ls->arg);
            break;
        case LAYER_RELU:
        case LAYER_TANH:
        case LAYER_SIGMOID:
        case LAYER_BATCHNORM:
        case LAYER_KIND_COUNT:
            break;
        }
        if (width > widest)
            widest = width;
    }
    if (ndense == 0)
        return xasprintf("the model needs at least one dense layer");
    if (spec->loss == LOSS_CROSS_ENTROPY && width < 2)
        return xasprintf("cross-entropy needs an output width >= 2, got %d", width);
    if ((long long)max_batch * widest > INT_MAX)
        return xasprintf("max batch %d x width %d is more than %d values", max_batch,
                         widest, INT_MAX);
    return NULL;
}

/* Append a tensor to list (count n) and return its index. */
static int
tensor_add(struct param_tensor *list, int *n, size_t *total, int layer,
           const char *suffix, int rows, int cols)
{
    assert(*n < NN_MAX_TENSORS);
    struct param_tensor *t = &list[*n];
    snprintf(t->name, sizeof t->name, "%d.%s", layer, suffix);
    t->layer = layer;
    t->offset = *total;
    t->rows = rows;
    t->cols = cols;
    t->ndim = cols == 1 ? 1 : 2;
    t->count = (size_t)rows * (size_t)cols;
    *total += t->count;
    return (*n)++;
}

static void
caches_free(struct model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *L = &m->layers[i];
        free(L->y);
        free(L->mask);
        free(L->xhat);
        L->y = L->mask = L->xhat = NULL;
    }
    free(m->dlogits);
    free(m->dx);
    free(m->work_a);
    free(m->work_b);
    m->dlogits = m->dx = m->work_a = m->work_b = NULL;
}

static void
caches_alloc(struct model *m, int batch)
{
    size_t rows = (size_t)batch;
    int widest = m->in;
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *L = &m->layers[i];
        size_t n = rows * (size_t)L->out;
        L->y = xalloc_aligned(n * sizeof(float));
        if (L->kind == LAYER_DROPOUT)
            L->mask = xalloc_aligned(n * sizeof(float));
        if (L->kind == LAYER_BATCHNORM)
            L->xhat = xalloc_aligned(n * sizeof(float));
        if (L->out > widest)
            widest = L->out;
    }
    m->dlogits = xalloc_aligned(rows * (size_t)m->out * sizeof(float));
    m->dx = xalloc_aligned(rows * (size_t)m->in * sizeof(float));
    m->work_a = xalloc_aligned(rows * (size_t)widest * sizeof(float));
    m->work_b = xalloc_aligned(rows * (size_t)widest * sizeof(float));
    m->max_batch = batch;
}

struct model *
model_new(const struct model_spec *spec, int max_batch, char **cause)
{
    char *err = spec_check(spec, max_batch);
    if (err != NULL) {
        if (cause != NULL)
            *cause = err;
        else
            free(err);
        return NULL;
    }

    struct model *m = xcalloc(1, sizeof *m);
    m->spec = *spec;
    m->nlayers = spec->nlayers;
    m->in = spec->in;
    m->training = true;

    size_t nparams = 0, nstate = 0;
    int width = spec->in;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer_spec *ls = &spec->layers[i];
        struct layer *L = &m->layers[i];
        L->kind = ls->kind;
        L->in = width;
        L->out = ls->kind == LAYER_DENSE ? ls->units : width;
        L->arg = ls->arg;
        L->weight = L->bias = L->run_mean = L->run_var = -1;
        if (ls->kind == LAYER_DENSE) {
            L->weight = tensor_add(m->tensors, &m->ntensors, &nparams, i, "weight",
                                   L->out, L->in);
            L->bias = tensor_add(m->tensors, &m->ntensors, &nparams, i, "bias", L->out, 1);
        } else if (ls->kind == LAYER_BATCHNORM) {
            L->weight = tensor_add(m->tensors, &m->ntensors, &nparams, i, "weight",
                                   L->out, 1);
            L->bias = tensor_add(m->tensors, &m->ntensors, &nparams, i, "bias", L->out, 1);
            L->run_mean = tensor_add(m->buffers, &m->nbuffers, &nstate, i, "running_mean",
                                     L->out, 1);
            L->run_var = tensor_add(m->buffers, &m->nbuffers, &nstate, i, "running_var",
                                    L->out, 1);
            L->mean = xalloc_aligned((size_t)L->out * sizeof(float));
            L->invstd = xalloc_aligned((size_t)L->out * sizeof(float));
        }
        width = L->out;
    }
    m->out = width;
    m->nparams = nparams;
    m->nstate = nstate;
    /* spec_check guarantees a dense layer, so there is always a parameter. */
    m->params = xalloc_aligned(nparams * sizeof(float));
    m->grads = xalloc_aligned(nparams * sizeof(float));
    if (nstate > 0)
        m->state = xalloc_aligned(nstate * sizeof(float));

    caches_alloc(m, max_batch);
    model_init_params(m, spec->seed);
    return m;
}

void
model_free(struct model *m)
{
    if (m == NULL)
        return;
    caches_free(m);
    for (int i = 0; i < m->nlayers; i++) {
        free(m->layers[i].mean);
        free(m->layers[i].invstd);
    }
    free(m->params);
    free(m->grads);
    free(m->state);
    free(m);
}

/* Growing drops the caches' contents: call it before a forward, not
 * between a forward and its backward. */
void
model_reserve(struct model *m, int batch)
{
    assert(batch >= 1);
    if (batch <= m->max_batch)
        return;
    caches_free(m);
    caches_alloc(m, batch);
}

/* Fill a dense layer's weight then bias, row-major, from r. */
static void
init_dense(float *w, float *b, const struct layer_spec *ls, int in, int out,
           struct rng *r)
{
    size_t nw = (size_t)in * (size_t)out;
    double a;
    switch (ls->init) {
    case INIT_PYTORCH:
        /* kaiming_uniform(a = sqrt 5) reduces to U(-1/sqrt(in), 1/sqrt(in)). */
        a = 1.0 / sqrt((double)in);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(a * (2.0 * rng_uniform(r) - 1.0));
        for (int i = 0; i < out; i++)
            b[i] = (float)(a * (2.0 * rng_uniform(r) - 1.0));
        return;
    case INIT_HE:
        a = sqrt(2.0 / in);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(a * rng_normal(r));
        break;
    case INIT_XAVIER:
        a = sqrt(6.0 / ((double)in + out));
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(a * (2.0 * rng_uniform(r) - 1.0));
        break;
    case INIT_NORMAL:
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(ls->init_arg * rng_normal(r));
        break;
    case INIT_UNIFORM:
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(ls->init_arg * (2.0 * rng_uniform(r) - 1.0));
        break;
    case INIT_ZEROS:
    case INIT_KIND_COUNT:
        memset(w, 0, nw * sizeof *w);
        break;
    }
    memset(b, 0, (size_t)out * sizeof *b);
}

void
model_init_params(struct model *m, uint64_t seed)
{
    struct rng r;
    rng_seed_for(&r, seed, RNG_INIT);
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *L = &m->layers[i];
        if (L->kind == LAYER_DENSE) {
            init_dense(m->params + m->tensors[L->weight].offset,
                       m->params + m->tensors[L->bias].offset, &m->spec.layers[i], L->in,
                       L->out, &r);
        } else if (L->kind == LAYER_BATCHNORM) {
            float *g = m->params + m->tensors[L->weight].offset;
            float *b = m->params + m->tensors[L->bias].offset;
            float *rm = m->state + m->buffers[L->run_mean].offset;
            float *rv = m->state + m->buffers[L->run_var].offset;
            for (int j = 0; j < L->out; j++) {
                g[j] = 1.0f;
                b[j] = 0.0f;
                rm[j] = 0.0f;
                rv[j] = 1.0f;
            }
        }
    }
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    m->bn_batches = 0;
    /* A fresh run from this seed also gets the dropout masks it would draw. */
    rng_seed_for(&m->rng_dropout, seed, RNG_DROPOUT);
    m->spec.seed = seed;
}

void
model_set_training(struct model *m, bool training)
{
    m->training = training;
}

static float *
param_of(struct model *m, int tensor)
{
    return m->params + m->tensors[tensor].offset;
}

static float *
grad_of(struct model *m, int tensor)
{
    return m->grads + m->tensors[tensor].offset;
}

const float *
model_forward(struct model *m, const float *x, int B)
{
    assert(B >= 1);
    /* A batch larger than the caches grows them (once); the trainer sizes
     * them up front so its steps never allocate. */
    model_reserve(m, B);
    m->x = x;
    m->batch = B;
    const float *in = x;
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *L = &m->layers[i];
        size_t n = (size_t)B * (size_t)L->out;
        switch (L->kind) {
        case LAYER_DENSE: {
            struct layer *next = i + 1 < m->nlayers ? &m->layers[i + 1] : NULL;
            const float *w = param_of(m, L->weight), *b = param_of(m, L->bias);
            if (next != NULL && (next->kind == LAYER_RELU || next->kind == LAYER_LEAKY_RELU)) {
                /* Dense and its activation share one pass over the output. */
                float slope = next->kind == LAYER_RELU ? 0.0f : next->arg;
                layer_dense_act_forward(L->y, next->y, in, w, b, slope, B, L->in, L->out);
                i++;
                L = next;
            } else {
                layer_dense_forward(L->y, in, w, b, B, L->in, L->out);
            }
            break;
        }
        case LAYER_RELU:
            layer_relu_forward(L->y, in, n);
            break;
        case LAYER_LEAKY_RELU:
            layer_leaky_relu_forward(L->y, in, L->arg, n);
            break;
        case LAYER_TANH:
            layer_tanh_forward(L->y, in, n);
            break;
        case LAYER_SIGMOID:
            layer_sigmoid_forward(L->y, in, n);
            break;
        case LAYER_DROPOUT:
            layer_dropout_forward(L->y, L->mask, in, L->arg, m->training, &m->rng_dropout, n);
            break;
        case LAYER_BATCHNORM:
            if (layer_batchnorm_forward(L->y, L->xhat, L->mean, L->invstd,
                                        m->state + m->buffers[L->run_mean].offset,
                                        m->state + m->buffers[L->run_var].offset, in,
                                        param_of(m, L->weight), param_of(m, L->bias),
                                        m->training, B, L->out))
                m->bn_batches++;
            break;
        case LAYER_KIND_COUNT:
            break;
        }
        in = L->y;
    }
    return in;
}

double
model_loss(struct model *m, const struct batch *b, struct loss_out *out)
{
    assert(b->size == m->batch);
    const float *y = m->layers[m->nlayers - 1].y;
    int correct = 0;
    double loss;
    if (m->spec.loss == LOSS_CROSS_ENTROPY)
        loss = loss_cross_entropy(m->dlogits, &correct, y, b->labels, b->size, m->out);
    else
        loss = loss_mse(m->dlogits, &correct, y, b->targets, b->labels, b->size, m->out);
#ifdef NNTOP_FAULT_INJECTION
    fault_loss(m);
#endif
    if (out != NULL) {
        out->data = loss;
        out->correct = correct;
    }
    return loss;
}

/*
 * Batch norm and dropout differentiate the mode they are in now, which must
 * be the mode of the forward pass (model_set_training() between the two
 * would mix them).
 */
void
model_backward(struct model *m)
{
    int B = m->batch;
    assert(B >= 1);
    /* Layers before the first one with parameters need no gradient unless
     * the caller asked for d loss / d input. */
    int stop = 0;
    if (!m->want_dx)
        while (m->layers[stop].weight < 0)
            stop++;

    const float *g = m->dlogits;   /* (B, out of layer i) */
    for (int i = m->nlayers - 1; i >= stop; i--) {
        struct layer *L = &m->layers[i];
        const float *x = i == 0 ? m->x : m->layers[i - 1].y;  /* (B, in) */
        size_t n = (size_t)B * (size_t)L->out;
        /* Batch norm reads dY in two passes, so it writes elsewhere. */
        bool inplace = L->kind != LAYER_DENSE && L->kind != LAYER_BATCHNORM;
        float *dx;                                            /* (B, in) */
        if (i == stop && !m->want_dx)
            dx = NULL;
        else if (i == 0)
            dx = m->dx;
        else if (inplace && g != m->dlogits)
            dx = (float *)g;    /* g is our own scratch: overwrite in place */
        else
            dx = g == m->work_a ? m->work_b : m->work_a;

#ifdef NNTOP_FAULT_INJECTION
        if (fault_backward(m, i, dx, g, x)) {
            g = dx;
            continue;
        }
#endif
        switch (L->kind) {
        case LAYER_DENSE:
            layer_dense_backward(dx, grad_of(m, L->weight), grad_of(m, L->bias), g, x,
                                 param_of(m, L->weight), B, L->in, L->out);
            break;
        case LAYER_RELU:
            layer_relu_backward(dx, g, L->y, n);
            break;
        case LAYER_LEAKY_RELU:
            layer_leaky_relu_backward(dx, g, x, L->arg, n);
            break;
        case LAYER_TANH:
            layer_tanh_backward(dx, g, L->y, n);
            break;
        case LAYER_SIGMOID:
            layer_sigmoid_backward(dx, g, L->y, n);
            break;
        case LAYER_DROPOUT:
            layer_dropout_backward(dx, g, L->mask, m->training, n);
            break;
        case LAYER_BATCHNORM:
            layer_batchnorm_backward(dx, grad_of(m, L->weight), grad_of(m, L->bias), g,
                                     L->xhat, L->invstd, param_of(m, L->weight),
                                     m->training, B, L->out);
            break;
        case LAYER_KIND_COUNT:
            break;
        }
        g = dx;
    }
}

double
model_grad(struct model *m, const struct batch *b, struct loss_out *out)
{
    model_forward(m, b->x, b->size);
    double loss = model_loss(m, b, out);
    model_backward(m);
    return loss;
}

int
model_find_tensor(const struct model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return i;
    return -1;
}
