/*
 * runs.c - `nntop runs` and `nntop diff`: summaries of run directories and
 * what differs between two of them, read from the files a run leaves
 * (metrics.csv, events.jsonl, env.txt, config.yaml, code.diff).
 *
 * Events are classified by the one event vocabulary (tm_event_find): a
 * live change is an event of its "change" kind.  Every reader tolerates a
 * run still being written (the runlog readers drop a torn last line).
 * This file does not replay, train, or draw.
 */
#include "config.h"

#include "nntop/runs.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/numfmt.h"
#include "nntop/runlog.h"
#include "nntop/telemetry.h"
#include "nntop/xmem.h"

/* ---- small readers ---------------------------------------------------- */

/* "key: value" lines of a file (env.txt), or of flattened YAML (config.yaml). */
struct kv {
    char *key, *value;
};

struct kvs {
    struct kv *v;
    size_t n, cap;
};

static void
kvs_add(struct kvs *l, const char *key, size_t klen, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].key = xasprintf("%.*s", (int)klen, key);
    l->v[l->n].value = xstrdup(value);
    l->n++;
}

static void
kvs_free(struct kvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The last value of key, or NULL. */
static const char *
kvs_get(const struct kvs *l, const char *key)
{
    for (size_t i = l->n; i-- > 0;)
        if (strcmp(l->v[i].key, key) == 0)
            return l->v[i].value;
    return NULL;
}

static FILE *
open_in(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    return f;
}

/* A text file of a run read a line at a time, with runlog's bounded reader. */
struct text_in {
    FILE *f;
    char *path;             /* dir/name, for messages */
    char *line;             /* the current line, its newline removed */
    size_t cap, lineno;
    bool torn;              /* the current line had no newline (the last one) */
};

/* Open dir/name; false when it does not exist or cannot be opened. */
static bool
text_open(struct text_in *t, const char *dir, const char *name)
{
    memset(t, 0, sizeof *t);
    t->f = open_in(dir, name);
    if (t->f == NULL)
        return false;
    t->path = xasprintf("%s/%s", dir, name);
    return true;
}

/*
 * The next line: 1, 0 at the end, or -1 with *cause (heap) on a line
 * longer than RUNLOG_LINE_MAX (named by file:line; memory stays at that
 * bound, however long the line) or a read error.
 */
static int
text_next(struct text_in *t, char **cause)
{
    long n = runlog_getline_named(&t->line, &t->cap, t->f, t->path, t->lineno, cause);
    if (n <= 0)
        return (int)n;
    t->lineno++;
    t->torn = t->line[n - 1] != '\n';
    if (!t->torn)
        t->line[n - 1] = '\0';
    return 1;
}

static void
text_close(struct text_in *t)
{
    if (t->f != NULL)
        fclose(t->f);
    free(t->path);
    free(t->line);
    memset(t, 0, sizeof *t);
}

/*
 * env.txt: "key: value" a line; a missing file is an empty list.  0, or
 * -1 with *cause (heap) and *out emptied.
 */
static int
read_env(const char *dir, struct kvs *out, char **cause)
{
    memset(out, 0, sizeof *out);
    struct text_in t;
    if (!text_open(&t, dir, "env.txt"))
        return 0;
    int r;
    while ((r = text_next(&t, cause)) > 0) {
        if (t.torn)
            break;              /* a torn last line */
        char *colon = strstr(t.line, ": ");
        if (colon == NULL)
            continue;
        kvs_add(out, t.line, (size_t)(colon - t.line), colon + 2);
    }
    text_close(&t);
    if (r < 0)
        kvs_free(out);
    return r < 0 ? -1 : 0;
}

/*
 * config.yaml as nntop writes it (two-space indents, block mappings, list
 * items one a line) flattened to dotted keys: "optim.lr", "model.layers[1]".
 * A missing file is an empty list.  0, or -1 with *cause as read_env().
 */
static int
read_config(const char *dir, struct kvs *out, char **cause)
{
    memset(out, 0, sizeof *out);
    struct text_in t;
    if (!text_open(&t, dir, "config.yaml"))
        return 0;
    char path[16][128];
    int items[16] = {0};
    int r;
    while ((r = text_next(&t, cause)) > 0) {
        size_t ind = strspn(t.line, " ");
        char *s = t.line + ind;
        if (*s == '\0' || *s == '#')
            continue;
        int depth = (int)(ind / 2);
        if (depth >= 16)
            continue;
        char key[1024] = "";
        for (int i = 0; i < depth; i++) {
            size_t k = strlen(key);
            snprintf(key + k, sizeof key - k, "%s%s", i ? "." : "", path[i]);
        }
        if (s[0] == '-' && s[1] == ' ') {
            /* A list item of the key one level up. */
            char item[1100];
            snprintf(item, sizeof item, "%s[%d]", key, items[depth]++);
            kvs_add(out, item, strlen(item), s + 2);
            continue;
        }
        char *colon = strchr(s, ':');
        if (colon == NULL)
            continue;
        snprintf(path[depth], sizeof path[depth], "%.*s", (int)(colon - s), s);
        /* A new key: the lists below it start counting again. */
        for (int i = depth; i < 16; i++)
            items[i] = 0;
        const char *value = colon[1] == ' ' ? colon + 2 : colon + 1;
        if (*value == '\0')
            continue;           /* a mapping or list follows */
        size_t k = strlen(key);
        snprintf(key + k, sizeof key - k, "%s%s", depth ? "." : "", path[depth]);
        kvs_add(out, key, strlen(key), value);
    }
    text_close(&t);
    if (r < 0)
        kvs_free(out);
    return r < 0 ? -1 : 0;
}

/* A live change: an event of the vocabulary's "change" kind (pause, lr, clip, ...). */
static bool
is_live_change(const char *type)
{
    const struct tm_event_def *d = tm_event_def_at(tm_event_find(type, NULL));
    return d != NULL && d->kind == TM_EV_CHANGE;
}

/* The severity of a raised finding line, or -1 (not a finding, or cleared/passed). */
static int
raised_severity(const struct runlog_event_rec *ev)
{
    char state[32], sev[32];
    if (strcmp(ev->type, "finding") != 0
        || runlog_event_get_str(ev->line, "state", state, sizeof state) != 0
        || strcmp(state, "raised") != 0
        || runlog_event_get_str(ev->line, "severity", sev, sizeof sev) != 0)
        return -1;
    return tm_severity_parse(sev);
}

/* The process that wrote the run's last segment is alive on this host. */
static bool
writer_alive(const struct kvs *env)
{
    const char *pid = kvs_get(env, "pid"), *host = kvs_get(env, "host");
    char me[256];
    if (pid == NULL || host == NULL || gethostname(me, sizeof me) != 0)
        return false;
    me[sizeof me - 1] = '\0';
    long p = strtol(pid, NULL, 10);
    if (p <= 0 || strcmp(host, me) != 0)
        return false;
    return kill((pid_t)p, 0) == 0 || errno == EPERM;
}

/* ---- summaries ----------------------------------------------------------- */

const char *
runs_status_name(enum run_status s)
{
    static const char *const names[RUN_STATUS_COUNT] = {
        "done", "failed", "interrupted", "running", "unreadable",
    };
    return (unsigned)s < RUN_STATUS_COUNT ? names[s] : "?";
}

static void
unquote(char *dst, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        snprintf(dst, len, "%.*s", (int)(n - 2), s + 1);
    else
        snprintf(dst, len, "%s", s);
}

void
runs_summarize(const char *run_dir, struct run_summary *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", run_dir);
    const char *base = strrchr(run_dir, '/');
    snprintf(out->run, sizeof out->run, "%s", base != NULL && base[1] ? base + 1 : run_dir);
    out->best_val_loss = out->best_val_acc = out->test_acc = NAN;
    out->best_val_loss_step = -1;

    struct kvs env, cfg;
    struct metrics_row *m = NULL;
    struct runlog_event_rec *ev = NULL;
    size_t nm = 0, nev = 0;
    char *cause = NULL;
    memset(&cfg, 0, sizeof cfg);
    if (read_env(run_dir, &env, &cause) != 0 || read_config(run_dir, &cfg, &cause) != 0) {
        out->status = RUN_UNREADABLE;
        snprintf(out->why, sizeof out->why, "%s", cause);
        free(cause);
        goto out;
    }
    const char *v = kvs_get(&cfg, "name");
    if (v != NULL)
        unquote(out->name, sizeof out->name, v);
    v = kvs_get(&env, "start");
    if (v != NULL)
        snprintf(out->start, sizeof out->start, "%s", v);

    if (runlog_check_format(run_dir, &cause) != 0
        || runlog_read_metrics(run_dir, &m, &nm, &cause) != 0
        || runlog_read_events(run_dir, &ev, &nev, &cause) != 0) {
        out->status = RUN_UNREADABLE;
        snprintf(out->why, sizeof out->why, "%s", cause);
        free(cause);
        goto out;
    }
    double seg_wall = 0.0, last_wall = -1.0;
    for (size_t i = 0; i < nm; i++) {
        const struct metrics_row *r = &m[i];
        /* The clock restarts at a resume: bank the segment. */
        if (r->wall_s < last_wall) {
            out->wall_s += seg_wall;
            seg_wall = 0.0;
        }
        last_wall = r->wall_s;
        seg_wall = r->wall_s > seg_wall ? r->wall_s : seg_wall;
        /* Eval rows count steps done too: a run that ends on one reaches its step. */
        if (r->step > out->steps)
            out->steps = r->step;
        if (r->kind == METRICS_VAL) {
            if (isfinite(r->loss) && !(r->loss >= out->best_val_loss)) {
                out->best_val_loss = r->loss;
                out->best_val_loss_step = r->step;
            }
            if (isfinite(r->accuracy) && !(r->accuracy <= out->best_val_acc))
                out->best_val_acc = r->accuracy;
        }
        if (r->kind == METRICS_TEST && isfinite(r->accuracy))
            out->test_acc = r->accuracy;
    }
    out->wall_s += seg_wall;

    bool done = false, quit = false, failed = false;
    for (size_t i = 0; i < nev; i++) {
        const char *t = ev[i].type;
        if (strcmp(t, "start") == 0 || strcmp(t, "resume_run") == 0)
            done = quit = failed = false;
        else if (strcmp(t, "done") == 0)
            done = true;
        else if (strcmp(t, "quit") == 0)
            quit = true;
        else if (strcmp(t, "nonfinite") == 0 || strcmp(t, "error") == 0)
            failed = true;
        int sev = raised_severity(&ev[i]);
        if (sev >= 0 && sev < 4)
            out->findings[sev]++;
        if (is_live_change(t))
            out->live_changes++;
    }
    out->status = done ? RUN_DONE
                  : failed ? RUN_FAILED
                  : quit ? RUN_INTERRUPTED
                  : writer_alive(&env) ? RUN_RUNNING : RUN_INTERRUPTED;
out:
    free(m);
    runlog_events_free(ev, nev);
    kvs_free(&env);
    kvs_free(&cfg);
}

static bool
is_run_dir(const char *dir)
{
    struct stat st;
    char *a = xasprintf("%s/metrics.csv", dir), *b = xasprintf("%s/events.jsonl", dir);
    bool yes = stat(a, &st) == 0 || stat(b, &st) == 0;
    free(a);
    free(b);
    return yes;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
runs_list(const char *root, struct run_summary **out, size_t *n, char **cause)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (d == NULL) {
        *cause = xasprintf("%s: %s", root, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = xasprintf("%s/%s", root, e->d_name);
        if (!is_run_dir(path)) {
            free(path);
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[count++] = path;
    }
    closedir(d);
    if (count == 0)
        return 0;
    qsort(names, count, sizeof *names, cmp_names);
    struct run_summary *runs = xcalloc(count, sizeof *runs);
    for (size_t i = 0; i < count; i++) {
        runs_summarize(names[i], &runs[i]);
        free(names[i]);
    }
    free(names);
    *out = runs;
    *n = count;
    return 0;
}

/* ---- sorting ------------------------------------------------------------- */

static const char *const sort_names[RUNS_SORT_KEY_COUNT] = {
    "start", "name", "steps", "wall", "val_loss", "val_acc", "test_acc", "status",
};

int
runs_sort_parse(const char *name)
{
    for (int i = 0; i < RUNS_SORT_KEY_COUNT; i++)
        if (strcmp(name, sort_names[i]) == 0)
            return i;
    return -1;
}

const char *
runs_sort_names(void)
{
    return "start, name, steps, wall, val_loss, val_acc, test_acc, status";
}

static enum runs_sort_key sort_key;

/* Ascending a - b, NaN (no value) last. */
static int
cmp_num(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static int
cmp_runs(const void *pa, const void *pb)
{
    const struct run_summary *a = pa, *b = pb;
    int c = 0;
    switch (sort_key) {
    case RUNS_SORT_NAME: c = strcmp(a->name, b->name); break;
    case RUNS_SORT_STEPS: c = (a->steps > b->steps) - (a->steps < b->steps); break;
    case RUNS_SORT_WALL: c = cmp_num(a->wall_s, b->wall_s); break;
    case RUNS_SORT_VAL_LOSS: c = cmp_num(a->best_val_loss, b->best_val_loss); break;
    /* Best first: the highest accuracy at the top. */
    case RUNS_SORT_VAL_ACC: c = cmp_num(-a->best_val_acc, -b->best_val_acc); break;
    case RUNS_SORT_TEST_ACC: c = cmp_num(-a->test_acc, -b->test_acc); break;
    case RUNS_SORT_STATUS: c = (int)a->status - (int)b->status; break;
    case RUNS_SORT_START:
    default: c = strcmp(a->start, b->start); break;
    }
    /* Ties keep the directory order, which starts with the time. */
    return c != 0 ? c : strcmp(a->run, b->run);
}

void
runs_sort(struct run_summary *runs, size_t n, enum runs_sort_key key)
{
    sort_key = key;
    if (n > 1)
        qsort(runs, n, sizeof *runs, cmp_runs);
}

/* ---- the table ------------------------------------------------------------- */

static const char *
human(char *buf, size_t len, double v)
{
    if (isnan(v))
        return "-";
    return numfmt(buf, len, v);
}

static const char *
percent(char *buf, size_t len, double v)
{
    if (isnan(v))
        return "-";
    snprintf(buf, len, "%.1f%%", 100.0 * v);
    return buf;
}

/* A TSV field: tabs and line breaks would split it. */
static void
tsv_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
}

/* A float column: the fewest digits that read back to the same float, as metrics.csv has it. */
static void
tsv_num(FILE *out, double v)
{
    if (isnan(v)) {
        fputs("\t", out);
        return;
    }
    char t[40];
    numfmt_exact_float(t, sizeof t, (float)v);
    fprintf(out, "\t%s", t);
}

void
runs_print(FILE *out, const struct run_summary *runs, size_t n, bool tsv)
{
    if (tsv) {
        fputs("run\tname\tstart\tsteps\twall_s\tbest_val_loss\tbest_val_loss_step\t"
              "best_val_acc\ttest_acc\tfindings_error\tfindings_warning\tfindings_info\t"
              "live_changes\tstatus\n", out);
        for (size_t i = 0; i < n; i++) {
            const struct run_summary *r = &runs[i];
            tsv_text(out, r->run);
            fputc('\t', out);
            tsv_text(out, r->name);
            fputc('\t', out);
            tsv_text(out, r->start);
            fprintf(out, "\t%ld", r->steps);
            fprintf(out, "\t%.3f", r->wall_s);
            tsv_num(out, r->best_val_loss);
            if (r->best_val_loss_step >= 0)
                fprintf(out, "\t%ld", r->best_val_loss_step);
            else
                fputs("\t", out);
            tsv_num(out, r->best_val_acc);
            tsv_num(out, r->test_acc);
            fprintf(out, "\t%ld\t%ld\t%ld\t%ld\t%s\n", r->findings[3], r->findings[2],
                    r->findings[1], r->live_changes, runs_status_name(r->status));
        }
        return;
    }
    /* The run column as wide as its longest entry. */
    int w = 3, wn = 4;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(runs[i].run), ln = (int)strlen(runs[i].name);
        w = l > w ? l : w;
        wn = ln > wn ? ln : wn;
    }
    w = w > 40 ? 40 : w;
    wn = wn > 24 ? 24 : wn;
    fprintf(out, "%-*s  %-*s  %-16s  %8s  %8s  %8s  %7s  %8s  %-8s  %7s  %s\n", w, "RUN", wn,
            "NAME", "START", "STEPS", "WALL", "VAL_LOSS", "VAL_ACC", "TEST_ACC", "E/W/I",
            "CHANGES", "STATUS");
    for (size_t i = 0; i < n; i++) {
        const struct run_summary *r = &runs[i];
        char start[17], a[32], b[32], c[32], d[32], f[48];
        /* "2026-12-01T20:31:55+00:00" shown as "2026-12-01 20:31". */
        snprintf(start, sizeof start, "%.16s", r->start[0] ? r->start : "-");
        if (strlen(start) > 10 && start[10] == 'T')
            start[10] = ' ';
        snprintf(f, sizeof f, "%ld/%ld/%ld", r->findings[3], r->findings[2], r->findings[1]);
        fprintf(out, "%-*.*s  %-*.*s  %-16s  %8ld  %8s  %8s  %7s  %8s  %-8s  %7ld  %s", w, w,
                r->run, wn, wn, r->name[0] ? r->name : "-", start, r->steps,
                numfmt_duration(a, sizeof a, false, r->wall_s),
                human(b, sizeof b, r->best_val_loss),
                percent(c, sizeof c, r->best_val_acc), percent(d, sizeof d, r->test_acc), f,
                r->live_changes, runs_status_name(r->status));
        if (r->status == RUN_UNREADABLE)
            fprintf(out, " (%s)", r->why);
        fputc('\n', out);
    }
}

/* ---- diff -------------------------------------------------------------------- */

/* Print "  key: a A, b B" when the two differ; returns 1 then, else 0. */
static int
diff_value(FILE *out, const char *key, const char *a, const char *b)
{
    if ((a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0))
        return 0;
    fprintf(out, "  %s: a %s, b %s\n", key, a != NULL ? a : "(none)", b != NULL ? b : "(none)");
    return 1;
}

/* The value of the i-th line with key, or NULL. */
static const char *
kvs_nth(const struct kvs *l, const char *key, size_t nth)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0 && nth-- == 0)
            return l->v[i].value;
    return NULL;
}

/*
 * dir/name whole into *text (heap, NUL-terminated; NULL when there is no
 * such file) and *len: 0, or -1 with *cause (heap) when it holds more than
 * the read budget (runlog_read_max) or cannot be read.
 */
static int
slurp(const char *dir, const char *name, char **text, size_t *len, char **cause)
{
    *text = NULL;
    *len = 0;
    FILE *f = open_in(dir, name);
    if (f == NULL)
        return 0;
    char *s = NULL;
    size_t cap = 0;
    char chunk[8192];
    size_t n = 0;
    int rc = 0;
    uint64_t budget = runlog_read_max();
    struct stat st;
    /* Refused before reading when its size says so; the count below
     * holds for what is not a regular file. */
    bool big = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > budget;
    while (big || (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (big || (uint64_t)(*len + n) > budget) {
            *cause = xasprintf("%s/%s: more than %llu bytes (data.max_bytes)", dir, name,
                               (unsigned long long)budget);
            rc = -1;
            goto out;
        }
        if (*len + n + 1 > cap) {
            cap = 2 * (*len + n + 1);
            s = xrealloc(s, cap);
        }
        memcpy(s + *len, chunk, n);
        *len += n;
    }
    if (ferror(f)) {
        *cause = xasprintf("%s/%s: read error: %s", dir, name, strerror(errno));
        rc = -1;
        goto out;
    }
    *text = s != NULL ? s : xstrdup("");
    if (s != NULL)
        s[*len] = '\0';
    s = NULL;
out:
    free(s);
    fclose(f);
    return rc;
}

/* Keys of env.txt shown in sections of their own, or that always differ. */
static bool
env_key_skipped(const char *k)
{
    static const char *const skip[] = {
        "pid", "start", "resumed", "data_file", "git_root", "git_commit", "git_dirty",
        "code_diff", "config",
    };
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcmp(k, skip[i]) == 0)
            return true;
    return false;
}

static bool
kvs_has_key(const struct kvs *l, const char *key)
{
    return kvs_get(l, key) != NULL;
}

/* Keys of a then keys only in b, each once, with a difference. */
static int
diff_keys(FILE *out, const struct kvs *a, const struct kvs *b, bool env)
{
    int nd = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct kvs *l = pass == 0 ? a : b;
        for (size_t i = 0; i < l->n; i++) {
            const char *k = l->v[i].key;
            if (env && env_key_skipped(k))
                continue;
            if (pass == 1 && kvs_has_key(a, k))
                continue;
            /* Only the first line of a repeated key speaks for it. */
            bool first = true;
            for (size_t j = 0; j < i; j++)
                if (strcmp(l->v[j].key, k) == 0)
                    first = false;
            if (first)
                nd += diff_value(out, k, kvs_get(a, k), kvs_get(b, k));
        }
    }
    return nd;
}

/* The live changes of a run as "step N: text" lines; count returned. */
static long
print_changes(FILE *out, const char *label, const struct runlog_event_rec *ev, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_live_change(ev[i].type))
            continue;
        char text[TM_TEXT_MAX];
        if (runlog_event_get_str(ev[i].line, "text", text, sizeof text) != 0)
            snprintf(text, sizeof text, "%s", ev[i].type);
        if (count == 0)
            fprintf(out, "  %s:\n", label);
        fprintf(out, "    step %ld: %s\n", ev[i].step, text);
        count++;
    }
    if (count == 0)
        fprintf(out, "  %s: none\n", label);
    return count;
}

/* The live changes of two runs are the same list (step, type, text). */
static bool
same_changes(const struct runlog_event_rec *a, size_t na, const struct runlog_event_rec *b,
             size_t nb)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < na && !is_live_change(a[i].type))
            i++;
        while (j < nb && !is_live_change(b[j].type))
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        char ta[TM_TEXT_MAX] = "", tb[TM_TEXT_MAX] = "";
        runlog_event_get_str(a[i].line, "text", ta, sizeof ta);
        runlog_event_get_str(b[j].line, "text", tb, sizeof tb);
        if (a[i].step != b[j].step || strcmp(a[i].type, b[j].type) != 0 || strcmp(ta, tb) != 0)
            return false;
        i++;
        j++;
    }
}

/*
 * The code section of a diff into s: commit, dirty flag and code.diff
 * itself.  The differences found, or -1 with *cause (heap) when a
 * code.diff cannot be read.
 */
static int
diff_code(FILE *s, const char *a, const char *b, const struct kvs *enva, const struct kvs *envb,
          char **cause)
{
    int nd = diff_value(s, "git_commit", kvs_get(enva, "git_commit"),
                        kvs_get(envb, "git_commit"));
    nd += diff_value(s, "git_dirty", kvs_get(enva, "git_dirty"), kvs_get(envb, "git_dirty"));
    size_t la = 0, lb = 0;
    char *da = NULL, *db = NULL;
    if (slurp(a, "code.diff", &da, &la, cause) != 0
        || slurp(b, "code.diff", &db, &lb, cause) != 0) {
        free(da);
        return -1;
    }
    if ((da == NULL) != (db == NULL) || (da != NULL && (la != lb || memcmp(da, db, la) != 0))) {
        char ba[48], bb[48];
        snprintf(ba, sizeof ba, da != NULL ? "%zu bytes" : "(none)", la);
        snprintf(bb, sizeof bb, db != NULL ? "%zu bytes" : "(none)", lb);
        fprintf(s, "  code.diff: a %s, b %s (they differ)\n", ba, bb);
        nd++;
    }
    free(da);
    free(db);
    return nd;
}

int
runs_diff(FILE *out, const char *a, const char *b, char **cause)
{
    struct runlog_event_rec *ea = NULL, *eb = NULL;
    size_t na = 0, nb = 0;
    if (runlog_check_format(a, cause) != 0 || runlog_check_format(b, cause) != 0)
        return -1;
    if (runlog_read_events(a, &ea, &na, cause) != 0)
        return -1;
    if (runlog_read_events(b, &eb, &nb, cause) != 0) {
        runlog_events_free(ea, na);
        return -1;
    }
    struct kvs enva, envb, cfga, cfgb;
    memset(&envb, 0, sizeof envb);
    memset(&cfga, 0, sizeof cfga);
    memset(&cfgb, 0, sizeof cfgb);
    if (read_env(a, &enva, cause) != 0 || read_env(b, &envb, cause) != 0
        || read_config(a, &cfga, cause) != 0 || read_config(b, &cfgb, cause) != 0) {
        kvs_free(&enva);
        kvs_free(&envb);
        kvs_free(&cfga);
        runlog_events_free(ea, na);
        runlog_events_free(eb, nb);
        return -1;
    }
    int total = 0, nd;
    fprintf(out, "a: %s\nb: %s\n", a, b);

    /* Data: the files in the order the data set reads them. */
    char *sec = NULL;
    size_t seclen = 0;
    FILE *s = open_memstream(&sec, &seclen);
    nd = 0;
    for (size_t i = 0;; i++) {
        const char *fa = kvs_nth(&enva, "data_file", i), *fb = kvs_nth(&envb, "data_file", i);
        if (fa == NULL && fb == NULL)
            break;
        char key[32];
        snprintf(key, sizeof key, "data_file %zu", i + 1);
        nd += diff_value(s, key, fa, fb);
    }
    fclose(s);
    fprintf(out, "data: %s\n%s", nd ? "differs" : "same", sec);
    free(sec);
    total += nd;

    /* Code: commit, dirty flag and the diff itself. */
    s = open_memstream(&sec, &seclen);
    nd = diff_code(s, a, b, &enva, &envb, cause);
    fclose(s);
    if (nd < 0) {
        free(sec);
        total = -1;
        goto out;
    }
    fprintf(out, "code: %s\n%s", nd ? "differs" : "same", sec);
    free(sec);
    total += nd;

    s = open_memstream(&sec, &seclen);
    nd = diff_keys(s, &cfga, &cfgb, false);
    fclose(s);
    if (nd)
        fprintf(out, "config: %d key%s differ%s\n%s", nd, nd == 1 ? "" : "s", nd == 1 ? "s" : "",
                sec);
    else
        fprintf(out, "config: same\n");
    free(sec);
    total += nd;

    s = open_memstream(&sec, &seclen);
    nd = diff_keys(s, &enva, &envb, true);
    fclose(s);
    fprintf(out, "environment: %s\n%s", nd ? "differs" : "same", sec);
    free(sec);
    total += nd;

    bool same = same_changes(ea, na, eb, nb);
    fprintf(out, "live changes: %s\n", same ? "same" : "differ");
    print_changes(out, "a", ea, na);
    print_changes(out, "b", eb, nb);
    total += !same;

out:
    runlog_events_free(ea, na);
    runlog_events_free(eb, nb);
    kvs_free(&enva);
    kvs_free(&envb);
    kvs_free(&cfga);
    kvs_free(&cfgb);
    return total;
}
