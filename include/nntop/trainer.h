/*
 * trainer.h - the worker thread that owns the model, optimizer and data,
 * runs training steps, applies commands between steps, publishes
 * telemetry and writes the run log.
 *
 * The UI, the headless printer and the tests all use this same API.  The
 * trainer never waits on its consumer: when the telemetry ring is full a
 * record is dropped and counted.  It does not call curses or print.
 */
#ifndef NNTOP_TRAINER_H
#define NNTOP_TRAINER_H

#include <stdbool.h>

#include "nntop/cfg.h"
#include "nntop/telemetry.h"

struct trainer;

struct trainer_opts {
    bool no_log;                /* write no run directory */
    const char *resume;         /* checkpoint file or run directory, or NULL */
    const char *reproduce;      /* run directory whose live changes to replay, or NULL */
    const char *cmdline;        /* for env.txt; borrowed */
    const char *config_path;    /* the config file given, for env.txt's provenance; or NULL */
    bool keep_going;            /* on non-finite values pause instead of failing (interactive) */
    bool exit_when_done;        /* finish (no more commands) once training ends */
    bool start_paused;          /* wait for commands before the first step */
    bool retry_log;             /* a stalled run log is retried every second (headless) */
    size_t ring_bytes;          /* telemetry ring capacity; 0 = default (4 MiB) */
};

/*
 * Load the data, build the model and optimizer and open the run log for
 * cfg (copied).  Returns 0, or -1 with *cause set (heap, caller frees) on
 * bad data, a model the data cannot feed, or a run directory that cannot
 * be created: status 2 material.  Nothing runs until trainer_start().
 */
int trainer_new(struct trainer **out, const struct cfg *cfg, const struct trainer_opts *opts,
                char **cause);
/*
 * Start the worker thread.  Returns 0, or -1 with *cause set (heap, caller
 * frees) when the thread cannot start.
 */
int trainer_start(struct trainer *t, char **cause);
/*
 * For bench/cancel-bench only (NULL, the default, everywhere else): called
 * on the worker thread when long work begins (TRAINER_PROBE_BEGIN), at
 * every cancellation check inside it (TRAINER_PROBE_CHECK) and when it
 * ends (TRAINER_PROBE_END), with the work's name, so the gaps between
 * checks can be timed.  Set before trainer_start().
 */
enum trainer_probe_phase {
    TRAINER_PROBE_BEGIN,
    TRAINER_PROBE_CHECK,
    TRAINER_PROBE_END,
    TRAINER_PROBE_PHASE_COUNT
};
typedef void (*trainer_probe_fn)(void *ctx, enum trainer_probe_phase phase, const char *what);
void trainer_set_probe(struct trainer *t, trainer_probe_fn probe, void *ctx);
/* Queue a command and wake the worker; 0, or -1 with a reason in why. */
int trainer_send(struct trainer *t, const struct tm_command *cmd, char *why, size_t len);
/* The feed the UI or printer reads (valid until trainer_free). */
struct feed trainer_feed(struct trainer *t);
/* Wait for the worker to finish (it does after a quit command, or after
 * training when exit_when_done is set). */
void trainer_join(struct trainer *t);
/* 0 when training finished normally, 1 when it failed (non-finite values
 * with keep_going off, or the run log could not be written). */
int trainer_exit_status(const struct trainer *t);
/*
 * After trainer_join: why the run lost data (the final checkpoint or rows
 * of the run log could not be written), one line, or NULL; borrowed.
 */
const char *trainer_failure(const struct trainer *t);
/* The run directory ("" with no_log); borrowed. */
const char *trainer_run_dir(const struct trainer *t);
/* Stop a worker still running (a quit command), join, free everything;
 * NULL allowed. */
void trainer_free(struct trainer *t);

#endif
