/*
 * blas.c - the one door to OpenBLAS: row-major sgemm with the leading
 * dimensions derived from the shapes, thread control and the build
 * description.  It does not multiply anything itself beyond the degenerate
 * K = 0 case, which OpenBLAS would refuse with a message (lda < 1) rather
 * than compute.
 */
#include "config.h"

#include "nntop/blas.h"

#include <assert.h>
#include <stdio.h>

#include <cblas.h>

void
blas_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
           const float *a, const float *b, float beta, float *c)
{
    assert(m >= 0 && n >= 0 && k >= 0);
    /* OpenBLAS reports bad sizes through xerbla and returns; refusing them
     * here keeps its message off the terminal the UI owns. */
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* op(A) . op(B) is an empty sum: C = beta C (beta 0 clears NaNs too). */
        size_t count = (size_t)m * (size_t)n;
        for (size_t i = 0; i < count; i++)
            c[i] = beta == 0.0f ? 0.0f : beta * c[i];
        return;
    }
    /* Row-major storage: A is (M, K) or (K, M) as stored, B (K, N) or (N, K). */
    int lda = trans_a ? m : k;
    int ldb = trans_b ? k : n;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, n);
}

void
blas_set_threads(int n)
{
    assert(n >= 1);
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int
blas_get_threads(void)
{
    return openblas_get_num_threads();
}

const char *
blas_config(void)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s (core %s)", openblas_get_config(),
             openblas_get_corename());
    return buf;
}
