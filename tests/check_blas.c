/*
 * check_blas.c - blas_sgemm against a naive double-precision triple loop
 * for every transpose combination, alpha/beta variant and awkward shape,
 * plus the thread-count round trip.  It does not time anything.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/blas.h"
#include "nntop/rng.h"

/* Row-major reference: C = alpha op(A) op(B) + beta C, in double. */
static void
naive_sgemm(bool ta, bool tb, int m, int n, int k, double alpha, const float *a,
            const float *b, double beta, double *c)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
                double bv = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                s += av * bv;
            }
            double prev = beta == 0.0 ? 0.0 : beta * c[(size_t)i * n + j];
            c[(size_t)i * n + j] = alpha * s + prev;
        }
    }
}

static void
fill(float *v, size_t n, struct rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

/* Run one case through both and assert agreement; returns the max error. */
static double
compare_case(bool ta, bool tb, int m, int n, int k, float alpha, float beta, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    size_t na = (size_t)m * k + 1, nb = (size_t)k * n + 1, nc = (size_t)m * n;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c);
    double *ref = malloc(nc * sizeof *ref);
    fill(a, na, &r);
    fill(b, nb, &r);
    fill(c, nc, &r);
    for (size_t i = 0; i < nc; i++)
        ref[i] = c[i];

    blas_sgemm(ta, tb, m, n, k, alpha, a, b, beta, c);
    naive_sgemm(ta, tb, m, n, k, alpha, a, b, beta, ref);

    double worst = 0.0;
    /* float rounding grows with the length of each dot product */
    double tol = 1e-6 * (k + 4) * (fabs(alpha) + fabs(beta) + 1.0);
    for (size_t i = 0; i < nc; i++) {
        double err = fabs((double)c[i] - ref[i]);
        if (err > worst)
            worst = err;
        ck_assert_msg(err <= tol,
                      "sgemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: C[%zu] expected %.8g, got %.8g",
                      ta, tb, m, n, k, (double)alpha, (double)beta, i, ref[i], (double)c[i]);
    }
    free(a);
    free(b);
    free(c);
    free(ref);
    return worst;
}

START_TEST(test_blas__transposes)
{
    static const int shapes[][3] = {
        {1, 1, 1}, {3, 5, 7}, {7, 3, 5}, {13, 11, 17}, {64, 33, 65}, {2, 129, 31},
    };
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}, {1.0f, 1.0f}};
    uint64_t seed = 1;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (size_t v = 0; v < sizeof ab / sizeof ab[0]; v++)
                    compare_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], ab[v][0],
                                 ab[v][1], seed++);
}
END_TEST

START_TEST(test_blas__threads_round_trip)
{
    int before = blas_get_threads();
    blas_set_threads(1);
    ck_assert_msg(blas_get_threads() == 1, "expected 1 thread after set(1), got %d",
                  blas_get_threads());
    blas_set_threads(2);
    ck_assert_msg(blas_get_threads() == 2, "expected 2 threads after set(2), got %d",
                  blas_get_threads());
    /* Results do not depend on the thread count for a large product. */
    compare_case(false, true, 128, 256, 300, 1.0f, 1.0f, 77);
    blas_set_threads(before);
    ck_assert_int_eq(blas_get_threads(), before);
}
END_TEST

START_TEST(test_blas__config)
{
    const char *cfg = blas_config();
    ck_assert_msg(cfg != NULL && strstr(cfg, "OpenBLAS") != NULL,
                  "expected the OpenBLAS config string, got \"%s\"", cfg ? cfg : "(null)");
    ck_assert_msg(strstr(cfg, "core ") != NULL, "expected the core name in \"%s\"", cfg);
}
END_TEST

START_TEST(test_blas__beta_zero_ignores_c)
{
    /* With beta = 0, whatever C held (NaN included) must not leak through. */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    float c[4];
    for (int i = 0; i < 4; i++)
        c[i] = NAN;
    blas_sgemm(false, false, 2, 2, 3, 1.0f, a, b, 0.0f, c);
    const float want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(c[i] == want[i], "C[%d] expected %g, got %g", i, (double)want[i],
                      (double)c[i]);
}
END_TEST

START_TEST(test_blas__empty_k)
{
    /* K = 0: the product is empty, C = beta C; OpenBLAS would reject lda 0. */
    float a[1] = {0}, b[1] = {0};
    float c[6] = {1, 2, 3, 4, 5, 6};
    blas_sgemm(false, false, 2, 3, 0, 1.0f, a, b, 0.5f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == 0.5f * (float)(i + 1), "C[%d] expected %g, got %g", i,
                      0.5 * (i + 1), (double)c[i]);
    c[0] = NAN;
    blas_sgemm(true, true, 2, 3, 0, 1.0f, a, b, 0.0f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == 0.0f, "C[%d] expected 0, got %g", i, (double)c[i]);
    /* M = 0 or N = 0 touches nothing. */
    c[0] = 42.0f;
    blas_sgemm(false, false, 0, 3, 2, 1.0f, a, b, 0.0f, c);
    blas_sgemm(false, false, 2, 0, 2, 1.0f, a, b, 0.0f, c);
    ck_assert_msg(c[0] == 42.0f, "expected C untouched (42), got %g", (double)c[0]);
}
END_TEST

START_TEST(test_blas__vectors)
{
    /* Degenerate shapes: outer product, dot product, matrix-vector. */
    compare_case(false, true, 9, 1, 1, 1.0f, 0.0f, 5);
    compare_case(true, false, 1, 1, 257, 1.0f, 0.0f, 6);
    compare_case(false, false, 1, 31, 19, -1.0f, 1.0f, 7);
    compare_case(true, true, 31, 1, 19, 2.0f, 0.5f, 8);
}
END_TEST

Suite *blas_suite(void);

Suite *
blas_suite(void)
{
    Suite *s = suite_create("blas");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_blas__transposes);
    tcase_add_test(core, test_blas__threads_round_trip);
    tcase_add_test(core, test_blas__config);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_blas__beta_zero_ignores_c);
    tcase_add_test(limits, test_blas__empty_k);
    tcase_add_test(limits, test_blas__vectors);
    suite_add_tcase(s, limits);
    return s;
}

int
main(void)
{
    return check_run(blas_suite());
}
