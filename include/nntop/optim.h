/*
 * optim.h - optimizers with PyTorch's exact update rules, gradient
 * clipping, learning-rate schedules and the L2 penalty term.
 *
 * Everything here is element-wise over the model's single parameter
 * buffer; the moment buffers share its layout.  No threads, files, screen.
 */
#ifndef NNTOP_OPTIM_H
#define NNTOP_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

enum optim_kind {
    OPTIM_SGD,      /* torch.optim.SGD: momentum, dampening 0, nesterov, coupled L2 */
    OPTIM_ADAM,     /* torch.optim.Adam: coupled L2 (added to the gradient) */
    OPTIM_ADAMW,    /* torch.optim.AdamW: decoupled weight decay */
    OPTIM_KIND_COUNT
};

struct optim_spec {
    enum optim_kind kind;
    double lr;
    double momentum;        /* sgd; 0 = plain SGD */
    bool nesterov;          /* sgd; needs momentum > 0 */
    double weight_decay;
    double beta1, beta2;    /* adam, adamw */
    double eps;             /* adam, adamw */
};

enum clip_kind {
    CLIP_NONE,
    CLIP_NORM,              /* torch.nn.utils.clip_grad_norm_(max_norm = value) */
    CLIP_VALUE,             /* torch.nn.utils.clip_grad_value_(clip_value = value) */
    CLIP_KIND_COUNT
};

struct clip_spec {
    enum clip_kind kind;
    double value;           /* > 0 unless kind == CLIP_NONE */
};

enum sched_kind {
    SCHED_CONSTANT,
    SCHED_STEP,             /* lr * gamma^floor(s / step_size) */
    SCHED_EXP,              /* lr * gamma^s */
    SCHED_COSINE,           /* min_lr + (lr - min_lr) (1 + cos(pi s / T)) / 2 */
    SCHED_KIND_COUNT
};

struct sched_spec {
    enum sched_kind kind;
    long warmup;            /* linear warm-up steps (0 = none) */
    long step_size;         /* step */
    double gamma;           /* step, exp */
    double min_lr;          /* cosine */
    long total_steps;       /* cosine: the run's length T (warm-up included) */
};

struct optim {
    struct optim_spec spec;
    size_t n;
    float *m;               /* (n) momentum buffer / Adam first moment */
    float *v;               /* (n) Adam second moment; NULL for SGD */
    long t;                 /* steps taken */
};

/* New optimizer state for n > 0 parameters, moments zeroed; the kind is
 * fixed from here on (other spec fields may change).  Caller frees with
 * optim_free(). */
struct optim *optim_new(const struct optim_spec *spec, size_t n);
/* NULL is allowed. */
void optim_free(struct optim *o);
/*
 * One update of params (n) from grads (n) at learning rate lr, using
 * o->spec for everything else (so momentum, nesterov, weight decay, betas
 * and eps may be changed between steps, with torch's semantics for edits
 * of param_groups).  When update is non-NULL it receives the change applied
 * to every parameter (after momentum/Adam and weight decay), exactly
 * p_after - p_before.  The buffers must not overlap.  Every float32
 * rounding is torch 1.13's CPU one, so results are bit-identical to torch
 * (unless built with -ffast-math or -ffp-contract=fast).
 */
void optim_step(struct optim *o, float *params, const float *grads, double lr, float *update);
/*
 * optim_step() in parts, for threads that share a step: optim_begin_step()
 * once, then optim_step_range() over ranges [lo, hi) that cover [0, n)
 * once each (in any order, at once from several threads when they do not
 * overlap).  Together they are optim_step(), bit for bit.
 */
void optim_begin_step(struct optim *o);
void optim_step_range(struct optim *o, float *params, const float *grads, double lr, float *update,
                      size_t lo, size_t hi);

/*
 * Clip grads (n) in place per spec.  Returns the global L2 norm before
 * clipping (computed in double, in every mode); *clipped (may be NULL)
 * says whether anything changed.  CLIP_NORM scales by
 * value / (norm + 1e-6) when that is below 1.  A NaN or Inf gradient
 * makes the norm non-finite and leaves grads untouched.
 */
double clip_grads(float *grads, size_t n, const struct clip_spec *spec, bool *clipped);
/* clip_grads() with the norm already taken: norm is sqrt of
 * optim_sum_squares(grads, n), or of the same sum taken in parts. */
double clip_grads_with_norm(float *grads, size_t n, const struct clip_spec *spec, double norm,
                            bool *clipped);
/* The sum of x^2 over x (n), in double, in a fixed order (reproducible). */
double optim_sum_squares(const float *x, size_t n);
/* True when no entry of x (n) is NaN or infinite. */
bool optim_all_finite(const float *x, size_t n);

/*
 * The base lr that makes spec's lr at step s equal want (the schedule then
 * goes on from it).  Returns 0 and *new_base, or -1 (nothing changed) when
 * want, base, the schedule's current lr, the new base or the new lr at s
 * would not be finite, positive and normal (subnormal rates lose the
 * precision the schedule needs).
 */
int sched_rebase(const struct sched_spec *spec, double base, long s, double want,
                 double *new_base);

/*
 * Learning rate for optimizer step s (0-based: the number of steps already
 * taken) at base rate lr; what torch's scheduler gives when stepped once
 * per optimizer step.  With w = warmup > 0, steps s < w use torch's
 * LinearLR(start_factor=1/w, end_factor=1, total_iters=w):
 *     lr * (1/w + (1 - 1/w) * s / w)
 * (so 0.2, 0.36, 0.52, ... of lr for w = 5, not (s+1)/w), and from s = w
 * the main schedule runs on k = s - w, as SequentialLR(milestones=[w])
 * restarts it.  Cosine uses T = total_steps - w and holds min_lr for
 * k >= T (torch would climb again) and when T <= 0; step_size <= 0 means
 * constant.  Nothing is validated.
 */
double sched_lr(const struct sched_spec *spec, double lr, long s);

/* The coupled-L2 penalty weight_decay/2 * ||params||^2 (what SGD/Adam's
 * weight_decay is the gradient of); 0 for AdamW, whose decay is decoupled. */
double optim_l2_penalty(const struct optim_spec *spec, const float *params, size_t n);
/* The same penalty given sum_sq = ||params||^2. */
double optim_l2_penalty_of(const struct optim_spec *spec, double sum_sq);

/* The spec keywords of the kinds, in enum order (the config's keyword tables read them). */
extern const char *const optim_kind_names[OPTIM_KIND_COUNT];
extern const char *const sched_kind_names[SCHED_KIND_COUNT];
/* The spec keyword of each kind ("sgd", "step", "norm", ...); "?" out of range. */
const char *optim_kind_name(enum optim_kind k);
const char *clip_kind_name(enum clip_kind k);
const char *sched_kind_name(enum sched_kind k);

#endif
