/*
 * cfg.h - YAML configuration: strict parsing into struct cfg, --set
 * overrides, and the effective config written back as YAML.
 *
 * Every problem is reported with the file, line and column it came from
 * (or the --set key), and all problems in a file are collected before the
 * load fails.  This module knows nothing downstream of the struct it fills.
 */
#ifndef NNTOP_CFG_H
#define NNTOP_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nntop/data.h"
#include "nntop/doctor.h"
#include "nntop/nn.h"
#include "nntop/optim.h"

#define CFG_NAME_MAX 64
#define CFG_MAX_ERRORS 16
#define CFG_MAX_BYTES (1 << 20)     /* a config file larger than 1 MiB is refused */
#define CFG_MAX_DEPTH 16
#define CFG_PATHS_AT 8              /* data file keys whose position is kept */

struct cfg {
    char name[CFG_NAME_MAX];
    uint64_t seed;

    struct data_spec data;
    struct model_spec model;        /* model.in is filled from the data later */
    struct optim_spec optim;
    struct clip_spec clip;
    struct sched_spec sched;

    struct {
        int batch_size;             /* >= 1, default 64 */
        long epochs;                /* used when steps == 0; default 10 */
        long steps;                 /* 0 = use epochs */
        long eval_every;            /* steps; 0 = once per epoch */
        int threads;                /* OpenBLAS threads, default 1 */
        bool start_paused;          /* wait at step 0 for Space or n (as --paused) */
    } train;

    struct {
        bool enabled;               /* default true */
        char dir[DATA_PATH_MAX];    /* default "runs" */
        long checkpoint_every;      /* steps; 0 = only at the end */
        bool save_initial;
        bool tfevents;              /* also write a TensorBoard event file; default true */
        bool histograms;            /* write histograms.csv (for --replay); default true */
    } log;

    struct {
        long every;                 /* snapshot cadence in steps, default 10; 0 = off */
        int bins;                   /* histogram bins, default 40, 4..256 */
        double max_hz;              /* snapshots per second at most, default 20 */
    } telemetry;

    struct doctor_spec doctor;      /* enabled, patience, window, disable, thresholds */

    struct {
        int samples;                /* gradient check: batch rows, default 8 */
        int per_tensor;             /* entries sampled from a large tensor, default 20 */
    } gradcheck;

    /* Where each model.layers item was written (line 0: a --set or the
     * defaults), so that a shape error found once the data is known can
     * point at it; the same for the data file paths (a file that cannot be
     * read), and the config file itself (a required key it lacks).  Not
     * part of the config's value: a dump does not keep it. */
    struct {
        char file[256];
        unsigned line[NN_MAX_LAYERS], col[NN_MAX_LAYERS];
        char config[256];           /* the last config file loaded, "" for none */
        struct {
            char key[32];           /* "data.train_images"; "" for an unused slot */
            char file[256];
            unsigned line, col;     /* 0: a --set */
        } paths[CFG_PATHS_AT];
    } layers_at;
};

/* One problem found while loading: where, and what. */
struct cfg_err {
    char file[256];                 /* path, "<demo>", "--set", or "" (cfg_validate) */
    unsigned line, col;             /* 1-based; 0 when there is no position */
    char key[128];                  /* dotted key the problem is about ("optim.lr"), or "" */
    char msg[256];                  /* what follows the position: "optim.lr: expected ..." */
};

/*
 * The problems one call found.  Every call that takes a cfg_errs starts by
 * overwriting it (no initialisation needed); after a failed
 * cfg_load_file() call cfg_errs_fini() to free the source copy.
 */
struct cfg_errs {
    int n;
    struct cfg_err e[CFG_MAX_ERRORS];
    int more;                       /* problems found beyond CFG_MAX_ERRORS, not kept */
    const char *text;               /* source text, for the caret line; NULL for --set */
    size_t text_len;
    bool text_owned;                /* text is a heap copy cfg_errs_fini() frees */
};

/*
 * "FILE:LINE:COL: model.layers[i]" (or "model.layers[i]" when the item has
 * no position) for layer i of c, into buf: the prefix of a model error.
 */
void cfg_layer_where(const struct cfg *c, int i, char *buf, size_t len);

/*
 * "FILE:LINE:COL: data.KEY" for the data key of c whose value is path
 * (just "data.KEY" when it came from --set), into buf; "" when no data key
 * of c holds path.  The prefix of an error found reading that file.
 */
void cfg_path_where(const struct cfg *c, const char *path, char *buf, size_t len);

/* Fill c with every default (the values the man page documents). */
void cfg_defaults(struct cfg *c);

/*
 * Load YAML text (len bytes, named file in messages) over c's current
 * values.  Returns 0, or -1 with errs filled (all problems found, sorted by
 * position) and c unchanged.  On failure the text stays borrowed by errs
 * for printing.  Relative data paths resolve against file's directory and
 * are stored absolute.  Cross-field rules are cfg_validate()'s.
 */
int cfg_load_string(struct cfg *c, const char *text, size_t len, const char *file,
                    struct cfg_errs *errs);

/* Read path and load it as above; on failure errs->text points at a heap
 * copy that cfg_errs_fini() frees (on success nothing is left to free). */
int cfg_load_file(struct cfg *c, const char *path, struct cfg_errs *errs);

/*
 * Apply one override "dotted.key=value" (value in YAML flow syntax, so
 * "model.layers=[{dense: 10}, relu]" works) with the same checks as a
 * file.  Maps merge into the current values, lists replace them.  Returns
 * 0 or -1 with errs filled ("--set KEY: message") and c unchanged.
 */
int cfg_set(struct cfg *c, const char *assignment, struct cfg_errs *errs);

/*
 * Cross-field checks after all sources are applied (model.layers given,
 * nesterov needs momentum, a step schedule needs step_size, idx/csv
 * paths given, ...).  Returns 0 or -1 with errs filled (no positions).
 */
int cfg_validate(const struct cfg *c, struct cfg_errs *errs);

/*
 * Print every error as "nntop: FILE:LINE:COL: message", followed, when
 * the source text is known, by the offending line and a caret.
 */
void cfg_errs_print(const struct cfg_errs *errs, FILE *fp);
/* Free what errs owns (the source copy of cfg_load_file) and empty it. */
void cfg_errs_fini(struct cfg_errs *errs);

/* The effective config as YAML that cfg_load_string() reads back to an
 * equal struct.  Heap string; caller frees. */
char *cfg_to_yaml(const struct cfg *c);

/* The built-in demos, compiled in (src/cfg/demo_config.c is generated by
 * src/cfg/cfg.mk): configs/demo-fashion-mnist.yaml (real data, when
 * CFG_DEMO_FASHION_FILE exists) and configs/demo-spiral.yaml (otherwise).
 * Each is NUL-terminated; the length excludes the NUL. */
#define CFG_DEMO_FASHION_FILE "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
extern const char cfg_demo_spiral_yaml[];
extern const size_t cfg_demo_spiral_yaml_len;
extern const char cfg_demo_fashion_yaml[];
extern const size_t cfg_demo_fashion_yaml_len;

#endif
