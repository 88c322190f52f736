/*
 * trainer.c - the worker thread: owns the model, optimizer and data, runs
 * steps, applies commands between two steps, publishes telemetry and
 * writes the run log.
 *
 * It never waits on its consumer (a full telemetry ring drops records and
 * counts them) and never touches the terminal.  While paused it sleeps on
 * a condition variable and still serves commands that need no step.
 *
 * The command handlers are in trainer-cmd.c, resuming and reproducing a
 * logged run in trainer-resume.c.
 */
#include "config.h"

#include "nntop/trainer.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/blas.h"
#include "nntop/gemm.h"
#include "nntop/mono.h"
#include "nntop/numfmt.h"
#include "nntop/stats.h"
#include "nntop/xmem.h"

#include "trainer-int.h"

#define TELEMETRY_RING_DEFAULT ((size_t)4 << 20)
#define CONTROL_RING_BYTES ((size_t)64 << 10)
#define OWED_RING_BYTES ((size_t)1 << 20)

static double
wall_s(const struct trainer *t)
{
    return mono_seconds() - t->t0;
}

static double
epoch_of(const struct trainer *t)
{
    if (t->overfit || t->batcher.s == NULL || t->batcher.s->n == 0)
        return (double)t->batcher.epoch;
    return (double)t->batcher.epoch + (double)t->batcher.pos / (double)t->batcher.s->n;
}

/*
 * Everything published is first judged by the doctor, on this thread,
 * so it sees exactly the records the consumer gets, none of them lost
 * to a full ring.  Its findings are published through here too (the
 * doctor ignores them).
 */
void
trainer_publish(struct trainer *t, enum tm_type type, const void *rec, size_t len)
{
    /* The view's records are pictures of one sample: nothing to judge. */
    if (t->doctor != NULL && type != TM_FINDING && type != TM_VIEW && type != TM_VIEW_MAP
        && type != TM_PROGRESS
        && len <= sizeof t->doc_rec->u) {
        t->doc_rec->type = (uint32_t)type;
        memcpy(&t->doc_rec->u, rec, len);
        doctor_feed(t->doctor, t->doc_rec);
    }
    if (trainer_flush_owed(t) && ring_push(t->tel, (uint32_t)type, rec, len))
        return;
    /* Steps and snapshots may be lost to a consumer that does not keep up
     * (counted, and shown); states, events, findings, evaluations and
     * check results wait, in order, for room. */
    if (type == TM_STEP || type == TM_LAYER || type == TM_TENSOR || type == TM_SNAPSHOT
        || (type == TM_PROGRESS && !((const struct tm_progress *)rec)->finished))
        atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
    else
        ring_push(t->owed, (uint32_t)type, rec, len);
}

/* Records the consumer never gets: steps and snapshots dropped, and what
 * did not fit even in owed. */
static uint64_t
records_lost(const struct trainer *t)
{
    return atomic_load_explicit(&t->lost, memory_order_relaxed) + ring_dropped(t->owed);
}

/*
 * Move waiting records into the telemetry ring while they fit, oldest
 * first.  True when none waits any more: only then may a newer record go
 * to the ring, or the consumer would see it before older ones.
 */
bool
trainer_flush_owed(struct trainer *t)
{
    uint32_t type;
    size_t len;
    while (ring_peek(t->owed, &type, &len)) {
        if (!ring_has_room(t->tel, len))
            return false;
        ring_pop(t->owed, &type, &t->owed_rec->u, sizeof t->owed_rec->u, &len);
        ring_push(t->tel, type, &t->owed_rec->u, len);
    }
    return true;
}

/* A doctor finding: one "finding" line in events.jsonl and a TM_FINDING record. */
static void
on_finding(void *ctx, const struct tm_finding *f)
{
    struct trainer *t = ctx;
    if (t->quiet)
        return;
    if (t->log != NULL) {
        char json[4 * TM_TEXT_MAX];
        runlog_event(t->log, f->step, "finding", "%s", doctor_format_json(json, sizeof json, f));
    }
    trainer_publish(t, TM_FINDING, f, sizeof *f);
}

void
trainer_publish_state(struct trainer *t)
{
    struct tm_state s = {0};
    s.state = t->failed ? TM_FAILED : t->done ? TM_DONE : t->paused ? TM_PAUSED : TM_RUNNING;
    s.step = t->step;
    s.epoch = epoch_of(t);
    s.lr = sched_lr(&t->cfg.sched, t->base_lr, t->step);
    s.base_lr = t->base_lr;
    s.clip_kind = stats_clip_to_tm(t->cfg.clip.kind);
    s.clip_value = t->cfg.clip.kind != CLIP_NONE ? t->cfg.clip.value : t->last_clip;
    s.momentum = t->cfg.optim.momentum;
    s.weight_decay = t->cfg.optim.weight_decay;
    s.batch_size = t->batch_size;
    s.telemetry_every = t->tel_every;
    s.overfit = t->overfit;
    s.log_stalled = t->log_stalled;
    s.dropped = records_lost(t);
    trainer_publish(t, TM_STATE, &s, sizeof s);
}

/* Publish the live side of an event of vocabulary row type. */
static void
publish_event(struct trainer *t, int type, const char *text)
{
    const struct tm_event_def *def = tm_event_def_at(type);
    struct tm_event ev = {0};
    ev.step = t->step;
    ev.wall_s = wall_s(t);
    ev.type = type;
    ev.kind = def->kind;
    ev.severity = def->severity;
    snprintf(ev.text, sizeof ev.text, "%s", text);
    trainer_publish(t, TM_EVENT, &ev, sizeof ev);
}

void
trainer_emit_v(struct trainer *t, int type, const char *extra, const char *fmt, va_list ap)
{
    if (t->quiet)
        return;
    const struct tm_event_def *def = tm_event_def_at(type);
    assert(def != NULL);
    char text[TM_TEXT_MAX];
    vsnprintf(text, sizeof text, fmt, ap);
    if (t->log != NULL) {
        char jtext[2 * TM_TEXT_MAX];
        runlog_json_str(jtext, sizeof jtext, text);
        /* A change another process asked for over the control socket says so. */
        const char *source = t->cmd_source == TM_SRC_SOCKET ? "\"source\":\"socket\"," : "";
        runlog_event(t->log, t->step, def->type, "%s%s%s\"severity\":\"%s\",\"text\":%s",
                     extra, *extra ? "," : "", source, tm_severity_name(def->severity), jtext);
    }
    publish_event(t, type, text);
}

void
trainer_refuse(struct trainer *t, const char *command, const char *fmt, ...)
{
    char extra[64];
    snprintf(extra, sizeof extra, "\"command\":\"%s\"", command);
    va_list ap;
    va_start(ap, fmt);
    trainer_emit_v(t, TM_EVT_REFUSED, extra, fmt, ap);
    va_end(ap);
}

void
trainer_emit(struct trainer *t, int type, const char *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trainer_emit_v(t, type, extra, fmt, ap);
    va_end(ap);
}

void
trainer_reserve_batch(struct trainer *t, int B)
{
    if (B <= t->cap_batch)
        return;
    free(t->x);
    free(t->y);
    t->x = xalloc_aligned((size_t)B * (size_t)t->data.d * sizeof(float));
    t->y = xalloc_aligned((size_t)B * sizeof(int32_t));
    t->cap_batch = B;
    model_reserve(t->model, B);
}

long
trainer_steps_per_epoch(const struct trainer *t)
{
    long n = t->data.train.n;
    return (n + t->batch_size - 1) / t->batch_size;
}

/* ---- long work: cancellation and progress ------------------------------ */

void
trainer_set_probe(struct trainer *t, trainer_probe_fn probe, void *ctx)
{
    t->probe = probe;
    t->probe_ctx = ctx;
}

static void
work_publish(struct trainer *t, bool finished)
{
    struct tm_progress p = {0};
    p.step = t->step;
    snprintf(p.what, sizeof p.what, "%s", t->work.what);
    p.done = t->work.done < t->work.total ? t->work.done : t->work.total;
    p.total = t->work.total;
    p.elapsed_s = mono_seconds() - t->work.t0;
    p.finished = finished;
    t->work.last_pub = mono_coarse_seconds();
    trainer_publish(t, TM_PROGRESS, &p, sizeof p);
}

bool
trainer_work_begin(struct trainer *t, const char *what, long total)
{
    if (t->work.active)
        return false;
    t->work.active = true;
    snprintf(t->work.what, sizeof t->work.what, "%s", what);
    t->work.done = 0;
    t->work.total = total > 0 ? total : 1;
    t->work.pct = 0;
    t->work.t0 = mono_seconds();
    if (t->probe != NULL)
        t->probe(t->probe_ctx, TRAINER_PROBE_BEGIN, t->work.what);
    work_publish(t, false);
    return true;
}


bool
trainer_work_cancelled(struct trainer *t)
{
    if (t->work.active) {
        if (t->probe != NULL)
            t->probe(t->probe_ctx, TRAINER_PROBE_CHECK, t->work.what);
        /* The coarse clock is a few ns: cheap at every check. */
        if (mono_coarse_seconds() - t->work.last_pub >= 0.25)
            work_publish(t, false);
    }
    return atomic_load_explicit(&t->cancel, memory_order_relaxed);
}

bool
trainer_work_advance(struct trainer *t, long units)
{
    if (t->work.active) {
        t->work.done += units;
        long done = t->work.done < t->work.total ? t->work.done : t->work.total;
        int pct = (int)(100.0 * (double)done / (double)t->work.total);
        if (pct > t->work.pct) {
            t->work.pct = pct;
            work_publish(t, false);
        }
    }
    return trainer_work_cancelled(t);
}

bool
trainer_work_at(struct trainer *t, long done, long total)
{
    if (t->work.active && total > 0) {
        t->work.total = total;
        return trainer_work_advance(t, done - t->work.done);
    }
    return trainer_work_cancelled(t);
}

void
trainer_work_end(struct trainer *t)
{
    if (!t->work.active)
        return;
    if (t->probe != NULL)
        t->probe(t->probe_ctx, TRAINER_PROBE_END, t->work.what);
    work_publish(t, true);
    t->work.active = false;
}

/* ---- evaluation ---------------------------------------------------- */

void
trainer_evaluate_split(struct trainer *t, const struct split *s, enum tm_eval_split which)
{
    if (s->n == 0)
        return;
    if (which == TM_SPLIT_VAL)
        t->last_eval_step = t->step;
    model_set_training(t->model, false);
    double loss_sum = 0.0;
    long correct = 0;
    bool own = trainer_work_begin(t, "evaluation", s->n);
    for (long i = 0; i < s->n; i += t->eval_rows) {
        /* A quit stops a long evaluation between chunks (one chunk is a
         * few ms of work); nothing is published. */
        if (trainer_work_cancelled(t)) {
            model_set_training(t->model, true);
            if (own)
                trainer_work_end(t);
            return;
        }
        int B = (int)(s->n - i < t->eval_rows ? s->n - i : t->eval_rows);
        for (int k = 0; k < B; k++)
            t->eval_pos[k] = i + k;
        data_gather(&t->data, s, t->eval_pos, B, t->eval_x, t->eval_y);
        model_team_forward(t->team, t->eval_x, B);
        struct batch b = {.x = t->eval_x, .labels = t->eval_y, .size = B};
        struct loss_out lo = {0};
        loss_sum += model_loss(t->model, &b, &lo) * B;
        correct += lo.correct;
        trainer_work_advance(t, B);
    }
    if (own)
        trainer_work_end(t);
    model_set_training(t->model, true);

    struct tm_eval ev = {0};
    ev.step = t->step;
    ev.epoch = epoch_of(t);
    ev.split = which;
    ev.loss = (float)(loss_sum / (double)s->n);
    ev.accuracy = (float)((double)correct / (double)s->n);
    ev.n = s->n;
    trainer_publish(t, TM_EVAL, &ev, sizeof ev);
    if (t->log != NULL) {
        struct metrics_row r = {0};
        r.step = t->step;
        r.epoch = ev.epoch;
        r.kind = which == TM_SPLIT_TEST ? METRICS_TEST : METRICS_VAL;
        r.loss = ev.loss;
        r.accuracy = ev.accuracy;
        r.wall_s = wall_s(t);
        runlog_metrics_row(t->log, &r);
    }
}

/* ---- checkpoints --------------------------------------------------- */

int
trainer_save_checkpoint(struct trainer *t, char *why, size_t len)
{
    if (t->log == NULL)
        return 0;
    int rc = 0;
    char *cause = NULL;
    /* runlog_checkpoint logs its own event line (the same text); the
     * consumer gets ours. */
    char text[TM_TEXT_MAX];
    if (runlog_checkpoint(t->log, t->model, t->optim, t->step, epoch_of(t), &cause) != 0) {
        snprintf(text, sizeof text, "checkpoint failed: %s", cause);
        if (why != NULL)
            snprintf(why, len, "checkpoint-%ld.safetensors not saved: %s", t->step, cause);
        free(cause);
        publish_event(t, TM_EVT_ERROR, text);
        rc = -1;
    } else {
        snprintf(text, sizeof text, "saved checkpoint-%ld.safetensors", t->step);
        publish_event(t, TM_EVT_CHECKPOINT, text);
        t->last_ckpt_step = t->step;
    }
    return rc;
}

/* ---- a run log that cannot be written -------------------------------- */

bool
trainer_check_log(struct trainer *t)
{
    const char *err = runlog_error(t->log);
    if (err == NULL || t->log_stalled)
        return err != NULL;
    /* Nothing more is computed that could not be recorded. */
    t->log_stalled = true;
    t->paused = true;
    t->step_budget = -1;
    char extra[TM_TEXT_MAX + 64], q[2 * TM_TEXT_MAX];
    long held = runlog_held_rows(t->log);
    snprintf(extra, sizeof extra, "\"message\":%s,\"rows_held\":%ld",
             runlog_json_str(q, sizeof q, err), held);
    trainer_emit(t, TM_EVT_LOG_STALLED, extra,
                 "run log write failed: %s; paused with %ld rows held (Space retries)", err, held);
    trainer_publish_state(t);
    return true;
}

bool
trainer_retry_log(struct trainer *t)
{
    if (!t->log_stalled)
        return true;
    if (runlog_retry(t->log) != 0) {
        /* Not logged: it could not be. */
        char text[TM_TEXT_MAX];
        snprintf(text, sizeof text, "run log still cannot be written: %s; still paused",
                 runlog_error(t->log));
        publish_event(t, TM_EVT_LOG_STALLED, text);
        return false;
    }
    t->log_stalled = false;
    trainer_emit(t, TM_EVT_LOG_RESUMED, "", "run log written again");
    return true;
}

/* Apply every queued command; returns how many there were. */
static int
drain_commands(struct trainer *t)
{
    int n = 0;
    struct tm_command c;
    uint32_t type;
    size_t len;
    while (ring_pop(t->ctl, &type, &c, sizeof c, &len) == 1) {
        if (len == sizeof c)
            trainer_apply_command(t, &c);
        n++;
    }
    /* Recorded changes of a reproduced run, at their recorded steps. */
    while (t->sched_next < t->nsched && t->sched[t->sched_next].step <= t->step) {
        trainer_apply_command(t, &t->sched[t->sched_next].cmd);
        t->sched_next++;
        n++;
    }
    return n;
}

/* Sleep until a command arrives (no busy wait). */
static void
wait_for_command(struct trainer *t)
{
    /* Headless with a stalled log: nobody presses Space, so try the log
     * again each second.  Records waiting for the consumer to make room:
     * look again soon.  Otherwise sleep until a command comes. */
    long wait_ns = t->log_stalled && t->opts.retry_log ? 1000000000L
                   : !ring_empty(t->owed)               ? 10 * 1000 * 1000L
                                                        : 0;
    pthread_mutex_lock(&t->mu);
    if (wait_ns > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += wait_ns;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (ring_empty(t->ctl))
            if (pthread_cond_timedwait(&t->cv, &t->mu, &until) != 0)
                break;
    } else {
        while (ring_empty(t->ctl))
            pthread_cond_wait(&t->cv, &t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    trainer_flush_owed(t);
}

/* ---- non-finite values --------------------------------------------- */

static long
count_nonfinite(const float *x, size_t n)
{
    long k = 0;
    for (size_t i = 0; i < n; i++)
        k += !isfinite(x[i]);
    return k;
}

/* The first parameter tensor (in layer order) an update made non-finite. */
static void
locate_update(const struct trainer *t, char *where, size_t len)
{
    const struct model *m = t->model;
    for (int k = 0; k < m->ntensors; k++) {
        const struct param_tensor *pt = &m->tensors[k];
        if (count_nonfinite(m->params + pt->offset, pt->count) > 0) {
            const struct layer *l = &m->layers[pt->layer];
            snprintf(where, len, "layer %d (%s) update, %s", pt->layer,
                     layer_kind_name(l->kind), k == l->weight ? "weight" : "bias");
            return;
        }
    }
    snprintf(where, len, "the update");
}

/*
 * "weight" or "bias": the first of layer l's tensors with a non-finite
 * entry in buf (the model's params or grads, laid out alike), or NULL.
 */
static const char *
nonfinite_tensor(const struct model *m, const struct layer *l, const float *buf)
{
    int idx[2] = {l->weight, l->bias};
    for (int k = 0; k < 2; k++) {
        if (idx[k] < 0)
            continue;
        const struct param_tensor *pt = &m->tensors[idx[k]];
        if (count_nonfinite(buf + pt->offset, pt->count) > 0)
            return k == 0 ? "weight" : "bias";
    }
    return NULL;
}

/*
 * Find where the first non-finite value appeared: parameters, then the
 * forward outputs layer by layer, then the loss (its value, then its
 * gradient), then the gradients in backward order (last layer first).
 */
static void
locate_nonfinite(const struct trainer *t, double loss, char *where, size_t len)
{
    const struct model *m = t->model;
    for (int i = 0; i < m->nlayers; i++) {
        const struct layer *l = &m->layers[i];
        const char *which = nonfinite_tensor(m, l, m->params);
        if (which != NULL) {
            snprintf(where, len, "layer %d (%s) parameters, %s", i, layer_kind_name(l->kind),
                     which);
            return;
        }
        if (count_nonfinite(l->y, (size_t)m->batch * (size_t)l->out) > 0) {
            snprintf(where, len, "layer %d (%s) forward, output", i, layer_kind_name(l->kind));
            return;
        }
    }
    const char *loss_name = loss_kind_name(m->spec.loss);
    if (!isfinite(loss)) {
        snprintf(where, len, "loss (%s), its value", loss_name);
        return;
    }
    if (count_nonfinite(m->dlogits, (size_t)m->batch * (size_t)m->out) > 0) {
        snprintf(where, len, "loss (%s), gradient of the output", loss_name);
        return;
    }
    for (int i = m->nlayers - 1; i >= 0; i--) {
        const struct layer *l = &m->layers[i];
        const char *which = nonfinite_tensor(m, l, m->grads);
        if (which != NULL) {
            snprintf(where, len, "layer %d (%s) backward, %s gradient", i,
                     layer_kind_name(l->kind), which);
            return;
        }
    }
    snprintf(where, len, "the gradient norm");
}

/* where: the place found by locate_update(), or NULL to locate it in the step. */
static void
handle_nonfinite(struct trainer *t, double loss, double gnorm, const char *update_where)
{
    char where[160];
    if (update_where != NULL)
        snprintf(where, sizeof where, "%s", update_where);
    else
        locate_nonfinite(t, loss, where, sizeof where);
    char w[400];
    runlog_json_str(w, sizeof w, where);
    char extra[512], ls[32], gs[32];
    /* Exact text, and "nan" whatever its sign bit ("%g" wrote "-nan"). */
    numfmt_exact_double(ls, sizeof ls, loss);
    numfmt_exact_double(gs, sizeof gs, gnorm);
    snprintf(extra, sizeof extra, "\"where\":%s,\"loss\":\"%s\",\"grad_norm\":\"%s\"", w, ls,
             gs);
    /* The checkpoint a restore goes back to: the newest from before the blow-up. */
    if (!t->nonfinite_seen) {
        t->nonfinite_seen = true;
        t->good_ckpt_step = t->last_ckpt_step;
    }
    trainer_emit(t, TM_EVT_NONFINITE, extra,
         "step %ld: first non-finite value in %s (update skipped)", t->step, where);
    /* The weights are the last finite ones: keep them. */
    trainer_save_checkpoint(t, NULL, 0);
    t->paused = true;
    t->step_budget = -1;
    if (!t->opts.keep_going) {
        t->failed = true;
        t->quit = true;
    }
    trainer_publish_state(t);
}

/* ---- the step ------------------------------------------------------ */

/*
 * Whether the step about to finish (global step t->step + 1) gets a
 * snapshot: the first one, so the dashboard has layers at once, and every
 * tel_every-th (global steps 5, 10, ... for 5).  Snapshots follow the
 * step cadence only, so the statistics the doctor and layers.csv get are
 * the same on any machine; the wall-clock cap (telemetry.max_hz) thins
 * only the histograms, which are drawn and never judged.
 */
static bool
snapshot_due(const struct trainer *t)
{
    long g = t->step + 1;
    return t->tel_every > 0 && (g == 1 || g % t->tel_every == 0);
}

static bool
histograms_due(struct trainer *t, bool last)
{
    double now = mono_seconds();
    double min_gap = t->cfg.telemetry.max_hz > 0 ? 1.0 / t->cfg.telemetry.max_hz : 0.0;
    if (!last && t->step > 0 && now - t->last_snapshot < min_gap)
        return false;
    t->last_snapshot = now;
    return true;
}

/* A snapshot's histogram into the run's TensorBoard file (when it has one). */
static void
log_histogram(struct trainer *t, long step, const char *tag, const struct tm_hist *h)
{
    if (h->nbins == 0)
        return;     /* not computed this snapshot (histograms_due) */
    struct runlog_hist rh = {
        .lo = h->lo, .hi = h->hi, .under = h->under, .over = h->over,
        .nbins = h->nbins, .counts = h->counts,
    };
    runlog_histogram(t->log, step, tag, &rh);
}

/*
 * One histogram as a line of histograms.csv (nntop(1), FILES):
 * step,what,index,lo,hi,under,over,total,counts with the nbins counts
 * separated by spaces.  Opened (appending: a resumed run continues it) at
 * the first logged snapshot; a failure to open costs only the
 * histograms, never training.
 */
static void
hist_row(struct trainer *t, long step, const char *what, int index, const struct tm_hist *h)
{
    if (!t->cfg.log.histograms || h->nbins == 0)
        return;     /* off, or not computed this snapshot (histograms_due) */
    if (t->hist_fp == NULL && !t->hist_failed) {
        char *path = xasprintf("%s/histograms.csv", trainer_run_dir(t));
        t->hist_fp = fopen(path, "a");
        if (t->hist_fp == NULL)
            t->hist_failed = true;  /* the other files say what is wrong with the disk */
        else if (ftell(t->hist_fp) == 0)
            fputs("step,what,index,lo,hi,under,over,total,counts\n", t->hist_fp);
        free(path);
    }
    if (t->hist_fp == NULL)
        return;
    fprintf(t->hist_fp, "%ld,%s,%d,%.9g,%.9g,%u,%u,%u,", step, what, index, (double)h->lo,
            (double)h->hi, h->under, h->over, h->total);
    for (int b = 0; b < h->nbins && b < TM_MAX_BINS; b++)
        fprintf(t->hist_fp, b > 0 ? " %u" : "%u", h->counts[b]);
    fputc('\n', t->hist_fp);
}

/*
 * Snapshot statistics to the feed, and to layers.csv when logged, as of
 * global step `step` (the number of updates done); histograms with bins
 * bins (0: none this time, see histograms_due).
 */
static void
publish_snapshot_to(struct trainer *t, long step, bool logged, int bins)
{
    char tag[96];
    const struct model *m = t->model;
    for (int i = 0; i < m->nlayers; i++) {
        struct tm_layer l;
        stats_layer(&l, m, i, bins);
        l.step = step;
        trainer_publish(t, TM_LAYER, &l, sizeof l);
        if (t->log != NULL && logged) {
            /* Columns that do not apply stay NaN: written empty. */
            struct layer_row r = {.w_norm = NAN, .g_norm = NAN, .update_norm = NAN,
                                  .update_ratio = NAN};
            r.step = step;
            r.layer = i;
            snprintf(r.name, sizeof r.name, "%s", t->info->layers[i].label_ascii);
            r.act_mean = l.act_mean;
            r.act_std = l.act_std;
            r.act_min = l.act_min;
            r.act_max = l.act_max;
            r.dead_frac = t->info->layers[i].flags & TM_LAYER_HAS_DEAD ? l.dead_frac : NAN;
            r.sat_frac = t->info->layers[i].flags & TM_LAYER_HAS_SAT ? l.sat_frac : NAN;
            r.nan_count = l.nan_count;
            r.inf_count = l.inf_count;
            runlog_layers_row(t->log, &r);
            snprintf(tag, sizeof tag, "activations/%d.%s", i, r.name);
            log_histogram(t, step, tag, &l.act);
            hist_row(t, step, "act", i, &l.act);
        }
    }
    for (int k = 0; k < m->ntensors; k++) {
        struct tm_tensor s;
        stats_tensor(&s, m, k, t->update, bins);
        s.step = step;
        trainer_publish(t, TM_TENSOR, &s, sizeof s);
        if (t->log != NULL && logged) {
            struct layer_row r = {.act_mean = NAN, .act_std = NAN, .act_min = NAN,
                                  .act_max = NAN, .dead_frac = NAN, .sat_frac = NAN};
            r.step = step;
            r.layer = m->tensors[k].layer;
            const struct tm_layer_info *li = &t->info->layers[m->tensors[k].layer];
            snprintf(r.name, sizeof r.name, "%s", li->label_ascii);
            snprintf(r.tensor, sizeof r.tensor, "%s", m->tensors[k].name);
            r.w_norm = s.w_norm;
            r.g_norm = s.g_norm;
            r.update_norm = s.update_norm;
            r.update_ratio = s.update_ratio;
            r.nan_count = s.nan_count;
            r.inf_count = s.inf_count;
            runlog_layers_row(t->log, &r);
            snprintf(tag, sizeof tag, "weights/%s", r.tensor);
            log_histogram(t, step, tag, &s.weight);
            snprintf(tag, sizeof tag, "gradients/%s", r.tensor);
            log_histogram(t, step, tag, &s.grad);
            hist_row(t, step, "weight", k, &s.weight);
            hist_row(t, step, "grad", k, &s.grad);
        }
    }
    if (t->hist_fp != NULL && logged)
        fflush(t->hist_fp);
    struct tm_snapshot sn = {.step = step, .nlayers = m->nlayers, .ntensors = m->ntensors};
    trainer_publish(t, TM_SNAPSHOT, &sn, sizeof sn);
}

/* The snapshot of the update just applied (t->step + 1 updates done). */
static void
publish_snapshot(struct trainer *t, bool last)
{
    publish_snapshot_to(t, t->step + 1, true, histograms_due(t, last) ? t->cfg.telemetry.bins : 0);
}

/*
 * A run started paused shows step 0 at once: the loss of the initial
 * weights on the first batch and a snapshot (activations, weights,
 * gradients), as a step record with step 0 (no update done).  It runs in
 * evaluation mode (no dropout, batch norm on its initial running
 * statistics) on a copy of the first batch, so it consumes no random
 * numbers and moves no batch position: the run that follows is the run
 * that would have been.  Nothing of it goes to metrics.csv or layers.csv.
 */
static void
publish_step0(struct trainer *t)
{
    const struct batcher *bt = &t->batcher;
    long left = bt->s->n - bt->pos;
    int B = left < t->batch_size ? (int)left : t->batch_size;
    if (B <= 0)
        return;
    data_gather(&t->data, bt->s, bt->order + bt->pos, B, t->x, t->y);
    struct batch b = {.x = t->x, .labels = t->y, .size = B};
    struct loss_out lo = {0};
    model_set_training(t->model, false);
    double loss = model_grad(t->model, &b, &lo);
    model_set_training(t->model, true);
    double reg = t->cfg.optim.weight_decay > 0.0
                     ? optim_l2_penalty(&t->cfg.optim, t->model->params, t->model->nparams)
                     : 0.0;
    double gnorm = 0.0;
    for (size_t i = 0; i < t->model->nparams; i++)
        gnorm += (double)t->model->grads[i] * t->model->grads[i];
    struct tm_step st = {
        .step = 0,
        .epoch = 0.0,
        .loss = (float)loss,
        .reg_loss = (float)reg,
        .accuracy = (float)lo.correct / (float)B,
        .lr = (float)sched_lr(&t->cfg.sched, t->base_lr, 0),
        .grad_norm = (float)sqrt(gnorm),
    };
    trainer_publish(t, TM_STEP, &st, sizeof st);
    if (t->tel_every > 0 && isfinite(loss)) {
        memset(t->update, 0, t->model->nparams * sizeof(float));
        publish_snapshot_to(t, 0, false, t->cfg.telemetry.bins);
    }
}

static bool
training_over(const struct trainer *t)
{
    if (t->total_steps > 0)
        return t->step >= t->total_steps;
    return t->batcher.epoch >= t->cfg.train.epochs;
}

static void
train_step_rate(struct trainer *t, int B)
{
    /* samples/s over a window of about half a second */
    t->rate_samples += B;
    double now = mono_seconds();
    double dt = now - t->rate_t;
    if (dt >= 0.5 || (t->samples_per_s == 0.0f && dt > 0.0)) {
        t->samples_per_s = (float)(t->rate_samples / dt);
        t->rate_samples = 0;
        t->rate_t = now;
    }
}

/*
 * Apply the optimizer at lr (into t->update when snap).  Finite gradients
 * can still overflow a parameter (a huge lr): such an update is undone, so
 * the weights stay the last finite ones, and where it happened goes into
 * where; false then.  The optimizer's moments keep this step's gradient.
 */
static bool
train_step_update(struct trainer *t, double lr, bool snap, char *where, size_t len)
{
    if (model_team_optim_step(t->team, t->optim, lr, snap ? t->update : NULL, t->prev_params))
        return true;
    locate_update(t, where, len);
    memcpy(t->model->params, t->prev_params, t->model->nparams * sizeof(float));
    return false;
}

/* The step's record for the UI and its train row of metrics.csv. */
static void
train_step_publish(struct trainer *t, const struct tm_step *s, double loss, double reg, double lr,
                   double gnorm)
{
    trainer_publish(t, TM_STEP, s, sizeof *s);
    if (t->log == NULL)
        return;
    struct metrics_row r = {0};
    r.step = s->step;               /* global step: this is the (t->step + 1)-th update */
    r.epoch = s->epoch;
    r.kind = METRICS_TRAIN;
    r.loss = loss;
    r.reg_loss = reg;
    r.accuracy = s->accuracy;
    r.lr = lr;
    r.grad_norm = gnorm;
    r.clipped = s->clipped;
    r.samples_per_s = s->samples_per_s;
    r.wall_s = wall_s(t);
    runlog_metrics_row(t->log, &r);
}

/* After a finite step: the overfit watch, a due evaluation, a due checkpoint. */
static void
train_step_after(struct trainer *t, double loss, int correct, int B, bool epoch_ended)
{
    trainer_overfit_observe(t, loss, correct, B);
    if (t->cfg.train.eval_every > 0 ? t->step % t->cfg.train.eval_every == 0 : epoch_ended)
        trainer_evaluate_split(t, &t->data.val, TM_SPLIT_VAL);
    /* A failed periodic checkpoint is an error event; the next one tries again. */
    if (t->cfg.log.checkpoint_every > 0 && t->step % t->cfg.log.checkpoint_every == 0)
        trainer_save_checkpoint(t, NULL, 0);
}

/* batch_par_fn for batcher_next_par(): the rows cut across the team's threads. */
static void
team_gather(void *team, int k, batch_rows_fn fn, void *ctx)
{
    model_team_for(team, k, fn, ctx);
}

/* One update: a batch, its gradient and clipping, the update, the step published and logged. */
static void
train_one_step(struct trainer *t)
{
    int B;
    const float *x;
    const int32_t *y;
    long epoch_before = t->batcher.epoch;
    if (t->overfit) {
        B = t->overfit_n;
        x = t->overfit_x;
        y = t->overfit_y;
    } else {
        /* Each of the team's threads gathers a part of the batch. */
        B = batcher_next_par(&t->batcher, &t->data, t->batch_size, t->x, t->y, team_gather,
                             t->team);
        x = t->x;
        y = t->y;
    }
    double lr = sched_lr(&t->cfg.sched, t->base_lr, t->step);
    struct batch b = {.x = x, .labels = y, .size = B};
    struct loss_out lo = {0};
    struct team_sums sums = {.params = t->cfg.optim.weight_decay > 0.0};
    double loss = model_team_grad(t->team, &b, &lo, &sums);
    double reg = optim_l2_penalty_of(&t->cfg.optim, sums.param_sq);
    bool clipped = false;
    double gnorm = clip_grads_with_norm(t->model->grads, t->model->nparams, &t->cfg.clip,
                                        sqrt(sums.grad_sq), &clipped);
    train_step_rate(t, B);

    bool finite = isfinite(loss) && isfinite(gnorm);
    /* The last step always gets a snapshot, so the final screen shows it. */
    bool last = t->total_steps > 0 ? t->step + 1 >= t->total_steps
                                   : t->batcher.epoch >= t->cfg.train.epochs;
    bool snap = finite && (snapshot_due(t) || (last && t->tel_every > 0));
    char update_where[160] = "";
    if (finite && !train_step_update(t, lr, snap, update_where, sizeof update_where)) {
        finite = false;
        snap = false;
    }

    struct tm_step s = {
        .step = t->step + 1,
        .epoch = epoch_of(t),
        .loss = (float)loss,
        .reg_loss = (float)reg,
        .accuracy = (float)lo.correct / (float)B,
        .lr = (float)lr,
        .grad_norm = (float)gnorm,
        .clipped = clipped,
        .samples_per_s = t->samples_per_s,
    };
    train_step_publish(t, &s, loss, reg, lr, gnorm);
    if (snap)
        publish_snapshot(t, last);
    /* The step counts even when its update was skipped: its batch was used. */
    t->step++;
    if (!finite) {
        handle_nonfinite(t, loss, gnorm, update_where[0] != '\0' ? update_where : NULL);
        return;
    }
    train_step_after(t, loss, lo.correct, B, t->batcher.epoch != epoch_before);
}

static void
finish_training(struct trainer *t)
{
    t->done = true;
    t->paused = true;
    if (t->last_eval_step != t->step)
        trainer_evaluate_split(t, &t->data.val, TM_SPLIT_VAL);
    trainer_evaluate_split(t, &t->data.test, TM_SPLIT_TEST);
    /* The final checkpoint is the model: losing it fails the run. */
    if (trainer_save_checkpoint(t, t->failure, sizeof t->failure) != 0)
        t->failed = true;
    trainer_emit(t, TM_EVT_DONE, "", "training finished at step %ld", t->step);
    trainer_publish_state(t);
    if (t->log != NULL)
        runlog_flush(t->log);
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/*
 * The training inputs as the model sees them (normalised), per feature,
 * over up to INPUT_STATS_ROWS rows spread evenly over the split: what
 * the doctor's input lint reads.  Constant features (std 0, such as an
 * image's empty border) are left out of the smallest std.
 */
#define INPUT_STATS_ROWS 10000

static void
input_stats(struct trainer *t, struct tm_input_stats *out)
{
    const struct split *s = &t->data.train;
    int d = t->data.d;
    memset(out, 0, sizeof *out);
    if (s->n == 0 || d <= 0)
        return;
    long rows = s->n < INPUT_STATS_ROWS ? s->n : INPUT_STATS_ROWS;
    double *sum = xcalloc((size_t)d, sizeof *sum), *sq = xcalloc((size_t)d, sizeof *sq);
    float *sd = xcalloc((size_t)d, sizeof *sd);
    for (long r = 0; r < rows; r += t->eval_rows) {
        int B = (int)(rows - r < t->eval_rows ? rows - r : t->eval_rows);
        for (int k = 0; k < B; k++)
            t->eval_pos[k] = (long)((double)(r + k) * (double)s->n / (double)rows);
        data_gather(&t->data, s, t->eval_pos, B, t->eval_x, t->eval_y);
        for (int k = 0; k < B; k++) {
            const float *x = t->eval_x + (size_t)k * (size_t)d;
            for (int j = 0; j < d; j++) {
                sum[j] += x[j];
                sq[j] += (double)x[j] * x[j];
            }
        }
    }
    out->have = 1;
    out->features = d;
    out->rows = rows;
    out->std_lo = INFINITY;
    out->std_lo_feature = -1;
    for (int j = 0; j < d; j++) {
        double mean = sum[j] / (double)rows, var = sq[j] / (double)rows - mean * mean;
        sd[j] = (float)sqrt(var > 0.0 ? var : 0.0);
        if (fabs(mean) > fabs((double)out->mean) || j == 0) {
            out->mean = (float)mean;
            out->mean_feature = j;
        }
        if (sd[j] > out->std_hi || j == 0) {
            out->std_hi = sd[j];
            out->std_hi_feature = j;
        }
        if (sd[j] > 0.0f && sd[j] < out->std_lo) {
            out->std_lo = sd[j];
            out->std_lo_feature = j;
        }
    }
    if (out->std_lo_feature < 0)
        out->std_lo = 0.0f;
    qsort(sd, (size_t)d, sizeof *sd, cmp_float);
    out->std_median = sd[d / 2];
    free(sum);
    free(sq);
    free(sd);
}

/* The run and its model (the layer table was filled in trainer_new). */
static void
publish_info(struct trainer *t)
{
    struct tm_info *info = t->info;
    snprintf(info->name, sizeof info->name, "%s", t->cfg.name);
    snprintf(info->run_dir, sizeof info->run_dir, "%s", trainer_run_dir(t));
    info->expected_loss = t->expected_loss;
    info->total_steps = t->total_steps > 0 ? t->total_steps
                                           : t->cfg.train.epochs * t->steps_per_epoch;
    info->steps_per_epoch = t->steps_per_epoch;
    info->classes = t->data.classes;
    info->in_width = t->data.d;
    info->train_n = t->data.train.n;
    info->val_n = t->data.val.n;
    info->test_n = t->data.test.n;
    snprintf(info->blas_core, sizeof info->blas_core, "%s", blas_core_name());
    snprintf(info->blas_note, sizeof info->blas_note, "%s", blas_core_note());
    stats_describe_optim(info, t->cfg.optim.kind, t->cfg.sched.kind);
    info->warmup = t->cfg.sched.warmup;
    info->min_lr = t->cfg.sched.min_lr;
    info->lr = t->cfg.optim.lr;
    input_stats(t, &info->input);
    trainer_publish(t, TM_INFO, info, sizeof *info);
}

static void *
trainer_main(void *arg)
{
    struct trainer *t = arg;
    t->t0 = mono_seconds();
    t->rate_t = t->t0;
    t->last_snapshot = t->t0;
    publish_info(t);
    trainer_publish_state(t);
    /* The shape of the run, so a replay can rebuild the model's layout. */
    char extra[320];
    snprintf(extra, sizeof extra,
             "\"in\":%d,\"in_c\":%d,\"in_h\":%d,\"in_w\":%d,\"classes\":%d,\"train_n\":%ld,"
             "\"val_n\":%ld,\"test_n\":%ld,"
             "\"expected_loss\":%.17g,\"total_steps\":%ld,\"steps_per_epoch\":%ld",
             t->data.d, t->data.shape[0], t->data.shape[1], t->data.shape[2], t->data.classes,
             t->data.train.n, t->data.val.n, t->data.test.n,
             t->expected_loss, t->cfg.sched.total_steps, t->steps_per_epoch);
    if (t->step > 0)
        trainer_emit(t, TM_EVT_RESUME_RUN, extra, "resuming %s at step %ld", t->cfg.name,
             t->step);
    else
        trainer_emit(t, TM_EVT_START, extra,
             "training %s: %ld samples, %d classes, expected initial loss %.4f", t->cfg.name,
             t->data.train.n, t->data.classes, t->expected_loss);
    if (t->truncate_extra != NULL)
        trainer_emit(t, TM_EVT_TRUNCATE, t->truncate_extra,
                     "logs cut back to step %ld, the checkpoint's: the rows after it belonged "
                     "to an abandoned continuation", t->step);
    if (t->cfg.log.save_initial && t->step == 0)
        trainer_save_checkpoint(t, NULL, 0);
    if (t->paused && t->step == 0)
        publish_step0(t);

    while (!t->quit) {
        drain_commands(t);
        if (t->quit)
            break;
        if (!t->done && training_over(t)) {
            finish_training(t);
            if (t->opts.exit_when_done)
                break;
            continue;
        }
        if (t->paused) {
            /* Whatever paused us published the state already (a command,
             * the end of a step count, a non-finite value): one state
             * record per change, none per wake-up.  The rows held for the
             * next flush go to disk first: a paused run may sit for hours,
             * and a viewer attached to the directory shows them now. */
            if (t->log != NULL && !t->log_stalled)
                runlog_flush(t->log);
            wait_for_command(t);
            if (t->log_stalled && t->opts.retry_log && ring_empty(t->ctl)
                && trainer_retry_log(t) && !t->done) {
                t->paused = false;
                trainer_publish_state(t);
            }
            continue;
        }
        train_one_step(t);
        if (trainer_check_log(t))
            continue;
        if (t->step_budget > 0 && --t->step_budget == 0) {
            t->paused = true;
            t->step_budget = -1;
            trainer_emit(t, TM_EVT_PAUSE, "", "paused after stepping");
            trainer_publish_state(t);
        }
    }
    /* Quit: flush, final checkpoint (unless the run just ended with one). */
    if (!t->done && !t->failed
        && trainer_save_checkpoint(t, t->failure, sizeof t->failure) != 0)
        t->failed = true;
    if (!t->done) {
        t->cmd_source = t->quit_source;
        trainer_emit(t, TM_EVT_QUIT, "", "stopped at step %ld", t->step);
        t->cmd_source = TM_SRC_LOCAL;
    }
    if (t->log != NULL) {
        runlog_flush(t->log);
        /* One last try for rows held since a write failed; what is still
         * held is lost, and the files end on their last complete line. */
        if (runlog_error(t->log) != NULL && runlog_retry(t->log) != 0) {
            t->failed = true;
            snprintf(t->failure, sizeof t->failure, "run log incomplete: %s (%ld rows not written)",
                     runlog_error(t->log), runlog_held_rows(t->log));
        }
    }
    trainer_publish_state(t);
    atomic_store_explicit(&t->finished, true, memory_order_release);
    return NULL;
}

/* ---- the feed ------------------------------------------------------ */

static bool
feed_poll(void *self, struct tm_record *out)
{
    struct trainer *t = self;
    size_t len;
    if (ring_pop(t->tel, &out->type, &out->u, sizeof out->u, &len) == 1)
        return true;
    /* A finished worker no longer touches the records it still owed: they
     * are newer than everything in the ring, so they come last. */
    return atomic_load_explicit(&t->finished, memory_order_acquire) && ring_empty(t->tel)
           && ring_pop(t->owed, &out->type, &out->u, sizeof out->u, &len) == 1;
}

static int
feed_send(void *self, const struct tm_command *cmd, char *why, size_t len)
{
    return trainer_send(self, cmd, why, len);
}

static uint64_t
feed_dropped(void *self)
{
    struct trainer *t = self;
    return records_lost(t);
}

static bool
feed_finished(void *self)
{
    struct trainer *t = self;
    return atomic_load_explicit(&t->finished, memory_order_acquire) && ring_empty(t->tel)
           && ring_empty(t->owed);
}

static const struct feed_class trainer_feed_class = {
    .poll = feed_poll,
    .send = feed_send,
    .dropped = feed_dropped,
    .finished = feed_finished,
};

struct feed
trainer_feed(struct trainer *t)
{
    return (struct feed){.cls = &trainer_feed_class, .self = t};
}

/*
 * A model that cannot fit is refused here, with its size and the layer
 * that makes it, rather than by "fatal: out of memory" half-way through
 * building it (or by the kernel, later).
 */
static bool
model_too_large(struct trainer *t, char **cause)
{
    int copies = 3 + (t->cfg.optim.kind != OPTIM_SGD);    /* update, prev, m (, v) */
    uint64_t nparams, need;
    int big;
    if (model_spec_footprint(&t->cfg.model, t->cfg.train.batch_size, t->eval_rows, copies,
                             &nparams, &need, &big) != 0)
        return false;       /* model_new says what is wrong */
    const char *what;
    uint64_t have = xmem_limit(&what);
    if (need <= have)
        return false;
    char where[400];
    cfg_layer_where(&t->cfg, big, where, sizeof where);
    *cause = xasprintf("%s: the model has %llu parameters; training it needs %llu bytes "
                       "(%.1f GiB), more than the %llu bytes (%.1f GiB) of %s", where,
                       (unsigned long long)nparams, (unsigned long long)need,
                       (double)need / (1u << 30), (unsigned long long)have,
                       (double)have / (1u << 30), what);
    return true;
}

/* ---- lifecycle ----------------------------------------------------- */

/* Load the data; a reader's "PATH: problem" says which config line named PATH. */
static int
load_data(struct trainer *t, char **cause)
{
    if (data_load(&t->data, &t->cfg.data, t->cfg.seed, cause) == 0)
        return 0;
    const char *files[6];
    int nf = data_spec_files(&t->cfg.data, files);
    for (int i = 0; i < nf; i++) {
        size_t n = strlen(files[i]);
        char where[400];
        if (strncmp(*cause, files[i], n) != 0 || (*cause)[n] != ':')
            continue;
        cfg_path_where(&t->cfg, files[i], where, sizeof where);
        if (where[0] != '\0') {
            char *full = xasprintf("%s: %s", where, *cause);
            free(*cause);
            *cause = full;
        }
        break;
    }
    return -1;
}

/* The model spec against the data's shape and classes (known only now). */
static int
check_model_spec(struct trainer *t, char **cause)
{
    t->cfg.model.in = t->data.d;
    t->cfg.model.seed = t->cfg.seed;
    t->cfg.model.in_c = t->data.shape[0];
    t->cfg.model.in_h = t->data.shape[1];
    t->cfg.model.in_w = t->data.shape[2];
    /* Shape errors only show once the data is known: point at the layer. */
    int bad;
    char *why = NULL;
    if (model_check_spec(&t->cfg.model, t->cfg.train.batch_size, &bad, &why) != 0) {
        if (bad >= 0) {
            char where[400];
            cfg_layer_where(&t->cfg, bad, where, sizeof where);
            *cause = xasprintf("%s: %s", where, why);
            free(why);
        } else {
            *cause = why;
        }
        return -1;
    }
    int last_units = 0;
    for (int i = 0; i < t->cfg.model.nlayers; i++)
        if (t->cfg.model.layers[i].kind == LAYER_DENSE)
            last_units = t->cfg.model.layers[i].units;
    if (last_units != t->data.classes) {
        *cause = xasprintf("model.layers: the last dense layer has %d units but the data has %d "
                           "classes", last_units, t->data.classes);
        return -1;
    }
    return 0;
}

/* The model, its team and optimizer, and the step's and evaluation's buffers. */
static int
make_model(struct trainer *t, char **cause)
{
    /* Evaluation goes EVAL_BATCH rows at a time, but never more rows than
     * a store has: 1000 rows of a 250000-column CSV of 4 rows would be 1 GB. */
    long most = t->data.train_store.n > t->data.test_store.n ? t->data.train_store.n
                                                             : t->data.test_store.n;
    t->eval_rows = most < EVAL_BATCH ? (int)most : EVAL_BATCH;
    if (t->eval_rows < 1)
        t->eval_rows = 1;
    t->batch_size = t->cfg.train.batch_size;
    if (model_too_large(t, cause))
        return -1;
    t->model = model_new(&t->cfg.model, t->batch_size, cause);
    if (t->model == NULL)
        return -1;
    model_set_training(t->model, true);
    t->info = xcalloc(1, sizeof *t->info);
    stats_describe_model(t->info, t->model);
    t->team = model_team_new(t->model, t->cfg.train.threads);
    t->optim = optim_new(&t->cfg.optim, t->model->nparams);
    t->update = xalloc_aligned(t->model->nparams * sizeof(float));
    t->prev_params = xalloc_aligned(t->model->nparams * sizeof(float));
    trainer_reserve_batch(t, t->batch_size);
    /* Evaluation and the gradient check take up to eval_rows rows through
     * the model itself: its caches are sized (and zeroed, some ms per MB
     * of page faults) now, not inside the first of those, where a quit
     * would wait for them. */
    model_reserve(t->model, t->eval_rows);
    t->eval_x = xalloc_aligned((size_t)t->eval_rows * (size_t)t->data.d * sizeof(float));
    t->eval_y = xalloc_aligned((size_t)t->eval_rows * sizeof(int32_t));
    t->eval_pos = xcalloc((size_t)t->eval_rows, sizeof(long));
    batcher_init(&t->batcher, &t->data.train, t->cfg.data.shuffle, t->cfg.seed);
    return 0;
}

/* Where a new run starts: step counts, the schedule's length, the settings. */
static void
init_run_state(struct trainer *t)
{
    t->steps_per_epoch = trainer_steps_per_epoch(t);
    t->total_steps = t->cfg.train.steps;
    if (t->cfg.sched.total_steps == 0)
        t->cfg.sched.total_steps = t->total_steps > 0 ? t->total_steps
                                                      : t->cfg.train.epochs * t->steps_per_epoch;
    t->base_lr = t->cfg.optim.lr;
    t->last_clip = t->cfg.clip.kind != CLIP_NONE ? t->cfg.clip.value : 1.0;
    t->tel_every = t->cfg.telemetry.every;
    t->step_budget = -1;
    t->last_eval_step = -1;
    t->last_ckpt_step = -1;
    t->good_ckpt_step = -1;
    t->paused = t->opts.start_paused || t->cfg.train.start_paused;
    t->expected_loss = data_expected_loss(&t->data, t->cfg.model.loss == LOSS_MSE);
}

/* The run directory (unless a resume reopened it or nothing is logged). */
static int
open_log(struct trainer *t, char **cause)
{
    const struct trainer_opts *opts = &t->opts;
    t->config_yaml = cfg_to_yaml(&t->cfg);
    if (t->log == NULL && !opts->no_log && t->cfg.log.enabled) {
        const char *files[6];
        struct runlog_env env = {
            .cmdline = opts->cmdline,
            .blas_config = blas_config(),
            .blas_core = blas_core_name(),
            .blas_note = blas_core_note(),
            .blas_threads = blas_get_threads(),
            .conv_kernel = gemm_kernel_name(gemm_kernel_get()),
            .config_path = opts->config_path,
            .data_files = files,
            .ndata_files = data_spec_files(&t->cfg.data, files),
        };
        if (runlog_open(&t->log, t->cfg.log.dir, t->cfg.name, t->config_yaml, &env, cause) != 0)
            return -1;
    }
    /* Checkpoints carry the normalisation, so a model taken away can be fed raw data. */
    runlog_set_normalize(t->log, t->data.scale, t->data.shift, t->data.d);
    /* A new run and a resumed one (reopened above) alike. */
    if (t->cfg.log.tfevents && runlog_tfevents_start(t->log, cause) != 0)
        return -1;
    return 0;
}

/* The rings to and from the consumer, and the doctor. */
static int
open_feed(struct trainer *t, char **cause)
{
    const struct trainer_opts *opts = &t->opts;
    t->tel = ring_new(opts->ring_bytes > 0 ? opts->ring_bytes : TELEMETRY_RING_DEFAULT);
    t->ctl = ring_new(CONTROL_RING_BYTES);
    t->owed = ring_new(OWED_RING_BYTES);
    t->owed_rec = xmalloc(sizeof *t->owed_rec);
    if (t->tel == NULL || t->ctl == NULL) {
        *cause = xasprintf("telemetry ring size must be a power of two");
        return -1;
    }
    if (t->cfg.doctor.enabled) {
        t->doctor = doctor_new(&t->cfg.doctor, on_finding, t);
        t->doc_rec = xcalloc(1, sizeof *t->doc_rec);
    }
    return 0;
}

int
trainer_new(struct trainer **out, const struct cfg *cfg, const struct trainer_opts *opts,
            char **cause)
{
    *out = NULL;
    if (opts->resume != NULL && opts->reproduce != NULL) {
        *cause = xstrdup("resume and reproduce cannot be combined");
        return -1;
    }
    struct trainer *t = xcalloc(1, sizeof *t);
    t->cfg = *cfg;
    t->opts = *opts;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    atomic_init(&t->finished, false);
    atomic_init(&t->lost, 0);
    atomic_init(&t->cancel, false);
    if (load_data(t, cause) != 0 || check_model_spec(t, cause) != 0
        || make_model(t, cause) != 0)
        goto fail;
    init_run_state(t);
    if (opts->reproduce != NULL && trainer_load_reproduce(t, opts->reproduce, cause) != 0)
        goto fail;
    if (opts->resume != NULL && trainer_resume(t, opts->resume, cause) != 0)
        goto fail;
    if (open_log(t, cause) != 0 || open_feed(t, cause) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    trainer_free(t);
    return -1;
}

int
trainer_start(struct trainer *t, char **cause)
{
    int err = pthread_create(&t->thread, NULL, trainer_main, t);
    if (err != 0) {
        *cause = xasprintf("cannot start the trainer thread: %s", strerror(err));
        return -1;
    }
    t->started = true;
    return 0;
}

int
trainer_send(struct trainer *t, const struct tm_command *cmd, char *why, size_t len)
{
    if (atomic_load_explicit(&t->finished, memory_order_acquire)) {
        snprintf(why, len, "the trainer has stopped");
        return -1;
    }
    /* Before the push: the worker, busy in a long check, sees the flag
     * at its next entry and gets to the quit in the queue at once. */
    if (cmd->kind == TM_CMD_QUIT && cmd->n == 1)
        atomic_store_explicit(&t->cancel, true, memory_order_relaxed);
    if (!ring_push(t->ctl, 0, cmd, sizeof *cmd)) {
        snprintf(why, len, "command queue full, try again");
        return -1;
    }
    /* Signal under the mutex so a worker about to sleep cannot miss it. */
    pthread_mutex_lock(&t->mu);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void
trainer_join(struct trainer *t)
{
    if (t->started && !t->joined) {
        pthread_join(t->thread, NULL);
        t->joined = true;
    }
}

int
trainer_exit_status(const struct trainer *t)
{
    return t->failed ? 1 : 0;
}

const char *
trainer_failure(const struct trainer *t)
{
    return t->failure[0] != '\0' ? t->failure : NULL;
}

const char *
trainer_run_dir(const struct trainer *t)
{
    return t->log != NULL ? runlog_dir(t->log) : "";
}

void
trainer_free(struct trainer *t)
{
    if (t == NULL)
        return;
    /* A worker that is still running (or paused, waiting for commands)
     * is told to quit rather than waited for forever. */
    while (t->started && !t->joined && !atomic_load_explicit(&t->finished, memory_order_acquire)) {
        struct tm_command q = {.kind = TM_CMD_QUIT};
        char why[64];
        if (trainer_send(t, &q, why, sizeof why) == 0)
            break;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    trainer_join(t);
    if (t->log != NULL)
        runlog_close(t->log, NULL);
    if (t->hist_fp != NULL)
        fclose(t->hist_fp);
    batcher_fini(&t->batcher);
    model_team_free(t->team);
    model_free(t->model);
    optim_free(t->optim);
    data_fini(&t->data);
    ring_free(t->tel);
    ring_free(t->owed);
    free(t->owed_rec);
    ring_free(t->ctl);
    doctor_free(t->doctor);
    free(t->doc_rec);
    free(t->x);
    free(t->y);
    free(t->update);
    free(t->prev_params);
    free(t->eval_x);
    free(t->eval_y);
    free(t->eval_pos);
    free(t->overfit_x);
    free(t->overfit_y);
    free(t->config_yaml);
    free(t->truncate_extra);
    free(t->sched);
    free(t->info);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
