/*
 * mlp-bench.c - training throughput of the engine on the MLP the speed goal
 * is stated for: 784-256-128-10 with ReLU, softmax cross-entropy and SGD
 * with momentum 0.9, on 10000 synthetic samples gathered per batch from a
 * shuffled order as a real trainer does.  --model cnn trains the CNN of
 * configs/fashion-cnn.yaml instead (1x28x28 -> conv 32 5x5 p2 -> relu ->
 * maxpool 2 -> conv 64 5x5 p2 -> relu -> maxpool 2 -> flatten -> dense 128
 * -> relu -> dense 10, without its dropout).  bench/torch_mlp.py runs the
 * same loop in PyTorch and prints the same line, so the two compare directly:
 *
 *     samples_per_s=<float> gflops=<float>
 *
 * gflops counts the useful products only: forward, dW, and dX of every
 * dense or conv layer but the first.  This is a program, not a test: it asserts nothing
 * about speed and never runs under make check.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/blas.h"
#include "nntop/gemm.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/rng.h"
#include "nntop/mono.h"
#include "nntop/xmem.h"

#define BENCH_SAMPLES 10000
#define BENCH_IN 784
#define BENCH_CLASSES 10
#define BENCH_WARMUP 5

static const int bench_widths[] = {BENCH_IN, 256, 128, BENCH_CLASSES};
#define BENCH_DENSE ((int)(sizeof bench_widths / sizeof bench_widths[0]) - 1)

/* Multiply-adds per sample of one training step of m, times two. */
static double
flops_per_sample(const struct model *m)
{
    double fwd = 0.0, dx = 0.0;
    bool first = true;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *L = &m->layers[i];
        double mac;
        if (L->kind == LAYER_DENSE)
            mac = (double)L->in * L->out;
        else if (L->kind == LAYER_CONV2D)
            mac = (double)L->out * L->c * L->k * L->k;   /* OC OH OW x C k k */
        else
            continue;
        fwd += mac;
        if (!first)
            dx += mac;   /* the input needs no gradient */
        first = false;
    }
    return 2.0 * (2.0 * fwd + dx);   /* forward + dW + dX */
}

/* The model of --model: the MLP, or the CNN of configs/fashion-cnn.yaml. */
static void
bench_spec(struct model_spec *spec, bool cnn)
{
    memset(spec, 0, sizeof *spec);
    spec->in = BENCH_IN;
    spec->loss = LOSS_CROSS_ENTROPY;
    spec->seed = 1;
    if (!cnn) {
        for (int l = 0; l < BENCH_DENSE; l++) {
            spec->layers[spec->nlayers++] =
                (struct layer_spec){.kind = LAYER_DENSE, .units = bench_widths[l + 1]};
            if (l + 1 < BENCH_DENSE)
                spec->layers[spec->nlayers++] = (struct layer_spec){.kind = LAYER_RELU};
        }
        return;
    }
    spec->in_c = 1;
    spec->in_h = spec->in_w = 28;
    static const struct layer_spec cnn_layers[] = {
        {.kind = LAYER_CONV2D, .units = 32, .kernel = 5, .stride = 1, .padding = 2},
        {.kind = LAYER_RELU},
        {.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2},
        {.kind = LAYER_CONV2D, .units = 64, .kernel = 5, .stride = 1, .padding = 2},
        {.kind = LAYER_RELU},
        {.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2},
        {.kind = LAYER_FLATTEN},
        {.kind = LAYER_DENSE, .units = 128},
        {.kind = LAYER_RELU},
        {.kind = LAYER_DENSE, .units = BENCH_CLASSES},
    };
    spec->nlayers = (int)(sizeof cnn_layers / sizeof cnn_layers[0]);
    memcpy(spec->layers, cnn_layers, sizeof cnn_layers);
}

static void
shuffle(int *order, int n, struct rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* The benchmark's data and its place in the epoch. */
struct feed {
    const float *data;
    const int32_t *labels;
    int *order;
    int pos;
    struct rng *shuffle_rng;
    float *bx;
    int32_t *by;
    float *save;        /* the parameters before the update, as the trainer keeps them */
};

/* Rows [lo, hi) of the next batch, as the trainer gathers them. */
static void
gather_rows(void *ctx, int lo, int hi)
{
    struct feed *f = ctx;
    for (int r = lo; r < hi; r++) {
        int i = f->order[f->pos + r];
        memcpy(f->bx + (size_t)r * BENCH_IN, f->data + (size_t)i * BENCH_IN,
               BENCH_IN * sizeof *f->bx);
        f->by[r] = f->labels[i];
    }
}

/* One training step as the trainer makes it: the next batch gathered, its
 * gradient and gradient norm (logged on every step), the parameters saved
 * (to undo an update that overflows) and the update. */
static double
bench_step(struct model_team *team, struct optim *o, double lr, struct feed *f, int batch)
{
    /* Next batch of the epoch; reshuffle when it runs out (drop last). */
    if (f->pos + batch > BENCH_SAMPLES) {
        shuffle(f->order, BENCH_SAMPLES, f->shuffle_rng);
        f->pos = 0;
    }
    model_team_for(team, batch, gather_rows, f);
    f->pos += batch;
    struct batch b = {.x = f->bx, .labels = f->by, .size = batch};
    struct team_sums sums = {.params = false};
    double loss = model_team_grad(team, &b, NULL, &sums);
    model_team_optim_step(team, o, lr, NULL, f->save);
    return loss;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * --pairs: rounds of `steps` steps on one thread, then on `threads` split
 * by rows, then by features, one right after the other in this process,
 * so that the machine's other load hits all three alike.  Prints the
 * median over rounds of each split's samples/s against the one-thread
 * round next to it.
 */
static void
bench_pairs(struct model *m, struct optim *o, double lr, struct feed *f, int batch, int steps,
            int threads, int pairs)
{
    struct model_team *one = model_team_new(m, 1);
    struct model_team *two = model_team_new(m, threads);
    static const enum team_split splits[2] = {TEAM_SPLIT_ROWS, TEAM_SPLIT_FEATURES};
    double *ratio[2], *sps1 = xcalloc((size_t)pairs, sizeof *sps1);
    for (int k = 0; k < 2; k++)
        ratio[k] = xcalloc((size_t)pairs, sizeof *ratio[k]);
    for (int s = 0; s < BENCH_WARMUP; s++) {
        bench_step(one, o, lr, f, batch);
        bench_step(two, o, lr, f, batch);
    }
    for (int p = 0; p < pairs; p++) {
        double t0 = mono_seconds();
        for (int s = 0; s < steps; s++)
            bench_step(one, o, lr, f, batch);
        double t1 = mono_seconds() - t0;
        sps1[p] = (double)steps * batch / t1;
        for (int k = 0; k < 2; k++) {
            model_team_set_split(two, splits[k]);
            t0 = mono_seconds();
            for (int s = 0; s < steps; s++)
                bench_step(two, o, lr, f, batch);
            ratio[k][p] = t1 / (mono_seconds() - t0);
        }
    }
    qsort(sps1, (size_t)pairs, sizeof *sps1, cmp_double);
    for (int k = 0; k < 2; k++)
        qsort(ratio[k], (size_t)pairs, sizeof *ratio[k], cmp_double);
    printf("batch=%d threads=%d pairs=%d one_thread_samples_per_s=%.1f rows_ratio=%.3f "
           "features_ratio=%.3f (quartiles rows %.3f-%.3f features %.3f-%.3f)\n", batch,
           threads, pairs, sps1[pairs / 2], ratio[0][pairs / 2], ratio[1][pairs / 2],
           ratio[0][pairs / 4], ratio[0][(3 * pairs) / 4], ratio[1][pairs / 4],
           ratio[1][(3 * pairs) / 4]);
    for (int k = 0; k < 2; k++)
        free(ratio[k]);
    free(sps1);
    model_team_free(two);
    model_team_free(one);
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mlp-bench [--model mlp|cnn] [--threads N] [--batch B] [--steps S]\n"
                "                 [--blas-threads] [--split auto|rows|features] [--pairs P]\n"
                "  --blas-threads  N threads inside OpenBLAS instead of the batch split\n"
                "  --split         how the team splits a batch (default auto)\n"
                "  --pairs P       P rounds of S steps: 1 thread, then N by rows, then N by\n"
                "                  features; print the median ratios\n");
}

static int
parse_int(const char *opt, const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 1 << 20) {
        fprintf(stderr, "mlp-bench: %s needs a positive integer, got \"%s\"\n", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int
main(int argc, char **argv)
{
    /* As nntop does: a silent fallback core is corrected by one re-exec
     * (NNTOP_BLAS_CORE=keep measures without the correction). */
    blas_core_start(argv);
    /* As nntop does: NNTOP_CONV_KERNEL forces the conv products' path. */
    char kernel_err[160];
    if (gemm_kernel_from_env(kernel_err, sizeof kernel_err) != 0) {
        fprintf(stderr, "mlp-bench: %s\n", kernel_err);
        return 2;
    }
    if (blas_core_note()[0] != '\0')
        fprintf(stderr, "mlp-bench: %s\n", blas_core_note());
    int threads = 1, batch = 128, steps = 300;
    bool cnn = false;
    bool blas_threads = false;
    enum team_split split = TEAM_SPLIT_AUTO;
    int pairs = 0;
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},
        {"steps", required_argument, NULL, 's'},
        {"blas-threads", no_argument, NULL, 'B'},
        {"split", required_argument, NULL, 'S'},
        {"pairs", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:t:b:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (strcmp(optarg, "mlp") != 0 && strcmp(optarg, "cnn") != 0) {
                fprintf(stderr, "mlp-bench: --model is mlp or cnn, got \"%s\"\n", optarg);
                return 2;
            }
            cnn = strcmp(optarg, "cnn") == 0;
            break;
        case 't':
            if (parse_int("--threads", optarg, &threads) < 0)
                return 2;
            break;
        case 'b':
            if (parse_int("--batch", optarg, &batch) < 0)
                return 2;
            break;
        case 's':
            if (parse_int("--steps", optarg, &steps) < 0)
                return 2;
            break;
        case 'B':
            blas_threads = true;
            break;
        case 'p':
            if (parse_int("--pairs", optarg, &pairs) < 0)
                return 2;
            break;
        case 'S':
            if (strcmp(optarg, "auto") == 0)
                split = TEAM_SPLIT_AUTO;
            else if (strcmp(optarg, "rows") == 0)
                split = TEAM_SPLIT_ROWS;
            else if (strcmp(optarg, "features") == 0)
                split = TEAM_SPLIT_FEATURES;
            else {
                fprintf(stderr, "mlp-bench: --split is auto, rows or features, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || batch > BENCH_SAMPLES) {
        usage(stderr);
        return 2;
    }


    /* Data: uniform [0, 1) features like scaled pixels, uniform labels. */
    struct rng data_rng, shuffle_rng;
    rng_seed_for(&data_rng, 1, RNG_DATA);
    rng_seed_for(&shuffle_rng, 1, RNG_SHUFFLE);
    float *data = xalloc_aligned((size_t)BENCH_SAMPLES * BENCH_IN * sizeof *data);
    int32_t *labels = xmalloc(BENCH_SAMPLES * sizeof *labels);
    for (size_t i = 0; i < (size_t)BENCH_SAMPLES * BENCH_IN; i++)
        data[i] = (float)rng_uniform(&data_rng);
    for (int i = 0; i < BENCH_SAMPLES; i++)
        labels[i] = (int32_t)rng_below(&data_rng, BENCH_CLASSES);
    int *order = xmalloc(BENCH_SAMPLES * sizeof *order);
    for (int i = 0; i < BENCH_SAMPLES; i++)
        order[i] = i;
    shuffle(order, BENCH_SAMPLES, &shuffle_rng);

    struct model_spec spec;
    bench_spec(&spec, cnn);
    char *cause = NULL;
    struct model *m = model_new(&spec, batch, &cause);
    if (m == NULL) {
        fprintf(stderr, "mlp-bench: %s\n", cause);
        free(cause);
        return 1;
    }
    /* The trainer's schedule: the batch split across threads (a team of
     * 1 when --blas-threads leaves the threads to OpenBLAS). */
    struct model_team *team = model_team_new(m, blas_threads ? 1 : threads);
    if (blas_threads)
        blas_set_threads(threads);
    model_team_set_split(team, split);
    static const char *const split_names[] = {"none", "rows", "features"};
    fprintf(stderr, "mlp-bench: %s, %s, %d thread(s): %d part(s) by %s x %d OpenBLAS, "
                    "batch %d, %d steps\n", cnn ? "cnn" : "mlp", blas_config(), threads,
            model_team_size(team), split_names[model_team_split_for(team, batch)],
            blas_get_threads(), batch, steps);
    struct optim_spec os = {.kind = OPTIM_SGD, .lr = 0.01, .momentum = 0.9};
    struct optim *o = optim_new(&os, m->nparams);

    float *bx = xalloc_aligned((size_t)batch * BENCH_IN * sizeof *bx);   /* (B, IN) */
    int32_t *by = xmalloc((size_t)batch * sizeof *by);
    float *save = xalloc_aligned(m->nparams * sizeof *save);
    struct feed f = {.data = data, .labels = labels, .order = order,
                     .shuffle_rng = &shuffle_rng, .bx = bx, .by = by, .save = save};
    if (pairs > 0) {
        model_team_free(team);     /* the rounds make teams of their own */
        team = NULL;
        bench_pairs(m, o, os.lr, &f, batch, steps, threads, pairs);
        goto out;
    }
    /* Besides the mean over all timed steps, keep the fastest window of
     * `window` steps: on a shared machine it is the better estimate of
     * what the code can do (stderr only). */
    int window = steps >= 20 ? steps / 20 : 1;
    double start = 0.0, cpu_start = 0.0, win_start = 0.0, best_win = 0.0, loss = 0.0;
    for (int s = 0; s < BENCH_WARMUP + steps; s++) {
        if (s == BENCH_WARMUP) {
            start = win_start = mono_seconds();
            cpu_start = mono_cpu_seconds();
        }
        loss = bench_step(team, o, os.lr, &f, batch);
        int done = s + 1 - BENCH_WARMUP;
        if (done > 0 && done % window == 0) {
            double t = mono_seconds();
            if (best_win == 0.0 || t - win_start < best_win)
                best_win = t - win_start;
            win_start = t;
        }
    }
    double elapsed = mono_seconds() - start;
    double cpu = mono_cpu_seconds() - cpu_start;
    double sps = (double)steps * batch / elapsed;
    /* CPU time says how much work a step is (with one thread; OpenBLAS's
     * idle threads spin, inflating it with more). */
    fprintf(stderr, "mlp-bench: %.3f s (cpu %.3f s), best_samples_per_s=%.1f, last loss %.4f\n",
            elapsed, cpu, (double)window * batch / best_win, loss);
    printf("samples_per_s=%.1f gflops=%.2f\n", sps, sps * flops_per_sample(m) * 1e-9);

out:
    free(save);
    free(bx);
    free(by);
    free(order);
    free(labels);
    free(data);
    optim_free(o);
    model_team_free(team);
    model_free(m);
    return 0;
}
