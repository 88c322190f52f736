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

const char *const layer_kind_names[LAYER_KIND_COUNT] = {
    [LAYER_DENSE] = "dense",
    [LAYER_RELU] = "relu",
    [LAYER_LEAKY_RELU] = "leaky_relu",
    [LAYER_TANH] = "tanh",
    [LAYER_SIGMOID] = "sigmoid",
    [LAYER_DROPOUT] = "dropout",
    [LAYER_BATCHNORM] = "batchnorm",
    [LAYER_CONV2D] = "conv2d",
    [LAYER_MAXPOOL2D] = "maxpool2d",
    [LAYER_AVGPOOL2D] = "avgpool2d",
    [LAYER_FLATTEN] = "flatten",
    [LAYER_BATCHNORM2D] = "batchnorm2d",
    [LAYER_DROPOUT2D] = "dropout2d",
    [LAYER_GLOBAL_AVGPOOL] = "global_avgpool",
};

const char *const init_kind_names[INIT_KIND_COUNT] = {
    [INIT_PYTORCH] = "pytorch",
    [INIT_HE] = "he",
    [INIT_XAVIER] = "xavier",
    [INIT_NORMAL] = "normal",
    [INIT_UNIFORM] = "uniform",
    [INIT_ZEROS] = "zeros",
};

const char *const loss_kind_names[LOSS_KIND_COUNT] = {
    [LOSS_CROSS_ENTROPY] = "cross_entropy",
    [LOSS_MSE] = "mse",
};

const char *
loss_kind_name(enum loss_kind k)
{
    return (unsigned)k < LOSS_KIND_COUNT ? loss_kind_names[k] : "unknown";
}

const char *
layer_kind_name(enum layer_kind k)
{
    if ((int)k < 0 || k >= LAYER_KIND_COUNT)
        return "unknown";
    return layer_kind_names[k];
}

/* "the 4x4 input after layer 3" / "the 1x28x28 model input", into buf. */
static const char *
shape_from(char *buf, size_t len, int i, int c, int h, int w, bool with_c)
{
    char dims[48];
    if (with_c)
        snprintf(dims, sizeof dims, "%dx%dx%d", c, h, w);
    else
        snprintf(dims, sizeof dims, "%dx%d", h, w);
    if (i == 0)
        snprintf(buf, len, "the %s model input", dims);
    else
        snprintf(buf, len, "the %s input after layer %d", dims, i - 1);
    return buf;
}

/* Check the kernel, stride and padding of a conv2d or pool layer over an
 * h x w input (described by from); *s_out gets the stride with its
 * default (conv 1, pool the kernel). */
static char *
window_check(const struct layer_spec *ls, int h, int w, int *s_out, const char *from)
{
    int k = ls->kernel, s = ls->stride, p = ls->padding;
    if (k < 1)
        return xasprintf("kernel must be >= 1, got %d", k);
    if (s == 0)
        s = ls->kind == LAYER_CONV2D ? 1 : k;
    if (s < 1)
        return xasprintf("stride must be >= 1, got %d", s);
    if (p < 0)
        return xasprintf("padding must be >= 0, got %d", p);
    if (ls->kind != LAYER_CONV2D && p > k / 2)
        return xasprintf("padding %d is more than half the kernel %d", p, k);
    if (k > h + 2 * p || k > w + 2 * p) {
        if (p > 0)
            return xasprintf("kernel %d larger than %s padded by %d", k, from, p);
        return xasprintf("kernel %d larger than %s", k, from);
    }
    *s_out = s;
    return NULL;
}

/* The checks on the spec as a whole, before its layers; NULL when they pass. */
static char *
spec_check_whole(const struct model_spec *spec, int max_batch)
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
    bool shaped = spec->in_c > 0 || spec->in_h > 0 || spec->in_w > 0;
    if (shaped && (spec->in_c < 1 || spec->in_h < 1 || spec->in_w < 1
                   || (long long)spec->in_c * spec->in_h * spec->in_w != spec->in))
        return xasprintf("input shape %dx%dx%d does not make the input width %d", spec->in_c,
                         spec->in_h, spec->in_w, spec->in);
    return NULL;
}

/*
 * What the walk carries from layer to layer.  c, h, w: the image shape
 * flowing in (0 when flat); spatial: an image layer ran since the input
 * or the last flatten, so the rows are images PyTorch would hold as
 * (B, C, H, W) and a dense layer needs a flatten first.
 */
struct walk {
    int width, widest;
    int nparam;                 /* dense and conv2d layers */
    int c, h, w;
    bool spatial;
};

/* One layer's output shape and window, as spec_walk fills struct layer. */
struct walk_out {
    int oc, oh, ow, k, s, p;
};

/* A dense or conv2d layer: its weights' size and init, and its output. */
static char *
walk_param_layer(const struct layer_spec *ls, int i, struct walk *st, struct walk_out *o)
{
    char from[96], *err;
    bool conv = ls->kind == LAYER_CONV2D;
    int c = st->c, h = st->h, w = st->w;
    if (ls->units < 1)
        return xasprintf("%s must be >= 1, got %d", conv ? "out channels" : "units", ls->units);
    long long fan_in = st->width;
    if (conv) {
        shape_from(from, sizeof from, i, c, h, w, false);
        if ((err = window_check(ls, h, w, &o->s, from)) != NULL)
            return err;
        o->k = ls->kernel;
        o->p = ls->padding;
        fan_in = (long long)c * o->k * o->k;
        o->oc = ls->units;
        o->oh = (h + 2 * o->p - o->k) / o->s + 1;
        o->ow = (w + 2 * o->p - o->k) / o->s + 1;
    }
    /* BLAS takes int sizes, and so do the weight's shape fields. */
    if ((long long)ls->units * fan_in > INT_MAX)
        return xasprintf("%d x %lld weights are more than %d", ls->units,
                         fan_in, INT_MAX);
    if ((int)ls->init < 0 || ls->init >= INIT_KIND_COUNT)
        return xasprintf("unknown init kind %d", (int)ls->init);
    if ((ls->init == INIT_NORMAL || ls->init == INIT_UNIFORM)
        && !(isfinite(ls->init_arg) && ls->init_arg > 0.0f))
        return xasprintf("init %s needs %s > 0, got %g", init_kind_names[ls->init],
                         ls->init == INIT_NORMAL ? "a std" : "a bound",
                         (double)ls->init_arg);
    st->nparam++;
    if (!conv) {
        st->width = ls->units;
        o->oc = o->oh = o->ow = 0;
        return NULL;
    }
    if ((long long)o->oc * o->oh * o->ow > INT_MAX
        || (long long)c * o->k * o->k * o->oh * o->ow > INT_MAX)
        return xasprintf("a %dx%dx%d output is more than %d values", o->oc, o->oh,
                         o->ow, INT_MAX);
    st->width = o->oc * o->oh * o->ow;
    st->spatial = true;
    return NULL;
}

/*
 * Layer i's kind, input and arguments, and its output shape into st and
 * o; NULL when it is good.
 */
static char *
walk_layer(const struct layer_spec *ls, int i, struct walk *st, struct walk_out *o)
{
    char from[96], *err;
    bool image = ls->kind == LAYER_CONV2D || ls->kind == LAYER_MAXPOOL2D
                 || ls->kind == LAYER_AVGPOOL2D || ls->kind == LAYER_BATCHNORM2D
                 || ls->kind == LAYER_DROPOUT2D || ls->kind == LAYER_GLOBAL_AVGPOOL;
    if (image && st->h == 0) {
        if (i == 0)
            return xasprintf("needs image input (data.shape: [C, H, W], or IDX images), "
                             "but the input is %d flat features", st->width);
        return xasprintf("needs an image, but layer %d gives %d flat features", i - 1,
                         st->width);
    }
    if ((ls->kind == LAYER_DENSE || ls->kind == LAYER_BATCHNORM) && st->spatial)
        return xasprintf("needs a flatten before it, for %s",
                         shape_from(from, sizeof from, i, st->c, st->h, st->w, true));
    *o = (struct walk_out){.oc = st->c, .oh = st->h, .ow = st->w};
    switch (ls->kind) {
    case LAYER_DENSE:
    case LAYER_CONV2D:
        return walk_param_layer(ls, i, st, o);
    case LAYER_MAXPOOL2D:
    case LAYER_AVGPOOL2D:
        shape_from(from, sizeof from, i, st->c, st->h, st->w, false);
        if ((err = window_check(ls, st->h, st->w, &o->s, from)) != NULL)
            return err;
        o->k = ls->kernel;
        o->p = ls->padding;
        o->oh = (st->h + 2 * o->p - o->k) / o->s + 1;
        o->ow = (st->w + 2 * o->p - o->k) / o->s + 1;
        st->width = o->oc * o->oh * o->ow;
        st->spatial = true;
        break;
    case LAYER_GLOBAL_AVGPOOL:
        o->oh = o->ow = 1;
        st->width = o->oc;
        st->spatial = true;
        break;
    case LAYER_BATCHNORM2D:
        st->spatial = true;
        break;
    case LAYER_FLATTEN:
        o->oc = o->oh = o->ow = 0;
        st->spatial = false;
        break;
    case LAYER_BATCHNORM:
        break;
    case LAYER_LEAKY_RELU:
        if (!isfinite(ls->arg))
            return xasprintf("slope must be finite, got %g", (double)ls->arg);
        break;
    case LAYER_DROPOUT2D:
        st->spatial = true;
        /* fall through */
    case LAYER_DROPOUT:
        if (!(ls->arg >= 0.0f && ls->arg < 1.0f))
            return xasprintf("p must be in [0, 1), got %g", (double)ls->arg);
        break;
    case LAYER_RELU:
    case LAYER_TANH:
    case LAYER_SIGMOID:
    case LAYER_KIND_COUNT:
        break;
    }
    return NULL;
}

/* Layer i of the built model from its spec, the shape flowing in and its output. */
static void
walk_fill(struct layer *L, const struct layer_spec *ls, int in, const struct walk *st,
          const struct walk_out *o)
{
    memset(L, 0, sizeof *L);
    L->kind = ls->kind;
    L->in = in;
    L->out = st->width;
    L->c = st->c;
    L->h = st->h;
    L->w = st->w;
    L->oc = o->oc;
    L->oh = o->oh;
    L->ow = o->ow;
    L->k = o->k;
    L->stride = o->s;
    L->pad = o->p;
    L->arg = ls->arg;
}

/*
 * Check spec and infer every layer's shapes into out (NULL: check only).
 * Returns NULL when the spec is good, else a heap message about layer
 * *bad (-1 when it is about the whole model), without a "layer N" prefix.
 */
static char *
spec_walk(const struct model_spec *spec, int max_batch, struct layer *out, int *bad)
{
    *bad = -1;
    char *err = spec_check_whole(spec, max_batch);
    if (err != NULL)
        return err;
    bool shaped = spec->in_c > 0 || spec->in_h > 0 || spec->in_w > 0;
    struct walk st = {
        .width = spec->in,
        .widest = spec->in,
        .c = shaped ? spec->in_c : 0,
        .h = shaped ? spec->in_h : 0,
        .w = shaped ? spec->in_w : 0,
    };
    for (int i = 0; i < spec->nlayers; i++) {
        const struct layer_spec *ls = &spec->layers[i];
        *bad = i;
        if ((int)ls->kind < 0 || ls->kind >= LAYER_KIND_COUNT) {
            *bad = -1;
            return xasprintf("layer %d: unknown kind %d", i, (int)ls->kind);
        }
        struct walk_out o = {0};
        if ((err = walk_layer(ls, i, &st, &o)) != NULL)
            return err;
        if (out != NULL)
            walk_fill(&out[i], ls, i == 0 ? spec->in : out[i - 1].out, &st, &o);
        st.c = o.oc;
        st.h = o.oh;
        st.w = o.ow;
        if (st.width > st.widest)
            st.widest = st.width;
    }
    *bad = -1;
    if (st.nparam == 0)
        return xasprintf("the model needs at least one dense or conv2d layer");
    if (st.spatial) {
        *bad = spec->nlayers - 1;
        return xasprintf("the model ends in a %dx%dx%d image: end it with flatten and a dense "
                         "layer", st.c, st.h, st.w);
    }
    if (spec->loss == LOSS_CROSS_ENTROPY && st.width < 2)
        return xasprintf("cross-entropy needs an output width >= 2, got %d", st.width);
    if ((long long)max_batch * st.widest > INT_MAX)
        return xasprintf("max batch %d x width %d is more than %d values", max_batch,
                         st.widest, INT_MAX);
    return NULL;
}

/* spec_walk() with the message prefixed by the layer it is about. */
static char *
spec_check(const struct model_spec *spec, int max_batch, struct layer *out)
{
    int bad;
    char *err = spec_walk(spec, max_batch, out, &bad);
    if (err == NULL || bad < 0)
        return err;
    char *full = xasprintf("layer %d (%s): %s", bad, layer_kind_name(spec->layers[bad].kind),
                           err);
    free(err);
    return full;
}

int
model_check_spec(const struct model_spec *spec, int max_batch, int *layer, char **cause)
{
    int bad;
    char *err = spec_walk(spec, max_batch, NULL, &bad);
    if (layer != NULL)
        *layer = bad;
    if (err == NULL)
        return 0;
    if (bad >= 0) {
        char *named = xasprintf("%s: %s", layer_kind_name(spec->layers[bad].kind), err);
        free(err);
        err = named;
    }
    if (cause != NULL)
        *cause = err;
    else
        free(err);
    return -1;
}

/* Activations of caches_alloc() for batches of rows, in floats. */
static uint64_t
cache_floats(const struct model_spec *spec, const struct layer *shapes, uint64_t rows)
{
    uint64_t n = rows * (uint64_t)spec->in, widest = (uint64_t)spec->in;  /* dx */
    for (int i = 0; i < spec->nlayers; i++) {
        uint64_t out = (uint64_t)shapes[i].out;
        bool two = spec->layers[i].kind == LAYER_DROPOUT || spec->layers[i].kind == LAYER_BATCHNORM
                   || spec->layers[i].kind == LAYER_BATCHNORM2D
                   || spec->layers[i].kind == LAYER_MAXPOOL2D;
        n += rows * out * (two ? 2 : 1);
        if (out > widest)
            widest = out;
    }
    return n + 2 * rows * widest;   /* work_a, work_b */
}

int
model_spec_footprint(const struct model_spec *spec, int max_batch, int eval_batch, int copies,
                     uint64_t *nparams, uint64_t *bytes, int *largest)
{
    struct layer shapes[NN_MAX_LAYERS];
    int bad;
    char *err = spec_walk(spec, max_batch, shapes, &bad);
    if (err != NULL) {
        free(err);
        return -1;
    }
    uint64_t total = 0, most = 0, col = 0;
    *largest = -1;
    for (int i = 0; i < spec->nlayers; i++) {
        const struct layer *L = &shapes[i];
        uint64_t n = 0;
        switch (spec->layers[i].kind) {
        case LAYER_DENSE:
            n = (uint64_t)L->out * (uint64_t)L->in + (uint64_t)L->out;
            break;
        case LAYER_CONV2D:
            n = (uint64_t)L->oc * L->c * L->k * L->k + (spec->layers[i].no_bias ? 0 : L->oc);
            if (layer_conv2d_scratch(L->c, L->h, L->w, L->oc, L->k, L->stride, L->pad) > col)
                col = layer_conv2d_scratch(L->c, L->h, L->w, L->oc, L->k, L->stride, L->pad);
            break;
        case LAYER_BATCHNORM:
            n = 2 * (uint64_t)L->out;
            break;
        case LAYER_BATCHNORM2D:
            n = 2 * (uint64_t)L->c;
            break;
        default:
            break;
        }
        total += n;
        if (n > most) {
            most = n;
            *largest = i;
        }
    }
    uint64_t rows = (uint64_t)(max_batch > eval_batch ? max_batch : eval_batch);
    *nparams = total;
    *bytes = (total * (2 + (uint64_t)copies) + col + cache_floats(spec, shapes, rows))
             * sizeof(float);
    return 0;
}

/* Append a tensor of shape dims[0..ndim) to list (count n); return its index. */
static int
tensor_add(struct param_tensor *list, int *n, size_t *total, int layer,
           const char *suffix, int ndim, const int *dims)
{
    assert(*n < NN_MAX_TENSORS && ndim >= 1 && ndim <= 4);
    struct param_tensor *t = &list[*n];
    snprintf(t->name, sizeof t->name, "%d.%s", layer, suffix);
    t->layer = layer;
    t->offset = *total;
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = dims[d];
        t->count *= (size_t)dims[d];
    }
    t->rows = dims[0];
    t->cols = (int)(t->count / (size_t)dims[0]);
    *total += t->count;
    return (*n)++;
}

/* A vector tensor of n entries. */
static int
vector_add(struct param_tensor *list, int *n, size_t *total, int layer, const char *suffix,
           int len)
{
    return tensor_add(list, n, total, layer, suffix, 1, &len);
}

static void
caches_free(struct model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        struct layer *L = &m->layers[i];
        free(L->y);
        free(L->mask);
        free(L->xhat);
        free(L->argmax);
        L->y = L->mask = L->xhat = NULL;
        L->argmax = NULL;
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
        if (L->kind == LAYER_DROPOUT2D)
            L->mask = xalloc_aligned(rows * (size_t)L->c * sizeof(float));
        if (L->kind == LAYER_BATCHNORM || L->kind == LAYER_BATCHNORM2D)
            L->xhat = xalloc_aligned(n * sizeof(float));
        if (L->kind == LAYER_MAXPOOL2D)
            L->argmax = xalloc_aligned(n * sizeof(int32_t));
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
    struct layer shapes[NN_MAX_LAYERS];
    char *err = spec_check(spec, max_batch, shapes);
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
        *L = shapes[i];
        L->weight = L->bias = L->run_mean = L->run_var = -1;
        if (ls->kind == LAYER_DENSE) {
            int dims[2] = { L->out, L->in };
            L->weight = tensor_add(m->tensors, &m->ntensors, &nparams, i, "weight", 2, dims);
            L->bias = vector_add(m->tensors, &m->ntensors, &nparams, i, "bias", L->out);
        } else if (ls->kind == LAYER_CONV2D) {
            int dims[4] = { L->oc, L->c, L->k, L->k };
            L->weight = tensor_add(m->tensors, &m->ntensors, &nparams, i, "weight", 4, dims);
            if (!ls->no_bias)
                L->bias = vector_add(m->tensors, &m->ntensors, &nparams, i, "bias", L->oc);
            size_t col = layer_conv2d_scratch(L->c, L->h, L->w, L->oc, L->k, L->stride, L->pad);
            if (col > m->col_len)
                m->col_len = col;
        } else if (ls->kind == LAYER_BATCHNORM || ls->kind == LAYER_BATCHNORM2D) {
            int n = ls->kind == LAYER_BATCHNORM ? L->out : L->c;
            L->weight = vector_add(m->tensors, &m->ntensors, &nparams, i, "weight", n);
            L->bias = vector_add(m->tensors, &m->ntensors, &nparams, i, "bias", n);
            L->run_mean = vector_add(m->buffers, &m->nbuffers, &nstate, i, "running_mean", n);
            L->run_var = vector_add(m->buffers, &m->nbuffers, &nstate, i, "running_var", n);
            L->mean = xalloc_aligned((size_t)n * sizeof(float));
            L->invstd = xalloc_aligned((size_t)n * sizeof(float));
        }
        width = L->out;
    }
    if (m->col_len > 0)
        m->col = xalloc_aligned(m->col_len * sizeof(float));
    m->out = width;
    m->nparams = nparams;
    m->nstate = nstate;
    /* spec_check guarantees a dense or conv layer, so there is always a parameter. */
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
    free(m->col);
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

/*
 * Fill a dense or conv layer's weight (nw entries) then bias (nb, or none
 * when b is NULL), row-major, from r.  in and out are the fans: a conv's
 * are C k k and OC k k, as torch.nn.init computes them.
 */
static void
init_dense(float *w, float *b, const struct layer_spec *ls, int in, int out, size_t nw,
           int nb, struct rng *r)
{
    double a;
    switch (ls->init) {
    case INIT_PYTORCH:
        /* kaiming_uniform(a = sqrt 5) reduces to U(-1/sqrt(in), 1/sqrt(in)). */
        a = 1.0 / sqrt((double)in);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(a * (2.0 * rng_uniform(r) - 1.0));
        for (int i = 0; b != NULL && i < nb; i++)
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
    if (b != NULL)
        memset(b, 0, (size_t)nb * sizeof *b);
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
                       L->out, (size_t)L->in * L->out, L->out, &r);
        } else if (L->kind == LAYER_CONV2D) {
            int kk = L->k * L->k;
            init_dense(m->params + m->tensors[L->weight].offset,
                       L->bias >= 0 ? m->params + m->tensors[L->bias].offset : NULL,
                       &m->spec.layers[i], L->c * kk, L->oc * kk,
                       m->tensors[L->weight].count, L->oc, &r);
        } else if (L->kind == LAYER_BATCHNORM || L->kind == LAYER_BATCHNORM2D) {
            float *g = m->params + m->tensors[L->weight].offset;
            float *b = m->params + m->tensors[L->bias].offset;
            float *rm = m->state + m->buffers[L->run_mean].offset;
            float *rv = m->state + m->buffers[L->run_var].offset;
            for (int j = 0; j < (int)m->tensors[L->weight].count; j++) {
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

/* m->stop, polled between layers: whether to abandon the pass. */
static bool
pass_stopped(struct model *m)
{
    return m->stop != NULL && m->stop(m->stop_ctx);
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
        if (pass_stopped(m))
            return NULL;
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
        case LAYER_CONV2D:
            layer_conv2d_forward(L->y, m->col, in, param_of(m, L->weight),
                                 L->bias >= 0 ? param_of(m, L->bias) : NULL, B, L->c, L->h,
                                 L->w, L->oc, L->k, L->stride, L->pad);
            break;
        case LAYER_MAXPOOL2D:
            layer_maxpool2d_forward(L->y, L->argmax, in, B, L->c, L->h, L->w, L->k, L->stride,
                                    L->pad);
            break;
        case LAYER_AVGPOOL2D:
            layer_avgpool2d_forward(L->y, in, B, L->c, L->h, L->w, L->k, L->stride, L->pad);
            break;
        case LAYER_GLOBAL_AVGPOOL:
            layer_global_avgpool_forward(L->y, in, B, L->c, L->h * L->w);
            break;
        case LAYER_FLATTEN:
            memcpy(L->y, in, n * sizeof *L->y);
            break;
        case LAYER_BATCHNORM2D:
            /* PyTorch counts batches for BatchNorm2d as for BatchNorm1d. */
            if (layer_batchnorm2d_forward(L->y, L->xhat, L->mean, L->invstd,
                                          m->state + m->buffers[L->run_mean].offset,
                                          m->state + m->buffers[L->run_var].offset, in,
                                          param_of(m, L->weight), param_of(m, L->bias),
                                          m->training, B, L->c, L->h * L->w))
                m->bn_batches++;
            break;
        case LAYER_DROPOUT2D:
            layer_dropout2d_forward(L->y, L->mask, in, L->arg, m->training, &m->rng_dropout, B,
                                    L->c, L->h * L->w);
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
    /* A part of a split batch averages over the whole batch (loss_rows). */
    int norm = m->loss_rows > 0 ? m->loss_rows : b->size;
    if (m->spec.loss == LOSS_CROSS_ENTROPY)
        loss = loss_cross_entropy_rows(m->dlogits, &correct, y, b->labels, b->size, m->out,
                                       norm);
    else
        loss = loss_mse_rows(m->dlogits, &correct, y, b->targets, b->labels, b->size, m->out,
                             norm);
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
 * A dense layer's backward: the weight half, a check of m->stop, then the
 * input half (on a wide layer each is as long as the forward).  False when
 * the check abandoned the pass.
 */
static bool
dense_backward_halves(struct model *m, const struct layer *L, float *dx, const float *g,
                      const float *x)
{
    int B = m->batch;
    layer_dense_backward(NULL, grad_of(m, L->weight), grad_of(m, L->bias), g, x,
                         param_of(m, L->weight), B, L->in, L->out);
    if (dx == NULL)
        return true;
    if (pass_stopped(m))
        return false;
    layer_dense_backward_input(dx, g, param_of(m, L->weight), B, L->in, L->out);
    return true;
}

/*
 * Batch norm and dropout differentiate the mode they are in now, which must
 * be the mode of the forward pass (model_set_training() between the two
 * would mix them).
 */
bool
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
        if (pass_stopped(m))
            return false;
        struct layer *L = &m->layers[i];
        const float *x = i == 0 ? m->x : m->layers[i - 1].y;  /* (B, in) */
        size_t n = (size_t)B * (size_t)L->out;
        /* Only element-wise layers of one shape may write dX over dY. */
        bool inplace = L->kind == LAYER_RELU || L->kind == LAYER_LEAKY_RELU
                       || L->kind == LAYER_TANH || L->kind == LAYER_SIGMOID
                       || L->kind == LAYER_DROPOUT || L->kind == LAYER_DROPOUT2D
                       || L->kind == LAYER_FLATTEN;
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
            if (!dense_backward_halves(m, L, dx, g, x))
                return false;
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
        case LAYER_CONV2D:
            layer_conv2d_backward(dx, grad_of(m, L->weight),
                                  L->bias >= 0 ? grad_of(m, L->bias) : NULL, m->col, g, x,
                                  param_of(m, L->weight), B, L->c, L->h, L->w, L->oc, L->k,
                                  L->stride, L->pad);
            break;
        case LAYER_MAXPOOL2D:
            layer_maxpool2d_backward(dx, g, L->argmax, B, L->c, L->h, L->w, L->oh, L->ow);
            break;
        case LAYER_AVGPOOL2D:
            layer_avgpool2d_backward(dx, g, B, L->c, L->h, L->w, L->k, L->stride, L->pad);
            break;
        case LAYER_GLOBAL_AVGPOOL:
            layer_global_avgpool_backward(dx, g, B, L->c, L->h * L->w);
            break;
        case LAYER_FLATTEN:
            if (dx != g)
                memcpy(dx, g, n * sizeof *dx);
            break;
        case LAYER_BATCHNORM2D:
            layer_batchnorm2d_backward(dx, grad_of(m, L->weight), grad_of(m, L->bias), g,
                                       L->xhat, L->invstd, param_of(m, L->weight),
                                       m->training, B, L->c, L->h * L->w);
            break;
        case LAYER_DROPOUT2D:
            layer_dropout2d_backward(dx, g, L->mask, m->training, B, L->c, L->h * L->w);
            break;
        case LAYER_KIND_COUNT:
            break;
        }
        g = dx;
    }
    return true;
}

double
model_grad(struct model *m, const struct batch *b, struct loss_out *out)
{
    if (model_forward(m, b->x, b->size) == NULL)
        return NAN;
    double loss = model_loss(m, b, out);
    if (!model_backward(m))
        return NAN;
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
