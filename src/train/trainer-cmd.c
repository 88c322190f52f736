/*
 * trainer-cmd.c - the trainer's commands: one handler per command kind,
 * and the table that dispatches to them.  A handler checks its argument,
 * changes the live setting and records the change as an event; a
 * command it turns down leaves the settings as they were and says why.
 *
 * Handlers run on the worker thread between two steps.  They do not
 * read the control ring (trainer.c drains it) or step the model.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nntop/gradcheck.h"
#include "nntop/numfmt.h"
#include "nntop/stats.h"
#include "nntop/optim.h"
#include "nntop/runlog.h"
#include "nntop/xmem.h"

#include "trainer-int.h"

/*
 * Announce a setting's new value: an event of vocabulary row type whose
 * JSON carries "value" (what --reproduce and replay read back) and whose
 * text says it.
 */
static void
changed(struct trainer *t, int type, double value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
changed(struct trainer *t, int type, double value, const char *fmt, ...)
{
    char extra[64];
    snprintf(extra, sizeof extra, "\"value\":%.17g", value);
    va_list ap;
    va_start(ap, fmt);
    trainer_emit_v(t, type, extra, fmt, ap);
    va_end(ap);
}

/* Grow the step buffers to hold batches of B rows. */
/* ---- commands ------------------------------------------------------ */

static bool
positive_finite(double v)
{
    return isfinite(v) && v > 0.0;
}

static void
set_lr(struct trainer *t, double lr, const char *how)
{
    /* An effective lr that is not finite and positive is refused, so the
     * schedule's state stays valid under any sequence of changes. */
    double nb;
    char a[32], b[32];
    if (sched_rebase(&t->cfg.sched, t->base_lr, t->step, lr, &nb) != 0) {
        trainer_refuse(t, "lr", "lr: %s would not give a finite positive rate at step %ld "
                        "(the schedule's lr here is %s)", numfmt(a, sizeof a, lr), t->step,
               numfmt(b, sizeof b, sched_lr(&t->cfg.sched, t->base_lr, t->step)));
        return;
    }
    t->base_lr = nb;
    changed(t, TM_EVT_LR, lr, "lr %s %s", how, numfmt(a, sizeof a, lr));
}

static void
cmd_pause(struct trainer *t, const struct tm_command *c)
{
    if (t->paused) {
        return;
    }
    t->paused = true;
    t->step_budget = -1;
    trainer_emit(t, TM_EVT_PAUSE, "", "paused");
}

static void
cmd_resume(struct trainer *t, const struct tm_command *c)
{
    if (!t->paused)
        return;
    if (t->done) {
        trainer_refuse(t, "resume", "resume: training has finished");
        return;
    }
    /* Space after a failed log write: write what is held first. */
    if (!trainer_retry_log(t))
        return;
    t->paused = false;
    t->step_budget = -1;
    trainer_emit(t, TM_EVT_RESUME, "", "resumed");
}

static void
cmd_step(struct trainer *t, const struct tm_command *c)
{
    if (c->n < 1) {
        trainer_refuse(t, "step", "step: count must be >= 1, got %ld", c->n);
        return;
    }
    if (t->done) {
        trainer_refuse(t, "step", "step: training has finished");
        return;
    }
    if (!trainer_retry_log(t))
        return;
    t->paused = false;
    t->step_budget = c->n;
    char extra[64];
    snprintf(extra, sizeof extra, "\"n\":%ld", c->n);
    trainer_emit(t, TM_EVT_STEP, extra, "stepping %ld", c->n);
}

static void
cmd_set_lr(struct trainer *t, const struct tm_command *c)
{
    if (!positive_finite(c->value)) {
        char a[32];
        trainer_refuse(t, "lr", "lr: must be a positive number, got %s",
                       numfmt(a, sizeof a, c->value));
        return;
    }
    set_lr(t, c->value, "set to");
}

static void
cmd_scale_lr(struct trainer *t, const struct tm_command *c)
{
    char a[32], b[32];
    if (!positive_finite(c->value)) {
        trainer_refuse(t, "lr", "lr: scale factor must be a positive number, got %s",
               numfmt(a, sizeof a, c->value));
        return;
    }
    double cur = sched_lr(&t->cfg.sched, t->base_lr, t->step);
    double lr = cur * c->value;
    if (!positive_finite(lr)) {
        trainer_refuse(t, "lr", "lr: %s x %s is out of range", numfmt(a, sizeof a, cur),
               numfmt(b, sizeof b, c->value));
        return;
    }
    char how[48];
    snprintf(how, sizeof how, "x%s to", numfmt(a, sizeof a, c->value));
    set_lr(t, lr, how);
}

static void
cmd_set_clip(struct trainer *t, const struct tm_command *c)
{
    enum clip_kind kind;
    char a[32];
    if (stats_clip_from_tm(c->clip_kind, &kind) != 0 ||
        (kind != CLIP_NONE && !positive_finite(c->value))) {
        trainer_refuse(t, "clip", "clip: threshold must be a positive number, got %s",
               numfmt(a, sizeof a, c->value));
        return;
    }
    t->cfg.clip.kind = kind;
    if (kind != CLIP_NONE) {
        t->cfg.clip.value = c->value;
        t->last_clip = c->value;
    }
    char extra[96];
    snprintf(extra, sizeof extra, "\"kind\":\"%s\",\"value\":%.17g", clip_kind_name(kind),
             kind != CLIP_NONE ? c->value : 0.0);
    if (kind == CLIP_NONE)
        trainer_emit(t, TM_EVT_CLIP, extra, "clipping off");
    else
        trainer_emit(t, TM_EVT_CLIP, extra, "clipping by %s at %s",
                     clip_kind_name(kind), numfmt(a, sizeof a, c->value));
}

static void
cmd_set_momentum(struct trainer *t, const struct tm_command *c)
{
    char a[32];
    if (!isfinite(c->value) || c->value < 0.0 || c->value >= 1.0) {
        trainer_refuse(t, "momentum", "momentum: must be in [0, 1), got %s",
               numfmt(a, sizeof a, c->value));
        return;
    }
    if (t->cfg.optim.kind != OPTIM_SGD) {
        trainer_refuse(t, "momentum", "momentum: applies to sgd only (this run uses %s)",
               optim_kind_name(t->cfg.optim.kind));
        return;
    }
    if (t->cfg.optim.nesterov && c->value == 0.0) {
        trainer_refuse(t, "momentum", "momentum: nesterov needs momentum > 0");
        return;
    }
    t->cfg.optim.momentum = c->value;
    t->optim->spec.momentum = c->value;
    changed(t, TM_EVT_MOMENTUM, c->value, "momentum set to %s", numfmt(a, sizeof a, c->value));
}

static void
cmd_set_wd(struct trainer *t, const struct tm_command *c)
{
    char a[32];
    if (!isfinite(c->value) || c->value < 0.0) {
        trainer_refuse(t, "wd", "weight decay: must be >= 0, got %s",
                       numfmt(a, sizeof a, c->value));
        return;
    }
    t->cfg.optim.weight_decay = c->value;
    t->optim->spec.weight_decay = c->value;
    changed(t, TM_EVT_WEIGHT_DECAY, c->value, "weight decay set to %s",
            numfmt(a, sizeof a, c->value));
}

static void
cmd_set_batch(struct trainer *t, const struct tm_command *c)
{
    if (c->n < 1 || c->n > 65536) {
        trainer_refuse(t, "batch", "batch: size must be in [1, 65536], got %ld", c->n);
        return;
    }
    t->batch_size = (int)c->n;
    trainer_reserve_batch(t, t->batch_size);
    t->steps_per_epoch = trainer_steps_per_epoch(t);
    changed(t, TM_EVT_BATCH_SIZE, (double)c->n, "batch size set to %ld", c->n);
}

static void
cmd_eval(struct trainer *t, const struct tm_command *c)
{
    if (t->data.val.n == 0 && t->data.test.n == 0) {
        trainer_refuse(t, "eval", "eval: no validation or test data (val_fraction is 0)");
        return;
    }
    trainer_emit(t, TM_EVT_EVAL, "", "evaluating");
    /* Without a validation split, the test split is what there is. */
    if (t->data.val.n > 0)
        trainer_evaluate_split(t, &t->data.val, TM_SPLIT_VAL);
    else
        trainer_evaluate_split(t, &t->data.test, TM_SPLIT_TEST);
}

static void
cmd_save(struct trainer *t, const struct tm_command *c)
{
    if (t->log == NULL) {
        trainer_refuse(t, "save", "save: not logging (--no-log), no run directory to save into");
        return;
    }
    trainer_save_checkpoint(t, NULL, 0);
}

static void
cmd_set_telemetry(struct trainer *t, const struct tm_command *c)
{
    if (c->n < 0) {
        trainer_refuse(t, "telemetry", "telemetry: every must be >= 0, got %ld", c->n);
        return;
    }
    t->tel_every = c->n;
    if (c->n == 0)
        changed(t, TM_EVT_TELEMETRY, 0.0, "telemetry snapshots off");
    else
        changed(t, TM_EVT_TELEMETRY, (double)c->n, "telemetry every %ld steps", c->n);
}

/* gradcheck_opts.poll: a cancellation check, and the entries done so far. */
static bool
gradcheck_poll(void *ctx, long done, long total)
{
    struct trainer *t = ctx;
    return done < 0 ? trainer_work_cancelled(t) : trainer_work_at(t, done, total);
}

static void
cmd_gradcheck(struct trainer *t, const struct tm_command *c)
{
    int samples = c->n > 0 ? (int)c->n : t->cfg.gradcheck.samples;
    if (samples > EVAL_BATCH)
        samples = EVAL_BATCH;
    struct gradcheck_opts go = {
        .samples = samples,
        .per_tensor = t->cfg.gradcheck.per_tensor,
        .seed = t->cfg.seed ^ (uint64_t)t->step,
    };
    /* Check on the rows the next step would train on (without taking them). */
    int B;
    const float *x = t->eval_x;
    const int32_t *y = t->eval_y;
    if (t->overfit) {
        B = samples < t->overfit_n ? samples : t->overfit_n;
        x = t->overfit_x;
        y = t->overfit_y;
    } else {
        const struct batcher *bt = &t->batcher;
        B = (int)(samples < bt->s->n ? samples : bt->s->n);
        for (int k = 0; k < B; k++)
            t->eval_pos[k] = bt->order[(bt->pos + k) % bt->s->n];
        data_gather(&t->data, bt->s, t->eval_pos, B, t->eval_x, t->eval_y);
    }
    struct tm_gradcheck *r = xcalloc(1, sizeof *r);
    struct batch b = {.x = x, .labels = y, .size = B};
    go.cancel = &t->cancel;
    go.poll = gradcheck_poll;
    go.poll_ctx = t;
    trainer_work_begin(t, "gradcheck", 1);
    gradcheck_run(r, t->model, &b, &go);
    trainer_work_end(t);
    r->step = t->step;
    if (r->cancelled) {
        /* A quit is waiting in the queue: it acts now, not after the check. */
        trainer_emit(t, TM_EVT_GRADCHECK_INCONCLUSIVE, "\"verdict\":\"CANCELLED\",\"pass\":false",
                     "gradient check: cancelled after %.2f s", (double)r->seconds);
        free(r);
        return;
    }
    trainer_publish(t, TM_GRADCHECK, r, sizeof *r);
    int failed = 0, inconclusive = 0;
    for (int i = 0; i < r->ntensors; i++) {
        failed += r->t[i].verdict == TM_GC_FAIL;
        inconclusive += r->t[i].verdict == TM_GC_INCONCLUSIVE;
    }
    char extra[256], reason[160] = "";
    if (r->verdict == TM_GC_INCONCLUSIVE)
        runlog_json_str(reason, sizeof reason, tm_gc_reason_text(r->reason));
    snprintf(extra, sizeof extra,
             "\"verdict\":\"%s\",\"pass\":%s,\"failed\":%d,\"inconclusive\":%d,%s%s%s"
             "\"seconds\":%.3f",
             tm_gc_verdict_name(r->verdict), r->verdict == TM_GC_PASS ? "true" : "false", failed,
             inconclusive, *reason ? "\"reason\":" : "", reason, *reason ? "," : "",
             (double)r->seconds);
    if (r->verdict == TM_GC_INCONCLUSIVE)
        trainer_emit(t, TM_EVT_GRADCHECK_INCONCLUSIVE, extra,
                     "gradient check: INCONCLUSIVE on %d of %d tensors: %s (%.2f s)",
                     inconclusive, r->ntensors, tm_gc_reason_text(r->reason),
                     (double)r->seconds);
    else
        trainer_emit(t, r->verdict == TM_GC_PASS ? TM_EVT_GRADCHECK : TM_EVT_GRADCHECK_FAILED,
                     extra, "gradient check: %s (%d of %d tensors failed, %.2f s)",
                     r->verdict == TM_GC_PASS ? "pass" : "FAIL", failed, r->ntensors,
                     (double)r->seconds);
    free(r);
}

/*
 * The nonfinite remedy: back to the newest checkpoint written before the
 * first non-finite step (the weights just before it are finite but
 * usually already ruined), or to the initial weights when there is
 * none, then the lr times c->value; paused, so the change can be seen
 * before training goes on.  The step count goes on (the log is
 * append-only).
 */
static void
cmd_restore(struct trainer *t, const struct tm_command *c)
{
    if (!positive_finite(c->value) || c->value > 1.0) {
        char a[32];
        trainer_refuse(t, "restore", "restore: the lr factor must be in (0, 1], got %s",
               numfmt(a, sizeof a, c->value));
        return;
    }
    long from = -1;
    if (t->good_ckpt_step >= 0 && t->log != NULL) {
        char path[DATA_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/checkpoint-%ld.safetensors", runlog_dir(t->log),
                 t->good_ckpt_step);
        char *cause = NULL;
        long step = 0;
        double epoch = 0.0;
        if (runlog_load_checkpoint(path, t->model, t->optim, &step, &epoch, NULL, &cause) != 0) {
            trainer_refuse(t, "restore", "restore: %s", cause);
            free(cause);
            return;
        }
        from = t->good_ckpt_step;
    } else {
        model_init_params(t->model, t->cfg.seed);
        optim_free(t->optim);
        t->optim = optim_new(&t->cfg.optim, t->model->nparams);
    }
    t->paused = true;
    t->step_budget = -1;
    t->nonfinite_seen = false;
    char extra[96];
    snprintf(extra, sizeof extra, "\"from_step\":%ld,\"value\":%.17g", from, c->value);
    if (from >= 0)
        trainer_emit(t, TM_EVT_RESTORE, extra,
                     "restored the weights of checkpoint-%ld (before the blow-up)", from);
    else
        trainer_emit(t, TM_EVT_RESTORE, extra,
                     "no checkpoint from before the blow-up: back to the initial weights");
    struct tm_command scale = {.kind = TM_CMD_SCALE_LR, .value = c->value};
    cmd_scale_lr(t, &scale);
}

static void
cmd_quit(struct trainer *t, const struct tm_command *c)
{
    t->quit = true;
    t->quit_source = c->source;     /* the quit event, written at the loop's end, says who */
}

typedef void (*cmd_handler)(struct trainer *, const struct tm_command *);

/* One handler per command: adding a command is adding a line here. */
static const cmd_handler cmd_handlers[TM_CMD_KIND_COUNT] = {
    [TM_CMD_PAUSE] = cmd_pause,
    [TM_CMD_RESUME] = cmd_resume,
    [TM_CMD_STEP] = cmd_step,
    [TM_CMD_SET_LR] = cmd_set_lr,
    [TM_CMD_SCALE_LR] = cmd_scale_lr,
    [TM_CMD_SET_CLIP] = cmd_set_clip,
    [TM_CMD_SET_MOMENTUM] = cmd_set_momentum,
    [TM_CMD_SET_WD] = cmd_set_wd,
    [TM_CMD_SET_BATCH] = cmd_set_batch,
    [TM_CMD_EVAL] = cmd_eval,
    [TM_CMD_SAVE] = cmd_save,
    [TM_CMD_SET_TELEMETRY] = cmd_set_telemetry,
    [TM_CMD_GRADCHECK] = cmd_gradcheck,
    [TM_CMD_OVERFIT] = trainer_cmd_overfit,
    [TM_CMD_BASELINE] = trainer_cmd_baseline,
    [TM_CMD_DEPCHECK] = trainer_cmd_depcheck,
    [TM_CMD_VIEW] = trainer_cmd_view,
    [TM_CMD_QUIT] = cmd_quit,
    [TM_CMD_RESTORE] = cmd_restore,
};

void
trainer_apply_command(struct trainer *t, const struct tm_command *c)
{
    /* Every command is answered by a state record, the refused ones too.
     * The events it causes say where it came from. */
    t->cmd_source = c->source;
    if (c->kind < 0 || c->kind >= TM_CMD_KIND_COUNT || cmd_handlers[c->kind] == NULL)
        trainer_emit(t, TM_EVT_REFUSED, "\"command\":\"unknown\"", "unknown command %d", c->kind);
    else
        cmd_handlers[c->kind](t, c);
    t->cmd_source = TM_SRC_LOCAL;
    if (!t->quiet)
        trainer_publish_state(t);
}

