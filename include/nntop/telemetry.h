/*
 * telemetry.h - the records that cross the two rings: what the trainer
 * publishes (steps, per-layer and per-tensor snapshots, evaluations,
 * events, state) and the commands the UI sends back.
 *
 * Plain values only: no pointers, so no ownership crosses threads, and a
 * record can be copied byte for byte in and out of a ring.  Both sides
 * (trainer or replay reader; UI or headless printer) include this header
 * and nothing else of each other.
 */
#ifndef NNTOP_TELEMETRY_H
#define NNTOP_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_MAX_BINS 256
#define TM_MAX_LAYERS 64
#define TM_NAME_MAX 32
#define TM_TEXT_MAX 240
#define TM_LABEL_MAX 40
#define TM_GC_MAX_TENSORS 32
#define TM_MAX_CHANNELS 256     /* per-channel saturation kept for this many channels */

/* Record types (the ring's opaque type tag). */
enum tm_type {
    TM_INFO,        /* once at start: the run and its model */
    TM_STATE,       /* on every change of state or setting */
    TM_STEP,        /* every step */
    TM_LAYER,       /* per layer, each snapshot */
    TM_TENSOR,      /* per parameter tensor, each snapshot */
    TM_SNAPSHOT,    /* closes a snapshot: all its LAYER/TENSOR records sent */
    TM_EVAL,        /* validation / test evaluation */
    TM_EVENT,       /* a live change or notable event, as text */
    TM_GRADCHECK,   /* one gradient-check result table */
    TM_FINDING,     /* a doctor finding raised, cleared or passed */
    TM_VIEW,        /* the look-inside view of one sample (answers TM_CMD_VIEW) */
    TM_VIEW_MAP,    /* one filter or activation map of that view (after its TM_VIEW) */
    TM_PROGRESS,    /* how far long trainer work (gradient check, evaluation, baseline) is */
    TM_TYPE_COUNT
};

enum tm_run_state {
    TM_RUNNING,
    TM_PAUSED,
    TM_DONE,
    TM_FAILED,      /* stopped on an error (non-finite values, disk) */
    TM_RUN_STATE_COUNT
};

/* A histogram: counts of values in nbins equal bins over [lo, hi]. */
struct tm_hist {
    float lo, hi;
    uint32_t under, over;   /* values below lo / above hi (non-finite excluded) */
    uint32_t total;         /* values binned (a sample when sampled) */
    uint16_t nbins;
    uint8_t sampled;        /* drawn from a fixed strided sample of the tensor */
    uint8_t pad;
    uint32_t counts[TM_MAX_BINS];
};

/* What applies to a layer (tm_layer_info.flags). */
enum tm_layer_flag {
    TM_LAYER_HAS_DEAD = 1u << 0,    /* tm_layer.dead_frac is measured (relu) */
    TM_LAYER_HAS_SAT = 1u << 1,     /* tm_layer.sat_frac is measured (tanh, sigmoid) */
    TM_LAYER_HAS_PARAMS = 1u << 2,  /* the layer has a weight (and maybe a bias) tensor */
    TM_LAYER_DEAD_FILTERS = 1u << 3, /* dead_frac counts filters (channels zero for the
                                      * whole batch), not units: a relu on an image */
    TM_LAYER_SAT_CHANNELS = 1u << 4, /* tm_layer.chan_sat is measured: a tanh or sigmoid
                                      * on an image */
};

/*
 * The engine's kinds as telemetry names them, so that a reader (the
 * doctor's config lint, a test) needs no engine header.  The producer
 * maps the engine's enums onto these (stats.c); the order is the config
 * keywords' order.
 */
enum tm_layer_kind {
    TM_LK_DENSE,
    TM_LK_RELU,
    TM_LK_LEAKY_RELU,
    TM_LK_TANH,
    TM_LK_SIGMOID,
    TM_LK_DROPOUT,
    TM_LK_BATCHNORM,
    TM_LK_CONV2D,
    TM_LK_MAXPOOL2D,
    TM_LK_AVGPOOL2D,
    TM_LK_FLATTEN,
    TM_LK_BATCHNORM2D,
    TM_LK_DROPOUT2D,
    TM_LK_GLOBAL_AVGPOOL,
    TM_LK_COUNT
};

enum tm_loss { TM_LOSS_CROSS_ENTROPY, TM_LOSS_MSE, TM_LOSS_COUNT };
enum tm_optim { TM_OPTIM_SGD, TM_OPTIM_ADAM, TM_OPTIM_ADAMW, TM_OPTIM_COUNT };
enum tm_sched { TM_SCHED_CONSTANT, TM_SCHED_STEP, TM_SCHED_EXP, TM_SCHED_COSINE, TM_SCHED_COUNT };

/*
 * A layer as a consumer shows it.  The label is made once, by the
 * producer (stats_describe_model); every place that names a layer
 * (dashboard, layers.csv, the gradient-check table) prints it as is.
 */
struct tm_layer_info {
    char label[TM_LABEL_MAX];       /* "dense 784→256", "relu", "dropout 0.5" (UTF-8) */
    char label_ascii[TM_LABEL_MAX]; /* the same in ASCII: "dense 784->256" */
    unsigned flags;                 /* enum tm_layer_flag bits */
    int in, out;                    /* widths of its input and output */
    int weight, bias;               /* indices into tm_info.tensor_names, or -1 */
    /* For the doctor's config lint; a consumer that draws layers uses
     * label and flags only. */
    int kind;                       /* enum tm_layer_kind */
    char kind_name[16];             /* its config keyword: "dense", "leaky_relu" */
    float arg;                      /* leaky relu slope / dropout p */
};

/* Gradient clipping as telemetry names it: tm_state and tm_command carry these. */
enum tm_clip {
    TM_CLIP_NONE,
    TM_CLIP_NORM,           /* scale the gradient to a global norm */
    TM_CLIP_VALUE,          /* clamp each entry */
    TM_CLIP_COUNT
};

/*
 * The training inputs after the configured normalisation, as the
 * config lint reads them: the feature whose mean is farthest from 0 and
 * the ones with the smallest and largest standard deviation (over the
 * training split, or a fixed sample of it).
 */
struct tm_input_stats {
    int have;               /* 0 when not computed */
    int features;           /* features looked at */
    long rows;              /* rows looked at */
    int mean_feature;       /* |mean| largest */
    float mean;
    int std_lo_feature, std_hi_feature;
    float std_lo, std_hi;
    float std_median;       /* median std over the features */
};

struct tm_info {
    char name[64];
    char run_dir[256];      /* "" when not logging */
    int nlayers;
    struct tm_layer_info layers[TM_MAX_LAYERS];
    int ntensors;
    char tensor_names[2 * TM_MAX_LAYERS][TM_NAME_MAX];
    int loss_kind;          /* enum tm_loss (for the doctor, like layers[].kind) */
    double expected_loss;   /* at step 0 */
    long total_steps;       /* 0 when unknown */
    long steps_per_epoch;
    int classes, in_width;
    long train_n, val_n, test_n;
    bool replay;            /* fed from a run log: commands are refused */
    bool attached;          /* fed from a run another process writes (--attach) */
    int optim_kind;         /* enum tm_optim */
    char optim_name[16];    /* its config keyword: "sgd", "adam", "adamw" */
    int sched_kind;         /* enum tm_sched */
    long warmup;            /* warm-up steps of the schedule */
    double min_lr;          /* cosine schedule floor */
    double lr;              /* the configured (base) lr */
    struct tm_input_stats input;
    char blas_core[32];     /* the OpenBLAS core training runs ("Haswell"); "" unknown */
    char blas_note[160];    /* what nntop did about that core ("BLAS: OpenBLAS chose
                             * Prescott on a CPU with AVX-512: using SkylakeX"), or "" */
};

struct tm_state {
    int state;              /* enum tm_run_state */
    long step;
    double epoch;
    double lr;              /* the lr the next step uses */
    double base_lr;
    int clip_kind;          /* enum tm_clip */
    double clip_value;      /* threshold (also the last one when clip is off) */
    double momentum, weight_decay;
    int batch_size;
    long telemetry_every;
    bool overfit;           /* training on one fixed batch */
    uint64_t dropped;       /* telemetry records the trainer dropped so far */
    bool writer_gone;       /* attached: the process writing the run stopped or vanished */
    bool log_stalled;       /* a run-log write failed: paused, rows held (Space retries) */
};

struct tm_step {
    long step;              /* global step: updates done, this one included (1 = the first) */
    double epoch;
    float loss;             /* data loss */
    float reg_loss;         /* coupled L2 penalty */
    float accuracy;         /* batch accuracy in [0, 1] */
    float lr;               /* the lr this step used */
    float grad_norm;        /* global norm before clipping */
    uint8_t clipped;
    float samples_per_s;
};

struct tm_layer {
    long step;
    int index;
    float act_mean, act_std, act_min, act_max;
    float dead_frac;        /* relu: units (on images: filters) zero for every sample; else -1 */
    float sat_frac;         /* tanh/sigmoid: outputs within 1 % of the asymptotes; else -1 */
    uint32_t nan_count, inf_count;
    int channels;           /* TM_LAYER_SAT_CHANNELS: channels in chan_sat, else 0 */
    uint8_t chan_sat[TM_MAX_CHANNELS];  /* each channel's saturated share, x 255 (rounded) */
    struct tm_hist act;     /* nbins 0: not computed this snapshot */
};

struct tm_tensor {
    long step;
    int index;              /* into tm_info.tensor_names */
    int layer;
    float w_norm, g_norm, update_norm, update_ratio;
    float w_min, w_max;     /* smallest and largest finite weight */
    uint32_t nan_count, inf_count;
    struct tm_hist weight, grad;    /* nbins 0: not computed this snapshot */
};

struct tm_snapshot {
    long step;
    int nlayers, ntensors;
};

enum tm_eval_split { TM_SPLIT_VAL, TM_SPLIT_TEST, TM_SPLIT_TRAIN, TM_SPLIT_COUNT };

struct tm_eval {
    long step;
    double epoch;
    int split;              /* enum tm_eval_split */
    float loss;
    float accuracy;
    long n;
};

enum tm_event_kind {
    TM_EV_INFO,
    TM_EV_CHANGE,           /* a setting changed (lr, clip, ...) */
    TM_EV_REFUSED,          /* a command refused: nothing changed */
    TM_EV_CHECKPOINT,
    TM_EV_NONFINITE,
    TM_EV_ERROR,
    TM_EV_FINDING,          /* a doctor finding */
    TM_EV_KIND_COUNT
};

/* How much an event matters; the doctor's findings use the same scale. */
enum tm_severity {
    TM_SEV_OK,              /* nothing wrong (a start, a change, a passed check) */
    TM_SEV_INFO,            /* worth a look (a refused command, an info finding) */
    TM_SEV_WARNING,
    TM_SEV_ERROR,
    TM_SEV_COUNT
};

/*
 * The event vocabulary: every "type" events.jsonl holds, in the order of
 * the table tm_event_def_at() returns.  The trainer writes events from
 * it, --reproduce and --resume read changes back through it, and replay
 * shows each line with the kind and severity it had live.
 */
enum tm_event_type {
    TM_EVT_START,           /* the run starts: its shape (in, classes, sizes, expected loss) */
    TM_EVT_RESUME_RUN,      /* a resumed run continues (same fields as start) */
    TM_EVT_PAUSE,
    TM_EVT_RESUME,
    TM_EVT_STEP,            /* stepping n steps, then pause */
    TM_EVT_LR,
    TM_EVT_CLIP,
    TM_EVT_MOMENTUM,
    TM_EVT_WEIGHT_DECAY,
    TM_EVT_BATCH_SIZE,
    TM_EVT_TELEMETRY,
    TM_EVT_OVERFIT,
    TM_EVT_BASELINE_START,  /* :baseline trains its copy; the run is paused meanwhile */
    TM_EVT_BASELINE,        /* :baseline's result: its loss beside the model's */
    TM_EVT_EVAL,
    TM_EVT_GRADCHECK,       /* a gradient check that passed */
    TM_EVT_GRADCHECK_FAILED,/* the same type, "verdict":"FAIL" */
    TM_EVT_GRADCHECK_INCONCLUSIVE,  /* the same type, "verdict":"INCONCLUSIVE" */
    TM_EVT_REFUSED,
    TM_EVT_NONFINITE,
    TM_EVT_CHECKPOINT,
    TM_EVT_ERROR,
    TM_EVT_LOG_STALLED,     /* a run-log write failed: paused, rows held in memory */
    TM_EVT_LOG_RESUMED,     /* the held rows are written: the log is whole again */
    TM_EVT_TRUNCATE,        /* --resume cut the logs back to the checkpoint's step */
    TM_EVT_FINDING,         /* a doctor finding (its line carries its own severity) */
    TM_EVT_DONE,
    TM_EVT_QUIT,
    TM_EVT_RESTORE,         /* the nonfinite remedy: weights of an earlier checkpoint */
    TM_EVT_TYPE_COUNT
};

struct tm_event_def {
    const char *type;       /* events.jsonl "type" */
    int kind;               /* enum tm_event_kind, as shown live */
    int severity;           /* enum tm_severity, as shown live */
    const char *verdict;    /* the line's "verdict" this row stands for, or NULL */
    int cmd;                /* enum tm_cmd_kind --reproduce re-applies from it, or -1 */
    /* Members the line carries besides step, time, wall_s, type, severity
     * and text, space-separated. */
    const char *fields;
};

struct tm_event {
    long step;              /* optimizer updates done when it happened */
    double wall_s;          /* seconds since the run started */
    int type;               /* enum tm_event_type */
    int kind;               /* enum tm_event_kind */
    int severity;           /* enum tm_severity */
    char text[TM_TEXT_MAX];
};

/*
 * A gradient-check verdict.  PASS: enough entries were compared at a
 * resolution the check can trust and every one agreed within its
 * rounding bound; FAIL: some entry disagrees by more than float32
 * rounding of its computation explains; INCONCLUSIVE: nothing
 * disagrees, but too little could be compared (tm_gc_reason says why).
 */
enum tm_gc_verdict { TM_GC_PASS, TM_GC_FAIL, TM_GC_INCONCLUSIVE, TM_GC_VERDICT_COUNT };

/* Why a tensor (or a whole check) is inconclusive. */
enum tm_gc_reason {
    TM_GC_REASON_NONE,
    TM_GC_REASON_KINKS,     /* the sampled entries sit on ReLU kinks */
    TM_GC_REASON_ZERO,      /* gradients exactly zero on both sides (zero init, dead units) */
    TM_GC_REASON_TINY,      /* gradients below float32 resolution (vanishing, converged) */
    TM_GC_REASON_MIXED,     /* too few comparable entries, for several of these reasons */
    TM_GC_REASON_COUNT
};

struct tm_gc_tensor {
    char name[TM_NAME_MAX]; /* "0.weight", or "input" */
    int layer;              /* the layer it belongs to (tm_info.layers), -1 for "input" */
    int checked;            /* entries sampled */
    int kinks;              /* ... whose nudge crossed a ReLU kink (not judged) */
    int compared;           /* ... judged at a resolution the check trusts */
    int zero;               /* ... exactly zero on both sides: no information */
    int tiny;               /* ... too small to resolve next to their rounding bound */
    int failed;             /* ... disagreeing beyond their rounding bound */
    float max_rel, median_rel;  /* |a - n| / max(|a|, |n|) over non-kink entries */
    float max_excess;       /* largest |a - n| / bound: above 1 is a failure */
    long worst_index;       /* the entry of max_excess, -1 if none was judged */
    float worst_analytic, worst_numeric;
    float worst_bound;      /* that entry's bound on |a - n| from rounding alone */
    uint8_t verdict;        /* enum tm_gc_verdict */
    uint8_t reason;         /* enum tm_gc_reason, when inconclusive */
};

struct tm_gradcheck {
    long step;
    int ntensors;
    int samples;
    float seconds;
    uint8_t verdict;        /* enum tm_gc_verdict: FAIL if a tensor fails, PASS if all pass */
    uint8_t reason;         /* enum tm_gc_reason of the inconclusive tensors */
    uint8_t cancelled;      /* stopped by a quit before it finished: no verdict */
    struct tm_gc_tensor t[TM_GC_MAX_TENSORS];
};

/* "PASS", "FAIL", "INCONCLUSIVE" ("?" out of range). */
const char *tm_gc_verdict_name(int verdict);
/* One phrase for a reason ("" for none): "entries sit on ReLU kinks", ... */
const char *tm_gc_reason_text(int reason);

enum tm_finding_state {
    TM_FINDING_RAISED,
    TM_FINDING_CLEARED,
    TM_FINDING_PASSED,      /* a one-off check that found nothing wrong */
    TM_FINDING_STATE_COUNT
};


enum tm_cmd_kind {
    TM_CMD_PAUSE,
    TM_CMD_RESUME,
    TM_CMD_STEP,            /* n steps, then pause */
    TM_CMD_SET_LR,          /* value */
    TM_CMD_SCALE_LR,        /* value: factor */
    TM_CMD_SET_CLIP,        /* clip_kind, value */
    TM_CMD_SET_MOMENTUM,    /* value */
    TM_CMD_SET_WD,          /* value */
    TM_CMD_SET_BATCH,       /* n */
    TM_CMD_EVAL,
    TM_CMD_SAVE,
    TM_CMD_SET_TELEMETRY,   /* n: snapshot every n steps (0 = off) */
    TM_CMD_GRADCHECK,       /* n: samples (0 = configured) */
    TM_CMD_OVERFIT,         /* n: 1 on, 0 off; value: samples (0 = two batches) */
    TM_CMD_QUIT,            /* n: 1 = now (the user's q, a signal): a running gradient
                             * check or evaluation stops; 0 = after what is queued */
    TM_CMD_RESTORE,         /* value: lr factor; back to the newest finite checkpoint */
    TM_CMD_BASELINE,        /* train a copy on zeroed inputs, compare the losses */
    TM_CMD_DEPCHECK,        /* batch-dependency test on the next batch */
    TM_CMD_VIEW,            /* n: sample, layer: maps of it, dir: 0 that sample, +1/-1 the
                             * next/previous misclassified one from n */
    TM_CMD_KIND_COUNT
};

struct tm_command {
    int kind;               /* enum tm_cmd_kind */
    int clip_kind;          /* enum tm_clip (TM_CMD_SET_CLIP) */
    long n;
    double value;
    int layer;              /* TM_CMD_VIEW: the layer whose activation maps to send */
    int dir;                /* TM_CMD_VIEW: 0, +1 or -1 (see there) */
    int source;             /* enum tm_cmd_source: who sent it (journaled as "source") */
};

/* Where a command came from: keys and prompt of this process, or the control socket. */
enum tm_cmd_source { TM_SRC_LOCAL, TM_SRC_SOCKET, TM_SRC_COUNT };

/* The protocol name of a command kind ("pause", "lr", ...; NULL out of range). */
const char *tm_cmd_name(int kind);
/* The kind tm_cmd_name spells name, or -1. */
int tm_cmd_parse(const char *name);

/*
 * Looking inside (TM_CMD_VIEW): one sample of the validation split (the
 * test split when there is none), drawn as planes of at most
 * TM_VIEW_MAX_SIDE x TM_VIEW_MAX_SIDE values (larger images are averaged
 * down by an integer scale), so every record stays small.
 */
#define TM_VIEW_MAX_SIDE 32
#define TM_VIEW_MAX_PIX (TM_VIEW_MAX_SIDE * TM_VIEW_MAX_SIDE)
#define TM_VIEW_TOP 10          /* classes listed, most probable first */
#define TM_VIEW_MAX_MAPS 64     /* filters, and activation maps, sent at most */

struct tm_view {
    long step;              /* the weights it was computed with */
    int split;              /* enum tm_eval_split the sample comes from */
    long sample, nsamples;  /* its index in that split, and the split's size */
    int label, predicted;
    float loss;             /* the sample's data loss */
    bool softmax;           /* prob[] are softmax probabilities (else raw outputs) */
    int classes;
    int ntop;               /* entries of top_class/top_prob */
    int top_class[TM_VIEW_TOP];
    float top_prob[TM_VIEW_TOP];
    float label_prob;       /* the label's probability (or output) */
    bool searched;          /* asked for the next misclassified one (dir != 0) */
    bool found;             /* ... and this is one (else: none in the split, sample as asked) */
    int c, h, w;            /* the input image's shape */
    int scale;              /* planes are (h, w) averaged over scale x scale blocks */
    int ph, pw;             /* plane shape: ceil(h / scale), ceil(w / scale) */
    float image[TM_VIEW_MAX_PIX];       /* (ph, pw) the input as the model sees it
                                         * (normalised), mean over channels */
    float saliency[TM_VIEW_MAX_PIX];    /* (ph, pw) |d loss / d input|, max over channels */
    int filter_layer;       /* the first conv2d layer, or -1 */
    int nfilters;           /* its output channels (TM_VIEW_MAX_MAPS sent at most) */
    int map_layer;          /* the layer whose activation maps follow, or -1 */
    int nmaps;              /* its channels (TM_VIEW_MAX_MAPS sent at most) */
};

enum tm_view_kind { TM_VIEW_FILTER, TM_VIEW_ACT, TM_VIEW_KIND_COUNT };

/* One plane of a view: filter index (weights averaged over its input
 * channels) or activation map index of the sample. */
struct tm_view_map {
    long step;
    long sample;            /* the tm_view it belongs to */
    int kind;               /* enum tm_view_kind */
    int layer, index;
    int h, w;               /* as drawn (maps averaged down like the image) */
    float lo, hi;           /* its smallest and largest value */
    float v[TM_VIEW_MAX_PIX];   /* (h, w) */
};

/*
 * A doctor finding: which rule, how bad, about what, the measured value
 * beside its threshold, what to try, and the live remedy as the command
 * that applies it (remedy.kind < 0: none), so a reader needs none of the
 * doctor's tables to show or apply it.
 */
struct tm_finding {
    long step;              /* when it was raised, cleared or passed */
    long raised_step;       /* cleared: when it had been raised; else = step */
    char rule[TM_NAME_MAX]; /* "dead-relu" */
    int severity;           /* 0 ok, 1 info, 2 warning, 3 error */
    int stage;              /* checklist stage 1..5 */
    int state;              /* enum tm_finding_state */
    int layer;              /* nn.Sequential index, or -1 */
    int tensor;             /* into tm_info.tensor_names, or -1 */
    char tensor_name[TM_NAME_MAX];  /* "" when none */
    double value, threshold;
    char text[TM_TEXT_MAX];         /* "83% of units dead (threshold 70%)" */
    char advice[TM_TEXT_MAX];       /* "lower the lr or use leaky_relu" */
    char remedy_text[TM_NAME_MAX];  /* "lr x0.1", "" when none */
    struct tm_command remedy;
};

/*
 * How far a long piece of trainer work has got: sent when it begins, at
 * each whole percent it advances (more often records may be dropped, like
 * steps), and once when it ends (finished set; that one is never
 * dropped).  The trainer reads its quit flag at least every 50 ms of such
 * work, so the consumer may say "q cancels".
 */
struct tm_progress {
    long step;              /* the run's step while the work runs */
    char what[TM_NAME_MAX]; /* "gradcheck", "evaluation", "baseline" */
    long done, total;       /* units of work (entries, rows, steps), done <= total */
    double elapsed_s;       /* since the work began */
    uint8_t finished;       /* the work ended (completed or cancelled) */
};

/* A record as popped from a ring: its type and one of the payloads. */
struct tm_record {
    uint32_t type;          /* enum tm_type */
    union {
        struct tm_info info;
        struct tm_state state;
        struct tm_step step;
        struct tm_layer layer;
        struct tm_tensor tensor;
        struct tm_snapshot snapshot;
        struct tm_eval eval;
        struct tm_event event;
        struct tm_gradcheck gradcheck;
        struct tm_finding finding;
        struct tm_view view;
        struct tm_view_map view_map;
        struct tm_progress progress;
    } u;
};

/* "running", "paused", "done", "failed"; "unknown" out of range. */
const char *tm_state_name(int state);
/* "none", "norm", "value"; "?" out of range. */
const char *tm_clip_name(int clip);
/* The enum tm_clip that tm_clip_name() spells name, or -1. */
int tm_clip_parse(const char *name);
/* "ok", "info", "warning", "error"; "?" out of range. */
const char *tm_severity_name(int severity);
/* The enum tm_severity that tm_severity_name() spells name, or -1. */
int tm_severity_parse(const char *name);
/* Row i (enum tm_event_type) of the event vocabulary; NULL out of range. */
const struct tm_event_def *tm_event_def_at(int i);
/*
 * The enum tm_event_type of an events.jsonl type and "verdict" (NULL
 * when the line has none): the row of that verdict, else the type's
 * first row; -1 for a type not in the vocabulary.
 */
int tm_event_find(const char *type, const char *verdict);

/*
 * Where the UI (or the headless printer) gets records from and sends
 * commands to: a live trainer or a run log being replayed.  The consumer
 * sees only this vtable, so it cannot tell which one it talks to.
 */
struct feed_class {
    /* Pop the next record into *out; false when none is waiting. */
    bool (*poll)(void *self, struct tm_record *out);
    /* Send a command; returns 0, or -1 with a one-line reason in why
     * ("read-only in replay", "trainer has stopped"). */
    int (*send)(void *self, const struct tm_command *cmd, char *why, size_t len);
    /* Telemetry records lost so far (the producer never blocks). */
    uint64_t (*dropped)(void *self);
    /* True once the producer has finished and everything was polled. */
    bool (*finished)(void *self);
};

struct feed {
    const struct feed_class *cls;
    void *self;
};

#endif
