/*
 * doctor.h - the debugging checklist as rules over telemetry: findings
 * with a rule id, severity, checklist stage, the layer or tensor, the
 * measured value beside its threshold, one line of advice and (where
 * there is one) the live remedy as a ready command.
 *
 * The doctor reads telemetry records only (struct tm_record: the model
 * description of TM_INFO, then TM_STATE, TM_STEP, TM_LAYER, TM_TENSOR,
 * TM_SNAPSHOT, TM_EVAL, TM_EVENT), never the model, so the same object
 * can be fed by the trainer thread (it is today: before it publishes, so
 * a full ring never thins what the rules see), by a replay, or by a feed
 * following another process's run directory.  It is pure computation: no
 * threads, no files, no screen, no clock; the same records in give the
 * same findings out.
 *
 * Rules are one table (doctor_rule_at): id, severity, stage, advice,
 * source and the remedy; thresholds are a second table of named
 * parameters (doctor_param_at) whose defaults are what the config's
 * `doctor:` keys start from.
 */
#ifndef NNTOP_DOCTOR_H
#define NNTOP_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nntop/telemetry.h"

/* Finding severities, the numbers tm_event.severity uses (0 ok .. 3 error). */
enum doctor_severity {
    DOC_OK,             /* a check that passed (initial loss as expected) */
    DOC_INFO,
    DOC_WARNING,
    DOC_ERROR,
    DOC_SEVERITY_COUNT
};

/* The rules, in the order of the rules table. */
enum doctor_rule_id {
    /* before step 0, from the model description and the data */
    DR_INPUTS_NOT_NORMALIZED,
    DR_MISSING_ACTIVATION,
    DR_ACTIVATION_BEFORE_LOSS,
    DR_LOSS_OUTPUT_MISMATCH,
    DR_DROPOUT_HIGH,
    DR_DROPOUT_BEFORE_BATCHNORM,
    DR_LR_OUT_OF_RANGE,
    /* at step 1 */
    DR_INITIAL_LOSS,
    /* live, on every snapshot (or evaluation) */
    DR_UPDATE_RATIO_HIGH,
    DR_UPDATE_RATIO_LOW,
    DR_UPDATES_NOT_APPLIED,
    DR_ZERO_GRADIENT,
    DR_SYMMETRIC_INIT,
    DR_VANISHING_GRADIENTS,
    DR_EXPLODING_GRADIENTS,
    DR_DEAD_RELU,
    DR_SATURATION,
    DR_ACTIVATION_SCALE,
    DR_DIVERGENCE,
    DR_NONFINITE,
    DR_PLATEAU,
    DR_OSCILLATION,
    DR_OVERFITTING,
    DR_REGULARIZATION_DOMINATES,
    DR_CLIPPING_FREQUENT,
    DR_CONVERGED,
    /* stage 1: the verdicts of the simple-start tools (overfit mode, :baseline, :depcheck) */
    DR_OVERFIT_REACHED,
    DR_CANNOT_OVERFIT,
    DR_BASELINE_NOT_BEATEN,
    DR_BATCH_MIXING,
    DR_DEAD_FILTERS,
    DR_SATURATED_CHANNELS,
    DR_COUNT
};

/* When a rule is judged. */
enum doctor_when {
    DOC_AT_START,       /* once, on TM_INFO */
    DOC_AT_FIRST_STEP,  /* once, on the step-1 record */
    DOC_LIVE,           /* every snapshot (or evaluation), with patience */
    DOC_ON_EVENT,       /* at once, on the event that reports it */
    DOC_ON_TOOL,        /* by the trainer, when a simple-start tool finishes */
    DOC_WHEN_COUNT
};

struct doctor_rule {
    const char *id;         /* "dead-relu": stable, in events.jsonl and doctor.disable */
    int severity;           /* the highest severity it raises (enum doctor_severity) */
    int stage;              /* checklist stage 1..5 */
    int when;               /* enum doctor_when */
    const char *checks;     /* what it tests, one line (for :explain and the man page) */
    const char *advice;     /* what to try */
    const char *source;     /* where the check and its default come from */
    const char *remedy;     /* the one-key remedy ("lr x0.1"), or NULL */
};

/* The thresholds, one config key each (doctor.<name>). */
enum doctor_param {
    DP_INPUT_MEAN,
    DP_INPUT_STD_LOW,
    DP_INPUT_STD_HIGH,
    DP_DROPOUT_MAX,
    DP_LR_MIN,
    DP_LR_MAX_SGD,
    DP_LR_MAX_ADAM,
    DP_INITIAL_LOSS_INFO,
    DP_INITIAL_LOSS_WARNING,
    DP_RATIO_INFO_LOW,
    DP_RATIO_INFO_HIGH,
    DP_RATIO_WARNING_LOW,
    DP_RATIO_WARNING_HIGH,
    DP_ANNEAL_FRACTION,
    DP_RATIO_FALLING,
    DP_VANISHING_RATIO,
    DP_VANISHING_FIRST,
    DP_VANISHING_MEAN,
    DP_EXPLODING_RATIO,
    DP_EXPLODING_GROWTH,
    DP_DEAD_INFO,
    DP_DEAD_WARNING,
    DP_SATURATION,
    DP_ACTIVATION_SCALE,
    DP_DIVERGENCE_LOSS,
    DP_DIVERGENCE_FACTOR,
    DP_PLATEAU,
    DP_OSCILLATION,
    DP_OSCILLATION_RISE,
    DP_OVERFIT_EVALS,
    DP_GAP,
    DP_GAP_HIGH_ACC,
    DP_REGULARIZATION,
    DP_CLIPPING,
    DP_CONVERGED_LOSS,
    DP_DEAD_FILTERS_INFO,
    DP_DEAD_FILTERS_WARNING,
    DP_CHANNEL_SATURATION,
    DP_SATURATED_CHANNELS,
    DP_COUNT
};

struct doctor_param_info {
    const char *name;       /* the key under doctor: ("dead_warning") */
    double def;             /* default */
    double lo, hi;          /* accepted range, inclusive */
    int rule;               /* the rule it belongs to (enum doctor_rule_id) */
    const char *doc;        /* one line: what it is */
};

/* What the config gives the doctor (cfg.doctor). */
struct doctor_spec {
    bool enabled;           /* default true */
    int patience;           /* snapshots a live rule must hold to raise, and fail to clear; 3 */
    long window;            /* steps the windowed rules look back over; 500 */
    uint64_t disabled;      /* bit r: rule r is off (doctor.disable) */
    long overfit_steps;     /* overfit mode: steps before cannot-overfit, default 1000 */
    long baseline_steps;    /* :baseline: steps on zeroed inputs, default 300 */
    double p[DP_COUNT];     /* thresholds */
};

#define DOCTOR_PATIENCE_DEFAULT 3
#define DOCTOR_WINDOW_DEFAULT 500

_Static_assert(DR_COUNT <= 64, "doctor.disable is a 64-bit mask");

/* The rules table: rule i in [0, DR_COUNT). */
const struct doctor_rule *doctor_rule_at(int i);
/* Index of the rule called id, or -1. */
int doctor_rule_find(const char *id);
/* The thresholds table: parameter i in [0, DP_COUNT). */
const struct doctor_param_info *doctor_param_at(int i);
/* Fill spec with every default. */
void doctor_spec_defaults(struct doctor_spec *spec);
/* "ok", "info", "warning", "error". */
const char *doctor_severity_name(int severity);

/*
 * Receives every finding the doctor raises, clears or passes, in order.
 * f is borrowed for the call.
 */
typedef void (*doctor_emit_fn)(void *ctx, const struct tm_finding *f);

struct doctor;

/* A doctor with spec's settings (copied); findings go to emit(ctx, ...).
 * Caller frees with doctor_free(). */
struct doctor *doctor_new(const struct doctor_spec *spec, doctor_emit_fn emit, void *ctx);
/* NULL is allowed. */
void doctor_free(struct doctor *d);
/*
 * Feed one record, in the order the producer published them.  Records
 * the doctor does not read (gradient checks, findings) are ignored.
 */
void doctor_feed(struct doctor *d, const struct tm_record *r);
/* Findings raised so far at severity s (passed checks count under DOC_OK). */
long doctor_raised(const struct doctor *d, int severity);

/*
 * The one-line form of a finding, as headless output prints it:
 * "WARN step 120 dead-relu layer 1: 83% of units dead (threshold 70%) — advice".
 * Returns buf.  utf8 false spells the dash "--".
 */
const char *doctor_format_line(char *buf, size_t len, const struct tm_finding *f, bool utf8);
/*
 * The JSON fields of a finding's events.jsonl line after "step" and
 * "type" ("rule":...,"severity":...,...,"state":...), no braces.
 */
const char *doctor_format_json(char *buf, size_t len, const struct tm_finding *f);

/* Counts of raised findings per rule and severity, for an end summary. */
struct doctor_tally {
    long n[DR_COUNT + 1][DOC_SEVERITY_COUNT];   /* row DR_COUNT: rules not in the table */
    int max_severity;                           /* highest raised so far, -1 none */
};

void doctor_tally_init(struct doctor_tally *t);
/* Count f if it is a raised finding. */
void doctor_tally_add(struct doctor_tally *t, const struct tm_finding *f);
/* "doctor: 2 warnings, 1 info (dead-relu 1 warning, ...)" or "doctor: no findings". */
void doctor_tally_print(const struct doctor_tally *t, FILE *out);

#endif
