/*
 * blas.h - the one door to OpenBLAS.  src/nn/blas.c is the only file that
 * includes <cblas.h>; everything else multiplies matrices through here.
 */
#ifndef NNTOP_BLAS_H
#define NNTOP_BLAS_H

#include <stdbool.h>

/*
 * Row-major C = alpha * op(A) . op(B) + beta * C, with op(A) (M, K),
 * op(B) (K, N) and C (M, N).  Leading dimensions are those of the matrices
 * as stored (A is (M, K) or, transposed, (K, M)).  beta = 1 accumulates.
 */
void blas_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, const float *b, float beta, float *c);

/* Set OpenBLAS's thread count (>= 1). */
void blas_set_threads(int n);
/* OpenBLAS's current thread count. */
int blas_get_threads(void);
/* openblas_get_config() and the core name, as one static string. */
const char *blas_config(void);

#endif
