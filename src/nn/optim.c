/*
 * optim.c - SGD (momentum, Nesterov), Adam and AdamW with the update rules
 * of torch 1.13's single-tensor (foreach=False) path, gradient clipping as
 * torch.nn.utils does it, learning-rate schedules and the L2 penalty.
 *
 * Reproducing torch to the bit is the point, so each line below mirrors
 * one torch tensor op and rounds where that op rounds:
 *   - element-wise maths is float32, and the Python-float scalars torch
 *     passes to a kernel (lr, momentum, 1 - beta1, ...) are computed in
 *     double and rounded to float once, as the kernel's Scalar argument is;
 *   - torch's CPU kernels evaluate add(alpha=) and addcmul as one fused
 *     multiply-add (measured on Debian's AVX2 build: vfmadd in the vector
 *     body, contracted in the scalar tail), so we call fmaf() there and
 *     nowhere else.  On x86-64 the loops are built twice (target_clones):
 *     with FMA instructions, and a baseline copy whose fmaf() is glibc's
 *     exact software version, so every machine gets the same bits.
 * Each step is one pass over the buffers; the choices (kind, momentum on,
 * weight decay on, update wanted) are made once per call, so the loop
 * bodies test no flags, and they run in blocks of 8 that the compiler
 * vectorizes at -O2 (Adam's sqrtf only with -fno-math-errno).
 *
 * It deliberately does not validate specs (cfg does), allocate during a
 * step, know about layers, or support amsgrad, dampening or maximize.
 */
#include "config.h"

#include "nntop/optim.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

/* torch rounds a * b before adding it unless its kernel fuses the two, so
 * no contraction beyond the explicit fmaf() calls: GCC leaves it off under
 * -std=c11 (configure's setting), clang needs to be told. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* One copy of the hot loops per instruction set; see the file comment.
 * Not under ThreadSanitizer: the load-time resolver that picks a copy runs
 * before TSan's runtime is up and crashes when instrumented. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones)
#define OPTIM_CLONES __attribute__((target_clones("fma", "default")))
#endif
#endif
#ifndef OPTIM_CLONES
#define OPTIM_CLONES
#endif

/* The loop templates below take their flags as constants; forcing them
 * inline is what turns each call site into its own branch-free loop. */
#if defined(__GNUC__)
#define OPTIM_INLINE static inline __attribute__((always_inline))
#else
#define OPTIM_INLINE static inline
#endif

/* Elements per unrolled block: one AVX vector of floats. */
#define OPTIM_BLOCK 8

/* clip_grads' epsilon, torch.nn.utils.clip_grad_norm_'s 1e-6. */
#define CLIP_NORM_EPS 1e-6

/* The double torch's math.pi is. */
#define OPTIM_PI 3.14159265358979323846

enum sgd_mode {
    SGD_PLAIN,              /* momentum == 0: the buffer is not touched */
    SGD_MOMENTUM,
    SGD_NESTEROV,
    SGD_MODE_COUNT
};

/* The float Scalars torch's SGD kernels see in one step. */
struct sgd_scalars {
    float wd;               /* d_p.add(param, alpha=weight_decay) */
    float momentum;         /* buf.mul_(momentum); d_p.add(buf, alpha=momentum) */
    float neg_lr;           /* param.add_(d_p, alpha=-lr) */
};

/* The float Scalars torch's Adam/AdamW kernels see in one step. */
struct adam_scalars {
    float wd;               /* Adam: grad.add(param, alpha=weight_decay) */
    float decay;            /* AdamW: param.mul_(1 - lr * weight_decay) */
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float bc2_sqrt;         /* sqrt(1 - beta2^t), rounded from double */
    float eps;
    float neg_step;         /* -lr / (1 - beta1^t), rounded from double */
};

struct optim *
optim_new(const struct optim_spec *spec, size_t n)
{
    assert(spec != NULL);
    assert(n > 0);
    assert((unsigned)spec->kind < OPTIM_KIND_COUNT);
    struct optim *o = xcalloc(1, sizeof *o);
    o->spec = *spec;
    o->n = n;
    /* Zeroed: SGD's first momentum step then gives buf = 0 * m + g = g,
     * which is torch's clone(d_p), with no "first step" flag to keep. */
    o->m = xalloc_aligned(n * sizeof *o->m);
    if (spec->kind != OPTIM_SGD)
        o->v = xalloc_aligned(n * sizeof *o->v);
    o->t = 0;
    return o;
}

void
optim_free(struct optim *o)
{
    if (o == NULL)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

/*
 * _single_tensor_sgd for element i of p (n), from g (n) and the momentum
 * buffer buf (n); up (n) gets p_after - p_before when up_on.
 */
OPTIM_INLINE void
sgd_elem(size_t i, float *restrict p, const float *restrict g, float *restrict buf,
         float *restrict up, struct sgd_scalars k, enum sgd_mode mode, bool wd_on,
         bool up_on)
{
    float before = p[i];
    float d = g[i];
    if (wd_on)
        d = fmaf(before, k.wd, d);
    if (mode != SGD_PLAIN) {
        /* mul_ rounds; add_(alpha=1) is exact-then-round either way */
        float b = buf[i] * k.momentum + d;
        buf[i] = b;
        d = mode == SGD_NESTEROV ? fmaf(b, k.momentum, d) : b;
    }
    float after = fmaf(d, k.neg_lr, before);
    p[i] = after;
    if (up_on)
        up[i] = after - before;
}

/* The whole buffer: blocks of OPTIM_BLOCK (a fixed trip count the
 * compiler turns into vector code), then the tail. */
OPTIM_INLINE void
sgd_loop(size_t n, float *restrict p, const float *restrict g, float *restrict buf,
         float *restrict up, struct sgd_scalars k, enum sgd_mode mode, bool wd_on,
         bool up_on)
{
    size_t i = 0;
    for (; i + OPTIM_BLOCK <= n; i += OPTIM_BLOCK) {
        for (size_t j = 0; j < OPTIM_BLOCK; j++)
            sgd_elem(i + j, p, g, buf, up, k, mode, wd_on, up_on);
    }
    for (; i < n; i++)
        sgd_elem(i, p, g, buf, up, k, mode, wd_on, up_on);
}

/* Expand the (mode, weight decay) pair into its own loop. */
OPTIM_INLINE void
sgd_modes(size_t n, float *restrict p, const float *restrict g, float *restrict buf,
          float *restrict up, struct sgd_scalars k, enum sgd_mode mode, bool wd_on,
          bool up_on)
{
    switch (mode) {
    case SGD_PLAIN:
        if (wd_on)
            sgd_loop(n, p, g, buf, up, k, SGD_PLAIN, true, up_on);
        else
            sgd_loop(n, p, g, buf, up, k, SGD_PLAIN, false, up_on);
        break;
    case SGD_MOMENTUM:
        if (wd_on)
            sgd_loop(n, p, g, buf, up, k, SGD_MOMENTUM, true, up_on);
        else
            sgd_loop(n, p, g, buf, up, k, SGD_MOMENTUM, false, up_on);
        break;
    case SGD_NESTEROV:
        if (wd_on)
            sgd_loop(n, p, g, buf, up, k, SGD_NESTEROV, true, up_on);
        else
            sgd_loop(n, p, g, buf, up, k, SGD_NESTEROV, false, up_on);
        break;
    case SGD_MODE_COUNT:
        assert(0);
        break;
    }
}

static void OPTIM_CLONES
sgd_update(size_t n, float *restrict p, const float *restrict g, float *restrict buf,
           float *restrict up, struct sgd_scalars k, enum sgd_mode mode, bool wd_on)
{
    if (up != NULL)
        sgd_modes(n, p, g, buf, up, k, mode, wd_on, true);
    else
        sgd_modes(n, p, g, buf, up, k, mode, wd_on, false);
}

/*
 * _single_tensor_adam / _single_tensor_adamw for element i of p (n), from
 * g (n) and the moments m (n), v (n).  coupled adds weight decay to the
 * gradient (Adam), decoupled shrinks the parameter first (AdamW).
 */
OPTIM_INLINE void
adam_elem(size_t i, float *restrict p, const float *restrict g, float *restrict m,
          float *restrict v, float *restrict up, struct adam_scalars k, bool coupled,
          bool decoupled, bool up_on)
{
    float before = p[i];
    float x = decoupled ? before * k.decay : before;
    float gi = coupled ? fmaf(x, k.wd, g[i]) : g[i];
    /* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1) */
    float mi = fmaf(gi, k.one_minus_beta1, m[i] * k.beta1);
    /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2) */
    float vi = fmaf(k.one_minus_beta2 * gi, gi, v[i] * k.beta2);
    m[i] = mi;
    v[i] = vi;
    /* denom = (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps) */
    float denom = sqrtf(vi) / k.bc2_sqrt + k.eps;
    /* param.addcdiv_(exp_avg, denom, value=-step_size) */
    float after = x + k.neg_step * mi / denom;
    p[i] = after;
    if (up_on)
        up[i] = after - before;
}

/* As sgd_loop.  sqrtf() vectorizes only under -fno-math-errno: without
 * it the compiler keeps a call for negative inputs (which v never has). */
OPTIM_INLINE void
adam_loop(size_t n, float *restrict p, const float *restrict g, float *restrict m,
          float *restrict v, float *restrict up, struct adam_scalars k, bool coupled,
          bool decoupled, bool up_on)
{
    size_t i = 0;
    for (; i + OPTIM_BLOCK <= n; i += OPTIM_BLOCK) {
        for (size_t j = 0; j < OPTIM_BLOCK; j++)
            adam_elem(i + j, p, g, m, v, up, k, coupled, decoupled, up_on);
    }
    for (; i < n; i++)
        adam_elem(i, p, g, m, v, up, k, coupled, decoupled, up_on);
}

static void OPTIM_CLONES
adam_update(size_t n, float *restrict p, const float *restrict g, float *restrict m,
            float *restrict v, float *restrict up, struct adam_scalars k, bool coupled,
            bool decoupled)
{
    if (up != NULL) {
        if (decoupled)
            adam_loop(n, p, g, m, v, up, k, false, true, true);
        else if (coupled)
            adam_loop(n, p, g, m, v, up, k, true, false, true);
        else
            adam_loop(n, p, g, m, v, up, k, false, false, true);
    } else {
        if (decoupled)
            adam_loop(n, p, g, m, v, up, k, false, true, false);
        else if (coupled)
            adam_loop(n, p, g, m, v, up, k, true, false, false);
        else
            adam_loop(n, p, g, m, v, up, k, false, false, false);
    }
}

void
optim_step(struct optim *o, float *params, const float *grads, double lr, float *update)
{
    optim_begin_step(o);
    optim_step_range(o, params, grads, lr, update, 0, o->n);
}

void
optim_begin_step(struct optim *o)
{
    assert(o != NULL);
    o->t++;
}

void
optim_step_range(struct optim *o, float *params, const float *grads, double lr, float *update,
                 size_t lo, size_t hi)
{
    assert(o != NULL && params != NULL && grads != NULL && lo <= hi && hi <= o->n);
    const struct optim_spec *s = &o->spec;
    /* Every entry's update depends on that entry alone: a range is the
     * same loop on shifted pointers, bit for bit. */
    size_t n = hi - lo;
    params += lo;
    grads += lo;
    float *m = o->m + lo;
    if (update != NULL)
        update += lo;
    if (s->kind == OPTIM_SGD) {
        struct sgd_scalars k = {
            .wd = (float)s->weight_decay,
            .momentum = (float)s->momentum,
            .neg_lr = (float)-lr,
        };
        /* torch tests momentum and nesterov afresh each step, so a
         * momentum set to 0 live leaves the buffer as it was */
        enum sgd_mode mode = s->momentum == 0.0 ? SGD_PLAIN
                             : s->nesterov ? SGD_NESTEROV : SGD_MOMENTUM;
        sgd_update(n, params, grads, m, update, k, mode, s->weight_decay != 0.0);
        return;
    }
    assert(o->v != NULL);       /* the kind is fixed at optim_new() */
    /* Python-float scalars, as torch computes them from step = t */
    double step = (double)o->t;
    double bc1 = 1.0 - pow(s->beta1, step);
    double bc2 = 1.0 - pow(s->beta2, step);
    struct adam_scalars k = {
        .wd = (float)s->weight_decay,
        .decay = (float)(1.0 - lr * s->weight_decay),
        .beta1 = (float)s->beta1,
        .one_minus_beta1 = (float)(1.0 - s->beta1),
        .beta2 = (float)s->beta2,
        .one_minus_beta2 = (float)(1.0 - s->beta2),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = (float)s->eps,
        .neg_step = (float)-(lr / bc1),
    };
    bool decoupled = s->kind == OPTIM_ADAMW;
    bool coupled = !decoupled && s->weight_decay != 0.0;
    adam_update(n, params, grads, m, o->v + lo, update, k, coupled, decoupled);
}

/*
 * Sixteen partial sums, in four vectors of doubles held in registers, break
 * the add chain, which with four partial sums ran at one entry a cycle:
 * this runs on every step, over every parameter.  The order is fixed, so
 * the result is reproducible.  A float's square is exact in a double, so
 * an FMA or not gives the same sums.
 */
typedef float sq_v4f __attribute__((vector_size(16)));
typedef double sq_v4d __attribute__((vector_size(32)));

double OPTIM_CLONES
optim_sum_squares(const float *restrict x, size_t n)
{
    sq_v4d a0 = {0.0}, a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        sq_v4f f0, f1, f2, f3;
        memcpy(&f0, x + i, sizeof f0);
        memcpy(&f1, x + i + 4, sizeof f1);
        memcpy(&f2, x + i + 8, sizeof f2);
        memcpy(&f3, x + i + 12, sizeof f3);
        sq_v4d d0 = __builtin_convertvector(f0, sq_v4d);
        sq_v4d d1 = __builtin_convertvector(f1, sq_v4d);
        sq_v4d d2 = __builtin_convertvector(f2, sq_v4d);
        sq_v4d d3 = __builtin_convertvector(f3, sq_v4d);
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    double tail = 0.0;
    for (; i < n; i++)
        tail += (double)x[i] * x[i];
    sq_v4d v = (a0 + a1) + (a2 + a3);
    return ((v[0] + v[1]) + (v[2] + v[3])) + tail;
}

/* clamp_(-hi, hi) over g (n); true when any entry changed. */
static bool
clamp_grads(float *restrict g, size_t n, float hi)
{
    float lo = -hi;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        float x = g[i];
        float c = x < lo ? lo : x;
        c = c > hi ? hi : c;
        changed |= c != x;
        g[i] = c;
    }
    return changed;
}

double
clip_grads(float *grads, size_t n, const struct clip_spec *spec, bool *clipped)
{
    assert(grads != NULL || n == 0);
    return clip_grads_with_norm(grads, n, spec, sqrt(optim_sum_squares(grads, n)), clipped);
}

double
clip_grads_with_norm(float *grads, size_t n, const struct clip_spec *spec, double norm,
                     bool *clipped)
{
    assert(spec != NULL);
    assert(grads != NULL || n == 0);
    bool changed = false;
    /* A non-finite norm means a NaN or Inf gradient: leave the evidence
     * alone (torch would smear NaN over every gradient). */
    if (isfinite(norm)) {
        switch (spec->kind) {
        case CLIP_NONE:
            break;
        case CLIP_NORM: {
            double coef = spec->value / (norm + CLIP_NORM_EPS);
            if (coef < 1.0) {
                float c = (float)coef;
                for (size_t i = 0; i < n; i++)
                    grads[i] *= c;
                changed = true;
            }
            break;
        }
        case CLIP_VALUE:
            changed = clamp_grads(grads, n, (float)spec->value);
            break;
        case CLIP_KIND_COUNT:
            assert(0);
            break;
        }
    }
    if (clipped != NULL)
        *clipped = changed;
    return norm;
}

/* A rate the arithmetic can carry: finite, positive, not subnormal. */
static bool
usable_rate(double x)
{
    return x > 0.0 && isnormal(x);
}

int
sched_rebase(const struct sched_spec *spec, double base, long s, double want, double *new_base)
{
    if (!usable_rate(want) || !usable_rate(base))
        return -1;
    /* Every schedule is affine in its base at a given step, lr = a + m b:
     * solve for b, whatever the current base (so a rate that decayed to
     * almost nothing can still be set).  A schedule whose lr here does
     * not depend on the base (a cosine past its end) cannot be moved:
     * say so rather than store a base it ignores. */
    double a = sched_lr(spec, 0.0, s);
    double m = sched_lr(spec, 1.0, s) - a;
    if (!usable_rate(m))
        return -1;
    double nb = (want - a) / m;
    double eff = sched_lr(spec, nb, s);
    if (!usable_rate(nb) || !usable_rate(eff))
        return -1;
    *new_base = nb;
    return 0;
}

double
sched_lr(const struct sched_spec *spec, double lr, long s)
{
    assert(spec != NULL);
    long warmup = spec->warmup > 0 ? spec->warmup : 0;
    if (s < warmup) {
        /* LinearLR(start_factor=1/w, end_factor=1, total_iters=w) */
        double w = (double)warmup;
        double start = 1.0 / w;
        return lr * (start + (1.0 - start) * (double)s / w);
    }
    long k = s - warmup;        /* the main schedule restarts at the milestone */
    switch (spec->kind) {
    case SCHED_CONSTANT:
        return lr;
    case SCHED_STEP:
        if (spec->step_size <= 0)
            return lr;
        return lr * pow(spec->gamma, (double)(k / spec->step_size));
    case SCHED_EXP:
        return lr * pow(spec->gamma, (double)k);
    case SCHED_COSINE: {
        long tmax = spec->total_steps - warmup;
        if (tmax <= 0 || k >= tmax)
            return spec->min_lr;
        double c = cos(OPTIM_PI * (double)k / (double)tmax);
        return spec->min_lr + (lr - spec->min_lr) * (1.0 + c) / 2.0;
    }
    case SCHED_KIND_COUNT:
        break;
    }
    assert(0);
    return lr;
}

double
optim_l2_penalty(const struct optim_spec *spec, const float *params, size_t n)
{
    assert(spec != NULL);
    if (spec->kind == OPTIM_ADAMW || spec->weight_decay == 0.0)
        return 0.0;
    return optim_l2_penalty_of(spec, optim_sum_squares(params, n));
}

double
optim_l2_penalty_of(const struct optim_spec *spec, double sum_sq)
{
    assert(spec != NULL);
    if (spec->kind == OPTIM_ADAMW || spec->weight_decay == 0.0)
        return 0.0;
    return spec->weight_decay / 2.0 * sum_sq;
}

/*
 * This runs on every step.  An entry is NaN or infinite when its exponent
 * bits are all ones, and then adding one to the exponent field carries into
 * the sign bit: so the test is an OR of (u & EXP) + ONE over x, a pure
 * bitwise pass.  The block loop on four 4-lane vectors is what gcc -O2 makes
 * SSE2 of (its loop of comparisons it kept scalar, 1 entry a cycle): 7 us
 * instead of 18-32 us for half the 235k parameters of the Fashion-MNIST MLP.
 */
#if defined(__GNUC__)
typedef uint32_t finite_v4 __attribute__((vector_size(16)));

static uint32_t
exp_carry_blocks(const float *x, size_t nb)
{
    const uint32_t exp = 0x7f800000u, one = 0x00800000u;
    finite_v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (size_t b = 0; b < nb; b++, x += 16) {
        finite_v4 u0, u1, u2, u3;
        memcpy(&u0, x, sizeof u0);
        memcpy(&u1, x + 4, sizeof u1);
        memcpy(&u2, x + 8, sizeof u2);
        memcpy(&u3, x + 12, sizeof u3);
        a0 |= (u0 & exp) + one;
        a1 |= (u1 & exp) + one;
        a2 |= (u2 & exp) + one;
        a3 |= (u3 & exp) + one;
    }
    finite_v4 a = a0 | a1 | a2 | a3;
    return a[0] | a[1] | a[2] | a[3];
}
#else
static uint32_t
exp_carry_blocks(const float *x, size_t nb)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < nb * 16; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) + 0x00800000u;
    }
    return bad;
}
#endif

bool
optim_all_finite(const float *x, size_t n)
{
    size_t nb = n / 16;
    uint32_t bad = nb > 0 ? exp_carry_blocks(x, nb) : 0;
    for (size_t i = nb * 16; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) + 0x00800000u;
    }
    return (bad & 0x80000000u) == 0;
}

const char *const optim_kind_names[OPTIM_KIND_COUNT] = {
    [OPTIM_SGD] = "sgd",
    [OPTIM_ADAM] = "adam",
    [OPTIM_ADAMW] = "adamw",
};

const char *
optim_kind_name(enum optim_kind k)
{
    return (unsigned)k < OPTIM_KIND_COUNT ? optim_kind_names[k] : "?";
}

const char *
clip_kind_name(enum clip_kind k)
{
    static const char *const names[CLIP_KIND_COUNT] = {
        [CLIP_NONE] = "none",
        [CLIP_NORM] = "norm",
        [CLIP_VALUE] = "value",
    };
    return (unsigned)k < CLIP_KIND_COUNT ? names[k] : "?";
}

const char *const sched_kind_names[SCHED_KIND_COUNT] = {
    [SCHED_CONSTANT] = "constant",
    [SCHED_STEP] = "step",
    [SCHED_EXP] = "exp",
    [SCHED_COSINE] = "cosine",
};

const char *
sched_kind_name(enum sched_kind k)
{
    return (unsigned)k < SCHED_KIND_COUNT ? sched_kind_names[k] : "?";
}
