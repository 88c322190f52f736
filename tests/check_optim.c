/*
 * check_optim.c - tests for the optimizers, gradient clipping, schedules
 * and L2 penalty against PyTorch's own numbers (tests/data/optim_ref.txt,
 * written by tests/gen_optim_ref.py; the format is described there), plus
 * the edge cases torch has no opinion on (non-finite gradients, degenerate
 * schedules, kind names).
 *
 * It does not need PyTorch and does not time anything.
 * CK_FORK=no runs the tests in one process, for gdb.
 */
#include "config.h"

#include "nntop/optim.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"

#define REF_FILE "optim_ref.txt"
#define REF_MAGIC "nntop-optim-ref 1"
#define REF_MAX_N 16
#define REF_MAX_STEPS 8
#define REF_MAX_LRS 40
#define REF_MAX_CASES 32
#define REF_NAME_LEN 64

/*
 * Tolerances.  float32 parameters: relative to the largest magnitude the
 * parameter had so far, because a parameter that moves towards zero keeps
 * the absolute rounding error of the values it came from.  The
 * implementation reproduces torch's roundings, so the real difference is
 * 0 (test_optim__bitwise_equal_to_torch); 1e-6 leaves room for a build
 * that rounds differently (e.g. -ffp-contract=fast, about 1e-7 here) while
 * still catching any change to the update rule.  Learning rates and norms
 * are doubles: torch's recursive schedulers and our closed forms differ
 * only by accumulated double roundings.
 */
#define TOL_F32 1e-6
#define TOL_F64 1e-12

struct ref_step {
    double lr, momentum, wd, beta1, beta2, eps;
    float grad[REF_MAX_N];
    float expect[REF_MAX_N];
};

struct ref_optim {
    char name[REF_NAME_LEN];
    enum optim_kind kind;
    bool nesterov;
    size_t n;
    int nsteps;
    float params[REF_MAX_N];
    struct ref_step step[REF_MAX_STEPS];
};

struct ref_clip {
    char name[REF_NAME_LEN];
    struct clip_spec spec;
    size_t n;
    float grad[REF_MAX_N];
    double norm64, norm32;
    bool clipped;
    float expect[REF_MAX_N];
};

struct ref_sched {
    char name[REF_NAME_LEN];
    struct sched_spec spec;
    double lr;
    int count;
    double lrs[REF_MAX_LRS];
};

struct ref_l2 {
    char name[REF_NAME_LEN];
    struct optim_spec spec;
    size_t n;
    double penalty;
    float params[REF_MAX_N];
};

struct ref {
    struct ref_optim optim[REF_MAX_CASES];
    int n_optim;
    struct ref_clip clip[REF_MAX_CASES];
    int n_clip;
    struct ref_sched sched[REF_MAX_CASES];
    int n_sched;
    struct ref_l2 l2[REF_MAX_CASES];
    int n_l2;
};

static struct ref ref;


/* The next line must be "tag v1 .. vn" with exactly n numbers. */
static void
reader_doubles(struct check_lines *r, const char *tag, double *out, size_t n)
{
    ck_assert_msg(check_lines_next(r), "%s: expected a '%s' line, got end of file",
                  REF_FILE, tag);
    size_t tlen = strlen(tag);
    ck_assert_msg(strncmp(r->line, tag, tlen) == 0 && r->line[tlen] == ' ',
                  "%s:%ld: expected a '%s' line, got '%.40s'", REF_FILE, r->lineno, tag,
                  r->line);
    const char *p = r->line + tlen;
    for (size_t i = 0; i < n; i++) {
        char *end;
        out[i] = strtod(p, &end);
        ck_assert_msg(end != p, "%s:%ld: '%s' line has %zu numbers, expected %zu",
                      REF_FILE, r->lineno, tag, i, n);
        p = end;
    }
    while (*p == ' ')
        p++;
    ck_assert_msg(*p == '\0', "%s:%ld: '%s' line has more than %zu numbers", REF_FILE,
                  r->lineno, tag, n);
}

static void
reader_floats(struct check_lines *r, const char *tag, float *out, size_t n)
{
    double tmp[REF_MAX_LRS];
    ck_assert(n <= REF_MAX_LRS);
    reader_doubles(r, tag, tmp, n);
    /* %.9g text rounds to the float32 torch printed, through double or not */
    for (size_t i = 0; i < n; i++)
        out[i] = (float)tmp[i];
}

static enum optim_kind
optim_kind_parse(const char *s)
{
    for (int k = 0; k < OPTIM_KIND_COUNT; k++)
        if (strcmp(s, optim_kind_name((enum optim_kind)k)) == 0)
            return (enum optim_kind)k;
    ck_abort_msg("%s: unknown optimizer '%s'", REF_FILE, s);
    return OPTIM_KIND_COUNT;
}

static enum clip_kind
clip_kind_parse(const char *s)
{
    for (int k = 0; k < CLIP_KIND_COUNT; k++)
        if (strcmp(s, clip_kind_name((enum clip_kind)k)) == 0)
            return (enum clip_kind)k;
    ck_abort_msg("%s: unknown clip kind '%s'", REF_FILE, s);
    return CLIP_KIND_COUNT;
}

static enum sched_kind
sched_kind_parse(const char *s)
{
    for (int k = 0; k < SCHED_KIND_COUNT; k++)
        if (strcmp(s, sched_kind_name((enum sched_kind)k)) == 0)
            return (enum sched_kind)k;
    ck_abort_msg("%s: unknown schedule '%s'", REF_FILE, s);
    return SCHED_KIND_COUNT;
}

static void
read_optim(struct check_lines *r)
{
    ck_assert(ref.n_optim < REF_MAX_CASES);
    struct ref_optim *c = &ref.optim[ref.n_optim++];
    char kind[16];
    int nesterov, nsteps;
    size_t n;
    ck_assert_msg(sscanf(r->line, "optim %63s %15s %d %zu %d", c->name, kind, &nesterov,
                         &n, &nsteps) == 5,
                  "%s:%ld: bad optim line '%s'", REF_FILE, r->lineno, r->line);
    ck_assert(n > 0 && n <= REF_MAX_N && nsteps > 0 && nsteps <= REF_MAX_STEPS);
    c->kind = optim_kind_parse(kind);
    c->nesterov = nesterov != 0;
    c->n = n;
    c->nsteps = nsteps;
    reader_floats(r, "params", c->params, n);
    for (int s = 0; s < nsteps; s++) {
        struct ref_step *st = &c->step[s];
        double h[6];
        reader_doubles(r, "step", h, 6);
        st->lr = h[0];
        st->momentum = h[1];
        st->wd = h[2];
        st->beta1 = h[3];
        st->beta2 = h[4];
        st->eps = h[5];
        reader_floats(r, "grad", st->grad, n);
        reader_floats(r, "expect", st->expect, n);
    }
}

static void
read_clip(struct check_lines *r)
{
    ck_assert(ref.n_clip < REF_MAX_CASES);
    struct ref_clip c = { .name = "" };
    char kind[16];
    ck_assert_msg(sscanf(r->line, "clip %63s %15s %lf %zu", c.name, kind, &c.spec.value,
                         &c.n) == 4,
                  "%s:%ld: bad clip line '%s'", REF_FILE, r->lineno, r->line);
    ck_assert(c.n > 0 && c.n <= REF_MAX_N);
    c.spec.kind = clip_kind_parse(kind);
    reader_floats(r, "grad", c.grad, c.n);
    double norms[2], flag;
    reader_doubles(r, "norm", norms, 2);
    c.norm64 = norms[0];
    c.norm32 = norms[1];
    reader_doubles(r, "clipped", &flag, 1);
    c.clipped = flag != 0.0;
    reader_floats(r, "expect", c.expect, c.n);
    ref.clip[ref.n_clip++] = c;
}

static void
read_sched(struct check_lines *r)
{
    ck_assert(ref.n_sched < REF_MAX_CASES);
    struct ref_sched *c = &ref.sched[ref.n_sched++];
    char kind[16];
    ck_assert_msg(sscanf(r->line, "sched %63s %15s %lf %ld %ld %lf %lf %ld %d", c->name,
                         kind, &c->lr, &c->spec.warmup, &c->spec.step_size,
                         &c->spec.gamma, &c->spec.min_lr, &c->spec.total_steps,
                         &c->count) == 9,
                  "%s:%ld: bad sched line '%s'", REF_FILE, r->lineno, r->line);
    ck_assert(c->count > 0 && c->count <= REF_MAX_LRS);
    c->spec.kind = sched_kind_parse(kind);
    reader_doubles(r, "lr", c->lrs, (size_t)c->count);
}

static void
read_l2(struct check_lines *r)
{
    ck_assert(ref.n_l2 < REF_MAX_CASES);
    struct ref_l2 *c = &ref.l2[ref.n_l2++];
    char kind[16];
    ck_assert_msg(sscanf(r->line, "l2 %63s %15s %lf %zu %lf", c->name, kind,
                         &c->spec.weight_decay, &c->n, &c->penalty) == 5,
                  "%s:%ld: bad l2 line '%s'", REF_FILE, r->lineno, r->line);
    ck_assert(c->n > 0 && c->n <= REF_MAX_N);
    c->spec.kind = optim_kind_parse(kind);
    reader_floats(r, "params", c->params, c->n);
}

/* Checked fixture: parse the whole reference file into ref. */
static void
ref_load(void)
{
    memset(&ref, 0, sizeof ref);
    const char *path = check_data_path(REF_FILE);
    struct check_lines r = { .f = fopen(path, "r") };
    ck_assert_msg(r.f != NULL, "cannot open %s (set top_srcdir?)", path);
    ck_assert_msg(check_lines_next(&r) && strcmp(r.line, REF_MAGIC) == 0,
                  "%s: first line should be '%s', got '%s'", path, REF_MAGIC,
                  r.line != NULL ? r.line : "");
    while (check_lines_next(&r)) {
        if (strncmp(r.line, "optim ", 6) == 0)
            read_optim(&r);
        else if (strncmp(r.line, "clip ", 5) == 0)
            read_clip(&r);
        else if (strncmp(r.line, "sched ", 6) == 0)
            read_sched(&r);
        else if (strncmp(r.line, "l2 ", 3) == 0)
            read_l2(&r);
        else
            ck_abort_msg("%s:%ld: unexpected line '%.40s'", path, r.lineno, r.line);
    }
    free(r.line);
    fclose(r.f);
    ck_assert_msg(ref.n_optim >= 10 && ref.n_clip >= 5 && ref.n_sched >= 8 && ref.n_l2 >= 3,
                  "%s: too few cases (optim %d, clip %d, sched %d, l2 %d)", path,
                  ref.n_optim, ref.n_clip, ref.n_sched, ref.n_l2);
}

static void
ref_unload(void)
{
}

/* The distance between a and b in float32 units in the last place. */
static int64_t
ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    /* map the sign-magnitude ordering onto a monotone integer line */
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia;
    int64_t lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return la > lb ? la - lb : lb - la;
}

static struct optim_spec
spec_of(const struct ref_optim *c, const struct ref_step *st)
{
    struct optim_spec s = {
        .kind = c->kind,
        .lr = st->lr,
        .momentum = st->momentum,
        .nesterov = c->nesterov,
        .weight_decay = st->wd,
        .beta1 = st->beta1,
        .beta2 = st->beta2,
        .eps = st->eps,
    };
    return s;
}

/*
 * Run case c through nntop's optimizer, setting o->spec from each step's
 * group values as the trainer does for live edits, and compare with torch
 * after every step.  Returns the largest difference in ulps.
 */
static int64_t
run_optim_case(const struct ref_optim *c)
{
    float p[REF_MAX_N], before[REF_MAX_N], up[REF_MAX_N];
    double scale[REF_MAX_N];     /* max |param| so far, torch's values */
    const float *prev = c->params;
    struct optim_spec spec = spec_of(c, &c->step[0]);
    struct optim *o = optim_new(&spec, c->n);
    int64_t worst = 0;
    memcpy(p, c->params, c->n * sizeof *p);
    for (size_t i = 0; i < c->n; i++)
        scale[i] = fabs(c->params[i]);
    for (int s = 0; s < c->nsteps; s++) {
        const struct ref_step *st = &c->step[s];
        o->spec = spec_of(c, st);
        memcpy(before, p, sizeof before);
        optim_step(o, p, st->grad, st->lr, up);
        ck_assert_msg(o->t == s + 1, "%s: steps taken %ld, expected %d", c->name, o->t,
                      s + 1);
        for (size_t i = 0; i < c->n; i++) {
            float want = st->expect[i];
            scale[i] = fmax(scale[i], fabs(want));
            double diff = fabs((double)p[i] - want);
            ck_assert_msg(diff <= TOL_F32 * scale[i],
                          "%s step %d param %zu: expected %.9g (torch), got %.9g "
                          "(diff %.3g > %.1g x %.3g)",
                          c->name, s + 1, i, want, p[i], diff, TOL_F32, scale[i]);
            /* update is exactly what was applied to the parameter */
            float applied = p[i] - before[i];
            ck_assert_msg(memcmp(&up[i], &applied, sizeof applied) == 0,
                          "%s step %d update %zu: expected p_after - p_before = %.9g, "
                          "got %.9g", c->name, s + 1, i, applied, up[i]);
            /* and what torch applied */
            double torch_up = (double)want - prev[i];
            ck_assert_msg(fabs(up[i] - torch_up) <= TOL_F32 * scale[i],
                          "%s step %d update %zu: expected %.9g (torch), got %.9g",
                          c->name, s + 1, i, torch_up, up[i]);
            int64_t u = ulps(p[i], want);
            if (u > worst)
                worst = u;
        }
        prev = st->expect;
    }
    optim_free(o);
    return worst;
}

static void
check_optim_kind(enum optim_kind kind)
{
    int ran = 0;
    for (int i = 0; i < ref.n_optim; i++) {
        if (ref.optim[i].kind != kind)
            continue;
        run_optim_case(&ref.optim[i]);
        ran++;
    }
    ck_assert_msg(ran >= 3, "expected at least 3 %s cases in %s, found %d",
                  optim_kind_name(kind), REF_FILE, ran);
}

START_TEST(test_optim__sgd_matches_torch)
{
    check_optim_kind(OPTIM_SGD);
}
END_TEST

START_TEST(test_optim__adam_matches_torch)
{
    check_optim_kind(OPTIM_ADAM);
}
END_TEST

START_TEST(test_optim__adamw_matches_torch)
{
    check_optim_kind(OPTIM_ADAMW);
}
END_TEST

/*
 * optim.c mirrors each rounding of torch's kernels (fused where torch
 * fuses), so every parameter should equal torch's to the bit.  If this
 * fails while the *_matches_torch tests pass, the build changed how float
 * expressions round (e.g. -ffp-contract=fast or -ffast-math).
 */
START_TEST(test_optim__bitwise_equal_to_torch)
{
    for (int i = 0; i < ref.n_optim; i++) {
        int64_t worst = run_optim_case(&ref.optim[i]);
        ck_assert_msg(worst == 0, "%s: expected bit-identical parameters, got a "
                      "difference of %lld ulp", ref.optim[i].name, (long long)worst);
    }
}
END_TEST

/* Every live-edit case (momentum switched off and on again, betas and
 * weight decay changed) is present, so the paths torch takes are covered. */
START_TEST(test_optim__live_changes_cases_present)
{
    static const char *const names[] = {
        "sgd_live_momentum", "sgd_live_from_zero", "sgd_live_nesterov", "adam_live",
        "adamw_live",
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        bool found = false;
        for (int i = 0; i < ref.n_optim; i++)
            found |= strcmp(ref.optim[i].name, names[k]) == 0;
        ck_assert_msg(found, "case %s missing from %s", names[k], REF_FILE);
    }
}
END_TEST

/* A NULL update takes its own loop; the parameters must not notice. */
START_TEST(test_optim__null_update_same_params)
{
    for (int i = 0; i < ref.n_optim; i++) {
        const struct ref_optim *c = &ref.optim[i];
        struct optim_spec spec = spec_of(c, &c->step[0]);
        struct optim *a = optim_new(&spec, c->n);
        struct optim *b = optim_new(&spec, c->n);
        float pa[REF_MAX_N], pb[REF_MAX_N], up[REF_MAX_N];
        memcpy(pa, c->params, sizeof pa);
        memcpy(pb, c->params, sizeof pb);
        for (int s = 0; s < c->nsteps; s++) {
            a->spec = b->spec = spec_of(c, &c->step[s]);
            optim_step(a, pa, c->step[s].grad, c->step[s].lr, up);
            optim_step(b, pb, c->step[s].grad, c->step[s].lr, NULL);
        }
        ck_assert_msg(memcmp(pa, pb, c->n * sizeof *pa) == 0,
                      "%s: parameters differ with update NULL", c->name);
        ck_assert_msg(memcmp(a->m, b->m, c->n * sizeof *a->m) == 0,
                      "%s: first moment differs with update NULL", c->name);
        optim_free(a);
        optim_free(b);
    }
}
END_TEST

/* SGD with momentum 0 leaves the buffer alone, as torch leaves its state. */
START_TEST(test_optim__sgd_plain_keeps_buffer)
{
    struct optim_spec spec = { .kind = OPTIM_SGD, .lr = 0.1, .momentum = 0.9 };
    struct optim *o = optim_new(&spec, 3);
    float p[3] = { 1.0f, -2.0f, 0.5f };
    const float g[3] = { 0.25f, 0.5f, -1.0f };
    optim_step(o, p, g, 0.1, NULL);
    float saved[3];
    memcpy(saved, o->m, sizeof saved);
    ck_assert_msg(saved[0] == 0.25f && saved[2] == -1.0f,
                  "first momentum step: expected buf = g (0.25, -1), got (%g, %g)",
                  saved[0], saved[2]);
    o->spec.momentum = 0.0;
    optim_step(o, p, g, 0.1, NULL);
    ck_assert_msg(memcmp(saved, o->m, sizeof saved) == 0,
                  "momentum 0: buffer changed from (%g %g %g) to (%g %g %g)", saved[0],
                  saved[1], saved[2], o->m[0], o->m[1], o->m[2]);
    optim_free(o);
}
END_TEST

START_TEST(test_optim__clip_matches_torch)
{
    bool kinds[CLIP_KIND_COUNT] = { false };
    bool acted = false, passed = false;
    for (int i = 0; i < ref.n_clip; i++) {
        const struct ref_clip *c = &ref.clip[i];
        float g[REF_MAX_N];
        memcpy(g, c->grad, sizeof g);
        bool clipped = !c->clipped;
        double norm = clip_grads(g, c->n, &c->spec, &clipped);
        ck_assert_msg(fabs(norm - c->norm64) <= TOL_F64 * c->norm64,
                      "%s: expected norm %.17g (double), got %.17g", c->name, c->norm64,
                      norm);
        ck_assert_msg(fabs(norm - c->norm32) <= TOL_F32 * c->norm32,
                      "%s: expected norm %.9g (torch float32), got %.17g", c->name,
                      c->norm32, norm);
        ck_assert_msg(clipped == c->clipped, "%s: expected clipped %d, got %d", c->name,
                      c->clipped, clipped);
        for (size_t k = 0; k < c->n; k++) {
            /* clamping is exact; clip-by-norm scales by a coefficient that
             * torch rounds in float32 and we in double */
            double tol = c->spec.kind == CLIP_NORM ? TOL_F32 * fabs(c->expect[k]) : 0.0;
            ck_assert_msg(fabs((double)g[k] - c->expect[k]) <= tol,
                          "%s: grad %zu expected %.9g (torch), got %.9g", c->name, k,
                          c->expect[k], g[k]);
        }
        kinds[c->spec.kind] = true;
        acted |= c->clipped;
        passed |= !c->clipped && c->spec.kind != CLIP_NONE;
    }
    ck_assert_msg(kinds[CLIP_NONE] && kinds[CLIP_NORM] && kinds[CLIP_VALUE] && acted && passed,
                  "%s: expected clip cases of every kind, acting and not", REF_FILE);
}
END_TEST

START_TEST(test_optim__sched_matches_torch)
{
    bool seen[SCHED_KIND_COUNT][2] = { { false } };
    for (int i = 0; i < ref.n_sched; i++) {
        const struct ref_sched *c = &ref.sched[i];
        for (int s = 0; s < c->count; s++) {
            double got = sched_lr(&c->spec, c->lr, s);
            double want = c->lrs[s];
            ck_assert_msg(fabs(got - want) <= TOL_F64 * fabs(want),
                          "%s: lr at step %d: expected %.17g (torch), got %.17g", c->name,
                          s, want, got);
        }
        seen[c->spec.kind][c->spec.warmup > 0] = true;
    }
    for (int k = 0; k < SCHED_KIND_COUNT; k++)
        ck_assert_msg(seen[k][0] && seen[k][1], "%s: schedule %s lacks a case %s warm-up",
                      REF_FILE, sched_kind_name((enum sched_kind)k),
                      seen[k][0] ? "with" : "without");
}
END_TEST

START_TEST(test_optim__l2_penalty_matches_torch)
{
    for (int i = 0; i < ref.n_l2; i++) {
        const struct ref_l2 *c = &ref.l2[i];
        double got = optim_l2_penalty(&c->spec, c->params, c->n);
        ck_assert_msg(fabs(got - c->penalty) <= TOL_F64 * fabs(c->penalty),
                      "%s: expected L2 penalty %.17g, got %.17g", c->name, c->penalty, got);
    }
}
END_TEST

START_TEST(test_optim__kind_names)
{
    ck_assert_str_eq(optim_kind_name(OPTIM_SGD), "sgd");
    ck_assert_str_eq(optim_kind_name(OPTIM_ADAM), "adam");
    ck_assert_str_eq(optim_kind_name(OPTIM_ADAMW), "adamw");
    ck_assert_str_eq(clip_kind_name(CLIP_NONE), "none");
    ck_assert_str_eq(clip_kind_name(CLIP_NORM), "norm");
    ck_assert_str_eq(clip_kind_name(CLIP_VALUE), "value");
    ck_assert_str_eq(sched_kind_name(SCHED_CONSTANT), "constant");
    ck_assert_str_eq(sched_kind_name(SCHED_STEP), "step");
    ck_assert_str_eq(sched_kind_name(SCHED_EXP), "exp");
    ck_assert_str_eq(sched_kind_name(SCHED_COSINE), "cosine");
    ck_assert_str_eq(optim_kind_name(OPTIM_KIND_COUNT), "?");
    ck_assert_str_eq(clip_kind_name(CLIP_KIND_COUNT), "?");
    ck_assert_str_eq(sched_kind_name(SCHED_KIND_COUNT), "?");
}
END_TEST

/* ---- limits ---- */

START_TEST(test_optim__sched_warmup_rule)
{
    /* torch's LinearLR(1/w, 1, w): 1/w + (1 - 1/w) s / w, then the main
     * schedule from its own step 0 */
    struct sched_spec sp = { .kind = SCHED_EXP, .warmup = 4, .gamma = 0.5 };
    const double want[] = { 0.25, 0.4375, 0.625, 0.8125, 1.0, 0.5, 0.25 };
    for (long s = 0; s < 7; s++) {
        double got = sched_lr(&sp, 1.0, s);
        ck_assert_msg(fabs(got - want[s]) <= 1e-15, "warm-up 4, exp 0.5: lr at %ld "
                      "expected %.17g, got %.17g", s, want[s], got);
    }
    sp.warmup = 1;          /* start factor 1: no visible warm-up */
    ck_assert_msg(sched_lr(&sp, 2.0, 0) == 2.0 && sched_lr(&sp, 2.0, 1) == 2.0 &&
                  sched_lr(&sp, 2.0, 2) == 1.0, "warm-up 1: expected 2 2 1, got %g %g %g",
                  sched_lr(&sp, 2.0, 0), sched_lr(&sp, 2.0, 1), sched_lr(&sp, 2.0, 2));
}
END_TEST

START_TEST(test_optim__sched_degenerate)
{
    struct sched_spec sp = { .kind = SCHED_STEP, .step_size = 0, .gamma = 0.1 };
    ck_assert_msg(sched_lr(&sp, 0.3, 100) == 0.3,
                  "step_size 0: expected constant 0.3, got %.17g", sched_lr(&sp, 0.3, 100));
    /* cosine holds min_lr from T on (torch would climb again) */
    sp = (struct sched_spec){ .kind = SCHED_COSINE, .min_lr = 1e-4, .total_steps = 10 };
    for (long s = 10; s < 40; s += 7)
        ck_assert_msg(sched_lr(&sp, 0.1, s) == 1e-4,
                      "cosine past T=10: expected min_lr 1e-4 at %ld, got %.17g", s,
                      sched_lr(&sp, 0.1, s));
    ck_assert_msg(sched_lr(&sp, 0.1, 9) > 1e-4, "cosine at T-1: expected above min_lr");
    /* T_max <= 0: warm-up covers the whole run, min_lr afterwards */
    sp.warmup = 10;
    ck_assert_msg(sched_lr(&sp, 0.1, 10) == 1e-4 && sched_lr(&sp, 0.1, 50) == 1e-4,
                  "cosine with T_max 0: expected min_lr after warm-up, got %.17g",
                  sched_lr(&sp, 0.1, 10));
    sp.warmup = 20;
    ck_assert_msg(sched_lr(&sp, 0.1, 25) == 1e-4,
                  "cosine with T_max -10: expected min_lr, got %.17g", sched_lr(&sp, 0.1, 25));
    double w = sched_lr(&sp, 0.1, 19);
    ck_assert_msg(isfinite(w) && w > 0.09, "warm-up still runs with T_max < 0, got %.17g", w);
    sp = (struct sched_spec){ .kind = SCHED_COSINE, .total_steps = 0 };
    ck_assert_msg(sched_lr(&sp, 0.1, 0) == 0.0, "cosine with total 0: expected min_lr 0");
    sp = (struct sched_spec){ .kind = SCHED_CONSTANT };
    ck_assert_msg(sched_lr(&sp, 0.25, 1000000) == 0.25, "constant: expected 0.25");
}
END_TEST

/* The norm's four partial sums and their tail, over a model-sized buffer. */
START_TEST(test_optim__clip_large_buffer)
{
    const size_t sizes[] = { 1, 2, 3, 5, 235147 };
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        float *g = malloc(n * sizeof *g);
        ck_assert(g != NULL);
        double naive = 0.0;
        for (size_t i = 0; i < n; i++) {
            g[i] = (float)((double)((i * 2654435761u) % 2001) / 1000.0 - 1.0);
            naive += (double)g[i] * g[i];
        }
        naive = sqrt(naive);
        struct clip_spec cs = { .kind = CLIP_NORM, .value = naive / 2 };
        bool clipped = false;
        double norm = clip_grads(g, n, &cs, &clipped);
        ck_assert_msg(fabs(norm - naive) <= TOL_F64 * naive,
                      "n %zu: expected norm %.17g, got %.17g", n, naive, norm);
        if (naive > 0) {
            double after = 0.0;
            for (size_t i = 0; i < n; i++)
                after += (double)g[i] * g[i];
            after = sqrt(after);
            ck_assert_msg(clipped && fabs(after - naive / 2) <= TOL_F32 * naive,
                          "n %zu: expected norm %.9g after clipping, got %.9g", n,
                          naive / 2, after);
        }
        free(g);
    }
}
END_TEST

START_TEST(test_optim__clip_zero_and_none)
{
    float g[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    struct clip_spec cs = { .kind = CLIP_NORM, .value = 1.0 };
    bool clipped = true;
    double norm = clip_grads(g, 4, &cs, &clipped);
    ck_assert_msg(norm == 0.0 && !clipped, "zero grads: expected norm 0 unclipped, got "
                  "%g clipped %d", norm, clipped);
    float h[2] = { 3.0f, 4.0f };
    cs.kind = CLIP_NONE;
    clipped = true;
    norm = clip_grads(h, 2, &cs, &clipped);
    ck_assert_msg(norm == 5.0 && !clipped && h[0] == 3.0f && h[1] == 4.0f,
                  "none: expected norm 5, grads unchanged, got %g (%g %g)", norm, h[0], h[1]);
    /* exactly at the bound is not a change */
    cs = (struct clip_spec){ .kind = CLIP_VALUE, .value = 4.0 };
    norm = clip_grads(h, 2, &cs, NULL);
    ck_assert_msg(norm == 5.0 && h[1] == 4.0f, "value 4 on (3, 4): expected unchanged");
    clipped = true;
    clip_grads(h, 2, &cs, &clipped);
    ck_assert_msg(!clipped, "value 4 on (3, 4): expected clipped 0");
}
END_TEST

START_TEST(test_optim__l2_zero_cases)
{
    const float p[3] = { 1.0f, 2.0f, 3.0f };
    struct optim_spec s = { .kind = OPTIM_SGD, .weight_decay = 0.0 };
    ck_assert_msg(optim_l2_penalty(&s, p, 3) == 0.0, "wd 0: expected penalty 0");
    s.weight_decay = 0.5;
    ck_assert_msg(optim_l2_penalty(&s, p, 3) == 3.5, "wd 0.5 on (1,2,3): expected 3.5, "
                  "got %.17g", optim_l2_penalty(&s, p, 3));
    s.kind = OPTIM_ADAMW;
    ck_assert_msg(optim_l2_penalty(&s, p, 3) == 0.0, "adamw: expected penalty 0");
}
END_TEST

START_TEST(test_optim__free_null)
{
    optim_free(NULL);
    struct optim_spec s = { .kind = OPTIM_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
    struct optim *o = optim_new(&s, 1);
    ck_assert_msg(o->n == 1 && o->m != NULL && o->v != NULL && o->t == 0,
                  "adam state for 1 parameter: expected m, v and t 0");
    ck_assert_msg(o->m[0] == 0.0f && o->v[0] == 0.0f, "moments should start at 0");
    optim_free(o);
    s.kind = OPTIM_SGD;
    o = optim_new(&s, 1);
    ck_assert_msg(o->m != NULL && o->v == NULL, "sgd state: expected m and no v");
    optim_free(o);
}
END_TEST

/* ---- errors ---- */

static void
check_nonfinite_clip(float bad)
{
    for (int k = CLIP_NONE; k < CLIP_KIND_COUNT; k++) {
        float g[5] = { 10.0f, -20.0f, 0.0f, 30.0f, 40.0f };
        g[2] = bad;
        float keep[5];
        memcpy(keep, g, sizeof keep);
        struct clip_spec cs = { .kind = (enum clip_kind)k, .value = 1.0 };
        bool clipped = true;
        double norm = clip_grads(g, 5, &cs, &clipped);
        ck_assert_msg(!isfinite(norm), "clip %s with %g: expected a non-finite norm, got %g",
                      clip_kind_name(cs.kind), bad, norm);
        ck_assert_msg(isnan(bad) ? isnan(norm) : isinf(norm),
                      "clip %s with %g: expected the norm to be %g-like, got %g",
                      clip_kind_name(cs.kind), bad, bad, norm);
        ck_assert_msg(!clipped, "clip %s with %g: expected clipped 0",
                      clip_kind_name(cs.kind), bad);
        ck_assert_msg(memcmp(g, keep, sizeof g) == 0, "clip %s with %g: grads modified",
                      clip_kind_name(cs.kind), bad);
    }
}

START_TEST(test_optim__clip_nan_grads)
{
    check_nonfinite_clip(NAN);
}
END_TEST

START_TEST(test_optim__clip_inf_grads)
{
    check_nonfinite_clip(INFINITY);
    check_nonfinite_clip(-INFINITY);
}
END_TEST

/* A NaN gradient poisons its own parameter, as in torch, and no other. */
START_TEST(test_optim__nan_grad_stays_local)
{
    for (int k = 0; k < OPTIM_KIND_COUNT; k++) {
        struct optim_spec s = { .kind = (enum optim_kind)k, .momentum = 0.9,
                                .weight_decay = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                                .eps = 1e-8 };
        struct optim *o = optim_new(&s, 3);
        float p[3] = { 1.0f, 2.0f, 3.0f };
        const float g[3] = { 0.5f, NAN, -0.5f };
        float up[3];
        optim_step(o, p, g, 0.01, up);
        ck_assert_msg(isfinite(p[0]) && isnan(p[1]) && isfinite(p[2]) && isnan(up[1]),
                      "%s with a NaN gradient: expected only param 1 NaN, got %g %g %g",
                      optim_kind_name(s.kind), p[0], p[1], p[2]);
        optim_free(o);
    }
}
END_TEST

/*
 * optim_all_finite(): a NaN or infinity at any place of the 16-float blocks
 * or of the tail, from any alignment, is found; the extreme finite values
 * (FLT_MAX, the smallest subnormal, -0) are not taken for one.
 */
START_TEST(test_optim__all_finite_every_place)
{
    static const float bad[] = { NAN, -NAN, INFINITY, -INFINITY };
    static const float edge[] = { FLT_MAX, -FLT_MAX, 0x1p-149f, -0.0f, FLT_MIN };
    static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 64, 79 };
    float buf[96];
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        for (size_t off = 0; off < 4; off++) {
            size_t n = lens[l];
            float *x = buf + off;
            for (size_t i = 0; i < n; i++)
                x[i] = edge[i % (sizeof edge / sizeof edge[0])];
            ck_assert_msg(optim_all_finite(x, n), "n %zu offset %zu: finite taken for bad", n,
                          off);
            for (size_t p = 0; p < n; p++) {
                float keep = x[p];
                for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                    x[p] = bad[b];
                    ck_assert_msg(!optim_all_finite(x, n), "n %zu offset %zu: %g at %zu missed",
                                  n, off, (double)bad[b], p);
                }
                x[p] = keep;
            }
        }
    }
}
END_TEST

/*
 * optim_sum_squares(): every entry counted once, whatever the length and
 * alignment (the 16-float blocks and the tail): squares of small integers
 * sum exactly in a double, so the result must equal n(n+1)(2n+1)/6 to the
 * bit; and a sum of random values agrees with a long double sum.
 */
START_TEST(test_optim__sum_squares_every_place)
{
    static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 64, 79, 1000 };
    static float buf[1008];
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        for (size_t off = 0; off < 4; off++) {
            size_t n = lens[l];
            float *x = buf + off;
            for (size_t i = 0; i < n; i++)
                x[i] = (float)(i % 2 ? i + 1 : -(double)(i + 1));
            double want = (double)n * (double)(n + 1) * (double)(2 * n + 1) / 6.0;
            double got = optim_sum_squares(x, n);
            ck_assert_msg(got == want, "n %zu offset %zu: %.17g, expected %.17g", n, off, got,
                          want);
            long double exact = 0.0L;
            for (size_t i = 0; i < n; i++) {
                x[i] = (float)sin((double)(i * 7 + off)) * 1e3f;
                exact += (long double)x[i] * x[i];
            }
            got = optim_sum_squares(x, n);
            ck_assert_msg(fabsl((long double)got - exact) <= 1e-14L * exact,
                          "n %zu offset %zu: %.17g against %.17Lg", n, off, got, exact);
        }
    }
}
END_TEST

Suite *optim_suite(void);

/*
 * Live lr changes under every schedule: over random sequences of ":lr X"
 * and ":lr *F" at random steps, the base stays finite and positive, a
 * change is either refused (nothing moves) or gives exactly the rate
 * asked for (schedules linear in the base), and a later ordinary change
 * always works.  The case: cosine, :lr 1e308, then :lr 0.01.
 */
START_TEST(test_optim__sched_rebase_property)
{
    struct sched_spec specs[6];
    memset(specs, 0, sizeof specs);
    specs[0].kind = SCHED_CONSTANT;
    specs[1].kind = SCHED_STEP;
    specs[1].step_size = 7;
    specs[1].gamma = 0.5;
    specs[2].kind = SCHED_EXP;
    specs[2].gamma = 0.9;
    specs[3].kind = SCHED_COSINE;
    specs[3].total_steps = 100;
    specs[4].kind = SCHED_COSINE;
    specs[4].total_steps = 100;
    specs[4].warmup = 10;
    specs[5].kind = SCHED_EXP;
    specs[5].gamma = 0.999;
    specs[5].warmup = 5;
    static const double values[] = {1e-320, 1e-12, 1e-3, 0.01, 0.1, 1, 3, 1e10, 1e300, 1e308,
                                    0, -1, INFINITY, NAN};
    uint64_t x = 12345;
    for (int trial = 0; trial < 2000; trial++) {
        const struct sched_spec *sp = &specs[trial % 6];
        double base = 0.1;
        for (int op = 0; op < 40; op++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            long s = (long)((x >> 33) % 120);
            double v = values[(x >> 20) % (sizeof values / sizeof values[0])];
            bool scale = (x >> 10) & 1;
            double cur = sched_lr(sp, base, s);
            double want = scale ? cur * v : v;
            double nb = -1;
            int rc = sched_rebase(sp, base, s, want, &nb);
            if (rc == 0) {
                double eff = sched_lr(sp, nb, s);
                ck_assert_msg(nb > 0 && isfinite(nb), "trial %d: base %g", trial, nb);
                ck_assert_msg(eff > 0 && isfinite(eff), "trial %d: lr %g", trial, eff);
                ck_assert_msg(fabs(eff - want) <= 1e-9 * want, "trial %d: lr %g, asked %g",
                              trial, eff, want);
                base = nb;
            } else {
                ck_assert_msg(nb == -1, "a refused change must not touch the base");
            }
            ck_assert_msg(base > 0 && isfinite(base), "trial %d: base %g", trial, base);
        }
        /* An ordinary change works afterwards wherever the schedule has a rate. */
        long s = trial % 90;
        double nb;
        if (sched_lr(sp, base, s) > 0) {
            ck_assert_int_eq(sched_rebase(sp, base, s, 0.01, &nb), 0);
            ck_assert(fabs(sched_lr(sp, nb, s) - 0.01) <= 1e-12);
        }
    }
    /* Cosine, :lr 1e308 at step 50 (refused or exact), then :lr 0.01 is 0.01. */
    double base = 0.1, nb;
    if (sched_rebase(&specs[3], base, 50, 1e308, &nb) == 0) {
        ck_assert(isfinite(sched_lr(&specs[3], nb, 50)));
        base = nb;
    }
    ck_assert_int_eq(sched_rebase(&specs[3], base, 50, 0.01, &nb), 0);
    ck_assert(fabs(sched_lr(&specs[3], nb, 50) - 0.01) <= 1e-12);
    /* At the end of a cosine to 0 there is no rate to scale: refused. */
    ck_assert_int_eq(sched_rebase(&specs[3], 0.1, 100, 0.01, &nb), -1);
}
END_TEST

Suite *
optim_suite(void)
{
    Suite *s = suite_create("optim");

    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, ref_load, ref_unload);
    tcase_add_test(tc, test_optim__sgd_matches_torch);
    tcase_add_test(tc, test_optim__adam_matches_torch);
    tcase_add_test(tc, test_optim__adamw_matches_torch);
    tcase_add_test(tc, test_optim__bitwise_equal_to_torch);
    tcase_add_test(tc, test_optim__live_changes_cases_present);
    tcase_add_test(tc, test_optim__null_update_same_params);
    tcase_add_test(tc, test_optim__sgd_plain_keeps_buffer);
    tcase_add_test(tc, test_optim__clip_matches_torch);
    tcase_add_test(tc, test_optim__sched_matches_torch);
    tcase_add_test(tc, test_optim__l2_penalty_matches_torch);
    tcase_add_test(tc, test_optim__kind_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_optim__sched_warmup_rule);
    tcase_add_test(tc, test_optim__sched_degenerate);
    tcase_add_test(tc, test_optim__clip_large_buffer);
    tcase_add_test(tc, test_optim__clip_zero_and_none);
    tcase_add_test(tc, test_optim__l2_zero_cases);
    tcase_add_test(tc, test_optim__free_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_optim__clip_nan_grads);
    tcase_add_test(tc, test_optim__clip_inf_grads);
    tcase_add_test(tc, test_optim__nan_grad_stays_local);
    tcase_add_test(tc, test_optim__all_finite_every_place);
    tcase_add_test(tc, test_optim__sum_squares_every_place);
    tcase_add_test(tc, test_optim__sched_rebase_property);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return check_run(optim_suite());
}
