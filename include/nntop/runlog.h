/*
 * runlog.h - the append-only record of a run: its directory, the
 * metrics/layers/events files, safetensors checkpoints, and readers that
 * bring a run back for replay and --reproduce.
 *
 * A run directory holds config.yaml, env.txt, metrics.csv, layers.csv,
 * events.jsonl and checkpoint-<step>.safetensors (see DESIGN.md).  Files
 * are written by the trainer thread; every call on a runlog takes the
 * runlog's own lock, so runlog_flush_all() may run from another thread on
 * the exit path.  Rows are written as whole lines: a write that fails
 * (a full disk) is cut back to the file's last complete line, the error
 * is kept (runlog_error), and every row from then on is held in memory
 * until runlog_retry() writes it out; the caller is expected to stop
 * producing rows meanwhile (the trainer pauses).  Nothing here calls
 * exit() or touches the terminal.
 *
 * Number formats (chosen so every value reads back exactly):
 *   - float fields: the fewest significant digits (6..9, "%.Ng") that
 *     strtof() reads back to the same float;
 *   - double fields (epoch, lr): the fewest (15..17) that strtod() reads
 *     back to the same double, so 0.1 is written "0.1";
 *   - timing fields (wall_s, samples_per_s) are measurements, rounded to
 *     milliseconds ("%.3f") and tenths ("%.1f");
 *   - metrics.csv writes NaN as "nan" (a NaN loss is news); layers.csv
 *     writes NaN as an empty field (not applicable: a relu has no weight
 *     norm); +-infinity is "inf"/"-inf".  Readers turn "", "nan" into NaN.
 * All of this assumes LC_NUMERIC is "C" (nntop only sets LC_CTYPE).
 */
#ifndef NNTOP_RUNLOG_H
#define NNTOP_RUNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct model;
struct optim;
struct runlog;

#define RUNLOG_LAYER_NAME_MAX 48
#define RUNLOG_TENSOR_NAME_MAX 32
#define RUNLOG_TYPE_MAX 32

/* What only the caller knows about the environment, for env.txt. */
struct runlog_env {
    const char *cmdline;        /* the command line as typed; NULL = unknown */
    const char *blas_config;    /* OpenBLAS build config (openblas_get_config()) */
    const char *blas_core;      /* the core OpenBLAS chose (openblas_get_corename()) */
    const char *blas_note;      /* what nntop did about that core, or NULL / "" */
    int blas_threads;           /* threads OpenBLAS was set to use; 0 = unknown */
    const char *conv_kernel;    /* the conv layers' product path (gemm_kernel_name()), or NULL */
    const char *extra;          /* more "key: value" lines, written verbatim; or NULL */
    const char *config_path;    /* the config file the run was loaded from, or NULL */
    const char *const *data_files;  /* the files the data set was read from (ndata_files) */
    int ndata_files;
};

enum metrics_kind {
    METRICS_TRAIN,
    METRICS_VAL,
    METRICS_TEST,
    METRICS_KIND_COUNT
};

/*
 * One row of metrics.csv:
 *   step,epoch,kind,loss,reg_loss,accuracy,lr,grad_norm,clipped,samples_per_s,wall_s
 * Train rows fill every column.  Eval rows (val, test) write step, epoch,
 * kind, loss, accuracy and wall_s and leave the train-only columns empty;
 * read back, those are NaN (clipped false).
 */
struct metrics_row {
    long step;                  /* global step: optimizer updates done (train: this one included) */
    double epoch;
    enum metrics_kind kind;
    float loss;                 /* data loss */
    float reg_loss;             /* coupled L2 penalty (train only) */
    float accuracy;             /* in [0, 1] */
    double lr;                  /* the lr the step used (train only) */
    float grad_norm;            /* global norm before clipping (train only) */
    bool clipped;               /* (train only) */
    double samples_per_s;       /* (train only) */
    double wall_s;              /* seconds since the run started (runlog_elapsed) */
};

/*
 * One row of layers.csv:
 *   step,layer,name,tensor,act_mean,act_std,act_min,act_max,dead_frac,sat_frac,
 *   w_norm,g_norm,update_norm,update_ratio,nan_count,inf_count
 * A snapshot writes one row per layer (tensor "", activation columns) and
 * one per parameter tensor (tensor "0.weight", norm columns).  Columns that
 * do not apply are NaN and written empty.
 */
struct layer_row {
    long step;                              /* global step of the snapshot (updates done) */
    int layer;                              /* index in the model: nn.Sequential's */
    char name[RUNLOG_LAYER_NAME_MAX];       /* "dense 2->100", "relu", ... */
    char tensor[RUNLOG_TENSOR_NAME_MAX];    /* "0.weight", or "" for the layer itself */
    float act_mean, act_std, act_min, act_max;
    float dead_frac, sat_frac;
    float w_norm, g_norm, update_norm, update_ratio;
    long nan_count, inf_count;
};

/* Most bins a histogram handed to runlog_histogram may have. */
#define RUNLOG_HIST_MAX_BINS 256

/* A histogram: counts of values in nbins equal bins over [lo, hi]. */
struct runlog_hist {
    float lo, hi;
    unsigned long under, over;      /* values below lo / above hi */
    int nbins;
    const uint32_t *counts;         /* nbins counts; borrowed */
};

/* One line of histograms.csv (nntop(1), FILES) as read back. */
struct runlog_hist_row {
    long step;
    int what;                   /* 0 act, 1 weight, 2 grad */
    int index;                  /* the layer (act) or the tensor in layers.csv order */
    float lo, hi;
    unsigned under, over, total;
    int nbins;
    uint32_t counts[RUNLOG_HIST_MAX_BINS];
};

/* The names histograms.csv gives what (0 act, 1 weight, 2 grad); NULL out of range. */
const char *runlog_hist_what_name(int what);
/*
 * Parse one line of histograms.csv into *row (the line may end in '\n').
 * Returns true, or false for the header or a line that does not parse
 * (readers skip it: the run just has fewer histograms).
 */
bool runlog_parse_hist_line(const char *line, struct runlog_hist_row *row);

/* One line of events.jsonl as read back. */
struct runlog_event_rec {
    long step;
    double wall_s;
    char type[RUNLOG_TYPE_MAX];     /* truncated if longer */
    char *line;                     /* the whole JSON object, no newline; owned by the array */
};

/* ---- writing a run -------------------------------------------------- */

/*
 * Create <dir_root>/<YYYYmmdd-HHMMSS>-<name>/ (local time; the root is
 * created as needed; a directory that exists already gets -2, -3, ...
 * appended, claimed atomically by mkdir), write config.yaml (config_yaml,
 * NULL = none) and env.txt (env may be NULL) atomically, and open
 * metrics.csv, layers.csv and events.jsonl with their headers.  name is
 * reduced to [A-Za-z0-9._-] ("run" when empty).  Registers the runlog for
 * runlog_flush_all(), and on first use registers that as a fatal() hook.
 * Returns 0 and *out (caller closes with runlog_close), or -1 with *cause
 * (heap, caller frees).
 */
int runlog_open(struct runlog **out, const char *dir_root, const char *name,
                const char *config_yaml, const struct runlog_env *env, char **cause);

/*
 * Open an existing run directory to append to it (resume).  Files that are
 * missing are created with their header; a CSV whose header is not the
 * expected one is refused; a final line cut short by a crash is cut off so
 * new rows start on a fresh line; "*.tmp.<pid>" files left by a killed
 * process (pid gone) are removed.  wall_s restarts from 0.  Returns 0 and
 * *out, or -1 with *cause (heap).
 */
int runlog_reopen(struct runlog **out, const char *run_dir, char **cause);

/*
 * Write out what is held (one last try), fsync and close every file,
 * fsync the directory, free rl.  Returns 0, or -1 with *cause (heap;
 * cause may be NULL: "<error> (N rows not written)") when rows could not
 * be written or closing failed; the files then end on their last complete
 * line.  NULL rl is allowed.
 */
int runlog_close(struct runlog *rl, char **cause);

/*
 * Cut run_dir's logs back to a checkpoint of step (before resuming from
 * it): metrics.csv, layers.csv and events.jsonl lose their rows of a
 * later step (global steps: the checkpoint of step k keeps row k).
 * Each file that changes is rewritten atomically; the caller journals
 * the cut (an event).  removed[] gets the rows removed
 * from metrics, layers, events.  Returns 0, or -1 with *cause (heap).
 */
int runlog_truncate(const char *run_dir, long step, long removed[3], char **cause);

/* The run directory's path (borrowed, valid until close). */
const char *runlog_dir(const struct runlog *rl);
/* Seconds since runlog_open/reopen on a monotonic clock: use for wall_s. */
double runlog_elapsed(const struct runlog *rl);
/*
 * The first write error since the log was last whole ("<file>: <reason>"),
 * or NULL (also for a NULL rl); borrowed, valid until the next call on rl
 * from the writing thread.  Non-NULL means rows wait in memory.
 */
const char *runlog_error(const struct runlog *rl);
/*
 * Write out every row held since a write failed.  Returns 0 when the log
 * is whole again (runlog_error is NULL), -1 when a write still fails
 * (the files still end on a complete line; nothing held is lost).
 */
int runlog_retry(struct runlog *rl);
/* Rows (and event lines) held in memory, not yet on disk; 0 for NULL rl. */
long runlog_held_rows(struct runlog *rl);

/*
 * Append a row to metrics.csv.  Flushes when a second has passed since the
 * last flush.  This and the other writers below do nothing when rl is
 * NULL, so a run without a log (--no-log) needs no special cases.
 */
void runlog_metrics_row(struct runlog *rl, const struct metrics_row *row);
/* Append a row to layers.csv (same flush rule).  Strings are NUL-terminated within their arrays. */
void runlog_layers_row(struct runlog *rl, const struct layer_row *row);

/*
 * Append one JSON object to events.jsonl and flush it:
 *   {"step":N,"time":"<ISO 8601, ms, local offset>","wall_s":S,"type":"<type>",<fields>}
 * fmt (NULL for none) builds <fields>, a JSON fragment of members such as
 * "\"value\":%s" with strings escaped by runlog_json_str and numbers by
 * runlog_json_num.  A fragment that is not valid JSON is kept as the
 * string member "invalid_fields" so the file stays one object per line.
 */
void runlog_event(struct runlog *rl, long step, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Start rl's TensorBoard event file, <run>/events.out.tfevents.<time>.<host>
 * (a resumed run starts a new one beside the old).  From then on every
 * metrics and layers row is also written there as scalars (see
 * doc/run-format.md for the tags) and runlog_histogram adds histograms.
 * Returns 0 (also for a NULL rl), or -1 with *cause (heap).
 */
int runlog_tfevents_start(struct runlog *rl, char **cause);

/*
 * Add a histogram under tag ("weights/0.weight", "activations/1.relu") at
 * step to the TensorBoard file; nothing when rl is NULL or has no such
 * file.  The histogram's counts are borrowed for the call.
 */
void runlog_histogram(struct runlog *rl, long step, const char *tag, const struct runlog_hist *h);

/* fflush and fsync every file of rl (on quit, pause, or a signal seen by the main loop). */
void runlog_flush(struct runlog *rl);
/* runlog_flush for every open runlog; for the exit path and fatal(), not for signal handlers. */
void runlog_flush_all(void);

/*
 * Save m (and o) as <run>/checkpoint-<step>.safetensors with the run's
 * config, and log a "checkpoint" event {"file", "bytes", "severity",
 * "text"} (or an "error" event {"what", "message", "severity", "text"}).
 * Returns 0, or -1 with *cause (heap), also for a NULL rl.
 */
int runlog_checkpoint(struct runlog *rl, const struct model *m, const struct optim *o, long step,
                      double epoch, char **cause);
/*
 * Record the data's normalisation, x' = x scale + shift per feature (d
 * each, borrowed; NULL scale or shift: none), for the "normalize" metadata
 * of the checkpoints rl writes from now on.
 */
void runlog_set_normalize(struct runlog *rl, const float *scale, const float *shift, int d);

/* ---- JSON helpers for event fields ----------------------------------- */

/*
 * Write s as a quoted JSON string into buf (len >= 3) and return buf.
 * Control characters and quotes are escaped, invalid UTF-8 becomes
 * U+FFFD; a string that does not fit is cut at a character boundary and
 * still closed.
 */
char *runlog_json_str(char *buf, size_t len, const char *s);
/* Write x as a JSON number (shortest round-trip form) or, when not finite,
 * as the string "nan", "inf" or "-inf"; returns buf (len >= 32). */
char *runlog_json_num(char *buf, size_t len, double x);

/* ---- checkpoints ------------------------------------------------------ */

/*
 * Write m's parameters and running statistics to path in the safetensors
 * format, named as PyTorch's nn.Sequential names them: exactly the
 * model's state_dict, so torch's strict load_state_dict() takes it.  When
 * o is non-NULL its moments ("optim.m.<name>", "optim.v.<name>") and step
 * count ("optim.t") go to the file beside it, runlog_optim_path(path),
 * written first.  __metadata__ (strings only) holds "format"
 * ("nntop-checkpoint"), "format_version" ("2"), "nntop_version", "step",
 * "epoch", "rng_dropout" (m's dropout stream as 64 hex digits), "optimizer"
 * (with o: "sgd", "adam", "adamw"), "config" (config_yaml; omitted when
 * NULL) and "model" (see runlog_save_checkpoint_norm).  Atomic:
 * written to <path>.tmp.<pid>, fsynced, renamed, directory fsynced; on
 * failure no temporary file is left.  Returns the bytes written (both
 * files), or -1 with *cause (heap).
 */
long long runlog_save_checkpoint(const char *path, const struct model *m, const struct optim *o,
                                 long step, double epoch, const char *config_yaml, char **cause);
/*
 * The "normalize" metadata of a checkpoint into scale and shift (d each):
 * 0, 1 when the checkpoint has none (older files: both left alone), or -1
 * with *cause (heap) when it is malformed or not for d features.
 */
int runlog_load_normalize(const char *path, float *scale, float *shift, int d, char **cause);

/* The optimizer file beside a checkpoint: checkpoint-<step>.safetensors ->
 * optim-<step>.safetensors (any other NAME -> optim-NAME).  Heap string. */
char *runlog_optim_path(const char *checkpoint_path);

/*
 * runlog_save_checkpoint() with the "normalize" metadata entry as well
 * (normalize_json when non-NULL: {"scale": [...], "shift": [...]}, x' = x
 * scale + shift per input feature).  Both write "model": {"input": [C, H,
 * W] or [D], "loss", "layers": [{"kind", ...}]}, all a reader needs to
 * build the nn.Sequential (contrib/python/nntop_load.py).
 */
long long runlog_save_checkpoint_norm(const char *path, const struct model *m,
                                      const struct optim *o, long step, double epoch,
                                      const char *config_yaml, const char *normalize_json,
                                      char **cause);

/*
 * Load a checkpoint into m (and o when non-NULL, from the optimizer file
 * beside it, or from the checkpoint itself when it is a format-1 file that
 * holds "optim." tensors; with o NULL those are ignored).  Every tensor
 * the model has must be in
 * the file with the model's dtype and shape, and nothing else; the file
 * is validated completely before m or o change.  step, epoch (may be
 * NULL) come from the metadata (0 when absent); the dropout stream too,
 * when the file has one (else m's is left as it is); *config_yaml_out (may be
 * NULL) receives the stored config (heap, caller frees) or NULL.
 * Returns 0, or -1 with *cause (heap) naming the file and the tensor.
 */
int runlog_load_checkpoint(const char *path, struct model *m, struct optim *o, long *step,
                           double *epoch, char **config_yaml_out, char **cause);

/*
 * Whether the checkpoint at path records its step in __metadata__ (a
 * file written by something else may not).  Returns 1, 0, or -1 with
 * *cause (heap) when the file is not a safetensors file.
 */
int runlog_checkpoint_has_step(const char *path, char **cause);

/*
 * The checkpoint with the highest step in run_dir.  Returns 0 with *path
 * (heap) and *step, 1 when there is none, -1 with *cause (heap).
 */
int runlog_latest_checkpoint(const char *run_dir, char **path, long *step, char **cause);

/* ---- reading a run back ------------------------------------------------ */

/*
 * The longest line the run-log readers take, its newline included: nntop
 * writes lines of a few KiB at most, so a longer one is damage, refused
 * before it is read whole.
 */
#define RUNLOG_LINE_MAX ((size_t)1 << 20)

/*
 * The memory the run-log readers (metrics.csv, layers.csv, events.jsonl,
 * histograms.csv) and the checkpoint reader may give to what one file
 * holds: the rows read, a checkpoint's header and its parse.  Each such
 * allocation is checked against it first.  It is data.max_bytes of the
 * config in effect (main sets it); 0 restores the default,
 * DATA_MAX_BYTES_DEFAULT.  Set before any reader runs; read from any thread.
 */
void runlog_set_read_max(uint64_t bytes);
/* The budget runlog_set_read_max set (the default until then). */
uint64_t runlog_read_max(void);

/*
 * Read one line of f into *line (grown as needed; caller frees), newline
 * included, NUL-terminated.  Returns its length (a last line may lack its
 * newline; a NUL byte inside counts), 0 at the end, -1 on a read error
 * (errno set), or -2 when the line is longer than max bytes: then at most
 * max + 1 bytes of it have been read and f is left inside it.
 */
long runlog_getline(char **line, size_t *cap, FILE *f, size_t max);

/*
 * runlog_getline() at RUNLOG_LINE_MAX for a reader that names its file:
 * the line's length, 0 at the end, or -1 with *cause (heap) naming
 * path:LINE (lineno is the count of lines read before this one) for a
 * line over the bound, or path for a read error.
 */
long runlog_getline_named(char **line, size_t *cap, FILE *f, const char *path, size_t lineno,
                          char **cause);

/*
 * Parse <run_dir>/metrics.csv into *rows (heap array, caller frees; NULL
 * when *n is 0).  A final line without its newline (a crash mid-write) is
 * ignored; any other malformed line is an error naming file and line.
 * Returns 0, or -1 with *cause (heap).
 */
int runlog_read_metrics(const char *run_dir, struct metrics_row **rows, size_t *n, char **cause);
/* Likewise for layers.csv. */
int runlog_read_layers(const char *run_dir, struct layer_row **rows, size_t *n, char **cause);
/*
 * Parse <run_dir>/events.jsonl (every line must be a JSON object with
 * integer "step" and string "type"; a cut final line is ignored).  Free
 * with runlog_events_free.  Returns 0, or -1 with *cause (heap).
 */
int runlog_read_events(const char *run_dir, struct runlog_event_rec **evs, size_t *n,
                       char **cause);
/*
 * Where a follower of one growing file of a run stopped: just past its
 * last whole line.  Zero it to start at the beginning.
 */
struct runlog_cursor {
    long long off;              /* bytes read */
    size_t lineno;              /* lines read, the header included */
    int nfields;                /* the CSV header's field count; 0 until read */
};

/*
 * Follow a file that another process may still be writing: append the
 * rows that became whole after *cur to *rows (*n of them, room for *cap;
 * the array grows, caller frees as for runlog_read_*) and move *cur past
 * them.  A file that does not exist yet, or lacks a whole header line
 * yet, is nothing new; a torn last line is read once it is whole.
 * Returns 0, or -1 with *cause (heap) naming file and line of a malformed
 * row (the rows before it are appended, *cur stays before it).
 */
int runlog_follow_metrics(const char *run_dir, struct runlog_cursor *cur,
                          struct metrics_row **rows, size_t *n, size_t *cap, char **cause);
int runlog_follow_layers(const char *run_dir, struct runlog_cursor *cur, struct layer_row **rows,
                         size_t *n, size_t *cap, char **cause);
/* Likewise for events.jsonl; free the array with runlog_events_free. */
int runlog_follow_events(const char *run_dir, struct runlog_cursor *cur,
                         struct runlog_event_rec **evs, size_t *n, size_t *cap, char **cause);
/* Free what runlog_read_events returned; NULL allowed. */
void runlog_events_free(struct runlog_event_rec *evs, size_t n);
/*
 * Top-level member key of the event line as a number (a JSON number, or
 * the strings "nan", "inf", "-inf").  Returns 0, or -1 when the line is
 * not an object or the member is absent or of another type.
 */
int runlog_event_get_num(const char *line, const char *key, double *x);
/* Top-level string member key, unescaped into buf (cut to fit, NUL-terminated); 0 or -1. */
int runlog_event_get_str(const char *line, const char *key, char *buf, size_t len);
/* Top-level member key as a JSON true or false into *out; 0, or -1 absent or of another type. */
int runlog_event_get_bool(const char *line, const char *key, bool *out);
/* True when the line is an object with a top-level member key (of any type). */
bool runlog_event_has(const char *line, const char *key);
/*
 * The event vocabulary's row for the line (enum tm_event_type, from its
 * type and verdict), or -1 for a type the vocabulary does not know.
 */
int runlog_event_vocab(const struct runlog_event_rec *ev);

/* ---- the format's version -------------------------------------------------- */

/*
 * The run-directory format this nntop writes and reads (doc/run-format.md):
 * env.txt's "run_format" line.  A reader refuses a higher version; a run
 * without the line (written before it existed) is version 1.
 */
#define RUNLOG_FORMAT_VERSION 1

/*
 * Check run_dir's format version.  Returns 0 when this nntop reads it,
 * or -1 with *cause (heap) naming the version found ("run format 2 is
 * newer than this nntop reads (1)") or a malformed line.
 */
int runlog_check_format(const char *run_dir, char **cause);

/* ---- converting a run ----------------------------------------------------- */

/*
 * Write the scalars of run_dir (metrics.csv and layers.csv, read as
 * runlog_read_* read them) as a new TensorBoard event file in out_dir (an
 * existing directory; NULL = run_dir).  Refused when out_dir holds an
 * event file already (TensorBoard would show every point twice).
 * Returns 0 with *out_path (heap, caller frees), or -1 with *cause (heap).
 */
int runlog_export_tfevents(const char *run_dir, const char *out_dir, char **out_path,
                           char **cause);
/*
 * Write the same scalars to out as one long CSV table,
 *   step,wall_s,tag,value
 * (a row per value, in file order), the form wandb and mlflow importers
 * take.  Returns 0, or -1 with *cause (heap).
 */
int runlog_export_csv(const char *run_dir, FILE *out, char **cause);

/* ---- tests ------------------------------------------------------------ */

/* Make every run-log file write fail with errno err (0 = write normally).  Tests only. */
void runlog_set_write_failure(int err);

/* Make runlog_open read the wall clock as t (0 = the real clock).  Tests only. */
void runlog_set_fake_time(time_t t);

#endif
