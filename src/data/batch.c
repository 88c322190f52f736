/*
 * batch.c - the hot path between the data and the trainer: gather rows
 * of a split into a float batch with the normalisation applied, and the
 * seeded per-epoch order the trainer draws batches from.  Bytes become
 * floats here, one batch at a time, so a 47 MB byte store never exists
 * as 188 MB of floats.  It allocates nothing per batch.
 */
#include "config.h"

#include "nntop/data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/rng.h"
#include "nntop/xmem.h"

/*
 * Rows are prefetched this many rows ahead of the one being converted.
 * Random rows of a large store miss cache and TLB; fetching them while
 * the current row converts halves the gather's cost (Fashion-MNIST, B =
 * 128: 380 -> 210 ns a row).  Further ahead is worse: 8 rows of 13 lines
 * each overrun the outstanding-miss slots and the prefetches get dropped.
 */
#define GATHER_AHEAD 2
#define CACHE_LINE 64
/*
 * Rows convert in blocks of a fixed 16 elements: a loop of known trip
 * count is one GCC vectorises even at -O2 (its "very cheap" cost model
 * refuses loops that need a scalar epilogue), so the default build gets
 * packed conversions rather than one cvtsi2ss per pixel.
 */
#define GATHER_BLOCK 16

/* Ask for every cache line of [p, p + bytes) to be loaded for reading. */
static inline void
gather_prefetch(const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHE_LINE - 1);
    uintptr_t end = (uintptr_t)p + bytes;
    for (; a < end; a += CACHE_LINE)
        __builtin_prefetch((const void *)a, 0, 3);
}

/* x = src * scale + shift in one pass over the row. */
static inline void
gather_bytes_row(float *restrict x, const uint8_t *restrict src,
                 const float *restrict scale, const float *restrict shift, int d)
{
    int j = 0;
    for (; j + GATHER_BLOCK <= d; j += GATHER_BLOCK)
        for (int k = 0; k < GATHER_BLOCK; k++)
            x[j + k] = (float)src[j + k] * scale[j + k] + shift[j + k];
    for (; j < d; j++)
        x[j] = (float)src[j] * scale[j] + shift[j];
}

static inline void
gather_floats_row(float *restrict x, const float *restrict src,
                  const float *restrict scale, const float *restrict shift, int d)
{
    int j = 0;
    for (; j + GATHER_BLOCK <= d; j += GATHER_BLOCK)
        for (int k = 0; k < GATHER_BLOCK; k++)
            x[j + k] = src[j + k] * scale[j + k] + shift[j + k];
    for (; j < d; j++)
        x[j] = src[j] * scale[j] + shift[j];
}

void
data_gather(const struct data *d, const struct split *s, const long *pos, int B, float *x,
            int32_t *y)
{
    const struct dataset *ds = s->src;
    const long *idx = s->idx;
    int dim = d->d;
    size_t row_bytes = (size_t)dim * (ds->bytes != NULL ? 1 : sizeof(float));
    const char *base = ds->bytes != NULL ? (const char *)ds->bytes : (const char *)ds->floats;

    for (int b = 0; b < B && b < GATHER_AHEAD; b++)
        gather_prefetch(base + (size_t)idx[pos[b]] * row_bytes, row_bytes);
    for (int b = 0; b < B; b++) {
        if (b + GATHER_AHEAD < B)
            gather_prefetch(base + (size_t)idx[pos[b + GATHER_AHEAD]] * row_bytes, row_bytes);
        long row = idx[pos[b]];
        float *xb = x + (size_t)b * (size_t)dim;    /* (dim) */
        if (ds->bytes != NULL)
            gather_bytes_row(xb, ds->bytes + (size_t)row * (size_t)dim, d->scale, d->shift, dim);
        else
            gather_floats_row(xb, ds->floats + (size_t)row * (size_t)dim, d->scale, d->shift,
                              dim);
        y[b] = ds->labels[row];
    }
}

static void
batcher_shuffle(struct batcher *b)
{
    for (long i = b->s->n - 1; i > 0; i--) {
        long j = (long)rng_below(&b->rng, (uint64_t)i + 1);
        long t = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = t;
    }
}

void
batcher_init(struct batcher *b, const struct split *s, bool shuffle, uint64_t run_seed)
{
    memset(b, 0, sizeof *b);
    b->s = s;
    b->shuffle = shuffle;
    rng_seed_for(&b->rng, run_seed, RNG_SHUFFLE);
    if (s->n > 0) {
        b->order = xmalloc((size_t)s->n * sizeof *b->order);
        for (long i = 0; i < s->n; i++)
            b->order[i] = i;
    }
    if (shuffle)
        batcher_shuffle(b);
}

void
batcher_fini(struct batcher *b)
{
    free(b->order);
    memset(b, 0, sizeof *b);
}

/* What gather_range() copies from and to. */
struct gather_job {
    const struct data *d;
    const struct split *s;
    const long *pos;
    float *x;
    int32_t *y;
};

/* Rows [lo, hi) of a gather_job's batch. */
static void
gather_range(void *ctx, int lo, int hi)
{
    const struct gather_job *j = ctx;
    data_gather(j->d, j->s, j->pos + lo, hi - lo, j->x + (size_t)lo * (size_t)j->d->d,
                j->y + lo);
}

int
batcher_next(struct batcher *b, const struct data *d, int B, float *x, int32_t *y)
{
    return batcher_next_par(b, d, B, x, y, NULL, NULL);
}

int
batcher_next_par(struct batcher *b, const struct data *d, int B, float *x, int32_t *y,
                 batch_par_fn par, void *par_ctx)
{
    long n = b->s->n;
    if (n <= 0 || B <= 0)
        return 0;
    long left = n - b->pos;
    int k = left < B ? (int)left : B;
    struct gather_job job = {.d = d, .s = b->s, .pos = b->order + b->pos, .x = x, .y = y};
    if (par != NULL)
        par(par_ctx, k, gather_range, &job);
    else
        gather_range(&job, 0, k);
    b->pos += k;
    /* The epoch ends with its (possibly partial) last batch: count it and reorder now. */
    if (b->pos == n) {
        b->pos = 0;
        b->epoch++;
        if (b->shuffle)
            batcher_shuffle(b);
    }
    return k;
}

void
batcher_seek(struct batcher *b, long steps, int B)
{
    long n = b->s->n;
    if (n <= 0 || B <= 0 || steps <= 0)
        return;
    /* Every epoch is ceil(n / B) batches, the last one partial. */
    long per_epoch = (n + B - 1) / B;
    long epochs = steps / per_epoch;
    for (long e = 0; e < epochs; e++) {
        b->epoch++;
        if (b->shuffle)
            batcher_shuffle(b);
    }
    b->pos = (steps % per_epoch) * (long)B;
}
