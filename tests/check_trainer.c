/*
 * check_trainer.c - end-to-end tests of the trainer thread through its
 * public API: exact step counts under pause/step, live changes and where
 * they land in metrics.csv and events.jsonl, refused commands, dropped
 * telemetry with a consumer that never reads, quit/save/eval while
 * paused, --reproduce and --resume giving the same numbers as one
 * uninterrupted run, determinism, non-finite values, one epoch of
 * Fashion-MNIST and a PyTorch load of a checkpoint (the last two only
 * when the data set and torch are installed).
 *
 * Every run is small (spiral, xor) with a fixed seed and is steered from
 * a paused state, so which step a command lands on never depends on
 * timing.  Nothing here asserts on wall-clock time.  CK_FORK=no runs the
 * tests in one process, for gdb.
 */
#include "config.h"

#include "nntop/trainer.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "nntop/cfg.h"
#include "nntop/data.h"
#include "nntop/headless.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/replay.h"
#include "nntop/rng.h"
#include "nntop/runlog.h"
#include "nntop/xmem.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TRAINER_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TRAINER_TEST_SANITIZED 1
#endif
#endif

#define FMNIST_TRAIN "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/* 180 spiral points (162 train, 18 val), batches of 32: 6 steps an epoch,
 * the last one partial, reshuffled every epoch. */
static const char spiral_yaml[] =
    "name: t-spiral\n"
    "seed: 11\n"
    "data: {source: spiral, classes: 3, points: 60, noise: 0.2, val_fraction: 0.1}\n"
    "model:\n"
    "  layers: [{dense: 16}, relu, {dense: 3}]\n"
    "optim: {name: sgd, lr: 0.5, momentum: 0.5}\n"
    "train: {batch_size: 32, steps: 400, eval_every: 0}\n"
    "telemetry: {every: 5, max_hz: 1e9}\n";

/* Noisy XOR (360 train rows) with Adam: optimizer state and batch order
 * both matter for resume. */
static const char xor_yaml[] =
    "name: t-xor\n"
    "seed: 5\n"
    "data: {source: xor, points: 400, noise: 0.1, val_fraction: 0.1}\n"
    "model:\n"
    "  layers: [{dense: 12, init: xavier}, tanh, {dense: 8}, relu, {dense: 2}]\n"
    "optim: {name: adam, lr: 0.01}\n"
    "train: {batch_size: 32, steps: 200, eval_every: 40}\n"
    "telemetry: {every: 10, max_hz: 1e9}\n";

/* ---- configs and files ---------------------------------------------------- */

static char *tmp;

static void
setup(void)
{
    tmp = xstrdup(check_tmpdir());
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* A passing test leaves nothing behind (Check skips the teardown of a
 * failing one, whose files stay for a look). */
static void
teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(tmp);
    tmp = NULL;
}

/* A fresh directory under the test's temporary one. */
static char *
subdir(const char *name)
{
    char *d = xasprintf("%s/%s", tmp, name);
    ck_assert_msg(mkdir(d, 0700) == 0, "mkdir %s: %s", d, strerror(errno));
    return d;
}

static void
cfg_or_die(struct cfg *c, const char *yaml, const char *logdir)
{
    struct cfg_errs errs;
    cfg_defaults(c);
    int rc = cfg_load_string(c, yaml, strlen(yaml), "<test>", &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "the test's config does not load");
    rc = cfg_validate(c, &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "the test's config does not validate");
    if (logdir != NULL)
        snprintf(c->log.dir, sizeof c->log.dir, "%s", logdir);
}

static void
cfg_set_or_die(struct cfg *c, const char *assignment)
{
    struct cfg_errs errs;
    int rc = cfg_set(c, assignment, &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "--set %s refused", assignment);
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The lines of <dir>/<name> (header included); free with lines_free. */
static char **
read_lines(const char *dir, const char *name, size_t *n)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 64;
    char **v = xmalloc(cap * sizeof *v);
    *n = 0;
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    while ((got = getline(&line, &len, f)) > 0) {
        if (line[got - 1] == '\n')
            line[got - 1] = '\0';
        if (*n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = xstrdup(line);
    }
    free(line);
    fclose(f);
    free(path);
    return v;
}

static void
lines_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Field col (0-based) of a CSV line without quoting, into buf. */
static const char *
csv_field(const char *line, int col, char *buf, size_t len)
{
    const char *p = line;
    for (int c = 0; c < col; c++) {
        p = strchr(p, ',');
        ck_assert_msg(p != NULL, "line '%s' has no column %d", line, col);
        p++;
    }
    size_t k = strcspn(p, ",");
    if (k >= len)
        k = len - 1;
    memcpy(buf, p, k);
    buf[k] = '\0';
    return buf;
}

/* metrics.csv columns */
enum { MC_STEP, MC_EPOCH, MC_KIND, MC_LOSS, MC_REG, MC_ACC, MC_LR, MC_GNORM, MC_CLIPPED,
       MC_SPS, MC_WALL };

/* The train rows' column col of <dir>/metrics.csv, as text. */
static char **
train_column(const char *dir, int col, size_t *n)
{
    size_t nl;
    char **lines = read_lines(dir, "metrics.csv", &nl);
    char **out = xcalloc(nl + 1, sizeof *out);
    *n = 0;
    char buf[128];
    for (size_t i = 1; i < nl; i++) {
        if (strcmp(csv_field(lines[i], MC_KIND, buf, sizeof buf), "train") != 0)
            continue;
        out[(*n)++] = xstrdup(csv_field(lines[i], col, buf, sizeof buf));
    }
    lines_free(lines, nl);
    return out;
}

static struct metrics_row *
read_metrics(const char *dir, size_t *n)
{
    struct metrics_row *rows = NULL;
    char *cause = NULL;
    int rc = runlog_read_metrics(dir, &rows, n, &cause);
    ck_assert_msg(rc == 0, "reading %s/metrics.csv: %s", dir, cause ? cause : "?");
    return rows;
}

/* Train rows only, in file order. */
static struct metrics_row *
read_train_rows(const char *dir, size_t *n)
{
    size_t all;
    struct metrics_row *rows = read_metrics(dir, &all);
    size_t k = 0;
    for (size_t i = 0; i < all; i++)
        if (rows[i].kind == METRICS_TRAIN)
            rows[k++] = rows[i];
    *n = k;
    return rows;
}

struct events {
    struct runlog_event_rec *ev;
    size_t n;
};

static struct events
read_events(const char *dir)
{
    struct events e = {0};
    char *cause = NULL;
    int rc = runlog_read_events(dir, &e.ev, &e.n, &cause);
    ck_assert_msg(rc == 0, "reading %s/events.jsonl: %s", dir, cause ? cause : "?");
    return e;
}

static int
count_type(const struct events *e, const char *type)
{
    int k = 0;
    for (size_t i = 0; i < e->n; i++)
        k += strcmp(e->ev[i].type, type) == 0;
    return k;
}

/* The nth (0-based) event of a type, or NULL. */
static const struct runlog_event_rec *
find_type(const struct events *e, const char *type, int nth)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->ev[i].type, type) == 0 && nth-- == 0)
            return &e->ev[i];
    return NULL;
}

/* Load a checkpoint into a fresh model of c's shape (input width in). */
static struct model *
load_model(const struct cfg *c, int in, const char *path, long *step)
{
    struct model_spec spec = c->model;
    spec.in = in;
    spec.seed = c->seed;
    char *cause = NULL;
    struct model *m = model_new(&spec, 8, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause ? cause : "?");
    /* Poison the parameters so a load that skips one shows. */
    for (size_t i = 0; i < m->nparams; i++)
        m->params[i] = NAN;
    int rc = runlog_load_checkpoint(path, m, NULL, step, NULL, NULL, &cause);
    ck_assert_msg(rc == 0, "loading %s: %s", path, cause ? cause : "?");
    return m;
}

/* ---- a trainer and what its feed delivered --------------------------------- */

#define MAX_EVENTS 256

struct run {
    struct trainer *t;
    struct feed feed;
    char run_dir[DATA_PATH_MAX];
    long nsteps;                /* TM_STEP records polled (steps 1, 2, ...) */
    long nstep0;                /* ... and step-0 records (a paused start's view) */
    struct tm_step last_step;
    long nstates;
    struct tm_state state;
    long nevents;
    struct tm_event ev[MAX_EVENTS];
    long nevals;
    struct tm_eval last_eval, last_test;
    bool have_test;
    long nsnapshots;
    long ngradcheck;
    struct tm_gradcheck gc;
    struct tm_info info;
    long nviews;                /* TM_VIEW records, the last in view */
    struct tm_view view;
    int nfilt, nact;            /* TM_VIEW_MAP records since it, by kind */
    struct tm_view_map filt[TM_VIEW_MAX_MAPS], act[TM_VIEW_MAX_MAPS];
};

static struct run *
run_start(const struct cfg *c, const struct trainer_opts *o)
{
    struct run *r = xcalloc(1, sizeof *r);
    char *cause = NULL;
    int rc = trainer_new(&r->t, c, o, &cause);
    ck_assert_msg(rc == 0, "trainer_new: %s", cause ? cause : "?");
    snprintf(r->run_dir, sizeof r->run_dir, "%s", trainer_run_dir(r->t));
    r->feed = trainer_feed(r->t);
    ck_assert_msg(trainer_start(r->t, &cause) == 0, "trainer_start: %s", cause);
    return r;
}

static void
pump(struct run *r)
{
    struct tm_record *rec = xmalloc(sizeof *rec);
    while (r->feed.cls->poll(r->feed.self, rec)) {
        switch (rec->type) {
        case TM_INFO:
            r->info = rec->u.info;
            break;
        case TM_STEP:
            /* Step 0 is the view of a paused start (no update): counted apart. */
            if (rec->u.step.step > 0)
                r->nsteps++;
            else
                r->nstep0++;
            r->last_step = rec->u.step;
            break;
        case TM_STATE:
            r->nstates++;
            r->state = rec->u.state;
            break;
        case TM_EVENT:
            if (r->nevents < MAX_EVENTS)
                r->ev[r->nevents] = rec->u.event;
            r->nevents++;
            break;
        case TM_EVAL:
            r->nevals++;
            r->last_eval = rec->u.eval;
            if (rec->u.eval.split == TM_SPLIT_TEST) {
                r->last_test = rec->u.eval;
                r->have_test = true;
            }
            break;
        case TM_SNAPSHOT:
            r->nsnapshots++;
            break;
        case TM_GRADCHECK:
            r->ngradcheck++;
            r->gc = rec->u.gradcheck;
            break;
        case TM_VIEW:
            r->nviews++;
            r->view = rec->u.view;
            r->nfilt = r->nact = 0;
            break;
        case TM_VIEW_MAP:
            if (rec->u.view_map.kind == TM_VIEW_FILTER && r->nfilt < TM_VIEW_MAX_MAPS)
                r->filt[r->nfilt++] = rec->u.view_map;
            else if (rec->u.view_map.kind == TM_VIEW_ACT && r->nact < TM_VIEW_MAX_MAPS)
                r->act[r->nact++] = rec->u.view_map;
            break;
        default:
            break;
        }
    }
    free(rec);
}

static void
nap(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

/* Poll until the trainer reports itself paused after exactly step steps. */
static void
wait_paused(struct run *r, long step)
{
    for (;;) {
        bool finished = r->feed.cls->finished(r->feed.self);
        pump(r);
        if (r->nstates > 0 && r->state.state == TM_PAUSED && r->state.step == step)
            return;
        ck_assert_msg(!finished,
                      "the trainer stopped (state %s at step %ld) while the test waited for "
                      "it to pause at step %ld",
                      tm_state_name(r->state.state), r->state.step, step);
        nap();
    }
}

/* Send a command and wait until the trainer has applied it (it publishes
 * a state record after every command). */
static void
send_cmd(struct run *r, int kind, long n, double value, int clip_kind)
{
    pump(r);
    long before = r->nstates;
    struct tm_command c = {.kind = kind, .n = n, .value = value, .clip_kind = clip_kind};
    char why[128] = "";
    int rc = trainer_send(r->t, &c, why, sizeof why);
    ck_assert_msg(rc == 0, "trainer_send(kind %d): %s", kind, why);
    /* A worker may apply the command, finish its run and end between two
     * looks: "finished" is read before the feed is drained, so a state
     * record published before the end is always seen. */
    for (;;) {
        bool finished = r->feed.cls->finished(r->feed.self);
        pump(r);
        if (r->nstates != before)
            break;
        ck_assert_msg(!finished, "the trainer stopped before applying command %d", kind);
        nap();
    }
}

static void
step_n(struct run *r, long n)
{
    long from = r->state.step;
    send_cmd(r, TM_CMD_STEP, n, 0.0, 0);
    wait_paused(r, from + n);
}

/* Quit (unless the worker has finished already), join, drain the feed. */
static void
run_finish(struct run *r)
{
    struct tm_command q = {.kind = TM_CMD_QUIT};
    char why[128];
    trainer_send(r->t, &q, why, sizeof why);
    trainer_join(r->t);
    pump(r);
    ck_assert_msg(r->feed.cls->finished(r->feed.self), "feed not finished after join");
}

/* Wait for the worker to end on its own (exit_when_done), draining. */
static void
run_wait_done(struct run *r)
{
    while (!r->feed.cls->finished(r->feed.self)) {
        pump(r);
        nap();
    }
    trainer_join(r->t);
    pump(r);
}

static void
run_free(struct run *r)
{
    trainer_free(r->t);
    free(r);
}

static int
count_feed_events(const struct run *r, int kind)
{
    int k = 0;
    for (long i = 0; i < r->nevents && i < MAX_EVENTS; i++)
        k += r->ev[i].kind == kind;
    return k;
}

/* ---- pause, step, live changes -------------------------------------------- */

START_TEST(test_trainer__step_counts)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    ck_assert_msg(r->nsteps == 0, "a paused start ran %ld steps", r->nsteps);

    step_n(r, 5);
    ck_assert_msg(r->nsteps == 5, "step 5 gave %ld step records", r->nsteps);
    /* The paused start showed step 0 first: its loss on the first batch. */
    ck_assert_msg(r->nstep0 == 1, "%ld step-0 records, expected 1", r->nstep0);
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    /* tm_step.step is 1-based: the step just completed */
    ck_assert_msg(r->last_step.step == 5, "last step record says step %ld, expected 5",
                  r->last_step.step);

    step_n(r, 1);
    ck_assert_msg(r->nsteps == 6, "step 1 more gave %ld step records in all, expected 6",
                  r->nsteps);
    ck_assert_int_eq(r->last_step.step, 6);

    /* A pause while paused changes nothing; a resume then a pause stops somewhere. */
    send_cmd(r, TM_CMD_PAUSE, 0, 0.0, 0);
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    ck_assert_int_eq(r->state.step, 6);
    run_finish(r);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);

    size_t n;
    struct metrics_row *rows = read_train_rows(r->run_dir, &n);
    ck_assert_msg(n == 6, "metrics.csv has %zu train rows, expected 6", n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rows[i].step == (long)i + 1, "train row %zu has step %ld (global steps "
                      "count updates: the first row is step 1)", i, rows[i].step);
    free(rows);

    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *s5 = find_type(&e, "step", 0);
    const struct runlog_event_rec *s1 = find_type(&e, "step", 1);
    ck_assert_msg(s5 != NULL && s1 != NULL, "events.jsonl lacks the two step commands");
    double v;
    ck_assert_int_eq(runlog_event_get_num(s5->line, "n", &v), 0);
    ck_assert_msg(v == 5.0 && s5->step == 0, "first step event: n %g at step %ld", v, s5->step);
    ck_assert_int_eq(runlog_event_get_num(s1->line, "n", &v), 0);
    ck_assert_msg(v == 1.0 && s1->step == 5, "second step event: n %g at step %ld", v, s1->step);
    ck_assert_int_eq(count_type(&e, "quit"), 1);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__lr_change)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 10);
    send_cmd(r, TM_CMD_SET_LR, 0, 0.05, 0);
    ck_assert_msg(r->state.lr == 0.05, "state lr %g after set 0.05", r->state.lr);
    step_n(r, 5);
    send_cmd(r, TM_CMD_SCALE_LR, 0, 0.5, 0);
    ck_assert_msg(r->state.lr == 0.025, "state lr %g after x0.5", r->state.lr);
    step_n(r, 3);
    run_finish(r);

    size_t n;
    char **lr = train_column(r->run_dir, MC_LR, &n);
    ck_assert_int_eq(n, 18);
    for (size_t i = 0; i < n; i++) {
        const char *want = i < 10 ? "0.5" : i < 15 ? "0.05" : "0.025";
        ck_assert_msg(strcmp(lr[i], want) == 0, "row %zu: lr '%s', expected '%s'", i, lr[i],
                      want);
    }
    lines_free(lr, n);

    struct events e = read_events(r->run_dir);
    ck_assert_int_eq(count_type(&e, "lr"), 2);
    const struct runlog_event_rec *a = find_type(&e, "lr", 0), *b = find_type(&e, "lr", 1);
    double v;
    ck_assert_int_eq(runlog_event_get_num(a->line, "value", &v), 0);
    ck_assert_msg(a->step == 10 && v == 0.05, "lr event: value %g at step %ld, expected 0.05 at "
                  "10", v, a->step);
    ck_assert_int_eq(runlog_event_get_num(b->line, "value", &v), 0);
    ck_assert_msg(b->step == 15 && v == 0.025, "lr event: value %g at step %ld, expected 0.025 "
                  "at 15", v, b->step);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__refused)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 2);
    struct tm_state before = r->state;
    send_cmd(r, TM_CMD_SET_LR, 0, -0.1, 0);
    send_cmd(r, TM_CMD_SET_LR, 0, NAN, 0);
    send_cmd(r, TM_CMD_SCALE_LR, 0, 0.0, 0);
    send_cmd(r, TM_CMD_SET_BATCH, 0, 0.0, 0);
    send_cmd(r, TM_CMD_SET_CLIP, 0, -1.0, TM_CLIP_NORM);
    send_cmd(r, TM_CMD_SET_MOMENTUM, 0, 1.5, 0);
    send_cmd(r, TM_CMD_SET_WD, 0, -1.0, 0);
    send_cmd(r, TM_CMD_SET_TELEMETRY, -3, 0.0, 0);
    send_cmd(r, TM_CMD_STEP, 0, 0.0, 0);
    send_cmd(r, 99, 0, 0.0, 0);
    ck_assert_msg(count_feed_events(r, TM_EV_REFUSED) == 10, "%d refused events on the feed, "
                  "expected 10", count_feed_events(r, TM_EV_REFUSED));
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    ck_assert_int_eq(r->state.step, 2);
    ck_assert(r->state.lr == before.lr && r->state.base_lr == before.base_lr);
    ck_assert_int_eq(r->state.batch_size, before.batch_size);
    ck_assert_int_eq(r->state.clip_kind, TM_CLIP_NONE);
    ck_assert(r->state.momentum == 0.5 && r->state.weight_decay == 0.0);
    ck_assert_int_eq(r->state.telemetry_every, 5);
    step_n(r, 2);
    run_finish(r);

    /* The same four steps without the refused commands give the same numbers. */
    char *dir2 = subdir("plain");
    struct cfg c2;
    cfg_or_die(&c2, spiral_yaml, dir2);
    struct run *p = run_start(&c2, &o);
    wait_paused(p, 0);
    step_n(p, 4);
    run_finish(p);
    size_t n1, n2;
    char **l1 = train_column(r->run_dir, MC_LOSS, &n1);
    char **l2 = train_column(p->run_dir, MC_LOSS, &n2);
    ck_assert_int_eq(n1, 4);
    ck_assert_int_eq(n2, 4);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(strcmp(l1[i], l2[i]) == 0, "row %zu: loss %s after refused commands, %s "
                      "without", i, l1[i], l2[i]);
    lines_free(l1, n1);
    lines_free(l2, n2);

    struct events e = read_events(r->run_dir);
    ck_assert_msg(count_type(&e, "refused") == 10, "events.jsonl has %d refused events",
                  count_type(&e, "refused"));
    static const char *const changes[] = {"lr", "batch_size", "clip", "momentum",
                                          "weight_decay", "telemetry"};
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++)
        ck_assert_msg(count_type(&e, changes[i]) == 0, "a refused command logged a '%s' change",
                      changes[i]);
    char cmd[32];
    ck_assert_int_eq(runlog_event_get_str(find_type(&e, "refused", 0)->line, "command", cmd,
                                          sizeof cmd), 0);
    ck_assert_str_eq(cmd, "lr");
    ck_assert_int_eq(runlog_event_get_str(find_type(&e, "refused", 5)->line, "command", cmd,
                                          sizeof cmd), 0);
    ck_assert_str_eq(cmd, "momentum");
    runlog_events_free(e.ev, e.n);
    free(dir2);
    run_free(r);
    run_free(p);
}
END_TEST

START_TEST(test_trainer__quit_while_paused)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 3);
    /* The worker sleeps on its condition variable; the quit must wake it. */
    run_finish(r);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    char *ck = xasprintf("%s/checkpoint-3.safetensors", r->run_dir);
    ck_assert_msg(file_exists(ck), "no final checkpoint %s", ck);
    long step = -1;
    struct model *m = load_model(&c, 2, ck, &step);
    ck_assert_int_eq(step, 3);
    model_free(m);
    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *q = find_type(&e, "quit", 0);
    ck_assert_msg(q != NULL && q->step == 3, "no quit event at step 3");
    ck_assert_int_eq(count_type(&e, "checkpoint"), 1);
    runlog_events_free(e.ev, e.n);
    free(ck);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__save_eval_gradcheck_paused)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 4);
    send_cmd(r, TM_CMD_SAVE, 0, 0.0, 0);
    ck_assert_int_eq(count_feed_events(r, TM_EV_CHECKPOINT), 1);
    char *ck = xasprintf("%s/checkpoint-4.safetensors", r->run_dir);
    ck_assert_msg(file_exists(ck), "save while paused wrote no %s", ck);

    long evals = r->nevals;
    send_cmd(r, TM_CMD_EVAL, 0, 0.0, 0);
    ck_assert_msg(r->nevals == evals + 1, "eval while paused: %ld eval records, expected 1",
                  r->nevals - evals);
    ck_assert_int_eq(r->last_eval.split, TM_SPLIT_VAL);
    ck_assert_int_eq(r->last_eval.step, 4);
    ck_assert_int_eq(r->last_eval.n, 18);

    send_cmd(r, TM_CMD_GRADCHECK, 4, 0.0, 0);
    ck_assert_int_eq(r->ngradcheck, 1);
    ck_assert_msg(r->gc.verdict == TM_GC_PASS, "gradient check while paused: %s",
                  tm_gc_verdict_name(r->gc.verdict));
    ck_assert_int_eq(r->gc.samples, 4);
    ck_assert_int_eq(r->gc.step, 4);
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    ck_assert_int_eq(r->state.step, 4);
    run_finish(r);

    size_t n;
    struct metrics_row *rows = read_metrics(r->run_dir, &n);
    size_t train = 0, val = 0;
    for (size_t i = 0; i < n; i++) {
        train += rows[i].kind == METRICS_TRAIN;
        if (rows[i].kind == METRICS_VAL) {
            val++;
            ck_assert_int_eq(rows[i].step, 4);
        }
    }
    ck_assert_msg(train == 4 && val == 1, "%zu train rows and %zu val rows, expected 4 and 1",
                  train, val);
    free(rows);
    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *ce = find_type(&e, "checkpoint", 0);
    ck_assert_msg(ce != NULL && ce->step == 4, "no checkpoint event at step 4");
    const struct runlog_event_rec *ge = find_type(&e, "gradcheck", 0);
    ck_assert_msg(ge != NULL && strstr(ge->line, "\"verdict\":\"PASS\",\"pass\":true") != NULL,
                  "no passing gradcheck event");
    /* The quit at the same step saves again: the same file, one more event. */
    ck_assert_int_eq(count_type(&e, "checkpoint"), 2);
    runlog_events_free(e.ev, e.n);
    free(ck);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__eval_without_val)
{
    /* No validation split but a test file: eval evaluates the test split. */
    const char *top = getenv("top_srcdir");
    char *csv = xasprintf("%s/configs/moons.csv", top != NULL ? top : ".");
    char *yaml = xasprintf("name: t-moons\n"
                           "data: {source: csv, path: '%s', test_path: '%s', label: moon,\n"
                           "       header: true, val_fraction: 0}\n"
                           "model: {layers: [{dense: 8}, relu, {dense: 2}]}\n"
                           "train: {batch_size: 50, steps: 10}\n", csv, csv);
    struct cfg c;
    cfg_or_die(&c, yaml, tmp);
    struct trainer_opts o = {.start_paused = true, .no_log = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    ck_assert_msg(r->info.val_n == 0 && r->info.test_n > 0, "val %ld, test %ld", r->info.val_n,
                  r->info.test_n);
    step_n(r, 2);
    send_cmd(r, TM_CMD_EVAL, 0, 0.0, 0);
    ck_assert_int_eq(r->nevals, 1);
    ck_assert_int_eq(r->last_eval.split, TM_SPLIT_TEST);
    ck_assert_int_eq(r->last_eval.n, r->info.test_n);
    run_finish(r);
    run_free(r);
    free(yaml);
    free(csv);
}
END_TEST

START_TEST(test_trainer__batch_change)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 2);
    send_cmd(r, TM_CMD_SET_BATCH, 50, 0.0, 0);
    ck_assert_int_eq(r->state.batch_size, 50);
    step_n(r, 2);
    run_finish(r);
    size_t n;
    struct metrics_row *rows = read_train_rows(r->run_dir, &n);
    ck_assert_int_eq(n, 4);
    /* 162 training rows: 32, 64, then 50 more (114), then the 48 left end the epoch. */
    static const double want[] = {32.0 / 162, 64.0 / 162, 114.0 / 162, 1.0};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rows[i].epoch == want[i], "row %zu: epoch %.17g, expected %.17g", i,
                      rows[i].epoch, want[i]);
    free(rows);
    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *b = find_type(&e, "batch_size", 0);
    double v;
    ck_assert_msg(b != NULL && b->step == 2, "no batch_size event at step 2");
    ck_assert_int_eq(runlog_event_get_num(b->line, "value", &v), 0);
    ck_assert(v == 50.0);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

/*
 * Run the spiral config for 8 steps, sending cmd (if kind >= 0) after
 * step 3; returns the loss and reg_loss columns (8 rows each).
 */
static void
run_with_change(const char *name, int kind, double value, char ***loss, char ***reg)
{
    char *dir = subdir(name);
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, dir);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 3);
    if (kind >= 0)
        send_cmd(r, kind, 0, value, 0);
    step_n(r, 5);
    run_finish(r);
    size_t n;
    *loss = train_column(r->run_dir, MC_LOSS, &n);
    ck_assert_int_eq(n, 8);
    *reg = train_column(r->run_dir, MC_REG, &n);
    if (kind >= 0) {
        struct events e = read_events(r->run_dir);
        const char *type = kind == TM_CMD_SET_MOMENTUM ? "momentum" : "weight_decay";
        const struct runlog_event_rec *ev = find_type(&e, type, 0);
        ck_assert_msg(ev != NULL && ev->step == 3, "no %s event at step 3", type);
        double v;
        ck_assert_int_eq(runlog_event_get_num(ev->line, "value", &v), 0);
        ck_assert_msg(v == value, "%s event value %g, expected %g", type, v, value);
        runlog_events_free(e.ev, e.n);
    }
    run_free(r);
    free(dir);
}

START_TEST(test_trainer__momentum_wd_change)
{
    char **base, **base_reg, **mom, **mom_reg, **wd, **wd_reg;
    run_with_change("base", -1, 0.0, &base, &base_reg);
    run_with_change("momentum", TM_CMD_SET_MOMENTUM, 0.9, &mom, &mom_reg);
    run_with_change("wd", TM_CMD_SET_WD, 0.01, &wd, &wd_reg);
    /* Changed before step 3 ran: step 3's loss is still the old model's,
     * step 4's comes from the first update made with the new setting. */
    for (int i = 0; i < 8; i++) {
        bool same_m = strcmp(base[i], mom[i]) == 0, same_w = strcmp(base[i], wd[i]) == 0;
        ck_assert_msg(same_m == (i <= 3), "momentum change: row %d loss %s vs %s without", i,
                      mom[i], base[i]);
        ck_assert_msg(same_w == (i <= 3), "weight decay change: row %d loss %s vs %s without",
                      i, wd[i], base[i]);
        ck_assert_msg(strcmp(base_reg[i], "0") == 0, "row %d: reg_loss %s without decay", i,
                      base_reg[i]);
        double reg = strtod(wd_reg[i], NULL);
        ck_assert_msg((reg > 0.0) == (i >= 3), "row %d: reg_loss %s with decay from step 3", i,
                      wd_reg[i]);
    }
    lines_free(base, 8);
    lines_free(base_reg, 8);
    lines_free(mom, 8);
    lines_free(mom_reg, 8);
    lines_free(wd, 8);
    lines_free(wd_reg, 8);
}
END_TEST

START_TEST(test_trainer__telemetry_change)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.telemetry.every = 1000;
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 3);                               /* snapshots: the paused start's view
                                                 * (step 0) and the first update's (1) */
    send_cmd(r, TM_CMD_SET_TELEMETRY, 2, 0.0, 0);
    ck_assert_int_eq(r->state.telemetry_every, 2);
    step_n(r, 4);                               /* steps 4..7: snapshots at 4, 6 */
    send_cmd(r, TM_CMD_SET_TELEMETRY, 0, 0.0, 0);
    step_n(r, 3);                               /* none */
    run_finish(r);
    ck_assert_msg(r->nsnapshots == 4, "%ld snapshots on the feed, expected 4", r->nsnapshots);

    size_t n;
    struct layer_row *rows = NULL;
    char *cause = NULL;
    ck_assert_int_eq(runlog_read_layers(r->run_dir, &rows, &n, &cause), 0);
    /* 3 layers + 4 tensors per snapshot */
    ck_assert_msg(n == 3 * 7, "layers.csv has %zu rows, expected 21", n);
    static const long want[] = {1, 4, 6};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rows[i].step == want[i / 7], "layers.csv row %zu: step %ld, expected %ld",
                      i, rows[i].step, want[i / 7]);
    free(rows);
    struct events e = read_events(r->run_dir);
    ck_assert_int_eq(count_type(&e, "telemetry"), 2);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

/* ---- looking inside (TM_CMD_VIEW) ------------------------------------------ */

static void
assert_same_column(const char *dir_a, const char *dir_b, int col, size_t want_rows)
{
    size_t na, nb;
    char **a = train_column(dir_a, col, &na);
    char **b = train_column(dir_b, col, &nb);
    ck_assert_msg(na == want_rows && nb == want_rows, "%zu and %zu train rows, expected %zu", na,
                  nb, want_rows);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(strcmp(a[i], b[i]) == 0, "train row %zu: column %d is %s in %s but %s in %s",
                      i, col, a[i], dir_a, b[i], dir_b);
    lines_free(a, na);
    lines_free(b, nb);
}


/* 60 rows of 4x4 "images" in three classes (a bright row 0, 1 or 2 plus
 * noise), as a CSV with data.shape [1, 4, 4]; returns the config. */
static char *
image_csv_yaml(const char *dir)
{
    char *path = xasprintf("%s/img.csv", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_msg(fp != NULL, "cannot write %s", path);
    for (int j = 0; j < 16; j++)
        fprintf(fp, "p%d,", j);
    fprintf(fp, "y\n");
    struct rng rg;
    rng_seed(&rg, 3);
    for (int i = 0; i < 60; i++) {
        int y = i % 3;
        for (int j = 0; j < 16; j++)
            fprintf(fp, "%.4f,", (j / 4 == y ? 1.0 : 0.0) + 0.3 * (rng_uniform(&rg) - 0.5));
        fprintf(fp, "%d\n", y);
    }
    ck_assert_int_eq(fclose(fp), 0);
    char *yaml = xasprintf("name: t-view\n"
                           "seed: 9\n"
                           "data: {source: csv, path: %s, label: y, header: true, "
                           "shape: [1, 4, 4], normalize: none, val_fraction: 0.25}\n"
                           "model:\n"
                           "  layers: [{conv2d: 2, kernel: 3, padding: 1}, relu, flatten, "
                           "{dense: 3}]\n"
                           "optim: {name: sgd, lr: 0.1}\n"
                           "train: {batch_size: 8, steps: 100, eval_every: 0}\n"
                           "telemetry: {every: 2, max_hz: 1e9}\n",
                           path);
    free(path);
    return yaml;
}

static void
send_view(struct run *r, long sample, int layer, int dir)
{
    pump(r);
    long before = r->nstates, views = r->nviews;
    struct tm_command c = {.kind = TM_CMD_VIEW, .n = sample, .layer = layer, .dir = dir};
    char why[128] = "";
    ck_assert_msg(trainer_send(r->t, &c, why, sizeof why) == 0, "trainer_send(view): %s", why);
    while (r->nstates == before) {
        ck_assert_msg(!r->feed.cls->finished(r->feed.self), "the trainer stopped");
        nap();
        pump(r);
    }
    ck_assert_msg(r->nviews == views + 1, "a view command gave %ld TM_VIEW records",
                  r->nviews - views);
}

/*
 * What the view shows is the model's own computation on that sample:
 * the filters are the checkpoint's weights, the maps, probabilities,
 * loss and saliency are what a fresh copy of the model computes on the
 * image the view carries.  And viewing changes nothing: the run with
 * views interleaved logs the same losses as the one without.
 */
START_TEST(test_trainer__view)
{
    char *dir_a = subdir("a"), *dir_b = subdir("b");
    char *yaml = image_csv_yaml(tmp);
    struct cfg c;
    cfg_or_die(&c, yaml, dir_a);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);

    /* At the initial weights, ask for the next misclassified sample. */
    send_view(r, 0, 1, 1);
    ck_assert(r->view.searched);
    ck_assert_msg(r->view.found, "no misclassified sample at the initial weights");
    ck_assert_int_ne(r->view.predicted, r->view.label);
    step_n(r, 3);
    send_cmd(r, TM_CMD_SAVE, 0, 0.0, 0);
    send_view(r, 17, 1, 0);     /* 17 of 15 val samples: wraps to 2 */
    const struct tm_view *v = &r->view;
    ck_assert_int_eq(v->step, 3);
    ck_assert_int_eq(v->split, TM_SPLIT_VAL);
    ck_assert_int_eq(v->nsamples, 15);
    ck_assert_int_eq(v->sample, 2);
    ck_assert(!v->searched);
    ck_assert_int_eq(v->c, 1);
    ck_assert_int_eq(v->h, 4);
    ck_assert_int_eq(v->w, 4);
    ck_assert_int_eq(v->scale, 1);
    ck_assert_int_eq(v->ph, 4);
    ck_assert_int_eq(v->pw, 4);
    ck_assert_int_eq(v->classes, 3);
    ck_assert_int_eq(v->ntop, 3);
    ck_assert_int_eq(v->filter_layer, 0);
    ck_assert_int_eq(v->nfilters, 2);
    ck_assert_int_eq(v->map_layer, 1);
    ck_assert_int_eq(v->nmaps, 2);
    ck_assert_int_eq(r->nfilt, 2);
    ck_assert_int_eq(r->nact, 2);
    ck_assert_int_eq(v->top_class[0], v->predicted);

    /* The same computation on a copy loaded from the checkpoint. */
    char *ck = xasprintf("%s/checkpoint-3.safetensors", r->run_dir);
    struct model_spec spec = c.model;
    spec.in = 16;
    spec.in_c = 1;
    spec.in_h = spec.in_w = 4;
    spec.seed = c.seed;
    char *cause = NULL;
    struct model *m = model_new(&spec, 1, &cause);
    ck_assert_msg(m != NULL, "model_new: %s", cause ? cause : "?");
    long step = 0;
    ck_assert_int_eq(runlog_load_checkpoint(ck, m, NULL, &step, NULL, NULL, &cause), 0);
    for (int f = 0; f < 2; f++) {
        ck_assert_int_eq(r->filt[f].index, f);
        ck_assert_int_eq(r->filt[f].h, 3);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(r->filt[f].v[i] == m->params[m->tensors[0].offset + (size_t)f * 9 + i],
                          "filter %d entry %d is not the weight", f, i);
    }
    model_set_training(m, false);
    m->want_dx = true;
    const float *out = model_forward(m, v->image, 1);
    int32_t label = v->label;
    struct batch b = {.x = v->image, .labels = &label, .size = 1};
    struct loss_out lo = {0};
    double loss = model_loss(m, &b, &lo);
    model_backward(m);
    ck_assert_msg(fabs(loss - v->loss) <= 1e-5 * fabs(loss) + 1e-7, "loss %g, the view says %g",
                  loss, (double)v->loss);
    double z = 0.0, pmax = out[0];
    for (int k = 1; k < 3; k++)
        pmax = out[k] > pmax ? out[k] : pmax;
    for (int k = 0; k < 3; k++)
        z += exp(out[k] - pmax);
    for (int i = 0; i < 3; i++) {
        double p = exp(out[v->top_class[i]] - pmax) / z;
        ck_assert_msg(fabs(p - v->top_prob[i]) < 1e-5, "class %d: p %g, the view says %g",
                      v->top_class[i], p, (double)v->top_prob[i]);
    }
    for (int i = 0; i < 16; i++)
        ck_assert_msg(fabsf(fabsf(m->dx[i]) - v->saliency[i]) <= 1e-6f + 1e-5f * v->saliency[i],
                      "saliency %d: |dx| %g, the view says %g", i, (double)fabsf(m->dx[i]),
                      (double)v->saliency[i]);
    for (int ch = 0; ch < 2; ch++)
        for (int i = 0; i < 16; i++)
            ck_assert_msg(fabsf(r->act[ch].v[i] - m->layers[1].y[ch * 16 + i]) <= 1e-6f,
                          "map %d entry %d differs", ch, i);
    model_free(m);
    free(ck);

    /* A dense layer asked for: the last layer with maps before it. */
    send_view(r, 2, 3, 0);
    ck_assert_int_eq(r->view.map_layer, 1);
    step_n(r, 5);
    run_finish(r);
    char *dir_run_a = xasprintf("%s", r->run_dir);
    run_free(r);

    /* The same run without views. */
    cfg_or_die(&c, yaml, dir_b);
    r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 3);
    send_cmd(r, TM_CMD_SAVE, 0, 0.0, 0);
    step_n(r, 5);
    run_finish(r);
    assert_same_column(dir_run_a, r->run_dir, MC_LOSS, 8);
    assert_same_column(dir_run_a, r->run_dir, MC_GNORM, 8);
    run_free(r);
    free(dir_run_a);
    free(yaml);
    free(dir_a);
    free(dir_b);
}
END_TEST

/* Flat input has nothing to draw: refused, with the reason. */
START_TEST(test_trainer__view_refused_flat)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    long views = r->nviews;
    send_cmd(r, TM_CMD_VIEW, 0, 0.0, 0);
    ck_assert_int_eq(r->nviews, views);
    const struct tm_event *ev = &r->ev[r->nevents - 1];
    ck_assert_int_eq(ev->type, TM_EVT_REFUSED);
    ck_assert_str_eq(ev->text, "view: the input is 2 flat features, not an image "
                               "(data.shape: [C, H, W] makes it one)");
    /* From an attached dashboard (the control socket) the pictures could not reach it. */
    pump(r);
    long before = r->nstates;
    struct tm_command sc = {.kind = TM_CMD_VIEW, .source = TM_SRC_SOCKET};
    char why[128] = "";
    ck_assert_msg(trainer_send(r->t, &sc, why, sizeof why) == 0, "%s", why);
    while (r->nstates == before) {
        nap();
        pump(r);
    }
    ev = &r->ev[r->nevents - 1];
    ck_assert_int_eq(ev->type, TM_EVT_REFUSED);
    ck_assert_msg(strncmp(ev->text, "view: not over the control socket", 33) == 0, "%s",
                  ev->text);
    run_finish(r);
    run_free(r);
}
END_TEST

/* ---- reproduce, resume, determinism ---------------------------------------- */

START_TEST(test_trainer__reproduce)
{
    char *dir_a = subdir("a"), *dir_b = subdir("b");
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, dir_a);
    c.train.steps = 120;
    struct trainer_opts o = {.start_paused = true, .exit_when_done = true};
    struct run *a = run_start(&c, &o);
    wait_paused(a, 0);
    step_n(a, 20);
    send_cmd(a, TM_CMD_SET_LR, 0, 0.05, 0);
    step_n(a, 15);
    send_cmd(a, TM_CMD_SET_CLIP, 0, 0.5, TM_CLIP_NORM);
    step_n(a, 10);
    send_cmd(a, TM_CMD_SET_BATCH, 64, 0.0, 0);
    step_n(a, 7);
    send_cmd(a, TM_CMD_SET_MOMENTUM, 0, 0.8, 0);
    send_cmd(a, TM_CMD_SET_WD, 0, 0.001, 0);
    send_cmd(a, TM_CMD_SCALE_LR, 0, 2.0, 0);
    step_n(a, 3);
    send_cmd(a, TM_CMD_SET_CLIP, 0, 0.0, TM_CLIP_NONE);
    send_cmd(a, TM_CMD_RESUME, 0, 0.0, 0);
    run_wait_done(a);
    ck_assert_int_eq(trainer_exit_status(a->t), 0);

    /* B: A's own config.yaml, A's changes applied at their steps. */
    struct cfg cb;
    struct cfg_errs errs;
    cfg_defaults(&cb);
    char *path = xasprintf("%s/config.yaml", a->run_dir);
    int rc = cfg_load_file(&cb, path, &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "A's config.yaml does not load");
    cfg_errs_fini(&errs);
    snprintf(cb.log.dir, sizeof cb.log.dir, "%s", dir_b);
    struct trainer_opts ob = {.reproduce = a->run_dir, .exit_when_done = true};
    struct run *b = run_start(&cb, &ob);
    run_wait_done(b);
    ck_assert_int_eq(trainer_exit_status(b->t), 0);

    assert_same_column(a->run_dir, b->run_dir, MC_LOSS, 120);
    assert_same_column(a->run_dir, b->run_dir, MC_LR, 120);
    assert_same_column(a->run_dir, b->run_dir, MC_EPOCH, 120);
    assert_same_column(a->run_dir, b->run_dir, MC_CLIPPED, 120);

    /* B logs the changes it re-applied, at the same steps. */
    struct events ea = read_events(a->run_dir), eb = read_events(b->run_dir);
    static const char *const types[] = {"lr", "clip", "batch_size", "momentum", "weight_decay"};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        ck_assert_int_eq(count_type(&ea, types[k]), count_type(&eb, types[k]));
        for (int i = 0; i < count_type(&ea, types[k]); i++)
            ck_assert_int_eq(find_type(&ea, types[k], i)->step, find_type(&eb, types[k], i)->step);
    }
    runlog_events_free(ea.ev, ea.n);
    runlog_events_free(eb.ev, eb.n);
    free(path);
    free(dir_a);
    free(dir_b);
    run_free(a);
    run_free(b);
}
END_TEST

/*
 * One run of total steps with yaml; the batch size is set to batch_to
 * (when > 0) after batch_at steps.  With stop_at > 0 the run quits at that
 * step and a second trainer resumes it to the end.  Returns the run dir.
 */
static char *
resume_case(const char *yaml, const char *name, long total, long batch_at, int batch_to,
            long stop_at)
{
    char *dir = subdir(name);
    struct cfg c;
    cfg_or_die(&c, yaml, dir);
    c.train.steps = total;
    struct trainer_opts o = {.start_paused = true, .exit_when_done = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    long at = 0;
    if (batch_to > 0) {
        step_n(r, batch_at);
        at = batch_at;
        send_cmd(r, TM_CMD_SET_BATCH, batch_to, 0.0, 0);
    }
    if (stop_at > 0) {
        step_n(r, stop_at - at);
        run_finish(r);
    } else {
        send_cmd(r, TM_CMD_RESUME, 0, 0.0, 0);
        run_wait_done(r);
    }
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    char *run_dir = xstrdup(r->run_dir);
    run_free(r);
    if (stop_at > 0) {
        struct trainer_opts ro = {.resume = run_dir, .exit_when_done = true};
        struct run *r2 = run_start(&c, &ro);
        ck_assert_msg(strcmp(r2->run_dir, run_dir) == 0, "the resumed run logs to %s, not %s",
                      r2->run_dir, run_dir);
        run_wait_done(r2);
        ck_assert_int_eq(trainer_exit_status(r2->t), 0);
        run_free(r2);
    }
    free(dir);
    return run_dir;
}

START_TEST(test_trainer__resume)
{
    char *whole = resume_case(xor_yaml, "whole", 200, 0, 0, 0);
    char *split = resume_case(xor_yaml, "split", 200, 0, 0, 100);
    assert_same_column(whole, split, MC_LOSS, 200);
    assert_same_column(whole, split, MC_EPOCH, 200);
    assert_same_column(whole, split, MC_GNORM, 200);
    struct events e = read_events(split);
    ck_assert_int_eq(count_type(&e, "resume_run"), 1);
    ck_assert_int_eq(find_type(&e, "resume_run", 0)->step, 100);
    runlog_events_free(e.ev, e.n);
    free(whole);
    free(split);
}
END_TEST

START_TEST(test_trainer__resume_after_batch_change)
{
    /* The batch order must follow the recorded batch sizes, not the config's. */
    char *whole = resume_case(xor_yaml, "whole", 150, 30, 50, 0);
    char *split = resume_case(xor_yaml, "split", 150, 30, 50, 90);
    assert_same_column(whole, split, MC_EPOCH, 150);
    assert_same_column(whole, split, MC_LOSS, 150);
    free(whole);
    free(split);
}
END_TEST

START_TEST(test_trainer__resume_with_dropout)
{
    static const char yaml[] =
        "name: t-drop\n"
        "seed: 9\n"
        "data: {source: blobs, classes: 3, points: 300, features: 4, spread: 1.5}\n"
        "model:\n"
        "  layers: [{dense: 16}, relu, {dropout: 0.3}, {dense: 3}]\n"
        "optim: {name: sgd, lr: 0.1, momentum: 0.9}\n"
        "train: {batch_size: 40, steps: 120}\n";
    char *whole = resume_case(yaml, "whole", 120, 0, 0, 0);
    char *split = resume_case(yaml, "split", 120, 0, 0, 45);
    assert_same_column(whole, split, MC_LOSS, 120);
    free(whole);
    free(split);
}
END_TEST

START_TEST(test_trainer__determinism)
{
    char *dirs[2] = {subdir("one"), subdir("two")};
    char *runs[2];
    for (int k = 0; k < 2; k++) {
        struct cfg c;
        cfg_or_die(&c, xor_yaml, dirs[k]);
        c.train.steps = 120;
        struct trainer_opts o = {.exit_when_done = true};
        struct run *r = run_start(&c, &o);
        run_wait_done(r);
        runs[k] = xstrdup(r->run_dir);
        run_free(r);
    }
    size_t na, nb;
    char **a = read_lines(runs[0], "metrics.csv", &na);
    char **b = read_lines(runs[1], "metrics.csv", &nb);
    ck_assert_msg(na == nb, "metrics.csv: %zu lines vs %zu", na, nb);
    ck_assert_msg(na == 1 + 120 + 3, "metrics.csv has %zu lines, expected 124", na);
    for (size_t i = 0; i < na; i++) {
        char fa[64], fb[64];
        for (int col = MC_STEP; col <= MC_CLIPPED; col++)
            ck_assert_msg(strcmp(csv_field(a[i], col, fa, sizeof fa),
                                 csv_field(b[i], col, fb, sizeof fb)) == 0,
                          "metrics.csv line %zu column %d: %s vs %s", i + 1, col, fa, fb);
    }
    lines_free(a, na);
    lines_free(b, nb);
    a = read_lines(runs[0], "layers.csv", &na);
    b = read_lines(runs[1], "layers.csv", &nb);
    ck_assert_msg(na == nb && na > 1, "layers.csv: %zu lines vs %zu", na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(strcmp(a[i], b[i]) == 0, "layers.csv line %zu: '%s' vs '%s'", i + 1, a[i],
                      b[i]);
    lines_free(a, na);
    lines_free(b, nb);
    for (int k = 0; k < 2; k++) {
        free(dirs[k]);
        free(runs[k]);
    }
}
END_TEST

/* A finished run of xor_yaml at threads and batch; returns its run dir (heap). */
static char *
threads_run(const char *name, int threads, int batch)
{
    char *dir = subdir(name);
    struct cfg c;
    cfg_or_die(&c, xor_yaml, dir);
    c.train.steps = 60;
    c.train.threads = threads;
    c.train.batch_size = batch;
    struct trainer_opts o = {.exit_when_done = true};
    struct run *r = run_start(&c, &o);
    run_wait_done(r);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    char *run_dir = xstrdup(r->run_dir);
    run_free(r);
    free(dir);
    return run_dir;
}

START_TEST(test_trainer__threads)
{
    /*
     * train.threads 2 and 3 split each batch (by features at batch 32, by
     * rows at 300): two runs of the same seed and thread count give the
     * same metrics.csv and layers.csv byte for byte, and against one
     * thread the same rows and snapshots with losses equal up to rounding.
     */
    static const int batches[] = {32, 300};
    for (size_t bi = 0; bi < 2; bi++) {
        char name[32];
        snprintf(name, sizeof name, "t1-%d", batches[bi]);
        char *one = threads_run(name, 1, batches[bi]);
        size_t n1, l1;
        char **m1 = read_lines(one, "metrics.csv", &n1);
        char **y1 = read_lines(one, "layers.csv", &l1);
        ck_assert_msg(n1 == 1 + 60 + 2, "metrics.csv has %zu lines", n1);
        for (int threads = 2; threads <= 3; threads++) {
            char *dirs[2];
            for (int k = 0; k < 2; k++) {
                snprintf(name, sizeof name, "t%d-%d-%d", threads, batches[bi], k);
                dirs[k] = threads_run(name, threads, batches[bi]);
            }
            size_t na, nb, la, lb;
            char **a = read_lines(dirs[0], "metrics.csv", &na);
            char **b = read_lines(dirs[1], "metrics.csv", &nb);
            ck_assert_msg(na == n1 && nb == n1, "%d threads: metrics.csv %zu, %zu lines, 1: %zu",
                          threads, na, nb, n1);
            for (size_t i = 1; i < na; i++) {
                char fa[64], fb[64], f1[64];
                for (int col = MC_STEP; col <= MC_CLIPPED; col++)
                    ck_assert_msg(strcmp(csv_field(a[i], col, fa, sizeof fa),
                                         csv_field(b[i], col, fb, sizeof fb)) == 0,
                                  "%d threads, batch %d: metrics.csv line %zu column %d: %s vs %s",
                                  threads, batches[bi], i + 1, col, fa, fb);
                ck_assert_str_eq(csv_field(a[i], MC_STEP, fa, sizeof fa),
                                 csv_field(m1[i], MC_STEP, f1, sizeof f1));
                double la_ = strtod(csv_field(a[i], MC_LOSS, fa, sizeof fa), NULL);
                double l1_ = strtod(csv_field(m1[i], MC_LOSS, f1, sizeof f1), NULL);
                ck_assert_msg(fabs(la_ - l1_) <= 1e-3 * (1.0 + fabs(l1_)),
                              "%d threads, batch %d: line %zu loss %g, 1 thread %g", threads,
                              batches[bi], i + 1, la_, l1_);
            }
            char **ya = read_lines(dirs[0], "layers.csv", &la);
            char **yb = read_lines(dirs[1], "layers.csv", &lb);
            ck_assert_msg(la == l1 && lb == l1, "%d threads: layers.csv %zu, %zu lines, 1: %zu",
                          threads, la, lb, l1);
            for (size_t i = 0; i < la; i++)
                ck_assert_msg(strcmp(ya[i], yb[i]) == 0, "%d threads: layers.csv line %zu differs",
                              threads, i + 1);
            lines_free(a, na);
            lines_free(b, nb);
            lines_free(ya, la);
            lines_free(yb, lb);
            for (int k = 0; k < 2; k++)
                free(dirs[k]);
        }
        lines_free(m1, n1);
        lines_free(y1, l1);
        free(one);
    }
}
END_TEST

/* ---- the consumers: replay and the headless printer -------------------------- */

/* ---- the event vocabulary: live and replayed ----------------------------- */

/*
 * Replay r's run directory and compare its events with those r saw live:
 * the same events in the same order, each with the same type, kind,
 * severity, step and text.  Marks the types seen in seen[].
 */
static void
compare_replayed_events(const struct run *r, bool seen[TM_EVT_TYPE_COUNT])
{
    struct replay *rp = NULL;
    char *cause = NULL;
    ck_assert_msg(replay_open(&rp, r->run_dir, &cause) == 0, "replay_open: %s",
                  cause ? cause : "?");
    struct feed f = replay_feed(rp);
    struct tm_record *rec = xmalloc(sizeof *rec);
    long n = 0;
    ck_assert_msg(r->nevents <= MAX_EVENTS, "%ld live events, the test keeps %d", r->nevents,
                  MAX_EVENTS);
    while (f.cls->poll(f.self, rec)) {
        if (rec->type != TM_EVENT)
            continue;
        const struct tm_event *e = &rec->u.event;
        ck_assert_msg(n < r->nevents, "replay has more events than the %ld shown live (extra: "
                      "'%s')", r->nevents, e->text);
        const struct tm_event *live = &r->ev[n];
        const struct tm_event_def *def = tm_event_def_at(live->type);
        ck_assert_msg(def != NULL, "live event %ld ('%s') has no vocabulary type", n, live->text);
        ck_assert_msg(e->type == live->type && e->kind == live->kind &&
                      e->severity == live->severity && e->step == live->step,
                      "event %ld '%s': live type %s kind %d severity %s step %ld, replayed type "
                      "%d kind %d severity %s step %ld", n, live->text, def->type, live->kind,
                      tm_severity_name(live->severity), live->step, e->type, e->kind,
                      tm_severity_name(e->severity), e->step);
        ck_assert_str_eq(e->text, live->text);
        ck_assert_int_eq(live->kind, def->kind);
        seen[live->type] = true;
        n++;
    }
    ck_assert_msg(n == r->nevents, "replay shows %ld events, %ld were shown live", n, r->nevents);
    free(rec);
    replay_free(rp);

    /* Every line says its severity and carries its vocabulary row's fields. */
    struct events ev = read_events(r->run_dir);
    for (size_t i = 0; i < ev.n; i++) {
        const char *line = ev.ev[i].line;
        const struct tm_event_def *def = tm_event_def_at(runlog_event_vocab(&ev.ev[i]));
        ck_assert_msg(def != NULL, "events.jsonl: type '%s' is not in the vocabulary",
                      ev.ev[i].type);
        char sev[16] = "";
        /* a finding's line carries its own severity */
        bool own = runlog_event_vocab(&ev.ev[i]) == TM_EVT_FINDING;
        ck_assert_msg(runlog_event_get_str(line, "severity", sev, sizeof sev) == 0 &&
                      (own ? tm_severity_parse(sev) >= 0
                           : strcmp(sev, tm_severity_name(def->severity)) == 0),
                      "events.jsonl: severity '%s', expected '%s': %s", sev,
                      tm_severity_name(def->severity), line);
        char fields[160], *save = NULL;
        snprintf(fields, sizeof fields, "%s", def->fields);
        for (char *k = strtok_r(fields, " ", &save); k != NULL; k = strtok_r(NULL, " ", &save))
            ck_assert_msg(runlog_event_has(line, k), "events.jsonl: %s lacks \"%s\": %s",
                          def->type, k, line);
    }
    runlog_events_free(ev.ev, ev.n);
}

START_TEST(test_trainer__replay_events)
{
    bool seen[TM_EVT_TYPE_COUNT] = {false};
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "loss=mse");
    /* Far more steps than the resumed stretch below can take before the
     * pause arrives, however fast the machine: a run that reached its end
     * would answer "done" and never pause again. */
    c.train.steps = 100000000;
    struct trainer_opts o = {.start_paused = true, .keep_going = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 2);
    send_cmd(r, TM_CMD_SET_LR, 0, 0.3, 0);
    send_cmd(r, TM_CMD_SCALE_LR, 0, 0.5, 0);
    send_cmd(r, TM_CMD_SET_CLIP, 0, 1.0, TM_CLIP_NORM);
    send_cmd(r, TM_CMD_SET_CLIP, 0, 0.0, TM_CLIP_NONE);
    send_cmd(r, TM_CMD_SET_MOMENTUM, 0, 0.25, 0);
    send_cmd(r, TM_CMD_SET_WD, 0, 1e-4, 0);
    send_cmd(r, TM_CMD_SET_BATCH, 16, 0.0, 0);
    send_cmd(r, TM_CMD_SET_TELEMETRY, 3, 0.0, 0);
    send_cmd(r, TM_CMD_EVAL, 0, 0.0, 0);
    send_cmd(r, TM_CMD_SAVE, 0, 0.0, 0);
    send_cmd(r, TM_CMD_GRADCHECK, 4, 0.0, 0);
    send_cmd(r, TM_CMD_OVERFIT, 1, 0.0, 0);
    step_n(r, 1);
    send_cmd(r, TM_CMD_OVERFIT, 0, 0.0, 0);
    send_cmd(r, TM_CMD_BASELINE, 0, 0.0, 0);        /* baseline, and a finding */
    send_cmd(r, TM_CMD_DEPCHECK, 0, 0.0, 0);        /* a finding */
    send_cmd(r, TM_CMD_SET_LR, 0, -1.0, 0);         /* refused */
    send_cmd(r, 99, 0, 0.0, 0);                     /* refused: unknown */
    send_cmd(r, TM_CMD_RESUME, 0, 0.0, 0);
    send_cmd(r, TM_CMD_PAUSE, 0, 0.0, 0);
    /* A huge lr overflows the weights: the update is undone and the run
     * pauses (keep_going). */
    send_cmd(r, TM_CMD_SET_LR, 0, 1e6, 0);
    for (int i = 0; i < 50 && count_feed_events(r, TM_EV_NONFINITE) == 0; i++) {
        long from = r->state.step;
        send_cmd(r, TM_CMD_STEP, 1, 0.0, 0);
        /* the non-finite step pauses before it counts itself */
        while (!(r->state.state == TM_PAUSED &&
                 (r->state.step > from || count_feed_events(r, TM_EV_NONFINITE) > 0))) {
            ck_assert_msg(r->state.state != TM_DONE && !r->feed.cls->finished(r->feed.self),
                          "the run ended (state %s at step %ld) before the huge lr blew up",
                          tm_state_name(r->state.state), r->state.step);
            nap();
            pump(r);
        }
    }
    ck_assert_int_eq(count_feed_events(r, TM_EV_NONFINITE), 1);
    /* The nonfinite remedy: back to weights from before the blow-up, lr x0.1. */
    double lr_before = r->state.lr;
    send_cmd(r, TM_CMD_RESTORE, 0, 0.1, 0);
    bool restored = false;
    for (long i = 0; i < r->nevents && i < MAX_EVENTS; i++)
        restored |= r->ev[i].type == TM_EVT_RESTORE;
    ck_assert_msg(restored, "no restore event");
    ck_assert_msg(fabs(r->state.lr - 0.1 * lr_before) <= 1e-9 * lr_before, "lr %g after %g",
                  r->state.lr, lr_before);
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    run_finish(r);
    compare_replayed_events(r, seen);
    run_free(r);

    /* A run that reaches its end says "done" instead of "quit". */
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 3;
    struct trainer_opts o2 = {.exit_when_done = true};
    r = run_start(&c, &o2);
    run_wait_done(r);
    compare_replayed_events(r, seen);
    run_free(r);

    /* Errors and failed checks cannot be caused from here
     * (test_trainer__replay_vocabulary replays them from lines); a
     * resumed run's resume_run shares the start event's code; a full
     * disk and a cut-back resume are tests/reliability.sh's; findings
     * travel as TM_FINDING records, live and replayed, not as events. */
    for (int i = 0; i < TM_EVT_TYPE_COUNT; i++) {
        if (i == TM_EVT_ERROR || i == TM_EVT_GRADCHECK_FAILED || i == TM_EVT_FINDING ||
            i == TM_EVT_GRADCHECK_INCONCLUSIVE || i == TM_EVT_RESUME_RUN ||
            i == TM_EVT_LOG_STALLED || i == TM_EVT_LOG_RESUMED || i == TM_EVT_TRUNCATE)
            continue;
        ck_assert_msg(seen[i], "no %s event was shown live", tm_event_def_at(i)->type);
    }
}
END_TEST

/* Lines the trainer cannot be made to write here replay as the table says. */
START_TEST(test_trainer__replay_vocabulary)
{
    for (int i = 0; i < TM_EVT_TYPE_COUNT; i++) {
        const struct tm_event_def *d = tm_event_def_at(i);
        ck_assert_msg(d != NULL && d->type[0] != '\0', "row %d is empty", i);
        ck_assert_msg(tm_event_find(d->type, d->verdict) == i, "%s: found row %d, expected %d",
                      d->type, tm_event_find(d->type, d->verdict), i);
        ck_assert_msg(d->kind >= 0 && d->kind < TM_EV_KIND_COUNT && d->severity >= 0 &&
                      d->severity < TM_SEV_COUNT, "%s: kind %d severity %d", d->type, d->kind,
                      d->severity);
    }
    ck_assert(tm_event_def_at(TM_EVT_TYPE_COUNT) == NULL);
    ck_assert_int_eq(tm_event_find("no-such-type", false), -1);
    /* a type without verdicts ignores one; an unknown verdict is the first row */
    ck_assert_int_eq(tm_event_find("lr", "FAIL"), TM_EVT_LR);
    ck_assert_int_eq(tm_event_find("gradcheck", "MAYBE"), TM_EVT_GRADCHECK);
    for (int k = 0; k < TM_SEV_COUNT; k++)
        ck_assert_int_eq(tm_severity_parse(tm_severity_name(k)), k);

    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 2;
    struct trainer_opts o = {.exit_when_done = true};
    struct run *r = run_start(&c, &o);
    run_wait_done(r);
    char path[DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/events.jsonl", r->run_dir);
    FILE *f = fopen(path, "a");
    ck_assert(f != NULL);
    fputs("{\"step\":2,\"wall_s\":1,\"type\":\"gradcheck\",\"verdict\":\"FAIL\",\"pass\":false,"
          "\"failed\":1,\"seconds\":0.1,\"severity\":\"warning\",\"text\":\"gradient check: FAIL\"}\n"
          "{\"step\":2,\"wall_s\":1,\"type\":\"gradcheck\",\"pass\":false,\"failed\":1,"
          "\"seconds\":0.1,\"text\":\"gradient check: FAIL (old log)\"}\n"
          "{\"step\":2,\"wall_s\":1,\"type\":\"gradcheck\",\"verdict\":\"INCONCLUSIVE\","
          "\"pass\":false,\"severity\":\"info\",\"text\":\"gradient check: INCONCLUSIVE\"}\n"
          "{\"step\":2,\"wall_s\":1,\"type\":\"error\",\"what\":\"checkpoint\","
          "\"message\":\"disk full\",\"severity\":\"error\",\"text\":\"checkpoint failed\"}\n"
          "{\"step\":2,\"wall_s\":1,\"type\":\"finding\",\"rule\":\"dead-relu\","
          "\"severity\":\"error\",\"text\":\"dead\"}\n"
          "{\"step\":2,\"wall_s\":1,\"type\":\"finding\",\"rule\":\"dead-relu\",\"text\":\"old\"}\n",
          f);
    fclose(f);
    struct replay *rp = NULL;
    char *cause = NULL;
    ck_assert_msg(replay_open(&rp, r->run_dir, &cause) == 0, "%s", cause ? cause : "?");
    struct feed fd = replay_feed(rp);
    struct tm_record *rec = xmalloc(sizeof *rec);
    static const struct {
        const char *text;
        int type, kind, severity;
    } want[] = {
        {"gradient check: FAIL", TM_EVT_GRADCHECK_FAILED, TM_EV_ERROR, TM_SEV_WARNING},
        {"gradient check: FAIL (old log)", TM_EVT_GRADCHECK_FAILED, TM_EV_ERROR, TM_SEV_WARNING},
        {"gradient check: INCONCLUSIVE", TM_EVT_GRADCHECK_INCONCLUSIVE, TM_EV_INFO, TM_SEV_INFO},
        {"checkpoint failed", TM_EVT_ERROR, TM_EV_ERROR, TM_SEV_ERROR},
    };
    /* Findings replay as the TM_FINDING records they were live. */
    static const struct {
        const char *text;
        int severity;
    } want_f[] = {
        {"dead", TM_SEV_ERROR},
        {"old", TM_SEV_WARNING},    /* no severity: the vocabulary row's */
    };
    int found = 0;
    while (fd.cls->poll(fd.self, rec)) {
        if (rec->type == TM_FINDING) {
            for (size_t k = 0; k < sizeof want_f / sizeof want_f[0]; k++) {
                if (strcmp(rec->u.finding.text, want_f[k].text) != 0)
                    continue;
                found++;
                ck_assert_str_eq(rec->u.finding.rule, "dead-relu");
                ck_assert_msg(rec->u.finding.severity == want_f[k].severity, "'%s': severity %d",
                              want_f[k].text, rec->u.finding.severity);
            }
        }
        if (rec->type != TM_EVENT)
            continue;
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            if (strcmp(rec->u.event.text, want[k].text) != 0)
                continue;
            found++;
            ck_assert_msg(rec->u.event.type == want[k].type && rec->u.event.kind == want[k].kind
                          && rec->u.event.severity == want[k].severity,
                          "'%s': type %d kind %d severity %d", want[k].text, rec->u.event.type,
                          rec->u.event.kind, rec->u.event.severity);
        }
    }
    ck_assert_int_eq(found, 6);
    free(rec);
    replay_free(rp);
    run_free(r);
}
END_TEST

/*
 * One numbering everywhere: global step = optimizer updates done (the
 * loss logged at step k is the k-th update's), layer = nn.Sequential
 * index.  One short run, read back from metrics.csv, layers.csv,
 * events.jsonl, the live feed, the replay feed, headless output and the
 * gradient-check table.
 */
START_TEST(test_trainer__numbering)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 6;
    c.sched.total_steps = 6;
    c.train.eval_every = 3;
    c.telemetry.every = 2;
    struct trainer_opts o = {.start_paused = true, .exit_when_done = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 4);
    send_cmd(r, TM_CMD_GRADCHECK, 4, 0.0, 0);
    send_cmd(r, TM_CMD_SET_LR, 0, 0.25, 0);
    send_cmd(r, TM_CMD_RESUME, 0, 0.0, 0);
    run_wait_done(r);

    /* metrics.csv: train rows 1..6, val rows at 3 and 6; the lr change
     * logged at step 4 is in effect from row 5 on. */
    size_t n;
    struct metrics_row *m = read_metrics(r->run_dir, &n);
    long train = 0, val[2], nval = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kind == METRICS_TRAIN) {
            train++;
            ck_assert_msg(m[i].step == train, "train row %ld has step %ld", train, m[i].step);
            ck_assert_msg(m[i].lr == (train <= 4 ? 0.5 : 0.25), "step %ld: lr %g", m[i].step,
                          m[i].lr);
        } else if (m[i].kind == METRICS_VAL && nval < 2) {
            val[nval++] = m[i].step;
        }
    }
    ck_assert_msg(train == 6 && nval == 2 && val[0] == 3 && val[1] == 6,
                  "%ld train rows, val rows at %ld, %ld", train, nval > 0 ? val[0] : -1,
                  nval > 1 ? val[1] : -1);
    /* The live step record of the last update is row 6, loss and all. */
    ck_assert_int_eq(r->last_step.step, 6);
    size_t last = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i].kind == METRICS_TRAIN)
            last = i;
    ck_assert_msg(r->last_step.loss == m[last].loss, "live loss %.9g, metrics.csv %.9g",
                  (double)r->last_step.loss, (double)m[last].loss);
    free(m);

    /* events.jsonl: steps are updates done when the event happened. */
    struct events e = read_events(r->run_dir);
    ck_assert_int_eq(find_type(&e, "start", 0)->step, 0);
    ck_assert_int_eq(find_type(&e, "lr", 0)->step, 4);
    ck_assert_int_eq(find_type(&e, "gradcheck", 0)->step, 4);
    ck_assert_int_eq(find_type(&e, "done", 0)->step, 6);
    runlog_events_free(e.ev, e.n);

    /* layers.csv: the first update's snapshot, every 2nd, the last; rows
     * numbered by Sequential index, named by the layer's label. */
    struct layer_row *lr = NULL;
    char *cause = NULL;
    ck_assert_int_eq(runlog_read_layers(r->run_dir, &lr, &n, &cause), 0);
    ck_assert_msg(n == 4 * 7, "layers.csv has %zu rows, expected 28", n);
    static const long snaps[] = {1, 2, 4, 6};
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(lr[i].step == snaps[i / 7], "row %zu: step %ld, expected %ld", i,
                      lr[i].step, snaps[i / 7]);
        ck_assert_msg(lr[i].layer >= 0 && lr[i].layer < 3, "row %zu: layer %d", i, lr[i].layer);
        ck_assert_str_eq(lr[i].name, r->info.layers[lr[i].layer].label_ascii);
        if (lr[i].tensor[0] != '\0') {
            /* "0.weight" belongs to the row numbered 0 */
            ck_assert_msg(atoi(lr[i].tensor) == lr[i].layer, "tensor %s on layer %d",
                          lr[i].tensor, lr[i].layer);
        }
    }
    ck_assert_str_eq(lr[0].name, "dense 2->16");
    ck_assert_str_eq(lr[1].name, "relu");
    ck_assert_str_eq(lr[2].name, "dense 16->3");
    free(lr);

    /* The gradient-check table: its step and each tensor's layer. */
    ck_assert_int_eq(r->gc.step, 4);
    for (int k = 0; k < r->gc.ntensors; k++) {
        const struct tm_gc_tensor *g = &r->gc.t[k];
        int want = strcmp(g->name, "input") == 0 ? -1 : atoi(g->name);
        ck_assert_msg(g->layer == want, "%s: layer %d, expected %d", g->name, g->layer, want);
    }

    /* The replay (what the dashboard shows of the run) and headless
     * output of it count the same steps. */
    struct replay *rp = NULL;
    ck_assert_msg(replay_open(&rp, r->run_dir, &cause) == 0, "%s", cause ? cause : "?");
    struct feed f = replay_feed(rp);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct headless_opts ho = {.out = out, .progress_every_s = 0, .verbose = true};
    headless_run(&f, &ho);
    fclose(out);
    replay_free(rp);
    for (long k = 1; k <= 6; k++) {
        char want[32];
        snprintf(want, sizeof want, "\nstep %ld/6 (", k);
        ck_assert_msg(strstr(buf, want) != NULL, "no '%s' in\n%s", want + 1, buf);
    }
    ck_assert_msg(strstr(buf, "\nstep 0/") == NULL && strstr(buf, "\nstep 7/") == NULL, "%s",
                  buf);
    ck_assert_msg(strstr(buf, "\neval  step        3  ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "step 4: lr set to 0.25") != NULL, "%s", buf);
    free(buf);

    /* Headless output of a live gradient check names each tensor's layer. */
    struct cfg c2;
    cfg_or_die(&c2, spiral_yaml, tmp);
    c2.train.steps = 2;
    struct trainer_opts o2 = {.no_log = true, .start_paused = true};
    struct trainer *t = NULL;
    ck_assert_int_eq(trainer_new(&t, &c2, &o2, &cause), 0);
    ck_assert_msg(trainer_start(t, &cause) == 0, "trainer_start: %s", cause);
    struct tm_command gc = {.kind = TM_CMD_GRADCHECK, .n = 4};
    struct tm_command q = {.kind = TM_CMD_QUIT};
    char why[64];
    ck_assert_int_eq(trainer_send(t, &gc, why, sizeof why), 0);
    ck_assert_int_eq(trainer_send(t, &q, why, sizeof why), 0);
    f = trainer_feed(t);
    buf = NULL;
    out = open_memstream(&buf, &len);
    ho.out = out;
    headless_run(&f, &ho);
    fclose(out);
    trainer_free(t);
    ck_assert_msg(strstr(buf, "gradient check at step 0 ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "\n  0.weight   0 dense 2->16 ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "\n  2.bias     2 dense 16->3 ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "\n  input      -  ") != NULL, "%s", buf);
    free(buf);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__replay)
{
    /* Evaluations (every 4 steps) land on snapshot steps (every 2): the
     * replay must keep the trainer's order. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 12;
    c.train.eval_every = 4;
    c.telemetry.every = 2;
    struct trainer_opts o = {.start_paused = true, .exit_when_done = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 6);
    send_cmd(r, TM_CMD_SET_LR, 0, 0.25, 0);
    send_cmd(r, TM_CMD_RESUME, 0, 0.0, 0);
    run_wait_done(r);

    struct replay *rp = NULL;
    char *cause = NULL;
    int rc = replay_open(&rp, r->run_dir, &cause);
    ck_assert_msg(rc == 0, "replay_open: %s", cause ? cause : "?");
    struct feed f = replay_feed(rp);
    struct tm_command q = {.kind = TM_CMD_PAUSE};
    char why[64] = "";
    ck_assert_int_eq(f.cls->send(f.self, &q, why, sizeof why), -1);
    ck_assert_str_eq(why, "read-only in replay");

    struct tm_record *rec = xmalloc(sizeof *rec);
    long nrec = 0, steps = 0, last_step = 0, last_snap = -1, evals = 0, lr_event_at = -1;
    bool final_state = false;
    while (f.cls->poll(f.self, rec)) {
        if (nrec++ == 0) {
            ck_assert_int_eq(rec->type, TM_INFO);
            ck_assert(rec->u.info.replay);
            ck_assert_int_eq(rec->u.info.nlayers, 3);
            ck_assert_int_eq(rec->u.info.ntensors, 4);
            ck_assert_str_eq(rec->u.info.tensor_names[2], "2.weight");
            continue;
        }
        switch (rec->type) {
        case TM_STEP:
            steps++;
            ck_assert_msg(rec->u.step.step == last_step + 1, "step record %ld after %ld",
                          rec->u.step.step, last_step);
            last_step = rec->u.step.step;
            ck_assert_msg(rec->u.step.lr == (last_step <= 6 ? 0.5f : 0.25f),
                          "step %ld: lr %g", last_step, (double)rec->u.step.lr);
            break;
        case TM_SNAPSHOT:
            /* the snapshot of global step k follows step record k */
            ck_assert_msg(rec->u.snapshot.step == last_step,
                          "snapshot of step %ld after step record %ld", rec->u.snapshot.step,
                          last_step);
            ck_assert_int_eq(rec->u.snapshot.ntensors, 4);
            last_snap = rec->u.snapshot.step;
            break;
        case TM_EVAL:
            evals++;
            /* an eval at k steps comes after step k and its snapshot */
            ck_assert_msg(rec->u.eval.step == last_step, "eval at step %ld after step record "
                          "%ld", rec->u.eval.step, last_step);
            /* snapshots every 2 steps (4, 8, 12 among them): the eval's own */
            ck_assert_msg(last_snap == last_step,
                          "eval at %ld after the snapshot of %ld", rec->u.eval.step, last_snap);
            ck_assert_int_eq(rec->u.eval.n, rec->u.eval.split == TM_SPLIT_VAL ? 18 : 0);
            break;
        case TM_EVENT:
            if (strcmp(rec->u.event.text, "lr set to 0.25") == 0) {
                lr_event_at = last_step;
                ck_assert_int_eq(rec->u.event.kind, TM_EV_CHANGE);
            }
            break;
        case TM_STATE:
            final_state = true;
            ck_assert_int_eq(rec->u.state.state, TM_DONE);
            ck_assert_int_eq(rec->u.state.step, 12);
            ck_assert(rec->u.state.lr == 0.25);
            break;
        default:
            break;
        }
    }
    free(rec);
    ck_assert(f.cls->finished(f.self));
    ck_assert_msg(steps == 12 && evals == 3 && final_state, "%ld steps, %ld evals", steps, evals);
    ck_assert_msg(lr_event_at == 6, "the lr event came after step record %ld, expected 6",
                  lr_event_at);
    replay_free(rp);
    run_free(r);
}
END_TEST

/* What headless_run printed for a run of c (steps steps), as one string. */
static char *
headless_text_v(const struct cfg *c, const struct trainer_opts *o, const sigset_t *sigs, int *sig,
                bool verbose)
{
    struct trainer *t = NULL;
    char *cause = NULL;
    ck_assert_int_eq(trainer_new(&t, c, o, &cause), 0);
    ck_assert_msg(trainer_start(t, &cause) == 0, "trainer_start: %s", cause);
    struct feed f = trainer_feed(t);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct headless_opts ho = {
        .out = out, .progress_every_s = 1e9, .signals = sigs, .verbose = verbose, .summary = true};
    *sig = headless_run(&f, &ho);
    fclose(out);
    trainer_free(t);
    return buf;
}

static char *
headless_text(const struct cfg *c, const struct trainer_opts *o, const sigset_t *sigs, int *sig)
{
    return headless_text_v(c, o, sigs, sig, true);
}

START_TEST(test_trainer__headless)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 40;
    c.train.eval_every = 20;
    struct trainer_opts o = {.no_log = true, .exit_when_done = true};
    int sig;
    char *text = headless_text(&c, &o, NULL, &sig);
    ck_assert_int_eq(sig, 0);
    ck_assert_msg(strstr(text, "nntop t-spiral: 162 train / 18 val / 0 test samples, 2 features, "
                               "3 classes\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nOK step 1 initial-loss: initial loss ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\ndoctor: ") != NULL, "%s", text);
    /* With progress at most every 1e9 s: the first step and the last, each
     * with step N/total (P %), epoch, EMA loss, batch accuracy, lr,
     * elapsed and ETA in aligned columns. */
    ck_assert_msg(strstr(text, "\nstep  1/40 (  2.5 %)  ep   0.20  loss(ema) ") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "\nstep 40/40 (100.0 %)  ep   6.79  loss(ema) ") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "\nstep  2/") == NULL, "%s", text);
    const char *p1 = strstr(text, "\nstep  1/40");
    const char *p40 = strstr(text, "\nstep 40/40");
    const char *fields[] = {"  acc ", "  lr ", "  elapsed ", "  eta "};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *f1 = strstr(p1, fields[i]), *f40 = strstr(p40, fields[i]);
        ck_assert_msg(f1 != NULL && f40 != NULL && f1 - p1 == f40 - p40,
                      "'%s' not aligned in\n%s", fields[i], text);
    }
    /* Verbose: every evaluation. */
    ck_assert_msg(strstr(text, "\neval  step       20  ep   3.40  val   loss ") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "\neval  step       40  ep ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "(18 samples)") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nevent   step 40: training finished at step 40\n") != NULL, "%s",
                  text);
    /* The closing summary. */
    ck_assert_msg(strstr(text, "\nsummary: finished at step 40 of 40 in ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n  best val    loss ") != NULL, "%s", text);
    /* The doctor's findings of the run, counted (40 steps at lr 0.5: infos). */
    ck_assert_msg(strstr(text, "\n  findings    ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, " warning") == NULL && strstr(text, " error") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "nan") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "dropped") == NULL, "%s", text);
    free(text);

    /* Not verbose: at most one evaluation line a second (the run takes
     * far less), and the summary still has the best validation loss. */
    text = headless_text_v(&c, &o, NULL, &sig, false);
    ck_assert_msg(strstr(text, "\neval  step       20  ep ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\neval  step       40  ep ") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n  best val    loss ") != NULL, "%s", text);
    free(text);
}
END_TEST

START_TEST(test_trainer__headless_signal)
{
    /* A signal pending from the start stops a run that is busy training:
     * the printer must look for it even when records keep coming. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 100000000;
    c.telemetry.every = 1;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct trainer_opts o = {.exit_when_done = true};
    pthread_kill(pthread_self(), SIGUSR1);
    int sig;
    char *text = headless_text(&c, &o, &sigs, &sig);
    ck_assert_msg(sig == SIGUSR1, "headless_run returned %d", sig);
    ck_assert_msg(strstr(text, "nntop: caught signal") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "stopped at step") != NULL, "%s", text);
    free(text);
}
END_TEST

/* ---- limits ------------------------------------------------------------------ */

START_TEST(test_trainer__dropped_records)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.train.steps = 300;
    c.telemetry.every = 1;
    struct trainer_opts o = {.exit_when_done = true, .ring_bytes = (size_t)64 << 10};
    struct trainer *t = NULL;
    char *cause = NULL;
    ck_assert_int_eq(trainer_new(&t, &c, &o, &cause), 0);
    char *run_dir = xstrdup(trainer_run_dir(t));
    struct feed f = trainer_feed(t);
    ck_assert_msg(trainer_start(t, &cause) == 0, "trainer_start: %s", cause);
    /* Nobody reads until the worker is done: it must not block. */
    trainer_join(t);
    ck_assert_int_eq(trainer_exit_status(t), 0);
    uint64_t dropped = f.cls->dropped(f.self);
    ck_assert_msg(dropped > 0, "a 64 KiB ring nobody read dropped nothing");

    long steps = 0, records = 0;
    struct tm_record *rec = xmalloc(sizeof *rec);
    while (f.cls->poll(f.self, rec)) {
        records++;
        steps += rec->type == TM_STEP;
    }
    free(rec);
    ck_assert(f.cls->finished(f.self));
    ck_assert_msg(steps < 300, "all 300 step records fit in 64 KiB?");
    printf("dropped records: %llu dropped, %ld delivered (%ld steps)\n",
           (unsigned long long)dropped, records, steps);

    size_t n;
    struct metrics_row *rows = read_train_rows(run_dir, &n);
    ck_assert_msg(n == 300, "metrics.csv has %zu train rows, expected all 300", n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(rows[i].step, (long)i + 1);
    free(rows);
    trainer_free(t);
    free(run_dir);
}
END_TEST

START_TEST(test_trainer__slow_consumer)
{
    /* A consumer that stops reading (a dashboard under Ctrl-Z, a stalled
     * ssh) loses steps and snapshots, never a state or an event: when it
     * reads again it learns where the run stands.  The 64 KiB ring fills
     * within a few steps of per-step snapshots. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    c.telemetry.every = 1;
    struct trainer_opts o = {.start_paused = true, .ring_bytes = (size_t)64 << 10};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    long events_before = r->nevents;
    struct events e = read_events(r->run_dir);
    int pauses_before = count_type(&e, "pause");
    runlog_events_free(e.ev, e.n);
    char why[128] = "";
    struct tm_command step = {.kind = TM_CMD_STEP, .n = 300};
    ck_assert_int_eq(trainer_send(r->t, &step, why, sizeof why), 0);
    /* Nothing is read until the run log (events are written at once)
     * says the 300 steps are done and the run paused. */
    for (;;) {
        e = read_events(r->run_dir);
        int pauses = count_type(&e, "pause");
        runlog_events_free(e.ev, e.n);
        if (pauses > pauses_before)
            break;
        nap();
    }
    while (!(r->state.state == TM_PAUSED && r->state.step == 300)) {
        ck_assert_msg(!r->feed.cls->finished(r->feed.self), "the worker ended");
        nap();
        pump(r);
    }
    ck_assert_msg(r->feed.cls->dropped(r->feed.self) > 0,
                  "a 64 KiB ring nobody read for 300 snapshots dropped nothing");
    ck_assert_uint_eq(r->state.dropped, r->feed.cls->dropped(r->feed.self));
    bool pause_event = false;
    for (long i = events_before; i < r->nevents && i < MAX_EVENTS; i++)
        pause_event |= strstr(r->ev[i].text, "paused after stepping") != NULL;
    ck_assert_msg(pause_event, "the pause after stepping is not on the feed");
    run_finish(r);
    run_free(r);
}
END_TEST

START_TEST(test_trainer__free_running)
{
    /* trainer_free on a running (or paused) worker stops it instead of
     * waiting forever. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    step_n(r, 2);
    run_free(r);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_trainer__class_mismatch)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "model.layers=[{dense: 8}, relu, {dense: 4}]");
    struct trainer_opts o = {.no_log = true};
    struct trainer *t = NULL;
    char *cause = NULL;
    ck_assert_int_eq(trainer_new(&t, &c, &o, &cause), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(cause != NULL && strstr(cause, "last dense layer has 4 units but the data has 3 "
                                                 "classes") != NULL,
                  "message: %s", cause ? cause : "(none)");
    free(cause);
}
END_TEST

START_TEST(test_trainer__no_log_save_refused)
{
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    struct trainer_opts o = {.no_log = true, .start_paused = true};
    struct run *r = run_start(&c, &o);
    ck_assert_str_eq(r->run_dir, "");
    wait_paused(r, 0);
    send_cmd(r, TM_CMD_SAVE, 0, 0.0, 0);
    ck_assert_int_eq(count_feed_events(r, TM_EV_REFUSED), 1);
    run_finish(r);
    /* After the worker ended, commands are refused with a reason. */
    struct tm_command q = {.kind = TM_CMD_PAUSE};
    char why[128] = "";
    ck_assert_int_eq(trainer_send(r->t, &q, why, sizeof why), -1);
    ck_assert_str_eq(why, "the trainer has stopped");
    run_free(r);
}
END_TEST

START_TEST(test_trainer__checkpoint_rng)
{
    /* The dropout stream goes into the checkpoint and comes back; a
     * damaged one is refused before the model changes. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "model.layers=[{dense: 8}, relu, {dropout: 0.5}, {dense: 3}]");
    struct model_spec spec = c.model;
    spec.in = 2;
    struct model *m = model_new(&spec, 4, NULL);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < 5; i++)
        rng_u64(&m->rng_dropout);
    struct rng saved = m->rng_dropout;
    char *path = xasprintf("%s/ck.safetensors", tmp);
    char *cause = NULL;
    ck_assert_msg(runlog_save_checkpoint(path, m, NULL, 7, 0.5, NULL, &cause) > 0, "save: %s",
                  cause ? cause : "?");
    struct model *m2 = model_new(&spec, 4, NULL);
    ck_assert(memcmp(&m2->rng_dropout, &saved, sizeof saved) != 0);
    ck_assert_int_eq(runlog_load_checkpoint(path, m2, NULL, NULL, NULL, NULL, &cause), 0);
    ck_assert_msg(memcmp(&m2->rng_dropout, &saved, sizeof saved) == 0,
                  "the dropout stream did not come back");

    /* Same length, not hex: refused, model untouched. */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    char head[4096];
    size_t got = fread(head, 1, sizeof head - 1, f);
    head[got] = '\0';
    char *at = memmem(head, got, "\"rng_dropout\":\"", 15);
    ck_assert_ptr_nonnull(at);
    fseek(f, (long)(at - head) + 15, SEEK_SET);
    fputc('z', f);
    fclose(f);
    struct model *m3 = model_new(&spec, 4, NULL);
    struct rng fresh = m3->rng_dropout;
    ck_assert_int_eq(runlog_load_checkpoint(path, m3, NULL, NULL, NULL, NULL, &cause), -1);
    ck_assert_msg(strstr(cause, "metadata rng_dropout") != NULL, "message: %s", cause);
    ck_assert(memcmp(&m3->rng_dropout, &fresh, sizeof fresh) == 0);
    free(cause);
    free(path);
    model_free(m);
    model_free(m2);
    model_free(m3);
}
END_TEST

/* Every parameter finite? */
static bool
all_finite(const struct model *m, size_t *bad)
{
    *bad = 0;
    for (size_t i = 0; i < m->nparams; i++)
        *bad += !isfinite(m->params[i]);
    return *bad == 0;
}

/* Run c to the end (exit_when_done, keep_going off) and return the run dir. */
static char *
run_to_failure(const struct cfg *c, struct run **out)
{
    struct trainer_opts o = {.exit_when_done = true};
    struct run *r = run_start(c, &o);
    run_wait_done(r);
    *out = r;
    return r->run_dir;
}

/*
 * Run c to its failure and check what a failure leaves: exit status 1,
 * state failed, one nonfinite event whose "where" is returned, train rows
 * up to the failing step, and one checkpoint there whose weights are all
 * finite.  Returns the failing step.
 */
static long
check_failure(const struct cfg *c, int in, char *where, size_t len)
{
    struct run *r;
    const char *dir = run_to_failure(c, &r);
    ck_assert_msg(trainer_exit_status(r->t) == 1, "exit status %d after non-finite values",
                  trainer_exit_status(r->t));
    ck_assert_int_eq(r->state.state, TM_FAILED);
    ck_assert_int_eq(count_feed_events(r, TM_EV_NONFINITE), 1);

    struct events e = read_events(dir);
    const struct runlog_event_rec *nf = find_type(&e, "nonfinite", 0);
    ck_assert_msg(nf != NULL, "no nonfinite event");
    ck_assert_int_eq(runlog_event_get_str(nf->line, "where", where, len), 0);
    ck_assert_msg(strstr(nf->line, "first non-finite value in") != NULL, "%s", nf->line);
    long step = nf->step;

    /* The metrics have every step up to the failure, and none after. */
    size_t n;
    struct metrics_row *rows = read_train_rows(dir, &n);
    ck_assert_msg(n == (size_t)step, "%zu train rows, failure at step %ld", n, step);
    free(rows);

    /* One checkpoint, at the failing step, with the last finite weights. */
    char *ck = xasprintf("%s/checkpoint-%ld.safetensors", dir, step);
    ck_assert_msg(file_exists(ck), "no checkpoint %s", ck);
    ck_assert_int_eq(count_type(&e, "checkpoint"), 1);
    long ck_step;
    struct model *m = load_model(c, in, ck, &ck_step);
    size_t bad;
    ck_assert_msg(all_finite(m, &bad), "the checkpoint has %zu non-finite weights", bad);
    ck_assert_int_eq(ck_step, step);
    model_free(m);
    free(ck);
    runlog_events_free(e.ev, e.n);
    run_free(r);
    return step;
}

START_TEST(test_trainer__nonfinite_update)
{
    /*
     * configs/spiral.yaml (2-100-3, full batch) under MSE at lr 1e6 diverges
     * exponentially until an update from finite gradients overflows a
     * parameter: that update is undone.  (Cross-entropy at lr 1e6 stays
     * finite: its gradient is bounded, so the weights grow only linearly.)
     */
    struct cfg c;
    struct cfg_errs errs;
    cfg_defaults(&c);
    const char *top = getenv("top_srcdir");
    char *path = xasprintf("%s/configs/spiral.yaml", top != NULL ? top : ".");
    ck_assert_int_eq(cfg_load_file(&c, path, &errs), 0);
    cfg_errs_fini(&errs);
    free(path);
    snprintf(c.log.dir, sizeof c.log.dir, "%s", tmp);
    cfg_set_or_die(&c, "loss=mse");
    cfg_set_or_die(&c, "optim.lr=1e6");
    char where[160];
    long step = check_failure(&c, 2, where, sizeof where);
    printf("nonfinite (spiral.yaml, mse, lr 1e6): step %ld: %s\n", step, where);
    ck_assert_msg(strncmp(where, "layer ", 6) == 0 && strstr(where, " update, ") != NULL,
                  "where: '%s', expected a layer's update", where);
}
END_TEST

START_TEST(test_trainer__nonfinite_gradient)
{
    /* A smaller net, batches of 32: here a gradient overflows first, on
     * one thread and with the batch split across 2 and 3. */
    char first[160] = "";
    for (int threads = 1; threads <= 3; threads++) {
        char *dir = xasprintf("%s/threads-%d", tmp, threads);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        struct cfg c;
        cfg_or_die(&c, spiral_yaml, dir);
        cfg_set_or_die(&c, "loss=mse");
        cfg_set_or_die(&c, "optim={lr: 1e6, momentum: 0}");
        c.train.threads = threads;
        char where[160];
        long step = check_failure(&c, 2, where, sizeof where);
        printf("nonfinite (spiral 2-16-3, mse, lr 1e6, %d threads): step %ld: %s\n", threads,
               step, where);
        ck_assert_msg(strncmp(where, "layer ", 6) == 0, "where: '%s'", where);
        /* The same layer's same tensor, whichever thread computed it. */
        if (threads == 1)
            snprintf(first, sizeof first, "%s", where);
        else
            ck_assert_msg(strcmp(where, first) == 0, "%d threads: '%s', 1 thread: '%s'",
                          threads, where, first);
        free(dir);
    }
}
END_TEST

START_TEST(test_trainer__nonfinite_init)
{
    /*
     * W1 ~ N(0, 1e30^2) on inputs of size ~1: the hidden layer is ~1e30,
     * finite; the logits (16 terms of 1e30 x U(-0.25, 0.25)) ~1e30, finite;
     * so step 1 is finite, and its update (lr 1 x dW2 ~ 1e30) leaves W2
     * ~1e30, finite too.  At step 2 the logits are sums of 1e30 x 1e30:
     * the first overflow is layer 2's (dense, Sequential index 2) output.
     */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "model.layers=[{dense: 16, init: 'normal:1e30'}, relu, {dense: 3}]");
    cfg_set_or_die(&c, "optim={lr: 1.0, momentum: 0}");
    char where[160];
    long step = check_failure(&c, 2, where, sizeof where);
    ck_assert_msg(step == 2, "non-finite at step %ld, expected 2", step);
    ck_assert_msg(strcmp(where, "layer 2 (dense) forward, output") == 0,
                  "where: '%s', expected 'layer 2 (dense) forward, output'", where);
}
END_TEST

START_TEST(test_trainer__nonfinite_keep_going)
{
    /* keep_going (the dashboard): pause instead of failing, and say so. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "loss=mse");
    cfg_set_or_die(&c, "optim={lr: 1e6, momentum: 0}");
    c.train.steps = 60;
    struct trainer_opts o = {.keep_going = true, .exit_when_done = true};
    struct run *r = run_start(&c, &o);
    while (count_feed_events(r, TM_EV_NONFINITE) == 0 || r->state.state != TM_PAUSED) {
        ck_assert_msg(!r->feed.cls->finished(r->feed.self),
                      "the trainer ended without pausing on non-finite values");
        pump(r);
        nap();
    }
    long at = r->state.step;
    ck_assert_msg(at < 60, "paused at step %ld", at);
    run_finish(r);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    struct events e = read_events(r->run_dir);
    ck_assert_int_eq(count_type(&e, "nonfinite"), 1);
    /* the checkpoint of the failure, and the quit's one step on (the
     * failed step counts: its batch was used) */
    ck_assert_int_eq(count_type(&e, "checkpoint"), 2);
    ck_assert_int_eq(count_type(&e, "quit"), 1);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

/* ---- real data, PyTorch ------------------------------------------------------- */

#ifndef TRAINER_TEST_SANITIZED
START_TEST(test_trainer__fashion_mnist_epoch)
{
    if (access(FMNIST_TRAIN, R_OK) != 0) {
        check_skip("fashion-mnist: " FMNIST_TRAIN " not found");
        return;
    }
    const char *top = getenv("top_srcdir");
    char *path = xasprintf("%s/configs/fashion-mnist.yaml", top != NULL ? top : ".");
    struct cfg c;
    struct cfg_errs errs;
    cfg_defaults(&c);
    int rc = cfg_load_file(&c, path, &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "%s does not load", path);
    cfg_errs_fini(&errs);
    cfg_set_or_die(&c, "train.epochs=1");
    ck_assert_int_eq(cfg_validate(&c, &errs), 0);
    struct trainer_opts o = {.no_log = true, .exit_when_done = true};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct run *r = run_start(&c, &o);
    run_wait_done(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    ck_assert_msg(r->have_test, "no test evaluation at the end");
    printf("fashion-mnist: 1 epoch, %ld steps, test accuracy %.4f, loss %.4f (%.1f s)\n",
           r->state.step, (double)r->last_test.accuracy, (double)r->last_test.loss,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    ck_assert_int_eq(r->last_test.n, 10000);
    ck_assert_msg(r->last_test.accuracy >= 0.80f, "test accuracy %.4f after one epoch, expected "
                  ">= 0.80", (double)r->last_test.accuracy);
    run_free(r);
    free(path);
}
END_TEST
#endif

#ifndef TRAINER_TEST_SANITIZED
static void
write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

START_TEST(test_trainer__torch_load)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        check_skip("torch load: python3 cannot import torch");
        return;
    }
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "model.layers=[{dense: 16}, relu, {dense: 8}, tanh, {dense: 3}]");
    c.train.steps = 60;
    struct trainer_opts o = {.exit_when_done = true};
    struct run *r = run_start(&c, &o);
    run_wait_done(r);
    ck_assert_int_eq(trainer_exit_status(r->t), 0);
    char *ck = xasprintf("%s/checkpoint-60.safetensors", r->run_dir);

    /* The validation rows and the loss nntop computes on them in eval mode. */
    struct data d;
    char *cause = NULL;
    ck_assert_int_eq(data_load(&d, &c.data, c.seed, &cause), 0);
    int B = (int)d.val.n;
    long *pos = xcalloc((size_t)B, sizeof *pos);
    for (int i = 0; i < B; i++)
        pos[i] = i;
    float *x = xcalloc((size_t)B * (size_t)d.d, sizeof *x);
    int32_t *y = xcalloc((size_t)B, sizeof *y);
    data_gather(&d, &d.val, pos, B, x, y);
    long step;
    struct model *m = load_model(&c, d.d, ck, &step);
    model_set_training(m, false);
    model_forward(m, x, B);
    struct batch b = {.x = x, .labels = y, .size = B};
    double loss = model_loss(m, &b, NULL);
    char *xp = xasprintf("%s/x.bin", tmp), *yp = xasprintf("%s/y.bin", tmp);
    write_file(xp, x, (size_t)B * (size_t)d.d * sizeof *x);
    write_file(yp, y, (size_t)B * sizeof *y);

    const char *top = getenv("top_srcdir");
    char *cmd = xasprintf("/usr/bin/python3 %s/tests/torch_load_checkpoint.py %s --in %d "
                          "--layers dense:16,relu,dense:8,tanh,dense:3 --x %s --y %s "
                          "--expect-loss %.9g --rtol 1e-5",
                          top != NULL ? top : ".", ck, d.d, xp, yp, loss);
    int st = system(cmd);
    ck_assert_msg(st == 0, "torch_load_checkpoint.py exited with %d: %s", st, cmd);
    printf("torch load: strict load of %s, loss %.9g matches\n", ck, loss);
    free(cmd);
    free(xp);
    free(yp);
    model_free(m);
    free(x);
    free(y);
    free(pos);
    data_fini(&d);
    free(ck);
    run_free(r);
}
END_TEST
#endif

/* ---- the simple-start tools ---------------------------------------------------- */

/* A shipped config, logging under tmp. */
static void
load_shipped(struct cfg *c, const char *name)
{
    const char *top = getenv("top_srcdir");
    char *path = xasprintf("%s/configs/%s", top != NULL ? top : ".", name);
    struct cfg_errs errs;
    cfg_defaults(c);
    int rc = cfg_load_file(c, path, &errs);
    if (rc != 0)
        cfg_errs_print(&errs, stderr);
    ck_assert_msg(rc == 0, "%s does not load", path);
    cfg_errs_fini(&errs);
    snprintf(c->log.dir, sizeof c->log.dir, "%s", tmp);
    free(path);
}

/* The events.jsonl line of the first finding for rule, or NULL. */
static const struct runlog_event_rec *
find_finding(const struct events *e, const char *rule)
{
    char want[64];
    snprintf(want, sizeof want, "\"rule\":\"%s\"", rule);
    for (int i = 0; find_type(e, "finding", i) != NULL; i++) {
        const struct runlog_event_rec *f = find_type(e, "finding", i);
        if (strstr(f->line, want) != NULL)
            return f;
    }
    return NULL;
}

START_TEST(test_trainer__overfit_spiral)
{
    /* The demo's spiral model: its batch (300) is larger than the 270
     * training points, so overfit mode takes a tenth of them. */
    struct cfg c;
    load_shipped(&c, "spiral.yaml");
    cfg_set_or_die(&c, "optim.weight_decay=0.001");
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    send_cmd(r, TM_CMD_OVERFIT, 1, 0.0, 0);
    ck_assert(r->state.overfit);
    ck_assert_msg(r->state.weight_decay == 0.0, "weight decay %g in overfit mode",
                  r->state.weight_decay);
    step_n(r, 1000);
    float acc = r->last_step.accuracy;
    send_cmd(r, TM_CMD_OVERFIT, 0, 0.0, 0);
    ck_assert(!r->state.overfit);
    ck_assert_msg(r->state.weight_decay == 0.001, "weight decay %g after overfit mode",
                  r->state.weight_decay);
    run_finish(r);
    ck_assert_msg(acc == 1.0f, "training accuracy %.3f after 1000 overfit steps", (double)acc);

    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *on = find_type(&e, "overfit", 0);
    ck_assert_msg(on != NULL && strstr(on->line, "\"value\":true,\"n\":27") != NULL,
                  "overfit on: %s", on != NULL ? on->line : "no event");
    const struct runlog_event_rec *off = find_type(&e, "overfit", 1);
    ck_assert_msg(off != NULL && strstr(off->line, "\"value\":false") != NULL &&
                  strstr(off->line, "restored") != NULL, "overfit off: %s",
                  off != NULL ? off->line : "no event");
    const struct runlog_event_rec *f = find_finding(&e, "overfit-reached");
    ck_assert_msg(f != NULL, "no overfit-reached finding");
    ck_assert_msg(strstr(f->line, "\"severity\":\"info\",\"stage\":1,") != NULL &&
                  strstr(f->line, "\"state\":\"raised\"") != NULL, "%s", f->line);
    double v;
    ck_assert_int_eq(runlog_event_get_num(f->line, "value", &v), 0);
    ck_assert_msg(v >= 1 && v <= 1000 && f->step == (long)v, "reached after %g steps at step %ld",
                  v, f->step);
    ck_assert_msg(find_finding(&e, "cannot-overfit") == NULL, "cannot-overfit on the spiral");
    printf("overfit: the spiral model reached 100%% on 27 samples after %g steps\n", v);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

#ifndef TRAINER_TEST_SANITIZED
START_TEST(test_trainer__cannot_overfit_fashion)
{
    if (access(FMNIST_TRAIN, R_OK) != 0) {
        check_skip("cannot-overfit: " FMNIST_TRAIN " not found");
        return;
    }
    /* Two units between the pixels and the ten classes: too small for 512 samples. */
    struct cfg c;
    load_shipped(&c, "fashion-mnist.yaml");
    cfg_set_or_die(&c, "model.layers=[{dense: 2}, relu, {dense: 10}]");
    cfg_set_or_die(&c, "optim.schedule=constant");
    cfg_set_or_die(&c, "optim.lr=0.01");
    struct cfg_errs errs;
    ck_assert_int_eq(cfg_validate(&c, &errs), 0);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    send_cmd(r, TM_CMD_OVERFIT, 1, 512.0, 0);
    step_n(r, 1000);
    run_finish(r);
    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *on = find_type(&e, "overfit", 0);
    ck_assert_msg(on != NULL && strstr(on->line, "\"n\":512") != NULL, "overfit on: %s",
                  on != NULL ? on->line : "no event");
    const struct runlog_event_rec *f = find_finding(&e, "cannot-overfit");
    ck_assert_msg(f != NULL, "no cannot-overfit finding");
    ck_assert_msg(strstr(f->line, "\"severity\":\"warning\",\"stage\":1,") != NULL &&
                  strstr(f->line, "\"threshold\":1,") != NULL, "%s", f->line);
    ck_assert_int_eq(f->step, 1000);
    double best;
    ck_assert_int_eq(runlog_event_get_num(f->line, "value", &best), 0);
    ck_assert_msg(best < 1.0, "best accuracy %g", best);
    ck_assert(find_finding(&e, "overfit-reached") == NULL);
    printf("cannot-overfit: 2 units, 512 Fashion-MNIST samples: best accuracy %.3f\n", best);
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST
#endif

START_TEST(test_trainer__baseline)
{
    /* At step 0, initialised with std 3, the spiral model is worse than
     * one that sees only zeros (which learns the class prior); trained for
     * 300 steps, it beats it. */
    struct cfg c;
    cfg_or_die(&c, spiral_yaml, tmp);
    cfg_set_or_die(&c, "model.layers=[{dense: 16, init: \"normal:3\"}, relu, {dense: 3}]");
    cfg_set_or_die(&c, "doctor.baseline_steps=200");
    /* The live rules' findings (normal:3 init is loud) are not this test's. */
    cfg_set_or_die(&c, "doctor.enabled=false");
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    send_cmd(r, TM_CMD_BASELINE, 0, 0.0, 0);
    step_n(r, 300);
    send_cmd(r, TM_CMD_BASELINE, 0, 0.0, 0);
    ck_assert_int_eq(r->state.state, TM_PAUSED);
    run_finish(r);
    struct events e = read_events(r->run_dir);
    ck_assert_int_eq(count_type(&e, "finding"), 2);
    const struct runlog_event_rec *f0 = find_type(&e, "finding", 0);
    const struct runlog_event_rec *f1 = find_type(&e, "finding", 1);
    ck_assert_msg(strstr(f0->line, "\"rule\":\"baseline-not-beaten\",\"severity\":\"warning\"")
                  != NULL && f0->step == 0, "%s", f0->line);
    ck_assert_msg(strstr(f1->line, "\"rule\":\"baseline-not-beaten\",\"severity\":\"ok\"") != NULL
                  && strstr(f1->line, "\"state\":\"passed\"") != NULL && f1->step == 300,
                  "%s", f1->line);
    double real, base;
    ck_assert_int_eq(runlog_event_get_num(f1->line, "value", &real), 0);
    ck_assert_int_eq(runlog_event_get_num(f1->line, "threshold", &base), 0);
    ck_assert_msg(real < base, "loss %g, baseline %g", real, base);
    const struct runlog_event_rec *said = find_type(&e, "baseline_start", 0);
    ck_assert_msg(said != NULL && strstr(said->line, "the run is paused meanwhile") != NULL,
                  "the baseline does not say the run is paused");
    runlog_events_free(e.ev, e.n);
    run_free(r);
}
END_TEST

/* Run :depcheck once; its finding line in events.jsonl (NULL: none). */
static char *
depcheck_line_or_null(const char *yaml)
{
    struct cfg c;
    cfg_or_die(&c, yaml, tmp);
    struct trainer_opts o = {.start_paused = true};
    struct run *r = run_start(&c, &o);
    wait_paused(r, 0);
    send_cmd(r, TM_CMD_DEPCHECK, 0, 0.0, 0);
    run_finish(r);
    struct events e = read_events(r->run_dir);
    const struct runlog_event_rec *f = find_finding(&e, "batch-mixing");
    char *line = f != NULL ? xstrdup(f->line) : NULL;
    runlog_events_free(e.ev, e.n);
    run_free(r);
    return line;
}

static char *
depcheck_line(const char *yaml)
{
    char *line = depcheck_line_or_null(yaml);
    ck_assert_msg(line != NULL, "no batch-mixing finding");
    return line;
}

static const char bn_yaml[] =
    "name: t-bn\n"
    "seed: 3\n"
    "data: {source: spiral, classes: 3, points: 60, noise: 0.2, val_fraction: 0.1}\n"
    "model:\n"
    "  layers: [{dense: 16}, batchnorm, relu, {dense: 3}]\n"
    "train: {batch_size: 32, steps: 10}\n";

START_TEST(test_trainer__depcheck)
{
    char *line = depcheck_line(spiral_yaml);
    ck_assert_msg(strstr(line, "\"severity\":\"ok\"") != NULL &&
                  strstr(line, "\"state\":\"passed\"") != NULL, "clean model: %s", line);
    free(line);
    /* Batch norm: said, not failed. */
    line = depcheck_line(bn_yaml);
    ck_assert_msg(strstr(line, "\"state\":\"passed\"") != NULL &&
                  strstr(line, "batch norm mixes samples in training mode by design") != NULL,
                  "batch norm: %s", line);
    free(line);
    /* A row of the doctor's table: doctor.disable silences it. */
    char quiet[sizeof spiral_yaml + 64];
    snprintf(quiet, sizeof quiet, "%sdoctor: {disable: [batch-mixing]}\n", spiral_yaml);
    line = depcheck_line_or_null(quiet);
    ck_assert_msg(line == NULL, "disabled batch-mixing written: %s", line);
#ifdef NNTOP_FAULT_INJECTION
    /* The planted view/transpose bug in a dense backward. */
    for (int layer = 0; layer <= 2; layer += 2) {
        nn_fault_plant(NN_FAULT_BATCH_MIX, layer);
        line = depcheck_line(spiral_yaml);
        nn_fault_plant(NN_FAULT_NONE, 0);
        ck_assert_msg(strstr(line, "\"rule\":\"batch-mixing\",\"severity\":\"error\",\"stage\":1,")
                      != NULL && strstr(line, "\"state\":\"raised\"") != NULL,
                      "planted batch mixing in layer %d: %s", layer, line);
        double mixed;
        ck_assert_int_eq(runlog_event_get_num(line, "value", &mixed), 0);
        ck_assert_msg(mixed >= 1, "%g samples mixed", mixed);
        free(line);
    }
#endif
}
END_TEST

Suite *
trainer_suite(void);

Suite *
trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, test_trainer__step_counts);
    tcase_add_test(core, test_trainer__lr_change);
    tcase_add_test(core, test_trainer__refused);
    tcase_add_test(core, test_trainer__quit_while_paused);
    tcase_add_test(core, test_trainer__save_eval_gradcheck_paused);
    tcase_add_test(core, test_trainer__view);
    tcase_add_test(core, test_trainer__view_refused_flat);
    tcase_add_test(core, test_trainer__eval_without_val);
    tcase_add_test(core, test_trainer__batch_change);
    tcase_add_test(core, test_trainer__momentum_wd_change);
    tcase_add_test(core, test_trainer__telemetry_change);
    tcase_add_test(core, test_trainer__reproduce);
    tcase_add_test(core, test_trainer__resume);
    tcase_add_test(core, test_trainer__resume_after_batch_change);
    tcase_add_test(core, test_trainer__resume_with_dropout);
    tcase_add_test(core, test_trainer__determinism);
    tcase_add_test(core, test_trainer__threads);
    tcase_add_test(core, test_trainer__replay);
    tcase_add_test(core, test_trainer__replay_events);
    tcase_add_test(core, test_trainer__replay_vocabulary);
    tcase_add_test(core, test_trainer__numbering);
    tcase_add_test(core, test_trainer__headless);
    tcase_add_test(core, test_trainer__headless_signal);
    suite_add_tcase(s, core);

    TCase *tools = tcase_create("tools");
    tcase_add_checked_fixture(tools, setup, teardown);
    tcase_set_timeout(tools, 120);
    tcase_add_test(tools, test_trainer__overfit_spiral);
#ifndef TRAINER_TEST_SANITIZED
    tcase_add_test(tools, test_trainer__cannot_overfit_fashion);
#endif
    tcase_add_test(tools, test_trainer__baseline);
    tcase_add_test(tools, test_trainer__depcheck);
    suite_add_tcase(s, tools);

    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, test_trainer__dropped_records);
    tcase_add_test(limits, test_trainer__free_running);
    tcase_add_test(limits, test_trainer__slow_consumer);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, test_trainer__class_mismatch);
    tcase_add_test(errors, test_trainer__no_log_save_refused);
    tcase_add_test(errors, test_trainer__checkpoint_rng);
    tcase_add_test(errors, test_trainer__nonfinite_update);
    tcase_add_test(errors, test_trainer__nonfinite_gradient);
    tcase_add_test(errors, test_trainer__nonfinite_init);
    tcase_add_test(errors, test_trainer__nonfinite_keep_going);
    suite_add_tcase(s, errors);

    /* Real data and PyTorch: slow, and skipped when not installed. */
    TCase *real = tcase_create("real");
    tcase_add_checked_fixture(real, setup, teardown);
    tcase_set_timeout(real, 300);
#ifdef TRAINER_TEST_SANITIZED
    /* Minutes under a sanitizer, and the plain tree of the same CI run
     * runs them: left out here, and said so instead of passing empty. */
    printf("left out of this sanitizer build (the plain build runs them): "
           "test_trainer__cannot_overfit_fashion, test_trainer__fashion_mnist_epoch, "
           "test_trainer__torch_load\n");
#else
    tcase_add_test(real, test_trainer__fashion_mnist_epoch);
    tcase_add_test(real, test_trainer__torch_load);
#endif
    suite_add_tcase(s, real);
    return s;
}

int
main(void)
{
    return check_run(trainer_suite());
}
