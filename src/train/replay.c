/*
 * replay.c - plays a run directory back as a telemetry feed.  Records are
 * made lazily, one per poll, by merging metrics.csv, layers.csv and
 * events.jsonl in step order, so a long run costs its files' rows, not a
 * record each.  It does not re-run anything: histograms were never logged
 * and so are empty in a replay.
 */
#include "config.h"

#include "nntop/replay.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/cfg.h"
#include "nntop/nn.h"
#include "nntop/runlog.h"
#include "nntop/stats.h"
#include "nntop/xmem.h"

enum replay_phase { PH_INFO, PH_STREAM, PH_STATE, PH_END };

struct replay {
    struct cfg cfg;
    struct tm_info info;
    struct metrics_row *metrics;
    size_t nmetrics, mi;
    struct layer_row *layers;
    size_t nlayers, li;
    struct runlog_event_rec *events;
    size_t nevents, ei;
    enum replay_phase phase;
    long group_step;            /* step of the layers group being sent, -1 none */
    struct tm_state last;       /* what the final state record says */
};

static int
event_int(const struct runlog_event_rec *ev, const char *key, long *out)
{
    double v;
    if (runlog_event_get_num(ev->line, key, &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

/* Rebuild the run's model layout from its config and its start event. */
static int
build_info(struct replay *r, const char *run_dir, char **cause)
{
    struct tm_info *info = &r->info;
    snprintf(info->name, sizeof info->name, "%s", r->cfg.name);
    snprintf(info->run_dir, sizeof info->run_dir, "%s", run_dir);
    info->replay = true;
    const struct runlog_event_rec *start = NULL;
    for (size_t i = 0; i < r->nevents && start == NULL; i++)
        if (runlog_event_vocab(&r->events[i]) == TM_EVT_START)
            start = &r->events[i];
    if (start == NULL) {
        *cause = xasprintf("%s/events.jsonl: no \"start\" event: not a run nntop wrote", run_dir);
        return -1;
    }
    long in = 0, classes = 0;
    if (event_int(start, "in", &in) != 0 || event_int(start, "classes", &classes) != 0 ||
        in < 1 || classes < 1) {
        *cause = xasprintf("%s/events.jsonl: the start event lacks \"in\" and \"classes\"",
                           run_dir);
        return -1;
    }
    event_int(start, "train_n", &info->train_n);
    event_int(start, "val_n", &info->val_n);
    event_int(start, "test_n", &info->test_n);
    event_int(start, "total_steps", &info->total_steps);
    event_int(start, "steps_per_epoch", &info->steps_per_epoch);
    runlog_event_get_num(start->line, "expected_loss", &info->expected_loss);
    info->in_width = (int)in;
    info->classes = (int)classes;

    struct model_spec spec = r->cfg.model;
    spec.in = (int)in;
    /* Runs before image layers carry no shape: flat rows. */
    long shape[3] = {0, 0, 0};
    event_int(start, "in_c", &shape[0]);
    event_int(start, "in_h", &shape[1]);
    event_int(start, "in_w", &shape[2]);
    spec.in_c = (int)shape[0];
    spec.in_h = (int)shape[1];
    spec.in_w = (int)shape[2];
    struct model *m = model_new(&spec, 1, cause);
    if (m == NULL)
        return -1;
    stats_describe_model(info, m);
    model_free(m);
    return 0;
}

int
replay_open(struct replay **out, const char *run_dir, char **cause)
{
    if (runlog_check_format(run_dir, cause) != 0)
        return -1;
    struct replay *r = xcalloc(1, sizeof *r);
    struct cfg_errs errs = {0};
    char path[DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    cfg_defaults(&r->cfg);
    if (cfg_load_file(&r->cfg, path, &errs) != 0) {
        const struct cfg_err *e = &errs.e[0];
        if (e->line > 0)
            *cause = xasprintf("%s:%u:%u: %s", e->file, e->line, e->col, e->msg);
        else
            *cause = xasprintf("%s: %s", e->file, e->msg);
        cfg_errs_fini(&errs);
        goto fail;
    }
    cfg_errs_fini(&errs);
    if (runlog_read_metrics(run_dir, &r->metrics, &r->nmetrics, cause) != 0 ||
        runlog_read_layers(run_dir, &r->layers, &r->nlayers, cause) != 0 ||
        runlog_read_events(run_dir, &r->events, &r->nevents, cause) != 0 ||
        build_info(r, run_dir, cause) != 0)
        goto fail;

    /* The final state: the last train row's step and settings. */
    r->last.state = TM_DONE;
    r->last.base_lr = r->cfg.optim.lr;
    r->last.lr = r->cfg.optim.lr;
    r->last.clip_kind = stats_clip_to_tm(r->cfg.clip.kind);
    r->last.clip_value = r->cfg.clip.value;
    r->last.momentum = r->cfg.optim.momentum;
    r->last.weight_decay = r->cfg.optim.weight_decay;
    r->last.batch_size = r->cfg.train.batch_size;
    r->last.telemetry_every = r->cfg.telemetry.every;
    for (size_t i = 0; i < r->nmetrics; i++) {
        const struct metrics_row *m = &r->metrics[i];
        if (m->kind != METRICS_TRAIN)
            continue;
        r->last.step = m->step;
        r->last.epoch = m->epoch;
        r->last.lr = m->lr;
    }
    for (size_t i = 0; i < r->nevents; i++) {
        double v;
        char kind[16];
        const struct runlog_event_rec *ev = &r->events[i];
        bool have = runlog_event_get_num(ev->line, "value", &v) == 0;
        switch (runlog_event_vocab(ev)) {
        case TM_EVT_CLIP:
            if (runlog_event_get_str(ev->line, "kind", kind, sizeof kind) != 0)
                break;
            r->last.clip_kind = tm_clip_parse(kind) >= 0 ? tm_clip_parse(kind) : TM_CLIP_NONE;
            if (have && v > 0)
                r->last.clip_value = v;
            break;
        case TM_EVT_MOMENTUM:
            if (have)
                r->last.momentum = v;
            break;
        case TM_EVT_WEIGHT_DECAY:
            if (have)
                r->last.weight_decay = v;
            break;
        case TM_EVT_BATCH_SIZE:
            if (have)
                r->last.batch_size = (int)v;
            break;
        case TM_EVT_NONFINITE:
            r->last.state = TM_FAILED;
            break;
        default:
            break;
        }
    }
    r->group_step = -1;
    *out = r;
    return 0;
fail:
    replay_free(r);
    *out = NULL;
    return -1;
}

static int
tensor_index(const struct replay *r, const char *name)
{
    for (int k = 0; k < r->info.ntensors; k++)
        if (strcmp(r->info.tensor_names[k], name) == 0)
            return k;
    return -1;
}

static float
or_zero(float v)
{
    return isnan(v) ? 0.0f : v;
}

/* One layers.csv row as its record; false for a row naming no known tensor. */
static bool
layer_record(const struct replay *r, const struct layer_row *row, struct tm_record *out)
{
    if (row->tensor[0] == '\0') {
        struct tm_layer *l = &out->u.layer;
        memset(l, 0, sizeof *l);
        out->type = TM_LAYER;
        l->step = row->step;
        l->index = row->layer;
        l->act_mean = or_zero(row->act_mean);
        l->act_std = or_zero(row->act_std);
        l->act_min = or_zero(row->act_min);
        l->act_max = or_zero(row->act_max);
        l->dead_frac = isnan(row->dead_frac) ? -1.0f : row->dead_frac;
        l->sat_frac = isnan(row->sat_frac) ? -1.0f : row->sat_frac;
        l->nan_count = (uint32_t)row->nan_count;
        l->inf_count = (uint32_t)row->inf_count;
        return true;
    }
    int k = tensor_index(r, row->tensor);
    if (k < 0)
        return false;
    struct tm_tensor *t = &out->u.tensor;
    memset(t, 0, sizeof *t);
    out->type = TM_TENSOR;
    t->step = row->step;
    t->index = k;
    t->layer = row->layer;
    t->w_norm = or_zero(row->w_norm);
    t->g_norm = or_zero(row->g_norm);
    t->update_norm = or_zero(row->update_norm);
    t->update_ratio = or_zero(row->update_ratio);
    t->nan_count = (uint32_t)row->nan_count;
    t->inf_count = (uint32_t)row->inf_count;
    return true;
}

static void
metrics_record(const struct replay *r, const struct metrics_row *m, struct tm_record *out)
{
    if (m->kind == METRICS_TRAIN) {
        out->type = TM_STEP;
        out->u.step = (struct tm_step){
            .step = m->step,            /* global step: updates done, this one included */
            .epoch = m->epoch,
            .loss = m->loss,
            .reg_loss = or_zero(m->reg_loss),
            .accuracy = m->accuracy,
            .lr = (float)m->lr,
            .grad_norm = m->grad_norm,
            .clipped = m->clipped,
            .samples_per_s = (float)(isnan(m->samples_per_s) ? 0.0 : m->samples_per_s),
        };
    } else {
        out->type = TM_EVAL;
        out->u.eval = (struct tm_eval){
            .step = m->step,
            .epoch = m->epoch,
            .split = m->kind == METRICS_TEST ? TM_SPLIT_TEST : TM_SPLIT_VAL,
            .loss = m->loss,
            .accuracy = m->accuracy,
            .n = m->kind == METRICS_TEST ? r->info.test_n : r->info.val_n,
        };
    }
}

/*
 * One events.jsonl line as the record the trainer published live: the
 * vocabulary gives kind and severity; a line's own "severity" (a doctor
 * finding's) wins.  A type the vocabulary does not know shows as info.
 */
/*
 * A doctor finding's line as the TM_FINDING it was live (the consumer
 * shows and counts it the same way).  Its remedy is not replayed: a
 * replay takes no commands.
 */
static void
finding_record(const struct runlog_event_rec *ev, struct tm_record *out)
{
    static const char *const states[TM_FINDING_STATE_COUNT] = {"raised", "cleared", "passed"};
    struct tm_finding *f = &out->u.finding;
    memset(f, 0, sizeof *f);
    out->type = TM_FINDING;
    f->step = ev->step;
    f->layer = f->tensor = -1;
    f->remedy.kind = -1;
    char buf[TM_NAME_MAX];
    double x;
    runlog_event_get_str(ev->line, "rule", f->rule, sizeof f->rule);
    f->severity = tm_event_def_at(TM_EVT_FINDING)->severity;
    if (runlog_event_get_str(ev->line, "severity", buf, sizeof buf) == 0 &&
        tm_severity_parse(buf) >= 0)
        f->severity = tm_severity_parse(buf);
    if (runlog_event_get_str(ev->line, "state", buf, sizeof buf) == 0)
        for (int k = 0; k < TM_FINDING_STATE_COUNT; k++)
            if (strcmp(buf, states[k]) == 0)
                f->state = k;
    if (runlog_event_get_num(ev->line, "stage", &x) == 0)
        f->stage = (int)x;
    if (runlog_event_get_num(ev->line, "layer", &x) == 0)
        f->layer = (int)x;
    if (runlog_event_get_str(ev->line, "tensor", f->tensor_name, sizeof f->tensor_name) == 0)
        f->tensor = 0;
    f->raised_step = runlog_event_get_num(ev->line, "raised_step", &x) == 0 ? (long)x : f->step;
    if (runlog_event_get_num(ev->line, "value", &x) == 0)
        f->value = x;
    if (runlog_event_get_num(ev->line, "threshold", &x) == 0)
        f->threshold = x;
    runlog_event_get_str(ev->line, "text", f->text, sizeof f->text);
    runlog_event_get_str(ev->line, "advice", f->advice, sizeof f->advice);
    runlog_event_get_str(ev->line, "remedy", f->remedy_text, sizeof f->remedy_text);
}

static void
event_record(const struct runlog_event_rec *ev, struct tm_record *out)
{
    if (runlog_event_vocab(ev) == TM_EVT_FINDING) {
        finding_record(ev, out);
        return;
    }
    struct tm_event *e = &out->u.event;
    memset(e, 0, sizeof *e);
    out->type = TM_EVENT;
    e->step = ev->step;
    e->wall_s = ev->wall_s;
    e->type = runlog_event_vocab(ev);
    const struct tm_event_def *def = tm_event_def_at(e->type);
    e->kind = def != NULL ? def->kind : TM_EV_INFO;
    e->severity = def != NULL ? def->severity : TM_SEV_OK;
    char sev[16];
    if (runlog_event_get_str(ev->line, "severity", sev, sizeof sev) == 0 &&
        tm_severity_parse(sev) >= 0)
        e->severity = tm_severity_parse(sev);
    char file[TM_TEXT_MAX - 8];
    if (runlog_event_get_str(ev->line, "text", e->text, sizeof e->text) == 0)
        return;
    /* Logs of older versions: a checkpoint line without a text. */
    if (e->kind == TM_EV_CHECKPOINT &&
        runlog_event_get_str(ev->line, "file", file, sizeof file) == 0)
        snprintf(e->text, sizeof e->text, "saved %s", file);
    else
        snprintf(e->text, sizeof e->text, "%s", ev->type);
}

static bool
replay_poll(void *self, struct tm_record *out)
{
    struct replay *r = self;
    switch (r->phase) {
    case PH_INFO:
        out->type = TM_INFO;
        out->u.info = r->info;
        r->phase = PH_STREAM;
        return true;
    case PH_STREAM:
        break;
    case PH_STATE:
        out->type = TM_STATE;
        out->u.state = r->last;
        r->phase = PH_END;
        return true;
    case PH_END:
        return false;
    }
    for (;;) {
        /* A layers group in progress runs to its end, then closes. */
        if (r->group_step >= 0) {
            if (r->li < r->nlayers && r->layers[r->li].step == r->group_step) {
                if (layer_record(r, &r->layers[r->li++], out))
                    return true;
                continue;
            }
            out->type = TM_SNAPSHOT;
            out->u.snapshot = (struct tm_snapshot){
                .step = r->group_step, .nlayers = r->info.nlayers, .ntensors = r->info.ntensors};
            r->group_step = -1;
            return true;
        }
        /*
         * Merge the three files in the order the trainer wrote them.
         * Every file counts global steps (updates done): train row k is
         * the k-th update, its snapshot (layers.csv step k) and an
         * evaluation at step k follow it, and the events of step k
         * (after k updates) come before train row k + 1.  Keys count
         * quarter steps.
         */
        long long ek = r->ei < r->nevents ? 4LL * r->events[r->ei].step : LLONG_MAX;
        long long mk = LLONG_MAX;
        if (r->mi < r->nmetrics) {
            const struct metrics_row *m = &r->metrics[r->mi];
            mk = 4LL * (m->step - 1) + (m->kind == METRICS_TRAIN ? 1 : 3);
        }
        long long lk = r->li < r->nlayers ? 4LL * (r->layers[r->li].step - 1) + 2 : LLONG_MAX;
        if (ek == LLONG_MAX && mk == LLONG_MAX && lk == LLONG_MAX) {
            r->phase = PH_STATE;
            return replay_poll(self, out);
        }
        if (ek <= mk && ek <= lk) {
            event_record(&r->events[r->ei++], out);
            return true;
        }
        if (mk <= lk) {
            metrics_record(r, &r->metrics[r->mi++], out);
            return true;
        }
        r->group_step = r->layers[r->li].step;
    }
}

static int
replay_send(void *self, const struct tm_command *cmd, char *why, size_t len)
{
    snprintf(why, len, "read-only in replay");
    return -1;
}

static uint64_t
replay_dropped(void *self)
{
    return 0;
}

static bool
replay_finished(void *self)
{
    const struct replay *r = self;
    return r->phase == PH_END;
}

static const struct feed_class replay_feed_class = {
    .poll = replay_poll,
    .send = replay_send,
    .dropped = replay_dropped,
    .finished = replay_finished,
};

struct feed
replay_feed(struct replay *r)
{
    return (struct feed){.cls = &replay_feed_class, .self = r};
}

void
replay_free(struct replay *r)
{
    if (r == NULL)
        return;
    free(r->metrics);
    free(r->layers);
    runlog_events_free(r->events, r->nevents);
    free(r);
}
