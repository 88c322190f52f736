/*
 * check_runlog.c - tests of the run log: run directory naming, the CSV
 * and JSONL files round-tripping through the readers, safetensors
 * checkpoints (round trip, exact mismatch messages, corrupted files under
 * random mutation), atomic writes, and sticky write errors on a full disk.
 *
 * Models are built by hand from struct model's descriptors, so these
 * tests do not depend on the nn engine.  Not tested here: loading the
 * checkpoints in PyTorch (tests/torch_load_checkpoint.py does that).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "nntop/data.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/runlog.h"
#include "nntop/xmem.h"
#include "../src/runlog/runlog-int.h"

/* 2023-11-14 22:13:20 UTC */
#define FAKE_NOW ((time_t)1700000000)
#define FAKE_STAMP "20231114-221320"

static char *tmp;

static void
setup(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    runlog_set_fake_time(0);
    tmp = xstrdup(check_tmpdir());
}

static void
teardown(void)
{
    runlog_set_fake_time(0);
    free(tmp);
    tmp = NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = xmalloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return s;
}

static void
spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void
append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static bool
exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Files in dir whose names contain part. */
static int
count_matching(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, part) != NULL)
            n++;
    closedir(d);
    return n;
}

static struct runlog *
open_run(const char *root, const char *name, const char *config)
{
    struct runlog *rl = NULL;
    char *cause = NULL;
    int rc = runlog_open(&rl, root, name, config, NULL, &cause);
    ck_assert_msg(rc == 0, "runlog_open(%s, %s) failed: %s", root, name, cause);
    return rl;
}

static void
close_ok(struct runlog *rl)
{
    char *cause = NULL;
    int rc = runlog_close(rl, &cause);
    ck_assert_msg(rc == 0, "runlog_close failed: %s", cause);
}

static bool
same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static bool
same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* ---- hand-built models ------------------------------------------------ */

static void
add_slice(struct param_tensor *arr, int *n, size_t *total, const char *name, int layer,
          int rows, int cols, int ndim)
{
    struct param_tensor *t = &arr[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->layer = layer;
    t->offset = *total;
    t->rows = rows;
    t->cols = cols;
    t->ndim = ndim;
    t->count = (size_t)rows * (size_t)cols;
    *total += t->count;
}

/*
 * dense in->hidden, relu, [batchnorm], dense hidden->out: PyTorch indices
 * 0, 1, (2,) 2 or 3.  Values depend on seed; with special set, the first
 * entries are -0, a NaN with a payload and a subnormal (byte-exact test).
 */
static struct model *
test_model(int in, int hidden, int out, bool bn, unsigned seed, bool special)
{
    struct model *m = xcalloc(1, sizeof *m);
    size_t np = 0, ns = 0;
    add_slice(m->tensors, &m->ntensors, &np, "0.weight", 0, hidden, in, 2);
    add_slice(m->tensors, &m->ntensors, &np, "0.bias", 0, hidden, 1, 1);
    int last = 2;
    if (bn) {
        add_slice(m->tensors, &m->ntensors, &np, "2.weight", 2, hidden, 1, 1);
        add_slice(m->tensors, &m->ntensors, &np, "2.bias", 2, hidden, 1, 1);
        add_slice(m->buffers, &m->nbuffers, &ns, "2.running_mean", 2, hidden, 1, 1);
        add_slice(m->buffers, &m->nbuffers, &ns, "2.running_var", 2, hidden, 1, 1);
        last = 3;
    }
    char w[16], b[16];
    snprintf(w, sizeof w, "%d.weight", last);
    snprintf(b, sizeof b, "%d.bias", last);
    add_slice(m->tensors, &m->ntensors, &np, w, last, out, hidden, 2);
    add_slice(m->tensors, &m->ntensors, &np, b, last, out, 1, 1);
    m->nparams = np;
    m->nstate = ns;
    m->params = xalloc_aligned(np * sizeof(float));
    m->grads = xalloc_aligned(np * sizeof(float));
    if (ns > 0)
        m->state = xalloc_aligned(ns * sizeof(float));
    for (size_t i = 0; i < np; i++)
        m->params[i] = sinf((float)(i * 7 + seed) * 0.37f) * 0.5f;
    for (size_t i = 0; i < ns; i++)
        m->state[i] = 1.0f + cosf((float)(i + seed));
    if (special) {
        uint32_t nan_bits = 0x7fc01234u;
        m->params[0] = -0.0f;
        memcpy(&m->params[1], &nan_bits, 4);
        m->params[2] = 1e-40f;
    }
    m->bn_batches = bn ? 1234 + (long)seed : 0;
    return m;
}

static void
free_model(struct model *m)
{
    free(m->params);
    free(m->grads);
    free(m->state);
    free(m);
}

static struct optim *
test_optim(const struct model *m, enum optim_kind kind, unsigned seed)
{
    struct optim *o = xcalloc(1, sizeof *o);
    o->spec.kind = kind;
    o->n = m->nparams;
    o->m = xalloc_aligned(o->n * sizeof(float));
    if (kind != OPTIM_SGD)
        o->v = xalloc_aligned(o->n * sizeof(float));
    for (size_t i = 0; i < o->n; i++) {
        o->m[i] = (float)(i + seed) * 1e-3f;
        if (o->v != NULL)
            o->v[i] = (float)(i * i + seed) * 1e-6f;
    }
    o->t = 17 + (long)seed;
    return o;
}

static void
free_optim(struct optim *o)
{
    free(o->m);
    free(o->v);
    free(o);
}

static char *
save_ok(const char *dir, const char *file, const struct model *m, const struct optim *o,
        long step, double epoch, const char *config)
{
    char *path = xasprintf("%s/%s", dir, file);
    char *cause = NULL;
    long long size = runlog_save_checkpoint(path, m, o, step, epoch, config, &cause);
    ck_assert_msg(size > 0, "saving %s failed: %s", path, cause);
    return path;
}

/* Load must fail with exactly "<path>: <want>"; m must not change. */
static void
load_fails(const char *path, struct model *m, struct optim *o, const char *want)
{
    float *before = xmalloc(m->nparams * sizeof(float));
    memcpy(before, m->params, m->nparams * sizeof(float));
    char *cause = NULL, *expected = xasprintf("%s: %s", path, want);
    int rc = runlog_load_checkpoint(path, m, o, NULL, NULL, NULL, &cause);
    ck_assert_msg(rc == -1, "loading %s succeeded, expected: %s", path, expected);
    ck_assert_msg(cause != NULL && strcmp(cause, expected) == 0,
                  "expected message\n  '%s'\ngot\n  '%s'", expected, cause);
    ck_assert_msg(memcmp(before, m->params, m->nparams * sizeof(float)) == 0,
                  "a failed load changed the model's parameters");
    free(cause);
    free(expected);
    free(before);
}

/* A safetensors file from a header string and n bytes of data. */
static void
write_st(const char *path, const char *header, size_t ndata)
{
    size_t hn = strlen(header);
    size_t total = 8 + hn + ndata;
    unsigned char *buf = xcalloc(total, 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    spit(path, buf, total);
    free(buf);
}

/* ---- core --------------------------------------------------------------- */

START_TEST(test_runlog__dir_naming)
{
    runlog_set_fake_time(FAKE_NOW);
    char *root = xasprintf("%s/runs/deeper", tmp);
    struct runlog_env env = {
        .cmdline = "nntop --headless configs/spiral.yaml",
        .blas_config = "OpenBLAS 0.3.21 DYNAMIC_ARCH",
        .blas_core = "Haswell",
        .blas_threads = 4,
        .extra = "threads_trainer: 1",
    };
    struct runlog *a = NULL, *b = NULL;
    char *cause = NULL;
    ck_assert_int_eq(runlog_open(&a, root, "spiral mlp/x", "seed: 1\n", &env, &cause), 0);
    ck_assert_int_eq(runlog_open(&b, root, "spiral mlp/x", "seed: 2\n", NULL, &cause), 0);

    char *want_a = xasprintf("%s/" FAKE_STAMP "-spiral_mlp_x", root);
    char *want_b = xasprintf("%s/" FAKE_STAMP "-spiral_mlp_x-2", root);
    ck_assert_msg(strcmp(runlog_dir(a), want_a) == 0, "first run dir: expected %s, got %s",
                  want_a, runlog_dir(a));
    ck_assert_msg(strcmp(runlog_dir(b), want_b) == 0, "second run dir: expected %s, got %s",
                  want_b, runlog_dir(b));

    char *p = xasprintf("%s/config.yaml", want_a);
    char *s = slurp(p, NULL);
    ck_assert_str_eq(s, "seed: 1\n");
    free(s);
    free(p);
    p = xasprintf("%s/env.txt", want_a);
    s = slurp(p, NULL);
    const char *lines[] = {
        "nntop: " PACKAGE_VERSION "\n", "\ncompiler: ", "\nblas: OpenBLAS 0.3.21 DYNAMIC_ARCH\n",
        "\nblas_core: Haswell\n", "\nblas_threads: 4\n", "\nhost: ",
        "\nstart: 2023-11-14T22:13:20+00:00\n",
        "\ncommand: nntop --headless configs/spiral.yaml\n", "\nthreads_trainer: 1\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(s, lines[i]) != NULL, "env.txt lacks '%s':\n%s", lines[i], s);
    free(s);
    free(p);

    p = xasprintf("%s/metrics.csv", want_b);
    s = slurp(p, NULL);
    ck_assert_str_eq(s, "step,epoch,kind,loss,reg_loss,accuracy,lr,grad_norm,clipped,"
                        "samples_per_s,wall_s\n");
    free(s);
    free(p);
    p = xasprintf("%s/layers.csv", want_b);
    s = slurp(p, NULL);
    ck_assert_str_eq(s, "step,layer,name,tensor,act_mean,act_std,act_min,act_max,dead_frac,"
                        "sat_frac,w_norm,g_norm,update_norm,update_ratio,nan_count,inf_count\n");
    free(s);
    free(p);
    p = xasprintf("%s/events.jsonl", want_b);
    size_t n;
    s = slurp(p, &n);
    ck_assert_uint_eq(n, 0);
    free(s);
    free(p);
    p = xasprintf("%s/env.txt", want_b);
    s = slurp(p, NULL);
    ck_assert_msg(strstr(s, "\nblas: unknown\n") != NULL, "env.txt without env:\n%s", s);
    free(s);
    free(p);

    /* A third run in the same second, and a name that sanitises to nothing. */
    struct runlog *c = open_run(root, "spiral mlp/x", NULL);
    struct runlog *d = open_run(root, "..", NULL);
    char *want_c = xasprintf("%s/" FAKE_STAMP "-spiral_mlp_x-3", root);
    char *want_d = xasprintf("%s/" FAKE_STAMP "-run", root);
    ck_assert_str_eq(runlog_dir(c), want_c);
    ck_assert_str_eq(runlog_dir(d), want_d);
    p = xasprintf("%s/config.yaml", want_c);
    ck_assert_msg(!exists(p), "config.yaml written for a NULL config");
    free(p);
    close_ok(a);
    close_ok(b);
    close_ok(c);
    close_ok(d);
    free(want_a);
    free(want_b);
    free(want_c);
    free(want_d);
    free(root);
}
END_TEST

static const struct metrics_row sample_rows[] = {
    { 1, 0.015625, METRICS_TRAIN, 1.0986123f, 0.0f, 0.3125f, 0.1, 0.71234567f, false, 12345.5,
      0.25 },
    { 2, 1.0 / 3.0, METRICS_TRAIN, 0.1f, 1e-8f, 1.0f, 3e-4, 1e30f, true, 0.0, 1.5 },
    { 3, 2.0 / 3.0, METRICS_TRAIN, NAN, FLT_MAX, 0.0f, 1e-300, INFINITY, false, 7.5, 2.0 },
    { 3, 2.0 / 3.0, METRICS_VAL, 0.52345675f, NAN, 0.875f, NAN, NAN, false, NAN, 2.125 },
    { 4, 1.0, METRICS_TRAIN, 1e-40f, -0.0f, 0.5f, 0.123456789012345678, -INFINITY, true, 1e6,
      3.0 },
    { 4, 1.0, METRICS_TEST, 0.25f, NAN, 0.8671875f, NAN, NAN, false, NAN, 3.5 },
    { 5, 2.0, METRICS_TRAIN, 0.5f, 0.0f, 0.5f, 0.1, 1.0f, false, 1e300, 1e20 },
};
#define NSAMPLE (sizeof sample_rows / sizeof sample_rows[0])

static void
check_metrics_equal(const struct metrics_row *got, const struct metrics_row *want, size_t i)
{
    bool train = want->kind == METRICS_TRAIN;
    ck_assert_msg(got->step == want->step, "row %zu step: expected %ld, got %ld", i, want->step,
                  got->step);
    ck_assert_msg(got->kind == want->kind, "row %zu kind: expected %d, got %d", i,
                  (int)want->kind, (int)got->kind);
    ck_assert_msg(same_double(got->epoch, want->epoch), "row %zu epoch: expected %.17g, got %.17g",
                  i, want->epoch, got->epoch);
    ck_assert_msg(same_float(got->loss, want->loss), "row %zu loss: expected %.9g, got %.9g", i,
                  (double)want->loss, (double)got->loss);
    ck_assert_msg(same_float(got->accuracy, want->accuracy),
                  "row %zu accuracy: expected %.9g, got %.9g", i, (double)want->accuracy,
                  (double)got->accuracy);
    ck_assert_msg(same_double(got->wall_s, want->wall_s), "row %zu wall_s: expected %g, got %g",
                  i, want->wall_s, got->wall_s);
    if (train) {
        ck_assert_msg(same_float(got->reg_loss, want->reg_loss),
                      "row %zu reg_loss: expected %.9g, got %.9g", i, (double)want->reg_loss,
                      (double)got->reg_loss);
        ck_assert_msg(same_double(got->lr, want->lr), "row %zu lr: expected %.17g, got %.17g", i,
                      want->lr, got->lr);
        ck_assert_msg(same_float(got->grad_norm, want->grad_norm),
                      "row %zu grad_norm: expected %.9g, got %.9g", i, (double)want->grad_norm,
                      (double)got->grad_norm);
        ck_assert_msg(got->clipped == want->clipped, "row %zu clipped: expected %d, got %d", i,
                      want->clipped, got->clipped);
        ck_assert_msg(same_double(got->samples_per_s, want->samples_per_s),
                      "row %zu samples_per_s: expected %g, got %g", i, want->samples_per_s,
                      got->samples_per_s);
    } else {
        ck_assert_msg(isnan(got->reg_loss) && isnan(got->lr) && isnan(got->grad_norm)
                      && isnan(got->samples_per_s) && !got->clipped,
                      "row %zu: eval row's train-only columns should read back empty", i);
    }
}

START_TEST(test_runlog__metrics_roundtrip)
{
    struct runlog *rl = open_run(tmp, "m", "x: 1\n");
    for (size_t i = 0; i < NSAMPLE; i++)
        runlog_metrics_row(rl, &sample_rows[i]);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);

    char *p = xasprintf("%s/metrics.csv", dir);
    char *text = slurp(p, NULL);
    /* The exact text: shortest round-trip numbers, empty eval columns. */
    const char *want_lines[] = {
        "\n1,0.015625,train,1.0986123,0,0.3125,0.1,0.71234566,0,12345.5,0.250\n",
        "\n2,0.3333333333333333,train,0.1,1e-08,1,0.0003,1e+30,1,0.0,1.500\n",
        "\n3,0.6666666666666666,train,nan,3.4028235e+38,0,1e-300,inf,0,7.5,2.000\n",
        "\n3,0.6666666666666666,val,0.52345675,,0.875,,,,,2.125\n",
        "\n4,1,train,1e-40,-0,0.5,0.12345678901234568,-inf,1,1000000.0,3.000\n",
        "\n4,1,test,0.25,,0.8671875,,,,,3.500\n",
        "\n5,2,train,0.5,0,0.5,0.1,1,0,1e+300,1e+20\n",
    };
    for (size_t i = 0; i < sizeof want_lines / sizeof want_lines[0]; i++)
        ck_assert_msg(strstr(text, want_lines[i]) != NULL, "metrics.csv lacks the line %s:\n%s",
                      want_lines[i], text);
    free(text);

    struct metrics_row *rows = NULL;
    size_t n = 0;
    char *cause = NULL;
    ck_assert_msg(runlog_read_metrics(dir, &rows, &n, &cause) == 0, "read failed: %s", cause);
    ck_assert_msg(n == NSAMPLE, "expected %zu rows, got %zu", NSAMPLE, n);
    for (size_t i = 0; i < n; i++)
        check_metrics_equal(&rows[i], &sample_rows[i], i);
    free(rows);
    free(p);
    free(dir);
}
END_TEST

START_TEST(test_runlog__layers_roundtrip)
{
    struct runlog *rl = open_run(tmp, "l", NULL);
    struct layer_row rows[3] = {
        { .step = 10, .layer = 0, .name = "dense 2\xe2\x86\x92" "100", .tensor = "",
          .act_mean = 0.21f, .act_std = 0.33f, .act_min = -2.5f, .act_max = 3.25f,
          .dead_frac = NAN, .sat_frac = NAN, .w_norm = NAN, .g_norm = NAN,
          .update_norm = NAN, .update_ratio = NAN, .nan_count = 0, .inf_count = 0 },
        { .step = 10, .layer = 0, .name = "dense 2\xe2\x86\x92" "100", .tensor = "0.weight",
          .act_mean = NAN, .act_std = NAN, .act_min = NAN, .act_max = NAN, .dead_frac = NAN,
          .sat_frac = NAN, .w_norm = 4.5f, .g_norm = 0.41f, .update_norm = 0.0041f,
          .update_ratio = 1.2e-3f, .nan_count = 3, .inf_count = 1 },
        { .step = 11, .layer = 1, .name = "odd, \"name\"", .tensor = "",
          .act_mean = INFINITY, .act_std = 0.0f, .act_min = -INFINITY, .act_max = 1.0f,
          .dead_frac = 0.12f, .sat_frac = 0.0f, .w_norm = NAN, .g_norm = NAN,
          .update_norm = NAN, .update_ratio = NAN, .nan_count = 0, .inf_count = 2000000000L },
    };
    for (int i = 0; i < 3; i++)
        runlog_layers_row(rl, &rows[i]);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    char *p = xasprintf("%s/layers.csv", dir);
    char *text = slurp(p, NULL);
    ck_assert_msg(strstr(text, "\n10,0,dense 2\xe2\x86\x92" "100,,0.21,0.33,-2.5,3.25,,,,,,,0,0\n")
                  != NULL, "layers.csv layer row:\n%s", text);
    const char *quoted = "\n11,1,\"odd, \"\"name\"\"\",,inf,0,-inf,1,0.12,0,,,,,0,2000000000\n";
    ck_assert_msg(strstr(text, quoted) != NULL, "layers.csv quoted row:\n%s", text);
    free(text);
    free(p);

    struct layer_row *got = NULL;
    size_t n = 0;
    char *cause = NULL;
    ck_assert_msg(runlog_read_layers(dir, &got, &n, &cause) == 0, "read failed: %s", cause);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(got[i].step, rows[i].step);
        ck_assert_int_eq(got[i].layer, rows[i].layer);
        ck_assert_str_eq(got[i].name, rows[i].name);
        ck_assert_str_eq(got[i].tensor, rows[i].tensor);
        const float *a = &got[i].act_mean, *b = &rows[i].act_mean;
        for (int k = 0; k < 10; k++)
            ck_assert_msg(same_float(a[k], b[k]), "row %zu column %d: expected %.9g, got %.9g",
                          i, 4 + k, (double)b[k], (double)a[k]);
        ck_assert_int_eq(got[i].nan_count, rows[i].nan_count);
        ck_assert_int_eq(got[i].inf_count, rows[i].inf_count);
    }
    free(got);
    free(dir);
}
END_TEST

START_TEST(test_runlog__events)
{
    runlog_set_fake_time(FAKE_NOW);
    struct runlog *rl = open_run(tmp, "e", NULL);
    char q[128], num[40];
    runlog_event(rl, 0, "start", NULL);
    runlog_event(rl, 120, "lr", "\"from\":%s,\"to\":%s", runlog_json_num(num, sizeof num, 0.1),
                 "0.03");
    runlog_event(rl, 121, "finding", "\"text\":%s,\"stage\":3",
                 runlog_json_str(q, sizeof q, "dense 1: \"dead\"\n\tReLU \xe2\x9a\xa0"));
    runlog_event(rl, 122, "nan", "\"loss\":%s", runlog_json_num(num, sizeof num, NAN));
    runlog_event(rl, 123, "oops", "\"broken\":%s", "[1,");
    runlog_event(rl, 124, "dup", "\"type\":\"again\"");
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);

    struct runlog_event_rec *ev = NULL;
    size_t n = 0;
    char *cause = NULL;
    ck_assert_msg(runlog_read_events(dir, &ev, &n, &cause) == 0, "read failed: %s", cause);
    ck_assert_uint_eq(n, 6);
    const long steps[] = { 0, 120, 121, 122, 123, 124 };
    const char *types[] = { "start", "lr", "finding", "nan", "oops", "dup" };
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(ev[i].step, steps[i]);
        ck_assert_str_eq(ev[i].type, types[i]);
        ck_assert_msg(ev[i].wall_s >= 0 && ev[i].wall_s < 60, "wall_s %g", ev[i].wall_s);
        char when[64];
        ck_assert_int_eq(runlog_event_get_str(ev[i].line, "time", when, sizeof when), 0);
        /* Local time of the fake clock in UTC, with milliseconds. */
        ck_assert_msg(strncmp(when, "2023-11-14T22:13:", 17) == 0 && strlen(when) == 29
                      && strcmp(when + 23, "+00:00") == 0 && when[19] == '.',
                      "time '%s' is not ISO 8601 with ms", when);
    }
    ck_assert_msg(strncmp(ev[0].line, "{\"step\":0,\"time\":\"", 18) == 0, "line: %s", ev[0].line);
    double x;
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "from", &x), 0);
    ck_assert_msg(x == 0.1, "from: expected 0.1, got %.17g", x);
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "to", &x), 0);
    ck_assert_msg(x == 0.03, "to: expected 0.03, got %.17g", x);
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "step", &x), 0);
    ck_assert_msg(x == 120, "step: %g", x);
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "type", &x), -1);
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "missing", &x), -1);
    char text[64];
    ck_assert_int_eq(runlog_event_get_str(ev[2].line, "text", text, sizeof text), 0);
    ck_assert_str_eq(text, "dense 1: \"dead\"\n\tReLU \xe2\x9a\xa0");
    ck_assert_int_eq(runlog_event_get_num(ev[2].line, "stage", &x), 0);
    ck_assert_msg(x == 3, "stage %g", x);
    /* Cut to fit, at a character boundary (the 3-byte sign does not fit). */
    char small[23];
    ck_assert_int_eq(runlog_event_get_str(ev[2].line, "text", small, sizeof small), 0);
    ck_assert_str_eq(small, "dense 1: \"dead\"\n\tReLU ");
    ck_assert_int_eq(runlog_event_get_num(ev[3].line, "loss", &x), 0);
    ck_assert_msg(isnan(x), "loss: expected NaN, got %g", x);
    ck_assert_int_eq(runlog_event_get_str(ev[4].line, "invalid_fields", text, sizeof text), 0);
    ck_assert_str_eq(text, "\"broken\":[1,");
    ck_assert_int_eq(runlog_event_get_str(ev[5].line, "invalid_fields", text, sizeof text), 0);
    ck_assert_str_eq(text, "\"type\":\"again\"");
    ck_assert_int_eq(runlog_event_get_str(ev[5].line, "type", text, sizeof text), 0);
    ck_assert_str_eq(text, "dup");
    runlog_events_free(ev, n);
    free(dir);
}
END_TEST

START_TEST(test_runlog__checkpoint_roundtrip)
{
    struct model *m = test_model(3, 5, 2, true, 1, true);
    struct optim *o = test_optim(m, OPTIM_ADAM, 1);
    const char *config = "model:\n  - dense: 5\n  - relu\nnote: \"quoted\\n\" \xc3\xa9\n";
    char *path = save_ok(tmp, "ck.safetensors", m, o, 4200, 1.0 / 3.0, config);

    /* The layout PyTorch expects: 8-byte aligned data, state_dict order. */
    size_t size;
    char *bytes = slurp(path, &size);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--)
        hn = hn << 8 | (unsigned char)bytes[i];
    ck_assert_msg(hn % 8 == 0, "header length %llu is not a multiple of 8", (unsigned long long)hn);
    /* Exactly the state_dict: the optimizer's tensors live beside it. */
    size_t nfloat = m->nparams + m->nstate;
    ck_assert_msg(size == 8 + hn + 4 * nfloat + 8,
                  "file is %zu bytes, expected %llu", size,
                  (unsigned long long)(8 + hn + 4 * nfloat + 8));
    char *header = xmalloc(hn + 1);
    memcpy(header, bytes + 8, hn);
    header[hn] = '\0';
    const char *order[] = {
        "\"__metadata__\"",
        "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[5,3],\"data_offsets\":[0,60]}",
        "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[5],",
        "\"2.weight\"",
        "\"2.bias\"",
        "\"2.running_mean\"",
        "\"2.running_var\"",
        "\"2.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],",
        "\"3.weight\":{\"dtype\":\"F32\",\"shape\":[2,5],",
        "\"3.bias\"",
    };
    const char *at = header;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *hit = strstr(at, order[i]);
        ck_assert_msg(hit != NULL, "header lacks %s after position %td:\n%s", order[i],
                      at - header, header);
        at = hit;
    }
    ck_assert_msg(strstr(header, "\"step\":\"4200\"") && strstr(header, "\"optimizer\":\"adam\"")
                  && strstr(header, "\"nntop_version\":\"" PACKAGE_VERSION "\""),
                  "metadata: %s", header);
    ck_assert_msg(strstr(header, "optim.") == NULL, "optimizer tensors in the model file:\n%s",
                  header);
    ck_assert_msg(strstr(header, "\"model\":\"{\\\"input\\\":[") != NULL,
                  "no model description: %s", header);
    free(header);
    free(bytes);

    /* ... in optim-ck.safetensors: moments and step count, in that order. */
    char *opath = runlog_optim_path(path);
    ck_assert_str_eq(opath + strlen(opath) - strlen("/optim-ck.safetensors"),
                     "/optim-ck.safetensors");
    bytes = slurp(opath, &size);
    hn = 0;
    for (int i = 7; i >= 0; i--)
        hn = hn << 8 | (unsigned char)bytes[i];
    ck_assert_msg(size == 8 + hn + 4 * 2 * m->nparams + 8, "optimizer file is %zu bytes", size);
    header = xmalloc(hn + 1);
    memcpy(header, bytes + 8, hn);
    header[hn] = '\0';
    const char *oorder[] = {
        "\"format\":\"nntop-optimizer\"",
        "\"optim.m.0.weight\"",
        "\"optim.m.3.bias\"",
        "\"optim.v.0.weight\"",
        "\"optim.v.3.bias\"",
        "\"optim.t\":{\"dtype\":\"I64\",\"shape\":[],",
    };
    at = header;
    for (size_t i = 0; i < sizeof oorder / sizeof oorder[0]; i++) {
        const char *hit = strstr(at, oorder[i]);
        ck_assert_msg(hit != NULL, "optimizer header lacks %s:\n%s", oorder[i], header);
        at = hit;
    }
    ck_assert_msg(strstr(header, "\"0.weight\"") == NULL, "model tensors in the optimizer file");
    free(header);
    free(bytes);

    struct model *m2 = test_model(3, 5, 2, true, 99, false);
    struct optim *o2 = test_optim(m2, OPTIM_ADAM, 99);
    long step = -1;
    double epoch = -1;
    char *cfg = NULL, *cause = NULL;
    int rc = runlog_load_checkpoint(path, m2, o2, &step, &epoch, &cfg, &cause);
    ck_assert_msg(rc == 0, "load failed: %s", cause);
    ck_assert_int_eq(step, 4200);
    ck_assert_msg(epoch == 1.0 / 3.0, "epoch: expected %.17g, got %.17g", 1.0 / 3.0, epoch);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg, config);
    ck_assert_msg(memcmp(m->params, m2->params, m->nparams * 4) == 0, "params differ");
    ck_assert_msg(memcmp(m->state, m2->state, m->nstate * 4) == 0, "running stats differ");
    ck_assert_msg(memcmp(o->m, o2->m, o->n * 4) == 0, "first moments differ");
    ck_assert_msg(memcmp(o->v, o2->v, o->n * 4) == 0, "second moments differ");
    ck_assert_int_eq(m2->bn_batches, m->bn_batches);
    ck_assert_int_eq(o2->t, o->t);
    free(cfg);

    /* Weights only: the file's optimizer tensors are ignored. */
    struct model *m3 = test_model(3, 5, 2, true, 7, false);
    rc = runlog_load_checkpoint(path, m3, NULL, NULL, NULL, NULL, &cause);
    ck_assert_msg(rc == 0, "weights-only load failed: %s", cause);
    ck_assert_msg(memcmp(m->params, m3->params, m->nparams * 4) == 0, "params differ");

    /* SGD (no second moment) and no config: round trip too. */
    struct optim *s1 = test_optim(m, OPTIM_SGD, 3), *s2 = test_optim(m2, OPTIM_SGD, 4);
    char *p2 = save_ok(tmp, "sgd.safetensors", m, s1, 7, 0.0, NULL);
    rc = runlog_load_checkpoint(p2, m2, s2, &step, &epoch, &cfg, &cause);
    ck_assert_msg(rc == 0, "sgd load failed: %s", cause);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(step, 7);
    ck_assert_msg(memcmp(s1->m, s2->m, s1->n * 4) == 0, "momentum differs");
    ck_assert_int_eq(s2->t, s1->t);
    ck_assert_int_eq(count_matching(tmp, ".tmp."), 0);

    /* Without the optimizer file beside it, only a weights-only load works. */
    unlink(opath);
    rc = runlog_load_checkpoint(path, m2, o2, NULL, NULL, NULL, &cause);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(cause, "no optimizer state beside it") != NULL
                  && strncmp(cause, path, strlen(path)) == 0, "%s", cause);
    free(cause);
    ck_assert_int_eq(runlog_load_checkpoint(path, m2, NULL, NULL, NULL, NULL, &cause), 0);
    free(opath);

    free_optim(s1);
    free_optim(s2);
    free(p2);
    free_model(m3);
    free_optim(o2);
    free_model(m2);
    free_optim(o);
    free_model(m);
    free(path);
}
END_TEST

START_TEST(test_runlog__checkpoint_in_run)
{
    struct runlog *rl = open_run(tmp, "ck", "lr: 0.1\n");
    struct model *m = test_model(2, 4, 3, false, 5, false);
    char *cause = NULL;
    /* A temporary file left by a crashed process that had our pid. */
    char *stale = xasprintf("%s/checkpoint-100.safetensors.tmp.%ld", runlog_dir(rl),
                            (long)getpid());
    spit(stale, "junk", 4);
    free(stale);
    ck_assert_msg(runlog_checkpoint(rl, m, NULL, 100, 0.5, &cause) == 0, "%s", cause);
    ck_assert_msg(runlog_checkpoint(rl, m, NULL, 2000, 10.0, &cause) == 0, "%s", cause);
    ck_assert_msg(runlog_checkpoint(rl, m, NULL, 300, 1.5, &cause) == 0, "%s", cause);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    ck_assert_int_eq(count_matching(dir, ".tmp"), 0);
    ck_assert_int_eq(count_matching(dir, ".safetensors"), 3);

    char *latest = NULL;
    long step = 0;
    ck_assert_int_eq(runlog_latest_checkpoint(dir, &latest, &step, &cause), 0);
    char *want = xasprintf("%s/checkpoint-2000.safetensors", dir);
    ck_assert_str_eq(latest, want);
    ck_assert_int_eq(step, 2000);
    char *cfg = NULL;
    double epoch;
    ck_assert_int_eq(runlog_load_checkpoint(latest, m, NULL, &step, &epoch, &cfg, &cause), 0);
    ck_assert_str_eq(cfg, "lr: 0.1\n");
    ck_assert_msg(epoch == 10.0, "epoch %g", epoch);

    struct runlog_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), 0);
    ck_assert_uint_eq(n, 3);
    char file[64];
    double bytes;
    ck_assert_str_eq(ev[1].type, "checkpoint");
    ck_assert_int_eq(ev[1].step, 2000);
    ck_assert_int_eq(runlog_event_get_str(ev[1].line, "file", file, sizeof file), 0);
    ck_assert_str_eq(file, "checkpoint-2000.safetensors");
    ck_assert_int_eq(runlog_event_get_num(ev[1].line, "bytes", &bytes), 0);
    struct stat st;
    ck_assert_int_eq(stat(want, &st), 0);
    ck_assert_msg(bytes == (double)st.st_size, "bytes %g, file %lld", bytes,
                  (long long)st.st_size);
    runlog_events_free(ev, n);

    /* An empty directory has no checkpoint. */
    char *empty = xasprintf("%s/empty", tmp);
    mkdir(empty, 0777);
    free(latest);
    ck_assert_int_eq(runlog_latest_checkpoint(empty, &latest, &step, &cause), 1);
    ck_assert_ptr_null(latest);
    free(empty);
    free(cfg);
    free(want);
    free(dir);
    free_model(m);
}
END_TEST

START_TEST(test_runlog__reopen_resume)
{
    struct runlog *rl = open_run(tmp, "r", "a: 1\n");
    runlog_metrics_row(rl, &sample_rows[0]);
    runlog_event(rl, 1, "pause", NULL);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);

    /* A crash mid-row and mid-event. */
    char *mp = xasprintf("%s/metrics.csv", dir), *ep = xasprintf("%s/events.jsonl", dir);
    append_text(mp, "2,0.0312,tra");
    append_text(ep, "{\"step\":2,\"ti");
    char *cause = NULL;
    ck_assert_msg(runlog_reopen(&rl, dir, &cause) == 0, "reopen failed: %s", cause);
    ck_assert_str_eq(runlog_dir(rl), dir);
    runlog_metrics_row(rl, &sample_rows[1]);
    runlog_event(rl, 2, "resume", "\"from\":%d", 1);
    struct model *m = test_model(2, 3, 2, false, 1, false);
    ck_assert_int_eq(runlog_checkpoint(rl, m, NULL, 2, 0.5, &cause), 0);
    close_ok(rl);

    struct metrics_row *rows = NULL;
    size_t n = 0;
    ck_assert_msg(runlog_read_metrics(dir, &rows, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 2);
    check_metrics_equal(&rows[0], &sample_rows[0], 0);
    check_metrics_equal(&rows[1], &sample_rows[1], 1);
    free(rows);
    struct runlog_event_rec *ev = NULL;
    ck_assert_msg(runlog_read_events(dir, &ev, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(ev[1].type, "resume");
    ck_assert_str_eq(ev[2].type, "checkpoint");
    runlog_events_free(ev, n);
    /* The reopened run still carries its config into checkpoints. */
    char *ck = xasprintf("%s/checkpoint-2.safetensors", dir), *cfg = NULL;
    ck_assert_int_eq(runlog_load_checkpoint(ck, m, NULL, NULL, NULL, &cfg, &cause), 0);
    ck_assert_str_eq(cfg, "a: 1\n");

    /* A file that is missing is recreated with its header. */
    char *lp = xasprintf("%s/layers.csv", dir);
    ck_assert_int_eq(unlink(lp), 0);
    ck_assert_int_eq(runlog_reopen(&rl, dir, &cause), 0);
    close_ok(rl);
    char *text = slurp(lp, NULL);
    ck_assert_str_eq(text, "step,layer,name,tensor,act_mean,act_std,act_min,act_max,dead_frac,"
                           "sat_frac,w_norm,g_norm,update_norm,update_ratio,nan_count,inf_count\n");
    free(text);
    free(lp);
    free(cfg);
    free(ck);
    free_model(m);
    free(mp);
    free(ep);
    free(dir);
}
END_TEST

START_TEST(test_runlog__flush_all)
{
    struct runlog *a = open_run(tmp, "a", NULL), *b = open_run(tmp, "b", NULL);
    runlog_metrics_row(a, &sample_rows[0]);
    runlog_metrics_row(b, &sample_rows[1]);
    runlog_flush_all();
    struct metrics_row *rows = NULL;
    size_t n = 0;
    char *cause = NULL;
    ck_assert_int_eq(runlog_read_metrics(runlog_dir(a), &rows, &n, &cause), 0);
    ck_assert_uint_eq(n, 1);
    check_metrics_equal(&rows[0], &sample_rows[0], 0);
    free(rows);
    ck_assert_int_eq(runlog_read_metrics(runlog_dir(b), &rows, &n, &cause), 0);
    ck_assert_uint_eq(n, 1);
    free(rows);
    close_ok(a);
    /* After close a is no longer in the registry: this must not touch it. */
    runlog_metrics_row(b, &sample_rows[2]);
    runlog_flush_all();
    ck_assert_int_eq(runlog_read_metrics(runlog_dir(b), &rows, &n, &cause), 0);
    ck_assert_uint_eq(n, 2);
    free(rows);
    close_ok(b);
}
END_TEST

/* ---- limits --------------------------------------------------------------- */

START_TEST(test_runlog__truncated_last_line)
{
    struct runlog *rl = open_run(tmp, "t", NULL);
    for (size_t i = 0; i < 3; i++)
        runlog_metrics_row(rl, &sample_rows[i]);
    struct layer_row lr = { .step = 1, .name = "relu", .act_mean = 1 };
    runlog_layers_row(rl, &lr);
    runlog_event(rl, 1, "a", NULL);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    const char *files[] = { "metrics.csv", "layers.csv", "events.jsonl" };
    const char *cuts[] = { "4,0.5,train,0.1", "2,0,rel", "{\"step\":3" };
    for (int i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s", dir, files[i]);
        append_text(p, cuts[i]);
        free(p);
    }
    char *cause = NULL;
    struct metrics_row *rows = NULL;
    size_t n = 0;
    ck_assert_msg(runlog_read_metrics(dir, &rows, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 3);
    free(rows);
    struct layer_row *lrows = NULL;
    ck_assert_msg(runlog_read_layers(dir, &lrows, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 1);
    free(lrows);
    struct runlog_event_rec *ev = NULL;
    ck_assert_msg(runlog_read_events(dir, &ev, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 1);
    runlog_events_free(ev, n);
    free(dir);
}
END_TEST

/*
 * Following files another process writes: a torn last line is read once
 * whole, a file that does not exist yet or has only part of its header
 * is nothing new, a bad row names its line and keeps the rows before it.
 */
START_TEST(test_runlog__follow_torn_line)
{
    char *dir = xasprintf("%s/follow", tmp);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char *mpath = xasprintf("%s/metrics.csv", dir);
    char *epath = xasprintf("%s/events.jsonl", dir);
    struct runlog_cursor mc = {0}, ec = {0};
    struct metrics_row *rows = NULL;
    struct runlog_event_rec *ev = NULL;
    size_t n = 0, cap = 0, ne = 0, ecap = 0;
    char *cause = NULL;

    /* Nothing there yet. */
    ck_assert_msg(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause) == 0, "%s", cause);
    ck_assert_msg(runlog_follow_events(dir, &ec, &ev, &ne, &ecap, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(ne, 0);
    /* Half a header. */
    append_text(mpath, "step,epoch,kind,lo");
    ck_assert_msg(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mc.off, 0);
    append_text(mpath, "ss,reg_loss,accuracy,lr,grad_norm,clipped,samples_per_s,wall_s\n"
                       "1,0.1,train,2.5,0,0.25,0.1,1.5,0,100.0,0.010\n"
                       "2,0.2,train,2.");
    append_text(epath, "{\"step\":0,\"type\":\"start\"}\n{\"step\":2,\"ty");
    ck_assert_msg(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause) == 0, "%s", cause);
    ck_assert_msg(runlog_follow_events(dir, &ec, &ev, &ne, &ecap, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(rows[0].step, 1);
    ck_assert_uint_eq(ne, 1);
    ck_assert_str_eq(ev[0].type, "start");
    long long at = mc.off;
    /* Still torn: nothing new, the cursor stays. */
    ck_assert_msg(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(mc.off, at);
    /* Whole now. */
    append_text(mpath, "25,0,0.5,0.1,1.25,1,100.0,0.020\n");
    append_text(epath, "pe\":\"pause\"}\n");
    ck_assert_msg(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause) == 0, "%s", cause);
    ck_assert_msg(runlog_follow_events(dir, &ec, &ev, &ne, &ecap, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(rows[1].step, 2);
    ck_assert_float_eq(rows[1].loss, 2.25f);
    ck_assert(rows[1].clipped);
    ck_assert_uint_eq(ne, 2);
    ck_assert_str_eq(ev[1].type, "pause");
    ck_assert_uint_eq(mc.lineno, 3);
    /* A bad row: its line named, the good one before it kept. */
    append_text(mpath, "3,0.3,train,2,0,0.5,0.1,1,0,100.0,0.030\n4,0.4,sideways,2,0,0.5,0.1,1,0,1,0\n");
    ck_assert_int_eq(runlog_follow_metrics(dir, &mc, &rows, &n, &cap, &cause), -1);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_nonnull(strstr(cause, "metrics.csv:5: kind 'sideways' is not train, val or test"));
    free(cause);
    free(rows);
    runlog_events_free(ev, ne);
    free(mpath);
    free(epath);
    free(dir);
}
END_TEST

START_TEST(test_runlog__json_str)
{
    char buf[64];
    ck_assert_str_eq(runlog_json_str(buf, sizeof buf, "plain"), "\"plain\"");
    ck_assert_str_eq(runlog_json_str(buf, sizeof buf, "a\"b\\c\n\x01\x7f"),
                     "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
    /* Invalid UTF-8 (a stray continuation byte, an overlong '/') becomes U+FFFD. */
    ck_assert_str_eq(runlog_json_str(buf, sizeof buf, "x\x80y\xc0\xafz"),
                     "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\"");
    /* Cut to fit, never inside an escape or a character, always closed. */
    ck_assert_str_eq(runlog_json_str(buf, 8, "abcdefgh"), "\"abcde\"");
    ck_assert_str_eq(runlog_json_str(buf, 7, "abcd\"e"), "\"abcd\"");
    ck_assert_str_eq(runlog_json_str(buf, 7, "ab\xe2\x86\x92x"), "\"ab\"");
    ck_assert_str_eq(runlog_json_str(buf, 3, "abc"), "\"\"");
    ck_assert_str_eq(runlog_json_num(buf, sizeof buf, 0.1), "0.1");
    ck_assert_str_eq(runlog_json_num(buf, sizeof buf, -INFINITY), "\"-inf\"");
    ck_assert_str_eq(runlog_json_num(buf, sizeof buf, 1e300), "1e+300");
    /* Everything json_str makes parses back to the original. */
    const char *samples[] = { "", "tab\there", "\xf0\x9f\x98\x80 emoji", "q\"\\/" };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char line[160], back[64];
        snprintf(line, sizeof line, "{\"s\":%s}", runlog_json_str(buf, sizeof buf, samples[i]));
        ck_assert_msg(runlog_event_get_str(line, "s", back, sizeof back) == 0, "%s", line);
        ck_assert_str_eq(back, samples[i]);
    }
}
END_TEST

START_TEST(test_runlog__json_parser)
{
    double x;
    char s[32];
    /* Accepted: escapes, surrogate pairs, exponents, nesting, whitespace. */
    ck_assert_int_eq(runlog_event_get_num(" {\"a\" : -1.5e2 ,\"b\":[{}]}\r\n", "a", &x), 0);
    ck_assert_msg(x == -150, "%g", x);
    const char *escapes = "{\"k\":\"\\ud83d\\ude00\\u00e9\\/\"}";
    ck_assert_int_eq(runlog_event_get_str(escapes, "k", s, sizeof s), 0);
    ck_assert_str_eq(s, "\xf0\x9f\x98\x80\xc3\xa9/");
    /* Refused: everything outside RFC 8259. */
    const char *bad[] = {
        "", "{", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}",
        "{\"a\":NaN}", "{\"a\":1}x", "{'a':1}", "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":1,\"a\":2}", "{\"a\" 1}", "[1 2]", "{\"a\":tru}", "{\"a\":\"\\u12\"}",
        "{\"a\":1e}", "{\"a\":-}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(runlog_event_get_num(bad[i], "a", &x) == -1, "accepted '%s'", bad[i]);
    /* Deep nesting fails cleanly instead of exhausting the stack. */
    size_t depth = 100000;
    char *deep = xmalloc(2 * depth + 16);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', depth);
    memset(deep + 5 + depth, ']', depth);
    strcpy(deep + 5 + 2 * depth, "}");
    ck_assert_int_eq(runlog_event_get_num(deep, "a", &x), -1);
    free(deep);
    /* Random garbage from JSON's alphabet: never a crash (run under ASan). */
    static const char alphabet[] = "{}[]\":,\\ 0123456789-+.eEtrufalsn\x80\xc3\xa9\xff\n";
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    char line[80];
    int parsed = 0;
    for (int it = 0; it < 20000; it++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        size_t len = (size_t)(r % 70);
        memcpy(line, "{\"a\":", 5);
        for (size_t k = 5; k < len + 5; k++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            line[k] = alphabet[r % (sizeof alphabet - 1)];
        }
        line[len + 5] = '\0';
        parsed += runlog_event_get_num(line, "a", &x) == 0;
        runlog_event_get_str(line, "a", s, sizeof s);
    }
    ck_assert_msg(parsed > 0 && parsed < 20000, "%d of 20000 random lines parsed", parsed);
}
END_TEST

/* Lines are read up to a bound, and the JSON tree is built within a budget. */
START_TEST(test_runlog__read_bounds)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fputs("abc\nabcd\n\nabcdefgh\nxy", f);
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), 4);
    ck_assert_str_eq(line, "abc\n");
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), 5);    /* exactly the bound */
    ck_assert_str_eq(line, "abcd\n");
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), 1);
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), -2);   /* one byte over it */
    ck_assert_msg(cap <= 7, "the buffer grew to %zu bytes", cap);
    fclose(f);
    f = tmpfile();
    fputs("xy", f);
    rewind(f);
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), 2);    /* a last line, torn */
    ck_assert_str_eq(line, "xy");
    ck_assert_int_eq(runlog_getline(&line, &cap, f, 5), 0);
    fclose(f);
    free(line);

    struct json v;
    char err[128];
    const char *text = "{\"a\":[1,2,3,4,5,6,7,8,9,10]}";
    ck_assert_int_eq(runlog_json_parse(&v, text, strlen(text), 1 << 20, err, sizeof err), 0);
    runlog_json_fini(&v);
    ck_assert_int_eq(runlog_json_parse(&v, text, strlen(text), 300, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "more than 300 bytes once parsed (data.max_bytes is 300)") != NULL,
                  "%s", err);

    ck_assert_uint_eq(runlog_read_max(), DATA_MAX_BYTES_DEFAULT);
    runlog_set_read_max(1000);
    ck_assert_uint_eq(runlog_read_max(), 1000);
    runlog_set_read_max(0);
    ck_assert_uint_eq(runlog_read_max(), DATA_MAX_BYTES_DEFAULT);
}
END_TEST

/* Random mutations of a valid checkpoint: rejected cleanly or loaded, never a crash. */
START_TEST(test_runlog__checkpoint_fuzz)
{
    struct model *m = test_model(3, 4, 2, true, 2, false);
    struct optim *o = test_optim(m, OPTIM_ADAMW, 2);
    char *path = save_ok(tmp, "good.safetensors", m, o, 11, 0.25, "k: v\n");
    size_t size;
    unsigned char *good = (unsigned char *)slurp(path, &size);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--)
        hn = hn << 8 | good[i];
    unsigned char *buf = xmalloc(size + 64);
    char *mut = xasprintf("%s/mut.safetensors", tmp);
    struct model *dst = test_model(3, 4, 2, true, 9, false);
    struct optim *dsto = test_optim(dst, OPTIM_ADAMW, 9);
    uint64_t r = 12345;
    int rejected = 0;
    const int iters = 3000;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, good, size);
        size_t n = size;
        int nmut = 1 + (int)(r % 4);
        for (int k = 0; k < nmut; k++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            /* Mostly the length and header, where the parser works. */
            size_t span = r % 4 == 0 ? n : (size_t)(8 + hn < n ? 8 + hn : n);
            size_t pos = (size_t)((r >> 8) % (span > 0 ? span : 1));
            switch ((r >> 40) % 6) {
            case 0:
                buf[pos] ^= (unsigned char)(1u << ((r >> 32) % 8));
                break;
            case 1:
                buf[pos] = "{}[]\",:0123456789 \\u-eE"[(r >> 32) % 24];
                break;
            case 2:
                n = pos;
                break;
            case 3:
                buf[(r >> 32) % 8] = (unsigned char)(r >> 48);
                break;
            case 4:
                if (pos < n) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = (unsigned char)(r >> 24);
                    n++;
                }
                break;
            default:
                if (pos < n) {
                    memmove(buf + pos, buf + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            }
            if (n > size + 32)
                n = size + 32;
        }
        /* A new file each time: rewriting one in place makes ext4 flush it. */
        unlink(mut);
        spit(mut, buf, n);
        char *cause = NULL, *cfg = NULL;
        long step;
        double epoch;
        int rc = runlog_load_checkpoint(mut, dst, (it & 1) ? dsto : NULL, &step, &epoch, &cfg,
                                        &cause);
        if (rc < 0) {
            ck_assert_msg(cause != NULL && strncmp(cause, mut, strlen(mut)) == 0,
                          "rejection without a message naming the file: %s", cause);
            rejected++;
        }
        free(cause);
        free(cfg);
    }
    ck_assert_msg(rejected > iters / 2, "only %d of %d mutated files rejected", rejected, iters);
    /* Truncation at every length of the header is rejected. */
    for (size_t cut = 0; cut < 8 + hn; cut++) {
        unlink(mut);
        spit(mut, good, cut);
        char *cause = NULL;
        ck_assert_msg(runlog_load_checkpoint(mut, dst, NULL, NULL, NULL, NULL, &cause) == -1,
                      "a file cut at %zu bytes loaded", cut);
        free(cause);
    }
    free(mut);
    free(buf);
    free(good);
    free(path);
    free_optim(dsto);
    free_model(dst);
    free_optim(o);
    free_model(m);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_runlog__checkpoint_mismatch)
{
    struct model *big = test_model(2, 100, 3, false, 1, false);
    struct model *small = test_model(2, 64, 3, false, 1, false);
    char *path = save_ok(tmp, "checkpoint-100.safetensors", big, NULL, 100, 1, NULL);
    load_fails(path, small, NULL,
               "tensor '0.weight' has shape [100, 2], the model expects [64, 2]");

    /* A model with batch norm against a file without. */
    struct model *plain = test_model(2, 8, 3, false, 1, false);
    struct model *bn = test_model(2, 8, 3, true, 1, false);
    char *pp = save_ok(tmp, "plain.safetensors", plain, NULL, 1, 0, NULL);
    char *pb = save_ok(tmp, "bn.safetensors", bn, NULL, 1, 0, NULL);
    load_fails(pp, bn, NULL, "tensor '2.weight' has shape [3, 8], the model expects [8]");
    load_fails(pb, plain, NULL, "tensor '2.weight' has shape [8], the model expects [3, 8]");

    /* The same tensors but one missing or one extra. */
    struct model *nobias = test_model(2, 8, 3, false, 1, false);
    nobias->ntensors--;                         /* drops "2.bias" */
    nobias->nparams -= 3;
    char *pn = save_ok(tmp, "nobias.safetensors", nobias, NULL, 1, 0, NULL);
    load_fails(pn, plain, NULL, "missing tensor '2.bias'");
    load_fails(pp, nobias, NULL, "unexpected tensor '2.bias'");

    /* Optimizer state: absent, of another kind, or ignored. */
    struct optim *adam = test_optim(plain, OPTIM_ADAM, 1), *sgd = test_optim(plain, OPTIM_SGD, 1);
    char *absent = xasprintf("no optimizer state beside it: %s/optim-plain.safetensors: %s", tmp,
                             strerror(ENOENT));
    load_fails(pp, plain, adam, absent);
    free(absent);
    char *pa = save_ok(tmp, "adam.safetensors", plain, adam, 1, 0, NULL);
    /* An optimizer file of another step does not belong to it. */
    char *pa2 = save_ok(tmp, "adam2.safetensors", plain, adam, 2, 0, NULL);
    char *oa = runlog_optim_path(pa), *oa2 = runlog_optim_path(pa2);
    ck_assert_int_eq(rename(oa2, oa), 0);
    char *stale = xasprintf("%s/optim-adam.safetensors: optimizer state of step 2 beside a "
                            "checkpoint of step 1", tmp);
    char *got = NULL;
    ck_assert_int_eq(runlog_load_checkpoint(pa, plain, adam, NULL, NULL, NULL, &got), -1);
    ck_assert_str_eq(got, stale);
    free(got);
    free(stale);
    free(oa);
    free(oa2);
    free(pa2);
    free(pa);
    pa = save_ok(tmp, "adam.safetensors", plain, adam, 1, 0, NULL);
    load_fails(pa, plain, sgd, "optimizer is 'adam', the run uses 'sgd'");
    char *cause = NULL;
    ck_assert_msg(runlog_load_checkpoint(pa, plain, NULL, NULL, NULL, NULL, &cause) == 0, "%s",
                  cause);
    /* The optimizer's n must match the model's. */
    struct optim *wrong = test_optim(small, OPTIM_SGD, 1);
    ck_assert_int_eq(runlog_save_checkpoint(path, plain, wrong, 1, 0, NULL, &cause), -1);
    ck_assert_str_eq(cause, "optimizer holds 387 parameters, the model 51");
    free(cause);
    ck_assert_int_eq(count_matching(tmp, ".tmp."), 0);

    free_optim(wrong);
    free_optim(adam);
    free_optim(sgd);
    free(pa);
    free(pn);
    free(pp);
    free(pb);
    free_model(nobias);
    free_model(plain);
    free_model(bn);
    free_model(big);
    free_model(small);
    free(path);
}
END_TEST

START_TEST(test_runlog__checkpoint_corrupt)
{
    struct model *m = test_model(1, 2, 1, false, 1, false);
    /* 0.weight [2,1] 8 bytes, 0.bias [2] 8, 2.weight [1,2] 8, 2.bias [1] 4: 28 bytes. */
    char *p = xasprintf("%s/bad.safetensors", tmp);
    const char *okt = "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                      "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]},"
                      "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}";
    struct {
        const char *w0;         /* the 0.weight entry, or a whole header when it starts with '!' */
        size_t ndata;
        const char *want;
    } cases[] = {
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 28, NULL },
        { "\"0.weight\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[0,4]}", 28,
          "tensor '0.weight' has dtype F16, the model expects F32" },
        { "\"0.weight\":{\"dtype\":\"Q7\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 28,
          "tensor '0.weight': unknown dtype 'Q7'" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 20,
          "tensor '2.weight': data_offsets [16, 24] lie outside the data (20 bytes)" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[4,12]}", 28,
          "tensors '0.weight' and '0.bias' overlap" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,12]}", 28,
          "tensor '0.weight': data_offsets [0, 12] hold 12 bytes, shape [2, 1] of F32 needs 8" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}", 28,
          "tensor '0.weight': \"shape\" is not an array of sizes" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[8]}", 28,
          "tensor '0.weight': \"data_offsets\" is not [begin, end]" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8],\"x\":1}", 28,
          "tensor '0.weight': unknown field 'x'" },
        { "\"0.weight\":[]", 28, "tensor '0.weight': entry is not an object" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
          "\"data_offsets\":[0,8]}", 28, "tensor '0.weight': shape is too large" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
          "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 28,
          "header: offset 74: duplicate key in object" },
        { "\"__metadata__\":{\"step\":5},"
          "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 28,
          "__metadata__ must map strings to strings" },
        { "\"__metadata__\":{\"step\":\"5x\"},"
          "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", 28,
          "metadata step '5x' is not a step number" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
          "\"extra\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[28,28]}", 28,
          "unexpected tensor 'extra'" },
        { "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
          "\"e\\u001b[2J\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[28,28]}", 28,
          "unexpected tensor 'e?[2J'" },
        { "!{\"a\":", 0, "header: offset 5: unexpected end of input" },
        { "![1,2]", 0, "header is not a JSON object" },
        { "!{} trailing", 0, "header: offset 3: trailing characters after the value" },
        { "!", 0, "header: offset 0: unexpected end of input" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = cases[i].w0[0] == '!' ? xstrdup(cases[i].w0 + 1)
                                        : xasprintf("{%s,%s}", cases[i].w0, okt);
        write_st(p, h, cases[i].ndata);
        if (cases[i].want == NULL) {
            char *cause = NULL;
            ck_assert_msg(runlog_load_checkpoint(p, m, NULL, NULL, NULL, NULL, &cause) == 0,
                          "case %zu: %s", i, cause);
        } else {
            load_fails(p, m, NULL, cases[i].want);
        }
        free(h);
    }
    /* Files too short or with a length beyond their end. */
    spit(p, "\x05\x00\x00", 3);
    load_fails(p, m, NULL, "file is 3 bytes, too short for a safetensors file");
    spit(p, "\x10\x00\x00\x00\x00\x00\x00\x00{}", 10);
    load_fails(p, m, NULL, "header length 16 is larger than the file (10 bytes)");
    spit(p, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    load_fails(p, m, NULL,
               "header length 18446744073709551615 is larger than the file (10 bytes)");
    char *cause = NULL, *missing = xasprintf("%s/none.safetensors", tmp);
    ck_assert_int_eq(runlog_load_checkpoint(missing, m, NULL, NULL, NULL, NULL, &cause), -1);
    char *want = xasprintf("%s: No such file or directory", missing);
    ck_assert_str_eq(cause, want);
    free(cause);
    free(want);
    ck_assert_int_eq(runlog_load_checkpoint(tmp, m, NULL, NULL, NULL, NULL, &cause), -1);
    want = xasprintf("%s: not a regular file", tmp);
    ck_assert_str_eq(cause, want);
    free(cause);
    free(want);
    free(missing);
    free(p);
    free_model(m);
}
END_TEST

/* CRC-32C against the published check values (RFC 3720 B.4 and the usual "123456789"). */
START_TEST(test_runlog__tfevents_crc32c)
{
    ck_assert_uint_eq(tfevents_crc32c("", 0), 0);
    ck_assert_uint_eq(tfevents_crc32c("123456789", 9), 0xe3069283u);
    uint8_t b[32];
    memset(b, 0, sizeof b);
    ck_assert_uint_eq(tfevents_crc32c(b, sizeof b), 0x8a9136aau);
    memset(b, 0xff, sizeof b);
    ck_assert_uint_eq(tfevents_crc32c(b, sizeof b), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    ck_assert_uint_eq(tfevents_crc32c(b, sizeof b), 0x46dd794eu);
}
END_TEST

/* Little-endian u64 / u32 at p. */
static uint64_t
le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The event file's framing, walked here record by record: each length and
 * payload carries its masked CRC, and the records are: file_version, one
 * per metrics row, one per layers row with values, one per histogram
 * (an empty histogram and a layer row with nothing applicable write none).
 */
START_TEST(test_runlog__tfevents_framing)
{
    runlog_set_fake_time(1700000000);
    struct runlog *rl = open_run(tmp, "tfe", NULL);
    char *cause = NULL;
    ck_assert_msg(runlog_tfevents_start(rl, &cause) == 0, "%s", cause);
    ck_assert_int_eq(runlog_tfevents_start(rl, &cause), 0);     /* once is enough */
    for (int i = 0; i < 3; i++)
        runlog_metrics_row(rl, &sample_rows[i]);
    /* The disk fills up: records are held like rows, and written whole once it empties. */
    runlog_set_write_failure(ENOSPC);
    runlog_flush(rl);
    ck_assert_ptr_nonnull(runlog_error(rl));
    struct layer_row lr = { .step = 2, .layer = 0, .name = "dense", .tensor = "0.weight",
                            .w_norm = 1.5f, .g_norm = 0.25f, .update_norm = 0.01f,
                            .update_ratio = 0.001f, .act_mean = NAN, .act_std = NAN,
                            .act_min = NAN, .act_max = NAN, .dead_frac = NAN,
                            .sat_frac = NAN };
    runlog_layers_row(rl, &lr);
    struct layer_row none = { .step = 2, .layer = 1, .name = "dense", .dead_frac = NAN,
                              .sat_frac = NAN };
    runlog_layers_row(rl, &none);
    uint32_t counts[4] = {1, 2, 3, 4};
    struct runlog_hist h = { .lo = -1, .hi = 1, .nbins = 4, .counts = counts };
    runlog_histogram(rl, 2, "weights/0.weight", &h);
    struct runlog_hist empty = { .lo = 0, .hi = 0, .nbins = 0, .counts = counts };
    runlog_histogram(rl, 2, "weights/1.weight", &empty);
    ck_assert_int_eq(runlog_retry(rl), -1);
    runlog_set_write_failure(0);
    ck_assert_int_eq(runlog_retry(rl), 0);
    ck_assert_ptr_null(runlog_error(rl));
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);

    char *path = xasprintf("%s/events.out.tfevents.1700000000.", dir);
    DIR *d = opendir(dir);
    char *file = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "events.out.tfevents.1700000000.", 31) == 0)
            file = xasprintf("%s/%s", dir, e->d_name);
    closedir(d);
    ck_assert_msg(file != NULL, "no %s<host>", path);
    size_t len;
    unsigned char *s = (unsigned char *)slurp(file, &len);
    size_t at = 0;
    int records = 0;
    while (at < len) {
        ck_assert_uint_ge(len - at, 16);
        uint64_t n = le64(s + at);
        uint32_t c = tfevents_crc32c(s + at, 8);
        ck_assert_uint_eq(le32(s + at + 8), ((c >> 15) | (c << 17)) + 0xa282ead8u);
        ck_assert_uint_le(n, len - at - 16);
        c = tfevents_crc32c(s + at + 12, n);
        ck_assert_uint_eq(le32(s + at + 12 + n), ((c >> 15) | (c << 17)) + 0xa282ead8u);
        if (records == 0)
            ck_assert_msg(memmem(s + at + 12, n, "brain.Event:2", 13) != NULL,
                          "the first record is not the file_version");
        at += 16 + n;
        records++;
    }
    ck_assert_uint_eq(at, len);
    ck_assert_int_eq(records, 1 + 3 + 1 + 1);
    free(s);
    free(file);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_runlog__write_failure)
{
    if (!exists("/dev/full"))
        return;
    struct runlog *rl = open_run(tmp, "full", NULL);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    /* The disk fills up: metrics.csv now lands on /dev/full. */
    char *mp = xasprintf("%s/metrics.csv", dir);
    ck_assert_int_eq(unlink(mp), 0);
    ck_assert_int_eq(symlink("/dev/full", mp), 0);
    char *cause = NULL;
    ck_assert_msg(runlog_reopen(&rl, dir, &cause) == 0, "reopen failed: %s", cause);
    ck_assert_ptr_null(runlog_error(rl));
    for (int i = 0; i < 3; i++)
        runlog_metrics_row(rl, &sample_rows[i]);
    runlog_flush(rl);
    char *want = xasprintf("%s/metrics.csv: No space left on device", dir);
    ck_assert_msg(runlog_error(rl) != NULL && strcmp(runlog_error(rl), want) == 0,
                  "error: expected '%s', got '%s'", want, runlog_error(rl));
    /* Everything from then on is held, in every file: nothing is dropped
     * and no file gets ahead of the others. */
    for (int i = 0; i < 100; i++)
        runlog_metrics_row(rl, &sample_rows[i % NSAMPLE]);
    runlog_event(rl, 5, "still", NULL);
    struct layer_row lr = { .step = 5, .name = "relu" };
    runlog_layers_row(rl, &lr);
    runlog_flush(rl);
    ck_assert_str_eq(runlog_error(rl), want);
    ck_assert_int_eq(runlog_held_rows(rl), 105);
    ck_assert_int_eq(runlog_retry(rl), -1);
    ck_assert_str_eq(runlog_error(rl), want);
    /* Closing gives every file a last try: the others get their rows. */
    ck_assert_int_eq(runlog_close(rl, &cause), -1);
    char *want_close = xasprintf("%s (103 rows not written)", want);
    ck_assert_str_eq(cause, want_close);
    free(cause);
    struct runlog_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev[0].type, "still");
    runlog_events_free(ev, n);
    struct layer_row *lrows = NULL;
    ck_assert_int_eq(runlog_read_layers(dir, &lrows, &n, &cause), 0);
    ck_assert_uint_eq(n, 1);
    free(lrows);

    free(want_close);
    free(want);
    free(mp);
    free(dir);
}
END_TEST

/*
 * A write that fails part-way (a file-size limit stands in for a full
 * disk) leaves the file on its last complete line; the rows are held and
 * runlog_retry writes them, in order, once there is room.
 */
START_TEST(test_runlog__write_retry)
{
    struct runlog *rl = open_run(tmp, "retry", NULL);
    char *dir = xstrdup(runlog_dir(rl));
    char *mp = xasprintf("%s/metrics.csv", dir);
    runlog_metrics_row(rl, &sample_rows[0]);
    runlog_metrics_row(rl, &sample_rows[1]);
    runlog_flush(rl);
    ck_assert_ptr_null(runlog_error(rl));
    size_t before_len = 0;
    char *before = slurp(mp, &before_len);

    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)before_len + 40;     /* room for part of one more row */
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    /* No ck_assert while the limit holds: Check's own message file would
     * hit it too (its location records are written on every assertion). */
    int set_ok = setrlimit(RLIMIT_FSIZE, &lim);
    for (size_t i = 2; i < NSAMPLE; i++)
        runlog_metrics_row(rl, &sample_rows[i]);
    runlog_flush(rl);
    const char *err = runlog_error(rl) != NULL ? xstrdup(runlog_error(rl)) : NULL;
    int retry_full = runlog_retry(rl);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(set_ok, 0);

    char *want = xasprintf("%s: File too large", mp);
    ck_assert_msg(err != NULL && strcmp(err, want) == 0, "error '%s', expected '%s'", err, want);
    ck_assert_int_eq(retry_full, -1);
    /* Cut back to the last complete row: the file is as it was. */
    size_t after_len = 0;
    char *after = slurp(mp, &after_len);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_str_eq(after, before);
    ck_assert_int_eq(runlog_held_rows(rl), (long)NSAMPLE - 2);
    runlog_event(rl, 9, "held", NULL);
    ck_assert_int_eq(runlog_held_rows(rl), (long)NSAMPLE - 1);

    /* Space is back. */
    ck_assert_int_eq(runlog_retry(rl), 0);
    ck_assert_ptr_null(runlog_error(rl));
    ck_assert_int_eq(runlog_held_rows(rl), 0);
    struct metrics_row *rows = NULL;
    size_t n = 0;
    char *cause = NULL;
    ck_assert_msg(runlog_read_metrics(dir, &rows, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, NSAMPLE);
    for (size_t i = 0; i < n; i++)
        check_metrics_equal(&rows[i], &sample_rows[i], (int)i);
    free(rows);
    struct runlog_event_rec *ev = NULL;
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev[0].type, "held");
    runlog_events_free(ev, n);

    /* Failing for good: close reports what is lost, the file stays whole. */
    runlog_set_write_failure(ENOSPC);
    runlog_metrics_row(rl, &sample_rows[0]);
    runlog_flush(rl);
    ck_assert_ptr_nonnull(runlog_error(rl));
    ck_assert_int_eq(runlog_close(rl, &cause), -1);
    runlog_set_write_failure(0);
    free(want);
    want = xasprintf("%s: No space left on device (1 rows not written)", mp);
    ck_assert_str_eq(cause, want);
    free(cause);
    ck_assert_msg(runlog_read_metrics(dir, &rows, &n, &cause) == 0, "%s", cause);
    ck_assert_uint_eq(n, NSAMPLE);
    free(rows);

    free((char *)err);
    free(want);
    free(before);
    free(after);
    free(mp);
    free(dir);
}
END_TEST

/* Temporary files of killed processes go when the run is next opened. */
START_TEST(test_runlog__stale_tmp)
{
    struct runlog *rl = open_run(tmp, "stale", NULL);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    /* pid_max is at most 2^22: this pid cannot exist. */
    char *dead = xasprintf("%s/checkpoint-5.safetensors.tmp.%ld", dir, 4194305L * 2);
    char *alive = xasprintf("%s/checkpoint-6.safetensors.tmp.%ld", dir, (long)getppid());
    char *mine = xasprintf("%s/config.yaml.tmp.%ld", dir, (long)getpid());
    char *other = xasprintf("%s/notes.tmp.txt", dir);
    spit(dead, "x", 1);
    spit(alive, "x", 1);
    spit(mine, "x", 1);
    spit(other, "x", 1);
    char *cause = NULL;
    ck_assert_msg(runlog_reopen(&rl, dir, &cause) == 0, "%s", cause);
    close_ok(rl);
    ck_assert(!exists(dead));
    ck_assert(!exists(mine));
    ck_assert(exists(alive));
    ck_assert(exists(other));
    free(dead);
    free(alive);
    free(mine);
    free(other);
    free(dir);
}
END_TEST

/* A checkpoint that cannot be written fails cleanly, leaving no file behind. */
START_TEST(test_runlog__checkpoint_write_failure)
{
    struct model *m = test_model(4, 64, 3, false, 1, false);
    char *ck = xasprintf("%s/ck.safetensors", tmp);
    /* A file-size limit stands in for a full disk.  Only the soft limit
     * moves, and it is restored at once: with CK_FORK=no, Check's own
     * result file lives in this process too. */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 512;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char *cause = NULL;
    long long rc = runlog_save_checkpoint(ck, m, NULL, 1, 0, NULL, &cause);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, -1);
    char *want = xasprintf("%s: write failed: File too large", ck);
    ck_assert_str_eq(cause, want);
    free(cause);
    ck_assert_int_eq(count_matching(tmp, "ck.safetensors"), 0);
    /* A directory that does not exist. */
    char *nowhere = xasprintf("%s/no/ck.safetensors", tmp);
    ck_assert_int_eq(runlog_save_checkpoint(nowhere, m, NULL, 1, 0, NULL, &cause), -1);
    free(want);
    want = xasprintf("%s.tmp.%ld: cannot create: No such file or directory", nowhere,
                     (long)getpid());
    ck_assert_str_eq(cause, want);
    free(cause);
    free(want);
    free(nowhere);
    free(ck);
    free_model(m);
}
END_TEST

START_TEST(test_runlog__read_errors)
{
    struct runlog *rl = open_run(tmp, "bad", NULL);
    runlog_metrics_row(rl, &sample_rows[0]);
    char *dir = xstrdup(runlog_dir(rl));
    close_ok(rl);
    char *mp = xasprintf("%s/metrics.csv", dir);
    char *text = slurp(mp, NULL);
    struct {
        const char *line;
        const char *want;
    } cases[] = {
        { "2,0.5,train,abc,0,1,0.1,1,0,1,1\n", "3: loss 'abc' is not a number" },
        { "2,0.5,train,1,0,1,0.1,1,0,1\n", "3: expected 11 fields, found 10" },
        { "2,0.5,walk,1,0,1,0.1,1,0,1,1\n", "3: kind 'walk' is not train, val or test" },
        { "2.5,0.5,train,1,0,1,0.1,1,0,1,1\n", "3: step '2.5' is not an integer" },
        { "2,0.5,train,1,0,1,0.1,1,2,1,1\n", "3: clipped '2' is not 0 or 1" },
        { "2,0.5,train, 1,0,1,0.1,1,0,1,1\n", "3: loss ' 1' is not a number" },
    };
    struct metrics_row *rows = NULL;
    size_t n = 0;
    char *cause = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = xasprintf("%s%s", text, cases[i].line);
        /* The malformed row is not the last: the tolerance is for a cut line only. */
        char *t2 = xasprintf("%s%s", t, "3,0.5,train,1,0,1,0.1,1,0,1,1\n");
        spit(mp, t2, strlen(t2));
        ck_assert_int_eq(runlog_read_metrics(dir, &rows, &n, &cause), -1);
        char *want = xasprintf("%s:%s", mp, cases[i].want);
        ck_assert_str_eq(cause, want);
        ck_assert_ptr_null(rows);
        free(want);
        free(cause);
        free(t);
        free(t2);
    }
    spit(mp, "step,epoch\n", 11);
    ck_assert_int_eq(runlog_read_metrics(dir, &rows, &n, &cause), -1);
    char *want = xasprintf("%s:1: expected the header 'step,epoch,kind,loss,reg_loss,accuracy,"
                           "lr,grad_norm,clipped,samples_per_s,wall_s'", mp);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    /* Reopening a run whose CSV is someone else's is refused. */
    ck_assert_int_eq(runlog_reopen(&rl, dir, &cause), -1);
    want = xasprintf("%s: not an nntop metrics.csv (first line 'step,epoch')", mp);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);

    char *ep = xasprintf("%s/events.jsonl", dir);
    const char *ev_bad = "{\"step\":1,\"type\":\"a\"}\n{\"step\":\"x\",\"type\":\"b\"}\n";
    spit(ep, ev_bad, strlen(ev_bad));
    struct runlog_event_rec *ev = NULL;
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), -1);
    want = xasprintf("%s:2: no integer \"step\"", ep);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    spit(ep, "[1]\n", 4);
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), -1);
    want = xasprintf("%s:1: not a JSON object", ep);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    spit(ep, "{\"step\":1}\n", 11);
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), -1);
    want = xasprintf("%s:1: no string \"type\"", ep);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    spit(ep, "{\"step\":1,}\n", 12);
    ck_assert_int_eq(runlog_read_events(dir, &ev, &n, &cause), -1);
    want = xasprintf("%s:1: offset 10: expected a string key", ep);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);

    char *none = xasprintf("%s/nothing", tmp);
    struct layer_row *lrows = NULL;
    ck_assert_int_eq(runlog_read_layers(none, &lrows, &n, &cause), -1);
    want = xasprintf("%s/layers.csv: No such file or directory", none);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    ck_assert_int_eq(runlog_reopen(&rl, none, &cause), -1);
    want = xasprintf("run directory '%s': No such file or directory", none);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    free(none);
    free(ep);
    free(text);
    free(mp);
    free(dir);
}
END_TEST

START_TEST(test_runlog__open_errors)
{
    char *file = xasprintf("%s/plainfile", tmp);
    spit(file, "x", 1);
    char *root = xasprintf("%s/runs", file);
    struct runlog *rl = NULL;
    char *cause = NULL;
    ck_assert_int_eq(runlog_open(&rl, root, "x", NULL, NULL, &cause), -1);
    ck_assert_ptr_null(rl);
    char *want = xasprintf("cannot create directory '%s': Not a directory", file);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    ck_assert_int_eq(runlog_open(&rl, "", "x", NULL, NULL, &cause), -1);
    ck_assert_str_eq(cause, "empty run directory root");
    free(cause);
    ck_assert_int_eq(runlog_reopen(&rl, file, &cause), -1);
    want = xasprintf("run directory '%s': not a directory", file);
    ck_assert_str_eq(cause, want);
    free(want);
    free(cause);
    ck_assert_int_eq(runlog_close(NULL, &cause), 0);
    /* A run without a log: every writer is a no-op on NULL. */
    runlog_metrics_row(NULL, &sample_rows[0]);
    struct layer_row lr = { .step = 1 };
    runlog_layers_row(NULL, &lr);
    runlog_event(NULL, 1, "x", "\"a\":%d", 1);
    runlog_flush(NULL);
    ck_assert_ptr_null(runlog_error(NULL));
    ck_assert_int_eq(runlog_checkpoint(NULL, NULL, NULL, 1, 0, &cause), -1);
    ck_assert_str_eq(cause, "no run directory to save a checkpoint in");
    free(cause);
    free(root);
    free(file);
}
END_TEST

Suite *runlog_suite(void);

Suite *
runlog_suite(void)
{
    Suite *s = suite_create("runlog");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_runlog__dir_naming);
    tcase_add_test(core, test_runlog__metrics_roundtrip);
    tcase_add_test(core, test_runlog__layers_roundtrip);
    tcase_add_test(core, test_runlog__events);
    tcase_add_test(core, test_runlog__checkpoint_roundtrip);
    tcase_add_test(core, test_runlog__checkpoint_in_run);
    tcase_add_test(core, test_runlog__reopen_resume);
    tcase_add_test(core, test_runlog__flush_all);
    tcase_add_test(core, test_runlog__tfevents_crc32c);
    tcase_add_test(core, test_runlog__tfevents_framing);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, test_runlog__truncated_last_line);
    tcase_add_test(limits, test_runlog__follow_torn_line);
    tcase_add_test(limits, test_runlog__json_str);
    tcase_add_test(limits, test_runlog__json_parser);
    tcase_add_test(limits, test_runlog__read_bounds);
    tcase_add_test(limits, test_runlog__checkpoint_fuzz);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_test(errors, test_runlog__checkpoint_mismatch);
    tcase_add_test(errors, test_runlog__checkpoint_corrupt);
    tcase_add_test(errors, test_runlog__write_failure);
    tcase_add_test(errors, test_runlog__write_retry);
    tcase_add_test(errors, test_runlog__stale_tmp);
    tcase_add_test(errors, test_runlog__checkpoint_write_failure);
    tcase_add_test(errors, test_runlog__read_errors);
    tcase_add_test(errors, test_runlog__open_errors);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(runlog_suite());
}
