/*
 * check_cfg.c - the configuration module: defaults, every key, --set,
 * the YAML round trip, the shipped configs and the built-in demo, and one
 * test per kind of bad input asserting the exact message and line:col.
 *
 * Everything loads from in-memory strings except the fixtures under
 * tests/data/cfg/ and configs/ (found through $top_srcdir).  It does not
 * check that data files exist: that is the data module's job.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "nntop/cfg.h"
#include "nntop/doctor.h"

/* ---- helpers ---- */

static const char *
top_srcdir(void)
{
    const char *top = getenv("top_srcdir");
    return top != NULL ? top : ".";
}

/* Load yaml (named t.yaml) over the defaults; returns cfg_load_string's result. */
static int
load(struct cfg *c, struct cfg_errs *e, const char *yaml)
{
    cfg_defaults(c);
    return cfg_load_string(c, yaml, strlen(yaml), "t.yaml", e);
}

/* What cfg_errs_print writes, as a heap string the caller frees. */
static char *
printed(const struct cfg_errs *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ck_assert_msg(fp != NULL, "open_memstream failed");
    cfg_errs_print(e, fp);
    fclose(fp);
    return buf;
}

/* The load must fail, and its first problem must be exactly line:col: msg. */
static void
expect_error(const char *yaml, unsigned line, unsigned col, const char *msg)
{
    struct cfg c;
    struct cfg_errs e;
    int rc = load(&c, &e, yaml);
    ck_assert_msg(rc == -1, "expected a failure (%u:%u: %s) for:\n%s", line, col, msg, yaml);
    ck_assert_msg(e.n >= 1, "the load failed but recorded no problem for:\n%s", yaml);
    ck_assert_msg(e.e[0].line == line && e.e[0].col == col && strcmp(e.e[0].msg, msg) == 0,
                  "for:\n%s\nexpected %u:%u: %s\n     got %u:%u: %s", yaml, line, col, msg,
                  e.e[0].line, e.e[0].col, e.e[0].msg);
    ck_assert_msg(strcmp(e.e[0].file, "t.yaml") == 0, "expected file t.yaml, got '%s'",
                  e.e[0].file);
}

/* cfg_set must fail and print exactly want (one line, newline included). */
static void
expect_set_error(const char *assignment, const char *want)
{
    struct cfg c;
    struct cfg_errs e;
    cfg_defaults(&c);
    int rc = cfg_set(&c, assignment, &e);
    ck_assert_msg(rc == -1, "expected --set %s to fail", assignment);
    char *got = printed(&e);
    ck_assert_msg(strcmp(got, want) == 0, "--set %s\nexpected: %s     got: %s", assignment, want,
                  got);
    free(got);
    cfg_errs_fini(&e);
}

static void
expect_set_ok(struct cfg *c, const char *assignment)
{
    struct cfg_errs e;
    int rc = cfg_set(c, assignment, &e);
    if (rc != 0) {
        char *got = printed(&e);
        ck_abort_msg("--set %s failed: %s", assignment, got);
    }
}

static void
expect_valid(const struct cfg *c, const char *what)
{
    struct cfg_errs e;
    if (cfg_validate(c, &e) != 0) {
        char *got = printed(&e);
        ck_abort_msg("%s: cfg_validate failed: %s", what, got);
    }
}

static void
expect_invalid(const struct cfg *c, const char *msg)
{
    struct cfg_errs e;
    ck_assert_msg(cfg_validate(c, &e) == -1, "expected cfg_validate to fail with: %s", msg);
    ck_assert_msg(e.n >= 1 && strcmp(e.e[0].msg, msg) == 0 && e.e[0].line == 0,
                  "expected: %s\n     got: %s", msg, e.n >= 1 ? e.e[0].msg : "(nothing)");
}

/* Absolute path of name in the working directory. */
static const char *
in_cwd(const char *name)
{
    static char buf[4200];
    char cwd[4096];
    ck_assert_msg(getcwd(cwd, sizeof cwd) != NULL, "getcwd failed");
    snprintf(buf, sizeof buf, "%s/%s", cwd, name);
    return buf;
}

/* load -> dump -> load must give a byte-identical struct and dump. */
static void
expect_round_trip(const struct cfg *a, const char *what)
{
    struct cfg b;
    struct cfg_errs e;
    char *y1 = cfg_to_yaml(a);
    cfg_defaults(&b);
    int rc = cfg_load_string(&b, y1, strlen(y1), "dump.yaml", &e);
    if (rc != 0) {
        char *got = printed(&e);
        ck_abort_msg("%s: the dump does not load back: %s\n%s", what, got, y1);
    }
    char *y2 = cfg_to_yaml(&b);
    ck_assert_msg(strcmp(y1, y2) == 0, "%s: dumps differ:\n%s\n---\n%s", what, y1, y2);
    /* Where the layers were written is not part of the value. */
    struct cfg a2 = *a;
    memset(&a2.layers_at, 0, sizeof a2.layers_at);
    memset(&b.layers_at, 0, sizeof b.layers_at);
    a = &a2;
    if (memcmp(a, &b, sizeof b) != 0) {
        size_t i = 0;
        while (((const unsigned char *)a)[i] == ((const unsigned char *)&b)[i])
            i++;
        ck_abort_msg("%s: the reloaded struct differs at byte %zu:\n%s", what, i, y1);
    }
    free(y1);
    free(y2);
}

/* ---- core ---- */

START_TEST(test_cfg__defaults)
{
    struct cfg c;
    cfg_defaults(&c);
    ck_assert_str_eq(c.name, "run");
    ck_assert_uint_eq(c.seed, 0);
    ck_assert_int_eq(c.data.source, DATA_SPIRAL);
    ck_assert_int_eq(c.data.classes, 3);
    ck_assert_int_eq(c.data.points, 100);
    ck_assert_double_eq(c.data.noise, 0.2);
    ck_assert_int_eq(c.data.normalize, NORM_NONE);
    ck_assert_double_eq(c.data.val_fraction, 0.1);
    ck_assert_int_eq(c.data.subset, 0);
    ck_assert(c.data.shuffle);
    ck_assert_int_eq(c.data.label_index, -1);
    ck_assert_int_eq(c.model.nlayers, 0);
    ck_assert_int_eq(c.model.in, 0);
    ck_assert_int_eq(c.model.loss, LOSS_CROSS_ENTROPY);
    ck_assert_int_eq(c.optim.kind, OPTIM_SGD);
    ck_assert_double_eq(c.optim.lr, 0.1);
    ck_assert_double_eq(c.optim.momentum, 0);
    ck_assert(!c.optim.nesterov);
    ck_assert_double_eq(c.optim.weight_decay, 0);
    ck_assert_double_eq(c.optim.beta1, 0.9);
    ck_assert_double_eq(c.optim.beta2, 0.999);
    ck_assert_double_eq(c.optim.eps, 1e-8);
    ck_assert_int_eq(c.clip.kind, CLIP_NONE);
    ck_assert_int_eq(c.sched.kind, SCHED_CONSTANT);
    ck_assert_int_eq(c.sched.warmup, 0);
    ck_assert_int_eq(c.sched.total_steps, 0);
    ck_assert_int_eq(c.train.batch_size, 64);
    ck_assert_int_eq(c.train.epochs, 10);
    ck_assert_int_eq(c.train.steps, 0);
    ck_assert_int_eq(c.train.eval_every, 0);
    ck_assert_int_eq(c.train.threads, 1);
    ck_assert(c.log.enabled);
    ck_assert_str_eq(c.log.dir, "runs");
    ck_assert_int_eq(c.log.checkpoint_every, 0);
    ck_assert(!c.log.save_initial);
    ck_assert_int_eq(c.telemetry.every, 10);
    ck_assert_int_eq(c.telemetry.bins, 40);
    ck_assert_double_eq(c.telemetry.max_hz, 20);
    ck_assert(c.doctor.enabled);
    ck_assert_int_eq(c.gradcheck.samples, 8);
    ck_assert_int_eq(c.gradcheck.per_tensor, 20);
}
END_TEST

/*
 * The man page's "(default X)" for a dotted key agrees with what
 * --check-config writes for a default config: both come from the key
 * table's rows, and this catches the page drifting from them.
 */
static const char *
dumped_value(const char *yaml, const char *key, char *buf, size_t len)
{
    char section[64] = "";
    const char *p = yaml;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        p += n + (eol != NULL);
        if (line[0] == '#' || line[0] == '\0')
            continue;
        int indent = (int)strspn(line, " ");
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        const char *k = line + indent, *v = colon + 1 + (colon[1] == ' ');
        char path[160];
        if (indent == 0)
            snprintf(section, sizeof section, "%s", k);
        if (indent == 0 && *v == '\0')
            continue;
        if (indent == 0)
            snprintf(path, sizeof path, "%s", k);
        else if (indent == 2)
            snprintf(path, sizeof path, "%s.%s", section, k);
        else
            continue;
        if (strcmp(path, key) == 0) {
            snprintf(buf, len, "%s", v);
            if (buf[0] == '"' && strlen(buf) >= 2) {   /* a quoted string */
                memmove(buf, buf + 1, strlen(buf));
                buf[strlen(buf) - 1] = '\0';
            }
            return buf;
        }
    }
    return NULL;
}

START_TEST(test_cfg__man_defaults)
{
    const char *top = getenv("top_srcdir");
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/man/nntop.1.in", top != NULL ? top : ".");
    FILE *f = fopen(mpath, "r");
    ck_assert_msg(f != NULL, "cannot open %s", mpath);
    struct cfg c;
    cfg_defaults(&c);
    char *yaml = cfg_to_yaml(&c);
    char line[512];
    int compared = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char key[96], val[96], got[96];
        /* .BR key " (default 64)"   or   .BR key " (default " true ) */
        if (sscanf(line, ".BR %95[a-z_.] \" (default %95[^)\" ]) ", key, val) == 2
            || sscanf(line, ".BR %95[a-z_.] \" (default \" %95[^) ]", key, val) == 2) {
            if (strchr(key, '.') == NULL)
                continue;       /* a key of a section shown below it */
            val[strcspn(val, ",;")] = '\0';     /* "(default 4294967296, 4 GiB)" */
            if (dumped_value(yaml, key, got, sizeof got) == NULL || got[0] == '\0')
                continue;       /* not written for the default kind, or a map */
            char *e1, *e2;
            double a = strtod(val, &e1), b = strtod(got, &e2);
            bool same = *e1 == '\0' && *e2 == '\0' && e1 != val && e2 != got ? a == b
                        : strcmp(val, got) == 0
                          || (strcmp(val, "none") == 0 && strcmp(got, "[]") == 0);
            ck_assert_msg(same, "man page: %s (default %s), but --check-config writes %s", key,
                          val, got);
            compared++;
        }
    }
    fclose(f);
    free(yaml);
    /* every section's keys: data, optim, train, log, telemetry, doctor, gradcheck */
    printf("man_defaults: %d defaults compared\n", compared);
    ck_assert_msg(compared >= 40, "only %d defaults compared", compared);
}
END_TEST

/* Whether "doctor: {name: v}" loads. */
static bool
doctor_value_loads(const char *name, double v)
{
    struct cfg c;
    struct cfg_errs e;
    char text[160];
    cfg_defaults(&c);
    snprintf(text, sizeof text, "doctor:\n  %s: %.17g\n", name, v);
    int rc = cfg_load_string(&c, text, strlen(text), "doctor.yaml", &e);
    cfg_errs_fini(&e);
    return rc == 0;
}

/*
 * The doctor's thresholds have one source, its parameter table
 * (doctor_param_at): the defaults the doctor starts from, the ones
 * --check-config writes and the man page's "(default X)" are its
 * defaults, and the parser accepts exactly its range.
 */
START_TEST(test_cfg__doctor_thresholds)
{
    const char *top = getenv("top_srcdir");
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/man/nntop.1.in", top != NULL ? top : ".");
    FILE *f = fopen(mpath, "r");
    ck_assert_msg(f != NULL, "cannot open %s", mpath);
    static char man[1 << 20];
    size_t mlen = fread(man, 1, sizeof man - 1, f);
    fclose(f);
    man[mlen] = '\0';
    ck_assert_msg(mlen > 0 && mlen < sizeof man - 1, "%s: read %zu bytes", mpath, mlen);

    struct cfg c;
    cfg_defaults(&c);
    struct doctor_spec spec;
    doctor_spec_defaults(&spec);
    char *yaml = cfg_to_yaml(&c);
    for (int i = 0; i < DP_COUNT; i++) {
        const struct doctor_param_info *p = doctor_param_at(i);
        char key[96], pat[128], got[96];
        snprintf(key, sizeof key, "doctor.%s", p->name);
        ck_assert_msg(spec.p[i] == p->def && c.doctor.p[i] == p->def,
                      "%s: the doctor starts from %g, the config from %g, the table says %g",
                      key, spec.p[i], c.doctor.p[i], p->def);
        ck_assert_msg(dumped_value(yaml, key, got, sizeof got) != NULL,
                      "--check-config does not write %s", key);
        ck_assert_msg(strtod(got, NULL) == p->def, "--check-config writes %s: %s, the doctor %g",
                      key, got, p->def);
        snprintf(pat, sizeof pat, ".BR %s \" (default ", key);
        const char *m = strstr(man, pat);
        ck_assert_msg(m != NULL, "man page: no '%s' line", pat);
        ck_assert_msg(strtod(m + strlen(pat), NULL) == p->def, "man page: %s (default %.20s), "
                      "the doctor %g", key, m + strlen(pat), p->def);
        /* The range, inclusive; 1e30 stands for no upper bound. */
        double step = fmax(fabs(p->lo), 1.0) * 1e-6;
        ck_assert_msg(doctor_value_loads(p->name, p->lo), "%s: its lowest %g refused", key, p->lo);
        ck_assert_msg(!doctor_value_loads(p->name, p->lo - step), "%s: below %g accepted", key,
                      p->lo);
        if (p->hi < 1e30) {
            step = fmax(fabs(p->hi), 1.0) * 1e-6;
            ck_assert_msg(doctor_value_loads(p->name, p->hi), "%s: its highest %g refused", key,
                          p->hi);
            ck_assert_msg(!doctor_value_loads(p->name, p->hi + step), "%s: above %g accepted",
                          key, p->hi);
        } else {
            ck_assert_msg(doctor_value_loads(p->name, 1e29), "%s: 1e29 refused", key);
        }
    }
    free(yaml);
}
END_TEST

START_TEST(test_cfg__every_key)
{
    struct cfg c;
    struct cfg_errs e;
    const char *path = check_data_path("cfg/good-full.yaml");
    cfg_defaults(&c);
    int rc = cfg_load_file(&c, path, &e);
    if (rc != 0) {
        char *got = printed(&e);
        ck_abort_msg("%s did not load: %s", path, got);
    }
    ck_assert_msg(e.text == NULL && !e.text_owned, "a successful load leaves nothing to free");
    ck_assert_str_eq(c.name, "full-Config_1.0");
    ck_assert_uint_eq(c.seed, UINT64_MAX);
    ck_assert_uint_eq(c.model.seed, UINT64_MAX);

    ck_assert_int_eq(c.data.source, DATA_CSV);
    /* table.csv sits next to the fixture, and is stored absolute. */
    char dir[4096], want[8400];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    snprintf(want, sizeof want, "%s/table.csv", dir[0] == '/' ? dir : in_cwd(dir));
    ck_assert_str_eq(c.data.path, want);
    ck_assert_str_eq(c.data.test_path, "/abs/test.csv");
    ck_assert_str_eq(c.data.label_name, "species");
    ck_assert_int_eq(c.data.label_index, -1);
    ck_assert_int_eq(c.data.header, CSV_HEADER_NO);
    ck_assert_int_eq(c.data.normalize, NORM_MINMAX);
    ck_assert_double_eq(c.data.val_fraction, 0.25);
    ck_assert_int_eq(c.data.subset, 128);
    ck_assert(!c.data.shuffle);

    static const struct {
        enum layer_kind kind;
        int units;
        float arg;
        enum init_kind init;
        float init_arg;
    } L[] = {
        { LAYER_DENSE, 64, 0, INIT_HE, 0 },      { LAYER_LEAKY_RELU, 0, 0.2f, INIT_PYTORCH, 0 },
        { LAYER_BATCHNORM, 0, 0, INIT_PYTORCH, 0 }, { LAYER_DROPOUT, 0, 0.25f, INIT_PYTORCH, 0 },
        { LAYER_DENSE, 32, 0, INIT_NORMAL, 0.05f }, { LAYER_TANH, 0, 0, INIT_PYTORCH, 0 },
        { LAYER_DENSE, 16, 0, INIT_UNIFORM, 0.5f }, { LAYER_SIGMOID, 0, 0, INIT_PYTORCH, 0 },
        { LAYER_DENSE, 8, 0, INIT_XAVIER, 0 },   { LAYER_RELU, 0, 0, INIT_PYTORCH, 0 },
        { LAYER_DENSE, 3, 0, INIT_ZEROS, 0 },
    };
    ck_assert_int_eq(c.model.nlayers, (int)(sizeof L / sizeof *L));
    for (int i = 0; i < c.model.nlayers; i++) {
        const struct layer_spec *l = &c.model.layers[i];
        ck_assert_msg(l->kind == L[i].kind && l->units == L[i].units && l->arg == L[i].arg
                          && l->init == L[i].init && l->init_arg == L[i].init_arg,
                      "layer %d: expected kind %d units %d arg %g init %d/%g, got %d %d %g %d/%g",
                      i, L[i].kind, L[i].units, (double)L[i].arg, L[i].init,
                      (double)L[i].init_arg, l->kind, l->units, (double)l->arg, l->init,
                      (double)l->init_arg);
    }
    ck_assert_int_eq(c.model.loss, LOSS_MSE);

    ck_assert_int_eq(c.optim.kind, OPTIM_ADAMW);
    ck_assert_double_eq(c.optim.lr, 0.003);
    ck_assert_double_eq(c.optim.weight_decay, 0.01);
    ck_assert_double_eq(c.optim.beta1, 0.8);
    ck_assert_double_eq(c.optim.beta2, 0.99);
    ck_assert_double_eq(c.optim.eps, 1e-6);
    ck_assert_int_eq(c.clip.kind, CLIP_VALUE);
    ck_assert_double_eq(c.clip.value, 0.5);
    ck_assert_int_eq(c.sched.kind, SCHED_STEP);
    ck_assert_int_eq(c.sched.warmup, 10);
    ck_assert_int_eq(c.sched.step_size, 100);
    ck_assert_double_eq(c.sched.gamma, 0.5);
    ck_assert_int_eq(c.sched.total_steps, 5000);

    ck_assert_int_eq(c.train.batch_size, 32);
    ck_assert_int_eq(c.train.steps, 5000);
    ck_assert_int_eq(c.train.eval_every, 250);
    ck_assert_int_eq(c.train.threads, 4);
    ck_assert(!c.log.enabled);
    ck_assert_str_eq(c.log.dir, "/tmp/nntop-runs");
    ck_assert_int_eq(c.log.checkpoint_every, 1000);
    ck_assert(c.log.save_initial);
    ck_assert_int_eq(c.telemetry.every, 5);
    ck_assert_int_eq(c.telemetry.bins, 64);
    ck_assert_double_eq(c.telemetry.max_hz, 12.5);
    ck_assert(!c.doctor.enabled);
    ck_assert_int_eq(c.gradcheck.samples, 4);
    ck_assert_int_eq(c.gradcheck.per_tensor, 50);
    expect_valid(&c, path);
    expect_round_trip(&c, path);
}
END_TEST

START_TEST(test_cfg__sources)
{
    struct cfg c;
    struct cfg_errs e;

    ck_assert_int_eq(load(&c, &e, "data: {source: xor}"), 0);
    ck_assert_int_eq(c.data.points, 400);
    ck_assert_double_eq(c.data.noise, 0.1);
    ck_assert_int_eq(c.data.normalize, NORM_NONE);
    ck_assert_int_eq(load(&c, &e, "data: {source: xor, points: 64, noise: 0}"), 0);
    ck_assert_int_eq(c.data.points, 64);
    ck_assert_double_eq(c.data.noise, 0);

    ck_assert_int_eq(load(&c, &e, "data: {source: blobs}"), 0);
    ck_assert_int_eq(c.data.classes, 3);
    ck_assert_int_eq(c.data.points, 300);
    ck_assert_int_eq(c.data.features, 2);
    ck_assert_double_eq(c.data.spread, 1.0);
    /* The source is applied first wherever it is written in the map. */
    ck_assert_int_eq(load(&c, &e, "data: {features: 5, spread: 0.5, classes: 7, source: blobs}"),
                     0);
    ck_assert_int_eq(c.data.features, 5);
    ck_assert_double_eq(c.data.spread, 0.5);
    ck_assert_int_eq(c.data.classes, 7);

    ck_assert_int_eq(load(&c, &e, "data: {source: spiral, classes: 5, points: 40, noise: 0.3}"), 0);
    ck_assert_int_eq(c.data.classes, 5);
    ck_assert_int_eq(c.data.points, 40);

    const char *idx = "data:\n"
                      "  source: idx\n"
                      "  train_images: /d/train-images.gz\n"
                      "  train_labels: labels.gz\n"
                      "  test_images: ~\n";
    ck_assert_int_eq(load(&c, &e, idx), 0);
    ck_assert_int_eq(c.data.normalize, NORM_UNIT);
    ck_assert_str_eq(c.data.train_images, "/d/train-images.gz");
    ck_assert_str_eq(c.data.train_labels, in_cwd("labels.gz"));
    ck_assert_str_eq(c.data.test_images, "");
    ck_assert_str_eq(c.data.test_labels, "");
    expect_invalid(&c, "model.layers is required: list the layers, e.g. "
                       "[{dense: 100}, relu, {dense: 3}]");

    /* Relative paths follow the config file's directory. */
    cfg_defaults(&c);
    const char *csv = "data: {source: csv, path: ./t.csv, label: 2}";
    ck_assert_int_eq(cfg_load_string(&c, csv, strlen(csv), "/etc/nntop/x.yaml", &e), 0);
    ck_assert_str_eq(c.data.path, "/etc/nntop/t.csv");
    ck_assert_int_eq(c.data.label_index, 2);
    ck_assert_str_eq(c.data.label_name, "");
    ck_assert_int_eq(c.data.normalize, NORM_STANDARDIZE);
    ck_assert_int_eq(c.data.header, CSV_HEADER_AUTO);
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_load_string(&c, csv, strlen(csv), "sub/dir/x.yaml", &e), 0);
    ck_assert_str_eq(c.data.path, in_cwd("sub/dir/t.csv"));
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_load_string(&c, csv, strlen(csv), "/x.yaml", &e), 0);
    ck_assert_str_eq(c.data.path, "/t.csv");

    /* A quoted number is a column name; a plain one is an index; -1 is the last. */
    ck_assert_int_eq(load(&c, &e, "data: {source: csv, path: a.csv, label: \"3\"}"), 0);
    ck_assert_str_eq(c.data.label_name, "3");
    ck_assert_int_eq(c.data.label_index, -1);
    ck_assert_int_eq(load(&c, &e, "data: {source: csv, path: a.csv, label: -1, header: auto}"), 0);
    ck_assert_int_eq(c.data.label_index, -1);
    ck_assert_int_eq(load(&c, &e, "data: {source: csv, path: a.csv, header: true}"), 0);
    ck_assert_int_eq(c.data.header, CSV_HEADER_YES);
    ck_assert_int_eq(load(&c, &e, "data: {source: csv, path: pixels.csv, normalize: unit}"), 0);
    ck_assert_int_eq(c.data.normalize, NORM_UNIT);
    expect_set_ok(&c, "data.source=blobs");
    ck_assert_int_eq(c.data.normalize, NORM_NONE);
    c.data.normalize = NORM_UNIT;
    expect_set_ok(&c, "model.layers=[{dense: 2}]");
    expect_invalid(&c, "data.normalize: 'unit' (x / 255) is for byte-valued data (sources idx, "
                       "csv and npy); use standardize or minmax for source 'blobs'");
}
END_TEST

START_TEST(test_cfg__layers)
{
    struct cfg c;
    struct cfg_errs e;
    const char *yaml = "model:\n"
                       "  layers:\n"
                       "    - dense: 10\n"
                       "      init: normal:0.01\n"
                       "    - leaky_relu\n"
                       "    - dropout\n"
                       "    - relu:\n"
                       "    - {leaky_relu: ~}\n"
                       "    - {dense: 2, init: uniform:1e-3}\n";
    ck_assert_int_eq(load(&c, &e, yaml), 0);
    ck_assert_int_eq(c.model.nlayers, 6);
    ck_assert_int_eq(c.model.layers[0].kind, LAYER_DENSE);
    ck_assert_int_eq(c.model.layers[0].units, 10);
    ck_assert_int_eq(c.model.layers[0].init, INIT_NORMAL);
    ck_assert_float_eq(c.model.layers[0].init_arg, 0.01f);
    ck_assert_int_eq(c.model.layers[1].kind, LAYER_LEAKY_RELU);
    ck_assert_float_eq(c.model.layers[1].arg, 0.01f);
    ck_assert_int_eq(c.model.layers[2].kind, LAYER_DROPOUT);
    ck_assert_float_eq(c.model.layers[2].arg, 0.5f);
    ck_assert_int_eq(c.model.layers[3].kind, LAYER_RELU);
    ck_assert_float_eq(c.model.layers[4].arg, 0.01f);
    ck_assert_int_eq(c.model.layers[5].init, INIT_UNIFORM);
    ck_assert_float_eq(c.model.layers[5].init_arg, 1e-3f);
    ck_assert_int_eq(c.model.layers[5].units, 2);
    expect_valid(&c, "layers");
    expect_round_trip(&c, "layers");

    /* 64 layers is the most a model may have. */
    char big[2048] = "model: {layers: [";
    for (int i = 0; i < 64; i++)
        strcat(big, i == 0 ? "{dense: 4}" : ", relu");
    strcat(big, "]}");
    ck_assert_int_eq(load(&c, &e, big), 0);
    ck_assert_int_eq(c.model.nlayers, 64);
}
END_TEST

START_TEST(test_cfg__optim_forms)
{
    struct cfg c;
    struct cfg_errs e;

    ck_assert_int_eq(load(&c, &e, "optim: {name: adam}"), 0);
    ck_assert_double_eq(c.optim.lr, 1e-3);
    ck_assert_int_eq(load(&c, &e, "optim: {lr: 0.5, name: sgd, momentum: 0.9, nesterov: true}"), 0);
    ck_assert_double_eq(c.optim.lr, 0.5);
    ck_assert(c.optim.nesterov);
    ck_assert_int_eq(load(&c, &e, "optim: {schedule: constant}"), 0);
    ck_assert_int_eq(c.sched.kind, SCHED_CONSTANT);
    ck_assert_int_eq(load(&c, &e, "optim: {schedule: exp}"), 0);
    ck_assert_int_eq(c.sched.kind, SCHED_EXP);
    ck_assert_double_eq(c.sched.gamma, 0.95);
    ck_assert_int_eq(load(&c, &e, "optim: {schedule: {name: step, step_size: 3}}"), 0);
    ck_assert_double_eq(c.sched.gamma, 0.1);
    ck_assert_int_eq(c.sched.step_size, 3);
    ck_assert_int_eq(load(&c, &e, "optim: {schedule: {name: cosine, warmup: 5, min_lr: 0.001}}"),
                     0);
    ck_assert_int_eq(c.sched.warmup, 5);
    ck_assert_double_eq(c.sched.min_lr, 0.001);
    ck_assert_int_eq(load(&c, &e, "optim: {clip: {norm: 2.5}}"), 0);
    ck_assert_int_eq(c.clip.kind, CLIP_NORM);
    ck_assert_double_eq(c.clip.value, 2.5);
    ck_assert_int_eq(load(&c, &e, "optim: {clip: none}"), 0);
    ck_assert_int_eq(c.clip.kind, CLIP_NONE);
    ck_assert_int_eq(load(&c, &e, "train: {epochs: 3}"), 0);
    ck_assert_int_eq(c.train.epochs, 3);
    ck_assert_int_eq(c.sched.total_steps, 0);
}
END_TEST

START_TEST(test_cfg__set_overrides)
{
    struct cfg c;
    struct cfg_errs e;
    const char *yaml = "data: {source: csv, path: /d/a.csv, normalize: minmax}\n"
                       "model: {layers: [{dense: 4}]}\n"
                       "optim: {name: sgd, lr: 0.5, schedule: {name: step, step_size: 10}}\n"
                       "train: {steps: 100}\n";
    ck_assert_int_eq(load(&c, &e, yaml), 0);

    expect_set_ok(&c, "optim.lr=0.01");
    ck_assert_double_eq(c.optim.lr, 0.01);
    ck_assert_int_eq(c.sched.step_size, 10);
    /* Maps merge into what is there. */
    expect_set_ok(&c, "optim.schedule={gamma: 0.5}");
    ck_assert_int_eq(c.sched.kind, SCHED_STEP);
    ck_assert_int_eq(c.sched.step_size, 10);
    ck_assert_double_eq(c.sched.gamma, 0.5);
    /* Lists replace. */
    expect_set_ok(&c, "model.layers=[{dense: 64}, relu, {dense: 10}]");
    ck_assert_int_eq(c.model.nlayers, 3);
    ck_assert_int_eq(c.model.layers[2].units, 10);
    /* A new source starts from its own defaults. */
    expect_set_ok(&c, "data.source=xor");
    ck_assert_int_eq(c.data.source, DATA_XOR);
    ck_assert_int_eq(c.data.points, 400);
    ck_assert_int_eq(c.data.normalize, NORM_NONE);
    ck_assert_str_eq(c.data.path, "");
    expect_set_ok(&c, "data.noise=0.3");
    ck_assert_double_eq(c.data.noise, 0.3);
    /* The same source keeps what was set. */
    expect_set_ok(&c, "data.source=xor");
    ck_assert_double_eq(c.data.noise, 0.3);
    /* epochs and steps: the one given last wins. */
    ck_assert_int_eq(c.sched.total_steps, 100);
    expect_set_ok(&c, "train.epochs=4");
    ck_assert_int_eq(c.train.steps, 0);
    ck_assert_int_eq(c.train.epochs, 4);
    ck_assert_int_eq(c.sched.total_steps, 0);
    expect_set_ok(&c, "train.steps=7");
    ck_assert_int_eq(c.train.steps, 7);
    ck_assert_int_eq(c.train.epochs, 10);
    ck_assert_int_eq(c.sched.total_steps, 7);
    expect_set_ok(&c, "seed=42");
    ck_assert_uint_eq(c.seed, 42);
    ck_assert_uint_eq(c.model.seed, 42);
    expect_set_ok(&c, "name=sweep-3");
    ck_assert_str_eq(c.name, "sweep-3");
    expect_set_ok(&c, "optim={name: adam, betas: [0.5, 0.9]}");
    ck_assert_double_eq(c.optim.lr, 1e-3);
    ck_assert_double_eq(c.optim.beta1, 0.5);
    expect_set_ok(&c, "data.source=csv");
    expect_set_ok(&c, "data.path=rel.csv");
    ck_assert_str_eq(c.data.path, in_cwd("rel.csv"));
    expect_set_ok(&c, "data.label=species");
    ck_assert_str_eq(c.data.label_name, "species");
    expect_set_ok(&c, "loss=mse");
    ck_assert_int_eq(c.model.loss, LOSS_MSE);
    expect_valid(&c, "after --set");
    expect_round_trip(&c, "after --set");
}
END_TEST

START_TEST(test_cfg__round_trip)
{
    struct cfg c;
    struct cfg_errs e;
    /* Values that print badly with %g: they must survive exactly. */
    const char *yaml = "name: rt\n"
                       "seed: 12345678901234567\n"
                       "data: {source: blobs, spread: 0.1, features: 3}\n"
                       "model: {layers: [{dense: 7, init: \"normal:0.1\"}, {leaky_relu: 0.3},"
                       " {dropout: 0.1}, {dense: 2}]}\n"
                       "optim: {name: adam, lr: 0.0003, betas: [0.85, 0.9995], eps: 3e-9,"
                       " weight_decay: 0.1, clip: {norm: 0.7},"
                       " schedule: {name: exp, gamma: 0.99, warmup: 3}}\n"
                       "telemetry: {max_hz: 33.333333333333336}\n"
                       "log: {dir: \"with \\\"quote\\\" and \\\\ back\"}\n";
    ck_assert_int_eq(load(&c, &e, yaml), 0);
    ck_assert_str_eq(c.log.dir, "with \"quote\" and \\ back");
    ck_assert_double_eq(c.telemetry.max_hz, 33.333333333333336);
    expect_round_trip(&c, "rich");

    cfg_defaults(&c);
    expect_round_trip(&c, "defaults");
    ck_assert_int_eq(load(&c, &e, "data: {source: idx, train_images: a, train_labels: b}"), 0);
    expect_round_trip(&c, "idx");
}
END_TEST

START_TEST(test_cfg__shipped_configs)
{
    static const char *const must[] = {
        "spiral.yaml", "xor.yaml", "blobs.yaml", "fashion-mnist.yaml", "fashion-cnn.yaml",
        "csv-example.yaml"
    };
    char dir[4200], path[4500];
    snprintf(dir, sizeof dir, "%s/configs", top_srcdir());
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (is top_srcdir set?)", dir);
    int seen = 0, must_seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct cfg c;
        struct cfg_errs e;
        cfg_defaults(&c);
        if (cfg_load_file(&c, path, &e) != 0) {
            char *got = printed(&e);
            ck_abort_msg("%s does not load: %s", path, got);
        }
        expect_valid(&c, path);
        expect_round_trip(&c, path);
        for (size_t i = 0; i < sizeof must / sizeof *must; i++)
            must_seen += strcmp(de->d_name, must[i]) == 0;
        seen++;
    }
    closedir(d);
    int nmust = (int)(sizeof must / sizeof *must);
    ck_assert_msg(must_seen == nmust, "expected the %d shipped configs in %s, found %d", nmust,
                  dir, must_seen);
    ck_assert_int_ge(seen, nmust);
}
END_TEST

/* A compiled-in demo is its file byte for byte and a valid config. */
static void
check_demo(const char *file, const char *yaml, size_t len, int source, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/%s", top_srcdir(), file);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ck_assert_msg(n == len && memcmp(buf, yaml, n) == 0,
                  "the compiled-in demo (%zu bytes) is not configs/%s (%zu bytes)", len, file, n);
    ck_assert_int_eq(yaml[len], '\0');

    struct cfg c;
    struct cfg_errs e;
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_load_string(&c, yaml, len, "<demo>", &e), 0);
    expect_valid(&c, "<demo>");
    ck_assert_int_eq(c.data.source, source);
    ck_assert_str_eq(c.name, name);
    /* Minibatches and a schedule long enough to watch (at least a minute). */
    ck_assert_int_le(c.train.batch_size, 64);
    ck_assert_double_gt(c.optim.momentum, 0.0);
    ck_assert_double_gt(c.optim.weight_decay, 0.0);
}

START_TEST(test_cfg__demo)
{
    check_demo("demo-spiral.yaml", cfg_demo_spiral_yaml, cfg_demo_spiral_yaml_len, DATA_SPIRAL,
               "demo-spiral");
    check_demo("demo-fashion-mnist.yaml", cfg_demo_fashion_yaml, cfg_demo_fashion_yaml_len,
               DATA_IDX, "demo-fashion-mnist");
}
END_TEST

START_TEST(test_cfg__validate)
{
    struct cfg c;
    struct cfg_errs e;
    const char *base = "model: {layers: [{dense: 3}]}\n";
    ck_assert_int_eq(load(&c, &e, base), 0);
    expect_valid(&c, "base");

    expect_set_ok(&c, "optim.nesterov=true");
    expect_invalid(&c, "optim.nesterov needs optim.momentum > 0");
    expect_set_ok(&c, "optim.momentum=0.9");
    expect_valid(&c, "nesterov with momentum");

    expect_set_ok(&c, "optim.schedule=step");
    expect_invalid(&c, "optim.schedule.step_size is required for schedule 'step'");
    expect_set_ok(&c, "optim.schedule.step_size=10");
    expect_valid(&c, "step schedule");

    expect_set_ok(&c, "optim.schedule={name: cosine, min_lr: 5}");
    expect_invalid(&c, "optim.schedule.min_lr (5) is above optim.lr (0.1)");
    expect_set_ok(&c, "optim.schedule=constant");

    expect_set_ok(&c, "data.source=idx");
    expect_invalid(&c, "data.train_images is required for source 'idx'");
    expect_set_ok(&c, "data={train_images: a, train_labels: b, test_images: c}");
    expect_invalid(&c, "data.test_images and data.test_labels go together: give both or neither");
    expect_set_ok(&c, "data.test_labels=d");
    expect_valid(&c, "idx");

    /* npy: one .npz archive may hold the labels beside the inputs. */
    expect_set_ok(&c, "data={source: npy, train_images: /d/a.npy, train_labels: ~, "
                      "test_images: ~, test_labels: ~}");
    expect_invalid(&c, "data.train_labels is required for source 'npy' unless "
                       "data.train_images is a .npz archive holding both");
    expect_set_ok(&c, "data={train_images: /d/a.npz, test_images: /d/t.npz}");
    expect_valid(&c, "npy: one archive each");
    expect_set_ok(&c, "data={inputs_key: pixels, labels_key: target}");
    expect_valid(&c, "npy: keys into the archives");
    expect_set_ok(&c, "data.test_labels=/d/t.npy");
    expect_invalid(&c, "data.labels_key names a member of a .npz archive, but /d/t.npy is not "
                       "one");
    expect_set_ok(&c, "data={test_labels: ~}");
    expect_valid(&c, "npy: test labels from the test archive again");
    expect_set_ok(&c, "data={source: idx, test_labels: d}");

    expect_set_ok(&c, "data.source=csv");
    expect_invalid(&c, "data.path is required for source 'csv'");
    expect_set_ok(&c, "data.source=spiral");

    expect_set_ok(&c, "model.layers=[relu, tanh]");
    expect_invalid(&c, "model.layers: no dense layer, so the model has nothing to train");
    expect_set_ok(&c, "model.layers=[]");
    expect_invalid(&c, "model.layers is required: list the layers, e.g. "
                       "[{dense: 100}, relu, {dense: 3}]");

    /* Several at once are all reported. */
    cfg_defaults(&c);
    c.data.source = DATA_CSV;
    c.optim.nesterov = true;
    ck_assert_int_eq(cfg_validate(&c, &e), -1);
    ck_assert_int_eq(e.n, 3);
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: model.layers is required: list the layers, e.g. "
                          "[{dense: 100}, relu, {dense: 3}]\n"
                          "nntop: optim.nesterov needs optim.momentum > 0\n"
                          "nntop: data.path is required for source 'csv'\n");
    free(got);
}
END_TEST

START_TEST(test_cfg__print)
{
    struct cfg c;
    struct cfg_errs e;
    const char *yaml = "optim:\n"
                       "\tname: sgd\n";
    /* A tab in indentation is a syntax error; the caret follows the tab. */
    ck_assert_int_eq(load(&c, &e, "optim:\n  lr: fast\n"), -1);
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: t.yaml:2:7: optim.lr: expected a number, got 'fast'\n"
                          "    2 |   lr: fast\n"
                          "      |       ^\n");
    free(got);

    /* Columns count characters, not bytes. */
    ck_assert_int_eq(load(&c, &e, "log: {dir: \"\xc3\xa9t\xc3\xa9\", enabled: 1}\n"), -1);
    got = printed(&e);
    ck_assert_str_eq(got, "nntop: t.yaml:1:28: log.enabled: expected true or false, got 1\n"
                          "    1 | log: {dir: \"\xc3\xa9t\xc3\xa9\", enabled: 1}\n"
                          "      |                            ^\n");
    free(got);

    ck_assert_int_eq(load(&c, &e, yaml), -1);
    got = printed(&e);
    ck_assert_msg(strstr(got, "nntop: t.yaml:2:1: syntax error: ") == got, "got: %s", got);
    free(got);
}
END_TEST

START_TEST(test_cfg__file_errors)
{
    struct cfg c;
    struct cfg_errs e;
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_load_file(&c, "configs/x.yaml", &e), -1);
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: configs/x.yaml: No such file or directory\n");
    free(got);
    ck_assert_int_eq(e.e[0].line, 0);
    cfg_errs_fini(&e);

    /* Every problem in the file, in file order, with the source kept for carets. */
    const char *path = check_data_path("cfg/bad-many.yaml");
    ck_assert_int_eq(cfg_load_file(&c, path, &e), -1);
    ck_assert(e.text_owned && e.text != NULL);
    static const struct {
        unsigned line, col;
        const char *msg;
    } want[] = {
        { 3, 7, "name: 'my run' may only use letters, digits, '.', '_' and '-' (it names the "
                "run's directory)" },
        { 6, 3, "key 'noise' does not apply to source 'idx'" },
        { 7, 17, "data.val_fraction: 1 is out of range [0, 1)" },
        { 9, 3, "unknown key 'lerning_rate' in optim (did you mean 'lr'?)" },
        { 10, 13, "optim.momentum: 1.5 is out of range [0, 1)" },
        { 11, 7, "optim.lr: expected a number, got 'fast'" },
        { 12, 3, "duplicate key 'momentum' (first at line 10)" },
        { 14, 15, "train.batch_size: expected an integer, got 3.5" },
        { 16, 3, "give train.epochs or train.steps, not both" },
        { 18, 12, "log.enabled: expected true or false, got 'yes'" },
    };
    ck_assert_int_eq(e.n, (int)(sizeof want / sizeof *want));
    for (int i = 0; i < e.n; i++)
        ck_assert_msg(e.e[i].line == want[i].line && e.e[i].col == want[i].col
                          && strcmp(e.e[i].msg, want[i].msg) == 0
                          && strcmp(e.e[i].file, path) == 0,
                      "problem %d: expected %u:%u: %s\n got %u:%u: %s", i, want[i].line,
                      want[i].col, want[i].msg, e.e[i].line, e.e[i].col, e.e[i].msg);
    cfg_errs_fini(&e);
    ck_assert(e.text == NULL && e.n == 0);

    path = check_data_path("cfg/bad-syntax.yaml");
    ck_assert_int_eq(cfg_load_file(&c, path, &e), -1);
    ck_assert_int_eq(e.n, 1);
    ck_assert_int_eq(e.e[0].line, 4);
    ck_assert_int_eq(e.e[0].col, 6);
    ck_assert_str_eq(e.e[0].msg, "syntax error: did not find expected ',' or ']' "
                                 "(while parsing a flow sequence at 3:11)");
    cfg_errs_fini(&e);
}
END_TEST

START_TEST(test_cfg__unchanged_on_error)
{
    struct cfg c, before;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, "optim: {lr: 0.5}\nmodel: {layers: [{dense: 2}]}"), 0);
    memcpy(&before, &c, sizeof c);
    const char *bad = "optim: {lr: 0.25, momentum: 3}\nname: changed\n";
    ck_assert_int_eq(cfg_load_string(&c, bad, strlen(bad), "t.yaml", &e), -1);
    ck_assert_msg(memcmp(&before, &c, sizeof c) == 0, "a failed load changed the config");
    ck_assert_int_eq(cfg_set(&c, "model.layers=[{dense: 4}, {dense: 0}]", &e), -1);
    ck_assert_msg(memcmp(&before, &c, sizeof c) == 0, "a failed --set changed the config");
}
END_TEST

/* ---- limits ---- */

START_TEST(test_cfg__alias_bomb)
{
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, bomb), -1);
    ck_assert_str_eq(e.e[0].msg, "unknown key 'a'");
    ck_assert_int_eq(e.e[1].line, 1);
    ck_assert_int_eq(e.e[1].col, 4);
    ck_assert_str_eq(e.e[1].msg, "anchors and aliases are not supported (found '&a')");
    ck_assert_int_eq(e.n, CFG_MAX_ERRORS);
    ck_assert_msg(e.more > 40, "expected the other refusals to be counted, got %d", e.more);
    char *got = printed(&e);
    char tail[64];
    snprintf(tail, sizeof tail, "nntop: %d more problems not shown\n", e.more);
    ck_assert_msg(strstr(got, tail) != NULL, "missing '%s' in:\n%s", tail, got);
    free(got);
}
END_TEST

START_TEST(test_cfg__deep_nesting)
{
    char yaml[128];
    struct cfg c;
    struct cfg_errs e;
    /* The top-level map is level 1, so 15 brackets reach exactly CFG_MAX_DEPTH. */
    snprintf(yaml, sizeof yaml, "a: %.*s%.*s", 15, "[[[[[[[[[[[[[[[[[[[[", 15,
             "]]]]]]]]]]]]]]]]]]]]");
    ck_assert_int_eq(load(&c, &e, yaml), -1);
    ck_assert_str_eq(e.e[0].msg, "unknown key 'a'");
    snprintf(yaml, sizeof yaml, "a: %.*s%.*s", 16, "[[[[[[[[[[[[[[[[[[[[", 16,
             "]]]]]]]]]]]]]]]]]]]]");
    expect_error(yaml, 1, 19, "nesting deeper than 16 levels");
}
END_TEST

START_TEST(test_cfg__size_limits)
{
    struct cfg c;
    struct cfg_errs e;
    size_t big = 2u << 20;
    char *text = malloc(big + 1);
    ck_assert(text != NULL);
    memset(text, '#', big);
    text[big] = '\0';
    ck_assert_int_eq(load(&c, &e, text), -1);
    ck_assert_int_eq(e.n, 1);
    ck_assert_int_eq(e.e[0].line, 0);
    ck_assert_str_eq(e.e[0].msg, "2097152 bytes is more than a config may have (1048576 bytes); "
                                 "is this the right file?");

    /* Exactly CFG_MAX_BYTES is still read: a comment padding a real config. */
    const char *cfgtext = "model: {layers: [{dense: 2}]}\n#";
    size_t n = strlen(cfgtext);
    memcpy(text, cfgtext, n);
    memset(text + n, 'x', (size_t)CFG_MAX_BYTES - n);
    text[CFG_MAX_BYTES] = '\0';
    ck_assert_int_eq(load(&c, &e, text), 0);
    ck_assert_int_eq(c.model.nlayers, 1);

    /* The same from a file: read up to the limit and refused. */
    char path[256];
    snprintf(path, sizeof path, "%s/big.yaml", check_tmpdir());
    FILE *fp = fopen(path, "wb");
    ck_assert(fp != NULL);
    text[CFG_MAX_BYTES] = 'x';
    fwrite(text, 1, (size_t)CFG_MAX_BYTES + 1, fp);
    fclose(fp);
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_load_file(&c, path, &e), -1);
    ck_assert_str_eq(e.e[0].msg, "larger than 1048576 bytes, the most a config may have; "
                                 "is this the right file?");
    cfg_errs_fini(&e);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    free(text);
}
END_TEST

START_TEST(test_cfg__many_values)
{
    struct cfg c;
    struct cfg_errs e;
    /* 70 000 list items: more values than a config may hold. */
    size_t n = 70000;
    char *text = malloc(16 * n);
    ck_assert(text != NULL);
    strcpy(text, "a: [");
    size_t len = 4;
    for (size_t i = 0; i < n; i++) {
        text[len++] = '1';
        text[len++] = ',';
    }
    text[len++] = ']';
    text[len] = '\0';
    ck_assert_int_eq(load(&c, &e, text), -1);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].msg, "too many values (more than 65536)");
    ck_assert_int_eq(e.e[0].line, 1);

    /* A map of 30 000 keys: the problems kept are the first 16 in the file,
     * whichever was found first, and the duplicate check is not quadratic. */
    len = (size_t)sprintf(text, "k0: 1\nk0: 2\n");
    for (int i = 1; i < 30000; i++)
        len += (size_t)sprintf(text + len, "k%d: 1\n", i);
    ck_assert_int_eq(load(&c, &e, text), -1);
    ck_assert_int_eq(e.n, CFG_MAX_ERRORS);
    ck_assert_int_eq(e.more, 30000 + 1 - CFG_MAX_ERRORS);
    ck_assert_str_eq(e.e[0].msg, "unknown key 'k0'");
    ck_assert_int_eq(e.e[1].line, 2);
    ck_assert_str_eq(e.e[1].msg, "duplicate key 'k0' (first at line 1)");
    for (int i = 2; i < e.n; i++) {
        char want[64];
        snprintf(want, sizeof want, "unknown key 'k%d'", i - 1);
        ck_assert_msg(e.e[i].line == (unsigned)i + 1 && strcmp(e.e[i].msg, want) == 0,
                      "problem %d: expected %d: %s, got %u: %s", i, i + 1, want, e.e[i].line,
                      e.e[i].msg);
    }
    free(text);
}
END_TEST

START_TEST(test_cfg__too_many_errors)
{
    char yaml[1024] = "";
    for (int i = 0; i < 20; i++)
        sprintf(yaml + strlen(yaml), "bad%d: 1\n", i);
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, yaml), -1);
    ck_assert_int_eq(e.n, CFG_MAX_ERRORS);
    ck_assert_int_eq(e.more, 4);
    ck_assert_str_eq(e.e[15].msg, "unknown key 'bad15'");
    ck_assert_int_eq(e.e[15].line, 16);
}
END_TEST

START_TEST(test_cfg__string_limits)
{
    struct cfg c;
    struct cfg_errs e;
    char yaml[5000];
    snprintf(yaml, sizeof yaml, "name: %.*s", 63,
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    ck_assert_int_eq(load(&c, &e, yaml), 0);
    ck_assert_int_eq(strlen(c.name), 63);
    snprintf(yaml, sizeof yaml, "name: %.*s", 64,
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    expect_error(yaml, 1, 7,
                 "name: 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn...' must have 1 to 63 "
                 "characters");

    char longpath[4200];
    memset(longpath, 'p', 4100);
    longpath[0] = '/';
    longpath[4100] = '\0';
    snprintf(yaml, sizeof yaml, "data: {source: csv, path: %s}", longpath);
    expect_error(yaml, 1, 27, "data.path: the path is longer than 4095 bytes");

    char layers[2048] = "model: {layers: [";
    for (int i = 0; i < 65; i++)
        strcat(layers, i == 0 ? "relu" : ", relu");
    strcat(layers, "]}");
    expect_error(layers, 1, 17, "model.layers: 65 layers, more than the 64 a model may have");
}
END_TEST

/* ---- errors: one test per kind, exact text and position ---- */

START_TEST(test_cfg__syntax)
{
    expect_error("optim:\n  lr: [1, 2\n", 3, 1,
                 "syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at 2:7)");
    expect_error("a: b: c\n", 1, 5, "syntax error: mapping values are not allowed in this context");
    expect_error("optim: {lr: 1}\nx: \x01\n", 2, 4,
                 "invalid input: control characters are not allowed (0x01)");
}
END_TEST

START_TEST(test_cfg__unknown_keys)
{
    expect_error("optim:\n  lerning_rate: 0.1\n", 2, 3,
                 "unknown key 'lerning_rate' in optim (did you mean 'lr'?)");
    expect_error("optim:\n  momentun: 0.9\n", 2, 3,
                 "unknown key 'momentun' in optim (did you mean 'momentum'?)");
    expect_error("optimizer: {lr: 1}\n", 1, 1, "unknown key 'optimizer' (did you mean 'optim'?)");
    expect_error("train: {bacth_size: 3}\n", 1, 9,
                 "unknown key 'bacth_size' in train (did you mean 'batch_size'?)");
    expect_error("optim: {schedule: {name: step, setp_size: 3}}\n", 1, 32,
                 "unknown key 'setp_size' in optim.schedule (did you mean 'step_size'?)");
    expect_error("zzz: 1\n", 1, 1, "unknown key 'zzz'");
    expect_error("LR: 1\n", 1, 1, "unknown key 'LR'");
    expect_error("optim: {LR: 1}\n", 1, 9, "unknown key 'LR' in optim (did you mean 'lr'?)");
    expect_error("model: {layers: [{dense: 3, inti: he}]}\n", 1, 29,
                 "unknown key 'inti' in model.layers[0] (did you mean 'init'?)");
}
END_TEST

START_TEST(test_cfg__wrong_types)
{
    expect_error("optim:\n  lr: fast\n", 2, 7, "optim.lr: expected a number, got 'fast'");
    expect_error("optim: {lr: \"0.1\"}\n", 1, 13,
                 "optim.lr: expected a number, got '0.1' (quoted, so text)");
    expect_error("optim: {lr: .inf}\n", 1, 13, "optim.lr: expected a number, got '.inf'");
    expect_error("optim: {lr: 0x10}\n", 1, 13, "optim.lr: expected a number, got '0x10'");
    expect_error("optim: {lr: }\n", 1, 13, "optim.lr: expected a number, got nothing");
    expect_error("optim: {lr: [1]}\n", 1, 13, "optim.lr: expected a number, got a list");
    expect_error("train:\n  batch_size: 3.5\n", 2, 15,
                 "train.batch_size: expected an integer, got 3.5");
    expect_error("train: {epochs: 1e3}\n", 1, 17, "train.epochs: expected an integer, got 1e3");
    expect_error("log: {enabled: yes}\n", 1, 16, "log.enabled: expected true or false, got 'yes'");
    expect_error("log: {enabled: True}\n", 1, 16,
                 "log.enabled: expected true or false, got 'True'");
    expect_error("name: [a]\n", 1, 7, "name: expected a name, got a list");
    expect_error("optim: 3\n", 1, 8, "optim: expected a map of settings, got 3");
    expect_error("optim:\n", 1, 7, "optim: expected a map of settings, got nothing");
    expect_error("seed: -1\n", 1, 7, "seed: -1 is out of range [0, 18446744073709551615]");
    expect_error("seed: abc\n", 1, 7, "seed: expected an integer, got 'abc'");
    expect_error("log: {dir: \"\"}\n", 1, 12, "log.dir: expected 1 to 4095 bytes of text, got 0");
    expect_error("data: {source: csv, path: {a: 1}}\n", 1, 27,
                 "data.path: expected a path, got a map");
    expect_error("data: {source: csv, label: ~, path: x}\n", 1, 28,
                 "data.label: expected a column name or a 0-based column index, got nothing");
}
END_TEST

START_TEST(test_cfg__ranges)
{
    expect_error("optim:\n  momentum: 1.5\n", 2, 13, "optim.momentum: 1.5 is out of range [0, 1)");
    expect_error("optim: {lr: 0}\n", 1, 13, "optim.lr: 0 is out of range (must be > 0)");
    expect_error("optim: {lr: 1e999}\n", 1, 13, "optim.lr: 1e999 is out of range (must be > 0)");
    expect_error("train: {batch_size: 0}\n", 1, 21,
                 "train.batch_size: 0 is out of range [1, 65536]");
    expect_error("train: {threads: 65}\n", 1, 18, "train.threads: 65 is out of range [1, 64]");
    expect_error("train: {epochs: 0}\n", 1, 17, "train.epochs: 0 is out of range (must be >= 1)");
    expect_error("train: {steps: 99999999999999999999}\n", 1, 16,
                 "train.steps: 99999999999999999999 is out of range (must be >= 1)");
    expect_error("telemetry: {bins: 3}\n", 1, 19, "telemetry.bins: 3 is out of range [4, 256]");
    expect_error("telemetry: {max_hz: 0}\n", 1, 21,
                 "telemetry.max_hz: 0 is out of range (must be > 0)");
    expect_error("data: {val_fraction: 1}\n", 1, 22, "data.val_fraction: 1 is out of range [0, 1)");
    expect_error("data: {subset: -1}\n", 1, 16, "data.subset: -1 is out of range (must be >= 0)");
    expect_error("data: {classes: 1}\n", 1, 17, "data.classes: 1 is out of range [2, 1000]");
    expect_error("optim: {schedule: {name: exp, gamma: 0}}\n", 1, 38,
                 "optim.schedule.gamma: 0 is out of range (0, 1]");
    expect_error("optim: {name: adam, betas: [0.9, 1]}\n", 1, 34,
                 "optim.betas[1]: 1 is out of range [0, 1)");
    expect_error("gradcheck: {samples: 0}\n", 1, 22,
                 "gradcheck.samples: 0 is out of range [1, 65536]");
}
END_TEST

START_TEST(test_cfg__duplicates)
{
    expect_error("optim:\n  name: sgd\n  lr: 0.1\n  lr: 0.2\n", 4, 3,
                 "duplicate key 'lr' (first at line 3)");
    expect_error("optim: {lr: 1}\noptim: {lr: 2}\n", 2, 1,
                 "duplicate key 'optim' (first at line 1)");
    expect_error("optim: {lr: 1, \"lr\": 2}\n", 1, 16, "duplicate key 'lr' (first at line 1)");
    /* Three of a kind: both later ones point at the first. */
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, "seed: 1\nseed: 2\nseed: 3\n"), -1);
    ck_assert_int_eq(e.n, 2);
    ck_assert_str_eq(e.e[1].msg, "duplicate key 'seed' (first at line 1)");
    ck_assert_int_eq(e.e[1].line, 3);
    expect_error("? [a]\n: 1\n", 1, 3, "a key must be a plain name, not a list");
}
END_TEST

START_TEST(test_cfg__anchors_tags)
{
    expect_error("optim: &o {lr: 1}\n", 1, 8, "anchors and aliases are not supported (found '&o')");
    expect_error("optim: {lr: 1}\ntrain: *o\n", 2, 8,
                 "anchors and aliases are not supported (found '*o')");
    expect_error("optim: {lr: !!float 1}\n", 1, 13,
                 "explicit tags are not supported (found '!!float')");
    expect_error("optim: !mine {lr: 1}\n", 1, 8, "explicit tags are not supported (found '!mine')");
}
END_TEST

START_TEST(test_cfg__documents)
{
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, ""), -1);
    ck_assert_int_eq(e.n, 1);
    ck_assert_int_eq(e.e[0].line, 0);
    ck_assert_str_eq(e.e[0].msg, "the configuration is empty (it needs at least model.layers)");
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: t.yaml: the configuration is empty (it needs at least "
                          "model.layers)\n");
    free(got);
    ck_assert_int_eq(load(&c, &e, "# just a comment\n\n"), -1);
    ck_assert_str_eq(e.e[0].msg, "the configuration is empty (it needs at least model.layers)");
    ck_assert_int_eq(load(&c, &e, "---\n...\n"), -1);
    ck_assert_str_eq(e.e[0].msg, "the configuration is empty (it needs at least model.layers)");

    expect_error("- optim\n- train\n", 1, 1, "the top level must be a map of settings, got a list");
    expect_error("hello\n", 1, 1, "the top level must be a map of settings, got 'hello'");
    expect_error("optim: {lr: 1}\n---\noptim: {lr: 2}\n", 2, 1,
                 "a second document starts here; a config holds exactly one");
}
END_TEST

START_TEST(test_cfg__kinds)
{
    expect_error("data:\n  source: idx\n  noise: 0.3\n", 3, 3,
                 "key 'noise' does not apply to source 'idx'");
    expect_error("data: {noise: 0.3, source: blobs}\n", 1, 8,
                 "key 'noise' does not apply to source 'blobs'");
    expect_error("data: {source: spirl}\n", 1, 16,
                 "data.source: 'spirl' is not one of spiral, xor, blobs, idx, csv, npy "
                 "(did you mean 'spiral'?)");
    expect_error("data: {source: [a]}\n", 1, 16,
                 "data.source: expected one of spiral, xor, blobs, idx, csv, npy, got a list");
    expect_error("optim: {name: adam, momentum: 0.9}\n", 1, 21,
                 "key 'momentum' does not apply to optimizer 'adam'");
    expect_error("optim: {betas: [0.9, 0.99]}\n", 1, 9,
                 "key 'betas' does not apply to optimizer 'sgd'");
    expect_error("optim: {name: adma}\n", 1, 15,
                 "optim.name: 'adma' is not one of sgd, adam, adamw (did you mean 'adam'?)");
    expect_error("optim: {schedule: {name: cosine, gamma: 0.5}}\n", 1, 34,
                 "key 'gamma' does not apply to schedule 'cosine'");
    expect_error("optim: {schedule: linear}\n", 1, 19,
                 "optim.schedule: 'linear' is not one of constant, step, exp, cosine");
    expect_error("data: {normalize: unit}\n", 1, 19,
                 "data.normalize: 'unit' (x / 255) is for byte-valued data (sources idx, csv "
                 "and npy); use standardize or minmax for source 'spiral'");
    expect_error("data: {source: csv, path: a, header: yes}\n", 1, 38,
                 "data.header: 'yes' is not one of auto, true, false");
    expect_error("loss: nll\n", 1, 7, "loss: 'nll' is not one of cross_entropy, mse");
    /* A bad source is reported once; its keys cannot be judged. */
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, "data: {source: foo, noise: 0.1, path: x}"), -1);
    ck_assert_int_eq(e.n, 1);
}
END_TEST

START_TEST(test_cfg__epochs_and_steps)
{
    expect_error("train:\n  epochs: 3\n  steps: 100\n", 3, 3,
                 "give train.epochs or train.steps, not both");
    expect_error("train: {steps: 100, epochs: 3}\n", 1, 21,
                 "give train.epochs or train.steps, not both");
}
END_TEST

START_TEST(test_cfg__layer_items)
{
    expect_error("model:\n  layers:\n    - rleu\n", 3, 7,
                 "model.layers[0]: unknown layer 'rleu' (did you mean 'relu'?)");
    expect_error("model: {layers: [dense]}\n", 1, 18,
                 "model.layers[0]: a dense layer needs its width, e.g. {dense: 100}");
    expect_error("model: {layers: [{dense: 0}]}\n", 1, 26,
                 "model.layers[0].dense: 0 is out of range [1, 65536]");
    expect_error("model: {layers: [{dense: 2.5}]}\n", 1, 26,
                 "model.layers[0].dense: expected an integer, got 2.5");
    expect_error("model: {layers: [relu, {relu: 3}]}\n", 1, 31,
                 "model.layers[1].relu: a relu layer takes no value, got 3");
    expect_error("model: {layers: [{dropout: 1}]}\n", 1, 28,
                 "model.layers[0].dropout: 1 is out of range [0, 1)");
    expect_error("model: {layers: [{leaky_relu: -0.1}]}\n", 1, 31,
                 "model.layers[0].leaky_relu: -0.1 is out of range [0, 1)");
    expect_error("model: {layers: [{dense: 4, relu: ~}]}\n", 1, 29,
                 "model.layers[0]: one layer per list item: 'relu' follows 'dense'");
    expect_error("model: {layers: [{init: he}]}\n", 1, 18,
                 "model.layers[0]: no layer in this item (expected one of dense, relu, "
                 "leaky_relu, tanh, sigmoid, dropout, batchnorm, conv2d, maxpool2d, avgpool2d, "
                 "flatten, batchnorm2d, dropout2d, global_avgpool)");
    expect_error("model: {layers: [[relu]]}\n", 1, 18,
                 "model.layers[0]: expected a layer such as relu or {dense: 100}, got a list");
    expect_error("model: {layers: {dense: 3}}\n", 1, 17,
                 "model.layers: expected a list of layers such as [{dense: 100}, relu, "
                 "{dense: 3}], got a map");
    expect_error("model: {layers: [{tanh: ~, init: he}]}\n", 1, 28,
                 "model.layers[0].init: only a dense or conv2d layer has an init, not 'tanh'");
    expect_error("model: {layers: [{dense: 3, init: kaiming}]}\n", 1, 35,
                 "model.layers[0].init: 'kaiming' is not one of pytorch, he, xavier, zeros, "
                 "normal:STD, uniform:A");
    expect_error("model: {layers: [{dense: 3, init: xavir}]}\n", 1, 35,
                 "model.layers[0].init: 'xavir' is not one of pytorch, he, xavier, zeros, "
                 "normal:STD, uniform:A (did you mean 'xavier'?)");
    expect_error("model: {layers: [{dense: 3, init: normal}]}\n", 1, 35,
                 "model.layers[0].init: 'normal' needs its standard deviation, e.g. normal:0.01");
    expect_error("model: {layers: [{dense: 3, init: \"uniform:\"}]}\n", 1, 35,
                 "model.layers[0].init: 'uniform' needs its bound, e.g. uniform:0.05");
    expect_error("model: {layers: [{dense: 3, init: \"normal:x\"}]}\n", 1, 35,
                 "model.layers[0].init: expected a number after 'normal:', got 'x'");
    expect_error("model: {layers: [{dense: 3, init: \"normal:-1\"}]}\n", 1, 35,
                 "model.layers[0].init: -1 is out of range (must be > 0)");
    expect_error("model: {layers: [{dense: 3, init: he:2}]}\n", 1, 35,
                 "model.layers[0].init: 'he' takes no value, got 'he:2'");

    /* Image layers. */
    expect_error("model: {layers: [{conv2d: 8}]}\n", 1, 18,
                 "model.layers[0]: a conv2d layer needs a kernel, e.g. {conv2d: 8, kernel: 5}");
    expect_error("model: {layers: [conv2d]}\n", 1, 18,
                 "model.layers[0]: a conv2d layer needs its output channels, e.g. "
                 "{conv2d: 32, kernel: 5}");
    expect_error("model: {layers: [{conv2d: 8, kernel: 0}]}\n", 1, 38,
                 "model.layers[0].kernel: 0 is out of range [1, 1024]");
    expect_error("model: {layers: [{conv2d: 8, kernel: 3, padding: -1}]}\n", 1, 50,
                 "model.layers[0].padding: -1 is out of range [0, 1024]");
    expect_error("model: {layers: [{conv2d: 8, kernel: 3, bias: maybe}]}\n", 1, 47,
                 "model.layers[0].bias: expected true or false, got 'maybe'");
    expect_error("model: {layers: [{maxpool2d: 2, kernel: 3}]}\n", 1, 33,
                 "model.layers[0].kernel: a maxpool2d layer has no kernel");
    expect_error("model: {layers: [{dense: 3, stride: 2}]}\n", 1, 29,
                 "model.layers[0].stride: a dense layer has no stride");
    expect_error("model: {layers: [maxpool2d]}\n", 1, 18,
                 "model.layers[0]: a maxpool2d layer needs its kernel, e.g. {maxpool2d: 2}");
    expect_error("model: {layers: [{dropout2d: 1}]}\n", 1, 30,
                 "model.layers[0].dropout2d: 1 is out of range [0, 1)");
    expect_error("model: {layers: [{conv2d: 8, kernal: 3}]}\n", 1, 30,
                 "unknown key 'kernal' in model.layers[0] (did you mean 'kernel'?)");
    expect_error("data: {source: csv, shape: [1, 28]}\n", 1, 28,
                 "data.shape: expected [C, H, W] such as [1, 28, 28], got 2 values");
    expect_error("data: {source: csv, shape: [1, 0, 28]}\n", 1, 32,
                 "data.shape[1]: 0 is out of range [1, 65536]");
}
END_TEST

START_TEST(test_cfg__image_layers)
{
    struct cfg c;
    struct cfg_errs e;
    const char *yaml = "data: {source: csv, path: x.csv, shape: [3, 8, 8]}\n"
                       "model:\n"
                       "  layers:\n"
                       "    - {conv2d: 16, kernel: 3, padding: 1, bias: false, init: he}\n"
                       "    - relu\n"
                       "    - maxpool2d: 2\n"
                       "    - {avgpool2d: 3, stride: 1, padding: 1}\n"
                       "    - batchnorm2d\n"
                       "    - {dropout2d: 0.25}\n"
                       "    - global_avgpool\n"
                       "    - flatten\n"
                       "    - dense: 10\n";
    int rc = load(&c, &e, yaml);
    ck_assert_msg(rc == 0, "load failed: %s", rc == 0 ? "" : printed(&e));
    ck_assert_int_eq(c.data.shape[0], 3);
    ck_assert_int_eq(c.data.shape[2], 8);
    const struct layer_spec *l = c.model.layers;
    ck_assert_int_eq(c.model.nlayers, 9);
    ck_assert_int_eq(l[0].kind, LAYER_CONV2D);
    ck_assert_int_eq(l[0].units, 16);
    ck_assert_int_eq(l[0].kernel, 3);
    ck_assert_int_eq(l[0].stride, 1);
    ck_assert_int_eq(l[0].padding, 1);
    ck_assert(l[0].no_bias);
    ck_assert_int_eq(l[0].init, INIT_HE);
    ck_assert_int_eq(l[2].kind, LAYER_MAXPOOL2D);
    ck_assert_int_eq(l[2].kernel, 2);
    ck_assert_int_eq(l[2].stride, 2);
    ck_assert_int_eq(l[3].kind, LAYER_AVGPOOL2D);
    ck_assert_int_eq(l[3].stride, 1);
    ck_assert_int_eq(l[3].padding, 1);
    ck_assert_int_eq(l[4].kind, LAYER_BATCHNORM2D);
    ck_assert_int_eq(l[5].kind, LAYER_DROPOUT2D);
    ck_assert(l[5].arg == 0.25f);
    ck_assert_int_eq(l[6].kind, LAYER_GLOBAL_AVGPOOL);
    ck_assert_int_eq(l[7].kind, LAYER_FLATTEN);
    /* Positions of the items, for shape errors found later. */
    char where[300];
    cfg_layer_where(&c, 2, where, sizeof where);
    ck_assert_str_eq(where, "t.yaml:6:7: model.layers[2]");
    cfg_layer_where(&c, 40, where, sizeof where);
    ck_assert_str_eq(where, "model.layers[40]");
    expect_round_trip(&c, "image layers");
    ck_assert_int_eq(cfg_set(&c, "model.layers=[{conv2d: 4, kernel: 3}, flatten, {dense: 2}]",
                             &e), 0);
    ck_assert_int_eq(c.model.layers[0].stride, 1);
    cfg_layer_where(&c, 0, where, sizeof where);
    ck_assert_str_eq(where, "model.layers[0]");
}
END_TEST

START_TEST(test_cfg__optim_errors)
{
    expect_error("optim: {clip: 1.0}\n", 1, 15,
                 "optim.clip: expected none, {norm: X} or {value: X}, got 1.0");
    expect_error("optim: {clip: {norm: 1, value: 2}}\n", 1, 25,
                 "optim.clip: give one of norm or value, not both");
    expect_error("optim: {clip: {nrom: 1}}\n", 1, 16,
                 "unknown key 'nrom' in optim.clip (did you mean 'norm'?)");
    expect_error("optim: {clip: {norm: 0}}\n", 1, 22,
                 "optim.clip.norm: 0 is out of range (must be > 0)");
    expect_error("optim: {clip: {}}\n", 1, 15,
                 "optim.clip: expected none, {norm: X} or {value: X}, got an empty map");
    expect_error("optim: {name: adam, betas: [0.9]}\n", 1, 28,
                 "optim.betas: expected two numbers such as [0.9, 0.999], got 1 value");
    expect_error("optim: {name: adam, betas: 0.9}\n", 1, 28,
                 "optim.betas: expected two numbers such as [0.9, 0.999], got 0.9");
    expect_error("optim: {name: adam, eps: 0}\n", 1, 26,
                 "optim.eps: 0 is out of range (must be > 0)");
    expect_error("optim: {schedule: {name: step, step_size: 0}}\n", 1, 43,
                 "optim.schedule.step_size: 0 is out of range (must be >= 1)");
    expect_error("optim: {schedule: [step]}\n", 1, 19,
                 "optim.schedule: expected one of constant, step, exp, cosine, got a list");
}
END_TEST

START_TEST(test_cfg__names)
{
    expect_error("name: my run\n", 1, 7,
                 "name: 'my run' may only use letters, digits, '.', '_' and '-' (it names the "
                 "run's directory)");
    expect_error("name: \"\"\n", 1, 7, "name: '' must have 1 to 63 characters");
    expect_error("name: ~\n", 1, 7, "name: expected a name, got nothing");
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, "name: 2024.run_1-b\n"), 0);
    ck_assert_str_eq(c.name, "2024.run_1-b");
}
END_TEST

START_TEST(test_cfg__value_positions)
{
    /* A data file that cannot be read is blamed on the line naming it. */
    struct cfg c;
    struct cfg_errs e;
    const char *yaml = "data:\n"
                       "  source: idx\n"
                       "  train_images: /nonexistent/x.gz\n"
                       "  train_labels: \"/nonexistent/y.gz\"\n"
                       "model:\n"
                       "  layers: [{dense: 10}]\n";
    ck_assert_int_eq(load(&c, &e, yaml), 0);
    char where[400];
    cfg_path_where(&c, "/nonexistent/x.gz", where, sizeof where);
    ck_assert_str_eq(where, "t.yaml:3:17: data.train_images");
    cfg_path_where(&c, "/nonexistent/y.gz", where, sizeof where);
    ck_assert_str_eq(where, "t.yaml:4:17: data.train_labels");
    cfg_path_where(&c, "/elsewhere", where, sizeof where);
    ck_assert_str_eq(where, "");
    /* A --set value has no line: the key alone.  Positions survive a
     * later model.layers. */
    ck_assert_int_eq(cfg_set(&c, "data.train_images=/set/x", &e), 0);
    ck_assert_int_eq(cfg_set(&c, "model.layers=[{dense: 3}]", &e), 0);
    cfg_path_where(&c, "/set/x", where, sizeof where);
    ck_assert_str_eq(where, "data.train_images");
    cfg_path_where(&c, "/nonexistent/y.gz", where, sizeof where);
    ck_assert_str_eq(where, "t.yaml:4:17: data.train_labels");

    /* A missing key names the file that should have had it. */
    ck_assert_int_eq(load(&c, &e, "data:\n  source: spiral\n"), 0);
    ck_assert_int_eq(cfg_validate(&c, &e), -1);
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: t.yaml: model.layers is required: list the layers, e.g. "
                          "[{dense: 100}, relu, {dense: 3}]\n");
    free(got);
}
END_TEST

START_TEST(test_cfg__set_errors)
{
    expect_set_error("optim.lr=abc", "nntop: --set optim.lr: expected a number, got 'abc'\n");
    expect_set_error("optim.lerning_rate=3",
                     "nntop: --set optim.lerning_rate: unknown key 'lerning_rate' in optim "
                     "(did you mean 'lr'?)\n");
    expect_set_error("optimizer.lr=3",
                     "nntop: --set optimizer.lr: unknown key 'optimizer' "
                     "(did you mean 'optim'?)\n");
    expect_set_error("optim.momentum=1.5",
                     "nntop: --set optim.momentum: 1.5 is out of range [0, 1)\n");
    expect_set_error("data.noise=x", "nntop: --set data.noise: expected a number, got 'x'\n");
    expect_set_error("data.source=idx2",
                     "nntop: --set data.source: 'idx2' is not one of spiral, xor, blobs, idx, csv, npy "
                     "(did you mean 'idx'?)\n");
    expect_set_error("optim.momentum", "nntop: --set optim.momentum: expected KEY=VALUE, e.g. "
                                       "optim.lr=0.01\n");
    expect_set_error("optim..lr=1", "nntop: --set optim..lr: expected a dotted key such as "
                                    "optim.lr or data.source before '='\n");
    expect_set_error("=1", "nntop: --set =1: expected a dotted key such as optim.lr or "
                           "data.source before '='\n");
    expect_set_error("optim.lr=[1,", "nntop: --set optim.lr: not a valid YAML value: did not find "
                                     "expected node content (while parsing a flow node)\n");
    expect_set_error("optim.lr=", "nntop: --set optim.lr: expected a number, got nothing\n");
    expect_set_error("optim={lr: x, momentum: 2}",
                     "nntop: --set optim.lr: expected a number, got 'x'\n"
                     "nntop: --set optim.momentum: 2 is out of range [0, 1)\n");
    expect_set_error("optim={lr: 1, lr: 2}",
                     "nntop: --set optim: duplicate key 'lr' (first at line 1)\n");
    expect_set_error("optim.lr=&a 1",
                     "nntop: --set optim.lr: anchors and aliases are not supported "
                     "(found '&a')\n");
    expect_set_error("model.layers=[{dense: 64}, rleu]",
                     "nntop: --set model.layers[1]: unknown layer 'rleu' (did you mean 'relu'?)\n");
    expect_set_error("data.noise.x=1", "nntop: --set data.noise: expected a number, got a map\n");
    expect_set_error("train={epochs: 1, steps: 2}",
                     "nntop: --set train: give train.epochs or train.steps, not both\n");

    struct cfg c;
    struct cfg_errs e;
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_set(&c, "data.source=idx", &e), 0);
    ck_assert_int_eq(cfg_set(&c, "data.noise=0.3", &e), -1);
    char *got = printed(&e);
    ck_assert_str_eq(got, "nntop: --set data.noise: key 'noise' does not apply to source 'idx'\n");
    free(got);
    ck_assert_str_eq(e.e[0].file, "--set");
    ck_assert_str_eq(e.e[0].key, "data.noise");
    ck_assert_int_eq(e.e[0].line, 0);
}
END_TEST

/* ~ puts an optional text key back to its default; a required key still refuses it. */
START_TEST(test_cfg__set_null_resets)
{
    struct cfg c;
    struct cfg_errs e;
    ck_assert_int_eq(load(&c, &e, "data: {source: npy, train_images: /d/a.npz, "
                                  "inputs_key: pixels, labels_key: target}\n"
                                  "model: {layers: [{dense: 3}]}\nlog: {dir: elsewhere}\n"), 0);
    ck_assert_str_eq(c.data.inputs_key, "pixels");
    ck_assert_str_eq(c.log.dir, "elsewhere");
    expect_set_ok(&c, "data.inputs_key=~");
    ck_assert_str_eq(c.data.inputs_key, "");
    ck_assert_str_eq(c.data.labels_key, "target");
    expect_set_ok(&c, "data.labels_key=");
    ck_assert_str_eq(c.data.labels_key, "");
    expect_set_ok(&c, "log.dir=null");
    ck_assert_str_eq(c.log.dir, "runs");
    expect_valid(&c, "npy with its keys cleared");
    /* In a file too, and the dump leaves the cleared key out. */
    ck_assert_int_eq(load(&c, &e, "data: {source: npy, train_images: /d/a.npz, inputs_key: ~}\n"
                                  "model: {layers: [{dense: 3}]}\n"), 0);
    ck_assert_str_eq(c.data.inputs_key, "");
    char *dump = cfg_to_yaml(&c);
    ck_assert_msg(strstr(dump, "inputs_key") == NULL, "a cleared key is dumped:\n%s", dump);
    free(dump);
    /* Quoted, "" is text and still too short; a key the source does not use is still named. */
    expect_set_error("log.dir=\"\"",
                     "nntop: --set log.dir: expected 1 to 4095 bytes of text, got 0\n");
    expect_set_error("data.inputs_key=~",
                     "nntop: --set data.inputs_key: key 'inputs_key' does not apply to source "
                     "'spiral'\n");
    /* Required keys refuse ~ by name. */
    expect_set_error("model.layers=~",
                     "nntop: --set model.layers: expected a list of layers such as "
                     "[{dense: 100}, relu, {dense: 3}], got nothing\n");
    expect_set_ok(&c, "data.train_images=~");
    expect_invalid(&c, "data.train_images is required for source 'npy'");
}
END_TEST

Suite *cfg_suite(void);

Suite *
cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_cfg__defaults);
    tcase_add_test(core, test_cfg__man_defaults);
    tcase_add_test(core, test_cfg__doctor_thresholds);
    tcase_add_test(core, test_cfg__every_key);
    tcase_add_test(core, test_cfg__sources);
    tcase_add_test(core, test_cfg__layers);
    tcase_add_test(core, test_cfg__optim_forms);
    tcase_add_test(core, test_cfg__set_overrides);
    tcase_add_test(core, test_cfg__round_trip);
    tcase_add_test(core, test_cfg__shipped_configs);
    tcase_add_test(core, test_cfg__demo);
    tcase_add_test(core, test_cfg__validate);
    tcase_add_test(core, test_cfg__print);
    tcase_add_test(core, test_cfg__file_errors);
    tcase_add_test(core, test_cfg__unchanged_on_error);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 30);
    tcase_add_test(limits, test_cfg__alias_bomb);
    tcase_add_test(limits, test_cfg__deep_nesting);
    tcase_add_test(limits, test_cfg__size_limits);
    tcase_add_test(limits, test_cfg__many_values);
    tcase_add_test(limits, test_cfg__too_many_errors);
    tcase_add_test(limits, test_cfg__string_limits);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_cfg__syntax);
    tcase_add_test(errors, test_cfg__unknown_keys);
    tcase_add_test(errors, test_cfg__wrong_types);
    tcase_add_test(errors, test_cfg__ranges);
    tcase_add_test(errors, test_cfg__duplicates);
    tcase_add_test(errors, test_cfg__anchors_tags);
    tcase_add_test(errors, test_cfg__documents);
    tcase_add_test(errors, test_cfg__kinds);
    tcase_add_test(errors, test_cfg__epochs_and_steps);
    tcase_add_test(errors, test_cfg__layer_items);
    tcase_add_test(errors, test_cfg__image_layers);
    tcase_add_test(errors, test_cfg__optim_errors);
    tcase_add_test(errors, test_cfg__names);
    tcase_add_test(errors, test_cfg__set_errors);
    tcase_add_test(errors, test_cfg__set_null_resets);
    tcase_add_test(errors, test_cfg__value_positions);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(cfg_suite());
}
