/*
 * blas.c - the one door to OpenBLAS: row-major sgemm with the leading
 * dimensions derived from the shapes (or given, for blocks of larger
 * matrices), thread control and the build description.  It does not
 * multiply anything itself beyond the degenerate K = 0 case, which
 * OpenBLAS would refuse with a message (lda < 1) rather than compute.
 */
#include "config.h"

#include "nntop/blas.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

void
blas_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
           const float *a, const float *b, float beta, float *c)
{
    /* Row-major storage: A is (M, K) or (K, M) as stored, B (K, N) or (N, K). */
    blas_sgemm_ld(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n,
                  beta, c, n);
}

void
blas_sgemm_ld(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    assert(m >= 0 && n >= 0 && k >= 0);
    assert(ldc >= n);
    /* OpenBLAS reports bad sizes through xerbla and returns; refusing them
     * here keeps its message off the terminal the UI owns. */
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* op(A) . op(B) is an empty sum: C = beta C (beta 0 clears NaNs too). */
        for (int i = 0; i < m; i++) {
            float *row = c + (size_t)i * (size_t)ldc;
            for (int j = 0; j < n; j++)
                row[j] = beta == 0.0f ? 0.0f : beta * row[j];
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
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

const char *
blas_core_name(void)
{
    const char *name = openblas_get_corename();
    return name != NULL ? name : "unknown";
}

static char core_note[256];

void
blas_core_start(char **argv)
{
    struct blas_cpu cpu;
    blas_cpu_detect(&cpu);
    struct blas_core_env env = {
        .coretype = getenv("OPENBLAS_CORETYPE"),
        .keep = getenv("NNTOP_BLAS_CORE"),
        .guard = getenv("NNTOP_BLAS_REEXEC"),
        .test_fallback = getenv("NNTOP_BLAS_TEST_FALLBACK"),
    };
    struct blas_core_choice c;
    blas_core_decide(&c, blas_core_name(), &cpu, &env);
    snprintf(core_note, sizeof core_note, "%s", c.note);
    if (c.action != BLAS_CORE_SWITCH)
        return;
    char had[64] = "";
    if (env.coretype != NULL)
        snprintf(had, sizeof had, "%s", env.coretype);
    /* OpenBLAS read OPENBLAS_CORETYPE when it was loaded: only a fresh
     * image of this program picks the new kernels.  The guard carries the
     * first choice across, and stops a second exec. */
    if (setenv("OPENBLAS_CORETYPE", c.target, 1) != 0
        || setenv("NNTOP_BLAS_REEXEC", blas_core_name(), 1) != 0) {
        snprintf(core_note, sizeof core_note, "%s failed: %s", c.note, strerror(errno));
        return;
    }
    execv("/proc/self/exe", argv);
    int err = errno;
    /* Still the old image: run on, with the old kernels, and say so. */
    unsetenv("NNTOP_BLAS_REEXEC");
    if (had[0] != '\0')
        setenv("OPENBLAS_CORETYPE", had, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    snprintf(core_note, sizeof core_note, "%s failed: cannot re-execute: %s", c.note,
             strerror(err));
}

const char *
blas_core_note(void)
{
    return core_note;
}
