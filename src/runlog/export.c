/*
 * export.c - `nntop export`: an existing run's scalars as a TensorBoard
 * event file, or as one long CSV table for importers that take CSV.
 *
 * It reads the run with the same readers replay uses and walks its rows
 * in the order the live writer wrote them (each step's metrics rows, then
 * the layer rows of that step), so an exported file carries the same
 * points, steps and wall times as one written during the run, and each
 * snapshot's histograms from histograms.csv after its layer rows, under
 * the tags the live writer gives them.  It does not invent what the run
 * did not record: a run without histograms.csv exports none.
 */
#include "config.h"

#include "nntop/runlog.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nntop/numfmt.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

/* What the walk hands each row to. */
struct export_sink {
    int (*begin)(void *ctx);        /* the run read well: start the output (or NULL) */
    int (*metrics)(void *ctx, double wall_time, const struct metrics_row *r);
    int (*layers)(void *ctx, double wall_time, const struct layer_row *r);
    /* A histogram of histograms.csv under its live tag ("activations/0.dense 2->100"). */
    int (*hist)(void *ctx, double wall_time, const char *tag, const struct runlog_hist_row *h);
    void *ctx;
};

/* "2025-01-02T03:04:05.678+01:00" (or "...Z") as seconds since the epoch; -1 when malformed. */
static int
parse_iso8601(const char *s, double *out)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + n;
    double frac = 0.0;
    if (*p == '.') {
        double scale = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    long off = 0;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z') {
        return -1;
    }
    *out = (double)timegm(&tm) - (double)off + frac;
    return 0;
}

/*
 * Where each segment of the run (the first start, then each resume) began,
 * on the wall clock: an event's "time" less its "wall_s".  Heap array
 * (caller frees) in file order; *n may be 0.
 */
static int
segment_origins(const char *run_dir, double **origins, size_t *n, char **cause)
{
    struct runlog_event_rec *ev = NULL;
    size_t nev = 0;
    *origins = NULL;
    *n = 0;
    if (runlog_read_events(run_dir, &ev, &nev, cause) != 0)
        return -1;
    double *o = nev > 0 ? xcalloc(nev, sizeof *o) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < nev; i++) {
        if (strcmp(ev[i].type, "start") != 0 && strcmp(ev[i].type, "resume_run") != 0)
            continue;
        char t[64];
        double when;
        if (runlog_event_get_str(ev[i].line, "time", t, sizeof t) == 0
            && parse_iso8601(t, &when) == 0)
            o[k++] = when - ev[i].wall_s;
    }
    runlog_events_free(ev, nev);
    *origins = o;
    *n = k;
    return 0;
}

/* histograms.csv's rows in file order (heap, caller frees); none when it is absent. */
static int
read_hist_rows(const char *run_dir, struct runlog_hist_row **rows, size_t *n, char **cause)
{
    *rows = NULL;
    *n = 0;
    char *path = xasprintf("%s/histograms.csv", run_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        if (e == ENOENT) {
            free(path);
            return 0;
        }
        *cause = xasprintf("%s: %s", path, strerror(e));
        free(path);
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    size_t len = 0;
    long got;
    int rc = 0;
    uint64_t max = runlog_read_max();
    /* Lines and rows within the readers' bounds, as the other run-log files. */
    while ((got = runlog_getline(&line, &len, f, RUNLOG_LINE_MAX)) > 0) {
        if (*n == cap) {
            if ((uint64_t)(cap > 0 ? 2 * cap : 64) * sizeof **rows > max) {
                *cause = xasprintf("%s: the rows read need more than data.max_bytes (%llu)",
                                   path, (unsigned long long)max);
                rc = -1;
                break;
            }
            cap = cap > 0 ? 2 * cap : 64;
            *rows = xrealloc(*rows, cap * sizeof **rows);
        }
        if (runlog_parse_hist_line(line, &(*rows)[*n]))
            (*n)++;
    }
    if (got == -2) {
        *cause = xasprintf("%s: a line longer than %zu bytes", path, RUNLOG_LINE_MAX);
        rc = -1;
    }
    free(line);
    fclose(f);
    free(path);
    if (rc != 0) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/*
 * The live tag of histogram h: its layer's (index and name from the
 * layers.csv rows) or its tensor's (the index-th tensor of a snapshot, in
 * layers.csv order); false when layers.csv names no such layer or tensor.
 */
static bool
hist_tag(char *tag, size_t len, const struct runlog_hist_row *h, const struct layer_row *l,
         size_t nl)
{
    if (h->what == 0) {
        for (size_t i = 0; i < nl; i++)
            if (l[i].layer == h->index) {
                snprintf(tag, len, "activations/%d.%s", h->index, l[i].name);
                return true;
            }
        return false;
    }
    /* Tensors are numbered in the order of the first snapshot's tensor rows. */
    int k = 0;
    for (size_t i = 0; i < nl && l[i].step == l[0].step; i++) {
        if (l[i].tensor[0] == '\0')
            continue;
        if (k++ == h->index) {
            snprintf(tag, len, "%s/%s", h->what == 1 ? "weights" : "gradients", l[i].tensor);
            return true;
        }
    }
    return false;
}

/* The histograms of steps up to step from *hi on. */
static int
walk_hists(const struct export_sink *sink, double wall_time, long step,
           const struct runlog_hist_row *h, size_t nh, size_t *hi, const struct layer_row *l,
           size_t nl)
{
    char tag[160];
    for (; *hi < nh && h[*hi].step <= step; (*hi)++)
        if (hist_tag(tag, sizeof tag, &h[*hi], l, nl) &&
            sink->hist(sink->ctx, wall_time, tag, &h[*hi]) != 0)
            return -1;
    return 0;
}

static int
export_walk(const char *run_dir, const struct export_sink *sink, char **cause)
{
    struct metrics_row *m = NULL;
    struct layer_row *l = NULL;
    struct runlog_hist_row *h = NULL;
    size_t nm = 0, nl = 0, nh = 0, hi = 0, norig = 0;
    double *orig = NULL;
    int rc = -1;
    if (runlog_check_format(run_dir, cause) != 0)
        goto out;
    if (runlog_read_metrics(run_dir, &m, &nm, cause) != 0)
        goto out;
    if (runlog_read_layers(run_dir, &l, &nl, cause) != 0)
        goto out;
    if (segment_origins(run_dir, &orig, &norig, cause) != 0)
        goto out;
    if (read_hist_rows(run_dir, &h, &nh, cause) != 0)
        goto out;
    if (sink->begin != NULL && sink->begin(sink->ctx) != 0)
        goto write_failed;
    size_t seg = 0, li = 0;
    double origin = norig > 0 ? orig[0] : 0.0, last_wall = -1.0, train_wall = 0.0;
    for (size_t i = 0; i < nm; i++) {
        /* A step's layer rows go out after all of its metrics rows. */
        for (; li < nl && l[li].step < m[i].step; li++) {
            if (sink->layers(sink->ctx, origin + train_wall, &l[li]) != 0)
                goto write_failed;
            /* The snapshot's histograms follow its last layer row. */
            if ((li + 1 == nl || l[li + 1].step != l[li].step) &&
                walk_hists(sink, origin + train_wall, l[li].step, h, nh, &hi, l, nl) != 0)
                goto write_failed;
        }
        /* The clock restarts at a resume. */
        if (m[i].wall_s < last_wall && seg + 1 < norig)
            origin = orig[++seg];
        last_wall = m[i].wall_s;
        if (m[i].kind == METRICS_TRAIN)
            train_wall = m[i].wall_s;
        if (sink->metrics(sink->ctx, origin + m[i].wall_s, &m[i]) != 0)
            goto write_failed;
    }
    for (; li < nl; li++)
        if (sink->layers(sink->ctx, origin + train_wall, &l[li]) != 0)
            goto write_failed;
    if (walk_hists(sink, origin + train_wall, LONG_MAX, h, nh, &hi, l, nl) != 0)
        goto write_failed;
    rc = 0;
    goto out;
write_failed:
    *cause = xasprintf("write failed: %s", strerror(errno != 0 ? errno : EIO));
out:
    free(m);
    free(l);
    free(h);
    free(orig);
    return rc;
}

/* ---- to a TensorBoard event file ------------------------------------------ */

static int
put_record(FILE *f, const uint8_t *rec, size_t n)
{
    return n == 0 || fwrite(rec, 1, n, f) == n ? 0 : -1;
}

static int
tfe_metrics(void *ctx, double wall_time, const struct metrics_row *r)
{
    uint8_t rec[TFEVENTS_RECORD_MAX];
    return put_record(ctx, rec, tfevents_metrics_record(rec, sizeof rec, wall_time, r));
}

static int
tfe_layers(void *ctx, double wall_time, const struct layer_row *r)
{
    uint8_t rec[TFEVENTS_RECORD_MAX];
    return put_record(ctx, rec, tfevents_layers_record(rec, sizeof rec, wall_time, r));
}

static int
tfe_hist(void *ctx, double wall_time, const char *tag, const struct runlog_hist_row *h)
{
    uint8_t rec[TFEVENTS_RECORD_MAX];
    struct runlog_hist rh = {.lo = h->lo, .hi = h->hi, .under = h->under, .over = h->over,
                             .nbins = h->nbins, .counts = h->counts};
    return put_record(ctx, rec, tfevents_histogram_record(rec, sizeof rec, wall_time, h->step,
                                                          tag, &rh));
}

static int
has_event_file(const char *dir, char **cause)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        *cause = xasprintf("%s: %s", dir, strerror(errno));
        return -1;
    }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "events.out.tfevents.", 20) == 0)
            found = 1;
    closedir(d);
    if (found)
        *cause = xasprintf("%s already holds a TensorBoard event file "
                           "(TensorBoard would show every point twice); choose another --out",
                           dir);
    return found ? -1 : 0;
}

int
runlog_export_tfevents(const char *run_dir, const char *out_dir, char **out_path, char **cause)
{
    *out_path = NULL;
    if (out_dir == NULL)
        out_dir = run_dir;
    if (has_event_file(out_dir, cause) != 0)
        return -1;
    /* Check the run reads before creating anything. */
    if (runlog_check_format(run_dir, cause) != 0)
        return -1;
    struct metrics_row *m = NULL;
    size_t nm = 0;
    if (runlog_read_metrics(run_dir, &m, &nm, cause) != 0)
        return -1;
    free(m);
    double *orig = NULL;
    size_t norig = 0;
    if (segment_origins(run_dir, &orig, &norig, cause) != 0)
        return -1;
    double t0 = norig > 0 ? orig[0] : 0.0;
    free(orig);

    char *path;
    int fd = tfevents_create(out_dir, t0, &path, cause);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        *cause = xasprintf("%s: %s", path, strerror(errno));
        close(fd);
        remove(path);
        free(path);
        return -1;
    }
    uint8_t rec[256];
    put_record(f, rec, tfevents_version_record(rec, sizeof rec, t0));
    struct export_sink sink = { NULL, tfe_metrics, tfe_layers, tfe_hist, f };
    int rc = export_walk(run_dir, &sink, cause);
    errno = 0;
    if (rc == 0 && (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        *cause = xasprintf("%s: %s", path, strerror(errno != 0 ? errno : EIO));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        *cause = xasprintf("%s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        remove(path);
        free(path);
        return -1;
    }
    *out_path = path;
    return 0;
}

/* ---- to CSV ------------------------------------------------------------------ */

struct csv_sink {
    FILE *out;
    long step;
    double wall_time;
};

static void
csv_emit(void *ctx, const char *tag, float v)
{
    struct csv_sink *c = ctx;
    char num[32];
    numfmt_exact_float(num, sizeof num, v);
    /* Tags hold no commas or quotes: names are [A-Za-z0-9._-] and kind names. */
    fprintf(c->out, "%ld,%.3f,%s,%s\n", c->step, c->wall_time, tag, num);
}

static int
csv_begin(void *ctx)
{
    struct csv_sink *c = ctx;
    fputs("step,wall_time,tag,value\n", c->out);
    return ferror(c->out) ? -1 : 0;
}

static int
csv_metrics(void *ctx, double wall_time, const struct metrics_row *r)
{
    struct csv_sink *c = ctx;
    c->step = r->step;
    c->wall_time = wall_time;
    tfevents_metrics_scalars(r, csv_emit, c);
    return ferror(c->out) ? -1 : 0;
}

static int
csv_layers(void *ctx, double wall_time, const struct layer_row *r)
{
    struct csv_sink *c = ctx;
    c->step = r->step;
    c->wall_time = wall_time;
    tfevents_layers_scalars(r, csv_emit, c);
    return ferror(c->out) ? -1 : 0;
}

/*
 * A histogram as rows of the long table: <tag>/lo and <tag>/hi (the binned
 * range), <tag>/below and <tag>/above (values outside it), then
 * <tag>/bin/<i> with the count of bin i, for each of the equal bins.
 */
static int
csv_hist(void *ctx, double wall_time, const char *tag, const struct runlog_hist_row *h)
{
    struct csv_sink *c = ctx;
    char t[192];
    c->step = h->step;
    c->wall_time = wall_time;
    static const char *const parts[4] = {"lo", "hi", "below", "above"};
    const float v[4] = {h->lo, h->hi, (float)h->under, (float)h->over};
    for (int k = 0; k < 4; k++) {
        snprintf(t, sizeof t, "%s/%s", tag, parts[k]);
        csv_emit(c, t, v[k]);
    }
    for (int b = 0; b < h->nbins; b++)
        fprintf(c->out, "%ld,%.3f,%s/bin/%d,%u\n", c->step, c->wall_time, tag, b, h->counts[b]);
    return ferror(c->out) ? -1 : 0;
}

int
runlog_export_csv(const char *run_dir, FILE *out, char **cause)
{
    struct csv_sink c = { .out = out };
    struct export_sink sink = { csv_begin, csv_metrics, csv_layers, csv_hist, &c };
    if (export_walk(run_dir, &sink, cause) != 0)
        return -1;
    errno = 0;
    if (fflush(out) != 0 || ferror(out)) {
        *cause = xasprintf("write failed: %s", strerror(errno != 0 ? errno : EIO));
        return -1;
    }
    return 0;
}
