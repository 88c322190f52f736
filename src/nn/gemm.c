/*
 * gemm.c - the convolution layers' products: a packed single-precision
 * GEMM in the manner of BLIS (op(B) packed into NR-wide panels of KC
 * rows, or read in place by the AVX-512 kernel when it is b itself, op(A)
 * into MR-high panels, a register-blocked MR x NR micro-kernel over
 * them), with an AVX-512 and an AVX2+FMA micro-kernel compiled by
 * function attributes and chosen at run time, so the rest of the project
 * keeps its ordinary flags.  Packing absorbs the transposes, so one kernel
 * serves Y = W col, dW = dY col^T and dcol = W^T dY alike.  The order of
 * every sum is fixed by the shapes and the path (K in blocks of KC, in
 * order), never by the thread.  This file does not allocate: the caller
 * hands in the workspace (gemm_workspace(), gemm_packed_a_size()), and it does not start threads.
 */
#include "config.h"

#include "nntop/gemm.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/blas.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEMM_X86 1
#include <immintrin.h>
#else
#define GEMM_X86 0
#endif

/*
 * Blocking: a KC x NR panel of op(B) (48 KB at NR 48) is what the
 * micro-kernel streams from L1/L2 while an MC x KC block of op(A) (96 KB)
 * stays in L2.  MC is a multiple of both kernels' MR (8 and 6), NC of
 * both NR (48 and 16).
 */
enum {
    GEMM_KC = 256,
    GEMM_MC = 96,
    GEMM_NC = 960,
    GEMM_MR_MAX = 8,
    GEMM_NR_MAX = 48,
    DIRECT_B_MAX_N = GEMM_NC,
};

static const char *const kernel_names[GEMM_KERNEL_COUNT] = {
    [GEMM_BLAS] = "blas",
    [GEMM_AVX2] = "avx2",
    [GEMM_AVX512] = "avx512",
};

/* -1 until set or first asked: then the best path this CPU has. */
static _Atomic int current = -1;

const char *
gemm_kernel_name(enum gemm_kernel k)
{
    assert(k >= 0 && k < GEMM_KERNEL_COUNT);
    return kernel_names[k];
}

bool
gemm_kernel_available(enum gemm_kernel k)
{
    switch (k) {
    case GEMM_BLAS:
        return true;
#if GEMM_X86
    case GEMM_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GEMM_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
    default:
        return false;
    }
}

/*
 * AVX-512 where the CPU has it, else OpenBLAS: the AVX2 kernel ran below
 * OpenBLAS's own Haswell kernels on the conv shapes (78-89 against 91-96
 * GFLOPS, bench/README.md), so it is taken only when asked for.
 */
enum gemm_kernel
gemm_kernel_best(void)
{
    return gemm_kernel_available(GEMM_AVX512) ? GEMM_AVX512 : GEMM_BLAS;
}

enum gemm_kernel
gemm_kernel_get(void)
{
    int k = atomic_load_explicit(&current, memory_order_relaxed);
    if (k < 0) {
        k = (int)gemm_kernel_best();
        atomic_store_explicit(&current, k, memory_order_relaxed);
    }
    return (enum gemm_kernel)k;
}

void
gemm_kernel_set(enum gemm_kernel k)
{
    assert(gemm_kernel_available(k));
    atomic_store_explicit(&current, (int)k, memory_order_relaxed);
}

int
gemm_kernel_from_env(char *err, size_t errlen)
{
    const char *v = getenv(GEMM_KERNEL_ENV);
    if (v == NULL || v[0] == '\0') {
        gemm_kernel_set(gemm_kernel_best());
        return 0;
    }
    for (int k = 0; k < GEMM_KERNEL_COUNT; k++) {
        if (strcmp(v, kernel_names[k]) != 0)
            continue;
        if (!gemm_kernel_available((enum gemm_kernel)k)) {
            snprintf(err, errlen, "%s=%s: this CPU cannot run the %s kernel (the default here: %s)",
                     GEMM_KERNEL_ENV, v, v, kernel_names[gemm_kernel_best()]);
            return -1;
        }
        gemm_kernel_set((enum gemm_kernel)k);
        return 0;
    }
    snprintf(err, errlen, "%s=%s: unknown conv kernel (blas, avx2 or avx512)",
             GEMM_KERNEL_ENV, v);
    return -1;
}

static inline int
min_int(int a, int b)
{
    return a < b ? a : b;
}

static inline size_t
round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

size_t
gemm_workspace(int m, int n, int k)
{
    /* 24 rounds m up for both MR (8 and 6); 48 n for both NR (48 and 16). */
    size_t kc = (size_t)(k < 1 ? 1 : min_int(k, GEMM_KC));
    size_t mc = round_up((size_t)(m < 1 ? 1 : m), 24);
    size_t nc = round_up((size_t)(n < 1 ? 1 : n), GEMM_NR_MAX);
    if (mc > GEMM_MC)
        mc = GEMM_MC;
    if (nc > GEMM_NC)
        nc = GEMM_NC;
    return (mc + nc) * kc;
}

/*
 * ap: the rows i0 .. i0 + mc of op(A), columns p0 .. p0 + kc, as mc / MR
 * panels of (kc, MR), rows past m zero.  op(A) (M, K) is a (M, K), or
 * a^T for a (K, M).
 */
static void
pack_a(float *restrict ap, bool trans, const float *restrict a, int m, int k, int i0,
       int mc, int p0, int kc, int mr)
{
    for (int ir = 0; ir < mc; ir += mr, ap += (size_t)kc * mr) {
        for (int i = 0; i < mr; i++) {
            int row = i0 + ir + i;
            if (row >= m) {
                for (int p = 0; p < kc; p++)
                    ap[(size_t)p * mr + i] = 0.0f;
            } else if (trans) {
                const float *src = a + (size_t)p0 * m + row;
                for (int p = 0; p < kc; p++)
                    ap[(size_t)p * mr + i] = src[(size_t)p * m];
            } else {
                const float *src = a + (size_t)row * k + p0;
                for (int p = 0; p < kc; p++)
                    ap[(size_t)p * mr + i] = src[p];
            }
        }
    }
}

/*
 * bp: the rows p0 .. p0 + kc of op(B), columns j0 .. j0 + nc, as nc / NR
 * panels of (kc, NR), columns past n zero.  op(B) (K, N) is b (K, N), or
 * b^T for b (N, K).
 */
static void
pack_b(float *restrict bp, bool trans, const float *restrict b, int n, int k, int p0,
       int kc, int j0, int nc, int nr)
{
    for (int jr = 0; jr < nc; jr += nr, bp += (size_t)kc * nr) {
        int have = min_int(nr, n - (j0 + jr));
        if (trans) {
            for (int j = 0; j < nr; j++) {
                if (j >= have) {
                    for (int p = 0; p < kc; p++)
                        bp[(size_t)p * nr + j] = 0.0f;
                    continue;
                }
                const float *src = b + (size_t)(j0 + jr + j) * k + p0;
                for (int p = 0; p < kc; p++)
                    bp[(size_t)p * nr + j] = src[p];
            }
        } else {
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * n + j0 + jr;
                float *d = bp + (size_t)p * nr;
                memcpy(d, src, (size_t)have * sizeof *d);
                for (int j = have; j < nr; j++)
                    d[j] = 0.0f;
            }
        }
    }
}

#if GEMM_X86
#define GEMM_AVX512_TARGET "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"

/* r[0..16) (16 x 16, row i in r[i]) transposed in place: r[q] = column q. */
__attribute__((target(GEMM_AVX512_TARGET), always_inline))
static inline void
transpose16(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/*
 * pack_b() with trans for nr a multiple of 16, the same panels: 16 x 16
 * blocks of b (16 of op(B)'s columns, 16 of its rows) loaded as rows,
 * transposed in registers and stored as panel rows, instead of one
 * strided store per float; the rows past the last full 16 go one by one.
 */
__attribute__((target(GEMM_AVX512_TARGET)))
static void
pack_b_trans16(float *restrict bp, const float *restrict b, int n, int k, int p0, int kc,
               int j0, int nc, int nr)
{
    int kc16 = kc / 16 * 16;
    for (int jr = 0; jr < nc; jr += nr, bp += (size_t)kc * nr) {
        for (int jb = 0; jb < nr; jb += 16) {
            int col = j0 + jr + jb, have = min_int(16, n - col);
            const float *src = b + (size_t)col * k + p0;
            for (int p = 0; p < kc16; p += 16) {
                __m512 r[16];
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++)
                    r[j] = j < have ? _mm512_loadu_ps(src + (size_t)j * k + p)
                                    : _mm512_setzero_ps();
                transpose16(r);
#pragma GCC unroll 16
                for (int q = 0; q < 16; q++)
                    _mm512_storeu_ps(bp + (size_t)(p + q) * nr + jb, r[q]);
            }
            for (int p = kc16; p < kc; p++)
                for (int j = 0; j < 16; j++)
                    bp[(size_t)p * nr + jb + j] = j < have ? src[(size_t)j * k + p] : 0.0f;
        }
    }
}

/*
 * pack_a() without trans for mr 8, the same panels: two panels (16 rows
 * of a) at a time, 16 x 16 blocks transposed in registers, each half of a
 * transposed row stored as a panel row; the columns past the last full 16
 * go one by one.
 */
__attribute__((target(GEMM_AVX512_TARGET)))
static void
pack_a_rows16(float *restrict ap, const float *restrict a, int m, int k, int i0, int mc, int p0,
              int kc)
{
    enum { MR = 8 };
    int kc16 = kc / 16 * 16;
    for (int ir = 0; ir < mc; ir += 2 * MR) {
        int have = min_int(16, m - (i0 + ir));
        bool two = ir + MR < mc;
        float *d0 = ap + (size_t)ir * kc, *d1 = d0 + (size_t)kc * MR;
        const float *src = a + (size_t)(i0 + ir) * k + p0;
        for (int p = 0; p < kc16; p += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = i < have ? _mm512_loadu_ps(src + (size_t)i * k + p) : _mm512_setzero_ps();
            transpose16(r);
#pragma GCC unroll 16
            for (int q = 0; q < 16; q++) {
                _mm256_storeu_ps(d0 + (size_t)(p + q) * MR, _mm512_castps512_ps256(r[q]));
                if (two)
                    _mm256_storeu_ps(d1 + (size_t)(p + q) * MR, _mm512_extractf32x8_ps(r[q], 1));
            }
        }
        for (int p = kc16; p < kc; p++) {
            for (int i = 0; i < 2 * MR; i++) {
                if (i >= MR && !two)
                    break;
                float v = i < have ? src[(size_t)i * k + p] : 0.0f;
                (i < MR ? d0 : d1)[(size_t)p * MR + i % MR] = v;
            }
        }
    }
}
#endif

/*
 * C tile (mr, nr) at c, row stride ldc, = beta C + alpha acc, where acc
 * (MR, NR) is the tile computed in full; beta = 0 does not read C.
 */
static void
tile_store(float *restrict c, int ldc, const float *restrict acc, int ld_acc, int mr, int nr,
           float alpha, float beta)
{
    for (int i = 0; i < mr; i++) {
        float *row = c + (size_t)i * ldc;
        const float *t = acc + (size_t)i * ld_acc;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++)
                row[j] = alpha * t[j];
        else
            for (int j = 0; j < nr; j++)
                row[j] = beta * row[j] + alpha * t[j];
    }
}

/*
 * One micro-kernel: C tile (mr, nr) = beta C + alpha ap (kc, MR)^T .
 * bp (kc, nr), bp's rows ldb apart: NR in a packed panel, or op(B)'s own
 * row stride where the kernel reads op(B) in place (then only its nr
 * columns: no reads past them).
 */
typedef void kernel_fn(int kc, const float *restrict ap, const float *restrict bp, int ldb,
                       float *restrict c, int ldc, int mr, int nr, float alpha, float beta);

#if GEMM_X86
/*
 * AVX-512, MR 8 x NR 48: 24 zmm accumulators, three zmm of B per k and a
 * broadcast of A per row.  kernel_avx512_nz() is the body for NZ zmm of
 * columns (inlined with NZ constant: the edge panels of 16 or 32 columns
 * run narrower rather than multiply zeros, and the last zmm of B loads
 * only the tile's nr columns, masked); a partial tile goes through a stack
 * tile to C (no masked accesses past C's end).
 */
__attribute__((target(GEMM_AVX512_TARGET), always_inline))
static inline void
kernel_avx512_nz(const int NZ, int kc, const float *restrict ap, const float *restrict bp,
                 int ldb, float *restrict c, int ldc, int mr, int nr, float alpha, float beta)
{
    enum { MR = 8, NR = 48 };
    __mmask16 last = (__mmask16)((1u << (nr - 16 * (NZ - 1))) - 1u);
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int z = 0; z < NZ; z++)
            acc[i][z] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, ap += MR, bp += ldb) {
        __m512 bv[3];
#pragma GCC unroll 3
        for (int z = 0; z < NZ - 1; z++)
            bv[z] = _mm512_loadu_ps(bp + 16 * z);
        bv[NZ - 1] = _mm512_maskz_loadu_ps(last, bp + 16 * (NZ - 1));
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 3
            for (int z = 0; z < NZ; z++)
                acc[i][z] = _mm512_fmadd_ps(av, bv[z], acc[i][z]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (mr == MR && nr == 16 * NZ) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float *row = c + (size_t)i * ldc;
#pragma GCC unroll 3
            for (int z = 0; z < NZ; z++) {
                __m512 r = _mm512_mul_ps(va, acc[i][z]);
                if (beta != 0.0f)
                    r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + 16 * z), r);
                _mm512_storeu_ps(row + 16 * z, r);
            }
        }
        return;
    }
    float tile[MR * NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int z = 0; z < NZ; z++)
            _mm512_storeu_ps(tile + i * NR + 16 * z, acc[i][z]);
    tile_store(c, ldc, tile, NR, mr, nr, alpha, beta);
}

__attribute__((target(GEMM_AVX512_TARGET)))
static void
kernel_avx512(int kc, const float *restrict ap, const float *restrict bp, int ldb,
              float *restrict c, int ldc, int mr, int nr, float alpha, float beta)
{
    if (nr > 32)
        kernel_avx512_nz(3, kc, ap, bp, ldb, c, ldc, mr, nr, alpha, beta);
    else if (nr > 16)
        kernel_avx512_nz(2, kc, ap, bp, ldb, c, ldc, mr, nr, alpha, beta);
    else
        kernel_avx512_nz(1, kc, ap, bp, ldb, c, ldc, mr, nr, alpha, beta);
}

/* AVX2 + FMA, MR 6 x NR 16: 12 ymm accumulators, two ymm of B per k. */
__attribute__((target("avx2,fma")))
static void
kernel_avx2(int kc, const float *restrict ap, const float *restrict bp, int ldb,
            float *restrict c, int ldc, int mr, int nr, float alpha, float beta)
{
    /* Packed panels only (ldb NR): it reads all NR columns. */
    enum { MR = 6, NR = 16 };
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        c0[i] = c1[i] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++, ap += MR, bp += ldb) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(ap + i);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (mr == MR && nr == NR) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            float *row = c + (size_t)i * ldc;
            __m256 r0 = _mm256_mul_ps(va, c0[i]), r1 = _mm256_mul_ps(va, c1[i]);
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), r1);
            }
            _mm256_storeu_ps(row, r0);
            _mm256_storeu_ps(row + 8, r1);
        }
        return;
    }
    float tile[MR * NR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(tile + i * NR, c0[i]);
        _mm256_storeu_ps(tile + i * NR + 8, c1[i]);
    }
    tile_store(c, ldc, tile, NR, mr, nr, alpha, beta);
}
#endif

/* pack_a(), by register transposes for op(A) = a on the AVX-512 path (mr 8). */
static void
pack_a_path(float *restrict ap, bool trans, const float *restrict a, int m, int k, int i0,
            int mc, int p0, int kc, int mr)
{
#if GEMM_X86
    if (!trans && mr == 8) {          /* mr 8: the AVX-512 kernel */
        pack_a_rows16(ap, a, m, k, i0, mc, p0, kc);
        return;
    }
#endif
    pack_a(ap, trans, a, m, k, i0, mc, p0, kc, mr);
}

/*
 * The packed op(A) of gemm_pack_a(): K block pc (kc rows) holds the M
 * blocks' panels one after the other, so block (pc, ic) starts at
 * pc round_up(m, mr) + ic kc (ic is a multiple of MC, itself one of mr).
 */
static inline size_t
packed_a_offset(int m, int mr, int pc, int ic, int kc)
{
    return (size_t)pc * round_up((size_t)m, (size_t)mr) + (size_t)ic * kc;
}

/* op(A) packed whole, block by block as packed_sgemm() packs it. */
static void
pack_a_all(float *pa, int mr, bool trans_a, const float *a, int m, int k)
{
    for (int pc = 0; pc < k; pc += GEMM_KC) {
        int kc = min_int(GEMM_KC, k - pc);
        for (int ic = 0; ic < m; ic += GEMM_MC) {
            int mcp = (int)round_up((size_t)min_int(GEMM_MC, m - ic), (size_t)mr);
            pack_a_path(pa + packed_a_offset(m, mr, pc, ic, kc), trans_a, a, m, k, ic, mcp,
                        pc, kc, mr);
        }
    }
}

/* pack_b() as the path fn packs it: AVX-512's transposes where it runs. */
static void
pack_b_path(kernel_fn *fn, float *restrict bp, bool trans, const float *restrict b, int n,
            int k, int p0, int kc, int j0, int nc, int nr)
{
#if GEMM_X86
    if (trans && fn == kernel_avx512) {
        pack_b_trans16(bp, b, n, k, p0, kc, j0, nc, nr);
        return;
    }
#else
    (void)fn;
#endif
    pack_b(bp, trans, b, n, k, p0, kc, j0, nc, nr);
}

/*
 * Whether the kernel reads op(B) in place rather than packed: b itself
 * (not b^T) on the AVX-512 path, whose kernel loads only a tile's columns.
 * A panel's KC rows are then n floats apart instead of NR: the same
 * values in the same order, so the same sums, without the copy.
 */
static bool
direct_b(kernel_fn *fn, bool trans_b, int n)
{
#if GEMM_X86
    return !trans_b && fn == kernel_avx512 && n <= DIRECT_B_MAX_N;
#else
    (void)fn;
    (void)trans_b;
    (void)n;
    return false;
#endif
}

/*
 * The packed product with micro-kernel fn of (mr, nr); pa, if not NULL,
 * is op(A) already packed by pack_a_all() (the same panels, so the same
 * sums, as packing them here).
 */
static void
packed_sgemm(kernel_fn *fn, int mr, int nr, float *ws, const float *pa, bool trans_a,
             bool trans_b, int m, int n, int k, float alpha, const float *a, const float *b,
             float beta, float *c)
{
    int mc_max = min_int(GEMM_MC, (int)round_up((size_t)m, (size_t)mr));
    int kc_max = min_int(GEMM_KC, k);
    float *ap = ws;                                     /* (MC / MR) x (KC, MR) */
    float *bp = ws + (size_t)mc_max * kc_max;           /* (NC / NR) x (KC, NR) */
    bool direct = direct_b(fn, trans_b, n);
    for (int jc = 0; jc < n; jc += GEMM_NC) {
        int nc = min_int(GEMM_NC, n - jc);
        int ncp = (int)round_up((size_t)nc, (size_t)nr);
        for (int pc = 0; pc < k; pc += GEMM_KC) {
            int kc = min_int(GEMM_KC, k - pc);
            /* The first K block applies beta; the later ones add to it. */
            float beta_k = pc == 0 ? beta : 1.0f;
            if (!direct)
                pack_b_path(fn, bp, trans_b, b, n, k, pc, kc, jc, ncp, nr);
            for (int ic = 0; ic < m; ic += GEMM_MC) {
                int mc = min_int(GEMM_MC, m - ic);
                int mcp = (int)round_up((size_t)mc, (size_t)mr);
                const float *apc = ap;
                if (pa != NULL)
                    apc = pa + packed_a_offset(m, mr, pc, ic, kc);
                else
                    pack_a_path(ap, trans_a, a, m, k, ic, mcp, pc, kc, mr);
                for (int jr = 0; jr < nc; jr += nr) {
                    const float *bpj = bp + (size_t)jr * kc;
                    if (direct)
                        bpj = b + (size_t)pc * n + jc + jr;
                    for (int ir = 0; ir < mc; ir += mr)
                        fn(kc, apc + (size_t)ir * kc, bpj, direct ? n : nr,
                           c + (size_t)(ic + ir) * n + jc + jr, n, min_int(mr, mc - ir),
                           min_int(nr, nc - jr), alpha, beta_k);
                }
            }
        }
    }
}

size_t
gemm_packed_a_size(int m, int k)
{
    /* 24 rounds m up for both MR (8 and 6). */
    return round_up((size_t)(m < 1 ? 1 : m), 24) * (size_t)(k < 1 ? 1 : k);
}

/* The packed path's micro-kernel and its (MR, NR), or false for OpenBLAS. */
static bool
packed_path(enum gemm_kernel path, kernel_fn **fn, int *mr, int *nr)
{
#if GEMM_X86
    if (path == GEMM_AVX512) {
        *fn = kernel_avx512;
        *mr = 8;
        *nr = 48;
        return true;
    }
    if (path == GEMM_AVX2) {
        *fn = kernel_avx2;
        *mr = 6;
        *nr = 16;
        return true;
    }
#else
    (void)path;
    (void)fn;
    (void)mr;
    (void)nr;
#endif
    return false;
}

void
gemm_pack_a(float *pa, bool trans_a, int m, int k, const float *a)
{
    assert(m >= 0 && k >= 0);
    kernel_fn *fn;
    int mr, nr;
    if (m <= 0 || k <= 0 || !packed_path(gemm_kernel_get(), &fn, &mr, &nr))
        return;
    pack_a_all(pa, mr, trans_a, a, m, k);
}

void
gemm_sgemm_packed_a(float *ws, const float *pa, bool trans_a, bool trans_b, int m, int n,
                    int k, float alpha, const float *a, const float *b, float beta, float *c)
{
    assert(m >= 0 && n >= 0 && k >= 0);
    kernel_fn *fn;
    int mr, nr;
    if (m <= 0 || n <= 0 || k <= 0 || !packed_path(gemm_kernel_get(), &fn, &mr, &nr)) {
        /* OpenBLAS's path, and the degenerate shapes blas_sgemm settles. */
        blas_sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
        return;
    }
    packed_sgemm(fn, mr, nr, ws, pa, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void
gemm_sgemm(float *ws, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
           const float *a, const float *b, float beta, float *c)
{
    gemm_sgemm_packed_a(ws, NULL, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}
