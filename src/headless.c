/*
 * headless.c - prints the telemetry stream as plain lines for logs: a
 * progress line at most once a second (on a terminal one line rewritten
 * with '\r', in a pipe or file plain lines), evaluation lines (at most one
 * a second unless verbose), one line per event, and a closing summary.
 * It keeps only what the summary needs and draws nothing; the run log is
 * the full record.
 *
 * Every number goes through numfmt (nntop/numfmt.h), the formatter the
 * dashboard uses, so NaN reads "nan" and never "-nan".
 */
#include "config.h"

#include "nntop/headless.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/doctor.h"
#include "nntop/mono.h"
#include "nntop/numfmt.h"
#include "nntop/xmem.h"

/* Records taken in one go before looking at the clock and the signals. */
#define POLL_BATCH 4096
/* The smoothed loss: an exponential moving average with this weight on the newest step. */
#define EMA_ALPHA 0.02
#define EVAL_EVERY_S 1.0        /* eval lines at most this often unless verbose */
#define COL_W 7                 /* a number column ("%-7s"): numfmt_fit keeps it aligned */

struct printer {
    FILE *out;
    FILE *err;                  /* errors and "caught signal" (stderr, or out) */
    const struct headless_opts *opts;
    double t0;                  /* monotonic seconds at the first record */
    struct tm_info info;
    bool have_info;

    struct tm_step last;
    bool have_last, printed_last;
    long first_step;            /* the first step seen (a resumed run starts later) */
    double ema;
    bool have_ema;
    double last_progress;
    int progress_len;           /* columns of the '\r' line on screen; 0 none */
    double last_work_print;     /* when a long work's progress line was printed */

    double last_eval_print;
    bool have_best;
    struct tm_eval best_loss, best_acc;     /* validation */
    bool have_test;
    struct tm_eval test;

    int state;                  /* the last state seen, enum tm_run_state */
    long findings[4];           /* doctor findings by severity 0..3 */
    struct doctor_tally tally;  /* raised findings per rule and severity */
    long errors;
};

/* The '\r' progress line is on screen: end it so a plain line can follow. */
static void
end_progress_line(struct printer *p)
{
    if (p->progress_len > 0) {
        fputc('\n', p->out);
        p->progress_len = 0;
    }
}

static void
print_progress(struct printer *p)
{
    const struct tm_step *s = &p->last;
    char line[320], a[32], b[32], c[32], d[32];
    size_t o = 0;
    long total = p->have_info ? p->info.total_steps : 0;
    if (total > 0) {
        int w = snprintf(a, sizeof a, "%ld", total);
        o += (size_t)snprintf(line + o, sizeof line - o, "step %*ld/%ld (%5.1f %%)", w, s->step,
                              total, 100.0 * (double)s->step / (double)total);
    } else {
        o += (size_t)snprintf(line + o, sizeof line - o, "step %8ld", s->step);
    }
    o += (size_t)snprintf(line + o, sizeof line - o, "  ep %6.2f  loss(ema) %-7s  acc %5.1f %%"
                                                     "  lr %-7s",
                          s->epoch, numfmt_fit(a, sizeof a, p->ema, COL_W), 100.0 * s->accuracy,
                          numfmt_fit(b, sizeof b, s->lr, COL_W));
    if (s->reg_loss > 0.0f)
        o += (size_t)snprintf(line + o, sizeof line - o, "  l2 %-7s",
                              numfmt_fit(a, sizeof a, s->reg_loss, COL_W));
    double el = mono_seconds() - p->t0;
    long done = s->step - p->first_step + 1;
    bool live = !(p->have_info && p->info.replay);    /* a replay's clock means nothing */
    if (live)
        o += (size_t)snprintf(line + o, sizeof line - o, "  elapsed %7s",
                              numfmt_duration(c, sizeof c, true, el));
    if (live && total > 0 && done > 0 && s->step <= total)
        snprintf(line + o, sizeof line - o, "  eta %7s",
                 numfmt_duration(d, sizeof d, true, el / (double)done * (double)(total - s->step)));
    if (s->clipped)
        snprintf(line + strlen(line), sizeof line - strlen(line), "  clipped");
    int len = (int)strlen(line);
    if (p->opts->tty) {
        /* One line rewritten in place; pad over a longer previous one. */
        fprintf(p->out, "\r%s%*s", line, p->progress_len > len ? p->progress_len - len : 0, "");
        p->progress_len = len;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    p->printed_last = true;
}

/*
 * Long trainer work (a gradient check, an evaluation, the baseline): a
 * line at most once a second once it has taken a second, rewritten in
 * place on a terminal like the step line.
 */
static void
print_work(struct printer *p, const struct tm_progress *w)
{
    if (w->finished || w->elapsed_s < 1.0 || w->total <= 0)
        return;
    double t = mono_seconds();
    if (p->last_work_print > 0.0 && t - p->last_work_print < 1.0)
        return;
    p->last_work_print = t;
    char what[TM_NAME_MAX], line[160];
    snprintf(what, sizeof what, "%.*s", (int)sizeof w->what - 1, w->what);
    int len = snprintf(line, sizeof line, "%s %ld/%ld (%.0f %%)", what, w->done, w->total,
                       100.0 * (double)w->done / (double)w->total);
    if (p->opts->tty) {
        fprintf(p->out, "\r%s%*s", line, p->progress_len > len ? p->progress_len - len : 0, "");
        p->progress_len = len;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
}

static const char *const split_names[TM_SPLIT_COUNT] = {"val", "test", "train"};

static void
print_eval(struct printer *p, const struct tm_eval *e)
{
    char a[32];
    end_progress_line(p);
    fprintf(p->out, "eval  step %8ld  ep %6.2f  %-5s loss %-7s  acc %5.1f %%  (%ld samples)\n",
            e->step, e->epoch, e->split >= 0 && e->split < TM_SPLIT_COUNT ? split_names[e->split]
                                                                          : "?",
            numfmt_fit(a, sizeof a, e->loss, COL_W), 100.0 * e->accuracy, e->n);
}

static void
note_eval(struct printer *p, const struct tm_eval *e)
{
    if (e->split == TM_SPLIT_VAL) {
        if (!p->have_best || e->loss < p->best_loss.loss)
            p->best_loss = *e;
        if (!p->have_best || e->accuracy > p->best_acc.accuracy)
            p->best_acc = *e;
        p->have_best = true;
        double t = mono_seconds();
        if (p->opts->verbose || t - p->last_eval_print >= EVAL_EVERY_S) {
            print_eval(p, e);
            p->last_eval_print = t;
        }
    } else {
        if (e->split == TM_SPLIT_TEST) {
            p->test = *e;
            p->have_test = true;
        }
        print_eval(p, e);
    }
}

/*
 * An event's text without a "step N: " it starts with (the line already
 * says the step).
 */
static const char *
event_text(const struct tm_event *ev)
{
    char pre[40];
    int n = snprintf(pre, sizeof pre, "step %ld: ", ev->step);
    if (n > 0 && strncmp(ev->text, pre, (size_t)n) == 0)
        return ev->text + n;
    return ev->text;
}

static void
print_event(struct printer *p, const struct tm_event *ev)
{
    static const char *const labels[4] = {"event", "note", "warning", "error"};
    int sev = ev->severity < 0 ? 0 : ev->severity > 3 ? 3 : ev->severity;
    if (ev->kind == TM_EV_FINDING)
        p->findings[sev]++;
    else if (sev >= 3)
        p->errors++;
    end_progress_line(p);
    fprintf(sev >= 3 ? p->err : p->out, "%-7s step %ld: %s\n", labels[sev], ev->step,
            event_text(ev));
}

/* A doctor finding as one line (doctor_format_line), counted for the end. */
static void
print_finding(struct printer *p, const struct tm_finding *in)
{
    struct tm_finding f = *in;
    f.rule[TM_NAME_MAX - 1] = '\0';
    f.text[TM_TEXT_MAX - 1] = '\0';
    f.advice[TM_TEXT_MAX - 1] = '\0';
    f.remedy_text[TM_NAME_MAX - 1] = '\0';
    f.tensor_name[TM_NAME_MAX - 1] = '\0';
    char line[4 * TM_TEXT_MAX];
    end_progress_line(p);
    fprintf(p->out, "%s\n", doctor_format_line(line, sizeof line, &f, p->opts->utf8));
    if (f.state == TM_FINDING_RAISED && f.severity >= 0 && f.severity < 4)
        p->findings[f.severity]++;
    doctor_tally_add(&p->tally, &f);
}

static void
print_gradcheck(struct printer *p, const struct tm_gradcheck *g)
{
    char a[32], b[32], c[32], d[32];
    end_progress_line(p);
    fprintf(p->out, "gradient check at step %ld on %d samples (%.2f s): %s", g->step, g->samples,
            (double)g->seconds, tm_gc_verdict_name(g->verdict));
    if (g->verdict == TM_GC_INCONCLUSIVE)
        fprintf(p->out, " (%s)", tm_gc_reason_text(g->reason));
    fputc('\n', p->out);
    fprintf(p->out, "  %-10s %-20s %7s %8s %5s %9s %9s %9s  %s\n", "tensor", "layer", "checked",
            "compared", "kinks", "max rel", "bound", "err/bnd", "verdict");
    for (int i = 0; i < g->ntensors && i < TM_GC_MAX_TENSORS; i++) {
        const struct tm_gc_tensor *t = &g->t[i];
        /* The layer as the layers panel and layers.csv name it. */
        char layer[TM_LABEL_MAX + 8] = "-";
        if (p->have_info && t->layer >= 0 && t->layer < p->info.nlayers &&
            t->layer < TM_MAX_LAYERS)
            snprintf(layer, sizeof layer, "%d %s", t->layer, p->info.layers[t->layer].label_ascii);
        fprintf(p->out, "  %-10s %-20s %7d %8d %5d %9s %9s %9s  %s", t->name, layer, t->checked,
                t->compared, t->kinks, numfmt(a, sizeof a, t->max_rel),
                numfmt(b, sizeof b, t->worst_bound), numfmt(c, sizeof c, t->max_excess),
                tm_gc_verdict_name(t->verdict));
        if (t->verdict == TM_GC_FAIL)
            fprintf(p->out, "  worst [%ld] analytic %s numeric %s (%d beyond bound)",
                    t->worst_index, numfmt(a, sizeof a, t->worst_analytic),
                    numfmt(d, sizeof d, t->worst_numeric), t->failed);
        else if (t->verdict == TM_GC_INCONCLUSIVE)
            fprintf(p->out, "  %s (%d zero, %d tiny)", tm_gc_reason_text(t->reason), t->zero,
                    t->tiny);
        fputc('\n', p->out);
    }
}

/*
 * The doctor's part of the summary: findings by severity.  A later
 * "findings:" detail (the findings themselves) belongs here too.
 */
static void
print_findings_summary(struct printer *p)
{
    static const char *const names[4] = {"ok", "info", "warning", "error"};
    long n = p->findings[0] + p->findings[1] + p->findings[2] + p->findings[3];
    fprintf(p->out, "  findings    ");
    if (n == 0) {
        fprintf(p->out, "none\n");
        return;
    }
    const char *sep = "";
    for (int s = 3; s >= 0; s--) {
        if (p->findings[s] == 0)
            continue;
        fprintf(p->out, "%s%ld %s%s", sep, p->findings[s], names[s],
                p->findings[s] == 1 || s <= 1 ? "" : "s");
        sep = ", ";
    }
    fputc('\n', p->out);
}

static void
print_summary(struct printer *p, int stopped_by)
{
    char a[32], b[32];
    end_progress_line(p);
    double el = mono_seconds() - p->t0;
    long steps = p->have_last ? p->last.step : 0;
    const char *how = stopped_by != 0            ? "stopped"
                      : p->state == TM_FAILED    ? "failed"
                      : p->state == TM_DONE      ? "finished"
                                                 : "ended";
    fprintf(p->out, "summary: %s at step %ld", how, steps);
    if (p->have_info && p->info.total_steps > 0)
        fprintf(p->out, " of %ld", p->info.total_steps);
    fprintf(p->out, " in %s", numfmt_duration(a, sizeof a, true, el));
    if (p->have_last && el > 0.0 && steps >= p->first_step)
        fprintf(p->out, " (%s steps/s)",
                numfmt(b, sizeof b, (double)(steps - p->first_step + 1) / el));
    fputc('\n', p->out);
    if (p->have_last)
        fprintf(p->out, "  last step   loss(ema) %s  batch acc %.1f %%\n",
                numfmt(a, sizeof a, p->ema), 100.0 * p->last.accuracy);
    if (p->have_best) {
        fprintf(p->out, "  best val    loss %s at step %ld, acc %.1f %% at step %ld\n",
                numfmt(a, sizeof a, p->best_loss.loss), p->best_loss.step,
                100.0 * p->best_acc.accuracy, p->best_acc.step);
    }
    if (p->have_test)
        fprintf(p->out, "  test        loss %s  acc %.1f %% (%ld samples)\n",
                numfmt(a, sizeof a, p->test.loss), 100.0 * p->test.accuracy, p->test.n);
    print_findings_summary(p);
    if (p->errors > 0)
        fprintf(p->out, "  errors      %ld\n", p->errors);
    if (p->have_info && p->info.run_dir[0] != '\0')
        fprintf(p->out, "  run         %s\n", p->info.run_dir);
}

static void
apply(struct printer *p, const struct tm_record *rec, struct feed *feed, bool *quit_sent)
{
    switch (rec->type) {
    case TM_INFO:
        p->info = rec->u.info;
        p->info.name[sizeof p->info.name - 1] = '\0';
        p->info.run_dir[sizeof p->info.run_dir - 1] = '\0';
        p->have_info = true;
        fprintf(p->out, "nntop %s: %ld train / %ld val / %ld test samples, %d features, "
                        "%d classes%s%s\n",
                p->info.name, p->info.train_n, p->info.val_n, p->info.test_n, p->info.in_width,
                p->info.classes, p->info.run_dir[0] ? "; run " : "", p->info.run_dir);
        p->info.blas_note[sizeof p->info.blas_note - 1] = '\0';
        if (p->info.blas_note[0] != '\0')
            fprintf(p->out, "%s\n", p->info.blas_note);
        break;
    case TM_STEP: {
        const struct tm_step *s = &rec->u.step;
        if (!p->have_last)
            p->first_step = s->step;
        p->last = *s;
        p->have_last = true;
        p->printed_last = false;
        if (isfinite(s->loss)) {
            p->ema = p->have_ema ? (1.0 - EMA_ALPHA) * p->ema + EMA_ALPHA * s->loss : s->loss;
            p->have_ema = true;
        } else {
            p->ema = s->loss;   /* a non-finite step shows as such */
            p->have_ema = false;
        }
        /* The initial-loss verdict is the doctor's (a TM_FINDING). */
        double t = mono_seconds();
        if (t - p->last_progress >= p->opts->progress_every_s) {
            print_progress(p);
            p->last_progress = t;
        }
        break;
    }
    case TM_EVAL:
        note_eval(p, &rec->u.eval);
        break;
    case TM_PROGRESS:
        print_work(p, &rec->u.progress);
        break;
    case TM_EVENT:
        print_event(p, &rec->u.event);
        break;
    case TM_FINDING:
        print_finding(p, &rec->u.finding);
        break;
    case TM_GRADCHECK:
        print_gradcheck(p, &rec->u.gradcheck);
        if (p->opts->result != NULL) {
            p->opts->result->gradcheck_seen = true;
            p->opts->result->gradcheck_verdict = rec->u.gradcheck.verdict;
        }
        break;
    case TM_STATE:
        p->state = rec->u.state.state;
        if (rec->u.state.state == TM_DONE && !*quit_sent) {
            /* Training is over: nobody will steer it any more. */
            struct tm_command q = {.kind = TM_CMD_QUIT};
            char why[128];
            feed->cls->send(feed->self, &q, why, sizeof why);
            *quit_sent = true;
        }
        break;
    default:
        break;
    }
}

int
headless_run(struct feed *feed, const struct headless_opts *opts)
{
    /* Out of memory is fatal (xmem.h): a printer that cannot print must not report success. */
    struct printer *p = xcalloc(1, sizeof *p);
    struct tm_record *rec = xcalloc(1, sizeof *rec);
    p->out = opts->out;
    p->err = opts->err != NULL ? opts->err : opts->out;
    p->opts = opts;
    p->t0 = mono_seconds();
    p->last_progress = -1e9;
    p->last_eval_print = -1e9;
    p->state = TM_RUNNING;
    doctor_tally_init(&p->tally);
    int stopped_by = 0;
    bool quit_sent = false;

    for (;;) {
        int n = 0;
        while (n < POLL_BATCH && feed->cls->poll(feed->self, rec)) {
            n++;
            apply(p, rec, feed, &quit_sent);
        }
        fflush(p->out);
        if (p->err != p->out)
            fflush(p->err);
        if (feed->cls->finished(feed->self))
            break;
        /*
         * Wait a little unless more records are queued, watching for
         * signals either way: a busy trainer keeps the ring from ever
         * being empty, and a signal must still stop it.  Lines go out at
         * most once a second, so sleeping between drains loses nothing
         * (the ring holds far more than 50 ms of records) and leaves the
         * CPU to the trainer.
         */
        struct timespec ts = {0, n == POLL_BATCH ? 0 : 50 * 1000 * 1000};
        if (opts->signals != NULL) {
            siginfo_t info;
            int sig = sigtimedwait(opts->signals, &info, &ts);
            if (sig <= 0 && opts->stray != NULL)
                sig = atomic_load_explicit(opts->stray, memory_order_relaxed);
            if (sig > 0 && !quit_sent) {
                end_progress_line(p);
                fprintf(p->err, "nntop: caught signal %d (%s), stopping\n", sig, strsignal(sig));
                fflush(p->err);
                stopped_by = sig;
                struct tm_command q = {.kind = TM_CMD_QUIT, .n = 1};
                char why[128];
                feed->cls->send(feed->self, &q, why, sizeof why);
                quit_sent = true;
            }
        } else if (n < POLL_BATCH) {
            nanosleep(&ts, NULL);
        }
    }
    if (p->have_last && !p->printed_last)
        print_progress(p);
    uint64_t dropped = feed->cls->dropped(feed->self);
    if (dropped > 0) {
        end_progress_line(p);
        fprintf(p->out, "telemetry: %llu records dropped (the run log has every step)\n",
                (unsigned long long)dropped);
    }
    end_progress_line(p);
    doctor_tally_print(&p->tally, p->out);
    if (opts->result != NULL)
        opts->result->max_severity = p->tally.max_severity;
    if (opts->summary)
        print_summary(p, stopped_by);
    end_progress_line(p);
    fflush(p->out);
    free(rec);
    free(p);
    return stopped_by;
}
