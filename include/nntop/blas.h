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
/*
 * blas_sgemm() on blocks of larger row-major matrices: lda, ldb and ldc
 * are the row strides of A, B and C as stored (ldc >= n), so that C can
 * be a range of columns of a wider matrix.
 */
void blas_sgemm_ld(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc);

/*
 * Keep one OpenBLAS work buffer for the calling thread (on), or stop (off,
 * one for each on; the last returns the buffer to OpenBLAS's pool).  A
 * team member calls it so that its products pack into a buffer in its own
 * core's cache instead of whichever one the shared pool gives it
 * (src/nn/blas-buffer.c).  Changes no result.
 */
void blas_keep_buffer(bool on);
/* How many of this thread's OpenBLAS buffer requests its kept buffer served. */
unsigned long blas_kept_calls(void);
/* How many threads hold a kept buffer now. */
int blas_kept_buffers(void);
/* Set OpenBLAS's thread count (>= 1). */
void blas_set_threads(int n);
/* OpenBLAS's current thread count. */
int blas_get_threads(void);
/* openblas_get_config() and the core name, as one static string. */
const char *blas_config(void);
/* The core OpenBLAS runs (openblas_get_corename()), a static string. */
const char *blas_core_name(void);

/*
 * Choosing OpenBLAS's core.  A DYNAMIC_ARCH OpenBLAS picks its kernels
 * when it is loaded; one older than the CPU falls back to SSE3 "Prescott"
 * kernels several times slower than the CPU's AVX2 or AVX-512 ones, and
 * says nothing.  The only way to change the choice is OPENBLAS_CORETYPE
 * in the environment of a fresh process, so blas_core_start() re-executes
 * nntop once with it set.  The decision itself is blas_core_decide(), a
 * pure function of the chosen core, the CPU and the environment.
 */

/* What the CPU can run (from __builtin_cpu_supports). */
struct blas_cpu {
    bool avx2, fma;
    bool avx512f, avx512bw, avx512dq, avx512vl;
};

/* The environment variables the decision reads; NULL when unset. */
struct blas_core_env {
    const char *coretype;       /* OPENBLAS_CORETYPE */
    const char *keep;           /* NNTOP_BLAS_CORE: "keep" turns the correction off */
    const char *guard;          /* NNTOP_BLAS_REEXEC: set by the re-exec, the core first chosen */
    const char *test_fallback;  /* NNTOP_BLAS_TEST_FALLBACK: tests only, treat
                                 * OPENBLAS_CORETYPE as OpenBLAS's own choice */
};

enum blas_core_action {
    BLAS_CORE_FINE,         /* the chosen core has the CPU's best kernels */
    BLAS_CORE_USER,         /* OPENBLAS_CORETYPE was set: respected as is */
    BLAS_CORE_KEPT,         /* a fallback, left alone: NNTOP_BLAS_CORE=keep */
    BLAS_CORE_SWITCH,       /* a fallback: set OPENBLAS_CORETYPE=target, re-exec */
    BLAS_CORE_SWITCHED,     /* after the re-exec: the target core is running */
    BLAS_CORE_STUCK,        /* after the re-exec: OpenBLAS did not take the target */
    BLAS_CORE_ACTION_COUNT
};

struct blas_core_choice {
    enum blas_core_action action;
    const char *target;     /* SWITCH: the core to ask for ("Haswell", "SkylakeX"); else NULL */
    char note[160];         /* "BLAS: OpenBLAS chose Prescott on a CPU with AVX-512:
                             * using SkylakeX"; "" when there is nothing to say */
};

/*
 * Decide what to do about chosen (the core name OpenBLAS reports) on cpu
 * under env.  An explicit OPENBLAS_CORETYPE is always respected (unless
 * env->test_fallback), NNTOP_BLAS_CORE=keep never switches, and the
 * guard makes the process after the re-exec report instead of switching
 * again.  Pure: reads only its arguments.
 */
void blas_core_decide(struct blas_core_choice *out, const char *chosen,
                      const struct blas_cpu *cpu, const struct blas_core_env *env);
/* Fill cpu from the running CPU. */
void blas_cpu_detect(struct blas_cpu *cpu);
/*
 * Run the decision for this process: on BLAS_CORE_SWITCH set
 * OPENBLAS_CORETYPE and the guard and execv() /proc/self/exe with argv
 * (not returning when that works).  Call first in main(), before any
 * thread starts.  The outcome is kept for blas_core_note().
 */
void blas_core_start(char **argv);
/* What blas_core_start() did, one line ("" when nothing worth saying). */
const char *blas_core_note(void);

#endif
