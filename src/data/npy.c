/*
 * npy.c - NumPy .npy files (format versions 1 to 3, gzip or plain): the
 * inputs array and the labels array of data.source: npy.
 *
 * The header is a Python dict literal; it is parsed strictly (exactly the
 * keys descr, fortran_order and shape, nothing else, C order only) and
 * every size in it is checked against the file before anything is
 * allocated from it, so a hostile header (a shape of 2^40 elements, a
 * header length past the end) fails fast with bounded memory.  Inputs are
 * little- or big-endian f4, f8, i8 or u1 (u1 stays bytes, as IDX images
 * do); labels are integers (u1, i4, i8).  A path ending in .npz is a zip
 * archive of .npy members (npz.c picks the member).  It does not read
 * object arrays or structured dtypes.
 */
#include "config.h"

#include "data-int.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

/* NumPy itself refuses headers above 10000 bytes unless told otherwise. */
#define NPY_HEADER_MAX 65536
#define NPY_MAX_DIMS 8

struct npy_array {
    char kind;              /* 'f', 'i' or 'u' */
    int size;               /* bytes per element: 1, 4 or 8 */
    bool big;               /* big-endian elements */
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t count;         /* product of shape */
    uint8_t *data;          /* (count * size) raw bytes, heap */
    char name[DATA_PATH_MAX + 300];     /* the file, or "archive.npz:member.npy" */
};

/* A cursor over the header text, for the strict dict parser. */
struct npy_lex {
    const char *s, *end;
};

static void
lex_space(struct npy_lex *l)
{
    while (l->s < l->end && (*l->s == ' ' || *l->s == '\t'))
        l->s++;
}

static bool
lex_char(struct npy_lex *l, char c)
{
    lex_space(l);
    if (l->s < l->end && *l->s == c) {
        l->s++;
        return true;
    }
    return false;
}

/* A quoted string (single or double quotes, no escapes) into buf. */
static bool
lex_string(struct npy_lex *l, char *buf, size_t len)
{
    lex_space(l);
    if (l->s >= l->end || (*l->s != '\'' && *l->s != '"'))
        return false;
    char q = *l->s++;
    size_t n = 0;
    while (l->s < l->end && *l->s != q) {
        if (*l->s == '\\' || n + 1 >= len)
            return false;
        buf[n++] = *l->s++;
    }
    if (l->s >= l->end)
        return false;
    l->s++;
    buf[n] = '\0';
    return true;
}

/* A non-negative decimal integer below 2^63. */
static bool
lex_uint(struct npy_lex *l, uint64_t *out)
{
    lex_space(l);
    uint64_t v = 0;
    const char *start = l->s;
    while (l->s < l->end && *l->s >= '0' && *l->s <= '9') {
        if (v > (UINT64_MAX / 2 - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*l->s++ - '0');
    }
    *out = v;
    return l->s > start;
}

static bool
lex_word(struct npy_lex *l, const char *w)
{
    lex_space(l);
    size_t n = strlen(w);
    if ((size_t)(l->end - l->s) >= n && memcmp(l->s, w, n) == 0) {
        l->s += n;
        return true;
    }
    return false;
}

/* descr such as '<f4', '>i8', '|u1' into a. */
static const char *
parse_descr(struct npy_array *a, const char *d)
{
    if (strlen(d) != 3)
        return "a dtype nntop does not read (only f4, f8, i4, i8, u1)";
    char order = d[0], kind = d[1];
    int size = d[2] - '0';
    if (kind == 'O')
        return "an object array (Python objects, not numbers)";
    if (!((kind == 'f' && (size == 4 || size == 8)) || (kind == 'i' && (size == 4 || size == 8))
          || (kind == 'u' && size == 1)))
        return "a dtype nntop does not read (only f4, f8, i4, i8, u1)";
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return "a dtype with an unknown byte order";
    if (order == '|' && size != 1)
        return "a dtype with an unknown byte order";
    a->kind = kind;
    a->size = size;
    a->big = order == '>';
    return NULL;
}

/*
 * Parse the header dict of len bytes into a; NULL, or what is wrong with it.
 */
static const char *
parse_header(struct npy_array *a, const char *h, size_t len)
{
    struct npy_lex l = { h, h + len };
    /* The header ends in a newline, after space padding. */
    while (l.end > l.s && (l.end[-1] == '\n' || l.end[-1] == ' '))
        l.end--;
    if (!lex_char(&l, '{'))
        return "the header is not a dict";
    bool seen[3] = { false, false, false };
    for (;;) {
        if (lex_char(&l, '}'))
            break;
        char key[32], descr[32];
        if (!lex_string(&l, key, sizeof key) || !lex_char(&l, ':'))
            return "the header is not a dict of quoted keys";
        if (strcmp(key, "descr") == 0 && !seen[0]) {
            if (!lex_string(&l, descr, sizeof descr)) {
                if (l.s < l.end && *l.s == '[')
                    return "a structured dtype (a list of fields)";
                return "descr is not a dtype string";
            }
            const char *bad = parse_descr(a, descr);
            if (bad != NULL)
                return bad;
            seen[0] = true;
        } else if (strcmp(key, "fortran_order") == 0 && !seen[1]) {
            if (lex_word(&l, "True"))
                return "a Fortran-order array (write it with np.ascontiguousarray)";
            if (!lex_word(&l, "False"))
                return "fortran_order is neither True nor False";
            seen[1] = true;
        } else if (strcmp(key, "shape") == 0 && !seen[2]) {
            if (!lex_char(&l, '('))
                return "shape is not a tuple";
            a->ndim = 0;
            a->count = 1;
            while (!lex_char(&l, ')')) {
                uint64_t v;
                if (a->ndim == NPY_MAX_DIMS || !lex_uint(&l, &v))
                    return "shape is not a tuple of at most 8 sizes";
                /* Bounded: the product must fit, let alone the file. */
                if (v != 0 && a->count > (UINT64_MAX / 16) / v)
                    return "shape claims more elements than any file holds";
                a->count *= v;
                a->shape[a->ndim++] = v;
                if (!lex_char(&l, ',') && !(l.s < l.end && *l.s == ')'))
                    return "shape is not a tuple";
                lex_space(&l);
            }
            seen[2] = true;
        } else {
            return "the header has a key other than descr, fortran_order and shape, or one twice";
        }
        if (!lex_char(&l, ',')) {
            if (!lex_char(&l, '}'))
                return "the header dict is not closed";
            break;
        }
    }
    lex_space(&l);
    if (l.s != l.end)
        return "text after the header dict";
    if (!seen[0] || !seen[1] || !seen[2])
        return "the header lacks descr, fortran_order or shape";
    return NULL;
}

/* Read n bytes of s into buf; *got short only at its end. */
static int
stream_read(const struct data_stream *s, void *buf, size_t n, size_t *got, char **cause)
{
    return s->read(s->ctx, buf, n, got, cause);
}

/*
 * Read one .npy array from s into a, the header checked against what the
 * stream holds before anything is allocated from it (and its data against
 * b); name (a path, or "archive.npz:member.npy") goes in every message.
 */
static int
npy_read_stream(struct npy_array *a, const struct data_stream *s, const char *name,
                struct data_budget *b, char **cause)
{
    memset(a, 0, sizeof *a);
    int rc = -1;
    char *header = NULL;
    unsigned char pre[12];
    size_t got;
    if (stream_read(s, pre, 10, &got, cause) < 0)
        goto out;
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        data_set_cause(cause, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", name);
        goto out;
    }
    int major = pre[6];
    uint64_t hlen, pre_len = 10;
    if (major == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (stream_read(s, pre + 10, 2, &got, cause) < 0)
            goto out;
        if (got < 2) {
            data_set_cause(cause, "%s: the file ends inside the .npy preamble", name);
            goto out;
        }
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16
               | (uint64_t)pre[11] << 24;
        pre_len = 12;
    } else {
        data_set_cause(cause, "%s: .npy format version %d.%d, nntop reads 1 to 3", name, major,
                       pre[7]);
        goto out;
    }
    if (hlen > NPY_HEADER_MAX) {
        data_set_cause(cause, "%s: header length %llu is more than %d bytes", name,
                       (unsigned long long)hlen, NPY_HEADER_MAX);
        goto out;
    }
    if (s->size != UINT64_MAX && pre_len + hlen > s->size) {
        data_set_cause(cause, "%s: header length %llu runs past the end of the file", name,
                       (unsigned long long)hlen);
        goto out;
    }
    header = xmalloc((size_t)hlen + 1);
    if (stream_read(s, header, (size_t)hlen, &got, cause) < 0)
        goto out;
    if (got < hlen) {
        data_set_cause(cause, "%s: header length %llu runs past the end of the file", name,
                       (unsigned long long)hlen);
        goto out;
    }
    header[hlen] = '\0';
    if (memchr(header, '\0', (size_t)hlen) != NULL) {
        data_set_cause(cause, "%s: the header holds a NUL byte", name);
        goto out;
    }
    const char *bad = parse_header(a, header, (size_t)hlen);
    if (bad != NULL) {
        data_set_cause(cause, "%s: %s", name, bad);
        goto out;
    }
    uint64_t want = a->count * (uint64_t)a->size;
    if (want >= SIZE_MAX / 2 || a->count > LONG_MAX) {
        data_set_cause(cause, "%s: shape claims %llu elements, too many for memory", name,
                       (unsigned long long)a->count);
        goto out;
    }
    /* A stream of known size (an archive member) is judged before reading. */
    if (s->size != UINT64_MAX && want != s->size - pre_len - hlen) {
        data_set_cause(cause, "%s: the header's shape needs %llu bytes of data, the file %s",
                       name, (unsigned long long)want,
                       s->size - pre_len - hlen < want ? "holds fewer" : "holds more");
        goto out;
    }
    /* Read at most want + 1 bytes, growing as data arrives: a shape that
     * claims more than the file holds costs no more than the file. */
    if (data_budget_take(b, want, name, "the array's elements", cause) < 0)
        goto out;
    size_t have;
    if (data_stream_read_payload(s, (size_t)want, &a->data, &have, cause) < 0) {
        data_budget_give(b, want);
        goto out;
    }
    if (have != want) {
        data_budget_give(b, want);
        data_set_cause(cause, "%s: the header's shape needs %llu bytes of data, the file %s",
                       name, (unsigned long long)want,
                       have < want ? "holds fewer" : "holds more");
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        free(a->data);
        a->data = NULL;
    }
    free(header);
    return rc;
}

/* Does path name a .npz archive (by its extension)? */
static bool
is_npz(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".npz") == 0;
}

/*
 * Read the array at path into a: a .npy file (plain or gzip), or for a
 * .npz archive its member for role (key, or npz.c's choice by name).
 */
static int
npy_read(struct npy_array *a, const char *path, enum npz_role role, const char *key,
         struct data_budget *b, char **cause)
{
    if (is_npz(path)) {
        struct npz_member *m = npz_open(path, role, key, b, cause);
        if (m == NULL)
            return -1;
        struct data_stream s = npz_stream(m);
        int rc = npy_read_stream(a, &s, npz_name(m), b, cause);
        snprintf(a->name, sizeof a->name, "%s", npz_name(m));
        if (rc == 0 && npz_close(m, cause) < 0) {
            free(a->data);
            a->data = NULL;
            return -1;
        }
        if (rc < 0)
            npz_close(m, NULL);
        return rc;
    }
    struct data_file f;
    if (data_file_open(&f, path, cause) < 0)
        return -1;
    struct data_stream s = data_file_stream(&f);
    int rc = npy_read_stream(a, &s, path, b, cause);
    snprintf(a->name, sizeof a->name, "%s", path);
    data_file_close(&f);
    return rc;
}

/* Element i of a as a double (byte order and width from the header). */
static double
npy_get(const struct npy_array *a, uint64_t i)
{
    const uint8_t *p = a->data + i * (uint64_t)a->size;
    uint64_t u = 0;
    for (int k = 0; k < a->size; k++)
        u |= (uint64_t)p[a->big ? a->size - 1 - k : k] << (8 * k);
    switch (a->kind) {
    case 'u':
        return (double)u;
    case 'i':
        if (a->size == 4)
            return (double)(int32_t)(uint32_t)u;
        return (double)(int64_t)u;
    default:
        if (a->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            return f;
        } else {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
    }
}

/*
 * One inputs file and its labels file into a store; an empty ypath
 * after a .npz xpath: the labels are in the same archive.
 */
static int
npy_pair(struct dataset *ds, const char *xpath, const char *ypath, int *max_label,
         const struct data_spec *spec, struct data_budget *b, char **cause)
{
    struct npy_array x, y;
    if (ypath[0] == '\0' && is_npz(xpath))
        ypath = xpath;
    if (npy_read(&x, xpath, NPZ_IMAGES, spec->inputs_key, b, cause) < 0)
        return -1;
    int rc = -1;
    if (npy_read(&y, ypath, NPZ_LABELS, spec->labels_key, b, cause) < 0) {
        free(x.data);
        return -1;
    }
    /* Messages name the file, or the archive and its member. */
    xpath = x.name;
    ypath = y.name;
    if (x.ndim < 2 || x.ndim > 4 || x.shape[0] == 0) {
        data_set_cause(cause, "%s: inputs must be (N, D), (N, H, W) or (N, C, H, W) with N > 0",
                       xpath);
        goto out;
    }
    uint64_t d = x.count / x.shape[0];
    if (d == 0 || d > INT_MAX) {
        data_set_cause(cause, "%s: %llu features per sample is not a usable size", xpath,
                       (unsigned long long)d);
        goto out;
    }
    if (y.ndim != 1 || y.shape[0] != x.shape[0]) {
        data_set_cause(cause, "%s: labels must be one per sample: shape (%llu,) for the %llu "
                       "samples of %s", ypath, (unsigned long long)x.shape[0],
                       (unsigned long long)x.shape[0], xpath);
        goto out;
    }
    if (y.kind == 'f') {
        data_set_cause(cause, "%s: labels must be integers (u1, i4, i8), not floats", ypath);
        goto out;
    }
    ds->n = (long)x.shape[0];
    ds->d = (int)d;
    if (x.ndim >= 3) {
        ds->shape[0] = x.ndim == 4 ? (int)x.shape[1] : 1;
        ds->shape[1] = (int)x.shape[x.ndim - 2];
        ds->shape[2] = (int)x.shape[x.ndim - 1];
    }
    if (data_budget_take(b, (uint64_t)ds->n * sizeof *ds->labels, ypath,
                         "the labels as integers", cause) < 0)
        goto out;
    ds->labels = xmalloc((size_t)ds->n * sizeof *ds->labels);
    for (long i = 0; i < ds->n; i++) {
        double v = npy_get(&y, (uint64_t)i);
        if (v < 0 || v > DATA_LABEL_MAX) {
            data_set_cause(cause, "%s: label %.0f of sample %ld is outside 0..%d", ypath, v, i,
                           DATA_LABEL_MAX);
            goto out;
        }
        ds->labels[i] = (int32_t)v;
        if (ds->labels[i] > *max_label)
            *max_label = ds->labels[i];
    }
    if (x.kind == 'u') {
        ds->bytes = x.data;
        x.data = NULL;
    } else {
        if (data_budget_take(b, x.count * sizeof *ds->floats, xpath, "the inputs as floats",
                             cause) < 0)
            goto out;
        ds->floats = xmalloc((size_t)x.count * sizeof *ds->floats);
        for (uint64_t i = 0; i < x.count; i++) {
            double v = npy_get(&x, i);
            if (!isfinite(v)) {
                data_set_cause(cause, "%s: element %llu is not a finite number", xpath,
                               (unsigned long long)i);
                goto out;
            }
            ds->floats[i] = (float)v;
        }
    }
    rc = 0;
out:
    /* The raw arrays go; what the store keeps stays taken. */
    if (x.data != NULL)
        data_budget_give(b, x.count * (uint64_t)x.size);
    if (y.data != NULL)
        data_budget_give(b, y.count * (uint64_t)y.size);
    free(x.data);
    free(y.data);
    if (rc < 0)
        data_store_fini(ds);
    return rc;
}

int
data_npy_load(struct dataset *train, struct dataset *test, int *classes,
              const struct data_spec *spec, struct data_budget *b, char **cause)
{
    int max_label = 0;
    if (spec->train_images[0] == '\0'
        || (spec->train_labels[0] == '\0' && !is_npz(spec->train_images))) {
        data_set_cause(cause, "npy: train_images and train_labels must both be set (or "
                       "train_images alone naming a .npz archive that holds both)");
        return -1;
    }
    if (npy_pair(train, spec->train_images, spec->train_labels, &max_label, spec, b, cause) < 0)
        return -1;
    bool has_x = spec->test_images[0] != '\0', has_y = spec->test_labels[0] != '\0';
    if (has_x && !has_y && is_npz(spec->test_images))
        has_y = true;   /* one archive holds both */
    if (has_x != has_y) {
        data_set_cause(cause, "%s: test %s given without test %s",
                       has_x ? spec->test_images : spec->test_labels, has_x ? "images" : "labels",
                       has_x ? "labels" : "images");
        data_store_fini(train);
        return -1;
    }
    if (has_x) {
        if (npy_pair(test, spec->test_images, spec->test_labels, &max_label, spec, b,
                     cause) < 0) {
            data_store_fini(train);
            return -1;
        }
        if (test->d != train->d || memcmp(test->shape, train->shape, sizeof test->shape) != 0
            || (test->bytes == NULL) != (train->bytes == NULL)) {
            data_set_cause(cause, "%s: test inputs do not have the training inputs' shape and "
                           "dtype (%s)", spec->test_images, spec->train_images);
            data_store_fini(train);
            data_store_fini(test);
            return -1;
        }
    }
    *classes = max_label + 1;
    return 0;
}
