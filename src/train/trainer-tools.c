/*
 * trainer-tools.c - the simple-start tools of the checklist's first stage,
 * on the worker thread: overfit mode (train a few fixed samples with
 * dropout and weight decay off, and say whether the model can fit them),
 * the zero-input baseline, and the batch-dependency check.
 *
 * Their verdicts are doctor findings: rows of the doctor's rules table
 * (id, severity, stage 1, advice; doctor.disable silences them), written
 * to events.jsonl in the doctor's shape and sent to the consumer as
 * finding records.  When to judge lives here, because only the trainer
 * sees the samples they need.
 * Nothing here draws or reads a terminal.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/doctor.h"
#include "nntop/gradcheck.h"
#include "nntop/numfmt.h"
#include "nntop/xmem.h"
#include "trainer-int.h"

/* Overfit mode has "reached" when training accuracy is 100 % and the loss
 * is below this fraction of the loss at its first step. */
#define OVERFIT_LOSS_FRAC 0.05

/*
 * Raise (or, severity DOC_OK, pass) the finding of rule (a DOC_ON_TOOL row
 * of the doctor's table): one "finding" line in events.jsonl in the
 * doctor's format and one finding record for the consumer, with what was
 * measured as its text and the table's advice.  Nothing when the rule is
 * in doctor.disable.
 */
static void
tool_finding(struct trainer *t, enum doctor_rule_id rule, int severity, double value,
             double threshold, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
tool_finding(struct trainer *t, enum doctor_rule_id rule, int severity, double value,
             double threshold, const char *fmt, ...)
{
    const struct doctor_rule *r = doctor_rule_at(rule);
    if (t->quiet || r == NULL || (t->cfg.doctor.disabled & ((uint64_t)1 << rule)) != 0)
        return;
    struct tm_finding f = {0};
    f.step = f.raised_step = t->step;
    snprintf(f.rule, sizeof f.rule, "%s", r->id);
    f.severity = severity;
    f.stage = r->stage;
    f.state = severity == DOC_OK ? TM_FINDING_PASSED : TM_FINDING_RAISED;
    f.layer = -1;
    f.tensor = -1;
    f.value = value;
    f.threshold = threshold;
    snprintf(f.advice, sizeof f.advice, "%s", severity == DOC_OK ? "" : r->advice);
    f.remedy.kind = -1;
    char measured[TM_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(measured, sizeof measured, fmt, ap);
    va_end(ap);
    /* What was measured; the rule, the advice and the severity travel in
     * the finding's own fields, as the doctor's do. */
    snprintf(f.text, sizeof f.text, "%s", measured);
    if (t->log != NULL) {
        char json[4 * TM_TEXT_MAX];
        runlog_event(t->log, t->step, "finding", "%s", doctor_format_json(json, sizeof json, &f));
    }
    trainer_publish(t, TM_FINDING, &f, sizeof f);
}

/* ---- overfit mode --------------------------------------------------------- */

/* Dropout off (p = 0) and weight decay off, remembering both. */
static void
overfit_settings_off(struct trainer *t)
{
    struct model *m = t->model;
    for (int i = 0; i < m->nlayers; i++) {
        t->overfit_saved_p[i] = m->layers[i].arg;
        if (m->layers[i].kind == LAYER_DROPOUT)
            m->layers[i].arg = 0.0f;
    }
    t->overfit_saved_wd = t->cfg.optim.weight_decay;
    t->cfg.optim.weight_decay = 0.0;
    t->optim->spec.weight_decay = 0.0;
}

static void
overfit_settings_restore(struct trainer *t)
{
    struct model *m = t->model;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == LAYER_DROPOUT)
            m->layers[i].arg = t->overfit_saved_p[i];
    t->cfg.optim.weight_decay = t->overfit_saved_wd;
    t->optim->spec.weight_decay = t->overfit_saved_wd;
}

void
trainer_cmd_overfit(struct trainer *t, const struct tm_command *c)
{
    bool on = c->n != 0;
    if (!on) {
        if (!t->overfit)
            return;
        t->overfit = false;
        overfit_settings_restore(t);
        char extra[96], a[32];
        snprintf(extra, sizeof extra, "\"value\":false,\"n\":%d,\"weight_decay\":%.17g",
                 t->overfit_n, t->cfg.optim.weight_decay);
        trainer_emit(t, TM_EVT_OVERFIT, extra,
                     "overfit off after %ld steps: training on all %ld samples again, "
                     "weight decay %s and dropout restored",
                     t->overfit_steps, t->data.train.n,
                     numfmt(a, sizeof a, t->cfg.optim.weight_decay));
        return;
    }
    if (t->overfit)
        return;
    long n = t->data.train.n;
    long want = c->value >= 2.0 ? (long)c->value : 2L * t->batch_size;
    if (c->value >= 2.0 && want >= n) {
        trainer_refuse(t, "overfit", "overfit: %ld samples is not fewer than the %ld of the "
                                  "training set", want, n);
        return;
    }
    if (n < 3) {
        trainer_refuse(t, "overfit", "overfit: the training set has only %ld samples", n);
        return;
    }
    /* The default, two batches' worth, is at most a tenth of the set: a
     * tiny set is the point (a full-batch config would take all of it). */
    if (c->value < 2.0 && want > n / 10)
        want = n / 10 >= 2 ? n / 10 : 2;
    if (want > EVAL_BATCH)
        want = EVAL_BATCH;
    int N = (int)want;
    /* The rows the next steps would train on, without taking them: the
     * batcher is where it was when overfit mode ends. */
    free(t->overfit_x);
    free(t->overfit_y);
    t->overfit_x = xalloc_aligned((size_t)N * (size_t)t->data.d * sizeof(float));
    t->overfit_y = xalloc_aligned((size_t)N * sizeof(int32_t));
    const struct batcher *bt = &t->batcher;
    for (int k = 0; k < N; k++)
        t->eval_pos[k] = bt->order[(bt->pos + k) % bt->s->n];
    data_gather(&t->data, bt->s, t->eval_pos, N, t->overfit_x, t->overfit_y);
    t->overfit_n = N;
    trainer_reserve_batch(t, N);
    t->overfit = true;
    t->overfit_steps = 0;
    t->overfit_judged = false;
    t->overfit_best_acc = 0.0f;
    t->overfit_loss0 = NAN;
    overfit_settings_off(t);
    char extra[96];
    snprintf(extra, sizeof extra, "\"value\":true,\"n\":%d,\"weight_decay\":%.17g", N,
             t->overfit_saved_wd);
    trainer_emit(t, TM_EVT_OVERFIT, extra,
                 "overfitting %d fixed samples, dropout and weight decay off; the doctor "
                 "expects 100 %% training accuracy within %ld steps",
                 N, t->cfg.doctor.overfit_steps);
}

void
trainer_overfit_observe(struct trainer *t, double loss, int correct, int B)
{
    if (!t->overfit || t->overfit_judged)
        return;
    t->overfit_steps++;
    if (!isfinite(t->overfit_loss0))
        t->overfit_loss0 = loss;
    float acc = (float)correct / (float)B;
    if (acc > t->overfit_best_acc)
        t->overfit_best_acc = acc;
    double near = OVERFIT_LOSS_FRAC * t->overfit_loss0;
    char a[32], b[32];
    if (correct == B && loss <= near) {
        t->overfit_judged = true;
        tool_finding(t, DR_OVERFIT_REACHED, DOC_INFO, (double)t->overfit_steps,
                     (double)t->cfg.doctor.overfit_steps,
                     "100%% training accuracy on %d samples and loss %s (below %.0f%% of "
                     "%s) after %ld overfit steps",
                     B, numfmt(a, sizeof a, loss), 100.0 * OVERFIT_LOSS_FRAC,
                     numfmt(b, sizeof b, t->overfit_loss0), t->overfit_steps);
    } else if (t->overfit_steps >= t->cfg.doctor.overfit_steps) {
        t->overfit_judged = true;
        tool_finding(t, DR_CANNOT_OVERFIT, DOC_WARNING, (double)t->overfit_best_acc, 1.0,
                     "after %ld steps on %d samples the best training accuracy is %.1f%% "
                     "(loss %s, started at %s)",
                     t->overfit_steps, B, 100.0 * t->overfit_best_acc, numfmt(a, sizeof a, loss),
                     numfmt(b, sizeof b, t->overfit_loss0));
    }
}

/* ---- the zero-input baseline ------------------------------------------ */

/*
 * Mean loss of m on split s (all of it, in chunks), inputs zeroed when
 * zero; each chunk advances the work in hand.  NAN when a quit stopped it.
 */
static double
split_loss(struct trainer *t, struct model *m, const struct split *s, bool zero)
{
    model_set_training(m, false);
    double sum = 0.0;
    for (long i = 0; i < s->n; i += t->eval_rows) {
        if (trainer_work_cancelled(t)) {
            model_set_training(m, true);
            return NAN;
        }
        int B = (int)(s->n - i < t->eval_rows ? s->n - i : t->eval_rows);
        for (int k = 0; k < B; k++)
            t->eval_pos[k] = i + k;
        data_gather(&t->data, s, t->eval_pos, B, t->eval_x, t->eval_y);
        if (zero)
            memset(t->eval_x, 0, (size_t)B * (size_t)t->data.d * sizeof(float));
        model_forward(m, t->eval_x, B);
        struct batch b = {.x = t->eval_x, .labels = t->eval_y, .size = B};
        sum += model_loss(m, &b, NULL) * B;
        trainer_work_advance(t, B);
    }
    model_set_training(m, true);
    return sum / (double)s->n;
}

void
trainer_cmd_baseline(struct trainer *t, const struct tm_command *c)
{
    (void)c;
    long steps = t->cfg.doctor.baseline_steps;
    const struct split *judge = t->data.val.n > 0 ? &t->data.val : &t->data.train;
    const char *judge_name = t->data.val.n > 0 ? "validation" : "training";
    bool was_paused = t->paused;
    t->paused = true;
    char sextra[32];
    snprintf(sextra, sizeof sextra, "\"steps\":%ld", steps);
    trainer_emit(t, TM_EVT_BASELINE_START, sextra,
                 "baseline: training a copy of the model on zeroed inputs for %ld steps; "
                 "the run is paused meanwhile", steps);
    trainer_publish_state(t);

    /* The copy: same layers, the current weights, its own optimizer and batches. */
    char *cause = NULL;
    int B = t->batch_size;
    struct model *m = model_new(&t->model->spec, B, &cause);
    if (m == NULL) {
        char extra[300], msg[260];
        runlog_json_str(msg, sizeof msg, cause);
        snprintf(extra, sizeof extra, "\"what\":\"baseline\",\"message\":%s", msg);
        trainer_emit(t, TM_EVT_ERROR, extra, "baseline: %s", cause);
        free(cause);
        t->paused = was_paused;
        return;
    }
    model_reserve(m, t->eval_rows);
    memcpy(m->params, t->model->params, m->nparams * sizeof *m->params);
    if (m->nstate > 0)
        memcpy(m->state, t->model->state, m->nstate * sizeof *m->state);
    model_set_training(m, true);
    struct optim *o = optim_new(&t->cfg.optim, m->nparams);
    struct batcher bt;
    batcher_init(&bt, &t->data.train, t->cfg.data.shuffle, t->cfg.seed ^ 0x62617365ULL);
    float *x = xalloc_aligned((size_t)B * (size_t)t->data.d * sizeof(float));
    int32_t *y = xalloc_aligned((size_t)B * sizeof(int32_t));
    /* Units: the copy's steps, then the rows of the two losses. */
    trainer_work_begin(t, "baseline", steps + 2 * judge->n);
    bool cancelled = false;
    for (long s = 0; s < steps && !cancelled; s++) {
        /* One step of the copy is a few ms: a quit acts at the next. */
        if (trainer_work_cancelled(t)) {
            cancelled = true;
            break;
        }
        int n = batcher_next(&bt, &t->data, B, x, y);
        memset(x, 0, (size_t)n * (size_t)t->data.d * sizeof(float));
        struct batch b = {.x = x, .labels = y, .size = n};
        model_grad(m, &b, NULL);
        optim_step(o, m->params, m->grads, sched_lr(&t->cfg.sched, t->base_lr, t->step), NULL);
        trainer_work_advance(t, 1);
    }
    double base = cancelled ? NAN : split_loss(t, m, judge, true);
    double real = isnan(base) ? NAN : split_loss(t, t->model, judge, false);
    trainer_work_end(t);
    free(x);
    free(y);
    batcher_fini(&bt);
    optim_free(o);
    model_free(m);
    if (isnan(real) && trainer_work_cancelled(t)) {
        /* A quit is waiting in the queue: it acts now, not after the baseline. */
        t->paused = was_paused;
        return;
    }

    char extra[128];
    snprintf(extra, sizeof extra, "\"baseline_loss\":%.17g,\"loss\":%.17g,\"steps\":%ld", base,
             real, steps);
    trainer_emit(t, TM_EVT_BASELINE, extra,
                 "baseline: %s loss %.4g on zeroed inputs after %ld steps, %.4g for the model",
                 judge_name, base, steps, real);
    if (real >= base)
        tool_finding(t, DR_BASELINE_NOT_BEATEN, DOC_WARNING, real, base,
                     "%s loss %.4g is not below the zero-input baseline's %.4g", judge_name,
                     real, base);
    else
        tool_finding(t, DR_BASELINE_NOT_BEATEN, DOC_OK, real, base,
                     "%s loss %.4g beats the zero-input baseline's %.4g", judge_name, real, base);
    t->paused = was_paused;
}

/* ---- the batch-dependency check --------------------------------------- */

void
trainer_cmd_depcheck(struct trainer *t, const struct tm_command *c)
{
    (void)c;
    /* The rows the next step would train on (without taking them). */
    const struct batcher *bt = &t->batcher;
    int B = t->batch_size < 8 ? t->batch_size : 8;
    if (B > bt->s->n)
        B = (int)bt->s->n;
    if (B < 2) {
        trainer_refuse(t, "depcheck", "depcheck: needs a batch of at least 2 samples");
        return;
    }
    for (int k = 0; k < B; k++)
        t->eval_pos[k] = bt->order[(bt->pos + k) % bt->s->n];
    data_gather(&t->data, bt->s, t->eval_pos, B, t->eval_x, t->eval_y);
    struct depcheck_result r;
    depcheck_run(&r, t->model, t->eval_x, B);
    const char *bn = r.batchnorm ? "; batch norm mixes samples in training mode by design "
                                   "(its batch statistics), so this runs in eval mode"
                                 : "";
    if (r.mixed > 0)
        tool_finding(t, DR_BATCH_MIXING, DOC_ERROR, (double)r.mixed, 0.0,
                     "the outputs of %d of %d samples reach other samples' inputs (sample %d "
                     "moves sample %d's input gradient, |dx| up to %.3g)%s",
                     r.mixed, r.samples, r.first_i, r.first_j, (double)r.leak, bn);
    else
        tool_finding(t, DR_BATCH_MIXING, DOC_OK, 0.0, 0.0,
                     "each of %d samples' outputs reaches its own input only%s", r.samples, bn);
}
