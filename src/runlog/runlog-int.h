/*
 * runlog-int.h - private to the runlog module (runlog.c, runlog-read.c,
 * runlog-json.c, safetensors.c): a small strict JSON parser (for
 * safetensors headers and events.jsonl lines), a growable string buffer,
 * number formatting that round-trips, and atomic file replacement.
 *
 * The parser builds a tree and accepts exactly RFC 8259 JSON: UTF-8
 * checked, no duplicate keys, nesting at most JSON_MAX_DEPTH, nothing but
 * whitespace after the value.  It is bounded by its input and never reads
 * past len.  It is not a general-purpose JSON library: no streaming, no
 * writer beyond string escaping.
 */
#ifndef NNTOP_RUNLOG_INT_H
#define NNTOP_RUNLOG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nntop/sbuf.h"

#define JSON_MAX_DEPTH 64

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
    JSON_TYPE_COUNT
};

struct json {
    enum json_type type;
    size_t offset;          /* where the value starts in the input */
    char *str;              /* string: decoded bytes + NUL; number: its text + NUL */
    size_t len;             /* string: bytes of str; array, object: items */
    double num;             /* number */
    struct json *items;     /* array, object: the values (len of them) */
    char **keys;            /* object: decoded keys, NUL-terminated */
    size_t *key_lens;       /* object: key lengths (keys may hold NUL) */
};

/*
 * Parse text[0..len) into *out, the tree taking at most max bytes (each
 * allocation is counted before it is made).  Returns 0 (free with
 * runlog_json_fini), or -1 with "offset N: reason" in err (errlen bytes);
 * *out is then empty.
 */
int runlog_json_parse(struct json *out, const char *text, size_t len, uint64_t max, char *err,
                      size_t errlen);
/* Free what runlog_json_parse built. */
void runlog_json_fini(struct json *v);
/* Member key of object v (linear search), or NULL. */
const struct json *runlog_json_get(const struct json *v, const char *key);
/* True when v is a number written as a non-negative integer that fits in 64 bits. */
bool runlog_json_get_u64(const struct json *v, uint64_t *out);

/*
 * The columns of metrics.csv and layers.csv, in file order (runlog-read.c):
 * the writer's header line and the reader's header check both come from
 * these, so they cannot disagree.
 */
#define RUNLOG_METRICS_NCOLS 11
#define RUNLOG_LAYERS_NCOLS 16
extern const char *const runlog_metrics_columns[RUNLOG_METRICS_NCOLS];
extern const char *const runlog_layers_columns[RUNLOG_LAYERS_NCOLS];

/* Append s[0..n) as a quoted JSON string (invalid UTF-8 becomes U+FFFD). */
void runlog_json_put_str(struct sbuf *b, const char *s, size_t n);

/*
 * Atomic replacement of a file: write to <path>.tmp.<pid> in the same
 * directory, then runlog_atomic_commit() flushes, fsyncs, renames over path and
 * fsyncs the directory.  On any failure the temporary file is removed.
 */
struct runlog_atomic_file {
    FILE *f;                /* write here */
    char *path, *tmp;
};

/* Create the temporary file; 0, or -1 with *cause (heap). */
int runlog_atomic_open(struct runlog_atomic_file *af, const char *path, char **cause);
/* Finish: 0, or -1 with *cause (heap) naming path and the failing step. */
int runlog_atomic_commit(struct runlog_atomic_file *af, char **cause);
/* Give up: close and remove the temporary file. */
void runlog_atomic_abort(struct runlog_atomic_file *af);
/* fsync the directory holding path (so a rename or create is durable); 0 or -1 with errno. */
int runlog_fsync_parent_dir(const char *path);

/* ---- provenance (provenance.c) ----------------------------------------- */

/* code.diff keeps at most this much of the diff (and says where it was cut). */
#define RUNLOG_DIFF_MAX (1 << 20)

struct runlog_env;

/*
 * Append env.txt's lines about the run's inputs to b: cpu, config (its
 * absolute path), one "data_file: <sha256> <bytes> <path>" per data file,
 * and, when the config is in a git work tree, git_root, git_commit,
 * git_dirty (yes/no) and code_diff.  *diff gets the diff of tracked files
 * against the commit (heap, caller frees) when there is one, else NULL.
 */
void provenance_lines(struct sbuf *b, const struct runlog_env *env, char **diff);

/* ---- TensorBoard event files (tfevents.c) ------------------------------ */

struct metrics_row;
struct layer_row;
struct runlog_hist;

/* Room that any one record below needs (a histogram of RUNLOG_HIST_MAX_BINS bins fits). */
#define TFEVENTS_RECORD_MAX 8192

/*
 * Create <dir>/events.out.tfevents.<secs>.<host> (".2", ".3", ... when the
 * name is taken), opened O_APPEND.  wall_time is seconds since the epoch.
 * Returns the fd and *path (heap, caller frees), or -1 with *cause (heap).
 */
int tfevents_create(const char *dir, double wall_time, char **path, char **cause);

/*
 * Whole TFRecord-framed Event records, built into out (cap bytes, at
 * least TFEVENTS_RECORD_MAX to fit any): each returns the record's size,
 * or 0 when there is nothing to write (a row with no values that apply, a
 * histogram with nbins outside 1..RUNLOG_HIST_MAX_BINS) or it does not
 * fit.  None of them allocates.  wall_time is seconds since the epoch.
 */
/* The file_version record every event file starts with. */
size_t tfevents_version_record(uint8_t *out, size_t cap, double wall_time);
/* One Event holding a metrics row's scalars at its step. */
size_t tfevents_metrics_record(uint8_t *out, size_t cap, double wall_time,
                               const struct metrics_row *r);
/* One Event holding a layers row's scalars. */
size_t tfevents_layers_record(uint8_t *out, size_t cap, double wall_time,
                              const struct layer_row *r);
/* One HistogramProto under tag. */
size_t tfevents_histogram_record(uint8_t *out, size_t cap, double wall_time, long step,
                                 const char *tag, const struct runlog_hist *h);

/*
 * The scalars a row becomes, one emit(ctx, tag, value) each, in a fixed
 * order: the one mapping the event file and the CSV export share.
 * Metrics rows: <kind>/loss, <kind>/accuracy (kind train, val, test) and,
 * for train rows, train/reg_loss, train/lr, train/grad_norm,
 * train/clipped, train/samples_per_s (rounded as metrics.csv rounds it).
 * Tensor rows: update_ratio/<t>, grad_norm/<t>, weight_norm/<t>; layer
 * rows: dead_frac/<i>.<name>, sat_frac/<i>.<name>; values that do not
 * apply (NaN) are left out.
 */
typedef void (*tfevents_emit_fn)(void *ctx, const char *tag, float v);
void tfevents_metrics_scalars(const struct metrics_row *r, tfevents_emit_fn emit, void *ctx);
void tfevents_layers_scalars(const struct layer_row *r, tfevents_emit_fn emit, void *ctx);
/* CRC-32C (Castagnoli) of data[0..n), as TFRecord uses it before masking. */
uint32_t tfevents_crc32c(const void *data, size_t n);

#endif
