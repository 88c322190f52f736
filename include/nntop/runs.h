/*
 * runs.h - reports over run directories for `nntop runs` and `nntop diff`:
 * a one-line summary of each run under a root, and what differs between
 * two runs (data, code, effective config, environment, live changes).
 *
 * Built on the run-directory files alone (doc/run-format.md), read with
 * the runlog readers; a run still being written is read as far as it goes.
 * Nothing here trains, replays or touches the terminal.
 */
#ifndef NNTOP_RUNS_H
#define NNTOP_RUNS_H

#include <stdbool.h>
#include <stdio.h>

enum run_status {
    RUN_DONE,               /* a "done" event: training finished */
    RUN_FAILED,             /* stopped on non-finite values or a log error */
    RUN_INTERRUPTED,        /* quit early, or its writer is gone without a word */
    RUN_RUNNING,            /* no end yet and the writing process is alive */
    RUN_UNREADABLE,         /* its files could not be read */
    RUN_STATUS_COUNT
};

#define RUNS_TEXT_MAX 256

struct run_summary {
    char dir[4096];                 /* the run directory as found */
    char run[RUNS_TEXT_MAX];        /* its last path component */
    char name[RUNS_TEXT_MAX];       /* config.yaml "name", or "" */
    char start[64];                 /* env.txt "start", or "" */
    long steps;                     /* global step reached: the highest step in metrics.csv */
    double wall_s;                  /* seconds trained, summed over resumed segments */
    double best_val_loss, best_val_acc, test_acc;  /* NaN when there is none */
    long best_val_loss_step;
    long findings[4];               /* raised doctor findings by severity ok..error */
    long live_changes;              /* live-change events (pause, lr, clip, ...) */
    enum run_status status;
    char why[RUNS_TEXT_MAX];        /* for RUN_UNREADABLE: the reader's message */
};

/* "done", "failed", "interrupted", "running", "unreadable". */
const char *runs_status_name(enum run_status s);

/* Summarise run_dir into *out (always filled; status RUN_UNREADABLE when it cannot be read). */
void runs_summarize(const char *run_dir, struct run_summary *out);

/*
 * Every run directory directly under root (a directory holding
 * metrics.csv or events.jsonl), summarised, in name order.  Returns 0
 * with *out (heap array, caller frees; NULL when *n is 0), or -1 with
 * *cause (heap) when root cannot be read.
 */
int runs_list(const char *root, struct run_summary **out, size_t *n, char **cause);

/* Sort keys for runs_sort; "best first" for the metric keys. */
enum runs_sort_key {
    RUNS_SORT_START, RUNS_SORT_NAME, RUNS_SORT_STEPS, RUNS_SORT_WALL, RUNS_SORT_VAL_LOSS,
    RUNS_SORT_VAL_ACC, RUNS_SORT_TEST_ACC, RUNS_SORT_STATUS, RUNS_SORT_KEY_COUNT
};
/* The key spelled name ("start", "name", "steps", "wall", "val_loss", ...), or -1. */
int runs_sort_parse(const char *name);
/* A comma-separated list of the key names, for messages (static). */
const char *runs_sort_names(void);
void runs_sort(struct run_summary *runs, size_t n, enum runs_sort_key key);

/* The table, for people (tsv false) or programs (tsv true: a header and one line each). */
void runs_print(FILE *out, const struct run_summary *runs, size_t n, bool tsv);

/*
 * What differs between run directories a and b, written to out in
 * sections (data, code, config, environment, live changes).  Returns the
 * number of differences found (0: the same runs as far as recorded), or
 * -1 with *cause (heap) when either cannot be read.
 */
int runs_diff(FILE *out, const char *a, const char *b, char **cause);

#endif
