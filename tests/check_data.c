/*
 * check_data.c - tests of the data module: generators, the IDX and CSV
 * readers (good files, broken files with exact messages, and a small fuzz
 * loop), splits, subset, normalisation statistics, gathering and the
 * batcher.  Files are written by the tests into check_tmpdir(); the only
 * outside input is the optional Fashion-MNIST under /usr/share/datasets.
 */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <zlib.h>

#include "check_run.h"
#include "nntop/data.h"
#include "nntop/rng.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"
/* Room for an expected message naming two paths. */
#define WANT_MAX (2 * DATA_PATH_MAX + 256)

/* ---- helpers ---------------------------------------------------------- */

static char tmp[64];

static void
setup_tmp(void)
{
    snprintf(tmp, sizeof tmp, "%s", check_tmpdir());
}

static void
teardown_tmp(void)
{
    DIR *dir = opendir(tmp);
    if (dir == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp, e->d_name);
        unlink(p);
    }
    closedir(dir);
    rmdir(tmp);
}

/* Path of name inside the test's directory (one of four rotating buffers). */
static const char *
tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

/*
 * Write a file, gzipped when the name ends in .gz.  The old file is
 * unlinked first: truncating a file with data makes ext4 flush it on
 * close, which made the fuzz loops wait on the disk for seconds.
 */
static void
write_file(const char *path, const void *data, size_t len)
{
    unlink(path);
    bool gz = strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_msg(g != NULL, "cannot create %s", path);
        if (len > 0)
            ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        FILE *fp = fopen(path, "wb");
        ck_assert_msg(fp != NULL, "cannot create %s", path);
        if (len > 0)
            ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
        ck_assert_int_eq(fclose(fp), 0);
    }
}

static void
write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static unsigned char *
read_raw(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot read %s", path);
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX images file of n rows x cols images, pixel (i, j) = pix(i, j); *len set. */
static unsigned char *
idx_images(uint32_t n, uint32_t rows, uint32_t cols, int (*pix)(long, long), size_t *len)
{
    size_t d = (size_t)rows * cols;
    *len = 16 + (size_t)n * d;
    unsigned char *b = malloc(*len);
    put_be32(b, 0x00000803);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            b[16 + i * d + j] = (unsigned char)pix((long)i, (long)j);
    return b;
}

static unsigned char *
idx_labels(uint32_t n, int (*lab)(long), size_t *len)
{
    *len = 8 + (size_t)n;
    unsigned char *b = malloc(*len);
    put_be32(b, 0x00000801);
    put_be32(b + 4, n);
    for (size_t i = 0; i < n; i++)
        b[8 + i] = (unsigned char)lab((long)i);
    return b;
}

static int
pix_mix(long i, long j)
{
    return (int)((i * 37 + j * 11 + (i * j) % 7) % 256);
}

static int
lab_mod3(long i)
{
    return (int)(i % 3);
}

static int
lab_mod5(long i)
{
    return (int)((i * 7) % 5);
}

/* Write images + labels (n images of 4x3) under the given names. */
static void
write_idx_pair(const char *im, const char *lb, uint32_t n, int (*lab)(long))
{
    size_t li, ll;
    unsigned char *a = idx_images(n, 4, 3, pix_mix, &li);
    unsigned char *b = idx_labels(n, lab, &ll);
    write_file(im, a, li);
    write_file(lb, b, ll);
    free(a);
    free(b);
}

static struct data_spec
spec_base(enum data_source src)
{
    struct data_spec s;
    memset(&s, 0, sizeof s);
    s.source = src;
    s.label_index = -1;
    s.header = CSV_HEADER_AUTO;
    s.normalize = NORM_NONE;
    s.val_fraction = 0.1;
    s.shuffle = true;
    return s;
}

static struct data_spec
spec_spiral(int classes, long points, double noise)
{
    struct data_spec s = spec_base(DATA_SPIRAL);
    s.classes = classes;
    s.points = points;
    s.noise = noise;
    return s;
}

static struct data_spec
spec_csv(const char *path)
{
    struct data_spec s = spec_base(DATA_CSV);
    snprintf(s.path, sizeof s.path, "%s", path);
    return s;
}

static struct data_spec
spec_idx(const char *im, const char *lb)
{
    struct data_spec s = spec_base(DATA_IDX);
    snprintf(s.train_images, sizeof s.train_images, "%s", im);
    snprintf(s.train_labels, sizeof s.train_labels, "%s", lb);
    return s;
}

static void
load_ok(struct data *d, const struct data_spec *s, uint64_t seed)
{
    char *cause = NULL;
    int rc = data_load(d, s, seed, &cause);
    ck_assert_msg(rc == 0, "data_load failed: %s", cause != NULL ? cause : "(no cause)");
    ck_assert_ptr_null(cause);
}

/* Load that must fail; returns the heap message. */
static char *
load_err(const struct data_spec *s)
{
    struct data d;
    char *cause = NULL;
    int rc = data_load(&d, s, 1, &cause);
    if (rc == 0)
        data_fini(&d);
    ck_assert_msg(rc == -1, "expected data_load to fail, it returned %d", rc);
    ck_assert_msg(cause != NULL, "failure without a cause");
    ck_assert_msg(strchr(cause, '\n') == NULL, "cause is not one line: %s", cause);
    return cause;
}

static void
expect_err(const struct data_spec *s, const char *want)
{
    char *cause = load_err(s);
    ck_assert_msg(strcmp(cause, want) == 0, "expected message\n  '%s'\ngot\n  '%s'", want,
                  cause);
    free(cause);
}

static void
expect_err_has(const struct data_spec *s, const char *part1, const char *part2)
{
    char *cause = load_err(s);
    ck_assert_msg(strstr(cause, part1) != NULL && (part2 == NULL || strstr(cause, part2) != NULL),
                  "expected a message with '%s' and '%s', got '%s'", part1,
                  part2 != NULL ? part2 : "", cause);
    free(cause);
}

/* The raw value of feature j of store row r, as a double. */
static double
raw(const struct dataset *ds, long r, int j)
{
    size_t o = (size_t)r * (size_t)ds->d + (size_t)j;
    return ds->bytes != NULL ? ds->bytes[o] : ds->floats[o];
}

static int
cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* ---- core: generators ------------------------------------------------- */

START_TEST(test_data__spiral_shape)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    struct data d;
    load_ok(&d, &s, 7);
    ck_assert_msg(d.train_store.n == 300 && d.d == 2 && d.classes == 3,
                  "expected n 300, d 2, 3 classes; got %ld, %d, %d", d.train_store.n, d.d,
                  d.classes);
    ck_assert_msg(d.train.n == 270 && d.val.n == 30 && d.test.n == 0,
                  "expected train 270, val 30, test 0; got %ld, %ld, %ld", d.train.n, d.val.n,
                  d.test.n);
    ck_assert_ptr_nonnull(d.train_store.floats);
    ck_assert_ptr_null(d.train_store.bytes);
    long sum = 0;
    for (int k = 0; k < 3; k++)
        sum += d.class_counts[k];
    ck_assert_msg(sum == 270, "class counts sum to %ld, expected 270", sum);
    for (long r = 0; r < 300; r++) {
        double rad = hypot(raw(&d.train_store, r, 0), raw(&d.train_store, r, 1));
        ck_assert_msg(fabs(rad - (double)(r % 100) / 99.0) < 1e-6,
                      "row %ld: radius %g, expected %g", r, rad, (double)(r % 100) / 99.0);
        ck_assert_int_eq(d.train_store.labels[r], (int)(r / 100));
    }
    data_fini(&d);
}
END_TEST

START_TEST(test_data__spiral_noiseless_angles)
{
    struct data_spec s = spec_spiral(2, 5, 0.0);
    struct data d;
    load_ok(&d, &s, 1);
    for (long r = 0; r < 10; r++) {
        int k = (int)(r / 5);
        long i = r % 5;
        double rad = i / 4.0, t = 4.0 * k + i;     /* linspace(4k, 4k + 4, 5) */
        double x = rad * sin(t), y = rad * cos(t);
        ck_assert_msg(fabs(raw(&d.train_store, r, 0) - x) < 1e-6
                      && fabs(raw(&d.train_store, r, 1) - y) < 1e-6,
                      "row %ld: (%g, %g), expected (%g, %g)", r, raw(&d.train_store, r, 0),
                      raw(&d.train_store, r, 1), x, y);
    }
    data_fini(&d);
}
END_TEST

static bool
same_store(const struct dataset *a, const struct dataset *b)
{
    return a->n == b->n && a->d == b->d
           && memcmp(a->floats, b->floats, (size_t)a->n * a->d * sizeof(float)) == 0
           && memcmp(a->labels, b->labels, (size_t)a->n * sizeof(int32_t)) == 0;
}

START_TEST(test_data__generators_deterministic)
{
    struct data_spec specs[3] = { spec_spiral(3, 50, 0.2), spec_base(DATA_XOR),
                                  spec_base(DATA_BLOBS) };
    specs[1].points = 200;
    specs[1].noise = 0.1;
    specs[2].classes = 4;
    specs[2].points = 100;
    specs[2].features = 3;
    specs[2].spread = 1.0;
    for (int i = 0; i < 3; i++) {
        struct data a, b, c;
        load_ok(&a, &specs[i], 11);
        load_ok(&b, &specs[i], 11);
        load_ok(&c, &specs[i], 12);
        ck_assert_msg(same_store(&a.train_store, &b.train_store),
                      "%s: same seed gave different data", data_source_name(specs[i].source));
        ck_assert_msg(!same_store(&a.train_store, &c.train_store),
                      "%s: seeds 11 and 12 gave the same data",
                      data_source_name(specs[i].source));
        data_fini(&a);
        data_fini(&b);
        data_fini(&c);
    }
}
END_TEST

START_TEST(test_data__xor)
{
    struct data_spec s = spec_base(DATA_XOR);
    s.points = 400;
    s.noise = 0.0;
    struct data d;
    load_ok(&d, &s, 3);
    ck_assert_msg(d.classes == 2 && d.d == 2 && d.train_store.n == 400,
                  "expected 2 classes, d 2, n 400; got %d, %d, %ld", d.classes, d.d,
                  d.train_store.n);
    long ones = 0;
    for (long r = 0; r < 400; r++) {
        double x = raw(&d.train_store, r, 0), y = raw(&d.train_store, r, 1);
        ck_assert_msg(fabs(x) <= 1.0 && fabs(y) <= 1.0, "row %ld outside [-1,1]^2", r);
        int want = (x > 0) != (y > 0);
        ck_assert_msg(d.train_store.labels[r] == want, "row %ld (%g, %g): label %d, expected %d",
                      r, x, y, d.train_store.labels[r], want);
        ones += want;
    }
    ck_assert_msg(ones > 150 && ones < 250, "%ld of 400 in class 1, expected about half", ones);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__blobs)
{
    struct data_spec s = spec_base(DATA_BLOBS);
    s.classes = 3;
    s.points = 10;
    s.features = 5;
    s.spread = 0.0;
    s.val_fraction = 0.0;
    struct data d;
    load_ok(&d, &s, 5);
    ck_assert_msg(d.d == 5 && d.classes == 3 && d.train.n == 10, "d %d classes %d n %ld",
                  d.d, d.classes, d.train.n);
    long want[3] = { 4, 3, 3 };
    for (int k = 0; k < 3; k++)
        ck_assert_msg(d.class_counts[k] == want[k], "class %d: %ld points, expected %ld", k,
                      d.class_counts[k], want[k]);
    /* spread 0: every point is its class's centre, inside [-10, 10]^5 */
    for (long r = 0; r < 10; r++) {
        long first = d.train_store.labels[r] == 0 ? 0 : d.train_store.labels[r] == 1 ? 4 : 7;
        for (int j = 0; j < 5; j++) {
            ck_assert_msg(raw(&d.train_store, r, j) == raw(&d.train_store, first, j),
                          "row %ld feature %d differs from its centre", r, j);
            ck_assert(fabs(raw(&d.train_store, r, j)) <= 10.0);
        }
    }
    ck_assert_msg(raw(&d.train_store, 0, 0) != raw(&d.train_store, 4, 0),
                  "two classes share a centre");
    data_fini(&d);

    s.spread = 0.5;
    s.points = 3000;
    load_ok(&d, &s, 5);
    /* per-class sample std close to the spread */
    double m = 0, v = 0;
    for (long r = 0; r < 1000; r++)
        m += raw(&d.train_store, r, 2);
    m /= 1000;
    for (long r = 0; r < 1000; r++)
        v += pow(raw(&d.train_store, r, 2) - m, 2);
    v = sqrt(v / 1000);
    ck_assert_msg(fabs(v - 0.5) < 0.05, "class 0 feature 2 std %g, expected 0.5", v);
    data_fini(&d);
}
END_TEST

/* ---- core: splits ----------------------------------------------------- */

START_TEST(test_data__split_disjoint_cover)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    s.val_fraction = 0.25;
    struct data d, e, f;
    load_ok(&d, &s, 21);
    ck_assert_msg(d.val.n == 75 && d.train.n == 225, "val %ld train %ld", d.val.n, d.train.n);
    char seen[300] = { 0 };
    for (long i = 0; i < d.train.n; i++) {
        ck_assert(d.train.src == &d.train_store);
        if (i > 0)
            ck_assert_msg(d.train.idx[i] > d.train.idx[i - 1], "train not in file order at %ld",
                          i);
        seen[d.train.idx[i]]++;
    }
    for (long i = 0; i < d.val.n; i++) {
        ck_assert(d.val.src == &d.train_store);
        if (i > 0)
            ck_assert(d.val.idx[i] > d.val.idx[i - 1]);
        seen[d.val.idx[i]]++;
    }
    for (int r = 0; r < 300; r++)
        ck_assert_msg(seen[r] == 1, "row %d is in %d splits, expected exactly 1", r, seen[r]);
    /* every class shows up in val: the carve-out is shuffled, not the file's tail */
    int vc[3] = { 0 };
    for (long i = 0; i < d.val.n; i++)
        vc[d.train_store.labels[d.val.idx[i]]]++;
    ck_assert_msg(vc[0] > 0 && vc[1] > 0 && vc[2] > 0, "val classes %d %d %d", vc[0], vc[1],
                  vc[2]);

    load_ok(&e, &s, 21);
    load_ok(&f, &s, 22);
    ck_assert_msg(memcmp(d.val.idx, e.val.idx, 75 * sizeof(long)) == 0,
                  "same seed gave a different split");
    ck_assert_msg(memcmp(d.val.idx, f.val.idx, 75 * sizeof(long)) != 0,
                  "seeds 21 and 22 gave the same split");
    data_fini(&d);
    data_fini(&e);
    data_fini(&f);
}
END_TEST

START_TEST(test_data__subset)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    struct data full, sub;
    load_ok(&full, &s, 4);
    s.subset = 30;
    load_ok(&sub, &s, 4);
    ck_assert_msg(sub.train.n == 30, "subset train.n %ld, expected 30", sub.train.n);
    ck_assert_msg(sub.val.n == full.val.n
                  && memcmp(sub.val.idx, full.val.idx, (size_t)full.val.n * sizeof(long)) == 0,
                  "subset changed the validation split");
    for (long i = 0; i < 30; i++) {
        long r = sub.train.idx[i];
        ck_assert_msg(bsearch(&r, full.train.idx, (size_t)full.train.n, sizeof(long), cmp_long)
                      != NULL, "subset row %ld is not in the training split", r);
    }
    long sum = 0;
    int present = 0;
    for (int k = 0; k < 3; k++) {
        sum += sub.class_counts[k];
        present += sub.class_counts[k] > 0;
    }
    ck_assert_msg(sum == 30, "subset class counts sum to %ld, expected 30", sum);
    ck_assert_msg(present == 3, "subset of class-ordered data holds %d classes, expected 3",
                  present);
    data_fini(&full);
    data_fini(&sub);
}
END_TEST

/* ---- core: normalisation ---------------------------------------------- */

/*
 * Load once to learn which rows the seed sends to validation, then write a
 * file whose validation rows are wild: statistics that look at them fail.
 */
static void
check_norm_train_only(bool bytes)
{
    enum { N = 60, F = 3 };
    const char *path = bytes ? tpath("im.idx") : tpath("n.csv");
    const char *lpath = tpath("lb.idx");
    char text[8192];
    unsigned char img[16 + N * F], lab[8 + N];
    bool is_val[N] = { false };
    struct data d;

    for (int pass = 0; pass < 2; pass++) {
        put_be32(img, 0x803);
        put_be32(img + 4, N);
        put_be32(img + 8, 1);
        put_be32(img + 12, F);
        put_be32(lab, 0x801);
        put_be32(lab + 4, N);
        size_t o = 0;
        for (int r = 0; r < N; r++) {
            int v[F] = { 10 + r, 20 + (r * 7) % 50, 42 };
            if (pass == 1 && is_val[r]) {
                v[0] = 250;
                v[1] = 3;
                v[2] = 200;
            }
            for (int j = 0; j < F; j++)
                img[16 + r * F + j] = (unsigned char)v[j];
            lab[8 + r] = (unsigned char)(r % 2);
            o += (size_t)snprintf(text + o, sizeof text - o, "%d,%d,%d,%d\n", v[0], v[1], v[2],
                                  r % 2);
        }
        if (bytes) {
            write_file(path, img, sizeof img);
            write_file(lpath, lab, sizeof lab);
        } else {
            write_text(path, text);
        }
        struct data_spec s = bytes ? spec_idx(path, lpath) : spec_csv(path);
        s.val_fraction = 0.2;
        for (int kind = 0; kind < NORM_KIND_COUNT; kind++) {
            s.normalize = (enum normalize_kind)kind;
            load_ok(&d, &s, 99);
            ck_assert_int_eq(d.val.n, 12);
            ck_assert_msg((d.train_store.bytes != NULL) == bytes, "store kind");
            if (pass == 0) {
                for (long i = 0; i < d.val.n; i++)
                    is_val[d.val.idx[i]] = true;
                data_fini(&d);
                break;
            }
            for (int j = 0; j < F; j++) {
                double mn = 1e9, mx = -1e9, m = 0, v = 0;
                for (long i = 0; i < d.train.n; i++) {
                    double x = raw(&d.train_store, d.train.idx[i], j);
                    mn = fmin(mn, x);
                    mx = fmax(mx, x);
                    m += x;
                }
                m /= (double)d.train.n;
                for (long i = 0; i < d.train.n; i++)
                    v += pow(raw(&d.train_store, d.train.idx[i], j) - m, 2);
                double sd = sqrt(v / (double)d.train.n);
                double sc = 1, sh = 0;
                switch (kind) {
                case NORM_STANDARDIZE:
                    sc = sd > 0 ? 1 / sd : 1;
                    sh = -m * sc;
                    break;
                case NORM_MINMAX:
                    sc = mx > mn ? 1 / (mx - mn) : 1;
                    sh = -mn * sc;
                    break;
                case NORM_UNIT:
                    sc = 1.0 / 255;
                    break;
                default:
                    break;
                }
                ck_assert_msg(fabs(d.scale[j] - sc) <= 1e-5 * fabs(sc)
                              && fabs(d.shift[j] - sh) <= 1e-5 * fmax(1, fabs(sh)),
                              "%s %s feature %d: scale %g shift %g, expected %g %g "
                              "(from the training split)", bytes ? "bytes" : "floats",
                              normalize_name(s.normalize), j, d.scale[j], d.shift[j], sc, sh);
            }
            if (kind == NORM_STANDARDIZE)       /* constant column: std 0 -> scale 1 */
                ck_assert_msg(d.scale[2] == 1.0f && fabs(d.shift[2] + 42) < 1e-5,
                              "constant feature: scale %g shift %g, expected 1, -42",
                              d.scale[2], d.shift[2]);
            if (kind == NORM_MINMAX)
                ck_assert_msg(fabs(d.scale[0] * 10 + d.shift[0]) < 1e-5 && d.scale[2] == 1.0f,
                              "minmax: feature 0 min 10 maps to %g", d.scale[0] * 10 + d.shift[0]);
            data_fini(&d);
        }
    }
}

START_TEST(test_data__normalize_floats_train_only)
{
    check_norm_train_only(false);
}
END_TEST

START_TEST(test_data__normalize_bytes_train_only)
{
    check_norm_train_only(true);
}
END_TEST

START_TEST(test_data__normalize_ignores_subset)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    s.normalize = NORM_STANDARDIZE;
    struct data a, b;
    load_ok(&a, &s, 8);
    s.subset = 5;
    load_ok(&b, &s, 8);
    ck_assert_msg(a.scale[0] == b.scale[0] && a.shift[1] == b.shift[1],
                  "subset changed the normalisation: scale %g vs %g", a.scale[0], b.scale[0]);
    data_fini(&a);
    data_fini(&b);
}
END_TEST

/* ---- core: IDX -------------------------------------------------------- */

START_TEST(test_data__idx_plain_and_gz)
{
    write_idx_pair(tpath("a-images"), tpath("a-labels"), 50, lab_mod3);
    write_idx_pair(tpath("a-images.gz"), tpath("a-labels.gz"), 50, lab_mod3);
    write_idx_pair(tpath("t-images.gz"), tpath("t-labels"), 20, lab_mod5);
    struct data_spec s = spec_idx(tpath("a-images"), tpath("a-labels"));
    struct data p, g;
    load_ok(&p, &s, 1);
    s = spec_idx(tpath("a-images.gz"), tpath("a-labels.gz"));
    snprintf(s.test_images, sizeof s.test_images, "%s", tpath("t-images.gz"));
    snprintf(s.test_labels, sizeof s.test_labels, "%s", tpath("t-labels"));
    load_ok(&g, &s, 1);
    ck_assert_msg(p.train_store.n == 50 && p.d == 12 && p.classes == 3,
                  "plain: n %ld d %d classes %d, expected 50 12 3", p.train_store.n, p.d,
                  p.classes);
    ck_assert_ptr_nonnull(p.train_store.bytes);
    ck_assert_ptr_null(p.train_store.floats);
    ck_assert_msg(memcmp(p.train_store.bytes, g.train_store.bytes, 50 * 12) == 0
                  && memcmp(p.train_store.labels, g.train_store.labels, 50 * 4) == 0,
                  "gz and plain copies differ");
    for (long i = 0; i < 50; i++)
        for (int j = 0; j < 12; j++)
            ck_assert_int_eq(p.train_store.bytes[i * 12 + j], pix_mix(i, j));
    ck_assert_msg(g.classes == 5, "classes %d, expected 5 (max label over train and test + 1)",
                  g.classes);
    ck_assert_msg(g.test.n == 20 && g.test.src == &g.test_store && g.test.idx[19] == 19,
                  "test split n %ld", g.test.n);
    ck_assert_int_eq(g.test_store.labels[3], lab_mod5(3));
    data_fini(&p);
    data_fini(&g);
}
END_TEST

/* ---- core: CSV -------------------------------------------------------- */

START_TEST(test_data__csv_header_modes)
{
    const char *named = tpath("named.csv"), *bare = tpath("bare.csv");
    write_text(named, "a,b,label\n1,2,0\n3,4,1\n5,6,2\n");
    write_text(bare, "1,2,0\n3,4,1\n5,6,2\n");
    struct data d;
    struct data_spec s = spec_csv(named);
    s.val_fraction = 0;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 3 && d.d == 2 && d.classes == 3, "auto+names: n %ld d %d C %d",
                  d.train.n, d.d, d.classes);
    data_fini(&d);
    s = spec_csv(bare);
    s.val_fraction = 0;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 3, "auto without names: n %ld, expected 3", d.train.n);
    ck_assert_msg(raw(&d.train_store, 0, 0) == 1 && raw(&d.train_store, 2, 1) == 6,
                  "values %g %g", raw(&d.train_store, 0, 0), raw(&d.train_store, 2, 1));
    data_fini(&d);
    s.header = CSV_HEADER_YES;      /* the first numeric row is taken as names */
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 2 && raw(&d.train_store, 0, 0) == 3, "header=true: n %ld",
                  d.train.n);
    data_fini(&d);
    s.header = CSV_HEADER_NO;
    load_ok(&d, &s, 1);
    ck_assert_int_eq(d.train.n, 3);
    data_fini(&d);
    s = spec_csv(named);
    s.header = CSV_HEADER_NO;
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s:1:1: cell 'a' is not a number", named);
    expect_err(&s, want);
}
END_TEST

START_TEST(test_data__csv_label_column)
{
    const char *p = tpath("l.csv");
    write_text(p, "x, \"the label\" ,z\n0.5,2,-1.5e1\n1.25, 0 ,3\n");
    struct data d;
    struct data_spec s = spec_csv(p);
    s.val_fraction = 0;
    snprintf(s.label_name, sizeof s.label_name, "the label");
    load_ok(&d, &s, 1);
    ck_assert_msg(d.d == 2 && d.classes == 3, "by name: d %d classes %d", d.d, d.classes);
    ck_assert_msg(d.train_store.labels[0] == 2 && d.train_store.labels[1] == 0
                  && raw(&d.train_store, 0, 0) == 0.5 && raw(&d.train_store, 0, 1) == -15
                  && raw(&d.train_store, 1, 1) == 3, "by name: wrong values");
    data_fini(&d);

    write_text(p, "4,1.5,2.5\n0,3.5,4.5\n");
    s = spec_csv(p);
    s.val_fraction = 0;
    s.label_index = 0;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.classes == 5 && d.train_store.labels[0] == 4
                  && raw(&d.train_store, 1, 0) == 3.5, "by index 0: classes %d label %d",
                  d.classes, d.train_store.labels[0]);
    data_fini(&d);
    s.label_index = -1;             /* last */
    s.normalize = NORM_NONE;
    write_text(p, "4,1.5,2\n0,3.5,1\n");
    load_ok(&d, &s, 1);
    ck_assert_msg(d.classes == 3 && d.train_store.labels[0] == 2 && raw(&d.train_store, 0, 0) == 4,
                  "default last: classes %d", d.classes);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__csv_test_file)
{
    write_text(tpath("tr.csv"), "a,b,y\n1,2,0\n3,4,1\n");
    write_text(tpath("te.csv"), "a,b,y\n5,6,3\n");
    struct data_spec s = spec_csv(tpath("tr.csv"));
    snprintf(s.test_path, sizeof s.test_path, "%s", tpath("te.csv"));
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.test.n == 1 && d.classes == 4 && d.test_store.floats[1] == 6,
                  "test n %ld classes %d", d.test.n, d.classes);
    data_fini(&d);
}
END_TEST

/* ---- core: gather and batcher ----------------------------------------- */

static void
check_gather(struct data *d, const struct split *sp)
{
    long pos[7] = { 3, 0, 9, 9, 1, 7, 5 };
    float x[7 * 64];
    int32_t y[7];
    ck_assert(d->d <= 64 && sp->n > 1);
    for (int b = 0; b < 7; b++)
        pos[b] %= sp->n;
    data_gather(d, sp, pos, 7, x, y);
    for (int b = 0; b < 7; b++) {
        long r = sp->idx[pos[b]];
        ck_assert_int_eq(y[b], sp->src->labels[r]);
        for (int j = 0; j < d->d; j++) {
            float want = (float)raw(sp->src, r, j) * d->scale[j] + d->shift[j];
            ck_assert_msg(fabsf(x[b * d->d + j] - want) <= 1e-6f * fmaxf(1, fabsf(want)),
                          "x[%d][%d] = %g, expected %g", b, j, x[b * d->d + j], want);
        }
    }
}

START_TEST(test_data__gather_matches_manual)
{
    /* 4x9 = 36 pixels: two 16-blocks and a scalar tail of 4 */
    size_t li, ll;
    unsigned char *a = idx_images(40, 4, 9, pix_mix, &li);
    unsigned char *b = idx_labels(40, lab_mod3, &ll);
    write_file(tpath("g-im"), a, li);
    write_file(tpath("g-lb"), b, ll);
    free(a);
    free(b);
    struct data_spec s = spec_idx(tpath("g-im"), tpath("g-lb"));
    s.normalize = NORM_STANDARDIZE;
    struct data d;
    load_ok(&d, &s, 2);
    check_gather(&d, &d.train);
    check_gather(&d, &d.val);
    data_fini(&d);

    struct data_spec f = spec_base(DATA_BLOBS);
    f.classes = 3;
    f.points = 90;
    f.features = 37;
    f.spread = 2;
    f.normalize = NORM_MINMAX;
    load_ok(&d, &f, 2);
    check_gather(&d, &d.train);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__batcher_epoch)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    struct data d;
    load_ok(&d, &s, 6);
    struct batcher b;
    batcher_init(&b, &d.train, true, 6);
    float x[64 * 2];
    int32_t y[64];
    long first_order[270];
    for (int ep = 0; ep < 2; ep++) {
        int sizes[8], nb = 0;
        long got = 0;
        while (got < 270) {
            int k = batcher_next(&b, &d, 64, x, y);
            ck_assert_msg(k > 0 && nb < 8, "batch %d has %d rows", nb, k);
            if (got + k < 270)
                ck_assert_msg(b.epoch == ep, "epoch counted early: %ld after %ld rows", b.epoch,
                              got + k);
            sizes[nb++] = k;
            got += k;
        }
        ck_assert_msg(nb == 5 && sizes[0] == 64 && sizes[3] == 64 && sizes[4] == 14,
                      "epoch %d: %d batches, last %d; expected 4 x 64 + 14", ep, nb,
                      sizes[nb - 1]);
        ck_assert_msg(b.epoch == ep + 1 && b.pos == 0, "after epoch %d: epoch %ld pos %ld", ep,
                      b.epoch, b.pos);
        if (ep == 0)
            memcpy(first_order, b.order, sizeof first_order);
    }
    ck_assert_msg(memcmp(first_order, b.order, sizeof first_order) != 0,
                  "the second epoch kept the first one's order");
    batcher_fini(&b);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__batcher_each_once)
{
    /* feature 0 is the row number, so every gathered row names itself */
    const char *p = tpath("rows.csv");
    char text[16384];
    size_t o = 0;
    for (int r = 0; r < 101; r++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%d,%d\n", r, r % 4);
    write_text(p, text);
    struct data_spec s = spec_csv(p);
    s.val_fraction = 0.2;
    struct data d;
    load_ok(&d, &s, 12);
    long n = d.train.n;
    ck_assert_int_eq(n, 81);
    struct batcher b;
    batcher_init(&b, &d.train, true, 12);
    float x[16];
    int32_t y[16];
    long order0[81];
    for (int ep = 0; ep < 3; ep++) {
        char seen[101] = { 0 };
        long k_total = 0, idx = 0;
        while (k_total < n) {
            int k = batcher_next(&b, &d, 16, x, y);
            ck_assert_msg(k == (k_total + 16 <= n ? 16 : n - k_total), "batch of %d rows", k);
            for (int i = 0; i < k; i++) {
                int row = (int)lrintf(x[i]);    /* feature 0 is the row number */
                ck_assert_msg(row >= 0 && row < 101 && y[i] == row % 4, "bad row %d", row);
                seen[row]++;
                if (ep == 0)
                    order0[idx++] = row;
            }
            k_total += k;
        }
        ck_assert_int_eq(b.epoch, ep + 1);
        for (long i = 0; i < n; i++)
            ck_assert_msg(seen[d.train.idx[i]] == 1, "epoch %d: row %ld seen %d times", ep,
                          d.train.idx[i], seen[d.train.idx[i]]);
        for (long i = 0; i < d.val.n; i++)
            ck_assert_msg(seen[d.val.idx[i]] == 0, "validation row %ld was batched",
                          d.val.idx[i]);
    }
    /* the first epoch is shuffled, not file order */
    bool sorted = true;
    for (int i = 1; i < 81; i++)
        sorted &= order0[i] > order0[i - 1];
    ck_assert_msg(!sorted, "shuffle=true gave file order");

    /* same seed, same order; another seed, another */
    struct batcher c, e;
    batcher_init(&c, &d.train, true, 12);
    batcher_init(&e, &d.train, true, 13);
    float xc[16], xe[16];
    int32_t yc[16], ye[16];
    bool differ = false;
    for (long i = 0; i < n; i++) {
        batcher_next(&c, &d, 1, xc, yc);
        batcher_next(&e, &d, 1, xe, ye);
        ck_assert_msg((long)lrintf(xc[0]) == order0[i], "seed 12 again: step %ld row %ld, "
                      "expected %ld", i, (long)lrintf(xc[0]), order0[i]);
        differ |= xc[0] != xe[0];
    }
    ck_assert_msg(differ, "seeds 12 and 13 gave the same order");
    batcher_fini(&b);
    batcher_fini(&c);
    batcher_fini(&e);
    data_fini(&d);
}
END_TEST

/* A batch_par_fn that cuts [0, k) into three uneven parts and runs them last first. */
static int par_calls;
static void
par_in_three(void *par_ctx, int k, batch_rows_fn fn, void *ctx)
{
    ck_assert_ptr_eq(par_ctx, &par_calls);
    par_calls++;
    int a = k / 5, b = k - k / 3;
    fn(ctx, b, k);
    fn(ctx, a, b);
    fn(ctx, 0, a);
}

/* batcher_next_par() gathers the same batches, epochs and order as batcher_next(). */
START_TEST(test_data__batcher_par_same)
{
    struct data_spec s = spec_spiral(3, 100, 0.2);
    struct data d;
    load_ok(&d, &s, 8);
    struct batcher one, par;
    batcher_init(&one, &d.train, true, 8);
    batcher_init(&par, &d.train, true, 8);
    float x1[37 * 2], x2[37 * 2];
    int32_t y1[37], y2[37];
    par_calls = 0;
    for (int step = 0; step < 20; step++) {
        int k1 = batcher_next(&one, &d, 37, x1, y1);
        memset(x2, 0xff, sizeof x2);
        memset(y2, 0xff, sizeof y2);
        int k2 = batcher_next_par(&par, &d, 37, x2, y2, par_in_three, &par_calls);
        ck_assert_int_eq(k1, k2);
        ck_assert_msg(memcmp(x1, x2, (size_t)k1 * 2 * sizeof *x1) == 0
                          && memcmp(y1, y2, (size_t)k1 * sizeof *y1) == 0,
                      "step %d: the parallel gather gave another batch", step);
        ck_assert_int_eq(one.epoch, par.epoch);
        ck_assert_int_eq(one.pos, par.pos);
    }
    ck_assert_int_eq(par_calls, 20);
    ck_assert_int_ge(one.epoch, 2);
    batcher_fini(&one);
    batcher_fini(&par);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__batcher_no_shuffle)
{
    const char *p = tpath("seq.csv");
    write_text(p, "0,0\n1,1\n2,0\n3,1\n4,0\n5,1\n6,0\n");
    struct data_spec s = spec_csv(p);
    s.val_fraction = 0.3;
    struct data d;
    load_ok(&d, &s, 3);
    ck_assert_int_eq(d.train.n, 5);
    struct batcher b;
    batcher_init(&b, &d.train, false, 3);
    float x[3];
    int32_t y[3];
    for (int ep = 0; ep < 2; ep++) {
        long want = 0;
        for (int k; want < 5; want += k) {
            k = batcher_next(&b, &d, 3, x, y);
            for (int i = 0; i < k; i++)
                ck_assert_msg(x[i] == (float)d.train.idx[want + i],
                              "epoch %d position %ld: row %g, expected file row %ld", ep,
                              want + i, x[i], d.train.idx[want + i]);
        }
        ck_assert_int_eq(b.epoch, ep + 1);
    }
    batcher_fini(&b);
    data_fini(&d);
}
END_TEST

/* ---- core: expected loss, names --------------------------------------- */

START_TEST(test_data__expected_loss)
{
    struct data_spec s = spec_spiral(4, 25, 0.2);
    s.val_fraction = 0;
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_double_eq_tol(data_expected_loss(&d, 0), log(4.0), 1e-12);
    ck_assert_double_eq_tol(data_expected_loss(&d, 1), 0.25, 1e-12);
    data_fini(&d);

    write_text(tpath("imb.csv"), "1,0\n2,0\n3,0\n4,1\n");
    s = spec_csv(tpath("imb.csv"));
    s.val_fraction = 0;
    load_ok(&d, &s, 1);
    double h = -(0.75 * log(0.75) + 0.25 * log(0.25));
    ck_assert_msg(fabs(data_expected_loss(&d, 0) - h) < 1e-12, "entropy %g, expected %g",
                  data_expected_loss(&d, 0), h);
    ck_assert_double_eq_tol(data_expected_loss(&d, 1), 0.5, 1e-12);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__names)
{
    const char *src[] = { "spiral", "xor", "blobs", "idx", "csv", "npy" };
    const char *norm[] = { "none", "standardize", "minmax", "unit" };
    for (int i = 0; i < DATA_SOURCE_COUNT; i++)
        ck_assert_str_eq(data_source_name((enum data_source)i), src[i]);
    for (int i = 0; i < NORM_KIND_COUNT; i++)
        ck_assert_str_eq(normalize_name((enum normalize_kind)i), norm[i]);
}
END_TEST

START_TEST(test_data__fashion_mnist)
{
    if (access(FASHION_DIR "train-images-idx3-ubyte.gz", R_OK) != 0) {
        check_skip("test_data__fashion_mnist: " FASHION_DIR "train-images-idx3-ubyte.gz not found");
        return;
    }
    struct data_spec s = spec_idx(FASHION_DIR "train-images-idx3-ubyte.gz",
                                  FASHION_DIR "train-labels-idx1-ubyte.gz");
    snprintf(s.test_images, sizeof s.test_images, "%s", FASHION_DIR "t10k-images-idx3-ubyte.gz");
    snprintf(s.test_labels, sizeof s.test_labels, "%s", FASHION_DIR "t10k-labels-idx1-ubyte.gz");
    s.val_fraction = 0;
    s.normalize = NORM_UNIT;
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 60000 && d.test.n == 10000 && d.d == 784 && d.classes == 10,
                  "train %ld test %ld d %d classes %d; expected 60000 10000 784 10", d.train.n,
                  d.test.n, d.d, d.classes);
    for (int k = 0; k < 10; k++)
        ck_assert_msg(d.class_counts[k] == 6000, "class %d: %ld samples, expected 6000", k,
                      d.class_counts[k]);
    ck_assert_double_eq_tol(data_expected_loss(&d, 0), log(10.0), 1e-12);
    data_fini(&d);
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

START_TEST(test_data__val_zero_and_tiny)
{
    struct data_spec s = spec_spiral(2, 1, 0.2);
    s.val_fraction = 0;
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 2 && d.val.n == 0 && d.val.idx == NULL, "train %ld val %ld",
                  d.train.n, d.val.n);
    ck_assert_msg(raw(&d.train_store, 0, 0) == 0 && raw(&d.train_store, 0, 1) == 0,
                  "a lone spiral point sits at the centre");
    data_fini(&d);

    /* one row and a large val fraction: the row stays for training */
    write_text(tpath("one.csv"), "5,1\n");
    s = spec_csv(tpath("one.csv"));
    s.val_fraction = 0.9;
    s.normalize = NORM_STANDARDIZE;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 1 && d.val.n == 0 && d.classes == 2, "train %ld val %ld",
                  d.train.n, d.val.n);
    ck_assert_msg(d.scale[0] == 1.0f && d.shift[0] == -5.0f, "single row: scale %g shift %g",
                  d.scale[0], d.shift[0]);
    struct batcher b;
    batcher_init(&b, &d.train, true, 1);
    float x[8];
    int32_t y[8];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(batcher_next(&b, &d, 8, x, y), 1);
    ck_assert_int_eq(b.epoch, 3);
    batcher_fini(&b);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__subset_too_large)
{
    struct data_spec s = spec_spiral(3, 10, 0.2);
    s.subset = 1000;
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 27, "subset beyond the split: train %ld, expected 27",
                  d.train.n);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__csv_tolerated_forms)
{
    const char *p = tpath("crlf.csv");
    write_text(p, "\xef\xbb\xbf\"f,1\",\"q\"\"uote\",lab\r\n\r\n  1.5 ,\t-2,  1\r\n"
                  "\"3\",4e0,0\r\n\n  \n");
    struct data_spec s = spec_csv(p);
    s.val_fraction = 0;
    snprintf(s.label_name, sizeof s.label_name, "lab");
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 2 && d.d == 2 && raw(&d.train_store, 0, 0) == 1.5
                  && raw(&d.train_store, 0, 1) == -2 && raw(&d.train_store, 1, 0) == 3
                  && d.train_store.labels[0] == 1, "BOM/CRLF/quotes/blank lines misread");
    data_fini(&d);
    snprintf(s.label_name, sizeof s.label_name, "q\"uote");
    write_text(p, "a,\"q\"\"uote\"\n1,2\n");
    load_ok(&d, &s, 1);
    ck_assert_int_eq(d.train_store.labels[0], 2);
    data_fini(&d);

    write_text(tpath("x.csv.gz"), "1,2,3\n4,5,6\n");
    s = spec_csv(tpath("x.csv.gz"));
    s.val_fraction = 0;
    load_ok(&d, &s, 1);
    ck_assert_msg(d.train.n == 2 && d.classes == 7, "gzipped CSV: n %ld", d.train.n);
    data_fini(&d);
}
END_TEST

/* ---- errors: IDX ------------------------------------------------------ */

START_TEST(test_data__idx_missing)
{
    struct data_spec s = spec_idx(tpath("nope-images.gz"), tpath("nope-labels.gz"));
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s: No such file or directory", s.train_images);
    expect_err(&s, want);
    s = spec_idx(tmp, tmp);
    expect_err_has(&s, tmp, ": Is a directory");
}
END_TEST

START_TEST(test_data__idx_wrong_magic)
{
    write_idx_pair(tpath("m-images.gz"), tpath("m-labels.gz"), 10, lab_mod3);
    struct data_spec s = spec_idx(tpath("m-images.gz"), tpath("m-images.gz"));
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s: wrong magic 0x00000803, expected 0x00000801 (IDX labels)",
             s.train_labels);
    expect_err(&s, want);
    s = spec_idx(tpath("m-labels.gz"), tpath("m-labels.gz"));
    snprintf(want, sizeof want, "%s: wrong magic 0x00000801, expected 0x00000803 (IDX images)",
             s.train_images);
    expect_err(&s, want);
}
END_TEST

START_TEST(test_data__idx_truncated)
{
    size_t len, ll;
    unsigned char *a = idx_images(60, 28, 28, pix_mix, &len);
    unsigned char *b = idx_labels(60, lab_mod3, &ll);
    write_file(tpath("tr-images.gz"), a, 16 + 1234);
    write_file(tpath("tr-labels"), b, ll);
    struct data_spec s = spec_idx(tpath("tr-images.gz"), tpath("tr-labels"));
    char want[WANT_MAX];
    snprintf(want, sizeof want,
             "%s: header says 60 images of 28x28 but the file holds 1234 bytes of data",
             s.train_images);
    expect_err(&s, want);

    write_file(tpath("tr-images.gz"), a, 11);
    snprintf(want, sizeof want, "%s: truncated IDX header: 11 bytes, expected 16",
             s.train_images);
    expect_err(&s, want);

    write_file(tpath("tr-images.gz"), a, 0);
    expect_err_has(&s, "tr-images.gz: empty file", NULL);

    /* one byte too many */
    unsigned char *c = malloc(len + 1);
    memcpy(c, a, len);
    c[len] = 0;
    write_file(tpath("tr-images.gz"), c, len + 1);
    expect_err_has(&s, "header says 60 images of 28x28 (47040 bytes)",
                   "but the file holds more data");
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_data__idx_count_mismatch)
{
    size_t la, lb;
    unsigned char *a = idx_images(100, 2, 2, pix_mix, &la);
    unsigned char *b = idx_labels(99, lab_mod3, &lb);
    write_file(tpath("c-images"), a, la);
    write_file(tpath("c-labels"), b, lb);
    struct data_spec s = spec_idx(tpath("c-images"), tpath("c-labels"));
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s, %s: images (100) and labels (99) counts differ",
             s.train_images, s.train_labels);
    expect_err(&s, want);
    free(a);
    free(b);

    /* test images of another size; test images without labels */
    write_idx_pair(tpath("ok-images"), tpath("ok-labels"), 10, lab_mod3);
    s = spec_idx(tpath("ok-images"), tpath("ok-labels"));
    snprintf(s.test_images, sizeof s.test_images, "%s", tpath("c-images"));
    snprintf(s.test_labels, sizeof s.test_labels, "%s", tpath("ok-labels"));
    expect_err_has(&s, "c-images: test images are 2x2 but the training images", "are 4x3");
    s.test_labels[0] = '\0';
    expect_err_has(&s, "c-images: test images given without test labels", NULL);

    /* zero images */
    a = idx_images(0, 2, 2, pix_mix, &la);
    write_file(tpath("z-images"), a, la);
    s = spec_idx(tpath("z-images"), tpath("ok-labels"));
    expect_err_has(&s, "z-images: header says 0 images: no data", NULL);
    free(a);
}
END_TEST

START_TEST(test_data__idx_corrupt_gzip)
{
    write_idx_pair(tpath("k-images.gz"), tpath("k-labels.gz"), 300, lab_mod3);
    size_t len;
    unsigned char *g = read_raw(tpath("k-images.gz"), &len);
    ck_assert_msg(len > 60, "gzip of %zu bytes", len);
    /* cut in half: a truncated stream */
    write_file(tpath("half-images"), g, len / 2);
    struct data_spec s = spec_idx(tpath("half-images"), tpath("k-labels.gz"));
    expect_err_has(&s, "half-images: truncated gzip", NULL);
    /* damage the deflate data */
    for (size_t i = 20; i < 40; i++)
        g[i] ^= 0x5a;
    write_file(tpath("bad-images"), g, len);
    s = spec_idx(tpath("bad-images"), tpath("k-labels.gz"));
    expect_err_has(&s, "bad-images: ", "gzip");
    /* damage the CRC of an otherwise whole stream */
    free(g);
    g = read_raw(tpath("k-images.gz"), &len);
    g[len - 6] ^= 0xff;
    write_file(tpath("crc-images"), g, len);
    s = spec_idx(tpath("crc-images"), tpath("k-labels.gz"));
    expect_err_has(&s, "crc-images: corrupt gzip", NULL);
    free(g);

    /* Junk after the stream: zlib's gzread dropped it in silence. */
    char want[WANT_MAX];
    g = read_raw(tpath("k-images.gz"), &len);
    unsigned char *junk = malloc(len + 7);
    memcpy(junk, g, len);
    memcpy(junk + len, "garbage", 7);
    write_file(tpath("junk-images"), junk, len + 7);
    s = spec_idx(tpath("junk-images"), tpath("k-labels.gz"));
    snprintf(want, sizeof want, "%s: trailing junk after the gzip data, at byte %zu",
             s.train_images, len);
    expect_err(&s, want);
    /* A single stray byte too (it cannot even be a gzip magic). */
    write_file(tpath("junk-images"), junk, len + 1);
    expect_err(&s, want);
    free(junk);

    /* Two members (gzip -c a b > ab) read as one file, as gzip -d reads them. */
    size_t li, h1, h2;
    unsigned char *im = idx_images(300, 4, 3, pix_mix, &li);
    write_file(tpath("p1.gz"), im, li / 2);
    write_file(tpath("p2.gz"), im + li / 2, li - li / 2);
    unsigned char *a1 = read_raw(tpath("p1.gz"), &h1), *a2 = read_raw(tpath("p2.gz"), &h2);
    unsigned char *cat = malloc(h1 + h2);
    memcpy(cat, a1, h1);
    memcpy(cat + h1, a2, h2);
    write_file(tpath("cat-images"), cat, h1 + h2);
    s = spec_idx(tpath("cat-images"), tpath("k-labels.gz"));
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_int_eq(d.train_store.n, 300);
    ck_assert_msg(memcmp(d.train_store.bytes, im + 16, 300 * 12) == 0,
                  "two gzip members did not read as the file they came from");
    data_fini(&d);
    free(im);
    free(a1);
    free(a2);
    free(cat);

    /* A damaged magic: a .gz that is not gzip is corrupt, not "more data". */
    g[1] ^= 0xff;
    FILE *fp = fopen(tpath("magic-images.gz"), "wb");
    ck_assert_uint_eq(fwrite(g, 1, len, fp), len);
    fclose(fp);
    s = spec_idx(tpath("magic-images.gz"), tpath("k-labels.gz"));
    snprintf(want, sizeof want, "%s: corrupt gzip: the file does not start with the gzip magic "
             "1f 8b", s.train_images);
    expect_err(&s, want);
    free(g);
}
END_TEST

/* ---- errors: CSV ------------------------------------------------------ */

START_TEST(test_data__csv_ragged)
{
    const char *p = tpath("r.csv");
    write_text(p, "a,b,c,d,y\n1,2,3,4,0\n5,6,7\n");
    struct data_spec s = spec_csv(p);
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s:3:6: ragged row: 3 cells, expected 5", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n\n3,4,5,1\n");
    snprintf(want, sizeof want, "%s:3:7: ragged row: 4 cells, expected 3", p);
    expect_err(&s, want);
}
END_TEST

START_TEST(test_data__csv_not_a_number)
{
    const char *p = tpath("x.csv");
    write_text(p, "f1,f2,f3,y\n1,2,3,0\n4,5,6,1\n1.0,2.5,abc,2\n");
    struct data_spec s = spec_csv(p);
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s:4:9: cell 'abc' is not a number", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n4, inf ,1\n");
    snprintf(want, sizeof want, "%s:2:4: cell 'inf' is not a finite number", p);
    expect_err(&s, want);
    /* Decimal or exponent form only: strtod's hexadecimal is not a number here. */
    write_text(p, "1,2,0\n0x10,5,1\n");
    snprintf(want, sizeof want, "%s:2:1: cell '0x10' is not a number", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n4,,1\n");
    snprintf(want, sizeof want, "%s:2:3: empty cell", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n4,\"5,1\n");
    snprintf(want, sizeof want, "%s:2:3: unterminated quote", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n4,\"5\"x,1\n");
    expect_err_has(&s, ":2:6: unexpected text after a quoted cell", NULL);
}
END_TEST

START_TEST(test_data__csv_bad_labels)
{
    const char *p = tpath("lab.csv");
    struct data_spec s = spec_csv(p);
    char want[WANT_MAX];
    write_text(p, "1,2,0\n3,4,-1\n");
    snprintf(want, sizeof want, "%s:2:5: label -1 is not a non-negative integer", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n3,4,3.5\n");
    snprintf(want, sizeof want, "%s:2:5: label 3.5 is not a non-negative integer", p);
    expect_err(&s, want);
    write_text(p, "1,2,1e9\n");
    snprintf(want, sizeof want, "%s:1:5: label 1e9 is larger than 65535", p);
    expect_err(&s, want);
    write_text(p, "a,b,y\n1,2,x\n");
    expect_err_has(&s, ":2:5: label x is not a non-negative integer", NULL);
}
END_TEST

START_TEST(test_data__csv_bad_layout)
{
    const char *p = tpath("lay.csv");
    struct data_spec s = spec_csv(p);
    char want[WANT_MAX];
    write_text(p, "a,b,y\n1,2,0\n");
    snprintf(s.label_name, sizeof s.label_name, "label");
    snprintf(want, sizeof want, "%s:1:1: no column named 'label' in the header", p);
    expect_err(&s, want);
    write_text(p, "1,2,0\n");
    snprintf(want, sizeof want, "%s: the label column is named 'label' but the file has no "
             "header row", p);
    expect_err(&s, want);
    s.label_name[0] = '\0';
    s.label_index = 3;
    snprintf(want, sizeof want, "%s:1:1: label column 3 is out of range: the row has 3 "
             "columns", p);
    expect_err(&s, want);
    s.label_index = -1;
    write_text(p, "0\n1\n");
    expect_err_has(&s, ":1:1: one column only", NULL);
    write_text(p, "a,b,y\n");
    snprintf(want, sizeof want, "%s: no data rows, only a header", p);
    expect_err(&s, want);
    write_text(p, "\n  \n");
    snprintf(want, sizeof want, "%s: empty file", p);
    expect_err(&s, want);
    write_text(tpath("tr.csv"), "1,2,0\n");
    write_text(p, "1,0\n");
    s = spec_csv(tpath("tr.csv"));
    snprintf(s.test_path, sizeof s.test_path, "%s", p);
    expect_err_has(&s, "lay.csv: 1 feature columns, but the training file", "has 2");
}
END_TEST

START_TEST(test_data__bad_spec)
{
    struct data_spec s = spec_spiral(3, 10, 0.2);
    s.val_fraction = 1.0;
    expect_err(&s, "spiral: val_fraction must be in [0, 1) (got 1)");
    s.val_fraction = NAN;
    expect_err_has(&s, "val_fraction must be in [0, 1)", NULL);
    s = spec_spiral(0, 10, 0.2);
    expect_err_has(&s, "spiral: needs classes >= 1", NULL);
    s = spec_spiral(3, 10, -1);
    expect_err_has(&s, "spiral: noise must be >= 0", NULL);
    s = spec_spiral(3, 10, 0.2);
    s.subset = -1;
    expect_err_has(&s, "subset must be >= 0", NULL);
    s = spec_base(DATA_BLOBS);
    s.classes = 2;
    s.points = 10;
    expect_err_has(&s, "blobs: needs classes, points and features >= 1", NULL);
    s = spec_base(DATA_XOR);
    expect_err_has(&s, "xor: needs points >= 1", NULL);
    s = spec_csv("");
    expect_err(&s, "csv: path is not set");
    s = spec_idx("", "");
    expect_err(&s, "idx: train_images and train_labels must both be set");
}
END_TEST

/* ---- errors: fuzzing -------------------------------------------------- */

/* Load and accept either outcome; a crash or sanitizer report fails the test. */
static void
fuzz_load(const struct data_spec *s, const char *name)
{
    struct data d;
    char *cause = NULL;
    if (data_load(&d, s, 1, &cause) == 0) {
        ck_assert_ptr_null(cause);
        ck_assert(d.train.n > 0 && d.d > 0 && d.classes > 0);
        float x[4 * 64];
        int32_t y[4];
        long pos[4] = { 0, 0, 0, 0 };
        pos[1] = d.train.n - 1;
        if (d.d <= 64)
            data_gather(&d, &d.train, pos, 2, x, y);
        data_fini(&d);
    } else {
        ck_assert_msg(cause != NULL && strstr(cause, name) != NULL,
                      "failure message does not name %s: %s", name,
                      cause != NULL ? cause : "(null)");
        free(cause);
    }
}

/* ---- NumPy .npy ------------------------------------------------------------ */

/* A .npy (format 1.0) file of header dict text and data bytes, padded as NumPy pads. */
static void
write_npy(const char *path, const char *dict, const void *data, size_t len)
{
    size_t hl = strlen(dict) + 1, pad = (64 - (10 + hl) % 64) % 64;
    size_t total = 10 + hl + pad + len;
    unsigned char *buf = malloc(total);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((hl + pad) & 0xff);
    buf[9] = (unsigned char)((hl + pad) >> 8);
    memcpy(buf + 10, dict, hl - 1);
    memset(buf + 10 + hl - 1, ' ', pad);
    buf[10 + hl + pad - 1] = '\n';
    memcpy(buf + 10 + hl + pad, data, len);
    write_file(path, buf, total);
    free(buf);
}

static struct data_spec
spec_npy(const char *x, const char *y)
{
    struct data_spec s = spec_base(DATA_NPY);
    snprintf(s.train_images, sizeof s.train_images, "%s", x);
    snprintf(s.train_labels, sizeof s.train_labels, "%s", y);
    s.val_fraction = 0.0;
    s.shuffle = false;
    return s;
}

START_TEST(test_data__npy_read)
{
    /* 3 images of 1x2x2, little-endian f4; labels i8. */
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i * 0.5f - 1.0f;
    int64_t y[3] = {2, 0, 1};
    write_npy(tpath("x.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 2, 2), }",
              x, sizeof x);
    write_npy(tpath("y.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", y,
              sizeof y);
    struct data_spec s = spec_npy(tpath("x.npy"), tpath("y.npy"));
    struct data d;
    char *cause = NULL;
    ck_assert_msg(data_load(&d, &s, 1, &cause) == 0, "%s", cause);
    ck_assert_int_eq(d.d, 4);
    ck_assert_int_eq(d.classes, 3);
    ck_assert(d.shape[0] == 1 && d.shape[1] == 2 && d.shape[2] == 2);
    ck_assert_int_eq(d.train.n, 3);
    float g[12];
    int32_t gl[3];
    long pos[3] = {0, 1, 2};
    data_gather(&d, &d.train, pos, 3, g, gl);
    ck_assert(memcmp(g, x, sizeof x) == 0);
    ck_assert(gl[0] == 2 && gl[1] == 0 && gl[2] == 1);
    data_fini(&d);

    /* Big-endian f8 (N, D): flat rows; u1 labels, double quotes, no trailing comma. */
    unsigned char be[2 * 3 * 8];
    double v[6] = {1.5, -2.0, 3.25, 0.0, 1e3, -7.0};
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int k = 0; k < 8; k++)
            be[8 * i + k] = (unsigned char)(u >> (56 - 8 * k));
    }
    unsigned char yl[2] = {1, 0};
    write_npy(tpath("xb.npy"), "{\"descr\": \">f8\", \"shape\": (2, 3), \"fortran_order\": False}",
              be, sizeof be);
    write_npy(tpath("yb.npy"), "{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}", yl, 2);
    s = spec_npy(tpath("xb.npy"), tpath("yb.npy"));
    ck_assert_msg(data_load(&d, &s, 1, &cause) == 0, "%s", cause);
    ck_assert_int_eq(d.d, 3);
    ck_assert_int_eq(d.shape[0], 0);
    data_gather(&d, &d.train, pos, 2, g, gl);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(g[i], (float)v[i]);
    data_fini(&d);

    /* u1 images stay bytes and normalise by 1/255; (N, H, W) is 1 x H x W. */
    unsigned char px[2 * 2 * 3] = {0, 255, 51, 102, 0, 0, 255, 255, 255, 0, 0, 0};
    write_npy(tpath("xu.npy"), "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3), }",
              px, sizeof px);
    s = spec_npy(tpath("xu.npy"), tpath("yb.npy"));
    s.normalize = NORM_UNIT;
    ck_assert_msg(data_load(&d, &s, 1, &cause) == 0, "%s", cause);
    ck_assert(d.train_store.bytes != NULL);
    ck_assert(d.shape[0] == 1 && d.shape[1] == 2 && d.shape[2] == 3);
    data_gather(&d, &d.train, pos, 1, g, gl);
    ck_assert_float_eq_tol(g[1], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(g[2], 0.2f, 1e-6f);
    data_fini(&d);
}
END_TEST

START_TEST(test_data__npy_errors)
{
    float x[4] = {0};
    int64_t y[2] = {0, 1};
    write_npy(tpath("y.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", y,
              sizeof y);
    static const struct {
        const char *dict;
        const char *want;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
         "a Fortran-order array (write it with np.ascontiguousarray)"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }",
         "a dtype nntop does not read (only f4, f8, i4, i8, u1)"},
        {"{'descr': '<O8', 'fortran_order': False, 'shape': (2, 2), }",
         "an object array (Python objects, not numbers)"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 2), }",
         "a structured dtype (a list of fields)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1, }",
         "the header has a key other than descr, fortran_order and shape, or one twice"},
        {"{'descr': '<f4', 'shape': (2, 2), }", "the header lacks descr, fortran_order or shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (268435456, 1), }",
         "the header's shape needs 1073741824 bytes of data, the file holds fewer"},
        /* Beyond data.max_bytes (4 GiB by default): refused before reading. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1), }",
         "the array's elements need 4398046511104 bytes, more than data.max_bytes "
         "(4294967296)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 65536), }",
         "shape claims more elements than any file holds"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",
         "the header's shape needs 8 bytes of data, the file holds more"},
        {"['descr', '<f4']", "the header is not a dict"},
    };
    char want[WANT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy(tpath("x.npy"), cases[i].dict, x, sizeof x);
        struct data_spec s = spec_npy(tpath("x.npy"), tpath("y.npy"));
        snprintf(want, sizeof want, "%s: %s", s.train_images, cases[i].want);
        expect_err(&s, want);
    }
    /* Labels that disagree with the inputs, and float labels. */
    write_npy(tpath("x.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1), }", x,
              sizeof x);
    struct data_spec s = spec_npy(tpath("x.npy"), tpath("y.npy"));
    snprintf(want, sizeof want, "%s: labels must be one per sample: shape (4,) for the 4 samples "
             "of %s", s.train_labels, s.train_images);
    expect_err(&s, want);
    float fy[4] = {0, 1, 0, 1};
    write_npy(tpath("fy.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", fy,
              sizeof fy);
    s = spec_npy(tpath("x.npy"), tpath("fy.npy"));
    snprintf(want, sizeof want, "%s: labels must be integers (u1, i4, i8), not floats",
             s.train_labels);
    expect_err(&s, want);
    /* A header length past the end of the file, and no magic. */
    unsigned char hostile[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{'};
    write_file(tpath("h.npy"), hostile, sizeof hostile);
    s = spec_npy(tpath("h.npy"), tpath("y.npy"));
    snprintf(want, sizeof want, "%s: header length 65535 runs past the end of the file",
             s.train_images);
    expect_err(&s, want);
    unsigned char v2[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0, 0x40};
    write_file(tpath("h2.npy"), v2, sizeof v2);
    s = spec_npy(tpath("h2.npy"), tpath("y.npy"));
    snprintf(want, sizeof want, "%s: header length 1073741824 is more than 65536 bytes",
             s.train_images);
    expect_err(&s, want);
    write_file(tpath("n.npy"), "hello, world", 12);
    s = spec_npy(tpath("n.npy"), tpath("y.npy"));
    snprintf(want, sizeof want, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", s.train_images);
    expect_err(&s, want);
}
END_TEST

/* ---- limits: data.max_bytes ------------------------------------------- */

/* A CSV of rows x cols cells of "1" (label column last, 0/1), into a heap text. */
static char *
csv_grid(long rows, long cols, size_t *len)
{
    size_t n = (size_t)rows * (size_t)cols * 2 + 1;
    char *t = malloc(n);
    size_t k = 0;
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) {
            t[k++] = c + 1 == cols ? (char)('0' + r % 2) : '1';
            t[k++] = c + 1 == cols ? '\n' : ',';
        }
    t[k] = '\0';
    *len = k;
    return t;
}

START_TEST(test_data__max_bytes_csv)
{
    /* Wide and short: 4 rows of 100000 columns, 800 KB of text.  The rows
     * used to be held 1024 at a time (400 MB of floats); now they take
     * what the text bounds, so 3 MB of budget is plenty. */
    size_t len;
    char *text = csv_grid(4, 100000, &len);
    write_file(tpath("wide.csv"), text, len);
    struct data_spec s = spec_csv(tpath("wide.csv"));
    s.header = CSV_HEADER_NO;
    s.max_bytes = 3u << 20;
    struct data d;
    load_ok(&d, &s, 1);
    ck_assert_int_eq(d.d, 99999);
    ck_assert_int_eq(d.train_store.n, 4);
    data_fini(&d);

    /* The text itself beyond the budget: refused as it is read. */
    char want[WANT_MAX];
    s.max_bytes = 100000;
    snprintf(want, sizeof want, "%s: more than 100000 bytes once read (data.max_bytes is "
             "100000)", s.path);
    expect_err(&s, want);

    /* A gzip bomb: 16 MB of zeros-and-commas in a small .gz, 1 MB budget. */
    free(text);
    text = csv_grid(80, 100000, &len);
    write_file(tpath("bomb.csv.gz"), text, len);
    s = spec_csv(tpath("bomb.csv.gz"));
    s.max_bytes = 1u << 20;
    snprintf(want, sizeof want, "%s: more than 1048576 bytes once read (data.max_bytes is "
             "1048576)", s.path);
    expect_err(&s, want);
    free(text);

    /* Text within the budget, but not the rows parsed from it. */
    text = csv_grid(200, 50, &len);
    write_file(tpath("rows.csv"), text, len);
    s = spec_csv(tpath("rows.csv"));
    s.header = CSV_HEADER_NO;
    s.max_bytes = 30000;
    char *cause = load_err(&s);
    snprintf(want, sizeof want, "%s: the parsed rows need ", s.path);
    ck_assert_msg(strncmp(cause, want, strlen(want)) == 0
                      && strstr(cause, "that data.max_bytes (30000) leaves") != NULL,
                  "got '%s'", cause);
    free(cause);
    free(text);
}
END_TEST

START_TEST(test_data__max_bytes_idx_npy_synth)
{
    /* An IDX header's claim is checked before any of the payload is read. */
    write_idx_pair(tpath("b-images"), tpath("b-labels"), 50, lab_mod3);
    struct data_spec s = spec_idx(tpath("b-images"), tpath("b-labels"));
    s.max_bytes = 599;          /* 50 images of 4x3 are 600 bytes */
    char want[WANT_MAX];
    snprintf(want, sizeof want, "%s: the images need 600 bytes, more than data.max_bytes (599)",
             s.train_images);
    expect_err(&s, want);
    s.max_bytes = 600 + 50 + 200;     /* images, raw labels, labels as integers */
    struct data d;
    load_ok(&d, &s, 1);
    data_fini(&d);
    s.max_bytes = 600 + 50 + 199;
    snprintf(want, sizeof want, "%s: the labels as integers need 200 bytes, more than the 199 "
             "that data.max_bytes (849) leaves", s.train_labels);
    expect_err(&s, want);

    /* NumPy: the shape's bytes, before reading. */
    float x[4] = {0};
    int64_t y[2] = {0, 1};
    write_npy(tpath("y.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", y,
              sizeof y);
    write_npy(tpath("x.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", x,
              sizeof x);
    s = spec_npy(tpath("x.npy"), tpath("y.npy"));
    s.max_bytes = 15;
    snprintf(want, sizeof want, "%s: the array's elements need 16 bytes, more than "
             "data.max_bytes (15)", s.train_images);
    expect_err(&s, want);

    /* Generated data counts too: 10M points of 10000 features are 400 GB. */
    s = spec_base(DATA_BLOBS);
    s.classes = 3;
    s.points = 10000000;
    s.features = 10000;
    s.spread = 1.0;
    snprintf(want, sizeof want, "blobs: the generated points need 400040000000 bytes, more "
             "than data.max_bytes (4294967296)");
    expect_err(&s, want);
}
END_TEST

START_TEST(test_data__fuzz_idx)
{
    size_t li, ll;
    unsigned char *im = idx_images(20, 3, 5, pix_mix, &li);
    unsigned char *lb = idx_labels(20, lab_mod3, &ll);
    write_file(tpath("f-labels"), lb, ll);
    write_file(tpath("f-images.gz"), im, li);
    size_t gl;
    unsigned char *gz = read_raw(tpath("f-images.gz"), &gl);
    unsigned char *buf = malloc(li > gl ? li : gl);
    struct rng r;
    rng_seed(&r, 2024);
    for (int form = 0; form < 2; form++) {
        const unsigned char *src = form == 0 ? im : gz;
        size_t len = form == 0 ? li : gl;
        const char *name = "fz-images";
        struct data_spec s = spec_idx(tpath(name), tpath("f-labels"));
        for (size_t cut = 0; cut <= len; cut++) {       /* every truncation */
            write_file(s.train_images, src, cut);
            fuzz_load(&s, name);
        }
        for (int i = 0; i < 300; i++) {                 /* random byte damage */
            memcpy(buf, src, len);
            int flips = 1 + (int)rng_below(&r, 4);
            for (int k = 0; k < flips; k++)
                buf[rng_below(&r, len)] = (unsigned char)rng_u64(&r);
            write_file(s.train_images, buf, len);
            fuzz_load(&s, name);
        }
    }
    free(im);
    free(lb);
    free(gz);
    free(buf);
}
END_TEST

START_TEST(test_data__fuzz_npy)
{
    /* A good pair, then every truncation and random damage of the inputs:
     * each load must succeed or fail with a message naming the file. */
    float x[6 * 4];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i / 7.0f;
    int64_t y[6] = {0, 1, 2, 0, 1, 2};
    write_npy(tpath("fy.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", y,
              sizeof y);
    write_npy(tpath("fx.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1, 2, 2), }",
              x, sizeof x);
    size_t len;
    unsigned char *src = read_raw(tpath("fx.npy"), &len);
    unsigned char *buf = malloc(len);
    struct rng r;
    rng_seed(&r, 2025);
    const char *name = "fz.npy";
    struct data_spec s = spec_npy(tpath(name), tpath("fy.npy"));
    for (size_t cut = 0; cut <= len; cut++) {
        write_file(s.train_images, src, cut);
        fuzz_load(&s, name);
    }
    for (int i = 0; i < 400; i++) {
        memcpy(buf, src, len);
        int flips = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < flips; k++) {
            /* most of the damage in the header, where the parser is */
            size_t at = rng_below(&r, 2) ? rng_below(&r, 128 < len ? 128 : len) : rng_below(&r, len);
            buf[at] = (unsigned char)rng_u64(&r);
        }
        write_file(s.train_images, buf, len);
        fuzz_load(&s, name);
    }
    free(src);
    free(buf);
}
END_TEST

/* ---- NumPy .npz ------------------------------------------------------------ */

/* A fixture of tests/data/npz/, written by NumPy (np.savez, np.savez_compressed). */
static const char *
npz_fixture(const char *name)
{
    static char path[4][PATH_MAX];
    static int k;
    const char *top = getenv("top_srcdir");
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/tests/data/npz/%s", top != NULL ? top : ".", name);
    return path[k];
}

/*
 * x = arange(12).reshape(3, 1, 2, 2) / 4, y = [0, 2, 1], as each fixture
 * holds them; yfile "" leaves data.train_labels empty (the labels are in
 * xfile), xkey and ykey are data.inputs_key and data.labels_key.
 */
static void
assert_npz_loads_keyed(const char *xfile, const char *yfile, const char *xkey, const char *ykey)
{
    struct data_spec s = spec_npy(npz_fixture(xfile), yfile[0] != '\0' ? npz_fixture(yfile) : "");
    snprintf(s.inputs_key, sizeof s.inputs_key, "%s", xkey);
    snprintf(s.labels_key, sizeof s.labels_key, "%s", ykey);
    s.normalize = NORM_NONE;
    struct data d;
    char *cause = NULL;
    ck_assert_msg(data_load(&d, &s, 1, &cause) == 0, "%s and %s: %s", xfile, yfile, cause);
    ck_assert_int_eq(d.train.n, 3);
    ck_assert_int_eq(d.d, 4);
    ck_assert_int_eq(d.shape[0], 1);
    ck_assert_int_eq(d.shape[1], 2);
    ck_assert_int_eq(d.shape[2], 2);
    ck_assert_int_eq(d.classes, 3);
    float x[12];
    int32_t y[3];
    long pos[3] = {0, 1, 2};
    data_gather(&d, &d.train, pos, 3, x, y);
    const int32_t want_y[3] = {0, 2, 1};
    for (int i = 0; i < 12; i++)
        ck_assert_msg(x[i] == (float)i / 4.0f, "%s: x[%d] = %g", xfile, i, (double)x[i]);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(y[i], want_y[i]);
    data_fini(&d);
}

static void
assert_npz_loads(const char *xfile, const char *yfile)
{
    assert_npz_loads_keyed(xfile, yfile, "", "");
}

START_TEST(test_data__npz_read)
{
    /* Stored members x/y; deflated images/labels (>f8, u1); positional
     * arr_0/arr_1; and one array in each of two archives. */
    assert_npz_loads("stored.npz", "stored.npz");
    assert_npz_loads("deflate.npz", "deflate.npz");
    assert_npz_loads("positional.npz", "positional.npz");
    assert_npz_loads("xonly.npz", "yonly.npz");
}
END_TEST

START_TEST(test_data__npz_one_archive)
{
    /* data.train_labels left out: the labels come from the inputs' archive,
     * by the common names or by data.inputs_key / data.labels_key (with or
     * without ".npy"); keyed.npz holds pixels, target and extra. */
    assert_npz_loads("stored.npz", "");
    assert_npz_loads("deflate.npz", "");
    assert_npz_loads("positional.npz", "");
    assert_npz_loads_keyed("keyed.npz", "", "pixels", "target");
    assert_npz_loads_keyed("keyed.npz", "keyed.npz", "pixels.npy", "target");

    /* A key that is not there names the key and lists the members. */
    struct data_spec s = spec_npy(npz_fixture("keyed.npz"), "");
    snprintf(s.inputs_key, sizeof s.inputs_key, "pixels");
    snprintf(s.labels_key, sizeof s.labels_key, "y");
    struct data d;
    char *cause = NULL, want[PATH_MAX + 200];
    ck_assert_int_eq(data_load(&d, &s, 1, &cause), -1);
    snprintf(want, sizeof want, "%s: no member y.npy (data.labels_key; it holds pixels.npy, "
             "target.npy, extra.npy)", s.train_images);
    ck_assert_str_eq(cause, want);
    free(cause);
    /* Without keys, keyed.npz has no member by the common names. */
    s = spec_npy(npz_fixture("keyed.npz"), "");
    cause = NULL;
    ck_assert_int_eq(data_load(&d, &s, 1, &cause), -1);
    snprintf(want, sizeof want, "%s: no inputs array: name it x.npy, images.npy or arr_0.npy "
             "(it holds pixels.npy, target.npy, extra.npy)", s.train_images);
    ck_assert_str_eq(cause, want);
    free(cause);
    /* A .npy inputs file alone is not enough. */
    s = spec_npy(tpath("alone.npy"), "");
    cause = NULL;
    ck_assert_int_eq(data_load(&d, &s, 1, &cause), -1);
    ck_assert_str_eq(cause, "npy: train_images and train_labels must both be set (or "
                     "train_images alone naming a .npz archive that holds both)");
    free(cause);
}
END_TEST

/* Little-endian 16-, 32- and 64-bit values into p. */
static void
put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

START_TEST(test_data__npz_hostile_directory)
{
    /* A zip64 end record whose central directory claims 2^40 entries, or
     * 2^40 bytes, or (in a file that really is that long) more bytes than
     * data.max_bytes: each refused before anything is allocated for it. */
    char want[PATH_MAX + 200];
    const char *p = tpath("hostile.npz");
    struct data d;
    char *cause;
    enum { PAD = 1 << 20 };
    size_t len = PAD + 56 + 20 + 22;
    unsigned char *buf = calloc(1, len);
    ck_assert_ptr_nonnull(buf);
    for (int v = 0; v < 3; v++) {
        unsigned char *e64 = buf + PAD, *loc = e64 + 56, *e = loc + 20;
        memset(e64, 0, 56 + 20 + 22);
        put_le(e64, 0x06064b50u, 4);
        put_le(e64 + 4, 44, 8);
        put_le(e64 + 32, v == 0 ? (uint64_t)1 << 40 : 10, 8);   /* entries */
        put_le(e64 + 24, v == 0 ? (uint64_t)1 << 40 : 10, 8);
        put_le(e64 + 40, v == 1 ? (uint64_t)1 << 40 : PAD, 8);  /* directory bytes */
        put_le(e64 + 48, 0, 8);                                 /* at the start */
        put_le(loc, 0x07064b50u, 4);
        put_le(loc + 8, PAD, 8);
        put_le(loc + 16, 1, 4);
        put_le(e, 0x06054b50u, 4);
        put_le(e + 8, 0xffff, 2);
        put_le(e + 10, 0xffff, 2);
        put_le(e + 12, 0xffffffffu, 4);
        put_le(e + 16, 0xffffffffu, 4);
        write_file(p, buf, len);
        struct data_spec s = spec_npy(p, "");
        s.max_bytes = PAD / 2;
        cause = NULL;
        ck_assert_int_eq(data_load(&d, &s, 1, &cause), -1);
        if (v == 0)
            snprintf(want, sizeof want, "%s: more entries than the central directory can hold",
                     p);
        else if (v == 1)
            snprintf(want, sizeof want, "%s: the central directory lies outside the archive", p);
        else
            snprintf(want, sizeof want, "%s: its central directory's entries need %d bytes, "
                     "more than data.max_bytes (%d)", p, PAD, PAD / 2);
        ck_assert_str_eq(cause, want);
        free(cause);
    }
    free(buf);
}
END_TEST

/* The bytes of a fixture (heap), *len its size. */
static unsigned char *
npz_bytes(const char *name, size_t *len)
{
    return read_raw(npz_fixture(name), len);
}

/* Offset of the first occurrence of pat (n bytes) in buf, or -1. */
static long
find_bytes(const unsigned char *buf, size_t len, const void *pat, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, pat, n) == 0)
            return (long)i;
    return -1;
}

static void
assert_npz_error(const char *path, const char *want)
{
    struct data_spec s = spec_npy(path, path);
    struct data d;
    char *cause = NULL;
    ck_assert_msg(data_load(&d, &s, 1, &cause) < 0, "%s loaded", path);
    ck_assert_msg(cause != NULL && strcmp(cause, want) == 0, "got \"%s\"\nwant \"%s\"", cause,
                  want);
    free(cause);
}

START_TEST(test_data__npz_errors)
{
    size_t len;
    unsigned char *src = npz_bytes("stored.npz", &len);
    unsigned char *buf = malloc(len);
    char want[PATH_MAX + 200];
    const char *p = tpath("e.npz");

    static const char notzip[] = "PK\x03\x04 is how it starts, but this is not a zip file";
    write_file(p, notzip, sizeof notzip - 1);
    snprintf(want, sizeof want, "%s: not a zip archive (no end-of-central-directory record)", p);
    assert_npz_error(p, want);

    /* A data byte of x changed: 2.75 (00 00 30 40) becomes 2.765625. */
    memcpy(buf, src, len);
    long at = find_bytes(buf, len, "\x00\x00\x30\x40", 4);
    ck_assert(at > 0);
    buf[at + 2] = 0x31;
    write_file(p, buf, len);
    snprintf(want, sizeof want, "%s:x.npy: CRC-32 mismatch: the member is damaged", p);
    assert_npz_error(p, want);

    /* Members renamed: no inputs array, and the message lists what is there. */
    memcpy(buf, src, len);
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(buf + i, "x.npy", 5) == 0)
            buf[i] = 'a';
    write_file(p, buf, len);
    snprintf(want, sizeof want,
             "%s: no inputs array: name it x.npy, images.npy or arr_0.npy (it holds a.npy, y.npy)",
             p);
    assert_npz_error(p, want);

    /* The central directory claims a stored member larger than its data. */
    memcpy(buf, src, len);
    at = find_bytes(buf, len, "PK\x01\x02", 4);
    ck_assert(at > 0);
    buf[at + 24 + 3] = 0x7f;   /* uncompressed size of x.npy: about 2 GiB */
    write_file(p, buf, len);
    snprintf(want, sizeof want, "%s:x.npy: a stated size of %llu bytes from 176 compressed is "
             "not possible", p, 0x7f0000b0ull);
    assert_npz_error(p, want);

    /* The member's header claims more than the member holds: caught before reading. */
    memcpy(buf, src, len);
    at = find_bytes(buf, len, "(3, 1, 2, 2)", 12);
    ck_assert(at > 0);
    buf[at + 1] = '9';
    write_file(p, buf, len);
    snprintf(want, sizeof want, "%s:x.npy: the header's shape needs 144 bytes of data, the file "
             "holds fewer", p);
    assert_npz_error(p, want);
    free(src);
    free(buf);
}
END_TEST

START_TEST(test_data__fuzz_npz)
{
    /* Every truncation and random damage of a deflated and a stored
     * archive: each load succeeds or fails naming the file. */
    const char *names[] = {"deflate.npz", "stored.npz"};
    struct rng r;
    rng_seed(&r, 404);
    for (int f = 0; f < 2; f++) {
        size_t len;
        unsigned char *src = npz_bytes(names[f], &len);
        unsigned char *buf = malloc(len);
        const char *name = "fz.npz";
        struct data_spec s = spec_npy(tpath(name), tpath(name));
        for (size_t cut = 0; cut <= len; cut++) {
            write_file(s.train_images, src, cut);
            fuzz_load(&s, name);
        }
        for (int i = 0; i < 600; i++) {
            memcpy(buf, src, len);
            int flips = 1 + (int)rng_below(&r, 4);
            for (int k = 0; k < flips; k++)
                buf[rng_below(&r, len)] = (unsigned char)rng_u64(&r);
            write_file(s.train_images, buf, len);
            fuzz_load(&s, name);
        }
        free(src);
        free(buf);
    }
}
END_TEST

START_TEST(test_data__fuzz_csv)
{
    const char *good = "a,\"b c\",y\n1.5,-2,0\n3,4e-1,1\n\"5\",6,2\n7,8,1\r\n";
    const char alphabet[] = "0123456789.,-+e\"\n\r \tax\xef\xbb\xbf";
    size_t len = strlen(good);
    char buf[256];
    struct rng r;
    rng_seed(&r, 77);
    struct data_spec s = spec_csv(tpath("fz.csv"));
    for (size_t cut = 0; cut <= len; cut++) {
        write_file(s.path, good, cut);
        fuzz_load(&s, "fz.csv");
    }
    for (int i = 0; i < 1500; i++) {
        memcpy(buf, good, len);
        size_t n = len;
        int edits = 1 + (int)rng_below(&r, 5);
        for (int k = 0; k < edits; k++) {
            size_t at = rng_below(&r, n);
            char c = alphabet[rng_below(&r, sizeof alphabet - 1)];
            switch (rng_below(&r, 3)) {
            case 0:
                buf[at] = c;
                break;
            case 1:
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            default:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            }
        }
        s.header = (enum csv_header)rng_below(&r, 3);
        s.label_index = (int)rng_below(&r, 4) - 1;
        snprintf(s.label_name, sizeof s.label_name, "%s", rng_below(&r, 4) == 0 ? "y" : "");
        write_file(s.path, buf, n);
        fuzz_load(&s, "fz.csv");
    }
}
END_TEST

Suite *data_suite(void);

Suite *
data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup_tmp, teardown_tmp);
    tcase_set_timeout(core, 60);
    tcase_add_test(core, test_data__spiral_shape);
    tcase_add_test(core, test_data__spiral_noiseless_angles);
    tcase_add_test(core, test_data__generators_deterministic);
    tcase_add_test(core, test_data__xor);
    tcase_add_test(core, test_data__blobs);
    tcase_add_test(core, test_data__split_disjoint_cover);
    tcase_add_test(core, test_data__subset);
    tcase_add_test(core, test_data__normalize_floats_train_only);
    tcase_add_test(core, test_data__normalize_bytes_train_only);
    tcase_add_test(core, test_data__normalize_ignores_subset);
    tcase_add_test(core, test_data__idx_plain_and_gz);
    tcase_add_test(core, test_data__npy_read);
    tcase_add_test(core, test_data__npz_read);
    tcase_add_test(core, test_data__npz_one_archive);
    tcase_add_test(core, test_data__csv_header_modes);
    tcase_add_test(core, test_data__csv_label_column);
    tcase_add_test(core, test_data__csv_test_file);
    tcase_add_test(core, test_data__gather_matches_manual);
    tcase_add_test(core, test_data__batcher_epoch);
    tcase_add_test(core, test_data__batcher_each_once);
    tcase_add_test(core, test_data__batcher_par_same);
    tcase_add_test(core, test_data__batcher_no_shuffle);
    tcase_add_test(core, test_data__expected_loss);
    tcase_add_test(core, test_data__names);
    tcase_add_test(core, test_data__fashion_mnist);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, setup_tmp, teardown_tmp);
    tcase_add_test(limits, test_data__val_zero_and_tiny);
    tcase_add_test(limits, test_data__subset_too_large);
    tcase_add_test(limits, test_data__csv_tolerated_forms);
    tcase_add_test(limits, test_data__max_bytes_csv);
    tcase_add_test(limits, test_data__max_bytes_idx_npy_synth);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup_tmp, teardown_tmp);
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, test_data__idx_missing);
    tcase_add_test(errors, test_data__npy_errors);
    tcase_add_test(errors, test_data__npz_errors);
    tcase_add_test(errors, test_data__npz_hostile_directory);
    tcase_add_test(errors, test_data__idx_wrong_magic);
    tcase_add_test(errors, test_data__idx_truncated);
    tcase_add_test(errors, test_data__idx_count_mismatch);
    tcase_add_test(errors, test_data__idx_corrupt_gzip);
    tcase_add_test(errors, test_data__csv_ragged);
    tcase_add_test(errors, test_data__csv_not_a_number);
    tcase_add_test(errors, test_data__csv_bad_labels);
    tcase_add_test(errors, test_data__csv_bad_layout);
    tcase_add_test(errors, test_data__bad_spec);
    tcase_add_test(errors, test_data__fuzz_idx);
    tcase_add_test(errors, test_data__fuzz_npy);
    tcase_add_test(errors, test_data__fuzz_npz);
    tcase_add_test(errors, test_data__fuzz_csv);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(data_suite());
}
