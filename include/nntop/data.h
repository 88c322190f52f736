/*
 * data.h - data sets (synthetic spiral, xor, blobs; IDX incl. .gz; CSV;
 * NumPy .npy),
 * normalisation from training statistics, seeded splits and batching.
 *
 * Byte data (IDX images) stays as bytes and is converted per batch.
 * Splits are index lists into one store, so nothing is copied.  This
 * module knows nothing of models or screens; bad files are reported with
 * a message naming the file (and line:col for CSV), never exit().
 */
#ifndef NNTOP_DATA_H
#define NNTOP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nntop/rng.h"

#define DATA_PATH_MAX 4096
/* data.max_bytes when the spec leaves it 0: 4 GiB. */
#define DATA_MAX_BYTES_DEFAULT ((uint64_t)4 << 30)

enum data_source {
    DATA_SPIRAL,    /* classes arms, points per class, noise */
    DATA_XOR,       /* points, noise; 2 classes */
    DATA_BLOBS,     /* classes, points (total), features, spread */
    DATA_IDX,       /* train_images, train_labels, optional test_* (.gz ok) */
    DATA_CSV,       /* path, optional test_path, label column, header */
    DATA_NPY,       /* NumPy .npy: train_images, train_labels, optional test_* */
    DATA_SOURCE_COUNT
};

enum normalize_kind {
    NORM_NONE,
    NORM_STANDARDIZE,   /* per feature (x - mean) / std, train split stats */
    NORM_MINMAX,        /* per feature to [0, 1], train split min/max */
    NORM_UNIT,          /* x / 255 (byte data) */
    NORM_KIND_COUNT
};

enum csv_header { CSV_HEADER_AUTO, CSV_HEADER_YES, CSV_HEADER_NO };

struct data_spec {
    enum data_source source;
    int classes;            /* spiral, blobs */
    long points;            /* spiral: per class; xor, blobs: total */
    int features;           /* blobs */
    double noise;           /* spiral, xor */
    double spread;          /* blobs */
    char train_images[DATA_PATH_MAX], train_labels[DATA_PATH_MAX];
    char test_images[DATA_PATH_MAX], test_labels[DATA_PATH_MAX];   /* "" = none */
    /* npy: the .npz members ("KEY.npy") of the inputs and the labels; "" =
     * x, images, arr_0 and y, labels, arr_1.  A labels path of "" after a
     * .npz inputs path: the labels are in that archive. */
    char inputs_key[64], labels_key[64];
    char path[DATA_PATH_MAX], test_path[DATA_PATH_MAX];            /* csv */
    char label_name[256];   /* csv: label column by name, or "" */
    int label_index;        /* csv: 0-based column, -1 = last (when no name) */
    enum csv_header header;
    int shape[3];           /* csv, npy: [C, H, W] of each row, or 0s (npy: the array's) */
    enum normalize_kind normalize;
    double val_fraction;    /* [0, 1) */
    long subset;            /* 0 = all */
    bool shuffle;
    uint64_t max_bytes;     /* memory the files' data may take once read; 0 = the default */
};

/* One store of samples: bytes or floats, plus integer labels. */
struct dataset {
    long n;                 /* samples */
    int d;                  /* features */
    int shape[3];           /* [C, H, W] of a row of images (IDX), else 0s */
    uint8_t *bytes;         /* (n, d) raw bytes, or NULL */
    float *floats;          /* (n, d) raw floats, or NULL */
    int32_t *labels;        /* (n) in [0, classes) */
};

/* A split: rows of a store, by index. */
struct split {
    const struct dataset *src;
    long n;
    long *idx;              /* (n) rows of src */
};

struct data {
    struct dataset train_store, test_store;
    struct split train, val, test;      /* test.n == 0 when there is none */
    int d, classes;
    int shape[3];           /* [C, H, W] with C H W = d for images, else 0s */
    float *scale, *shift;   /* (d) x' = x * scale + shift, from train only */
    long *class_counts;     /* (classes) of the train split */
};

/*
 * Load (or generate, from seed) the data spec describes, split and
 * normalise it.  On failure returns -1 and sets *cause to a heap message
 * "FILE[:LINE:COL]: problem" the caller frees.
 *
 * Validation takes round(val_fraction * n) rows (at most n - 1) of a
 * RNG_SPLIT shuffle; train and val list their rows in file order.  The
 * subset is the first N training rows in that shuffled order, so class-
 * ordered data (the spiral) keeps every class; the normalisation comes
 * from the whole training split, before the subset.  The splits point
 * into *out: do not copy or move a loaded struct data.
 */
int data_load(struct data *out, const struct data_spec *spec, uint64_t seed, char **cause);
/* Free everything data_load allocated. */
void data_fini(struct data *d);
/* The files data_load reads for spec (borrowed from spec) into files[0..6);
 * returns how many (0 for the generated sources). */
int data_spec_files(const struct data_spec *spec, const char *files[6]);

/*
 * Gather rows idx[0..B) of split s into x (B, d) as normalised floats and
 * y (B) labels.  idx holds positions within the split (0..s->n).
 */
void data_gather(const struct data *d, const struct split *s, const long *pos, int B,
                 float *x, int32_t *y);

/* Seeded per-epoch order over one split. */
struct batcher {
    const struct split *s;
    long *order;            /* (s->n) positions into the split */
    long pos;               /* next position in order */
    long epoch;             /* completed epochs */
    bool shuffle;
    struct rng rng;
};

/* Start a batcher over s; shuffles the first epoch when shuffle is set. */
void batcher_init(struct batcher *b, const struct split *s, bool shuffle, uint64_t run_seed);
void batcher_fini(struct batcher *b);
/*
 * Next batch of up to B rows (fewer at an epoch's end; never 0 unless the
 * split is empty) gathered into x and y.  Returns the rows gathered.  The
 * epoch counter moves, and the order reshuffles, as its last batch goes out.
 */
int batcher_next(struct batcher *b, const struct data *d, int B, float *x, int32_t *y);
/*
 * batcher_next() with the rows gathered by par(par_ctx, k, fn, ctx), which
 * must call fn(ctx, lo, hi) over ranges that cover [0, k) once each, in
 * parallel or not (model_team_for() has this shape): the same batch.
 */
typedef void (*batch_rows_fn)(void *ctx, int lo, int hi);
typedef void (*batch_par_fn)(void *par_ctx, int k, batch_rows_fn fn, void *ctx);
int batcher_next_par(struct batcher *b, const struct data *d, int B, float *x, int32_t *y,
                     batch_par_fn par, void *par_ctx);

/*
 * Put a freshly initialised batcher where it would be after steps batches
 * of B rows (epochs reshuffled in the same order), without gathering:
 * resuming a run continues its exact batch sequence.
 */
void batcher_seek(struct batcher *b, long steps, int B);

/*
 * Expected initial loss: for cross-entropy the entropy of the class prior
 * (ln C when balanced); for MSE with one-hot targets and outputs near 0,
 * the mean squared target, 1/C.
 */
double data_expected_loss(const struct data *d, int loss_kind_is_mse);

/* Keyword names ("spiral", "standardize", ...). */
const char *data_source_name(enum data_source s);
const char *normalize_name(enum normalize_kind k);

#endif
