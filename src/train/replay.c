/*
 * replay.c - plays a run directory back as a telemetry feed.  Records are
 * made lazily, one per poll, by merging metrics.csv, layers.csv and
 * events.jsonl in step order, so a long run costs its files' rows, not a
 * record each; histograms come from histograms.csv when the run has one.
 * It does not re-run anything.
 *
 * The same feed follows a run another process is still writing
 * (--attach): the files are read on from where they stopped whenever
 * inotify reports a change in the directory, and at least every
 * FOLLOW_POLL_S in any case (inotify misses writes from other hosts on
 * a shared file system), so the dashboard is at most FOLLOW_POLL_S plus
 * one frame behind the disk.  While the writer is alive an event or a
 * snapshot is held until the train row of its step has been read, so the
 * merge stays in step order although the writer flushes its files at
 * different times (held no longer than STALE_S of quiet files, so a
 * writer that never flushes its rows still shows its events).  The
 * writer is the last "pid" in env.txt; it is gone when that process no
 * longer exists (or is a zombie) on this host, or when the last segment
 * ended with "done" or "quit".  A resumed run appends a new segment and
 * a new pid, and the feed follows it.
 * histograms.csv is read on the same way; a snapshot whose histograms are
 * not on disk yet is shown with the last ones the dashboard has.
 */
#include "config.h"

#include "nntop/replay.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_SYS_INOTIFY_H
#include <sys/inotify.h>
#endif

#include "nntop/cfg.h"
#include "nntop/control.h"
#include "nntop/doctor.h"
#include "nntop/mono.h"
#include "nntop/nn.h"
#include "nntop/runlog.h"
#include "nntop/stats.h"
#include "nntop/xmem.h"

enum replay_phase { PH_INFO, PH_STREAM, PH_STATE, PH_END };

#define FOLLOW_POLL_S 0.25      /* longest wait between two looks at a followed run */
#define STALE_S 1.5             /* files quiet this long: show what is held back */

/* The files a follower reads on. */
enum follow_file { FF_METRICS, FF_LAYERS, FF_EVENTS, FF_COUNT };

struct follow {
    struct runlog_cursor cur[FF_COUNT];
    size_t cap[FF_COUNT];
    bool broken[FF_COUNT];      /* a malformed row: this file is no longer read */
    bool hists_broken;          /* histograms.csv was damaged: no longer read */
    long long env_size;         /* env.txt's size when its pid was read */
    long pid;                   /* the writer: env.txt's last "pid", 0 unknown */
    bool same_host;             /* env.txt's "host" is this host: pid can be checked */
    bool ended;                 /* the last segment has "done" or "quit" */
    bool gone;                  /* the writer is gone (as last looked at) */
    bool gone_told;             /* the "writer gone" event was sent for this absence */
    long frontier;              /* highest train step read */
    double next_look;           /* monotonic time of the next look without inotify news */
    double last_news;           /* monotonic time new rows were last read */
    int inotify_fd;             /* -1 without inotify */
    int sock;                   /* connection to the writer's control socket, -1 none */
    bool state_dirty;           /* a TM_STATE is due once the records so far are out */
    char note[TM_TEXT_MAX];     /* an event to send (writer gone / back, a broken file) */
    int note_severity;
};

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
    struct hist_row *hists;     /* histograms.csv, in file (step) order; NULL when absent */
    size_t nhists, hists_cap;
    long hists_off;             /* bytes of histograms.csv read (whole lines) */
    struct tm_state last;       /* what the final state record says */
    char *run_dir;
    struct follow *fw;          /* non-NULL when following a run being written */
    /*
     * The viewer's doctor, for a run whose writer journals no findings of
     * its own (a PyTorch loop through nntop_torch): fed every record the
     * feed yields, its findings wait in found[] and go out next.  NULL
     * when the writer ran the doctor (env.txt "doctor: logged", or finding
     * lines in events.jsonl) or the run's config turns it off.
     */
    struct doctor *doc;
    struct tm_finding *found;
    size_t nfound, found_head, found_cap;
};

/* One line of histograms.csv. */
struct hist_row {
    long step;
    int what;                   /* enum ui_hist_kind's order: 0 act, 1 weight, 2 grad */
    int index;                  /* layer (act) or tensor (weight, grad) */
    struct tm_hist h;
};

/* One line of histograms.csv parsed into *row; false for the header or a bad line. */
static bool
parse_hist(const char *line, struct hist_row *row)
{
    struct runlog_hist_row rr;
    memset(row, 0, sizeof *row);
    if (!runlog_parse_hist_line(line, &rr))
        return false;
    row->step = rr.step;
    row->what = rr.what;
    row->index = rr.index;
    row->h.lo = rr.lo;
    row->h.hi = rr.hi;
    row->h.under = rr.under;
    row->h.over = rr.over;
    row->h.total = rr.total;
    _Static_assert(RUNLOG_HIST_MAX_BINS == TM_MAX_BINS, "histograms.csv rows fit a tm_hist");
    row->h.nbins = (uint16_t)rr.nbins;
    memcpy(row->h.counts, rr.counts, (size_t)rr.nbins * sizeof rr.counts[0]);
    return true;
}

/*
 * Read run_dir/histograms.csv (nntop(1), FILES) on from r->hists_off,
 * whole lines only (a line still being written is read next time).  A
 * run logged before the file existed, or a line that does not parse, just
 * has fewer histograms (the dashboard keeps the last ones it has).  A line
 * longer than RUNLOG_LINE_MAX, or rows beyond runlog_read_max(), are
 * damage: -1 with *cause naming the file (0 otherwise).
 */
static int
read_hists(struct replay *r, const char *run_dir, char **cause)
{
    char path[DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/histograms.csv", run_dir);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && (long long)st.st_size < r->hists_off) {
        r->nhists = 0;          /* cut back (a resume from an older checkpoint): read anew */
        r->hists_off = 0;
    }
    if (fseek(fp, r->hists_off, SEEK_SET) != 0) {
        fclose(fp);
        return 0;
    }
    char *line = NULL;
    size_t len = 0;
    long n;
    int rc = 0;
    uint64_t max = runlog_read_max();
    while ((n = runlog_getline(&line, &len, fp, RUNLOG_LINE_MAX)) > 0) {
        if (line[n - 1] != '\n')
            break;              /* torn: the writer has not finished it */
        r->hists_off += n;
        struct hist_row row;
        if (!parse_hist(line, &row))
            continue;
        if (r->nhists == r->hists_cap) {
            size_t want = r->hists_cap ? r->hists_cap * 2 : 256;
            if ((uint64_t)(r->nhists + 1) * sizeof *r->hists > max) {
                *cause = xasprintf("%s: the rows read need %llu bytes, more than "
                                   "data.max_bytes (%llu)", path,
                                   (unsigned long long)((r->nhists + 1) * sizeof *r->hists),
                                   (unsigned long long)max);
                rc = -1;
                break;
            }
            if ((uint64_t)want * sizeof *r->hists > max)
                want = (size_t)(max / sizeof *r->hists);
            r->hists_cap = want;
            r->hists = xrealloc(r->hists, r->hists_cap * sizeof *r->hists);
        }
        r->hists[r->nhists++] = row;
    }
    if (n == -2) {
        *cause = xasprintf("%s: a line longer than %zu bytes after byte %ld", path,
                           RUNLOG_LINE_MAX, r->hists_off);
        rc = -1;
    }
    free(line);
    fclose(fp);
    return rc;
}

/* The histogram (what, index) of the snapshot at step, or NULL. */
static const struct tm_hist *
find_hist(const struct replay *r, long step, int what, int index)
{
    /* Rows are in step order: the first of this step by bisection. */
    size_t lo = 0, hi = r->nhists;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->hists[mid].step < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < r->nhists && r->hists[i].step == step; i++)
        if (r->hists[i].what == what && r->hists[i].index == index)
            return &r->hists[i].h;
    return NULL;
}

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
    /* The optimizer as configured: the doctor's start rules judge its lr. */
    stats_describe_optim(info, r->cfg.optim.kind, r->cfg.sched.kind);
    info->warmup = r->cfg.sched.warmup;
    info->min_lr = r->cfg.sched.min_lr;
    info->lr = r->cfg.optim.lr;
    return 0;
}

/*
 * What an event line changes in the run's state.  live: a followed run,
 * where pause, resume and the end of a segment show too (a replay shows
 * the end state of a finished run).
 */
static void
state_apply_event(struct tm_state *s, const struct runlog_event_rec *ev, bool live)
{
    double v;
    char kind[16];
    bool have = runlog_event_get_num(ev->line, "value", &v) == 0;
    switch (runlog_event_vocab(ev)) {
    case TM_EVT_CLIP:
        if (runlog_event_get_str(ev->line, "kind", kind, sizeof kind) != 0)
            break;
        s->clip_kind = tm_clip_parse(kind) >= 0 ? tm_clip_parse(kind) : TM_CLIP_NONE;
        if (have && v > 0)
            s->clip_value = v;
        break;
    case TM_EVT_MOMENTUM:
        if (have)
            s->momentum = v;
        break;
    case TM_EVT_WEIGHT_DECAY:
        if (have)
            s->weight_decay = v;
        break;
    case TM_EVT_BATCH_SIZE:
        if (have)
            s->batch_size = (int)v;
        break;
    case TM_EVT_NONFINITE:
        s->state = TM_FAILED;
        break;
    case TM_EVT_LR:
        if (live && have)
            s->lr = s->base_lr = v;
        break;
    case TM_EVT_TELEMETRY:
        if (live && have)
            s->telemetry_every = (long)v;
        break;
    case TM_EVT_PAUSE:
    case TM_EVT_STEP:
        if (live)
            s->state = TM_PAUSED;
        break;
    case TM_EVT_RESUME:
    case TM_EVT_START:
    case TM_EVT_RESUME_RUN:
        if (live)
            s->state = TM_RUNNING;
        break;
    case TM_EVT_DONE:
    case TM_EVT_QUIT:
        if (live && s->state != TM_FAILED)
            s->state = TM_DONE;
        break;
    default:
        break;
    }
}

/*
 * Read the run in run_dir into a new replay.  follow: read the files as a
 * follower (r->fw made here), so reading on later starts where this read
 * stopped and a row appended meanwhile is neither lost nor read twice.
 */
static void on_viewer_finding(void *ctx, const struct tm_finding *f);

/*
 * Did the run's writer run nntop's doctor and journal its findings?
 * env.txt says "doctor: logged" (nntop writes it), or, for a run written
 * before that key existed, events.jsonl already holds a finding.
 */
static bool
writer_ran_doctor(const struct replay *r, const char *run_dir)
{
    char path[DATA_PATH_MAX + 32], line[512];
    bool logged = false;
    snprintf(path, sizeof path, "%s/env.txt", run_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            if (strncmp(line, "doctor: ", 8) == 0)
                logged = strcmp(line + 8, "logged") == 0;
        }
        fclose(f);
    }
    for (size_t i = 0; i < r->nevents && !logged; i++)
        logged = runlog_event_vocab(&r->events[i]) == TM_EVT_FINDING;
    return logged;
}

static int
open_run(struct replay **out, const char *run_dir, bool follow, char **cause)
{
    if (runlog_check_format(run_dir, cause) != 0)
        return -1;
    struct replay *r = xcalloc(1, sizeof *r);
    if (follow) {
        r->fw = xcalloc(1, sizeof *r->fw);
        r->fw->inotify_fd = -1;
        r->fw->sock = -1;
    }
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
    /* The run's own data.max_bytes bounds what its files may take, but never
     * above the default: the directory read is the input, not the user's word. */
    uint64_t max = r->cfg.data.max_bytes;
    runlog_set_read_max(max > 0 && max < DATA_MAX_BYTES_DEFAULT ? max : 0);
    struct follow *fw = r->fw;
    if (fw != NULL) {
        if (runlog_follow_metrics(run_dir, &fw->cur[FF_METRICS], &r->metrics, &r->nmetrics,
                                  &fw->cap[FF_METRICS], cause) != 0 ||
            runlog_follow_layers(run_dir, &fw->cur[FF_LAYERS], &r->layers, &r->nlayers,
                                 &fw->cap[FF_LAYERS], cause) != 0 ||
            runlog_follow_events(run_dir, &fw->cur[FF_EVENTS], &r->events, &r->nevents,
                                 &fw->cap[FF_EVENTS], cause) != 0)
            goto fail;
    } else if (runlog_read_metrics(run_dir, &r->metrics, &r->nmetrics, cause) != 0 ||
               runlog_read_layers(run_dir, &r->layers, &r->nlayers, cause) != 0 ||
               runlog_read_events(run_dir, &r->events, &r->nevents, cause) != 0) {
        goto fail;
    }
    if (build_info(r, run_dir, cause) != 0)
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
    for (size_t i = 0; i < r->nevents; i++)
        state_apply_event(&r->last, &r->events[i], false);
    r->group_step = -1;
    if (read_hists(r, run_dir, cause) != 0)
        goto fail;
    r->run_dir = xstrdup(run_dir);
    if (r->cfg.doctor.enabled && !writer_ran_doctor(r, run_dir))
        r->doc = doctor_new(&r->cfg.doctor, on_viewer_finding, r);
    *out = r;
    return 0;
fail:
    replay_free(r);
    *out = NULL;
    return -1;
}

int
replay_open(struct replay **out, const char *run_dir, char **cause)
{
    return open_run(out, run_dir, false, cause);
}


/* ---- following a run being written --------------------------------------- */

/* Process pid exists on this host and is not a zombie waiting for its parent. */
static bool
process_alive(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
        return false;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;            /* no /proc: kill() is all there is */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ...": the state follows the last ')'. */
    const char *paren = strrchr(buf, ')');
    return paren == NULL || paren[1] != ' ' || paren[2] != 'Z';
}

/* Read the writer's pid and host from env.txt when it changed (a resume appends them). */
static void
follow_read_env(struct replay *r)
{
    struct follow *fw = r->fw;
    char path[DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/env.txt", r->run_dir);
    struct stat st;
    if (stat(path, &st) != 0 || (long long)st.st_size == fw->env_size)
        return;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fw->env_size = (long long)st.st_size;
    char line[512], host[256] = "", me[256] = "";
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "pid: ", 5) == 0)
            fw->pid = strtol(line + 5, NULL, 10);
        else if (strncmp(line, "host: ", 6) == 0)
            snprintf(host, sizeof host, "%.255s", line + 6);
    }
    fclose(f);
    if (gethostname(me, sizeof me) == 0) {
        me[sizeof me - 1] = '\0';
        fw->same_host = host[0] != '\0' && strcmp(host, me) == 0;
    }
}

/*
 * A followed file that got shorter was cut (a --resume truncates the rows
 * after its checkpoint): read it again from the start, keeping only the
 * rows after the last step read from it, so nothing is shown twice.
 */
static bool
follow_was_cut(const struct replay *r, const char *name, const struct runlog_cursor *cur)
{
    char path[DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", r->run_dir, name);
    struct stat st;
    return stat(path, &st) == 0 && (long long)st.st_size < cur->off;
}

static void
follow_note(struct follow *fw, int severity, const char *text)
{
    snprintf(fw->note, sizeof fw->note, "%s", text);
    fw->note_severity = severity;
}

/* Read on in every file; returns true when something new was read. */
static bool
follow_read(struct replay *r)
{
    struct follow *fw = r->fw;
    static const char *const names[FF_COUNT] = {"metrics.csv", "layers.csv", "events.jsonl"};
    size_t before[FF_COUNT] = {r->nmetrics, r->nlayers, r->nevents};
    long floor[FF_COUNT] = {LONG_MIN, LONG_MIN, LONG_MIN};
    for (int k = 0; k < FF_COUNT; k++) {
        if (fw->broken[k] || !follow_was_cut(r, names[k], &fw->cur[k]))
            continue;
        /* Rows at or below the last step read are dropped after the re-read. */
        floor[k] = k == FF_METRICS ? (r->nmetrics ? r->metrics[r->nmetrics - 1].step : -1)
                 : k == FF_LAYERS  ? (r->nlayers ? r->layers[r->nlayers - 1].step : -1)
                                   : (r->nevents ? r->events[r->nevents - 1].step : -1);
        memset(&fw->cur[k], 0, sizeof fw->cur[k]);
    }
    char *cause = NULL;
    if (!fw->hists_broken && read_hists(r, r->run_dir, &cause) != 0) {
        fw->hists_broken = true;
        char text[TM_TEXT_MAX];
        snprintf(text, sizeof text, "no longer following histograms.csv: %s", cause);
        follow_note(fw, TM_SEV_ERROR, text);
        free(cause);
        cause = NULL;
    }
    int rc[FF_COUNT] = {0, 0, 0};
    if (!fw->broken[FF_METRICS])
        rc[FF_METRICS] = runlog_follow_metrics(r->run_dir, &fw->cur[FF_METRICS], &r->metrics,
                                               &r->nmetrics, &fw->cap[FF_METRICS], &cause);
    if (rc[FF_METRICS] == 0 && !fw->broken[FF_LAYERS])
        rc[FF_LAYERS] = runlog_follow_layers(r->run_dir, &fw->cur[FF_LAYERS], &r->layers,
                                             &r->nlayers, &fw->cap[FF_LAYERS], &cause);
    if (rc[FF_METRICS] == 0 && rc[FF_LAYERS] == 0 && !fw->broken[FF_EVENTS])
        rc[FF_EVENTS] = runlog_follow_events(r->run_dir, &fw->cur[FF_EVENTS], &r->events,
                                             &r->nevents, &fw->cap[FF_EVENTS], &cause);
    for (int k = 0; k < FF_COUNT; k++)
        if (rc[k] < 0) {
            fw->broken[k] = true;
            char text[TM_TEXT_MAX];
            snprintf(text, sizeof text, "no longer following %s: %s", names[k], cause);
            follow_note(fw, TM_SEV_ERROR, text);
        }
    free(cause);
    if (floor[FF_METRICS] != LONG_MIN) {
        size_t w = before[FF_METRICS];
        for (size_t i = before[FF_METRICS]; i < r->nmetrics; i++)
            if (r->metrics[i].step > floor[FF_METRICS])
                r->metrics[w++] = r->metrics[i];
        r->nmetrics = w;
    }
    if (floor[FF_LAYERS] != LONG_MIN) {
        size_t w = before[FF_LAYERS];
        for (size_t i = before[FF_LAYERS]; i < r->nlayers; i++)
            if (r->layers[i].step > floor[FF_LAYERS])
                r->layers[w++] = r->layers[i];
        r->nlayers = w;
    }
    if (floor[FF_EVENTS] != LONG_MIN) {
        size_t w = before[FF_EVENTS];
        for (size_t i = before[FF_EVENTS]; i < r->nevents; i++) {
            if (r->events[i].step > floor[FF_EVENTS])
                r->events[w++] = r->events[i];
            else
                free(r->events[i].line);
        }
        r->nevents = w;
    }
    for (size_t i = before[FF_METRICS]; i < r->nmetrics; i++)
        if (r->metrics[i].kind == METRICS_TRAIN && r->metrics[i].step > fw->frontier)
            fw->frontier = r->metrics[i].step;
    for (size_t i = before[FF_EVENTS]; i < r->nevents; i++) {
        int t = runlog_event_vocab(&r->events[i]);
        if (t == TM_EVT_START || t == TM_EVT_RESUME_RUN)
            fw->ended = false;
        else if (t == TM_EVT_DONE || t == TM_EVT_QUIT)
            fw->ended = true;
    }
    return r->nmetrics != before[FF_METRICS] || r->nlayers != before[FF_LAYERS] ||
           r->nevents != before[FF_EVENTS];
}

/* Is the writer still there?  Sets a note and a state when that changed. */
static void
follow_check_writer(struct replay *r)
{
    struct follow *fw = r->fw;
    follow_read_env(r);
    bool alive = fw->same_host ? process_alive(fw->pid) : true;
    bool gone = fw->ended || !alive;
    if (gone == fw->gone)
        return;
    fw->gone = gone;
    fw->state_dirty = true;
    char text[TM_TEXT_MAX];
    if (gone && !fw->gone_told) {
        if (fw->ended)
            snprintf(text, sizeof text, "writer gone: the run ended (pid %ld)", fw->pid);
        else
            snprintf(text, sizeof text, "writer gone: process %ld no longer exists", fw->pid);
        follow_note(fw, fw->ended ? TM_SEV_OK : TM_SEV_WARNING, text);
        fw->gone_told = true;
    } else if (!gone) {
        snprintf(text, sizeof text, "writer back: pid %ld appends to the run", fw->pid);
        follow_note(fw, TM_SEV_OK, text);
        fw->gone_told = false;
    }
}

/*
 * Look at the run again when inotify saw a change or FOLLOW_POLL_S have
 * passed.  Returns true when new rows were read.
 */
static bool
follow_look(struct replay *r)
{
    struct follow *fw = r->fw;
    bool news = false;
#ifdef HAVE_SYS_INOTIFY_H
    if (fw->inotify_fd >= 0) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(fw->inotify_fd, buf, sizeof buf) > 0)
            news = true;
    }
#endif
    double now = mono_seconds();
    if (!news && now < fw->next_look)
        return false;
    fw->next_look = now + FOLLOW_POLL_S;
    bool got = follow_read(r);
    if (got)
        fw->last_news = now;
    follow_check_writer(r);
    return got;
}

int
replay_attach(struct replay **out, const char *run_dir, char **cause)
{
    if (open_run(out, run_dir, true, cause) != 0)
        return -1;
    struct replay *r = *out;
    struct follow *fw = r->fw;
    r->info.replay = false;
    r->info.attached = true;
#ifdef HAVE_SYS_INOTIFY_H
    fw->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fw->inotify_fd >= 0 &&
        inotify_add_watch(fw->inotify_fd, run_dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
        close(fw->inotify_fd);
        fw->inotify_fd = -1;
    }
#endif
    /* The state shown follows the records as they are sent, from the config's settings. */
    r->last.state = TM_RUNNING;
    r->last.step = 0;
    r->last.epoch = 0.0;
    r->last.lr = r->last.base_lr = r->cfg.optim.lr;
    r->last.clip_kind = stats_clip_to_tm(r->cfg.clip.kind);
    r->last.clip_value = r->cfg.clip.value;
    r->last.momentum = r->cfg.optim.momentum;
    r->last.weight_decay = r->cfg.optim.weight_decay;
    r->last.batch_size = r->cfg.train.batch_size;
    for (size_t i = 0; i < r->nmetrics; i++)
        if (r->metrics[i].kind == METRICS_TRAIN && r->metrics[i].step > fw->frontier)
            fw->frontier = r->metrics[i].step;
    for (size_t i = 0; i < r->nevents; i++) {
        int t = runlog_event_vocab(&r->events[i]);
        if (t == TM_EVT_START || t == TM_EVT_RESUME_RUN)
            fw->ended = false;
        else if (t == TM_EVT_DONE || t == TM_EVT_QUIT)
            fw->ended = true;
    }
    fw->state_dirty = true;
    follow_check_writer(r);
    fw->note[0] = '\0';         /* the header says it; no event for the state found */
    fw->gone_told = fw->gone;
    fw->next_look = mono_seconds() + FOLLOW_POLL_S;
    fw->last_news = mono_seconds();
    return 0;
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
        const struct tm_hist *h = find_hist(r, row->step, 0, row->layer);
        if (h != NULL)
            l->act = *h;
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
    /* layers.csv has no smallest and largest weight: NaN says "not known"
     * (so the doctor's symmetric-init rule cannot mistake 0 = 0 for equal
     * weights); a weight histogram of every weight, when there is one, gives them. */
    t->w_min = t->w_max = NAN;
    t->w_norm = or_zero(row->w_norm);
    t->g_norm = or_zero(row->g_norm);
    t->update_norm = or_zero(row->update_norm);
    t->update_ratio = or_zero(row->update_ratio);
    t->nan_count = (uint32_t)row->nan_count;
    t->inf_count = (uint32_t)row->inf_count;
    const struct tm_hist *hw = find_hist(r, row->step, 1, k);
    const struct tm_hist *hg = find_hist(r, row->step, 2, k);
    if (hw != NULL) {
        t->weight = *hw;
        if (hw->total > 0 && !hw->sampled && hw->under == 0 && hw->over == 0) {
            t->w_min = hw->lo;
            t->w_max = hw->hi;
        }
    }
    if (hg != NULL)
        t->grad = *hg;
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
replay_next(struct replay *r, struct tm_record *out)
{
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
    struct follow *fw = r->fw;
    bool looked = false;
    for (;;) {
        /* Held back while the writer may still add their train row (see
         * the top), but not for longer than STALE_S of quiet files. */
        long frontier = fw != NULL && !fw->gone && mono_seconds() - fw->last_news < STALE_S
                            ? fw->frontier
                            : LONG_MAX;
        /* A layers group in progress runs to its end, then closes. */
        if (r->group_step >= 0) {
            if (r->li < r->nlayers && r->layers[r->li].step == r->group_step) {
                if (layer_record(r, &r->layers[r->li++], out))
                    return true;
                continue;
            }
            /* A followed group is whole once a later row of any file is there. */
            if (r->li < r->nlayers || frontier > r->group_step) {
                out->type = TM_SNAPSHOT;
                out->u.snapshot = (struct tm_snapshot){.step = r->group_step,
                                                       .nlayers = r->info.nlayers,
                                                       .ntensors = r->info.ntensors};
                r->group_step = -1;
                return true;
            }
        } else {
            /*
             * Merge the three files in the order the trainer wrote them.
             * Every file counts global steps (updates done): train row k
             * is the k-th update, its snapshot (layers.csv step k) and an
             * evaluation at step k follow it, and the events of step k
             * (after k updates) come before train row k + 1.  Keys count
             * quarter steps.
             */
            long long ek = r->ei < r->nevents && r->events[r->ei].step <= frontier
                               ? 4LL * r->events[r->ei].step
                               : LLONG_MAX;
            long long mk = LLONG_MAX;
            if (r->mi < r->nmetrics) {
                const struct metrics_row *m = &r->metrics[r->mi];
                mk = 4LL * (m->step - 1) + (m->kind == METRICS_TRAIN ? 1 : 3);
            }
            long long lk = r->li < r->nlayers && r->layers[r->li].step <= frontier
                               ? 4LL * (r->layers[r->li].step - 1) + 2
                               : LLONG_MAX;
            if (ek == LLONG_MAX && mk == LLONG_MAX && lk == LLONG_MAX) {
                if (fw == NULL) {
                    r->phase = PH_STATE;
                    return replay_next(r, out);
                }
            } else if (ek <= mk && ek <= lk) {
                const struct runlog_event_rec *ev = &r->events[r->ei++];
                event_record(ev, out);
                if (fw != NULL) {
                    state_apply_event(&r->last, ev, true);
                    fw->state_dirty = true;
                }
                return true;
            } else if (mk <= lk) {
                const struct metrics_row *m = &r->metrics[r->mi++];
                metrics_record(r, m, out);
                if (fw != NULL && m->kind == METRICS_TRAIN) {
                    r->last.step = m->step;
                    r->last.epoch = m->epoch;
                    r->last.lr = m->lr;
                }
                return true;
            } else {
                r->group_step = r->layers[r->li].step;
                continue;
            }
        }
        /* Following, and everything read so far is out: news, then a look. */
        if (fw->note[0] != '\0') {
            struct tm_event *e = &out->u.event;
            memset(e, 0, sizeof *e);
            out->type = TM_EVENT;
            e->step = r->last.step;
            e->wall_s = NAN;
            e->type = -1;
            e->kind = fw->note_severity == TM_SEV_ERROR ? TM_EV_ERROR : TM_EV_INFO;
            e->severity = fw->note_severity;
            snprintf(e->text, sizeof e->text, "%s", fw->note);
            fw->note[0] = '\0';
            return true;
        }
        if (fw->state_dirty) {
            out->type = TM_STATE;
            out->u.state = r->last;
            out->u.state.writer_gone = fw->gone;
            fw->state_dirty = false;
            return true;
        }
        if (looked)
            return false;
        looked = true;
        follow_look(r);
    }
}

/* The viewer's doctor raised, cleared or passed f: it goes out after the record. */
static void
on_viewer_finding(void *ctx, const struct tm_finding *f)
{
    struct replay *r = ctx;
    if (r->found_head > 0 && r->found_head == r->nfound)
        r->found_head = r->nfound = 0;
    if (r->nfound == r->found_cap) {
        r->found_cap = r->found_cap > 0 ? 2 * r->found_cap : 16;
        r->found = xrealloc(r->found, r->found_cap * sizeof *r->found);
    }
    r->found[r->nfound++] = *f;
}

/*
 * The next record: a finding of the viewer's doctor when one waits, else
 * the next one the files give (which the doctor then reads, as the
 * trainer's doctor reads each record before it is published).
 */
static bool
replay_poll(void *self, struct tm_record *out)
{
    struct replay *r = self;
    if (r->found_head < r->nfound) {
        out->type = TM_FINDING;
        out->u.finding = r->found[r->found_head++];
        return true;
    }
    if (!replay_next(r, out))
        return false;
    if (r->doc != NULL)
        doctor_feed(r->doc, out);
    return true;
}

static int
replay_send(void *self, const struct tm_command *cmd, char *why, size_t len)
{
    struct replay *r = self;
    /* A followed run is steered through its writer's control socket, when it has one. */
    if (r->fw != NULL)
        return control_client_send(r->run_dir, &r->fw->sock, cmd, why, len);
    snprintf(why, len, "read-only in replay");
    return -1;
}

static uint64_t
replay_dropped(void *self)
{
    return 0;
}

/* A followed run is finished while its writer is gone and everything read is out. */
static bool
replay_finished(void *self)
{
    const struct replay *r = self;
    const struct follow *fw = r->fw;
    if (r->found_head < r->nfound)
        return false;
    if (fw == NULL)
        return r->phase == PH_END;
    return fw->gone && r->mi == r->nmetrics && r->li == r->nlayers && r->ei == r->nevents &&
           r->group_step < 0 && fw->note[0] == '\0' && !fw->state_dirty;
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
    free(r->hists);
    runlog_events_free(r->events, r->nevents);
    if (r->fw != NULL && r->fw->inotify_fd >= 0)
        close(r->fw->inotify_fd);
    if (r->fw != NULL && r->fw->sock >= 0)
        close(r->fw->sock);
    free(r->fw);
    free(r->run_dir);
    doctor_free(r->doc);
    free(r->found);
    free(r);
}
