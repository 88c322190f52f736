/*
 * telemetry-bench.c - what watching costs.  Trains the Fashion-MNIST-shaped
 * MLP (784-256-128-10 ReLU, batch 128, SGD momentum) through the real
 * trainer thread with telemetry at its default cadence and with telemetry
 * off, alternating the two so machine noise falls on both alike, and
 * prints their throughput ratio.  Then measures control latency: the time
 * from sending pause to receiving the trainer's acknowledgement, next to
 * the duration of one step.  Not a test: it asserts nothing.
 *
 *   bench/telemetry-bench [--threads N] [--steps S] [--rounds R] [--data real|synthetic]
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nntop/blas.h"
#include "nntop/cfg.h"
#include "nntop/trainer.h"
#include "nntop/mono.h"
#include "nntop/xmem.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* Throughput of one run, by the wall clock and by the process's CPU time
 * (the latter is steadier on a shared machine). */
struct rate {
    double wall, cpu;
};

static void
make_config(struct cfg *c, int threads, long steps, long every, bool real)
{
    char yaml[2048];
    if (real)
        snprintf(yaml, sizeof yaml,
                 "name: bench\nseed: 1\n"
                 "data: {source: idx, train_images: %strain-images-idx3-ubyte.gz, "
                 "train_labels: %strain-labels-idx1-ubyte.gz, normalize: unit, val_fraction: 0}\n",
                 FMNIST, FMNIST);
    else
        snprintf(yaml, sizeof yaml,
                 "name: bench\nseed: 1\n"
                 "data: {source: blobs, classes: 10, points: 20000, features: 784, spread: 4.0, "
                 "val_fraction: 0}\n");
    size_t n = strlen(yaml);
    snprintf(yaml + n, sizeof yaml - n,
             "model: {layers: [{dense: 256}, relu, {dense: 128}, relu, {dense: 10}]}\n"
             "optim: {name: sgd, lr: 0.01, momentum: 0.9}\n"
             "train: {batch_size: 128, steps: %ld, threads: %d, eval_every: 1000000}\n"
             "log: {enabled: false}\n"
             "telemetry: {every: %ld}\n",
             steps, threads, every);
    struct cfg_errs errs = {0};
    cfg_defaults(c);
    if (cfg_load_string(c, yaml, strlen(yaml), "<bench>", &errs) != 0 ||
        cfg_validate(c, &errs) != 0) {
        cfg_errs_print(&errs, stderr);
        exit(2);
    }
}

/* A trainer for c, not logging; exits the bench if c is refused. */
static struct trainer *
new_trainer(const struct cfg *c, bool exit_when_done)
{
    struct trainer_opts o = {.no_log = true, .exit_when_done = exit_when_done};
    struct trainer *t = NULL;
    char *cause = NULL;
    if (trainer_new(&t, c, &o, &cause) != 0) {
        fprintf(stderr, "telemetry-bench: %s\n", cause);
        exit(2);
    }
    return t;
}

/* Start t's worker, or exit 1 saying why. */
static void
start_trainer(struct trainer *t)
{
    char *cause = NULL;
    if (trainer_start(t, &cause) != 0) {
        fprintf(stderr, "telemetry-bench: %s\n", cause);
        exit(1);
    }
}

/* Run to the end while draining the feed as the UI would. */
static struct rate
run_once(const struct cfg *c, long steps)
{
    struct trainer *t = new_trainer(c, true);
    struct feed f = trainer_feed(t);
    struct tm_record *rec = xmalloc(sizeof *rec);
    double t0 = mono_seconds(), c0 = mono_cpu_seconds();
    start_trainer(t);
    while (!f.cls->finished(f.self)) {
        int n = 0;
        while (f.cls->poll(f.self, rec))
            n++;
        if (n == 0)
            usleep(20000);  /* a UI redrawing at 50 Hz at most */
    }
    double dt = mono_seconds() - t0, dc = mono_cpu_seconds() - c0;
    trainer_free(t);
    free(rec);
    return (struct rate){.wall = (double)steps * 128.0 / dt, .cpu = (double)steps * 128.0 / dc};
}

/* Pause latency: send pause while running, wait for the paused state. */
static void
control_latency(const struct cfg *c, int trials)
{
    struct trainer *t = new_trainer(c, false);
    struct feed f = trainer_feed(t);
    struct tm_record *rec = xmalloc(sizeof *rec);
    char why[128];
    start_trainer(t);
    double worst = 0.0, sum = 0.0, step_s = 0.0;
    for (int k = 0; k < trials; k++) {
        /* let it run a little, measuring the step time from step records */
        double t0 = mono_seconds();
        long s0 = -1, s1 = -1;
        while (mono_seconds() - t0 < 0.2) {
            while (f.cls->poll(f.self, rec))
                if (rec->type == TM_STEP) {
                    if (s0 < 0)
                        s0 = rec->u.step.step;
                    s1 = rec->u.step.step;
                }
            usleep(1000);
        }
        if (s1 > s0)
            step_s = 0.2 / (double)(s1 - s0);
        struct tm_command p = {.kind = TM_CMD_PAUSE};
        double ts = mono_seconds();
        trainer_send(t, &p, why, sizeof why);
        double lat = -1.0;
        while (lat < 0.0) {
            while (f.cls->poll(f.self, rec))
                if (rec->type == TM_STATE && rec->u.state.state == TM_PAUSED) {
                    lat = mono_seconds() - ts;
                    break;
                }
        }
        sum += lat;
        worst = lat > worst ? lat : worst;
        struct tm_command r = {.kind = TM_CMD_RESUME};
        trainer_send(t, &r, why, sizeof why);
    }
    struct tm_command q = {.kind = TM_CMD_QUIT};
    trainer_send(t, &q, why, sizeof why);
    while (!f.cls->finished(f.self))
        while (f.cls->poll(f.self, rec))
            ;
    trainer_free(t);
    free(rec);
    printf("pause_latency_ms_mean=%.3f pause_latency_ms_max=%.3f step_ms=%.3f\n",
           1e3 * sum / trials, 1e3 * worst, 1e3 * step_s);
}

int
main(int argc, char **argv)
{
    int threads = 1, rounds = 5;
    long steps = 1500;
    bool real = access(FMNIST "train-images-idx3-ubyte.gz", R_OK) == 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atol(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            real = strcmp(argv[++i], "real") == 0;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--steps S] [--rounds R] "
                            "[--data real|synthetic]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || steps < 10 || rounds < 1) {
        fprintf(stderr, "telemetry-bench: bad option value\n");
        return 2;
    }
    struct cfg *on = xcalloc(1, sizeof *on), *off = xcalloc(1, sizeof *off);
    make_config(on, threads, steps, 10, real);
    make_config(off, threads, steps, 0, real);
    blas_set_threads(threads);
    /* warm-up: page in the data and OpenBLAS's buffers */
    run_once(off, steps / 5 > 10 ? steps / 5 : 10);
    struct rate best_on = {0}, best_off = {0};
    for (int r = 0; r < rounds; r++) {
        struct rate a = run_once(off, steps);
        struct rate b = run_once(on, steps);
        best_off.wall = a.wall > best_off.wall ? a.wall : best_off.wall;
        best_on.wall = b.wall > best_on.wall ? b.wall : best_on.wall;
        best_off.cpu = a.cpu > best_off.cpu ? a.cpu : best_off.cpu;
        best_on.cpu = b.cpu > best_on.cpu ? b.cpu : best_on.cpu;
        fprintf(stderr, "round %d: off %.0f on %.0f samples/s wall (%.3f), per cpu-s %.0f %.0f (%.3f)\n",
                r + 1, a.wall, b.wall, b.wall / a.wall, a.cpu, b.cpu, b.cpu / a.cpu);
    }
    /* Best of each side: noise only ever slows a run down. */
    printf("data=%s threads=%d steps=%ld rounds=%d samples_per_s_off=%.0f samples_per_s_on=%.0f "
           "ratio_wall=%.3f ratio_cpu=%.3f\n",
           real ? "fashion-mnist" : "synthetic", threads, steps, rounds, best_off.wall,
           best_on.wall, best_on.wall / best_off.wall, best_on.cpu / best_off.cpu);
    /* The latency run must not end on its own before the pauses are done. */
    make_config(on, threads, 1000000000L, 10, real);
    control_latency(on, 20);
    free(on);
    free(off);
    return 0;
}
