/*
 * check_gemm.c - the conv layers' products (include/nntop/gemm.h) on
 * every path this CPU has, against OpenBLAS (blas_sgemm) and against a
 * double-precision triple loop: random shapes with every M, N, K edge of
 * the blocks (1, odd sizes, not multiples of MR, NR, KC, MC or NC), all
 * four transpose forms, beta 0 (C not read: NaNs in it vanish) and 1,
 * alpha not 1; and NNTOP_CONV_KERNEL's parsing.
 *
 * The error bound is the classical one for a float32 dot product in any
 * summation order, FMA or not: |c - c_exact| <= gamma_n (|alpha| |A| |B|
 * + |beta| |C|)_ij with gamma_n = n u / (1 - n u), u = 2^-24, and n = K + 2
 * (K products and sums, then alpha and beta).  Both paths must meet it
 * against the exact (double) product, and so lie within twice it of each
 * other.  Not here: the conv layers themselves (check_conv, check_gradcheck
 * run on each path by tests/conv-kernel.sh).  CK_FORK=no for gdb.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/blas.h"
#include "nntop/gemm.h"
#include "nntop/rng.h"

/* Products a shape test runs: (M, N, K), chosen around the blocks. */
static const int shapes[][3] = {
    {1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 3, 1}, {7, 17, 5}, {8, 32, 16}, {8, 48, 16},
    {9, 33, 17}, {6, 16, 256}, {13, 49, 257}, {97, 15, 300}, {95, 961, 3},
    {100, 1000, 5}, {33, 1, 513}, {1, 2000, 2}, {200, 50, 20},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void
fill(float *v, size_t n, struct rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

/*
 * ref (M, N) = alpha op(A) op(B) + beta C0 in double, bound (M, N) =
 * gamma_{K+2} (|alpha| |op(A)| |op(B)| + |beta| |C0|).
 */
static void
exact(double *ref, double *bound, bool ta, bool tb, int m, int n, int k, float alpha,
      const float *a, const float *b, float beta, const float *c0)
{
    double u = ldexp(1.0, -24), nu = (k + 2) * u, gamma = nu / (1.0 - nu);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0, sa = 0.0;
            for (int p = 0; p < k; p++) {
                double x = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
                double y = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                s += x * y;
                sa += fabs(x * y);
            }
            double cv = beta == 0.0f ? 0.0 : (double)c0[(size_t)i * n + j];
            ref[(size_t)i * n + j] = alpha * s + beta * cv;
            bound[(size_t)i * n + j] = gamma * (fabs(alpha) * sa + fabs(beta) * fabs(cv));
        }
    }
}

/* Run one product on path; check it against the exact result and OpenBLAS's. */
static void
check_product(enum gemm_kernel path, bool ta, bool tb, int m, int n, int k, float alpha,
              float beta, struct rng *r)
{
    size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c0 = malloc(nc * sizeof *c0), *c = malloc(nc * sizeof *c);
    float *cb = malloc(nc * sizeof *cb);
    double *ref = malloc(nc * sizeof *ref), *bound = malloc(nc * sizeof *bound);
    size_t nws = gemm_workspace(m, n, k);
    /* One float past the workspace is a canary: the path must stay inside. */
    float *ws = malloc((nws + 1) * sizeof *ws);
    ws[nws] = 12345.0f;
    fill(a, na, r);
    fill(b, nb, r);
    fill(c0, nc, r);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i += 3)
            c0[i] = NAN;        /* beta 0 must not read C */
    exact(ref, bound, ta, tb, m, n, k, alpha, a, b, beta, c0);
    memcpy(c, c0, nc * sizeof *c);
    memcpy(cb, c0, nc * sizeof *cb);
    gemm_kernel_set(path);
    gemm_sgemm(ws, ta, tb, m, n, k, alpha, a, b, beta, c);
    blas_sgemm(ta, tb, m, n, k, alpha, a, b, beta, cb);
    ck_assert_msg(ws[nws] == 12345.0f, "%s: wrote past its workspace of %zu floats",
                  gemm_kernel_name(path), nws);
    /* The first element out of bounds, asserted once: Check records every
     * passing assertion through a pipe, which per element cost most of
     * this suite's time (about two minutes under ASan). */
    size_t i = 0;
    while (i < nc && fabs(c[i] - ref[i]) <= bound[i] + 1e-30 &&
           fabs(c[i] - cb[i]) <= 2.0 * bound[i] + 1e-30)
        i++;
    if (i < nc)
        ck_abort_msg("%s %c%c %dx%dx%d alpha %g beta %g: C[%zu] %.9g, exact %.9g, "
                     "OpenBLAS %.9g, bound %.3g", gemm_kernel_name(path), ta ? 'T' : 'N',
                     tb ? 'T' : 'N', m, n, k, (double)alpha, (double)beta, i, (double)c[i],
                     ref[i], (double)cb[i], bound[i]);
    free(a);
    free(b);
    free(c0);
    free(c);
    free(cb);
    free(ref);
    free(bound);
    free(ws);
}

static bool
have(enum gemm_kernel path)
{
    if (gemm_kernel_available(path))
        return true;
    /* Not a skip: a CPU without the unit has nothing to test on this path. */
    printf("gemm: %s: not on this CPU, not run\n", gemm_kernel_name(path));
    return false;
}

/* _i is the path; every shape in all four transpose forms, beta 0 and 1. */
START_TEST(test_gemm__shapes)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    struct rng r;
    rng_seed(&r, 15u + (unsigned)_i);
    for (int s = 0; s < NSHAPES; s++)
        for (int form = 0; form < 4; form++)
            for (int bt = 0; bt < 2; bt++)
                check_product(path, form & 1, form & 2, shapes[s][0], shapes[s][1],
                              shapes[s][2], bt == 0 ? 1.0f : -0.75f, bt == 0 ? 0.0f : 1.0f,
                              &r);
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/* _i is the path; the CNN's conv 2 products as conv.c calls them. */
START_TEST(test_gemm__conv_shapes)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    struct rng r;
    rng_seed(&r, 150u + (unsigned)_i);
    check_product(path, false, false, 64, 196, 800, 1.0f, 0.0f, &r);   /* Y = W col */
    check_product(path, false, false, 64, 196, 800, 1.0f, 1.0f, &r);   /* Y = b + W col */
    check_product(path, false, true, 64, 800, 196, 1.0f, 1.0f, &r);    /* dW += dY col^T */
    check_product(path, true, false, 800, 196, 64, 1.0f, 0.0f, &r);    /* dcol = W^T dY */
    /* conv 1 (1 -> 32, 5x5 on 28x28): K 25, P 784 */
    check_product(path, false, false, 32, 784, 25, 1.0f, 0.0f, &r);
    check_product(path, false, true, 32, 25, 784, 1.0f, 1.0f, &r);
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/* t (cols, rows) = the transpose of v (rows, cols). */
static void
transpose_copy(float *t, const float *v, int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            t[(size_t)j * rows + i] = v[(size_t)i * cols + j];
}

/*
 * _i is the path; the four transpose forms of one product, each operand
 * given as it is or as its transposed copy, make the same panels (on
 * AVX-512: b^T and a by 16 x 16 register transposes, b read in place by
 * the kernel, a^T copied one by one; with the edges: K and N not
 * multiples of 16 or of NR, K past KC, M not a multiple of 16 or MR), so
 * the four products are equal to the bit.
 */
START_TEST(test_gemm__same_panels)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path) || path == GEMM_BLAS)
        return;
    static const int tshapes[][3] = {
        {32, 25, 784}, {64, 800, 196}, {64, 196, 800}, {9, 33, 17}, {8, 16, 16}, {5, 49, 257},
        {3, 97, 300}, {17, 15, 31}, {1, 1, 1}, {8, 1000, 40}, {24, 7, 16}, {40, 64, 33},
    };
    struct rng r;
    rng_seed(&r, 170u + (unsigned)_i);
    gemm_kernel_set(path);
    for (size_t t = 0; t < sizeof tshapes / sizeof tshapes[0]; t++) {
        int m = tshapes[t][0], n = tshapes[t][1], k = tshapes[t][2];
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
        float *a = malloc(na * sizeof *a), *at = malloc(na * sizeof *at);
        float *b = malloc(nb * sizeof *b), *bt = malloc(nb * sizeof *bt);
        float *c0 = malloc(nc * sizeof *c0), *c = malloc(nc * sizeof *c);
        float *ws = malloc(gemm_workspace(m, n, k) * sizeof *ws);
        fill(a, na, &r);                        /* a (M, K) */
        fill(b, nb, &r);                        /* b (K, N) */
        transpose_copy(at, a, m, k);
        transpose_copy(bt, b, k, n);
        gemm_sgemm(ws, false, false, m, n, k, 0.5f, a, b, 0.0f, c0);
        for (int form = 1; form < 4; form++) {
            bool ta = form & 1, tb = form & 2;
            gemm_sgemm(ws, ta, tb, m, n, k, 0.5f, ta ? at : a, tb ? bt : b, 0.0f, c);
            ck_assert_msg(memcmp(c, c0, nc * sizeof *c) == 0,
                          "%s %c%c %dx%dx%d: not the bits of NN", gemm_kernel_name(path),
                          ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
        }
        free(a);
        free(at);
        free(b);
        free(bt);
        free(c0);
        free(c);
        free(ws);
    }
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/* _i is the path; 40 random shapes up to 130 x 1100 x 600, 1M multiply-adds. */
START_TEST(test_gemm__random_shapes)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    struct rng r;
    rng_seed(&r, 1500u + (unsigned)_i);
    for (int t = 0; t < 40; t++) {
        int m = 1 + (int)(rng_uniform(&r) * 130), n = 1 + (int)(rng_uniform(&r) * 1100);
        int k = 1 + (int)(rng_uniform(&r) * 600);
        if ((size_t)m * n * k > 1000000)
            k = 1 + (int)(1000000 / ((size_t)m * n));
        int form = (int)(rng_uniform(&r) * 4);
        check_product(path, form & 1, form & 2, m, n, k, 1.0f, t % 2 ? 1.0f : 0.0f, &r);
    }
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/* K = 0 is an empty sum on every path: C = beta C, beta 0 clearing NaNs. */
START_TEST(test_gemm__empty_k)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    gemm_kernel_set(path);
    float c[6] = {1, 2, NAN, 4, 5, 6}, ws[64];
    gemm_sgemm(ws, false, false, 2, 3, 0, 1.0f, NULL, NULL, 0.0f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(c[i], 0.0f);
    float d[2] = {1, 2};
    gemm_sgemm(ws, true, true, 1, 2, 0, 1.0f, NULL, NULL, 1.0f, d);
    ck_assert_float_eq(d[0], 1.0f);
    ck_assert_float_eq(d[1], 2.0f);
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/* The same product twice gives the same bits (no state between calls). */
START_TEST(test_gemm__repeatable)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    gemm_kernel_set(path);
    struct rng r;
    rng_seed(&r, 7);
    int m = 64, n = 196, k = 800;
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c1 = malloc((size_t)m * n * sizeof *c1), *c2 = malloc((size_t)m * n * sizeof *c2);
    float *ws = malloc(gemm_workspace(m, n, k) * sizeof *ws);
    fill(a, (size_t)m * k, &r);
    fill(b, (size_t)k * n, &r);
    gemm_sgemm(ws, false, false, m, n, k, 1.0f, a, b, 0.0f, c1);
    fill(ws, gemm_workspace(m, n, k), &r);
    gemm_sgemm(ws, false, false, m, n, k, 1.0f, a, b, 0.0f, c2);
    ck_assert(memcmp(c1, c2, (size_t)m * n * sizeof *c1) == 0);
    free(a);
    free(b);
    free(c1);
    free(c2);
    free(ws);
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

/*
 * op(A) packed once by gemm_pack_a() and used for two different B (as a
 * conv layer's W over the samples of a batch) gives gemm_sgemm()'s bits
 * for every shape, both transposes and beta 0 and 1; the packed floats
 * past what the shape fills are not read (poisoned with NaN).
 */
START_TEST(test_gemm__packed_a)
{
    enum gemm_kernel path = (enum gemm_kernel)_i;
    if (!have(path))
        return;
    gemm_kernel_set(path);
    struct rng r;
    rng_seed(&r, 11);
    for (int s = 0; s < NSHAPES; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            size_t nws = gemm_workspace(m, n, k), npa = gemm_packed_a_size(m, k);
            float *a = malloc((size_t)m * k * sizeof *a);
            float *b = malloc((size_t)k * n * 2 * sizeof *b);
            float *c0 = malloc((size_t)m * n * sizeof *c0);
            float *c1 = malloc((size_t)m * n * sizeof *c1);
            float *c2 = malloc((size_t)m * n * sizeof *c2);
            float *ws = malloc(nws * sizeof *ws), *pa = malloc(npa * sizeof *pa);
            fill(a, (size_t)m * k, &r);
            fill(b, (size_t)k * n * 2, &r);
            fill(c0, (size_t)m * n, &r);
            for (size_t i = 0; i < npa; i++)
                pa[i] = NAN;
            gemm_pack_a(pa, ta, m, k, a);
            for (int rep = 0; rep < 2; rep++) {
                const float *bn = b + (size_t)rep * k * n;
                float beta = rep == 0 ? 0.0f : 1.0f;
                memcpy(c1, c0, (size_t)m * n * sizeof *c1);
                memcpy(c2, c0, (size_t)m * n * sizeof *c2);
                gemm_sgemm(ws, ta, tb, m, n, k, 0.5f, a, bn, beta, c1);
                gemm_sgemm_packed_a(ws, pa, ta, tb, m, n, k, 0.5f, a, bn, beta, c2);
                ck_assert_msg(memcmp(c1, c2, (size_t)m * n * sizeof *c1) == 0,
                              "%s (%d, %d, %d) ta %d tb %d beta %g: packed A differs",
                              gemm_kernel_name(path), m, n, k, ta, tb, beta);
            }
            free(a);
            free(b);
            free(c0);
            free(c1);
            free(c2);
            free(ws);
            free(pa);
        }
    }
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

START_TEST(test_gemm__names)
{
    ck_assert_str_eq(gemm_kernel_name(GEMM_BLAS), "blas");
    ck_assert_str_eq(gemm_kernel_name(GEMM_AVX2), "avx2");
    ck_assert_str_eq(gemm_kernel_name(GEMM_AVX512), "avx512");
    ck_assert(gemm_kernel_available(GEMM_BLAS));
    ck_assert(gemm_kernel_available(gemm_kernel_best()));
    /* The best path is the last one the CPU has. */
    for (int k = gemm_kernel_best() + 1; k < GEMM_KERNEL_COUNT; k++)
        ck_assert(!gemm_kernel_available((enum gemm_kernel)k));
}
END_TEST

START_TEST(test_gemm__env)
{
    char err[160] = "";
    ck_assert_int_eq(setenv(GEMM_KERNEL_ENV, "blas", 1), 0);
    ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), 0);
    ck_assert_int_eq(gemm_kernel_get(), GEMM_BLAS);
    ck_assert_int_eq(setenv(GEMM_KERNEL_ENV, "", 1), 0);
    ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), 0);
    ck_assert_int_eq(gemm_kernel_get(), gemm_kernel_best());
    ck_assert_int_eq(unsetenv(GEMM_KERNEL_ENV), 0);
    gemm_kernel_set(GEMM_BLAS);
    ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), 0);
    ck_assert_int_eq(gemm_kernel_get(), gemm_kernel_best());
    ck_assert_int_eq(setenv(GEMM_KERNEL_ENV, "avx1024", 1), 0);
    ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), -1);
    ck_assert_str_eq(err, "NNTOP_CONV_KERNEL=avx1024: unknown conv kernel (blas, avx2 or avx512)");
    ck_assert_int_eq(setenv(GEMM_KERNEL_ENV, "AVX512", 1), 0);
    ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), -1);
    for (int k = 0; k < GEMM_KERNEL_COUNT; k++) {
        const char *name = gemm_kernel_name((enum gemm_kernel)k);
        ck_assert_int_eq(setenv(GEMM_KERNEL_ENV, name, 1), 0);
        if (gemm_kernel_available((enum gemm_kernel)k)) {
            ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), 0);
            ck_assert_int_eq(gemm_kernel_get(), k);
        } else {
            ck_assert_int_eq(gemm_kernel_from_env(err, sizeof err), -1);
            ck_assert_msg(strstr(err, "this CPU cannot run") != NULL, "%s", err);
        }
    }
    ck_assert_int_eq(unsetenv(GEMM_KERNEL_ENV), 0);
    gemm_kernel_set(gemm_kernel_best());
}
END_TEST

Suite *
gemm_suite(void);

Suite *
gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, test_gemm__shapes, 0, GEMM_KERNEL_COUNT);
    tcase_add_loop_test(core, test_gemm__conv_shapes, 0, GEMM_KERNEL_COUNT);
    tcase_add_loop_test(core, test_gemm__random_shapes, 0, GEMM_KERNEL_COUNT);
    tcase_add_loop_test(core, test_gemm__repeatable, 0, GEMM_KERNEL_COUNT);
    tcase_add_loop_test(core, test_gemm__packed_a, 0, GEMM_KERNEL_COUNT);
    tcase_add_loop_test(core, test_gemm__same_panels, 0, GEMM_KERNEL_COUNT);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_loop_test(limits, test_gemm__empty_k, 0, GEMM_KERNEL_COUNT);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_gemm__names);
    tcase_add_test(errors, test_gemm__env);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    /* OpenBLAS is the reference here, not under test: one thread, no spinning. */
    blas_set_threads(1);
    return check_run(gemm_suite());
}
