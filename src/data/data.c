/*
 * data.c - data_load(): get the samples (generator, IDX or CSV reader),
 * carve the seeded validation split, apply the subset, count classes and
 * fold the normalisation into one scale and shift per feature computed
 * from the training split.  It copies no sample: splits are index lists.
 * Batching and conversion live in batch.c; file formats in idx.c, csv.c.
 */
#include "config.h"

#include "nntop/data.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data-int.h"
#include "nntop/rng.h"
#include "nntop/xmem.h"

static const char *const source_names[DATA_SOURCE_COUNT] = {
    [DATA_SPIRAL] = "spiral",
    [DATA_XOR] = "xor",
    [DATA_BLOBS] = "blobs",
    [DATA_IDX] = "idx",
    [DATA_CSV] = "csv",
    [DATA_NPY] = "npy",
};

static const char *const normalize_names[NORM_KIND_COUNT] = {
    [NORM_NONE] = "none",
    [NORM_STANDARDIZE] = "standardize",
    [NORM_MINMAX] = "minmax",
    [NORM_UNIT] = "unit",
};

const char *
data_source_name(enum data_source s)
{
    return (unsigned)s < DATA_SOURCE_COUNT ? source_names[s] : "?";
}

const char *
normalize_name(enum normalize_kind k)
{
    return (unsigned)k < NORM_KIND_COUNT ? normalize_names[k] : "?";
}

void
data_store_fini(struct dataset *ds)
{
    free(ds->bytes);
    free(ds->floats);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

void
data_fini(struct data *d)
{
    data_store_fini(&d->train_store);
    data_store_fini(&d->test_store);
    free(d->train.idx);
    free(d->val.idx);
    free(d->test.idx);
    free(d->scale);
    free(d->shift);
    free(d->class_counts);
    memset(d, 0, sizeof *d);
}

/* The rows of perm[from, to) in ascending order (file order), via a mark array. */
static long *
split_sorted(const long *perm, long from, long to, long n, unsigned char *mark)
{
    if (to <= from)
        return NULL;
    memset(mark, 0, (size_t)n);
    for (long i = from; i < to; i++)
        mark[perm[i]] = 1;
    long *idx = xmalloc((size_t)(to - from) * sizeof *idx);
    long k = 0;
    for (long r = 0; r < n; r++)
        if (mark[r])
            idx[k++] = r;
    return idx;
}

/*
 * Shuffle all rows with RNG_SPLIT; the first round(val_fraction * n) are
 * validation, the rest training.  Both keep file order, so shuffle=false
 * walks the file.  *full gets the whole training split (normalisation
 * statistics come from it); the subset, when asked, is the first N
 * training rows in the seeded split order, so a class-ordered file (the
 * spiral) still yields every class.
 */
static void
data_split(struct data *out, const struct data_spec *spec, uint64_t seed, struct split *full)
{
    long n = out->train_store.n;
    long *perm = xmalloc((size_t)n * sizeof *perm);
    unsigned char *mark = xmalloc((size_t)n);
    struct rng r;
    rng_seed_for(&r, seed, RNG_SPLIT);
    for (long i = 0; i < n; i++)
        perm[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)rng_below(&r, (uint64_t)i + 1);
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    long nval = (long)floor(spec->val_fraction * (double)n + 0.5);
    if (nval > n - 1)
        nval = n - 1;
    if (nval < 0)
        nval = 0;

    out->val = (struct split){ &out->train_store, nval, split_sorted(perm, 0, nval, n, mark) };
    *full = (struct split){ &out->train_store, n - nval, split_sorted(perm, nval, n, n, mark) };
    if (spec->subset > 0 && spec->subset < full->n) {
        out->train = (struct split){ &out->train_store, spec->subset,
                                     split_sorted(perm, nval, nval + spec->subset, n, mark) };
    } else {
        out->train = *full;
        full->idx = NULL;   /* shared; out->train owns it */
    }
    free(mark);
    free(perm);

    long nt = out->test_store.n;
    out->test = (struct split){ &out->test_store, nt, NULL };
    if (nt > 0) {
        out->test.idx = xmalloc((size_t)nt * sizeof *out->test.idx);
        for (long i = 0; i < nt; i++)
            out->test.idx[i] = i;
    }
}

/* Per-feature (lo, hi) or (mean, std) over the rows of s, in double. */
static void
stats_minmax(const struct split *s, double *lo, double *hi)
{
    const struct dataset *ds = s->src;
    int d = ds->d;
    for (int j = 0; j < d; j++) {
        lo[j] = DBL_MAX;
        hi[j] = -DBL_MAX;
    }
    for (long i = 0; i < s->n; i++) {
        size_t off = (size_t)s->idx[i] * (size_t)d;
        for (int j = 0; j < d; j++) {
            double v = ds->bytes != NULL ? ds->bytes[off + j] : ds->floats[off + j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
    }
}

static void
stats_moments(const struct split *s, double *mean, double *sd)
{
    const struct dataset *ds = s->src;
    int d = ds->d;
    double inv = 1.0 / (double)s->n;
    if (ds->bytes != NULL) {
        /* Exact integer sums: 255^2 * 2^32 rows still fits in 64 bits. */
        uint64_t *sum = xcalloc((size_t)d, sizeof *sum), *sq = xcalloc((size_t)d, sizeof *sq);
        for (long i = 0; i < s->n; i++) {
            const uint8_t *row = ds->bytes + (size_t)s->idx[i] * (size_t)d;
            for (int j = 0; j < d; j++) {
                sum[j] += row[j];
                sq[j] += (uint64_t)row[j] * row[j];
            }
        }
        for (int j = 0; j < d; j++) {
            mean[j] = (double)sum[j] * inv;
            double var = (double)sq[j] * inv - mean[j] * mean[j];
            sd[j] = var > 0.0 ? sqrt(var) : 0.0;
        }
        free(sum);
        free(sq);
        return;
    }
    /* Two passes: the mean first, so the variance does not cancel. */
    for (int j = 0; j < d; j++)
        mean[j] = sd[j] = 0.0;
    for (long i = 0; i < s->n; i++) {
        const float *row = ds->floats + (size_t)s->idx[i] * (size_t)d;
        for (int j = 0; j < d; j++)
            mean[j] += row[j];
    }
    for (int j = 0; j < d; j++)
        mean[j] *= inv;
    for (long i = 0; i < s->n; i++) {
        const float *row = ds->floats + (size_t)s->idx[i] * (size_t)d;
        for (int j = 0; j < d; j++) {
            double e = row[j] - mean[j];
            sd[j] += e * e;
        }
    }
    for (int j = 0; j < d; j++)
        sd[j] = sqrt(sd[j] * inv);
}

/* Fold the normalisation into x' = x * scale + shift, statistics from s. */
static void
data_normalise(struct data *out, enum normalize_kind kind, const struct split *s)
{
    int d = out->d;
    out->scale = xmalloc((size_t)d * sizeof *out->scale);
    out->shift = xmalloc((size_t)d * sizeof *out->shift);
    double *a = xmalloc((size_t)d * sizeof *a), *b = xmalloc((size_t)d * sizeof *b);
    for (int j = 0; j < d; j++) {
        out->scale[j] = 1.0f;
        out->shift[j] = 0.0f;
    }
    switch (kind) {
    case NORM_STANDARDIZE:
        stats_moments(s, a, b);     /* a = mean, b = std */
        for (int j = 0; j < d; j++) {
            double sc = b[j] > 0.0 ? 1.0 / b[j] : 1.0;
            out->scale[j] = (float)sc;
            out->shift[j] = (float)(-a[j] * sc);
        }
        break;
    case NORM_MINMAX:
        stats_minmax(s, a, b);      /* a = min, b = max */
        for (int j = 0; j < d; j++) {
            double range = b[j] - a[j];
            double sc = range > 0.0 ? 1.0 / range : 1.0;
            out->scale[j] = (float)sc;
            out->shift[j] = (float)(-a[j] * sc);
        }
        break;
    case NORM_UNIT:
        for (int j = 0; j < d; j++)
            out->scale[j] = 1.0f / 255.0f;
        break;
    default:
        break;
    }
    free(a);
    free(b);
}

static int
data_check_spec(const struct data_spec *spec, char **cause)
{
    if ((unsigned)spec->source >= DATA_SOURCE_COUNT) {
        data_set_cause(cause, "data: unknown source %d", (int)spec->source);
        return -1;
    }
    const char *what = data_source_name(spec->source);
    if ((unsigned)spec->normalize >= NORM_KIND_COUNT) {
        data_set_cause(cause, "%s: unknown normalisation %d", what, (int)spec->normalize);
        return -1;
    }
    if (!(spec->val_fraction >= 0.0 && spec->val_fraction < 1.0)) {
        data_set_cause(cause, "%s: val_fraction must be in [0, 1) (got %g)", what,
                       spec->val_fraction);
        return -1;
    }
    if (spec->subset < 0) {
        data_set_cause(cause, "%s: subset must be >= 0 (got %ld)", what, spec->subset);
        return -1;
    }
    return 0;
}

int
data_load(struct data *out, const struct data_spec *spec, uint64_t seed, char **cause)
{
    memset(out, 0, sizeof *out);
    if (data_check_spec(spec, cause) < 0)
        return -1;
    int rc, classes = 0;
    struct data_budget b = {
        .max = spec->max_bytes > 0 ? spec->max_bytes : DATA_MAX_BYTES_DEFAULT,
    };
    switch (spec->source) {
    case DATA_IDX:
        rc = data_idx_load(&out->train_store, &out->test_store, &classes, spec, &b, cause);
        break;
    case DATA_CSV:
        rc = data_csv_load(&out->train_store, &out->test_store, &classes, spec, &b, cause);
        break;
    case DATA_NPY:
        rc = data_npy_load(&out->train_store, &out->test_store, &classes, spec, &b, cause);
        break;
    default:
        rc = data_synth_generate(&out->train_store, &classes, spec, seed, &b, cause);
        break;
    }
    if (rc < 0) {
        data_fini(out);
        return -1;
    }
    out->d = out->train_store.d;
    out->classes = classes;
    memcpy(out->shape, out->train_store.shape, sizeof out->shape);
    if ((spec->source == DATA_CSV || spec->source == DATA_NPY) && spec->shape[0] > 0) {
        long long want = (long long)spec->shape[0] * spec->shape[1] * spec->shape[2];
        if (want != out->d) {
            data_set_cause(cause, "%s: data.shape [%d, %d, %d] makes %lld values per row, but "
                           "the rows have %d features",
                           spec->source == DATA_CSV ? spec->path : spec->train_images,
                           spec->shape[0],
                           spec->shape[1], spec->shape[2], want, out->d);
            data_fini(out);
            return -1;
        }
        memcpy(out->shape, spec->shape, sizeof out->shape);
    }

    struct split full;
    data_split(out, spec, seed, &full);
    data_normalise(out, spec->normalize, full.idx != NULL ? &full : &out->train);
    free(full.idx);

    out->class_counts = xcalloc((size_t)classes, sizeof *out->class_counts);
    for (long i = 0; i < out->train.n; i++)
        out->class_counts[out->train_store.labels[out->train.idx[i]]]++;
    return 0;
}

int
data_spec_files(const struct data_spec *spec, const char *files[6])
{
    const char *cand[6] = {NULL};
    if (spec->source == DATA_IDX || spec->source == DATA_NPY) {
        cand[0] = spec->train_images;
        cand[1] = spec->train_labels;
        cand[2] = spec->test_images;
        cand[3] = spec->test_labels;
    } else if (spec->source == DATA_CSV) {
        cand[0] = spec->path;
        cand[1] = spec->test_path;
    }
    int n = 0;
    for (int i = 0; i < 6; i++)
        if (cand[i] != NULL && cand[i][0] != '\0')
            files[n++] = cand[i];
    return n;
}

double
data_expected_loss(const struct data *d, int loss_kind_is_mse)
{
    if (loss_kind_is_mse)
        return 1.0 / d->classes;
    long total = 0;
    for (int k = 0; k < d->classes; k++)
        total += d->class_counts[k];
    double h = 0.0;
    for (int k = 0; k < d->classes; k++) {
        if (d->class_counts[k] > 0) {
            double p = (double)d->class_counts[k] / (double)total;
            h -= p * log(p);
        }
    }
    return h;
}
