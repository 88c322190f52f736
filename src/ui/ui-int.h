/*
 * ui-int.h - what the dashboard's files share with each other and with
 * tests/check_ui.c: the screen layout, the UI's own copy of the run (the
 * model, fed by records), number/glyph/text helpers, the curve canvas,
 * the prompt editor, the key table and the dashboard's state.
 *
 * Everything declared here is pure (no curses, no I/O) except the
 * functions of struct ui that send commands and ui_roff_escape, which
 * writes the manual's text; curses lives in crt.c only.
 */
#ifndef NNTOP_UI_INT_H
#define NNTOP_UI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nntop/telemetry.h"
#include "nntop/ui.h"

#define UI_MIN_ROWS 24
#define UI_MIN_COLS 80
#define UI_WIDE_COLS 160        /* from here: the update-ratio strip beside the layers,
                                 * a histogram per layer beside the selected one */

/* ---- keys: curses codes translated by crt_getkey() ------------------- */

/* Printable ASCII and control characters are their own codes. */
enum ui_key {
    UI_KEY_NONE = -1,           /* timeout: no key */
    UI_KEY_CTRL_A = 1,
    UI_KEY_CTRL_E = 5,
    UI_KEY_CTRL_L = 12,
    UI_KEY_CTRL_U = 21,
    UI_KEY_TAB = 9,
    UI_KEY_ENTER = 10,
    UI_KEY_ESC = 27,
    UI_KEY_BACKSPACE = 127,
    UI_KEY_UP = 0x1000,
    UI_KEY_DOWN,
    UI_KEY_LEFT,
    UI_KEY_RIGHT,
    UI_KEY_HOME,
    UI_KEY_END,
    UI_KEY_PGUP,
    UI_KEY_PGDN,
    UI_KEY_DELETE,
    UI_KEY_BTAB,
    UI_KEY_RESIZE,
    UI_KEY_UNKNOWN,
    UI_KEY_MOUSE,               /* a mouse event: crt_mouse() has it */
    UI_KEY_F1 = 0x1101,         /* UI_KEY_F1 + n - 1 is Fn */
    UI_KEY_F10 = 0x110a,
    UI_KEY_F12 = 0x110c,
    UI_KEY_COUNT
};

/* ---- layout ---------------------------------------------------------- */

struct ui_rect {
    int y, x, h, w;
};

enum ui_area {
    UI_AREA_HEADER,
    UI_AREA_LOSS,
    UI_AREA_LAYERS,
    UI_AREA_HIST,
    UI_AREA_FINDINGS,
    UI_AREA_RATIO,              /* the update-ratio strip: cols >= UI_WIDE_COLS only */
    UI_AREA_MULTI,              /* a histogram per layer: cols >= UI_WIDE_COLS only */
    UI_AREA_MESSAGE,
    UI_AREA_FOOTER,
    UI_AREA_COUNT
};

struct ui_layout {
    int rows, cols;
    bool too_small;             /* below 80x24: areas are all empty */
    struct ui_rect area[UI_AREA_COUNT];
};

/* The screen's areas for a terminal of rows x cols (pure). */
void ui_layout(int rows, int cols, struct ui_layout *out);

/* ---- loss history: bounded, downsampled, never forgets the start ------ */

#define UI_SERIES_CAP 4096      /* stored buckets (even) */
#define UI_RECENT_CAP 512       /* raw samples kept for the window view */
#define UI_WINDOW_STEPS 500     /* the window view: last N steps */

/* A bucket of consecutive samples. */
struct ui_point {
    long x0, x1;                /* first and last step */
    float lo, hi;               /* smallest and largest sample */
    float mean;
    long n;                     /* samples merged into it */
};

struct ui_series {
    int n;                      /* complete buckets in pts */
    long stride;                /* samples per complete bucket (doubles when full) */
    long total;                 /* finite samples pushed */
    long nonfinite;             /* NaN/Inf samples seen (not stored) */
    struct ui_point pts[UI_SERIES_CAP];
    struct ui_point acc;        /* the bucket being filled (acc.n < stride) */
    double acc_sum;
    long rx[UI_RECENT_CAP];     /* ring of the latest raw samples */
    float ry[UI_RECENT_CAP];
    int rhead, rn;
};

void ui_series_init(struct ui_series *s);
/* Append sample (x, y); x must not decrease.  Non-finite y is counted only. */
void ui_series_push(struct ui_series *s, long x, float y);
/* Buckets including the partial one (≤ UI_SERIES_CAP + 1). */
int ui_series_count(const struct ui_series *s);
/* Bucket i in order (the partial one last). */
struct ui_point ui_series_at(const struct ui_series *s, int i);
/* Latest raw samples, oldest first: i in [0, s->rn). */
void ui_series_recent(const struct ui_series *s, int i, long *x, float *y);

/* ---- the UI's model of the run --------------------------------------- */

#define UI_TREND_LEN 8          /* update/weight ratios kept per tensor */
#define UI_ACTIVE_CAP 64        /* doctor findings raised and not yet cleared */
#define UI_EVENTS_CAP 512
#define UI_MAX_TENSORS (2 * TM_MAX_LAYERS)
#define UI_STRIP_LEN 128        /* snapshots the update-ratio strip keeps */
#define UI_BAND_LEN 128         /* snapshots of percentiles kept per histogram */
#define UI_NBANDS 7             /* the percentiles: ui_band_q */
/* Histograms the model keeps apart: activations per layer, weights and grads per tensor. */
#define UI_HIST_SLOTS (TM_MAX_LAYERS + 2 * UI_MAX_TENSORS)

/* TensorBoard's distribution bands: 7, 16, 31, 50, 69, 84 and 93 %. */
extern const double ui_band_q[UI_NBANDS];

/* The percentiles of one histogram over time, oldest first (a ring). */
struct ui_bands {
    int n, head;                /* entries held; the next write */
    long step[UI_BAND_LEN];
    float q[UI_BAND_LEN][UI_NBANDS];
};

struct ui_model {
    bool have_info, have_state, have_step;
    struct tm_info info;
    struct tm_state state;
    struct tm_step step;        /* the latest step */
    int last_clip_kind;         /* the last clipping kind in force (norm if none yet) */
    double last_clip_value;     /* its threshold (0 = never seen) */

    bool have_initial;
    float initial_loss;         /* data loss of step 1: the initial weights */
    struct ui_series train, val;
    struct ui_series reg;          /* the L2 term per step (when weight decay adds one) */
    struct ui_series train_acc, val_acc;   /* batch and validation accuracy in [0, 1] */
    bool have_val, have_test;
    struct tm_eval last_val, last_test;

    long snap_step;             /* step of the last complete snapshot, -1 none */
    bool layer_have[TM_MAX_LAYERS], pend_layer[TM_MAX_LAYERS];
    struct tm_layer layers[TM_MAX_LAYERS], pend_layers[TM_MAX_LAYERS];
    bool tensor_have[UI_MAX_TENSORS], pend_tensor[UI_MAX_TENSORS];
    struct tm_tensor tensors[UI_MAX_TENSORS], pend_tensors[UI_MAX_TENSORS];
    float trend[UI_MAX_TENSORS][UI_TREND_LEN];
    int ntrend[UI_MAX_TENSORS];
    /*
     * The step each shown histogram was computed at: a snapshot taken
     * sooner than telemetry.max_hz allows carries no histograms, and the
     * last ones computed stay on screen (labelled with this step).
     */
    long act_hist_step[TM_MAX_LAYERS];
    long weight_hist_step[UI_MAX_TENSORS], grad_hist_step[UI_MAX_TENSORS];

    /* The update-ratio strip: each tensor's ratio at the last snapshots (a
     * ring, NaN where the snapshot had no record of the tensor). */
    int strip_n, strip_head;
    long strip_step[UI_STRIP_LEN];
    float strip[UI_STRIP_LEN][UI_MAX_TENSORS];
    /* Per histogram slot (ui_hist_slot): its percentiles over time, the
     * first histogram seen (step 0 when the run starts there) and the one
     * pinned by M. */
    struct ui_bands bands[UI_HIST_SLOTS];
    struct tm_hist first_hist[UI_HIST_SLOTS], pin_hist[UI_HIST_SLOTS];
    long first_step[UI_HIST_SLOTS], pin_step[UI_HIST_SLOTS];   /* -1: none */
    long pinned_at;             /* snap_step when M was pressed, -1 never */

    struct tm_event events[UI_EVENTS_CAP];
    long nevents;               /* ever received; events[i % CAP] */
    bool have_nonfinite;
    struct tm_event nonfinite;  /* the first non-finite report */

    bool have_progress;         /* long trainer work is under way */
    struct tm_progress progress;    /* ... how far it is */

    bool have_gradcheck;
    long gradcheck_seq;         /* grows with each result */
    struct tm_gradcheck gradcheck;

    /* The look-inside view: the latest TM_VIEW and the planes that came
     * after it for the same sample and step (older planes are cleared). */
    bool have_view;
    long views;                 /* TM_VIEW records applied */
    struct tm_view view;
    bool filter_have[TM_VIEW_MAX_MAPS], map_have[TM_VIEW_MAX_MAPS];
    struct tm_view_map filters[TM_VIEW_MAX_MAPS], maps[TM_VIEW_MAX_MAPS];

    /*
     * The doctor's findings that are raised now (a raised record adds or
     * replaces one, its cleared record removes it), oldest first: every
     * warning mark on the dashboard is drawn from these and nothing else.
     */
    struct tm_finding active[UI_ACTIVE_CAP];
    int nactive;
    int initial_verdict;        /* initial-loss: -1 not judged, 0 passed, else its severity */

    uint64_t dropped;           /* telemetry records lost (producer's count) */
    long records;               /* records applied */
    long nstates;               /* TM_STATE records applied */
};

/* Empty model (heap object: large; caller frees with free()). */
struct ui_model *ui_model_new(void);
/* Fold one record into the model.  Bad indices are ignored. */
void ui_model_apply(struct ui_model *m, const struct tm_record *r);
/* The newest step known (from steps and states). */
long ui_model_step(const struct ui_model *m);
/* Event number i counted from the newest (0 = newest); NULL past the end. */
const struct tm_event *ui_model_event(const struct ui_model *m, long i);
/* Events still held (≤ UI_EVENTS_CAP). */
long ui_model_nevents(const struct ui_model *m);

/* The histogram of layer's kind (enum ui_hist_kind) in the last snapshot, or NULL. */
const struct tm_hist *ui_model_hist(const struct ui_model *m, int layer, int kind);
/* The step that histogram was computed at (≤ snap_step), -1 when there is none. */
long ui_model_hist_step(const struct ui_model *m, int layer, int kind);
/* The slot (0 .. UI_HIST_SLOTS-1) of layer's kind of histogram, -1 when it has none. */
int ui_hist_slot(const struct ui_model *m, int layer, int kind);
/* Pin every histogram shown now as the overlay's reference (M); pinned_at = snap_step. */
void ui_model_pin(struct ui_model *m);
/* Strip column i (0 = oldest of strip_n): tensor k's update ratio (NaN: none), its step. */
float ui_model_strip(const struct ui_model *m, int i, int k, long *step);
/* Band entry i (0 = oldest of b->n): the UI_NBANDS percentiles and the step. */
const float *ui_bands_at(const struct ui_bands *b, int i, long *step);
/*
 * h as CSV: a header "lo,hi,count", the underflow row (-inf, lo), one row
 * per bin in order, the overflow row (hi, inf).  0, or -1 on a write error.
 */
int ui_hist_write_csv(FILE *fp, const struct tm_hist *h);

/*
 * The doctor's marks (the dashboard has no thresholds of its own): the
 * highest severity among the findings raised now about layer (-1: about
 * the run as a whole, no layer) whose rule is rule (NULL: any rule);
 * 0 when there is none.
 */
int ui_model_mark(const struct ui_model *m, int layer, const char *rule);
/* Findings raised now at severity (TM_SEV_INFO .. TM_SEV_ERROR). */
int ui_model_count(const struct ui_model *m, int severity);
/*
 * The finding whose remedy f and :fix apply: the newest raised one with
 * a remedy, or with rule (not NULL) the newest raised one of that rule
 * with a remedy; NULL when there is none.
 */
const struct tm_finding *ui_model_remedy(const struct ui_model *m, const char *rule);

/* Warnings and errors mark layer rows and the curves; info is listed only. */
#define UI_MARK_MIN TM_SEV_WARNING

/* ---- numbers, text and glyphs ---------------------------------------- */

/* v in at most width columns: numfmt_fit (nntop/numfmt.h), the one formatter. */
const char *ui_fmt_short(char *buf, size_t len, double v, int width);
/* v with k/M/G suffix ("950", "12.4k", "3.1M"). */
const char *ui_fmt_si(char *buf, size_t len, double v);
/* frac in [0, 1] as "12%"; "-" for a negative (not applicable) frac. */
const char *ui_fmt_pct(char *buf, size_t len, double frac);

#define UI_SHADES 10            /* levels of the shade ramp */

/* Every member a string (check_ui walks them as an array of pointers). */
struct ui_glyphs {
    const char *h, *v, *tl, *tr, *bl, *br;  /* box drawing */
    const char *arrow;          /* "→" */
    const char *ok, *bad;       /* agreement marks */
    const char *sev[4];         /* event severities 0 ok .. 3 error */
    const char *warn;           /* mark on an unhealthy value */
    const char *cursor;         /* selected row */
    const char *state[TM_RUN_STATE_COUNT];
    const char *bars[9];        /* histogram cell levels, eighths */
    const char *spark[8];       /* sparkline levels */
    const char *ellipsis;
    const char *dot;            /* separator */
    const char *act, *ratio, *gnorm;        /* column titles */
    const char *up, *down;      /* more above / below */
    const char *train, *val;    /* legend marks */
    const char *shade[UI_SHADES];   /* pictures without colour: darkest (blank) first */
    const char *upper_half;     /* "▀": a cell's top pixel in colour (UTF-8 only) */
    const char *reg;            /* the L2 term's point marker */
    const char *ratio_lvl[8];   /* update-ratio strip, lowest band first (ui_ratio_level) */
    const char *ratio_bad;      /* a non-finite update ratio */
    const char *band[4];        /* percentile bands: 7-93, 16-84, 31-69, the median */
    const char *ref;            /* the overlay's reference histogram */
};

/* The glyph set for a UTF-8 terminal or its ASCII twin. */
const struct ui_glyphs *ui_glyphs(bool utf8);
/* The mark of a finding's severity (0 ok .. 3 error; clamped): the findings
 * panel, the layer rows and the curves all use this one. */
const char *ui_severity_glyph(const struct ui_glyphs *g, int severity);

/*
 * Copy src into dst (len bytes) so it can be drawn: control characters
 * and invalid UTF-8 become '?'; without utf8, common symbols become ASCII
 * ("→" to "->") and anything else non-ASCII '?'.  Returns dst.
 */
char *ui_text_clean(char *dst, size_t len, const char *src, bool utf8);
/* Display columns of clean text s (needs LC_CTYPE for utf8). */
int ui_text_width(const char *s, bool utf8);
/* Bytes of clean text s that fit in maxw columns; *used gets the columns. */
size_t ui_text_fit(const char *s, int maxw, bool utf8, int *used);

/*
 * Histogram h as height lines of exactly width cells separated by '\n'
 * (block glyphs, or ASCII twins).  A non-empty bin never draws as blank.
 * Returns the bytes written (buf always terminated).
 */
size_t ui_hist_render(char *buf, size_t len, const struct tm_hist *h, int width, int height,
                      bool utf8);
/* The axis under a histogram: lo at the left, 0 where it falls, hi at the right (ASCII). */
void ui_hist_axis(char *buf, size_t len, const struct tm_hist *h, int width);
/*
 * The value below which a fraction q in [0, 1] of h's values lie (under
 * and over count at lo and hi; linear inside a bin); NaN when h is empty.
 */
double ui_hist_quantile(const struct tm_hist *h, double q);
/*
 * Auto-zoom: the bins of h holding its central mass, leaving out at most
 * tail of the values on each side (whole bins only), into out, whose
 * under and over then count what was left out.  Returns true when that
 * narrows the range to at most half; otherwise out is h unchanged.
 */
bool ui_hist_zoom(const struct tm_hist *h, double tail, struct tm_hist *out);
/*
 * The percentile bands over time: n entries of UI_NBANDS values (oldest
 * first; the last width drawn, one column each) on value range [lo, hi]
 * (top = hi), height lines of width cells: the 7-93, 16-84 and 31-69 %
 * bands in g->band[0..2], the median in g->band[3].
 */
size_t ui_bands_render(char *buf, size_t len, const float (*q)[UI_NBANDS], int n, int width,
                       int height, double lo, double hi, bool utf8);
/*
 * The band of update ratio r in the strip: 0 below 1e-6 (stalled), 1 to 1e-5,
 * 2 to 1e-4, 3 to 5e-4, 4 the healthy band 5e-4 .. 2e-3 around 1e-3,
 * 5 to 1e-2, 6 to 1e-1, 7 above; -1 for NaN (no record), -2 for infinity.
 */
#define UI_RATIO_LEVELS 8
#define UI_RATIO_HEALTHY 4
int ui_ratio_level(float r);
/* The glyph of a strip cell (r as ui_ratio_level bands it; " " when none). */
const char *ui_ratio_glyph(const struct ui_glyphs *g, float r);

/* n values as a sparkline of n cells on a log scale (non-positive: lowest cell). */
void ui_spark(char *buf, size_t len, const float *v, int n, bool utf8);

/*
 * Level of v on [lo, hi] in 0..levels-1 (lo when hi <= lo, the lowest
 * level for NaN): how a picture's value becomes a colour or a shade.
 */
int ui_level(float v, float lo, float hi, int levels);

/* ---- the curve canvas: braille dots (2x4 a cell) or ASCII (1x3) -------- */

#define UI_CANVAS_MAX (512 * 160)

struct ui_canvas {
    int w, h;                   /* cells */
    int dw, dh;                 /* dots per cell */
    bool utf8;
    uint8_t cell[UI_CANVAS_MAX];
};

void ui_canvas_init(struct ui_canvas *c, int w, int h, bool utf8);
/* Set the dot at (x, y), y = 0 at the top; outside dots are ignored. */
void ui_canvas_dot(struct ui_canvas *c, int x, int y);
void ui_canvas_line(struct ui_canvas *c, int x0, int y0, int x1, int y1);
/* The glyph of a cell into out (≥ 4 bytes + NUL); "" when it is empty. */
const char *ui_canvas_glyph(const struct ui_canvas *c, int col, int row, char out[8]);

/*
 * Draw series s into c over steps [xlo, xhi] and values [ylo, yhi]
 * (log10 values when logy); recent = use the raw recent samples.  Each
 * dot column shows the mean of its samples; the means are joined.
 */
void ui_plot_series(struct ui_canvas *c, const struct ui_series *s, bool recent, long xlo,
                    long xhi, double ylo, double yhi, bool logy);
/*
 * Widen [*lo, *hi] to cover what ui_plot_series draws of s over [xlo, xhi]
 * on dots columns (the means of the samples in each); false when none.
 */
bool ui_series_yrange(const struct ui_series *s, bool recent, long xlo, long xhi, bool logy,
                      int dots, double *lo, double *hi);

/* ---- the prompt ------------------------------------------------------ */

#define UI_PROMPT_MAX 128
#define UI_PROMPT_HISTORY 32

struct ui_prompt {
    char buf[UI_PROMPT_MAX];
    int len, cur;
    char hist[UI_PROMPT_HISTORY][UI_PROMPT_MAX];    /* oldest first */
    int nhist;
    int hpos;                   /* browsing position; nhist = the draft */
    char draft[UI_PROMPT_MAX];
    bool overflow;              /* a character did not fit: the line is not what was typed */
    int bad_key;                /* first character that cannot be part of a command, or 0 */
};

enum ui_prompt_result {
    UI_PROMPT_EDIT,
    UI_PROMPT_SUBMIT,
    UI_PROMPT_CANCEL,
    UI_PROMPT_RESULT_COUNT
};

/*
 * Prompt commands beginning with prefix (trainer and dashboard commands):
 * up to max static names into out; returns how many.
 */
size_t ui_command_complete(const char *prefix, const char **out, size_t max);
/* Start editing an empty line (history is kept). */
void ui_prompt_open(struct ui_prompt *p);
/* Apply one key (enum ui_key or a character). */
enum ui_prompt_result ui_prompt_key(struct ui_prompt *p, int key);
/*
 * Whether the submitted line is the line as typed: 0, or -1 with the
 * reason in err when characters did not fit or one cannot be part of a
 * command (the whole line is then refused: nothing is sent).
 */
int ui_prompt_check(const struct ui_prompt *p, char *err, size_t len);
/* Add the current line to the history (not blank, not a repeat). */
void ui_prompt_remember(struct ui_prompt *p);
/* A short description of cmd for the message line ("lr x0.5"). */
void ui_command_describe(const struct tm_command *cmd, char *buf, size_t len);

/* One entry of the prompt language. */
struct ui_command_doc {
    const char *synopsis;       /* "lr VALUE | lr *FACTOR | lr /FACTOR" */
    const char *desc;
};
const struct ui_command_doc *ui_command_docs(size_t *n);

/* ---- the dashboard's state and key table ------------------------------- */

/* What a key handler asks of the loop. */
enum {
    UI_HANDLED = 1 << 0,
    UI_REDRAW = 1 << 1,
    UI_RESIZE = 1 << 2,
    UI_QUIT = 1 << 3
};

/* A mouse event as the dashboard uses it. */
enum ui_mouse_kind {
    UI_MOUSE_CLICK,
    UI_MOUSE_WHEEL_UP,
    UI_MOUSE_WHEEL_DOWN,
    UI_MOUSE_KIND_COUNT
};

struct ui_mouse {
    int y, x;
    int kind;                   /* enum ui_mouse_kind */
};


enum ui_overlay {
    UI_OVERLAY_NONE,
    UI_OVERLAY_HELP,
    UI_OVERLAY_GRADCHECK,
    UI_OVERLAY_EXPLAIN,         /* :explain RULE */
    UI_OVERLAY_COUNT
};

enum ui_hist_kind {
    UI_HIST_ACT,
    UI_HIST_WEIGHT,
    UI_HIST_GRAD,
    UI_HIST_KIND_COUNT
};

/* What the histogram overlays (b). */
enum ui_hist_ref {
    UI_REF_NONE,
    UI_REF_FIRST,               /* the first histogram of the run (step 0 when it starts there) */
    UI_REF_PIN,                 /* the one pinned by M */
    UI_REF_COUNT
};

enum ui_msg_kind {
    UI_MSG_INFO,
    UI_MSG_ERROR,
    UI_MSG_KIND_COUNT
};

struct panel_class;

struct ui {
    struct feed *feed;          /* borrowed: the selected run's, feeds[sel_run] */
    struct ui_opts opts;
    bool utf8;
    const struct ui_glyphs *g;
    struct ui_layout layout;

    struct ui_model *live;      /* the selected run's model: runs[sel_run] */
    /* Several runs compared (--replay RUN_A RUN_B ...): each its own feed
     * and model; the panels draw the selected one, the loss panel all. */
    int nruns;                  /* 1..UI_MAX_RUNS */
    int sel_run;
    struct feed *feeds;         /* borrowed, nruns of them */
    struct ui_model *runs[UI_MAX_RUNS];
    struct ui_model *still;     /* Z: the copy the panels show while frozen */
    bool frozen;

    /* panels */
    bool log_scale, window;
    int sel_layer, layer_top;
    bool layers_mixed_dead;     /* the dead column holds units and filters (panel-layers.c) */
    int hist_kind;              /* enum ui_hist_kind */
    long find_scroll;           /* findings: events hidden below the view */
    long find_total;            /* events seen when find_scroll was last kept */
    long find_sel;              /* the selected event's sequence number + 1 (0: none selected) */

    int overlay;                /* enum ui_overlay */
    int help_top;
    char explain_rule[TM_NAME_MAX];     /* the rule UI_OVERLAY_EXPLAIN shows */
    long gradcheck_seen;        /* the gradcheck_seq last shown */

    bool prompting;
    struct ui_prompt prompt;
    char msg[256];
    int msg_kind;               /* enum ui_msg_kind */
    double msg_until;           /* monotonic seconds; 0 = no message */

    /*
     * Toggles as last sent (pause, clipping, overfit), believed until the
     * next state record: two quick presses toggle twice, not once.
     */
    long pause_sent_at, clip_sent_at, overfit_sent_at;     /* live->nstates then; -1 */
    bool pause_sent, clip_sent, overfit_sent;

    /* The look-inside view (v): the sample asked for and when. */
    bool view_open;
    long view_sample;           /* the sample asked for (the producer wraps it) */
    long view_asked_views;      /* live->views when it was asked: a reply raises it */
    double view_asked_at;       /* monotonic seconds of the last request, 0 never */
    int view_asked_layer;       /* sel_layer the last request was for */
    long view_asked_snap;       /* snap_step of the last request (live refresh) */

    bool quitting;              /* quit sent: waiting for the producer */
    bool confirm_quit;          /* attached: :quit asked "stop the run?"; the next key answers */
    double now;                 /* monotonic seconds of this frame */
    bool show_acc;              /* the curve panel shows accuracy instead of loss (a) */
    bool hist_full;             /* z: the histogram's whole range (default: auto-zoom) */
    bool hist_bands;            /* p: percentile bands over time instead of the bins */
    int hist_ref;               /* b: overlay none, the first histogram, the pinned one */
    bool show_strip;            /* u: the update-ratio strip in the histogram's place */
    struct ui_canvas canvas_train, canvas_val, canvas_reg;
    struct ui_canvas canvas_run[UI_MAX_RUNS];  /* the other runs' curves (nruns > 1) */
};

/* A compared run's letter: 'A' for run 0 .. 'D'. */
#define UI_RUN_LETTER(i) ((char)('A' + (i)))
/* The run whose histogram the selected run's is drawn over: the first, or
 * the second when the first is selected; -1 with one run. */
int ui_hist_other_run(const struct ui *ui);
/* Make run i the selected one (header, layers, histogram, commands). */
void ui_select_run(struct ui *ui, int i);

/*
 * Histograms a and b overlaid on their common range [min lo, max hi] as
 * height lines of exactly width cells separated by '\n' (pure): a as
 * block bars (ui_hist_render's glyphs), b as mark_b (one cell) at the top
 * of each of its bars, each scaled to its own total so that runs of
 * different sizes compare.  Returns the bytes written (buf terminated);
 * *lo and *hi get the common range.
 */
size_t ui_hist_overlay_render(char *buf, size_t len, const struct tm_hist *a,
                              const struct tm_hist *b, const char *mark_b, int width,
                              int height, bool utf8, float *lo, float *hi);

/*
 * Route mouse event ev: a click on a layer row selects that layer (and
 * its histogram), a click on a finding selects it (find_sel, said on the
 * message line), the wheel over the findings scrolls them.  Pure: no
 * curses; returns UI_* bits (0 when the event lands nowhere).
 */
int ui_mouse_event(struct ui *ui, const struct ui_mouse *ev);
/*
 * The event under screen row y of the findings panel as it is drawn now:
 * its sequence number (0 = the run's first event), -1 when none is there.
 */
long ui_findings_hit(const struct ui *ui, int y);
/*
 * The doctor rule of event seq when it is a finding (its text starts
 * with the rule id), into buf; NULL otherwise or once it left the model.
 */
const char *ui_finding_rule(const struct ui_model *m, long seq, char *buf, size_t len);
/*
 * The rule f, :fix and :explain act on without an argument: the selected
 * finding's (when one is selected and, for a remedy, raised with one),
 * else NULL (they take the newest raised).  remedy: only a rule whose
 * raised finding has a remedy counts.
 */
const char *ui_selected_rule(const struct ui *ui, bool remedy, char *buf, size_t len);
/* The model the panels draw: the frozen copy or the live one. */
const struct ui_model *ui_view(const struct ui *ui);
/* Show a message on the message line for a few seconds. */
void ui_message(struct ui *ui, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Send a command; on refusal the reason goes to the message line.  0 or -1. */
int ui_send(struct ui *ui, const struct tm_command *cmd);
/*
 * Apply the remedy of a raised finding (f, :fix): the newest one that has
 * a remedy, or the newest of rule (not NULL).  It is sent as any command
 * is (the trainer journals it); the message line says which finding it
 * fixes.  0, or -1 with the reason on the message line.
 */
int ui_fix(struct ui *ui, const char *rule);
/*
 * What :explain RULE shows, as up to max lines (unwrapped) into
 * lines (pure): the rule's stage and severity, what it checks, its
 * thresholds (doctor.* keys and their defaults), whether it is raised in
 * m now (with what was measured), what to try, its remedy and its source.
 * Returns the lines written, 0 when rule is not a doctor rule.
 */
#define UI_EXPLAIN_W 768
int ui_explain_lines(const struct ui_model *m, const char *rule, char lines[][UI_EXPLAIN_W],
                     int max);
/* Open the look-inside view and ask for its sample (panel-view.c). */
void ui_view_open(struct ui *ui);
/*
 * Once a loop turn: while the view is open, ask again when another layer
 * is selected or training moved on (at most once a second), each time
 * only after the last request was answered.
 */
void ui_view_tick(struct ui *ui);

struct ui_key_binding {
    int keys[4];                /* enum ui_key codes, 0-terminated */
    const char *label;          /* as the help and man page show it: "Tab Down j" */
    const char *bar_key;        /* function bar: the key ("F1"), or NULL */
    const char *bar_name;       /* function bar: the action ("Help") */
    const char *desc;           /* one line, lower case, no full stop */
    int (*handler)(struct ui *ui, int key);     /* or NULL: panel->key */
    const struct panel_class *panel;
};

/* The key table (static); *n entries. */
const struct ui_key_binding *ui_key_table(size_t *n);
/*
 * What the function bar shows for b now: its bar_name, or for f the
 * remedy it would apply ("Fix lr x0.1", written into buf); NULL when b is
 * not on the bar (or f has nothing to fix).
 */
const char *ui_bar_name(const struct ui *ui, const struct ui_key_binding *b, char *buf,
                        size_t len);
/*
 * The function bar's entries for a bar width columns wide: indexes into
 * the key table, left to right, in shown[] (room for max); returns how
 * many.  The last entry (Quit) always keeps its place, as htop keeps F10;
 * entries that do not fit before it are left out, later shorter ones may
 * still fit.
 */
size_t ui_bar_layout(const struct ui *ui, int width, size_t *shown, size_t max);
/* The binding of key, or NULL. */
const struct ui_key_binding *ui_key_find(int key);
/*
 * Write s to fp as roff text, '-' and '\' escaped, for the manual's key
 * table and prompt language; a line-leading '.' or '\'' is the caller's.
 */
void ui_roff_escape(FILE *fp, const char *s);

#endif
