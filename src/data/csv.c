/*
 * csv.c - reader for numeric CSV files (optionally gzipped): one label
 * column of non-negative integers, every other column a feature parsed
 * as a float.  Cells are separated by commas, may be double-quoted (""
 * escapes a quote), and may be padded with blanks; blank lines, a UTF-8
 * byte-order mark and CRLF line ends are accepted.  Every problem names
 * the file and the 1-based line and byte column of the cell.  It does not
 * handle quoted line breaks, other separators (a ';'- or tab-separated file
 * is recognised and named as such) or categorical columns.
 */
#include "config.h"

#include "data-int.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"
#include "nntop/numfmt.h"

/* Longer cells cannot be a float nntop would want to read. */
#define CSV_NUMBER_MAX 128
/* Cell text quoted in messages is cut to this many bytes. */
#define CSV_SHOW_MAX 40

struct csv_cell {
    const char *p;          /* content (inside the quotes when quoted) */
    size_t len;
    size_t col;             /* 1-based byte column where the cell starts */
    bool quoted;
};

struct csv_reader {
    const char *path;
    const char *buf;        /* whole file, NUL-terminated */
    size_t len, at;         /* bytes, offset of the next line */
    long line;              /* 1-based number of the current line */
    const char *ls;         /* current line, without its end */
    size_t ll;
};

enum csv_num { CSV_NUM_OK, CSV_NUM_INFINITE, CSV_NUM_BAD };

static bool
csv_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Cell text for a message: bounded, control bytes shown as '?'. */
static void
csv_show(char *out, size_t outsz, const struct csv_cell *c)
{
    size_t n = c->len < CSV_SHOW_MAX ? c->len : CSV_SHOW_MAX;
    if (n >= outsz)
        n = outsz - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->p[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[n] = '\0';
    if (n < c->len && n >= 3)
        memcpy(out + n - 3, "...", 3);
}

static enum csv_num
csv_number(const struct csv_cell *c, double *v)
{
    char tmp[CSV_NUMBER_MAX];
    if (c->len == 0 || c->len >= sizeof tmp)
        return CSV_NUM_BAD;
    memcpy(tmp, c->p, c->len);
    tmp[c->len] = '\0';
    char *end;
    double x = strtod(tmp, &end);
    /* strtod also reads hexadecimal (0x10); the format is decimal. */
    if (end != tmp + c->len || (isfinite(x) && !numfmt_is_decimal(tmp, c->len)))
        return CSV_NUM_BAD;
    if (!isfinite(x))
        return CSV_NUM_INFINITE;
    *v = x;
    return CSV_NUM_OK;
}

/* Advance to the next non-blank line; false at the end of the file. */
static bool
csv_next_line(struct csv_reader *r)
{
    while (r->at < r->len) {
        const char *s = r->buf + r->at;
        const char *nl = memchr(s, '\n', r->len - r->at);
        size_t n = nl != NULL ? (size_t)(nl - s) : r->len - r->at;
        r->at += n + (nl != NULL ? 1 : 0);
        r->line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (csv_blank(s[i]) || s[i] == '\r'))
            i++;
        if (i == n)
            continue;
        r->ls = s;
        r->ll = n;
        return true;
    }
    return false;
}

/*
 * The next cell of the current line, from byte *at (0 for the first):
 * 1 with *c filled, 0 when the line has no more cells, -1 on a malformed
 * quote.  Cells are read one at a time, never stored: a line of 50 million
 * cells costs no memory beyond the file's text.
 */
static int
csv_cell_next(const struct csv_reader *r, size_t *at, struct csv_cell *c, char **cause)
{
    const char *s = r->ls;
    size_t n = r->ll, i = *at;
    if (i > n)
        return 0;
    while (i < n && csv_blank(s[i]))
        i++;
    size_t col = i + 1;
    if (i < n && s[i] == '"') {
        size_t start = ++i;
        for (;;) {
            if (i >= n) {
                data_set_cause(cause, "%s:%ld:%zu: unterminated quote", r->path, r->line, col);
                return -1;
            }
            if (s[i] == '"') {
                if (i + 1 < n && s[i + 1] == '"') {
                    i += 2;
                    continue;
                }
                break;
            }
            i++;
        }
        *c = (struct csv_cell){ s + start, i - start, col, true };
        i++;
        while (i < n && csv_blank(s[i]))
            i++;
        if (i < n && s[i] != ',') {
            data_set_cause(cause, "%s:%ld:%zu: unexpected text after a quoted cell", r->path,
                           r->line, i + 1);
            return -1;
        }
    } else {
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && csv_blank(s[end - 1]))
            end--;
        *c = (struct csv_cell){ s + start, end - start, col, false };
    }
    /* Past the comma; at the line's end, past it (no more cells).  A
     * trailing comma leaves *at == n: one empty last cell. */
    *at = i + 1;
    return 1;
}

/* The number of cells of the current line (from byte at) into *n. */
static int
csv_count_cells(const struct csv_reader *r, size_t at, long *n, char **cause)
{
    struct csv_cell c;
    int k;
    *n = 0;
    while ((k = csv_cell_next(r, &at, &c, cause)) > 0)
        (*n)++;
    return k;
}

/* Compare a cell's content, with "" unescaped, to a name. */
static bool
csv_cell_is(const struct csv_cell *c, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < c->len; i++, k++) {
        if (c->quoted && c->p[i] == '"')
            i++;            /* the first of a "" pair */
        if (name[k] == '\0' || name[k] != c->p[i])
            return false;
    }
    return name[k] == '\0';
}

static int
csv_label(const struct csv_reader *r, const struct csv_cell *c, int32_t *out, char **cause)
{
    double v = 0.0;
    char show[CSV_SHOW_MAX + 1];
    if (csv_number(c, &v) != CSV_NUM_OK || v < 0.0 || v != floor(v)) {
        csv_show(show, sizeof show, c);
        data_set_cause(cause, "%s:%ld:%zu: label %s is not a non-negative integer", r->path,
                       r->line, c->col, c->len > 0 ? show : "(empty)");
        return -1;
    }
    if (v > DATA_LABEL_MAX) {
        csv_show(show, sizeof show, c);
        data_set_cause(cause, "%s:%ld:%zu: label %s is larger than %d", r->path, r->line,
                       c->col, show, DATA_LABEL_MAX);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static int
csv_feature(const struct csv_reader *r, const struct csv_cell *c, float *out, char **cause)
{
    double v = 0.0;
    char show[CSV_SHOW_MAX + 1];
    switch (csv_number(c, &v)) {
    case CSV_NUM_OK:
        *out = (float)v;
        return 0;
    case CSV_NUM_INFINITE:
        csv_show(show, sizeof show, c);
        data_set_cause(cause, "%s:%ld:%zu: cell '%s' is not a finite number", r->path, r->line,
                       c->col, show);
        return -1;
    default:
        if (c->len == 0) {
            data_set_cause(cause, "%s:%ld:%zu: empty cell", r->path, r->line, c->col);
            return -1;
        }
        csv_show(show, sizeof show, c);
        data_set_cause(cause, "%s:%ld:%zu: cell '%s' is not a number", r->path, r->line,
                       c->col, show);
        return -1;
    }
}

/* Decide whether the first line is a header and which column holds the label. */
static int
csv_layout(struct csv_reader *r, const struct data_spec *spec, int ncols, bool *header,
           int *label, char **cause)
{
    struct csv_cell c;
    size_t at = 0;
    double v;
    /* One cell holding ';' or tabs: a file with another separator. */
    if (ncols == 1 && csv_cell_next(r, &at, &c, cause) > 0) {
        const char *hit = memchr(c.p, ';', c.len);
        bool semi = hit != NULL;
        if (!semi)
            hit = memchr(c.p, '\t', c.len);
        if (hit != NULL) {
            data_set_cause(cause, "%s:%ld:%zu: one column holding %s: the file looks "
                           "%s-separated, and nntop reads comma-separated CSV (convert it "
                           "first, e.g. tr '%s' ',')", r->path, r->line,
                           c.col + (size_t)(hit - c.p), semi ? "';'" : "tabs",
                           semi ? "semicolon" : "tab", semi ? ";" : "\\t");
            return -1;
        }
    }
    at = 0;
    *header = spec->header == CSV_HEADER_YES;
    if (spec->header == CSV_HEADER_AUTO) {
        while (!*header && csv_cell_next(r, &at, &c, cause) > 0)
            *header = csv_number(&c, &v) == CSV_NUM_BAD;
    }
    if (spec->label_name[0] != '\0') {
        if (!*header) {
            data_set_cause(cause, "%s: the label column is named '%s' but the file has no "
                           "header row", r->path, spec->label_name);
            return -1;
        }
        *label = -1;
        at = 0;
        for (int i = 0; *label < 0 && csv_cell_next(r, &at, &c, cause) > 0; i++)
            if (csv_cell_is(&c, spec->label_name))
                *label = i;
        if (*label < 0) {
            data_set_cause(cause, "%s:%ld:1: no column named '%s' in the header", r->path,
                           r->line, spec->label_name);
            return -1;
        }
    } else if (spec->label_index == -1) {
        *label = ncols - 1;
    } else if (spec->label_index < -1 || spec->label_index >= ncols) {
        data_set_cause(cause, "%s:%ld:1: label column %d is out of range: the row has %d "
                       "columns", r->path, r->line, spec->label_index, ncols);
        return -1;
    } else {
        *label = spec->label_index;
    }
    if (ncols < 2) {
        data_set_cause(cause, "%s:%ld:1: one column only: no features besides the label",
                       r->path, r->line);
        return -1;
    }
    return 0;
}

/*
 * Parse the current line as data row n into row (d floats) and *y.  A
 * ragged row is reported at the first cell too many, or at the line's end.
 */
static int
csv_row(struct csv_reader *r, int ncols, int label, float *row, int32_t *y, int *max_label,
        char **cause)
{
    struct csv_cell c;
    size_t at = 0;
    int i = 0, j = 0, k;
    while ((k = csv_cell_next(r, &at, &c, cause)) > 0) {
        if (i == ncols) {
            long rest;
            if (csv_count_cells(r, at, &rest, cause) < 0)
                return -1;
            data_set_cause(cause, "%s:%ld:%zu: ragged row: %ld cells, expected %d", r->path,
                           r->line, c.col, (long)ncols + 1 + rest, ncols);
            return -1;
        }
        if (i == label) {
            if (csv_label(r, &c, y, cause) < 0)
                return -1;
            if (*y > *max_label)
                *max_label = *y;
        } else if (csv_feature(r, &c, &row[j++], cause) < 0) {
            return -1;
        }
        i++;
    }
    if (k < 0)
        return -1;
    if (i < ncols) {
        data_set_cause(cause, "%s:%ld:%zu: ragged row: %d cells, expected %d", r->path, r->line,
                       r->ll + 1, i, ncols);
        return -1;
    }
    return 0;
}

static int
csv_read(struct dataset *ds, int *max_label, const char *path, const struct data_spec *spec,
         struct data_budget *b, char **cause)
{
    struct csv_reader r = { .path = path };
    char *buf = NULL;
    size_t len = 0;
    float *x = NULL;
    int32_t *y = NULL;
    long n = 0, cap = 0;
    uint64_t taken = 0;     /* of b, for x and y at cap rows */
    int rc = -1;

    memset(ds, 0, sizeof *ds);
    if (data_file_slurp(path, b, &buf, &len, cause) < 0)
        return -1;
    r.buf = buf;
    r.len = len;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        r.at = 3;
    if (!csv_next_line(&r)) {
        data_set_cause(cause, "%s: empty file", path);
        goto out;
    }
    long count;
    if (csv_count_cells(&r, 0, &count, cause) < 0)
        goto out;
    if (count > INT_MAX) {
        data_set_cause(cause, "%s:%ld:1: %ld columns, more than nntop can index", path, r.line,
                       count);
        goto out;
    }
    bool header;
    int label, ncols = (int)count;
    if (csv_layout(&r, spec, ncols, &header, &label, cause) < 0)
        goto out;
    int d = ncols - 1;
    /* Every cell holds a byte at least and a comma follows all but the
     * last: a row takes 2 ncols bytes of the text (its line end included),
     * so the rows left bound the rows to hold, and the floats stay within
     * twice the text whatever the width. */
    size_t row_bytes = 2 * (size_t)ncols;
    long max_rows = (long)((len - (size_t)(r.ls - buf)) / row_bytes + 1);
    bool have_row = !header;
    while (have_row || csv_next_line(&r)) {
        have_row = false;
        if (n == cap) {
            long ncap = cap ? cap * 2 : 1024;
            if (ncap > max_rows)
                ncap = max_rows;
            if (ncap <= n)
                ncap = n + 1;
            uint64_t want = (uint64_t)ncap * ((uint64_t)d * sizeof *x + sizeof *y);
            if (data_budget_take(b, want - taken, path, "the parsed rows", cause) < 0)
                goto out;
            taken = want;
            cap = ncap;
            x = xrealloc(x, (size_t)cap * (size_t)d * sizeof *x);
            y = xrealloc(y, (size_t)cap * sizeof *y);
        }
        float *row = x + (size_t)n * (size_t)d;     /* (d) */
        if (csv_row(&r, ncols, label, row, &y[n], max_label, cause) < 0)
            goto out;
        n++;
    }
    if (n == 0) {
        data_set_cause(cause, "%s: no data rows, only a header", path);
        goto out;
    }
    ds->n = n;
    ds->d = d;
    ds->floats = xrealloc(x, (size_t)n * (size_t)d * sizeof *x);
    ds->labels = xrealloc(y, (size_t)n * sizeof *y);
    data_budget_give(b, taken - (uint64_t)n * ((uint64_t)d * sizeof *x + sizeof *y));
    taken = 0;
    x = NULL;
    y = NULL;
    rc = 0;
out:
    data_budget_give(b, taken);
    free(x);
    free(y);
    /* The text goes once parsed; only the rows stay taken. */
    data_budget_give(b, len);
    free(buf);
    return rc;
}

int
data_csv_load(struct dataset *train, struct dataset *test, int *classes,
              const struct data_spec *spec, struct data_budget *b, char **cause)
{
    int max_label = 0;
    if (spec->path[0] == '\0') {
        data_set_cause(cause, "csv: path is not set");
        return -1;
    }
    if (csv_read(train, &max_label, spec->path, spec, b, cause) < 0)
        return -1;
    if (spec->test_path[0] != '\0') {
        if (csv_read(test, &max_label, spec->test_path, spec, b, cause) < 0) {
            data_store_fini(train);
            return -1;
        }
        if (test->d != train->d) {
            data_set_cause(cause, "%s: %d feature columns, but the training file %s has %d",
                           spec->test_path, test->d, spec->path, train->d);
            data_store_fini(train);
            data_store_fini(test);
            return -1;
        }
    }
    *classes = max_label + 1;
    return 0;
}
