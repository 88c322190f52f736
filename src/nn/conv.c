/*
 * conv.c - forward and backward kernels of the image layers (conv2d,
 * max and average pooling, global average pooling, per-channel batch
 * norm and channel dropout) on raw float32 NCHW rows.  A convolution is
 * im2col of one sample followed by one sgemm, so the scratch is one
 * sample's column matrix (and its zero-padded copy) whatever the batch;
 * the backward recomputes the columns rather than caching B of them.  Every kernel is a function of
 * (input rows, parameters) -> (output rows, gradients) plus scratch the
 * caller owns, so a batch can be cut into pieces and run on threads.
 * This file does not allocate or know about tensors' names (model.c).
 */
#include "config.h"

#include "layers.h"

#include <math.h>
#include <string.h>

#include "nntop/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define CONV_X86 1
#include <immintrin.h>
#else
#define CONV_X86 0
#endif

static inline int
out_side(int n, int k, int s, int p)
{
    return (n + 2 * p - k) / s + 1;
}

/*
 * xp (C, H + 2p, W + 2p) = x (C, H, W) with p zeros around each plane, so
 * that every kernel tap reads a plain strided window: no bounds tests in
 * im2col or col2im, and loops the compiler vectorises.
 */
static void
pad_copy(float *restrict xp, const float *restrict x, int C, int H, int W, int p)
{
    int Hp = H + 2 * p, Wp = W + 2 * p;
    memset(xp, 0, (size_t)C * Hp * Wp * sizeof *xp);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            memcpy(xp + ((size_t)c * Hp + y + p) * Wp + p, x + ((size_t)c * H + y) * W,
                   (size_t)W * sizeof *xp);
}

static inline bool conv_use_avx512(void);

#if CONV_X86
/*
 * The stride-1 rows of every tap on AVX-512, 16 floats at a time with the
 * row's tail masked: col (C k k, OH OW) against the plane img (C, Hp, Wp).
 * im2col copies them into col (gcc turns the portable row loop into one
 * memcpy call per row, 14 or 28 floats in the CNN, and the calls cost
 * more than the copying); col2im (sum) adds them into img, each float
 * getting the same additions in the same order (one per tap, taps in
 * col's row order) as the portable loop, so the result is the same bits.
 * The side only read is passed without its const.
 */
__attribute__((target("avx512f")))
static void
taps_s1_avx512(float *col, float *img, int C, int Hp, int Wp, int k, int OH, int OW, bool sum)
{
    __mmask16 tail = (__mmask16)((1u << (OW % 16)) - 1);
    int full = OW - OW % 16;
    for (int c = 0; c < C; c++) {
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                float *cr = col + ((size_t)(c * k + ki) * k + kj) * OH * OW;
                float *ir = img + ((size_t)c * Hp + ki) * Wp + kj;
                for (int oy = 0; oy < OH; oy++, cr += OW, ir += Wp) {
                    int ox = 0;
                    if (!sum) {
                        for (; ox < full; ox += 16)
                            _mm512_storeu_ps(cr + ox, _mm512_loadu_ps(ir + ox));
                        if (tail != 0)
                            _mm512_mask_storeu_ps(cr + ox, tail,
                                                  _mm512_maskz_loadu_ps(tail, ir + ox));
                        continue;
                    }
                    for (; ox < full; ox += 16)
                        _mm512_storeu_ps(ir + ox, _mm512_add_ps(_mm512_loadu_ps(ir + ox),
                                                                _mm512_loadu_ps(cr + ox)));
                    if (tail != 0) {
                        __m512 d = _mm512_maskz_loadu_ps(tail, ir + ox);
                        __m512 v = _mm512_maskz_loadu_ps(tail, cr + ox);
                        _mm512_mask_storeu_ps(ir + ox, tail, _mm512_add_ps(d, v));
                    }
                }
            }
        }
    }
}
#endif

/*
 * col (C k k, OH OW) from one sample x (C, H, W): row (c, ki, kj) holds,
 * for every output position, the input under that kernel tap (0 in the
 * padding).  With padding the sample is first copied into xp (scratch of
 * C (H + 2p) (W + 2p)) with its zeros around it.
 */
static void
im2col(float *restrict col, float *restrict xp, const float *restrict x, int C, int H, int W,
       int k, int s, int p, int OH, int OW)
{
    const float *src = x;
    int Hp = H, Wp = W;
    if (p > 0) {
        pad_copy(xp, x, C, H, W, p);
        src = xp;
        Hp = H + 2 * p;
        Wp = W + 2 * p;
    }
#if CONV_X86
    if (s == 1 && conv_use_avx512()) {
        taps_s1_avx512(col, (float *)src, C, Hp, Wp, k, OH, OW, false);
        return;
    }
#endif
    for (int c = 0; c < C; c++) {
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                float *restrict d = col + ((size_t)(c * k + ki) * k + kj) * OH * OW;
                const float *restrict sr = src + ((size_t)c * Hp + ki) * Wp + kj;
                for (int oy = 0; oy < OH; oy++, d += OW, sr += (size_t)s * Wp) {
                    if (s == 1) {
                        for (int ox = 0; ox < OW; ox++)
                            d[ox] = sr[ox];
                    } else {
                        for (int ox = 0; ox < OW; ox++)
                            d[ox] = sr[(size_t)ox * s];
                    }
                }
            }
        }
    }
}

/* col2im's sums into dst (C, Hp, Wp), zeroed by the caller. */
static void
col2im_sums(float *restrict dst, const float *restrict col, int C, int Hp, int Wp, int k,
            int s, int OH, int OW)
{
#if CONV_X86
    if (s == 1 && conv_use_avx512()) {
        taps_s1_avx512((float *)col, dst, C, Hp, Wp, k, OH, OW, true);
        return;
    }
#endif
    for (int c = 0; c < C; c++) {
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                const float *restrict sr = col + ((size_t)(c * k + ki) * k + kj) * OH * OW;
                float *restrict dr = dst + ((size_t)c * Hp + ki) * Wp + kj;
                for (int oy = 0; oy < OH; oy++, sr += OW, dr += (size_t)s * Wp) {
                    if (s == 1) {
                        for (int ox = 0; ox < OW; ox++)
                            dr[ox] += sr[ox];
                    } else {
                        for (int ox = 0; ox < OW; ox++)
                            dr[(size_t)ox * s] += sr[ox];
                    }
                }
            }
        }
    }
}

/*
 * dx (C, H, W) = col2im(col (C k k, OH OW)), the adjoint of im2col: each
 * tap's rows summed where they read the input, in the order of col's rows
 * (padded into xp first when there is padding, then cropped).
 */
static void
col2im(float *restrict dx, float *restrict xp, const float *restrict col, int C, int H, int W,
       int k, int s, int p, int OH, int OW)
{
    float *dst = dx;
    int Hp = H, Wp = W;
    if (p > 0) {
        dst = xp;
        Hp = H + 2 * p;
        Wp = W + 2 * p;
    }
    memset(dst, 0, (size_t)C * Hp * Wp * sizeof *dst);
    col2im_sums(dst, col, C, Hp, Wp, k, s, OH, OW);
    if (p > 0)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                memcpy(dx + ((size_t)c * H + y) * W, xp + ((size_t)c * Hp + y + p) * Wp + p,
                       (size_t)W * sizeof *dx);
}

/* The padded copy's floats (0 without padding). */
static inline size_t
pad_len(int C, int H, int W, int p)
{
    return p > 0 ? (size_t)C * (H + 2 * p) * (W + 2 * p) : 0;
}

/* gemm_sgemm()'s workspace for the three products: Y (OC, P), dW (OC, K), dcol (K, P). */
static size_t
conv_ws_len(int OC, int P, int K)
{
    size_t ws = gemm_workspace(OC, P, K);
    if (gemm_workspace(OC, K, P) > ws)
        ws = gemm_workspace(OC, K, P);
    if (gemm_workspace(K, P, OC) > ws)
        ws = gemm_workspace(K, P, OC);
    return ws;
}

size_t
layer_conv2d_scratch(int C, int H, int W, int OC, int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    int P = OH * OW, K = C * k * k;
    size_t col = (size_t)K * P;
    size_t ws = conv_ws_len(OC, P, K);
    /* W packed once per call: as op(A) of Y (OC, K), of dcol (K, OC). */
    size_t pw = gemm_packed_a_size(OC, K);
    if (gemm_packed_a_size(K, OC) > pw)
        pw = gemm_packed_a_size(K, OC);
    return col + pad_len(C, H, W, p) + ws + pw;
}

/* A 1x1 kernel with stride 1 and no padding reads the sample as it is. */
static inline bool
conv_is_pointwise(int k, int s, int p)
{
    return k == 1 && s == 1 && p == 0;
}

void
layer_conv2d_forward(float *y, float *col, const float *x, const float *w, const float *b,
                     int B, int C, int H, int W, int OC, int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    int P = OH * OW, K = C * k * k;
    float *xp = col + (size_t)K * P;                    /* (C, H + 2p, W + 2p) */
    float *ws = xp + pad_len(C, H, W, p);               /* gemm_sgemm's panels */
    float *pw = ws + conv_ws_len(OC, P, K);             /* W packed, for all samples */
    if (B > 0)
        gemm_pack_a(pw, false, OC, K, w);
    for (int n = 0; n < B; n++) {
        const float *xn = x + (size_t)n * C * H * W;    /* (C, H, W) */
        float *yn = y + (size_t)n * OC * P;             /* (OC, OH OW) */
        const float *cn = xn;                           /* (C k k, OH OW) */
        if (!conv_is_pointwise(k, s, p)) {
            im2col(col, xp, xn, C, H, W, k, s, p, OH, OW);
            cn = col;
        }
        float beta = 0.0f;
        if (b != NULL) {
            for (int o = 0; o < OC; o++)
                for (int j = 0; j < P; j++)
                    yn[(size_t)o * P + j] = b[o];
            beta = 1.0f;
        }
        /* Y_n (OC, OH OW) += W (OC, C k k) . col_n (C k k, OH OW) */
        gemm_sgemm_packed_a(ws, pw, false, false, OC, P, K, 1.0f, w, cn, beta, yn);
    }
}

void
layer_conv2d_backward(float *dx, float *dw, float *db, float *col, const float *dy,
                      const float *x, const float *w, int B, int C, int H, int W, int OC,
                      int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    int P = OH * OW, K = C * k * k;
    bool pointwise = conv_is_pointwise(k, s, p);
    float *xp = col + (size_t)K * P;                    /* (C, H + 2p, W + 2p) */
    float *ws = xp + pad_len(C, H, W, p);               /* gemm_sgemm's panels */
    float *pw = ws + conv_ws_len(OC, P, K);             /* W^T packed, for all samples */
    if (dx != NULL && B > 0)
        gemm_pack_a(pw, true, K, OC, w);
    if (db != NULL)
        memset(db, 0, (size_t)OC * sizeof *db);
    for (int n = 0; n < B; n++) {
        const float *xn = x + (size_t)n * C * H * W;    /* (C, H, W) */
        const float *gn = dy + (size_t)n * OC * P;      /* (OC, OH OW) */
        const float *cn = xn;
        if (!pointwise) {
            im2col(col, xp, xn, C, H, W, k, s, p, OH, OW);
            cn = col;
        }
        /* dW (OC, C k k) (+)= dY_n (OC, OH OW) . col_n^T (OH OW, C k k) */
        gemm_sgemm(ws, false, true, OC, K, P, 1.0f, gn, cn, n == 0 ? 0.0f : 1.0f, dw);
        if (db != NULL) {
            for (int o = 0; o < OC; o++) {
                const float *g = gn + (size_t)o * P;
                float acc = 0.0f;
                for (int j = 0; j < P; j++)
                    acc += g[j];
                db[o] += acc;
            }
        }
        if (dx == NULL)
            continue;
        float *dxn = dx + (size_t)n * C * H * W;        /* (C, H, W) */
        if (pointwise) {
            /* dX_n (C, H W) = W^T (C, OC) . dY_n (OC, H W) */
            gemm_sgemm_packed_a(ws, pw, true, false, K, P, OC, 1.0f, w, gn, 0.0f, dxn);
            continue;
        }
        /* dcol (C k k, OH OW) = W^T (C k k, OC) . dY_n (OC, OH OW); the
         * columns are done with, so their buffer takes it. */
        gemm_sgemm_packed_a(ws, pw, true, false, K, P, OC, 1.0f, w, gn, 0.0f, col);
        col2im(dxn, xp, col, C, H, W, k, s, p, OH, OW);
    }
}

/*
 * The max pool of windows that all lie inside the input (no padding): no
 * bounds tests, and for 2x2 the four taps unrolled.  The same choice as
 * the general loop: the first maximum wins, the first NaN always.
 */
static void
maxpool_inside(float *restrict y, int32_t *restrict argmax, const float *restrict x, int B,
               int C, int H, int W, int k, int s, int OH, int OW)
{
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xc = x + plane * H * W;
        float *yc = y + plane * OH * OW;
        int32_t *ac = argmax + plane * OH * OW;
        int32_t base = (int32_t)((plane % (size_t)C) * H * W);
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                int32_t at = (int32_t)(oy * s * W + ox * s);
                float best = xc[at];
                if (k == 2) {
                    int32_t t1 = at + 1, t2 = at + W, t3 = at + W + 1;
                    float v1 = xc[t1], v2 = xc[t2], v3 = xc[t3];
                    bool take1 = (!isnan(best)) & ((v1 > best) | isnan(v1));
                    best = take1 ? v1 : best;
                    at = take1 ? t1 : at;
                    bool take2 = (!isnan(best)) & ((v2 > best) | isnan(v2));
                    best = take2 ? v2 : best;
                    at = take2 ? t2 : at;
                    bool take3 = (!isnan(best)) & ((v3 > best) | isnan(v3));
                    best = take3 ? v3 : best;
                    at = take3 ? t3 : at;
                } else {
                    int32_t a0 = at;
                    for (int ki = 0; ki < k && !isnan(best); ki++) {
                        for (int kj = 0; kj < k; kj++) {
                            int32_t t = a0 + ki * W + kj;
                            float v = xc[t];
                            if (v > best || isnan(v)) {
                                best = v;
                                at = t;
                                if (isnan(v))
                                    break;
                            }
                        }
                    }
                }
                yc[oy * OW + ox] = best;
                ac[oy * OW + ox] = base + at;
            }
        }
    }
}

#if CONV_X86
/*
 * One output row of 2x2 stride-2 windows, 16 outputs at a time: the two
 * input rows' 32 floats split into even and odd columns (taps 0 1 over
 * taps 2 3), then maxpool_inside's four steps on whole vectors.  A tap is
 * taken where the best so far is not NaN and the tap is greater or NaN:
 * _CMP_NLE_UQ is "not <=", true on NaN, false on a tie.  The last group's
 * loads and stores are masked to the row.
 */
__attribute__((target("avx512f")))
static void
maxpool_row_2x2_avx512(float *restrict y, int32_t *restrict argmax, const float *restrict r0,
                       int32_t at0, int W, int OW)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const float *r1 = r0 + W;
    for (int ox = 0; ox < OW; ox += 16) {
        int n = OW - ox < 16 ? OW - ox : 16;
        __mmask16 mo = (__mmask16)((1u << n) - 1);
        __mmask16 mlo = (__mmask16)(n >= 8 ? 0xffffu : (1u << 2 * n) - 1);
        __mmask16 mhi = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
        const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
        __m512 a0 = _mm512_maskz_loadu_ps(mlo, p0), b0 = _mm512_maskz_loadu_ps(mlo, p1);
        __m512 a1 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        if (mhi != 0) {
            a1 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
            b1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
        }
        __m512 v1 = _mm512_permutex2var_ps(a0, odd, a1);
        __m512 v2 = _mm512_permutex2var_ps(b0, even, b1);
        __m512 v3 = _mm512_permutex2var_ps(b0, odd, b1);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        __m512i t0 = _mm512_add_epi32(_mm512_set1_epi32(at0 + 2 * ox), even);
        __m512i at = t0;
        __mmask16 take = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q)
                         & _mm512_cmp_ps_mask(v1, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, take, v1);
        at = _mm512_mask_add_epi32(at, take, t0, _mm512_set1_epi32(1));
        take = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q)
               & _mm512_cmp_ps_mask(v2, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, take, v2);
        at = _mm512_mask_add_epi32(at, take, t0, _mm512_set1_epi32(W));
        take = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q)
               & _mm512_cmp_ps_mask(v3, best, _CMP_NLE_UQ);
        best = _mm512_mask_mov_ps(best, take, v3);
        at = _mm512_mask_add_epi32(at, take, t0, _mm512_set1_epi32(W + 1));
        _mm512_mask_storeu_ps(y + ox, mo, best);
        _mm512_mask_storeu_epi32(argmax + ox, mo, at);
    }
}

/* maxpool_inside for 2x2 windows at stride 2, row by row on AVX-512. */
__attribute__((target("avx512f")))
static void
maxpool_2x2_avx512(float *restrict y, int32_t *restrict argmax, const float *restrict x,
                   int B, int C, int H, int W, int OH, int OW)
{
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xc = x + plane * H * W;
        int32_t base = (int32_t)((plane % (size_t)C) * H * W);
        for (int oy = 0; oy < OH; oy++) {
            size_t o = (plane * OH + oy) * OW;
            maxpool_row_2x2_avx512(y + o, argmax + o, xc + (size_t)2 * oy * W,
                                   base + 2 * oy * W, W, OW);
        }
    }
}
#endif

/*
 * The image layers' vector loops ride on the conv products' path: AVX-512
 * when gemm_sgemm() takes it (so NNTOP_CONV_KERNEL=blas, and the tests
 * that force it, run the portable loops), the portable loops otherwise.
 */
static inline bool
conv_use_avx512(void)
{
    return CONV_X86 && gemm_kernel_get() == GEMM_AVX512;
}

void
layer_maxpool2d_forward(float *restrict y, int32_t *restrict argmax, const float *restrict x,
                        int B, int C, int H, int W, int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    if (p == 0 && (OH - 1) * s + k <= H && (OW - 1) * s + k <= W) {
#if CONV_X86
        if (k == 2 && s == 2 && conv_use_avx512()) {
            maxpool_2x2_avx512(y, argmax, x, B, C, H, W, OH, OW);
            return;
        }
#endif
        maxpool_inside(y, argmax, x, B, C, H, W, k, s, OH, OW);
        return;
    }
    for (int n = 0; n < B; n++) {
        for (int c = 0; c < C; c++) {
            size_t plane = ((size_t)n * C + c);
            const float *xc = x + plane * H * W;
            float *yc = y + plane * OH * OW;
            int32_t *ac = argmax + plane * OH * OW;
            for (int oy = 0; oy < OH; oy++) {
                for (int ox = 0; ox < OW; ox++) {
                    float best = -INFINITY;
                    int32_t at = -1;
                    for (int ki = 0; ki < k; ki++) {
                        int iy = oy * s - p + ki;
                        if (iy < 0 || iy >= H)
                            continue;
                        for (int kj = 0; kj < k; kj++) {
                            int ix = ox * s - p + kj;
                            if (ix < 0 || ix >= W)
                                continue;
                            float v = xc[(size_t)iy * W + ix];
                            /* As PyTorch: the first maximum wins, a NaN always. */
                            if (at < 0 || v > best || isnan(v)) {
                                best = v;
                                at = (int32_t)(c * H * W + iy * W + ix);
                                if (isnan(v))
                                    goto found;
                            }
                        }
                    }
                found:
                    yc[oy * OW + ox] = best;
                    ac[oy * OW + ox] = at;
                }
            }
        }
    }
}

void
layer_maxpool2d_backward(float *restrict dx, const float *restrict dy,
                         const int32_t *restrict argmax, int B, int C, int H, int W, int OH,
                         int OW)
{
    size_t in = (size_t)C * H * W, out = (size_t)C * OH * OW;
    memset(dx, 0, (size_t)B * in * sizeof *dx);
    for (int n = 0; n < B; n++) {
        float *dxn = dx + (size_t)n * in;
        const float *gn = dy + (size_t)n * out;
        const int32_t *an = argmax + (size_t)n * out;
        for (size_t j = 0; j < out; j++)
            dxn[an[j]] += gn[j];
    }
}

void
layer_avgpool2d_forward(float *restrict y, const float *restrict x, int B, int C, int H,
                        int W, int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    float inv = 1.0f / (float)(k * k);
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xc = x + plane * H * W;
        float *yc = y + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float acc = 0.0f;
                for (int ki = 0; ki < k; ki++) {
                    int iy = oy * s - p + ki;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kj = 0; kj < k; kj++) {
                        int ix = ox * s - p + kj;
                        if (ix >= 0 && ix < W)
                            acc += xc[(size_t)iy * W + ix];
                    }
                }
                yc[oy * OW + ox] = acc * inv;
            }
        }
    }
}

void
layer_avgpool2d_backward(float *restrict dx, const float *restrict dy, int B, int C, int H,
                         int W, int k, int s, int p)
{
    int OH = out_side(H, k, s, p), OW = out_side(W, k, s, p);
    float inv = 1.0f / (float)(k * k);
    memset(dx, 0, (size_t)B * C * H * W * sizeof *dx);
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        float *dc = dx + plane * H * W;
        const float *gc = dy + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float g = gc[oy * OW + ox] * inv;
                for (int ki = 0; ki < k; ki++) {
                    int iy = oy * s - p + ki;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kj = 0; kj < k; kj++) {
                        int ix = ox * s - p + kj;
                        if (ix >= 0 && ix < W)
                            dc[(size_t)iy * W + ix] += g;
                    }
                }
            }
        }
    }
}

void
layer_global_avgpool_forward(float *restrict y, const float *restrict x, int B, int C, int HW)
{
    float inv = 1.0f / (float)HW;
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xc = x + plane * HW;
        float acc = 0.0f;
        for (int j = 0; j < HW; j++)
            acc += xc[j];
        y[plane] = acc * inv;
    }
}

void
layer_global_avgpool_backward(float *restrict dx, const float *restrict dy, int B, int C,
                              int HW)
{
    float inv = 1.0f / (float)HW;
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        float g = dy[plane] * inv;
        float *dc = dx + plane * HW;
        for (int j = 0; j < HW; j++)
            dc[j] = g;
    }
}

bool
layer_batchnorm2d_forward(float *restrict y, float *restrict xhat, float *restrict mean,
                          float *restrict invstd, float *restrict run_mean,
                          float *restrict run_var, const float *restrict x,
                          const float *restrict gamma, const float *restrict beta,
                          bool training, int B, int C, int HW)
{
    bool moved = false;
    if (training) {
        /* Two passes per channel (mean, then squared deviations), in
         * double: a channel sums B HW values, thousands of them. */
        double m = (double)B * HW;
        moved = m > 1;
        for (int c = 0; c < C; c++) {
            double sum = 0.0, sq = 0.0;
            for (int n = 0; n < B; n++) {
                const float *xc = x + ((size_t)n * C + c) * HW;
                for (int j = 0; j < HW; j++)
                    sum += xc[j];
            }
            double mu = sum / m;
            for (int n = 0; n < B; n++) {
                const float *xc = x + ((size_t)n * C + c) * HW;
                for (int j = 0; j < HW; j++) {
                    double d = xc[j] - mu;
                    sq += d * d;
                }
            }
            mean[c] = (float)mu;
            invstd[c] = (float)(1.0 / sqrt(sq / m + (double)BN_EPS));
            if (moved) {
                float unbiased = (float)(sq / (m - 1));
                run_mean[c] = (1.0f - BN_MOMENTUM) * run_mean[c] + BN_MOMENTUM * mean[c];
                run_var[c] = (1.0f - BN_MOMENTUM) * run_var[c] + BN_MOMENTUM * unbiased;
            }
        }
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = run_mean[c];
            invstd[c] = 1.0f / sqrtf(run_var[c] + BN_EPS);
        }
    }
    for (int n = 0; n < B; n++) {
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)n * C + c) * HW;
            float mu = mean[c], is = invstd[c], g = gamma[c], bt = beta[c];
            for (int j = 0; j < HW; j++) {
                float h = (x[o + j] - mu) * is;
                xhat[o + j] = h;
                y[o + j] = g * h + bt;
            }
        }
    }
    return moved;
}

void
layer_batchnorm2d_backward(float *restrict dx, float *restrict dgamma, float *restrict dbeta,
                           const float *restrict dy, const float *restrict xhat,
                           const float *restrict invstd, const float *restrict gamma,
                           bool training, int B, int C, int HW)
{
    for (int c = 0; c < C; c++) {
        double sg = 0.0, sgh = 0.0;
        for (int n = 0; n < B; n++) {
            size_t o = ((size_t)n * C + c) * HW;
            for (int j = 0; j < HW; j++) {
                sg += dy[o + j];
                sgh += dy[o + j] * xhat[o + j];
            }
        }
        dbeta[c] = (float)sg;
        dgamma[c] = (float)sgh;
    }
    if (dx == NULL)
        return;
    /* As the 1-d batch norm, with B HW values per channel:
     * dX = gamma invstd (dY - dbeta / M - xhat dgamma / M). */
    float inv_m = 1.0f / ((float)B * (float)HW);
    for (int n = 0; n < B; n++) {
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)n * C + c) * HW;
            float a = gamma[c] * invstd[c];
            if (training) {
                float mb = inv_m * dbeta[c], mg = inv_m * dgamma[c];
                for (int j = 0; j < HW; j++)
                    dx[o + j] = a * (dy[o + j] - mb - xhat[o + j] * mg);
            } else {
                for (int j = 0; j < HW; j++)
                    dx[o + j] = a * dy[o + j];
            }
        }
    }
}

void
layer_dropout2d_forward(float *restrict y, float *restrict mask, const float *restrict x,
                        float p, bool training, struct rng *r, int B, int C, int HW)
{
    size_t n = (size_t)B * C * HW;
    if (!training) {
        memcpy(y, x, n * sizeof *y);
        return;
    }
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < (size_t)B * C; i++)
        mask[i] = rng_uniform(r) < (double)p ? 0.0f : keep;
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        float m = mask[plane];
        for (int j = 0; j < HW; j++)
            y[plane * HW + j] = x[plane * HW + j] * m;
    }
}

void
layer_dropout2d_backward(float *dx, const float *dy, const float *restrict mask,
                         bool training, int B, int C, int HW)
{
    size_t n = (size_t)B * C * HW;
    if (!training) {
        if (dx != dy)
            memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        float m = mask[plane];
        for (int j = 0; j < HW; j++)
            dx[plane * HW + j] = dy[plane * HW + j] * m;
    }
}
