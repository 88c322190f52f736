/*
 * conv-gemm-bench.c - GFLOPS of the conv layers' three products on every
 * path this CPU has (blas, avx2, avx512: include/nntop/gemm.h), on the
 * shapes of the CNN's second convolution (64 x 196 x 800: Y = W col,
 * dW += dY col^T, dcol = W^T dY) or on --m/--n/--k, timed in thread CPU
 * time (CLOCK_THREAD_CPUTIME_ID: the other work on a shared machine
 * disturbs it far less than wall time), paths alternating round by round.
 * Prints one line per path and product,
 *
 *     kernel=<name> product=<fwd|dw|dcol> m= n= k= gflops=<best> median=<median>
 *
 * A program, not a test: it asserts nothing.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/gemm.h"
#include "nntop/rng.h"
#include "nntop/xmem.h"

#define MAX_ROUNDS 64

static double
cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    int OC = 64, P = 196, K = 800, rounds = 7, reps = 64;
    static const struct option opts[] = {
        {"m", required_argument, NULL, 'm'}, {"n", required_argument, NULL, 'n'},
        {"k", required_argument, NULL, 'k'}, {"rounds", required_argument, NULL, 'r'},
        {"reps", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': OC = atoi(optarg); break;
        case 'n': P = atoi(optarg); break;
        case 'k': K = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'R': reps = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: conv-gemm-bench [--m OC] [--n P] [--k K] [--rounds R] "
                    "[--reps N]\n");
            return 2;
        }
    }
    if (OC < 1 || P < 1 || K < 1 || rounds < 1 || rounds > MAX_ROUNDS || reps < 1) {
        fprintf(stderr, "conv-gemm-bench: sizes and counts must be >= 1, rounds <= %d\n",
                MAX_ROUNDS);
        return 2;
    }
    struct rng r;
    rng_seed(&r, 1);
    size_t nw = (size_t)OC * K, ncol = (size_t)K * P, ny = (size_t)OC * P;
    float *w = xmalloc(nw * sizeof *w), *col = xmalloc(ncol * sizeof *col);
    float *y = xmalloc(ny * sizeof *y), *dw = xmalloc(nw * sizeof *dw);
    float *dcol = xmalloc(ncol * sizeof *dcol);
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < ncol; i++)
        col[i] = (float)rng_uniform(&r) - 0.5f;
    size_t nws = gemm_workspace(OC, P, K);
    if (gemm_workspace(OC, K, P) > nws)
        nws = gemm_workspace(OC, K, P);
    if (gemm_workspace(K, P, OC) > nws)
        nws = gemm_workspace(K, P, OC);
    float *ws = xmalloc(nws * sizeof *ws);

    enum gemm_kernel paths[GEMM_KERNEL_COUNT];
    int npaths = 0;
    for (int k = 0; k < GEMM_KERNEL_COUNT; k++)
        if (gemm_kernel_available((enum gemm_kernel)k))
            paths[npaths++] = (enum gemm_kernel)k;
    static double t[GEMM_KERNEL_COUNT][3][MAX_ROUNDS];
    double flops = 2.0 * OC * P * K * reps;
    for (int round = 0; round < rounds; round++) {
        for (int pi = 0; pi < npaths; pi++) {
            gemm_kernel_set(paths[pi]);
            for (int prod = 0; prod < 3; prod++) {
                double t0 = cpu_seconds();
                for (int i = 0; i < reps; i++) {
                    if (prod == 0)      /* Y (OC, P) = W (OC, K) . col (K, P) */
                        gemm_sgemm(ws, false, false, OC, P, K, 1.0f, w, col, 0.0f, y);
                    else if (prod == 1) /* dW (OC, K) += dY (OC, P) . col^T (P, K) */
                        gemm_sgemm(ws, false, true, OC, K, P, 1.0f, y, col, 1.0f, dw);
                    else                /* dcol (K, P) = W^T (K, OC) . dY (OC, P) */
                        gemm_sgemm(ws, true, false, K, P, OC, 1.0f, w, y, 0.0f, dcol);
                }
                t[pi][prod][round] = cpu_seconds() - t0;
            }
        }
    }
    static const char *const names[3] = {"fwd", "dw", "dcol"};
    for (int pi = 0; pi < npaths; pi++) {
        for (int prod = 0; prod < 3; prod++) {
            qsort(t[pi][prod], (size_t)rounds, sizeof t[pi][prod][0], cmp_double);
            int m = prod == 2 ? K : OC, n = prod == 1 ? K : P, k = prod == 0 ? K : prod == 1 ? P : OC;
            printf("kernel=%s product=%s m=%d n=%d k=%d gflops=%.1f median=%.1f\n",
                   gemm_kernel_name(paths[pi]), names[prod], m, n, k,
                   flops / t[pi][prod][0] * 1e-9, flops / t[pi][prod][rounds / 2] * 1e-9);
        }
    }
    free(w);
    free(col);
    free(y);
    free(dw);
    free(dcol);
    free(ws);
    return 0;
}
