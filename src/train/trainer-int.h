/*
 * trainer-int.h - what the trainer's three files share: struct trainer
 * and the helpers the loop (trainer.c), the command handlers
 * (trainer-cmd.c) and resume/reproduce (trainer-resume.c) all call.
 *
 * Private to src/train/.  Everything here runs on the worker thread,
 * except where trainer.c says otherwise (trainer_send, the feed).
 */
#ifndef NNTOP_TRAINER_INT_H
#define NNTOP_TRAINER_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "nntop/cfg.h"
#include "nntop/data.h"
#include "nntop/doctor.h"
#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/ring.h"
#include "nntop/runlog.h"
#include "nntop/telemetry.h"
#include "nntop/trainer.h"

#define EVAL_BATCH 1000

/*
 * Long work on the worker thread (a gradient check, an evaluation, the
 * zero-input baseline) is bracketed by trainer_work_begin/_end and calls
 * trainer_work_advance at least every 50 ms of it: that reads the quit
 * flag (so q, SIGINT and SIGTERM act within 100 ms) and publishes
 * TM_PROGRESS at each whole percent, and every 0.25 s of work that does
 * not advance (a gradient check's first passes).  begin returns false, and does
 * nothing, when work is already in hand (an evaluation inside the
 * baseline's): the inner code then only advances the outer work, and
 * must not call end.
 */
bool trainer_work_begin(struct trainer *t, const char *what, long total);
/* The work is at done of total units (work that counts for itself); as advance. */
bool trainer_work_at(struct trainer *t, long done, long total);
/* units more done; true when a quit asks the work to stop (now). */
bool trainer_work_advance(struct trainer *t, long units);
/* Whether a quit asks the work to stop; a cancellation check, no progress. */
bool trainer_work_cancelled(struct trainer *t);
/* The work ended (completed or cancelled): the final TM_PROGRESS. */
void trainer_work_end(struct trainer *t);

/* A command recorded in a run log, to be applied at a given step. */
struct scheduled {
    long step;
    struct tm_command cmd;
};

struct trainer {
    FILE *hist_fp;              /* histograms.csv of the run (opened at the first snapshot) */
    bool hist_failed;           /* ... and not again after a failure */
    struct cfg cfg;
    struct trainer_opts opts;
    struct data data;
    struct model *model;
    struct model_team *team;    /* splits each batch across train.threads threads */
    struct optim *optim;
    struct batcher batcher;
    struct runlog *log;
    char *config_yaml;          /* effective config, for the log and checkpoints */
    struct tm_info *info;       /* the model's layer table and labels (stats_describe_model) */

    struct ring *tel;           /* trainer -> consumer */
    struct ring *owed;          /* records the consumer must get, waiting for room in tel */
    struct tm_record *owed_rec; /* one record moved from owed to tel */
    atomic_uint_least64_t lost; /* steps and snapshots dropped: tel was full */
    struct ring *ctl;           /* consumer -> trainer */
    pthread_mutex_t mu;         /* guards the sleep/wake handshake only */
    pthread_cond_t cv;
    pthread_t thread;
    bool started, joined;
    atomic_bool finished;       /* the worker has returned */
    atomic_bool cancel;         /* a quit "now" was sent: a gradient check or evaluation stops */
    /* The long work in hand (trainer_work_begin), and the bench's probe. */
    struct {
        bool active;
        char what[TM_NAME_MAX];
        long done, total;
        int pct;                /* the whole percent last published */
        double t0;              /* mono_seconds() at its start */
        double last_pub;        /* mono_coarse_seconds() of the last TM_PROGRESS */
    } work;
    trainer_probe_fn probe;     /* NULL but in bench/cancel-bench */
    void *probe_ctx;

    /* Buffers of the step, sized for the largest batch so far. */
    int cap_batch;
    float *x;                   /* (B, IN) */
    int32_t *y;                 /* (B) */
    float *update;              /* (nparams) the update a snapshot step applied */
    float *prev_params;         /* (nparams) the parameters before this step's update */
    int eval_rows;              /* EVAL_BATCH, or fewer when no store holds that many rows */
    float *eval_x;              /* (eval_rows, IN) */
    int32_t *eval_y;
    long *eval_pos;

    /* Live settings and progress (worker thread only). */
    long step;                  /* steps completed */
    long total_steps;           /* 0: run by epochs */
    long steps_per_epoch;
    double base_lr;             /* lr the schedule scales */
    double last_clip;           /* last threshold used, for toggling */
    int batch_size;
    long tel_every;
    bool paused;
    long step_budget;           /* steps left before pausing; -1 = no limit */
    bool quit;
    bool done;                  /* training reached its end */
    bool failed;
    bool overfit;
    int overfit_n;              /* rows of the fixed batch */
    float *overfit_x;
    int32_t *overfit_y;
    long overfit_steps;         /* steps trained in this overfit session */
    bool overfit_judged;        /* overfit-reached or cannot-overfit said */
    float overfit_best_acc;
    double overfit_loss0;       /* the session's first loss (NAN before it) */
    double overfit_saved_wd;    /* settings overfit mode turned off, to restore */
    float overfit_saved_p[NN_MAX_LAYERS];
    double expected_loss;
    double t0;                  /* mono_seconds() at start: wall_s origin */
    double last_snapshot;
    double rate_t;              /* start of the samples/s window */
    long rate_samples;
    float samples_per_s;
    long last_eval_step;        /* step of the last validation pass, -1 none */

    bool log_stalled;           /* a run-log write failed: paused until it is retried */
    char failure[TM_TEXT_MAX];  /* why the run lost data (log, final checkpoint), or "" */
    struct doctor *doctor;      /* judges what is published; NULL when off */
    struct tm_record *doc_rec;  /* the record being fed to it */
    long last_ckpt_step;        /* step of the newest checkpoint written, -1 none */
    long good_ckpt_step;        /* newest checkpoint before the first non-finite step, -1 */
    bool nonfinite_seen;

    char *truncate_extra;       /* --resume cut the logs back: the event's fields, or NULL */
    bool quiet;                 /* re-applying a resumed run's changes: no events */
    int cmd_source;             /* enum tm_cmd_source of the command being applied */
    int quit_source;            /* ... of the quit command, for the quit event */
    struct scheduled *sched;    /* --reproduce: changes to apply, by step */
    int nsched, sched_next;
};

/* Publish one record to the consumer; a full ring drops it (counted by the ring). */
void trainer_publish(struct trainer *t, enum tm_type type, const void *rec, size_t len);
/* Publish the run state (running/paused/done, step, live settings). */
void trainer_publish_state(struct trainer *t);
/* Move the records waiting in owed into the telemetry ring while they fit;
 * true when none waits any more (worker thread only). */
bool trainer_flush_owed(struct trainer *t);

/*
 * Record an event of vocabulary row type (enum tm_event_type): one line
 * in events.jsonl (its type, the extra JSON fields, its severity, the
 * text) and one TM_EVENT for the consumer with the row's kind and
 * severity.  extra is a JSON fragment without braces ("\"value\":0.1")
 * or "".  Nothing while t->quiet.
 */
void trainer_emit(struct trainer *t, int type, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a va_list. */
void trainer_emit_v(struct trainer *t, int type, const char *extra, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Turn a command down, leaving the settings as they were: a "refused"
 * event whose JSON names the command (as the UI spells it) and whose
 * text says why.
 */
void trainer_refuse(struct trainer *t, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Grow the step buffers (and the model's) to hold batches of B rows. */
void trainer_reserve_batch(struct trainer *t, int B);
/* Steps in one epoch at the current batch size. */
long trainer_steps_per_epoch(const struct trainer *t);
/* Evaluate on split s (nothing when it is empty): publish and log the result. */
void trainer_evaluate_split(struct trainer *t, const struct split *s, enum tm_eval_split which);
/*
 * Write checkpoint-<step>.safetensors (nothing without a run log) and tell
 * the consumer; a failure is an error event.  Returns 0, or -1 with the
 * cause in t->failure's format when it failed.
 */
int trainer_save_checkpoint(struct trainer *t, char *why, size_t len);
/*
 * Once a run-log write failed: pause and say so (once).  Returns true
 * while the log is stalled.  Call after anything that logs rows.
 */
bool trainer_check_log(struct trainer *t);
/*
 * Retry a stalled run log (Space, a step command, headless every second).
 * Returns true when the log is whole again (or was), false (still
 * paused, the reason told to the consumer) when writing still fails.
 */
bool trainer_retry_log(struct trainer *t);

/* Apply one command (trainer-cmd.c), then publish the state unless quiet. */
void trainer_apply_command(struct trainer *t, const struct tm_command *c);

/*
 * The simple-start tools (trainer-tools.c): overfit mode on/off, the
 * zero-input baseline, the batch-dependency check; and overfit mode's
 * judge, called after every step with its loss and correct count.
 */
void trainer_cmd_overfit(struct trainer *t, const struct tm_command *c);
void trainer_cmd_baseline(struct trainer *t, const struct tm_command *c);
void trainer_cmd_depcheck(struct trainer *t, const struct tm_command *c);
void trainer_overfit_observe(struct trainer *t, double loss, int correct, int B);

/*
 * Looking inside (trainer-view.c): publish one TM_VIEW of sample c->n
 * (or, with c->dir, the next misclassified one) and its TM_VIEW_MAP
 * records; the model is left exactly as it was.
 */
void trainer_cmd_view(struct trainer *t, const struct tm_command *c);

/* Read the live changes of the run in run_dir into t->sched (trainer-resume.c). */
int trainer_load_reproduce(struct trainer *t, const char *run_dir, char **cause);
/*
 * Continue a logged run from a run directory (its newest checkpoint) or
 * a checkpoint file: load it, re-apply the changes recorded up to it and
 * put the batch order where it was (trainer-resume.c).
 */
int trainer_resume(struct trainer *t, const char *what, char **cause);

#endif
