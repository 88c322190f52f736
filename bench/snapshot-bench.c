/*
 * snapshot-bench.c - the cost of one telemetry snapshot next to the cost
 * of one training step, measured in the same process on the same buffers,
 * for the Fashion-MNIST-shaped MLP (784-256-128-10 ReLU, batch 128, SGD
 * momentum).  Steps and snapshots alternate in rounds so that machine
 * noise falls on both alike; the figure is the median round's ratio
 *   samples/s with a snapshot every 10 steps / samples/s without
 *     = 10 step / (10 step + snapshot).
 * telemetry-bench measures the same end to end through the trainer thread,
 * which is truer but noisier on a shared machine.  --model cnn measures
 * the CNN of configs/fashion-cnn.yaml (without its dropout) at batch 64
 * instead, with fewer steps a round.
 *
 * The doctor's share is measured the same way: per snapshot interval, the
 * records the trainer feeds it (every step record, then the snapshot's
 * layer and tensor records and the snapshot itself, each copied as
 * trainer_publish copies it) against the interval's `every` steps:
 *   doctor_frac = doctor time per interval / (every x step time),
 * which the doctor issue wants below 0.005.  Not a test.
 *
 *   bench/snapshot-bench [--model mlp|cnn] [--threads N] [--rounds R] [--every K]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntop/blas.h"
#include "nntop/doctor.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/stats.h"
#include "nntop/mono.h"
#include "nntop/xmem.h"

#define BATCH 128

static long findings;

static void
count_finding(void *ctx, const struct tm_finding *f)
{
    (void)ctx;
    (void)f;
    findings++;
}

/* Feed one record as trainer_publish does: copied into the doctor's record. */
static void
feed(struct doctor *d, struct tm_record *rec, int type, const void *payload, size_t len)
{
    rec->type = (uint32_t)type;
    memcpy(&rec->u, payload, len);
    doctor_feed(d, rec);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    int threads = 1, rounds = 15, every = 10;
    bool cnn = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc
            && (strcmp(argv[i + 1], "mlp") == 0 || strcmp(argv[i + 1], "cnn") == 0))
            cnn = strcmp(argv[++i], "cnn") == 0;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc)
            every = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--model mlp|cnn] [--threads N] [--rounds R] [--every K]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || rounds < 1 || every < 1) {
        fprintf(stderr, "snapshot-bench: bad option value\n");
        return 2;
    }
    blas_set_threads(threads);

    struct model_spec spec = {.in = 784, .nlayers = 5, .loss = LOSS_CROSS_ENTROPY, .seed = 1};
    spec.layers[0] = (struct layer_spec){.kind = LAYER_DENSE, .units = 256};
    spec.layers[1] = (struct layer_spec){.kind = LAYER_RELU};
    spec.layers[2] = (struct layer_spec){.kind = LAYER_DENSE, .units = 128};
    spec.layers[3] = (struct layer_spec){.kind = LAYER_RELU};
    spec.layers[4] = (struct layer_spec){.kind = LAYER_DENSE, .units = 10};
    int batch = BATCH, steps_per_round = 50, snapshots_per_round = 20;
    if (cnn) {
        static const struct layer_spec cnn_layers[] = {
            {.kind = LAYER_CONV2D, .units = 32, .kernel = 5, .stride = 1, .padding = 2},
            {.kind = LAYER_RELU},
            {.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2},
            {.kind = LAYER_CONV2D, .units = 64, .kernel = 5, .stride = 1, .padding = 2},
            {.kind = LAYER_RELU},
            {.kind = LAYER_MAXPOOL2D, .kernel = 2, .stride = 2},
            {.kind = LAYER_FLATTEN},
            {.kind = LAYER_DENSE, .units = 128},
            {.kind = LAYER_RELU},
            {.kind = LAYER_DENSE, .units = 10},
        };
        spec.in_c = 1;
        spec.in_h = spec.in_w = 28;
        spec.nlayers = (int)(sizeof cnn_layers / sizeof cnn_layers[0]);
        memcpy(spec.layers, cnn_layers, sizeof cnn_layers);
        batch = 64;
        steps_per_round = 10;
        snapshots_per_round = 4;
    }
    char *cause = NULL;
    struct model *m = model_new(&spec, batch, &cause);
    if (m == NULL) {
        fprintf(stderr, "snapshot-bench: %s\n", cause);
        return 2;
    }
    float *x = xmalloc((size_t)batch * 784 * sizeof *x);  /* (B, 784) */
    int32_t y[BATCH];
    struct rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)batch * 784; i++)
        x[i] = (float)rng_uniform(&r);
    for (int i = 0; i < batch; i++)
        y[i] = i % 10;
    struct optim_spec os = {.kind = OPTIM_SGD, .lr = 0.01, .momentum = 0.9};
    struct optim *o = optim_new(&os, m->nparams);
    float *update = xalloc_aligned(m->nparams * sizeof *update);
    struct clip_spec clip = {.kind = CLIP_NONE};
    struct batch b = {.x = x, .labels = y, .size = batch};
    struct loss_out lo;
    struct tm_layer *tl = xcalloc((size_t)m->nlayers, sizeof *tl);
    struct tm_tensor *tt = xcalloc((size_t)m->ntensors, sizeof *tt);
    bool clipped;

    /* The doctor with the defaults, told about the model as the trainer tells it. */
    struct doctor_spec ds;
    doctor_spec_defaults(&ds);
    struct doctor *doc = doctor_new(&ds, count_finding, NULL);
    struct tm_record *rec = xcalloc(1, sizeof *rec);
    struct tm_info *info = xcalloc(1, sizeof *info);
    stats_describe_model(info, m);
    info->lr = os.lr;
    info->classes = 10;
    info->expected_loss = 2.302585;
    feed(doc, rec, TM_INFO, info, sizeof *info);
    long gstep = 0;

    double *ratio = xcalloc((size_t)rounds, sizeof *ratio);
    double *dfrac = xcalloc((size_t)rounds, sizeof *dfrac);
    double step_sum = 0.0, snap_sum = 0.0, doc_sum = 0.0;
    for (int k = -1; k < rounds; k++) {     /* round -1 warms up */
        double t0 = mono_seconds();
        for (int s = 0; s < steps_per_round; s++) {
            model_grad(m, &b, &lo);
            clip_grads(m->grads, m->nparams, &clip, &clipped);
            optim_step(o, m->params, m->grads, 0.01, s == 0 ? update : NULL);
        }
        double step = (mono_seconds() - t0) / steps_per_round;
        t0 = mono_seconds();
        for (int s = 0; s < snapshots_per_round; s++) {
            for (int i = 0; i < m->nlayers; i++)
                stats_layer(&tl[i], m, i, 40);
            for (int t = 0; t < m->ntensors; t++)
                stats_tensor(&tt[t], m, t, update, 40);
        }
        double snap = (mono_seconds() - t0) / snapshots_per_round;
        /* The doctor: snapshots_per_round intervals of `every` steps each. */
        t0 = mono_seconds();
        for (int s = 0; s < snapshots_per_round; s++) {
            struct tm_step st = {.lr = 0.01f, .accuracy = 0.5f, .grad_norm = 1.0f};
            for (int e = 0; e < every; e++) {
                st.step = ++gstep;
                st.loss = (float)lo.data * (1.0f + 0.01f * (float)(e % 3));
                feed(doc, rec, TM_STEP, &st, sizeof st);
            }
            for (int i = 0; i < m->nlayers; i++) {
                tl[i].step = gstep;
                feed(doc, rec, TM_LAYER, &tl[i], sizeof tl[i]);
            }
            for (int t = 0; t < m->ntensors; t++) {
                tt[t].step = gstep;
                feed(doc, rec, TM_TENSOR, &tt[t], sizeof tt[t]);
            }
            struct tm_snapshot sn = {.step = gstep, .nlayers = m->nlayers,
                                     .ntensors = m->ntensors};
            feed(doc, rec, TM_SNAPSHOT, &sn, sizeof sn);
        }
        double dtime = (mono_seconds() - t0) / snapshots_per_round;
        if (k < 0)
            continue;
        ratio[k] = every * step / (every * step + snap);
        dfrac[k] = dtime / (every * step);
        step_sum += step;
        snap_sum += snap;
        doc_sum += dtime;
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    qsort(dfrac, (size_t)rounds, sizeof *dfrac, cmp_double);
    printf("model=%s threads=%d every=%d step_us=%.1f snapshot_us=%.1f ratio_median=%.4f "
           "ratio_min=%.4f doctor_us=%.2f doctor_frac_median=%.6f doctor_frac_max=%.6f "
           "findings=%ld blas_core=%s\n",
           cnn ? "cnn" : "mlp", threads, every, 1e6 * step_sum / rounds, 1e6 * snap_sum / rounds,
           ratio[rounds / 2], ratio[0], 1e6 * doc_sum / rounds, dfrac[rounds / 2],
           dfrac[rounds - 1], findings, blas_core_name());
    free(ratio);
    free(dfrac);
    free(rec);
    free(info);
    doctor_free(doc);
    free(tl);
    free(tt);
    free(update);
    free(x);
    optim_free(o);
    model_free(m);
    return 0;
}
