/*
 * idx.c - reader for the IDX format of MNIST and Fashion-MNIST, gzipped or
 * plain: uint8 images (magic 0x00000803, dims n, rows, cols, big-endian)
 * and uint8 labels (magic 0x00000801, dim n).  Images stay bytes; the
 * header is never trusted for allocation beyond what the file delivers.
 * Other IDX element types (int, float) and ranks are refused, not read.
 */
#include "config.h"

#include "data-int.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u

struct idx_file {
    long n;                 /* images or labels */
    int rows, cols;         /* images only */
    uint8_t *data;          /* (n, rows * cols) or (n) */
};

static uint32_t
idx_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
idx_read(struct idx_file *out, const char *path, bool images, struct data_budget *b,
         char **cause)
{
    const char *what = images ? "images" : "labels";
    uint32_t expect = images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    size_t hlen = images ? 16 : 8, got;
    uint8_t hdr[16];
    uint8_t *buf = NULL;
    struct data_file f;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (data_file_open(&f, path, cause) < 0)
        return -1;
    if (data_file_read(&f, hdr, hlen, &got, cause) < 0)
        goto out;
    if (got == 0) {
        data_set_cause(cause, "%s: empty file, expected IDX %s", path, what);
        goto out;
    }
    if (got >= 4 && idx_be32(hdr) != expect) {
        data_set_cause(cause, "%s: wrong magic 0x%08x, expected 0x%08x (IDX %s)", path,
                       idx_be32(hdr), expect, what);
        goto out;
    }
    if (got < hlen) {
        data_set_cause(cause, "%s: truncated IDX header: %zu bytes, expected %zu", path, got,
                       hlen);
        goto out;
    }

    uint64_t n = idx_be32(hdr + 4);
    uint64_t rows = images ? idx_be32(hdr + 8) : 1, cols = images ? idx_be32(hdr + 12) : 1;
    if (n == 0) {
        data_set_cause(cause, "%s: header says 0 %s: no data", path, what);
        goto out;
    }
    if (n > LONG_MAX) {
        data_set_cause(cause, "%s: header says %llu %s, more than nntop can index", path,
                       (unsigned long long)n, what);
        goto out;
    }
    if (rows == 0 || cols == 0 || rows * cols > INT_MAX) {
        data_set_cause(cause, "%s: header says images of %llux%llu, which is not a usable size",
                       path, (unsigned long long)rows, (unsigned long long)cols);
        goto out;
    }
    /* n < 2^32 and rows * cols < 2^31: the product fits in 64 bits. */
    uint64_t want = n * rows * cols;
    if (want >= SIZE_MAX) {
        data_set_cause(cause, "%s: header says %llu bytes of %s, too large for memory", path,
                       (unsigned long long)want, what);
        goto out;
    }
    /* The header's claim against data.max_bytes before any of it is read. */
    if (data_budget_take(b, want, path, images ? "the images" : "the labels", cause) < 0)
        goto out;
    size_t have;
    if (data_file_read_payload(&f, (size_t)want, &buf, &have, cause) < 0) {
        data_budget_give(b, want);
        goto out;
    }
    if (have != want) {
        data_budget_give(b, want);
        char claim[96];
        if (images)
            snprintf(claim, sizeof claim, "%llu images of %llux%llu", (unsigned long long)n,
                     (unsigned long long)rows, (unsigned long long)cols);
        else
            snprintf(claim, sizeof claim, "%llu labels", (unsigned long long)n);
        if (have < want)
            data_set_cause(cause, "%s: header says %s but the file holds %zu bytes of data",
                           path, claim, have);
        else
            data_set_cause(cause,
                           "%s: header says %s (%llu bytes) but the file holds more data",
                           path, claim, (unsigned long long)want);
        goto out;
    }
    out->n = (long)n;
    out->rows = (int)rows;
    out->cols = (int)cols;
    out->data = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    data_file_close(&f);
    return rc;
}

/* Pair an images file with its labels file into a store; takes the images' bytes. */
static int
idx_pair(struct dataset *ds, struct idx_file *im, struct idx_file *lb, const char *im_path,
         const char *lb_path, int *max_label, struct data_budget *b, char **cause)
{
    if (im->n != lb->n) {
        data_set_cause(cause, "%s, %s: images (%ld) and labels (%ld) counts differ", im_path,
                       lb_path, im->n, lb->n);
        return -1;
    }
    if (data_budget_take(b, (uint64_t)lb->n * sizeof(int32_t), lb_path, "the labels as integers",
                         cause) < 0)
        return -1;
    ds->n = im->n;
    ds->d = im->rows * im->cols;
    ds->shape[0] = 1;
    ds->shape[1] = im->rows;
    ds->shape[2] = im->cols;
    ds->bytes = im->data;
    im->data = NULL;
    ds->labels = xmalloc((size_t)ds->n * sizeof(int32_t));
    for (long i = 0; i < ds->n; i++) {
        ds->labels[i] = lb->data[i];
        if (lb->data[i] > *max_label)
            *max_label = lb->data[i];
    }
    return 0;
}

int
data_idx_load(struct dataset *train, struct dataset *test, int *classes,
              const struct data_spec *spec, struct data_budget *b, char **cause)
{
    struct idx_file im = {0}, lb = {0};
    int max_label = 0, rc = -1, train_rows = 0, train_cols = 0;

    if (spec->train_images[0] == '\0' || spec->train_labels[0] == '\0') {
        data_set_cause(cause, "idx: train_images and train_labels must both be set");
        return -1;
    }
    if (idx_read(&im, spec->train_images, true, b, cause) < 0
        || idx_read(&lb, spec->train_labels, false, b, cause) < 0
        || idx_pair(train, &im, &lb, spec->train_images, spec->train_labels, &max_label, b,
                    cause) < 0)
        goto out;
    train_rows = im.rows;
    train_cols = im.cols;
    free(lb.data);
    data_budget_give(b, (uint64_t)lb.n);
    lb.data = NULL;

    bool has_images = spec->test_images[0] != '\0', has_labels = spec->test_labels[0] != '\0';
    if (has_images != has_labels) {
        data_set_cause(cause, "%s: test %s given without test %s",
                       has_images ? spec->test_images : spec->test_labels,
                       has_images ? "images" : "labels", has_images ? "labels" : "images");
        goto out;
    }
    if (has_images) {
        if (idx_read(&im, spec->test_images, true, b, cause) < 0
            || idx_read(&lb, spec->test_labels, false, b, cause) < 0)
            goto out;
        if (im.rows != train_rows || im.cols != train_cols) {
            data_set_cause(cause, "%s: test images are %dx%d but the training images (%s) are "
                           "%dx%d", spec->test_images, im.rows, im.cols, spec->train_images,
                           train_rows, train_cols);
            goto out;
        }
        if (idx_pair(test, &im, &lb, spec->test_images, spec->test_labels, &max_label, b,
                     cause) < 0)
            goto out;
    }
    *classes = max_label + 1;
    rc = 0;
out:
    free(im.data);
    free(lb.data);
    if (rc < 0) {
        data_store_fini(train);
        data_store_fini(test);
    }
    return rc;
}
