/*
 * tfevents.c - TensorBoard event files (events.out.tfevents.<time>.<host>)
 * written by hand: TFRecord framing with masked CRC32C around Event
 * protocol buffers, encoded field by field.
 *
 * Only the few messages TensorBoard reads for scalars and histograms are
 * encoded (Event, Summary, Summary.Value, HistogramProto; field numbers
 * from tensorflow/core/util/event.proto and framework/summary.proto).
 * Every record is built whole into the caller's buffer (fixed buffers on
 * the stack inside), so nothing here allocates and a runlog may call in
 * while holding its lock.  It does no writing beyond creating the file:
 * the runlog appends records as it appends CSV rows (whole, held and
 * retried alike), and the export writes them with stdio.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nntop/runlog.h"
#include "nntop/xmem.h"
#include "runlog-int.h"

/* Wire types of the protocol buffer encoding. */
enum pb_wire { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

/* Event fields. */
#define EV_WALL_TIME 1
#define EV_STEP 2
#define EV_FILE_VERSION 3
#define EV_SUMMARY 5
/* Summary: repeated Value value = 1; Value: tag = 1, simple_value = 2, histo = 5. */
#define SUM_VALUE 1
#define VAL_TAG 1
#define VAL_SIMPLE 2
#define VAL_HISTO 5
/* HistogramProto: min, max, num, sum, sum_squares, bucket_limit, bucket. */
#define HIST_MIN 1
#define HIST_MAX 2
#define HIST_NUM 3
#define HIST_SUM 4
#define HIST_SUM_SQUARES 5
#define HIST_BUCKET_LIMIT 6
#define HIST_BUCKET 7

/* Room for one record: a histogram of TM_MAX_BINS + 2 buckets needs ~4.3 kB. */
#define TFE_TAG_MAX 96
#define TFE_MAX_VALUES 8
/* A histogram's buckets: the bins plus one below and one above the range. */
#define TFE_MAX_BUCKETS (RUNLOG_HIST_MAX_BINS + 2)
#define TFE_NAME_TRIES 100

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82f63b78) -------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t
tfevents_crc32c(const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/* TFRecord stores CRCs rotated and offset, so a CRC of CRC-bearing data stays strong. */
static uint32_t
masked_crc(const void *data, size_t n)
{
    uint32_t c = tfevents_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protocol buffer encoding into a fixed buffer ------------------------ */

struct pb {
    uint8_t *p;
    size_t len, cap;
    bool overflow;          /* something did not fit: the message is unusable */
};

static void
pb_init(struct pb *b, uint8_t *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

static void
pb_bytes(struct pb *b, const void *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
pb_varint(struct pb *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            t[n] |= 0x80;
        n++;
    } while (v != 0);
    pb_bytes(b, t, n);
}

static void
pb_key(struct pb *b, int field, enum pb_wire wire)
{
    pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void
pb_le(struct pb *b, uint64_t v, int nbytes)
{
    uint8_t t[8];
    for (int i = 0; i < nbytes; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    pb_bytes(b, t, (size_t)nbytes);
}

static void
pb_raw_double(struct pb *b, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    pb_le(b, u, 8);
}

static void
pb_double(struct pb *b, int field, double x)
{
    pb_key(b, field, PB_FIXED64);
    pb_raw_double(b, x);
}

static void
pb_float(struct pb *b, int field, float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    pb_key(b, field, PB_FIXED32);
    pb_le(b, u, 4);
}

static void
pb_len(struct pb *b, int field, const void *s, size_t n)
{
    pb_key(b, field, PB_LEN);
    pb_varint(b, n);
    pb_bytes(b, s, n);
}

static void
pb_str(struct pb *b, int field, const char *s)
{
    pb_len(b, field, s, strlen(s));
}

/* ---- records ------------------------------------------------------------- */

/*
 * Frame event as a TFRecord into out: length (u64 LE), its masked CRC,
 * the bytes, their masked CRC.  Returns the record's size, or 0 when it
 * does not fit (or the event overflowed its own buffer: a caller past the
 * documented limits).
 */
static size_t
frame(uint8_t *out, size_t cap, const struct pb *event)
{
    size_t n = event->len;
    if (event->overflow || cap < 16 || n > cap - 16)
        return 0;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)n >> (8 * i));
    uint32_t hc = masked_crc(out, 8);
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(hc >> (8 * i));
    memcpy(out + 12, event->p, n);
    uint32_t dc = masked_crc(event->p, n);
    for (int i = 0; i < 4; i++)
        out[12 + n + i] = (uint8_t)(dc >> (8 * i));
    return n + 16;
}

/* Event { wall_time, step, summary = sum }, framed. */
static size_t
summary_record(uint8_t *out, size_t cap, double wall_time, long step, const struct pb *sum)
{
    uint8_t mem[TFEVENTS_RECORD_MAX];
    struct pb ev;
    pb_init(&ev, mem, sizeof mem);
    pb_double(&ev, EV_WALL_TIME, wall_time);
    pb_key(&ev, EV_STEP, PB_VARINT);
    pb_varint(&ev, (uint64_t)(int64_t)step);
    pb_len(&ev, EV_SUMMARY, sum->p, sum->len);
    ev.overflow |= sum->overflow;
    return frame(out, cap, &ev);
}

/* Append Value { tag, simple_value } to a Summary being built. */
static void
summary_scalar(struct pb *sum, const char *tag, float v)
{
    uint8_t mem[TFE_TAG_MAX + 32];
    struct pb val;
    pb_init(&val, mem, sizeof mem);
    pb_str(&val, VAL_TAG, tag);
    pb_float(&val, VAL_SIMPLE, v);
    pb_len(sum, SUM_VALUE, val.p, val.len);
    sum->overflow |= val.overflow;
}

/* ---- the interface ----------------------------------------------------------- */

int
tfevents_create(const char *dir, double wall_time, char **path_out, char **cause)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    /* A host name with a slash would put the file elsewhere. */
    for (char *s = host; *s != '\0'; s++)
        if (*s == '/')
            *s = '_';
    long secs = (long)floor(wall_time);
    char *path = NULL;
    int fd = -1;
    for (int k = 1; k <= TFE_NAME_TRIES; k++) {
        path = k == 1 ? xasprintf("%s/events.out.tfevents.%ld.%s", dir, secs, host)
                      : xasprintf("%s/events.out.tfevents.%ld.%s.%d", dir, secs, host, k);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST || k == TFE_NAME_TRIES)
            break;
        free(path);
        path = NULL;
    }
    if (fd < 0) {
        *cause = xasprintf("%s: cannot create: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    *path_out = path;
    return fd;
}

size_t
tfevents_version_record(uint8_t *out, size_t cap, double wall_time)
{
    /* The first record names the format, as TensorBoard's readers expect. */
    uint8_t mem[128];
    struct pb ev;
    pb_init(&ev, mem, sizeof mem);
    pb_double(&ev, EV_WALL_TIME, wall_time);
    pb_str(&ev, EV_FILE_VERSION, "brain.Event:2");
    return frame(out, cap, &ev);
}

void
tfevents_metrics_scalars(const struct metrics_row *r, tfevents_emit_fn emit, void *ctx)
{
    static const char *const prefix[METRICS_KIND_COUNT] = { "train", "val", "test" };
    int kind = (unsigned)r->kind < METRICS_KIND_COUNT ? (int)r->kind : METRICS_TRAIN;
    char tag[TFE_TAG_MAX];
    snprintf(tag, sizeof tag, "%s/loss", prefix[kind]);
    emit(ctx, tag, r->loss);
    snprintf(tag, sizeof tag, "%s/accuracy", prefix[kind]);
    emit(ctx, tag, r->accuracy);
    if (kind != METRICS_TRAIN)
        return;
    emit(ctx, "train/reg_loss", r->reg_loss);
    emit(ctx, "train/lr", (float)r->lr);
    emit(ctx, "train/grad_norm", r->grad_norm);
    emit(ctx, "train/clipped", r->clipped ? 1.0f : 0.0f);
    /* As metrics.csv rounds it (to tenths), so the two files agree. */
    char t[64];
    snprintf(t, sizeof t, "%.1f", r->samples_per_s);
    emit(ctx, "train/samples_per_s", (float)strtod(t, NULL));
}

void
tfevents_layers_scalars(const struct layer_row *r, tfevents_emit_fn emit, void *ctx)
{
    char tag[TFE_TAG_MAX];
    if (r->tensor[0] != '\0') {
        const struct { const char *what; float v; } t[] = {
            { "update_ratio", r->update_ratio },
            { "grad_norm", r->g_norm },
            { "weight_norm", r->w_norm },
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            if (!isfinite(t[i].v))
                continue;
            snprintf(tag, sizeof tag, "%s/%.*s", t[i].what, RUNLOG_TENSOR_NAME_MAX, r->tensor);
            emit(ctx, tag, t[i].v);
        }
        return;
    }
    const struct { const char *what; float v; } t[] = {
        { "dead_frac", r->dead_frac },
        { "sat_frac", r->sat_frac },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        /* Not applicable is NaN (or, from older writers, negative). */
        if (!isfinite(t[i].v) || t[i].v < 0)
            continue;
        snprintf(tag, sizeof tag, "%s/%d.%.*s", t[i].what, r->layer, RUNLOG_LAYER_NAME_MAX,
                 r->name);
        emit(ctx, tag, t[i].v);
    }
}

/* A Summary being filled by the scalar mappings above. */
struct summary_build {
    struct pb pb;
    int nvalues;
};

static void
emit_to_summary(void *ctx, const char *tag, float v)
{
    struct summary_build *sb = ctx;
    summary_scalar(&sb->pb, tag, v);
    sb->nvalues++;
}

size_t
tfevents_metrics_record(uint8_t *out, size_t cap, double wall_time, const struct metrics_row *r)
{
    uint8_t mem[TFE_MAX_VALUES * (TFE_TAG_MAX + 32)];
    struct summary_build sb = { .nvalues = 0 };
    pb_init(&sb.pb, mem, sizeof mem);
    tfevents_metrics_scalars(r, emit_to_summary, &sb);
    return summary_record(out, cap, wall_time, r->step, &sb.pb);
}

size_t
tfevents_layers_record(uint8_t *out, size_t cap, double wall_time, const struct layer_row *r)
{
    uint8_t mem[TFE_MAX_VALUES * (TFE_TAG_MAX + 32)];
    struct summary_build sb = { .nvalues = 0 };
    pb_init(&sb.pb, mem, sizeof mem);
    tfevents_layers_scalars(r, emit_to_summary, &sb);
    if (sb.nvalues == 0)
        return 0;
    return summary_record(out, cap, wall_time, r->step, &sb.pb);
}

size_t
tfevents_histogram_record(uint8_t *out, size_t cap, double wall_time, long step, const char *tag,
                          const struct runlog_hist *h)
{
    if (h->nbins <= 0 || h->nbins > RUNLOG_HIST_MAX_BINS)
        return 0;
    /*
     * TensorBoard reads bucket i as (limit[i-1], limit[i]], the first one
     * starting at min and the last one ending at max.  Values below and
     * above the binned range get a bucket each, so num counts them too.
     */
    double limit[TFE_MAX_BUCKETS], count[TFE_MAX_BUCKETS];
    int nb = 0;
    /* A constant buffer (lo == hi) is one bucket of zero width. */
    int nbins = h->hi > h->lo ? h->nbins : 1;
    double width = h->hi > h->lo ? ((double)h->hi - h->lo) / nbins : 0.0;
    double lo = h->lo, num = 0, sum = 0, sum2 = 0;
    if (h->under > 0) {
        limit[nb] = lo;
        count[nb++] = h->under;
        num += h->under;
        sum += h->under * lo;
        sum2 += h->under * lo * lo;
    }
    for (int i = 0; i < nbins; i++) {
        limit[nb] = i == nbins - 1 ? h->hi : lo + width * (i + 1);
        count[nb++] = h->counts[i];
        /* The values themselves are gone: the bin centres stand in for them. */
        double mid = lo + width * (i + 0.5);
        num += h->counts[i];
        sum += h->counts[i] * mid;
        sum2 += h->counts[i] * mid * mid;
    }
    double hi = h->hi;
    if (h->over > 0) {
        limit[nb] = hi;
        count[nb++] = h->over;
        num += h->over;
        sum += h->over * hi;
        sum2 += h->over * hi * hi;
    }
    uint8_t hmem[TFE_MAX_BUCKETS * 16 + 128];
    struct pb hist;
    pb_init(&hist, hmem, sizeof hmem);
    pb_double(&hist, HIST_MIN, lo);
    pb_double(&hist, HIST_MAX, hi);
    pb_double(&hist, HIST_NUM, num);
    pb_double(&hist, HIST_SUM, sum);
    pb_double(&hist, HIST_SUM_SQUARES, sum2);
    pb_key(&hist, HIST_BUCKET_LIMIT, PB_LEN);
    pb_varint(&hist, (uint64_t)nb * 8);
    for (int i = 0; i < nb; i++)
        pb_raw_double(&hist, limit[i]);
    pb_key(&hist, HIST_BUCKET, PB_LEN);
    pb_varint(&hist, (uint64_t)nb * 8);
    for (int i = 0; i < nb; i++)
        pb_raw_double(&hist, count[i]);

    uint8_t vmem[sizeof hmem + TFE_TAG_MAX + 32];
    struct pb val;
    pb_init(&val, vmem, sizeof vmem);
    pb_str(&val, VAL_TAG, tag);
    pb_len(&val, VAL_HISTO, hist.p, hist.len);
    val.overflow |= hist.overflow;

    uint8_t smem[sizeof vmem + 16];
    struct pb sum_msg;
    pb_init(&sum_msg, smem, sizeof smem);
    pb_len(&sum_msg, SUM_VALUE, val.p, val.len);
    sum_msg.overflow |= val.overflow;
    return summary_record(out, cap, wall_time, step, &sum_msg);
}
