/*
 * gemm.h - the convolution layers' own matrix products.  OpenBLAS runs
 * the kernels of the core the environment chose (Haswell here, by
 * OPENBLAS_CORETYPE), which leaves a CPU's AVX-512 units idle; the three
 * products of a conv layer (Y = W col, dW += dY col^T, dcol = W^T dY)
 * go through gemm_sgemm() instead, a packed sgemm with a register-blocked
 * AVX-512 or AVX2+FMA micro-kernel chosen at run time, or OpenBLAS
 * (blas_sgemm) where neither fits.  Dense layers keep OpenBLAS.  This
 * module does not start threads: a thread calls it with its own
 * workspace.
 */
#ifndef NNTOP_GEMM_H
#define NNTOP_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* The product paths, in the order of preference (the last the CPU has wins). */
enum gemm_kernel {
    GEMM_BLAS,      /* blas_sgemm: OpenBLAS's core */
    GEMM_AVX2,      /* nntop's packed sgemm, AVX2 + FMA, 6x16 micro-kernel */
    GEMM_AVX512,    /* nntop's packed sgemm, AVX-512 F/DQ/BW/VL, 8x48 micro-kernel */
    GEMM_KERNEL_COUNT
};

/* The variable that forces a path: blas, avx2 or avx512. */
#define GEMM_KERNEL_ENV "NNTOP_CONV_KERNEL"

/* "blas", "avx2", "avx512": a static string. */
const char *gemm_kernel_name(enum gemm_kernel k);
/* Whether this CPU can run k (GEMM_BLAS always). */
bool gemm_kernel_available(enum gemm_kernel k);
/* The default path: avx512 where this CPU has it, else blas (avx2 only on request). */
enum gemm_kernel gemm_kernel_best(void);
/* The path gemm_sgemm() takes now (gemm_kernel_best() until set). */
enum gemm_kernel gemm_kernel_get(void);
/*
 * Make gemm_sgemm() take k, which must be available.  Not thread-safe:
 * call before the threads that multiply start (main, a test's setup).
 */
void gemm_kernel_set(enum gemm_kernel k);
/*
 * Apply GEMM_KERNEL_ENV from the environment: unset or empty keeps the
 * best path.  Returns 0, or -1 with a one-line message in err (naming the
 * variable) for an unknown value or a path this CPU lacks.
 */
int gemm_kernel_from_env(char *err, size_t errlen);

/*
 * Floats of workspace gemm_sgemm() needs for products up to (m, n, k), on
 * any path (the packed panels of op(A) and op(B)).  > 0.
 */
size_t gemm_workspace(int m, int n, int k);

/*
 * Row-major C (M, N) = alpha op(A) (M, K) . op(B) (K, N) + beta C, with
 * the matrices stored as blas_sgemm() takes them (A (M, K), or (K, M) when
 * trans_a; B (K, N), or (N, K) when trans_b).  beta = 0 does not read C.
 * ws (borrowed) holds gemm_workspace(m, n, k) floats or more.  The result
 * depends on the path, not on the thread or the call: summation order is
 * fixed by the shapes.
 */
void gemm_sgemm(float *ws, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, const float *b, float beta, float *c);

/*
 * Floats gemm_pack_a() fills for an op(A) of (m, k), on any path.  > 0.
 */
size_t gemm_packed_a_size(int m, int k);
/*
 * Pack op(A) (m, k) (a stored as gemm_sgemm() takes it) whole into pa,
 * gemm_packed_a_size(m, k) floats, for the path gemm_sgemm() takes now
 * (nothing to do on OpenBLAS's).  For an A shared by many products (a
 * conv layer's weights over the samples of a batch): pack once, then
 * gemm_sgemm_packed_a() for each.
 */
void gemm_pack_a(float *pa, bool trans_a, int m, int k, const float *a);
/*
 * gemm_sgemm() with op(A) taken from pa, packed by gemm_pack_a() from
 * the same a, trans_a and (m, k) on the same path (a is still read on
 * OpenBLAS's).  The result is bit for bit gemm_sgemm()'s.
 */
void gemm_sgemm_packed_a(float *ws, const float *pa, bool trans_a, bool trans_b, int m, int n,
                         int k, float alpha, const float *a, const float *b, float beta,
                         float *c);

#endif
