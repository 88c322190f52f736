/*
 * headless.c - prints the telemetry stream as plain lines: a progress line
 * at a bounded rate, one line per evaluation and one per event.  It keeps
 * no history and draws nothing; the run log is the full record.
 */
#include "config.h"

#include "nntop/headless.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "nntop/nn.h"

/* Records taken in one go before looking at the clock and the signals. */
#define POLL_BATCH 4096

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
print_step(FILE *out, const struct tm_step *s)
{
    fprintf(out, "step %7ld  ep %6.2f  loss %.4f", s->step, s->epoch, (double)s->loss);
    if (s->reg_loss > 0.0f)
        fprintf(out, " (+l2 %.4f)", (double)s->reg_loss);
    fprintf(out, "  acc %5.1f%%  lr %.2e  |g| %.3g%s  %.1fk smp/s\n", 100.0 * s->accuracy,
            (double)s->lr, (double)s->grad_norm, s->clipped ? " clipped" : "",
            (double)s->samples_per_s / 1000.0);
}

static const char *const split_names[TM_SPLIT_COUNT] = {"val", "test", "train"};

static void
print_gradcheck(FILE *out, const struct tm_gradcheck *g)
{
    fprintf(out, "gradient check at step %ld on %d samples (%.2f s): %s\n", g->step, g->samples,
            (double)g->seconds, g->pass ? "PASS" : "FAIL");
    fprintf(out, "  %-20s %8s %10s %10s %6s  %s\n", "tensor", "checked", "max rel", "median",
            "kinks", "verdict");
    for (int i = 0; i < g->ntensors && i < TM_GC_MAX_TENSORS; i++) {
        const struct tm_gc_tensor *t = &g->t[i];
        fprintf(out, "  %-20s %8d %10.2e %10.2e %6d  %s", t->name, t->checked,
                (double)t->max_rel, (double)t->median_rel, t->kinks, t->pass ? "pass" : "FAIL");
        if (!t->pass)
            fprintf(out, "  worst [%ld] analytic %.6g numeric %.6g", t->worst_index,
                    (double)t->worst_analytic, (double)t->worst_numeric);
        fputc('\n', out);
    }
}

int
headless_run(struct feed *feed, const struct headless_opts *opts)
{
    FILE *out = opts->out;
    FILE *err = opts->err != NULL ? opts->err : out;
    struct tm_record *rec = calloc(1, sizeof *rec);
    if (rec == NULL)
        return 0;
    double last_print = -1e9;
    struct tm_step last = {0};
    bool have_last = false, printed_last = false;
    bool initial_shown = false;
    double expected = NAN;
    int stopped_by = 0;
    bool quit_sent = false;

    for (;;) {
        int n = 0;
        while (n < POLL_BATCH && feed->cls->poll(feed->self, rec)) {
            n++;
            switch (rec->type) {
            case TM_INFO:
                expected = rec->u.info.expected_loss;
                fprintf(out, "nntop %s: %ld train / %ld val / %ld test samples, %d features, "
                             "%d classes%s%s\n",
                        rec->u.info.name, rec->u.info.train_n, rec->u.info.val_n,
                        rec->u.info.test_n, rec->u.info.in_width, rec->u.info.classes,
                        rec->u.info.run_dir[0] ? "; run " : "", rec->u.info.run_dir);
                break;
            case TM_STEP:
                last = rec->u.step;
                have_last = true;
                printed_last = false;
                /* Only a run's first step has the initial loss (not a resumed one's). */
                if (!initial_shown && last.step == 1) {
                    initial_shown = true;
                    double rel = fabs(last.loss - expected) / (expected > 0 ? expected : 1.0);
                    fprintf(out, "initial loss %.4f, expected %.4f %s\n", (double)last.loss,
                            expected, isfinite(rel) && rel <= 0.1 ? "(ok)" : "(MISMATCH)");
                }
                if (now_s() - last_print >= opts->progress_every_s) {
                    print_step(out, &last);
                    printed_last = true;
                    last_print = now_s();
                }
                break;
            case TM_EVAL:
                fprintf(out, "eval  step %ld  ep %.2f  %s loss %.4f  acc %.2f%%  (%ld samples)\n",
                        rec->u.eval.step, rec->u.eval.epoch,
                        rec->u.eval.split >= 0 && rec->u.eval.split < TM_SPLIT_COUNT
                            ? split_names[rec->u.eval.split] : "?",
                        (double)rec->u.eval.loss, 100.0 * rec->u.eval.accuracy, rec->u.eval.n);
                break;
            case TM_EVENT:
                fprintf(rec->u.event.severity >= 3 ? err : out, "%s step %ld: %s\n",
                        rec->u.event.severity >= 3 ? "ERROR"
                        : rec->u.event.severity == 2 ? "warning"
                                                     : "event",
                        rec->u.event.step, rec->u.event.text);
                break;
            case TM_GRADCHECK:
                print_gradcheck(out, &rec->u.gradcheck);
                if (opts->result != NULL) {
                    opts->result->gradcheck_seen = true;
                    opts->result->gradcheck_pass = rec->u.gradcheck.pass;
                }
                break;
            case TM_STATE:
                if (rec->u.state.state == TM_DONE && !quit_sent) {
                    /* Training is over: nobody will steer it any more. */
                    struct tm_command q = {.kind = TM_CMD_QUIT};
                    char why[128];
                    feed->cls->send(feed->self, &q, why, sizeof why);
                    quit_sent = true;
                }
                break;
            default:
                break;
            }
        }
        fflush(out);
        if (err != out)
            fflush(err);
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
            if (sig > 0 && !quit_sent) {
                fprintf(err, "nntop: caught signal %d (%s), stopping\n", sig, strsignal(sig));
                fflush(err);
                stopped_by = sig;
                struct tm_command q = {.kind = TM_CMD_QUIT};
                char why[128];
                feed->cls->send(feed->self, &q, why, sizeof why);
                quit_sent = true;
            }
        } else if (n < POLL_BATCH) {
            nanosleep(&ts, NULL);
        }
    }
    if (have_last && !printed_last)
        print_step(out, &last);
    uint64_t dropped = feed->cls->dropped(feed->self);
    if (dropped > 0)
        fprintf(out, "telemetry: %llu records dropped (the run log has every step)\n",
                (unsigned long long)dropped);
    fflush(out);
    free(rec);
    return stopped_by;
}
