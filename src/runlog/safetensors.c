/*
 * safetensors.c - checkpoints in the safetensors format: an 8-byte
 * little-endian header length, a JSON header (padded with spaces to a
 * multiple of 8), then the raw little-endian tensor data.
 *
 * Tensors are named as PyTorch's nn.Sequential of the same layers names
 * them ("0.weight" [out, in], "2.running_mean", "2.num_batches_tracked"),
 * so torch can load_state_dict() the model part as is; optimizer moments
 * follow under "optim.".  Loading validates the whole file (structure,
 * offsets, every dtype and shape against the model) before it changes a
 * single parameter.  It deliberately handles only what nntop writes
 * (F32 tensors, I64 scalars): other dtypes are parsed, then refused.
 */
#include "config.h"

#include "nntop/runlog.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/numfmt.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

/* The safetensors reference implementation refuses larger headers too. */
#define ST_HEADER_MAX ((uint64_t)100 << 20)
#define ST_MAX_DIMS 8
#define ST_NAME_MAX 64

enum st_dtype {
    ST_F32,
    ST_I64,
    ST_DTYPE_COUNT
};

static const char *const st_dtype_names[ST_DTYPE_COUNT] = { "F32", "I64" };
static const size_t st_dtype_sizes[ST_DTYPE_COUNT] = { 4, 8 };

/* Where a tensor's values live in the model or optimizer. */
enum st_src {
    SRC_PARAMS,         /* model->params */
    SRC_STATE,          /* model->state */
    SRC_OPT_M,          /* optim->m */
    SRC_OPT_V,          /* optim->v */
    SRC_BN_BATCHES,     /* model->bn_batches */
    SRC_OPT_T,          /* optim->t */
    SRC_COUNT
};

struct st_tensor {
    char name[ST_NAME_MAX];
    enum st_dtype dtype;
    enum st_src src;
    int ndim;
    uint64_t shape[4];      /* [out], [out, in] or a conv's [out, in, kh, kw] */
    size_t offset;          /* elements into the source buffer */
    size_t count;           /* elements */
    int layer, order;       /* sort key: PyTorch's state_dict order */
};

struct st_layout {
    struct st_tensor *t;
    size_t n, cap;
};

/* ---- layout ----------------------------------------------------------- */

static struct st_tensor *
layout_add(struct st_layout *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->t = xrealloc(l->t, l->cap * sizeof *l->t);
    }
    struct st_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

static void
layout_from_slice(struct st_tensor *t, const struct param_tensor *p, enum st_src src)
{
    t->dtype = ST_F32;
    t->src = src;
    /* rows and cols describe vectors and matrices; a conv weight needs all four. */
    t->ndim = p->ndim == 4 ? 4 : p->ndim == 2 ? 2 : 1;
    if (t->ndim == 4) {
        for (int d = 0; d < 4; d++)
            t->shape[d] = (uint64_t)p->shape[d];
    } else {
        t->shape[0] = (uint64_t)p->rows;
        t->shape[1] = (uint64_t)p->cols;
    }
    t->offset = p->offset;
    t->count = p->count;
    t->layer = p->layer;
}

static bool
slice_ok(const struct param_tensor *p, size_t total)
{
    size_t want = p->ndim == 2 ? (size_t)p->rows * (size_t)p->cols : (size_t)p->rows;
    if (p->ndim == 4) {
        /* a conv weight: its four sides, the first of them the rows */
        bool sides = p->shape[0] == p->rows;
        want = 1;
        for (int d = 0; d < 4; d++) {
            sides = sides && p->shape[d] >= 0;
            want *= (size_t)(p->shape[d] > 0 ? p->shape[d] : 0);
        }
        if (!sides)
            return false;
    }
    return p->rows >= 0 && p->cols >= 0 && p->count == want && p->offset <= total
           && p->count <= total - p->offset;
}

static bool
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/*
 * The tensors a checkpoint of m (and o) holds, in PyTorch's state_dict
 * order: per layer its parameters, then its buffers, then (batch norm)
 * num_batches_tracked; the optimizer's after all of them.
 */
static int
layout_build(struct st_layout *l, const struct model *m, const struct optim *o, char **cause)
{
    memset(l, 0, sizeof *l);
    for (int i = 0; i < m->ntensors; i++)
        if (!slice_ok(&m->tensors[i], m->nparams)) {
            *cause = xasprintf("model tensor '%s' does not fit its parameter buffer",
                               m->tensors[i].name);
            return -1;
        }
    for (int i = 0; i < m->nbuffers; i++)
        if (!slice_ok(&m->buffers[i], m->nstate)) {
            *cause = xasprintf("model buffer '%s' does not fit its state buffer",
                               m->buffers[i].name);
            return -1;
        }
    if (o != NULL && o->n != m->nparams) {
        *cause = xasprintf("optimizer holds %zu parameters, the model %zu", o->n, m->nparams);
        return -1;
    }
    for (int i = 0; i < m->ntensors; i++) {
        struct st_tensor *t = layout_add(l);
        layout_from_slice(t, &m->tensors[i], SRC_PARAMS);
        snprintf(t->name, sizeof t->name, "%s", m->tensors[i].name);
        t->order = 0;
    }
    for (int i = 0; i < m->nbuffers; i++) {
        const struct param_tensor *b = &m->buffers[i];
        struct st_tensor *t = layout_add(l);
        layout_from_slice(t, b, SRC_STATE);
        snprintf(t->name, sizeof t->name, "%s", b->name);
        t->order = 1;
        if (has_suffix(b->name, ".running_mean")) {
            t = layout_add(l);
            snprintf(t->name, sizeof t->name, "%.*s.num_batches_tracked",
                     (int)(strlen(b->name) - strlen(".running_mean")), b->name);
            t->dtype = ST_I64;
            t->src = SRC_BN_BATCHES;
            t->count = 1;
            t->layer = b->layer;
            t->order = 2;
        }
    }
    /* Stable insertion sort by (layer, order): a few hundred tensors at most. */
    for (size_t i = 1; i < l->n; i++) {
        struct st_tensor x = l->t[i];
        size_t j = i;
        while (j > 0 && (l->t[j - 1].layer > x.layer
                         || (l->t[j - 1].layer == x.layer && l->t[j - 1].order > x.order))) {
            l->t[j] = l->t[j - 1];
            j--;
        }
        l->t[j] = x;
    }
    if (o == NULL)
        return 0;
    const float *moments[2] = { o->m, o->v };
    const char *prefix[2] = { "optim.m.", "optim.v." };
    for (int k = 0; k < 2; k++) {
        if (moments[k] == NULL)
            continue;
        for (int i = 0; i < m->ntensors; i++) {
            struct st_tensor *t = layout_add(l);
            layout_from_slice(t, &m->tensors[i], k == 0 ? SRC_OPT_M : SRC_OPT_V);
            snprintf(t->name, sizeof t->name, "%s%s", prefix[k], m->tensors[i].name);
        }
    }
    struct st_tensor *t = layout_add(l);
    snprintf(t->name, sizeof t->name, "optim.t");
    t->dtype = ST_I64;
    t->src = SRC_OPT_T;
    t->count = 1;
    return 0;
}

/* Keep only the optimizer's tensors of l (those of src SRC_OPT_*). */
static void
layout_keep_optim(struct st_layout *l)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->t[i].src == SRC_OPT_M || l->t[i].src == SRC_OPT_V || l->t[i].src == SRC_OPT_T)
            l->t[k++] = l->t[i];
    l->n = k;
}

/*
 * The optimizer file beside a checkpoint: "checkpoint-<step>.safetensors"
 * becomes "optim-<step>.safetensors", any other name NAME "optim-NAME".
 * Heap string.
 */
static char *
optim_path_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    int dirlen = (int)(base - path);
    static const char ck[] = "checkpoint-";
    if (strncmp(base, ck, strlen(ck)) == 0)
        return xasprintf("%.*soptim-%s", dirlen, path, base + strlen(ck));
    return xasprintf("%.*soptim-%s", dirlen, path, base);
}

char *
runlog_optim_path(const char *checkpoint_path)
{
    return optim_path_of(checkpoint_path);
}

static void
shape_text(char *buf, size_t len, int ndim, const uint64_t *shape)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", i ? ", " : "",
                               (unsigned long long)shape[i]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* ---- little-endian I/O ------------------------------------------------- */

static bool
host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void
put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void
write_f32(FILE *f, const float *x, size_t n)
{
    if (host_is_le()) {
        fwrite(x, sizeof *x, n, f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char b[4] = { (unsigned char)u, (unsigned char)(u >> 8),
                               (unsigned char)(u >> 16), (unsigned char)(u >> 24) };
        fwrite(b, 1, 4, f);
    }
}

static void
read_f32(float *x, const unsigned char *src, size_t n)
{
    if (host_is_le()) {
        memcpy(x, src, n * sizeof *x);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = src + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16
                     | (uint32_t)b[3] << 24;
        memcpy(&x[i], &u, 4);
    }
}

/* ---- saving ------------------------------------------------------------- */

static void
meta_pair(struct sbuf *h, bool *first, const char *key, const char *value)
{
    if (!*first)
        sbuf_putc(h, ',');
    *first = false;
    runlog_json_put_str(h, key, strlen(key));
    sbuf_putc(h, ':');
    runlog_json_put_str(h, value, strlen(value));
}

/*
 * The "model" metadata: the input shape and the layer list as JSON, all a
 * reader needs to build the matching nn.Sequential (contrib/python/
 * nntop_load.py does) without parsing the YAML config.
 */
static void
model_json(struct sbuf *j, const struct model *m)
{
    if (m->spec.in_c > 0)
        sbuf_printf(j, "{\"input\":[%d,%d,%d]", m->spec.in_c, m->spec.in_h, m->spec.in_w);
    else
        sbuf_printf(j, "{\"input\":[%d]", m->in);
    sbuf_printf(j, ",\"loss\":\"%s\",\"layers\":[",
                loss_kind_name(m->spec.loss));
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *L = &m->layers[i];
        char arg[40];
        numfmt_exact_float(arg, sizeof arg, L->arg);
        sbuf_printf(j, "%s{\"kind\":\"%s\"", i ? "," : "", layer_kind_name(L->kind));
        switch (L->kind) {
        case LAYER_DENSE:
            sbuf_printf(j, ",\"in\":%d,\"out\":%d", L->in, L->out);
            break;
        case LAYER_CONV2D:
            sbuf_printf(j, ",\"in_channels\":%d,\"out\":%d,\"kernel\":%d,\"stride\":%d,"
                        "\"padding\":%d,\"bias\":%s", L->c, L->oc, L->k, L->stride, L->pad,
                        L->bias >= 0 ? "true" : "false");
            break;
        case LAYER_MAXPOOL2D:
        case LAYER_AVGPOOL2D:
            sbuf_printf(j, ",\"kernel\":%d,\"stride\":%d,\"padding\":%d", L->k, L->stride,
                        L->pad);
            break;
        case LAYER_BATCHNORM:
            sbuf_printf(j, ",\"features\":%d", L->out);
            break;
        case LAYER_BATCHNORM2D:
            sbuf_printf(j, ",\"features\":%d", L->c);
            break;
        case LAYER_LEAKY_RELU:
        case LAYER_DROPOUT:
        case LAYER_DROPOUT2D:
            sbuf_printf(j, ",\"arg\":%s", arg);
            break;
        default:
            break;
        }
        sbuf_putc(j, '}');
    }
    sbuf_puts(j, "]}");
}

long long
runlog_save_checkpoint(const char *path, const struct model *m, const struct optim *o,
                       long step, double epoch, const char *config_yaml, char **cause)
{
    return runlog_save_checkpoint_norm(path, m, o, step, epoch, config_yaml, NULL, cause);
}

/*
 * Write the tensors of l (values from m and o) to path with the metadata
 * object meta ("{...}" text).  Atomic; returns the file size or -1.
 */
static long long
st_write(const char *path, const struct st_layout *l, const struct model *m,
         const struct optim *o, const struct sbuf *meta, char **cause)
{
    struct sbuf h;
    sbuf_init(&h);
    sbuf_puts(&h, "{\"__metadata__\":");
    sbuf_puts(&h, meta->s);
    uint64_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct st_tensor *t = &l->t[i];
        uint64_t bytes = (uint64_t)t->count * st_dtype_sizes[t->dtype];
        char shape[96];
        shape_text(shape, sizeof shape, t->dtype == ST_I64 ? 0 : t->ndim, t->shape);
        sbuf_putc(&h, ',');
        runlog_json_put_str(&h, t->name, strlen(t->name));
        /* JSON arrays are "[a,b]": drop the spaces of the message form. */
        sbuf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":", st_dtype_names[t->dtype]);
        for (const char *c = shape; *c != '\0'; c++)
            if (*c != ' ')
                sbuf_putc(&h, *c);
        sbuf_printf(&h, ",\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                    (unsigned long long)(off + bytes));
        off += bytes;
    }
    sbuf_putc(&h, '}');
    /* Pad so the data that follows starts 8-byte aligned. */
    while (h.len % 8 != 0)
        sbuf_putc(&h, ' ');

    struct runlog_atomic_file af;
    if (runlog_atomic_open(&af, path, cause) < 0) {
        sbuf_fini(&h);
        return -1;
    }
    unsigned char len8[8];
    put_le64(len8, h.len);
    fwrite(len8, 1, 8, af.f);
    fwrite(h.s, 1, h.len, af.f);
    for (size_t i = 0; i < l->n && !ferror(af.f); i++) {
        const struct st_tensor *t = &l->t[i];
        unsigned char b[8];
        switch (t->src) {
        case SRC_PARAMS:
            write_f32(af.f, m->params + t->offset, t->count);
            break;
        case SRC_STATE:
            write_f32(af.f, m->state + t->offset, t->count);
            break;
        case SRC_OPT_M:
            write_f32(af.f, o->m + t->offset, t->count);
            break;
        case SRC_OPT_V:
            write_f32(af.f, o->v + t->offset, t->count);
            break;
        case SRC_BN_BATCHES:
            put_le64(b, (uint64_t)(int64_t)m->bn_batches);
            fwrite(b, 1, 8, af.f);
            break;
        case SRC_OPT_T:
            put_le64(b, (uint64_t)(int64_t)o->t);
            fwrite(b, 1, 8, af.f);
            break;
        case SRC_COUNT:
            break;
        }
    }
    long long size = 8 + (long long)h.len + (long long)off;
    sbuf_fini(&h);
    if (runlog_atomic_commit(&af, cause) < 0)
        return -1;
    return size;
}

long long
runlog_save_checkpoint_norm(const char *path, const struct model *m, const struct optim *o,
                            long step, double epoch, const char *config_yaml,
                            const char *normalize_json, char **cause)
{
    /* Both layouts first: a bad model or optimizer writes nothing. */
    struct st_layout lm, lo = { 0 };
    if (layout_build(&lm, m, NULL, cause) < 0
        || (o != NULL && layout_build(&lo, m, o, cause) < 0)) {
        free(lm.t);
        free(lo.t);
        return -1;
    }
    layout_keep_optim(&lo);
    struct sbuf h;
    sbuf_init(&h);
    char num[40];
    bool first = true;
    sbuf_putc(&h, '{');
    meta_pair(&h, &first, "format", "nntop-checkpoint");
    meta_pair(&h, &first, "format_version", "2");
    meta_pair(&h, &first, "nntop_version", PACKAGE_VERSION);
    snprintf(num, sizeof num, "%ld", step);
    meta_pair(&h, &first, "step", num);
    numfmt_exact_double(num, sizeof num, epoch);
    meta_pair(&h, &first, "epoch", num);
    /* The dropout stream's state, so a resumed run draws the same masks. */
    char rng[4 * 16 + 1];
    for (int i = 0; i < 4; i++)
        snprintf(rng + 16 * i, 17, "%016llx", (unsigned long long)m->rng_dropout.s[i]);
    meta_pair(&h, &first, "rng_dropout", rng);
    if (o != NULL)
        meta_pair(&h, &first, "optimizer", optim_kind_name(o->spec.kind));
    if (config_yaml != NULL)
        meta_pair(&h, &first, "config", config_yaml);
    struct sbuf mj;
    sbuf_init(&mj);
    model_json(&mj, m);
    meta_pair(&h, &first, "model", mj.s);
    sbuf_fini(&mj);
    if (normalize_json != NULL)
        meta_pair(&h, &first, "normalize", normalize_json);
    sbuf_putc(&h, '}');
    long long size = -1;
    char *opath = NULL;
    /* The optimizer's file first: a checkpoint that exists has its state beside it. */
    if (o != NULL) {
        struct sbuf oh;
        sbuf_init(&oh);
        first = true;
        sbuf_putc(&oh, '{');
        meta_pair(&oh, &first, "format", "nntop-optimizer");
        meta_pair(&oh, &first, "format_version", "2");
        snprintf(num, sizeof num, "%ld", step);
        meta_pair(&oh, &first, "step", num);
        meta_pair(&oh, &first, "optimizer", optim_kind_name(o->spec.kind));
        sbuf_putc(&oh, '}');
        opath = optim_path_of(path);
        long long osize = st_write(opath, &lo, m, o, &oh, cause);
        sbuf_fini(&oh);
        if (osize < 0)
            goto out;
        size = st_write(path, &lm, m, NULL, &h, cause);
        if (size >= 0)
            size += osize;
    } else {
        size = st_write(path, &lm, m, NULL, &h, cause);
    }
out:
    free(opath);
    sbuf_fini(&h);
    free(lm.t);
    free(lo.t);
    return size;
}

/* ---- loading -------------------------------------------------------------- */

/* One entry of a file's header, as found. */
struct st_entry {
    const char *name;       /* borrowed from the parsed header */
    size_t name_len;
    const char *dtype;
    size_t esize;           /* bytes per element */
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;    /* into the data section */
    size_t index;           /* position in the header */
    bool used;
};

static const struct {
    const char *name;
    size_t size;
} known_dtypes[] = {
    { "F64", 8 }, { "F32", 4 }, { "F16", 2 }, { "BF16", 2 }, { "I64", 8 }, { "I32", 4 },
    { "I16", 2 }, { "I8", 1 }, { "U64", 8 }, { "U32", 4 }, { "U16", 2 }, { "U8", 1 },
    { "BOOL", 1 }, { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
};

/* A header-supplied name made safe to print: ASCII, at most 64 bytes. */
static void
show_name(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    if (n > 0 && o + 4 >= cap && o > 0)
        memcpy(out + o - 3, "...", 3);
    out[o] = '\0';
}

static int
entry_fail(const char *path, const struct st_entry *e, const char *what, char **cause)
{
    char name[ST_NAME_MAX + 8];
    show_name(name, sizeof name, e->name, e->name_len);
    *cause = xasprintf("%s: tensor '%s': %s", path, name, what);
    return -1;
}

static bool
json_sizes(const struct json *v, uint64_t *out, int max, int *n)
{
    if (v == NULL || v->type != JSON_ARRAY || v->len > (size_t)max)
        return false;
    for (size_t i = 0; i < v->len; i++)
        if (!runlog_json_get_u64(&v->items[i], &out[i]))
            return false;
    *n = (int)v->len;
    return true;
}

/* Check one header entry's structure and extent within data_size bytes. */
static int
entry_parse(const char *path, struct st_entry *e, const struct json *v, uint64_t data_size,
            char **cause)
{
    if (v->type != JSON_OBJECT)
        return entry_fail(path, e, "entry is not an object", cause);
    for (size_t i = 0; i < v->len; i++) {
        const char *k = v->keys[i];
        if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0
            && strcmp(k, "data_offsets") != 0) {
            char field[ST_NAME_MAX + 8], msg[ST_NAME_MAX + 32];
            show_name(field, sizeof field, k, v->key_lens[i]);
            snprintf(msg, sizeof msg, "unknown field '%s'", field);
            return entry_fail(path, e, msg, cause);
        }
    }
    const struct json *dtype = runlog_json_get(v, "dtype");
    if (dtype == NULL || dtype->type != JSON_STRING)
        return entry_fail(path, e, "no string \"dtype\"", cause);
    e->dtype = dtype->str;
    for (size_t i = 0; i < sizeof known_dtypes / sizeof known_dtypes[0]; i++)
        if (strlen(known_dtypes[i].name) == dtype->len
            && strcmp(dtype->str, known_dtypes[i].name) == 0)
            e->esize = known_dtypes[i].size;
    if (e->esize == 0) {
        char d[ST_NAME_MAX + 8], msg[ST_NAME_MAX + 32];
        show_name(d, sizeof d, dtype->str, dtype->len);
        snprintf(msg, sizeof msg, "unknown dtype '%s'", d);
        return entry_fail(path, e, msg, cause);
    }
    if (!json_sizes(runlog_json_get(v, "shape"), e->shape, ST_MAX_DIMS, &e->ndim))
        return entry_fail(path, e, "\"shape\" is not an array of sizes", cause);
    uint64_t offs[2];
    int noffs = 0;
    if (!json_sizes(runlog_json_get(v, "data_offsets"), offs, 2, &noffs) || noffs != 2)
        return entry_fail(path, e, "\"data_offsets\" is not [begin, end]", cause);
    e->begin = offs[0];
    e->end = offs[1];
    char msg[512];
    if (e->begin > e->end || e->end > data_size) {
        snprintf(msg, sizeof msg, "data_offsets [%llu, %llu] lie outside the data (%llu bytes)",
                 (unsigned long long)e->begin, (unsigned long long)e->end,
                 (unsigned long long)data_size);
        return entry_fail(path, e, msg, cause);
    }
    uint64_t need = e->esize;
    for (int i = 0; i < e->ndim; i++)
        if (__builtin_mul_overflow(need, e->shape[i], &need))
            return entry_fail(path, e, "shape is too large", cause);
    if (e->end - e->begin != need) {
        char shape[ST_MAX_DIMS * 24];
        shape_text(shape, sizeof shape, e->ndim, e->shape);
        snprintf(msg, sizeof msg,
                 "data_offsets [%llu, %llu] hold %llu bytes, shape %s of %s needs %llu",
                 (unsigned long long)e->begin, (unsigned long long)e->end,
                 (unsigned long long)(e->end - e->begin), shape, e->dtype,
                 (unsigned long long)need);
        return entry_fail(path, e, msg, cause);
    }
    return 0;
}

static int
entry_cmp_offset(const void *a, const void *b)
{
    const struct st_entry *x = *(const struct st_entry *const *)a;
    const struct st_entry *y = *(const struct st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int
entry_cmp_name(const void *a, const void *b)
{
    const struct st_entry *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c != 0)
        return c;
    return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static struct st_entry *
entry_find(struct st_entry *ents, size_t n, const char *name)
{
    struct st_entry key = { .name = name, .name_len = strlen(name) };
    return bsearch(&key, ents, n, sizeof *ents, entry_cmp_name);
}

/* The data regions must not share bytes: a crafted file could alias tensors. */
static int
check_overlaps(const char *path, struct st_entry *ents, size_t n, char **cause)
{
    if (n < 2)
        return 0;
    struct st_entry **by = xmalloc(n * sizeof *by);
    for (size_t i = 0; i < n; i++)
        by[i] = &ents[i];
    qsort(by, n, sizeof *by, entry_cmp_offset);
    int rc = 0;
    for (size_t i = 1; i < n; i++)
        if (by[i]->begin < by[i - 1]->end) {
            char a[ST_NAME_MAX + 8], b[ST_NAME_MAX + 8];
            show_name(a, sizeof a, by[i - 1]->name, by[i - 1]->name_len);
            show_name(b, sizeof b, by[i]->name, by[i]->name_len);
            *cause = xasprintf("%s: tensors '%s' and '%s' overlap", path, a, b);
            rc = -1;
            break;
        }
    free(by);
    return rc;
}

static const char *
meta_get(const struct json *meta, const char *key)
{
    const struct json *v = meta != NULL ? runlog_json_get(meta, key) : NULL;
    return v != NULL ? v->str : NULL;
}

struct st_file {
    FILE *f;
    char *header;
    struct json root;
    struct st_entry *ents;
    size_t nents;
    const struct json *meta;
    uint64_t data_start, data_size;
};

/* Read and check everything but the model: header, entries, offsets. */
static int
st_file_open(struct st_file *sf, const char *path, char **cause)
{
    sf->f = fopen(path, "rb");
    if (sf->f == NULL) {
        *cause = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(sf->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        *cause = xasprintf("%s: not a regular file", path);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char len8[8];
    if (size < 8 || fread(len8, 1, 8, sf->f) != 8) {
        *cause = xasprintf("%s: file is %llu bytes, too short for a safetensors file", path,
                           (unsigned long long)size);
        return -1;
    }
    uint64_t n = get_le64(len8);
    if (n > size - 8) {
        *cause = xasprintf("%s: header length %llu is larger than the file (%llu bytes)", path,
                           (unsigned long long)n, (unsigned long long)size);
        return -1;
    }
    if (n > ST_HEADER_MAX) {
        *cause = xasprintf("%s: header length %llu is over the 100 MiB limit", path,
                           (unsigned long long)n);
        return -1;
    }
    uint64_t max = runlog_read_max();
    if (n + 1 > max) {
        *cause = xasprintf("%s: the header needs %llu bytes, more than data.max_bytes (%llu)",
                           path, (unsigned long long)(n + 1), (unsigned long long)max);
        return -1;
    }
    sf->header = xmalloc((size_t)n + 1);
    if (fread(sf->header, 1, (size_t)n, sf->f) != (size_t)n) {
        *cause = xasprintf("%s: short read of the header", path);
        return -1;
    }
    sf->header[n] = '\0';
    sf->data_start = 8 + n;
    sf->data_size = size - 8 - n;
    char err[128];
    /* The text and the tree built from it are each held within the budget. */
    if (runlog_json_parse(&sf->root, sf->header, (size_t)n, max, err, sizeof err) < 0) {
        *cause = xasprintf("%s: header: %s", path, err);
        return -1;
    }
    if (sf->root.type != JSON_OBJECT) {
        *cause = xasprintf("%s: header is not a JSON object", path);
        return -1;
    }
    /* The entries (and check_overlaps' index of them), within the budget too. */
    uint64_t ents_bytes = (uint64_t)sf->root.len * (sizeof *sf->ents + sizeof(void *));
    if (ents_bytes > max) {
        *cause = xasprintf("%s: the header's %zu entries need %llu bytes, more than "
                           "data.max_bytes (%llu)", path, sf->root.len,
                           (unsigned long long)ents_bytes, (unsigned long long)max);
        return -1;
    }
    if (sf->root.len > 0)
        sf->ents = xcalloc(sf->root.len, sizeof *sf->ents);
    for (size_t i = 0; i < sf->root.len; i++) {
        const struct json *v = &sf->root.items[i];
        if (strcmp(sf->root.keys[i], "__metadata__") == 0 && sf->root.key_lens[i] == 12) {
            bool ok = v->type == JSON_OBJECT;
            for (size_t k = 0; ok && k < v->len; k++)
                ok = v->items[k].type == JSON_STRING;
            if (!ok) {
                *cause = xasprintf("%s: __metadata__ must map strings to strings", path);
                return -1;
            }
            sf->meta = v;
            continue;
        }
        struct st_entry *e = &sf->ents[sf->nents++];
        e->name = sf->root.keys[i];
        e->name_len = sf->root.key_lens[i];
        e->index = i;
        if (entry_parse(path, e, v, sf->data_size, cause) < 0)
            return -1;
    }
    if (check_overlaps(path, sf->ents, sf->nents, cause) < 0)
        return -1;
    if (sf->nents > 0)
        qsort(sf->ents, sf->nents, sizeof *sf->ents, entry_cmp_name);
    return 0;
}

static void
st_file_close(struct st_file *sf)
{
    if (sf->f != NULL)
        fclose(sf->f);
    runlog_json_fini(&sf->root);
    free(sf->header);
    free(sf->ents);
}

/* Every tensor of the layout present with its dtype and shape; nothing else. */
static int
match_layout(const char *path, struct st_file *sf, const struct st_layout *l, bool with_optim,
             struct st_entry **found, char **cause)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct st_tensor *t = &l->t[i];
        struct st_entry *e = entry_find(sf->ents, sf->nents, t->name);
        if (e == NULL) {
            *cause = xasprintf("%s: missing tensor '%s'", path, t->name);
            return -1;
        }
        e->used = true;
        found[i] = e;
        if (strcmp(e->dtype, st_dtype_names[t->dtype]) != 0) {
            char d[ST_NAME_MAX + 8];
            show_name(d, sizeof d, e->dtype, strlen(e->dtype));
            *cause = xasprintf("%s: tensor '%s' has dtype %s, the model expects %s", path,
                               t->name, d, st_dtype_names[t->dtype]);
            return -1;
        }
        int ndim = t->dtype == ST_I64 ? 0 : t->ndim;
        bool same = e->ndim == ndim;
        for (int k = 0; same && k < ndim; k++)
            same = e->shape[k] == t->shape[k];
        if (!same) {
            char got[ST_MAX_DIMS * 24], want[128];
            shape_text(got, sizeof got, e->ndim, e->shape);
            shape_text(want, sizeof want, ndim, t->shape);
            *cause = xasprintf("%s: tensor '%s' has shape %s, the model expects %s", path,
                               t->name, got, want);
            return -1;
        }
    }
    /* Report the first unexpected tensor in the header's order. */
    const struct st_entry *first = NULL;
    for (size_t i = 0; i < sf->nents; i++) {
        const struct st_entry *e = &sf->ents[i];
        if (e->used || (!with_optim && e->name_len >= 6 && memcmp(e->name, "optim.", 6) == 0))
            continue;
        if (first == NULL || e->index < first->index)
            first = e;
    }
    if (first != NULL) {
        char name[ST_NAME_MAX + 8];
        show_name(name, sizeof name, first->name, first->name_len);
        *cause = xasprintf("%s: unexpected tensor '%s'", path, name);
        return -1;
    }
    return 0;
}

static int
parse_meta(const char *path, const struct json *meta, long *step, double *epoch, char **cause)
{
    *step = 0;
    *epoch = 0;
    const char *s = meta_get(meta, "step");
    char *end;
    if (s != NULL) {
        errno = 0;
        long v = strtol(s, &end, 10);
        if (s[0] == '\0' || *end != '\0' || errno == ERANGE || v < 0) {
            *cause = xasprintf("%s: metadata step '%.40s' is not a step number", path, s);
            return -1;
        }
        *step = v;
    }
    s = meta_get(meta, "epoch");
    if (s != NULL) {
        double v = strtod(s, &end);
        if (s[0] == '\0' || *end != '\0' || !(v >= 0)) {
            *cause = xasprintf("%s: metadata epoch '%.40s' is not an epoch", path, s);
            return -1;
        }
        *epoch = v;
    }
    return 0;
}

/* The optional "rng_dropout" metadata: 64 hex digits, four 64-bit words. */
static int
parse_rng(const char *path, const struct json *meta, struct rng *r, bool *have, char **cause)
{
    const char *s = meta_get(meta, "rng_dropout");
    *have = false;
    if (s == NULL)
        return 0;
    if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64) {
        *cause = xasprintf("%s: metadata rng_dropout '%.70s' is not 64 hex digits", path, s);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char word[17];
        memcpy(word, s + 16 * i, 16);
        word[16] = '\0';
        r->s[i] = (uint64_t)strtoull(word, NULL, 16);
    }
    *have = true;
    return 0;
}

/*
 * Read the bytes of the tensors of l found in sf into *stage (heap) and
 * check the I64 counts; nothing is copied into a model yet.
 */
static int
st_stage(const char *path, struct st_file *sf, const struct st_layout *l,
         struct st_entry **found, unsigned char **stage, char **cause)
{
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += (size_t)(found[i]->end - found[i]->begin);
    *stage = xmalloc(total > 0 ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t n = (size_t)(found[i]->end - found[i]->begin);
        off_t pos = (off_t)(sf->data_start + found[i]->begin);
        if (n > 0 && pread(fileno(sf->f), *stage + at, n, pos) != (ssize_t)n) {
            *cause = xasprintf("%s: short read of tensor '%s'", path, l->t[i].name);
            return -1;
        }
        if (l->t[i].dtype == ST_I64 && (int64_t)get_le64(*stage + at) < 0) {
            *cause = xasprintf("%s: tensor '%s' is negative", path, l->t[i].name);
            return -1;
        }
        at += n;
    }
    return 0;
}

/* Copy staged tensors into m and o. */
static void
st_apply(const struct st_layout *l, struct st_entry **found, const unsigned char *stage,
         struct model *m, struct optim *o)
{
    size_t at = 0;
    bool have_batches = false;
    for (size_t i = 0; i < l->n; i++) {
        const struct st_tensor *t = &l->t[i];
        const unsigned char *src = stage + at;
        switch (t->src) {
        case SRC_PARAMS:
            read_f32(m->params + t->offset, src, t->count);
            break;
        case SRC_STATE:
            read_f32(m->state + t->offset, src, t->count);
            break;
        case SRC_OPT_M:
            read_f32(o->m + t->offset, src, t->count);
            break;
        case SRC_OPT_V:
            read_f32(o->v + t->offset, src, t->count);
            break;
        case SRC_BN_BATCHES:
            /* One counter in the model: every batch-norm layer has the same. */
            if (!have_batches)
                m->bn_batches = (long)get_le64(src);
            have_batches = true;
            break;
        case SRC_OPT_T:
            o->t = (long)get_le64(src);
            break;
        case SRC_COUNT:
            break;
        }
        at += (size_t)(found[i]->end - found[i]->begin);
    }
}

/* 0 when the checkpoint's optimizer is o's (or it names none); else -1 with *cause. */
static int
check_optimizer_kind(const char *path, const struct st_file *sf, const struct optim *o,
                     char **cause)
{
    const char *kind = meta_get(sf->meta, "optimizer");
    if (kind == NULL || strcmp(kind, optim_kind_name(o->spec.kind)) == 0)
        return 0;
    char k[ST_NAME_MAX + 8];
    show_name(k, sizeof k, kind, strlen(kind));
    *cause = xasprintf("%s: optimizer is '%s', the run uses '%s'", path, k,
                       optim_kind_name(o->spec.kind));
    return -1;
}

/* The optimizer state in optim-<step>.safetensors beside a checkpoint, staged. */
struct st_beside {
    char *path;
    struct st_file f;
    struct st_layout l;
    struct st_entry **found;
    unsigned char *stage;
};

/*
 * Open, match and stage the optimizer file beside the checkpoint at path,
 * which must be of the checkpoint's step; 0, or -1 with *cause.  b's
 * buffers are the caller's to free (st_beside_fini), either way.
 */
static int
st_beside_stage(struct st_beside *b, const char *path, const struct model *m,
                const struct optim *o, long step, char **cause)
{
    b->path = optim_path_of(path);
    char *why = NULL;
    if (st_file_open(&b->f, b->path, &why) < 0) {
        *cause = xasprintf("%s: no optimizer state beside it: %s", path, why);
        free(why);
        return -1;
    }
    if (layout_build(&b->l, m, o, cause) < 0)
        return -1;
    layout_keep_optim(&b->l);
    b->found = xcalloc(b->l.n > 0 ? b->l.n : 1, sizeof *b->found);
    if (match_layout(b->path, &b->f, &b->l, true, b->found, cause) < 0)
        return -1;
    long ostep;
    double oepoch;
    if (parse_meta(b->path, b->f.meta, &ostep, &oepoch, cause) < 0)
        return -1;
    if (ostep != step) {
        *cause = xasprintf("%s: optimizer state of step %ld beside a checkpoint of step %ld",
                           b->path, ostep, step);
        return -1;
    }
    return st_stage(b->path, &b->f, &b->l, b->found, &b->stage, cause);
}

static void
st_beside_fini(struct st_beside *b)
{
    free(b->stage);
    free(b->found);
    free(b->l.t);
    free(b->path);
    st_file_close(&b->f);
}

int
runlog_load_checkpoint(const char *path, struct model *m, struct optim *o, long *step,
                       double *epoch, char **config_yaml_out, char **cause)
{
    struct st_file sf = { 0 };
    struct st_layout l = { 0 };
    struct st_entry **found = NULL;
    unsigned char *stage = NULL;
    struct st_beside ob = { 0 };
    int rc = -1;
    if (config_yaml_out != NULL)
        *config_yaml_out = NULL;
    if (st_file_open(&sf, path, cause) < 0)
        goto out;
    if (o != NULL && check_optimizer_kind(path, &sf, o, cause) < 0)
        goto out;
    /* A format-1 file holds the optimizer's tensors itself; a newer
     * checkpoint has them in optim-<step>.safetensors beside it. */
    bool single = entry_find(sf.ents, sf.nents, "optim.t") != NULL;
    bool beside = o != NULL && !single;
    if (layout_build(&l, m, beside ? NULL : o, cause) < 0)
        goto out;
    if (l.n > 0)
        found = xcalloc(l.n, sizeof *found);
    if (match_layout(path, &sf, &l, o != NULL, found, cause) < 0)
        goto out;
    long st_step;
    double st_epoch;
    if (parse_meta(path, sf.meta, &st_step, &st_epoch, cause) < 0)
        goto out;
    struct rng st_rng;
    bool have_rng;
    if (parse_rng(path, sf.meta, &st_rng, &have_rng, cause) < 0)
        goto out;
    /* Stage every tensor's bytes first: a read error must not leave the
     * model half old, half new. */
    if (st_stage(path, &sf, &l, found, &stage, cause) < 0)
        goto out;
    if (beside && st_beside_stage(&ob, path, m, o, st_step, cause) < 0)
        goto out;
    st_apply(&l, found, stage, m, o);
    if (beside)
        st_apply(&ob.l, ob.found, ob.stage, m, o);
    if (have_rng)
        m->rng_dropout = st_rng;
    if (step != NULL)
        *step = st_step;
    if (epoch != NULL)
        *epoch = st_epoch;
    const char *config = meta_get(sf.meta, "config");
    if (config_yaml_out != NULL && config != NULL)
        *config_yaml_out = xstrdup(config);
    rc = 0;
out:
    free(stage);
    free(found);
    free(l.t);
    st_file_close(&sf);
    st_beside_fini(&ob);
    return rc;
}

int
runlog_load_normalize(const char *path, float *scale, float *shift, int d, char **cause)
{
    struct st_file sf = { 0 };
    struct json v = { 0 };
    int rc = -1;
    if (st_file_open(&sf, path, cause) < 0)
        goto out;
    const char *text = meta_get(sf.meta, "normalize");
    if (text == NULL) {
        rc = 1;
        goto out;
    }
    char err[128];
    if (runlog_json_parse(&v, text, strlen(text), runlog_read_max(), err, sizeof err) < 0) {
        *cause = xasprintf("%s: metadata normalize: %s", path, err);
        goto out;
    }
    const struct json *sc = runlog_json_get(&v, "scale"), *sh = runlog_json_get(&v, "shift");
    if (v.type != JSON_OBJECT || sc == NULL || sh == NULL || sc->type != JSON_ARRAY
        || sh->type != JSON_ARRAY || sc->len != (size_t)d || sh->len != (size_t)d) {
        *cause = xasprintf("%s: metadata normalize is not a scale and a shift for the data's %d "
                           "features", path, d);
        goto out;
    }
    for (int i = 0; i < d; i++)
        if (sc->items[i].type != JSON_NUMBER || sh->items[i].type != JSON_NUMBER) {
            *cause = xasprintf("%s: metadata normalize holds a value that is not a number",
                               path);
            goto out;
        }
    for (int i = 0; i < d; i++) {
        scale[i] = (float)sc->items[i].num;
        shift[i] = (float)sh->items[i].num;
    }
    rc = 0;
out:
    runlog_json_fini(&v);
    st_file_close(&sf);
    return rc;
}

/* ---- finding checkpoints ---------------------------------------------------- */

int
runlog_checkpoint_has_step(const char *path, char **cause)
{
    struct st_file sf = { 0 };
    /* st_file_open may have allocated when it fails: close on all paths. */
    int rc = -1;
    if (st_file_open(&sf, path, cause) == 0)
        rc = meta_get(sf.meta, "step") != NULL ? 1 : 0;
    st_file_close(&sf);
    return rc;
}

int
runlog_latest_checkpoint(const char *run_dir, char **path, long *step, char **cause)
{
    *path = NULL;
    DIR *d = opendir(run_dir);
    if (d == NULL) {
        *cause = xasprintf("run directory '%s': %s", run_dir, strerror(errno));
        return -1;
    }
    long best = -1;
    struct dirent *de;
    static const char prefix[] = "checkpoint-", suffix[] = ".safetensors";
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        size_t n = strlen(s);
        if (n <= strlen(prefix) + strlen(suffix) || strncmp(s, prefix, strlen(prefix)) != 0
            || strcmp(s + n - strlen(suffix), suffix) != 0)
            continue;
        const char *digits = s + strlen(prefix);
        size_t nd = n - strlen(prefix) - strlen(suffix);
        if (nd > 18 || strspn(digits, "0123456789") != nd)
            continue;
        long v = strtol(digits, NULL, 10);
        if (v > best)
            best = v;
    }
    closedir(d);
    if (best < 0)
        return 1;
    *path = xasprintf("%s/checkpoint-%ld.safetensors", run_dir, best);
    *step = best;
    return 0;
}
