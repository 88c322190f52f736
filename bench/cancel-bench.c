/*
 * cancel-bench.c - how promptly long trainer work can be cancelled.  On
 * Fashion-MNIST (the shipped MLP, 784-256-128-10 ReLU, batch 128) it runs
 * a gradient check of 1000 samples, a full evaluation (:eval) and the
 * zero-input baseline (:baseline) through the real trainer thread, with a
 * probe (trainer_set_probe) that times the gaps between the trainer's
 * cancellation checks with the monotonic clock; the longest gap is the
 * worst delay a q, SIGINT or SIGTERM can meet (the target is 50 ms).
 * Then it measures the time from a quit-now (what q and the signals send)
 * to the worker's exit, during a gradient check.  Not a test: it asserts
 * nothing; the probe costs nothing in normal runs (it is NULL there).
 *
 *   bench/cancel-bench [--threads N] [--rounds R] [--samples S]   (S: gradient check, 1000)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nntop/blas.h"
#include "nntop/cfg.h"
#include "nntop/mono.h"
#include "nntop/trainer.h"
#include "nntop/xmem.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* CPU time of the calling thread (the worker's, in the probe). */
static int64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * What the probe saw of one piece of work: the gaps by the monotonic
 * clock (what a user waits through, machine load included) and by the
 * worker's CPU time (the work between two checks, whatever the load).
 */
struct gaps {
    char what[32];
    int64_t cpu_last_ns, cpu_max_ns;
    int64_t cpu_max_at_ns;  /* when the longest gap by CPU ended */
    long cpu_max_check;     /* the check that ended it (-1: the end) */
    int64_t last_ns, begin_ns, end_ns;
    int64_t max_ns, sum_ns;
    int64_t max_at_ns;      /* when the longest gap ended, since the beginning */
    long checks, max_check; /* checks seen; the one that ended the longest gap */
    double seconds;
    bool done;
};

static void
probe(void *ctx, enum trainer_probe_phase phase, const char *what)
{
    struct gaps *g = ctx;
    int64_t now = mono_ns(), cpu = thread_cpu_ns();
    if (phase != TRAINER_PROBE_BEGIN && cpu - g->cpu_last_ns > g->cpu_max_ns) {
        g->cpu_max_ns = cpu - g->cpu_last_ns;
        g->cpu_max_check = phase == TRAINER_PROBE_CHECK ? g->checks + 1 : -1;
        g->cpu_max_at_ns = now - g->begin_ns;
    }
    g->cpu_last_ns = cpu;
    switch (phase) {
    case TRAINER_PROBE_BEGIN:
        memset(g, 0, sizeof *g);
        g->cpu_last_ns = cpu;
        snprintf(g->what, sizeof g->what, "%s", what);
        g->begin_ns = g->last_ns = now;
        break;
    case TRAINER_PROBE_CHECK:
        if (now - g->last_ns > g->max_ns) {
            g->max_ns = now - g->last_ns;
            g->max_at_ns = now - g->begin_ns;
            g->max_check = g->checks + 1;
        }
        g->sum_ns += now - g->last_ns;
        g->checks++;
        g->last_ns = now;
        break;
    case TRAINER_PROBE_END:
        /* The last stretch counts too: a quit waits through it as well. */
        if (now - g->last_ns > g->max_ns) {
            g->max_ns = now - g->last_ns;
            g->max_at_ns = now - g->begin_ns;
            g->max_check = -1;
        }
        g->seconds = (double)(now - g->begin_ns) * 1e-9;
        g->end_ns = now;
        g->done = true;
        break;
    case TRAINER_PROBE_PHASE_COUNT:
        break;
    }
}

static void
make_config(struct cfg *c, int threads)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "name: cancel-bench\nseed: 1\n"
             "data: {source: idx, train_images: %strain-images-idx3-ubyte.gz, "
             "train_labels: %strain-labels-idx1-ubyte.gz, test_images: "
             "%st10k-images-idx3-ubyte.gz, test_labels: %st10k-labels-idx1-ubyte.gz, "
             "normalize: standardize, val_fraction: 0.1}\n"
             "model: {layers: [{dense: 256}, relu, {dense: 128}, relu, {dense: 10}]}\n"
             "optim: {name: sgd, lr: 0.01, momentum: 0.9}\n"
             "train: {batch_size: 128, steps: 1000000, threads: %d}\n"
             "log: {enabled: false}\n",
             FMNIST, FMNIST, FMNIST, FMNIST, threads);
    struct cfg_errs errs = {0};
    cfg_defaults(c);
    if (cfg_load_string(c, yaml, strlen(yaml), "<cancel-bench>", &errs) != 0 ||
        cfg_validate(c, &errs) != 0) {
        cfg_errs_print(&errs, stderr);
        exit(2);
    }
}

static struct trainer *
start(const struct cfg *c, struct gaps *g)
{
    struct trainer_opts o = {.no_log = true, .start_paused = true};
    struct trainer *t = NULL;
    char *cause = NULL;
    if (trainer_new(&t, c, &o, &cause) != 0) {
        fprintf(stderr, "cancel-bench: %s\n", cause);
        exit(2);
    }
    trainer_set_probe(t, probe, g);
    if (trainer_start(t, &cause) != 0) {
        fprintf(stderr, "cancel-bench: %s\n", cause);
        exit(1);
    }
    return t;
}

/* Send cmd and drain the feed until the work it starts has ended. */
static void
run_work(struct trainer *t, struct feed f, const struct tm_command *cmd, struct tm_record *rec)
{
    char why[128];
    if (trainer_send(t, cmd, why, sizeof why) != 0) {
        fprintf(stderr, "cancel-bench: %s\n", why);
        exit(1);
    }
    for (;;) {
        bool ended = false;
        while (f.cls->poll(f.self, rec))
            ended |= rec->type == TM_PROGRESS && rec->u.progress.finished;
        if (ended)
            return;
        usleep(2000);
    }
}

int
main(int argc, char **argv)
{
    int threads = 1, rounds = 3;
    long samples = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--rounds R] [--samples S]\n", argv[0]);
            return 2;
        }
    }
    if (access(FMNIST "train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "cancel-bench: no Fashion-MNIST in " FMNIST
                        " (apt-get install dataset-fashion-mnist)\n");
        return 77;
    }
    struct cfg c;
    make_config(&c, threads);
    printf("cancel-bench: BLAS core %s, %d thread(s), gradient check of %ld samples; "
           "target: a check every 50 ms\n", blas_core_name(), threads, samples);
    struct gaps g;
    struct tm_record *rec = xmalloc(sizeof *rec);
    struct {
        struct tm_command cmd;
    } works[] = {
        {{.kind = TM_CMD_GRADCHECK, .n = samples}},
        {{.kind = TM_CMD_EVAL}},
        {{.kind = TM_CMD_BASELINE}},
    };
    struct trainer *t = start(&c, &g);
    struct feed f = trainer_feed(t);
    double worst = 0.0, cpu_worst = 0.0;
    for (int r = 0; r < rounds; r++)
        for (size_t w = 0; w < sizeof works / sizeof works[0]; w++) {
            run_work(t, f, &works[w].cmd, rec);
            double max_ms = (double)g.max_ns * 1e-6;
            double cpu_ms = (double)g.cpu_max_ns * 1e-6;
            worst = max_ms > worst ? max_ms : worst;
            cpu_worst = cpu_ms > cpu_worst ? cpu_ms : cpu_worst;
            printf("round %d %-10s %8.3f s %8ld checks  gap mean %7.3f ms  max %7.3f ms "
                   "(check %ld, at %.3f s)  max by worker CPU %7.3f ms (check %ld, at %.3f s)\n",
                   r + 1, g.what, g.seconds, g.checks,
                   g.checks > 0 ? (double)g.sum_ns * 1e-6 / (double)g.checks : 0.0, max_ms,
                   g.max_check, (double)g.max_at_ns * 1e-9, cpu_ms, g.cpu_max_check,
                   (double)g.cpu_max_at_ns * 1e-9);
        }
    char why[128];
    struct tm_command q = {.kind = TM_CMD_QUIT};
    trainer_send(t, &q, why, sizeof why);
    trainer_join(t);
    trainer_free(t);

    /* A quit-now during a gradient check: how long until the worker is gone. */
    double qworst = 0.0, qsum = 0.0, esum = 0.0;
    for (int r = 0; r < rounds; r++) {
        memset(&g, 0, sizeof g);
        t = start(&c, &g);
        f = trainer_feed(t);
        struct tm_command gc = {.kind = TM_CMD_GRADCHECK, .n = samples};
        trainer_send(t, &gc, why, sizeof why);
        /* Well into the check: 0.5 s after it began. */
        while (g.begin_ns == 0 || g.checks == 0 || mono_ns() - g.begin_ns < 500000000) {
            while (f.cls->poll(f.self, rec))
                ;
            usleep(1000);
        }
        struct tm_command now = {.kind = TM_CMD_QUIT, .n = 1};
        int64_t t0 = mono_ns();
        trainer_send(t, &now, why, sizeof why);
        while (!f.cls->finished(f.self)) {
            while (f.cls->poll(f.self, rec))
                ;
            usleep(200);
        }
        trainer_join(t);
        double ms = (double)(mono_ns() - t0) * 1e-6;
        esum += (double)(g.end_ns - t0) * 1e-6;
        qsum += ms;
        qworst = ms > qworst ? ms : qworst;
        trainer_free(t);
    }
    printf("longest gap between cancellation checks: %.3f ms wall, %.3f ms of worker CPU "
           "(target 50 ms)\n", worst, cpu_worst);
    printf("quit-now during a gradient check to worker exit: mean %.3f ms, max %.3f ms "
           "(target 100 ms); to the check's end: mean %.3f ms\n", qsum / rounds, qworst,
           esum / rounds);
    free(rec);
    return 0;
}
