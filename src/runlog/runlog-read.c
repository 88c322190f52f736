/*
 * runlog-read.c - reading a run directory back: metrics.csv, layers.csv
 * and events.jsonl into arrays, and field lookups on event lines, for
 * replay and --reproduce.
 *
 * A run may have been cut short by a crash, or still be written, so a
 * final line without its newline is ignored (a follower reads it later,
 * once whole); anything else malformed is an error naming the file and
 * line.  The whole-file readers and the followers (runlog_follow_*, for
 * --attach) are the same code: a whole read is one follow from the
 * start.  It deliberately does not interpret the events (that is the
 * replay code's job) and does not read checkpoints (safetensors.c).
 */
#include "config.h"

#include "nntop/runlog.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/data.h"
#include "nntop/telemetry.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

#define CSV_MAX_FIELDS 64

const char *const runlog_metrics_columns[RUNLOG_METRICS_NCOLS] = {
    "step", "epoch", "kind", "loss", "reg_loss", "accuracy", "lr", "grad_norm", "clipped",
    "samples_per_s", "wall_s",
};
const char *const runlog_layers_columns[RUNLOG_LAYERS_NCOLS] = {
    "step", "layer", "name", "tensor", "act_mean", "act_std", "act_min", "act_max",
    "dead_frac", "sat_frac", "w_norm", "g_norm", "update_norm", "update_ratio", "nan_count",
    "inf_count",
};

static _Atomic uint64_t read_max = DATA_MAX_BYTES_DEFAULT;

void
runlog_set_read_max(uint64_t bytes)
{
    read_max = bytes > 0 ? bytes : DATA_MAX_BYTES_DEFAULT;
}

uint64_t
runlog_read_max(void)
{
    return read_max;
}

long
runlog_getline(char **line, size_t *cap, FILE *f, size_t max)
{
    size_t n = 0;
    int c = 0;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            size_t want = *cap ? 2 * *cap : 256;
            if (want > max + 2)
                want = max + 2;
            *line = xrealloc(*line, want);
            *cap = want;
        }
        (*line)[n++] = (char)c;
        if (n > max) {
            funlockfile(f);
            (*line)[n] = '\0';
            return -2;
        }
        if (c == '\n')
            break;
    }
    bool failed = c == EOF && ferror(f);
    funlockfile(f);
    if (failed)
        return -1;
    if (n > 0)
        (*line)[n] = '\0';
    return (long)n;
}

long
runlog_getline_named(char **line, size_t *cap, FILE *f, const char *path, size_t lineno,
                     char **cause)
{
    errno = 0;
    long n = runlog_getline(line, cap, f, RUNLOG_LINE_MAX);
    if (n == -2)
        *cause = xasprintf("%s:%zu: line longer than %zu bytes", path, lineno + 1,
                           RUNLOG_LINE_MAX);
    else if (n < 0)
        *cause = xasprintf("%s: read error: %s", path, strerror(errno));
    return n < 0 ? -1 : n;
}

/* Reads whole lines; a last line without '\n' is reported as absent. */
struct line_reader {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    size_t lineno;
    off_t done;             /* offset just after the last whole line read */
};

/*
 * Open run_dir/name at cur (NULL: the start).  Returns 0, 1 when the file
 * does not exist and missing_ok (nothing to read yet), -1 with *cause.
 */
static int
reader_open(struct line_reader *r, const char *run_dir, const char *name,
            const struct runlog_cursor *cur, bool missing_ok, char **cause)
{
    memset(r, 0, sizeof *r);
    r->path = xasprintf("%s/%s", run_dir, name);
    r->f = fopen(r->path, "r");
    if (r->f == NULL) {
        int e = errno;
        if (e == ENOENT && missing_ok) {
            free(r->path);
            return 1;
        }
        *cause = xasprintf("%s: %s", r->path, strerror(e));
        free(r->path);
        return -1;
    }
    if (cur != NULL && cur->off > 0) {
        if (fseeko(r->f, (off_t)cur->off, SEEK_SET) != 0) {
            *cause = xasprintf("%s: seek: %s", r->path, strerror(errno));
            fclose(r->f);
            free(r->path);
            return -1;
        }
        r->done = (off_t)cur->off;
        r->lineno = cur->lineno;
    }
    return 0;
}

static void
reader_close(struct line_reader *r)
{
    if (r->f != NULL)
        fclose(r->f);
    free(r->path);
    free(r->line);
}

/* 1 with r->line (newline removed), 0 at the end (or a torn last line), -1 on a read error. */
static int
reader_next(struct line_reader *r, char **cause)
{
    long n = runlog_getline_named(&r->line, &r->cap, r->f, r->path, r->lineno, cause);
    if (n <= 0)
        return (int)n;
    if (r->line[n - 1] != '\n')
        return 0;               /* torn: r->done still points at its start */
    r->lineno++;
    r->done += n;
    if (strlen(r->line) != (size_t)n) {
        *cause = xasprintf("%s:%zu: NUL byte in line", r->path, r->lineno);
        return -1;
    }
    r->line[--n] = '\0';
    if (n > 0 && r->line[n - 1] == '\r')
        r->line[--n] = '\0';
    return 1;
}

/*
 * Split a CSV line in place into fields (at most max); quoted fields may
 * hold commas and doubled quotes.  Returns the count, or -1 on a malformed
 * quote or too many fields.
 */
static int
csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *s = line;
    for (;;) {
        if (n == max)
            return -1;
        if (*s == '"') {
            char *w = ++s;
            fields[n++] = w;
            for (;;) {
                if (*s == '\0')
                    return -1;
                if (*s == '"') {
                    if (s[1] == '"') {
                        *w++ = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                *w++ = *s++;
            }
            if (*s != ',' && *s != '\0')
                return -1;
            bool more = *s == ',';
            *w = '\0';
            if (!more)
                return n;
            s++;
            continue;
        }
        fields[n++] = s;
        char *comma = strchr(s, ',');
        if (comma == NULL)
            return n;
        *comma = '\0';
        s = comma + 1;
    }
}

static int
bad_field(struct line_reader *r, const char *column, const char *value, const char *what,
          char **cause)
{
    *cause = xasprintf("%s:%zu: %s '%.40s' %s", r->path, r->lineno, column, value, what);
    return -1;
}

static int
bad_count(struct line_reader *r, int n, size_t want, char **cause)
{
    if (n < 0)
        *cause = xasprintf("%s:%zu: malformed quoted field or too many fields", r->path,
                           r->lineno);
    else
        *cause = xasprintf("%s:%zu: expected %zu fields, found %d", r->path, r->lineno, want, n);
    return -1;
}

/* "", "nan" and numbers strtod reads completely; NaN for the first two. */
static int
parse_double(const char *s, double *x)
{
    if (s[0] == '\0') {
        *x = NAN;
        return 0;
    }
    if (isspace((unsigned char)s[0]))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || (errno == ERANGE && isfinite(v) && v != 0))
        return -1;
    *x = v;
    return 0;
}

static int
parse_float(const char *s, float *x)
{
    if (s[0] == '\0') {
        *x = NAN;
        return 0;
    }
    if (isspace((unsigned char)s[0]))
        return -1;
    char *end;
    float v = strtof(s, &end);
    if (*end != '\0')
        return -1;
    *x = v;
    return 0;
}

static int
parse_long(const char *s, long *x)
{
    if (s[0] == '\0' || isspace((unsigned char)s[0]))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *x = v;
    return 0;
}

/*
 * The header must begin with the columns this reader knows; columns a
 * newer writer appended after them are ignored (doc/run-format.md).
 * *nfields gets the header's field count, which every row must have.
 */
static int
check_header(struct line_reader *r, const char *const *columns, size_t ncols, int *nfields,
             char **cause)
{
    int rc = reader_next(r, cause);
    if (rc < 0)
        return -1;
    struct sbuf want;
    sbuf_init(&want);
    for (size_t i = 0; i < ncols; i++) {
        if (i > 0)
            sbuf_putc(&want, ',');
        sbuf_puts(&want, columns[i]);
    }
    if (rc == 0 || strncmp(r->line, want.s, want.len) != 0
        || (r->line[want.len] != '\0' && r->line[want.len] != ',')) {
        *cause = xasprintf("%s:1: expected the header '%s'", r->path, want.s);
        sbuf_fini(&want);
        return -1;
    }
    sbuf_fini(&want);
    *nfields = 1;
    for (const char *s = r->line; *s != '\0'; s++)
        *nfields += *s == ',';
    if (*nfields > CSV_MAX_FIELDS) {
        *cause = xasprintf("%s:1: more than %d columns", r->path, CSV_MAX_FIELDS);
        return -1;
    }
    return 0;
}

/*
 * Grow *arr (of elem bytes) so index n fits, within runlog_read_max()
 * together with other bytes already held for this file.  0, or -1 with
 * *cause naming r's file and line.
 */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem, uint64_t other,
     const struct line_reader *r, char **cause)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? 2 * *cap : 256;
    uint64_t max = runlog_read_max();
    uint64_t need = (uint64_t)(n + 1) * elem + other;
    if (need > max) {
        *cause = xasprintf("%s:%zu: the rows read need %llu bytes, more than data.max_bytes "
                           "(%llu)", r->path, r->lineno, (unsigned long long)need,
                           (unsigned long long)max);
        return -1;
    }
    if ((uint64_t)want * elem + other > max)
        want = (size_t)((max - other) / elem);
    *arr = xrealloc(*arr, want * elem);
    *cap = want;
    return 0;
}

/*
 * One CSV file nntop writes: its name in the run directory, its header,
 * the size of one row and the parser that fills a zeroed row from the
 * line's fields (as many as there are columns).
 */
struct csv_file {
    const char *name;
    const char *const *columns;
    size_t ncols;
    size_t row_size;
    int (*parse)(struct line_reader *r, char **f, void *row, char **cause);
};

/*
 * Append csv's whole rows after *cur to *rows (*n rows, room for *cap;
 * the array grows) and move *cur past them.  follow: a file that does not
 * exist yet or has no whole header line yet is nothing to read (0);
 * otherwise both are errors.  On a malformed row -1 with *cause, the rows
 * before it appended and *cur past them.
 */
static int
follow_csv(const char *run_dir, const struct csv_file *csv, struct runlog_cursor *cur,
           void **rows, size_t *n, size_t *cap, bool follow, char **cause)
{
    struct line_reader r;
    int rc = reader_open(&r, run_dir, csv->name, cur, follow, cause);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    char *arr = *rows;
    if (cur->nfields == 0) {
        off_t at = r.done;
        rc = check_header(&r, csv->columns, csv->ncols, &cur->nfields, cause);
        if (rc < 0 && follow && r.done == at) {
            /* No whole header line yet: the writer has just created the file. */
            free(*cause);
            *cause = NULL;
            cur->nfields = 0;
            reader_close(&r);
            return 0;
        }
        if (rc == 0) {
            cur->off = (long long)r.done;
            cur->lineno = r.lineno;
        }
    }
    while (rc == 0) {
        int got = reader_next(&r, cause);
        if (got <= 0) {
            rc = got;
            break;
        }
        void *grown = arr;
        rc = grow(&grown, cap, *n, csv->row_size, 0, &r, cause);
        arr = grown;
        if (rc < 0)
            break;
        char *f[CSV_MAX_FIELDS];
        int nf = csv_split(r.line, f, CSV_MAX_FIELDS);
        if (nf != cur->nfields) {
            rc = bad_count(&r, nf, (size_t)cur->nfields, cause);
            break;
        }
        void *row = arr + *n * csv->row_size;
        memset(row, 0, csv->row_size);
        rc = csv->parse(&r, f, row, cause);
        if (rc == 0) {
            ++*n;
            cur->off = (long long)r.done;
            cur->lineno = r.lineno;
        }
    }
    if (rc == 0) {
        cur->off = (long long)r.done;
        cur->lineno = r.lineno;
    }
    *rows = arr;
    reader_close(&r);
    return rc;
}

/*
 * Read csv's rows into *rows (caller frees) and their count into *n; on
 * error -1 with *cause set, *rows NULL and *n 0.
 */
static int
read_csv(const char *run_dir, const struct csv_file *csv, void **rows, size_t *n,
         char **cause)
{
    struct runlog_cursor cur = {0};
    size_t cap = 0;
    *rows = NULL;
    *n = 0;
    if (follow_csv(run_dir, csv, &cur, rows, n, &cap, false, cause) < 0) {
        free(*rows);
        *rows = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static int
parse_metrics_line(struct line_reader *r, char **f, void *out, char **cause)
{
    struct metrics_row *row = out;
    if (parse_long(f[0], &row->step) < 0)
        return bad_field(r, "step", f[0], "is not an integer", cause);
    if (parse_double(f[1], &row->epoch) < 0)
        return bad_field(r, "epoch", f[1], "is not a number", cause);
    if (strcmp(f[2], "train") == 0)
        row->kind = METRICS_TRAIN;
    else if (strcmp(f[2], "val") == 0)
        row->kind = METRICS_VAL;
    else if (strcmp(f[2], "test") == 0)
        row->kind = METRICS_TEST;
    else
        return bad_field(r, "kind", f[2], "is not train, val or test", cause);
    float *fl[] = { &row->loss, &row->reg_loss, &row->accuracy };
    const int fl_col[] = { 3, 4, 5 };
    for (int i = 0; i < 3; i++)
        if (parse_float(f[fl_col[i]], fl[i]) < 0)
            return bad_field(r, runlog_metrics_columns[fl_col[i]], f[fl_col[i]], "is not a number",
                             cause);
    if (parse_double(f[6], &row->lr) < 0)
        return bad_field(r, "lr", f[6], "is not a number", cause);
    if (parse_float(f[7], &row->grad_norm) < 0)
        return bad_field(r, "grad_norm", f[7], "is not a number", cause);
    if (strcmp(f[8], "1") == 0)
        row->clipped = true;
    else if (strcmp(f[8], "0") != 0 && f[8][0] != '\0')
        return bad_field(r, "clipped", f[8], "is not 0 or 1", cause);
    if (parse_double(f[9], &row->samples_per_s) < 0)
        return bad_field(r, "samples_per_s", f[9], "is not a number", cause);
    if (parse_double(f[10], &row->wall_s) < 0)
        return bad_field(r, "wall_s", f[10], "is not a number", cause);
    return 0;
}

static const struct csv_file metrics_csv = {
    "metrics.csv", runlog_metrics_columns, RUNLOG_METRICS_NCOLS, sizeof(struct metrics_row),
    parse_metrics_line,
};

int
runlog_read_metrics(const char *run_dir, struct metrics_row **rows, size_t *n, char **cause)
{
    void *arr;
    int rc = read_csv(run_dir, &metrics_csv, &arr, n, cause);
    *rows = arr;
    return rc;
}

static int
copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int
parse_layers_line(struct line_reader *r, char **f, void *out, char **cause)
{
    struct layer_row *row = out;
    long layer;
    if (parse_long(f[0], &row->step) < 0)
        return bad_field(r, "step", f[0], "is not an integer", cause);
    if (parse_long(f[1], &layer) < 0 || layer < 0 || layer > INT_MAX)
        return bad_field(r, "layer", f[1], "is not a layer index", cause);
    row->layer = (int)layer;
    if (copy_name(row->name, sizeof row->name, f[2]) < 0)
        return bad_field(r, "name", f[2], "is too long", cause);
    if (copy_name(row->tensor, sizeof row->tensor, f[3]) < 0)
        return bad_field(r, "tensor", f[3], "is too long", cause);
    float *v[] = {
        &row->act_mean, &row->act_std, &row->act_min, &row->act_max, &row->dead_frac,
        &row->sat_frac, &row->w_norm, &row->g_norm, &row->update_norm, &row->update_ratio,
    };
    for (int i = 0; i < 10; i++)
        if (parse_float(f[4 + i], v[i]) < 0)
            return bad_field(r, runlog_layers_columns[4 + i], f[4 + i], "is not a number", cause);
    if (parse_long(f[14], &row->nan_count) < 0 || row->nan_count < 0)
        return bad_field(r, "nan_count", f[14], "is not a count", cause);
    if (parse_long(f[15], &row->inf_count) < 0 || row->inf_count < 0)
        return bad_field(r, "inf_count", f[15], "is not a count", cause);
    return 0;
}

static const struct csv_file layers_csv = {
    "layers.csv", runlog_layers_columns, RUNLOG_LAYERS_NCOLS, sizeof(struct layer_row),
    parse_layers_line,
};

int
runlog_read_layers(const char *run_dir, struct layer_row **rows, size_t *n, char **cause)
{
    void *arr;
    int rc = read_csv(run_dir, &layers_csv, &arr, n, cause);
    *rows = arr;
    return rc;
}

int
runlog_follow_metrics(const char *run_dir, struct runlog_cursor *cur,
                      struct metrics_row **rows, size_t *n, size_t *cap, char **cause)
{
    void *arr = *rows;
    int rc = follow_csv(run_dir, &metrics_csv, cur, &arr, n, cap, true, cause);
    *rows = arr;
    return rc;
}

int
runlog_follow_layers(const char *run_dir, struct runlog_cursor *cur, struct layer_row **rows,
                     size_t *n, size_t *cap, char **cause)
{
    void *arr = *rows;
    int rc = follow_csv(run_dir, &layers_csv, cur, &arr, n, cap, true, cause);
    *rows = arr;
    return rc;
}

/* ---- histograms.csv ------------------------------------------------------ */

static const char *const hist_what[3] = {"act", "weight", "grad"};

const char *
runlog_hist_what_name(int what)
{
    return what >= 0 && what < 3 ? hist_what[what] : NULL;
}

bool
runlog_parse_hist_line(const char *line, struct runlog_hist_row *row)
{
    memset(row, 0, sizeof *row);
    char what[16];
    double lo, hi;
    int used = 0;
    if (sscanf(line, "%ld,%15[a-z],%d,%lf,%lf,%u,%u,%u,%n", &row->step, what, &row->index, &lo,
               &hi, &row->under, &row->over, &row->total, &used) != 8 || used == 0)
        return false;
    row->what = -1;
    for (int k = 0; k < 3; k++)
        if (strcmp(what, hist_what[k]) == 0)
            row->what = k;
    if (row->what < 0 || row->index < 0)
        return false;
    row->lo = (float)lo;
    row->hi = (float)hi;
    const char *p = line + used;
    while (row->nbins < RUNLOG_HIST_MAX_BINS) {
        char *end;
        unsigned long c = strtoul(p, &end, 10);
        if (end == p)
            break;
        row->counts[row->nbins++] = (uint32_t)c;
        p = end;
    }
    return true;
}

/* ---- events ------------------------------------------------------------ */

/* A JSON number written as an integer that fits a long. */
static bool
json_long(const struct json *v, long *out)
{
    if (v == NULL || v->type != JSON_NUMBER || strpbrk(v->str, ".eE") != NULL)
        return false;
    return parse_long(v->str, out) == 0;
}

static int
parse_event(struct line_reader *r, struct runlog_event_rec *ev, char **cause)
{
    struct json v;
    char err[128];
    size_t len = strlen(r->line);
    if (runlog_json_parse(&v, r->line, len, runlog_read_max(), err, sizeof err) < 0) {
        *cause = xasprintf("%s:%zu: %s", r->path, r->lineno, err);
        return -1;
    }
    int rc = -1;
    const struct json *step = runlog_json_get(&v, "step"), *type = runlog_json_get(&v, "type");
    const struct json *wall = runlog_json_get(&v, "wall_s");
    if (v.type != JSON_OBJECT)
        *cause = xasprintf("%s:%zu: not a JSON object", r->path, r->lineno);
    else if (!json_long(step, &ev->step))
        *cause = xasprintf("%s:%zu: no integer \"step\"", r->path, r->lineno);
    else if (type == NULL || type->type != JSON_STRING)
        *cause = xasprintf("%s:%zu: no string \"type\"", r->path, r->lineno);
    else
        rc = 0;
    if (rc == 0) {
        snprintf(ev->type, sizeof ev->type, "%s", type->str);
        ev->wall_s = wall != NULL && wall->type == JSON_NUMBER ? wall->num : NAN;
        ev->line = xmalloc(len + 1);
        memcpy(ev->line, r->line, len + 1);
    }
    runlog_json_fini(&v);
    return rc;
}

/* As follow_csv, for events.jsonl (blank lines skipped). */
static int
follow_events(const char *run_dir, struct runlog_cursor *cur, struct runlog_event_rec **evs,
              size_t *n, size_t *cap, bool follow, char **cause)
{
    struct line_reader r;
    int rc = reader_open(&r, run_dir, "events.jsonl", cur, follow, cause);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    struct runlog_event_rec *arr = *evs;
    for (;;) {
        int got = reader_next(&r, cause);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (r.line[strspn(r.line, " \t")] != '\0') {
            /* The lines are kept too: the bytes read so far bound them. */
            void *grown = arr;
            rc = grow(&grown, cap, *n, sizeof *arr, (uint64_t)r.done, &r, cause);
            arr = grown;
            if (rc < 0)
                break;
            rc = parse_event(&r, &arr[*n], cause);
            if (rc < 0)
                break;
            ++*n;
        }
        cur->off = (long long)r.done;
        cur->lineno = r.lineno;
    }
    *evs = arr;
    reader_close(&r);
    return rc;
}

int
runlog_read_events(const char *run_dir, struct runlog_event_rec **evs, size_t *n,
                   char **cause)
{
    struct runlog_cursor cur = {0};
    size_t cap = 0;
    *evs = NULL;
    *n = 0;
    if (follow_events(run_dir, &cur, evs, n, &cap, false, cause) < 0) {
        runlog_events_free(*evs, *n);
        *evs = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int
runlog_follow_events(const char *run_dir, struct runlog_cursor *cur,
                     struct runlog_event_rec **evs, size_t *n, size_t *cap, char **cause)
{
    return follow_events(run_dir, cur, evs, n, cap, true, cause);
}

void
runlog_events_free(struct runlog_event_rec *evs, size_t n)
{
    if (evs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(evs[i].line);
    free(evs);
}

/* Parse line and find key; *v must be runlog_json_fini'd when 0 is returned. */
static int
event_member(const char *line, const char *key, struct json *v, const struct json **member)
{
    char err[128];
    if (line == NULL
        || runlog_json_parse(v, line, strlen(line), runlog_read_max(), err, sizeof err) < 0)
        return -1;
    *member = runlog_json_get(v, key);
    if (*member == NULL) {
        runlog_json_fini(v);
        return -1;
    }
    return 0;
}

int
runlog_event_get_num(const char *line, const char *key, double *x)
{
    struct json v;
    const struct json *m;
    if (event_member(line, key, &v, &m) < 0)
        return -1;
    int rc = 0;
    if (m->type == JSON_NUMBER)
        *x = m->num;
    else if (m->type == JSON_STRING && strcmp(m->str, "nan") == 0)
        *x = NAN;
    else if (m->type == JSON_STRING && strcmp(m->str, "inf") == 0)
        *x = INFINITY;
    else if (m->type == JSON_STRING && strcmp(m->str, "-inf") == 0)
        *x = -INFINITY;
    else
        rc = -1;
    runlog_json_fini(&v);
    return rc;
}

int
runlog_event_get_str(const char *line, const char *key, char *buf, size_t len)
{
    struct json v;
    const struct json *m;
    if (len == 0 || event_member(line, key, &v, &m) < 0)
        return -1;
    int rc = -1;
    if (m->type == JSON_STRING) {
        size_t n = m->len < len - 1 ? m->len : len - 1;
        /* Cut at a character boundary, not inside a UTF-8 sequence. */
        while (n > 0 && n < m->len && ((unsigned char)m->str[n] & 0xC0) == 0x80)
            n--;
        memcpy(buf, m->str, n);
        buf[n] = '\0';
        rc = 0;
    }
    runlog_json_fini(&v);
    return rc;
}

int
runlog_event_get_bool(const char *line, const char *key, bool *out)
{
    struct json v;
    const struct json *m;
    if (event_member(line, key, &v, &m) < 0)
        return -1;
    int rc = -1;
    if (m->type == JSON_TRUE || m->type == JSON_FALSE) {
        *out = m->type == JSON_TRUE;
        rc = 0;
    }
    runlog_json_fini(&v);
    return rc;
}

/* Whether the line has member key at the top level, of any type. */
bool
runlog_event_has(const char *line, const char *key)
{
    struct json v;
    const struct json *m;
    if (event_member(line, key, &v, &m) < 0)
        return false;
    runlog_json_fini(&v);
    return true;
}

int
runlog_event_vocab(const struct runlog_event_rec *ev)
{
    char verdict[32];
    bool pass = true;
    if (runlog_event_get_str(ev->line, "verdict", verdict, sizeof verdict) == 0)
        return tm_event_find(ev->type, verdict);
    /* Logs from before verdicts: "pass":false was a failure. */
    if (runlog_event_get_bool(ev->line, "pass", &pass) == 0 && !pass)
        return tm_event_find(ev->type, "FAIL");
    return tm_event_find(ev->type, NULL);
}

/* ---- the format's version --------------------------------------------------- */

int
runlog_check_format(const char *run_dir, char **cause)
{
    char *path = xasprintf("%s/env.txt", run_dir);
    FILE *f = fopen(path, "r");
    int rc = 0;
    if (f == NULL) {
        /* No env.txt: a run that says nothing of its version is version 1. */
        free(path);
        return 0;
    }
    char line[256];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strncmp(line, "run_format: ", 12) != 0)
            continue;
        char *end;
        errno = 0;
        long v = strtol(line + 12, &end, 10);
        if (errno != 0 || end == line + 12 || (*end != '\n' && *end != '\0') || v < 1) {
            line[strcspn(line, "\n")] = '\0';
            *cause = xasprintf("%s:%u: malformed '%s'", path, lineno, line);
            rc = -1;
        } else if (v > RUNLOG_FORMAT_VERSION) {
            *cause = xasprintf("%s: run format %ld is newer than this nntop reads (%d)", path, v,
                               RUNLOG_FORMAT_VERSION);
            rc = -1;
        }
        break;
    }
    fclose(f);
    free(path);
    return rc;
}
