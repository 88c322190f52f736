/*
 * gemm-ceiling.c - the GEMM-only ceiling of a training step: the sgemm
 * calls one step of bench/mlp-bench's 784-256-128-10 MLP makes (forward,
 * dW of every dense layer, dX of all but the first), with the same shapes
 * and the same schedule (a batch split across --threads threads, each
 * multiplying its rows with single-threaded OpenBLAS, or --blas-threads
 * for N threads inside OpenBLAS), and nothing else: no activation, loss,
 * gather or optimizer.  It prints what mlp-bench prints,
 *
 *     samples_per_s=<float> gflops=<float>
 *
 * so mlp-bench's figure divided by this one is the fraction of the
 * ceiling the engine reaches.  A program, not a test: it asserts nothing.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/blas.h"
#include "nntop/pool.h"
#include "nntop/rng.h"
#include "nntop/mono.h"
#include "nntop/xmem.h"

static const int widths[] = {784, 256, 128, 10};
#define NDENSE ((int)(sizeof widths / sizeof widths[0]) - 1)
#define WARMUP 5
#define MAX_THREADS 16

/* One thread's rows: activations (and their gradients) per layer boundary. */
struct part {
    int rows;
    float *act[NDENSE + 1];     /* (rows, widths[l]) */
    float *grad[NDENSE + 1];    /* (rows, widths[l]) */
    float *dw[NDENSE];          /* (widths[l+1], widths[l]) */
};

struct job {
    struct part parts[MAX_THREADS];
    float *w[NDENSE];           /* (widths[l+1], widths[l]) */
};

static void
part_step(void *arg, int i)
{
    struct job *j = arg;
    struct part *p = &j->parts[i];
    int B = p->rows;
    for (int l = 0; l < NDENSE; l++)    /* Y = X . W^T */
        blas_sgemm(false, true, B, widths[l + 1], widths[l], 1.0f, p->act[l], j->w[l], 0.0f,
                   p->act[l + 1]);
    for (int l = NDENSE - 1; l >= 0; l--) {
        /* dW = dY^T . X */
        blas_sgemm(true, false, widths[l + 1], widths[l], B, 1.0f, p->grad[l + 1], p->act[l],
                   0.0f, p->dw[l]);
        if (l > 0)  /* dX = dY . W */
            blas_sgemm(false, false, B, widths[l], widths[l + 1], 1.0f, p->grad[l + 1], j->w[l],
                       0.0f, p->grad[l]);
    }
}

static float *
filled(size_t n, struct rng *r)
{
    float *v = xalloc_aligned(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(rng_uniform(r) - 0.5);
    return v;
}

static int
parse_int(const char *opt, const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 1 << 20) {
        fprintf(stderr, "gemm-ceiling: %s needs a positive integer, got \"%s\"\n", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int
main(int argc, char **argv)
{
    int threads = 1, batch = 128, steps = 300;
    bool blas_threads = false;
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},
        {"steps", required_argument, NULL, 's'},
        {"blas-threads", no_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:b:s:", longopts, NULL)) != -1) {
        if ((c == 't' && parse_int("--threads", optarg, &threads) < 0)
            || (c == 'b' && parse_int("--batch", optarg, &batch) < 0)
            || (c == 's' && parse_int("--steps", optarg, &steps) < 0))
            return 2;
        if (c == 'B')
            blas_threads = true;
        else if (c != 't' && c != 'b' && c != 's') {
            fprintf(stderr, "usage: gemm-ceiling [--threads N] [--batch B] [--steps S] "
                            "[--blas-threads]\n");
            return 2;
        }
    }
    if (optind != argc || threads > MAX_THREADS) {
        fprintf(stderr, "gemm-ceiling: at most %d threads, no operands\n", MAX_THREADS);
        return 2;
    }
    int parts = blas_threads || batch < threads ? 1 : threads;
    blas_set_threads(parts > 1 ? 1 : threads);
    struct pool *pool = pool_new(parts);
    struct job *j = xcalloc(1, sizeof *j);
    struct rng r;
    rng_seed(&r, 1);
    for (int l = 0; l < NDENSE; l++)
        j->w[l] = filled((size_t)widths[l + 1] * widths[l], &r);
    for (int k = 0; k < parts; k++) {
        struct part *p = &j->parts[k];
        p->rows = batch / parts + (k < batch % parts);
        for (int l = 0; l <= NDENSE; l++) {
            p->act[l] = filled((size_t)p->rows * widths[l], &r);
            p->grad[l] = filled((size_t)p->rows * widths[l], &r);
        }
        for (int l = 0; l < NDENSE; l++)
            p->dw[l] = filled((size_t)widths[l + 1] * widths[l], &r);
    }
    fprintf(stderr, "gemm-ceiling: %s, %d thread(s): %d part(s) x %d OpenBLAS, batch %d, "
                    "%d steps\n", blas_config(), threads, parts, blas_get_threads(), batch, steps);
    double start = 0.0;
    for (int s = 0; s < WARMUP + steps; s++) {
        if (s == WARMUP)
            start = mono_seconds();
        pool_run(pool, part_step, j);
    }
    double sps = (double)steps * batch / (mono_seconds() - start);
    double fwd = 0.0, dx = 0.0;
    for (int l = 0; l < NDENSE; l++) {
        fwd += (double)widths[l] * widths[l + 1];
        if (l > 0)
            dx += (double)widths[l] * widths[l + 1];
    }
    printf("samples_per_s=%.1f gflops=%.2f\n", sps, sps * 2.0 * (2.0 * fwd + dx) * 1e-9);
    for (int k = 0; k < parts; k++) {
        for (int l = 0; l <= NDENSE; l++) {
            free(j->parts[k].act[l]);
            free(j->parts[k].grad[l]);
        }
        for (int l = 0; l < NDENSE; l++)
            free(j->parts[k].dw[l]);
    }
    for (int l = 0; l < NDENSE; l++)
        free(j->w[l]);
    free(j);
    pool_free(pool);
    return 0;
}
