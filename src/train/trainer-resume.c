/*
 * trainer-resume.c - continuing and re-executing a logged run: the live
 * changes read back from events.jsonl (--reproduce), and --resume, which
 * loads a checkpoint, re-applies the changes made up to it and puts the
 * batch order where the run had it.
 *
 * It runs before the worker thread starts, and does not write the log
 * except by reopening it (runlog_reopen).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/xmem.h"

#include "trainer-int.h"

/*
 * The command that re-applies one logged event, by the vocabulary's cmd
 * column; false for an event that is not a change, or a change line that
 * lacks its fields.
 */
static bool
event_command(const struct runlog_event_rec *ev, struct tm_command *c)
{
    bool flag = false;
    const struct tm_event_def *def = tm_event_def_at(runlog_event_vocab(ev));
    if (def == NULL || def->cmd < 0)
        return false;
    *c = (struct tm_command){.kind = def->cmd};
    double v = 0.0;
    char kind[16] = "";
    bool have = runlog_event_get_num(ev->line, "value", &v) == 0;
    switch (def->cmd) {
    case TM_CMD_SET_CLIP:
        if (runlog_event_get_str(ev->line, "kind", kind, sizeof kind) != 0)
            return false;
        c->clip_kind = tm_clip_parse(kind) >= 0 ? tm_clip_parse(kind) : TM_CLIP_NONE;
        c->value = v;
        return true;
    case TM_CMD_SET_BATCH:
        c->n = (long)v;
        return have;
    case TM_CMD_OVERFIT:
        if (runlog_event_get_bool(ev->line, "value", &flag) != 0)
            return false;
        c->n = flag;
        /* the sample count, when the line has one (older runs: the default) */
        if (flag && runlog_event_get_num(ev->line, "n", &v) == 0)
            c->value = v;
        return true;
    default:
        c->value = v;
        return have;
    }
}

/* Parse the live changes of a logged run into t->sched. */
int
trainer_load_reproduce(struct trainer *t, const char *run_dir, char **cause)
{
    struct runlog_event_rec *ev = NULL;
    size_t n = 0;
    if (runlog_read_events(run_dir, &ev, &n, cause) != 0)
        return -1;
    t->sched = xcalloc(n > 0 ? n : 1, sizeof *t->sched);
    for (size_t i = 0; i < n; i++) {
        struct tm_command c;
        if (!event_command(&ev[i], &c))
            continue;
        t->sched[t->nsched].step = ev[i].step;
        t->sched[t->nsched].cmd = c;
        t->nsched++;
    }
    runlog_events_free(ev, n);
    return 0;
}

/* Put a fresh batcher at a position of an epoch: the order of an epoch is
 * a function of how many came before (one reshuffle each). */
static void
batcher_place(struct trainer *t, long epoch, long pos)
{
    batcher_fini(&t->batcher);
    batcher_init(&t->batcher, &t->data.train, t->cfg.data.shuffle, t->cfg.seed);
    /* epoch batches of the whole split are epoch epochs */
    batcher_seek(&t->batcher, epoch, (int)t->data.train.n);
    t->batcher.pos = pos;
}

/*
 * Bring a freshly built trainer to `steps` steps into its run: apply the
 * recorded changes up to there quietly, each at its step, and follow the
 * batches the steps drew (their sizes are what those changes made them:
 * batch size, overfit), so the batcher ends where the run's was.  A
 * single batcher_seek() would assume the config's batch size throughout.
 */
static void
catch_up(struct trainer *t, long steps)
{
    long n = t->data.train.n, epoch = 0, pos = 0;
    t->quiet = true;
    for (long s = 0;; s++) {
        while (t->sched_next < t->nsched && t->sched[t->sched_next].step <= s &&
               t->sched[t->sched_next].step <= steps) {
            const struct tm_command *c = &t->sched[t->sched_next++].cmd;
            if (c->kind == TM_CMD_OVERFIT) {
                /* Turning overfit on takes the next batch from the batcher. */
                batcher_place(t, epoch, pos);
                trainer_apply_command(t, c);
                epoch = t->batcher.epoch;
                pos = t->batcher.pos;
            } else {
                trainer_apply_command(t, c);
            }
        }
        if (s >= steps)
            break;
        if (!t->overfit && n > 0) {
            pos += n - pos < t->batch_size ? n - pos : t->batch_size;
            if (pos == n) {
                pos = 0;
                epoch++;
            }
        }
    }
    t->quiet = false;
    batcher_place(t, epoch, pos);
}

/*
 * Continue a logged run: load the newest checkpoint (or the one named),
 * re-apply the live changes the run had made up to that step and put the
 * batch order where it was, so that the continuation computes what the
 * uninterrupted run would have.  (The checkpoint carries the dropout
 * stream.)
 */
int
trainer_resume(struct trainer *t, const char *what, char **cause)
{
    char *path = NULL;
    char *dir = NULL;
    long step = 0;
    double epoch = 0.0;
    int rc = -1;
    struct stat st;
    if (stat(what, &st) != 0) {
        *cause = xasprintf("%s: %s", what, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        dir = xstrdup(what);
        int r = runlog_latest_checkpoint(dir, &path, &step, cause);
        if (r == 1)
            *cause = xasprintf("%s: no checkpoint-*.safetensors to resume from", dir);
        if (r != 0)
            goto out;
    } else {
        path = xstrdup(what);
        dir = xstrdup(what);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        else
            strcpy(dir, ".");
    }
    /* Changes recorded up to the checkpoint apply now, quietly. */
    char eventsfile[DATA_PATH_MAX + 32];
    snprintf(eventsfile, sizeof eventsfile, "%s/events.jsonl", dir);
    bool logged = access(eventsfile, R_OK) == 0;
    /* Without its step a checkpoint would continue a logged run at step
     * 0, on top of the rows it already has. */
    int has_step = runlog_checkpoint_has_step(path, cause);
    if (has_step < 0)
        goto out;
    if (has_step == 0 && logged) {
        *cause = xasprintf("%s: the checkpoint records no step (no \"step\" in __metadata__), "
                           "so it cannot continue the run in %s; copy it elsewhere to start "
                           "a new run from it", path, dir);
        goto out;
    }
    if (runlog_load_checkpoint(path, t->model, t->optim, &step, &epoch, NULL, cause) != 0)
        goto out;
    t->step = step;
    /* The normalisation the run trained with, not what the data gives now. */
    if (runlog_load_normalize(path, t->data.scale, t->data.shift, t->data.d, cause) < 0)
        goto out;

    if (logged && trainer_load_reproduce(t, dir, cause) != 0)
        goto out;
    catch_up(t, step);
    /* Later changes belong to the abandoned continuation: drop them. */
    t->nsched = t->sched_next;
    if (logged && !t->opts.no_log && t->cfg.log.enabled) {
        /* So do its rows: the log goes back to the checkpoint's step, and
         * every row from here on comes after the last one kept. */
        long removed[3];
        if (runlog_truncate(dir, step, removed, cause) != 0
            || runlog_reopen(&t->log, dir, cause) != 0)
            goto out;
        if (removed[0] + removed[1] + removed[2] > 0) {
            char extra[160];
            snprintf(extra, sizeof extra,
                     "\"to_step\":%ld,\"metrics_rows\":%ld,\"layers_rows\":%ld,\"events\":%ld",
                     step, removed[0], removed[1], removed[2]);
            t->truncate_extra = xstrdup(extra);
        }
    }
    rc = 0;
out:
    free(path);
    free(dir);
    return rc;
}

